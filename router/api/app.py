"""The FastAPI application: rules and state are loaded once, at start-up."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel

from router.api import errors, health, reps, routing, rules
from router.api.deps import no_unknown_query
from router.api.hot import HotRoutes
from router.api.limits import BodyLimit
from router.ruleset.compiler import compile_rules
from router.service import Router, settle_heap
from router.settings import Settings
from router.state.factory import open_state
from router.watch import follow_rules


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app for these settings (by default from ROUTER_* environment variables)."""
    settings = settings or Settings.from_env()
    compiled = compile_rules(settings.rules_dir, settings.rules_name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await open_state(settings, compiled.name)
        router = app.state.router = Router(
            compiled, state, settings.rules_dir, log_decisions=settings.log_decisions
        )
        settle_heap()
        watcher = None
        if settings.rules_watch_seconds > 0:
            watcher = asyncio.create_task(follow_rules(router, settings.rules_watch_seconds))
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            await state.close()

    app = FastAPI(
        title="Lead router",
        version="0.1.0",
        summary="Product-aware lead routing: territories, carve-out models and overlays.",
        lifespan=lifespan,
        dependencies=[Depends(no_unknown_query)],
    )
    # Added first, so that it runs inside the body limit.
    app.add_middleware(HotRoutes, endpoints=routing.HOT)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    errors.install(app)
    for module in (routing, rules, reps, health):
        app.include_router(module.routes)
    document_bodies(app, (*routing.BODY_MODELS, *reps.BODY_MODELS))
    return app


def document_bodies(app: FastAPI, models: tuple[type[BaseModel], ...]) -> None:
    """Add the schemas of request bodies that routes read themselves to the OpenAPI
    document's components, where their `$ref`s point, as FastAPI writes them."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(body_schemas(models))
        document["components"]["schemas"] = dict(sorted(schemas.items()))
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def body_schemas(models: tuple[type[BaseModel], ...]) -> dict[str, Any]:
    """The schemas FastAPI writes for these models (and the models they hold) when a
    route takes one as its body: from throwaway routes that do, never served."""
    routes = []
    for model in models:

        async def takes(body: Any) -> None:
            return None

        takes.__annotations__["body"] = model
        routes.append(APIRoute(f"/{model.__name__}", takes, methods=["POST"]))
    document = get_openapi(title="bodies", version="0", routes=routes)
    schemas: dict[str, Any] = document["components"]["schemas"]
    return {name: schema for name, schema in schemas.items() if "Validation" not in name}

"""The FastAPI application: rules and state are loaded once, at start-up."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from router.api import errors, health, reps, routing, rules
from router.api.limits import BodyLimit
from router.ruleset.compiler import compile_rules
from router.service import Router
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
        router = app.state.router = Router(compiled, state, settings.rules_dir)
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
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    errors.install(app)
    for module in (routing, rules, reps, health):
        app.include_router(module.routes)
    return app

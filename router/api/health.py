"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from router.api.deps import RouterDep

routes = APIRouter(tags=["operations"])


@routes.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@routes.get(
    "/readyz",
    summary="Readiness",
    responses={503: {"description": "The shared state cannot be reached"}},
)
async def readyz(router: RouterDep) -> JSONResponse:
    """Rules are loaded and the state answers."""
    ready = await router.state.ping()
    body = {
        "status": "ready" if ready else "unavailable",
        "state": router.state.kind,
        "rules_version": router.rules.version,
    }
    return JSONResponse(body, status_code=200 if ready else 503)


@routes.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics() -> Response:
    """Decisions by product, model and outcome; latency; fallbacks; active rule version."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

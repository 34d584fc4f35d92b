"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from router.api.deps import RouterDep

routes = APIRouter(tags=["operations"])


def example(body: object, description: str = "OK") -> dict[int | str, dict[str, Any]]:
    return {200: {"description": description, "content": {"application/json": {"example": body}}}}


@routes.get("/healthz", summary="Liveness", responses=example({"status": "ok"}))
async def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@routes.get(
    "/readyz",
    summary="Readiness",
    responses={
        **example({"status": "ready", "state": "redis", "rules_version": "e1aaaf075ba1"}),
        503: {
            "description": "The shared state cannot be reached; `reason` says why",
            "content": {
                "application/json": {
                    "example": {
                        "status": "unavailable",
                        "state": "redis",
                        "rules_version": "e1aaaf075ba1",
                        "reason": "Redis at 127.0.0.1:6379 cannot be reached (ping): "
                        "Connection refused",
                    }
                }
            },
        },
    },
)
async def readyz(router: RouterDep) -> JSONResponse:
    """Rules are loaded and the state answers."""
    problem = await router.state.problem()
    body = {
        "status": "ready" if problem is None else "unavailable",
        "state": router.state.kind,
        "rules_version": router.rules.version,
    }
    if problem is not None:
        body["reason"] = problem
    return JSONResponse(body, status_code=200 if problem is None else 503)


@routes.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text format",
            "content": {
                "text/plain": {
                    "example": 'router_decisions_total{model="portfolio",outcome="rep",'
                    'product="crm"} 42.0\n'
                }
            },
        }
    },
)
async def metrics() -> Response:
    """Decisions by product, model and outcome; latency; fallbacks; active rule version."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


# Load balancers often probe with HEAD; it answers as GET does, without a body.
routes.add_api_route("/healthz", healthz, methods=["HEAD"], include_in_schema=False)
routes.add_api_route("/readyz", readyz, methods=["HEAD"], include_in_schema=False)

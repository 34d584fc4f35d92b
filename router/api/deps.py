"""Typed dependencies shared by the route modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, cast

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError

from router.api.bodies import unknown_query
from router.service import Router


async def get_router(request: Request) -> Router:
    return cast(Router, request.app.state.router)


RouterDep = Annotated[Router, Depends(get_router)]


# Probes and scrapers may add parameters of their own (a cache-buster, a Prometheus
# job's `params:`): refusing them would fail a liveness check and restart the pod.
LENIENT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

# Endpoints that read their body themselves and check their query string with it, so
# that a query problem and the body's problems are reported together.
OWN_QUERY_CHECK: set[Callable[..., Any]] = set()


async def no_unknown_query(request: Request) -> None:
    """Refuse query parameters a route does not declare (an app-wide dependency; the
    routing endpoints, served ahead of FastAPI, and those in OWN_QUERY_CHECK check
    their own). The health and metrics endpoints ignore them, and FastAPI's own /docs
    pages are not routes that take dependencies."""
    if not request.query_params or request.url.path in LENIENT_PATHS:
        return
    route = request.scope.get("route")
    if getattr(route, "endpoint", None) in OWN_QUERY_CHECK:
        return
    known = tuple(_query_names(getattr(route, "dependant", None)))
    errors: list[Any] = []
    unknown_query(request, known, errors)
    if errors:
        raise RequestValidationError(errors)


def _query_names(dependant: Any) -> list[str]:
    """The query parameters a route declares, its dependencies' included."""
    if dependant is None:
        return []
    names = [param.alias for param in dependant.query_params]
    for sub in dependant.dependencies:
        names.extend(_query_names(sub))
    return names

"""Route one lead, a batch, or explain a lead without changing any state."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from router.api.deps import RouterDep
from router.api.schemas import ERRORS, BatchRequest, BatchResponse, Decision, ErrorBody
from router.leads import Lead
from router.service import without_trace

routes = APIRouter(prefix="/v1", tags=["routing"])

ROUTE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    409: {"model": ErrorBody, "description": "The lead id was decided for a different payload"},
    503: {"model": ErrorBody, "description": "The shared state cannot be reached; retry"},
}


@routes.post("/route", response_model=Decision, responses=ROUTE_ERRORS, summary="Route one lead")
async def route(
    lead: Lead, router: RouterDep, trace: bool = Query(False, description="Include the trace")
) -> JSONResponse:
    """Decide the primary rep and overlay specialists; a retry gets the stored decision."""
    decision = await router.route(lead)
    return JSONResponse(decision if trace else without_trace(decision))


@routes.post(
    "/route/batch",
    response_model=BatchResponse,
    responses=ROUTE_ERRORS,
    summary="Route a batch of leads",
)
async def route_batch(
    batch: BatchRequest, router: RouterDep, trace: bool = Query(False, description="Include traces")
) -> JSONResponse:
    """Every lead is read before any is decided; a reused id gets an error entry (409)."""
    decisions = await router.route_batch(batch.leads)
    if not trace:
        decisions = [without_trace(d) for d in decisions]
    return JSONResponse({"decisions": decisions})


@routes.post(
    "/explain",
    response_model=Decision,
    responses=ROUTE_ERRORS,
    summary="Explain how a lead would be routed",
)
async def explain(lead: Lead, router: RouterDep) -> JSONResponse:
    """The decision the lead would get now, with its trace; no state changes."""
    return JSONResponse(await router.explain(lead))

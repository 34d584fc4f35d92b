"""Route one lead, a batch, or explain a lead without changing any state.

These endpoints read the request themselves (router.api.bodies) and answer
with bytes encoded once; the decorators describe them in the OpenAPI document,
with the same request and response schemas a body parameter and a response
model would give. For POST they are reached through router.api.hot, ahead of
FastAPI's routing.
"""

from __future__ import annotations

from typing import Any, cast

from fastapi import APIRouter, Request, Response
from pydantic_core import to_json

from router.api.bodies import Model, body_of, flag, unknown_query
from router.api.schemas import ERRORS, BatchRequest, BatchResponse, Decision, ErrorBody
from router.leads import Lead
from router.service import Router

routes = APIRouter(prefix="/v1", tags=["routing"])

ROUTE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    409: {"model": ErrorBody, "description": "The lead id was decided for a different payload"},
    503: {"model": ErrorBody, "description": "The shared state cannot be reached; retry"},
}

# Models the request bodies refer to; the app adds their schemas to the document.
BODY_MODELS = (Lead, BatchRequest)


def documented(model: str, trace: str | None = None) -> dict[str, Any]:
    """The request body (and the trace flag) as the OpenAPI document shows them."""
    extra: dict[str, Any] = {
        "requestBody": {
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model}"}}},
            "required": True,
        }
    }
    if trace is not None:
        schema = {"type": "boolean", "default": False, "title": "Trace", "description": trace}
        extra["parameters"] = [
            {
                "name": "trace",
                "in": "query",
                "required": False,
                "schema": schema,
                "description": trace,
            }
        ]
    return extra


def router_of(request: Request) -> Router:
    return cast(Router, request.app.state.router)


async def traced_body(request: Request, model: type[Model]) -> tuple[Model, bool]:
    """The body as `model` and the `?trace` flag, the only query parameter taken;
    every problem with either is reported at once."""
    errors: list[Any] = []
    unknown_query(request, ("trace",), errors)
    trace = flag(request, "trace", errors)
    return await body_of(request, model, errors), trace


def answer(body: Any) -> Response:
    # pydantic's encoder writes what JSONResponse would (compact, UTF-8), several times faster.
    return Response(to_json(body), media_type="application/json")


@routes.post(
    "/route",
    response_model=Decision,
    responses=ROUTE_ERRORS,
    summary="Route one lead",
    openapi_extra=documented("Lead", trace="Include the trace"),
)
async def route(request: Request) -> Response:
    """Decide the primary rep and overlay specialists; a retry gets the stored decision."""
    lead, trace = await traced_body(request, Lead)
    return answer(await router_of(request).route(lead, with_trace=trace))


@routes.post(
    "/route/batch",
    response_model=BatchResponse,
    responses=ROUTE_ERRORS,
    summary="Route a batch of leads",
    openapi_extra=documented("BatchRequest", trace="Include traces"),
)
async def route_batch(request: Request) -> Response:
    """Every lead is read before any is decided; a lead that gets no decision has an
    error entry in its place (409: id reused; 503: the state stopped answering)."""
    batch, trace = await traced_body(request, BatchRequest)
    decisions = await router_of(request).route_batch(batch.leads, with_trace=trace)
    return answer({"decisions": decisions})


@routes.post(
    "/explain",
    response_model=Decision,
    responses=ROUTE_ERRORS,
    summary="Explain how a lead would be routed",
    openapi_extra=documented("Lead"),
)
async def explain(request: Request) -> Response:
    """The decision the lead would get now, with its trace; no state changes."""
    errors: list[Any] = []
    unknown_query(request, (), errors, why_none="the trace is always included")
    lead = await body_of(request, Lead, errors)
    return answer(await router_of(request).explain(lead))


# Served by router.api.hot.HotRoutes, ahead of FastAPI's routing.
HOT = {"/v1/route": route, "/v1/route/batch": route_batch, "/v1/explain": explain}

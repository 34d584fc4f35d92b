"""A rep's current load and run-time availability."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict

from router.api.bodies import body_of, unknown_query
from router.api.deps import OWN_QUERY_CHECK, RouterDep
from router.api.schemas import ErrorBody
from router.shown import shown
from router.state.base import Availability

routes = APIRouter(prefix="/v1/reps", tags=["reps"])


class RepStatus(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "dana-whitfield",
                    "name": "Dana Whitfield",
                    "role": "primary",
                    "products": {"crm": 70.0, "marketing": 30.0},
                    "active": True,
                    "daily_capacity": 40,
                    "load_today": 12,
                    "local_day": "2026-12-04",
                    "availability": {"paused": True, "note": "training"},
                    "available_now": False,
                    "why_not": "paused (training)",
                }
            ]
        }
    )

    id: str
    name: str
    role: str
    products: dict[str, float]
    active: bool
    daily_capacity: int | None
    load_today: int
    local_day: str
    availability: Availability | None
    available_now: bool
    why_not: str | None


async def status(router: RouterDep, rep_id: str) -> dict[str, Any]:
    rep = router.rules.reps.get(rep_id)
    if rep is None:
        raise HTTPException(404, not_in_rules(rep_id, router.rules.version))
    now = router.clock()
    day = now.astimezone(rep.timezone).date()
    availability = await router.state.availability(rep_id)
    load = await router.state.load(rep_id, day.isoformat())
    why = None
    if not rep.active:
        why = "inactive in the rule files"
    elif rep.back_from_absence(day.isoformat()):
        why = "out of office in the rule files"
    elif availability is not None and availability.blocks(now):
        why = availability.blocks(now)
    elif rep.daily_capacity is not None and load >= rep.daily_capacity:
        why = f"at daily capacity ({load}/{rep.daily_capacity})"
    return {
        "id": rep.id,
        "name": rep.name,
        "role": rep.role,
        "products": dict(rep.weights),
        "active": rep.active,
        "daily_capacity": rep.daily_capacity,
        "load_today": load,
        "local_day": day.isoformat(),
        "availability": availability,
        "available_now": why is None,
        "why_not": why,
    }


NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No rep with this id in the active rules"},
    422: {"model": ErrorBody, "description": "The availability is not valid"},
}


@routes.get(
    "/{rep_id}",
    response_model=RepStatus,
    summary="A rep's load and availability",
    responses=NOT_FOUND,
)
async def get_rep(rep_id: str, router: RouterDep) -> dict[str, Any]:
    """Today's load (in the rep's own time zone) and availability, as routing sees them."""
    return await status(router, rep_id)


# Read by the endpoint itself (router.api.bodies), as the routing endpoints read theirs:
# a body that is not UTF-8 is refused, and a query problem is named beside the body's.
BODY_MODELS = (Availability,)
AVAILABILITY_BODY = {
    "requestBody": {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Availability"}}},
        "required": True,
    }
}


@routes.put(
    "/{rep_id}/availability",
    response_model=RepStatus,
    summary="Set a rep's run-time availability",
    responses=NOT_FOUND,
    openapi_extra=AVAILABILITY_BODY,
)
async def put_availability(rep_id: str, request: Request, router: RouterDep) -> dict[str, Any]:
    """Pause a rep or set an out-of-office window; effective for the next lead."""
    errors: list[Any] = []
    unknown_query(request, (), errors)
    availability = await body_of(request, Availability, errors)
    if rep_id not in router.rules.reps:
        raise HTTPException(404, not_in_rules(rep_id, router.rules.version))
    await router.state.set_availability(rep_id, availability)
    return await status(router, rep_id)


OWN_QUERY_CHECK.add(put_availability)


def not_in_rules(rep_id: str, version: str) -> str:
    return f"rep {shown(rep_id)} is not in rule version {version}"

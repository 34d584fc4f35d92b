"""Response shapes, for the OpenAPI document; handlers return JSON they build directly."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from router.leads import LEAD_EXAMPLE, Lead

BATCH_LIMIT = 500


class Assignee(BaseModel):
    type: Literal["rep", "queue"]
    id: str
    name: str
    email: str | None = None
    crm_user_id: str | None = None


class OverlayAssignee(Assignee):
    trigger: str
    overlay: str


class TraceStep(BaseModel):
    step: str
    result: str
    notes: list[str]


class Decision(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "lead_id": "mkto-00Q5e00001",
                    "decision_id": "5b0e8c7d2f6a4a7e9d3c1b2a0f9e8d7c",
                    "rules_version": "3f9a1c2b7d4e",
                    "decided_at": "2026-12-04T15:30:00.123+00:00",
                    "product": "crm",
                    "model": "portfolio",
                    "segment": "mid-market",
                    "territory": "us-bay-area-mm",
                    "primary": {
                        "type": "rep",
                        "id": "dana-whitfield",
                        "name": "Dana Whitfield",
                        "email": "dana.whitfield@northwind-software.example",
                        "crm_user_id": "0055e000004XyZaAAA",
                    },
                    "overlays": [],
                    "reason": "crm lead in territory us-bay-area-mm (postal prefix US 94, "
                    "mid-market); weighted rotation picked Dana Whitfield.",
                    "replayed": False,
                }
            ]
        }
    )

    lead_id: str
    decision_id: str
    rules_version: str
    decided_at: str
    product: str | None
    model: str | None
    segment: str
    territory: str | None
    primary: Assignee
    overlays: list[OverlayAssignee]
    reason: str
    replayed: bool
    trace: list[TraceStep] | None = None


class BatchRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"leads": [LEAD_EXAMPLE]}]},
    )

    leads: list[Lead] = Field(min_length=1, max_length=BATCH_LIMIT)


class BatchItemError(BaseModel):
    """A lead of a batch that got no decision: 409 (its id was decided for another
    payload: the earlier decision's id and time) or 503 (the state stopped answering
    after earlier leads were decided: send this one again)."""

    lead_id: str
    status: int
    decision_id: str | None = None
    decided_at: str | None = None
    error: str


class BatchResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "decisions": [
                        Decision.model_config["json_schema_extra"]["examples"][0],  # type: ignore[index]
                        {
                            "lead_id": "mkto-00Q5e00002",
                            "status": 409,
                            "decision_id": "0f8e7a1c9b2d4e6f8a0b1c2d3e4f5a6b",
                            "decided_at": "2026-12-02T15:30:00.000+00:00",
                            "error": "lead 'mkto-00Q5e00002' was decided at ... for a different "
                            "payload; a retry must carry the same fields, a new lead a new id",
                        },
                    ]
                }
            ]
        }
    )

    decisions: list[Decision | BatchItemError]


class Problem(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": "invalid request",
                    "problems": [
                        {"field": "employees", "message": "'lots' is not a number of employees"}
                    ],
                }
            ]
        }
    )

    error: str
    problems: list[Problem] = []
    detail: dict[str, Any] | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorBody, "description": "The body is larger than the limit"},
    422: {"model": ErrorBody, "description": "A field is missing, unknown or unreadable"},
}

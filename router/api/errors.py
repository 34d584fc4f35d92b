"""Turn every failure into a JSON body that names the problem."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from router.api.limits import BodyTooLarge, too_large_body
from router.leads import LeadError
from router.service import LeadConflict
from router.state.base import StateUnavailable


def _field(loc: Sequence[Any]) -> str:
    parts = [p for p in loc if p != "body"]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not (isinstance(part, str) and ("[" in part or part in ("int", "float", "str"))):
            out += f".{part}" if out else str(part)
    return out or "body"


def _message(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "is not a known field (custom fields go in `attributes`)"
    if kind == "missing":
        return "is required"
    if kind == "json_invalid":
        reason = error.get("ctx", {}).get("error", "")
        return f"the body is not valid JSON: {reason}".rstrip(": ")
    if kind == "model_attributes_type":
        return "the body must be a JSON object"
    value = error.get("input")
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return f"{error.get('msg', 'is invalid')} (got {shown})"


def invalid(problems: list[tuple[str, str]]) -> JSONResponse:
    body = {
        "error": "invalid request",
        "problems": [{"field": name, "message": why} for name, why in problems],
    }
    return JSONResponse(body, status_code=422)


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, error: RequestValidationError) -> JSONResponse:
        seen: dict[str, str] = {}
        for item in error.errors():
            where = "body" if item.get("type") == "json_invalid" else _field(item["loc"])
            seen.setdefault(where, _message(item))
        return invalid(list(seen.items()))

    @app.exception_handler(BodyTooLarge)
    async def _too_large(_: Request, error: BodyTooLarge) -> Response:
        body = too_large_body(int(error.detail.split()[-2]))
        return Response(body, status_code=413, media_type="application/json")

    @app.exception_handler(LeadError)
    async def _lead(_: Request, error: LeadError) -> JSONResponse:
        return invalid(error.errors)

    @app.exception_handler(LeadConflict)
    async def _conflict(_: Request, error: LeadConflict) -> JSONResponse:
        body = {
            "error": "lead id reused for a different payload",
            "detail": {
                "lead_id": error.lead_id,
                "decision_id": error.decision_id,
                "decided_at": error.decided_at,
                "explanation": str(error),
            },
        }
        return JSONResponse(body, status_code=409)

    @app.exception_handler(StateUnavailable)
    async def _state(_: Request, error: StateUnavailable) -> JSONResponse:
        body = {"error": "routing state unavailable", "detail": {"explanation": str(error)}}
        return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})

"""Turn every failure into a JSON body that names the problem."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from router.api.limits import BodyTooLarge, too_large_body
from router.leads import LeadError, field_problems
from router.service import LeadConflict
from router.state.base import StateUnavailable


def invalid(problems: list[tuple[str, str]]) -> JSONResponse:
    body = {
        "error": "invalid request",
        "problems": [{"field": name, "message": why} for name, why in problems],
    }
    return JSONResponse(body, status_code=422)


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
        leads = request.url.path.startswith(("/v1/route", "/v1/explain"))
        hint = "custom fields go in `attributes`" if leads else ""
        return invalid(field_problems(list(error.errors()), hint))

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

"""Turn every failure into a JSON body that names the problem."""

from __future__ import annotations

from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from router.api.bodies import is_json, unreadable
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
        # In a batch the hint is for the leads' fields: the batch's own object has no attributes.
        under = "leads[" if request.url.path == "/v1/route/batch" else ""
        problems = field_problems(list(error.errors()), hint, hint_under=under)
        kind = request.headers.get("content-type", "")
        if not is_json(kind) and any(name == "body" for name, _ in problems):
            sent = kind or "no content type"
            queries = [(name, why) for name, why in problems if name.startswith("query.")]
            wrong = ("body", f"send JSON with content-type: application/json (got {sent})")
            problems = [*queries, wrong]
        return invalid(problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> Response:
        if isinstance(error, BodyTooLarge):
            return Response(too_large_body(error.max_bytes), 413, media_type="application/json")
        if error.status_code == 400:
            # FastAPI's answer to a body it could not decode (bad UTF-8, nesting too
            # deep, a number too long to read), raised from the reader's own error.
            cause = error.__cause__
            if isinstance(cause, ValueError | RecursionError):
                return invalid([("body", unreadable(cause)["msg"])])
            return invalid([("body", "could not be read as JSON")])
        body = {
            "error": HTTPStatus(error.status_code).phrase.lower(),
            "detail": {"explanation": str(error.detail)},
        }
        return JSONResponse(body, status_code=error.status_code, headers=error.headers)

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

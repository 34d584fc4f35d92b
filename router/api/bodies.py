"""Reading a route's JSON body and boolean flag straight from the request.

The routing endpoints are the hot path: they validate the body's bytes in one
step with pydantic's JSON parser instead of going through FastAPI's body
parameter and dependency solving. A body that parser refuses is read again the
way FastAPI reads one (the standard `json` module, then the model in Python
mode), so every error keeps the field, message and status it had.
"""

from __future__ import annotations

import contextlib
import email.message
import json
import math
import sys
from functools import lru_cache
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, TypeAdapter, ValidationError

from router.leadfiles import unreadable_json, utf16_hint

Model = TypeVar("Model", bound=BaseModel)

_FLAG = TypeAdapter(bool)


@lru_cache(maxsize=64)
def is_json(content_type: str | None) -> bool:
    """application/json or application/*+json, parameters allowed; nothing else."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


def unknown_query(
    request: Request, known: tuple[str, ...], errors: list[Any], why_none: str = ""
) -> None:
    """Name every query parameter the endpoint does not take, and any it takes that
    is given more than once: nothing a caller sends is silently dropped. `why_none`
    says why an endpoint takes none, where a caller could expect one."""
    if not request.scope.get("query_string"):
        return
    params = request.query_params
    takes = f"it takes {', '.join(known)}" if known else "it takes none"
    if why_none and not known:
        takes += f": {why_none}"
    for name in dict.fromkeys(params.keys()):
        if name not in known:
            why = f"is not a query parameter of {request.url.path} ({takes})"
        elif len(params.getlist(name)) > 1:
            why = f"is given {len(params.getlist(name))} times; give it once"
        else:
            continue
        shown = name or '""'  # `?=1` names no parameter
        errors.append({"type": "value_error", "loc": ("query", shown), "msg": why, "input": None})


def flag(request: Request, name: str, errors: list[Any]) -> bool:
    """A boolean query parameter, false when absent; a bad value adds an error."""
    raw = request.query_params.get(name)
    if raw is None:
        return False
    try:
        return _FLAG.validate_python(raw)
    except ValidationError as error:
        errors.extend({**item, "loc": ("query", name)} for item in error.errors())
        return False


async def body_of(request: Request, model: type[Model], errors: list[Any]) -> Model:
    """The body as `model`; raises RequestValidationError with `errors` and the body's own.

    A body over the size limit raises BodyTooLarge while it is read.
    """
    body = await request.body()
    content_type = request.headers.get("content-type")
    # A number of more digits than Python reads cannot fit in a body this short.
    digits = sys.get_int_max_str_digits()
    if body and is_json(content_type) and (digits == 0 or len(body) <= digits) and not errors:
        # Only a body that passes is taken from here: pydantic words some errors
        # differently in JSON mode, so a refused body is read again below.
        with contextlib.suppress(ValidationError):
            return model.model_validate_json(body)
    return as_fastapi_reads(body, is_json(content_type), model, errors)


def as_fastapi_reads(body: bytes, json_type: bool, model: type[Model], errors: list[Any]) -> Model:
    """FastAPI's reading of a body parameter: what the fast path could not settle."""
    if not body:
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
        raise RequestValidationError([*errors, missing])
    data: Any = body
    # Infinity is read from the token Infinity (not JSON) and from a number such as
    # 1e400: which one a body held is noted while it is read, for the figures' message.
    written: set[str] = set()

    def noted(token: str) -> float:
        if token != "NaN":
            written.add("token")
        return float(token)

    def number(text: str) -> float:
        value = float(text)
        if math.isinf(value):
            written.add("number")
        return value

    if json_type:
        try:
            # UTF-8 only (a byte order mark is allowed), as the fast path reads it:
            # json.loads alone would also take UTF-16 and UTF-32.
            data = json.loads(body.decode("utf-8-sig"), parse_constant=noted, parse_float=number)
        except json.JSONDecodeError as error:
            where = f"line {error.lineno}, column {error.colno}"
            reason = f"{error.msg.removesuffix(' at')} at {where}{utf16_hint(body)}"
            invalid = {
                "type": "json_invalid",
                "loc": ("body", error.pos),
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": reason},
            }
            raise RequestValidationError([*errors, invalid]) from error
        except (ValueError, RecursionError) as error:
            raise RequestValidationError([*errors, unreadable(error)]) from error
    try:
        infinity = written.pop() if len(written) == 1 else "either" if written else None
        parsed = model.model_validate(data, from_attributes=True, context={"infinity": infinity})
    except ValidationError as error:
        raise RequestValidationError([*errors, *in_body(error.errors())]) from None
    if errors:
        raise RequestValidationError(errors)
    return parsed


def unreadable(error: ValueError | RecursionError) -> dict[str, Any]:
    """What the standard reader could not read, beyond a syntax error, as a body error."""
    if isinstance(error, UnicodeDecodeError):
        why = f"is not UTF-8 text (byte {error.start + 1} cannot be read)"
    else:
        why = f"could not be read as JSON: {unreadable_json(error)}"
    return {"type": "value_error", "loc": ("body",), "msg": why, "input": None}


def in_body(errors: list[Any]) -> list[Any]:
    return [{**item, "loc": ("body", *item["loc"])} for item in errors]

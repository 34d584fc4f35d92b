"""Serve the routing endpoints without going through FastAPI's router.

POST /v1/route, /v1/route/batch and /v1/explain carry nearly all of the traffic.
This middleware sits inside the body limit and answers them with the very
functions their FastAPI routes call (the routes stay, for the OpenAPI document
and for any other method), and turns their exceptions into responses with the
app's own exception handlers, as FastAPI's exception middleware would. What it
skips is route matching over every route, the dependency solver, and the
per-request exit stacks of a FastAPI route: about a third of a request's CPU.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]


class HotRoutes:
    """ASGI middleware: `endpoints` by path, for POST; everything else goes on to `app`."""

    def __init__(self, app: ASGIApp, endpoints: Mapping[str, Endpoint]) -> None:
        self.app = app
        self.endpoints = dict(endpoints)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = None
        if scope["type"] == "http" and scope["method"] == "POST":
            endpoint = self.endpoints.get(scope["path"])
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
        except Exception as error:
            handler = handler_for(request.app.exception_handlers, error)
            if handler is None:
                raise
            response = handler(request, error)
            if inspect.isawaitable(response):
                response = await response
        await response(scope, receive, send)


def handler_for(handlers: Mapping[Any, Any], error: Exception) -> Any:
    """The handler Starlette would pick: by status code for an HTTPException, then by
    the error's class or its nearest base."""
    if isinstance(error, HTTPException) and error.status_code in handlers:
        return handlers[error.status_code]
    for kind in type(error).__mro__:
        if kind in handlers:
            return handlers[kind]
    return None

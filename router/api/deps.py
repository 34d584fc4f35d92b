"""Typed dependencies shared by the route modules."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from router.service import Router


async def get_router(request: Request) -> Router:
    return cast(Router, request.app.state.router)


RouterDep = Annotated[Router, Depends(get_router)]

"""The active rule version, and reloading it from the rules directory."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from router.api.deps import RouterDep
from router.api.schemas import ErrorBody
from router.ruleset.compiled import CompiledRules
from router.ruleset.problems import RulesError
from router.shown import shown

routes = APIRouter(prefix="/v1/rules", tags=["rules"])


class RulesInfo(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "rules",
                    "version": "e1aaaf075ba1",
                    "loaded_at": "2026-12-04T15:46:40+00:00",
                    "counts": {
                        "products": 4,
                        "segments": 3,
                        "reps": 39,
                        "queues": 3,
                        "territories": 30,
                        "named_accounts": 8,
                        "overlays": 1,
                    },
                    "warnings": [],
                }
            ]
        }
    )

    name: str
    version: str
    loaded_at: str
    counts: dict[str, int]
    warnings: list[str]


def describe(rules: CompiledRules) -> dict[str, Any]:
    return {
        "name": rules.name,
        "version": rules.version,
        "loaded_at": rules.loaded_at.isoformat(timespec="seconds"),
        "counts": rules.counts(),
        "warnings": list(rules.warnings),
    }


@routes.get("", response_model=RulesInfo, summary="The active rule version")
async def current(router: RouterDep) -> dict[str, Any]:
    """Version (a content hash), when it was loaded, and how many of each rule it holds."""
    return describe(router.rules)


@routes.post(
    "/reload",
    response_model=RulesInfo,
    summary="Reload the rules directory",
    responses={422: {"model": ErrorBody, "description": "The new rules have mistakes"}},
)
async def reload(router: RouterDep) -> Any:
    """Compile the rules directory again and swap it in; on any mistake the old rules stay."""
    try:
        fresh = await router.reload()
    except RulesError as error:
        problems = [
            {
                "field": f"{p.file}:{p.line} {p.path}".strip(),
                "message": f"{shown(p.value)} {p.expected}",
            }
            for p in error.problems
        ]
        return JSONResponse({"error": "rules not reloaded", "problems": problems}, status_code=422)
    return describe(fresh)

"""Decision cases kept as data (a rule set, leads in order, expected decisions).

The same cases run in process and over HTTP, so the API can never drift from
the engine.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from router.leads import Lead
from router.service import LeadConflict, Router

CASES = Path(__file__).parent / "cases"


@dataclass(frozen=True)
class Case:
    name: str
    lead: dict[str, Any]
    expect: dict[str, Any]


@dataclass(frozen=True)
class Book:
    name: str
    rules: Path
    now: dt.datetime
    cases: tuple[Case, ...]


def books() -> list[Book]:
    found = []
    for path in sorted(CASES.glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        cases = tuple(Case(c["name"], c["lead"], c["expect"]) for c in data["leads"])
        now = dt.datetime.fromisoformat(data["now"])
        found.append(Book(path.stem, CASES / data["rules"], now, cases))
    return found


def check(case: Case, status: int, body: dict[str, Any], seen: dict[str, Any]) -> None:
    """Assert one answer against its expectation; `seen` holds earlier decisions by lead id."""
    expect = case.expect
    assert status == expect.get("status", 200), (case.name, body)
    if status != 200:
        return
    assert body["lead_id"] == case.lead["id"]
    assert body["primary"]["id"] == expect["primary"], (case.name, body["reason"])
    assert body["primary"]["type"] == expect.get("primary_type", "rep")
    assert body["replayed"] is expect.get("replayed", False)
    for field in ("product", "model", "segment", "territory", "reason"):
        if field in expect:
            assert body[field] == expect[field], (case.name, field, body[field])
    overlays = [o["id"] for o in body["overlays"]]
    assert overlays == expect.get("overlays", []), (case.name, body["overlays"])
    notes = [note for entry in body["trace"] for note in (entry["result"], *entry["notes"])]
    for wanted in expect.get("trace", []):
        assert any(wanted in note for note in notes), (case.name, wanted, notes)
    if "same_as" in expect:
        earlier = seen[expect["same_as"]]
        assert {**body, "replayed": False} == earlier
    else:
        seen[case.lead["id"]] = body


async def run_in_process(router: Router, book: Book) -> None:
    """Every case of the book, in order, through one Router at the book's time."""
    router.clock = lambda: book.now
    seen: dict[str, Any] = {}
    for case in book.cases:
        try:
            body = await router.route(Lead.model_validate(case.lead))
        except LeadConflict:
            check(case, 409, {}, seen)
            continue
        check(case, 200, body, seen)

"""Each step of the decision order, with the exact rep, in process and over HTTP."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from router import engine
from router.api.app import create_app
from router.leads import Lead
from router.ruleset.compiler import compile_rules
from router.service import Router
from router.settings import Settings
from router.state.embedded import EmbeddedState
from tests.casebook import Book, books, check, run_in_process
from tests.http import asgi_client

BOOKS = books()
EXAMPLE_RULES = Path(__file__).resolve().parent.parent / "rules"
NOW = dt.datetime(2026, 12, 7, 15, tzinfo=dt.UTC)


@pytest.mark.parametrize("book", BOOKS, ids=[b.name for b in BOOKS])
async def test_cases_in_process(book: Book) -> None:
    await run_in_process(Router(compile_rules(book.rules), EmbeddedState()), book)


@pytest.mark.parametrize("book", BOOKS, ids=[b.name for b in BOOKS])
async def test_cases_over_http(book: Book) -> None:
    app = create_app(Settings(rules_dir=book.rules))
    seen: dict[str, Any] = {}
    async with asgi_client(app) as client:
        app.state.router.clock = lambda: book.now
        for case in book.cases:
            response = await client.post("/v1/route?trace=true", json=case.lead)
            check(case, response.status_code, response.json(), seen)


async def test_working_hours_end_on_the_minute_though_the_pool_was_read_that_minute() -> None:
    """Paris is UTC+1 in December: Camille's 18:00 end is 17:00:00 UTC, a Monday."""
    router = Router(compile_rules(EXAMPLE_RULES), EmbeddedState())
    lead = Lead(id="br-1", country="BR", product="crm")
    away = "skipped Camille Dubois: outside working hours"

    def skipped(decision: dict[str, Any]) -> list[str]:
        return [n for e in decision["trace"] if e["step"] == "distribution" for n in e["notes"]]

    before = await router.explain(lead, now=dt.datetime(2026, 12, 7, 16, 59, 59, tzinfo=dt.UTC))
    after = await router.explain(lead, now=dt.datetime(2026, 12, 7, 17, 0, tzinfo=dt.UTC))
    late = await router.explain(lead, now=dt.datetime(2026, 12, 7, 17, 0, 59, tzinfo=dt.UTC))

    assert away not in skipped(before)
    assert away in skipped(after)
    assert away in skipped(late)


async def test_pages_seen_again_keep_their_product_and_the_page_table_stays_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The product of a page URL is kept per rule version; past PAGES_KEPT pages the
    table starts again, and every lead still gets its page's product."""
    monkeypatch.setattr(engine, "PAGES_KEPT", 3)
    rules = compile_rules(EXAMPLE_RULES)
    router = Router(rules, EmbeddedState())
    pages = {
        "https://northwind.io/crm/pricing": "crm",
        "https://northwind.io/Security/overview": "security",
        "https://northwind.io/dashboards": "analytics",
        "https://northwind.io/email-campaigns/": "marketing",
        "https://northwind.io/about": None,
    }
    found: list[tuple[str, str | None]] = []
    for number in range(3):
        for page in pages:
            lead = Lead(id=f"page-{number}-{len(found)}", country="US", page_url=page)
            decision = await router.explain(lead, now=NOW)
            step = next(e for e in decision["trace"] if e["step"] == "product")
            found.append((page, step["interest"][0] if step["interest"] else None))
            assert len(rules.memo["pages"]) <= 3
    assert found == [(page, product) for _ in range(3) for page, product in pages.items()]

"""Each step of the decision order, with the exact rep, in process and over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from router.api.app import create_app
from router.ruleset.compiler import compile_rules
from router.service import Router
from router.settings import Settings
from router.state.embedded import EmbeddedState
from tests.casebook import Book, books, check, run_in_process
from tests.http import asgi_client

BOOKS = books()


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

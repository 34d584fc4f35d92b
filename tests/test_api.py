"""The HTTP contract: status codes, error bodies that name the field, and no state change."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI

from router.api import errors
from router.api.app import create_app
from router.api.deps import no_unknown_query
from router.settings import Settings
from tests.casebook import CASES
from tests.http import asgi_client

NOW = dt.datetime(2026, 12, 2, 15, 0, tzinfo=dt.UTC)
WEST = {"country": "US", "region": "WA"}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(rules_dir=CASES / "order", max_body_bytes=4096))
    async with asgi_client(app) as client:
        app.state.router.clock = lambda: NOW
        yield client


async def next_pick(client: httpx.AsyncClient) -> str:
    response = await client.post("/v1/explain", json={"id": "probe", **WEST})
    assert response.status_code == 200
    return str(response.json()["primary"]["id"])


async def post_bytes(client: httpx.AsyncClient, body: bytes) -> httpx.Response:
    """POST /v1/route with a body written by hand, as application/json."""
    headers = {"content-type": "application/json"}
    return await client.post("/v1/route", content=body, headers=headers)


async def loads(client: httpx.AsyncClient) -> dict[str, int]:
    found = {}
    for rep in ("ada", "ben"):
        response = await client.get(f"/v1/reps/{rep}")
        found[rep] = response.json()["load_today"]
    return found


async def test_route_answers_with_the_decision_and_no_trace_by_default(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/v1/route", json={"id": "L1", **WEST})
    assert response.status_code == 200
    body = response.json()
    assert body["primary"] == {
        "type": "rep",
        "id": "ada",
        "name": "Ada West",
        "email": "ada@corp.example",
        "crm_user_id": "U-ADA",
    }
    assert "trace" not in body
    assert body["replayed"] is False
    assert sorted(body) == sorted(
        [
            "lead_id",
            "decision_id",
            "rules_version",
            "decided_at",
            "product",
            "model",
            "segment",
            "territory",
            "primary",
            "overlays",
            "reason",
            "replayed",
        ]
    )


async def test_retry_returns_the_stored_decision_replayed(client: httpx.AsyncClient) -> None:
    first = (await client.post("/v1/route", json={"id": "L1", **WEST})).json()
    before = await loads(client)
    again = await client.post("/v1/route", json={"id": "L1", **WEST})
    assert again.status_code == 200
    assert again.json() == {**first, "replayed": True}
    assert await loads(client) == before
    assert await next_pick(client) == "ben"


async def test_reused_id_with_another_payload_gets_409_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    first = (await client.post("/v1/route", json={"id": "L1", **WEST})).json()
    before = await loads(client)
    response = await client.post("/v1/route", json={"id": "L1", "country": "DE"})
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert detail["decision_id"] == first["decision_id"]
    assert "different payload" in detail["explanation"]
    assert await loads(client) == before


@pytest.mark.parametrize(
    ("body", "problems"),
    [
        ({"country": "US"}, [{"field": "id", "message": "is required"}]),
        (
            {"id": "L2", "employeez": 5, "countryy": "US"},
            [
                {
                    "field": "employeez",
                    "message": "is not a known field (custom fields go in `attributes`)",
                },
                {
                    "field": "countryy",
                    "message": "is not a known field (custom fields go in `attributes`)",
                },
            ],
        ),
        (
            {"id": "L2", "country": ["US"]},
            [{"field": "country", "message": 'Input should be a valid string (got ["US"])'}],
        ),
        (
            {"id": "L2", "employees": "lots", "deal_size": "much"},
            [
                {
                    "field": "employees",
                    "message": '"lots" is not a number of employees '
                    '(expected e.g. 1200, "1,200", "5k")',
                },
                {
                    "field": "deal_size",
                    "message": '"much" is not an amount of money '
                    '(expected e.g. 5000000, "$2.5M", "750k")',
                },
            ],
        ),
    ],
    ids=["missing-id", "unknown-fields", "wrong-type", "unreadable-figures"],
)
async def test_invalid_lead_gets_422_naming_each_field(
    client: httpx.AsyncClient, body: dict[str, object], problems: list[dict[str, str]]
) -> None:
    response = await client.post("/v1/route", json=body)
    assert response.status_code == 422
    assert response.json() == {"error": "invalid request", "problems": problems}
    assert await loads(client) == {"ada": 0, "ben": 0}


async def test_figures_are_named_as_the_json_sent_them(client: httpx.AsyncClient) -> None:
    """1e400 is read as infinity and said so; a JSON true is shown as true, not True."""
    body = b'{"id": "L4", "employees": 1e400, "annual_revenue": true}'
    response = await post_bytes(client, body)
    assert response.status_code == 422
    assert response.json()["problems"] == [
        {
            "field": "employees",
            "message": "infinity (a number beyond 1.8e308) is not a number of employees "
            '(expected e.g. 1200, "1,200", "5k")',
        },
        {
            "field": "annual_revenue",
            "message": 'must be a number or text such as "1,200" or "5M" (got true)',
        },
    ]
    assert await loads(client) == {"ada": 0, "ben": 0}


@pytest.mark.parametrize(
    ("body", "employees", "deal_size"),
    [
        (
            b'{"id": "L6", "employees": Infinity, "deal_size": -Infinity}',
            "Infinity (not a number JSON allows)",
            "-Infinity (not a number JSON allows)",
        ),
        (
            b'{"id": "L6", "employees": NaN, "deal_size": -1e400}',
            "NaN (not a number JSON allows)",
            "minus infinity (a number beyond 1.8e308)",
        ),
        (
            b'{"id": "L6", "employees": 1e400, "deal_size": -Infinity}',
            "infinity (Infinity, not a number JSON allows, or a number beyond 1.8e308)",
            "minus infinity (Infinity, not a number JSON allows, or a number beyond 1.8e308)",
        ),
    ],
    ids=["tokens", "nan-and-overflow", "both-in-one-body"],
)
async def test_infinity_is_named_as_the_body_wrote_it(
    client: httpx.AsyncClient, body: bytes, employees: str, deal_size: str
) -> None:
    """The token Infinity is not JSON; 1e400 is a number too large for a float."""
    response = await post_bytes(client, body)
    assert response.status_code == 422
    assert response.json()["problems"] == [
        {
            "field": "employees",
            "message": f'{employees} is not a number of employees (expected e.g. 1200, "1,200", '
            '"5k")',
        },
        {
            "field": "deal_size",
            "message": f"{deal_size} is not an amount of money "
            '(expected e.g. 5000000, "$2.5M", "750k")',
        },
    ]
    assert await loads(client) == {"ada": 0, "ben": 0}


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        (
            rb'{"notes": ["fine", "half a pair \ud800"]}',
            'hold text that is not valid Unicode (a lone surrogate) at ["notes"][1]',
        ),
        (
            rb'{"crm": {"owner": {"name\udc00": "x"}}}',
            "hold a key that is not valid Unicode (a lone surrogate): "
            '"name\\udc00" in ["crm"]["owner"]',
        ),
        (
            rb'{"a.b": {"c d": "\ud800"}, "": {"x\"y": ["\udfff"]}}',
            'hold text that is not valid Unicode (a lone surrogate) at ["a.b"]["c d"]',
        ),
        (
            rb'{"": {"x\"y": ["\udfff"]}}',
            'hold text that is not valid Unicode (a lone surrogate) at [""]["x\\"y"][0]',
        ),
        (
            rb'{"\ud83d": 1}',
            'hold a key that is not valid Unicode (a lone surrogate): "\\ud83d"',
        ),
    ],
    ids=["text-in-a-list", "nested-key", "keys-with-dots-and-spaces", "empty-key", "top-level-key"],
)
async def test_attributes_holding_a_lone_surrogate_are_refused_naming_where(
    client: httpx.AsyncClient, attributes: bytes, message: str
) -> None:
    """A lone surrogate cannot become UTF-8: the lead could be neither hashed nor stored."""
    response = await post_bytes(client, b'{"id": "U1", "attributes": ' + attributes + b"}")
    assert response.status_code == 422
    assert response.json()["problems"] == [{"field": "attributes", "message": message}]
    assert await loads(client) == {"ada": 0, "ben": 0}


async def test_text_a_caller_sent_is_shown_as_json_text(client: httpx.AsyncClient) -> None:
    """In double quotes, as in the body sent, letters beyond ASCII as they were written."""
    body = '{"id": "L5", "employees": "zwölf", "attributes": "Größe"}'.encode()
    response = await post_bytes(client, body)
    assert response.status_code == 422
    assert response.json()["problems"] == [
        {
            "field": "employees",
            "message": '"zwölf" is not a number of employees (expected e.g. 1200, "1,200", "5k")',
        },
        {"field": "attributes", "message": 'Input should be a valid dictionary (got "Größe")'},
    ]
    missing = await client.put("/v1/reps/o'neil/availability", json={})
    assert missing.status_code == 404
    assert missing.json()["detail"]["explanation"].startswith(
        'rep "o\'neil" is not in rule version '
    )
    assert await loads(client) == {"ada": 0, "ben": 0}


@pytest.mark.parametrize("depth", [33, 150, 400])
async def test_attributes_nested_too_deeply_are_refused_before_anything_is_stored(
    client: httpx.AsyncClient, depth: int
) -> None:
    """A lead that nests deeper than 32 levels would be stored and then fail on a retry."""
    nested = b"[" * (depth - 1) + b"]" * (depth - 1)
    response = await post_bytes(client, b'{"id": "N1", "attributes": {"a": ' + nested + b"}}")
    assert response.status_code == 422
    assert response.json()["problems"] == [
        {"field": "attributes", "message": "are nested more than 32 levels deep; flatten them"}
    ]
    assert await loads(client) == {"ada": 0, "ben": 0}


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-1e400"])
async def test_attributes_holding_a_number_json_cannot_carry_are_refused(
    client: httpx.AsyncClient, number: bytes
) -> None:
    response = await post_bytes(client, b'{"id": "N3", "attributes": {"a": [1, ' + number + b"]}}")
    assert response.status_code == 422
    assert response.json()["problems"] == [
        {
            "field": "attributes",
            "message": "hold a number JSON cannot carry (NaN, Infinity, or one beyond 1.8e308)",
        }
    ]
    assert await loads(client) == {"ada": 0, "ben": 0}


async def test_attributes_32_levels_deep_are_kept_and_a_retry_replays(
    client: httpx.AsyncClient,
) -> None:
    nested = b"[" * 31 + b"]" * 31
    body = b'{"id": "N2", "country": "US", "region": "WA", "attributes": {"a": ' + nested + b"}}"
    first = await post_bytes(client, body)
    again = await post_bytes(client, body)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["decision_id"] == first.json()["decision_id"]
    assert again.json()["replayed"] is True


async def test_malformed_json_gets_422(client: httpx.AsyncClient) -> None:
    response = await post_bytes(client, b'{"id": "L3",')
    assert response.status_code == 422
    [problem] = response.json()["problems"]
    assert problem["field"] == "body"
    assert problem["message"].startswith("the body is not valid JSON")


async def test_body_over_the_limit_gets_413_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    body = {"id": "big", **WEST, "attributes": {"notes": "x" * 5000}}
    response = await client.post("/v1/route", json=body)
    assert response.status_code == 413
    assert response.json() == {
        "error": "body too large",
        "problems": [{"field": "body", "message": "is larger than the limit of 4096 bytes"}],
    }
    assert await loads(client) == {"ada": 0, "ben": 0}


async def test_streamed_body_over_the_limit_gets_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"id": "big", "attributes": {"notes": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}}'

    response = await client.post(
        "/v1/route", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_explain_shows_the_trace_and_moves_no_rotation(client: httpx.AsyncClient) -> None:
    first = await client.post("/v1/explain", json={"id": "E1", **WEST})
    second = await client.post("/v1/explain", json={"id": "E1", **WEST})
    assert first.json()["primary"]["id"] == second.json()["primary"]["id"] == "ada"
    steps = [s["step"] for s in first.json()["trace"]]
    assert steps == [
        "normalise",
        "product",
        "segment",
        "named_account",
        "stickiness",
        "territory",
        "distribution",
        "overlays",
    ]
    assert first.json()["trace"][6] == {
        "step": "distribution",
        "result": "ada",
        "notes": ["weighted rotation", "picked Ada West"],
    }
    assert await loads(client) == {"ada": 0, "ben": 0}
    routed = await client.post("/v1/route", json={"id": "E1", **WEST})
    assert routed.json()["replayed"] is False


async def test_batch_routes_in_order_and_replays_duplicates(client: httpx.AsyncClient) -> None:
    leads = [{"id": f"B{i}", **WEST} for i in range(4)] + [{"id": "B0", **WEST}]
    response = await client.post("/v1/route/batch", json={"leads": leads})
    assert response.status_code == 200
    decisions = response.json()["decisions"]
    assert [d["primary"]["id"] for d in decisions] == ["ada", "ben", "ada", "ada", "ada"]
    assert [d["replayed"] for d in decisions] == [False, False, False, False, True]


async def test_batch_with_one_bad_lead_is_refused_whole(client: httpx.AsyncClient) -> None:
    leads = [{"id": "B0", **WEST}, {"id": "B1", "employees": "many"}]
    response = await client.post("/v1/route/batch", json={"leads": leads})
    assert response.status_code == 422
    assert response.json()["problems"] == [
        {
            "field": "leads[1].employees",
            "message": '"many" is not a number of employees (expected e.g. 1200, "1,200", "5k")',
        }
    ]
    assert await loads(client) == {"ada": 0, "ben": 0}


async def test_batch_over_the_limit_is_refused(tmp_path: object) -> None:
    app = create_app(Settings(rules_dir=CASES / "order"))
    async with asgi_client(app) as client:
        leads = [{"id": f"B{i}"} for i in range(501)]
        response = await client.post("/v1/route/batch", json={"leads": leads})
    assert response.status_code == 422
    [problem] = response.json()["problems"]
    assert problem["field"] == "leads"
    assert problem["message"] == "has 501 items; at most 500 are allowed"


async def test_a_lead_posted_to_the_batch_endpoint_is_told_what_a_batch_holds(
    client: httpx.AsyncClient,
) -> None:
    body = {"leads": [{"id": "u0", "foo": 1}], "id": "u1"}
    response = await client.post("/v1/route/batch", json=body)
    assert response.status_code == 422
    assert response.json()["problems"] == [
        {
            "field": "leads[0].foo",
            "message": "is not a known field (custom fields go in `attributes`)",
        },
        {"field": "id", "message": "is not a known field"},
    ]


async def test_batch_reports_a_reused_id_in_place(client: httpx.AsyncClient) -> None:
    first = (await client.post("/v1/route", json={"id": "B0", **WEST})).json()
    leads = [{"id": "B0", "country": "DE"}, {"id": "B9", **WEST}]
    decisions = (await client.post("/v1/route/batch", json={"leads": leads})).json()["decisions"]
    assert decisions[0] == {
        "lead_id": "B0",
        "status": 409,
        "decision_id": first["decision_id"],
        "decided_at": first["decided_at"],
        "error": f'lead "B0" was decided at {first["decided_at"]} (decision '
        f"{first['decision_id']}) for a different payload; a retry must carry the same "
        "fields, a new lead a new id",
    }
    assert decisions[1]["primary"]["id"] == "ben"


async def test_rules_health_and_readiness(client: httpx.AsyncClient) -> None:
    rules = (await client.get("/v1/rules")).json()
    assert rules["name"] == "order"
    assert rules["counts"]["territories"] == 10
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "state": "embedded",
        "rules_version": rules["version"],
    }


async def test_metrics_count_decisions_fallbacks_and_rule_version(
    client: httpx.AsyncClient,
) -> None:
    await client.post(
        "/v1/route", json={"id": "M1", "country": "DE", "utm_source": "security-weekly"}
    )
    text = (await client.get("/metrics")).text
    version = (await client.get("/v1/rules")).json()["version"]
    assert 'router_decisions_total{model="dedicated",outcome="queue",product="security"}' in text
    assert 'router_fallbacks_total{reason="no_territory"}' in text
    assert f'router_rules_version_info{{name="order",version="{version}"}} 1.0' in text
    assert "router_decision_seconds_bucket" in text


async def test_paused_rep_is_skipped_and_shown(client: httpx.AsyncClient) -> None:
    response = await client.put(
        "/v1/reps/ada/availability", json={"paused": True, "note": "training"}
    )
    assert response.status_code == 200
    assert response.json()["why_not"] == "paused (training)"
    decision = (await client.post("/v1/route?trace=true", json={"id": "P1", **WEST})).json()
    assert decision["primary"]["id"] == "ben"
    assert decision["trace"][6] == {
        "step": "distribution",
        "result": "ben",
        "notes": [
            "weighted rotation",
            "skipped Ada West: paused (training)",
            "picked Ben West",
        ],
    }


async def test_availability_with_a_naive_time_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.put(
        "/v1/reps/ada/availability", json={"away_from": "2026-12-24T00:00:00"}
    )
    assert response.status_code == 422
    unknown = await client.get("/v1/reps/nobody")
    assert unknown.status_code == 404


async def test_openapi_documents_every_endpoint_with_an_example(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]

    def has_example(node: object) -> bool:
        if isinstance(node, dict):
            if "example" in node or "examples" in node:
                return True
            ref = node.get("$ref")
            if isinstance(ref, str) and has_example(schemas[ref.rsplit("/", 1)[-1]]):
                return True
            return any(has_example(value) for value in node.values())
        if isinstance(node, list):
            return any(has_example(item) for item in node)
        return False

    paths = spec["paths"]
    expected = {
        ("/v1/route", "post"),
        ("/v1/route/batch", "post"),
        ("/v1/explain", "post"),
        ("/v1/rules", "get"),
        ("/v1/rules/reload", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/v1/reps/{rep_id}", "get"),
        ("/v1/reps/{rep_id}/availability", "put"),
    }
    assert {(p, m) for p, ops in paths.items() for m in ops} == expected
    for path, method in expected:
        operation = paths[path][method]
        assert operation["summary"], path
        assert has_example(operation["responses"]["200"]), (path, method)
        if "requestBody" in operation:
            assert has_example(operation["requestBody"]), (path, method)
    assert schemas["Lead"]["examples"][0]["id"] == "mkto-00Q5e00001"


async def test_reload_swaps_rules_and_a_broken_reload_keeps_the_old_ones(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "order"
    shutil.copytree(CASES / "order", rules)
    app = create_app(Settings(rules_dir=rules))
    async with asgi_client(app) as client:
        before = (await client.get("/v1/rules")).json()["version"]
        reps = rules / "reps.yaml"
        reps.write_text(reps.read_text() + "# reviewed\n")
        reloaded = await client.post("/v1/rules/reload")
        assert reloaded.status_code == 200
        after = reloaded.json()["version"]
        assert after != before

        reps.write_text(reps.read_text().replace("{id: ada,", "{id: ada, colour: red,"))
        refused = await client.post("/v1/rules/reload")
        assert refused.status_code == 422
        assert refused.json() == {
            "error": "rules not reloaded",
            "problems": [
                {
                    "field": "order/reps.yaml:2 reps[0].colour",
                    "message": '"colour" is not a known field here',
                }
            ],
        }
        assert (await client.get("/v1/rules")).json()["version"] == after
        routed = await client.post("/v1/route", json={"id": "R1", **WEST})
        assert routed.json()["rules_version"] == after


async def test_explain_of_a_decided_lead_shows_the_stored_decision(
    client: httpx.AsyncClient,
) -> None:
    routed = (await client.post("/v1/route", json={"id": "X1", **WEST})).json()
    explained = await client.post("/v1/explain", json={"id": "X1", **WEST})
    assert explained.status_code == 200
    body = explained.json()
    assert body["decision_id"] == routed["decision_id"]
    assert body["replayed"] is True
    assert body["trace"][0]["step"] == "normalise"
    other = await client.post("/v1/explain", json={"id": "X1", "country": "DE"})
    assert other.status_code == 409


async def test_rep_at_capacity_is_shown_as_not_available(client: httpx.AsyncClient) -> None:
    east = {"country": "US", "region": "NY"}
    for index in range(2):
        await client.post("/v1/route", json={"id": f"C{index}", **east})
    status = (await client.get("/v1/reps/gus")).json()
    assert (status["load_today"], status["daily_capacity"]) == (1, 1)
    assert status["available_now"] is False
    assert status["why_not"] == "at daily capacity (1/1)"


@pytest.mark.parametrize(
    ("content", "content_type", "message"),
    [
        (b'{"id": "\xff"}', "application/json", "is not UTF-8 text (byte 9 cannot be read)"),
        (
            b'{"id": "T1", "attributes": {"a": ' + b"[" * 1500 + b"]" * 1500 + b"}}",
            "application/json",
            "could not be read as JSON: it is nested too deeply to read",
        ),
        (
            b'{"id": "T1"}',
            "text/plain",
            "send JSON with content-type: application/json (got text/plain)",
        ),
        (
            b'{"id": "T1"}',
            "text/json",
            "send JSON with content-type: application/json (got text/json)",
        ),
        (b'["id"]', "application/json", "must be a JSON object"),
    ],
    ids=["not-utf8", "too-deep", "text-plain", "text-json", "array"],
)
async def test_unreadable_bodies_get_422_naming_the_body(
    client: httpx.AsyncClient, content: bytes, content_type: str, message: str
) -> None:
    response = await client.post(
        "/v1/route", content=content, headers={"content-type": content_type}
    )
    assert response.status_code == 422
    assert response.json() == {
        "error": "invalid request",
        "problems": [{"field": "body", "message": message}],
    }


async def test_unknown_paths_and_methods_answer_in_the_same_error_shape(
    client: httpx.AsyncClient,
) -> None:
    missing = await client.get("/v1/nothing")
    assert missing.status_code == 404
    assert missing.json() == {"error": "not found", "detail": {"explanation": "Not Found"}}
    wrong = await client.get("/v1/route")
    assert wrong.status_code == 405
    assert wrong.json()["error"] == "method not allowed"
    head = await client.head("/healthz")
    assert head.status_code == 200


async def test_watched_rules_directory_is_reloaded_by_itself(tmp_path: Path) -> None:
    rules = tmp_path / "order"
    shutil.copytree(CASES / "order", rules)
    app = create_app(Settings(rules_dir=rules, rules_watch_seconds=0.05))
    async with asgi_client(app) as client:
        before = (await client.get("/v1/rules")).json()["version"]
        reps = rules / "reps.yaml"
        reps.write_text(reps.read_text().replace("{id: ada,", "{id: ada, colour: red,"))
        await asyncio.sleep(0.5)
        assert (await client.get("/v1/rules")).json()["version"] == before
        reps.write_text(reps.read_text().replace(" colour: red,", "") + "# edited\n")
        for _ in range(100):
            await asyncio.sleep(0.05)
            after = (await client.get("/v1/rules")).json()["version"]
            if after != before:
                break
        assert after == app.state.router.rules.version != before


async def test_a_lone_surrogate_in_the_id_is_refused_before_anything_is_stored(
    client: httpx.AsyncClient,
) -> None:
    body = b'{"id": "L\\udfff", "country": "US", "region": "WA"}'
    response = await post_bytes(client, body)
    assert response.status_code == 422
    assert response.json()["problems"] == [
        {"field": "id", "message": "is not valid Unicode text (it holds a lone surrogate)"}
    ]
    assert await loads(client) == {"ada": 0, "ben": 0}


async def test_availability_times_must_be_iso_text(client: httpx.AsyncClient) -> None:
    response = await client.put("/v1/reps/ada/availability", json={"away_from": 253402300799})
    assert response.status_code == 422
    assert response.json()["problems"] == [
        {
            "field": "away_from",
            "message": "write times as ISO 8601 text with an offset, e.g. 2026-12-24T00:00:00Z",
        }
    ]


async def test_concurrent_reloads_share_one_compile(tmp_path: Path) -> None:
    rules = tmp_path / "order"
    shutil.copytree(CASES / "order", rules)
    app = create_app(Settings(rules_dir=rules))
    async with asgi_client(app):
        router = app.state.router
        first, second = await asyncio.gather(router.reload(), router.reload())
        assert first is second


@pytest.mark.parametrize(
    ("query", "traced"),
    [("", False), ("?trace=true", True), ("?trace=1", True), ("?trace=off", False)],
)
async def test_the_trace_flag_reads_as_a_boolean(
    client: httpx.AsyncClient, query: str, traced: bool
) -> None:
    response = await client.post(f"/v1/route{query}", json={"id": "F1", **WEST})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert ("trace" in response.json()) is traced


async def test_a_trace_flag_that_is_not_a_boolean_is_named_and_nothing_is_decided(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/v1/route?trace=maybe", json={"id": "F2", "employees": "lots"})
    assert response.status_code == 422
    assert response.json() == {
        "error": "invalid request",
        "problems": [
            {
                "field": "query.trace",
                "message": 'should be true or false (got "maybe")',
            },
            {
                "field": "employees",
                "message": '"lots" is not a number of employees (expected e.g. 1200, "1,200", '
                '"5k")',
            },
        ],
    }
    batch = await client.post("/v1/route/batch?trace=2", json={"leads": [{"id": "F3", **WEST}]})
    assert batch.status_code == 422
    assert batch.json()["problems"][0]["field"] == "query.trace"
    assert await loads(client) == {"ada": 0, "ben": 0}


@pytest.mark.parametrize(
    ("method", "url", "field", "message"),
    [
        (
            "post",
            "/v1/route?tracee=true",
            "query.tracee",
            "is not a query parameter of /v1/route (it takes trace)",
        ),
        (
            "post",
            "/v1/route?trace=true&trace=false",
            "query.trace",
            "is given 2 times; give it once",
        ),
        (
            "post",
            "/v1/route/batch?dry_run=1",
            "query.dry_run",
            "is not a query parameter of /v1/route/batch (it takes trace)",
        ),
        (
            "post",
            "/v1/explain?trace=false",
            "query.trace",
            "is not a query parameter of /v1/explain (it takes none: the trace is always included)",
        ),
        (
            "post",
            "/v1/route?=1",
            'query.""',
            "is not a query parameter of /v1/route (it takes trace)",
        ),
        (
            "get",
            "/v1/rules?verbose=1",
            "query.verbose",
            "is not a query parameter of /v1/rules (it takes none)",
        ),
        (
            "get",
            "/v1/reps/ada?day=2026-12-02",
            "query.day",
            "is not a query parameter of /v1/reps/ada (it takes none)",
        ),
    ],
)
async def test_a_query_parameter_the_endpoint_does_not_take_is_named_and_nothing_is_decided(
    client: httpx.AsyncClient, method: str, url: str, field: str, message: str
) -> None:
    lead = {"id": "Q1", **WEST}
    body = {"leads": [lead]} if "batch" in url else lead
    if method == "post":
        response = await client.post(url, json=body)
    else:
        response = await client.get(url)
    assert response.status_code == 422
    assert response.json() == {
        "error": "invalid request",
        "problems": [{"field": field, "message": message}],
    }
    assert await loads(client) == {"ada": 0, "ben": 0}


async def _page(size: int = 10) -> int:
    return size


async def _items(number: Annotated[int, Depends(_page)], sort: str = "name") -> list[Any]:
    return [number, sort]


async def test_probes_and_scrapers_may_add_query_parameters(client: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        assert (await client.get(f"{path}?cache=1700000000")).status_code == 200
    assert (await client.head("/healthz?cache=1")).status_code == 200


@pytest.mark.parametrize(
    ("method", "url", "content", "content_type", "problems"),
    [
        (
            "post",
            "/v1/route?x=1",
            b'{"id": "B1"}',
            "text/plain",
            [
                ("query.x", "is not a query parameter of /v1/route (it takes trace)"),
                ("body", "send JSON with content-type: application/json (got text/plain)"),
            ],
        ),
        (
            "post",
            "/v1/route?x=1",
            b'{"id": "B1",\n "x"\x01}',
            "application/json",
            [
                ("query.x", "is not a query parameter of /v1/route (it takes trace)"),
                ("body", "the body is not valid JSON: Expecting ':' delimiter at line 2, column 5"),
            ],
        ),
        (
            "post",
            "/v1/route",
            '{"id": "B1"}'.encode("utf-16"),
            "application/json",
            [("body", "is not UTF-8 text (byte 1 cannot be read)")],
        ),
        (
            "post",
            "/v1/route",
            '{"id": "B1"}'.encode("utf-16-le"),
            "application/json",
            [
                (
                    "body",
                    "the body is not valid JSON: Expecting property name enclosed in double "
                    "quotes at line 1, column 2; it holds a NUL beside each character, as "
                    "UTF-16 or UTF-32 text does: send UTF-8",
                )
            ],
        ),
        (
            "post",
            "/v1/route",
            b'{"id": "T1", "employees": ' + b"9" * 5000 + b"}",
            "application/json",
            [
                (
                    "body",
                    "could not be read as JSON: it holds a number with too many digits to "
                    "read (over 4,300)",
                )
            ],
        ),
        (
            "put",
            "/v1/reps/ada/availability",
            '{"note": "Zürich"}'.encode("latin-1"),
            "application/json",
            [("body", "is not UTF-8 text (byte 12 cannot be read)")],
        ),
        (
            "put",
            "/v1/reps/ada/availability",
            b'{"note": ' + b"[" * 3000 + b"]" * 3000 + b"}",
            "application/json",
            [("body", "could not be read as JSON: it is nested too deeply to read")],
        ),
        (
            "put",
            "/v1/reps/ada/availability?x=1",
            b'{"paused": "maybe", "away_from": "2026-12-24T00:00:00", "colour": "red"}',
            "application/json",
            [
                (
                    "query.x",
                    "is not a query parameter of /v1/reps/ada/availability (it takes none)",
                ),
                (
                    "paused",
                    'should be true or false (got "maybe")',
                ),
                ("colour", "is not a known field"),
            ],
        ),
        (
            "put",
            "/v1/reps/ada/availability",
            '{"paused": true}'.encode("utf-16"),
            "application/json",
            [("body", "is not UTF-8 text (byte 1 cannot be read)")],
        ),
        (
            "put",
            "/v1/reps/ada/availability",
            '{"paused": true}'.encode("utf-32"),
            "application/json",
            [("body", "is not UTF-8 text (byte 1 cannot be read)")],
        ),
    ],
    ids=[
        "query-and-content-type",
        "query-and-syntax",
        "utf-16",
        "utf-16-without-bom",
        "long-number",
        "put-latin-1",
        "put-deep",
        "put-query-and-body",
        "put-utf-16",
        "put-utf-32",
    ],
)
async def test_every_problem_of_a_request_is_named_with_where_it_is(
    method: str, url: str, content: bytes, content_type: str, problems: list[tuple[str, str]]
) -> None:
    app = create_app(Settings(rules_dir=CASES / "order"))
    async with asgi_client(app) as client:
        headers = {"content-type": content_type}
        response = await getattr(client, method)(url, content=content, headers=headers)
        assert response.status_code == 422
        assert response.json()["problems"] == [
            {"field": field, "message": message} for field, message in problems
        ]
        assert await loads(client) == {"ada": 0, "ben": 0}
        assert (await client.get("/v1/reps/ada")).json()["available_now"] is True


async def test_a_route_that_declares_a_query_parameter_takes_it() -> None:
    """The app-wide check reads what each route declares, its dependencies' included."""
    app = FastAPI(dependencies=[Depends(no_unknown_query)])
    errors.install(app)
    app.get("/items")(_items)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/items?size=3&sort=id")).json() == [3, "id"]
        refused = await client.get("/items?size=3&limit=5")
    assert refused.status_code == 422
    assert refused.json()["problems"] == [
        {
            "field": "query.limit",
            "message": "is not a query parameter of /items (it takes sort, size)",
        }
    ]


@pytest.mark.parametrize(
    ("content", "content_type", "problems"),
    [
        (b"", "application/json", [{"field": "body", "message": "is required"}]),
        (
            b'{"id": "J1", "attributes": "notes"}',
            "application/json",
            [
                {
                    "field": "attributes",
                    "message": 'Input should be a valid dictionary (got "notes")',
                }
            ],
        ),
        (
            b'{"id": "J2"}',
            None,
            [
                {
                    "field": "body",
                    "message": "send JSON with content-type: application/json "
                    "(got no content type)",
                }
            ],
        ),
    ],
    ids=["empty", "python-words", "no-content-type"],
)
async def test_bodies_refused_keep_the_words_of_a_body_parameter(
    client: httpx.AsyncClient, content: bytes, content_type: str | None, problems: object
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post("/v1/route", content=content, headers=headers)
    assert response.status_code == 422
    assert response.json() == {"error": "invalid request", "problems": problems}


async def test_a_json_body_with_a_byte_order_mark_or_a_charset_is_read(
    client: httpx.AsyncClient,
) -> None:
    body = b'\xef\xbb\xbf{"id": "BOM1", "country": "US", "region": "WA"}'
    response = await post_bytes(client, body)
    assert response.status_code == 200 and response.json()["lead_id"] == "BOM1"
    charset = {"content-type": "application/json; charset=utf-8"}
    response = await client.post("/v1/route", content=b'{"id": "CS1"}', headers=charset)
    assert response.status_code == 200 and response.json()["lead_id"] == "CS1"


async def test_a_retry_after_a_reload_is_answered_as_the_version_that_decided(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "order"
    shutil.copytree(CASES / "order", rules)
    app = create_app(Settings(rules_dir=rules))
    async with asgi_client(app) as client:
        first = (await client.post("/v1/route?trace=true", json={"id": "V1", **WEST})).json()
        reps = rules / "reps.yaml"
        reps.write_text(reps.read_text().replace("Ada West", "Ada North"))
        reloaded = (await client.post("/v1/rules/reload")).json()
        assert reloaded["version"] != first["rules_version"]
        again = await client.post("/v1/route?trace=true", json={"id": "V1", **WEST})
        assert again.json() == {**first, "replayed": True}
        fresh = (await client.post("/v1/route", json={"id": "V2", **WEST})).json()
        assert fresh["rules_version"] == reloaded["version"]
        assert fresh["primary"]["name"] == "Ben West"
        explained = (await client.post("/v1/explain", json={"id": "V1", **WEST})).json()
        assert explained["primary"]["name"] == "Ada West"


async def test_decision_logging_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().log_decisions is False
    monkeypatch.setenv("ROUTER_LOG_DECISIONS", "1")
    settings = Settings.from_env(rules_dir=CASES / "order")
    assert settings.log_decisions is True
    app = create_app(settings)
    async with asgi_client(app):
        assert app.state.router.log_decisions is True


@pytest.mark.parametrize("paused", ["yes", "off", 1, "true"])
async def test_paused_is_true_or_false_and_nothing_else(
    client: httpx.AsyncClient, paused: object
) -> None:
    response = await client.put("/v1/reps/ada/availability", json={"paused": paused})

    assert response.status_code == 422
    shown_value = json.dumps(paused)
    assert response.json()["problems"] == [
        {"field": "paused", "message": f"should be true or false (got {shown_value})"}
    ]
    assert (await client.get("/v1/reps/ada")).json()["availability"] is None

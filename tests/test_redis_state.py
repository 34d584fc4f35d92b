"""What only the Redis store has: its keys, their expiry, round trips, scripts and replicas."""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.crc import key_slot

from router.api.app import create_app
from router.plan import Outcome, Sticky
from router.settings import Settings
from router.state.base import Availability, Fresh, Replayed
from router.state.embedded import EmbeddedState
from router.state.factory import open_state
from router.state.redis_store import (
    RedisState,
    carriers_of,
    namespace,
    open_redis,
    outcome_from_json,
    pack_availability,
    unpack_availability,
)
from tests.casebook import CASES
from tests.conftest import RedisEndpoint
from tests.http import asgi_client
from tests.test_redis_pipeline import watch
from tests.test_state_contract import DAY, NOW, WEST, account, plan, pool, rep, stamp

WINDOW = dt.timedelta(hours=1)


@pytest.fixture
async def state(redis_endpoint: RedisEndpoint, rules_name: str) -> AsyncIterator[RedisState]:
    opened = open_redis(Settings(redis_url=redis_endpoint.url), rules_name, replay_window=WINDOW)
    try:
        yield opened
    finally:
        await opened.close()


async def keys_of(client: Redis, rules_name: str) -> set[str]:
    return {key async for key in client.scan_iter(match=namespace(rules_name) + "*")}


def copy_rules(source: Path, into: Path) -> Path:
    """The rule directory under a fresh name: the app namespaces its Redis keys by that name."""
    target = into / f"{source.name}-{uuid.uuid4().hex[:8]}"
    shutil.copytree(source, target)
    return target


# keys ----------------------------------------------------------------------------------


async def test_a_decision_touches_only_its_rule_set_keys_all_in_one_slot(
    state: RedisState, raw: Redis, rules_name: str
) -> None:
    overlay = pool(rep("oz"), rep("pia"), method="round_robin", rotation="overlay:analytics")
    await state.set_availability("pia", Availability(paused=True))
    await state.execute(plan("L1", WEST, sticky=account(), overlays=[overlay]), stamp())
    prefix = f"router:{{{rules_name}}}:"
    assert await keys_of(raw, rules_name) == {
        prefix + "lead:L1",
        prefix + "credits:pool",
        prefix + "credits:overlay:analytics",
        prefix + f"load:ada:{DAY}",
        prefix + f"load:oz:{DAY}",
        prefix + "owner:suite:acme.example",
        prefix + "availability",
        prefix + "carriers:" + carriers_of(account())[0],
    }
    assert len({key_slot(key.encode()) for key in await keys_of(raw, rules_name)}) == 1


async def test_the_carriers_are_sent_once_and_again_when_the_server_lost_them(
    state: RedisState, raw: Redis, rules_name: str
) -> None:
    digest, _ = carriers_of(account(blocked=["cy"]))
    key = namespace(rules_name) + "carriers:" + digest
    first = await state.execute(plan("L1", WEST, sticky=account(blocked=["cy"])), stamp())
    assert first == Fresh(Outcome("ada", "pool"))
    assert await raw.hgetall(key) == {"ada": f"{DAY}\t0", "ben": f"{DAY}\t0", "cy": f"{DAY}\t1"}
    assert 2 * 86400 - 5 < await raw.ttl(key) <= 2 * 86400

    watched = watch(state.client)
    second = await state.execute(plan("L2", WEST, sticky=account(blocked=["cy"])), stamp())
    assert second == Fresh(Outcome("ada", "sticky"))
    assert [b'"carriers_text":""' in call[-1] for call in watched.commands] == [True]

    await raw.delete(key)
    third = await state.execute(plan("L3", WEST, sticky=account(blocked=["cy"])), stamp())
    assert third == Fresh(Outcome("ada", "sticky"))
    assert [b'"carriers_text":""' in call[-1] for call in watched.commands] == [True, True, False]
    assert await raw.hget(key, "cy") == f"{DAY}\t1"
    assert (await state.load("ada", DAY), await state.load("ben", DAY)) == (3, 0)


async def test_records_expire_with_the_replay_window_and_loads_after_two_days(
    state: RedisState, raw: Redis, rules_name: str
) -> None:
    await state.execute(plan("L1", WEST, sticky=account()), stamp())
    prefix = namespace(rules_name)
    record_ms = await raw.pttl(prefix + "lead:L1")
    assert WINDOW.total_seconds() * 1000 - 5000 < record_ms <= WINDOW.total_seconds() * 1000
    load_s = await raw.ttl(f"{prefix}load:ada:{DAY}")
    assert 2 * 86400 - 5 < load_s <= 2 * 86400
    assert await raw.ttl(prefix + "owner:suite:acme.example") == -1
    assert await raw.ttl(prefix + "credits:pool") == -1


async def test_credits_are_stored_as_the_exact_doubles_the_embedded_state_holds(
    state: RedisState, raw: Redis, rules_name: str
) -> None:
    picks = pool(rep("a", 0.1), rep("b", 0.2), rep("c", 0.7), rep("d", 1 / 3))
    reference = EmbeddedState()
    for index in range(97):
        same = stamp()
        await state.execute(plan(f"L{index}", picks), same)
        reference.execute_now(plan(f"L{index}", picks), same)
    stored = await raw.hgetall(namespace(rules_name) + "credits:pool")
    assert {rep_id: float(value) for rep_id, value in stored.items()} == reference.credits["pool"]


# round trips and scripts ----------------------------------------------------------------


async def test_execute_and_preview_are_one_round_trip_each(state: RedisState) -> None:
    await state.ping()
    await state.execute(plan("warm-up", WEST), stamp())
    sent = watch(state.client)
    big = plan(
        "L1",
        pool(*(rep(f"r{i}", capacity=10) for i in range(30))),
        sticky=account(carriers=[f"r{i}" for i in range(30)]),
        overlays=[pool(rep("oz"), rep("pia"), rotation="overlay:a")],
    )
    await state.execute(big, stamp())
    assert [[call[0] for call in trip] for trip in sent.trips] == [["EVALSHA"]]
    await state.preview(big, NOW)
    assert [[call[0] for call in trip] for trip in sent.trips] == [["EVALSHA"], ["EVALSHA"]]


async def test_a_script_flushed_from_the_server_is_loaded_again(
    state: RedisState, raw: Redis
) -> None:
    assert await state.execute(plan("L1", WEST), stamp()) == Fresh(Outcome("ada", "pool"))
    await raw.script_flush()
    assert await state.execute(plan("L2", WEST), stamp()) == Fresh(Outcome("ben", "pool"))
    assert (await state.preview(plan("L3", WEST), NOW)).primary == "ada"


async def test_the_client_reads_replies_with_hiredis(state: RedisState) -> None:
    assert await state.ping()
    assert isinstance(state.client, Redis)
    pool_ = state.client.connection_pool
    connection = await pool_.get_connection()  # type: ignore[no-untyped-call]
    try:
        assert type(connection._parser).__name__ == "_AsyncHiredisParser"
    finally:
        await pool_.release(connection)


# the stored decision ---------------------------------------------------------------------


async def test_the_record_keeps_the_outcome_and_the_rule_version_not_a_body(
    state: RedisState, raw: Redis, rules_name: str
) -> None:
    first = stamp(rules_version="3f9a1c2b7d4e")
    await state.execute(plan("L1", WEST, fingerprint="fp-1"), first)
    record = await raw.hgetall(namespace(rules_name) + "lead:L1")
    assert record == {
        # the blake2b hash (16 bytes) of the JSON ["fp-1"]: the plan's lead as sent
        "fingerprint": "e9f70578a4e27ef61cf0de4ada2fccbe",
        "decision_id": first.decision_id,
        "decided_at": first.decided_at,
        "rules_version": "3f9a1c2b7d4e",
        "outcome": '{"overlays":{},"skipped":{},"primary":"ada","overlay_skipped":{},"via":"pool"}',
    }


async def test_a_record_written_before_the_rule_version_was_kept_replays_without_one(
    state: RedisState, raw: Redis, rules_name: str
) -> None:
    first = stamp()
    await state.execute(plan("L1", WEST), first)
    await raw.hdel(namespace(rules_name) + "lead:L1", "rules_version")
    again = await state.execute(plan("L1", WEST), stamp())
    assert again == Replayed(first.decision_id, first.decided_at, "", Outcome("ada", "pool"))
    recalled = await state.recall("L1")
    assert recalled is not None and recalled.rules_version == ""


async def test_the_plan_reaches_the_script_whole_whatever_its_text(
    state: RedisState, raw: Redis, rules_name: str
) -> None:
    # The packed plan keeps non-ASCII text, quotes, tabs and backslashes intact.
    zoe, umit = 'zoë "z"\t\\', "ümit"
    odd = pool(rep(zoe, 0.1, capacity=3), rep(umit, 0.2), rotation="pööl")
    sticky = account(key='suite:zürich.example"\\', carriers=[zoe, umit])
    plans = [plan(f"L{i}", odd) for i in range(3)] + [
        plan(f"S{i}", odd, sticky=sticky) for i in range(2)
    ]
    reference = EmbeddedState()
    picks = []
    for lead_plan in plans:
        same = stamp()
        execution = await state.execute(lead_plan, same)
        assert execution == reference.execute_now(lead_plan, same)
        assert isinstance(execution, Fresh)
        picks.append((execution.outcome.primary, execution.outcome.via))
    assert picks == [
        (umit, "pool"),
        (zoe, "pool"),
        (umit, "pool"),
        (umit, "pool"),
        (umit, "sticky"),
    ]
    prefix = namespace(rules_name)
    assert await raw.get(prefix + 'owner:suite:zürich.example"\\') == umit
    stored = await raw.hgetall(prefix + "credits:pööl")
    assert {rep_id: float(value) for rep_id, value in stored.items()} == reference.credits["pööl"]
    assert (await state.load(zoe, DAY), await state.load(umit, DAY)) == (1, 4)


async def test_a_second_run_of_the_same_call_is_still_that_call_s_fresh_decision(
    state: RedisState,
) -> None:
    # What a retry after a lost reply looks like to the script: the same decision id.
    same = stamp()
    first = await state.execute(plan("L1", WEST), same)
    again = await state.execute(plan("L1", WEST), same)
    assert first == again == Fresh(Outcome("ada", "pool"))
    other = await state.execute(plan("L1", WEST), stamp())
    assert isinstance(other, Replayed) and other.decision_id == same.decision_id


# replicas ---------------------------------------------------------------------------------


async def test_two_replicas_share_one_rotation_and_see_availability_at_once(
    redis_endpoint: RedisEndpoint, rules_name: str
) -> None:
    settings = Settings(redis_url=redis_endpoint.url)
    one, two = open_redis(settings, rules_name), open_redis(settings, rules_name)
    try:
        trio = pool(rep("a"), rep("b"), rep("c"), method="round_robin")
        picks = []
        for index in range(6):
            replica = (one, two)[index % 2]
            execution = await replica.execute(plan(f"L{index}", trio), stamp())
            assert isinstance(execution, Fresh)
            picks.append(execution.outcome.primary)
        assert picks == ["a", "b", "c", "a", "b", "c"]
        await one.set_availability("a", Availability(paused=True, note="lunch"))
        assert await two.availability("a") == Availability(paused=True, note="lunch")
        assert (await two.preview(plan("p", trio), NOW)).skipped == [("a", "paused (lunch)")]
        assert await two.load("b", DAY) == 2
    finally:
        await one.close()
        await two.close()


# the wire forms --------------------------------------------------------------------------


def test_an_outcome_with_empty_lists_reads_back_from_the_script_json() -> None:
    # Lua's JSON encoder cannot tell an empty list from an empty object.
    raw = '{"via":"none","skipped":{},"overlays":{},"overlay_skipped":{}}'
    assert outcome_from_json(raw) == Outcome()
    raw = '{"via":"pool","primary":"a","skipped":[["b","paused"]],"overlays":[null,"oz"],'
    raw += '"overlay_skipped":[{},[]]}'
    assert outcome_from_json(raw) == Outcome(
        primary="a", via="pool", skipped=[("b", "paused")], overlays=[None, "oz"],
        overlay_skipped=[[], []],
    )  # fmt: skip


def test_the_carriers_follow_the_days_the_blocked_reps_and_the_zones() -> None:
    zones = {"ada": "Asia/Tokyo", "ben": "UTC"}
    carriers = frozenset(zones)
    today = {"Asia/Tokyo": "2026-12-03", "UTC": "2026-12-02"}
    digest, text = carriers_of(Sticky("k", carriers, frozenset(), zones, today))
    assert text == "ada\t2026-12-03\t0\nben\t2026-12-02\t0\n"
    assert len(digest) == 24
    later = {"Asia/Tokyo": "2026-12-04", "UTC": "2026-12-03"}
    blocked = carriers_of(Sticky("k", carriers, frozenset({"ada"}), zones, later))
    assert blocked[1] == "ada\t2026-12-04\t1\nben\t2026-12-03\t0\n"
    moved = {"ada": "UTC", "ben": "UTC"}
    assert carriers_of(Sticky("k", carriers, frozenset(), moved, today))[1] == (
        "ada\t2026-12-02\t0\nben\t2026-12-02\t0\n"
    )
    assert len({digest, blocked[0]}) == 2
    assert carriers_of(Sticky("k", frozenset(), frozenset(), {}, {})) == ("", "")


@pytest.mark.parametrize(
    "availability",
    [
        Availability(),
        Availability(paused=True, note=""),
        Availability(paused=True, note="tabs\tand\nnew lines, ünïcode"),
        Availability(
            away_from=dt.datetime(
                2026, 12, 24, 0, 0, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=9))
            ),
            away_until=dt.datetime(2027, 1, 2, tzinfo=dt.UTC),
        ),
    ],
    ids=["nothing", "empty-note", "odd-note", "window"],
)
def test_availability_survives_its_packed_form(availability: Availability) -> None:
    unpacked = unpack_availability(pack_availability(availability))
    assert unpacked == availability
    assert unpacked.note == availability.note


# settings and the HTTP app ----------------------------------------------------------------


async def test_the_settings_choose_the_store(
    monkeypatch: pytest.MonkeyPatch, redis_endpoint: RedisEndpoint
) -> None:
    monkeypatch.setenv("ROUTER_REDIS_URL", redis_endpoint.url)
    monkeypatch.setenv("ROUTER_REDIS_MAX_CONNECTIONS", "8")
    monkeypatch.setenv("ROUTER_REDIS_SOCKET_TIMEOUT_SECONDS", "0.1")
    monkeypatch.setenv("ROUTER_REPLAY_WINDOW_SECONDS", "120")
    settings = Settings.from_env()
    assert (settings.redis_cluster, settings.redis_max_connections) == (False, 8)
    assert settings.redis_socket_timeout_seconds == 0.1
    store = await open_state(settings, "settings-test")
    try:
        assert isinstance(store, RedisState) and store.kind == "redis"
        assert store.window_ms == 120_000
        assert store.prefix == "router:{settings-test}:"
    finally:
        await store.close()
    assert (await open_state(Settings(), "x")).kind == "embedded"


async def test_the_api_on_redis_routes_replays_refuses_and_reports(
    redis_endpoint: RedisEndpoint, tmp_path: Path
) -> None:
    rules = copy_rules(CASES / "order", tmp_path)
    app = create_app(Settings(rules_dir=rules, redis_url=redis_endpoint.url))
    west = {"country": "US", "region": "WA"}
    async with asgi_client(app) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["state"] == "redis"
        first = await client.post("/v1/route", json={"id": "L1", **west})
        assert first.status_code == 200 and first.json()["primary"]["id"] == "ada"
        again = await client.post("/v1/route", json={"id": "L1", **west})
        assert again.json() == {**first.json(), "replayed": True}
        refused = await client.post("/v1/route", json={"id": "L1", "country": "DE"})
        assert refused.status_code == 409
        assert refused.json()["detail"]["decision_id"] == first.json()["decision_id"]

        explained = await client.post("/v1/explain", json={"id": "E1", **west})
        assert explained.json()["primary"]["id"] == "ben"
        paused = await client.put("/v1/reps/ben/availability", json={"paused": True, "note": "1:1"})
        assert paused.status_code == 200
        assert paused.json()["why_not"] == "paused (1:1)"
        second = await client.post("/v1/route", json={"id": "L2", **west})
        assert second.json()["primary"]["id"] == "ada"
        ada = (await client.get("/v1/reps/ada")).json()
        assert ada["load_today"] == 2 and ada["available_now"] is True


async def test_a_routed_lead_and_its_retry_cost_one_round_trip_each(
    redis_endpoint: RedisEndpoint, tmp_path: Path
) -> None:
    rules = copy_rules(CASES / "order", tmp_path)
    app = create_app(Settings(rules_dir=rules, redis_url=redis_endpoint.url))
    west = {"country": "US", "region": "WA", "email": "kim@acme.example"}
    async with asgi_client(app) as client:
        await client.post("/v1/route", json={"id": "warm-up", **west})
        client_ = app.state.router.state.client
        sent = watch(client_)
        first = await client.post("/v1/route?trace=true", json={"id": "L1", **west})
        assert [[call[0] for call in trip] for trip in sent.trips] == [["EVALSHA"]]
        again = await client.post("/v1/route?trace=true", json={"id": "L1", **west})
        assert [[call[0] for call in trip] for trip in sent.trips] == [["EVALSHA"], ["EVALSHA"]]
        assert again.json() == {**first.json(), "replayed": True}

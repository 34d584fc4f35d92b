"""Decision calls that arrive together leave together: one pipeline of EVALSHA runs.

Each decision is still one script run of its own; these tests check that sharing
the round trip changes no answer, and that each caller keeps its own error.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis import exceptions as redis_errors
from redis.asyncio import Redis

from router.plan import Outcome, Plan
from router.settings import Settings
from router.state.base import Fresh, Stamp, StateUnavailable
from router.state.embedded import EmbeddedState
from router.state.redis_store import BATCH_LIMIT, RedisState, carriers_of, namespace, open_redis
from tests.conftest import RedisEndpoint
from tests.test_state_contract import DAY, WEST, account, plan, pool, rep, stamp

EAST = pool(rep("kim", 2), rep("lou", 1), rep("max", 1), rotation="east")
TURNS = pool(rep("oz"), rep("pia"), rep("quinn"), method="round_robin", rotation="overlay:turns")


@pytest.fixture
async def state(redis_endpoint: RedisEndpoint, rules_name: str) -> AsyncIterator[RedisState]:
    opened = open_redis(Settings(redis_url=redis_endpoint.url), rules_name)
    try:
        yield opened
    finally:
        await opened.close()


class Sent:
    """What a client sends: one list of commands (their arguments) per round trip."""

    def __init__(self) -> None:
        self.trips: list[list[tuple[Any, ...]]] = []

    @property
    def commands(self) -> list[tuple[Any, ...]]:
        return [command for trip in self.trips for command in trip]

    @property
    def names(self) -> list[str]:
        return [str(command[0]) for command in self.commands]


def watch(client: Any) -> Sent:
    """Record every command the client sends from now on, alone or in a pipeline."""
    sent = Sent()
    one = client.execute_command
    pipeline = client.pipeline

    async def command(*args: Any, **options: Any) -> Any:
        sent.trips.append([args])
        return await one(*args, **options)

    def counted_pipeline(*args: Any, **options: Any) -> Any:
        pipe = pipeline(*args, **options)
        execute = pipe.execute

        async def counted(*a: Any, **o: Any) -> Any:
            sent.trips.append([tuple(args) for args, _ in pipe.command_stack])
            return await execute(*a, **o)

        pipe.execute = counted
        return pipe

    client.execute_command = command
    client.pipeline = counted_pipeline
    return sent


def mixed_leads(count: int) -> list[tuple[Plan, Stamp]]:
    """Leads for two pools, some with an account and an overlay, one lead sent twice."""
    leads: list[tuple[Plan, Stamp]] = []
    for i in range(count):
        primary = WEST if i % 3 else EAST
        sticky = account(key=f"suite:acct{i % 7}.example") if i % 4 == 0 else None
        overlays = [TURNS] if i % 2 else []
        leads.append((plan(f"L{i}", primary, sticky=sticky, overlays=overlays), stamp()))
    # A retry of an earlier lead in the same burst is a replay of that decision.
    leads.insert(count // 2, (leads[3][0], stamp()))
    return leads


async def test_concurrent_decisions_share_a_pipeline_and_rotate_as_the_embedded_store(
    state: RedisState,
) -> None:
    await warm_up(state)
    leads = mixed_leads(120)
    sent = watch(state.client)
    reference = EmbeddedState()
    # Bursts that fit one pipeline: Redis runs its calls in the order they came.
    for start in range(0, len(leads), 40):
        burst = leads[start : start + 40]
        got = await asyncio.gather(*(state.execute(p, s) for p, s in burst))
        assert got == [reference.execute_now(p, s) for p, s in burst]
    assert [len(trip) for trip in sent.trips] == [40, 40, 40, 1]
    assert sent.names == ["EVALSHA"] * len(leads)
    assert reference.records.keys() == {p.lead_id for p, _ in leads}
    for rotation in ("pool", "east", "overlay:turns"):
        assert await credits(state, rotation) == reference.credits[rotation]
    for rep_id in ("ada", "ben", "kim", "lou", "max", "oz", "pia", "quinn"):
        assert await state.load(rep_id, DAY) == reference.loads.get((rep_id, DAY), 0)


async def test_a_burst_beyond_the_batch_limit_leaves_in_several_pipelines_each_lead_once(
    state: RedisState,
) -> None:
    await warm_up(state)
    leads = [(plan(f"L{i}", WEST), stamp()) for i in range(3 * BATCH_LIMIT + 5)]
    sent = watch(state.client)
    got = await asyncio.gather(*(state.execute(p, s) for p, s in leads))
    assert all(isinstance(execution, Fresh) for execution in got)
    assert sorted(len(trip) for trip in sent.trips) == [5, BATCH_LIMIT, BATCH_LIMIT, BATCH_LIMIT]
    # The pipelines ran in some order; the rotation kept its shares all the same.
    primaries = [execution.outcome.primary for execution in got if isinstance(execution, Fresh)]
    reference = EmbeddedState()
    expected = [reference.execute_now(p, s) for p, s in leads]
    assert sorted(map(str, primaries)) == sorted(
        str(execution.outcome.primary) for execution in expected if isinstance(execution, Fresh)
    )
    assert await credits(state, "pool") == reference.credits["pool"]


async def warm_up(state: RedisState) -> None:
    """A decision on a pool of its own, so that the script is loaded."""
    await state.execute(plan("warm-up", pool(rep("zed"), rotation="warm-up")), stamp())


async def credits(state: RedisState, rotation: str) -> dict[str, float]:
    stored = await state.client.hgetall(state.prefix + "credits:" + rotation)
    return {str(rep_id): float(value) for rep_id, value in stored.items()}


async def test_a_call_that_fails_in_a_pipeline_fails_only_its_caller(
    state: RedisState, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = state._call_args

    def broken_for_one(lead_plan: Plan, *args: Any) -> bytes:
        # The script cannot read this argument: its run, and only its run, fails.
        return b"not json" if lead_plan.lead_id == "bad" else original(lead_plan, *args)

    monkeypatch.setattr(state, "_call_args", broken_for_one)
    await warm_up(state)
    sent = watch(state.client)
    leads = [(plan(name, WEST), stamp()) for name in ("L1", "L2", "bad", "L3", "L4")]
    got = await asyncio.gather(*(state.execute(p, s) for p, s in leads), return_exceptions=True)
    assert [len(trip) for trip in sent.trips] == [5]
    assert isinstance(got[2], redis_errors.ResponseError)
    reference = EmbeddedState()
    good = [lead for lead in leads if lead[0].lead_id != "bad"]
    assert [got[i] for i in (0, 1, 3, 4)] == [reference.execute_now(p, s) for p, s in good]
    assert await state.recall("bad") is None


async def test_a_pipeline_refused_for_a_flushed_script_loads_it_and_decides_each_lead_once(
    state: RedisState, raw: Redis
) -> None:
    await state.execute(plan("warm-up", WEST), stamp())
    await raw.script_flush()
    leads = [(plan(f"L{i}", WEST, overlays=[TURNS]), stamp()) for i in range(20)]
    got = await asyncio.gather(*(state.execute(p, s) for p, s in leads))
    reference = EmbeddedState()
    reference.execute_now(plan("warm-up", WEST), stamp())
    assert got == [reference.execute_now(p, s) for p, s in leads]
    assert await credits(state, "overlay:turns") == reference.credits["overlay:turns"]


async def test_callers_asked_for_the_carriers_in_one_pipeline_each_send_them_again(
    state: RedisState, raw: Redis, rules_name: str
) -> None:
    sticky = account(blocked=["cy"])
    await state.execute(plan("warm-up", WEST, sticky=sticky), stamp())
    digest, _ = carriers_of(sticky)
    await raw.delete(namespace(rules_name) + "carriers:" + digest)
    leads = [
        (plan(f"L{i}", WEST, sticky=account(key=f"a{i % 3}", blocked=["cy"])), stamp())
        for i in range(9)
    ]
    sent = watch(state.client)
    got = await asyncio.gather(*(state.execute(p, s) for p, s in leads))
    reference = EmbeddedState()
    reference.execute_now(plan("warm-up", WEST, sticky=sticky), stamp())
    assert got == [reference.execute_now(p, s) for p, s in leads]
    # The runs answered "carriers" in the first pipeline are sent again, together,
    # with the carriers; the others had their decision from the first.
    first, second = sent.trips
    assert len(first) == 9 and 0 < len(second) <= 9
    assert all(b'"carriers_text":""' in call[-1] for call in first)
    assert not any(b'"carriers_text":""' in call[-1] for call in second)
    assert await raw.hget(namespace(rules_name) + "carriers:" + digest, "cy") == f"{DAY}\t1"


async def test_a_caller_that_gives_up_before_its_pipeline_leaves_is_not_sent(
    state: RedisState,
) -> None:
    await warm_up(state)
    sent = watch(state.client)
    gone = asyncio.ensure_future(state.execute(plan("gone", WEST), stamp()))
    kept = asyncio.ensure_future(state.execute(plan("kept", WEST), stamp()))
    await asyncio.sleep(0)  # both wait for the pipeline of this loop turn
    gone.cancel()
    assert await kept == Fresh(Outcome("ada", "pool"))
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert [[c[0] for c in trip] for trip in sent.trips] == [["EVALSHA"]]
    assert await state.recall("gone") is None


async def test_a_pipeline_that_loses_its_connection_fails_every_caller_then_recovers(
    state: RedisState, monkeypatch: pytest.MonkeyPatch
) -> None:
    await warm_up(state)
    original = state._pipeline
    away = True

    async def dropping(calls: Any) -> list[Any]:
        # Both attempts (the first and the one after a dropped connection) fail.
        if away:
            raise redis_errors.ConnectionError("Connection closed by server.")
        return list(await original(calls))

    monkeypatch.setattr(state, "_pipeline", dropping)
    leads = [(plan(f"L{i}", WEST), stamp()) for i in range(4)]
    got = await asyncio.gather(*(state.execute(p, s) for p, s in leads), return_exceptions=True)
    assert all(isinstance(error, StateUnavailable) for error in got)
    assert str(got[0]) == (
        f"Redis at {state.where} cannot be reached (execute): Connection closed by server."
    )
    away = False
    again = await state.execute(plan("L0", WEST), stamp())
    assert again == Fresh(Outcome("ada", "pool"))

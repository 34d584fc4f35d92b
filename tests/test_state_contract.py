"""One contract for every store: the embedded state, a standalone Redis and a Redis Cluster.

Each test runs on the three, with exact expected values; where a sequence is
long, the expectation is what the embedded reference (`_decide` and rotation.py)
answers for the same plans.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Protocol

import pytest

from router.plan import Candidate, Outcome, Pick, Plan, Sticky
from router.ruleset.compiler import compile_rules
from router.service import Router
from router.settings import Settings
from router.state.base import (
    DEFAULT_REPLAY_WINDOW,
    Availability,
    Conflict,
    Fresh,
    Recalled,
    Replayed,
    Stamp,
    State,
)
from router.state.embedded import EmbeddedState
from router.state.redis_store import open_redis
from tests.casebook import Book, books, run_in_process
from tests.conftest import RedisEndpoint

NOW = dt.datetime(2026, 12, 2, 15, 0, tzinfo=dt.UTC)
DAY = "2026-12-02"
KINDS = ["embedded", "redis", "redis-cluster"]


class Opener(Protocol):
    def __call__(self, window: dt.timedelta = DEFAULT_REPLAY_WINDOW) -> Awaitable[State]: ...


# plans -------------------------------------------------------------------------


def rep(name: str, weight: float = 1.0, capacity: int | None = None, day: str = DAY) -> Candidate:
    return Candidate(name, weight, capacity, day)


def pool(*candidates: Candidate, method: str = "weighted", rotation: str = "pool") -> Pick:
    assert method in ("round_robin", "weighted", "least_loaded")
    return Pick(rotation, method, candidates)  # type: ignore[arg-type]


def plan(
    lead_id: str,
    primary: Pick | None = None,
    *,
    fingerprint: str = "fp",
    fixed: Candidate | None = None,
    sticky: Sticky | None = None,
    overlays: Sequence[Pick] = (),
) -> Plan:
    return Plan(lead_id, ((fingerprint,), ""), fixed, sticky, primary, tuple(overlays))


def account(
    key: str = "suite:acme.example",
    carriers: Sequence[str] = ("ada", "ben", "cy"),
    blocked: Sequence[str] = (),
) -> Sticky:
    zones = {name: "UTC" for name in carriers}
    return Sticky(key, frozenset(carriers), frozenset(blocked), zones, {"UTC": DAY})


_stamps = itertools.count()


def stamp(now: dt.datetime = NOW, rules_version: str = "v1") -> Stamp:
    decision_id = f"decision-{next(_stamps)}"
    return Stamp(decision_id, now.isoformat(timespec="milliseconds"), now, rules_version)


async def primary_of(state: State, lead_plan: Plan, now: dt.datetime = NOW) -> str | None:
    execution = await state.execute(lead_plan, stamp(now))
    assert isinstance(execution, Fresh), execution
    return execution.outcome.primary


async def sequence(state: State, picks: Sequence[Pick], prefix: str = "lead") -> list[str | None]:
    return [await primary_of(state, plan(f"{prefix}-{i}", pick)) for i, pick in enumerate(picks)]


async def reference(picks: Sequence[Pick]) -> list[str | None]:
    """What the embedded state answers for these picks, in order, from empty."""
    return await sequence(EmbeddedState(), picks)


# the stores ---------------------------------------------------------------------


@pytest.fixture(params=KINDS)
async def open_store(
    request: pytest.FixtureRequest, rules_name: str
) -> AsyncIterator[Callable[..., Awaitable[State]]]:
    """Opens a store of the parametrised kind; every store it opens shares one namespace."""
    kind: str = request.param
    endpoint: RedisEndpoint | None = None
    if kind != "embedded":
        fixture = "redis_endpoint" if kind == "redis" else "redis_cluster_endpoint"
        endpoint = request.getfixturevalue(fixture)
    opened: list[State] = []

    async def opener(window: dt.timedelta = DEFAULT_REPLAY_WINDOW) -> State:
        state: State
        if endpoint is None:
            state = EmbeddedState(replay_window=window)
        else:
            settings = Settings(redis_url=endpoint.url, redis_cluster=endpoint.cluster)
            state = open_redis(settings, rules_name, replay_window=window)
        opened.append(state)
        return state

    try:
        yield opener
    finally:
        for state in opened:
            await state.close()


@pytest.fixture
async def state(open_store: Callable[..., Awaitable[State]]) -> State:
    return await open_store()


# idempotency -------------------------------------------------------------------

WEST = pool(rep("ada", 70), rep("ben", 30))


async def test_a_retry_replays_the_decision_and_the_rotation_does_not_move(state: State) -> None:
    first_stamp = stamp(rules_version="3f9a1c2b7d4e")
    first = await state.execute(plan("L1", WEST), first_stamp)
    assert first == Fresh(Outcome(primary="ada", via="pool"))

    again = await state.execute(plan("L1", WEST), stamp(rules_version="other"))
    assert again == Replayed(
        first_stamp.decision_id, first_stamp.decided_at, "3f9a1c2b7d4e", first.outcome
    )

    assert await state.load("ada", DAY) == 1
    assert await primary_of(state, plan("L2", WEST)) == "ben"


async def test_recall_answers_what_a_replay_would_and_changes_nothing(state: State) -> None:
    assert await state.recall("L1") is None
    first_stamp = stamp(rules_version="3f9a1c2b7d4e")
    skipped = [("ben", "paused")]
    await state.set_availability("ben", Availability(paused=True))
    first = await state.execute(plan("L1", WEST, fingerprint="fp-1"), first_stamp)
    assert first == Fresh(Outcome(primary="ada", via="pool", skipped=skipped))
    assert await state.recall("L1") == Recalled(
        # the blake2b hash (16 bytes) of the JSON ["fp-1"]: the plan's lead as sent
        "e9f70578a4e27ef61cf0de4ada2fccbe",
        first_stamp.decision_id,
        first_stamp.decided_at,
        "3f9a1c2b7d4e",
        first.outcome,
    )
    assert await state.load("ada", DAY) == 1


async def test_a_reused_id_with_another_payload_is_a_conflict_and_changes_nothing(
    state: State,
) -> None:
    first_stamp = stamp()
    await state.execute(plan("L1", WEST), first_stamp)
    refused = await state.execute(plan("L1", WEST, fingerprint="other"), stamp())
    assert refused == Conflict(first_stamp.decision_id, first_stamp.decided_at)
    assert (await state.load("ada", DAY), await state.load("ben", DAY)) == (1, 0)
    assert (await state.preview(plan("probe", WEST), NOW)).primary == "ben"


async def test_a_retry_after_the_replay_window_is_decided_again(
    open_store: Callable[..., Awaitable[State]],
) -> None:
    state = await open_store(dt.timedelta(milliseconds=300))
    await state.execute(plan("L1", WEST), stamp())
    await asyncio.sleep(0.45)
    again = await state.execute(plan("L1", WEST, fingerprint="changed"), stamp())
    assert again == Fresh(Outcome(primary="ben", via="pool"))


async def test_concurrent_calls_for_one_lead_make_exactly_one_decision(state: State) -> None:
    stamps = [stamp() for _ in range(40)]
    executions = await asyncio.gather(*(state.execute(plan("L1", WEST), s) for s in stamps))
    fresh = [e for e in executions if isinstance(e, Fresh)]
    replayed = [e for e in executions if isinstance(e, Replayed)]
    assert len(fresh) == 1 and len(replayed) == 39
    assert len({r.decision_id for r in replayed}) == 1
    assert await state.load("ada", DAY) + await state.load("ben", DAY) == 1


# rotation -----------------------------------------------------------------------


async def test_round_robin_takes_each_rep_in_turn(state: State) -> None:
    east = pool(rep("eve"), rep("fay"), rep("gus"), method="round_robin")
    assert await sequence(state, [east] * 7) == ["eve", "fay", "gus", "eve", "fay", "gus", "eve"]


async def test_a_rep_listed_twice_in_a_pool_earns_once_per_lead(state: State) -> None:
    """An overlay group can list a specialist twice (two entries covering one region):
    each lead reads every credit as stored before it, on every state alike."""
    group = pool(rep("nadia"), rep("isabel"), rep("nadia"), method="round_robin")
    assert await sequence(state, [group] * 6) == [
        "nadia",
        "isabel",
        "nadia",
        "isabel",
        "nadia",
        "isabel",
    ]


async def test_weighted_70_30_sequence(state: State) -> None:
    expected = ["ada", "ben", "ada", "ada", "ada", "ben", "ada", "ada", "ben", "ada"]
    assert await sequence(state, [WEST] * 10) == expected


async def test_fractional_weights_break_float_ties_as_the_embedded_state_does(
    state: State,
) -> None:
    # 0.7 + 0.3 style sums are not exact in binary: the order depends on every
    # rounding, so the Redis script must do the same additions in the same order.
    decimal = pool(rep("ada", 0.7), rep("ben", 0.3))
    expected = ["ada", "ben", "ada", "ada", "ben", "ada", "ada", "ada", "ben", "ada"]
    assert await sequence(state, [decimal] * 10) == expected


@pytest.mark.parametrize(
    "weights",
    [(0.1, 0.2, 0.7), (1 / 3, 1 / 3, 1 / 3), (0.05, 2.5, 1e-3, 7.25), (3.0, 1.0, 1.0, 1.0, 2.0)],
    ids=["tenths", "thirds", "mixed-magnitudes", "integers"],
)
async def test_long_weighted_sequences_match_the_embedded_state(
    state: State, weights: tuple[float, ...]
) -> None:
    names = [f"rep{i}" for i in range(len(weights))]
    picks = [pool(*(rep(n, w) for n, w in zip(names, weights, strict=True)))] * 400
    assert await sequence(state, picks) == await reference(picks)


async def test_least_loaded_takes_the_fewest_leads_then_the_lower_share_of_the_cap(
    state: State,
) -> None:
    security = pool(rep("a", capacity=4), rep("b", capacity=2), rep("c"), method="least_loaded")
    assert await sequence(state, [security] * 10) == [
        "a", "b", "c", "c", "a", "b", "c", "a", "c", "a",
    ]  # fmt: skip


# capacity and load ----------------------------------------------------------------


async def test_a_rep_at_daily_capacity_is_skipped_and_the_outcome_says_so(state: State) -> None:
    capped = pool(rep("gus", capacity=1), rep("eve", capacity=2), method="round_robin")
    outcomes = [(await state.execute(plan(f"L{i}", capped), stamp())) for i in range(4)]
    assert outcomes == [
        Fresh(Outcome(primary="gus", via="pool")),
        Fresh(Outcome(primary="eve", via="pool", skipped=[("gus", "at daily capacity (1/1)")])),
        Fresh(Outcome(primary="eve", via="pool", skipped=[("gus", "at daily capacity (1/1)")])),
        Fresh(
            Outcome(
                skipped=[("gus", "at daily capacity (1/1)"), ("eve", "at daily capacity (2/2)")]
            )
        ),
    ]
    assert (await state.load("gus", DAY), await state.load("eve", DAY)) == (1, 2)


async def test_load_counts_per_rep_and_local_day(state: State) -> None:
    today = pool(rep("gus", capacity=1, day=DAY))
    tomorrow = pool(rep("gus", capacity=1, day="2026-12-03"))
    assert await primary_of(state, plan("L1", today)) == "gus"
    assert await primary_of(state, plan("L2", today)) is None
    assert await primary_of(state, plan("L3", tomorrow)) == "gus"
    assert await state.load("gus", DAY) == 1
    assert await state.load("gus", "2026-12-03") == 1
    assert await state.load("gus", "2026-12-04") == 0
    assert await state.load("nobody", DAY) == 0


async def test_a_named_owner_is_counted_even_over_capacity(state: State) -> None:
    lou = rep("lou", capacity=1)
    for index in range(3):
        execution = await state.execute(plan(f"L{index}", fixed=lou), stamp())
        assert execution == Fresh(Outcome(primary="lou", via="named"))
    assert await state.load("lou", DAY) == 3


async def test_caps_hold_under_concurrent_decisions(state: State) -> None:
    capped = pool(rep("a", capacity=20), rep("b", capacity=30), rep("c", capacity=10))
    executions = await asyncio.gather(
        *(state.execute(plan(f"L{i}", capped), stamp()) for i in range(150))
    )
    picked = Counter(e.outcome.primary for e in executions if isinstance(e, Fresh))
    assert picked == {"a": 20, "b": 30, "c": 10, None: 90}
    loads = [await state.load(name, DAY) for name in ("a", "b", "c")]
    assert loads == [20, 30, 10]


# account ownership ---------------------------------------------------------------


async def test_the_first_lead_of_an_account_sets_its_owner_and_the_next_stays(
    state: State,
) -> None:
    sticky = account()
    first = await state.execute(plan("L1", WEST, sticky=sticky), stamp())
    assert first == Fresh(Outcome(primary="ada", via="pool"))
    second = await state.execute(plan("L2", WEST, sticky=sticky), stamp())
    assert second == Fresh(Outcome(primary="ada", via="sticky"))
    assert await state.load("ada", DAY) == 2
    assert await primary_of(state, plan("L3", WEST)) == "ben"


async def test_an_owner_out_of_office_hands_one_lead_on_and_keeps_the_account(
    state: State,
) -> None:
    await state.execute(plan("L1", WEST, sticky=account()), stamp())
    away = await state.execute(plan("L2", WEST, sticky=account(blocked=["ada"])), stamp())
    assert away == Fresh(Outcome(primary="ben", via="pool", previous_owner="ada"))
    back = await state.execute(plan("L3", WEST, sticky=account()), stamp())
    assert back == Fresh(Outcome(primary="ada", via="sticky"))


async def test_an_owner_paused_at_run_time_hands_the_lead_on_and_keeps_the_account(
    state: State,
) -> None:
    await state.execute(plan("L1", WEST, sticky=account()), stamp())
    await state.set_availability("ada", Availability(paused=True, note="training"))
    paused = await state.execute(plan("L2", WEST, sticky=account()), stamp())
    assert paused == Fresh(
        Outcome(
            primary="ben",
            via="pool",
            previous_owner="ada",
            skipped=[("ada", "paused (training)")],
        )
    )
    await state.set_availability("ada", Availability())
    back = await state.execute(plan("L3", WEST, sticky=account()), stamp())
    assert back == Fresh(Outcome(primary="ada", via="sticky"))


async def test_an_owner_who_no_longer_sells_the_product_loses_the_account(state: State) -> None:
    await state.execute(plan("L1", WEST, sticky=account()), stamp())
    moved = await state.execute(plan("L2", WEST, sticky=account(carriers=["ben", "cy"])), stamp())
    assert moved == Fresh(Outcome(primary="ben", via="pool", previous_owner="ada"))
    kept = await state.execute(plan("L3", WEST, sticky=account()), stamp())
    assert kept == Fresh(Outcome(primary="ben", via="sticky"))


async def test_the_owner_s_lead_counts_on_the_owner_s_local_day(state: State) -> None:
    await state.execute(plan("L1", WEST, sticky=account()), stamp())
    zones = {"ada": "Pacific/Auckland", "ben": "UTC"}
    days = {"Pacific/Auckland": "2026-12-03", "UTC": DAY}
    sticky = Sticky("suite:acme.example", frozenset(zones), frozenset(), zones, days)
    assert await state.execute(plan("L2", WEST, sticky=sticky), stamp()) == Fresh(
        Outcome(primary="ada", via="sticky")
    )
    assert (await state.load("ada", DAY), await state.load("ada", "2026-12-03")) == (1, 1)


# run-time availability -------------------------------------------------------------


async def test_availability_is_stored_as_given(state: State) -> None:
    assert await state.availability("ada") is None
    window = Availability(
        away_from=dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        away_until=dt.datetime(2026, 12, 3, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=1))),
        note="offsite",
    )
    await state.set_availability("ada", window)
    assert await state.availability("ada") == window


async def test_a_paused_rep_is_skipped_with_the_note(state: State) -> None:
    await state.set_availability("ada", Availability(paused=True, note="on a call"))
    execution = await state.execute(plan("L1", WEST), stamp())
    assert execution == Fresh(
        Outcome(primary="ben", via="pool", skipped=[("ada", "paused (on a call)")])
    )
    await state.set_availability("ben", Availability(paused=True))
    nobody = await state.execute(plan("L2", WEST), stamp())
    assert nobody == Fresh(Outcome(skipped=[("ada", "paused (on a call)"), ("ben", "paused")]))


async def test_an_out_of_office_window_blocks_from_its_start_until_its_end(state: State) -> None:
    start = NOW + dt.timedelta(hours=1)
    end = dt.datetime(2026, 12, 3, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    await state.set_availability("ada", Availability(away_from=start, away_until=end))
    just_before = start - dt.timedelta(microseconds=1)
    assert (await state.preview(plan("p", WEST), just_before)).skipped == []
    blocked = [("ada", "out of office until 2026-12-03T00:00:00+01:00")]
    assert (await state.preview(plan("p", WEST), start)).skipped == blocked
    last = end - dt.timedelta(microseconds=1)
    assert (await state.preview(plan("p", WEST), last)).skipped == blocked
    assert (await state.preview(plan("p", WEST), end)).skipped == []
    execution = await state.execute(plan("L1", WEST), stamp(start))
    assert execution == Fresh(Outcome(primary="ben", via="pool", skipped=blocked))


async def test_an_open_ended_absence_blocks_from_its_start(state: State) -> None:
    start = NOW - dt.timedelta(days=1)
    await state.set_availability("ada", Availability(away_from=start))
    outcome = await state.preview(plan("p", WEST), NOW)
    assert outcome.skipped == [("ada", "out of office since 2026-12-01T15:00:00+00:00")]
    assert (await state.preview(plan("p", WEST), start - dt.timedelta(seconds=1))).skipped == []


async def test_a_rep_back_with_no_end_date_set_is_available(state: State) -> None:
    await state.set_availability("ada", Availability(away_until=NOW))
    assert (await state.preview(plan("p", WEST), NOW)).primary == "ada"
    before = NOW - dt.timedelta(days=400)
    skipped = (await state.preview(plan("p", WEST), before)).skipped
    assert skipped == [("ada", "out of office until 2026-12-02T15:00:00+00:00")]


# preview and overlays -----------------------------------------------------------


async def test_preview_answers_what_execute_would_and_changes_nothing(state: State) -> None:
    sticky = account()
    capped = pool(rep("ada", 70, capacity=5), rep("ben", 30, capacity=5))
    await state.execute(plan("L1", capped), stamp())
    overlay = pool(rep("oz"), rep("pia"), method="round_robin", rotation="overlay:analytics")
    probe = plan("L1", capped, sticky=sticky, overlays=[overlay])
    first = await state.preview(probe, NOW)
    second = await state.preview(probe, NOW)
    assert (
        first == second == Outcome(primary="ben", via="pool", overlays=["oz"], overlay_skipped=[[]])
    )
    assert [await state.load(n, DAY) for n in ("ada", "ben", "oz")] == [1, 0, 0]
    decided = await state.execute(plan("L2", capped, sticky=sticky, overlays=[overlay]), stamp())
    assert decided == Fresh(first)


async def test_overlays_are_picked_by_their_own_rotation_and_report_their_skips(
    state: State,
) -> None:
    await state.set_availability("oz", Availability(paused=True))
    overlay = pool(rep("oz"), rep("pia", capacity=1), method="round_robin", rotation="overlay:a")
    executions = [
        await state.execute(plan(f"L{i}", WEST, overlays=[overlay]), stamp()) for i in range(2)
    ]
    assert executions == [
        Fresh(
            Outcome(
                primary="ada", via="pool", overlays=["pia"], overlay_skipped=[[("oz", "paused")]]
            )
        ),
        Fresh(
            Outcome(
                primary="ben",
                via="pool",
                overlays=[None],
                overlay_skipped=[[("oz", "paused"), ("pia", "at daily capacity (1/1)")]],
            )
        ),
    ]


# fairness over roster changes ------------------------------------------------------


def longest_run(picks: Sequence[str | None], name: str) -> int:
    return max((len(list(g)) for k, g in itertools.groupby(picks) if k == name), default=0)


async def test_a_rep_added_to_a_busy_pool_neither_floods_nor_starves(state: State) -> None:
    pair = pool(rep("a"), rep("b"))
    trio = pool(rep("a"), rep("b"), rep("c"))
    await sequence(state, [pair] * 1000, prefix="before")
    after = await sequence(state, [trio] * 300, prefix="after")
    assert Counter(after) == {"a": 100, "b": 100, "c": 100}
    assert longest_run(after, "c") == 1
    for n in range(1, 301):
        assert abs(after[:n].count("c") - n / 3) < 1


async def test_a_rep_back_from_absence_takes_a_fair_share_at_once(state: State) -> None:
    trio = pool(rep("a", 2), rep("b"), rep("c"))
    await sequence(state, [trio] * 200, prefix="all")
    await state.set_availability("c", Availability(paused=True))
    away = await sequence(state, [trio] * 500, prefix="away")
    assert "c" not in away
    await state.set_availability("c", Availability())
    back = await sequence(state, [trio] * 400, prefix="back")
    assert Counter(back) == {"a": 200, "b": 100, "c": 100}
    assert longest_run(back, "c") == 1


async def test_editing_a_pool_keeps_every_rep_s_credit(state: State) -> None:
    before = [pool(rep("a", 70), rep("b", 30))] * 7
    edited = [pool(rep("b", 50), rep("a", 50), rep("d", 50))] * 60
    picks = await sequence(state, [*before, *edited])
    assert picks == await reference([*before, *edited])
    assert Counter(picks[7:]) == {"a": 20, "b": 20, "d": 20}


async def test_a_70_30_split_stays_within_one_lead_of_its_ideal_share(state: State) -> None:
    picks = await sequence(state, [WEST] * 500)
    for n in range(1, 501):
        assert abs(picks[:n].count("ada") - 0.7 * n) < 1
        assert abs(picks[:n].count("ben") - 0.3 * n) < 1


# the decision cases, through a Router on each store -----------------------------------

BOOKS = books()


@pytest.mark.parametrize("book", BOOKS, ids=[b.name for b in BOOKS])
async def test_the_decision_cases_give_the_same_answers_on_every_store(
    state: State, book: Book
) -> None:
    await run_in_process(Router(compile_rules(book.rules), state), book)

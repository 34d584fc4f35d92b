"""The embedded store's own housekeeping (the shared contract is in test_state_contract)."""

from __future__ import annotations

import datetime as dt
import gc

from router.plan import Candidate, Pick, Plan
from router.state.base import Fresh, Replayed, Stamp
from router.state.embedded import EmbeddedState

NOW = dt.datetime(2026, 12, 2, 15, tzinfo=dt.UTC)


def plan(lead_id: str) -> Plan:
    return Plan(lead_id, (("fp-" + lead_id,), ""), None, None, None, ())


def test_records_past_the_replay_window_are_forgotten() -> None:
    state = EmbeddedState(replay_window=dt.timedelta(seconds=60))
    state.execute_now(plan("old"), Stamp("d1", "t", NOW))
    old = state.records["old"]
    state.records["old"] = (*old[:-1], old[-1] - 120)
    assert isinstance(state.execute_now(plan("new"), Stamp("d2", "t", NOW)), Fresh)
    assert list(state.records) == ["new"]


def test_a_retry_inside_the_window_is_replayed() -> None:
    state = EmbeddedState()
    state.execute_now(plan("a"), Stamp("d1", "t", NOW))
    again = state.execute_now(plan("a"), Stamp("d2", "t", NOW))
    assert isinstance(again, Replayed)
    assert again.decision_id == "d1"


def test_a_state_that_does_not_remember_keeps_no_records() -> None:
    state = EmbeddedState(remember=False)
    state.execute_now(plan("a"), Stamp("d1", "t", NOW))
    assert state.records == {}
    assert isinstance(state.execute_now(plan("a"), Stamp("d2", "t", NOW)), Fresh)


def test_a_replay_gives_back_the_outcome_as_decided() -> None:
    state = EmbeddedState()
    ada, ben = Candidate("ada", 1.0, 1, "2026-12-02"), Candidate("ben", 1.0, None, "2026-12-02")
    pool = Pick("pool", "round_robin", (ada, ben))
    state.execute_now(Plan("x", (("fp-x",), ""), None, None, pool, ()), Stamp("d0", "t", NOW))
    first = state.execute_now(
        Plan("a", (("fp-a",), ""), None, None, pool, (pool,)), Stamp("d1", "t", NOW)
    )
    again = state.execute_now(
        Plan("a", (("fp-a",), ""), None, None, pool, (pool,)), Stamp("d2", "t", NOW)
    )

    assert isinstance(first, Fresh) and isinstance(again, Replayed)
    assert again.outcome == first.outcome
    assert first.outcome.skipped == [("ada", "at daily capacity (1/1)")]
    assert first.outcome.overlay_skipped == [[("ada", "at daily capacity (1/1)")]]


def test_kept_decisions_are_not_walked_by_the_garbage_collector() -> None:
    state = EmbeddedState()
    pool = Pick("pool", "round_robin", (Candidate("ada", 1.0, None, "2026-12-02"),))
    state.execute_now(Plan("a", (("fp-a",), ""), None, None, pool, (pool,)), Stamp("d1", "t", NOW))
    # A tuple is let go once its items are; nested ones may take one pass per level.
    for _ in range(3):
        gc.collect()
    assert not gc.is_tracked(state.records["a"])

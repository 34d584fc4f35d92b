"""The embedded store's own housekeeping (the shared contract is in test_state_contract)."""

from __future__ import annotations

import datetime as dt

from router.plan import Plan
from router.state.base import Fresh, Replayed, Stamp
from router.state.embedded import EmbeddedState

NOW = dt.datetime(2026, 12, 2, 15, tzinfo=dt.UTC)


def plan(lead_id: str) -> Plan:
    return Plan(lead_id, "fp-" + lead_id, None, None, None, ())


def test_records_past_the_replay_window_are_forgotten() -> None:
    state = EmbeddedState(replay_window=dt.timedelta(seconds=60))
    state.execute_now(plan("old"), Stamp("d1", "t", NOW))
    state.records["old"].expires -= 120
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

"""A retried lead gets its stored decision again, written from the stored outcome.

The state keeps the outcome, the decision id and time and the rule version; the
Router writes the body again under that version while it keeps it (the current
one and the two before), and with the current rules once it does not.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import logging
import shutil
import weakref
from pathlib import Path
from typing import Any

import pytest

from router.leads import Lead
from router.ruleset.compiled import CompiledRules
from router.ruleset.compiler import compile_rules
from router.service import Router, settle_heap, without_trace
from router.state.embedded import EmbeddedState
from tests.casebook import CASES

NOW = dt.datetime(2026, 12, 2, 15, 0, 0, 123456, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(hours=3)
L1 = Lead(id="L1", country="US", region="WA", email="kim@acme.example")


def rules(tmp_path: Path, name: str, *edits: tuple[str, str]) -> CompiledRules:
    """The `order` rules with (old, new) text replacements in their files, compiled
    under the rule-set name `order` whatever the directory is called."""
    directory = tmp_path / name
    shutil.copytree(CASES / "order", directory)
    for old, new in edits:
        for path in directory.glob("*.yaml"):
            path.write_text(path.read_text().replace(old, new))
    return compile_rules(directory, "order")


def router_at(compiled: CompiledRules, state: EmbeddedState, moment: dt.datetime) -> Router:
    router = Router(compiled, state)
    router.clock = lambda: moment
    return router


def renamed(decision: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    return json.loads(json.dumps(decision).replace(old, new))  # type: ignore[no-any-return]


async def test_a_retry_is_the_first_answer_again_with_or_without_its_trace(
    tmp_path: Path,
) -> None:
    router = router_at(rules(tmp_path, "v1"), EmbeddedState(), NOW)
    first = await router.route(L1, with_trace=True)
    assert first["decided_at"] == "2026-12-02T15:00:00.123+00:00"
    router.clock = lambda: LATER
    assert await router.route(L1, with_trace=True) == {**first, "replayed": True}
    assert await router.route(L1, with_trace=False) == {**without_trace(first), "replayed": True}
    assert await router.explain(L1) == {**first, "replayed": True}


async def test_a_retry_under_a_kept_version_is_answered_as_that_version_did(
    tmp_path: Path,
) -> None:
    v1 = rules(tmp_path, "v1")
    state = EmbeddedState()
    router = router_at(v1, state, NOW)
    first = await router.route(L1)
    router.use(rules(tmp_path, "v2", ("Ada West", "Ada North")))
    router.use(rules(tmp_path, "v3", ("Ada West", "Ada South")))
    assert len(router.versions) == 3 and v1.version in router.versions
    assert await router.route(L1) == {**first, "replayed": True}

    router.use(rules(tmp_path, "v4", ("Ada West", "Ada East")))
    assert v1.version not in router.versions
    again = await router.route(L1)
    expected = renamed(first, "Ada West", "Ada East")
    assert again == {**expected, "rules_version": router.rules.version, "replayed": True}


async def test_after_a_restart_a_retry_is_written_with_the_current_rules(
    tmp_path: Path,
) -> None:
    state = EmbeddedState()
    first = await router_at(rules(tmp_path, "v1"), state, NOW).route(L1)
    v2 = rules(tmp_path, "v2", ("Ada West", "Ada North"), ("U-ADA", "U-ADA-2"))
    again = await router_at(v2, state, LATER).route(L1)
    expected = renamed(renamed(first, "Ada West", "Ada North"), "U-ADA", "U-ADA-2")
    assert again == {**expected, "rules_version": v2.version, "replayed": True}


async def test_a_retry_whose_rep_the_current_rules_no_longer_list_keeps_the_rep_by_id(
    tmp_path: Path,
) -> None:
    state = EmbeddedState()
    v1 = rules(tmp_path, "v1")
    first = await router_at(v1, state, NOW).route(L1)
    assert first["primary"]["id"] == "ada"
    v2 = rules(
        tmp_path,
        "v2",
        ("  - {id: ada, name: Ada West, email: ada@corp.example, crm_user_id: U-ADA, "
         "products: {crm: 70, marketing: 30}}\n", ""),
        ("owner: {pool: [ada, ben], method: weighted}", "owner: {pool: [ben], method: weighted}"),
    )  # fmt: skip
    assert "ada" not in v2.reps
    again = await router_at(v2, state, LATER).route(L1)
    reason = (
        f"Replay of decision {first['decision_id']}, made under rule version {v1.version}, "
        f"which is no longer loaded here; rule version {v2.version} cannot describe it, so "
        "its reps are given as stored."
    )
    assert again == {
        "lead_id": "L1",
        "decision_id": first["decision_id"],
        "rules_version": v2.version,
        "decided_at": "2026-12-02T15:00:00.123+00:00",
        "product": "crm",
        "model": "portfolio",
        "segment": "smb",
        "territory": "west",
        "primary": {"type": "rep", "id": "ada", "name": "ada", "email": None, "crm_user_id": None},
        "overlays": [],
        "reason": reason,
        "replayed": True,
        "trace": [{"step": "replay", "result": v1.version, "notes": [reason]}],
    }


async def test_a_retry_for_a_rep_no_longer_in_the_pool_does_not_claim_the_pool_picked_them(
    tmp_path: Path,
) -> None:
    state = EmbeddedState()
    v1 = rules(tmp_path, "v1")
    first = await router_at(v1, state, NOW).route(L1, with_trace=False)
    moved = (
        "owner: {pool: [ada, ben], method: weighted}",
        "owner: {pool: [ben], method: weighted}",
    )
    v2 = rules(tmp_path, "v2", moved)
    again = await router_at(v2, state, LATER).route(L1, with_trace=False)
    reason = (
        f"Replay of decision {first['decision_id']}, made under rule version {v1.version}, "
        f"which is no longer loaded here; rule version {v2.version} cannot describe it, so "
        "its reps are given as stored."
    )
    assert again == {
        **first,
        "rules_version": v2.version,
        "primary": {
            "type": "rep",
            "id": "ada",
            "name": "Ada West",
            "email": "ada@corp.example",
            "crm_user_id": "U-ADA",
        },
        "reason": reason,
        "replayed": True,
    }


async def test_decisions_are_logged_only_when_asked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="router.decisions")
    compiled = rules(tmp_path, "v1")
    quiet = router_at(compiled, EmbeddedState(), NOW)
    await quiet.route(L1)
    assert caplog.records == []

    loud = Router(compiled, EmbeddedState(), log_decisions=True)
    loud.clock = lambda: NOW
    first = await loud.route(L1)
    await loud.route(L1)
    lines = [record.getMessage().rsplit(" ms=", 1)[0] for record in caplog.records]
    common = f"lead decided lead_id=L1 decision_id={first['decision_id']} "
    common += f"rules_version={compiled.version}"
    assert lines == [
        f"{common} outcome=rep replayed=False",
        f"{common} outcome=replayed replayed=True",
    ]
    assert {record.levelname for record in caplog.records} == {"INFO"}


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_settling_the_heap_frees_what_was_frozen_and_has_since_been_dropped() -> None:
    kept = Cycle()
    settle_heap()
    assert gc.get_freeze_count() > 0
    gone = weakref.ref(kept)
    del kept
    settle_heap()
    assert gone() is None
    assert gc.get_freeze_count() > 0
    gc.unfreeze()

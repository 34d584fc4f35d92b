"""The in-process store: the default when no Redis is configured; one process only."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Final

from router.plan import Candidate, Outcome, Pick, Plan, Via
from router.state import rotation
from router.state.base import (
    DEFAULT_REPLAY_WINDOW,
    Availability,
    Conflict,
    Execution,
    Fresh,
    Recalled,
    Replayed,
    Stamp,
)

Packed = tuple[
    str | None,
    str,
    str | None,
    tuple[tuple[str, str], ...],
    tuple[str | None, ...],
    tuple[tuple[tuple[str, str], ...], ...],
]


# A decided lead: (fingerprint, decision id, decided at, rule version, packed outcome,
# expiry in epoch seconds). The fingerprint, not the lead: a record stays a few hundred
# bytes whatever the lead carried, for the whole replay window. A plain tuple of
# strings, numbers and tuples of them: the garbage collector stops tracking such tuples
# (not subclasses, such as a NamedTuple), so the decisions kept for replays do not
# lengthen its full passes.
_Record = tuple[str, str, str, str, Packed, float]
EXPIRES: Final = 5


def pack(outcome: Outcome) -> Packed:
    overlays = outcome.overlays
    return (
        outcome.primary,
        outcome.via,
        outcome.previous_owner,
        tuple(outcome.skipped) if outcome.skipped else (),
        tuple(overlays) if overlays else (),
        tuple([tuple(skipped) for skipped in outcome.overlay_skipped]) if overlays else (),
    )


def unpack(packed: Packed) -> Outcome:
    primary, via, previous_owner, skipped, overlays, overlay_skipped = packed
    return Outcome(
        primary,
        via,  # type: ignore[arg-type]
        previous_owner,
        list(skipped),
        list(overlays),
        [list(s) for s in overlay_skipped],
    )


class EmbeddedState:
    """Dictionaries in this process. Each call runs to the end without awaiting, so
    every decision's change of state is atomic within the event loop."""

    kind = "embedded"

    def __init__(
        self, replay_window: dt.timedelta = DEFAULT_REPLAY_WINDOW, remember: bool = True
    ) -> None:
        self.replay_window = replay_window.total_seconds()
        self.remember = remember
        self.credits: dict[str, dict[str, float]] = {}
        self.loads: dict[tuple[str, str], int] = {}
        self.owners: dict[str, str] = {}
        self.records: dict[str, _Record] = {}
        self.availabilities: dict[str, Availability] = {}

    # the decision step -------------------------------------------------------

    def execute_now(self, plan: Plan, stamp: Stamp) -> Execution:
        records = self.records
        lead_id = plan.lead_id
        clock = time.time()
        record = records.get(lead_id)
        if record is not None and record[EXPIRES] < clock:
            del records[lead_id]
            record = None
        if record is not None:
            fingerprint, decision_id, decided_at, rules_version, packed, _ = record
            if fingerprint != plan.fingerprint:
                return Conflict(decision_id, decided_at)
            return Replayed(decision_id, decided_at, rules_version, unpack(packed))
        outcome = self._decide(plan, stamp.now, commit=True)
        if not self.remember:
            return Fresh(outcome)
        # Drop records past the replay window; the oldest come first in the dict.
        while records:
            oldest = next(iter(records))
            if records[oldest][EXPIRES] >= clock:
                break
            del records[oldest]
        records[lead_id] = (
            plan.fingerprint,
            stamp.decision_id,
            stamp.decided_at,
            stamp.rules_version,
            pack(outcome),
            clock + self.replay_window,
        )
        return Fresh(outcome)

    def _decide(self, plan: Plan, now: dt.datetime, commit: bool) -> Outcome:
        loads = self.loads if commit else dict(self.loads)
        availabilities = self.availabilities
        unavailable: Callable[[str], str | None] | None = None
        if availabilities:

            def unavailable(rep: str) -> str | None:
                availability = availabilities.get(rep)
                return availability.blocks(now) if availability else None

        primary: str | None = None
        via: Via = "none"
        previous_owner = None
        skipped: rotation.Skips = []
        taken: Candidate | None = None
        sticky = plan.sticky
        if plan.fixed is not None:
            taken = plan.fixed
            primary, via = taken.rep, "named"
        elif sticky is not None and (owner := self.owners.get(sticky.key)) is not None:
            if sticky.may_take(owner) and (unavailable is None or unavailable(owner) is None):
                primary, via = owner, "sticky"
                taken = Candidate(owner, 1.0, None, sticky.day_of(owner))
            else:
                previous_owner = owner
        if primary is None and plan.primary is not None:
            chosen, skipped = self._pick(plan.primary, loads, unavailable, commit)
            if chosen is not None:
                primary, via = chosen.rep, "pool"
                taken = chosen
                if (
                    commit
                    and sticky is not None
                    and self.owners.get(sticky.key) not in sticky.carriers
                ):
                    self.owners[sticky.key] = chosen.rep
        if taken is not None:
            key = (taken.rep, taken.day)
            loads[key] = loads.get(key, 0) + 1
        outcome = Outcome(primary, via, previous_owner, skipped, [], [])
        for pick in plan.overlays:
            chosen, overlay_skipped = self._pick(pick, loads, unavailable, commit)
            outcome.overlays.append(chosen.rep if chosen else None)
            outcome.overlay_skipped.append(overlay_skipped)
            if chosen is not None:
                key = (chosen.rep, chosen.day)
                loads[key] = loads.get(key, 0) + 1
        return outcome

    def _pick(
        self,
        pick: Pick,
        loads: dict[tuple[str, str], int],
        unavailable: Callable[[str], str | None] | None,
        commit: bool,
    ) -> tuple[Candidate | None, rotation.Skips]:
        kept, skipped = rotation.available(pick, loads, unavailable)
        if not kept:
            return None, skipped
        if pick.method == "least_loaded":
            return rotation.least_loaded(kept, loads), skipped
        credits = self.credits.get(pick.rotation)
        if credits is None:
            credits = {}
            if commit:
                self.credits[pick.rotation] = credits
        return rotation.by_credit(kept, credits, write=commit), skipped

    # the interface -------------------------------------------------------------

    async def execute(self, plan: Plan, stamp: Stamp) -> Execution:
        return self.execute_now(plan, stamp)

    async def preview(self, plan: Plan, now: dt.datetime) -> Outcome:
        return self._decide(plan, now, commit=False)

    async def recall(self, lead_id: str) -> Recalled | None:
        record = self.records.get(lead_id)
        if record is None or record[EXPIRES] < time.time():
            return None
        fingerprint, decision_id, decided_at, rules_version, packed, _ = record
        return Recalled(fingerprint, decision_id, decided_at, rules_version, unpack(packed))

    async def set_availability(self, rep_id: str, availability: Availability) -> None:
        self.availabilities[rep_id] = availability

    async def availability(self, rep_id: str) -> Availability | None:
        return self.availabilities.get(rep_id)

    async def load(self, rep_id: str, day: str) -> int:
        return self.loads.get((rep_id, day), 0)

    async def ping(self) -> bool:
        return True

    async def problem(self) -> str | None:
        return None

    async def close(self) -> None:
        return None

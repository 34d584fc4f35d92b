"""Deciding leads against the active rules and the state: what the API and CLI call."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from router import metrics
from router.engine import Draft, conclude, prepare
from router.leads import Lead, LeadError, normalise
from router.plan import Outcome, Pick, Plan
from router.ruleset.compiled import CompiledRules
from router.ruleset.compiler import compile_rules
from router.shown import shown
from router.state.base import (
    Conflict,
    Fresh,
    Recalled,
    Replayed,
    Stamp,
    State,
    StateUnavailable,
)

log = logging.getLogger("router.decisions")

# Rule versions a Router keeps for replays: the current one and the two before it.
KEPT_VERSIONS = 3


class LeadConflict(Exception):
    """A lead id that was decided before for a different payload."""

    def __init__(self, lead_id: str, decision_id: str, decided_at: str) -> None:
        self.lead_id = lead_id
        self.decision_id = decision_id
        self.decided_at = decided_at
        super().__init__(
            f"lead {shown(lead_id)} was decided at {decided_at} (decision {decision_id}) for a "
            "different payload; a retry must carry the same fields, a new lead a new id"
        )


def unreached(lead_id: str, error: StateUnavailable) -> dict[str, Any]:
    """A batch entry for a lead the state could not be asked about, after earlier leads
    of the batch were decided: post it again (same payload) for its decision."""
    return {
        "lead_id": lead_id,
        "status": 503,
        "error": f"{error}; this lead may not have been decided: send it again",
    }


def fallback_reason(draft: Draft, outcome: Outcome) -> str:
    if draft.product is None:
        return "no_product"
    if draft.territory is None and outcome.via == "none":
        return "no_territory"
    return "nobody_available"


def without_trace(decision: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in decision.items() if k != "trace"}


def to_the_millisecond(moment: dt.datetime) -> dt.datetime:
    """The moment as `decided_at` writes it, so that a replay can decide at the same instant."""
    return moment.replace(microsecond=moment.microsecond - moment.microsecond % 1000)


def fits(rules: CompiledRules, plan: Plan, outcome: Outcome) -> bool:
    """Whether the state could have answered `outcome` to `plan` under these rules.

    True for a stored outcome replayed under the rules that made it; under other
    rules it holds when they still list every rep it names and would still have
    offered each of them the lead the same way.
    """
    named = [outcome.primary, *outcome.overlays, *(rep for rep, _ in outcome.skipped)]
    named += [rep for skipped in outcome.overlay_skipped for rep, _ in skipped]
    if any(rep is not None and rep not in rules.reps for rep in named):
        return False
    if len(outcome.overlays) != len(plan.overlays):
        return False
    for rep_id, overlay in zip(outcome.overlays, plan.overlays, strict=True):
        if rep_id is not None and not offered(overlay, rep_id):
            return False
    if outcome.via == "named":
        return plan.fixed is not None and plan.fixed.rep == outcome.primary
    if outcome.via == "sticky":
        return plan.sticky is not None
    if outcome.via == "pool":
        return plan.primary is not None and offered(plan.primary, outcome.primary)
    return outcome.primary is None


def offered(pick: Pick, rep_id: str | None) -> bool:
    return any(candidate.rep == rep_id for candidate in pick.candidates)


def as_stored(
    rules: CompiledRules, draft: Draft, stored: Replayed | Recalled, with_trace: bool
) -> dict[str, Any]:
    """A replay that `rules` cannot describe: only what the state kept, in its own words.

    The decision id, time and reps are the stored ones; a rep these rules no longer
    list is named by id, with no e-mail or CRM user id. Product, segment, territory
    and a fallback queue are what these rules make of the lead.
    """
    assert draft.plan is not None
    fired = len(draft.plan.overlays)
    nobody = Outcome(overlays=[None] * fired, overlay_skipped=[[] for _ in range(fired)])
    decision = conclude(
        rules, draft, nobody, stored.decision_id, stored.decided_at, with_trace=False
    )
    outcome = stored.outcome
    if outcome.primary is not None:
        decision["primary"] = assignee(rules, outcome.primary)
    triggers = draft.overlays if len(draft.overlays) == len(outcome.overlays) else []
    overlays = []
    for index, rep_id in enumerate(outcome.overlays):
        if rep_id is not None:
            overlay, trigger = (triggers[index][0].id, triggers[index][1]) if triggers else ("", "")
            overlays.append({**assignee(rules, rep_id), "trigger": trigger, "overlay": overlay})
    decision["overlays"] = overlays
    made_under = stored.rules_version or "unknown"
    decision["reason"] = (
        f"Replay of decision {stored.decision_id}, made under rule version {made_under}, which "
        f"is no longer loaded here; rule version {rules.version} cannot describe it, so its "
        "reps are given as stored."
    )
    if with_trace:
        note = decision["reason"]
        decision["trace"] = [{"step": "replay", "result": made_under, "notes": [note]}]
    return decision


def assignee(rules: CompiledRules, rep_id: str) -> dict[str, Any]:
    rep = rules.reps.get(rep_id)
    if rep is not None:
        return dict(rep.wire)
    return {"type": "rep", "id": rep_id, "name": rep_id, "email": None, "crm_user_id": None}


def settle_heap() -> None:
    """Collect garbage, then take every object alive (the compiled rules above all) out
    of the cyclic collector's reach, so that its full passes stop walking them.

    Unfreezing first lets the collection free rule versions dropped since last time.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def warm_up() -> None:
    """Build the lazily loaded place tables now, not on the first lead (about a second)."""
    normalise(Lead(id="warm-up", country="US", region="CA", postal_code="94105"))


class Router:
    """The active compiled rules and the state; rules are swapped whole on reload."""

    def __init__(
        self,
        rules: CompiledRules,
        state: State,
        rules_dir: Path | None = None,
        *,
        log_decisions: bool = False,
    ):
        self.rules = rules
        self.state = state
        self.rules_dir = rules_dir
        self.log_decisions = log_decisions
        self.clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
        # Rule versions by version, oldest first; a replay is written under the one
        # that made the decision while it is kept here.
        self.versions: dict[str, CompiledRules] = {rules.version: rules}
        self._reloading: asyncio.Future[CompiledRules] | None = None
        warm_up()
        metrics.show_rules_version(rules.name, rules.version)

    async def reload(self) -> CompiledRules:
        """Compile the rules directory again; concurrent calls share one compile."""
        if self._reloading is None or self._reloading.done():
            self._reloading = asyncio.ensure_future(self._reload())
        return await asyncio.shield(self._reloading)

    async def _reload(self) -> CompiledRules:
        """Compile the rules directory again; on any error the old rules keep serving.

        The compile runs in a separate process: a large rule set takes seconds of
        CPU, which in a thread would hold the GIL and stall every request meanwhile.
        """
        if self.rules_dir is None:
            raise RuntimeError("these rules were not loaded from a directory")
        loop = asyncio.get_running_loop()
        try:
            with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
                fresh = await loop.run_in_executor(
                    pool, compile_rules, self.rules_dir, self.rules.name
                )
        except Exception:
            metrics.RELOADS.labels(result="failed").inc()
            raise
        self.use(fresh)
        settle_heap()
        metrics.RELOADS.labels(result="loaded").inc()
        return fresh

    def use(self, rules: CompiledRules) -> None:
        """Serve these rules from now on, keeping the versions before them for replays."""
        self.rules = rules
        self.versions.pop(rules.version, None)
        self.versions[rules.version] = rules
        while len(self.versions) > KEPT_VERSIONS:
            del self.versions[next(iter(self.versions))]
        metrics.show_rules_version(rules.name, rules.version)

    async def route(
        self, lead: Lead, now: dt.datetime | None = None, with_trace: bool = True
    ) -> dict[str, Any]:
        """Decide the lead once; a retry gets the stored decision with replayed: true.

        Raises LeadError for unreadable fields, LeadConflict for a reused id,
        StateUnavailable when the shared state cannot be reached.
        """
        now = to_the_millisecond(now or self.clock())
        rules = self.rules
        return await self._commit(rules, lead, prepare(rules, lead, now), now, with_trace)

    async def route_batch(
        self, leads: list[Lead], now: dt.datetime | None = None, with_trace: bool = True
    ) -> list[dict[str, Any]]:
        """Decide several leads; every lead is read before any state changes.

        A lead id reused for a different payload gets an error entry in place of
        its decision; the others are decided.
        """
        now = to_the_millisecond(now or self.clock())
        rules = self.rules
        drafts = []
        errors: list[tuple[str, str]] = []
        for index, lead in enumerate(leads):
            try:
                drafts.append(prepare(rules, lead, now))
            except LeadError as error:
                errors.extend((f"leads[{index}].{name}", why) for name, why in error.errors)
        if errors:
            raise LeadError(errors)
        results: list[dict[str, Any]] = []
        decided = False
        outage: StateUnavailable | None = None
        for lead, draft in zip(leads, drafts, strict=True):
            if outage is not None:
                results.append(unreached(lead.id, outage))
                continue
            try:
                results.append(await self._commit(rules, lead, draft, now, with_trace))
                decided = True
            except LeadConflict as conflict:
                results.append(
                    {
                        "lead_id": lead.id,
                        "status": 409,
                        "decision_id": conflict.decision_id,
                        "decided_at": conflict.decided_at,
                        "error": str(conflict),
                    }
                )
            except StateUnavailable as error:
                if not decided:
                    raise
                outage = error
                results.append(unreached(lead.id, error))
        return results

    async def _commit(
        self, rules: CompiledRules, lead: Lead, draft: Draft, now: dt.datetime, with_trace: bool
    ) -> dict[str, Any]:
        started = time.perf_counter()
        assert draft.plan is not None
        decided_at = now.isoformat(timespec="milliseconds")
        stamp = Stamp(uuid.uuid4().hex, decided_at, now, rules.version)
        execution = await self.state.execute(draft.plan, stamp)
        if isinstance(execution, Conflict):
            raise LeadConflict(lead.id, execution.decision_id, execution.decided_at)
        if isinstance(execution, Fresh):
            decision = conclude(
                rules, draft, execution.outcome, stamp.decision_id, decided_at, with_trace
            )
            outcome = decision["primary"]["type"]
            if outcome == "queue":
                reason = fallback_reason(draft, execution.outcome)
                metrics.FALLBACKS.labels(reason=reason).inc()
        else:
            decision = self.replay(lead, execution, with_trace)
            outcome = "replayed"
        elapsed = time.perf_counter() - started
        metrics.DECISIONS.labels(
            product=decision["product"] or "none",
            model=decision["model"] or "none",
            outcome=outcome,
        ).inc()
        metrics.LATENCY.observe(elapsed)
        if self.log_decisions:
            log.info(
                "lead decided lead_id=%s decision_id=%s rules_version=%s outcome=%s "
                "replayed=%s ms=%.3f",
                lead.id,
                decision["decision_id"],
                decision["rules_version"],
                outcome,
                decision["replayed"],
                elapsed * 1000,
            )
        return decision

    def replay(self, lead: Lead, stored: Replayed | Recalled, with_trace: bool) -> dict[str, Any]:
        """The stored decision written again, marked replayed.

        Under the rule version that made it (while this Router keeps it) the
        answer is the first one again: the same draft at the same instant, the
        same outcome. Otherwise it is written with the current rules (see `fits`
        and `as_stored`).
        """
        then = dt.datetime.fromisoformat(stored.decided_at)
        rules = self.versions.get(stored.rules_version, self.rules)
        draft = prepare(rules, lead, then)
        assert draft.plan is not None
        if rules.version == stored.rules_version or fits(rules, draft.plan, stored.outcome):
            decision = conclude(
                rules, draft, stored.outcome, stored.decision_id, stored.decided_at, with_trace
            )
        else:
            decision = as_stored(rules, draft, stored, with_trace)
        decision["replayed"] = True
        return decision

    async def explain(self, lead: Lead, now: dt.datetime | None = None) -> dict[str, Any]:
        """The decision this lead would get now, with its trace; changes no state.

        A lead id decided before answers with that stored decision (replayed),
        as /v1/route would; the same id with another payload is a LeadConflict.
        """
        rules = self.rules
        now = now or self.clock()
        draft = prepare(rules, lead, now)
        assert draft.plan is not None
        recalled = await self.state.recall(lead.id)
        if recalled is not None:
            if recalled.fingerprint != draft.plan.fingerprint:
                raise LeadConflict(lead.id, recalled.decision_id, recalled.decided_at)
            return self.replay(lead, recalled, with_trace=True)
        outcome = await self.state.preview(draft.plan, now)
        return conclude(
            rules,
            draft,
            outcome,
            "explain-" + uuid.uuid4().hex,
            now.isoformat(timespec="milliseconds"),
            with_trace=True,
        )

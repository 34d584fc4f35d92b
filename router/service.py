"""Deciding leads against the active rules and the state: what the API and CLI call."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
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
from router.plan import Outcome
from router.ruleset.compiled import CompiledRules
from router.ruleset.compiler import compile_rules
from router.state.base import Conflict, Fresh, Recalled, Replayed, Stamp, State

log = logging.getLogger("router.decisions")


class LeadConflict(Exception):
    """A lead id that was decided before for a different payload."""

    def __init__(self, lead_id: str, decision_id: str, decided_at: str) -> None:
        self.lead_id = lead_id
        self.decision_id = decision_id
        self.decided_at = decided_at
        super().__init__(
            f"lead {lead_id!r} was decided at {decided_at} (decision {decision_id}) for a "
            "different payload; a retry must carry the same fields, a new lead a new id"
        )


def fallback_reason(draft: Draft, outcome: Outcome) -> str:
    if draft.product is None:
        return "no_product"
    if draft.territory is None and outcome.via == "none":
        return "no_territory"
    return "nobody_available"


def without_trace(decision: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in decision.items() if k != "trace"}


def replayed(rules: CompiledRules, draft: Draft, stored: Replayed | Recalled) -> dict[str, Any]:
    """The stored decision as sent the first time, marked replayed.

    When only the outcome was kept (the body was not stored yet), the decision is
    rebuilt from it: the same but for the rule version if the rules changed since.
    """
    if stored.decision is not None:
        decision: dict[str, Any] = json.loads(stored.decision)
    else:
        decision = conclude(
            rules, draft, stored.outcome, stored.decision_id, stored.decided_at, with_trace=True
        )
    decision["replayed"] = True
    return decision


def warm_up() -> None:
    """Build the lazily loaded place tables now, not on the first lead (about a second)."""
    normalise(Lead(id="warm-up", country="US", region="CA", postal_code="94105"))


class Router:
    """The active compiled rules and the state; rules are swapped whole on reload."""

    def __init__(self, rules: CompiledRules, state: State, rules_dir: Path | None = None):
        self.rules = rules
        self.state = state
        self.rules_dir = rules_dir
        self.clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
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
        self.rules = fresh
        metrics.RELOADS.labels(result="loaded").inc()
        metrics.show_rules_version(fresh.name, fresh.version)
        return fresh

    async def route(self, lead: Lead, now: dt.datetime | None = None) -> dict[str, Any]:
        """Decide the lead once; a retry gets the stored decision with replayed: true.

        Raises LeadError for unreadable fields, LeadConflict for a reused id,
        StateUnavailable when the shared state cannot be reached.
        """
        now = now or self.clock()
        rules = self.rules
        return await self._commit(rules, lead, prepare(rules, lead, now), now)

    async def route_batch(
        self, leads: list[Lead], now: dt.datetime | None = None
    ) -> list[dict[str, Any]]:
        """Decide several leads; every lead is read before any state changes.

        A lead id reused for a different payload gets an error entry in place of
        its decision; the others are decided.
        """
        now = now or self.clock()
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
        results = []
        for lead, draft in zip(leads, drafts, strict=True):
            try:
                results.append(await self._commit(rules, lead, draft, now))
            except LeadConflict as conflict:
                results.append({"lead_id": lead.id, "status": 409, "error": str(conflict)})
        return results

    async def _commit(
        self, rules: CompiledRules, lead: Lead, draft: Draft, now: dt.datetime
    ) -> dict[str, Any]:
        started = time.perf_counter()
        assert draft.plan is not None
        stamp = Stamp(uuid.uuid4().hex, now.isoformat(timespec="milliseconds"), now)
        execution = await self.state.execute(draft.plan, stamp)
        if isinstance(execution, Conflict):
            raise LeadConflict(lead.id, execution.decision_id, execution.decided_at)
        if isinstance(execution, Fresh):
            decision = conclude(
                rules,
                draft,
                execution.outcome,
                stamp.decision_id,
                stamp.decided_at,
                with_trace=True,
            )
            await self.state.save(lead.id, json.dumps(decision, separators=(",", ":")))
            outcome = decision["primary"]["type"]
            if outcome == "queue":
                reason = fallback_reason(draft, execution.outcome)
                metrics.FALLBACKS.labels(reason=reason).inc()
        else:
            decision = replayed(rules, draft, execution)
            outcome = "replayed"
        elapsed = time.perf_counter() - started
        metrics.DECISIONS.labels(
            product=decision["product"] or "none",
            model=decision["model"] or "none",
            outcome=outcome,
        ).inc()
        metrics.LATENCY.observe(elapsed)
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
            return replayed(rules, draft, recalled)
        outcome = await self.state.preview(draft.plan, now)
        return conclude(
            rules,
            draft,
            outcome,
            "explain-" + uuid.uuid4().hex,
            now.isoformat(timespec="milliseconds"),
            with_trace=True,
        )

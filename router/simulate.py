"""Route a stream of leads on a fresh in-process state and count where they went.

The report answers a sales manager's fairness question before the rules ship: how
many leads each rep would get, against the share the rules' weights promise them.

What "expected share by the weights" means: every routed lead hands out exactly one
expected lead. A lead placed by a territory pool is shared among every rep of that pool
in proportion to the pool's weights for the lead's product,
`Pool.weights_for(product.weights_from)`: the reps' portfolio splits for a portfolio
product (an overlay product uses those of the product it is sold with), the pool's
member weights otherwise, 1 each when none are given. This holds for every method,
least loaded included, and whether or not the rep was available: a gap between `leads`
and `expected` is what absences, capacities, working hours and stickiness cost. A lead
placed by a named account or by account stickiness, and a lead that falls back to a
queue, counts as expected for whoever got it. So expected leads add up to the leads
routed, and expected shares to 100%.

Overlay specialists joining a lead are counted apart (`overlays`); they do not take a
share of the primary leads.

Known limits, on purpose: every row is a new lead (ids are not checked for repeats,
since remembering every id would make memory grow with the file), and every lead is
decided at the same instant `now`, so daily capacities cap the whole file as if it
arrived in one day. Account ownership (stickiness) is remembered per account, as the
service does, so memory grows with the number of distinct accounts, not of rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from router.engine import Draft, fallback_queue, prepare
from router.leadfiles import Row, describe
from router.leads import LeadError
from router.plan import Outcome
from router.ruleset.compiled import CompiledRules
from router.service import fallback_reason
from router.state.base import Fresh, Stamp
from router.state.embedded import EmbeddedState

ERRORS_KEPT = 10


@dataclass(slots=True)
class Tally:
    """One rep's or queue's count: primary leads, expected leads, overlays joined."""

    leads: int = 0
    expected: float = 0.0
    overlays: int = 0


@dataclass(slots=True)
class ProductTally:
    model: str | None
    leads: int = 0
    to_reps: int = 0
    to_queues: int = 0


@dataclass(slots=True)
class SimulationReport:
    """Counts per rep and queue, per product, per fallback reason, and unreadable rows.

    `errors` keeps the first ERRORS_KEPT unreadable rows as (line, message);
    `unreadable` counts them all.
    """

    rules_name: str
    rules_version: str
    leads: int = 0
    assignees: dict[str, Tally] = field(default_factory=dict)
    products: dict[str | None, ProductTally] = field(default_factory=dict)
    fallbacks: dict[str, int] = field(default_factory=dict)
    routes: dict[str, int] = field(default_factory=dict)
    unreadable: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    def unread(self, line: int, message: str) -> None:
        self.unreadable += 1
        if len(self.errors) < ERRORS_KEPT:
            self.errors.append((line, message))

    def share(self, count: float) -> float:
        return count / self.leads if self.leads else 0.0


def simulate(
    rules: CompiledRules, rows: Iterable[Row], now: dt.datetime | None = None
) -> SimulationReport:
    """Decide every readable lead of `rows` in order, on a fresh EmbeddedState.

    `rows` yields (line, Lead or error message), as router.leadfiles reads them; it is
    consumed once and no decision is kept. A lead whose figures cannot be read counts as
    unreadable with its line, like a row that could not be parsed.
    """
    now = now or dt.datetime.now(dt.UTC)
    decided_at = now.isoformat(timespec="milliseconds")
    # Every row is a new lead: nothing is remembered, so memory does not grow with the file.
    state = EmbeddedState(remember=False)
    stamp = Stamp("simulated", decided_at, now)
    report = SimulationReport(rules.name, rules.version)
    for rep_id in rules.reps:
        report.assignees[rep_id] = Tally()
    for queue_id in rules.queues:
        report.assignees[queue_id] = Tally()
    shares = _PoolShares()
    for line, lead in rows:
        if isinstance(lead, str):
            report.unread(line, lead)
            continue
        try:
            draft = prepare(rules, lead, now)
        except LeadError as error:
            report.unread(line, describe(error))
            continue
        assert draft.plan is not None
        execution = state.execute_now(draft.plan, stamp)
        assert isinstance(execution, Fresh)
        _count(rules, report, shares, draft, execution.outcome)
    return report


def _count(
    rules: CompiledRules,
    report: SimulationReport,
    shares: _PoolShares,
    draft: Draft,
    outcome: Outcome,
) -> None:
    """Add one decision to the report (who got it is read from the outcome, as
    engine.conclude would put it on the wire)."""
    report.leads += 1
    assignee = outcome.primary
    how: str = outcome.via
    if assignee is None:
        assignee = fallback_queue(rules, draft).id
        how = "queue"
    tally = report.assignees[assignee]
    tally.leads += 1
    for rep_id in outcome.overlays:
        if rep_id is not None:
            report.assignees[rep_id].overlays += 1
    report.routes[how] = report.routes.get(how, 0) + 1
    if how == "pool" and draft.territory is not None and draft.product is not None:
        pool = draft.territory.pool
        weights = pool.weights_for(draft.product.weights_from)
        for rep_id, share in shares.of(pool.key, pool.reps, weights):
            report.assignees[rep_id].expected += share
    else:
        tally.expected += 1.0
    product_id = draft.product.id if draft.product else None
    product = report.products.get(product_id)
    if product is None:
        model = draft.product.model if draft.product else None
        product = report.products[product_id] = ProductTally(model)
    product.leads += 1
    if how == "queue":
        product.to_queues += 1
        reason = fallback_reason(draft, outcome)
        report.fallbacks[reason] = report.fallbacks.get(reason, 0) + 1
    else:
        product.to_reps += 1


class _PoolShares:
    """Each pool rep's fraction of one lead, by the weights; computed once per pool and product."""

    def __init__(self) -> None:
        self.known: dict[tuple[str, tuple[float, ...]], tuple[tuple[str, float], ...]] = {}

    def of(
        self, key: str, reps: tuple[str, ...], weights: tuple[float, ...]
    ) -> tuple[tuple[str, float], ...]:
        found = self.known.get((key, weights))
        if found is None:
            total = sum(weights)
            found = tuple((rep, weight / total) for rep, weight in zip(reps, weights, strict=True))
            self.known[(key, weights)] = found
        return found


def to_json(report: SimulationReport, rules: CompiledRules) -> dict[str, Any]:
    """The report as plain JSON: rows in the rule files' order, shares as fractions."""
    rows = []
    for assignee_id, tally in report.assignees.items():
        rep = rules.reps.get(assignee_id)
        queue = rules.queues.get(assignee_id)
        rows.append(
            {
                "id": assignee_id,
                "name": rep.name if rep else queue.name if queue else assignee_id,
                "role": rep.role if rep else "queue",
                "leads": tally.leads,
                "share": round(report.share(tally.leads), 6),
                "expected": round(tally.expected, 6),
                "expected_share": round(report.share(tally.expected), 6),
                "overlays": tally.overlays,
            }
        )
    products = [
        {
            "product": product_id,
            "model": tally.model,
            "leads": tally.leads,
            "to_reps": tally.to_reps,
            "to_queues": tally.to_queues,
        }
        for product_id, tally in sorted(
            report.products.items(), key=lambda item: _product_order(rules, item[0])
        )
    ]
    return {
        "rules": {"name": report.rules_name, "version": report.rules_version},
        "leads": report.leads,
        "reps": rows,
        "products": products,
        "routes": dict(sorted(report.routes.items())),
        "fallbacks": dict(sorted(report.fallbacks.items())),
        "unreadable": {
            "count": report.unreadable,
            "first": [{"line": line, "error": message} for line, message in report.errors],
        },
    }


def _product_order(rules: CompiledRules, product_id: str | None) -> int:
    if product_id is None:
        return len(rules.products)
    return rules.products[product_id].order

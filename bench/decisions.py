"""Decision cost in process against rule-set size, beside a naive scan and zen-engine.

For every size the same leads are decided by:

* ours: `engine.prepare` + `EmbeddedState.execute_now` + `engine.conclude` (no
  trace), from an already-validated Lead, on a fresh embedded state per round;
* naive: bench.naive, which scans every territory (router's normalisation shared);
* zen: the same front as naive, with the territory from a zen-engine decision table.

"lookup" columns time the territory search alone, from the same normalised lead,
structure and segment: `engine.lookup` on the compiled index, the naive scan, and
one zen-engine evaluation. Validation (pydantic) is timed apart. "frozen" repeats ours after
`gc.freeze()`, to show what the collector's passes over the rule set cost. The slow variants
are timed on the first leads only (their count is in the table), and ours is
compared with them on exactly those leads.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench import synthetic
from bench.gorules import ZenTable
from bench.naive import NaiveRouter, parsed_rules
from bench.report import median, percentile, progress, say, table, write_json
from router.engine import conclude, lookup, prepare
from router.leads import Lead, NormalLead, normalise
from router.ruleset.compiled import CompiledRules
from router.ruleset.compiler import compile_rules
from router.state.base import Fresh, Stamp
from router.state.embedded import EmbeddedState

NOW = dt.datetime(2026, 12, 2, 15, 30, tzinfo=dt.UTC)

# How many leads each variant is timed on, per size: the scans cost milliseconds.
LEADS = 20_000
NAIVE_LEADS = {"10": 20_000, "1k": 4_000, "10k": 600}
ZEN_LEADS = {"10": 5_000, "1k": 600, "10k": 100}
ROUNDS = 5
SLOW_ROUNDS = 3
FROZEN_ROUNDS = 3


@dataclass
class Timings:
    """Per-lead nanoseconds of one variant, one list per round."""

    rounds: list[list[int]] = field(default_factory=list)

    def summary(self, first: int | None = None) -> dict[str, float]:
        """Median over rounds of each round's median, p99 and mean, in microseconds."""
        cut = [r[:first] if first else r for r in self.rounds if r]
        if not cut:
            return {"median_us": float("nan"), "p99_us": float("nan"), "mean_us": float("nan")}
        return {
            "median_us": median([median(r) for r in cut]) / 1000,
            "p99_us": median([percentile(r, 0.99) for r in cut]) / 1000,
            "mean_us": median([sum(r) / len(r) for r in cut]) / 1000,
        }


@dataclass
class Subject:
    """Leads and rules of one size, prepared once."""

    size: synthetic.Size
    rules: CompiledRules
    naive: NaiveRouter
    zen: ZenTable
    leads: list[Lead]
    keys: list[tuple[str, str, NormalLead]]
    compile_s: float
    zen_build_s: float
    validation: Timings
    validation_python: Timings


def validate(lines: list[str]) -> tuple[list[Lead], Timings, Timings]:
    """The Leads, and the cost of validating them from JSON text and from parsed JSON."""
    leads: list[Lead] = []
    from_json: list[int] = []
    from_python: list[int] = []
    clock = time.perf_counter_ns
    for text in lines:
        raw = text.encode()
        started = clock()
        lead = Lead.model_validate_json(raw)
        from_json.append(clock() - started)
        data = json.loads(raw)
        started = clock()
        Lead.model_validate(data)
        from_python.append(clock() - started)
        leads.append(lead)
    return leads, Timings([from_json]), Timings([from_python])


def load(size: synthetic.Size, count: int) -> Subject:
    directory, _ = synthetic.ensure_rules(size)
    progress(f"compiling {size.key} ({directory})")
    started = time.perf_counter()
    rules = compile_rules(directory)
    compile_s = time.perf_counter() - started
    parsed = parsed_rules(directory)
    started = time.perf_counter()
    zen = ZenTable(parsed)
    zen_build_s = time.perf_counter() - started
    lines = synthetic.read_lines(synthetic.leads_file(LEADS), count)
    leads, validation, validation_python = validate(lines)
    keys = []
    for lead in leads:
        draft = prepare(rules, lead, NOW)
        assert draft.product is not None and draft.product.structure is not None
        keys.append((draft.product.structure, draft.segment, draft.lead))
    return Subject(
        size,
        rules,
        NaiveRouter(parsed),
        zen,
        leads,
        keys,
        compile_s,
        zen_build_s,
        validation,
        validation_python,
    )


# the variants ---------------------------------------------------------------------


def time_ours(subject: Subject) -> tuple[list[int], list[int], list[int], list[int]]:
    """Per-lead ns of the whole decision, and of prepare, execute and conclude."""
    rules = subject.rules
    state = EmbeddedState()
    decided_at = NOW.isoformat(timespec="milliseconds")
    stamps = [Stamp(uuid.uuid4().hex, decided_at, NOW) for _ in subject.leads]
    clock = time.perf_counter_ns
    total, prepared, executed, concluded = [], [], [], []
    for lead, stamp in zip(subject.leads, stamps, strict=True):
        t0 = clock()
        draft = prepare(rules, lead, NOW)
        t1 = clock()
        assert draft.plan is not None
        execution = state.execute_now(draft.plan, stamp)
        t2 = clock()
        assert isinstance(execution, Fresh)
        conclude(rules, draft, execution.outcome, stamp.decision_id, decided_at, with_trace=False)
        t3 = clock()
        total.append(t3 - t0)
        prepared.append(t1 - t0)
        executed.append(t2 - t1)
        concluded.append(t3 - t2)
    return total, prepared, executed, concluded


def time_naive(subject: Subject, count: int) -> list[int]:
    router = subject.naive
    clock = time.perf_counter_ns
    found = []
    for lead in subject.leads[:count]:
        started = clock()
        router.decide(lead)
        found.append(clock() - started)
    return found


def time_zen(subject: Subject, count: int) -> list[int]:
    """The naive front (normalise, product, segment), the zen table, a round robin."""
    router, zen = subject.naive, subject.zen
    clock = time.perf_counter_ns
    found = []
    for lead in subject.leads[:count]:
        started = clock()
        normal = normalise(lead)
        product = router.product(lead)
        if product is not None:
            structure = router.structure_of[product]
            territory = zen.territory(structure, router.segment(normal), normal)
            if territory is not None:
                router.owner(router.by_id[territory])
        found.append(clock() - started)
    return found


def time_lookup(
    subject: Subject, count: int, find: Callable[[str, str, NormalLead], object]
) -> list[int]:
    clock = time.perf_counter_ns
    found = []
    for structure, segment, normal in subject.keys[:count]:
        started = clock()
        find(structure, segment, normal)
        found.append(clock() - started)
    return found


def ours_lookup(rules: CompiledRules) -> Callable[[str, str, NormalLead], str | None]:
    def find(structure: str, segment: str, normal: NormalLead) -> str | None:
        index = rules.structures.get(structure, {}).get(segment)
        match = lookup(index, normal) if index is not None else None
        return match[0].id if match is not None else None

    return find


# agreement ------------------------------------------------------------------------


def agreement(subject: Subject) -> dict[str, Any]:
    """Territory of every timed lead by all three; mismatches listed (first few)."""
    ours = ours_lookup(subject.rules)
    naive, zen = subject.naive, subject.zen
    key = subject.size.key
    levels: Counter[str] = Counter()
    naive_bad: list[dict[str, Any]] = []
    zen_bad: list[dict[str, Any]] = []
    front_bad = 0
    for number, (structure, segment, normal) in enumerate(subject.keys[: NAIVE_LEADS[key]]):
        mine = ours(structure, segment, normal)
        index = subject.rules.structures.get(structure, {}).get(segment)
        match = lookup(index, normal) if index is not None else None
        levels[match[1].split(" ")[0] if match else "none"] += 1
        theirs = naive.territory(structure, segment, normal)
        theirs_id = theirs.id if theirs else None
        if theirs_id != mine:
            naive_bad.append({"lead": normal.id, "ours": mine, "naive": theirs_id})
        if number < ZEN_LEADS[key]:
            from_zen = zen.territory(structure, segment, normal)
            if from_zen != mine:
                zen_bad.append({"lead": normal.id, "ours": mine, "zen": from_zen})
        lead = subject.leads[number]
        product = naive.product(lead)
        front = (naive.structure_of[product] if product else None, naive.segment(normal))
        if front != (structure, segment):
            front_bad += 1
    return {
        "checked_naive": min(len(subject.keys), NAIVE_LEADS[key]),
        "naive_mismatches": len(naive_bad),
        "checked_zen": min(len(subject.keys), ZEN_LEADS[key]),
        "zen_mismatches": len(zen_bad),
        "front_mismatches": front_bad,
        "first_mismatches": (naive_bad + zen_bad)[:5],
        "found_by": dict(levels),
    }


# the run --------------------------------------------------------------------------


class Measurement:
    """Every variant's timings for one size, filled round by round."""

    def __init__(self, subject: Subject) -> None:
        key = subject.size.key
        self.subject = subject
        self.naive_n = min(NAIVE_LEADS[key], len(subject.leads))
        self.zen_n = min(ZEN_LEADS[key], len(subject.leads))
        self.timings = {name: Timings() for name in VARIANTS}
        self.find_ours = ours_lookup(subject.rules)

    def steps(self, round_number: int) -> list[Callable[[], None]]:
        found = [self.ours, self.lookups]
        if round_number < SLOW_ROUNDS:
            found.append(self.slow)
        return found

    def ours(self) -> None:
        total, prepared, executed, concluded = time_ours(self.subject)
        for name, values in (
            ("ours", total),
            ("prepare", prepared),
            ("execute", executed),
            ("conclude", concluded),
        ):
            self.timings[name].rounds.append(values)

    def lookups(self) -> None:
        subject = self.subject
        found = time_lookup(subject, len(subject.keys), self.find_ours)
        self.timings["lookup_ours"].rounds.append(found)

    def slow(self) -> None:
        subject, t = self.subject, self.timings
        t["naive"].rounds.append(time_naive(subject, self.naive_n))
        t["zen"].rounds.append(time_zen(subject, self.zen_n))
        naive = time_lookup(subject, self.naive_n, subject.naive.territory)
        t["lookup_naive"].rounds.append(naive)
        t["lookup_zen"].rounds.append(time_lookup(subject, self.zen_n, subject.zen.territory))

    def result(self) -> dict[str, Any]:
        return {**self.timings, "naive_n": self.naive_n, "zen_n": self.zen_n}


VARIANTS = (
    "ours",
    "ours_frozen",
    "prepare",
    "execute",
    "conclude",
    "naive",
    "zen",
    "lookup_ours",
    "lookup_naive",
    "lookup_zen",
)


def run(size_keys: list[str] | None = None, leads: int = LEADS) -> dict[str, Any]:
    """Load every size first, then run the rounds across sizes and variants in turn,
    so that the ratios between sizes and between variants come from the same minutes."""
    sizes = [synthetic.SIZE_BY_KEY[k] for k in size_keys] if size_keys else list(synthetic.SIZES)
    measurements = [Measurement(load(size, leads)) for size in sizes]
    for round_number in range(ROUNDS):
        progress(f"round {round_number + 1} of {ROUNDS}")
        steps = [step for m in measurements for step in m.steps(round_number)]
        # Rotate the order so that no variant always runs on a warm or a cold machine.
        shift = (round_number * 2) % len(steps)
        for step in steps[shift:] + steps[:shift]:
            gc.collect()
            step()
    # The same loop with every object alive now (the compiled rules above all) moved out
    # of the collector's reach, as a service could do once its rules are loaded.
    gc.collect()
    gc.freeze()
    try:
        for round_number in range(FROZEN_ROUNDS):
            progress(f"gc.freeze(): round {round_number + 1} of {FROZEN_ROUNDS}")
            for m in measurements:
                total = time_ours(m.subject)[0]
                m.timings["ours_frozen"].rounds.append(total)
    finally:
        gc.unfreeze()
    results: dict[str, Any] = {}
    for m in measurements:
        progress(f"{m.subject.size.key}: checking agreement")
        results[m.subject.size.key] = {
            "subject": m.subject,
            "timings": m.result(),
            "agreement": agreement(m.subject),
        }
    return present(results)


def present(results: dict[str, Any]) -> dict[str, Any]:
    base = None
    rows_cost, rows_side, rows_agree = [], [], []
    data: dict[str, Any] = {"sizes": {}}
    for key, result in results.items():
        subject: Subject = result["subject"]
        t = result["timings"]
        ours = t["ours"].summary()
        if base is None:
            base = ours["median_us"]
        frozen = t["ours_frozen"].summary()
        validation = subject.validation.summary()
        validation_python = subject.validation_python.summary()
        counts = subject.rules.counts()
        info = synthetic.ensure_rules(subject.size)[1]
        rows_cost.append(
            [
                key,
                counts["territories"],
                info["postal_rules"],
                len(subject.leads),
                ours["median_us"],
                ours["p99_us"],
                ours["mean_us"],
                ours["median_us"] / base,
                t["prepare"].summary()["median_us"],
                t["execute"].summary()["median_us"],
                t["conclude"].summary()["median_us"],
                frozen["median_us"],
                frozen["p99_us"],
                validation["median_us"],
                validation["p99_us"],
                validation_python["median_us"],
            ]
        )
        side: dict[str, Any] = {}
        for name, full, look, count in (
            ("ours", t["ours"], t["lookup_ours"], None),
            ("naive scan", t["naive"], t["lookup_naive"], t["naive_n"]),
            ("zen-engine", t["zen"], t["lookup_zen"], t["zen_n"]),
        ):
            summary = full.summary()
            lookup_summary = look.summary()
            if count is not None:
                mine = t["ours"].summary(count)["median_us"]
                mine_lookup = t["lookup_ours"].summary(count)["median_us"]
                ratio = summary["median_us"] / mine
                lookup_ratio = lookup_summary["median_us"] / mine_lookup
            else:
                ratio = lookup_ratio = 1.0
            rows_side.append(
                [
                    key,
                    name,
                    count or len(subject.leads),
                    summary["median_us"],
                    summary["p99_us"],
                    ratio,
                    lookup_summary["median_us"],
                    lookup_summary["p99_us"],
                    lookup_ratio,
                ]
            )
            side[name] = {
                "leads": count or len(subject.leads),
                "decision": summary,
                "lookup": lookup_summary,
                "decision_ratio_to_ours": ratio,
                "lookup_ratio_to_ours": lookup_ratio,
            }
        a = result["agreement"]
        rows_agree.append(
            [
                key,
                a["checked_naive"],
                a["naive_mismatches"],
                a["checked_zen"],
                a["zen_mismatches"],
                a["front_mismatches"],
                subject.zen.rows,
                subject.zen_build_s,
                subject.compile_s,
                ", ".join(f"{k} {v}" for k, v in sorted(a["found_by"].items())),
            ]
        )
        data["sizes"][key] = {
            "territories": counts["territories"],
            "postal_rules": info["postal_rules"],
            "reps": counts["reps"],
            "leads": len(subject.leads),
            "ours": ours,
            "ours_ratio_to_smallest": ours["median_us"] / base,
            "prepare": t["prepare"].summary(),
            "execute": t["execute"].summary(),
            "conclude": t["conclude"].summary(),
            "ours_after_gc_freeze": frozen,
            "validation_json": validation,
            "validation_python": validation_python,
            "side_by_side": side,
            "agreement": a,
            "zen_rows": subject.zen.rows,
            "zen_build_s": subject.zen_build_s,
            "compile_s": subject.compile_s,
        }
    say(
        table(
            "Decision cost in process, embedded state, no trace (microseconds per lead)",
            [
                "size",
                "territories",
                "postal rules",
                "leads",
                "median",
                "p99",
                "mean",
                "x size 10",
                "prepare",
                "execute",
                "conclude",
                "frozen median",
                "frozen p99",
                "validate json",
                "validate p99",
                "validate dict",
            ],
            rows_cost,
        )
    )
    say(
        table(
            "Side by side, same rules and leads (microseconds; ratio = variant / ours)",
            [
                "size",
                "variant",
                "leads",
                "decision med",
                "decision p99",
                "ratio",
                "lookup med",
                "lookup p99",
                "lookup ratio",
            ],
            rows_side,
        )
    )
    say(
        table(
            "Agreement on the territory (ours = engine.lookup on the compiled index)",
            [
                "size",
                "naive checked",
                "naive diff",
                "zen checked",
                "zen diff",
                "front diff",
                "zen rows",
                "zen build s",
                "compile s",
                "found by (ours, naive-checked leads)",
            ],
            rows_agree,
        )
    )
    path = write_json("decisions", data)
    say(f"written {path}\n")
    return data

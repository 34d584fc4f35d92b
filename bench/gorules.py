"""The routing table as a GoRules zen-engine decision table, for comparison.

One JDM document: input node, one decision table with hit policy "first", output
node. Each row is one group of places of one territory at one specificity (its
5-digit ZIP prefixes, its ZIP ranges of one rank, its states, its countries,
`anywhere`), with the territory's map (structure), segments and industries as
further columns. Rows are sorted most specific first: postal by rank (a prefix
before a range of the same rank), then region, then country, then anywhere; an
industry row before an any-industry row of the same specificity. The first row
that holds names the territory, as the router's indexes would.

Postal prefixes compare `p1`..`p5` (the lead's code cut to that length); ranges
compare `h3`/`h5` (the code's leading digits as a number) with `[low..high]`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import zen

from router.leads import NormalLead
from router.ruleset import schema
from router.ruleset.indexes import normal_industry, range_rank, split_range

LEVELS = {"postal": 4, "region": 3, "country": 2, "anywhere": 1}
PREFIX_LENGTHS = (1, 2, 3, 4, 5, 6)
RANGE_LENGTHS = (3, 5)


def _quoted(values: list[str]) -> str:
    return ", ".join(json.dumps(v) for v in values)


@dataclass(slots=True)
class Row:
    """One row before sorting; `key` orders rows most specific first."""

    key: tuple[int, int, int, int, int]
    cells: dict[str, str]


def _rows(order: int, territory: schema.Territory) -> list[Row]:
    common = {
        "structure": json.dumps(territory.covers),
        "segment": _quoted(list(territory.segments)),
        "industry": _quoted(sorted({normal_industry(i) for i in territory.industries})),
        "territory": json.dumps(territory.id),
    }
    industry = 1 if territory.industries else 0
    rows: list[Row] = []

    def add(level: str, rank: int, prefix: int, cells: dict[str, str]) -> None:
        key = (-LEVELS[level], -rank, -prefix, -industry, order)
        rows.append(Row(key, {**common, **cells}))

    for country, entries in territory.postal.items():
        prefixes: dict[int, list[str]] = {}
        ranges: dict[tuple[int, int], list[str]] = {}
        for entry in entries:
            text = str(entry).strip().upper().replace(" ", "")
            bounds = split_range(text)
            if bounds is None:
                prefixes.setdefault(len(text), []).append(text)
                continue
            low, high = bounds
            if len(low) not in RANGE_LENGTHS or not (low.isdigit() and high.isdigit()):
                raise ValueError(f"{territory.id}: range {text} cannot be put in the table")
            interval = f"[{int(low)}..{int(high)}]"
            ranges.setdefault((len(low), range_rank(low, high)), []).append(interval)
        for length, codes in prefixes.items():
            cells = {"country": json.dumps(country), f"p{length}": _quoted(codes)}
            add("postal", length, 1, cells)
        for (length, rank), intervals in ranges.items():
            cells = {"country": json.dumps(country), f"h{length}": ", ".join(intervals)}
            add("postal", rank, 0, cells)
    if territory.regions:
        add("region", 0, 0, {"region": _quoted(list(territory.regions))})
    if territory.countries:
        add("country", 0, 0, {"country": _quoted(list(territory.countries))})
    if territory.anywhere:
        add("anywhere", 0, 0, {})
    return rows


def jdm(rules: schema.RuleSet) -> dict[str, Any]:
    """The JDM document of the rule set's territories."""
    rows = [row for order, t in enumerate(rules.territories) for row in _rows(order, t)]
    rows.sort(key=lambda row: row.key)
    inputs = ["structure", "segment", "industry", "country", "region"]
    inputs += [f"p{n}" for n in PREFIX_LENGTHS] + [f"h{n}" for n in RANGE_LENGTHS]
    table_rules = []
    for number, row in enumerate(rows):
        entry = {"_id": f"r{number}"}
        entry.update({f"in-{name}": row.cells.get(name, "") for name in inputs})
        entry["out-territory"] = row.cells["territory"]
        table_rules.append(entry)

    def node(node_id: str, kind: str, **extra: Any) -> dict[str, Any]:
        return {"id": node_id, "type": kind, "name": node_id, "position": {"x": 0, "y": 0}, **extra}

    table = {
        "hitPolicy": "first",
        "inputs": [{"id": f"in-{name}", "name": name, "field": name} for name in inputs],
        "outputs": [{"id": "out-territory", "name": "territory", "field": "territory"}],
        "rules": table_rules,
    }
    return {
        "nodes": [
            node("request", "inputNode"),
            node("territories", "decisionTableNode", content=table),
            node("response", "outputNode"),
        ],
        "edges": [
            {"id": "e1", "sourceId": "request", "targetId": "territories", "type": "edge"},
            {"id": "e2", "sourceId": "territories", "targetId": "response", "type": "edge"},
        ],
    }


def context(structure: str, segment: str, lead: NormalLead) -> dict[str, Any]:
    """What the table reads: the map, the segment and the lead's normalised place."""
    found: dict[str, Any] = {
        "structure": structure,
        "segment": segment,
        "industry": lead.industry,
        "country": lead.country,
        "region": lead.region,
    }
    postal = lead.postal if lead.country is not None else None
    for length in PREFIX_LENGTHS:
        found[f"p{length}"] = postal[:length] if postal and len(postal) >= length else None
    for length in RANGE_LENGTHS:
        head = postal[:length] if postal and len(postal) >= length else None
        found[f"h{length}"] = int(head) if head is not None and head.isdigit() else None
    return found


class ZenTable:
    """The decision table compiled once by zen-engine, evaluated per lead."""

    def __init__(self, rules: schema.RuleSet) -> None:
        document = jdm(rules)
        self.rows = len(document["nodes"][1]["content"]["rules"])
        self.decision = zen.ZenEngine().create_decision(json.dumps(document))

    def territory(self, structure: str, segment: str, lead: NormalLead) -> str | None:
        result = self.decision.evaluate(context(structure, segment, lead))["result"]
        found = result.get("territory")
        return str(found) if found is not None else None

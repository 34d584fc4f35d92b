"""Prometheus instruments: decisions, latency, fallbacks and the active rule version."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DECISIONS = Counter(
    "router_decisions_total",
    "Leads decided, by product, carve-out model and outcome (rep, queue, replayed).",
    ["product", "model", "outcome"],
)
LATENCY = Histogram(
    "router_decision_seconds",
    "Time to decide one lead, state step included.",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
FALLBACKS = Counter(
    "router_fallbacks_total",
    "Leads sent to a fallback queue, by reason.",
    ["reason"],
)
RULES_VERSION = Gauge(
    "router_rules_version_info",
    "The rule version serving decisions (value 1 on the active version).",
    ["name", "version"],
)
RELOADS = Counter("router_rule_reloads_total", "Rule reloads, by result.", ["result"])
for _result in ("loaded", "failed"):
    RELOADS.labels(result=_result)


def show_rules_version(name: str, version: str) -> None:
    """Mark version as the only active rule version."""
    RULES_VERSION.clear()
    RULES_VERSION.labels(name=name, version=version).set(1)

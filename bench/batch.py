"""`router simulate` over files of 100k and 1M synthetic leads: leads per second, peak RSS.

Each run is the real command line in a child process; its peak RSS is the child's
own (see bench.processes.run_measured). The rate is the one `router simulate`
prints (reading, validating, deciding and counting, compile excluded); the wall
time includes start-up and compiling the rules. A one-lead file gives the fixed
memory of the process.

Account stickiness remembers every account's owner (by design), so memory may grow
with distinct accounts: the last row routes the 100k file ten times over under new
ids (1M rows, the accounts of 100k), so that what grows there grows per row.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bench import synthetic
from bench.processes import BIN, run_measured
from bench.report import OUT, Cell, median, progress, say, table, write_json

RATE = re.compile(r"([\d,]+) leads in ([\d.]+) s \(([\d,]+) leads/s\)")
# -1 stands for the 100k file ten times over: 1M rows, the accounts of 100k.
COUNTS = (1, 100_000, 1_000_000, -1)
REPEATS = {1: 1, 100_000: 3, 1_000_000: 1, -1: 1}


def one_lead_file() -> str:
    path = OUT / "leads-1.jsonl"
    path.write_text(synthetic.read_lines(synthetic.leads_file(100_000), 1)[0])
    return str(path)


def accounts(source: str) -> int:
    """Distinct accounts of a file (CRM account id, else a non-free-mail e-mail domain):
    what account stickiness remembers, so what the simulation's memory may grow with."""
    seen: set[str] = set()
    with open(source, encoding="utf-8") as lines:
        for text in lines:
            lead = json.loads(text)
            if lead.get("crm_account_id"):
                seen.add("crm:" + lead["crm_account_id"])
                continue
            domain = str(lead.get("email", "")).rpartition("@")[2].lower()
            if domain and domain not in synthetic.FREE_MAIL:
                seen.add(domain)
    return len(seen)


def run(size_key: str = "1k", counts: tuple[int, ...] = COUNTS) -> dict[str, Any]:
    size = synthetic.SIZE_BY_KEY[size_key]
    rules, _ = synthetic.ensure_rules(size)
    rows: list[list[Cell]] = []
    data: dict[str, Any] = {"rules": size_key, "runs": {}}
    for count in counts:
        if count == 1:
            source = one_lead_file()
        elif count == -1:
            source = str(synthetic.repeated_leads_file())
        else:
            source = str(synthetic.leads_file(count))
        label = "1,000,000 (100k x 10)" if count == -1 else f"{count:,}"
        runs: list[dict[str, Any]] = []
        for attempt in range(REPEATS.get(count, 1)):
            progress(f"router simulate, {label} leads, run {attempt + 1}")
            done = run_measured([str(BIN / "router"), "simulate", str(rules), source])
            if done.code != 0:
                raise RuntimeError(f"router simulate failed ({done.code}): {done.stderr[-2000:]}")
            found = RATE.search(done.stdout)
            if found is None:
                raise RuntimeError(f"no rate line in the output of router simulate:\n{done.stdout}")
            leads = int(found[1].replace(",", ""))
            runs.append(
                {
                    "leads": leads,
                    "elapsed_s": float(found[2]),
                    "leads_per_s": leads / float(found[2]) if leads > 1 else None,
                    "wall_s": done.wall_s,
                    "max_rss_mb": done.max_rss_mb,
                    "cpu_s": done.cpu_s,
                }
            )
        best: dict[str, float | None] = {}
        for key in runs[0]:
            values = [float(r[key]) for r in runs if r[key] is not None]
            best[key] = median(values) if values else None
        data["runs"][label] = {"median": best, "all": runs, "distinct_accounts": accounts(source)}
        rows.append(
            [
                label,
                data["runs"][label]["distinct_accounts"],
                len(runs),
                best["elapsed_s"],
                best["leads_per_s"],
                1e6 / best["leads_per_s"] if best["leads_per_s"] else None,
                best["wall_s"],
                best["max_rss_mb"],
            ]
        )
    say(
        table(
            f"router simulate, rules {size_key} (medians of the runs)",
            [
                "leads",
                "accounts",
                "runs",
                "routing s",
                "leads/s",
                "us/lead",
                "wall s",
                "peak RSS MB",
            ],
            rows,
        )
    )
    path = write_json("batch", data)
    say(f"written {path}\n")
    return data

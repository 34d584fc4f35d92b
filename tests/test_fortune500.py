"""The Fortune 500 headquarters file through the example rules: simulated, then over HTTP.

Both paths read the rows with the same column mapping (router.leadfiles), so the
per-rep distribution of a real server on a fresh state must equal the simulation's,
and posting every row again must replay every decision without moving a rotation.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from router import cli
from router.api.schemas import Decision
from router.leadfiles import ColumnMapping, read_leads
from router.leads import Lead
from router.ruleset.compiler import compile_rules
from router.simulate import simulate, to_json

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "rules"
DATA = Path("/work/shared/data/fortune500_hq_2017.csv")

# The file has no country column (every company is in the US) and gives revenue in
# millions of dollars.
COLUMNS = [
    "company=NAME",
    "region=STATE",
    "postal_code=ZIP",
    "website=WEBSITE",
    "employees=EMPLOYEES",
    "annual_revenue=REVENUES",
]
CONSTANTS = ["country=US"]
SCALES = ["annual_revenue=1000000"]
ID_COLUMN = "FID"

# A Tuesday mid-morning in every US time zone, inside the example reps' working hours.
AT = "2026-03-03T17:00:00Z"

pytestmark = [
    pytest.mark.skipif(not DATA.exists(), reason=f"the Fortune 500 file is not at {DATA}"),
    pytest.mark.timeout(60),
]


def options() -> list[str]:
    flags = [("--column", COLUMNS), ("--set", CONSTANTS), ("--scale", SCALES)]
    found = [part for flag, values in flags for value in values for part in (flag, value)]
    return [*found, "--id-column", ID_COLUMN]


def fortune500_leads() -> list[Lead]:
    mapping = ColumnMapping.from_options(COLUMNS, CONSTANTS, SCALES, ID_COLUMN)
    with DATA.open("rb") as binary:
        rows = list(read_leads(binary, mapping, "csv"))
    errors = [(line, lead) for line, lead in rows if isinstance(lead, str)]
    assert errors == []
    return [lead for _, lead in rows if isinstance(lead, Lead)]


def assigned(report: dict[str, Any]) -> dict[str, int]:
    return {row["id"]: row["leads"] for row in report["reps"] if row["leads"]}


# simulate -------------------------------------------------------------------------


def test_simulate_routes_all_500_companies_with_the_recorded_balance() -> None:
    args = ["simulate", str(RULES), str(DATA), *options(), "--at", AT, "--json"]
    result = CliRunner().invoke(cli.app, args)

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["leads"] == 500
    assert report["unreadable"] == {"count": 0, "first": []}
    # Recorded from the example rules; a change to rules/ that moves these is worth a look.
    assert assigned(report) == RECORDED_PER_REP
    assert report["products"] == RECORDED_PER_PRODUCT
    assert report["fallbacks"] == RECORDED_FALLBACKS
    overlays = {row["id"]: row["overlays"] for row in report["reps"] if row["overlays"]}
    assert overlays == RECORDED_OVERLAYS


RECORDED_PER_REP = {
    "priya-raman": 49,
    "marcus-bell": 35,
    "dana-whitfield": 56,
    "luis-ortega": 24,
    "carmen-delgado": 57,
    "ben-kowalski": 56,
    "rachel-kim": 61,
    "owen-gallagher": 59,
    "tasha-monroe": 43,
    "helen-park": 60,
}
RECORDED_PER_PRODUCT = [
    {"product": "crm", "model": "portfolio", "leads": 500, "to_reps": 500, "to_queues": 0},
]
RECORDED_FALLBACKS: dict[str, int] = {}
RECORDED_OVERLAYS = {"nadia-petrova": 2, "isabel-moreno": 1}


# a real server --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_ready(client: httpx.Client, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server stopped with {process.returncode}:\n{log.read_text()}")
        try:
            if client.get("/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"the server was not ready within 30 s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A uvicorn process serving the example rules on a free loopback port."""
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "uvicorn.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUTER_")}
    env["ROUTER_RULES_DIR"] = str(RULES)
    command = [sys.executable, "-m", "uvicorn", "--factory", "router.api.app:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, cwd=REPO, stdout=out, stderr=out)
    # trust_env off: no proxy from the environment between the test and its own server
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=10)
    try:
        wait_until_ready(client, process, log)
        yield client
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def first_pass(server: httpx.Client) -> tuple[list[Lead], list[dict[str, Any]], dict[str, Any]]:
    """Every row posted once, and the simulation of the same rows at the same time."""
    leads = fortune500_leads()
    rules = compile_rules(RULES)
    simulated = to_json(simulate(rules, ((n, lead) for n, lead in enumerate(leads))), rules)
    decisions = []
    for lead in leads:
        response = server.post("/v1/route", json=lead.model_dump(mode="json", exclude_none=True))
        assert response.status_code == 200, response.text
        decisions.append(response.json())
    return leads, decisions, simulated


def test_every_row_gets_a_valid_first_decision_over_http(
    first_pass: tuple[list[Lead], list[dict[str, Any]], dict[str, Any]],
) -> None:
    leads, decisions, _ = first_pass
    version = compile_rules(RULES).version

    assert len(decisions) == 500
    for lead, decision in zip(leads, decisions, strict=True):
        Decision.model_validate(decision)
        assert decision["lead_id"] == lead.id
        assert decision["rules_version"] == version
        assert decision["decision_id"]
        assert decision["primary"]["type"] in ("rep", "queue")
        assert decision["replayed"] is False
        assert "trace" not in decision
    assert len({d["decision_id"] for d in decisions}) == 500


def test_http_distribution_per_rep_equals_the_simulation(
    first_pass: tuple[list[Lead], list[dict[str, Any]], dict[str, Any]],
) -> None:
    _, decisions, simulated = first_pass
    over_http = Counter(d["primary"]["id"] for d in decisions)

    assert dict(over_http) == assigned(simulated)


def rep_loads(server: httpx.Client) -> dict[str, int]:
    loads = {}
    for rep_id in compile_rules(RULES).reps:
        response = server.get(f"/v1/reps/{rep_id}")
        assert response.status_code == 200, response.text
        loads[rep_id] = response.json()["load_today"]
    return loads


def next_picks(server: httpx.Client, probes: list[Lead]) -> list[str]:
    picks = []
    for probe in probes:
        response = server.post("/v1/explain", json=probe.model_dump(mode="json", exclude_none=True))
        assert response.status_code == 200, response.text
        picks.append(response.json()["primary"]["id"])
    return picks


def test_posting_every_row_again_replays_it_and_moves_no_rotation(
    server: httpx.Client,
    first_pass: tuple[list[Lead], list[dict[str, Any]], dict[str, Any]],
) -> None:
    leads, decisions, _ = first_pass
    # One new lead (no account, so no stickiness) per territory that a pool decided.
    probes: dict[str, Lead] = {}
    for lead, decision in zip(leads, decisions, strict=True):
        if " picked " in decision["reason"] and decision["territory"] not in probes:
            update = {"id": f"probe-{lead.id}", "website": None, "company": None}
            probes[decision["territory"]] = lead.model_copy(update=update)
    loads_before = rep_loads(server)
    picks_before = next_picks(server, list(probes.values()))

    for lead, first in zip(leads, decisions, strict=True):
        response = server.post("/v1/route", json=lead.model_dump(mode="json", exclude_none=True))
        assert response.status_code == 200, response.text
        again = response.json()
        assert again["replayed"] is True
        assert {**again, "replayed": False} == first

    to_reps = sum(1 for d in decisions if d["primary"]["type"] == "rep")
    assert sum(loads_before.values()) == to_reps + sum(len(d["overlays"]) for d in decisions)
    assert rep_loads(server) == loads_before
    assert next_picks(server, list(probes.values())) == picks_before
    assert len(probes) > 1

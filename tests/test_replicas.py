"""Three uvicorn replicas on one Redis give the answers one process would.

3,000 posts, 64 at a time, spread over the replicas; a fifth are retries of
earlier lead ids, some sent while the first post is still in flight.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RedisEndpoint
from tests.redis_servers import HOST, free_port

RULES = """\
default_product: crm
products:
  - {id: crm, name: CRM, model: dedicated}
segments:
  - {id: all}
reps:
  - {id: wa, name: Wes A, email: wa@corp.example, products: [crm]}
  - {id: wb, name: Wes B, email: wb@corp.example, products: [crm]}
  - {id: ea, name: Eve A, email: ea@corp.example, products: [crm], daily_capacity: 150}
  - {id: eb, name: Eve B, email: eb@corp.example, products: [crm], daily_capacity: 100}
  - {id: ec, name: Eve C, email: ec@corp.example, products: [crm], daily_capacity: 50}
queues:
  - {id: overflow, name: Overflow}
fallbacks:
  default: overflow
territories:
  - id: west
    covers: crm
    regions: [US-WA]
    owner: {pool: [{rep: wa, weight: 70}, {rep: wb, weight: 30}], method: weighted}
  - id: east
    covers: crm
    regions: [US-NY]
    owner: {pool: [ea, eb, ec], method: round_robin}
"""
CAPS = {"ea": 150, "eb": 100, "ec": 50}
WEST_LEADS, EAST_LEADS, RETRIES = 1500, 900, 600
CONCURRENCY = 64


def start_replica(port: int, rules: Path, redis_url: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ROUTER_RULES_DIR": str(rules),
        "ROUTER_REDIS_URL": redis_url,
        "ROUTER_REDIS_CLUSTER": "",
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "router.api.app:create_app"]
    command += ["--host", HOST, "--port", str(port), "--log-level", "warning", "--no-access-log"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_until_ready(base: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            told = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"the replica at {base} exited: {told[-1500:]}")
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the replica at {base} was not ready within {timeout} s")


@pytest.fixture
def replicas(redis_endpoint: RedisEndpoint, tmp_path: Path) -> Iterator[list[str]]:
    """Base URLs of three replicas sharing the Redis, on a rule set named for this test."""
    rules = tmp_path / f"replicas-{uuid.uuid4().hex[:8]}"
    rules.mkdir()
    (rules / "rules.yaml").write_text(RULES)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        bases = []
        for _ in range(3):
            port = free_port()
            processes.append(start_replica(port, rules, redis_endpoint.url))
            bases.append(f"http://{HOST}:{port}")
        for base, process in zip(bases, processes, strict=True):
            wait_until_ready(base, process)
        yield bases
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stderr:
                process.stderr.close()


def schedule() -> list[dict[str, Any]]:
    """First posts in a shuffled order, with retries: half right behind their first post
    (in flight together), half later."""
    rng = random.Random(20261204)
    leads = [{"id": f"w{i}", "country": "US", "region": "WA"} for i in range(WEST_LEADS)]
    leads += [{"id": f"e{i}", "country": "US", "region": "NY"} for i in range(EAST_LEADS)]
    rng.shuffle(leads)
    posts = list(leads)
    retried = rng.sample(range(len(leads)), RETRIES)
    for count, index in enumerate(sorted(retried, reverse=True)):
        if count % 2:
            posts.insert(posts.index(leads[index]) + 1, dict(leads[index]))
        else:
            later = min(len(posts), posts.index(leads[index]) + rng.randint(100, 1500))
            posts.insert(later, dict(leads[index]))
    return posts


async def post_all(bases: list[str], posts: list[dict[str, Any]]) -> list[tuple[int, Any]]:
    """Post in order, at most CONCURRENCY in flight; post i goes to replica i % 3.

    One client per replica: httpx's pool costs more per request as it grows, and the
    client, not the replicas, would otherwise set the pace on a small machine.
    """
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    clients = [httpx.AsyncClient(base_url=base, limits=limits, timeout=30) for base in bases]
    gate = asyncio.Semaphore(CONCURRENCY)

    async def send(index: int, lead: dict[str, Any]) -> tuple[int, Any]:
        async with gate:
            response = await clients[index % len(clients)].post("/v1/route", json=lead)
            return response.status_code, response.json()

    try:
        return await asyncio.gather(*(send(i, lead) for i, lead in enumerate(posts)))
    finally:
        for client in clients:
            await client.aclose()


async def test_three_replicas_make_one_decision_per_lead_and_keep_the_shares(
    replicas: list[str],
) -> None:
    posts = schedule()
    assert len(posts) == 3000
    answers = await post_all(replicas, posts)

    assert [status for status, _ in answers] == [200] * len(posts)
    by_lead: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for _, body in answers:
        by_lead[body["lead_id"]].append(body)
    assert len(by_lead) == WEST_LEADS + EAST_LEADS
    for lead_id, bodies in by_lead.items():
        fresh = [b for b in bodies if not b["replayed"]]
        assert len(fresh) == 1, (lead_id, bodies)
        for body in bodies:
            assert {**body, "replayed": False} == fresh[0], lead_id

    decided = {lead_id: bodies[0] for lead_id, bodies in by_lead.items()}
    west = Counter(b["primary"]["id"] for i, b in decided.items() if i.startswith("w"))
    assert west.keys() == {"wa", "wb"}
    assert abs(west["wa"] - 0.7 * WEST_LEADS) < 1 and abs(west["wb"] - 0.3 * WEST_LEADS) < 1

    east = Counter(b["primary"]["id"] for i, b in decided.items() if i.startswith("e"))
    assert east == {**CAPS, "overflow": EAST_LEADS - sum(CAPS.values())}
    async with httpx.AsyncClient() as client:
        for rep_id, cap in CAPS.items():
            status = (await client.get(f"{replicas[0]}/v1/reps/{rep_id}")).json()
            assert status["load_today"] == cap
        conflict = await client.post(f"{replicas[2]}/v1/route", json={"id": "w1", "country": "CA"})
    assert conflict.status_code == 409
    assert conflict.json()["detail"]["decision_id"] == decided["w1"]["decision_id"]

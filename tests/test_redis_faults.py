"""Redis goes away under load and comes back: 503s within the timeout, then recovery.

Two outages on one app, without restarting it: the server is stopped (its data
is lost, connections are refused) and started again on the same port; then it
is frozen (SIGSTOP: connections hang, as on a stalled network) and thawed. This
test always starts its own redis-server, even with ROUTER_TEST_REDIS_URL set,
since it stops it.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from router.api.app import create_app
from router.settings import Settings
from router.state.base import StateUnavailable
from router.state.redis_store import BATCH_LIMIT, open_redis
from tests.casebook import CASES
from tests.http import asgi_client
from tests.redis_servers import HOST, RedisServer, free_port, start_server
from tests.test_redis_state import copy_rules
from tests.test_state_contract import WEST as WEST_POOL
from tests.test_state_contract import plan, stamp

WEST = {"country": "US", "region": "WA"}
BOUND = 2.0  # seconds: generous next to the 1.25 s deadline of the default settings
WORKERS = 8


@dataclass
class Answer:
    lead_id: str
    status: int
    body: dict[str, Any]
    seconds: float
    at: float
    retry_after: str | None


@dataclass
class Load:
    """Workers posting new leads, retrying 503s later, and re-posting some decided ids."""

    client: httpx.AsyncClient
    answers: list[Answer] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    decided: dict[str, float] = field(default_factory=dict)
    replay_after: float = float("inf")
    running: bool = True
    ids: Iterator[int] = field(default_factory=itertools.count)
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def next_lead(self) -> str:
        if self.waiting:
            return self.waiting.pop(0)
        settled = [lead for lead, at in self.decided.items() if at > self.replay_after]
        if settled and self.rng.random() < 0.2:
            return self.rng.choice(settled)
        return f"F{next(self.ids)}"

    async def post(self, lead_id: str) -> Answer:
        started = time.monotonic()
        response = await self.client.post("/v1/route", json={"id": lead_id, **WEST})
        ended = time.monotonic()
        answer = Answer(
            lead_id,
            response.status_code,
            response.json(),
            ended - started,
            ended,
            response.headers.get("retry-after"),
        )
        self.answers.append(answer)
        if answer.status == 200:
            self.decided.setdefault(lead_id, ended)
        else:
            self.waiting.append(lead_id)
        return answer

    async def worker(self) -> None:
        while self.running:
            await self.post(self.next_lead())
            await asyncio.sleep(0.002)

    def successes_since(self, moment: float) -> int:
        return sum(1 for a in self.answers if a.status == 200 and a.at > moment)

    async def until(self, successes: int, since: float, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while self.successes_since(since) < successes:
            assert time.monotonic() < deadline, "routing did not recover"
            await asyncio.sleep(0.02)


def serving(directory: Path, password: str | None = None) -> Iterator[RedisServer]:
    """A redis-server of the test's own, stopped when the test ends."""
    try:
        server = start_server(directory, password=password)
    except RuntimeError as error:
        pytest.fail(str(error))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    yield from serving(tmp_path / "redis")


async def readiness(client: httpx.AsyncClient) -> tuple[int, float]:
    started = time.monotonic()
    response = await client.get("/readyz")
    return response.status_code, time.monotonic() - started


async def recovered(client: httpx.AsyncClient, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while (await readiness(client))[0] != 200:
        assert time.monotonic() < deadline, "/readyz did not recover"
        await asyncio.sleep(0.05)


async def test_routing_answers_503_while_redis_is_away_and_recovers_without_restart(
    own_redis: RedisServer, tmp_path: Path
) -> None:
    rules = copy_rules(CASES / "order", tmp_path)
    app = create_app(Settings(rules_dir=rules, redis_url=own_redis.url))
    async with asgi_client(app) as client:
        load = Load(client)
        workers = [asyncio.create_task(load.worker()) for _ in range(WORKERS)]
        try:
            await load.until(50, since=0)

            # 1. stopped: refused connections, data lost
            stopped = time.monotonic()
            await asyncio.to_thread(own_redis.stop)
            await asyncio.sleep(1.0)
            status, seconds = await readiness(client)
            assert status == 503 and seconds < BOUND
            body = (await client.get("/readyz")).json()
            assert body["status"] == "unavailable"
            where = f"Redis at 127.0.0.1:{own_redis.port} cannot be reached (ping): "
            assert body["reason"].startswith(where), body["reason"]
            restarted = time.monotonic()
            await asyncio.to_thread(own_redis.start)  # same port, same directory
            await recovered(client)
            await load.until(50, since=time.monotonic())
            load.replay_after = restarted

            # 2. frozen: connections hang until the socket timeout
            frozen = time.monotonic()
            own_redis.pause()
            try:
                await asyncio.sleep(1.0)
                status, seconds = await readiness(client)
                assert status == 503 and seconds < BOUND
            finally:
                own_redis.resume()
            thawed = time.monotonic()
            await recovered(client)
            await load.until(100, since=time.monotonic())
        finally:
            load.running = False
            await asyncio.gather(*workers)

        while load.waiting:
            answer = await load.post(load.waiting.pop(0))
            assert answer.status == 200, answer
        loads = {
            rep: (await client.get(f"/v1/reps/{rep}")).json()["load_today"]
            for rep in ("ada", "ben")
        }

    answers = load.answers
    assert max(a.seconds for a in answers) < BOUND
    unavailable = [a for a in answers if a.status == 503]
    assert {a.status for a in answers} == {200, 503}
    assert any(stopped < a.at < restarted for a in unavailable)
    assert any(frozen < a.at < thawed + BOUND for a in unavailable)
    for answer in unavailable:
        assert answer.body["error"] == "routing state unavailable"
        assert "cannot be reached" in answer.body["detail"]["explanation"]
        assert answer.retry_after == "1"
    tail = answers[-40:]
    assert [a.status for a in tail] == [200] * len(tail)

    decisions: dict[str, set[str]] = defaultdict(set)
    for answer in answers:
        if answer.status == 200:
            decisions[answer.lead_id].add(answer.body["decision_id"])
    assert all(len(ids) == 1 for ids in decisions.values())

    # Every decision the restarted server holds was answered, and counted once.
    since_restart = [lead for lead, at in load.decided.items() if at > restarted]
    firsts = {a.lead_id: a.body for a in answers if a.status == 200 and a.at > restarted}
    counted = {rep: sum(1 for lead in since_restart if firsts[lead]["primary"]["id"] == rep)
               for rep in ("ada", "ben")}  # fmt: skip
    assert loads == counted
    assert sum(loads.values()) == len(since_restart) > 0

    with redis.Redis(port=own_redis.port, decode_responses=True) as server:
        stats = server.info("commandstats")
    assert stats["cmdstat_script|load"]["calls"] >= 1  # reloaded after NOSCRIPT


async def test_calls_beyond_the_pool_wait_for_a_connection_then_answer_unavailable(
    own_redis: RedisServer, rules_name: str
) -> None:
    settings = Settings(
        redis_url=own_redis.url,
        redis_max_connections=2,
        redis_pool_timeout_seconds=0.1,
        redis_socket_timeout_seconds=0.3,
    )
    state = open_redis(settings, rules_name)
    try:
        assert await state.ping()
        own_redis.pause()
        try:
            # Calls that arrive together share a pipeline of at most BATCH_LIMIT, so
            # it takes six full pipelines to want more than the two connections.
            started = time.monotonic()
            results = await asyncio.gather(
                *(state.execute(plan(f"L{i}", WEST_POOL), stamp()) for i in range(6 * BATCH_LIMIT)),
                return_exceptions=True,
            )
            elapsed = time.monotonic() - started
        finally:
            own_redis.resume()
        assert all(isinstance(r, StateUnavailable) for r in results), results
        reasons = sorted(str(r).split(": ", 1)[1] for r in results)
        assert reasons.count("No connection available.") == 4 * BATCH_LIMIT
        assert reasons.count(f"Timeout reading from {HOST}:{own_redis.port}") == 2 * BATCH_LIMIT
        assert elapsed < BOUND
        assert await state.execute(plan("after", WEST_POOL), stamp()) is not None
    finally:
        await state.close()


async def test_an_app_started_while_redis_is_down_becomes_ready_when_it_comes(
    tmp_path: Path,
) -> None:
    port = free_port()
    rules = copy_rules(CASES / "order", tmp_path)
    app = create_app(Settings(rules_dir=rules, redis_url=f"redis://{HOST}:{port}/0"))
    server = RedisServer(port, tmp_path / "late-redis")
    try:
        async with asgi_client(app) as client:
            status, seconds = await readiness(client)
            assert status == 503 and seconds < BOUND
            started = time.monotonic()
            refused = await client.post("/v1/route", json={"id": "L1", **WEST})
            assert refused.status_code == 503 and time.monotonic() - started < BOUND
            assert refused.json()["error"] == "routing state unavailable"

            await asyncio.to_thread(server.start)
            await recovered(client)
            routed = await client.post("/v1/route", json={"id": "L1", **WEST})
            assert routed.status_code == 200 and routed.json()["primary"]["id"] == "ada"
    finally:
        server.stop()


async def test_a_batch_cut_short_by_an_outage_reports_each_lead_it_could_not_decide(
    own_redis: RedisServer, tmp_path: Path
) -> None:
    rules = copy_rules(CASES / "order", tmp_path)
    app = create_app(Settings(rules_dir=rules, redis_url=own_redis.url))
    async with asgi_client(app) as client:
        state = app.state.router.state
        execute = state.execute
        calls = 0

        async def stop_before_the_second(*args: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls == 2:
                await asyncio.to_thread(own_redis.stop)
            return await execute(*args)

        state.execute = stop_before_the_second
        leads = [{"id": f"cut-{n}", **WEST} for n in range(3)]
        response = await client.post("/v1/route/batch", json={"leads": leads})
        decisions = response.json()["decisions"]

        assert response.status_code == 200
        assert decisions[0]["lead_id"] == "cut-0" and decisions[0]["primary"]["type"] == "rep"
        assert [d["lead_id"] for d in decisions[1:]] == ["cut-1", "cut-2"]
        for entry in decisions[1:]:
            assert entry["status"] == 503
            assert entry["error"].startswith(f"Redis at 127.0.0.1:{own_redis.port} cannot be")
            assert entry["error"].endswith("; this lead may not have been decided: send it again")
        assert calls == 2  # the third lead was not tried

        # With nothing decided, the whole batch is a 503 and changed nothing.
        again = await client.post("/v1/route/batch", json={"leads": leads[1:]})
        assert again.status_code == 503
        assert again.json()["error"] == "routing state unavailable"


@pytest.fixture
def locked_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server that refuses every command until the client gives its password."""
    yield from serving(tmp_path / "redis", password="s3cret")


@pytest.mark.parametrize(
    ("credentials", "reason"),
    [
        (
            "",
            "it requires a password; give it in the Redis URL (ROUTER_REDIS_URL or "
            "--redis-url) as redis://:PASSWORD@{where}/0, or redis://USER:PASSWORD@{where}/0 "
            "for an ACL user",
        ),
        (
            ":wrong@",
            "it does not accept the user name and password of the Redis URL "
            "(ROUTER_REDIS_URL or --redis-url): invalid username-password pair or user is "
            "disabled.",
        ),
    ],
    ids=["no-password", "wrong-password"],
)
async def test_a_redis_that_wants_a_password_is_named_as_refusing_us_not_unreachable(
    locked_redis: RedisServer, tmp_path: Path, credentials: str, reason: str
) -> None:
    where = f"{HOST}:{locked_redis.port}"
    url = f"redis://{credentials}{where}/0"
    rules = copy_rules(CASES / "order", tmp_path)
    async with asgi_client(create_app(Settings(rules_dir=rules, redis_url=url))) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["reason"] == (
            f"Redis at {where} refused the connection for authentication (ping): "
            + reason.format(where=where)
        )
        routed = await client.post("/v1/route", json={"id": "A1", **WEST})
        assert routed.status_code == 503
        assert routed.json()["detail"]["explanation"] == (
            f"Redis at {where} refused the connection for authentication (execute): "
            + reason.format(where=where)
        )

    url = f"redis://:s3cret@{where}/0"
    async with asgi_client(create_app(Settings(rules_dir=rules, redis_url=url))) as client:
        assert (await client.get("/readyz")).status_code == 200

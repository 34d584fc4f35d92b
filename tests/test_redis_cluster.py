"""The Redis store on a 3-master Redis Cluster: one slot per rule set, scripts, the app.

The whole state contract also runs on the cluster (tests/test_state_contract.py,
the `redis-cluster` parameter); these are the cluster's own concerns.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from router.api.app import create_app
from router.plan import Outcome
from router.settings import Settings
from router.state.base import Fresh, StateUnavailable
from router.state.factory import open_state
from router.state.redis_store import RedisState, namespace, open_redis
from tests.casebook import CASES
from tests.conftest import RedisEndpoint
from tests.http import asgi_client
from tests.test_redis_state import copy_rules
from tests.test_state_contract import NOW, WEST, account, plan, pool, rep, stamp


@pytest.fixture
async def state(
    redis_cluster_endpoint: RedisEndpoint, rules_name: str
) -> AsyncIterator[RedisState]:
    settings = Settings(redis_url=redis_cluster_endpoint.url, redis_cluster=True)
    opened = open_redis(settings, rules_name)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def raw(redis_cluster_endpoint: RedisEndpoint) -> AsyncIterator[RedisCluster]:
    client = RedisCluster.from_url(redis_cluster_endpoint.url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


async def test_the_cluster_has_three_masters_sharing_the_slots(raw: RedisCluster) -> None:
    await raw.initialize()
    masters = raw.get_primaries()
    assert len(masters) == 3
    assert len({raw.keyslot(namespace(f"rules-{i}")) % 3 for i in range(30)}) > 1


async def test_every_key_of_a_rule_set_lives_on_the_node_of_its_slot(
    state: RedisState, raw: RedisCluster, rules_name: str
) -> None:
    overlay = pool(rep("oz"), rep("pia"), rotation="overlay:analytics")
    for index in range(5):
        await state.execute(plan(f"L{index}", WEST, sticky=account(), overlays=[overlay]), stamp())
    await raw.initialize()
    slot = key_slot(namespace(rules_name).encode())
    node = raw.get_node_from_key(namespace(rules_name) + "lead:L0")
    keys = [key async for key in raw.scan_iter(match=namespace(rules_name) + "*")]
    assert len(keys) == 12  # 5 records, 2 rotations, 3 reps loaded, 1 owner, 1 carriers
    assert {key_slot(key.encode()) for key in keys} == {slot}
    on_node = await raw.execute_command("CLUSTER COUNTKEYSINSLOT", slot, target_nodes=node)
    assert on_node == len(keys)


async def test_a_script_flushed_from_every_node_is_loaded_again(
    state: RedisState, raw: RedisCluster
) -> None:
    assert await state.execute(plan("L1", WEST), stamp()) == Fresh(Outcome("ada", "pool"))
    await raw.script_flush()
    assert await state.execute(plan("L2", WEST), stamp()) == Fresh(Outcome("ben", "pool"))
    assert (await state.preview(plan("L3", WEST), NOW)).primary == "ada"


async def test_the_setting_selects_the_cluster_client(
    redis_cluster_endpoint: RedisEndpoint,
) -> None:
    settings = Settings(redis_url=redis_cluster_endpoint.url, redis_cluster=True)
    store = await open_state(settings, "cluster-settings")
    try:
        assert isinstance(store, RedisState)
        assert isinstance(store.client, RedisCluster) and store.kind == "redis-cluster"
        assert await store.ping()
    finally:
        await store.close()


async def test_the_api_routes_on_the_cluster(
    redis_cluster_endpoint: RedisEndpoint, tmp_path: Path
) -> None:
    rules = copy_rules(CASES / "order", tmp_path)
    settings = Settings(rules_dir=rules, redis_url=redis_cluster_endpoint.url, redis_cluster=True)
    app = create_app(settings)
    west = {"country": "US", "region": "WA"}
    async with asgi_client(app) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["state"] == "redis-cluster"
        picks = []
        for index in range(4):
            response = await client.post("/v1/route", json={"id": f"L{index}", **west})
            picks.append(response.json()["primary"]["id"])
        assert picks == ["ada", "ben", "ada", "ada"]
        again = await client.post("/v1/route", json={"id": "L1", **west})
        assert again.json()["replayed"] is True and again.json()["primary"]["id"] == "ben"


async def test_calls_beyond_the_connection_limit_wait_then_answer_unavailable(
    redis_cluster_endpoint: RedisEndpoint, rules_name: str
) -> None:
    # The cluster client's pools refuse when full; the store's gate makes them wait.
    settings = Settings(
        redis_url=redis_cluster_endpoint.url,
        redis_cluster=True,
        redis_max_connections=1,
        redis_pool_timeout_seconds=0.1,
    )
    store = open_redis(settings, rules_name)
    try:
        assert store._gate is not None
        await store._gate.acquire()  # a call in flight that does not end
        started = time.monotonic()
        with pytest.raises(StateUnavailable, match=r"no free Redis connection within 0\.1 s"):
            await store.execute(plan("L1", WEST), stamp())
        assert 0.1 <= time.monotonic() - started < 1
        store._gate.release()
        assert await store.execute(plan("L1", WEST), stamp()) == Fresh(Outcome("ada", "pool"))
    finally:
        await store.close()

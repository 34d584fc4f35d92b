"""Shared fixtures: real Redis servers (standalone and a 3-master cluster) for the state tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis

from tests.redis_servers import (
    RedisClusterServers,
    RedisServer,
    external_cluster_url,
    external_redis_url,
    start_cluster,
    start_server,
)


@dataclass(frozen=True)
class RedisEndpoint:
    """A Redis the tests may use; `servers` is None for one the developer runs."""

    url: str
    cluster: bool
    servers: RedisServer | RedisClusterServers | None = None


@pytest.fixture(scope="session")
def redis_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisEndpoint]:
    """A standalone Redis: ROUTER_TEST_REDIS_URL, or a redis-server started for the session."""
    external = external_redis_url()
    if external is not None:
        yield RedisEndpoint(external, cluster=False)
        return
    try:
        server = start_server(tmp_path_factory.mktemp("redis"))
    except RuntimeError as error:
        pytest.fail(str(error))
    try:
        yield RedisEndpoint(server.url, cluster=False, servers=server)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_cluster_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisEndpoint]:
    """A Redis Cluster: ROUTER_TEST_REDIS_CLUSTER_URL, or three masters started for the session."""
    external = external_cluster_url()
    if external is not None:
        yield RedisEndpoint(external, cluster=True)
        return
    try:
        cluster = start_cluster(tmp_path_factory.mktemp("redis-cluster"))
    except RuntimeError as error:
        pytest.fail(str(error))
    try:
        yield RedisEndpoint(cluster.url, cluster=True, servers=cluster)
    finally:
        cluster.stop()


@pytest.fixture
def rules_name() -> str:
    """A rule-set name no other test uses: its Redis keys are this test's alone."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def raw(redis_endpoint: RedisEndpoint) -> AsyncIterator[Redis]:
    """A plain client on the standalone Redis, to look at what the store wrote."""
    client = Redis.from_url(redis_endpoint.url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()

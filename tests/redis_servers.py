"""Start and stop real redis-server processes for the tests, on free loopback ports.

Every process started here is stopped by its owner's `finally`, and by an atexit
hook should the test run die first. Set ROUTER_TEST_REDIS_URL (and, for the
cluster, ROUTER_TEST_REDIS_CLUSTER_URL) to use a server you run instead; the
tests then only touch keys under namespaces of their own.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

HOST = "127.0.0.1"
MISSING = (
    "redis-server and redis-cli are needed for the Redis tests and were not found on "
    "PATH: run `make redis-server` (scripts/install-redis), or set ROUTER_TEST_REDIS_URL "
    "to a Redis you run"
)

_running: set[subprocess.Popen[bytes]] = set()


def _stop_all() -> None:
    for process in list(_running):
        _terminate(process)


atexit.register(_stop_all)


def binaries() -> tuple[str, str]:
    """Paths of redis-server and redis-cli; RuntimeError naming the fix when absent."""
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if server is None or cli is None:
        raise RuntimeError(MISSING)
    return server, cli


def free_port(with_bus: bool = False) -> int:
    """A loopback port free now (and its cluster bus port, port + 10000, if asked)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((HOST, 0))
            port = int(probe.getsockname()[1])
        if not with_bus:
            return port
        if port + 10000 <= 65535 and _is_free(port + 10000):
            return port
    raise RuntimeError("no free loopback port pair for a cluster node")


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        try:
            process.send_signal(signal.SIGCONT)
            process.terminate()
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    _running.discard(process)


@dataclass
class RedisServer:
    """One redis-server: no persistence, data and log in its own directory."""

    port: int
    directory: Path
    cluster: bool = False
    password: str | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self) -> RedisServer:
        server, _ = binaries()
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            server,
            "--port", str(self.port),
            "--bind", HOST,
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.directory),
            "--logfile", str(self.directory / "redis.log"),
        ]  # fmt: skip
        if self.password is not None:
            args += ["--requirepass", self.password]
        if self.cluster:
            args += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
            args += ["--cluster-node-timeout", "2000"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _running.add(self.process)
        self._wait_until_answering()
        return self

    def _wait_until_answering(self, timeout: float = 10.0) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.directory / "redis.log"
                told = log.read_text() if log.exists() else ""
                raise RuntimeError(f"redis-server on port {self.port} exited: {told[-800:]}")
            if self.answers():
                return
            time.sleep(0.02)
        raise RuntimeError(f"redis-server on port {self.port} did not answer in {timeout} s")

    def answers(self) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                # A server that demands a password answers, refusing the PING.
                return conn.recv(64).startswith((b"+PONG", b"-NOAUTH"))
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the process; its data is gone (no persistence)."""
        if self.process is not None:
            _terminate(self.process)
            self.process = None

    def pause(self) -> None:
        """Freeze the process (SIGSTOP): connections hang, as on a stalled network."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


def start_server(
    directory: Path | None = None, port: int | None = None, password: str | None = None
) -> RedisServer:
    """A standalone redis-server on a free loopback port, answering when returned;
    with `password`, one that refuses every command until a client gives it."""
    home = directory or Path(tempfile.mkdtemp(prefix="router-redis-"))
    for attempt in range(3):
        server = RedisServer(port or free_port(), home, password=password)
        try:
            return server.start()
        except RuntimeError:
            server.stop()
            if port is not None or attempt == 2:
                raise
    raise AssertionError("unreachable")


@dataclass
class RedisClusterServers:
    """Three masters, no replicas, every slot assigned."""

    nodes: list[RedisServer]

    @property
    def url(self) -> str:
        return self.nodes[0].url

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def start_cluster(directory: Path | None = None, masters: int = 3) -> RedisClusterServers:
    """Start `masters` cluster-enabled servers and join them with redis-cli."""
    _, cli = binaries()
    home = directory or Path(tempfile.mkdtemp(prefix="router-redis-cluster-"))
    nodes: list[RedisServer] = []
    try:
        for index in range(masters):
            node = RedisServer(free_port(with_bus=True), home / f"node{index}", cluster=True)
            nodes.append(node.start())
        addresses = [f"{HOST}:{node.port}" for node in nodes]
        created = subprocess.run(
            [cli, "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True,
            timeout=30,
            check=False,
        )
        if created.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {created.stdout[-800:]!r}")
        _wait_for_cluster(nodes)
    except BaseException:
        for node in nodes:
            node.stop()
        raise
    return RedisClusterServers(nodes)


def _wait_for_cluster(nodes: list[RedisServer], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    pending = list(nodes)
    while pending and time.monotonic() < deadline:
        node = pending[0]
        with redis.Redis(
            host=HOST, port=node.port, socket_timeout=1, decode_responses=True
        ) as client:
            info = client.cluster("info")
        if info.get("cluster_state") == "ok" and str(info.get("cluster_slots_assigned")) == "16384":
            pending.pop(0)
        else:
            time.sleep(0.05)
    if pending:
        raise RuntimeError(f"the cluster did not become ok within {timeout} s")


def external_redis_url() -> str | None:
    """The standalone Redis the developer asked the tests to use, if any."""
    return os.environ.get("ROUTER_TEST_REDIS_URL") or None


def external_cluster_url() -> str | None:
    """A node of the Redis Cluster the developer asked the tests to use, if any."""
    return os.environ.get("ROUTER_TEST_REDIS_CLUSTER_URL") or None

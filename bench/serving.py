"""HTTP: `router serve` with 1 and 2 workers, embedded and Redis state, loaded from a
separate process (bench.loadgen) on loopback.

For each server: a warm-up, then saturation (closed loop, median of several runs),
then fixed rates (open loop) with p50/p99/p99.9 latency. The server's CPU time per
request comes from /proc for the whole process group (uvicorn master and workers);
the load generator reports its own CPU share, since on two cores it competes with
the server for them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import synthetic
from bench.processes import (
    BIN,
    HOST,
    free_port,
    group_cpu_seconds,
    start,
    start_redis,
    stop,
    wait_for_port,
)
from bench.report import OUT, median, progress, say, table, write_json

LOGS = OUT / "logs"


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    workers: int
    state: str

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


def clean_env(redis_url: str | None) -> dict[str, str]:
    """This environment without any ROUTER_* setting, plus the Redis URL when given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUTER_")}
    if redis_url:
        env["ROUTER_REDIS_URL"] = redis_url
    return env


def serve(rules: Path, workers: int, redis_url: str | None) -> Server:
    """`router serve` on a free port, returned once every worker has compiled the rules."""
    port = free_port()
    state = "redis" if redis_url else "embedded"
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"serve-{state}-{workers}w-{port}.log"
    args = [str(BIN / "router"), "serve", "--rules", str(rules), "--host", HOST]
    args += ["--port", str(port), "--workers", str(workers)]
    if redis_url:
        args += ["--redis-url", redis_url]
    process = start(args, log, env=clean_env(redis_url))
    server = Server(process, port, workers, state)
    wait_for_port(port)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"router serve exited with {process.returncode}; see {log}")
        try:
            if httpx.get(f"{server.url}/readyz", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    settle(process)
    return server


def settle(process: subprocess.Popen[bytes], idle: float = 0.15) -> None:
    """Wait until the server's processes stop burning CPU (every worker has compiled)."""
    last = group_cpu_seconds(process)
    for _ in range(600):
        time.sleep(1.0)
        now = group_cpu_seconds(process)
        if now - last < idle:
            return
        last = now


def load(
    server: Server,
    leads: Path,
    mode: str,
    duration: float,
    connections: int,
    rate: float = 0.0,
    warmup: float = 2.0,
) -> dict[str, Any]:
    """Run bench.loadgen in its own process; add the server's CPU seconds per request."""
    args = [sys.executable, "-m", "bench.loadgen", "--port", str(server.port)]
    args += ["--leads", str(leads), "--prefix", f"b{uuid.uuid4().hex[:10]}", "--mode", mode]
    args += ["--connections", str(connections), "--duration", str(duration)]
    args += ["--warmup", str(warmup), "--rate", str(rate)]
    cpu_before = group_cpu_seconds(server.process)
    started = time.monotonic()
    done = subprocess.run(args, capture_output=True, check=False, cwd=Path(__file__).parent.parent)
    wall = time.monotonic() - started
    cpu_after = group_cpu_seconds(server.process)
    if done.returncode != 0:
        raise RuntimeError(f"loadgen failed: {done.stderr.decode()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    spent = cpu_after - cpu_before
    # Over the load generator's whole life (its start-up, when the server idles, included).
    result["server_cpu_share"] = spent / wall
    answered = result["answered_in_all"]
    result["server_cpu_us_per_request"] = spent / answered * 1e6 if answered else None
    return result


def scenario(
    rules: Path,
    workers: int,
    redis_url: str | None,
    leads: Path,
    saturation_runs: int,
    duration: float,
    rates: tuple[float, ...],
) -> dict[str, Any]:
    server = serve(rules, workers, redis_url)
    try:
        progress(f"{server.state}, {workers} worker(s): warm-up")
        load(server, leads, "saturate", 3.0, 16, warmup=1.0)
        saturation = []
        for attempt in range(saturation_runs):
            progress(f"{server.state}, {workers} worker(s): saturation {attempt + 1}")
            saturation.append(load(server, leads, "saturate", duration, 32 * workers))
        fixed = {}
        for rate in rates:
            progress(f"{server.state}, {workers} worker(s): {rate:.0f} req/s")
            fixed[str(int(rate))] = load(server, leads, "rate", duration * 1.5, 64, rate=rate)
    finally:
        stop(server.process)
    return {"saturation": saturation, "fixed": fixed}


def run(
    size_key: str = "1k",
    saturation_runs: int = 3,
    duration: float = 10.0,
    rates: tuple[float, ...] = (250.0, 500.0, 1000.0),
) -> dict[str, Any]:
    rules, _ = synthetic.ensure_rules(synthetic.SIZE_BY_KEY[size_key])
    leads = synthetic.leads_file(20_000)
    LOGS.mkdir(parents=True, exist_ok=True)
    redis_process, redis_url = start_redis(LOGS / "redis.log")
    results: dict[str, Any] = {}
    try:
        for state, url in (("embedded", None), ("redis", redis_url)):
            for workers in (1, 2):
                results[f"{state}/{workers}"] = scenario(
                    rules, workers, url, leads, saturation_runs, duration, rates
                )
    finally:
        stop(redis_process)
    return present(results, size_key)


def present(results: dict[str, Any], size_key: str) -> dict[str, Any]:
    rows_sat, rows_rate = [], []
    for name, result in results.items():
        state, workers = name.split("/")
        runs = result["saturation"]
        rows_sat.append(
            [
                state,
                int(workers),
                median([r["throughput"] for r in runs]),
                min(r["throughput"] for r in runs),
                max(r["throughput"] for r in runs),
                median([r["latency_ms"]["p50"] for r in runs]),
                median([r["latency_ms"]["p99"] for r in runs]),
                sum(r["failed"] for r in runs),
                median([r["server_cpu_us_per_request"] or 0.0 for r in runs]),
                median([r["server_cpu_share"] for r in runs]),
                median([r["client_cpu_share"] for r in runs]),
            ]
        )
        for rate, r in result["fixed"].items():
            rows_rate.append(
                [
                    state,
                    int(workers),
                    int(rate),
                    r["throughput"],
                    r["latency_ms"]["p50"],
                    r["latency_ms"]["p99"],
                    r["latency_ms"]["p999"],
                    r["latency_ms"]["max"],
                    r["failed"],
                    r["server_cpu_us_per_request"],
                    r["server_cpu_share"],
                    r["client_cpu_share"],
                ]
            )
    say(
        table(
            f"HTTP saturation, POST /v1/route, rules {size_key} (closed loop, 32 connections "
            "per worker; decisions/s)",
            [
                "state",
                "workers",
                "req/s median",
                "min",
                "max",
                "p50 ms",
                "p99 ms",
                "failed",
                "server CPU us/req",
                "server cores",
                "client cores",
            ],
            rows_sat,
        )
    )
    say(
        table(
            "HTTP latency at fixed rates (open loop, 64 connections; latency from the due time)",
            [
                "state",
                "workers",
                "rate",
                "achieved",
                "p50 ms",
                "p99 ms",
                "p99.9 ms",
                "max ms",
                "failed",
                "server CPU us/req",
                "server cores",
                "client cores",
            ],
            rows_rate,
        )
    )
    for result in results.values():
        for r in [*result["saturation"], *result["fixed"].values()]:
            r.pop("timeline", None)
    path = write_json("http", {"rules": size_key, "results": results})
    say(f"written {path}\n")
    return results

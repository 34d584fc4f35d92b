"""Compile time and peak memory per rule-set size, and a reload while load runs.

Compiling runs in a child process per measurement (`python -m bench.compiling
child DIR`), so that its peak RSS is its own; a child that only imports the
compiler gives the baseline. The phases (reading YAML with line numbers,
validating with pydantic, building the indexes) are timed in a separate child.

The reload test serves a copy of a rule set, sends load at a fixed rate from
bench.loadgen, and meanwhile edits a comment in the copy (a new version) and
POSTs /v1/rules/reload. It reports failed requests, the latency around the
reload, and which versions GET /v1/rules answers afterwards on fresh connections
(with several workers, each worker holds its own rules).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from bench import serving, synthetic
from bench.processes import run_measured, start_redis, stop
from bench.report import OUT, median, progress, say, table, write_json

REPEATS = {"10": 3, "1k": 3, "10k": 2}


def child(directory: str, phases: bool) -> None:
    """Compile once and print the seconds taken (and per phase, if asked) as JSON."""
    from router.ruleset import schema
    from router.ruleset.compiler import compile_rules
    from router.ruleset.loading import load_directory

    found: dict[str, float] = {}
    if phases:
        started = time.perf_counter()
        loaded = load_directory(Path(directory))
        found["read_yaml_s"] = time.perf_counter() - started
        started = time.perf_counter()
        schema.RuleSet.model_validate(loaded.document)
        found["validate_s"] = time.perf_counter() - started
    else:
        started = time.perf_counter()
        compile_rules(directory)
        found["compile_s"] = time.perf_counter() - started
    print(json.dumps(found))


def measure_compile(size_keys: list[str]) -> dict[str, Any]:
    base = run_measured([sys.executable, "-c", "import router.ruleset.compiler, router.leads"])
    results: dict[str, Any] = {"baseline_rss_mb": base.max_rss_mb, "sizes": {}}
    rows = []
    for key in size_keys:
        directory, info = synthetic.ensure_rules(synthetic.SIZE_BY_KEY[key])
        runs = []
        for attempt in range(REPEATS[key]):
            progress(f"compiling {key}, run {attempt + 1}")
            done = run_measured([sys.executable, "-m", "bench.compiling", "child", str(directory)])
            if done.code != 0:
                raise RuntimeError(done.stderr[-2000:])
            runs.append({**json.loads(done.stdout), "max_rss_mb": done.max_rss_mb})
        progress(f"compiling {key}: phases")
        split = run_measured(
            [sys.executable, "-m", "bench.compiling", "child", str(directory), "--phases"]
        )
        phases = json.loads(split.stdout)
        compile_s = median([r["compile_s"] for r in runs])
        rss = median([r["max_rss_mb"] for r in runs])
        build_s = compile_s - phases["read_yaml_s"] - phases["validate_s"]
        files_mb = sum(p.stat().st_size for p in directory.rglob("*.yaml")) / 1e6
        results["sizes"][key] = {
            **info,
            "yaml_mb": files_mb,
            "compile_s": compile_s,
            "max_rss_mb": rss,
            "rss_above_baseline_mb": rss - base.max_rss_mb,
            "phases": {**phases, "build_s": build_s},
            "runs": runs,
        }
        rows.append(
            [
                key,
                info["territories"],
                info["postal_rules"],
                files_mb,
                len(runs),
                compile_s,
                phases["read_yaml_s"],
                phases["validate_s"],
                build_s,
                rss,
                rss - base.max_rss_mb,
            ]
        )
    say(
        table(
            f"Compile (router.ruleset.compile_rules in a fresh process; baseline RSS "
            f"{base.max_rss_mb:.0f} MB after imports)",
            [
                "size",
                "territories",
                "postal rules",
                "YAML MB",
                "runs",
                "compile s",
                "read YAML s",
                "validate s",
                "build s",
                "peak RSS MB",
                "above baseline MB",
            ],
            rows,
        )
    )
    return results


def versions_seen(url: str, asks: int = 20) -> dict[str, int]:
    """Rule versions answered by GET /v1/rules, each on a new connection."""
    seen: Counter[str] = Counter()
    for _ in range(asks):
        with httpx.Client(timeout=300) as client:
            seen[client.get(f"{url}/v1/rules").json()["version"]] += 1
    return dict(seen)


def reload_under_load(
    size_key: str, workers: int, redis_url: str | None, rate: float, duration: float
) -> dict[str, Any]:
    source, _ = synthetic.ensure_rules(synthetic.SIZE_BY_KEY[size_key])
    copy = OUT / f"reload-{size_key}"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(source, copy)
    server = serving.serve(copy, workers, redis_url)
    leads = synthetic.leads_file(20_000)
    reloads: list[dict[str, Any]] = []
    try:
        before = versions_seen(server.url)
        args = [sys.executable, "-m", "bench.loadgen", "--port", str(server.port)]
        args += ["--leads", str(leads), "--prefix", f"r{uuid.uuid4().hex[:10]}"]
        args += ["--mode", "rate", "--rate", str(rate), "--connections", "64"]
        args += ["--duration", str(duration), "--warmup", "1"]
        loader = subprocess.Popen(args, stdout=subprocess.PIPE, cwd=Path(__file__).parent.parent)
        started = time.monotonic()
        for at in (duration * 0.25, duration * 0.6):
            time.sleep(max(0.0, started + 1 + at - time.monotonic()))
            with (copy / "products.yaml").open("a") as edit:
                edit.write(f"# reload {uuid.uuid4().hex}\n")
            progress(f"reload {len(reloads) + 1} ({size_key}, {workers} worker(s))")
            sent = time.monotonic()
            answer = httpx.post(f"{server.url}/v1/rules/reload", timeout=600)
            reloads.append(
                {
                    "at_s": round(sent - started - 1, 1),
                    "status": answer.status_code,
                    "seconds": time.monotonic() - sent,
                    "version": answer.json().get("version"),
                }
            )
        output, _ = loader.communicate(timeout=duration + 900)
        result: dict[str, Any] = json.loads(output)
        after = versions_seen(server.url)
    finally:
        stop(server.process)
    worst = max(result["timeline"], key=lambda b: b[2]) if result["timeline"] else None
    return {
        "size": size_key,
        "workers": workers,
        "state": server.state,
        "rate": rate,
        "load": result,
        "reloads": reloads,
        "versions_before": before,
        "versions_after": after,
        "worst_second": worst,
    }


def run(size_keys: list[str] | None = None, reload_sizes: tuple[str, ...] = ("1k", "10k")) -> Any:
    keys = size_keys or [s.key for s in synthetic.SIZES]
    compiled = measure_compile(keys)
    serving.LOGS.mkdir(parents=True, exist_ok=True)
    redis_process, redis_url = start_redis(serving.LOGS / "redis-reload.log")
    tests = []
    try:
        for size_key in reload_sizes:
            # Rates well below what one worker sustains, so that what shows is the reload.
            if size_key == "10k":
                tests.append(reload_under_load(size_key, 1, None, 100, 120))
            else:
                tests.append(reload_under_load(size_key, 1, None, 200, 30))
                tests.append(reload_under_load(size_key, 2, redis_url, 200, 30))
    finally:
        stop(redis_process)
    rows = []
    for test in tests:
        load = test["load"]
        reload_text = "; ".join(
            f"{r['status']} in {r['seconds']:.1f} s at {r['at_s']:.0f} s" for r in test["reloads"]
        )
        rows.append(
            [
                test["size"],
                test["state"],
                test["workers"],
                int(test["rate"]),
                load["sent"],
                load["failed"],
                load["latency_ms"]["p50"],
                load["latency_ms"]["p99"],
                load["latency_ms"]["max"],
                reload_text,
                len(test["versions_after"]),
            ]
        )
    say(
        table(
            "Reload under load (POST /v1/rules/reload twice during fixed-rate load)",
            [
                "size",
                "state",
                "workers",
                "rate",
                "requests",
                "failed",
                "p50 ms",
                "p99 ms",
                "max ms",
                "reloads (status, time, when)",
                "versions served after",
            ],
            rows,
        )
    )
    path = write_json("compile", {"compile": compiled, "reload": tests})
    say(f"written {path}\n")
    return {"compile": compiled, "reload": tests}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.compiling")
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("child", help="compile once and print the time as JSON")
    one.add_argument("directory")
    one.add_argument("--phases", action="store_true")
    args = parser.parse_args(argv)
    child(args.directory, args.phases)


if __name__ == "__main__":
    main()

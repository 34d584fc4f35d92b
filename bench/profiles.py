"""Where the time goes: cProfile of the in-process decision and of one server worker.

cProfile slows small functions more than big ones, so the shares are a guide to
what to look at, not exact costs; the tables give each function's own time and
its time including callees, as a share of the profiled total. A coroutine counts
one call each time it resumes, so async functions show more calls per request
than they are called.

The server profile runs `uvicorn.run(create_app, ...)` under cProfile in a child
process (`python -m bench.profiles serve-child ...`, the same app and settings as
`router serve` with one worker), loads it with bench.loadgen from another process,
then stops it with SIGINT so that it writes its statistics.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import os
import pstats
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import synthetic
from bench.processes import HOST, ROOT, free_port, start, stop
from bench.report import OUT, progress, say, table, write_json

Entry = tuple[str, int, float, float]


def top(stats: pstats.Stats, limit: int = 20, skip: tuple[str, ...] = ()) -> list[Entry]:
    """(function, calls, own share, cumulative share) of the largest own times."""
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values()) or 1.0
    entries = []
    for (file, line, name), (_, calls, own, cumulative, _) in raw.items():
        where = file.replace(str(ROOT) + "/", "")
        if "site-packages/" in where:
            where = where.split("site-packages/", 1)[1]
        elif where.startswith(sys.base_prefix):
            where = "stdlib:" + Path(where).name
        label = f"{where}:{line}({name})"
        if any(s in label for s in skip):
            continue
        entries.append((label, int(calls), own / total, cumulative / total))
    entries.sort(key=lambda e: e[2], reverse=True)
    return entries[:limit]


def by_cumulative(stats: pstats.Stats, names: list[str]) -> list[Entry]:
    """Cumulative shares of chosen functions (substring of file:line(function))."""
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values()) or 1.0
    found = []
    for (file, line, name), (_, calls, own, cumulative, _) in raw.items():
        label = f"{file.replace(str(ROOT) + '/', '')}:{line}({name})"
        if any(_matches(label, n) for n in names):
            found.append((label, int(calls), own / total, cumulative / total))
    found.sort(key=lambda e: e[3], reverse=True)
    return found


def _matches(label: str, pattern: str) -> bool:
    """Whether the parts of `pattern` between `*` all occur in `label`, in order."""
    at = 0
    for part in pattern.split("*"):
        at = label.find(part, at)
        if at < 0:
            return False
        at += len(part)
    return True


def rows(entries: list[Entry], per: int) -> list[list[str | int | float | None]]:
    return [[label, calls / per, own * 100, cum * 100] for label, calls, own, cum in entries]


# in process -------------------------------------------------------------------------


def decisions(size_key: str = "10k", count: int = 10_000) -> dict[str, Any]:
    from bench import decisions as bench_decisions

    subject = bench_decisions.load(synthetic.SIZE_BY_KEY[size_key], count)
    bench_decisions.time_ours(subject)
    # With the collector off: cProfile would charge its pauses to whichever function
    # happened to allocate (the decisions table's "frozen" columns measure them).
    gc.collect()
    gc.disable()
    profile = cProfile.Profile()
    profile.enable()
    bench_decisions.time_ours(subject)
    profile.disable()
    gc.enable()
    stats = pstats.Stats(profile)
    own = top(stats, 22, skip=("bench/decisions.py", "uuid.py"))
    steps = by_cumulative(
        stats,
        [
            "engine.py:*(prepare)",
            "leads.py:*(normalise)",
            "(_product)",
            "(_segment)",
            "(_named_account)",
            "(_stickiness)",
            "(_territory)",
            "engine.py:*(lookup)",
            "(_overlays)",
            "(fingerprint)",
            "(execute_now)",
            "(conclude)",
            "engine.py:*(step)",
        ],
    )
    headers = ["function", "calls/lead", "own %", "incl. %"]
    say(
        table(
            f"Profile: in-process decision, rules {size_key} (own time)", headers, rows(own, count)
        )
    )
    say(
        table(
            f"Profile: decision steps, rules {size_key} (incl. callees)",
            headers,
            rows(steps, count),
        )
    )
    return {"own": own, "steps": steps}


def batch(size_key: str = "1k", count: int = 20_000) -> dict[str, Any]:
    """What `router simulate` spends its time on: reading, validating, deciding, counting."""
    from router.leadfiles import ColumnMapping, read_leads
    from router.ruleset.compiler import compile_rules
    from router.simulate import simulate

    rules, _ = synthetic.ensure_rules(synthetic.SIZE_BY_KEY[size_key])
    compiled = compile_rules(rules)
    source = OUT / f"leads-profile-{count}.jsonl"
    source.write_text("".join(synthetic.read_lines(synthetic.leads_file(100_000), count)))
    mapping = ColumnMapping.from_options([], [], [], None)
    with source.open("rb") as warm:
        simulate(compiled, read_leads(warm, mapping, "jsonl"))
    profile = cProfile.Profile()
    with source.open("rb") as binary:
        profile.enable()
        simulate(compiled, read_leads(binary, mapping, "jsonl"))
        profile.disable()
    stats = pstats.Stats(profile)
    own = top(stats, 20)
    steps = by_cumulative(
        stats,
        [
            "(read_jsonl)",
            "(read_object)",
            "(_checked)",
            "(model_validate)",
            "(loads)",
            "engine.py:*(prepare)",
            "(execute_now)",
            "(conclude)",
            "simulate.py:*(_count)",
        ],
    )
    headers = ["function", "calls/lead", "own %", "incl. %"]
    say(table(f"Profile: router simulate, rules {size_key} (own time)", headers, rows(own, count)))
    say(table(f"Profile: router simulate, rules {size_key} (steps)", headers, rows(steps, count)))
    return {"own": own, "steps": steps}


def compiling(size_key: str = "10k") -> dict[str, Any]:
    """Where compiling the rules goes: YAML, validation, indexes, review."""
    from router.ruleset.compiler import compile_rules

    rules, _ = synthetic.ensure_rules(synthetic.SIZE_BY_KEY[size_key])
    profile = cProfile.Profile()
    profile.enable()
    compile_rules(rules)
    profile.disable()
    stats = pstats.Stats(profile)
    own = top(stats, 15)
    steps = by_cumulative(
        stats,
        [
            "loading.py:*(load_directory)",
            "loading.py:*(_walk)",
            "(model_validate)",
            "compiler.py:*(build)",
            "compiler.py:*(territories)",
            "indexes.py:*(claim)",
            "indexes.py:*(place_claims)",
            "indexes.py:*(<genexpr>)",
            "indexes.py:*(build)",
            "compiler.py:*(review)",
            "compiler.py:*(coverage_gaps)",
        ],
    )
    headers = ["function", "calls", "own %", "incl. %"]
    say(table(f"Profile: compile_rules, rules {size_key} (own time)", headers, rows(own, 1)))
    say(table(f"Profile: compile_rules, rules {size_key} (steps)", headers, rows(steps, 1)))
    return {"own": own, "steps": steps}


# the server -------------------------------------------------------------------------


def serve_child(rules: str, port: int, output: str, redis_url: str | None) -> None:
    """Serve the app in this process; profile from the end of start-up until SIGINT."""
    import asyncio

    import uvicorn

    os.environ["ROUTER_RULES_DIR"] = rules
    if redis_url:
        os.environ["ROUTER_REDIS_URL"] = redis_url
    from router import cli
    from router.api.app import create_app

    # As `router serve` configures uvicorn (no access log unless asked, its log format).
    options: dict[str, Any] = {"access_log": False}
    if hasattr(cli, "LOG_CONFIG"):
        options["log_config"] = cli.LOG_CONFIG
    config = uvicorn.Config(create_app, factory=True, host=HOST, port=port, **options)
    server = uvicorn.Server(config)
    profile = cProfile.Profile()

    async def serve() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.05)
        profile.enable()
        await task

    # uvicorn hands the SIGINT that stopped it back to asyncio.run as KeyboardInterrupt.
    with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        asyncio.run(serve())
    profile.disable()
    profile.dump_stats(output)


def server(size_key: str = "1k", redis: bool = False, seconds: float = 10.0) -> dict[str, Any]:
    from bench import serving
    from bench.processes import start_redis, wait_for_port

    rules, _ = synthetic.ensure_rules(synthetic.SIZE_BY_KEY[size_key])
    leads = synthetic.leads_file(20_000)
    serving.LOGS.mkdir(parents=True, exist_ok=True)
    redis_process = None
    redis_url = None
    if redis:
        redis_process, redis_url = start_redis(serving.LOGS / "redis-profile.log")
    port = free_port()
    output = OUT / f"server-{'redis' if redis else 'embedded'}.prof"
    output.unlink(missing_ok=True)
    args = [sys.executable, "-m", "bench.profiles", "serve-child", "--rules", str(rules)]
    args += ["--port", str(port), "--output", str(output)]
    if redis_url:
        args += ["--redis-url", redis_url]
    process = start(args, serving.LOGS / f"profile-{port}.log", env=serving.clean_env(None))
    try:
        wait_for_port(port)
        time.sleep(1.0)
        fake = serving.Server(process, port, 1, "redis" if redis else "embedded")
        progress(f"profiling the server ({fake.state}) under saturation for {seconds:.0f} s")
        result = serving.load(fake, leads, "saturate", seconds, 32, warmup=1.0)
        os.killpg(process.pid, signal.SIGINT)
        process.wait(120)
    except subprocess.TimeoutExpired:
        stop(process)
        raise
    finally:
        if redis_process is not None:
            stop(redis_process)
    stats = pstats.Stats(str(output))
    answered = result["answered_in_all"]
    own = top(stats, 25)
    layers = by_cumulative(
        stats,
        [
            "h11_impl.py",
            "applications.py",
            "routing.py",
            "service.py",
            "engine.py:*(prepare)",
            "engine.py:*(conclude)",
            "(execute",
            "redis_store.py",
            "(model_validate",
            "(jsonable_encoder",
            "(serialize_response",
            "responses.py",
            "logging/__init__.py:1",
            "(to_json",
            "(dumps)",
            "(uuid4)",
        ],
    )[:25]
    headers = ["function", "calls/request", "own %", "incl. %"]
    state = "redis" if redis else "embedded"
    say(table(f"Profile: one server worker, {state}, own time", headers, rows(own, answered)))
    say(table(f"Profile: one server worker, {state}, layers", headers, rows(layers, answered)))
    return {"requests": answered, "own": own, "layers": layers}


def run(size_key: str = "10k") -> dict[str, Any]:
    data = {
        "decisions": decisions(size_key),
        "batch": batch("1k"),
        "compile": compiling(size_key),
        "server_embedded": server("1k", redis=False),
        "server_redis": server("1k", redis=True),
    }
    path = write_json("profiles", data)
    say(f"written {path}\n")
    return data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profiles")
    sub = parser.add_subparsers(dest="command", required=True)
    child = sub.add_parser("serve-child")
    child.add_argument("--rules", required=True)
    child.add_argument("--port", type=int, required=True)
    child.add_argument("--output", required=True)
    child.add_argument("--redis-url")
    args = parser.parse_args(argv)
    serve_child(args.rules, args.port, args.output, args.redis_url)


if __name__ == "__main__":
    main()

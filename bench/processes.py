"""Child processes the benchmarks start: run-and-measure, free ports, CPU time, Redis.

Everything binds to 127.0.0.1 on a port the kernel just handed out, and every
process started here is stopped by whoever started it (and at exit, by the hook).
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
_started: list[subprocess.Popen[bytes]] = []


def _stop_all() -> None:
    for process in _started:
        stop(process)


atexit.register(_stop_all)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True, slots=True)
class Finished:
    """A child that ran to the end: its output, wall time and peak memory."""

    code: int
    stdout: str
    stderr: str
    wall_s: float
    max_rss_mb: float
    cpu_s: float


def run_measured(args: list[str], env: dict[str, str] | None = None) -> Finished:
    """Run a command to the end, with its wall time, peak RSS and CPU time.

    The peak RSS is taken by /usr/bin/time, which forks the command from its own small
    process: wait4 here would report at least this (large) process's RSS at the fork,
    since Linux carries the high-water mark across fork and exec.
    """
    out_dir = ROOT / "bench" / "out"
    err_path = out_dir / f".stderr-{os.getpid()}"
    usage_path = out_dir / f".usage-{os.getpid()}"
    timer = shutil.which("time", path="/usr/bin:/bin")
    if timer is None:
        raise RuntimeError("/usr/bin/time is needed for peak memory (apt-get install time)")
    command = [timer, "-f", "%M %U %S", "-o", str(usage_path), *args]
    started = time.perf_counter()
    with err_path.open("wb") as err:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=err, env=env, cwd=ROOT)
    wall = time.perf_counter() - started
    errors = err_path.read_text(errors="replace")
    err_path.unlink()
    fields = usage_path.read_text().split("\n")
    usage_path.unlink()
    # A non-zero exit adds a "Command exited with non-zero status" line first.
    rss_kb, user, system = next(line for line in fields if line[:1].isdigit()).split()
    return Finished(
        done.returncode,
        done.stdout.decode(errors="replace"),
        errors,
        wall,
        int(rss_kb) / 1024,
        float(user) + float(system),
    )


def start(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """A long-running child in its own process group, output to `log`."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True
        )
    _started.append(process)
    return process


def stop(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM the child's process group (uvicorn's workers too), then SIGKILL if need be."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def group_cpu_seconds(process: subprocess.Popen[bytes]) -> float:
    """User + system CPU seconds of a child and every live process in its group."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command: state, ppid, pgrp, ... utime is field 14, stime 15 (1-based).
        if int(fields[2]) == process.pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def wait_for_port(port: int, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listens on {HOST}:{port} after {timeout:.0f} s")


def start_redis(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A private redis-server with no persistence, and its URL."""
    server = shutil.which("redis-server")
    if server is None:
        raise RuntimeError("redis-server is not installed (make redis-server installs it)")
    port = free_port()
    process = start(
        [
            server,
            "--port",
            str(port),
            "--bind",
            HOST,
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ],
        log,
    )
    wait_for_port(port, 20)
    return process, f"redis://{HOST}:{port}/0"

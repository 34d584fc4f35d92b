"""HTTP load for POST /v1/route, run as its own process: `python -m bench.loadgen ...`.

Raw asyncio sockets and HTTP/1.1 keep-alive, to keep the client's own cost low.
Every request carries a lead id never sent before (`<prefix>-<n>`), so the server
decides each one instead of replaying a stored decision.

Two modes:

* `saturate`: each connection sends its next request as soon as the last answer
  came back (closed loop); the rate is what the server sustains.
* `rate`: requests are due at a fixed rate (open loop) and latency counts from the
  moment a request was due, not from when it could be sent, so that a stalled
  server shows as latency rather than as a slower schedule.

The result is one JSON object on stdout: throughput, latency percentiles, errors
by kind, the client's own CPU use, and a per-second timeline.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import resource
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"


class Bodies:
    """Request bytes for lead n: a lead of the file (in turn) under the id <prefix>-<n>."""

    def __init__(self, path: Path, prefix: str, port: int, limit: int = 5000) -> None:
        self.templates: list[tuple[bytes, bytes]] = []
        with path.open("rb") as source:
            for raw in source:
                data = json.loads(raw)
                data.pop("id", None)
                rest = json.dumps(data, separators=(",", ":")).encode()[1:]
                self.templates.append((b'{"id":"', b'",' + rest if rest != b"}" else b'"}'))
                if len(self.templates) >= limit:
                    break
        self.prefix = prefix.encode()
        self.head = (
            f"POST /v1/route HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode()

    def request(self, number: int) -> bytes:
        start, end = self.templates[number % len(self.templates)]
        body = start + self.prefix + b"-" + str(number).encode() + end
        return self.head + str(len(body)).encode() + b"\r\n\r\n" + body


class Connection(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._answer()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed"))

    def _answer(self) -> None:
        if self.waiter is None:
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        at = head.find(b"content-length:")
        length = 0
        if at >= 0:
            stop = head.find(b"\r\n", at)
            length = int(head[at + 15 : stop if stop >= 0 else None])
        total = end + 4 + length
        if len(self.buffer) < total:
            return
        status = int(head[9:12])
        del self.buffer[:total]
        waiter, self.waiter = self.waiter, None
        if not waiter.done():
            waiter.set_result(status)

    async def send(self, data: bytes) -> int:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return await self.waiter


async def connect(port: int) -> Connection:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(Connection, HOST, port)
    return protocol


@dataclass
class Record:
    """What happened in the measured window (after warm-up)."""

    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    timeline: dict[int, list[float]] = field(default_factory=dict)
    sent: int = 0
    answered_in_all: int = 0
    last_done: float = 0.0

    def done(self, second: int, latency: float, ok: bool) -> None:
        if ok:
            self.latencies.append(latency)
        bucket = self.timeline.setdefault(second, [0.0, 0.0, 0.0])
        bucket[0] += 1
        bucket[1] = max(bucket[1], latency)
        if not ok:
            bucket[2] += 1


class Load:
    """One run: the connections, the schedule and what was recorded."""

    def __init__(self, args: argparse.Namespace, connections: list[Connection]) -> None:
        self.args = args
        self.bodies = Bodies(Path(args.leads), args.prefix, args.port)
        self.loop = asyncio.get_running_loop()
        self.connections = connections
        self.record = Record()
        self.counter = 0
        self.start = self.loop.time() + 0.2
        self.measure_from = self.start + args.warmup
        self.end = self.measure_from + args.duration

    async def worker(self, index: int) -> None:
        loop = self.loop
        while True:
            number = self.counter
            self.counter += 1
            if self.args.mode == "rate":
                due = self.start + number / self.args.rate
                if due >= self.end:
                    return
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            else:
                due = loop.time()
                if due >= self.end:
                    return
            kind = await self.exchange(index, self.bodies.request(number))
            finished = loop.time()
            self.record.answered_in_all += 1
            if due >= self.measure_from:
                self.record.last_done = max(self.record.last_done, finished - self.measure_from)
                self.record.sent += 1
                self.record.done(int(finished - self.measure_from), finished - due, not kind)
                if kind:
                    self.record.errors[kind] += 1

    async def exchange(self, index: int, request: bytes) -> str:
        """Send one request on connection `index`: "" when answered 200, else what failed."""
        connection = self.connections[index]
        if connection.closed:
            connection = self.connections[index] = await connect(self.args.port)
        try:
            status = await asyncio.wait_for(connection.send(request), self.args.timeout)
        except TimeoutError:
            connection.closed = True
            if connection.transport is not None:
                connection.transport.close()
            return "timeout"
        except (ConnectionError, OSError) as error:
            return f"connection: {error}"
        return "" if status == 200 else f"http {status}"


async def run(args: argparse.Namespace) -> dict[str, Any]:
    connections = [await connect(args.port) for _ in range(args.connections)]
    load = Load(args, connections)
    loop = load.loop
    gc.disable()
    await asyncio.sleep(max(0.0, load.start - loop.time()))
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    await asyncio.gather(*(load.worker(i) for i in range(args.connections)))
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    elapsed = loop.time() - load.start
    for connection in load.connections:
        if connection.transport is not None:
            connection.transport.close()
    return summarise(args, load.record, elapsed, cpu_after, cpu_before)


def summarise(
    args: argparse.Namespace,
    record: Record,
    elapsed: float,
    cpu_after: resource.struct_rusage,
    cpu_before: resource.struct_rusage,
) -> dict[str, Any]:
    ordered = sorted(record.latencies)

    def pick(fraction: float) -> float:
        if not ordered:
            return math.nan
        return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))] * 1e3

    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    # When the server falls behind, answers to requests due in the window arrive after it:
    # the rate achieved is over the time until the last of them.
    window = max(args.duration, record.last_done)
    return {
        "mode": args.mode,
        "rate": args.rate if args.mode == "rate" else None,
        "connections": args.connections,
        "duration_s": args.duration,
        "sent": record.sent,
        "ok": len(ordered),
        "failed": sum(record.errors.values()),
        "errors": dict(record.errors),
        "window_s": window,
        "throughput": len(ordered) / window,
        "answered_in_all": record.answered_in_all,
        "latency_ms": {
            "p50": pick(0.50),
            "p90": pick(0.90),
            "p99": pick(0.99),
            "p999": pick(0.999),
            "max": ordered[-1] * 1e3 if ordered else math.nan,
            "mean": sum(ordered) / len(ordered) * 1e3 if ordered else math.nan,
        },
        "client_cpu_share": cpu / elapsed if elapsed else 0.0,
        "timeline": [
            [second, int(v[0]), round(v[1] * 1e3, 2), int(v[2])]
            for second, v in sorted(record.timeline.items())
        ],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--leads", required=True, help="a JSON lines file of leads")
    parser.add_argument("--prefix", required=True, help="lead ids are <prefix>-<n>")
    parser.add_argument("--mode", choices=("saturate", "rate"), default="saturate")
    parser.add_argument("--rate", type=float, default=500.0, help="requests per second")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds not measured")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

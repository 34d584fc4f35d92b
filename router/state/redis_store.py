"""The Redis store: one state for every replica; each decision is one Lua script run.

Keys, all under one hash tag per rule set so that a decision's keys share one
Redis Cluster slot (a decision reads and counts several reps, so the honest unit
is the rule set, and one rule set lives on one cluster node):

    router:{<rules>}:lead:<lead id>          hash: fingerprint, decision_id, decided_at,
                                             rules_version, outcome (JSON); replay TTL
    router:{<rules>}:credits:<rotation>      hash: rep -> credit (17 digits)
    router:{<rules>}:load:<rep>:<local day>  counter; expires two days after its last lead
    router:{<rules>}:owner:<structure:account>  the account's owner
    router:{<rules>}:availability            hash: rep -> paused, away from/until, note
    router:{<rules>}:carriers:<digest>       hash: rep -> local day, blocked; two days

Decision calls made in the same turn of the event loop leave together, as one
non-transactional pipeline of EVALSHA calls: each is still one atomic script run
with its own reply or error, and the client's work per call is shared.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic_core import to_json
from redis import exceptions as redis_errors
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from router.plan import Outcome, Pick, Plan, Sticky
from router.settings import Settings
from router.state.base import (
    DEFAULT_REPLAY_WINDOW,
    Availability,
    Conflict,
    Execution,
    Fresh,
    Recalled,
    Replayed,
    Stamp,
    StateUnavailable,
)

T = TypeVar("T")

LOAD_TTL_SECONDS = 2 * 86400
# The most decision calls sent together in one pipeline (see RedisState._flush).
BATCH_LIMIT = 64
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

# What "Redis cannot answer now" looks like; anything else is a bug and surfaces.
UNREACHABLE: tuple[type[BaseException], ...] = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    redis_errors.ClusterError,
    redis_errors.TryAgainError,
    redis_errors.ReadOnlyError,
    redis_errors.OutOfMemoryError,
    redis_errors.RedisClusterException,
    OSError,
)


def _script(name: str) -> str:
    return resources.files("router.state").joinpath("lua").joinpath(name).read_text("utf-8")


def namespace(rules_name: str) -> str:
    """The key prefix of a rule set; its braces are the Redis Cluster hash tag."""
    return f"router:{{{rules_name or 'default'}}}:"


def micros(moment: dt.datetime) -> int:
    """Epoch microseconds: exact in a Lua double until the year 2255."""
    return (moment - EPOCH) // dt.timedelta(microseconds=1)


class RedisState:
    """Rotation credits, daily load, owners, records and availability in Redis.

    `client` is a redis-py asyncio client (standalone or cluster); every call is
    bounded by `deadline` seconds and raises StateUnavailable when Redis cannot
    answer in time. `gate` bounds the calls in flight when the client's own pool
    cannot wait for a free connection (the cluster client), for `gate_timeout`.
    """

    def __init__(
        self,
        client: Redis | RedisCluster,
        rules_name: str,
        *,
        replay_window: dt.timedelta = DEFAULT_REPLAY_WINDOW,
        deadline: float = 1.25,
        pool: BlockingConnectionPool | None = None,
        gate: asyncio.Semaphore | None = None,
        gate_timeout: float = 0.25,
        where: str = "redis",
        password_given: bool = False,
    ) -> None:
        self.client = client
        self.kind = "redis-cluster" if isinstance(client, RedisCluster) else "redis"
        self.prefix = namespace(rules_name)
        self.window_ms = max(1, int(replay_window.total_seconds() * 1000))
        self.deadline = deadline
        self.where = where
        self._password_given = password_given
        self._pool = pool
        self._gate = gate
        self._gate_timeout = gate_timeout
        self._decide_text = _script("decide.lua")
        self._decide_sha = hashlib.sha1(self._decide_text.encode()).hexdigest()
        # Decision calls that wait for the next turn of the event loop, when they
        # leave together as one pipeline; the pipelines being sent.
        self._waiting: list[_Call] = []
        self._flush_due = False
        self._sending: set[asyncio.Task[None]] = set()
        # Digests of the carriers this store has sent: later calls name them only.
        self._carriers_sent: set[str] = set()

    # the decision step -------------------------------------------------------

    async def execute(self, plan: Plan, stamp: Stamp) -> Execution:
        reply = await self._run_script("execute", plan, stamp.now, stamp)
        if reply[0] == "conflict":
            return Conflict(reply[1], reply[2])
        if reply[0] == "replayed" and reply[1] != stamp.decision_id:
            # A record written before the rule version was kept has none: "".
            return Replayed(reply[1], reply[2], reply[4] or "", outcome_from_json(reply[3]))
        # A replay of our own decision id means an earlier attempt of this very call
        # ran and lost its answer: the decision is still this call's, and fresh.
        return Fresh(outcome_from_json(reply[1] if reply[0] == "fresh" else reply[3]))

    async def preview(self, plan: Plan, now: dt.datetime) -> Outcome:
        reply = await self._run_script("preview", plan, now, None)
        return outcome_from_json(reply[1])

    async def _run_script(
        self, what: str, plan: Plan, now: dt.datetime, stamp: Stamp | None
    ) -> Any:
        """One run of the decision script, two when the server asks for the carriers."""
        digest, text = carriers_of(plan.sticky) if plan.sticky is not None else ("", "")
        known = digest in self._carriers_sent
        keys = [self._record(plan.lead_id)]
        args: list[str | bytes] = [self.prefix]
        args.append(self._call_args(plan, now, stamp, digest, "" if known else text))
        reply = await self._run(what, lambda: self._decide(keys, args))
        if reply[0] == "carriers":
            args = [self.prefix, self._call_args(plan, now, stamp, digest, text)]
            reply = await self._run(what, lambda: self._decide(keys, args))
            if reply[0] == "carriers":
                raise RuntimeError("the decision script did not keep the carriers it was sent")
            known = False
        # A replay or a conflict is answered before the script keeps the carriers.
        if digest and not known and reply[0] in ("fresh", "preview"):
            if len(self._carriers_sent) >= 1024:
                self._carriers_sent.clear()
            self._carriers_sent.add(digest)
        return reply

    # stored decisions, availability and load ----------------------------------

    async def recall(self, lead_id: str) -> Recalled | None:
        key = self._record(lead_id)
        fields = ("fingerprint", "decision_id", "decided_at", "rules_version", "outcome")
        values = await self._run("recall", lambda: self.client.hmget(key, list(fields)))
        text = [v.decode() if isinstance(v, bytes) else v for v in values]
        fingerprint, decision_id, decided_at, rules_version, outcome = text
        if fingerprint is None or decision_id is None or decided_at is None or outcome is None:
            return None
        return Recalled(
            fingerprint, decision_id, decided_at, rules_version or "", outcome_from_json(outcome)
        )

    async def set_availability(self, rep_id: str, availability: Availability) -> None:
        packed = pack_availability(availability)
        key = self.prefix + "availability"
        await self._run("set availability", lambda: self.client.hset(key, rep_id, packed))

    async def availability(self, rep_id: str) -> Availability | None:
        key = self.prefix + "availability"
        packed = await self._run("read availability", lambda: self.client.hget(key, rep_id))
        if packed is None:
            return None
        return unpack_availability(packed if isinstance(packed, str) else packed.decode())

    async def load(self, rep_id: str, day: str) -> int:
        key = f"{self.prefix}load:{rep_id}:{day}"
        raw = await self._run("read load", lambda: self.client.get(key))
        return int(raw or 0)

    async def ping(self) -> bool:
        return await self.problem() is None

    async def problem(self) -> str | None:
        try:
            answered = await self._run("ping", self.client.ping)
        except StateUnavailable as error:
            return str(error)
        except redis_errors.RedisError as error:
            return f"Redis at {self.where} answered PING with an error: {error}"
        return None if answered else f"Redis at {self.where} did not answer PING"

    async def close(self) -> None:
        await self.client.aclose()

    # calling Redis -------------------------------------------------------------

    def _decide(self, keys: list[str], args: list[str | bytes]) -> asyncio.Future[Any]:
        """One run of the decision script, sent with the others of this loop turn.

        Each run is still its own EVALSHA, so each decision stays one atomic
        script run; only the round trip and the client's work are shared. The
        future holds this call's own reply, or its own error.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._waiting.append(_Call(keys, args, future))
        if not self._flush_due:
            self._flush_due = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        """Send the waiting calls, at most BATCH_LIMIT to a pipeline."""
        self._flush_due = False
        # A caller that gave up (its deadline, a cancellation) is not sent.
        calls = [call for call in self._waiting if not call.future.done()]
        self._waiting = []
        for start in range(0, len(calls), BATCH_LIMIT):
            task = asyncio.ensure_future(self._send(calls[start : start + BATCH_LIMIT]))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, calls: list[_Call]) -> None:
        """One non-transactional pipeline of EVALSHA calls; NOSCRIPT loads the script
        and runs again the calls it refused (none of them ran).

        An error of the whole pipeline (a dropped connection, no free connection)
        is every caller's; an error of one call is that caller's alone.
        """
        try:
            replies = await self._pipeline(calls)
            refused = [
                i for i, r in enumerate(replies) if isinstance(r, redis_errors.NoScriptError)
            ]
            if refused:
                await self.client.script_load(self._decide_text)
                again = await self._pipeline([calls[i] for i in refused])
                for i, reply in zip(refused, again, strict=True):
                    replies[i] = reply
        except asyncio.CancelledError:
            for call in calls:
                call.future.cancel()
            raise
        except Exception as error:
            for call in calls:
                if not call.future.done():
                    call.future.set_exception(error)
            return
        for call, reply in zip(calls, replies, strict=True):
            if call.future.done():
                continue
            if isinstance(reply, Exception):
                call.future.set_exception(reply)
            else:
                call.future.set_result(reply)

    async def _pipeline(self, calls: list[_Call]) -> list[Any]:
        async with self.client.pipeline(transaction=False) as pipe:
            for call in calls:
                pipe.evalsha(self._decide_sha, len(call.keys), *call.keys, *call.args)
            return list(await pipe.execute(raise_on_error=False))

    def _record(self, lead_id: str) -> str:
        return self.prefix + "lead:" + lead_id

    async def _run(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """One call within the deadline; one more attempt after a dropped connection.

        A dropped connection (Redis restarted, a stale pooled socket) fails fast,
        so the second attempt, on a fresh connection, stays within the deadline; a
        timeout is not retried. Re-running a decision is harmless: the record
        makes the second run a replay of the first, recognised in execute.
        """
        try:
            async with asyncio.timeout(self.deadline), self._slot():
                try:
                    return await call()
                except redis_errors.ConnectionError as error:
                    if not _dropped(error):
                        raise
                    if self._pool is not None:
                        await self._pool.disconnect(inuse_connections=False)
                    return await call()
        except redis_errors.AuthenticationError as error:
            raise StateUnavailable(self._refused(what, error)) from error
        except UNREACHABLE as error:
            explanation = str(error) or type(error).__name__
            if isinstance(error, TimeoutError) and not str(error):
                explanation = f"no answer within {self.deadline:g} s"
            raise StateUnavailable(
                f"Redis at {self.where} cannot be reached ({what}): {explanation}"
            ) from error

    def _refused(self, what: str, error: redis_errors.AuthenticationError) -> str:
        """A server that wants a password, or another one, says what to configure."""
        refused = f"Redis at {self.where} refused the connection for authentication ({what})"
        if not self._password_given:
            return (
                f"{refused}: it requires a password; give it in the Redis URL "
                f"(ROUTER_REDIS_URL or --redis-url) as redis://:PASSWORD@{self.where}/0, "
                f"or redis://USER:PASSWORD@{self.where}/0 for an ACL user"
            )
        return (
            f"{refused}: it does not accept the user name and password of the Redis URL "
            f"(ROUTER_REDIS_URL or --redis-url): {error}"
        )

    @asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        if self._gate is None:
            yield
            return
        try:
            async with asyncio.timeout(self._gate_timeout):
                await self._gate.acquire()
        except TimeoutError:
            raise redis_errors.MaxConnectionsError(
                f"no free Redis connection within {self._gate_timeout:g} s"
            ) from None
        try:
            yield
        finally:
            self._gate.release()

    def _call_args(
        self, plan: Plan, now: dt.datetime, stamp: Stamp | None, carriers: str, text: str
    ) -> bytes:
        """The script's ARGV[2] (see decide.lua): the plan and the call, as one JSON object.

        JSON writes a float as the shortest text that reads back as the same double,
        so the script's rotation adds exactly the weights the embedded store adds.
        """
        fixed = plan.fixed
        picks = [_packed_pick(plan.primary)] if plan.primary is not None else []
        picks += [_packed_pick(pick) for pick in plan.overlays]
        return to_json(
            {
                "mode": "commit" if stamp else "preview",
                "now": micros(now),
                "record_ttl": self.window_ms,
                "load_ttl": LOAD_TTL_SECONDS,
                "fingerprint": plan.fingerprint if stamp else "",  # a preview keeps nothing
                "decision_id": stamp.decision_id if stamp else "",
                "decided_at": stamp.decided_at if stamp else "",
                "rules_version": stamp.rules_version if stamp else "",
                "fixed": fixed.rep if fixed else "",
                "fixed_day": fixed.day if fixed else "",
                "sticky": plan.sticky.key if plan.sticky else "",
                "carriers": carriers,
                "carriers_text": text,
                "has_primary": 1 if plan.primary is not None else 0,
                "picks": picks,
            }
        )


class _Call:
    """A decision call waiting for its pipeline."""

    __slots__ = ("args", "future", "keys")

    def __init__(
        self, keys: list[str], args: list[str | bytes], future: asyncio.Future[Any]
    ) -> None:
        self.keys = keys
        self.args = args
        self.future = future


def _dropped(error: redis_errors.ConnectionError) -> bool:
    """A connection that broke, rather than a pool that had none free or a server
    that refused the password (a second attempt would be refused the same way)."""
    if isinstance(error, redis_errors.MaxConnectionsError | redis_errors.AuthenticationError):
        return False
    return not isinstance(error.__cause__, TimeoutError)


def pack_availability(availability: Availability) -> str:
    """The script's form: paused, from and until (epoch us), their text, then the note."""
    start, end = availability.away_from, availability.away_until
    note = availability.note
    return "\t".join(
        [
            "1" if availability.paused else "0",
            str(micros(start)) if start else "",
            str(micros(end)) if end else "",
            start.isoformat() if start else "",
            end.isoformat() if end else "",
            "-" if note is None else "+" + note,
        ]
    )


def unpack_availability(packed: str) -> Availability:
    paused, _, _, start, end, note = packed.split("\t", 5)
    return Availability(
        paused=paused == "1",
        away_from=dt.datetime.fromisoformat(start) if start else None,
        away_until=dt.datetime.fromisoformat(end) if end else None,
        note=None if note == "-" else note[1:],
    )


_CarriersKey = tuple[frozenset[str], frozenset[str], tuple[str, ...]]
_carriers_kept: dict[_CarriersKey, tuple[object, str, str]] = {}


def carriers_of(sticky: Sticky) -> tuple[str, str]:
    """Who may keep an account, as the script reads it: a digest naming them, and their
    text, one "rep\\tday\\tblocked" line each ("" and "" when nobody sells the product).

    The carriers and their zones belong to a rule version and the blocked reps
    and local days change at most daily, so the text is kept rather than built
    again for every lead of a product.
    """
    days = tuple(sticky.days[zone] for zone in sticky.days)
    key = (sticky.carriers, sticky.blocked, days)
    kept = _carriers_kept.get(key)
    if kept is not None and kept[0] is sticky.zone_of:
        return kept[1], kept[2]
    day_of_zone = dict(zip(sticky.days, days, strict=True))
    text = "".join(
        f"{rep}\t{day_of_zone.get(sticky.zone_of.get(rep, ''), '')}\t"
        f"{'1' if rep in sticky.blocked else '0'}\n"
        for rep in sorted(sticky.carriers)
    )
    digest = hashlib.blake2b(text.encode(), digest_size=12).hexdigest() if text else ""
    if len(_carriers_kept) >= 256:
        _carriers_kept.clear()
    _carriers_kept[key] = (sticky.zone_of, digest, text)
    return digest, text


def _packed_pick(pick: Pick) -> list[Any]:
    return [
        pick.rotation,
        pick.method,
        [
            [c.rep, float(c.weight), False if c.capacity is None else c.capacity, c.day]
            for c in pick.candidates
        ],
    ]


def _seq(value: Any) -> list[Any]:
    # The script's JSON encoder writes an empty Lua table as {}.
    return [] if not value else list(value)


def outcome_from_json(raw: str) -> Outcome:
    data = json.loads(raw)
    return Outcome(
        primary=data.get("primary"),
        via=data["via"],
        previous_owner=data.get("previous_owner"),
        skipped=[(rep, why) for rep, why in _seq(data.get("skipped"))],
        overlays=_seq(data.get("overlays")),
        overlay_skipped=[
            [(rep, why) for rep, why in _seq(skips)] for skips in _seq(data.get("overlay_skipped"))
        ],
    )


def open_redis(
    settings: Settings, rules_name: str, replay_window: dt.timedelta = DEFAULT_REPLAY_WINDOW
) -> RedisState:
    """A RedisState for the settings; no connection is made until the first call."""
    url = settings.redis_url
    assert url, "open_redis needs settings.redis_url"
    connect = settings.redis_connect_timeout_seconds
    socket = settings.redis_socket_timeout_seconds
    wait = settings.redis_pool_timeout_seconds
    # The pool wait, then at most two attempts (see RedisState._run).
    deadline = wait + 2 * (connect + socket)
    parts = urlsplit(url)
    where = f"{parts.hostname}:{parts.port or 6379}"
    password_given = parts.password is not None
    if settings.redis_cluster:
        # The cluster client's per-node pools refuse rather than wait when full,
        # so the gate is what makes a burst wait for a free connection.
        cluster = RedisCluster.from_url(
            url,
            decode_responses=True,
            socket_timeout=socket,
            socket_connect_timeout=connect,
            max_connections=settings.redis_max_connections,
            retry=Retry(NoBackoff(), 1),
        )
        return RedisState(
            cluster,
            rules_name,
            replay_window=replay_window,
            deadline=deadline,
            gate=asyncio.Semaphore(settings.redis_max_connections),
            gate_timeout=wait,
            where=where,
            password_given=password_given,
        )
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=settings.redis_max_connections,
        timeout=wait,
        decode_responses=True,
        socket_timeout=socket,
        socket_connect_timeout=connect,
        retry=Retry(NoBackoff(), 0),
    )
    return RedisState(
        Redis.from_pool(pool),
        rules_name,
        replay_window=replay_window,
        deadline=deadline,
        pool=pool,
        where=where,
        password_given=password_given,
    )

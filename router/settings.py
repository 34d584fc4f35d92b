"""Service settings, read from ROUTER_* environment variables."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field

DEFAULT_RULES = Path(__file__).resolve().parent.parent / "rules"


class Settings(BaseModel):
    """Every setting has a default that serves the example rules on the embedded state.

    `rules_watch_seconds`, when above 0, makes every worker check the rules
    directory that often and reload it when its files changed.

    `rules_name` names the rule set in the shared state (its Redis key namespace);
    by default it is the rules directory's name, so two different rule sets that
    share one Redis must be given different names.

    The Redis settings apply when `redis_url` is set: `redis_cluster` reads the URL
    as one node of a Redis Cluster; at most `redis_max_connections` commands are in
    flight, a call waits `redis_pool_timeout_seconds` for a free connection, and the
    connect and socket timeouts bound each attempt. A call to an unreachable Redis
    answers 503 within the pool wait plus two attempts (1.5 s with the defaults; a
    refused connection in milliseconds, a hung one in one socket timeout).

    `log_decisions` writes one INFO line per decision (lead id, decision id, rule
    version, outcome, milliseconds); off by default, since on the hot path the
    line costs a noticeable share of a decision.
    """

    rules_dir: Path = Field(default=DEFAULT_RULES)
    rules_name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,64}$")
    redis_url: str | None = None
    redis_cluster: bool = False
    redis_max_connections: int = Field(default=64, ge=1)
    redis_pool_timeout_seconds: float = Field(default=0.5, gt=0, le=30)
    redis_connect_timeout_seconds: float = Field(default=0.25, gt=0, le=30)
    redis_socket_timeout_seconds: float = Field(default=0.25, gt=0, le=30)
    rules_watch_seconds: float = Field(default=0, ge=0, le=3600)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    replay_window_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    log_decisions: bool = False

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        values: dict[str, object] = {}
        for name in cls.model_fields:
            raw = os.environ.get(f"ROUTER_{name.upper()}")
            if raw is not None and raw != "":
                values[name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)

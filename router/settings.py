"""Service settings, read from ROUTER_* environment variables."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field

DEFAULT_RULES = Path(__file__).resolve().parent.parent / "rules"


class Settings(BaseModel):
    """Every setting has a default that serves the example rules on the embedded state."""

    rules_dir: Path = Field(default=DEFAULT_RULES)
    redis_url: str | None = None
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    replay_window_seconds: int = Field(default=7 * 24 * 3600, ge=60)

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        values: dict[str, object] = {}
        for name in cls.model_fields:
            raw = os.environ.get(f"ROUTER_{name.upper()}")
            if raw is not None and raw != "":
                values[name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)

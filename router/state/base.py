"""The state interface every store satisfies, and the values that cross it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Protocol

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, model_validator

from router.plan import Outcome, Plan

DEFAULT_REPLAY_WINDOW = dt.timedelta(days=7)


def _iso_text(value: object) -> object:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("write times as ISO 8601 text with an offset, e.g. 2026-12-24T00:00:00Z")
    return value


class Availability(BaseModel):
    """A rep's run-time availability, set through the API on top of the rule files."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"paused": True, "note": "training"},
                {"away_from": "2026-12-24T00:00:00Z", "away_until": "2027-01-02T00:00:00Z"},
                {},
            ]
        },
    )

    # Strict: JSON says true or false; "yes", "off" or 1 are refused, not read as one.
    paused: StrictBool = False
    away_from: Annotated[dt.datetime | None, BeforeValidator(_iso_text)] = None
    away_until: Annotated[dt.datetime | None, BeforeValidator(_iso_text)] = None
    note: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _ordered(self) -> Availability:
        for name in ("away_from", "away_until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} needs a time zone offset, e.g. 2026-12-24T00:00:00Z")
        if self.away_from and self.away_until and self.away_until <= self.away_from:
            raise ValueError("away_until must be after away_from")
        return self

    def blocks(self, now: dt.datetime) -> str | None:
        """Why the rep cannot take a lead now, or None."""
        if self.paused:
            return "paused" + (f" ({self.note})" if self.note else "")
        start = self.away_from or dt.datetime.min.replace(tzinfo=dt.UTC)
        if self.away_until is not None and start <= now < self.away_until:
            return f"out of office until {self.away_until.isoformat()}"
        if self.away_from is not None and self.away_until is None and now >= self.away_from:
            return f"out of office since {self.away_from.isoformat()}"
        return None


@dataclass(frozen=True, slots=True)
class Stamp:
    """Identity and time of a decision being made, and the rule version making it."""

    decision_id: str
    decided_at: str
    now: dt.datetime
    rules_version: str = ""


@dataclass(slots=True)
class Fresh:
    """A decision made now (not frozen, like router.plan's classes: one is made per lead)."""

    outcome: Outcome


@dataclass(frozen=True, slots=True)
class Replayed:
    """An earlier decision for the same lead id and the same payload.

    The state keeps what the decision was (the outcome) and under which rule
    version, not its body: the caller writes the body again from them.
    """

    decision_id: str
    decided_at: str
    rules_version: str
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class Conflict:
    """The lead id was decided before for a different payload."""

    decision_id: str
    decided_at: str


@dataclass(frozen=True, slots=True)
class Recalled:
    """What the state remembers of a decided lead id."""

    fingerprint: str
    decision_id: str
    decided_at: str
    rules_version: str
    outcome: Outcome


Execution = Fresh | Replayed | Conflict


class StateUnavailable(Exception):
    """The shared state cannot be reached; nothing was changed."""


class State(Protocol):
    """Rotation credits, daily load, account owners, stored decisions, availability."""

    kind: str

    async def execute(self, plan: Plan, stamp: Stamp) -> Execution:
        """Replay, refuse, or carry out the plan, all in one atomic step."""
        ...

    async def preview(self, plan: Plan, now: dt.datetime) -> Outcome:
        """What execute would pick now, changing nothing."""
        ...

    async def recall(self, lead_id: str) -> Recalled | None:
        """The stored decision of lead_id, if it was decided inside the replay window."""
        ...

    async def set_availability(self, rep_id: str, availability: Availability) -> None: ...

    async def availability(self, rep_id: str) -> Availability | None: ...

    async def load(self, rep_id: str, day: str) -> int: ...

    async def ping(self) -> bool: ...

    async def problem(self) -> str | None:
        """Why the state cannot answer now (for /readyz), or None when it answers."""
        ...

    async def close(self) -> None: ...

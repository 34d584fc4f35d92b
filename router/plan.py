"""What the engine asks the state to do for one lead, and what the state answers.

The engine does every step that needs only the rules and the lead; the choices
that depend on shared counters (stickiness, rotation, capacity, run-time
availability, idempotency) are handed to the state as one Plan, carried out in
one atomic step, and returned as an Outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from router.leads import Sent, fingerprint_of

Method = Literal["round_robin", "weighted", "least_loaded"]
Via = Literal["named", "sticky", "pool", "none"]


# The classes below are made for every decision and never changed once made. They are
# not declared frozen: a frozen dataclass sets each field through object.__setattr__,
# which makes building one about four times slower.


@dataclass(slots=True)
class Candidate:
    """A rep the state may pick: weight in the rotation, daily cap, and local day for load."""

    rep: str
    weight: float
    capacity: int | None
    day: str


@dataclass(slots=True)
class Pick:
    """One choice from a pool: the rotation it advances and who may be chosen."""

    rotation: str
    method: Method
    candidates: tuple[Candidate, ...]


@dataclass(slots=True)
class Sticky:
    """The account's owner for a territory structure, and who may still take it.

    `carriers` (reps who sell the product) and `zone_of` are shared by every lead
    of a rule version; `blocked` holds carriers out of office or inactive today,
    and `days` the local date of each time zone, to count the owner's load.
    """

    key: str
    carriers: frozenset[str]
    blocked: frozenset[str]
    zone_of: Mapping[str, str]
    days: Mapping[str, str]

    def may_take(self, owner: str) -> bool:
        return owner in self.carriers and owner not in self.blocked

    def day_of(self, owner: str) -> str:
        return self.days[self.zone_of[owner]]


@dataclass(slots=True)
class Plan:
    """Everything the state needs for one lead. `sent` is the lead as sent, hashed into
    its fingerprint only by a step that keeps the decision (a preview, `explain` of a
    new lead, or `router simulate` never needs the hash)."""

    lead_id: str
    sent: Sent
    fixed: Candidate | None
    sticky: Sticky | None
    primary: Pick | None
    overlays: tuple[Pick, ...]

    @property
    def fingerprint(self) -> str:
        return fingerprint_of(self.sent)


@dataclass(slots=True)
class Outcome:
    """The state's answer: who was picked, how, and who was skipped for run-time reasons."""

    primary: str | None = None
    via: Via = "none"
    previous_owner: str | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)
    overlays: list[str | None] = field(default_factory=list)
    overlay_skipped: list[list[tuple[str, str]]] = field(default_factory=list)

    def to_wire(self) -> dict[str, Any]:
        return {
            "primary": self.primary,
            "via": self.via,
            "previous_owner": self.previous_owner,
            "skipped": self.skipped,
            "overlays": self.overlays,
            "overlay_skipped": self.overlay_skipped,
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Outcome:
        return cls(
            primary=data["primary"],
            via=data["via"],
            previous_owner=data.get("previous_owner"),
            skipped=[(a, b) for a, b in data["skipped"]],
            overlays=list(data["overlays"]),
            overlay_skipped=[[(a, b) for a, b in s] for s in data["overlay_skipped"]],
        )

"""The compiled rule set: immutable indexes that make a decision a few look-ups."""

from __future__ import annotations

import datetime as dt
import re
from array import array
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo

Method = Literal["round_robin", "weighted", "least_loaded"]
Level = Literal["postal", "region", "country", "anywhere"]


@dataclass(frozen=True, slots=True)
class Hours:
    """Working hours in the rep's own time zone; days are 0 (Monday) to 6."""

    days: frozenset[int]
    start: dt.time
    end: dt.time

    def contain(self, local: dt.datetime) -> bool:
        return local.weekday() in self.days and self.start <= local.time() < self.end


@dataclass(frozen=True, slots=True)
class RepCard:
    id: str
    name: str
    email: str
    crm_user_id: str | None
    role: str
    weights: Mapping[str, float]
    daily_capacity: int | None
    timezone: ZoneInfo
    hours: Hours | None
    active: bool
    absences: tuple[tuple[str, str], ...]
    wire: Mapping[str, Any]

    def back_from_absence(self, day: str) -> str | None:
        """The last day of the absence covering day (ISO dates), or None."""
        return next((end for start, end in self.absences if start <= day <= end), None)


@dataclass(frozen=True, slots=True)
class QueueCard:
    id: str
    name: str
    wire: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Pool:
    """Reps sharing one rotation; weights are per product (portfolio splits differ)."""

    key: str
    method: Method
    reps: tuple[str, ...]
    weights: Mapping[str, tuple[float, ...]]
    working_hours: bool
    # The engine's cache of who may take a lead now, per product the weights come from
    # (engine._territory): kept on the pool, so that finding it touches no large table.
    picks: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def weights_for(self, product: str) -> tuple[float, ...]:
        return self.weights.get(product) or (1.0,) * len(self.reps)


@dataclass(frozen=True, slots=True)
class TerritoryCard:
    id: str
    name: str
    structure: str
    pool: Pool


@dataclass(frozen=True, slots=True)
class Slot:
    """The territories that claim one place: one per industry, and one for any industry."""

    any_industry: TerritoryCard | None = None
    # None when no territory claims the place for one industry (most places): then a
    # pick reads nothing but the slot.
    by_industry: Mapping[str, TerritoryCard] | None = None

    def pick(self, industry: str | None) -> TerritoryCard | None:
        by_industry = self.by_industry
        if industry is not None and by_industry is not None:
            found = by_industry.get(industry)
            if found is not None:
                return found
        return self.any_industry


@dataclass(frozen=True, slots=True)
class RangeTable:
    """Non-overlapping postal ranges of one code length, sorted by their low bound."""

    length: int
    lows: tuple[str, ...]
    highs: tuple[str, ...]
    slots: tuple[Slot, ...]
    ranks: tuple[int, ...]

    def find(self, postal: str) -> int:
        """The position of the range holding the code, or -1."""
        if len(postal) < self.length:
            return -1
        head = postal[: self.length]
        index = bisect_right(self.lows, head) - 1
        if index >= 0 and head <= self.highs[index]:
            return index
        return -1

    def bounds(self, index: int) -> str:
        """A range's bounds as written, e.g. 94000-94199."""
        return f"{self.lows[index]}-{self.highs[index]}"


# A PostalTable holds the codes of this many digits (100,000 of them).
POSTAL_TABLE_DIGITS = 5
# PostalTable.codes: no prefix or range holds the code; the answer depends on the
# lead's industry, so the prefixes and ranges are read one by one (as they are for
# every code of a country without a table); from FIRST_ANSWER up,
# answers[value - FIRST_ANSWER].
NO_CLAIM = 0
ONE_BY_ONE = 1
FIRST_ANSWER = 2


@dataclass(frozen=True, slots=True)
class PostalTable:
    """The postal level's answer for every five-digit code of one country, worked out
    when the rules are compiled (indexes.postal_table): `codes[int(code)]` is NO_CLAIM,
    ONE_BY_ONE, or FIRST_ANSWER plus a position in `answers` (territory, and the words
    of the trace). Two bytes a code while the answers fit, four beyond.

    A lead's code is read by its first five digits, as the prefixes and ranges read it.
    One array read replaces a look-up per prefix length and a search per range table,
    which in a large rule set touch many objects far apart in memory.
    """

    codes: array[int]
    answers: tuple[tuple[TerritoryCard, str], ...]


@dataclass(frozen=True, slots=True)
class GeoIndex:
    """Territories of one structure and segment, by place, from most to least specific.

    `postal_tables` holds a PostalTable for each country with many postal claims, all
    of digits (see indexes.postal_table); the other countries' codes are looked up in
    `prefixes` and `ranges`.
    """

    prefixes: Mapping[str, Mapping[str, Slot]]
    prefix_lengths: Mapping[str, tuple[int, ...]]
    ranges: Mapping[str, tuple[RangeTable, ...]]
    regions: Mapping[str, Slot]
    countries: Mapping[str, Slot]
    anywhere: Slot | None
    postal_tables: Mapping[str, PostalTable] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProductCard:
    id: str
    name: str
    model: str
    priority: int
    structure: str | None
    weights_from: str
    order: int


@dataclass(frozen=True, slots=True)
class IntentIndex:
    values: Mapping[str, str]
    form_ids: Mapping[str, str]
    campaigns: Mapping[str, str]
    sources: Mapping[str, str]
    url_patterns: tuple[tuple[re.Pattern[str], str], ...]


@dataclass(frozen=True, slots=True)
class SegmentTable:
    """Tier bands: the highest segment whose employee or revenue minimum a lead meets."""

    ids: tuple[str, ...]
    employee_mins: tuple[float, ...]
    employee_tiers: tuple[int, ...]
    revenue_mins: tuple[float, ...]
    revenue_tiers: tuple[int, ...]
    unknown: str

    def segment_for(self, employees: int | None, revenue: float | None) -> str:
        if employees is None and revenue is None:
            return self.unknown
        tier = 0
        if employees is not None:
            at = bisect_right(self.employee_mins, employees) - 1
            if at >= 0:
                tier = max(tier, self.employee_tiers[at])
        if revenue is not None:
            at = bisect_right(self.revenue_mins, revenue) - 1
            if at >= 0:
                tier = max(tier, self.revenue_tiers[at])
        return self.ids[tier]


@dataclass(frozen=True, slots=True)
class AccountCard:
    key: str
    name: str | None
    owner: str | None
    owners: Mapping[str, str]
    segment: str | None

    def owner_for(self, product: str, sold_as: str) -> str | None:
        """The owner named for the product, then for the product it is sold as
        (an overlay product's `sold_with`), then the account-wide owner."""
        return self.owners.get(product) or self.owners.get(sold_as) or self.owner


@dataclass(frozen=True, slots=True)
class TriggerCard:
    id: str
    interest: bool
    products: frozenset[str]
    segments: frozenset[str]
    min_deal_size: float | None
    min_employees: int | None
    named_accounts: bool


@dataclass(frozen=True, slots=True)
class OverlayCard:
    id: str
    product: str
    triggers: tuple[TriggerCard, ...]
    method: Method
    working_hours: bool
    by_region: Mapping[str, tuple[str, ...]]
    by_country: Mapping[str, tuple[str, ...]]
    anywhere: tuple[str, ...]
    weights: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class CompiledRules:
    """Everything a decision needs, built once per rule version and never mutated."""

    name: str
    version: str
    loaded_at: dt.datetime
    products: Mapping[str, ProductCard]
    default_product: str | None
    intent: IntentIndex
    segments: SegmentTable
    reps: Mapping[str, RepCard]
    queues: Mapping[str, QueueCard]
    territories: Mapping[str, TerritoryCard]
    structures: Mapping[str, Mapping[str, GeoIndex]]
    accounts_by_domain: Mapping[str, AccountCard]
    accounts_by_crm_id: Mapping[str, AccountCard]
    overlays: tuple[OverlayCard, ...]
    fallback_default: str
    fallback_by_product: Mapping[str, str]
    fallback_by_territory: Mapping[str, str]
    warnings: tuple[str, ...]
    carriers: Mapping[str, frozenset[str]]
    limited_carriers: Mapping[str, tuple[str, ...]]
    zone_of: Mapping[str, str]
    zones: Mapping[str, ZoneInfo]
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def counts(self) -> dict[str, int]:
        return {
            "products": len(self.products),
            "segments": len(self.segments.ids),
            "reps": len(self.reps),
            "queues": len(self.queues),
            "territories": len(self.territories),
            "named_accounts": len(self.accounts_by_domain) + len(self.accounts_by_crm_id),
            "overlays": len(self.overlays),
        }

"""The shape of the rule files, validated by pydantic before anything is compiled."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from router.domains import domain_from_website, is_free_mail
from router.firmographics import FigureError, parse_money
from router.shown import shown

Id = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=80)]
Model = Literal["dedicated", "portfolio", "overlay"]
Method = Literal["round_robin", "weighted", "least_loaded"]
Weight = Annotated[float, Field(gt=0, le=1_000_000, allow_inf_nan=False)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _money(value: object) -> object:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        try:
            return parse_money(value)
        except FigureError as error:
            raise ValueError(str(error)) from error
    return value


Money = Annotated[float, BeforeValidator(_money), Field(ge=0)]


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Intent(Rule):
    """Signals that reveal interest in a product; all matching is case-insensitive."""

    values: list[str] = []
    form_ids: list[str] = []
    campaigns: list[str] = []
    sources: list[str] = []
    url_patterns: list[str] = []


class Product(Rule):
    id: Id
    name: str
    model: Model
    priority: int = Field(default=100, ge=0)
    portfolio: Id | None = None
    sold_with: Id | None = None
    intent: Intent = Intent()


class Segment(Rule):
    id: Id
    name: str | None = None
    min_employees: int | None = Field(default=None, ge=0)
    min_revenue: Money | None = None


def _clock_time(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(
            f'{value} is not a time: YAML reads an unquoted 9:00 as a number; write "09:00"'
        )
    if isinstance(value, str) and not re.fullmatch(r"\d{1,2}:\d{2}", value.strip()):
        raise ValueError(f'{shown(value)} is not a time of day (expected "HH:MM", e.g. "09:00")')
    return value


ClockTime = Annotated[dt.time, BeforeValidator(_clock_time)]


class WorkingHours(Rule):
    days: list[Weekday] = ["mon", "tue", "wed", "thu", "fri"]
    start: ClockTime = dt.time(9, 0)
    end: ClockTime = dt.time(17, 0)


class Absence(Rule):
    starts: dt.date = Field(alias="from")
    ends: dt.date = Field(alias="to")


class Rep(Rule):
    id: Id
    name: str
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    crm_user_id: str | None = None
    role: Literal["primary", "overlay"] = "primary"
    products: list[Id] | dict[Id, Weight] = Field(min_length=1)
    daily_capacity: int | None = Field(default=None, ge=1)
    timezone: str = "UTC"
    working_hours: WorkingHours | None = None
    active: bool = True
    out_of_office: list[Absence] = []

    def weights(self) -> dict[str, float]:
        """Product weights; a plain list weighs every product 1."""
        if isinstance(self.products, list):
            return dict.fromkeys(self.products, 1.0)
        return dict(self.products)


class Queue(Rule):
    id: Id
    name: str
    email: str | None = None
    crm_queue_id: str | None = None


class Fallbacks(Rule):
    """Queues for what no rep takes: per territory, then per product, then the default."""

    default: Id
    products: dict[Id, Id] = {}
    territories: dict[Id, Id] = {}


class PoolMember(Rule):
    rep: Id
    weight: Weight | None = None


def _member(value: object) -> object:
    return {"rep": value} if isinstance(value, str) else value


Member = Annotated[PoolMember, BeforeValidator(_member)]


class Owner(Rule):
    """A single rep, or a pool of reps with a distribution method."""

    rep: Id | None = None
    pool: list[Member] | None = Field(default=None, min_length=1)
    method: Method = "round_robin"
    working_hours: bool = False


PostalSpec = dict[str, list[str]]


class Territory(Rule):
    id: Id
    name: str | None = None
    covers: Id
    countries: list[str] = []
    regions: list[str] = []
    postal: PostalSpec = {}
    anywhere: bool = False
    segments: list[Id] = []
    industries: list[str] = []
    owner: Owner


class Account(Rule):
    domain: str | None = None
    crm_account_id: str | None = None
    name: str | None = None
    owner: Id | None = None
    owners: dict[Id, Id] = {}
    segment: Id | None = None

    @field_validator("domain")
    @classmethod
    def _bare_domain(cls, value: str | None) -> str | None:
        if value is None:
            return None
        bare = domain_from_website(value)
        if bare is None:
            raise ValueError(f"{shown(value)} is not a domain (expected e.g. acme.com)")
        if is_free_mail(bare):
            raise ValueError(f"{bare} is a free-mail domain: it is never an account")
        if bare != value:
            raise ValueError(f"write the bare domain {shown(bare)}, as leads are matched on it")
        return bare


class Trigger(Rule):
    """Fires when every condition it names holds; an overlay fires on any trigger."""

    id: Id
    interest: bool = False
    products: list[Id] = []
    segments: list[Id] = []
    min_deal_size: Money | None = None
    min_employees: int | None = Field(default=None, ge=0)
    named_accounts: bool = False


class Specialist(Rule):
    rep: Id
    countries: list[str] = []
    regions: list[str] = []
    anywhere: bool = False


class SpecialistPool(Rule):
    method: Method = "round_robin"
    working_hours: bool = False
    specialists: list[Specialist] = Field(min_length=1)


class Overlay(Rule):
    id: Id
    product: Id
    triggers: list[Trigger] = Field(min_length=1)
    pool: SpecialistPool


class RuleSet(Rule):
    products: list[Product] = Field(min_length=1)
    default_product: Id | None = None
    segments: list[Segment] = Field(min_length=1)
    unknown_segment: Id | None = None
    reps: list[Rep] = Field(min_length=1)
    queues: list[Queue] = Field(min_length=1)
    fallbacks: Fallbacks
    territories: list[Territory] = []
    accounts: list[Account] = []
    overlays: list[Overlay] = []

"""The lead on the wire and its normalisation into what the rules are written against."""

from __future__ import annotations

import hashlib
import json
import math
import operator
from functools import lru_cache
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StringConstraints,
    ValidationInfo,
)
from pydantic_core import to_json

from router import domains, geo
from router.firmographics import FigureError, Written, parse_count, parse_money
from router.ruleset.indexes import normal_industry
from router.shown import pydantic_words, shown

# A lone surrogate cannot become UTF-8 (the fingerprint and Redis need it to): a string
# with length constraints is read by pydantic-core as Rust text, which refuses one with
# the error type `string_unicode`, reported by `_reason` below.
Text = Annotated[str, StringConstraints(max_length=2000)]


def _unicode(value: str) -> str:
    """The id is checked here: with its validator before, pydantic-core keeps it Python text."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("is not valid Unicode text (it holds a lone surrogate)") from None
    return value


RawFigure = StrictInt | StrictFloat | Annotated[str, StringConstraints(max_length=100)]


def _readable_count(value: int | float | str, info: ValidationInfo) -> int | float | str:
    if isinstance(value, float) and math.isinf(value):
        parse_count(value, _written(info))
    _count(value)
    return value


def _readable_money(value: int | float | str, info: ValidationInfo) -> int | float | str:
    if isinstance(value, float) and math.isinf(value):
        parse_money(value, _written(info))
    _money(value)
    return value


def _written(info: ValidationInfo) -> Written:
    """How the body wrote its infinite numbers, when its reader noted it (in the
    validation context, router.api.bodies); a number beyond 1.8e308 otherwise."""
    context = info.context
    written = context.get("infinity") if isinstance(context, dict) else None
    return written if written in ("token", "either") else "number"


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


# Figures are kept as sent (the fingerprint tells 1200 from "1200") and checked
# here, so that an unreadable figure is reported with every other bad field.
Count = Annotated[RawFigure, AfterValidator(_readable_count)]
Money = Annotated[RawFigure, AfterValidator(_readable_money)]


ATTRIBUTES_DEPTH = 32


def _plain_json(attributes: dict[str, Any]) -> dict[str, Any]:
    """Attributes nest at most ATTRIBUTES_DEPTH levels and hold only finite numbers.

    Depth: a lead is stored and may be read again (for a retry's fingerprint) from
    deeper in the stack than when it came in, and a structure near Python's recursion
    limit would then fail on the retry. Numbers: the JSON reader takes NaN and
    Infinity, which are not JSON, and reads 1e400 as infinity, so that two different
    payloads would look the same.
    """
    level: list[Any] = [attributes]
    depth = 0
    while level:
        depth += 1
        if depth > ATTRIBUTES_DEPTH:
            raise ValueError(f"are nested more than {ATTRIBUTES_DEPTH} levels deep; flatten them")
        children: list[Any] = []
        for value in level:
            if isinstance(value, dict) and not all(_is_unicode(key) for key in value):
                raise ValueError(_surrogate_at(attributes))
            for child in value.values() if isinstance(value, dict) else value:
                if isinstance(child, dict | list):
                    children.append(child)
                elif isinstance(child, float) and not math.isfinite(child):
                    raise ValueError(
                        "hold a number JSON cannot carry (NaN, Infinity, or one beyond 1.8e308)"
                    )
                elif isinstance(child, str) and not _is_unicode(child):
                    raise ValueError(_surrogate_at(attributes))
        level = children
    return attributes


def _is_unicode(text: str) -> bool:
    """False for text holding a lone surrogate, which cannot become UTF-8."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _surrogate_at(attributes: dict[str, Any]) -> str:
    """The message for the first key or text holding a lone surrogate, naming where it is
    as a path of keys in JSON quotes and list positions: ["crm"]["notes"][1]."""
    why = "that is not valid Unicode (a lone surrogate)"
    stack: list[tuple[str, Any]] = [("", attributes)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            for key in value:
                if not _is_unicode(key):
                    return f"hold a key {why}: {shown(key)}" + (f" in {path}" if path else "")
            inside = [(f"{path}[{shown(key)}]", child) for key, child in value.items()]
            stack.extend(reversed(inside))
        elif isinstance(value, list):
            inside = [(f"{path}[{index}]", child) for index, child in enumerate(value)]
            stack.extend(reversed(inside))
        elif isinstance(value, str) and not _is_unicode(value):
            return f"hold text {why} at {path}"
    return f"hold text {why}"


def _lead_id(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _postal(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


LEAD_EXAMPLE: dict[str, Any] = {
    "id": "mkto-00Q5e00001",
    "email": "jordan@northwind.io",
    "company": "Northwind Traders",
    "country": "USA",
    "region": "California",
    "postal_code": "94105-1804",
    "employees": "1,200",
    "annual_revenue": "$250M",
    "industry": "Software",
    "form_id": "crm-demo-request",
    "utm_campaign": "crm-q4-webinar",
}


class Lead(BaseModel):
    """An inbound lead; unknown top-level fields are refused, custom ones go in attributes."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [LEAD_EXAMPLE]},
    )

    id: Annotated[
        str,
        BeforeValidator(_lead_id),
        StringConstraints(min_length=1, max_length=200),
        AfterValidator(_unicode),
        AfterValidator(_not_blank),
    ]
    email: Text | None = None
    first_name: Text | None = None
    last_name: Text | None = None
    title: Text | None = None
    phone: Text | None = None
    company: Text | None = None
    domain: Text | None = None
    website: Text | None = None
    crm_account_id: Text | None = None
    country: Text | None = None
    region: Text | None = None
    postal_code: Annotated[
        Annotated[str, StringConstraints(max_length=40)] | None, BeforeValidator(_postal)
    ] = None
    city: Text | None = None
    employees: Count | None = None
    annual_revenue: Money | None = None
    industry: Text | None = None
    product: Text | None = None
    form_id: Text | None = None
    utm_source: Text | None = None
    utm_medium: Text | None = None
    utm_campaign: Text | None = None
    page_url: Text | None = None
    deal_size: Money | None = None
    attributes: Annotated[dict[str, Any], Field(max_length=200), AfterValidator(_plain_json)] = (
        Field(default_factory=dict)
    )

    def sent(self) -> Sent:
        """What the caller sent, as plain values: hashed (`fingerprint_of`) to tell a
        retry from a different lead, only by the steps that keep a decision."""
        attributes = self.attributes
        text = json.dumps(attributes, sort_keys=True, default=repr) if attributes else ""
        return _sent_values(self.__dict__), text

    def fingerprint(self) -> str:
        return fingerprint_of(self.sent())


# Every field but `attributes`, in the model's order: a lead's values as one tuple.
_sent_values = operator.itemgetter(*(name for name in Lead.model_fields if name != "attributes"))

# A lead as sent: its values (strings, numbers and None, in the model's field order) and
# its attributes as JSON with sorted keys ("" when it has none).
Sent = tuple[tuple[Any, ...], str]


def fingerprint_of(sent: Sent) -> str:
    """A hash of what the caller sent, to tell a retry from a different lead.

    Values keep their type (1200, 1200.0 and "1200" differ); the same payload gives
    the same hash in every process, whatever the order of its fields. The values are
    written as one JSON array by pydantic-core, several times faster than `repr`.
    """
    values, attributes = sent
    text = to_json(values)
    if attributes:
        text += b"\x1f" + attributes.encode()
    return hashlib.blake2b(text, digest_size=16).hexdigest()


def field_problems(
    errors: list[Any], hint: str = "custom fields go in `attributes`", hint_under: str = ""
) -> list[tuple[str, str]]:
    """Pydantic's errors as (field, reason) pairs a person can read, one per field.

    A field such as `leads[3].employees` is named by its path; a union field
    that fails once per branch is reported once, by the branch that fits the
    value sent. The hint for an unknown field is given for fields whose path
    starts with `hint_under` (a batch's leads, `leads[`), by default all.
    """
    found: dict[str, str] = {}
    for item in errors:
        kind = item.get("type", "")
        where = "body" if kind == "json_invalid" else _path(item["loc"])
        text_branch = isinstance(item.get("input"), str) and "str" in str(item["loc"][-1:])
        if where not in found or text_branch:
            found[where] = _reason(item, hint if where.startswith(hint_under) else "")
    return list(found.items())


def _path(loc: Any) -> str:
    out = ""
    for part in loc:
        if part == "body":
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("int", "float", "str", "bool") or any(c in part for c in "[-"):
            continue  # a union branch's tag, not a field
        else:
            out += f".{part}" if out else str(part)
    return out or "body"


def _reason(item: Any, hint: str) -> str:
    kind = item.get("type", "")
    if kind == "extra_forbidden":
        return f"is not a known field ({hint})" if hint else "is not a known field"
    if kind == "missing":
        return "is required"
    if kind == "json_invalid":
        reason = item.get("ctx", {}).get("error", "")
        return f"the body is not valid JSON: {reason}".rstrip(": ")
    if kind in ("model_attributes_type", "model_type"):
        return "must be a JSON object"
    if kind in ("too_long", "string_too_long"):
        limit = item.get("ctx", {}).get("max_length")
        sent = item.get("input")
        if isinstance(sent, str):
            return f"is {len(sent):,} characters long; at most {limit:,} are allowed"
        if isinstance(sent, dict):
            return f"has {len(sent):,} entries; at most {limit:,} are allowed"
        if isinstance(sent, list):
            return f"has {len(sent):,} items; at most {limit:,} are allowed"
    if kind == "string_unicode":
        return "is not valid Unicode text (it holds a lone surrogate)"
    if kind == "value_error":
        return str(item.get("msg", "is invalid")).removeprefix("Value error, ")
    sent = shown(item.get("input"), limit=80)
    if kind.endswith("_type") and item["loc"][-1] in ("int", "float"):
        return f'must be a number or text such as "1,200" or "5M" (got {sent})'
    return f"{pydantic_words(item)} (got {sent})"


class LeadError(ValueError):
    """A lead whose fields cannot be read; each entry names the field and the reason."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{name}: {why}" for name, why in errors))


class NormalLead:
    """A lead in canonical form, with notes on every change made to what was sent.

    A plain class whose defaults are class attributes: a lead sets only the fields
    it has (one is made per decision, and most leads leave most fields empty).
    """

    country: str | None = None
    region: str | None = None
    postal: str | None = None
    account_domain: str | None = None
    industry: str | None = None
    employees: int | None = None
    revenue: float | None = None
    deal_size: float | None = None

    def __init__(self, id: str, crm_account_id: str | None = None) -> None:
        self.id = id
        self.crm_account_id = crm_account_id
        self.notes: list[str] = []

    def __repr__(self) -> str:
        return f"NormalLead({vars(self)!r})"


def normalise(lead: Lead) -> NormalLead:
    """Canonical country, region, postal code, account domain and figures.

    Raises LeadError for figures that cannot be read; unknown places are kept
    out of routing and reported in the notes rather than refused, so the lead
    still lands somewhere.
    """
    normal = NormalLead(lead.id, lead.crm_account_id or None)
    employees, revenue, deal_size = lead.employees, lead.annual_revenue, lead.deal_size
    if employees is not None or revenue is not None or deal_size is not None:
        try:
            if employees is not None:
                normal.employees = _count(employees)
            if revenue is not None:
                normal.revenue = _money(revenue)
            if deal_size is not None:
                normal.deal_size = _money(deal_size)
        except FigureError:
            _figures(lead, normal)  # reads them all again, to name every bad one
    if lead.country or lead.region or lead.postal_code:
        country, region, postal, notes = _place_of(lead.country, lead.region, lead.postal_code)
        normal.country, normal.region, normal.postal = country, region, postal
        if notes:
            normal.notes.extend(notes)
    if lead.domain or lead.website or lead.email:
        _account(lead, normal)
    if lead.industry:
        normal.industry = _industry(lead.industry)
    return normal


@lru_cache(maxsize=4096)
def _industry(value: str) -> str:
    return normal_industry(value)


@lru_cache(maxsize=8192)
def _count_text(text: str) -> int | None:
    return parse_count(text)


@lru_cache(maxsize=8192)
def _money_text(text: str) -> float | None:
    return parse_money(text)


def _count(value: int | float | str | None) -> int | None:
    """Employee counts; forms send the same strings again and again, so text is cached."""
    return _count_text(value) if isinstance(value, str) else parse_count(value)


def _money(value: int | float | str | None) -> float | None:
    return _money_text(value) if isinstance(value, str) else parse_money(value)


def _figures(lead: Lead, normal: NormalLead) -> None:
    errors: list[tuple[str, str]] = []
    try:
        normal.employees = _count(lead.employees)
    except FigureError as error:
        errors.append(("employees", str(error)))
    for name in ("annual_revenue", "deal_size"):
        try:
            value = _money(getattr(lead, name))
        except FigureError as error:
            errors.append((name, str(error)))
            continue
        if name == "annual_revenue":
            normal.revenue = value
        else:
            normal.deal_size = value
    if errors:
        raise LeadError(errors)


@lru_cache(maxsize=65536)
def _place_of(
    country: str | None, region: str | None, postal_code: str | None
) -> tuple[str | None, str | None, str | None, tuple[str, ...]]:
    """The canonical place and the notes on reading it; leads repeat places, so cached."""
    normal = NormalLead(id="")
    _read_place(country, region, postal_code, normal)
    return normal.country, normal.region, normal.postal, tuple(normal.notes)


def _read_place(
    country: str | None, region: str | None, postal_code: str | None, normal: NormalLead
) -> None:
    notes = normal.notes
    if country:
        normal.country = _country_code(country)
        if normal.country is None:
            notes.append(f"country {shown(country)} is not a known country: ignored")
        elif normal.country != country:
            notes.append(f"country {shown(country)} read as {normal.country}")
    if postal_code:
        normal.postal = geo.postal_code(normal.country, postal_code)
        if normal.postal is None:
            where = f" for {normal.country}" if normal.country else ""
            notes.append(f"postal code {shown(postal_code)} is not valid{where}: ignored")
        elif normal.country is None and _looks_like_zip(postal_code):
            normal.country = "US"
            notes.append(f"country US derived from ZIP {normal.postal}")
        if normal.postal is not None and normal.postal != postal_code:
            notes.append(f"postal code {shown(postal_code)} read as {normal.postal}")
    if region:
        normal.region = _region_code(normal.country, region)
        if normal.region is None:
            notes.append(f"region {shown(region)} is not a known region: ignored")
        elif normal.country is None:
            normal.country = geo.region_country(normal.region)
            notes.append(f"country {normal.country} derived from region {normal.region}")
    _zip_state(normal)


# A place never seen before (most leads' postal codes are new) still has a country and
# region seen many times: their readings are cached on their own.
_country_code = lru_cache(maxsize=4096)(geo.country_code)
_region_code = lru_cache(maxsize=16384)(geo.region_code)


def _zip_state(normal: NormalLead) -> None:
    """Derive a missing US state from the ZIP, and report a state the ZIP contradicts."""
    notes = normal.notes
    if normal.country == "US" and normal.postal is not None:
        zip_state = geo.us_state_for_zip(normal.postal)
        if zip_state is None:
            notes.append(f"ZIP {normal.postal} is not a known US ZIP code")
        elif normal.region is None:
            normal.region = zip_state
            notes.append(f"region {zip_state} derived from ZIP {normal.postal}")
        elif normal.region != zip_state:
            notes.append(
                f"region {normal.region} conflicts with ZIP {normal.postal}, which is in "
                f"{zip_state}: kept the region given"
            )


def _looks_like_zip(value: str) -> bool:
    digits = value.strip().replace("-", "")
    return digits.isdigit() and len(digits) in (5, 9)


def _account(lead: Lead, normal: NormalLead) -> None:
    """The account domain from the domain field, else the website, else the e-mail."""
    for name, value in (("domain", lead.domain), ("website", lead.website), ("email", lead.email)):
        if not value:
            continue
        if name == "email":
            # The part after the last '@' is what is read (and cached: a company's
            # leads share it).
            _, at, host = value.strip().rpartition("@")
            found = _account_reading(name, "@" + host) if at else None
        else:
            found = _account_reading(name, value)
        if found is None:
            normal.notes.append(f"{name} {shown(value)} holds no domain")
            continue
        domain, note = found
        if note:
            normal.notes.append(note)
        if domain is not None:
            normal.account_domain = domain
            return


@lru_cache(maxsize=65536)
def _account_reading(name: str, value: str) -> tuple[str | None, str] | None:
    """What one source says of the account: None if it holds no domain, else the
    domain (None for free mail) and the note on it."""
    if name == "email":
        domain = domains.domain_from_email(value)
    else:
        domain = domains.domain_from_website(value)
    if domain is None:
        return None
    if domains.is_free_mail(domain):
        return None, f"{name} domain {domain} is free mail: not an account"
    if name != "domain" or domain != value:
        return domain, f"account domain {domain} taken from {name}"
    return domain, ""

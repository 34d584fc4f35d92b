"""Build the geographic indexes of territories and catch ambiguous or overlapping claims."""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from router import geo
from router.ruleset import schema
from router.ruleset.compiled import (
    FIRST_ANSWER,
    NO_CLAIM,
    ONE_BY_ONE,
    POSTAL_TABLE_DIGITS,
    GeoIndex,
    PostalTable,
    RangeTable,
    Slot,
    TerritoryCard,
)
from router.ruleset.problems import Path
from router.shown import shown

Report = Callable[[Path, Any, str], None]
ANY = ""


@dataclass
class _SlotDraft:
    """Who claims one place: territory and where it was written, per industry."""

    claims: dict[str, tuple[TerritoryCard, Path]] = field(default_factory=dict)

    def freeze(self) -> Slot:
        default = self.claims.get(ANY)
        by_industry = {k: v[0] for k, v in self.claims.items() if k != ANY}
        return Slot(default[0] if default else None, by_industry or None)


@dataclass
class _Range:
    low: str
    high: str
    draft: _SlotDraft
    at: Path

    def holder(self) -> str:
        return next(iter(self.draft.claims.values()))[0].id


# A country gets a PostalTable (200 kB) in an index once it has this many postal
# prefixes and ranges; fewer are quickly read one by one.
POSTAL_TABLE_CLAIMS = 1_000


def postal_table(
    country: str,
    prefixes: Mapping[str, Slot],
    tables: tuple[RangeTable, ...],
    shared: dict[tuple[str, str], tuple[TerritoryCard, str]],
) -> PostalTable | None:
    """The postal level's answer for every five-digit code, or None when the country has
    fewer than POSTAL_TABLE_CLAIMS claims or a claim that is not plain digits of at most
    five (a prefix such as "SW1", a six-digit range).

    Every claim paints the codes it holds, from the least specific up, so that each code
    ends with the claim that engine._postal_lookup would pick: the longest prefix, unless
    a range of higher rank holds the code; a prefix before a range of the same rank; the
    first range table before a later one. A claim whose territory depends on the lead's
    industry paints ONE_BY_ONE (the claims are then read one by one), and a more
    specific claim paints over it, as it wins whatever the industry. `shared` keeps one
    answer per territory and words.
    """
    if len(prefixes) + sum(len(t.lows) for t in tables) < POSTAL_TABLE_CLAIMS:
        return None
    digits = POSTAL_TABLE_DIGITS
    claims: list[tuple[tuple[int, int, int], int, int, Slot, str]] = []
    for prefix, slot in prefixes.items():
        if len(prefix) > digits or not (prefix.isascii() and prefix.isdigit()):
            return None
        span = 10 ** (digits - len(prefix))
        low = int(prefix) * span
        claims.append(((len(prefix), 1, 0), low, low + span, slot, f"{country} {prefix}"))
    for order, table in enumerate(tables):
        if table.length > digits:
            return None
        span = 10 ** (digits - table.length)
        for at, (first, last) in enumerate(zip(table.lows, table.highs, strict=True)):
            if not (first + last).isascii() or not (first + last).isdigit():
                return None
            claims.append(
                (
                    (table.ranks[at], 0, -order),
                    int(first) * span,
                    (int(last) + 1) * span,
                    table.slots[at],
                    f"{country} {first}-{last}",
                )
            )
    claims.sort(key=lambda claim: claim[0])
    # Two bytes a code while every answer fits, four beyond.
    typecode = "H" if FIRST_ANSWER + len(claims) - 1 <= 0xFFFF else "I"
    codes: array[int] = array(typecode, [NO_CLAIM]) * 10**digits
    answers: list[tuple[TerritoryCard, str]] = []
    for order_key, low, high, slot, where in claims:
        is_prefix = order_key[1]
        if slot.by_industry is not None or slot.any_industry is None:
            value = ONE_BY_ONE
        else:
            label = f"postal prefix {where}" if is_prefix else f"postal range {where}"
            key = (slot.any_industry.id, label)
            answer = shared.get(key)
            if answer is None:
                answer = shared[key] = (slot.any_industry, label)
            value = FIRST_ANSWER + len(answers)
            answers.append(answer)
        codes[low:high] = array(typecode, [value]) * (high - low)
    return PostalTable(codes, tuple(answers))


@dataclass
class _IndexDraft:
    prefixes: dict[str, dict[str, _SlotDraft]] = field(default_factory=lambda: defaultdict(dict))
    ranges: dict[tuple[str, int], list[_Range]] = field(default_factory=lambda: defaultdict(list))
    range_at: dict[tuple[str, str, str], _Range] = field(default_factory=dict)
    regions: dict[str, _SlotDraft] = field(default_factory=dict)
    countries: dict[str, _SlotDraft] = field(default_factory=dict)
    anywhere: _SlotDraft | None = None


def normal_industry(value: str) -> str:
    return " ".join(value.lower().replace("_", " ").replace("-", " ").split())


def range_rank(low: str, high: str) -> int:
    """How specific a postal range is: the length of the prefix its bounds share."""
    rank = 0
    for a, b in zip(low, high, strict=True):
        if a != b:
            break
        rank += 1
    return rank


def split_range(value: str) -> tuple[str, str] | None:
    parts = value.split("-")
    if len(parts) != 2:
        return None
    return parts[0].strip(), parts[1].strip()


class GeoClaims:
    """Collects each territory's places per structure and segment, then freezes indexes."""

    def __init__(self, report: Report, segments: tuple[str, ...]) -> None:
        self.report = report
        self.segments = segments
        self.drafts: dict[tuple[str, str], _IndexDraft] = defaultdict(_IndexDraft)
        # The postal tables' answers, shared between the indexes of every segment.
        self.answers: dict[tuple[str, str], tuple[TerritoryCard, str]] = {}

    def claim(self, at: Path, territory: schema.Territory, card: TerritoryCard) -> None:
        places = self.places(at, territory)
        if not any(places.values()) and not territory.anywhere:
            self.report(
                at,
                territory.id,
                "covers no place (give countries, regions, postal or anywhere: true)",
            )
        industries = [normal_industry(i) for i in territory.industries] or [ANY]
        segments = [s for s in territory.segments if s in self.segments]
        if not territory.segments:
            segments = list(self.segments)
        for segment in segments:
            draft = self.drafts[(territory.covers, segment)]
            for industry in industries:
                self.place_claims(at, card, draft, industry, places, territory.anywhere)

    def places(self, at: Path, territory: schema.Territory) -> dict[str, list[Any]]:
        countries = []
        for position, code in enumerate(territory.countries):
            if geo.is_country(code):
                countries.append(code)
            else:
                guess = geo.country_code(code)
                hint = f" (did you mean {shown(guess)}?)" if guess else ""
                self.report(
                    (*at, "countries", position),
                    code,
                    f"is not an ISO 3166-1 alpha-2 country code{hint}",
                )
        regions = []
        for position, code in enumerate(territory.regions):
            if geo.is_region(code):
                regions.append(code)
            else:
                self.report(
                    (*at, "regions", position),
                    code,
                    "is not an ISO 3166-2 region code (expected e.g. US-CA, CA-ON)",
                )
        prefixes: list[tuple[str, str, Path]] = []
        ranges: list[tuple[str, str, str, Path]] = []
        for country, entries in territory.postal.items():
            if not geo.is_country(country):
                self.report(
                    (*at, "postal", country), country, "is not an ISO 3166-1 alpha-2 country code"
                )
                continue
            for position, entry in enumerate(entries):
                where: Path = (*at, "postal", country, position)
                self.postal_entry(where, country, str(entry), prefixes, ranges)
        return {"countries": countries, "regions": regions, "prefixes": prefixes, "ranges": ranges}

    def postal_entry(
        self,
        where: Path,
        country: str,
        entry: str,
        prefixes: list[tuple[str, str, Path]],
        ranges: list[tuple[str, str, str, Path]],
    ) -> None:
        bounds = split_range(entry)
        if bounds is None:
            prefix = geo.postal_code_valid_for_rules(country, entry)
            if prefix is None:
                self.report(where, entry, f"is not a postal code prefix for {country}")
            else:
                prefixes.append((country, prefix, where))
            return
        low = geo.postal_code_valid_for_rules(country, bounds[0])
        high = geo.postal_code_valid_for_rules(country, bounds[1])
        if low is None or high is None or len(low) != len(high) or low > high:
            self.report(
                where,
                entry,
                f"is not a postal range for {country} (expected LOW-HIGH of equal "
                "length, LOW not above HIGH, e.g. 10000-14999)",
            )
            return
        ranges.append((country, low, high, where))

    def take(
        self, draft: _SlotDraft, industry: str, card: TerritoryCard, at: Path, place: str
    ) -> None:
        held = draft.claims.get(industry)
        if held is not None and held[0].id != card.id:
            scope = f"industry {shown(industry)}" if industry else "any industry"
            self.report(
                at,
                card.id,
                f"matches {place} at the same specificity as territory "
                f"{shown(held[0].id)} for the same products, segment and {scope}",
            )
            return
        draft.claims[industry] = (card, at)

    def place_claims(
        self,
        at: Path,
        card: TerritoryCard,
        draft: _IndexDraft,
        industry: str,
        places: dict[str, list[Any]],
        anywhere: bool,
    ) -> None:
        for country, prefix, where in places["prefixes"]:
            slot = draft.prefixes[country].setdefault(prefix, _SlotDraft())
            self.take(slot, industry, card, where, f"postal prefix {country} {prefix}")
        for country, low, high, where in places["ranges"]:
            same = draft.range_at.get((country, low, high))
            if same is None:
                same = draft.range_at[(country, low, high)] = _Range(low, high, _SlotDraft(), where)
                draft.ranges[(country, len(low))].append(same)
            self.take(same.draft, industry, card, where, f"postal range {country} {low}-{high}")
        for region in places["regions"]:
            slot = draft.regions.setdefault(region, _SlotDraft())
            self.take(slot, industry, card, at, f"region {region}")
        for country in places["countries"]:
            slot = draft.countries.setdefault(country, _SlotDraft())
            self.take(slot, industry, card, at, f"country {country}")
        if anywhere:
            if draft.anywhere is None:
                draft.anywhere = _SlotDraft()
            self.take(draft.anywhere, industry, card, at, "anywhere")

    def build(self) -> dict[str, dict[str, GeoIndex]]:
        structures: dict[str, dict[str, GeoIndex]] = defaultdict(dict)
        for (structure, segment), draft in self.drafts.items():
            structures[structure][segment] = self.freeze(draft)
        return dict(structures)

    def freeze(self, draft: _IndexDraft) -> GeoIndex:
        tables: dict[str, list[RangeTable]] = defaultdict(list)
        for (country, length), bucket in draft.ranges.items():
            bucket.sort(key=lambda r: (r.low, r.high))
            widest = bucket[0]
            for after in bucket[1:]:
                if after.low <= widest.high:
                    self.report(
                        after.at,
                        f"{after.low}-{after.high}",
                        f"overlaps postal range {widest.low}-{widest.high} "
                        f"of territory {shown(widest.holder())}",
                    )
                if after.high > widest.high:
                    widest = after
            tables[country].append(
                RangeTable(
                    length,
                    tuple(r.low for r in bucket),
                    tuple(r.high for r in bucket),
                    tuple(r.draft.freeze() for r in bucket),
                    tuple(range_rank(r.low, r.high) for r in bucket),
                )
            )
            self.prefixes_inside_ranges(draft, country, length, bucket)
        self.ranges_across_lengths(draft)
        prefixes = {c: {p: s.freeze() for p, s in t.items()} for c, t in draft.prefixes.items()}
        ranges = {c: tuple(t) for c, t in tables.items()}
        postal_tables = {}
        for country in prefixes.keys() | ranges.keys():
            table = postal_table(
                country, prefixes.get(country, {}), ranges.get(country, ()), self.answers
            )
            if table is not None:
                postal_tables[country] = table
        return GeoIndex(
            prefixes=prefixes,
            prefix_lengths={
                c: tuple(sorted({len(p) for p in t}, reverse=True)) for c, t in prefixes.items()
            },
            ranges=ranges,
            regions={k: s.freeze() for k, s in draft.regions.items()},
            countries={k: s.freeze() for k, s in draft.countries.items()},
            anywhere=draft.anywhere.freeze() if draft.anywhere else None,
            postal_tables=postal_tables,
        )

    def ranges_across_lengths(self, draft: _IndexDraft) -> None:
        """Ranges written with codes of different lengths that cover the same codes
        at the same rank are ambiguous too (100-109 and 10000-10499)."""
        by_country: dict[str, list[tuple[int, list[_Range]]]] = defaultdict(list)
        for (country, length), bucket in draft.ranges.items():
            by_country[country].append((length, bucket))
        for tables in by_country.values():
            tables.sort(key=lambda t: t[0])
            for index, (short, narrow) in enumerate(tables):
                for _, wide in tables[index + 1 :]:
                    self.cross_check(short, narrow, wide)

    def cross_check(self, short: int, narrow: list[_Range], wide: list[_Range]) -> None:
        lows = [r.low for r in narrow]
        for longer in wide:
            low, high = longer.low[:short], longer.high[:short]
            at = bisect_right(lows, high) - 1
            while at >= 0 and narrow[at].high >= low:
                other = narrow[at]
                at -= 1
                if range_rank(other.low, other.high) != range_rank(longer.low, longer.high):
                    continue
                self.report(
                    longer.at,
                    f"{longer.low}-{longer.high}",
                    f"overlaps postal range {other.low}-{other.high} of territory "
                    f"{shown(other.holder())} at the same specificity",
                )

    def prefixes_inside_ranges(
        self,
        draft: _IndexDraft,
        country: str,
        length: int,
        bucket: list[_Range],
    ) -> None:
        """A prefix and a range of the same rank over the same codes are ambiguous."""
        lows = [r.low for r in bucket]
        for prefix, slot in draft.prefixes.get(country, {}).items():
            head = prefix[:length]
            span_low, span_high = head.ljust(length, "0"), head.ljust(length, "z")
            index = bisect_right(lows, span_high) - 1
            while index >= 0 and bucket[index].high >= span_low:
                hit = bucket[index]
                index -= 1
                if range_rank(hit.low, hit.high) != len(prefix):
                    continue
                where = next(iter(slot.claims.values()))[1]
                self.report(
                    where,
                    prefix,
                    f"is a postal prefix as specific as postal range "
                    f"{hit.low}-{hit.high} of territory {shown(hit.holder())}, and overlaps it",
                )

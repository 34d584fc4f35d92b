"""A hand-written router, as a team would write one without indexes: the baseline.

It reads the same parsed rule files as the compiler and decides a lead the obvious
way: the product from the intent lists, the segment from the bands, then a scan of
every territory in file order keeping the most specific match (postal prefix or
range by rank, then region, then country, then anywhere; an industry territory over
an any-industry one at the same place), then the next rep of the pool in turn.
It shares the router's lead normalisation (country names, ZIPs, domains, figures),
so that the comparison is about finding the territory, not about parsing input.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

from router.leads import Lead, NormalLead, normalise
from router.ruleset import schema
from router.ruleset.indexes import normal_industry, range_rank, split_range
from router.ruleset.loading import load_directory

Score = tuple[int, int, int, int]


def parsed_rules(directory: Path) -> schema.RuleSet:
    """The rule files of `directory` merged and validated, before any compiling."""
    loaded = load_directory(directory)
    if loaded.problems:
        raise ValueError(f"{directory}: {loaded.problems[0]}")
    return schema.RuleSet.model_validate(loaded.document)


@dataclass(frozen=True, slots=True)
class Place:
    """One territory's places, ready to compare with a normalised lead."""

    id: str
    covers: str
    segments: frozenset[str]
    industries: frozenset[str]
    countries: frozenset[str]
    regions: frozenset[str]
    prefixes: tuple[tuple[str, str], ...]
    ranges: tuple[tuple[str, str, str, int], ...]
    anywhere: bool
    reps: tuple[str, ...]

    def score(self, lead: NormalLead) -> Score | None:
        """How specifically this territory holds the lead: (level, rank, prefix, industry)."""
        industry = 1 if self.industries else 0
        country, postal = lead.country, lead.postal
        best: Score | None = None
        if country is not None and postal is not None:
            for where, prefix in self.prefixes:
                if where == country and postal.startswith(prefix):
                    found = (4, len(prefix), 1, industry)
                    if best is None or found > best:
                        best = found
            for where, low, high, rank in self.ranges:
                if where == country and len(postal) >= len(low):
                    head = postal[: len(low)]
                    if low <= head <= high:
                        found = (4, rank, 0, industry)
                        if best is None or found > best:
                            best = found
            if best is not None:
                return best
        if lead.region is not None and lead.region in self.regions:
            return (3, 0, 0, industry)
        if country is not None and country in self.countries:
            return (2, 0, 0, industry)
        if self.anywhere:
            return (1, 0, 0, industry)
        return None


def _place(territory: schema.Territory) -> Place:
    prefixes: list[tuple[str, str]] = []
    ranges: list[tuple[str, str, str, int]] = []
    for country, entries in territory.postal.items():
        for entry in entries:
            text = str(entry).strip().upper().replace(" ", "")
            bounds = split_range(text)
            if bounds is None:
                prefixes.append((country, text))
            else:
                low, high = bounds
                ranges.append((country, low, high, range_rank(low, high)))
    if territory.owner.rep is not None:
        reps: tuple[str, ...] = (territory.owner.rep,)
    else:
        reps = tuple(member.rep for member in territory.owner.pool or ())
    return Place(
        id=territory.id,
        covers=territory.covers,
        segments=frozenset(territory.segments),
        industries=frozenset(normal_industry(i) for i in territory.industries),
        countries=frozenset(territory.countries),
        regions=frozenset(territory.regions),
        prefixes=tuple(prefixes),
        ranges=tuple(ranges),
        anywhere=territory.anywhere,
        reps=reps,
    )


class NaiveRouter:
    """Product, segment, a scan of every territory, and a round robin inside the pool."""

    def __init__(self, rules: schema.RuleSet) -> None:
        self.rules = rules
        self.places = [_place(t) for t in rules.territories]
        self.by_id = {place.id: place for place in self.places}
        self.turns: dict[str, int] = {}
        self.structure_of: dict[str, str] = {}
        by_id = {p.id: p for p in rules.products}
        for product in rules.products:
            primary = by_id[product.sold_with] if product.sold_with else product
            self.structure_of[product.id] = primary.portfolio or primary.id
        self.priority = {p.id: (p.priority, order) for order, p in enumerate(rules.products)}
        self.values: dict[str, str] = {}
        self.forms: dict[str, str] = {}
        self.campaigns: dict[str, str] = {}
        self.sources: dict[str, str] = {}
        self.pages: list[tuple[re.Pattern[str], str]] = []
        for product in rules.products:
            self.values[product.id] = product.id
            for value in product.intent.values:
                self.values[value.strip().lower()] = product.id
            for form in product.intent.form_ids:
                self.forms[form.strip().lower()] = product.id
            for campaign in product.intent.campaigns:
                self.campaigns[campaign.strip().lower()] = product.id
            for source in product.intent.sources:
                self.sources[source.strip().lower()] = product.id
            for pattern in product.intent.url_patterns:
                glob = fnmatch.translate(pattern.strip().lower())
                self.pages.append((re.compile(glob), product.id))
        self.accounts = {a.domain: a for a in rules.accounts if a.domain}
        self.segments = list(rules.segments)
        self.unknown_segment = rules.unknown_segment or rules.segments[0].id

    def product(self, lead: Lead) -> str | None:
        if lead.product:
            explicit = self.values.get(lead.product.strip().lower())
            if explicit is not None:
                return explicit
        signalled: set[str] = set()
        for value, table in (
            (lead.form_id, self.forms),
            (lead.utm_campaign, self.campaigns),
            (lead.utm_source, self.sources),
        ):
            if value:
                found = table.get(value.strip().lower())
                if found is not None:
                    signalled.add(found)
        if lead.page_url:
            url = lead.page_url.strip().lower()
            page = next((p for pattern, p in self.pages if pattern.match(url)), None)
            if page is not None:
                signalled.add(page)
        if signalled:
            return min(signalled, key=lambda p: self.priority[p])
        return self.rules.default_product

    def segment(self, lead: NormalLead) -> str:
        domain = lead.account_domain
        while domain and "." in domain:
            account = self.accounts.get(domain)
            if account is not None:
                if account.segment is not None:
                    return account.segment
                break
            domain = domain.split(".", 1)[1]
        if lead.employees is None and lead.revenue is None:
            return self.unknown_segment
        chosen = self.segments[0].id
        people, money = lead.employees, lead.revenue
        for band in self.segments[1:]:
            floor, bound = band.min_employees, band.min_revenue
            by_people = floor is not None and people is not None and people >= floor
            by_money = bound is not None and money is not None and money >= bound
            if by_people or by_money:
                chosen = band.id
        return chosen

    def territory(self, structure: str, segment: str, lead: NormalLead) -> Place | None:
        """The most specific territory of the map, scanning all of them in file order."""
        best: Place | None = None
        best_score: Score = (0, 0, 0, 0)
        for place in self.places:
            if place.covers != structure:
                continue
            if place.segments and segment not in place.segments:
                continue
            if place.industries and lead.industry not in place.industries:
                continue
            score = place.score(lead)
            if score is not None and score > best_score:
                best, best_score = place, score
        return best

    def owner(self, place: Place) -> str:
        turn = self.turns.get(place.id, 0)
        self.turns[place.id] = turn + 1
        return place.reps[turn % len(place.reps)]

    def decide(self, lead: Lead) -> tuple[str | None, str | None]:
        """(territory id, rep id) for the lead; (None, None) when nothing matches."""
        normal = normalise(lead)
        product = self.product(lead)
        if product is None:
            return None, None
        place = self.territory(self.structure_of[product], self.segment(normal), normal)
        if place is None:
            return None, None
        return place.id, self.owner(place)

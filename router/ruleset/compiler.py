"""Validate a rules directory and compile it into a versioned, immutable CompiledRules."""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path as FsPath
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from router import geo
from router.ruleset import schema
from router.ruleset.compiled import (
    AccountCard,
    CompiledRules,
    Hours,
    IntentIndex,
    OverlayCard,
    Pool,
    ProductCard,
    QueueCard,
    RepCard,
    SegmentTable,
    TerritoryCard,
    TriggerCard,
)
from router.ruleset.indexes import GeoClaims
from router.ruleset.loading import SourceMap, load_directory, version_of
from router.ruleset.problems import Path, Problem, RulesError, dotted
from router.shown import pydantic_words, shown

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PORTFOLIO_TOTAL = 100.0


def compile_rules(directory: str | FsPath, name: str | None = None) -> CompiledRules:
    """Load, validate and compile every rule file below directory.

    Raises RulesError listing every mistake found, with file and line.
    """
    directory = FsPath(directory)
    loaded = load_directory(directory)
    try:
        rules = schema.RuleSet.model_validate(loaded.document)
    except ValidationError as error:
        found = _schema_problems(error, loaded.document, loaded.sources)
        if loaded.unreadable:
            # A section may be missing only because its file could not be read.
            found = [p for p in found if p.expected != "is required but missing" or "." in p.path]
        raise RulesError([*loaded.problems, *found]) from None
    if loaded.unreadable:
        raise RulesError(loaded.problems)
    version = version_of(loaded.texts)
    compiler = _Compiler(rules, loaded.sources)
    compiler.problems.extend(loaded.problems)
    return compiler.build(name or directory.resolve().name, version)


def _schema_problems(error: ValidationError, document: Any, sources: SourceMap) -> list[Problem]:
    problems: dict[tuple[str, str], Problem] = {}
    for item in error.errors():
        path: list[str | int] = []
        node = document
        for part in item["loc"]:
            inside_dict = isinstance(node, dict) and part in node
            inside_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
            if inside_dict or inside_list:
                node = node[part]
            else:
                if item["type"] == "missing" or item["type"] == "extra_forbidden":
                    path.append(part)
                continue
            path.append(part)
        where = tuple(path)
        file, line = sources.locate(where)
        if item["type"] == "missing":
            value: Any = where[-1] if where else ""
            expected = "is required but missing"
        elif item["type"] == "extra_forbidden":
            value = where[-1] if where else ""
            expected = "is not a known field here"
        else:
            value = item.get("input")
            expected = f"is invalid: {pydantic_words(item)}"
            if isinstance(value, bool):
                expected += " (YAML reads yes/no/on/off unquoted as true/false: quote it)"
        key = (dotted(where), str(value))
        problems.setdefault(key, Problem(file, line, dotted(where), value, expected))
    # A union (a list or a mapping) fails once per branch; the deeper error says why.
    paths = [p.path for p in problems.values()]
    return [
        p
        for p in problems.values()
        if not any(other.startswith((p.path + ".", p.path + "[")) for other in paths)
    ]


def _stickiness_tables(reps: dict[str, RepCard]) -> dict[str, Any]:
    """Who may own an account per product, and who of them may be away on some day."""
    carriers: dict[str, set[str]] = defaultdict(set)
    limited: dict[str, list[str]] = defaultdict(list)
    for rep in reps.values():
        if rep.role != "primary":
            continue
        for product_id in rep.weights:
            carriers[product_id].add(rep.id)
            if not rep.active or rep.absences:
                limited[product_id].append(rep.id)
    return {
        "carriers": {k: frozenset(v) for k, v in carriers.items()},
        "limited_carriers": {k: tuple(v) for k, v in limited.items()},
        "zone_of": {rep.id: rep.timezone.key for rep in reps.values()},
        "zones": {rep.timezone.key: rep.timezone for rep in reps.values()},
    }


def coverage_gaps(structures: dict[str, Any], segments: tuple[str, ...]) -> list[str]:
    """Places where a structure sells in some segment but leaves another without an owner."""
    gaps = []
    for structure, by_segment in sorted(structures.items()):
        sold_in: set[str] = set()
        for index in by_segment.values():
            sold_in.update(index.countries)
            sold_in.update(code.split("-")[0] for code in index.regions)
            sold_in.update(index.prefixes)
            sold_in.update(index.ranges)
        for segment in segments:
            index = by_segment.get(segment)
            if index is not None and index.anywhere is not None:
                continue
            for country in sorted(sold_in):
                if index is not None and country in index.countries:
                    continue
                partial = index is not None and (
                    country in index.prefixes
                    or country in index.ranges
                    or any(code.startswith(country + "-") for code in index.regions)
                )
                what = "outside its regions and postal codes" if partial else "at all"
                gaps.append(
                    f"gap: {structure} has no {segment} territory for {country} {what}; "
                    "those leads go to a fallback queue"
                )
    return gaps


def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern.lower()))


class _Compiler:
    """Checks references and builds the indexes; collects every problem before failing."""

    def __init__(self, rules: schema.RuleSet, sources: SourceMap) -> None:
        self.rules = rules
        self.sources = sources
        self.problems: list[Problem] = []
        self.warnings: list[str] = []

    def report(self, path: Path, value: Any, expected: str) -> None:
        file, line = self.sources.locate(path)
        self.problems.append(Problem(file, line, dotted(path), value, expected))

    def unique(self, section: str, ids: Iterable[str]) -> set[str]:
        seen: set[str] = set()
        for index, item_id in enumerate(ids):
            if item_id in seen:
                self.report((section, index, "id"), item_id, f"is a duplicate {section} id")
            seen.add(item_id)
        return seen

    def build(self, name: str, version: str) -> CompiledRules:
        products = self.products()
        segments = self.segments()
        reps = self.reps(products)
        queues = self.queues()
        fallback_default, fallback_by_product = self.fallbacks(queues, products)
        territories, structures = self.territories(products, segments, reps)
        fallback_by_territory = self.territory_fallbacks(queues, territories)
        by_domain, by_crm_id = self.accounts(products, segments, reps)
        overlays = self.overlays(products, segments, reps)
        if self.problems:
            raise RulesError(self.problems)
        self.review(products, reps, territories, overlays, by_domain, by_crm_id)
        self.warnings.extend(coverage_gaps(structures, segments.ids))
        return CompiledRules(
            name=name,
            version=version,
            loaded_at=dt.datetime.now(dt.UTC),
            products=products,
            default_product=self.rules.default_product,
            intent=self.intent(products),
            segments=segments,
            reps=reps,
            queues=queues,
            territories=territories,
            structures=structures,
            accounts_by_domain=by_domain,
            accounts_by_crm_id=by_crm_id,
            overlays=overlays,
            fallback_default=fallback_default,
            fallback_by_product=fallback_by_product,
            fallback_by_territory=fallback_by_territory,
            warnings=tuple(self.warnings),
            **_stickiness_tables(reps),
        )

    # products and intent -------------------------------------------------

    def products(self) -> dict[str, ProductCard]:
        declared = self.unique("products", (p.id for p in self.rules.products))
        cards: dict[str, ProductCard] = {}
        for index, product in enumerate(self.rules.products):
            at = ("products", index)
            structure: str | None = product.id
            weights_from = product.id
            if product.model == "portfolio":
                if product.portfolio is None:
                    self.report((*at, "model"), "portfolio", "needs a `portfolio` id to share")
                elif product.portfolio in declared:
                    self.report((*at, "portfolio"), product.portfolio, "is also a product id")
                structure = product.portfolio
            elif product.portfolio is not None:
                self.report((*at, "portfolio"), product.portfolio, "is only for portfolio products")
            if product.model == "overlay":
                structure = None
                if product.sold_with is None:
                    self.report((*at, "model"), "overlay", "needs `sold_with`: the primary product")
                elif product.sold_with not in declared:
                    self.report((*at, "sold_with"), product.sold_with, "is not a product id")
                else:
                    weights_from = product.sold_with
            elif product.sold_with is not None:
                self.report((*at, "sold_with"), product.sold_with, "is only for overlay products")
            cards[product.id] = ProductCard(
                product.id,
                product.name,
                product.model,
                product.priority,
                structure,
                weights_from,
                index,
            )
        for card in list(cards.values()):
            if (
                card.model == "overlay"
                and card.weights_from != card.id
                and card.weights_from in cards
            ):
                primary = cards[card.weights_from]
                if primary.model == "overlay":
                    index = card.order
                    self.report(
                        ("products", index, "sold_with"),
                        primary.id,
                        "is itself an overlay product (expected a dedicated or portfolio one)",
                    )
                cards[card.id] = ProductCard(
                    card.id,
                    card.name,
                    card.model,
                    card.priority,
                    primary.structure,
                    primary.id,
                    card.order,
                )
        default = self.rules.default_product
        if default is not None and default not in cards:
            self.report(("default_product",), default, "is not a product id")
        return cards

    def intent(self, products: dict[str, ProductCard]) -> IntentIndex:
        tables: dict[str, dict[str, str]] = {
            "values": {},
            "form_ids": {},
            "campaigns": {},
            "sources": {},
        }
        patterns: list[tuple[re.Pattern[str], str]] = []
        for product in self.rules.products:
            tables["values"].setdefault(product.id, product.id)
            for kind, table in tables.items():
                for value in getattr(product.intent, kind):
                    table[value.strip().lower()] = product.id
            patterns.extend((_glob(p), product.id) for p in product.intent.url_patterns)
        return IntentIndex(
            tables["values"],
            tables["form_ids"],
            tables["campaigns"],
            tables["sources"],
            tuple(patterns),
        )

    def check_intent_clashes(self) -> None:
        owners: dict[tuple[str, str], str] = {("values", p.id): p.id for p in self.rules.products}
        for index, product in enumerate(self.rules.products):
            for kind in ("values", "form_ids", "campaigns", "sources"):
                for position, value in enumerate(getattr(product.intent, kind)):
                    key = (kind, value.strip().lower())
                    other = owners.setdefault(key, product.id)
                    if other != product.id:
                        self.report(
                            ("products", index, "intent", kind, position),
                            value,
                            f"already signals product {shown(other)}",
                        )

    # segments --------------------------------------------------------------

    def segments(self) -> SegmentTable:
        ids = self.unique("segments", (s.id for s in self.rules.segments))
        employee_mins: list[float] = []
        employee_tiers: list[int] = []
        revenue_mins: list[float] = []
        revenue_tiers: list[int] = []
        for tier, segment in enumerate(self.rules.segments):
            at = ("segments", tier)
            if tier == 0:
                if segment.min_employees or segment.min_revenue:
                    self.report(at, segment.id, "is the smallest segment: it takes no minimum")
                employee_mins.append(0)
                employee_tiers.append(0)
                revenue_mins.append(0)
                revenue_tiers.append(0)
                continue
            if segment.min_employees is None and segment.min_revenue is None:
                self.report(at, segment.id, "needs min_employees or min_revenue")
            for value, mins, tiers, field in (
                (segment.min_employees, employee_mins, employee_tiers, "min_employees"),
                (segment.min_revenue, revenue_mins, revenue_tiers, "min_revenue"),
            ):
                if value is None:
                    continue
                if value <= mins[-1]:
                    self.report(
                        (*at, field),
                        value,
                        f"must be above the previous segment's {field} ({mins[-1]:g})",
                    )
                mins.append(float(value))
                tiers.append(tier)
        unknown = self.rules.unknown_segment or self.rules.segments[0].id
        if unknown not in ids:
            self.report(("unknown_segment",), unknown, "is not a segment id")
        return SegmentTable(
            tuple(s.id for s in self.rules.segments),
            tuple(employee_mins),
            tuple(employee_tiers),
            tuple(revenue_mins),
            tuple(revenue_tiers),
            unknown,
        )

    # reps and queues -----------------------------------------------------

    def reps(self, products: dict[str, ProductCard]) -> dict[str, RepCard]:
        self.unique("reps", (r.id for r in self.rules.reps))
        crm_ids: dict[str, str] = {}
        for index, rep in enumerate(self.rules.reps):
            if rep.crm_user_id is None:
                continue
            other = crm_ids.setdefault(rep.crm_user_id, rep.id)
            if other != rep.id:
                self.report(
                    ("reps", index, "crm_user_id"),
                    rep.crm_user_id,
                    f"is also the CRM user id of rep {shown(other)}",
                )
        self.check_intent_clashes()
        cards: dict[str, RepCard] = {}
        for index, rep in enumerate(self.rules.reps):
            at: Path = ("reps", index)
            weights = rep.weights()
            for product_id, weight in weights.items():
                if product_id not in products:
                    self.report((*at, "products", product_id), product_id, "is not a product id")
                elif weight <= 0:
                    self.report((*at, "products", product_id), weight, "must be above 0")
            self.check_portfolio_weights(at, rep, weights, products)
            try:
                zone = ZoneInfo(rep.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                self.report((*at, "timezone"), rep.timezone, "is not an IANA time zone")
                zone = ZoneInfo("UTC")
            hours = None
            if rep.working_hours is not None:
                wh = rep.working_hours
                if wh.end <= wh.start:
                    self.report((*at, "working_hours"), str(wh.end), "must end after it starts")
                hours = Hours(frozenset(DAYS.index(d) for d in wh.days), wh.start, wh.end)
            for position, absence in enumerate(rep.out_of_office):
                if absence.ends < absence.starts:
                    self.report(
                        (*at, "out_of_office", position),
                        str(absence.ends),
                        f"ends before it starts ({absence.starts})",
                    )
            wire = {
                "type": "rep",
                "id": rep.id,
                "name": rep.name,
                "email": rep.email,
                "crm_user_id": rep.crm_user_id,
            }
            cards[rep.id] = RepCard(
                rep.id,
                rep.name,
                rep.email,
                rep.crm_user_id,
                rep.role,
                weights,
                rep.daily_capacity,
                zone,
                hours,
                rep.active,
                tuple((a.starts.isoformat(), a.ends.isoformat()) for a in rep.out_of_office),
                wire,
            )
        return cards

    def check_portfolio_weights(
        self,
        at: Path,
        rep: schema.Rep,
        weights: dict[str, float],
        products: dict[str, ProductCard],
    ) -> None:
        by_portfolio: dict[str, list[str]] = defaultdict(list)
        for product in self.rules.products:
            if product.model == "portfolio" and product.portfolio:
                by_portfolio[product.portfolio].append(product.id)
        for portfolio, members in by_portfolio.items():
            carried = [p for p in members if p in weights]
            if not carried:
                continue
            if isinstance(rep.products, list):
                self.report(
                    (*at, "products"),
                    rep.products,
                    f"needs a weight per product of portfolio {shown(portfolio)} (e.g. crm: 70)",
                )
                continue
            missing = [p for p in members if p not in weights]
            if missing:
                self.report(
                    (*at, "products"),
                    dict(rep.products),
                    f"must carry every product of portfolio {shown(portfolio)}; missing {missing}",
                )
            total = sum(weights[p] for p in carried)
            if abs(total - PORTFOLIO_TOTAL) > 1e-9:
                self.report(
                    (*at, "products"),
                    dict(rep.products),
                    f"portfolio {shown(portfolio)} weights add up to {total:g}, expected 100",
                )

    def queues(self) -> dict[str, QueueCard]:
        self.unique("queues", (q.id for q in self.rules.queues))
        cards = {}
        for queue in self.rules.queues:
            wire = {
                "type": "queue",
                "id": queue.id,
                "name": queue.name,
                "email": queue.email,
                "crm_user_id": queue.crm_queue_id,
            }
            cards[queue.id] = QueueCard(queue.id, queue.name, wire)
        return cards

    def fallbacks(
        self, queues: dict[str, QueueCard], products: dict[str, ProductCard]
    ) -> tuple[str, dict[str, str]]:
        fallbacks = self.rules.fallbacks
        if fallbacks.default not in queues:
            self.report(("fallbacks", "default"), fallbacks.default, "is not a queue id")
        for product_id, queue_id in fallbacks.products.items():
            at = ("fallbacks", "products", product_id)
            if product_id not in products:
                self.report(at, product_id, "is not a product id")
            if queue_id not in queues:
                self.report(at, queue_id, "is not a queue id")
        return fallbacks.default, dict(fallbacks.products)

    def territory_fallbacks(
        self, queues: dict[str, QueueCard], territories: dict[str, TerritoryCard]
    ) -> dict[str, str]:
        for territory_id, queue_id in self.rules.fallbacks.territories.items():
            at = ("fallbacks", "territories", territory_id)
            if territory_id not in territories:
                self.report(at, territory_id, "is not a territory id")
            if queue_id not in queues:
                self.report(at, queue_id, "is not a queue id")
        return dict(self.rules.fallbacks.territories)

    # territories ---------------------------------------------------------

    def structure_products(self, products: dict[str, ProductCard]) -> dict[str, list[str]]:
        """Which products route through each territory structure (portfolio or product id)."""
        members: dict[str, list[str]] = defaultdict(list)
        for card in products.values():
            if card.model != "overlay" and card.structure is not None:
                members[card.structure].append(card.id)
        return members

    def pool(
        self,
        at: Path,
        key: str,
        owner: schema.Owner,
        sold: list[str],
        reps: dict[str, RepCard],
        portfolio: bool,
    ) -> Pool:
        if (owner.rep is None) == (owner.pool is None):
            self.report(
                (*at, "owner"),
                owner.model_dump(exclude_defaults=True),
                "needs exactly one of `rep` or `pool`",
            )
            return Pool(key, owner.method, (), {}, owner.working_hours)
        members = [schema.PoolMember(rep=owner.rep)] if owner.rep else list(owner.pool or [])
        seen: set[str] = set()
        for position, member in enumerate(members):
            where = (*at, "owner", "rep") if owner.rep else (*at, "owner", "pool", position)
            if member.rep in seen:
                self.report(where, member.rep, "is listed twice in the pool")
            seen.add(member.rep)
            card = reps.get(member.rep)
            if card is None:
                self.report(where, member.rep, "is not a rep id")
                continue
            if card.role != "primary":
                self.report(where, member.rep, "is an overlay specialist, not a primary rep")
            lacking = [p for p in sold if p not in card.weights]
            if lacking:
                self.report(where, member.rep, f"does not carry {', '.join(lacking)}")
            if portfolio and member.weight is not None:
                self.report(where, member.weight, "is set by the rep's portfolio weights")
        rep_ids = tuple(m.rep for m in members)
        weights: dict[str, tuple[float, ...]] = {}
        for product in sold:
            if owner.method != "weighted":
                weights[product] = (1.0,) * len(rep_ids)
            elif portfolio:
                weights[product] = tuple(
                    reps[r].weights.get(product, 0.0) if r in reps else 0.0 for r in rep_ids
                )
            else:
                weights[product] = tuple(m.weight or 1.0 for m in members)
        return Pool(key, owner.method, rep_ids, weights, owner.working_hours)

    def territories(
        self,
        products: dict[str, ProductCard],
        segment_table: SegmentTable,
        reps: dict[str, RepCard],
    ) -> tuple[dict[str, TerritoryCard], dict[str, Any]]:
        self.unique("territories", (t.id for t in self.rules.territories))
        structures = self.structure_products(products)
        portfolios = {p.portfolio for p in self.rules.products if p.model == "portfolio"}
        claims = GeoClaims(self.report, segment_table.ids)
        cards: dict[str, TerritoryCard] = {}
        for index, territory in enumerate(self.rules.territories):
            at: Path = ("territories", index)
            sold = structures.get(territory.covers)
            if sold is None:
                self.report(
                    (*at, "covers"),
                    territory.covers,
                    "is not a dedicated product or a portfolio id (expected one of: "
                    + ", ".join(sorted(structures))
                    + ")",
                )
                sold = []
            pool = self.pool(
                at,
                f"territory:{territory.id}",
                territory.owner,
                sold,
                reps,
                territory.covers in portfolios,
            )
            card = TerritoryCard(
                territory.id, territory.name or territory.id, territory.covers, pool
            )
            cards[territory.id] = card
            for position, segment in enumerate(territory.segments):
                if segment not in segment_table.ids:
                    self.report((*at, "segments", position), segment, "is not a segment id")
            claims.claim(at, territory, card)
        return cards, claims.build()

    # accounts and overlays -----------------------------------------------

    def accounts(
        self,
        products: dict[str, ProductCard],
        segments: SegmentTable,
        reps: dict[str, RepCard],
    ) -> tuple[dict[str, AccountCard], dict[str, AccountCard]]:
        by_domain: dict[str, AccountCard] = {}
        by_crm_id: dict[str, AccountCard] = {}
        for index, account in enumerate(self.rules.accounts):
            at: Path = ("accounts", index)
            if not account.domain and not account.crm_account_id:
                self.report(at, account.name, "needs a `domain` or a `crm_account_id`")
                continue
            if account.owner is None and not account.owners and account.segment is None:
                self.report(
                    at,
                    account.domain or account.crm_account_id,
                    "needs an `owner`, `owners` or a `segment`",
                )
            self.check_account_owners(at, account, products, reps)
            if account.segment is not None and account.segment not in segments.ids:
                self.report((*at, "segment"), account.segment, "is not a segment id")
            key = account.domain or account.crm_account_id or ""
            card = AccountCard(
                key, account.name, account.owner, dict(account.owners), account.segment
            )
            if account.domain:
                if account.domain in by_domain:
                    self.report((*at, "domain"), account.domain, "is a duplicate named account")
                by_domain[account.domain] = card
            if account.crm_account_id:
                if account.crm_account_id in by_crm_id:
                    self.report(
                        (*at, "crm_account_id"),
                        account.crm_account_id,
                        "is a duplicate named account",
                    )
                by_crm_id[account.crm_account_id] = card
        return by_domain, by_crm_id

    def check_account_owners(
        self,
        at: Path,
        account: schema.Account,
        products: dict[str, ProductCard],
        reps: dict[str, RepCard],
    ) -> None:
        if account.owner is not None and account.owner not in reps:
            self.report((*at, "owner"), account.owner, "is not a rep id")
        elif account.owner is not None and reps[account.owner].role != "primary":
            self.report(
                (*at, "owner"), account.owner, "is an overlay specialist, not a primary rep"
            )
        for product_id, rep_id in account.owners.items():
            where: Path = (*at, "owners", product_id)
            product = products.get(product_id)
            rep = reps.get(rep_id)
            if product is None:
                self.report(where, product_id, "is not a product id")
            if rep is None:
                self.report(where, rep_id, "is not a rep id")
            if (
                product is not None
                and rep is not None
                and (rep.role != "primary" or product.weights_from not in rep.weights)
            ):
                self.report(where, rep_id, f"is not a primary rep carrying {product.weights_from}")

    def overlays(
        self,
        products: dict[str, ProductCard],
        segments: SegmentTable,
        reps: dict[str, RepCard],
    ) -> tuple[OverlayCard, ...]:
        self.unique("overlays", (o.id for o in self.rules.overlays))
        cards = []
        for index, overlay in enumerate(self.rules.overlays):
            at: Path = ("overlays", index)
            if overlay.product not in products:
                self.report((*at, "product"), overlay.product, "is not a product id")
            triggers = []
            seen: set[str] = set()
            for position, trigger in enumerate(overlay.triggers):
                where: Path = (*at, "triggers", position)
                if trigger.id in seen:
                    self.report((*where, "id"), trigger.id, "is a duplicate trigger id")
                seen.add(trigger.id)
                for product_id in trigger.products:
                    if product_id not in products:
                        self.report((*where, "products"), product_id, "is not a product id")
                for segment in trigger.segments:
                    if segment not in segments.ids:
                        self.report((*where, "segments"), segment, "is not a segment id")
                conditions = trigger.model_dump(exclude={"id"}, exclude_defaults=True)
                if not conditions:
                    self.report(where, trigger.id, "has no condition, so it would always fire")
                triggers.append(
                    TriggerCard(
                        trigger.id,
                        trigger.interest,
                        frozenset(trigger.products),
                        frozenset(trigger.segments),
                        trigger.min_deal_size,
                        trigger.min_employees,
                        trigger.named_accounts,
                    )
                )
            cards.append(self.specialists(at, overlay, tuple(triggers), reps))
        return tuple(cards)

    def specialists(
        self,
        at: Path,
        overlay: schema.Overlay,
        triggers: tuple[TriggerCard, ...],
        reps: dict[str, RepCard],
    ) -> OverlayCard:
        by_region: dict[str, list[str]] = defaultdict(list)
        by_country: dict[str, list[str]] = defaultdict(list)
        anywhere: list[str] = []
        weights: dict[str, float] = {}
        for position, specialist in enumerate(overlay.pool.specialists):
            where: Path = (*at, "pool", "specialists", position)
            card = reps.get(specialist.rep)
            if card is None:
                self.report((*where, "rep"), specialist.rep, "is not a rep id")
            elif overlay.product not in card.weights:
                self.report((*where, "rep"), specialist.rep, f"does not carry {overlay.product}")
            else:
                weights[specialist.rep] = card.weights[overlay.product]
            groups = [
                (by_country[c], (*where, "countries", item), c)
                for item, c in self.countries((*where, "countries"), specialist.countries)
            ]
            groups += [
                (by_region[r], (*where, "regions", item), r)
                for item, r in self.regions((*where, "regions"), specialist.regions)
            ]
            if specialist.anywhere:
                groups.append((anywhere, (*where, "anywhere"), "anywhere"))
            for group, place_at, place in groups:
                if specialist.rep in group:
                    # Twice in one group would count the rep's weight twice in the rotation.
                    self.report(place_at, specialist.rep, f"is listed twice for {place}")
                else:
                    group.append(specialist.rep)
            if not (specialist.countries or specialist.regions or specialist.anywhere):
                self.report(
                    where,
                    specialist.rep,
                    "covers no place (give countries, regions or anywhere: true)",
                )
        return OverlayCard(
            overlay.id,
            overlay.product,
            triggers,
            overlay.pool.method,
            overlay.pool.working_hours,
            {k: tuple(v) for k, v in by_region.items()},
            {k: tuple(v) for k, v in by_country.items()},
            tuple(anywhere),
            weights,
        )

    def countries(self, at: Path, values: list[str]) -> list[tuple[int, str]]:
        """The valid country codes with their positions; every other one is reported."""
        good = []
        for position, value in enumerate(values):
            if geo.is_country(value):
                good.append((position, value))
                continue
            guess = geo.country_code(value)
            hint = f" (did you mean {shown(guess)}?)" if guess else ""
            self.report((*at, position), value, f"is not an ISO 3166-1 alpha-2 country code{hint}")
        return good

    def regions(self, at: Path, values: list[str]) -> list[tuple[int, str]]:
        """The valid region codes with their positions; every other one is reported."""
        good = []
        for position, value in enumerate(values):
            if geo.is_region(value):
                good.append((position, value))
            else:
                self.report(
                    (*at, position),
                    value,
                    "is not an ISO 3166-2 region code (expected e.g. US-CA, CA-ON)",
                )
        return good

    # review: what a reviewer wants to know before merging -----------------

    def review(
        self,
        products: dict[str, ProductCard],
        reps: dict[str, RepCard],
        territories: dict[str, TerritoryCard],
        overlays: tuple[OverlayCard, ...],
        by_domain: dict[str, AccountCard],
        by_crm_id: dict[str, AccountCard],
    ) -> None:
        routed: set[tuple[str, str]] = set()
        for territory in territories.values():
            for product_id in territory.pool.weights:
                routed.update((rep, product_id) for rep in territory.pool.reps)
            if territory.pool.reps and not any(reps[r].active for r in territory.pool.reps):
                self.warnings.append(f"territory {territory.id}: every rep in its pool is inactive")
        for overlay in overlays:
            routed.update((rep, overlay.product) for rep in overlay.weights)
        for account in (*by_domain.values(), *by_crm_id.values()):
            for product_id, sold in products.items():
                owner = account.owner_for(product_id, sold.weights_from)
                if owner:
                    routed.add((owner, product_id))
        for rep in reps.values():
            for product_id in rep.weights:
                card = products.get(product_id)
                if card is None:
                    continue
                if (rep.id, product_id) not in routed and not (
                    card.model == "overlay" and rep.role == "primary"
                ):
                    self.warnings.append(
                        f"rep {rep.id}: carries {product_id} but no rule routes it"
                    )

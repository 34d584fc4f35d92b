"""The decision: pure functions of the compiled rules, the lead and the clock.

`prepare` runs the steps that need only the rules (normalise, product, segment,
named account, territory, overlay triggers) and writes a Plan for the state;
`conclude` turns the state's Outcome into the decision on the wire. Neither does
I/O, so a test, the CLI and the HTTP layer all decide the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from router.leads import Lead, NormalLead, normalise
from router.plan import Candidate, Outcome, Pick, Plan, Sticky
from router.ruleset.compiled import (
    FIRST_ANSWER,
    ONE_BY_ONE,
    POSTAL_TABLE_DIGITS,
    AccountCard,
    CompiledRules,
    GeoIndex,
    OverlayCard,
    ProductCard,
    QueueCard,
    RepCard,
    TerritoryCard,
)
from router.shown import shown

Trace = list[dict[str, Any]]
METHOD_WORDS = {
    "single": "sole owner",
    "round_robin": "round robin",
    "weighted": "weighted rotation",
    "least_loaded": "least loaded",
}


Signals = dict[str, list[tuple[str, str]]]

# The kinds of signal, in the order they are read, and how the trace names them.
SIGNAL_WORDS = {
    "product": "product field",
    "form": "form",
    "campaign": "campaign",
    "source": "source",
    "page": "page",
}


class Draft:
    """A lead part-way through the decision: what the rules alone could settle.

    Only facts are kept here; the words of the trace are written from them in
    `conclude`, and only when a trace is asked for. A plain class: the defaults
    below are class attributes, so a new draft sets only what its lead needs
    (a dataclass would set all nineteen fields for every lead).
    """

    product: ProductCard | None = None
    how: str = ""
    signals: Signals
    segment: str = ""
    account: AccountCard | None = None
    named: tuple[str, str | None, str | None] = ("", None, None)
    sticky_account: str | None = None
    territory: TerritoryCard | None = None
    place: str = ""
    method: str = ""
    uncovered: bool = False
    overlays: Sequence[tuple[OverlayCard, str]] = ()
    overlay_notes: Sequence[tuple[OverlayCard, str, str, tuple[str, ...]]] = ()
    skipped: Sequence[str] = ()
    plan: Plan | None = None

    def __init__(self, lead: NormalLead, sent: Lead, now: dt.datetime) -> None:
        self.lead = lead
        self.sent = sent
        self.now = now
        self.stamp = now.timestamp()

    @property
    def missing(self) -> str | None:
        """Why the rules alone could not place the lead, or None."""
        product = self.product
        if product is None:
            return "no product interest was found and the rules set no default product"
        if self.uncovered:
            where = _place_words(self.lead)
            return (
                f"no territory of {product.structure} covers {where} for the {self.segment} segment"
            )
        return None


def prepare(rules: CompiledRules, lead: Lead, now: dt.datetime) -> Draft:
    """Run every step the rules settle alone and write the Plan for the state.

    Raises LeadError when a figure of the lead cannot be read.
    """
    normal = normalise(lead)
    draft = Draft(normal, lead, now)
    _product(rules, lead, draft)
    draft.account = account = _named_account(rules, normal)
    if account is not None and account.segment is not None:
        draft.segment = account.segment
    else:
        draft.segment = rules.segments.segment_for(normal.employees, normal.revenue)
    product = draft.product
    if product is None:
        draft.plan = Plan(lead.id, lead.sent(), None, None, None, ())
        return draft
    fixed = _named_owner(rules, draft, now)
    sticky = None if fixed else _stickiness(rules, draft, now)
    pick = None
    if fixed is None:
        pick = _territory(rules, draft)
    overlay_picks = _overlays(rules, draft) if rules.overlays else ()
    draft.plan = Plan(lead.id, lead.sent(), fixed, sticky, pick, overlay_picks)
    return draft


# steps ---------------------------------------------------------------------


def _place_words(lead: NormalLead) -> str:
    parts = [p for p in (lead.country, lead.region, lead.postal) if p]
    return " / ".join(parts) if parts else "no known place"


def _signals(rules: CompiledRules, lead: Lead) -> Signals:
    """Every product the lead signals interest in, with the signals (kind, value) that said so."""
    intent = rules.intent
    signals: Signals = {}
    if lead.product:
        found = intent.values.get(lead.product.strip().lower())
        if found is not None:
            signals[found] = [("product", lead.product)]
    if lead.form_id:
        found = intent.form_ids.get(lead.form_id.strip().lower())
        if found is not None:
            signals.setdefault(found, []).append(("form", lead.form_id))
    if lead.utm_campaign:
        found = intent.campaigns.get(lead.utm_campaign.strip().lower())
        if found is not None:
            signals.setdefault(found, []).append(("campaign", lead.utm_campaign))
    if lead.utm_source:
        found = intent.sources.get(lead.utm_source.strip().lower())
        if found is not None:
            signals.setdefault(found, []).append(("source", lead.utm_source))
    if lead.page_url and intent.url_patterns:
        found = _page_product(rules, lead.page_url)
        if found is not None:
            signals.setdefault(found, []).append(("page", lead.page_url))
    return signals


PAGES_KEPT = 4_096


def _page_product(rules: CompiledRules, page_url: str) -> str | None:
    """The product of the first URL pattern the page matches. Leads come from the same
    pages again and again, so the answer is kept per rule version, for up to
    PAGES_KEPT pages (then the whole table is dropped and filled again; a URL can be
    2,000 characters long, so the table stays under about 8 MB)."""
    pages: dict[str, str | None] | None = rules.memo.get("pages")
    if pages is None:
        pages = rules.memo["pages"] = {}
    elif page_url in pages:
        return pages[page_url]
    url = page_url.strip().lower()
    product = next((p for pattern, p in rules.intent.url_patterns if pattern.match(url)), None)
    if len(pages) >= PAGES_KEPT:
        pages.clear()
    pages[page_url] = product
    return product


def _product(rules: CompiledRules, lead: Lead, draft: Draft) -> None:
    draft.signals = signals = _signals(rules, lead)
    chosen = None
    if lead.product and signals:
        chosen = rules.intent.values.get(lead.product.strip().lower())
        draft.how = "the product field"
    if chosen is None and signals:
        if len(signals) == 1:
            chosen = next(iter(signals))
            draft.how = "its signal"
        else:
            products = rules.products
            chosen = min(signals, key=lambda p: (products[p].priority, products[p].order))
            draft.how = "the signal of highest priority"
    if chosen is None and rules.default_product:
        chosen = rules.default_product
        draft.how = "the default product (no signal)"
    if chosen is not None:
        draft.product = rules.products[chosen]


def _named_account(rules: CompiledRules, lead: NormalLead) -> AccountCard | None:
    if lead.crm_account_id:
        found = rules.accounts_by_crm_id.get(lead.crm_account_id)
        if found is not None:
            return found
    domain = lead.account_domain
    by_domain = rules.accounts_by_domain
    if not by_domain:
        return None
    while domain and "." in domain:
        found = by_domain.get(domain)
        if found is not None:
            return found
        domain = domain.split(".", 1)[1]
    return None


def _named_owner(rules: CompiledRules, draft: Draft, now: dt.datetime) -> Candidate | None:
    """The owner a named account keeps the lead with; draft.named says what was found:
    ("none" | "not_selling" | "no_owner" | "owner", owner id, why the owner is away)."""
    account, product = draft.account, draft.product
    assert product is not None
    if account is None:
        draft.named = ("none", None, None)
        return None
    owner_id = account.owner_for(product.id, product.weights_from)
    if owner_id is None:
        draft.named = ("no_owner", None, None)
        return None
    rep = rules.reps[owner_id]
    if product.weights_from not in rep.weights:
        # Only the account-wide owner can miss the product: per-product owners are checked.
        draft.named = ("not_selling", owner_id, None)
        return None
    draft.named = ("owner", owner_id, _unavailable(rep, now, hours=False))
    return Candidate(owner_id, 1.0, rep.daily_capacity, local_day(rep.timezone, now, draft.stamp))


def _stickiness(rules: CompiledRules, draft: Draft, now: dt.datetime) -> Sticky | None:
    lead, product = draft.lead, draft.product
    assert product is not None and product.structure is not None
    account = lead.crm_account_id or lead.account_domain
    draft.sticky_account = account
    if account is None:
        return None
    blocked = _blocked(rules, product.weights_from, now, draft.stamp)
    days = LocalDays(rules.zones, now, draft.stamp)
    return Sticky(
        f"{product.structure}:{account}",
        rules.carriers.get(product.weights_from, frozenset()),
        blocked,
        rules.zone_of,
        days,
    )


_DAYS: dict[str, tuple[float, float, str]] = {}


def local_day(zone: ZoneInfo, now: dt.datetime, stamp: float | None = None) -> str:
    """The date in zone at now (`stamp` is now.timestamp(), when the caller has it),
    cached until that zone's next midnight."""
    cached = _DAYS.get(zone.key)
    if cached is not None:
        if stamp is None:
            stamp = now.timestamp()
        if cached[0] <= stamp < cached[1]:
            return cached[2]
    local = now.astimezone(zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    start = midnight.timestamp()
    end = (midnight + dt.timedelta(days=1)).replace(tzinfo=zone).timestamp()
    day = local.date().isoformat()
    _DAYS[zone.key] = (start, end, day)
    return day


def _blocked(rules: CompiledRules, product: str, now: dt.datetime, stamp: float) -> frozenset[str]:
    """Reps carrying the product who are inactive or out of office today.

    Only reps with absences or inactive are looked at, and the answer is kept
    until the earliest next local midnight among them.
    """
    limited = rules.limited_carriers.get(product, ())
    if not limited:
        return frozenset()
    key = ("blocked", product)
    kept = rules.memo.get(key)
    if kept is not None and kept[0] <= stamp < kept[1]:
        return kept[2]  # type: ignore[no-any-return]
    blocked = frozenset(
        rep_id for rep_id in limited if _unavailable(rules.reps[rep_id], now, hours=False)
    )
    rules.memo[key] = (*_same_days(rules, limited, now), blocked)
    return blocked


class LocalDays(Mapping[str, str]):
    """Each time zone's local date at one moment, worked out only when asked for."""

    def __init__(self, zones: Mapping[str, ZoneInfo], now: dt.datetime, stamp: float) -> None:
        self.zones = zones
        self.now = now
        self.stamp = stamp

    def __getitem__(self, name: str) -> str:
        return local_day(self.zones[name], self.now, self.stamp)

    def __iter__(self) -> Iterator[str]:
        return iter(self.zones)

    def __len__(self) -> int:
        return len(self.zones)


def _unavailable(rep: RepCard, now: dt.datetime, hours: bool) -> str | None:
    if not rep.active:
        return "inactive"
    if rep.absences:
        back = rep.back_from_absence(local_day(rep.timezone, now))
        if back is not None:
            return f"out of office until {back}"
    if hours and rep.hours is not None and not rep.hours.contain(now.astimezone(rep.timezone)):
        return "outside working hours"
    return None


def lookup(index: GeoIndex, lead: NormalLead) -> tuple[TerritoryCard, str] | None:
    """The most specific territory for a place: postal, region, country, anywhere."""
    industry = lead.industry
    country = lead.country
    postal = lead.postal
    if country is not None and postal is not None:
        at = ONE_BY_ONE
        table = index.postal_tables.get(country)
        if table is not None:
            head = postal[:POSTAL_TABLE_DIGITS]
            if len(head) == POSTAL_TABLE_DIGITS and head.isdigit() and head.isascii():
                at = table.codes[int(head)]
                if at >= FIRST_ANSWER:
                    return table.answers[at - FIRST_ANSWER]
        if at == ONE_BY_ONE:
            by_postal = _postal_lookup(index, country, postal, industry)
            if by_postal is not None:
                return by_postal
    if lead.region is not None:
        slot = index.regions.get(lead.region)
        found = slot.pick(industry) if slot else None
        if found is not None:
            return found, f"region {lead.region}"
    if country is not None:
        slot = index.countries.get(country)
        found = slot.pick(industry) if slot else None
        if found is not None:
            return found, f"country {country}"
    if index.anywhere is not None:
        found = index.anywhere.pick(industry)
        if found is not None:
            return found, "anywhere"
    return None


def _postal_lookup(
    index: GeoIndex, country: str, postal: str, industry: str | None
) -> tuple[TerritoryCard, str] | None:
    """The longest postal prefix claimed, unless a postal range of higher rank holds the code."""
    found: TerritoryCard | None = None
    label = ""
    # Below every claim: a range whose bounds share no leading digit (19000-20999)
    # ranks 0 and still holds its codes where no prefix does.
    rank = -1
    prefixes = index.prefixes.get(country)
    if prefixes is not None:
        for length in index.prefix_lengths[country]:
            slot = prefixes.get(postal[:length])
            found = slot.pick(industry) if slot else None
            if found is not None:
                label, rank = f"postal prefix {country} {postal[:length]}", length
                break
    best_table, best_at = None, -1
    for table in index.ranges.get(country, ()):
        at = table.find(postal)
        if at >= 0 and table.ranks[at] > rank:
            picked = table.slots[at].pick(industry)
            if picked is not None:
                found, rank, best_table, best_at = picked, table.ranks[at], table, at
    if best_table is not None:
        label = f"postal range {country} {best_table.bounds(best_at)}"
    return (found, label) if found is not None else None


def _pool_pick(
    rules: CompiledRules,
    memo: dict[Any, Any],
    key: Any,
    draft: Draft,
    pool: tuple[str, str, tuple[str, ...], tuple[float, ...], bool],
) -> tuple[Pick, tuple[str, ...]]:
    """The Pick for a pool: who in it may take a lead now, and notes on who may not.

    `pool` is (rotation, method, reps, weights, keeps working hours). The answer is
    kept in `memo` under `key` (a territory's pool keeps it in Pool.picks under the
    product its weights come from; an overlay's in rules.memo under the overlay and
    place; both live as long as the rule version, and the callers look there first)
    for as long as it cannot change: until
    the earliest local midnight among the reps, and for a pool that keeps working
    hours, also until the end of the current minute (hours are whole minutes, and
    so are the reps' UTC offsets, which is checked). The same Pick is handed to
    every lead in that span, so the states only read it.
    """
    stamp = draft.stamp
    rotation, method, reps, weights, hours = pool
    now = draft.now
    notes: list[str] = []
    chosen = _candidates_now(rules, reps, weights, now, hours, notes)
    found = (Pick(rotation, method, chosen), tuple(notes))  # type: ignore[arg-type]
    start, end = _same_days(rules, reps, now)
    if hours:
        if not _whole_minute_offsets(rules, reps, now):
            return found
        minute = float(int(stamp) // 60 * 60)
        start, end = max(start, minute), min(end, minute + 60)
    memo[key] = (start, end, found)
    return found


def _whole_minute_offsets(rules: CompiledRules, reps: tuple[str, ...], now: dt.datetime) -> bool:
    """Whether every rep's UTC offset at now is a whole number of minutes (true of every
    zone today; some zones' historical local mean times were not)."""
    for rep_id in reps:
        offset = now.astimezone(rules.reps[rep_id].timezone).utcoffset()
        if offset is None or offset.total_seconds() % 60:
            return False
    return True


def _same_days(
    rules: CompiledRules, reps: tuple[str, ...], now: dt.datetime
) -> tuple[float, float]:
    """The span (epoch seconds) around now in which every one of reps keeps their local day."""
    starts, ends = [], []
    for rep_id in reps:
        zone = rules.reps[rep_id].timezone
        local_day(zone, now)
        start, end, _ = _DAYS[zone.key]
        starts.append(start)
        ends.append(end)
    return max(starts), min(ends)


def _candidates_now(
    rules: CompiledRules,
    reps: tuple[str, ...],
    weights: tuple[float, ...],
    now: dt.datetime,
    hours: bool,
    skipped: list[str],
) -> tuple[Candidate, ...]:
    chosen = []
    for rep_id, weight in zip(reps, weights, strict=True):
        rep = rules.reps[rep_id]
        why = _unavailable(rep, now, hours)
        if why is not None:
            skipped.append(f"skipped {rep.name}: {why}")
            continue
        day = local_day(rep.timezone, now)
        if weight > 0:
            chosen.append(Candidate(rep_id, weight, rep.daily_capacity, day))
    return tuple(chosen)


def _territory(rules: CompiledRules, draft: Draft) -> Pick | None:
    product = draft.product
    assert product is not None and product.structure is not None
    index = rules.structures.get(product.structure, {}).get(draft.segment)
    match = lookup(index, draft.lead) if index is not None else None
    if match is None:
        draft.uncovered = True
        return None
    territory, place = match
    draft.territory, draft.place = territory, place
    pool = territory.pool
    draft.method = "single" if len(pool.reps) == 1 else pool.method
    weights_from = product.weights_from
    kept = pool.picks.get(weights_from)
    if kept is not None and kept[0] <= draft.stamp < kept[1]:
        pick, draft.skipped = kept[2]
        return pick  # type: ignore[no-any-return]
    weighted = pool.method == "weighted"
    rotation = f"{pool.key}:{weights_from}" if weighted else pool.key
    spec = (rotation, pool.method, pool.reps, pool.weights_for(weights_from), pool.working_hours)
    pick, draft.skipped = _pool_pick(rules, pool.picks, weights_from, draft, spec)
    return pick


def _fires(overlay: OverlayCard, draft: Draft) -> str | None:
    normal = draft.lead
    product = draft.product
    interested = overlay.product in draft.signals or (
        product is not None and overlay.product == product.id
    )
    for trigger in overlay.triggers:
        if trigger.interest and not interested:
            continue
        if trigger.products and (product is None or product.id not in trigger.products):
            continue
        if trigger.segments and draft.segment not in trigger.segments:
            continue
        if trigger.min_deal_size is not None and (
            normal.deal_size is None or normal.deal_size < trigger.min_deal_size
        ):
            continue
        if trigger.min_employees is not None and (
            normal.employees is None or normal.employees < trigger.min_employees
        ):
            continue
        if trigger.named_accounts and draft.account is None:
            continue
        return trigger.id
    return None


def _specialists(overlay: OverlayCard, lead: NormalLead) -> tuple[tuple[str, ...], str, str]:
    """The overlay's specialists for the lead's place: (reps, level, region or country code)."""
    if lead.region is not None and lead.region in overlay.by_region:
        return overlay.by_region[lead.region], "region", lead.region
    if lead.country is not None and lead.country in overlay.by_country:
        return overlay.by_country[lead.country], "country", lead.country
    return overlay.anywhere, "anywhere", ""


def _overlays(rules: CompiledRules, draft: Draft) -> tuple[Pick, ...]:
    picks = []
    fired: list[tuple[OverlayCard, str]] = []
    notes: list[tuple[OverlayCard, str, str, tuple[str, ...]]] = []
    for overlay in rules.overlays:
        trigger = _fires(overlay, draft)
        if trigger is None:
            continue
        reps, level, code = _specialists(overlay, draft.lead)
        key = ("overlay", overlay.id, level, code)
        kept = rules.memo.get(key)
        if kept is not None and kept[0] <= draft.stamp < kept[1]:
            pick, skipped = kept[2]
        else:
            weighted = overlay.method == "weighted"
            weights = tuple(overlay.weights.get(r, 1.0) if weighted else 1.0 for r in reps)
            rotation = f"overlay:{overlay.id}"
            spec = (rotation, overlay.method, reps, weights, overlay.working_hours)
            pick, skipped = _pool_pick(rules, rules.memo, key, draft, spec)
        place = f"{level} {code}" if code else level
        fired.append((overlay, trigger))
        notes.append((overlay, trigger, place, skipped))
        picks.append(pick)
    if picks:
        draft.overlays, draft.overlay_notes = fired, notes
    return tuple(picks)


# the decision ----------------------------------------------------------------


def conclude(
    rules: CompiledRules,
    draft: Draft,
    outcome: Outcome,
    decision_id: str,
    decided_at: str,
    with_trace: bool,
) -> dict[str, Any]:
    """The decision on the wire, from the draft and the state's outcome."""
    product = draft.product
    primary: dict[str, Any]
    queue = None
    if outcome.primary is not None:
        rep = rules.reps[outcome.primary]
        primary = dict(rep.wire)
        reason = _reason(draft, outcome, rep)
    else:
        queue = fallback_queue(rules, draft)
        primary = dict(queue.wire)
        reason = f"Fallback queue {queue.name}: {_fallback_why(rules, draft, outcome)}."
    overlays = []
    for (overlay, trigger), rep_id in zip(draft.overlays, outcome.overlays, strict=True):
        if rep_id is None:
            continue
        entry = dict(rules.reps[rep_id].wire)
        entry["trigger"] = trigger
        entry["overlay"] = overlay.id
        overlays.append(entry)
    if overlays:
        names = ", ".join(o["name"] for o in overlays)
        reason += f" Overlay: {names}."
    decision: dict[str, Any] = {
        "lead_id": draft.lead.id,
        "decision_id": decision_id,
        "rules_version": rules.version,
        "decided_at": decided_at,
        "product": product.id if product else None,
        "model": product.model if product else None,
        "segment": draft.segment,
        "territory": draft.territory.id if draft.territory else None,
        "primary": primary,
        "overlays": overlays,
        "reason": reason,
        "replayed": False,
    }
    if with_trace:
        decision["trace"] = trace_of(rules, draft, outcome, queue)
    return decision


def fallback_queue(rules: CompiledRules, draft: Draft) -> QueueCard:
    """The queue a lead nobody could take goes to: the territory's, the product's, the default."""
    queue_id = rules.fallback_default
    if draft.product is not None:
        queue_id = rules.fallback_by_product.get(draft.product.id, queue_id)
    if draft.territory is not None:
        queue_id = rules.fallback_by_territory.get(draft.territory.id, queue_id)
    return rules.queues[queue_id]


def _fallback_why(rules: CompiledRules, draft: Draft, outcome: Outcome) -> str:
    return draft.missing or _nobody(rules, draft, outcome)


# the trace -------------------------------------------------------------------


def step(trace: Trace, name: str, result: str, *notes: str) -> None:
    trace.append({"step": name, "result": result, "notes": list(notes)})


def settle(trace: Trace, name: str, result: str, *notes: str) -> None:
    """Fill in a step that waited for the state's outcome."""
    for entry in trace:
        if entry["step"] == name:
            entry["result"] = result
            entry["notes"] = [*entry["notes"], *notes]
            return


def trace_of(
    rules: CompiledRules, draft: Draft, outcome: Outcome, queue: QueueCard | None
) -> Trace:
    """Every step of the decision in order, with what it found and why."""
    trace: Trace = []
    lead = draft.lead
    step(trace, "normalise", _place_words(lead), *lead.notes)
    _product_step(rules, draft, trace)
    _segment_step(draft, trace)
    product = draft.product
    if product is not None:
        _named_step(rules, draft, trace)
        if draft.named[0] != "owner":
            account = draft.sticky_account
            if account is None:
                step(trace, "stickiness", "none", "no account domain or CRM account id")
            else:
                step(trace, "stickiness", "pending", f"account {account}")
            territory = draft.territory
            if territory is None:
                step(trace, "territory", "none", draft.missing or "")
            else:
                detail = f"{territory.name}: {draft.place}, segment {draft.segment}"
                step(trace, "territory", territory.id, detail)
                method = METHOD_WORDS[draft.method]
                step(trace, "distribution", "pending", method, *draft.skipped)
        notes = []
        for overlay, trigger, place, skipped in draft.overlay_notes:
            notes.append(f"{overlay.id}: trigger {trigger} fired; specialists for {place}")
            notes.extend(f"{overlay.id}: {s}" for s in skipped)
        count = len(draft.overlay_notes)
        step(trace, "overlays", str(count) if count else "none", *notes)
    _outcome_steps(rules, draft, outcome, queue, trace)
    return trace


def _product_step(rules: CompiledRules, draft: Draft, trace: Trace) -> None:
    sent, signals, product = draft.sent, draft.signals, draft.product
    notes: list[str] = []
    if sent.product and rules.intent.values.get(sent.product.strip().lower()) is None:
        notes.append(f"product field {shown(sent.product)} names no product: ignored")
    for product_id, found in signals.items():
        if product is None or product_id != product.id:
            notes.append(f"also signalled {product_id}: {_signal_words(found)}")
    if product is None:
        step(trace, "product", "none", *notes)
        return
    evidence = _signal_words(signals.get(product.id, []))
    detail = f"{product.id} ({product.model}) from {draft.how}" + (
        f": {evidence}" if evidence else ""
    )
    step(trace, "product", product.id, detail, *notes)
    trace[-1]["interest"] = sorted(signals)


def _signal_words(found: list[tuple[str, str]]) -> str:
    return ", ".join(f"{SIGNAL_WORDS[kind]} {shown(value)}" for kind, value in found)


def _segment_step(draft: Draft, trace: Trace) -> None:
    account, lead = draft.account, draft.lead
    if account is not None and account.segment is not None:
        step(trace, "segment", draft.segment, f"named account {account.key} sets the segment")
        return
    figures = []
    if lead.employees is not None:
        figures.append(f"{lead.employees} employees")
    if lead.revenue is not None:
        figures.append(f"revenue {lead.revenue:,.0f}")
    detail = " and ".join(figures) if figures else "no employee or revenue figure: default"
    step(trace, "segment", draft.segment, detail)


def _named_step(rules: CompiledRules, draft: Draft, trace: Trace) -> None:
    found, owner_id, why = draft.named
    account, product = draft.account, draft.product
    assert product is not None
    if account is None:
        step(trace, "named_account", "none", "the lead's account is not a named account")
    elif found == "no_owner" or owner_id is None:
        step(trace, "named_account", "none", f"{account.key} names no owner for {product.id}")
    elif found == "not_selling":
        name = rules.reps[owner_id].name
        note = f"{name} owns {account.key} but does not sell {product.weights_from}"
        step(trace, "named_account", "none", note)
    else:
        name = rules.reps[owner_id].name
        notes = [f"{account.key} is owned by {name}"]
        if why:
            notes.append(f"{name} is {why}, but a named account stays with its owner")
        step(trace, "named_account", owner_id, *notes)


def _outcome_steps(
    rules: CompiledRules,
    draft: Draft,
    outcome: Outcome,
    queue: QueueCard | None,
    trace: Trace,
) -> None:
    """Settle the steps that waited for the state, and add the fallback and overlay misses."""
    if outcome.via != "sticky":
        owner = outcome.previous_owner
        settle(
            trace,
            "stickiness",
            "none",
            f"owner {owner} cannot take it now" if owner else "the account has no owner yet",
        )
    runtime = [f"skipped {rules.reps[a].name}: {b}" for a, b in outcome.skipped]
    if outcome.primary is None:
        settle(trace, "distribution", "none", *runtime)
    else:
        rep = rules.reps[outcome.primary]
        if outcome.via == "pool":
            settle(trace, "distribution", rep.id, *runtime, f"picked {rep.name}")
        elif outcome.via == "sticky":
            settle(trace, "stickiness", rep.id, f"the account already belongs to {rep.name}")
    if queue is not None:
        step(trace, "fallback", queue.id, _fallback_why(rules, draft, outcome))
    for (overlay, _), rep_id, skipped in zip(
        draft.overlays, outcome.overlays, outcome.overlay_skipped, strict=True
    ):
        if rep_id is None:
            notes = [f"{overlay.id}: no specialist available"]
            notes.extend(f"{overlay.id}: skipped {rules.reps[a].name}: {b}" for a, b in skipped)
            step(trace, "overlays", "none", *notes)


def _reason(draft: Draft, outcome: Outcome, rep: RepCard) -> str:
    product = draft.product
    assert product is not None
    if outcome.via == "named":
        assert draft.account is not None
        return f"Named account {draft.account.key} is owned by {rep.name} for {product.id}."
    if outcome.via == "sticky":
        return (
            f"The account already belongs to {rep.name} for {product.structure}, "
            f"so the {product.id} lead stays with them."
        )
    assert draft.territory is not None
    where = f"{product.id} lead in territory {draft.territory.id} ({draft.place}, {draft.segment})"
    if draft.method == "single":
        return f"{where}; the territory's owner is {rep.name}."
    return f"{where}; {METHOD_WORDS[draft.method]} picked {rep.name}."


def _nobody(rules: CompiledRules, draft: Draft, outcome: Outcome) -> str:
    if draft.territory is None:
        return "no owner was found"
    runtime = [f"skipped {rules.reps[a].name}: {b}" for a, b in outcome.skipped]
    skipped = "; ".join([*draft.skipped, *runtime])
    base = f"nobody in territory {draft.territory.id} is available"
    return f"{base}: {skipped}" if skipped else base

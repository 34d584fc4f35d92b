"""Seeded synthetic rule sets (real YAML directories the compiler loads) and leads (JSON lines).

A rule set of a given size has two maps: the revenue suite (CRM and Marketing as a
portfolio, territories per segment) and security (a dedicated product whose
territories cover every segment), an analytics overlay sold with CRM, named
accounts, and pools of reps. Territories claim places at every level: US ZIP
prefixes (3 and 5 digits) and ZIP ranges, Canadian and UK postal prefixes, US
states and Canadian provinces, countries, and one `anywhere` per map; some are
industry-specific. Every place is claimed once per map, so the set compiles.

Leads mix what forms really send: countries as names, codes and aliases, ZIP+4
and ZIPs that lost their leading zero, states by name or code, employee counts
and revenue as text, corporate and free-mail e-mails, form ids, campaigns, pages.
The same seed gives the same files, byte for byte.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pycountry
import yaml
import zipcodes

from bench.report import OUT

SEED = 20261204
GENERATOR = 5  # bump when the generated files change
SUITE = "revenue-suite"
SECURITY = "security"
SEGMENTS = ("smb", "mid-market", "enterprise")
INDUSTRIES = ("healthcare", "financial services", "public sector")
LEAD_INDUSTRIES = (
    "Software",
    "Healthcare",
    "Hospital & Health Care",
    "Financial Services",
    "financial-services",
    "Retail",
    "Manufacturing",
    "Public Sector",
    "Education",
)
TIMEZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Toronto",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Singapore",
    "Australia/Sydney",
)
FORMS = {
    "crm": ("crm-demo-request", "crm-free-trial", "crm-pricing-quote"),
    "marketing": ("mkt-demo-request", "mkt-free-trial", "mkt-roi-calculator"),
    "security": ("sec-demo-request", "sec-risk-assessment"),
    "analytics": ("analytics-demo-request", "analytics-dashboard-gallery"),
}
CAMPAIGNS = {
    "crm": ("crm-q4-webinar", "crm-switch-from-spreadsheets"),
    "marketing": ("mkt-q4-webinar", "mkt-abm-playbook"),
    "security": ("sec-zero-trust-summit",),
    "analytics": ("analytics-launch-2026",),
}
PAGES = {
    "crm": ("/crm", "/sales-cloud"),
    "marketing": ("/marketing-automation", "/email-campaigns"),
    "security": ("/security", "/trust-center"),
    "analytics": ("/analytics", "/dashboards"),
}
FREE_MAIL = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com")
GB_AREAS = ("SW", "SE", "EC", "WC", "N", "NW", "E", "W", "M", "B", "LS", "G", "EH", "CF", "BS")
CA_FIRST = "ABCEGHJKLMNPRSTVXY"
CA_LETTERS = "ABCEGHJKLMNPRSTVWXYZ"
CA_PROVINCE_BY_LETTER = {
    "A": "NL",
    "B": "NS",
    "C": "PE",
    "E": "NB",
    "G": "QC",
    "H": "QC",
    "J": "QC",
    "K": "ON",
    "L": "ON",
    "M": "ON",
    "N": "ON",
    "P": "ON",
    "R": "MB",
    "S": "SK",
    "T": "AB",
    "V": "BC",
    "X": "NT",
    "Y": "YT",
}
OTHER_COUNTRIES = (
    ("DE", ("Germany", "DE", "Deutschland", "germany")),
    ("FR", ("France", "FR", "france")),
    ("NL", ("Netherlands", "NL", "Holland")),
    ("ES", ("Spain", "ES", "España")),
    ("IT", ("Italy", "IT", "Italia")),
    ("SE", ("Sweden", "SE", "Sverige")),
    ("CH", ("Switzerland", "CH", "Schweiz")),
    ("JP", ("Japan", "JP", "JPN")),
    ("AU", ("Australia", "AU", "AUS")),
    ("IN", ("India", "IN", "IND")),
    ("SG", ("Singapore", "SG")),
    ("BR", ("Brazil", "BR", "Brasil")),
    ("MX", ("Mexico", "MX", "México")),
    ("IE", ("Ireland", "IE", "Republic of Ireland")),
    ("AE", ("United Arab Emirates", "UAE", "AE")),
    ("ZA", ("South Africa", "ZA")),
    ("KR", ("South Korea", "Korea", "KR")),
)


@dataclass(frozen=True, slots=True)
class Size:
    """A rule-set size: territories and postal rules (prefixes and ranges) in total."""

    key: str
    territories: int
    postal_rules: int


SIZES = (Size("10", 10, 100), Size("1k", 1_000, 10_000), Size("10k", 10_000, 100_000))
SIZE_BY_KEY = {size.key: size for size in SIZES}


# reference data ---------------------------------------------------------------


@cache
def us_zips() -> tuple[tuple[str, str], ...]:
    """Real US ZIPs with their state code, for states the router knows as regions."""
    states = set(us_states())
    found = []
    for entry in zipcodes.list_all():  # type: ignore[no-untyped-call]
        state = f"US-{entry['state']}"
        if state in states:
            found.append((str(entry["zip_code"]), state))
    return tuple(sorted(found))


@cache
def us_states() -> tuple[str, ...]:
    """The 50 states and DC as ISO 3166-2 codes (no outlying areas)."""
    return tuple(
        sorted(
            str(sub.code)
            for sub in pycountry.subdivisions
            if sub.country_code == "US" and sub.type in ("State", "District")
        )
    )


@cache
def region_names() -> dict[str, str]:
    """ISO 3166-2 code to the name people write, for US states and Canadian provinces."""
    names = {}
    for sub in pycountry.subdivisions:
        if sub.country_code in ("US", "CA") and getattr(sub, "parent_code", None) is None:
            names[str(sub.code)] = str(sub.name)
    return names


@cache
def ca_provinces() -> tuple[str, ...]:
    return tuple(sorted(code for code in region_names() if code.startswith("CA-")))


@cache
def countries() -> tuple[str, ...]:
    return tuple(sorted(str(c.alpha_2) for c in pycountry.countries))


@cache
def ca_fsas() -> tuple[str, ...]:
    return tuple(a + d + b for a in CA_FIRST for d in string.digits for b in CA_LETTERS)


@cache
def gb_outwards() -> tuple[str, ...]:
    return tuple(f"{area}{district}" for area in GB_AREAS for district in range(1, 21))


# rule sets --------------------------------------------------------------------


@dataclass
class _PostalPools:
    """Places still free on one map, each kind in its own shuffled list."""

    rng: random.Random
    zip5: list[str] = field(default_factory=list)
    zip3: list[str] = field(default_factory=list)
    block4: list[str] = field(default_factory=list)
    block2: list[str] = field(default_factory=list)
    fsa: list[str] = field(default_factory=list)
    outward: list[str] = field(default_factory=list)
    used5: set[str] = field(default_factory=set)

    @classmethod
    def fresh(cls, rng: random.Random) -> _PostalPools:
        zips = [z for z, _ in us_zips()]
        pools = cls(
            rng,
            zip5=list(zips),
            zip3=sorted({z[:3] for z in zips}),
            block4=sorted({z[:4] for z in zips}),
            block2=sorted({z[:2] for z in zips}),
            fsa=list(ca_fsas()),
            outward=list(gb_outwards()),
        )
        for pool in (pools.zip5, pools.zip3, pools.block4, pools.block2, pools.fsa):
            rng.shuffle(pool)
        rng.shuffle(pools.outward)
        return pools

    def five_digit(self) -> str:
        while self.zip5:
            code = self.zip5.pop()
            if code not in self.used5:
                self.used5.add(code)
                return code
        while True:
            code = f"{self.rng.randrange(100000):05d}"
            if code not in self.used5:
                self.used5.add(code)
                return code


class RuleSetWriter:
    """Builds one synthetic rule set in memory, then writes it as YAML files."""

    def __init__(self, size: Size, seed: int = SEED) -> None:
        self.size = size
        self.rng = random.Random(f"{seed}-{size.key}")
        n = size.territories
        self.suite_reps = [f"suite-rep-{i:05d}" for i in range(max(6, n // 2))]
        self.security_reps = [f"sec-rep-{i:04d}" for i in range(max(3, n // 10))]
        self.overlay_reps = ["ov-west", "ov-east", "ov-emea", "ov-world"]
        self.territories: list[dict[str, Any]] = []
        self.postal_count = 0

    # reps and the rest --------------------------------------------------------

    def reps(self) -> dict[str, list[dict[str, Any]]]:
        rng = self.rng
        suite = []
        for index, rep_id in enumerate(self.suite_reps):
            crm = rng.choice((30, 50, 60, 70))
            suite.append(self.rep(rep_id, index, {"crm": crm, "marketing": 100 - crm}))
        security = [
            self.rep(rep_id, 100_000 + i, ["security"])
            for i, rep_id in enumerate(self.security_reps)
        ]
        overlay = []
        for i, rep_id in enumerate(self.overlay_reps):
            card = self.rep(rep_id, 200_000 + i, ["analytics"])
            card["role"] = "overlay"
            overlay.append(card)
        return {"suite": suite, "security": security, "overlay": overlay}

    def rep(self, rep_id: str, index: int, products: Any) -> dict[str, Any]:
        rng = self.rng
        card: dict[str, Any] = {
            "id": rep_id,
            "name": rep_id.replace("-", " ").title(),
            "email": f"{rep_id}@bench.example",
            "crm_user_id": f"0055e{index:013d}",
            "products": products,
            "timezone": rng.choice(TIMEZONES),
        }
        draw = rng.random()
        if draw < 0.10:
            card["daily_capacity"] = 1_000_000
        elif draw < 0.13:
            card["out_of_office"] = [{"from": "2026-12-21", "to": "2026-12-31"}]
        elif draw < 0.15:
            card["working_hours"] = {"start": "08:00", "end": "18:00"}
        return card

    def owner(self, reps: list[str]) -> dict[str, Any]:
        rng = self.rng
        if rng.random() < 0.2:
            return {"rep": rng.choice(reps)}
        members = rng.sample(reps, min(len(reps), rng.randint(2, 4)))
        method = rng.choice(("weighted", "round_robin", "least_loaded"))
        return {"pool": members, "method": method}

    def products(self) -> dict[str, Any]:
        def intent(product: str, values: list[str]) -> dict[str, Any]:
            return {
                "values": values,
                "form_ids": list(FORMS[product]),
                "campaigns": list(CAMPAIGNS[product]),
                "sources": [f"g2-{product}"],
                "url_patterns": [f"*{page}*" for page in PAGES[product]],
            }

        return {
            "default_product": "crm",
            "products": [
                {
                    "id": "crm",
                    "name": "Bench CRM",
                    "model": "portfolio",
                    "portfolio": SUITE,
                    "priority": 10,
                    "intent": intent("crm", ["sales cloud"]),
                },
                {
                    "id": "marketing",
                    "name": "Bench Marketing",
                    "model": "portfolio",
                    "portfolio": SUITE,
                    "priority": 30,
                    "intent": intent("marketing", ["marketing automation"]),
                },
                {
                    "id": "security",
                    "name": "Bench Security",
                    "model": "dedicated",
                    "priority": 20,
                    "intent": intent("security", ["zero trust", "sso"]),
                },
                {
                    "id": "analytics",
                    "name": "Bench Analytics",
                    "model": "overlay",
                    "sold_with": "crm",
                    "priority": 40,
                    "intent": intent("analytics", ["bi", "dashboards"]),
                },
            ],
        }

    def segments(self) -> dict[str, Any]:
        return {
            "segments": [
                {"id": "smb"},
                {"id": "mid-market", "min_employees": 200, "min_revenue": "50M"},
                {"id": "enterprise", "min_employees": 2000, "min_revenue": "1B"},
            ],
            "unknown_segment": "smb",
        }

    def queues(self) -> dict[str, Any]:
        return {
            "queues": [
                {"id": "global-triage", "name": "Global triage", "email": "triage@bench.example"},
                {"id": "security-triage", "name": "Security triage"},
            ],
            "fallbacks": {"default": "global-triage", "products": {"security": "security-triage"}},
        }

    def accounts(self) -> dict[str, Any]:
        rng = self.rng
        entries = []
        for i in range(max(3, self.size.territories // 10)):
            entry: dict[str, Any] = {"domain": named_domain(i), "name": f"Named {i}"}
            draw = rng.random()
            if draw < 0.1:
                entry["segment"] = "enterprise"
            else:
                entry["owner"] = rng.choice(self.suite_reps)
                if draw < 0.4:
                    entry["owners"] = {"security": rng.choice(self.security_reps)}
            entries.append(entry)
        return {"accounts": entries}

    def overlays(self) -> dict[str, Any]:
        states = us_states()
        return {
            "overlays": [
                {
                    "id": "analytics-specialists",
                    "product": "analytics",
                    "triggers": [
                        {"id": "analytics-interest", "interest": True},
                        {
                            "id": "enterprise-crm-deal",
                            "products": ["crm"],
                            "segments": ["enterprise"],
                            "min_deal_size": "100k",
                        },
                        {"id": "named-suite-account", "named_accounts": True},
                    ],
                    "pool": {
                        "method": "round_robin",
                        "specialists": [
                            {"rep": "ov-west", "regions": list(states[: len(states) // 2])},
                            {
                                "rep": "ov-east",
                                "regions": list(states[len(states) // 2 :]),
                                "countries": ["US", "CA"],
                            },
                            {"rep": "ov-emea", "countries": ["GB", "IE", "DE", "FR", "NL"]},
                            {"rep": "ov-world", "anywhere": True},
                        ],
                    },
                }
            ]
        }

    # territories ----------------------------------------------------------------

    def build_territories(self) -> None:
        n = self.size.territories
        self.territories.append(
            {
                "id": "suite-world",
                "covers": SUITE,
                "anywhere": True,
                "owner": self.owner(self.suite_reps),
            }
        )
        self.territories.append(
            {
                "id": "security-world",
                "covers": SECURITY,
                "anywhere": True,
                "owner": self.owner(self.security_reps),
            }
        )
        remaining = max(0, n - 2)
        n_country = round(remaining * 0.08)
        n_region = round(remaining * 0.07)
        n_postal = remaining - n_country - n_region
        made = self.places("country", n_country, list(countries()), 4)
        made += self.places("region", n_region, [*us_states(), *ca_provinces()], 3)
        self.postal(n_postal + n_country + n_region - made)

    def maps(self, with_industries: bool) -> list[tuple[str, str | None, str | None]]:
        industries: list[str | None] = [None, *INDUSTRIES] if with_industries else [None]
        found: list[tuple[str, str | None, str | None]] = []
        for industry in industries:
            found.extend((SUITE, segment, industry) for segment in SEGMENTS)
            found.append((SECURITY, None, industry))
        return found

    def places(self, kind: str, count: int, places: list[str], most: int) -> int:
        """Up to `count` territories claiming 1 to `most` places of one kind, none claimed
        twice; returns how many were made."""
        rng = self.rng
        free: dict[tuple[str, str | None, str | None], list[str]] = {}
        for key in self.maps(with_industries=True):
            pool = list(places)
            rng.shuffle(pool)
            free[key] = pool
        # Any-industry maps first, so that industry territories sit on top of them.
        keys = self.maps(with_industries=False)
        industry_keys = [k for k in self.maps(with_industries=True) if k[2] is not None]
        for index in range(count):
            usable = [k for k in keys if free[k]] if rng.random() < 0.8 else []
            if not usable:
                usable = [k for k in industry_keys if free[k]] or [k for k in free if free[k]]
            if not usable:
                return index
            structure, segment, industry = rng.choice(usable)
            pool = free[(structure, segment, industry)]
            taken = [pool.pop() for _ in range(min(len(pool), rng.randint(1, most)))]
            reps = self.suite_reps if structure == SUITE else self.security_reps
            territory: dict[str, Any] = {
                "id": self.territory_id(structure, segment, kind, index),
                "covers": structure,
                "countries" if kind == "country" else "regions": taken,
                "owner": self.owner(reps),
            }
            if segment is not None:
                territory["segments"] = [segment]
            if industry is not None:
                territory["industries"] = [industry]
            self.territories.append(territory)
        return count

    def territory_id(self, structure: str, segment: str | None, kind: str, index: int) -> str:
        short = "suite" if structure == SUITE else "sec"
        return f"{short}-{segment or 'all'}-{kind}-{index:05d}"

    def postal(self, count: int) -> None:
        if count <= 0:
            return
        rng = self.rng
        pools: dict[tuple[str, str | None], _PostalPools] = {}
        maps: list[tuple[str, str | None]] = [
            (SUITE, "smb"),
            (SUITE, "mid-market"),
            (SUITE, "enterprise"),
            (SECURITY, None),
        ]
        budget = self.size.postal_rules
        for index in range(count):
            entries = budget // (count - index)
            budget -= entries
            structure, segment = rng.choices(maps, weights=(35, 35, 15, 15))[0]
            pool = pools.get((structure, segment))
            if pool is None:
                pool = pools[(structure, segment)] = _PostalPools.fresh(rng)
            postal = self.postal_entries(pool, max(1, entries))
            self.postal_count += sum(len(v) for v in postal.values())
            reps = self.suite_reps if structure == SUITE else self.security_reps
            territory: dict[str, Any] = {
                "id": self.territory_id(structure, segment, "postal", index),
                "covers": structure,
                "postal": postal,
                "owner": self.owner(reps),
            }
            if segment is not None:
                territory["segments"] = [segment]
            self.territories.append(territory)

    def postal_entries(self, pool: _PostalPools, count: int) -> dict[str, list[str]]:
        """`count` postal prefixes and ranges of one style: metro, ranges, ZIP list, CA, UK."""
        rng = self.rng
        style = rng.choices(("metro", "ranges", "zips", "canada", "uk"), (35, 30, 25, 5, 5))[0]
        us: list[str] = []
        if style == "canada" and len(pool.fsa) >= count:
            return {"CA": [pool.fsa.pop() for _ in range(count)]}
        if style == "uk" and len(pool.outward) >= count:
            return {"GB": [pool.outward.pop() for _ in range(count)]}
        if style == "metro":
            for _ in range(min(count, rng.randint(1, 3))):
                if pool.zip3:
                    us.append(pool.zip3.pop())
        elif style == "ranges":
            wanted = max(1, count // 2)
            while len(us) < wanted and pool.block4:
                block = pool.block4.pop()
                us.extend((f"{block}0-{block}4", f"{block}5-{block}9"))
            if pool.block2 and rng.random() < 0.05 and len(us) < count:
                block = pool.block2.pop()
                us.append(f"{block}0-{block}4")
        us = us[:count]
        while len(us) < count:
            us.append(pool.five_digit())
        return {"US": us}

    # files ------------------------------------------------------------------------

    def write(self, directory: Path) -> dict[str, Any]:
        """Write the rule files below `directory` (replacing it) and say what is in them."""
        if directory.exists():
            for old in sorted(directory.rglob("*"), reverse=True):
                if old.is_file():
                    old.unlink()
                else:
                    old.rmdir()
        (directory / "reps").mkdir(parents=True)
        (directory / "territories").mkdir()
        reps = self.reps()
        self.build_territories()
        dump(directory / "products.yaml", self.products())
        dump(directory / "segments.yaml", self.segments())
        dump(directory / "queues.yaml", self.queues())
        dump(directory / "accounts.yaml", self.accounts())
        dump(directory / "overlays.yaml", self.overlays())
        for team, cards in reps.items():
            dump(directory / "reps" / f"{team}.yaml", {"reps": cards})
        chunk = 1000
        for start in range(0, len(self.territories), chunk):
            part = self.territories[start : start + chunk]
            dump(
                directory / "territories" / f"part-{start // chunk:03d}.yaml", {"territories": part}
            )
        return {
            "territories": len(self.territories),
            "postal_rules": self.postal_count,
            "reps": sum(len(v) for v in reps.values()),
        }


def dump(path: Path, data: dict[str, Any]) -> None:
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)
    path.write_text(f"# Synthetic benchmark rules, generated by bench/synthetic.py.\n{text}")


def rules_dir(size: Size) -> Path:
    return OUT / f"rules-{size.key}"


def ensure_rules(size: Size, seed: int = SEED) -> tuple[Path, dict[str, Any]]:
    """The rule directory of this size and seed, written unless already there."""
    directory = rules_dir(size)
    stamp = directory / ".made"
    wanted = f"{seed} {size.territories} {size.postal_rules} v{GENERATOR}"
    info_file = directory.parent / f"rules-{size.key}.info.json"
    if stamp.exists() and stamp.read_text() == wanted and info_file.exists():
        info: dict[str, Any] = json.loads(info_file.read_text())
        return directory, info
    info = RuleSetWriter(size, seed).write(directory)
    info_file.write_text(json.dumps(info))
    stamp.write_text(wanted)
    return directory, info


# leads --------------------------------------------------------------------------


def named_domain(index: int) -> str:
    return f"named{index}.example"


class LeadMaker:
    """Leads as marketing forms and CRM exports send them."""

    def __init__(self, seed: int = SEED) -> None:
        self.rng = random.Random(f"{seed}-leads")
        self.zips = us_zips()
        self.words = ["acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell"]

    def lead(self, number: int) -> dict[str, Any]:
        rng = self.rng
        lead: dict[str, Any] = {"id": f"lead-{number:08d}"}
        self.place(lead)
        self.person(lead)
        self.figures(lead)
        self.intent(lead)
        if rng.random() < 0.6:
            lead["industry"] = rng.choice(LEAD_INDUSTRIES)
        if rng.random() < 0.1:
            lead["attributes"] = {"lead_score": rng.randint(0, 100), "source_system": "bench"}
        return lead

    def place(self, lead: dict[str, Any]) -> None:
        rng = self.rng
        draw = rng.random()
        if draw < 0.55:
            zip5, state = rng.choice(self.zips)
            country = rng.choices(
                ("US", "USA", "United States", "U.S.", "united states of america", None),
                (30, 20, 20, 5, 5, 20),
            )[0]
            if country is not None:
                lead["country"] = country
            shape = rng.random()
            if zip5.startswith("0") and shape < 0.2 and country is not None:
                lead["postal_code"] = zip5.lstrip("0") or "0"
            elif shape < 0.35:
                lead["postal_code"] = f"{zip5}-{rng.randrange(10000):04d}"
            else:
                lead["postal_code"] = zip5
            region = rng.random()
            if region < 0.3:
                lead["region"] = state[3:]
            elif region < 0.6:
                lead["region"] = region_names()[state]
        elif draw < 0.65:
            fsa = rng.choice(ca_fsas())
            lead["country"] = rng.choice(("Canada", "CA", "canada"))
            inward = f"{rng.randrange(10)}{rng.choice(CA_LETTERS)}{rng.randrange(10)}"
            lead["postal_code"] = f"{fsa} {inward}"
            if rng.random() < 0.5:
                province = f"CA-{CA_PROVINCE_BY_LETTER[fsa[0]]}"
                lead["region"] = rng.choice((province[3:], region_names()[province]))
        elif draw < 0.72:
            lead["country"] = rng.choice(("United Kingdom", "UK", "GB", "England"))
            inward = f"{rng.randrange(10)}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABD')}"
            lead["postal_code"] = f"{rng.choice(gb_outwards())} {inward}"
        elif draw < 0.92:
            _, names = rng.choice(OTHER_COUNTRIES)
            lead["country"] = rng.choice(names)
            if rng.random() < 0.5:
                lead["postal_code"] = f"{rng.randrange(100000):05d}"
        elif draw < 0.96:
            lead["country"] = rng.choice(countries())
        # else: no place at all

    def person(self, lead: dict[str, Any]) -> None:
        rng = self.rng
        first = rng.choice(("ana", "ben", "chloe", "dev", "emma", "farid", "grace", "hiro"))
        last = rng.choice(("lee", "smith", "garcia", "nguyen", "okafor", "muller", "rossi"))
        draw = rng.random()
        if draw < 0.15:
            domain = rng.choice(FREE_MAIL)
        elif draw < 0.20:
            domain = named_domain(rng.randrange(1000))
        else:
            domain = f"{rng.choice(self.words)}{rng.randrange(20000)}.com"
        lead["email"] = f"{first}.{last}@{domain}"
        if rng.random() < 0.5:
            lead["first_name"], lead["last_name"] = first.title(), last.title()
        if rng.random() < 0.5:
            lead["company"] = domain.split(".")[0].title()
        if rng.random() < 0.2 and domain not in FREE_MAIL:
            lead["website"] = f"https://www.{domain}/about"
        if rng.random() < 0.3:
            lead["title"] = rng.choice(("VP Sales", "CTO", "Marketing Manager", "CISO"))
        if rng.random() < 0.2:
            lead["crm_account_id"] = f"001{rng.randrange(10**12):012d}"

    def figures(self, lead: dict[str, Any]) -> None:
        rng = self.rng
        if rng.random() < 0.7:
            count = int(rng.lognormvariate(5, 1.8)) + 1
            shape = rng.random()
            if shape < 0.3:
                lead["employees"] = count
            elif shape < 0.6:
                lead["employees"] = f"{count:,}"
            elif shape < 0.8:
                lead["employees"] = f"{max(1, count // 1000)}k"
            elif shape < 0.9:
                lead["employees"] = str(count)
            else:
                lead["employees"] = rng.choice(("51-200", "201-500", "1,001-5,000", "10k+"))
        if rng.random() < 0.5:
            revenue = rng.lognormvariate(17, 2)
            shape = rng.random()
            if shape < 0.4:
                lead["annual_revenue"] = f"${revenue / 1e6:.1f}M"
            elif shape < 0.6:
                lead["annual_revenue"] = f"{revenue / 1e9:.2f}B"
            else:
                lead["annual_revenue"] = int(revenue)
        if rng.random() < 0.1:
            lead["deal_size"] = rng.choice(("150k", "$250,000", 80000, "1.2M"))

    def intent(self, lead: dict[str, Any]) -> None:
        rng = self.rng
        product = rng.choices(("crm", "marketing", "security", "analytics"), (45, 25, 20, 10))[0]
        if rng.random() < 0.35:
            forms = FORMS[product]
            lead["form_id"] = rng.choice((*forms, "newsletter-signup"))
        if rng.random() < 0.2:
            lead["utm_campaign"] = rng.choice(CAMPAIGNS[product])
            lead["utm_medium"] = "email"
        if rng.random() < 0.1:
            lead["utm_source"] = f"g2-{product}"
        if rng.random() < 0.2:
            lead["page_url"] = f"https://www.bench.example{rng.choice(PAGES[product])}/pricing"
        if rng.random() < 0.08:
            lead["product"] = rng.choice(("crm", "Security", "zero trust", "Marketing", "widgets"))

    def lines(self, count: int, start: int = 0) -> Iterator[str]:
        for number in range(start, start + count):
            yield json.dumps(self.lead(number), ensure_ascii=False, separators=(",", ":"))


def leads_file(count: int, seed: int = SEED) -> Path:
    """bench/out/leads-<count>.jsonl, written unless already there; the first lines of a
    bigger file are the same leads as a smaller one's."""
    path = OUT / f"leads-{count}.jsonl"
    stamp = OUT / f"leads-{count}.made"
    wanted = f"{seed} v{GENERATOR}"
    if path.exists() and stamp.exists() and stamp.read_text() == wanted:
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for text in LeadMaker(seed).lines(count):
            out.write(text)
            out.write("\n")
    stamp.write_text(wanted)
    return path


def repeated_leads_file(base: int = 100_000, times: int = 10, seed: int = SEED) -> Path:
    """The `base` leads `times` over under new ids: as many rows as a big file, but only the
    accounts of the small one, so that memory which grows here grows per row."""
    path = OUT / f"leads-{base}x{times}.jsonl"
    stamp = OUT / f"leads-{base}x{times}.made"
    wanted = f"{seed} v{GENERATOR}"
    if path.exists() and stamp.exists() and stamp.read_text() == wanted:
        return path
    source = leads_file(base, seed)
    with path.open("w", encoding="utf-8") as out:
        for copy in range(times):
            with source.open(encoding="utf-8") as lines:
                for text in lines:
                    out.write(text.replace('{"id":"lead-', f'{{"id":"copy{copy}-', 1))
    stamp.write_text(wanted)
    return path


def read_lines(path: Path, count: int) -> list[str]:
    found = []
    with path.open(encoding="utf-8") as source:
        for text in source:
            found.append(text)
            if len(found) >= count:
                break
    return found

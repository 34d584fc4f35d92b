"""Normalise countries, regions and postal codes on leads to ISO codes and canonical forms."""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Iterator
from functools import cache
from typing import NamedTuple

import pycountry
import zipcodes

# Names people write for a country that pycountry does not list (endonyms, old names, parts).
_COUNTRY_ALIASES: dict[str, str] = {
    "U.S.": "US",
    "U.S.A.": "US",
    "America": "US",
    "United States of America": "US",
    "U.K.": "GB",
    "Great Britain": "GB",
    "Britain": "GB",
    "England": "GB",
    "Scotland": "GB",
    "Wales": "GB",
    "Northern Ireland": "GB",
    "Deutschland": "DE",
    "Holland": "NL",
    "Nederland": "NL",
    "España": "ES",
    "Italia": "IT",
    "Schweiz": "CH",
    "Suisse": "CH",
    "Svizzera": "CH",
    "Österreich": "AT",
    "Sverige": "SE",
    "Danmark": "DK",
    "Norge": "NO",
    "Suomi": "FI",
    "Polska": "PL",
    "Brasil": "BR",
    "México": "MX",
    "Korea": "KR",
    "Republic of Korea": "KR",
    "Russia": "RU",
    "U.A.E.": "AE",
    "Emirates": "AE",
    "Czech Republic": "CZ",
    "Turkey": "TR",
    "Eire": "IE",
    "Republic of Ireland": "IE",
    "Belgique": "BE",
    "België": "BE",
    "Ivory Coast": "CI",
    "Macau": "MO",
    "Vatican": "VA",
    "Vatican City": "VA",
    "Nippon": "JP",
    "Nihon": "JP",
}

# Country codes in common use that ISO 3166-1 does not assign.
_COUNTRY_CODE_ALIASES: dict[str, str] = {"UK": "GB", "UAE": "AE"}

# Region names that are neither ISO codes nor pycountry names, keyed by ISO 3166-2 code.
_REGION_ALIASES: dict[str, tuple[str, ...]] = {
    "US-DC": ("Washington DC", "Washington D.C."),
}

# Countries searched, in order, for a region given without its country.
_REGION_DEFAULT_COUNTRIES = ("US", "CA")

# Countries where only top-level subdivisions (states, provinces, territories) are regions.
_TOP_LEVEL_ONLY = frozenset({"US", "CA"})

_NON_WORD = re.compile(r"[\W_]+")
_ASCII_PUNCTUATION_TO_SPACE = bytes.maketrans(
    string.punctuation.encode("ascii"), b" " * len(string.punctuation)
)
_BRACKETED = re.compile(r"\s*[\[(]([^\])]*)[\])]")
_ISO_3166_2_CODE = re.compile(r"[A-Z]{2}-[A-Z0-9]{1,3}")

_US_ZIP = re.compile(r"(\d{5})(?:-?\d{4})?", re.ASCII)
_US_ZIP_WITHOUT_LEADING_ZEROS = re.compile(r"\d{3,4}", re.ASCII)
# Canada Post never uses D, F, I, O, Q or U, and W and Z never start a postal code.
_CA_POSTAL = re.compile(
    r"[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z](?:\d[ABCEGHJ-NPRSTV-Z]\d)?", re.ASCII
)
_GB_POSTCODE = re.compile(r"([A-Z]{1,2}\d[A-Z\d]?|GIR)(?:\d[A-Z]{2})?", re.ASCII)
_OTHER_POSTAL = re.compile(r"[A-Z0-9]{2,10}")

_US_PREFIX = re.compile(r"\d{1,5}", re.ASCII)
_CA_PREFIX = re.compile(
    r"[ABCEGHJ-NPRSTVXY](?:\d(?:[ABCEGHJ-NPRSTV-Z](?:\d(?:[ABCEGHJ-NPRSTV-Z]\d?)?)?)?)?", re.ASCII
)
_GB_PREFIX = re.compile(r"[A-Z]{1,2}(?:\d[A-Z\d]?)?|GIR", re.ASCII)
_OTHER_PREFIX = re.compile(r"[A-Z0-9]{1,10}")


def _fold(value: str) -> str:
    """Case-fold and strip accents, keeping letters that have no ASCII base (ø, ł)."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _key(value: str) -> str:
    """Lookup key for a name: folded, punctuation and spaces removed, leading 'the' dropped."""
    if not value.isascii():
        value = _fold(value)
    if value.isascii():
        # bytes.translate is several times faster than str.translate or re.sub here.
        words = value.encode("ascii").lower().translate(_ASCII_PUNCTUATION_TO_SPACE).split()
        if len(words) > 1 and words[0] == b"the":
            del words[0]
        return b"".join(words).decode("ascii")
    folded = _NON_WORD.sub(" ", value).split()
    if len(folded) > 1 and folded[0] == "the":
        del folded[0]
    return "".join(folded)


def _name_variants(name: str) -> Iterator[str]:
    """The ways a pycountry name may be written: as is, without brackets, inverted at a comma."""
    yield name
    for alternative in _BRACKETED.findall(name):
        # Drop code tokens such as 'GB-CYM' from alternatives like 'Wales [Cymru GB-CYM]'.
        yield _ISO_3166_2_CODE.sub("", alternative)
    base = _BRACKETED.sub("", name)
    yield base
    head, comma, tail = base.partition(", ")
    if comma:
        yield f"{tail} {head}"


def _country_names(country: object) -> Iterator[str]:
    for field in ("name", "official_name", "common_name"):
        name = getattr(country, field, None)
        if name:
            yield from _name_variants(name)


@cache
def _country_codes() -> dict[str, str]:
    """Upper-case alpha-2, alpha-3 and numeric codes, plus the short aliases, to alpha-2."""
    codes: dict[str, str] = {}
    for country in pycountry.countries:
        for code in (country.alpha_2, country.alpha_3, country.numeric):
            codes[code] = country.alpha_2
    return codes | _COUNTRY_CODE_ALIASES


@cache
def _country_names_table() -> dict[str, str]:
    """Lookup keys of country names and aliases to alpha-2."""
    names: dict[str, str] = {}
    for country in pycountry.countries:
        for name in _country_names(country):
            names.setdefault(_key(name), country.alpha_2)
    for alias, alpha_2 in (_COUNTRY_ALIASES | _COUNTRY_CODE_ALIASES).items():
        names[_key(alias)] = alpha_2
    names.pop("", None)
    return names


def country_code(value: str) -> str | None:
    """ISO 3166-1 alpha-2 code for a country written as a code, a name or a common alias.

    Codes (alpha-2, alpha-3, numeric) must be written without punctuation, so that
    'N/A' is not read as Namibia; names ignore case, accents, punctuation and spaces.
    """
    compact = value.strip()
    if compact.isalnum():
        code = _country_codes().get(compact.upper())
        if code is not None:
            return code
    return _country_names_table().get(_key(value))


@cache
def _alpha_2_codes() -> frozenset[str]:
    return frozenset(country.alpha_2 for country in pycountry.countries)


def is_country(code: str) -> bool:
    """Whether `code` is exactly an upper-case ISO 3166-1 alpha-2 code."""
    return code in _alpha_2_codes()


class _Region(NamedTuple):
    code: str
    name: str
    top_level: bool


@cache
def _regions() -> dict[str, list[_Region]]:
    """Regions per alpha-2 country, top-level subdivisions first; US and CA top-level only."""
    by_country: dict[str, list[_Region]] = {}
    for subdivision in pycountry.subdivisions:
        region = _Region(subdivision.code, subdivision.name, subdivision.parent_code is None)
        country = subdivision.country_code
        if region.top_level or country not in _TOP_LEVEL_ONLY:
            by_country.setdefault(country, []).append(region)
    for regions in by_country.values():
        regions.sort(key=lambda region: not region.top_level)
    return by_country


@cache
def _region_codes() -> frozenset[str]:
    return frozenset(region.code for regions in _regions().values() for region in regions)


@cache
def _region_codes_of(country: str) -> dict[str, str]:
    """Each region's code with or without the country prefix ('CA', 'US-CA') to the full code."""
    codes: dict[str, str] = {}
    for region in _regions().get(country, []):
        codes[region.code] = region.code
        codes[region.code.partition("-")[2]] = region.code
    return codes


@cache
def _region_names(country: str) -> dict[str, str]:
    """Lookup keys of region names to ISO 3166-2 codes; a top-level region wins a name clash."""
    names: dict[str, str] = {}
    for region in _regions().get(country, []):
        for name in _name_variants(region.name):
            names.setdefault(_key(name), region.code)
    for code, aliases in _REGION_ALIASES.items():
        if region_country(code) == country:
            names.update((_key(alias), code) for alias in aliases)
    names.pop("", None)
    return names


def region_code(country: str | None, value: str) -> str | None:
    """ISO 3166-2 code for a state, province or other region given by code or by name.

    Without a country, accept a full code ('US-CA') or a code or name that matches
    exactly one US state or Canadian province or territory.
    """
    compact = value.strip().upper()
    if country is not None:
        by_code = _region_codes_of(country).get(compact)
        return by_code or _region_names(country).get(_key(value))
    if compact in _region_codes():
        return compact
    key = _key(value)
    matches = {
        _region_codes_of(candidate).get(compact) or _region_names(candidate).get(key)
        for candidate in _REGION_DEFAULT_COUNTRIES
    }
    matches.discard(None)
    return matches.pop() if len(matches) == 1 else None


def is_region(code: str) -> bool:
    """Whether `code` is exactly an ISO 3166-2 code that this module treats as a region."""
    return code in _region_codes()


def region_country(code: str) -> str:
    """The alpha-2 country of an ISO 3166-2 code: 'US-CA' -> 'US'."""
    country, hyphen, _ = code.partition("-")
    if not hyphen or not country:
        raise ValueError(f"{code!r} is not an ISO 3166-2 code (expected e.g. 'US-CA')")
    return country


def _compact(value: str) -> str:
    """Upper case without any whitespace: 'k1a 0b1' -> 'K1A0B1'."""
    return "".join(value.split()).upper()


def _us_zip(value: str) -> str | None:
    match = _US_ZIP.fullmatch(value)
    if match:
        return match.group(1)
    if _US_ZIP_WITHOUT_LEADING_ZEROS.fullmatch(value):
        return value.zfill(5)
    return None


def _ca_postal(value: str) -> str | None:
    compact = _compact(value)
    return compact if _CA_POSTAL.fullmatch(compact) else None


def _gb_outward(value: str) -> str | None:
    match = _GB_POSTCODE.fullmatch(_compact(value))
    return match.group(1) if match else None


def _other_postal(value: str) -> str | None:
    compact = _compact(value).replace("-", "")
    return compact if _OTHER_POSTAL.fullmatch(compact) else None


def postal_code(country: str | None, value: str) -> str | None:
    """Canonical postal code: a US five-digit ZIP, a Canadian code, a UK outward code, or
    for other countries the code upper-cased without spaces or hyphens.

    Without a country, a five-digit or ZIP+4 value is taken as a US ZIP.
    """
    stripped = value.strip()
    if country == "US" or (country is None and _US_ZIP.fullmatch(stripped)):
        return _us_zip(stripped)
    if country == "CA":
        return _ca_postal(stripped)
    if country == "GB":
        return _gb_outward(stripped)
    return _other_postal(stripped)


def postal_code_valid_for_rules(country: str, value: str) -> str | None:
    """Canonical postal-code prefix from a rule file, or None if no valid code could start so."""
    compact = _compact(value)
    if country == "US":
        pattern = _US_PREFIX
    elif country == "CA":
        pattern = _CA_PREFIX
    elif country == "GB":
        pattern = _GB_PREFIX
    else:
        compact = compact.replace("-", "")
        pattern = _OTHER_PREFIX
    return compact if pattern.fullmatch(compact) else None


@cache
def _zip_table() -> dict[str, tuple[str, str | None]]:
    """Each US ZIP to its ISO 3166-2 region and IANA time zone (None when zipcodes has none).

    Queried one region at a time: materialising all 42k records at once keeps about
    90 MB more memory in the process. ZIPs of military post offices (AA, AE, AP) and of
    the freely associated states (FM, MH, PW) are left out, having no US ISO region.
    """
    table: dict[str, tuple[str, str | None]] = {}
    for region in _regions()["US"]:
        state = region.code.partition("-")[2]
        # zipcodes ships py.typed but leaves its public wrappers unannotated.
        for entry in zipcodes.filter_by(state=state):  # type: ignore[no-untyped-call]
            table[entry["zip_code"]] = (region.code, entry["timezone"] or None)
    return table


def us_state_for_zip(zip5: str) -> str | None:
    """ISO 3166-2 region of a five-digit US ZIP ('07407' -> 'US-NJ'); None for military or
    unknown ZIPs."""
    entry = _zip_table().get(zip5)
    return entry[0] if entry else None


def us_timezone_for_zip(zip5: str) -> str | None:
    """IANA time zone of a five-digit US ZIP ('07407' -> 'America/New_York')."""
    entry = _zip_table().get(zip5)
    return entry[1] if entry else None

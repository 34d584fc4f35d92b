"""Tests for reading countries, regions and postal codes off leads."""

from __future__ import annotations

import pycountry
import pytest

from router.geo import (
    country_code,
    is_country,
    is_region,
    postal_code,
    postal_code_valid_for_rules,
    region_code,
    region_country,
    us_state_for_zip,
    us_timezone_for_zip,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("USA", "US"),
        ("United States", "US"),
        ("United States of America", "US"),
        ("U.S.", "US"),
        ("U.S.A.", "US"),
        ("us", "US"),
        ("America", "US"),
        ("840", "US"),
        ("  united   STATES ", "US"),
        ("uk", "GB"),
        ("U.K.", "GB"),
        ("Great Britain", "GB"),
        ("England", "GB"),
        ("Scotland", "GB"),
        ("Wales", "GB"),
        ("Northern Ireland", "GB"),
        ("Deutschland", "DE"),
        ("Holland", "NL"),
        ("The Netherlands", "NL"),
        ("Nederland", "NL"),
        ("España", "ES"),
        ("Espana", "ES"),
        ("Italia", "IT"),
        ("Schweiz", "CH"),
        ("Suisse", "CH"),
        ("Österreich", "AT"),
        ("Osterreich", "AT"),
        ("Sverige", "SE"),
        ("Danmark", "DK"),
        ("Norge", "NO"),
        ("Suomi", "FI"),
        ("Polska", "PL"),
        ("Brasil", "BR"),
        ("México", "MX"),
        ("Mexico", "MX"),
        ("South Korea", "KR"),
        ("Korea", "KR"),
        ("Korea, Republic of", "KR"),
        ("Republic of Korea", "KR"),
        ("Russia", "RU"),
        ("UAE", "AE"),
        ("Czech Republic", "CZ"),
        ("Czechia", "CZ"),
        ("Viet Nam", "VN"),
        ("Vietnam", "VN"),
        ("Türkiye", "TR"),
        ("Turkey", "TR"),
        ("Hong Kong", "HK"),
        ("Taiwan", "TW"),
        ("Ireland", "IE"),
        ("Eire", "IE"),
        ("Éire", "IE"),
        ("Canada", "CA"),
        ("Japan", "JP"),
        ("India", "IN"),
        ("Australia", "AU"),
        ("Singapore", "SG"),
        ("New Zealand", "NZ"),
        ("Côte d'Ivoire", "CI"),
        ("Democratic Republic of the Congo", "CD"),
    ],
)
def test_country_names_aliases_and_codes_become_iso_alpha2(value: str, expected: str) -> None:
    assert country_code(value) == expected


@pytest.mark.parametrize("value", ["Narnia", "N/A", "n.a.", "", "   ", "-", "XX", "999"])
def test_unknown_countries_give_none(value: str) -> None:
    assert country_code(value) is None


def test_every_pycountry_name_and_code_maps_back_to_its_country() -> None:
    mismatches = [
        (country.alpha_2, written)
        for country in pycountry.countries
        for written in (country.alpha_2, country.alpha_3, country.numeric, country.name)
        if country_code(written) != country.alpha_2
    ]
    assert mismatches == []


@pytest.mark.parametrize(
    ("code", "expected"), [("DE", True), ("US", True), ("de", False), ("DEU", False), ("UK", False)]
)
def test_is_country_accepts_only_exact_upper_case_alpha2(code: str, expected: bool) -> None:
    assert is_country(code) is expected


@pytest.mark.parametrize(
    ("country", "value", "expected"),
    [
        ("US", "CA", "US-CA"),
        ("US", "ca", "US-CA"),
        ("US", "US-CA", "US-CA"),
        ("US", "us-ca", "US-CA"),
        ("US", "California", "US-CA"),
        ("US", " CALIFORNIA ", "US-CA"),
        ("US", "PR", "US-PR"),
        ("US", "Puerto Rico", "US-PR"),
        ("US", "District of Columbia", "US-DC"),
        ("US", "Washington DC", "US-DC"),
        ("US", "Washington, D.C.", "US-DC"),
        ("US", "Washington", "US-WA"),
        ("CA", "ON", "CA-ON"),
        ("CA", "ontario", "CA-ON"),
        ("CA", "Quebec", "CA-QC"),
        ("CA", "Québec", "CA-QC"),
        ("CA", "Yukon", "CA-YT"),
        ("DE", "BY", "DE-BY"),
        ("DE", "Bayern", "DE-BY"),
        ("DE", "Baden-Wurttemberg", "DE-BW"),
        ("GB", "ENG", "GB-ENG"),
        ("GB", "England", "GB-ENG"),
        ("GB", "Cymru", "GB-WLS"),
        ("GB", "City of London", "GB-LND"),
        ("ES", "Lérida", "ES-L"),
        ("ES", "Islas Baleares", "ES-IB"),
    ],
)
def test_region_codes_and_names_become_iso_3166_2(country: str, value: str, expected: str) -> None:
    assert region_code(country, value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("US-CA", "US-CA"),
        ("DE-BY", "DE-BY"),
        ("CA", "US-CA"),
        ("California", "US-CA"),
        ("Ontario", "CA-ON"),
        ("QC", "CA-QC"),
        ("Washington DC", "US-DC"),
        ("Bayern", None),
        ("BY", None),
    ],
)
def test_region_without_country_must_be_full_code_or_unique_in_us_and_canada(
    value: str, expected: str | None
) -> None:
    assert region_code(None, value) == expected


@pytest.mark.parametrize(
    ("country", "value"),
    [("US", "Narnia"), ("US", "CA-ON"), ("US", ""), ("CA", "California"), ("FR", "ZZ")],
)
def test_unknown_regions_give_none(country: str, value: str) -> None:
    assert region_code(country, value) is None


@pytest.mark.parametrize(
    ("code", "expected"),
    [("US-CA", True), ("CA-ON", True), ("GB-ENG", True), ("us-ca", False), ("US-XX", False)],
)
def test_is_region_accepts_only_exact_known_iso_3166_2(code: str, expected: bool) -> None:
    assert is_region(code) is expected


@pytest.mark.parametrize(("code", "expected"), [("US-CA", "US"), ("GB-ENG", "GB")])
def test_region_country_is_the_code_prefix(code: str, expected: str) -> None:
    assert region_country(code) == expected


def test_region_country_rejects_a_value_without_prefix() -> None:
    with pytest.raises(ValueError, match="'California'"):
        region_country("California")


@pytest.mark.parametrize(
    ("country", "value", "expected"),
    [
        ("US", "94538", "94538"),
        ("US", " 94538 ", "94538"),
        ("US", "94538-1234", "94538"),
        ("US", "945381234", "94538"),
        ("US", "7407", "07407"),
        ("US", "501", "00501"),
        ("US", "12", None),
        ("US", "9453", "09453"),
        ("US", "94538-12", None),
        ("US", "ABCDE", None),
        ("US", "\u0669\u0664\u0665\u0663\u0668", None),
        ("US", "", None),
        ("CA", "k1a 0b1", "K1A0B1"),
        ("CA", "K1A\t0B1", "K1A0B1"),
        ("CA", "K1A0B1", "K1A0B1"),
        ("CA", "A1A1A1", "A1A1A1"),
        ("CA", "M5V", "M5V"),
        ("CA", "m5v", "M5V"),
        ("CA", "M5V 3L", None),
        ("CA", "D1A 1A1", None),
        ("CA", "12345", None),
        ("GB", "SW1A 1AA", "SW1A"),
        ("GB", "m1 1ae", "M1"),
        ("GB", "EC1A1BB", "EC1A"),
        ("GB", "SW1A", "SW1A"),
        ("GB", "M1", "M1"),
        ("GB", "W1D 4FA", "W1D"),
        ("GB", "GIR 0AA", "GIR"),
        ("GB", "1AA", None),
        ("GB", "SW1A 1A", None),
        ("DE", "10115", "10115"),
        ("NL", "1012 ab", "1012AB"),
        ("JP", "100-0001", "1000001"),
        ("DE", "1", None),
        ("DE", "12345678901", None),
        ("DE", "10115!", None),
        (None, "94538", "94538"),
        (None, "94538-1234", "94538"),
        (None, "945381234", "94538"),
        (None, "k1a 0b1", "K1A0B1"),
        (None, "7407", "7407"),
        (None, "", None),
    ],
)
def test_postal_codes_become_canonical_or_none(
    country: str | None, value: str, expected: str | None
) -> None:
    assert postal_code(country, value) == expected


@pytest.mark.parametrize(
    ("country", "value", "expected"),
    [
        ("US", "9", "9"),
        ("US", "94", "94"),
        ("US", "945", "945"),
        ("US", "94538", "94538"),
        ("US", "945381", None),
        ("US", "9A", None),
        ("CA", "M", "M"),
        ("CA", "m5", "M5"),
        ("CA", "M5V", "M5V"),
        ("CA", "m5v 3l", "M5V3L"),
        ("CA", "K1A 0B1", "K1A0B1"),
        ("CA", "5M", None),
        ("CA", "MM", None),
        ("CA", "K1A0B1X", None),
        ("GB", "SW", "SW"),
        ("GB", "sw1a", "SW1A"),
        ("GB", "S", "S"),
        ("GB", "M1", "M1"),
        ("GB", "1A", None),
        ("GB", "SW1A1", None),
        ("DE", "1", "1"),
        ("DE", "80", "80"),
        ("NL", "1012 ab", "1012AB"),
        ("DE", "12345678901", None),
        ("DE", "", None),
    ],
)
def test_rule_prefixes_become_canonical_or_none(
    country: str, value: str, expected: str | None
) -> None:
    assert postal_code_valid_for_rules(country, value) == expected


@pytest.mark.parametrize(
    ("zip5", "state", "timezone"),
    [
        ("07407", "US-NJ", "America/New_York"),
        ("94538", "US-CA", "America/Los_Angeles"),
        ("00501", "US-NY", "America/New_York"),
        ("10001", "US-NY", "America/New_York"),
        ("60601", "US-IL", "America/Chicago"),
        ("00000", None, None),
        ("7407", None, None),
    ],
)
def test_us_zip_gives_state_and_time_zone(
    zip5: str, state: str | None, timezone: str | None
) -> None:
    assert us_state_for_zip(zip5) == state
    assert us_timezone_for_zip(zip5) == timezone


@pytest.mark.parametrize("zip5", ["09001", "96960"])
def test_military_and_freely_associated_state_zips_have_no_region(zip5: str) -> None:
    assert us_state_for_zip(zip5) is None
    assert us_timezone_for_zip(zip5) is None

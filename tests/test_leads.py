"""Normalising a lead as sent into what the rules are written against."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from router.leads import Lead, NormalLead, field_problems, normalise


def norm(**fields: object) -> NormalLead:
    return normalise(Lead.model_validate({"id": "L1", **fields}))


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ("USA", "US"),
        ("United States", "US"),
        ("U.S.", "US"),
        ("us", "US"),
        ("uk", "GB"),
        ("Deutschland", "DE"),
        ("DEU", "DE"),
        ("france", "FR"),
        ("Canada", "CA"),
    ],
)
def test_country_names_aliases_and_codes_become_iso_alpha2(given: str, code: str) -> None:
    assert norm(country=given).country == code


@pytest.mark.parametrize(
    ("country", "region", "code"),
    [
        ("US", "California", "US-CA"),
        ("US", "ca", "US-CA"),
        ("Canada", "Ontario", "CA-ON"),
        ("CA", "QC", "CA-QC"),
        (None, "US-NY", "US-NY"),
        ("DE", "Bayern", "DE-BY"),
    ],
)
def test_state_and_province_names_and_codes_become_iso_3166_2(
    country: str | None, region: str, code: str
) -> None:
    assert norm(country=country, region=region).region == code


def test_region_alone_tells_the_country() -> None:
    lead = norm(region="Ontario")
    assert (lead.country, lead.region) == ("CA", "CA-ON")
    assert lead.notes == ["country CA derived from region CA-ON"]


def test_zip_plus_four_is_cut_to_five_digits() -> None:
    lead = norm(country="US", postal_code="94105-1804")
    assert (lead.postal, lead.region) == ("94105", "US-CA")


def test_zip_that_lost_its_leading_zero_is_restored_in_the_us() -> None:
    lead = norm(country="US", postal_code=7407)
    assert (lead.postal, lead.region) == ("07407", "US-NJ")
    assert lead.notes == [
        'postal code "7407" read as 07407',
        "region US-NJ derived from ZIP 07407",
    ]


def test_short_code_outside_the_us_is_not_padded() -> None:
    assert norm(country="CH", postal_code="8001").postal == "8001"


def test_country_and_state_are_derived_from_a_bare_us_zip() -> None:
    lead = norm(postal_code="06810")
    assert (lead.country, lead.region, lead.postal) == ("US", "US-CT", "06810")


def test_a_state_the_zip_contradicts_is_kept_and_reported() -> None:
    lead = norm(country="US", region="NY", postal_code="07407")
    assert lead.region == "US-NY"
    assert lead.notes[-1] == (
        "region US-NY conflicts with ZIP 07407, which is in US-NJ: kept the region given"
    )


def test_unknown_places_are_ignored_and_reported_not_refused() -> None:
    lead = norm(country="Narnia", region="Cair Paravel", postal_code="!!")
    assert (lead.country, lead.region, lead.postal) == (None, None, None)
    assert lead.notes == [
        'country "Narnia" is not a known country: ignored',
        'postal code "!!" is not valid: ignored',
        'region "Cair Paravel" is not a known region: ignored',
    ]


@pytest.mark.parametrize(
    ("fields", "domain"),
    [
        ({"website": "HTTPS://WWW.ALBERTSONS.COM/#1"}, "albertsons.com"),
        ({"website": "www.acme.co.uk/about?x=1"}, "acme.co.uk"),
        ({"domain": "Acme.COM"}, "acme.com"),
        ({"email": "Jo@Sub.Acme.io"}, "sub.acme.io"),
        ({"email": "jo@gmail.com", "website": "https://acme.io"}, "acme.io"),
        ({"email": "jo@gmail.com"}, None),
        ({"email": "jo@yahoo.co.uk"}, None),
    ],
)
def test_account_domain_is_lowercased_stripped_and_never_free_mail(
    fields: dict[str, str], domain: str | None
) -> None:
    assert norm(**fields).account_domain == domain


@pytest.mark.parametrize(
    ("employees", "revenue", "expected"),
    [
        (1200, 5_000_000, (1200, 5_000_000.0)),
        ("1,200", "5M", (1200, 5_000_000.0)),
        ("5k", "$2.5B", (5000, 2_500_000_000.0)),
        (None, "750k", (None, 750_000.0)),
    ],
)
def test_figures_as_numbers_or_strings(
    employees: object, revenue: object, expected: tuple[int | None, float | None]
) -> None:
    lead = norm(employees=employees, annual_revenue=revenue)
    assert (lead.employees, lead.revenue) == expected


def test_unreadable_figures_are_refused_with_every_other_bad_field() -> None:
    body = {"id": "L1", "employees": "lots", "annual_revenue": "-5M", "country": 5, "x": 1}
    with pytest.raises(ValidationError) as caught:
        Lead.model_validate(body)
    assert field_problems(caught.value.errors()) == [
        ("country", "Input should be a valid string (got 5)"),
        ("employees", '"lots" is not a number of employees (expected e.g. 1200, "1,200", "5k")'),
        (
            "annual_revenue",
            '"-5M" is not an amount of money (expected e.g. 5000000, "$2.5M", "750k")',
        ),
        ("x", "is not a known field (custom fields go in `attributes`)"),
    ]


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        (
            {"employees": True},
            ("employees", 'must be a number or text such as "1,200" or "5M" (got true)'),
        ),
        (
            {"employees": "9" * 101},
            ("employees", "is 101 characters long; at most 100 are allowed"),
        ),
        (
            {"deal_size": 10**400},
            (
                "deal_size",
                "1"
                + "0" * 36
                + "... is too large to be an amount of money "
                + '(expected e.g. 5000000, "$2.5M", "750k")',
            ),
        ),
        ({"id": " \t\n"}, ("id", "must not be blank")),
    ],
)
def test_booleans_huge_figures_and_blank_ids_are_refused(
    fields: dict[str, object], problem: tuple[str, str]
) -> None:
    with pytest.raises(ValidationError) as caught:
        Lead.model_validate({"id": "L1", **fields})
    assert field_problems(caught.value.errors()) == [problem]


def test_a_null_postal_code_is_no_postal_code() -> None:
    assert Lead.model_validate({"id": "L1", "postal_code": None}).postal_code is None


def test_unknown_top_level_fields_are_refused_and_attributes_kept() -> None:
    with pytest.raises(ValidationError):
        Lead.model_validate({"id": "L1", "favourite_colour": "blue"})
    lead = Lead.model_validate({"id": "L1", "attributes": {"favourite_colour": "blue"}})
    assert lead.attributes == {"favourite_colour": "blue"}


def test_numeric_lead_ids_are_kept_as_text() -> None:
    assert Lead.model_validate({"id": 12345}).id == "12345"


@pytest.mark.parametrize("name", ["id", "email", "company", "country", "postal_code", "page_url"])
def test_a_lone_surrogate_in_any_text_field_is_refused_by_name(name: str) -> None:
    fields = {"id": "L1", name: "Acme\udfff"}
    with pytest.raises(ValidationError) as raised:
        Lead.model_validate(fields)
    assert field_problems(raised.value.errors()) == [
        (name, "is not valid Unicode text (it holds a lone surrogate)")
    ]


def test_the_account_domain_of_an_email_is_read_from_the_part_after_the_last_at() -> None:
    assert norm(email="  Jo@Sales@ACME.io ").account_domain == "acme.io"
    assert norm(email="jo@acme.io").notes == ["account domain acme.io taken from email"]
    assert norm(email="no-at-sign").account_domain is None
    assert norm(email="jo@gmail.com", website="www.Acme.io/x").account_domain == "acme.io"


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"id": "x" * 201}, ("id", "is 201 characters long; at most 200 are allowed")),
        (
            {"company": "x" * 2001},
            ("company", "is 2,001 characters long; at most 2,000 are allowed"),
        ),
        (
            {"attributes": {str(n): n for n in range(201)}},
            ("attributes", "has 201 entries; at most 200 are allowed"),
        ),
    ],
)
def test_values_over_a_length_limit_say_the_limit_in_characters_or_entries(
    fields: dict[str, object], problem: tuple[str, str]
) -> None:
    with pytest.raises(ValidationError) as raised:
        Lead.model_validate({"id": "L1", **fields})
    assert field_problems(raised.value.errors()) == [problem]

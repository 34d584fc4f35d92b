"""The postal tables worked out at compile time answer as the prefixes and ranges do."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from router import engine
from router.leads import NormalLead
from router.ruleset import indexes
from router.ruleset.compiled import FIRST_ANSWER, NO_CLAIM, ONE_BY_ONE, GeoIndex
from router.ruleset.compiler import compile_rules
from tests.test_compiler import write

TERRITORIES = """\
territories:
  - id: wide
    covers: suite
    postal: {US: ["9", "941", "94105", "90000-90999", "100-109", "18000-20999"]}
    owner: {rep: ann}
  - id: jersey
    covers: suite
    postal: {US: ["94", "070-079", "07100-07199", "20"]}
    owner: {rep: bob}
  - id: clinics
    covers: suite
    industries: [Healthcare]
    postal: {US: ["941", "95"]}
    owner: {rep: bob}
  - id: sec
    covers: security
    anywhere: true
    owner: {rep: sam}
"""


@pytest.fixture
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GeoIndex:
    monkeypatch.setattr(indexes, "POSTAL_TABLE_CLAIMS", 1)
    rules = compile_rules(write(tmp_path, territories_yaml=TERRITORIES))
    return rules.structures["suite"]["smb"]


def place(postal: str, industry: str | None = None) -> NormalLead:
    lead = NormalLead("lead-1")
    lead.country, lead.postal, lead.industry = "US", postal, industry
    return lead


def found(index: GeoIndex, postal: str, industry: str | None = None) -> tuple[str, str] | None:
    match = engine.lookup(index, place(postal, industry))
    return (match[0].id, match[1]) if match else None


def test_each_code_gets_the_claim_the_prefixes_and_ranges_give(index: GeoIndex) -> None:
    table = index.postal_tables["US"]
    assert table.codes.typecode == "H"
    assert table.codes[94105] >= FIRST_ANSWER
    assert table.codes[94110] == ONE_BY_ONE  # wide, or clinics for healthcare
    assert table.codes[95000] == ONE_BY_ONE  # clinics for healthcare, else wide's "9"
    assert table.codes[12345] == NO_CLAIM
    assert found(index, "94105") == ("wide", "postal prefix US 94105")
    assert found(index, "94105", "healthcare") == ("wide", "postal prefix US 94105")
    assert found(index, "94110") == ("wide", "postal prefix US 941")
    assert found(index, "94110", "healthcare") == ("clinics", "postal prefix US 941")
    assert found(index, "94200") == ("jersey", "postal prefix US 94")
    assert found(index, "95000") == ("wide", "postal prefix US 9")
    assert found(index, "95000", "healthcare") == ("clinics", "postal prefix US 95")
    assert found(index, "90500") == ("wide", "postal range US 90000-90999")
    assert found(index, "07150") == ("jersey", "postal range US 07100-07199")
    assert found(index, "07250") == ("jersey", "postal range US 070-079")
    assert found(index, "10999") == ("wide", "postal range US 100-109")
    # A range whose bounds share no leading digit ranks 0: it holds its codes where
    # no prefix does.
    assert found(index, "19500") == ("wide", "postal range US 18000-20999")
    assert found(index, "20500") == ("jersey", "postal prefix US 20")
    assert found(index, "12345") is None


def test_every_code_and_industry_agrees_with_reading_the_claims_one_by_one(
    index: GeoIndex,
) -> None:
    table = index.postal_tables["US"]
    one_by_one = dataclasses.replace(index, postal_tables={})
    for number in range(100_000):
        industries: tuple[str | None, ...] = (None,)
        if table.codes[number] == ONE_BY_ONE or number % 13 == 0:
            industries = (None, "healthcare", "retail")
        code = f"{number:05d}"
        for industry in industries:
            lead = place(code, industry)
            assert engine.lookup(index, lead) == engine.lookup(one_by_one, lead), (code, industry)


def test_codes_read_by_their_first_five_digits_or_one_by_one(index: GeoIndex) -> None:
    assert found(index, "941051234") == ("wide", "postal prefix US 94105")
    assert found(index, "9410") == ("wide", "postal prefix US 941")
    # Digits beyond ASCII are not codes the claims name.
    assert found(index, "\u0669\u0664\u0661\u0660\u0665") is None


def test_few_claims_get_no_table_and_answer_the_same(tmp_path: Path) -> None:
    rules = compile_rules(write(tmp_path, territories_yaml=TERRITORIES))
    index = rules.structures["suite"]["smb"]
    assert index.postal_tables == {}
    assert found(index, "19500") == ("wide", "postal range US 18000-20999")
    assert found(index, "94110", "healthcare") == ("clinics", "postal prefix US 941")

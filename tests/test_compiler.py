"""The compiler: every mistake reported with file, line, value and expectation, all at once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from router.ruleset.compiler import compile_rules
from router.ruleset.problems import RulesError

PRODUCTS = """\
products:
  - {id: crm, name: CRM, model: portfolio, portfolio: suite, priority: 1}
  - {id: marketing, name: Marketing, model: portfolio, portfolio: suite, priority: 2}
  - {id: security, name: Security, model: dedicated, priority: 3}
segments:
  - {id: smb}
  - {id: enterprise, min_employees: 1000}
"""

REPS = """\
reps:
  - {id: ann, name: Ann, email: ann@x.example, products: {crm: 70, marketing: 30}}
  - {id: bob, name: Bob, email: bob@x.example, products: {crm: 30, marketing: 70}}
  - {id: sam, name: Sam, email: sam@x.example, products: [security]}
queues:
  - {id: triage, name: Triage}
fallbacks: {default: triage}
"""

TERRITORIES = """\
territories:
  - id: west
    covers: suite
    regions: [US-CA, US-WA]
    owner: {pool: [ann, bob], method: weighted}
  - id: bay
    covers: suite
    postal: {US: ["941", "90000-90999"]}
    owner: {rep: ann}
  - id: sec
    covers: security
    anywhere: true
    owner: {rep: sam}
"""


def write(tmp_path: Path, **files: str) -> Path:
    base = {"products.yaml": PRODUCTS, "reps.yaml": REPS, "territories.yaml": TERRITORIES}
    base.update(
        {
            name.replace("_", ".", 1) if "_yaml" in name else name: text
            for name, text in files.items()
        }
    )
    rules = tmp_path / "rules"
    rules.mkdir()
    for name, text in base.items():
        (rules / name).write_text(text)
    return rules


def problems(rules: Path) -> list[str]:
    with pytest.raises(RulesError) as caught:
        compile_rules(rules)
    return [str(p) for p in caught.value.problems]


def test_valid_rules_compile_with_a_content_hash_version(tmp_path: Path) -> None:
    compiled = compile_rules(write(tmp_path))
    again = compile_rules(tmp_path / "rules")
    assert len(compiled.version) == 12
    assert compiled.version == again.version
    assert compiled.counts() == {
        "products": 3,
        "segments": 2,
        "reps": 3,
        "queues": 1,
        "territories": 3,
        "named_accounts": 0,
        "overlays": 0,
    }


def test_any_edit_changes_the_version(tmp_path: Path) -> None:
    before = compile_rules(write(tmp_path)).version
    (tmp_path / "rules" / "reps.yaml").write_text(REPS + "# a comment\n")
    assert compile_rules(tmp_path / "rules").version != before


def test_unknown_rep_in_a_pool(tmp_path: Path) -> None:
    rules = write(tmp_path, territories_yaml=TERRITORIES.replace("[ann, bob]", "[ann, bobb]"))
    assert problems(rules) == [
        'rules/territories.yaml:5: territories[0].owner.pool[1]: "bobb" is not a rep id'
    ]


def test_unknown_product_carried_by_a_rep(tmp_path: Path) -> None:
    rules = write(tmp_path, reps_yaml=REPS.replace("products: [security]", "products: [secure]"))
    assert problems(rules) == [
        'rules/reps.yaml:4: reps[2].products.secure: "secure" is not a product id',
        'rules/territories.yaml:13: territories[2].owner.rep: "sam" does not carry security',
    ]


def test_unknown_territory_in_a_fallback(tmp_path: Path) -> None:
    reps = REPS.replace("{default: triage}", "{default: triage, territories: {east: triage}}")
    assert problems(write(tmp_path, reps_yaml=reps)) == [
        'rules/reps.yaml:7: fallbacks.territories.east: "east" is not a territory id'
    ]


def test_duplicate_ids(tmp_path: Path) -> None:
    more = "reps:\n  - {id: sam, name: Sam Two, email: sam2@x.example, products: [security]}\n"
    rules = write(tmp_path, **{"team-2.yaml": more})
    assert problems(rules) == ['rules/team-2.yaml:2: reps[3].id: "sam" is a duplicate reps id']


def test_unknown_country_and_region_codes(tmp_path: Path) -> None:
    territories = TERRITORIES.replace(
        "regions: [US-CA, US-WA]", "regions: [US-CA, US-XX]\n    countries: [Germany]"
    )
    assert problems(write(tmp_path, territories_yaml=territories)) == [
        'rules/territories.yaml:4: territories[0].regions[1]: "US-XX" is not an ISO 3166-2 '
        "region code (expected e.g. US-CA, CA-ON)",
        'rules/territories.yaml:5: territories[0].countries[0]: "Germany" is not an ISO '
        '3166-1 alpha-2 country code (did you mean "DE"?)',
    ]


def test_overlapping_postal_ranges(tmp_path: Path) -> None:
    territories = (
        TERRITORIES
        + """\
  - id: la
    covers: suite
    postal: {US: ["90500-91499"]}
    owner: {rep: bob}
"""
    )
    assert problems(write(tmp_path, territories_yaml=territories)) == [
        'rules/territories.yaml:16: territories[3].postal.US[0]: "90500-91499" overlaps '
        'postal range 90000-90999 of territory "bay"'
    ]


def test_two_territories_on_the_same_place_at_the_same_specificity(tmp_path: Path) -> None:
    territories = (
        TERRITORIES
        + """\
  - id: west-two
    covers: suite
    regions: [US-WA]
    segments: [smb]
    owner: {rep: bob}
"""
    )
    assert problems(write(tmp_path, territories_yaml=territories)) == [
        'rules/territories.yaml:14: territories[3]: "west-two" matches region US-WA at the '
        'same specificity as territory "west" for the same products, segment and any industry'
    ]


def test_nested_prefixes_and_other_segments_are_not_ambiguous(tmp_path: Path) -> None:
    territories = (
        TERRITORIES
        + """\
  - id: sf
    covers: suite
    postal: {US: ["9410"]}
    owner: {rep: bob}
  - id: west-enterprise
    covers: suite
    regions: [US-WA]
    segments: [enterprise]
    industries: [Retail]
    owner: {rep: bob}
"""
    )
    assert compile_rules(write(tmp_path, territories_yaml=territories)).counts()["territories"] == 5


def test_portfolio_weights_that_do_not_add_up(tmp_path: Path) -> None:
    reps = REPS.replace("{crm: 30, marketing: 70}", "{crm: 30, marketing: 60}")
    assert problems(write(tmp_path, reps_yaml=reps)) == [
        'rules/reps.yaml:3: reps[1].products: {"crm": 30.0, "marketing": 60.0} portfolio '
        '"suite" weights add up to 90, expected 100'
    ]


def test_pool_without_reps(tmp_path: Path) -> None:
    territories = TERRITORIES.replace("[ann, bob]", "[]")
    assert problems(write(tmp_path, territories_yaml=territories)) == [
        "rules/territories.yaml:5: territories[0].owner.pool: [] is invalid: List should "
        "have at least 1 item after validation, not 0"
    ]


def test_unknown_field_and_wrong_type_name_the_line(tmp_path: Path) -> None:
    reps = REPS.replace("email: sam@x.example,", "email: sam@x.example, capacity: 5,")
    reps = reps.replace("{id: ann, name: Ann,", "{id: ann, name: Ann, daily_capacity: many,")
    assert problems(write(tmp_path, reps_yaml=reps)) == [
        'rules/reps.yaml:2: reps[0].daily_capacity: "many" is invalid: Input should be a '
        "valid integer, unable to parse string as an integer",
        'rules/reps.yaml:4: reps[2].capacity: "capacity" is not a known field here',
    ]


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    rules = write(tmp_path, reps_yaml=REPS.replace("queues:", "queues: [\n"))
    [problem] = problems(rules)
    # The parser's own words differ between libyaml and pure-Python PyYAML.
    assert problem.startswith("rules/reps.yaml:7: ")
    assert problem.endswith(" is a YAML syntax error")


def test_every_mistake_is_reported_at_once(tmp_path: Path) -> None:
    reps = REPS.replace("{crm: 30, marketing: 70}", "{crm: 30, marketing: 60}")
    territories = TERRITORIES.replace("[ann, bob]", "[ann, zed]").replace("US-WA", "US-ZZ")
    found = problems(write(tmp_path, reps_yaml=reps, territories_yaml=territories))
    assert len(found) == 3
    assert [p.split(":")[0] for p in found] == [
        "rules/reps.yaml",
        "rules/territories.yaml",
        "rules/territories.yaml",
    ]


def test_duplicate_crm_user_id(tmp_path: Path) -> None:
    reps = REPS.replace("email: ann@x.example,", "email: ann@x.example, crm_user_id: U1,")
    reps = reps.replace("email: bob@x.example,", "email: bob@x.example, crm_user_id: U1,")
    assert problems(write(tmp_path, reps_yaml=reps)) == [
        'rules/reps.yaml:3: reps[1].crm_user_id: "U1" is also the CRM user id of rep "ann"'
    ]


def test_a_product_id_cannot_signal_another_product(tmp_path: Path) -> None:
    products = PRODUCTS.replace(
        "portfolio: suite, priority: 2}", "portfolio: suite, priority: 2, intent: {values: [crm]}}"
    )
    assert problems(write(tmp_path, products_yaml=products)) == [
        'rules/products.yaml:3: products[1].intent.values[0]: "crm" already signals product "crm"'
    ]


def test_named_account_owner_must_sell_the_product(tmp_path: Path) -> None:
    accounts = "accounts:\n  - {domain: acme.example, owners: {security: ann}}\n"
    assert problems(write(tmp_path, accounts_yaml=accounts)) == [
        'rules/accounts.yaml:2: accounts[0].owners.security: "ann" is not a primary rep '
        "carrying security"
    ]


def test_round_robin_ignores_portfolio_weights(tmp_path: Path) -> None:
    territories = TERRITORIES.replace("method: weighted", "method: round_robin")
    compiled = compile_rules(write(tmp_path, territories_yaml=territories))
    assert compiled.territories["west"].pool.weights_for("crm") == (1.0, 1.0)
    (tmp_path / "w").mkdir()
    weighted = compile_rules(write(tmp_path / "w", territories_yaml=TERRITORIES))
    assert weighted.territories["west"].pool.weights_for("crm") == (70.0, 30.0)
    assert weighted.territories["west"].pool.weights_for("marketing") == (30.0, 70.0)


def test_review_reports_coverage_gaps_and_idle_reps(tmp_path: Path) -> None:
    reps = REPS + "  - {id: val, name: Val, email: val@x.example, products: [security]}\n"
    reps = reps.replace("queues:", "").replace("  - {id: triage, name: Triage}\n", "")
    reps = reps.replace("fallbacks: {default: triage}\n", "")
    reps += "queues:\n  - {id: triage, name: Triage}\nfallbacks: {default: triage}\n"
    compiled = compile_rules(write(tmp_path, reps_yaml=reps))
    assert compiled.warnings == (
        "rep val: carries security but no rule routes it",
        "gap: suite has no smb territory for US outside its regions and postal codes; "
        "those leads go to a fallback queue",
        "gap: suite has no enterprise territory for US outside its regions and postal codes; "
        "those leads go to a fallback queue",
    )


def test_unquoted_times_and_impossible_dates_are_refused(tmp_path: Path) -> None:
    reps = REPS.replace(
        "email: ann@x.example,", "email: ann@x.example, working_hours: {start: 9:00},"
    )
    assert problems(write(tmp_path, reps_yaml=reps)) == [
        "rules/reps.yaml:2: reps[0].working_hours.start: 540 is invalid: Value error, 540 is "
        'not a time: YAML reads an unquoted 9:00 as a number; write "09:00"'
    ]
    (tmp_path / "d").mkdir()
    reps = REPS.replace(
        "email: bob@x.example,",
        "email: bob@x.example, out_of_office: [{from: 2026-02-30, to: 2026-03-02}],",
    )
    [problem] = problems(write(tmp_path / "d", reps_yaml=reps))
    assert problem == (
        'rules/reps.yaml:3: "2026-02-30" is not a valid value: day is out of range for month'
    )


def test_weights_must_be_finite(tmp_path: Path) -> None:
    reps = REPS.replace("{crm: 70, marketing: 30}", "{crm: .nan, marketing: 30}")
    assert problems(write(tmp_path, reps_yaml=reps)) == [
        "rules/reps.yaml:2: reps[0].products.crm: NaN is invalid: Input should be a finite number"
    ]


def test_named_account_domains_must_be_bare_and_not_free_mail(tmp_path: Path) -> None:
    accounts = (
        "accounts:\n"
        "  - {domain: www.acme.example, owner: ann}\n"
        "  - {domain: gmail.com, owner: ann}\n"
    )
    assert problems(write(tmp_path, accounts_yaml=accounts)) == [
        'rules/accounts.yaml:2: accounts[0].domain: "www.acme.example" is invalid: Value error, '
        'write the bare domain "acme.example", as leads are matched on it',
        'rules/accounts.yaml:3: accounts[1].domain: "gmail.com" is invalid: Value error, '
        "gmail.com is a free-mail domain: it is never an account",
    ]


def test_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    territories = TERRITORIES.replace(
        "    covers: security\n", "    covers: security\n    covers: suite\n"
    )
    assert problems(write(tmp_path, territories_yaml=territories))[0] == (
        'rules/territories.yaml:12: territories[2].covers: "covers" is given twice in this mapping'
    )


def test_ranges_of_different_lengths_at_the_same_rank_are_ambiguous(tmp_path: Path) -> None:
    territories = (
        TERRITORIES
        + """\
  - id: nyc
    covers: suite
    postal: {US: ["100-109"]}
    owner: {rep: bob}
  - id: manhattan
    covers: suite
    postal: {US: ["10000-10499"]}
    owner: {rep: ann}
"""
    )
    assert problems(write(tmp_path, territories_yaml=territories)) == [
        'rules/territories.yaml:20: territories[4].postal.US[0]: "10000-10499" overlaps postal '
        'range 100-109 of territory "nyc" at the same specificity'
    ]


def test_section_schema_and_reference_mistakes_come_in_one_report(tmp_path: Path) -> None:
    reps = REPS.replace("{id: sam,", "{id: sam, colour: red,") + "bogus_section: 1\n"
    territories = TERRITORIES.replace("[ann, bob]", "[ann, zed]")
    found = problems(write(tmp_path, reps_yaml=reps, territories_yaml=territories))
    assert found == [
        'rules/reps.yaml:4: reps[2].colour: "colour" is not a known field here',
        'rules/reps.yaml:8: "bogus_section" is not a rule section (expected one of: products, '
        "default_product, segments, unknown_segment, reps, queues, fallbacks, territories, "
        "accounts, overlays)",
    ]
    reps = REPS + "bogus_section: 1\n"
    (tmp_path / "b").mkdir()
    found = problems(write(tmp_path / "b", reps_yaml=reps, territories_yaml=territories))
    assert found == [
        'rules/reps.yaml:8: "bogus_section" is not a rule section (expected one of: products, '
        "default_product, segments, unknown_segment, reps, queues, fallbacks, territories, "
        "accounts, overlays)",
        'rules/territories.yaml:5: territories[0].owner.pool[1]: "zed" is not a rep id',
    ]


def test_an_overlay_product_without_sold_with_gets_one_clear_problem(tmp_path: Path) -> None:
    products = PRODUCTS.replace(
        "segments:", "  - {id: insights, name: Insights, model: overlay}\nsegments:"
    )
    assert problems(write(tmp_path, products_yaml=products)) == [
        'rules/products.yaml:5: products[3].model: "overlay" needs `sold_with`: the primary product'
    ]


def test_an_alias_that_refers_to_itself_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    reps = REPS.replace("{id: sam,", "{id: sam, name2: &loop [*loop],")
    assert problems(write(tmp_path, reps_yaml=reps)) == [
        'rules/reps.yaml:4: "alias" is not a valid value: an alias that refers to itself'
    ]


def test_files_with_only_comments_or_a_document_marker_are_empty(tmp_path: Path) -> None:
    rules = write(tmp_path, **{"notes.yaml": "# nothing yet\n---\n", "blank.yaml": ""})
    assert compile_rules(rules).counts()["territories"] == 3


def test_a_specialist_listed_twice_for_one_place_is_refused(tmp_path: Path) -> None:
    """Twice in one place's group would count the rep's weight twice in its rotation."""
    rules = tmp_path / "rules"
    shutil.copytree(Path(__file__).resolve().parent.parent / "rules", rules)
    overlays = (rules / "overlays.yaml").read_text()
    overlays = overlays.replace(
        "          countries: [US, CA]\n",
        "          countries: [US, CA]\n"
        "        - rep: nadia-petrova\n"
        "          regions: [US-NY, US-WA]\n"
        "        - rep: isabel-moreno\n"
        "          countries:\n"
        "            - MX\n"
        "            - CA\n"
        "        - rep: anika-sharma\n"
        "          anywhere: true\n",
        1,
    )
    (rules / "overlays.yaml").write_text(overlays)
    # Each problem points at the repeated item, on its own line.
    assert problems(rules) == [
        'rules/overlays.yaml:42: overlays[0].pool.specialists[2].regions[1]: "nadia-petrova" '
        "is listed twice for US-WA",
        'rules/overlays.yaml:46: overlays[0].pool.specialists[3].countries[1]: "isabel-moreno" '
        "is listed twice for CA",
        'rules/overlays.yaml:53: overlays[0].pool.specialists[6].anywhere: "anika-sharma" '
        "is listed twice for anywhere",
    ]


def test_a_value_outside_the_choices_names_them_in_json_quotes(tmp_path: Path) -> None:
    territories = TERRITORIES.replace("method: weighted", "method: sideways").replace(
        "- id: bay", "- id: Bay Area"
    )
    assert problems(write(tmp_path, territories_yaml=territories)) == [
        'rules/territories.yaml:5: territories[0].owner.method: "sideways" is invalid: Input '
        'should be "round_robin", "weighted" or "least_loaded"',
        'rules/territories.yaml:6: territories[1].id: "Bay Area" is invalid: String should '
        'match pattern "^[a-z0-9][a-z0-9._-]*$"',
    ]

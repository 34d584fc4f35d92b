"""Simulating a lead file: counts per rep and product, expected shares, unreadable rows."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from router import cli, simulate
from router.leadfiles import ColumnMapping, LeadFileError, read_csv, read_jsonl
from router.leads import Lead
from router.ruleset.compiler import compile_rules
from router.state.embedded import EmbeddedState

AT = "2026-03-02T15:00:00Z"  # a Monday; tom is out of office that week

RULES = """\
products:
  - {id: crm, name: CRM, model: portfolio, portfolio: suite, intent: {form_ids: [crm-demo]}}
  - {id: marketing, name: Mkt, model: portfolio, portfolio: suite, intent: {form_ids: [mkt-demo]}}
  - {id: security, name: Security, model: dedicated, intent: {form_ids: [sec-demo]}}
  - {id: analytics, name: BI, model: overlay, sold_with: crm, intent: {form_ids: [bi-demo]}}
segments:
  - {id: smb}
  - {id: enterprise, min_employees: 1000, min_revenue: 1B}
reps:
  - {id: ann, name: Ann, email: ann@example.com, products: {crm: 70, marketing: 30}}
  - {id: bob, name: Bob, email: bob@example.com, products: {crm: 30, marketing: 70}}
  - {id: eve, name: Eve, email: eve@example.com, products: {crm: 50, marketing: 50}}
  - {id: sam, name: Sam, email: sam@example.com, products: [security]}
  - {id: sue, name: Sue, email: sue@example.com, products: [security]}
  - id: tom
    name: Tom
    email: tom@example.com
    products: [security]
    out_of_office: [{from: 2026-03-01, to: 2026-03-10}]
  - {id: ana, name: Ana, email: ana@example.com, role: overlay, products: [analytics]}
queues:
  - {id: triage, name: Triage}
  - {id: sec-queue, name: Security queue}
fallbacks: {default: triage, products: {security: sec-queue}}
territories:
  - id: us-suite
    covers: suite
    countries: [US]
    segments: [smb]
    owner: {pool: [ann, bob], method: weighted}
  - {id: us-suite-ent, covers: suite, countries: [US], segments: [enterprise], owner: {rep: eve}}
  - {id: us-security, covers: security, countries: [US], owner: {pool: [sam, sue, tom]}}
accounts:
  - {domain: bigco.com, owner: bob}
overlays:
  - id: analytics-overlay
    product: analytics
    triggers: [{id: interest, interest: true}]
    pool: {specialists: [{rep: ana, anywhere: true}]}
"""

# Line 1 is the header; the comment after each group gives its lines and where it goes.
LEADS_CSV = (
    "email,country,form_id\n"
    + "".join(f"c{n}@d{n}.com,US,crm-demo\n" for n in range(1, 6))  # 2-6: crm pool 70/30
    + "".join(f"m{n}@e{n}.com,US,mkt-demo\n" for n in range(1, 5))  # 7-10: marketing 30/70
    + "".join(f"s{n}@f{n}.com,US,sec-demo\n" for n in range(1, 7))  # 11-16: round robin
    + "x@bigco.com,US,crm-demo\n"  # 17: named account, bob
    + "y@d1.com,US,mkt-demo\n"  # 18: the account of line 2, so sticky to its rep (ann)
    + "a@g1.com,US,bi-demo\n"  # 19: analytics, on the crm rotation, with ana as overlay
    + "g@h1.com,GB,crm-demo\n"  # 20: no territory in GB: triage
    + "g@h2.com,GB,sec-demo\n"  # 21: no security territory in GB: sec-queue
    + "n@k1.com,US,\n"  # 22: no product signal and no default product: triage
    + "oops\n"  # 23: one cell where the header has three
)


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "rules"
    directory.mkdir()
    (directory / "rules.yaml").write_text(RULES)
    return directory


def run(rules_dir: Path, leads: Path, *options: str) -> dict[str, Any]:
    args = ["simulate", str(rules_dir), str(leads), "--at", AT, "--json", *options]
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


@pytest.fixture
def report(rules_dir: Path, tmp_path: Path) -> dict[str, Any]:
    leads = tmp_path / "leads.csv"
    leads.write_text(LEADS_CSV)
    return run(rules_dir, leads)


def by_id(report: dict[str, Any], key: str) -> dict[str, Any]:
    return {row["id"]: row[key] for row in report["reps"]}


def test_weighted_pool_splits_by_credit_and_round_robin_takes_turns(
    report: dict[str, Any],
) -> None:
    assert report["leads"] == 21
    assert by_id(report, "leads") == {
        # crm 4 of 5, marketing 1 of 4, and the sticky lead of line 18
        "ann": 6,
        # crm 1 of 5, marketing 3 of 4, the named account, and the analytics lead
        "bob": 6,
        "eve": 0,
        "sam": 3,
        "sue": 3,
        "tom": 0,
        "ana": 0,
        "triage": 2,
        "sec-queue": 1,
    }
    assert by_id(report, "role") == {
        "ann": "primary",
        "bob": "primary",
        "eve": "primary",
        "sam": "primary",
        "sue": "primary",
        "tom": "primary",
        "ana": "overlay",
        "triage": "queue",
        "sec-queue": "queue",
    }
    assert by_id(report, "overlays") == {
        "ann": 0,
        "bob": 0,
        "eve": 0,
        "sam": 0,
        "sue": 0,
        "tom": 0,
        "ana": 1,
        "triage": 0,
        "sec-queue": 0,
    }


def test_expected_share_splits_pool_leads_by_weight_and_adds_up_to_all_leads(
    report: dict[str, Any],
) -> None:
    expected = by_id(report, "expected")
    # ann: crm 5 x 0.7 + analytics 0.7 (crm weights) + marketing 4 x 0.3 + 1 sticky lead
    assert expected["ann"] == pytest.approx(6.4)
    # bob: crm 5 x 0.3 + analytics 0.3 + marketing 4 x 0.7 + 1 named-account lead
    assert expected["bob"] == pytest.approx(5.6)
    # tom is out of office but still expected his third of the round robin
    assert [expected[r] for r in ("sam", "sue", "tom")] == pytest.approx([2.0, 2.0, 2.0])
    assert (expected["triage"], expected["sec-queue"], expected["eve"]) == (2.0, 1.0, 0.0)
    assert sum(expected.values()) == pytest.approx(21)
    assert sum(by_id(report, "expected_share").values()) == pytest.approx(1.0)
    assert by_id(report, "share")["ann"] == round(6 / 21, 6)
    assert by_id(report, "expected_share")["ann"] == round(6.4 / 21, 6)


def test_counts_per_product_route_and_fallback_reason(report: dict[str, Any]) -> None:
    assert report["products"] == [
        {"product": "crm", "model": "portfolio", "leads": 7, "to_reps": 6, "to_queues": 1},
        {"product": "marketing", "model": "portfolio", "leads": 5, "to_reps": 5, "to_queues": 0},
        {"product": "security", "model": "dedicated", "leads": 7, "to_reps": 6, "to_queues": 1},
        {"product": "analytics", "model": "overlay", "leads": 1, "to_reps": 1, "to_queues": 0},
        {"product": None, "model": None, "leads": 1, "to_reps": 0, "to_queues": 1},
    ]
    assert report["routes"] == {"named": 1, "pool": 16, "queue": 3, "sticky": 1}
    assert report["fallbacks"] == {"no_product": 1, "no_territory": 2}


def test_unreadable_rows_are_reported_with_their_line_numbers(
    rules_dir: Path, tmp_path: Path
) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_bytes(
        b"id,country,employees,form_id\n"
        b"a,US,12,crm-demo\n"  # 2
        b"b,US,a dozen,crm-demo\n"  # 3: the figure cannot be read
        b'c,US,"12\n'  # 4: a quoted cell over two lines, one cell short
        b'"\n'  # 5
        b"\n"  # 6: blank, not a row
        b"d,US,\xff\xfe,crm-demo\n"  # 7: not UTF-8
        b",US,12,crm-demo\n"  # 8: the id column is empty
        b"e,US,12,crm-demo\n"  # 9
    )
    report = run(rules_dir, leads)

    assert report["leads"] == 2
    assert report["unreadable"] == {
        "count": 4,
        "first": [
            {
                "line": 3,
                "error": 'employees: "a dozen" is not a number of employees '
                '(expected e.g. 1200, "1,200", "5k")',
            },
            {"line": 4, "error": "has 3 cells where the header has 4"},
            {"line": 7, "error": "is not UTF-8 text"},
            {"line": 8, "error": "has no id (its id cell is empty)"},
        ],
    }


def test_only_the_first_errors_are_kept_but_all_are_counted(rules_dir: Path) -> None:
    rows = [(line, f"bad {line}") for line in range(2, 30)]
    report = simulate.simulate(compile_rules(rules_dir), iter(rows))

    assert report.unreadable == 28
    assert report.errors == [(line, f"bad {line}") for line in range(2, 12)]


def test_column_mapping_set_and_scale_fill_the_lead(rules_dir: Path, tmp_path: Path) -> None:
    leads = tmp_path / "companies.csv"
    leads.write_text(
        "Ref,Work Email,Revenue ($M),Form_ID\n"
        "r1,jo@big1.com,2000,crm-demo\n"  # 2 billion: enterprise, eve
        "r2,al@small1.com,12,crm-demo\n"  # 12 million: smb pool
        "r3,al@small2.com,n/a,crm-demo\n"  # cannot be scaled
    )
    options = [
        "--column",
        "email=Work Email",
        "--column",
        "annual_revenue=revenue ($m)",
        "--set",
        "country=US",
        "--scale",
        "annual_revenue=1000000",
        "--id-column",
        "Ref",
    ]
    report = run(rules_dir, leads, *options)

    assert report["leads"] == 2
    assert {k: v for k, v in by_id(report, "leads").items() if v} == {"eve": 1, "ann": 1}
    assert report["unreadable"]["first"] == [
        {
            "line": 4,
            "error": 'annual_revenue: "n/a" is not an amount of money '
            '(expected e.g. 5000000, "$2.5M", "750k"); cannot scale it by 1000000',
        }
    ]


def test_unmapped_columns_fill_fields_by_name_and_the_rest_go_to_attributes() -> None:
    mapping = ColumnMapping.from_options(["company=Account Name"], ["product=security"])
    text = "Account Name,EMAIL,Country,Lead Source,Score\nNorthwind,jo@nw.io,DE,webinar,\n"
    rows = list(read_csv(io.BytesIO(text.encode()), mapping))

    assert rows == [
        (
            2,
            Lead(
                id="row-2",
                company="Northwind",
                email="jo@nw.io",
                country="DE",
                product="security",
                attributes={"Lead Source": "webinar"},
            ),
        )
    ]


def test_a_column_named_like_a_field_goes_to_attributes_when_another_is_mapped_to_it() -> None:
    mapping = ColumnMapping.from_options(["country=HQ Country"])
    text = "HQ Country,Country\nUS,Germany\n"
    rows = list(read_csv(io.BytesIO(text.encode()), mapping))

    assert rows == [(2, Lead(id="row-2", country="US", attributes={"Country": "Germany"}))]


def test_blank_and_repeated_column_names_keep_every_cell() -> None:
    text = "Email,Note,,Note\njo@x.io,a,b,c\n"
    rows = list(read_csv(io.BytesIO(text.encode()), ColumnMapping()))

    assert rows == [
        (
            2,
            Lead(
                id="row-2",
                email="jo@x.io",
                attributes={"Note": "a", "column 3": "b", "Note (2)": "c"},
            ),
        )
    ]


def test_jsonl_lines_are_read_like_csv_rows() -> None:
    mapping = ColumnMapping.from_options(["employees=staff"], id_column="key")
    text = (
        '{"key": 7, "staff": 1200, "attributes": {"tier": "gold"}, "plan": "pro"}\n'
        "\n"
        "[1, 2]\n"
        '{"key": "8", "staff": "many"\n'
        '{"staff": 5}\n'
    )
    rows = list(read_jsonl(io.BytesIO(text.encode()), mapping))

    assert rows == [
        (1, Lead(id="7", employees=1200, attributes={"tier": "gold", "plan": "pro"})),
        (3, "is not a JSON object (got [1, 2])"),
        (4, "is not valid JSON: Expecting ',' delimiter at column 29"),
        (5, "has no id (its id field is missing or empty)"),
    ]


def test_jsonl_keys_in_any_order_and_case_fill_the_same_fields() -> None:
    text = (
        '{"id": "a", "Country": "US", " Tier ": "gold"}\n'
        '{"Tier": "silver", "country": "DE", "id": "b"}\n'
        '{"id": "c", "Country": "US", "country": "FR", "x": 1, "x ": 2}\n'
        '{"ID": "d", "": "blank"}\n'
        '{"ID": "e", "id": "f"}\n'
        '{"id": "g", "x": 1, "x ": 2}\n'
    )
    rows = list(read_jsonl(io.BytesIO(text.encode()), ColumnMapping()))

    assert rows == [
        (1, Lead(id="a", country="US", attributes={"Tier": "gold"})),
        (2, Lead(id="b", country="DE", attributes={"Tier": "silver"})),
        (3, 'keys "Country" and "country" both fill the lead field country; rename one'),
        (4, Lead(id="d", attributes={"column 2": "blank"})),
        (5, 'keys "ID" and "id" both fill the lead field id; rename one'),
        (6, Lead(id="g", attributes={"x": 1, "x (2)": 2})),
    ]


def test_jsonl_empty_and_null_values_are_left_out_and_figures_keep_their_type() -> None:
    text = (
        '{"id": 7, "employees": 1200, "annual_revenue": "5M"}\n'
        '{"id": "b", "company": "", "country": null, "employees": "1,200"}\n'
        '{"id": "c", "employees": "lots"}\n'
    )
    rows = list(read_jsonl(io.BytesIO(text.encode()), ColumnMapping()))

    assert rows == [
        (1, Lead(id="7", employees=1200, annual_revenue="5M")),
        (2, Lead(id="b", employees="1,200")),
        (
            3,
            'employees: "lots" is not a number of employees (expected e.g. 1200, "1,200", "5k")',
        ),
    ]


def test_jsonl_lines_json_cannot_read_are_unreadable_rows_not_a_crash() -> None:
    text = (
        '{"id": "a", "employees": 1' + "0" * 5000 + "}\n"
        '{"id": "b", "attributes": {"a": ' + "[" * 3000 + "]" * 3000 + "}}\n"
        '{"id": "c"}\n'
    )
    rows = list(read_jsonl(io.BytesIO(text.encode()), ColumnMapping()))

    assert rows == [
        (1, "is not valid JSON: it holds a number with too many digits to read (over 4,300)"),
        (2, "is not valid JSON: it is nested too deeply to read"),
        (3, Lead(id="c")),
    ]


def test_jsonl_file_gives_the_same_report_as_the_csv(
    rules_dir: Path, tmp_path: Path, report: dict[str, Any]
) -> None:
    leads = tmp_path / "leads.jsonl"
    with leads.open("w") as out:
        for line in LEADS_CSV.splitlines()[1:-1]:
            email, country, form_id = line.split(",")
            out.write(json.dumps({"email": email, "country": country, "form_id": form_id}) + "\n")
    from_jsonl = run(rules_dir, leads)

    assert from_jsonl["reps"] == report["reps"]
    assert from_jsonl["products"] == report["products"]
    assert from_jsonl["unreadable"] == {"count": 0, "first": []}


def test_a_mapped_column_missing_from_the_header_exits_2(rules_dir: Path, tmp_path: Path) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_text(LEADS_CSV)
    args = ["simulate", str(rules_dir), str(leads), "--column", "company=Account"]
    result = CliRunner().invoke(cli.app, args)

    assert result.exit_code == 2
    assert result.stderr == (
        f'error: {leads}: --column company=Account: the file has no column "Account" '
        "(it has email, country, form_id)\n"
    )


@pytest.mark.parametrize(
    ("header", "options", "message"),
    [
        (
            "email,Country,country",
            [],
            'columns 2 ("Country") and 3 ("country") both fill the lead field country; '
            "rename one, or choose one with --column country=COLUMN",
        ),
        (
            "email,Region,Region",
            ["--column", "region=Region"],
            '--column region=Region: the file has 2 columns named "Region" (columns 2, 3); '
            "rename all but one",
        ),
        (
            "email,id,ID",
            [],
            'columns 2 ("id") and 3 ("ID") both fill the lead field id; rename one, '
            "or choose one with --id-column COLUMN",
        ),
        (
            "email,id,id",
            [],
            'columns 2 ("id") and 3 ("id") both fill the lead field id; rename one',
        ),
        (
            "",
            ["--id-column", "key"],
            "the file is empty: it has no header to find mapped columns in",
        ),
    ],
)
def test_a_header_that_leaves_a_field_in_doubt_exits_2(
    rules_dir: Path, tmp_path: Path, header: str, options: list[str], message: str
) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_text(header + ("\nkim@acme.io,US,US\n" if header else ""))
    result = CliRunner().invoke(cli.app, ["simulate", str(rules_dir), str(leads), *options])

    assert result.exit_code == 2
    assert result.stderr == f"error: {leads}: {message}\n"


def test_a_field_mapped_by_option_leaves_same_named_columns_as_attributes() -> None:
    text = "email,country,country,Land\nkim@acme.io,US,FR,DE\n"
    mapping = ColumnMapping.from_options(["country=Land"])
    rows = list(read_csv(io.BytesIO(text.encode()), mapping))

    assert rows == [
        (
            2,
            Lead(
                id="row-2",
                email="kim@acme.io",
                country="DE",
                attributes={"country": "US", "country (2)": "FR"},
            ),
        )
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--column", "colour=Colour"], '--column "colour=Colour": "colour" is not a lead field'),
        (["--scale", "city=2"], "--scale city: only figures can be scaled"),
        (["--set", "id=x"], "--set id=...: every lead would get the same id"),
        (["--format", "xlsx"], '--format "xlsx": expected csv or jsonl'),
    ],
)
def test_options_that_make_no_sense_exit_2(
    rules_dir: Path, tmp_path: Path, options: list[str], message: str
) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_text(LEADS_CSV)
    result = CliRunner().invoke(cli.app, ["simulate", str(rules_dir), str(leads), *options])

    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {message}")


def test_format_is_guessed_from_the_extension(rules_dir: Path, tmp_path: Path) -> None:
    leads = tmp_path / "leads.txt"
    leads.write_text(LEADS_CSV)
    result = CliRunner().invoke(cli.app, ["simulate", str(rules_dir), str(leads)])

    assert result.exit_code == 2
    assert "cannot tell the format of leads.txt (give --format" in result.stderr
    assert run(rules_dir, leads, "--format", "csv")["leads"] == 21


def test_missing_lead_file_exits_2(rules_dir: Path, tmp_path: Path) -> None:
    missing = tmp_path / "none.csv"
    result = CliRunner().invoke(cli.app, ["simulate", str(rules_dir), str(missing)])

    assert result.exit_code == 2
    assert result.stderr == f"cannot read {missing}: No such file or directory\n"


def test_table_output_shows_reps_products_fallbacks_and_unreadable_rows(
    rules_dir: Path, tmp_path: Path
) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_text(LEADS_CSV)
    args = ["simulate", str(rules_dir), str(leads), "--at", AT]
    result = CliRunner(env={"COLUMNS": "100"}).invoke(cli.app, args)

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].endswith(": 21 leads routed from leads.csv")
    assert "│ ann       │ primary │     6 │ 28.6% │          30.5% │        0 │" in lines
    assert "│ crm       │ portfolio │     7 │       6 │         1 │" in lines
    assert "routed by: named 1, pool 16, queue 3, sticky 1" in lines
    assert "fallbacks: no_product 1, no_territory 2" in lines
    assert "unreadable rows: 1" in lines
    assert "  line 23: has 1 cells where the header has 3" in lines


def test_simulation_forgets_each_lead_once_decided(
    rules_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    states: list[EmbeddedState] = []

    class Watched(EmbeddedState):
        def __init__(self, remember: bool = True) -> None:
            super().__init__(remember=remember)
            states.append(self)

    monkeypatch.setattr(simulate, "EmbeddedState", Watched)
    rows = read_csv(io.BytesIO(LEADS_CSV.encode()), ColumnMapping())
    report = simulate.simulate(compile_rules(rules_dir), rows)

    assert report.leads == 21
    assert states[0].records == {}
    assert len(states[0].owners) == 16  # one per account placed by a pool, for stickiness


def test_missing_id_is_named_after_the_line() -> None:
    rows = list(read_csv(io.BytesIO(b"country\nUS\n\nFR\n"), ColumnMapping()))

    assert rows == [(2, Lead(id="row-2", country="US")), (4, Lead(id="row-4", country="FR"))]


def test_mapping_with_two_id_columns_is_refused() -> None:
    with pytest.raises(LeadFileError, match="give the id column once"):
        ColumnMapping.from_options(["id=Ref"], id_column="Key")


def test_text_in_utf_16_is_named_and_a_stray_nul_in_utf_8_is_a_bad_row() -> None:
    utf_16 = '{"id": "a"}'.encode("utf-16-le")
    stray_nul = b'{"id": "b", "company": "x\x00y"}\n'
    rows = [*read_jsonl(io.BytesIO(utf_16), ColumnMapping())]
    rows += [*read_jsonl(io.BytesIO(stray_nul), ColumnMapping())]

    assert rows == [
        (
            1,
            "is not valid JSON: Expecting property name enclosed in double quotes at column 2; "
            "it holds a NUL beside each character, as UTF-16 or UTF-32 text does: send UTF-8",
        ),
        (1, "is not valid JSON: Invalid control character at column 26"),
    ]


def test_a_csv_in_utf_16_stops_at_its_header() -> None:
    text = "id,country\nz1,US\n".encode("utf-16-le")
    with pytest.raises(LeadFileError) as caught:
        list(read_csv(io.BytesIO(text), ColumnMapping()))

    assert str(caught.value) == (
        "line 1: the header cannot be read; it holds a NUL beside each character, "
        "as UTF-16 or UTF-32 text does: send UTF-8"
    )

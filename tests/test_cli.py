"""The command line: each command against small rule sets written for the test."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from router import cli
from router.ruleset.compiler import compile_rules

GOOD_RULES = """\
products:
  - {id: crm, name: CRM, model: dedicated, intent: {form_ids: [crm-demo]}}
  - {id: security, name: Security, model: dedicated, intent: {form_ids: [sec-demo]}}
default_product: crm
segments:
  - {id: smb}
  - {id: enterprise, min_employees: 1000}
reps:
  - {id: ann, name: Ann Lee, email: ann@example.com, crm_user_id: U-ANN, products: [crm]}
  - {id: bob, name: Bob Roy, email: bob@example.com, products: [crm]}
  - {id: sec, name: Sec Ops, email: sec@example.com, products: [security]}
  - {id: idle, name: Idle Rep, email: idle@example.com, products: [security]}
queues:
  - {id: triage, name: Triage}
fallbacks: {default: triage}
territories:
  - id: us-west
    covers: crm
    postal: {US: ["9"]}
    owner: {pool: [ann, bob]}
  - id: us-east
    covers: crm
    postal: {US: ["10000-19999"]}
    segments: [enterprise]
    owner: {rep: bob}
  - id: us
    covers: crm
    countries: [US]
    regions: [US-CA]
    owner: {rep: ann}
  - {id: security-world, covers: security, anywhere: true, owner: {rep: sec}}
"""

BAD_RULES = """\
products:
  - {id: crm, name: CRM, model: dedicated}
segments:
  - {id: smb}
reps:
  - {id: ann, name: Ann, email: ann@example.com, products: [crm, billing]}
queues:
  - {id: triage, name: Triage}
fallbacks: {default: triage}
territories:
  - {id: us, covers: crm, countries: [USA], owner: {rep: zed}}
"""

LEAD = {
    "id": "lead-1",
    "email": "jo@acme.io",
    "country": "United States",
    "postal_code": "94105-1804",
    "form_id": "crm-demo",
}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def rules_dir(tmp_path: Path, text: str = GOOD_RULES) -> Path:
    directory = tmp_path / "rules"
    directory.mkdir()
    (directory / "rules.yaml").write_text(text)
    return directory


def lead_file(tmp_path: Path, lead: dict[str, Any] = LEAD) -> Path:
    path = tmp_path / "lead.json"
    path.write_text(json.dumps(lead))
    return path


# check ------------------------------------------------------------------------


def test_check_prints_version_counts_and_warnings(runner: CliRunner, tmp_path: Path) -> None:
    directory = rules_dir(tmp_path)
    result = runner.invoke(cli.app, ["check", str(directory)])

    assert result.exit_code == 0, result.output
    version = compile_rules(directory).version
    assert result.stdout.splitlines() == [
        f"rules rules version {version}: products 2, segments 2, reps 4, queues 1, "
        "territories 4, named accounts 0, overlays 0",
        "warning: rep idle: carries security but no rule routes it",
        "ok, 1 warning(s)",
    ]


def test_check_reports_every_problem_with_file_and_line(runner: CliRunner, tmp_path: Path) -> None:
    directory = rules_dir(tmp_path, BAD_RULES)
    result = runner.invoke(cli.app, ["check", str(directory)])

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        'rules/rules.yaml:6: reps[0].products.billing: "billing" is not a product id',
        'rules/rules.yaml:11: territories[0]: "us" covers no place '
        "(give countries, regions, postal or anywhere: true)",
        'rules/rules.yaml:11: territories[0].countries[0]: "USA" is not an ISO 3166-1 '
        'alpha-2 country code (did you mean "US"?)',
        'rules/rules.yaml:11: territories[0].owner.rep: "zed" is not a rep id',
        f"4 problem(s) in {directory}",
    ]


def test_check_of_a_missing_directory_is_a_problem(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli.app, ["check", str(tmp_path / "nowhere")])

    assert result.exit_code == 1
    assert "is not a directory" in result.stderr


# compile ----------------------------------------------------------------------


def test_compile_json_counts_places_per_structure_and_segment(
    runner: CliRunner, tmp_path: Path
) -> None:
    directory = rules_dir(tmp_path)
    result = runner.invoke(cli.app, ["compile", str(directory), "--json"])

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["name"] == "rules"
    assert summary["version"] == compile_rules(directory).version
    assert summary["counts"] == {
        "products": 2,
        "segments": 2,
        "reps": 4,
        "queues": 1,
        "territories": 4,
        "named_accounts": 0,
        "overlays": 0,
    }

    def counts(prefixes: int, ranges: int, regions: int, countries: int, anywhere: int) -> Any:
        return {
            "postal_prefixes": prefixes,
            "postal_ranges": ranges,
            "regions": regions,
            "countries": countries,
            "anywhere": anywhere,
        }

    assert summary["structures"] == {
        "crm": {
            "smb": counts(prefixes=1, ranges=0, regions=1, countries=1, anywhere=0),
            "enterprise": counts(prefixes=1, ranges=1, regions=1, countries=1, anywhere=0),
        },
        "security": {
            "smb": counts(prefixes=0, ranges=0, regions=0, countries=0, anywhere=1),
            "enterprise": counts(prefixes=0, ranges=0, regions=0, countries=0, anywhere=1),
        },
    }
    assert summary["warnings"] == ["rep idle: carries security but no rule routes it"]


def test_compile_prints_a_table_of_places(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli.app, ["compile", str(rules_dir(tmp_path))])

    assert result.exit_code == 0, result.output
    assert "Places indexed per territory structure and segment" in result.stdout
    assert "warning: rep idle: carries security but no rule routes it" in result.stdout


def test_compile_of_bad_rules_exits_1(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli.app, ["compile", str(rules_dir(tmp_path, BAD_RULES))])

    assert result.exit_code == 1
    assert result.stdout == ""
    assert '"zed" is not a rep id' in result.stderr


def test_compile_json_reports_problems_as_json(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli.app, ["compile", str(rules_dir(tmp_path, BAD_RULES)), "--json"])

    assert result.exit_code == 1
    problems = json.loads(result.stdout)["problems"]
    assert [(p["line"], p["path"], p["value"], p["expected"]) for p in problems] == [
        (6, "reps[0].products.billing", '"billing"', "is not a product id"),
        (
            11,
            "territories[0]",
            '"us"',
            "covers no place (give countries, regions, postal or anywhere: true)",
        ),
        (
            11,
            "territories[0].countries[0]",
            '"USA"',
            'is not an ISO 3166-1 alpha-2 country code (did you mean "US"?)',
        ),
        (11, "territories[0].owner.rep", '"zed"', "is not a rep id"),
    ]
    assert {p["file"] for p in problems} == {"rules/rules.yaml"}


# route and explain ----------------------------------------------------------------


def test_route_prints_the_decision_without_trace(runner: CliRunner, tmp_path: Path) -> None:
    directory = rules_dir(tmp_path)
    result = runner.invoke(cli.app, ["route", str(lead_file(tmp_path)), "--rules", str(directory)])

    assert result.exit_code == 0, result.output
    decision = json.loads(result.stdout)
    assert decision["lead_id"] == "lead-1"
    assert decision["rules_version"] == compile_rules(directory).version
    assert decision["product"] == "crm"
    assert decision["model"] == "dedicated"
    assert decision["segment"] == "smb"
    assert decision["territory"] == "us-west"
    assert decision["primary"] == {
        "type": "rep",
        "id": "ann",
        "name": "Ann Lee",
        "email": "ann@example.com",
        "crm_user_id": "U-ANN",
    }
    assert decision["replayed"] is False
    assert "trace" not in decision


def test_route_with_trace_shows_every_step(runner: CliRunner, tmp_path: Path) -> None:
    args = ["route", str(lead_file(tmp_path)), "--rules", str(rules_dir(tmp_path)), "--trace"]
    result = runner.invoke(cli.app, args)

    assert result.exit_code == 0, result.output
    steps = [step["step"] for step in json.loads(result.stdout)["trace"]]
    assert steps[:3] == ["normalise", "product", "segment"]
    assert "territory" in steps


def test_route_reads_the_lead_from_stdin(runner: CliRunner, tmp_path: Path) -> None:
    lead = {"id": "lead-2", "country": "US", "postal_code": "12345", "employees": "5,000"}
    args = ["route", "-", "--rules", str(rules_dir(tmp_path))]
    result = runner.invoke(cli.app, args, input=json.dumps(lead))

    assert result.exit_code == 0, result.output
    decision = json.loads(result.stdout)
    assert (decision["segment"], decision["territory"]) == ("enterprise", "us-east")
    assert decision["primary"]["id"] == "bob"


def test_explain_always_includes_the_trace(runner: CliRunner, tmp_path: Path) -> None:
    args = ["explain", str(lead_file(tmp_path)), "--rules", str(rules_dir(tmp_path))]
    result = runner.invoke(cli.app, args)

    assert result.exit_code == 0, result.output
    decision = json.loads(result.stdout)
    assert decision["decision_id"].startswith("explain-")
    assert decision["primary"]["id"] == "ann"
    assert decision["trace"][0]["step"] == "normalise"


def test_bad_lead_prints_its_field_errors_and_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    lead = {"id": "lead-3", "employees": [12], "colour": "blue"}
    args = ["route", str(lead_file(tmp_path, lead)), "--rules", str(rules_dir(tmp_path))]
    result = runner.invoke(cli.app, args)

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines()[1:] == [
        '  employees: must be a number or text such as "1,200" or "5M" (got [12])',
        "  colour: is not a known field (custom fields go in `attributes`)",
    ]


def test_unreadable_figure_is_a_field_error_with_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    lead = {"id": "lead-4", "annual_revenue": "a lot"}
    args = ["explain", str(lead_file(tmp_path, lead)), "--rules", str(rules_dir(tmp_path))]
    result = runner.invoke(cli.app, args)

    assert result.exit_code == 2
    assert result.stderr.splitlines()[1].startswith('  annual_revenue: "a lot" is not')


def test_missing_lead_file_exits_2_with_the_reason(runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "none.json"
    result = runner.invoke(cli.app, ["route", str(missing), "--rules", str(rules_dir(tmp_path))])

    assert result.exit_code == 2
    assert result.stderr == f"cannot read {missing}: No such file or directory\n"


def test_lead_file_that_is_not_json_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "lead.json"
    path.write_text("{'id': 1}")
    result = runner.invoke(cli.app, ["route", str(path), "--rules", str(rules_dir(tmp_path))])

    assert result.exit_code == 2
    assert result.stderr.startswith(f"{path} is not valid JSON:")


@pytest.mark.parametrize(("text", "got"), [("[1]", "[1]"), ('"lead"', '"lead"'), ("null", "null")])
def test_a_lead_that_is_not_an_object_exits_2(
    runner: CliRunner, tmp_path: Path, text: str, got: str
) -> None:
    result = runner.invoke(cli.app, ["route", "-", "--rules", str(rules_dir(tmp_path))], input=text)

    assert result.exit_code == 2
    assert result.stderr == f"- is not a JSON object (got {got})\n"


def test_a_lead_that_is_not_utf_8_names_the_byte(runner: CliRunner, tmp_path: Path) -> None:
    latin_1 = '{"id": "n5", "company": "Café"}'.encode("latin-1")
    path = tmp_path / "lead.json"
    path.write_bytes(latin_1)
    rules = str(rules_dir(tmp_path))
    for source, stdin in ((str(path), None), ("-", latin_1)):
        result = runner.invoke(cli.app, ["explain", source, "--rules", rules], input=stdin)

        assert result.exit_code == 2
        assert result.stderr == f"{source} is not UTF-8 text (byte 29 cannot be read)\n"


def test_a_utf_16_lead_file_is_named_as_such(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "lead.json"
    path.write_bytes('{"id": "a"}'.encode("utf-16-le"))
    result = runner.invoke(cli.app, ["route", str(path), "--rules", str(rules_dir(tmp_path))])

    assert result.exit_code == 2
    assert result.stderr == (
        f"{path} is not valid JSON: Expecting property name enclosed in double quotes "
        "(line 1); it holds a NUL beside each character, as UTF-16 or UTF-32 text does: "
        "send UTF-8\n"
    )


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (
            '{"id": "a", "employees": 1' + "0" * 5000 + "}",
            "it holds a number with too many digits to read (over 4,300)",
        ),
        (
            '{"id": "a", "attributes": {"a": ' + "[" * 3000 + "]" * 3000 + "}}",
            "it is nested too deeply to read",
        ),
    ],
)
def test_lead_file_json_cannot_read_exits_2_with_the_reason(
    runner: CliRunner, tmp_path: Path, text: str, why: str
) -> None:
    path = tmp_path / "lead.json"
    path.write_text(text)
    rules = str(rules_dir(tmp_path))
    for command in ("route", "explain"):
        result = runner.invoke(cli.app, [command, str(path), "--rules", rules])

        assert result.exit_code == 2
        assert result.stderr == f"{path} is not valid JSON: {why}\n"


# serve ------------------------------------------------------------------------


def test_serve_hands_the_rules_to_uvicorn_through_the_environment(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: calls.append((args, kwargs)))
    # set through monkeypatch so that what the command writes is undone after the test
    monkeypatch.setenv("ROUTER_RULES_DIR", "")
    monkeypatch.setenv("ROUTER_REDIS_URL", "")
    directory = rules_dir(tmp_path)
    args = ["serve", "--rules", str(directory), "--port", "8123"]
    result = runner.invoke(cli.app, [*args, "--redis-url", "redis://127.0.0.1:6399/0"])

    assert result.exit_code == 0, result.output
    assert calls == [
        (
            ("router.api.app:create_app",),
            {
                "factory": True,
                "host": "127.0.0.1",
                "port": 8123,
                "workers": 1,
                "access_log": False,
                "log_config": cli.LOG_CONFIG,
            },
        )
    ]
    assert os.environ["ROUTER_RULES_DIR"] == str(directory.resolve())
    assert os.environ["ROUTER_REDIS_URL"] == "redis://127.0.0.1:6399/0"


def test_serve_logs_decisions_only_when_asked(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: None)
    monkeypatch.setenv("ROUTER_RULES_DIR", "")
    monkeypatch.delenv("ROUTER_LOG_DECISIONS", raising=False)
    directory = rules_dir(tmp_path)
    assert runner.invoke(cli.app, ["serve", "--rules", str(directory)]).exit_code == 0
    assert "ROUTER_LOG_DECISIONS" not in os.environ
    monkeypatch.setenv("ROUTER_LOG_DECISIONS", "")
    result = runner.invoke(cli.app, ["serve", "--rules", str(directory), "--log-decisions"])
    assert result.exit_code == 0
    assert os.environ["ROUTER_LOG_DECISIONS"] == "1"


def test_serve_refuses_bad_rules_before_starting(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: calls.append(args))
    result = runner.invoke(cli.app, ["serve", "--rules", str(rules_dir(tmp_path, BAD_RULES))])

    assert result.exit_code == 1
    assert calls == []


def test_simulate_refuses_a_binary_file_and_a_non_finite_scale(
    runner: CliRunner, tmp_path: Path
) -> None:
    directory = rules_dir(tmp_path)
    binary = tmp_path / "leads.csv"
    binary.write_bytes(b"id,country\r\x00\xff\n\x00\x01\x02\rabc\n")
    result = runner.invoke(cli.app, ["simulate", str(directory), str(binary)])
    assert result.exit_code == 2
    assert "the header is not valid CSV" in result.stderr
    good = tmp_path / "good.csv"
    good.write_text("id,employees\n1,5\n")
    args = ["simulate", str(directory), str(good), "--scale", "employees=1e400"]
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 2
    assert "--scale employees=1e400: the factor must be a positive number" in result.stderr


def test_route_reads_a_lead_file_that_starts_with_a_byte_order_mark(
    runner: CliRunner, tmp_path: Path
) -> None:
    lead = tmp_path / "lead.json"
    lead.write_bytes(b'\xef\xbb\xbf{"id": "bom-1"}')
    result = runner.invoke(cli.app, ["route", str(lead), "--rules", str(rules_dir(tmp_path))])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["lead_id"] == "bom-1"

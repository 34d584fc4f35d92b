"""The command line: serve the API, check and compile rules, route and simulate leads.

Exit codes: 0 done; 1 the rule files have mistakes (each printed as
`file:line: path: 'value' expected`); 2 the input cannot be used (a lead with bad
fields, a file that cannot be read, an option that does not fit the file).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from router.leadfiles import (
    ColumnMapping,
    Format,
    LeadFileError,
    Row,
    field_errors,
    guess_format,
    read_leads,
    unreadable_json,
    utf16_hint,
)
from router.leads import Lead, LeadError
from router.ruleset.compiled import CompiledRules, GeoIndex
from router.ruleset.compiler import compile_rules
from router.ruleset.problems import RulesError
from router.service import Router, without_trace
from router.settings import DEFAULT_RULES
from router.shown import shown
from router.simulate import simulate, to_json
from router.state.embedded import EmbeddedState

app = typer.Typer(
    help="Product-aware lead routing: serve the API, check rules, route and simulate leads.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

PROGRESS_ABOVE_LINES = 10_000

RulesOption = Annotated[Path, typer.Option("--rules", help="The rules directory.", file_okay=False)]
RulesArgument = Annotated[Path, typer.Argument(help="The rules directory.", file_okay=False)]
LeadArgument = Annotated[str, typer.Argument(help="A JSON file holding one lead, or - for stdin.")]


def fail(message: str, code: int) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def compiled_or_exit(directory: Path) -> CompiledRules:
    """The compiled rules, or every problem on stderr and exit 1."""
    try:
        return compile_rules(directory)
    except RulesError as error:
        for problem in error.problems:
            typer.echo(str(problem), err=True)
        fail(f"{len(error.problems)} problem(s) in {directory}", 1)


def counts_line(rules: CompiledRules) -> str:
    counts = ", ".join(f"{name.replace('_', ' ')} {n}" for name, n in rules.counts().items())
    return f"rules {rules.name} version {rules.version}: {counts}"


# serve ------------------------------------------------------------------------


LOG_CONFIG: dict[str, object] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "stderr": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "loggers": {
        "router": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "uvicorn.access": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
}


@app.command()
def serve(
    rules: RulesOption = DEFAULT_RULES,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 1,
    redis_url: Annotated[
        str | None, typer.Option(help="Shared state; without it, in-process state.")
    ] = None,
    access_log: Annotated[bool, typer.Option(help="Log every HTTP request.")] = False,
    log_decisions: Annotated[
        bool,
        typer.Option(help="Log one line per decision (sets ROUTER_LOG_DECISIONS=1)."),
    ] = False,
) -> None:
    """Serve the HTTP API with uvicorn (settings go to the app as ROUTER_* variables)."""
    import uvicorn

    compiled = compiled_or_exit(rules)
    typer.echo(counts_line(compiled), err=True)
    os.environ["ROUTER_RULES_DIR"] = str(rules.resolve())
    if redis_url:
        os.environ["ROUTER_REDIS_URL"] = redis_url
    if log_decisions:
        os.environ["ROUTER_LOG_DECISIONS"] = "1"
    if workers > 1 and not os.environ.get("ROUTER_REDIS_URL"):
        typer.echo(
            "warning: without --redis-url each worker keeps its own rotation and decisions",
            err=True,
        )
    uvicorn.run(
        "router.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        log_config=LOG_CONFIG,
    )


# check and compile ------------------------------------------------------------


@app.command()
def check(rules_dir: RulesArgument) -> None:
    """Validate a rules directory: every mistake with file and line, or the review warnings."""
    compiled = compiled_or_exit(rules_dir)
    typer.echo(counts_line(compiled))
    for warning in compiled.warnings:
        typer.echo(f"warning: {warning}")
    typer.echo(f"ok, {len(compiled.warnings)} warning(s)")


def places(index: GeoIndex) -> dict[str, int]:
    """How many places of each kind one territory index holds."""
    return {
        "postal_prefixes": sum(len(table) for table in index.prefixes.values()),
        "postal_ranges": sum(len(t.lows) for tables in index.ranges.values() for t in tables),
        "regions": len(index.regions),
        "countries": len(index.countries),
        "anywhere": 1 if index.anywhere is not None else 0,
    }


def summary(rules: CompiledRules) -> dict[str, Any]:
    """Version, counts, places indexed per territory structure and segment, warnings."""
    return {
        "name": rules.name,
        "version": rules.version,
        "loaded_at": rules.loaded_at.isoformat(timespec="seconds"),
        "counts": rules.counts(),
        "structures": {
            structure: {segment: places(index) for segment, index in segments.items()}
            for structure, segments in rules.structures.items()
        },
        "warnings": list(rules.warnings),
    }


@app.command(name="compile")
def compile_command(
    rules_dir: RulesArgument,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Compile a rules directory and summarise its indexes."""
    if as_json:
        try:
            compiled = compile_rules(rules_dir)
        except RulesError as error:
            problems = [
                {
                    "file": p.file,
                    "line": p.line,
                    "path": p.path,
                    "value": shown(p.value),
                    "expected": p.expected,
                }
                for p in error.problems
            ]
            typer.echo(json.dumps({"problems": problems}, indent=2))
            raise typer.Exit(1) from None
    else:
        compiled = compiled_or_exit(rules_dir)
    report = summary(compiled)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    console = Console()
    console.print(counts_line(compiled), highlight=False)
    console.print(f"loaded at {report['loaded_at']}", highlight=False)
    table = Table(title="Places indexed per territory structure and segment")
    for title in ("structure", "segment"):
        table.add_column(title)
    for title in ("postal prefixes", "postal ranges", "regions", "countries", "anywhere"):
        table.add_column(title.replace("postal ", ""), justify="right")
    for structure, segments in report["structures"].items():
        for segment, counts in segments.items():
            table.add_row(structure, segment, *(str(n) for n in counts.values()))
    console.print(table)
    for warning in compiled.warnings:
        console.print(f"warning: {warning}", highlight=False)


# route and explain ------------------------------------------------------------


def read_lead(source: str) -> Lead:
    """One lead from a JSON file or stdin; exit 2 with the reason when it cannot be read."""
    try:
        raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as error:
        fail(f"cannot read {source}: {error.strerror or error}", 2)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        fail(f"{source} is not UTF-8 text (byte {error.start + 1} cannot be read)", 2)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        reason = f"{error.msg.removesuffix(' at')} (line {error.lineno}){utf16_hint(text)}"
        fail(f"{source} is not valid JSON: {reason}", 2)
    except (ValueError, RecursionError) as error:
        fail(f"{source} is not valid JSON: {unreadable_json(error)}", 2)
    if not isinstance(data, dict):
        fail(f"{source} is not a JSON object (got {shown(data, limit=40)})", 2)
    try:
        return Lead.model_validate(data)
    except ValidationError as error:
        lead_errors(source, error)


def lead_errors(source: str, error: ValidationError | LeadError) -> NoReturn:
    typer.echo(f"the lead in {source} cannot be routed:", err=True)
    for name, why in field_errors(error):
        typer.echo(f"  {name}: {why}", err=True)
    raise typer.Exit(2)


def decide(source: str, rules_dir: Path, explain: bool) -> dict[str, Any]:
    lead = read_lead(source)
    compiled = compiled_or_exit(rules_dir)
    router = Router(compiled, EmbeddedState(), rules_dir)
    try:
        if explain:
            return asyncio.run(router.explain(lead))
        return asyncio.run(router.route(lead))
    except LeadError as error:
        lead_errors(source, error)


@app.command()
def route(
    lead_file: LeadArgument,
    rules: RulesOption = DEFAULT_RULES,
    trace: Annotated[bool, typer.Option("--trace", help="Include the trace.")] = False,
) -> None:
    """Route one lead on a fresh in-process state and print the decision."""
    decision = decide(lead_file, rules, explain=False)
    typer.echo(json.dumps(decision if trace else without_trace(decision), indent=2))


@app.command()
def explain(lead_file: LeadArgument, rules: RulesOption = DEFAULT_RULES) -> None:
    """Print the decision a lead would get, with its trace; nothing is remembered."""
    typer.echo(json.dumps(decide(lead_file, rules, explain=True), indent=2))


# simulate ---------------------------------------------------------------------


def line_count(path: Path) -> int:
    with path.open("rb") as binary:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: binary.read(1 << 20), b""))


def with_progress(rows: Iterator[Row], total: int) -> Iterator[Row]:
    """The rows, advancing a progress bar on stderr by line number."""
    columns = (
        TextColumn("routing"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} lines"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("routing", total=total)
        for count, row in enumerate(rows):
            if count % 2000 == 0:
                progress.update(task, completed=row[0])
            yield row


def parse_instant(value: str | None) -> dt.datetime:
    if value is None:
        return dt.datetime.now(dt.UTC)
    try:
        instant = dt.datetime.fromisoformat(value)
    except ValueError:
        fail(f"--at {shown(value)}: expected an ISO 8601 time such as 2026-03-02T15:00:00Z", 2)
    return instant if instant.tzinfo else instant.replace(tzinfo=dt.UTC)


def percent(fraction: float) -> str:
    return f"{fraction * 100:.1f}%"


def print_report(report: dict[str, Any], elapsed: float, source: Path) -> None:
    console = Console(highlight=False)
    rules = report["rules"]
    console.print(
        f"rules {rules['name']} version {rules['version']}: "
        f"{report['leads']:,} leads routed from {source.name}"
    )
    reps = Table(title="Leads per rep")
    for title in ("rep", "role", "leads", "share", "expected share", "overlays"):
        reps.add_column(title, justify="left" if title in ("rep", "role") else "right")
    for row in report["reps"]:
        reps.add_row(
            row["id"],
            row["role"],
            f"{row['leads']:,}",
            percent(row["share"]),
            percent(row["expected_share"]),
            f"{row['overlays']:,}",
        )
    console.print(reps)
    products = Table(title="Leads per product")
    for title in ("product", "model", "leads", "to reps", "to queues"):
        products.add_column(title, justify="left" if title in ("product", "model") else "right")
    for row in report["products"]:
        products.add_row(
            row["product"] or "(none)",
            row["model"] or "-",
            f"{row['leads']:,}",
            f"{row['to_reps']:,}",
            f"{row['to_queues']:,}",
        )
    console.print(products)
    console.print("routed by: " + words(report["routes"]))
    console.print("fallbacks: " + words(report["fallbacks"]))
    unreadable = report["unreadable"]
    console.print(f"unreadable rows: {unreadable['count']:,}")
    for error in unreadable["first"]:
        console.print(f"  line {error['line']}: {error['error']}")
    rate = report["leads"] / elapsed if elapsed > 0 else 0.0
    console.print(f"{report['leads']:,} leads in {elapsed:.2f} s ({rate:,.0f} leads/s)")


def words(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n:,}" for name, n in counts.items()) or "none"


@app.command(name="simulate")
def simulate_command(
    rules_dir: RulesArgument,
    leads_file: Annotated[Path, typer.Argument(help="A CSV or JSON lines file of leads.")],
    file_format: Annotated[
        str | None,
        typer.Option("--format", help="csv or jsonl; by default from the file's extension."),
    ] = None,
    column: Annotated[
        list[str] | None,
        typer.Option(help="lead_field=SOURCE_COLUMN: fill a lead field from a column."),
    ] = None,
    set_value: Annotated[
        list[str] | None,
        typer.Option("--set", help="lead_field=VALUE: the same value on every lead."),
    ] = None,
    scale: Annotated[
        list[str] | None,
        typer.Option(help="lead_field=FACTOR: multiply a figure, e.g. annual_revenue=1000000."),
    ] = None,
    id_column: Annotated[
        str | None, typer.Option(help="The column of lead ids; else row-<line number>.")
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(help="Decide as of this ISO 8601 time (UTC if no offset); default now."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Route every lead of a file on a fresh in-process state and report the balance.

    Columns not mapped by --column fill the lead field of the same name (any case);
    the others go into `attributes`. A row that cannot be read is counted with its line.
    Expected share: a lead placed by a territory pool is split among the pool's reps by
    their weights for its product; named-account, sticky and queue leads count for
    whoever got them (see router.simulate).
    """
    try:
        mapping = ColumnMapping.from_options(column or [], set_value or [], scale or [], id_column)
        chosen: Format = (
            guess_format(leads_file) if file_format is None else check_format(file_format)
        )
    except LeadFileError as error:
        fail(f"error: {error}", 2)
    compiled = compiled_or_exit(rules_dir)
    now = parse_instant(at)
    started = time.perf_counter()
    try:
        with leads_file.open("rb") as binary:
            rows: Iterator[Row] = read_leads(binary, mapping, chosen)
            if sys.stderr.isatty():
                total = line_count(leads_file)
                if total > PROGRESS_ABOVE_LINES:
                    rows = with_progress(rows, total)
            report = simulate(compiled, rows, now)
    except OSError as error:
        fail(f"cannot read {leads_file}: {error.strerror or error}", 2)
    except LeadFileError as error:
        fail(f"error: {leads_file}: {error}", 2)
    elapsed = time.perf_counter() - started
    body = to_json(report, compiled)
    if as_json:
        typer.echo(json.dumps(body, indent=2))
    else:
        print_report(body, elapsed, leads_file)


def check_format(value: str) -> Format:
    if value == "csv":
        return "csv"
    if value == "jsonl":
        return "jsonl"
    raise LeadFileError(f"--format {shown(value)}: expected csv or jsonl")


if __name__ == "__main__":
    app()

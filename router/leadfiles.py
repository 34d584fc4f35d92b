"""Read files of leads (CSV, JSON lines) into Leads, one row at a time, through a column mapping.

How a row becomes a lead, in order:

1. `--column lead_field=SOURCE` takes the lead field from that source column.
2. A column not mapped whose name is a lead field (compared without case, so `Email`
   and `EMAIL` fill `email`) fills that field.
3. Every other column goes into `attributes` under its own name, so nothing is dropped.
   Empty cells carry nothing and are left out; in JSON lines, an `attributes` object is
   merged into the lead's attributes.
4. `--set lead_field=VALUE` gives the field the same value on every row, over the file.
5. `--scale lead_field=FACTOR` multiplies a figure (employees, annual_revenue, deal_size):
   a file giving revenue in millions is read with `--scale annual_revenue=1000000`.
6. The id is the id column (`--id-column`, `--column id=...` or a column named `id`),
   else `row-<line number>`.

A row that cannot be read is yielded as an error message with its line number, never
skipped; only a mapping that does not fit the file at all (a mapped column missing from
the header) stops the reading, with LeadFileError.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import ValidationError

from router.firmographics import FigureError, parse_count, parse_money
from router.leads import Lead, LeadError, field_problems
from router.shown import shown

Format = Literal["csv", "jsonl"]
Row = tuple[int, Lead | str]

LEAD_FIELDS = frozenset(Lead.model_fields) - {"attributes"}
FIGURES = frozenset({"employees", "annual_revenue", "deal_size"})
EXTENSIONS: dict[str, Format] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


class LeadFileError(Exception):
    """The file or the mapping cannot be used at all (as opposed to one bad row)."""


def guess_format(path: Path) -> Format:
    """The format named by the file's extension; raises LeadFileError when there is none."""
    found = EXTENSIONS.get(path.suffix.lower())
    if found is None:
        known = ", ".join(EXTENSIONS)
        raise LeadFileError(
            f"cannot tell the format of {path.name} (give --format; known: {known})"
        )
    return found


def _pairs(option: str, values: Iterable[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        name = name.strip()
        if not sep or not name or not rest:
            raise LeadFileError(f"{option} {shown(value)}: expected lead_field=VALUE")
        if name not in LEAD_FIELDS:
            raise LeadFileError(
                f"{option} {shown(value)}: {shown(name)} is not a lead field "
                f"(expected one of: {', '.join(sorted(LEAD_FIELDS))})"
            )
        if name in pairs:
            raise LeadFileError(f"{option}: {name} is given twice")
        pairs[name] = rest
    return pairs


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """How the columns of a lead file fill the fields of a Lead (see the module docstring).

    columns: lead field -> source column; constants: lead field -> value set on every
    row; scales: figure field -> factor; id_column: the source column of the lead id.
    """

    columns: Mapping[str, str] = field(default_factory=dict)
    constants: Mapping[str, str] = field(default_factory=dict)
    scales: Mapping[str, float] = field(default_factory=dict)
    id_column: str | None = None

    @classmethod
    def from_options(
        cls,
        columns: Iterable[str] = (),
        constants: Iterable[str] = (),
        scales: Iterable[str] = (),
        id_column: str | None = None,
    ) -> ColumnMapping:
        """Read `lead_field=VALUE` options; raises LeadFileError naming the bad one."""
        mapped = _pairs("--column", columns)
        if "id" in mapped:
            if id_column is not None:
                raise LeadFileError("give the id column once: --id-column or --column id=...")
            id_column = mapped.pop("id")
        fixed = _pairs("--set", constants)
        if "id" in fixed:
            raise LeadFileError("--set id=...: every lead would get the same id")
        factors: dict[str, float] = {}
        for name, text in _pairs("--scale", scales).items():
            if name not in FIGURES:
                raise LeadFileError(
                    f"--scale {name}: only figures can be scaled ({', '.join(sorted(FIGURES))})"
                )
            try:
                factor = float(text)
            except ValueError:
                raise LeadFileError(
                    f"--scale {name}={text}: {shown(text)} is not a number"
                ) from None
            if not math.isfinite(factor) or factor <= 0:
                raise LeadFileError(f"--scale {name}={text}: the factor must be a positive number")
            factors[name] = factor
        return cls(mapped, fixed, factors, id_column)

    def plan(self, header: list[str], strict: bool = True) -> _RowPlan:
        """Where each column of this header goes.

        Strict (a CSV header): a mapped column missing from the header raises
        LeadFileError. Otherwise (the keys of one JSON object) it is simply absent.
        """
        exact = {name: index for index, name in enumerate(header)}
        folded: dict[str, int] = {}
        for index, name in enumerate(header):
            folded.setdefault(name.strip().lower(), index)

        def find(column: str, option: str) -> int | None:
            index = exact.get(column, folded.get(column.strip().lower()))
            if index is not None and strict:
                same = [i for i, name in enumerate(header) if name == header[index]]
                if len(same) > 1:
                    raise LeadFileError(
                        f"{option}: the file has {len(same)} columns named {shown(header[index])} "
                        f"(columns {', '.join(str(i + 1) for i in same)}); rename all but one"
                    )
            if index is None and strict:
                listed = ", ".join(header[:30]) + (", ..." if len(header) > 30 else "")
                raise LeadFileError(
                    f"{option}: the file has no column {shown(column)} (it has {listed})"
                )
            return index

        targets: dict[int, str] = {}
        wanted = [(self.id_column, "id", "--id-column")] if self.id_column is not None else []
        wanted += [(c, f, f"--column {f}={c}") for f, c in self.columns.items()]
        for column, lead_field, option in wanted:
            found = find(column, option)
            if found is None:
                continue
            if found in targets:
                raise LeadFileError(f"column {shown(column)} is mapped twice")
            targets[found] = lead_field
        taken = set(targets.values())
        by_name_at: dict[str, int] = {}
        for index, name in enumerate(header):
            by_name = name.strip().lower()
            if index in targets or by_name not in LEAD_FIELDS:
                continue
            if by_name in by_name_at:
                raise LeadFileError(_clash(header, by_name_at[by_name], index, by_name, strict))
            if by_name not in taken:
                targets[index] = by_name
                taken.add(by_name)
                by_name_at[by_name] = index
        names = _attribute_names(header)
        places = tuple(
            (index, targets.get(index, names[index]), index not in targets)
            for index in range(len(header))
        )
        return _RowPlan(self, places, self.id_column is not None or "id" in taken)

    def is_plain(self) -> bool:
        """Whether this mapping leaves a file's fields as they are."""
        return not (self.columns or self.constants or self.scales or self.id_column)

    def plan_keys(self, keys: tuple[str, ...]) -> _RowPlan:
        """The plan for the keys of one JSON object.

        Without --column or --id-column, keys that fold to distinct names (the usual
        case) are placed one by one, each by its own name; anything else goes
        through `plan`, which settles clashes by position.
        """
        if self.columns or self.id_column is not None:
            return self.plan(list(keys), strict=False)
        places = []
        seen: set[str] = set()
        for index, key in enumerate(keys):
            place = _key_place(key)
            if place is None or place[0] in seen:
                return self.plan(list(keys), strict=False)
            seen.add(place[0])
            places.append((index, *place))
        return _RowPlan(self, tuple(places), "id" in seen)

    def lead(self, line: int, values: dict[str, Any], attributes: dict[str, Any]) -> Lead:
        """The Lead from one row's fields; raises ValidationError or LeadError."""
        values.update(self.constants)
        if self.scales:
            _scale(values, self.scales)
        if "id" not in values:
            values["id"] = f"row-{line}"
        if attributes:
            values["attributes"] = attributes
        return Lead.model_validate(values)


def _clash(header: list[str], first: int, second: int, lead_field: str, csv: bool) -> str:
    """Two columns (CSV) or keys (JSON) that would both fill one lead field."""
    a, b = header[first], header[second]
    if not csv:
        return f"keys {shown(a)} and {shown(b)} both fill the lead field {lead_field}; rename one"
    both = (
        f"columns {first + 1} ({shown(a)}) and {second + 1} ({shown(b)}) both fill the lead field"
    )
    if a == b:
        return f"{both} {lead_field}; rename one"
    option = "--id-column COLUMN" if lead_field == "id" else f"--column {lead_field}=COLUMN"
    return f"{both} {lead_field}; rename one, or choose one with {option}"


@lru_cache(maxsize=4096)
def _key_place(key: str) -> tuple[str, bool] | None:
    """(lead field, False) or (attribute name, True) for one key; None for a blank key."""
    name = key.strip()
    if not name:
        return None
    folded = name.lower()
    return (folded, False) if folded in LEAD_FIELDS else (name, True)


def _attribute_names(header: list[str]) -> list[str]:
    """Header names as attribute keys: a blank one is `column N`, a repeated one `NAME (2)`."""
    names: list[str] = []
    seen: set[str] = set()
    for index, name in enumerate(header, start=1):
        name = name.strip() or f"column {index}"
        unique, copy = name, 1
        while unique in seen:
            copy += 1
            unique = f"{name} ({copy})"
        seen.add(unique)
        names.append(unique)
    return names


@dataclass(frozen=True, slots=True)
class _RowPlan:
    """One header's columns: (position, lead field or attribute name, is an attribute)."""

    mapping: ColumnMapping
    places: tuple[tuple[int, str, bool], ...]
    has_id: bool

    def read(self, line: int, cells: list[str]) -> Lead | str:
        """One CSV record's cells; empty cells are left out."""
        if len(cells) != len(self.places):
            return f"has {len(cells)} cells where the header has {len(self.places)}"
        values: dict[str, Any] = {}
        attributes: dict[str, Any] = {}
        for index, name, is_attribute in self.places:
            cell = cells[index]
            if cell == "":
                continue
            if is_attribute:
                attributes[name] = cell
            else:
                values[name] = cell
        if self.has_id and "id" not in values:
            return "has no id (its id cell is empty)"
        return _checked(self.mapping, line, values, attributes)

    def read_object(self, line: int, data: dict[str, Any]) -> Lead | str:
        """One JSON object whose keys are this plan's header; values keep their JSON types."""
        values: dict[str, Any] = {}
        attributes: dict[str, Any] = {}
        for (_, name, is_attribute), value in zip(self.places, data.values(), strict=True):
            if value is None or value == "":
                continue
            if not is_attribute:
                values[name] = value
            elif name == "attributes" and isinstance(value, dict):
                attributes.update(value)
            else:
                attributes[name] = value
        if self.has_id and "id" not in values:
            return "has no id (its id field is missing or empty)"
        return _checked(self.mapping, line, values, attributes)


def _scale(values: dict[str, Any], scales: Mapping[str, float]) -> None:
    problems: list[tuple[str, str]] = []
    for name, factor in scales.items():
        raw = values.get(name)
        if raw is None or isinstance(raw, bool) or not isinstance(raw, str | int | float):
            continue
        try:
            figure = parse_count(raw) if name == "employees" else parse_money(raw)
        except FigureError as error:
            shown = int(factor) if factor.is_integer() else factor
            problems.append((name, f"{error}; cannot scale it by {shown}"))
            continue
        if figure is None:
            continue
        scaled = figure * factor
        values[name] = int(scaled) if float(scaled).is_integer() else scaled
    if problems:
        raise LeadError(problems)


def _checked(
    mapping: ColumnMapping, line: int, values: dict[str, Any], attributes: dict[str, Any]
) -> Lead | str:
    try:
        return mapping.lead(line, values, attributes)
    except (ValidationError, LeadError) as error:
        return describe(error)


def field_errors(error: ValidationError | LeadError) -> list[tuple[str, str]]:
    """Each field of a lead that cannot be read, with the reason, once per field."""
    if isinstance(error, LeadError):
        return list(error.errors)
    return field_problems(list(error.errors()))


def describe(error: ValidationError | LeadError) -> str:
    """A lead's field errors on one line: `field: reason; field: reason`."""
    return "; ".join(f"{name}: {why}" for name, why in field_errors(error))


# readers ---------------------------------------------------------------------


def _decoded(binary: IO[bytes], bad: list[int]) -> Iterator[str]:
    """Text lines of a binary file; a line that is not UTF-8 is noted in `bad` by number."""
    for number, raw in enumerate(binary, start=1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            bad.append(number)
            yield raw.decode("utf-8", errors="replace")


def read_csv(binary: IO[bytes], mapping: ColumnMapping) -> Iterator[Row]:
    """(line, Lead or error) for every record of a CSV file whose first record is the header.

    The line is where the record starts (a quoted cell may span lines); blank lines are
    not records.
    """
    bad: list[int] = []
    reader = csv.reader(_decoded(binary, bad))
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise LeadFileError(f"line 1: the header is not valid CSV ({error})") from None
    if header is None:
        if mapping.columns or mapping.id_column is not None:
            raise LeadFileError("the file is empty: it has no header to find mapped columns in")
        return
    if bad:
        raise LeadFileError(f"line {bad[0]}: the header is not UTF-8 text")
    hint = utf16_hint(",".join(header))
    if hint:
        raise LeadFileError(f"line 1: the header cannot be read{hint}")
    plan = mapping.plan(header)
    end = reader.line_num
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            start, end = end + 1, reader.line_num
            yield start, f"is not valid CSV: {error}"
            continue
        start, end = end + 1, reader.line_num
        if bad:
            bad.clear()
            yield start, "is not UTF-8 text"
            continue
        if not cells:
            continue
        yield start, plan.read(start, cells)


def read_jsonl(binary: IO[bytes], mapping: ColumnMapping) -> Iterator[Row]:
    """(line, Lead or error) for every non-blank line of a JSON lines file.

    Each line is one object; its keys are the columns (an `attributes` object is merged
    into the attributes).
    """
    plans: dict[tuple[str, ...], _RowPlan] = {}
    plain = mapping.is_plain()
    for line, raw in enumerate(binary, start=1):
        if plain and b'""' not in raw and b"null" not in raw:
            # A line that is already a valid Lead (lead fields by their own names, no
            # empty or null values to leave out) is read by pydantic-core in one step;
            # any other line, errors included, is read below.
            try:
                yield line, Lead.model_validate_json(raw)
                continue
            except ValidationError:
                pass
        try:
            text = raw.decode("utf-8-sig" if line == 1 else "utf-8")
        except UnicodeDecodeError:
            yield line, "is not UTF-8 text"
            continue
        if not text.strip():
            continue
        try:
            data = json.loads(text.rstrip("\r\n"))
        except json.JSONDecodeError as error:
            reason = error.msg.removesuffix(" at")
            yield line, f"is not valid JSON: {reason} at column {error.colno}{utf16_hint(text)}"
            continue
        except (ValueError, RecursionError) as error:
            yield line, f"is not valid JSON: {unreadable_json(error)}"
            continue
        if not isinstance(data, dict):
            yield line, f"is not a JSON object (got {shown(data, limit=40)})"
            continue
        keys = tuple(data)
        plan = plans.get(keys)
        if plan is None:
            if len(plans) >= 10_000:
                plans.clear()
            try:
                plan = mapping.plan_keys(keys)
            except LeadFileError as error:
                yield line, str(error)
                continue
            plans[keys] = plan
        yield line, plan.read_object(line, data)


def utf16_hint(text: bytes | str) -> str:
    """A note for text that failed to read and looks like UTF-16 or UTF-32 without a
    byte order mark (whose bytes are valid UTF-8: ASCII with a NUL beside each
    character), else nothing. A stray NUL in UTF-8 text gets no note."""
    nuls = text.count(b"\x00") if isinstance(text, bytes) else text.count("\x00")
    if nuls and nuls * 3 >= len(text):
        return "; it holds a NUL beside each character, as UTF-16 or UTF-32 text does: send UTF-8"
    return ""


def unreadable_json(error: ValueError | RecursionError) -> str:
    """What json.loads could not read, beyond a syntax error, in a caller's words."""
    if isinstance(error, RecursionError):
        return "it is nested too deeply to read"
    return "it holds a number with too many digits to read (over 4,300)"


def read_leads(binary: IO[bytes], mapping: ColumnMapping, format: Format) -> Iterator[Row]:
    """(line, Lead or error) for every lead of an open binary file in the given format."""
    if format == "csv":
        return read_csv(binary, mapping)
    return read_jsonl(binary, mapping)

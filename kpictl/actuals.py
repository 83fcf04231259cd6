"""Actual KPI values: a CSV file (or stdin) in, values and row-numbered problems out.

The format is the one in REGISTRY.md, "Actual values":

    kpi,period,value,as_of
    mql,2026-Q4,610,2026-11-20

`period` is a target period (2026-Q4, 2026-11, 2026) or, for what one campaign
produced from its start up to `as_of`, the campaign's id. Columns may come in any
order; other columns are ignored. A bad row is reported and skipped, the good rows
are still used. A file with no usable header or no rows at all cannot be used:
every KPI would look like a data outage and escalate, so that is an error.
"""

from __future__ import annotations

import csv
import io
import math
import re
import sys
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import BinaryIO

from kpictl.display import plural
from kpictl.periods import PERIOD_HELP, PERIOD_PATTERN
from kpictl.schema_errors import suggest

COLUMNS = ("kpi", "period", "value", "as_of")
_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})(?:[T ][0-9:.]+(?:Z|[+-][0-9:]+)?)?\Z")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")


class ActualsError(Exception):
    """The file cannot be used at all (no header, a missing column, no rows)."""

    def __init__(self, row: int, message: str) -> None:
        super().__init__(message)
        self.row = row
        self.message = message


@dataclass(frozen=True, slots=True)
class Actual:
    """One measured value: `row` is its line in the file (the header is row 1)."""

    kpi: str
    period: str  # a period like 2026-Q4, or a campaign id
    value: float
    as_of: date
    row: int


@dataclass(frozen=True, slots=True)
class Problem:
    row: int
    message: str


@dataclass
class Actuals:
    """The usable rows of one file, by (kpi, period), oldest `as_of` first."""

    source: str
    rows: dict[tuple[str, str], list[Actual]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def latest(self, kpi: str, period: str, on: date | None = None) -> Actual | None:
        """The newest value for `kpi` in `period` measured on or before `on`."""
        for actual in reversed(self.rows.get((kpi, period), ())):
            if on is None or actual.as_of <= on:
                return actual
        return None

    def __iter__(self) -> Iterator[Actual]:
        for values in self.rows.values():
            yield from values

    def __len__(self) -> int:
        return sum(len(values) for values in self.rows.values())

    def measured_after(self, day: date) -> list[Actual]:
        """Rows measured after `day`: unknown on that day, so never used for it."""
        return sorted((a for a in self if a.as_of > day), key=lambda a: a.row)


def parse_actuals(
    text: str,
    source: str,
    kpi_ids: Collection[str],
    campaign_ids: Collection[str] = (),
) -> Actuals:
    """Read CSV `text`; `source` names it in messages. Raises ActualsError when unusable."""
    text = text.removeprefix("\ufeff")  # a BOM left by Excel's "CSV UTF-8"
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    for fields in reader:
        if any(cell.strip() for cell in fields):
            header = [cell.strip().lower().removeprefix("\ufeff") for cell in fields]
            break
    if header is None:
        raise ActualsError(1, f"the file is empty: start it with the header {','.join(COLUMNS)}")
    header_row = reader.line_num
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        found = ",".join(cell for cell in header if cell) or "nothing"
        hint = "; the file looks semicolon-separated: export it with commas" if ";" in found else ""
        raise ActualsError(
            header_row,
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}: the header "
            f"must name {','.join(COLUMNS)} (found {found}){hint}",
        )
    index = {name: header.index(name) for name in COLUMNS}
    actuals = Actuals(source)
    seen: dict[tuple[str, str, date], Actual] = {}
    kpis, campaigns = set(kpi_ids), set(campaign_ids)
    data_rows = 0
    for fields in reader:
        row = reader.line_num
        if not any(cell.strip() for cell in fields):
            continue
        data_rows += 1
        parsed = _parse_row(fields, row, index, kpis, campaigns)
        if isinstance(parsed, Problem):
            actuals.problems.append(parsed)
            continue
        key = (parsed.kpi, parsed.period, parsed.as_of)
        earlier = seen.get(key)
        if earlier is not None:
            if earlier.value == parsed.value:
                actuals.problems.append(
                    Problem(row, f"repeats row {earlier.row} ({_what(parsed)}): ignored")
                )
                continue
            actuals.problems.append(
                Problem(
                    row,
                    f"gives {parsed.value:g} where row {earlier.row} gives {earlier.value:g} "
                    f"for {_what(parsed)}: using this later row",
                )
            )
            actuals.rows[(parsed.kpi, parsed.period)].remove(earlier)
        seen[key] = parsed
        actuals.rows.setdefault((parsed.kpi, parsed.period), []).append(parsed)
    if data_rows == 0:
        raise ActualsError(
            header_row, "the file has a header but no rows: add one line per KPI and period"
        )
    for values in actuals.rows.values():
        values.sort(key=lambda a: (a.as_of, a.row))
    return actuals


def read_text(spec: str, stdin: BinaryIO | None = None) -> tuple[str, str]:
    """The text of file `spec` (or stdin for `-`) and the name to show for it.

    Raises ActualsError for text that is not UTF-8 and OSError for an unreadable file.
    """
    if spec == "-":
        data = (stdin if stdin is not None else sys.stdin.buffer).read()
        name = "<stdin>"
    else:
        data = Path(spec).read_bytes()
        name = spec
    try:
        return data.decode("utf-8-sig"), name
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ActualsError(
            line, "the file is not UTF-8 text: export it as CSV UTF-8 (comma-separated)"
        ) from None


def _what(actual: Actual) -> str:
    return f"{actual.kpi} {actual.period} as of {actual.as_of.isoformat()}"


def _parse_row(
    fields: list[str], row: int, index: dict[str, int], kpis: set[str], campaigns: set[str]
) -> Actual | Problem:
    width = max(index.values()) + 1
    if len(fields) < width:
        return Problem(
            row,
            f"has {plural(len(fields), 'value')} where the header has "
            f"{width} columns: write kpi,period,value,as_of",
        )
    kpi, period, value, as_of = (fields[index[name]].strip() for name in COLUMNS)
    if kpi not in kpis:
        close = suggest(kpi, kpis)
        tip = f" (did you mean '{close}'?)" if close else ""
        what = f"unknown KPI '{kpi}'" if kpi else "no KPI id"
        return Problem(row, f"{what}{tip}: row skipped")
    if not PERIOD_PATTERN.match(period) and period not in campaigns:
        close = suggest(period, campaigns)
        tip = f" (did you mean '{close}'?)" if close else ""
        return Problem(
            row,
            f"'{period}' is not a period or a campaign id{tip}: {PERIOD_HELP}, "
            "or a campaign id for what the campaign produced; row skipped",
        )
    number = _number(value)
    if number is None:
        return Problem(
            row,
            f"value '{value}' is not a number: write digits with a dot for decimals and no "
            "thousands separators or units (1225, 36.6); row skipped",
        )
    day = _day(as_of)
    if day is None:
        return Problem(row, f"as_of '{as_of}' is not a date: use YYYY-MM-DD; row skipped")
    return Actual(kpi, period, number, day, row)


def _number(text: str) -> float | None:
    if not _NUMBER.match(text):
        return None
    number = float(text)
    return number if math.isfinite(number) else None


def _day(text: str) -> date | None:
    match = _DATE.match(text)
    if match is None:
        return None
    try:
        return date.fromisoformat(match[1])
    except ValueError:
        return None

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
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from kpictl.display import plural
from kpictl.numbers.periods import PERIOD_HELP, PERIOD_PATTERN
from kpictl.registry.bounds import day_problem, value_problem
from kpictl.registry.schema_errors import suggest
from kpictl.templating.escaping import defuse, visible

if TYPE_CHECKING:
    from _csv import Reader

COLUMNS = ("kpi", "period", "value", "as_of")
# No actuals row comes near this; a longer line is skipped unread (64 KiB).
MAX_LINE = 64 * 1024
# Problems kept to show: beyond these, a broken or hostile file only adds to a count.
MAX_PROBLEMS = 1000
ROW_SKIPPED = "; row skipped"
NOT_UTF8 = "the file is not UTF-8 text: export it as CSV UTF-8 (comma-separated)"
_LONE_CR = re.compile(r"(?<=\r)(?!\n|\Z)")
# ASCII digits only: \d and float() also take other scripts' digits (an Arabic-Indic
# five is 5.0 to float), which no other program reading the file would.
# A time after the date (a BI tool's timestamp) is read as that date, if it is a time.
_DATE = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})"
    r"(?:[T ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,9})?)?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):?[0-5][0-9])?)?\Z"
)
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")


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
class RowProblem:
    """A row of the actuals file that was skipped or needs a look, by its line."""

    row: int
    message: str
    # False for a row that is a note only (it repeats an earlier row, or overrides it).
    skipped: bool = True


@dataclass
class Actuals:
    """The usable rows of one file, by (kpi, period), oldest `as_of` first."""

    source: str
    rows: dict[tuple[str, str], list[Actual]] = field(default_factory=dict)
    problems: list[RowProblem] = field(default_factory=list)  # the first MAX_PROBLEMS
    more_problems: int = 0  # how many more there were
    skipped: int = 0  # rows left out as unusable, shown or not

    def report(self, problem: RowProblem) -> None:
        if problem.skipped:
            self.skipped += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        else:
            self.more_problems += 1

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
    return read_actuals(io.BytesIO(text.encode("utf-8")), source, kpi_ids, campaign_ids)


def read_actuals(
    stream: BinaryIO,
    source: str,
    kpi_ids: Collection[str],
    campaign_ids: Collection[str] = (),
) -> Actuals:
    """Read CSV from `stream` row by row, keeping one value per KPI, period and as_of.

    The file is never held whole: an export can be hundreds of megabytes, and a
    pull request can make it so. Raises ActualsError when the file is unusable.
    """
    lines = _Lines(stream)
    reader = csv.reader(lines)
    header: list[str] | None = None
    for fields in _records(reader, lines):
        if isinstance(fields, _Unreadable):
            raise ActualsError(
                fields.row,
                f"the header line {fields.reason}: start the file with the header "
                f"{','.join(COLUMNS)}",
            )
        if any(cell.strip() for cell in fields):
            header = [cell.strip().lower().removeprefix("\ufeff") for cell in fields]
            break
    if header is None:
        raise ActualsError(1, f"the file is empty: start it with the header {','.join(COLUMNS)}")
    header_row = reader.line_num
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        raise ActualsError(header_row, _header_problem(header, missing))
    index = {name: header.index(name) for name in COLUMNS}
    actuals = Actuals(source)
    # One value per (kpi, period) and as_of: a later row for the same day replaces it.
    kept: dict[tuple[str, str], dict[date, Actual]] = {}
    kpis = {kpi: kpi for kpi in kpi_ids}
    campaigns = set(campaign_ids)
    periods: dict[str, str] = {}  # one string per period, however many rows name it
    data_rows = 0
    for fields in _records(reader, lines):
        if isinstance(fields, _Unreadable):
            data_rows += 1
            actuals.report(RowProblem(fields.row, f"the line {fields.reason}{ROW_SKIPPED}"))
            continue
        row = reader.line_num
        if not any(cell.strip() for cell in fields):
            continue
        data_rows += 1
        explain = len(actuals.problems) < MAX_PROBLEMS
        parsed = _parse_row(fields, row, index, kpis, campaigns, periods, explain)
        if isinstance(parsed, RowProblem):
            actuals.report(parsed)
            continue
        by_day = kept.setdefault((parsed.kpi, parsed.period), {})
        earlier = by_day.get(parsed.as_of)
        if earlier is not None:
            same = earlier.value == parsed.value
            if len(actuals.problems) >= MAX_PROBLEMS:
                actuals.more_problems += 1  # not shown: spare formatting the message
            elif same:
                actuals.report(
                    RowProblem(
                        row, f"repeats row {earlier.row} ({_what(parsed)}): ignored", skipped=False
                    )
                )
            else:
                actuals.report(
                    RowProblem(
                        row,
                        f"gives {parsed.value:g} where row {earlier.row} gives "
                        f"{earlier.value:g} for {_what(parsed)}: using this later row",
                        skipped=False,
                    )
                )
            if same:
                continue
        by_day[parsed.as_of] = parsed
    if data_rows == 0:
        raise ActualsError(
            header_row, "the file has a header but no rows: add one line per KPI and period"
        )
    for key, by_day in kept.items():
        actuals.rows[key] = sorted(by_day.values(), key=lambda a: (a.as_of, a.row))
    return actuals


@dataclass(frozen=True, slots=True)
class _Unreadable:
    """A line that is no CSV record: `reason` completes "the line ..."."""

    row: int
    reason: str


def _records(reader: Reader, lines: _Lines) -> Iterator[list[str] | _Unreadable]:
    """The records of `reader`, and the lines too long or too broken to be one."""
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # The reader starts afresh on the next line: the rest of the file is still read.
            yield _Unreadable(reader.line_num, f"cannot be read as CSV ({exc})")
            continue
        if lines.too_long:
            yield _Unreadable(lines.too_long.pop(), f"is longer than {MAX_LINE:,} bytes")
            continue
        yield fields


class _Lines:
    """The lines of a binary stream as text, one at a time, numbered from 1.

    A line longer than MAX_LINE bytes is skipped without being held (its number goes
    to `too_long` and an empty line stands in for it, so that later numbers stay
    right); text that is not UTF-8 is an ActualsError naming its line.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.number = 0
        self.too_long: list[int] = []

    def __iter__(self) -> Iterator[str]:
        while True:
            raw = self.stream.readline(MAX_LINE + 1)
            if not raw:
                return
            if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
                while raw and not raw.endswith(b"\n"):
                    raw = self.stream.readline(MAX_LINE)
                self.number += 1
                self.too_long.append(self.number)
                yield "\n"
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise ActualsError(self.number + 1, NOT_UTF8) from None
            if self.number == 0:
                text = text.removeprefix("\ufeff")  # a BOM left by Excel's "CSV UTF-8"
            # Lines ended by a lone CR (old Mac exports) are lines too, as csv counts them.
            pieces = _LONE_CR.split(text) if "\r" in text.rstrip("\r\n") else (text,)
            for piece in pieces:
                self.number += 1
                yield piece


@contextmanager
def open_actuals(spec: str) -> Iterator[tuple[BinaryIO, str]]:
    """File `spec` (or stdin for `-`) to read from, and the name to show for it.

    Only a regular file is opened, never through a link (a pull request can commit
    `actuals/latest.csv -> /proc/self/environ`) and never a FIFO that would wait
    forever. Raises OSError for a file that cannot be opened, NotRegularFileError or
    LinkedFolderError (both OSError) for one that is refused.
    """
    if spec == "-":
        yield sys.stdin.buffer, "<stdin>"
        return
    from kpictl.fileio import open_regular

    with open_regular(Path(spec)) as stream:
        yield stream, spec


def _header_problem(header: list[str], missing: list[str]) -> str:
    """What is wrong with a header, without quoting it.

    The first line of an unknown file can be anything (a line of secrets, if a link
    or a mistyped path led there), so only what kpictl knows is named: the columns
    missing, those present, and how many cells the line has.
    """
    named = [name for name in COLUMNS if name in header]
    found = f"it names {', '.join(named)}" if named else "it names none of them"
    cells = plural(len(header), "column")
    hint = (
        "; the file looks semicolon-separated: export it with commas"
        if any(";" in cell for cell in header)
        else ""
    )
    return (
        f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}: the header "
        f"must name {','.join(COLUMNS)} ({found}, in {cells}){hint}"
    )


def _what(actual: Actual) -> str:
    return f"{actual.kpi} {actual.period} as of {actual.as_of.isoformat()}"


def _parse_row(
    fields: list[str],
    row: int,
    index: dict[str, int],
    kpis: dict[str, str],
    campaigns: set[str],
    periods: dict[str, str],
    explain: bool,
) -> Actual | RowProblem:
    """One row as an Actual, or the RowProblem with it (`explain`: with a suggestion)."""
    width = max(index.values()) + 1
    if len(fields) < width:
        return RowProblem(
            row,
            f"has {plural(len(fields), 'value')} where the header has "
            f"{width} columns: write kpi,period,value,as_of",
        )
    kpi, period, value, as_of = (fields[index[name]].strip() for name in COLUMNS)
    known = kpis.get(kpi)
    if known is None:
        # A suggestion costs a comparison with every id: only for problems that are shown.
        close = suggest(kpi, kpis) if explain and len(kpi) <= 63 else None
        tip = f" (did you mean '{close}'?)" if close else ""
        what = f"unknown KPI '{_shown(kpi)}'" if kpi else "no KPI id"
        return RowProblem(row, f"{what}{tip}: row skipped")
    if not PERIOD_PATTERN.match(period) and period not in campaigns:
        close = suggest(period, campaigns) if explain and len(period) <= 63 else None
        tip = f" (did you mean '{close}'?)" if close else ""
        return RowProblem(
            row,
            f"'{_shown(period)}' is not a period or a campaign id{tip}: {PERIOD_HELP}, "
            "or a campaign id for what the campaign produced; row skipped",
        )
    number = _number(value)
    if number is None:
        digits = "ASCII digits 0-9" if _foreign_digits(value) else "digits"
        return RowProblem(
            row,
            f"value '{_shown(value)}' is not a number: write {digits} with a dot for decimals "
            "and no thousands separators or units (1225, 36.6); row skipped",
        )
    problem = value_problem(number)
    if problem is not None:
        return RowProblem(row, f"value {problem}{ROW_SKIPPED}")
    day = _day(as_of)
    if day is None:
        return RowProblem(
            row, f"as_of '{_shown(as_of)}' is not a date: use YYYY-MM-DD; row skipped"
        )
    problem = day_problem(day)
    if problem is not None:
        return RowProblem(row, f"as_of {problem}{ROW_SKIPPED}")
    return Actual(known, periods.setdefault(period, period), number, day, row)


def _shown(text: str) -> str:
    """A cell as messages quote it: one short line, every invisible character spelled out
    (`mql\\u202e`, `5\\x00`: dropped, they made 'mql\\u202e' read as 'mql'), and no
    workflow command a CI runner would obey in the line."""
    text = text[:60] + "…" if len(text) > 60 else text
    return defuse(visible(text))


def _number(text: str) -> float | None:
    if not _NUMBER.match(text):
        return None
    number = float(text)
    return number if math.isfinite(number) else None


def _foreign_digits(text: str) -> bool:
    """Whether `text` holds a digit of another script (Arabic-Indic, full-width...)."""
    return not text.isascii() and any(char.isdigit() and not char.isascii() for char in text)


def _day(text: str) -> date | None:
    match = _DATE.match(text)
    if match is None:
        return None
    try:
        return date.fromisoformat(match[1])
    except ValueError:
        return None

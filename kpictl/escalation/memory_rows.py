"""What an escalation's, a step's or a run's row may hold, checked as memory.py reads it: the
one gate between the escalation tables and every command that reads them.

SQLite stores any value in any column, and anyone with access to a store can write to
it: a tier 'abc', a respond_by 'garbage' or a blob, an opened_at in the year 9999 (which
no time zone can show) or a deviation 'x' would otherwise reach `escalations`,
`escalate` and `ack` as a crash. A row that passes here holds what kpictl writes; one
that does not is named, with what to do, in one line (kpictl.numbers.store_rows does the
same for observations). Ids are only required to be text: a KPI id no registry allows is
escaped wherever it is shown, and `escalate --send` closes its escalation (its KPI left
the registry), which a damaged-row error would block.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from kpictl.numbers.store_rows import DamagedRowError, as_number, literal
from kpictl.registry.bounds import FIRST_DAY, LAST_DAY, MAX_VALUE

# The start of what SQLAlchemy writes for a time in SQLite: 2026-11-20 09:30:00.000000.
_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}")
# What make_msgid and kpictl's stable ids give: one <...> without spaces or controls.
_MESSAGE_ID = re.compile(r"<[^<>\s\x00-\x1f\x7f]{1,250}>\Z")
_TIME_HELP = "which is not a time (YYYY-MM-DD HH:MM:SS)"
_RANGE_HELP = (
    f"which is out of range (kpictl records times from {FIRST_DAY.isoformat()} to "
    f"{LAST_DAY.isoformat()})"
)


def stored_time(value: object) -> datetime | str:
    """A time column as an aware UTC datetime, or why it is not one (a phrase)."""
    moment: datetime | None = None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and _ISO_TIME.match(value):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
    if moment is None:
        return f"{literal(value)}, {_TIME_HELP}"
    # Checked before any zone is applied: a moment at the edge of year 1 or 9999 cannot
    # be moved to UTC or to the registry's zone without OverflowError.
    if not FIRST_DAY <= moment.date() <= LAST_DAY:
        return f"{literal(value)}, {_RANGE_HELP}"
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class _Reader:
    """Reads one row's cells, raising DamagedRowError that names the row and the cell."""

    def __init__(self, row: Any, where: str, fix: str) -> None:
        self.row = row
        self.where = where
        self.fix = fix

    def fail(self, column: str, problem: str) -> DamagedRowError:
        return DamagedRowError(
            f"its {self.where} has {column} {problem}; correct or delete that row "
            f"({self.fix}) or restore the store from a backup"
        )

    def time(self, column: str) -> datetime:
        value = getattr(self.row, column)
        found = stored_time(value)
        if isinstance(found, str):
            raise self.fail(column, found)
        return found

    def whole(self, column: str) -> int:
        value = getattr(self.row, column)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(column, f"{literal(value)}, which is not a whole number")
        return value

    def text(self, column: str) -> str:
        value = getattr(self.row, column)
        if not isinstance(value, str):
            raise self.fail(column, f"{literal(value)}, which is not text")
        return value

    def maybe_message_id(self, column: str) -> str | None:
        """A Message-ID that later steps' In-Reply-To repeats: a line break in it would
        add headers to every later email of the escalation (or fail composing it)."""
        value = self.maybe_text(column)
        if value is not None and not _MESSAGE_ID.match(value):
            raise self.fail(column, f"{literal(value)}, which is not a Message-ID (<...@...>)")
        return value

    # Columns that may be NULL: None for NULL, else checked as above.
    def maybe_time(self, column: str) -> datetime | None:
        return None if getattr(self.row, column) is None else self.time(column)

    def maybe_whole(self, column: str) -> int | None:
        return None if getattr(self.row, column) is None else self.whole(column)

    def maybe_text(self, column: str) -> str | None:
        return None if getattr(self.row, column) is None else self.text(column)

    def number(self, column: str) -> float | None:
        """A number column that may be NULL (deviation_pct)."""
        value = getattr(self.row, column)
        if value is None:
            return None
        number = as_number(value)
        if number is None:
            raise self.fail(column, f"{literal(value)}, which is not a number")
        if not -MAX_VALUE <= number <= MAX_VALUE:  # NaN fails both
            raise self.fail(column, f"{literal(value)}, which is not a finite number up to 1e15")
        return number


def escalation_reader(row: Any) -> _Reader:
    """The cells of an escalations row, named by its KPI, period and id."""
    where = f"escalation row for KPI {literal(row.kpi)}, period {literal(row.period)}"
    fix = (
        f"escalations WHERE id = {literal(row.id)}; its steps are escalation_steps WHERE "
        f"escalation_id = {literal(row.id)}"
    )
    return _Reader(row, where, fix)


def step_reader(row: Any, kpi: str, period: str) -> _Reader:
    """The cells of an escalation_steps row of the escalation of (kpi, period)."""
    where = (
        f"escalation step row for KPI {literal(kpi)}, period {literal(period)}, step "
        f"{literal(row.step)}, channel {literal(row.channel)}"
    )
    fix = (
        f"DELETE FROM escalation_steps WHERE escalation_id = {literal(row.escalation_id)} AND "
        f"step = {literal(row.step)} AND channel = {literal(row.channel)}"
    )
    return _Reader(row, where, fix)


def run_time(value: object) -> datetime | None:
    """The latest run's as_of (None: no run yet), or DamagedRowError naming its row."""
    if value is None:
        return None
    found = stored_time(value)
    if isinstance(found, str):
        raise DamagedRowError(
            f"its escalation_runs row has as_of {found}; correct or delete that row "
            f"(DELETE FROM escalation_runs WHERE as_of = {literal(value)}) or restore the "
            "store from a backup"
        )
    return found

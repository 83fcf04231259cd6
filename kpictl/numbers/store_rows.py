"""What a store's row may hold, checked as it is read: the one gate between the store and
every command that reads it.

A store is a database anyone with access can write to, and SQLite stores any value in
any column (type affinity): a value 'abc', a blob, an infinity, a date 'garbage' or an
integer as_of would otherwise reach the arithmetic and the formatting of every command.
The rules are the ones `Store.record` and `actuals import` apply (kpictl.registry.bounds),
so a row that passes here is one kpictl could have written, and exports and imports back.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime

from kpictl.numbers.periods import PERIOD_HELP, PERIOD_PATTERN
from kpictl.registry.bounds import FIRST_DAY, LAST_DAY, MAX_VALUE, day_problem, value_problem
from kpictl.registry.models import ID_PATTERN
from kpictl.templating.escaping import defuse, visible

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


class DamagedRowError(Exception):
    """A row the store should not hold; `str()` says which and what is wrong with it."""


def stored_value(value: object, key: tuple[object, object, object]) -> float:
    """A value column as a float, or DamagedRowError naming row `key` (kpi, period, as_of)."""
    if value.__class__ is float and -MAX_VALUE <= value <= MAX_VALUE:
        return value
    number = as_number(value)
    if number is None:
        raise DamagedRowError(_row(key, f"value {literal(value)}, which is not a number"))
    if value_problem(number) is not None:
        what = "larger than 10^15 (1e15)" if math.isfinite(number) else "not a finite number"
        raise DamagedRowError(_row(key, f"value {literal(value)}, which is {what}"))
    return number


def as_number(value: object) -> float | None:
    """A numeric cell as a float (an integer too large for one: infinity), None if the
    cell holds no number (text, a blob, a boolean); bounds are the caller's."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:
        return math.inf


def is_id(text: object) -> bool:
    """Whether a KPI cell holds an id kpictl writes."""
    return isinstance(text, str) and ID_PATTERN.match(text) is not None


def is_period(text: object) -> bool:
    """Whether a period cell holds a period (2026-Q4) or a campaign id."""
    return (
        isinstance(text, str) and (PERIOD_PATTERN.match(text) or ID_PATTERN.match(text)) is not None
    )


def stored_day(value: object, key: tuple[object, object, object]) -> date:
    """An as_of column as a date (a date, or SQLite's YYYY-MM-DD text), or DamagedRowError."""
    day: date | None = None
    if isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    elif isinstance(value, str) and _ISO_DAY.match(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            day = None
    if day is None:
        raise DamagedRowError(
            _row(key, f"as_of {literal(value)}, which is not a date (YYYY-MM-DD)", day=False)
        )
    if day_problem(day) is not None:
        raise DamagedRowError(
            _row(
                key,
                f"as_of {literal(value)}, which is out of range (kpictl records dates from "
                f"{FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()})",
                day=False,
            )
        )
    return day


def unrecordable(kpi: str, period: str, value: float, as_of: date) -> str | None:
    """Why an observation cannot be recorded, or None: what the store takes, a read
    accepts, so `actuals export` always gives a file `actuals import` takes back."""
    problem = None
    if not is_id(kpi):
        problem = "its KPI is not an id (lowercase letters, digits and -)"
    elif not is_period(period):
        problem = f"its period is not a period or a campaign id ({PERIOD_HELP})"
    else:
        found = value_problem(value)
        if found is not None:
            problem = f"its value {found}"
        else:
            found = day_problem(as_of)
            if found is not None:
                problem = f"its as_of {found}"
    if problem is None:
        return None
    return f"not recording {literal(kpi)} {literal(period)} as of {literal(as_of)}: {problem}"


def unusable_ids(key: tuple[object, object, object]) -> str:
    """Why a row with ids kpictl never writes is left out of what is read."""
    kpi, period, as_of = key
    return (
        f"the store's row for KPI {literal(kpi)}, period {literal(period)}, as_of "
        f"{literal(as_of)} is left out: its KPI or period is not an id kpictl writes "
        "(lowercase letters, digits and -, or a period such as 2026-Q4)"
    )


def _row(key: tuple[object, object, object], problem: str, *, day: bool = True) -> str:
    """`day`: name the row's as_of (not when the problem is the as_of itself)."""
    kpi, period, as_of = key
    names = ("kpi", "period", "as_of")
    where = " AND ".join(f"{name} = {literal(cell)}" for name, cell in zip(names, key, strict=True))
    row = f"KPI {literal(kpi)}, period {literal(period)}"
    if day:
        row += f", as_of {literal(as_of)}"
    return (
        f"its row for {row} has {problem}; correct or delete that row (DELETE FROM "
        f"observations WHERE {where}) or restore the store from a backup"
    )


def literal(value: object) -> str:
    """A cell as SQL would write it, on one line, every invisible character spelled out
    (kpictl.escalation.memory_rows names its rows with it too)."""
    if isinstance(value, str):
        shown = value if len(value) <= 80 else f"{value[:80]}…"
        return "'" + defuse(visible(shown)).replace("'", "''") + "'"
    if isinstance(value, bytes):
        return f"X'{value[:40].hex().upper()}'" + ("…" if len(value) > 40 else "")
    if isinstance(value, date):
        return f"'{value.isoformat()}'"
    if value is None:
        return "NULL"
    return defuse(visible(repr(value)))

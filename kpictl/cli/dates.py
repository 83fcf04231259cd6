"""The one parser of date options, for every command: --as-of, --at, --from, --to.

A date is YYYY-MM-DD. Where a moment is wanted (`with_time`), a date-time
YYYY-MM-DDTHH:MM is taken too, with an optional offset; what a date alone or a
naive date-time means (09:00 that day, the registry's time zone) is decided once,
in `kpictl.evaluate.evaluation_moment`, after the registry is loaded.
"""

import contextlib
from datetime import date, datetime

import typer

NOT_A_DATE = "'{value}' is not a date: use YYYY-MM-DD"
NOT_A_MOMENT = (
    "'{value}' is not a date or date-time: use YYYY-MM-DD (09:00), "
    "YYYY-MM-DDTHH:MM (registry time zone) or YYYY-MM-DDTHH:MM+01:00"
)


def parse_date(
    value: str | None, option: str, *, with_time: bool = False
) -> date | datetime | None:
    """The date (or, `with_time`, the date or date-time) an option names, or a usage error.

    Checked against the dates kpictl can count from before any time zone is applied:
    converting 9999-12-31T23:00 overflows.
    """
    from kpictl.bounds import day_problem

    if value is None:
        return None
    when = _from_iso(value, with_time)
    if when is None:
        message = NOT_A_MOMENT if with_time else NOT_A_DATE
        raise typer.BadParameter(message.format(value=value), param_hint=option)
    problem = day_problem(when.date() if isinstance(when, datetime) else when)
    if problem is not None:
        raise typer.BadParameter(problem, param_hint=option)
    return when


def _from_iso(value: str, with_time: bool) -> date | datetime | None:
    # A date first: with a time allowed, 2026-11-20 is still a date (09:00), not midnight.
    with contextlib.suppress(ValueError):
        return date.fromisoformat(value)
    if with_time:
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(value)
    return None

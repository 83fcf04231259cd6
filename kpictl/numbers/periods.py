"""Target periods (`2026-Q4`, `2026-11`, `2026`) and the fiscal calendar they follow."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

PERIOD_PATTERN = re.compile(r"(\d{4})(?:-Q([1-4])|-(0[1-9]|1[0-2]))?\Z")
PERIOD_HELP = "use YYYY-Qn (2026-Q4), YYYY-MM (2026-11) or YYYY (2026)"
# Years the calendar can hold whatever the fiscal start month (a fiscal year may
# begin in the calendar year before its name).
FIRST_YEAR, LAST_YEAR = 1000, 9998


@dataclass(frozen=True, slots=True)
class Period:
    """A target period: a fiscal year, a fiscal quarter, or a calendar month.

    A fiscal year is named after the calendar year it ends in (with
    fiscal_year_start_month 7, FY 2027 runs July 2026 to June 2027). With the
    default start month of 1 fiscal and calendar years are the same.
    """

    text: str
    start: date
    end: date  # inclusive

    def __str__(self) -> str:
        return self.text

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def elapsed_share(self, day: date) -> float:
        """Share of the period elapsed by the end of `day` (0 before it, 1 after it)."""
        if day < self.start:
            return 0.0
        if day >= self.end:
            return 1.0
        return ((day - self.start).days + 1) / self.days


def _month_start(year: int, month: int) -> date:
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    return date(year, month, 1)


@lru_cache(maxsize=1024)
def parse_period(text: str, fiscal_start_month: int = 1) -> Period:
    """Parse a period; raises ValueError with a message that says what to write.

    Cached: a registry names a few periods thousands of times (a Period is frozen).
    """
    match = PERIOD_PATTERN.match(text)
    if match is None:
        raise ValueError(f"'{text}' is not a period: {PERIOD_HELP}")
    year, quarter, month = int(match[1]), match[2], match[3]
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"'{text}' is not a period: years run from {FIRST_YEAR} to {LAST_YEAR}")
    if month is not None:
        start = date(year, int(month), 1)
        return Period(text, start, _month_start(year, int(month) + 1) - timedelta(days=1))
    # The fiscal year named `year` ends in calendar year `year`.
    fy_start = _month_start(year - (1 if fiscal_start_month > 1 else 0), fiscal_start_month)
    if quarter is None:
        end = _month_start(fy_start.year + 1, fiscal_start_month) - timedelta(days=1)
        return Period(text, fy_start, end)
    first_month = fy_start.month + 3 * (int(quarter) - 1)
    start = _month_start(fy_start.year, first_month)
    return Period(text, start, _month_start(fy_start.year, first_month + 3) - timedelta(days=1))


def fiscal_quarter(day: date, fiscal_start_month: int = 1) -> str:
    """The fiscal quarter containing `day`, as `YYYY-Qn`."""
    months_in = (day.month - fiscal_start_month) % 12
    fy_start_year = day.year if day.month >= fiscal_start_month else day.year - 1
    fy = fy_start_year + (1 if fiscal_start_month > 1 else 0)
    return f"{fy}-Q{months_in // 3 + 1}"


def current_periods(day: date, fiscal_start_month: int = 1) -> tuple[str, str, str]:
    """The month, fiscal quarter and fiscal year containing `day`."""
    quarter = fiscal_quarter(day, fiscal_start_month)
    return (f"{day.year:04d}-{day.month:02d}", quarter, quarter.split("-")[0])

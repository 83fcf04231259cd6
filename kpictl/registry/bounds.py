"""The bounds every number, date and time zone from a file or an option is held to.

Each is far beyond anything a real registry needs, and close enough that the date
arithmetic and number formatting done with them cannot overflow: a campaign that
ends in 9000 can still have a readout ten years later, a respond-by a year after an
evaluation in 9000 is still a date, and the sum of a million values of 10^15 is
still a finite float. A value outside them is a typo or an attack, never data.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(9000, 12, 31)
# Largest size of a target or actual value: a thousand trillion, in any currency.
MAX_VALUE = 1e15
MAX_RESPOND_HOURS = 365 * 24
MAX_READOUT_DAY = 3660  # ten years after the start
# IANA names are at most 30-odd characters of these, in folders (Europe/Berlin).
MAX_ZONE_LENGTH = 64
_ZONE_NAME = re.compile(r"[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+)*\Z")
# Clamps for arithmetic that bounded inputs never reach, so it cannot raise either:
# a day before date.max, so that turning a moment to any UTC offset still fits.
_LAST_MOMENT = datetime(9999, 12, 30, tzinfo=UTC)


def day_problem(day: date) -> str | None:
    """Why `day` cannot be used, or None when it is within the bounds."""
    if FIRST_DAY <= day <= LAST_DAY:
        return None
    return (
        f"{day.isoformat()} is out of range: use a date from "
        f"{FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}"
    )


def value_problem(value: float) -> str | None:
    """Why a target or actual value cannot be used, or None when it can."""
    if not math.isfinite(value):
        return f"'{value}' is not a finite number"
    if abs(value) > MAX_VALUE:
        return f"{value:g} is too large: values are at most 10^15 (1e15) in size"
    return None


def load_zone(name: str) -> ZoneInfo:
    """The time zone named `name`; ValueError with a message saying what to write.

    zoneinfo reads the name as a path below the tz database: a folder (`Europe`), an
    over-long name or a data file that is not a zone must be refused, not crash.
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from kpictl.check.findings import excerpt

    shown = excerpt(name, 40)
    message = (
        f"'{shown}' is not a known time zone: use an IANA name such as "
        "Europe/Berlin or America/New_York"
    )
    # The pattern also refuses what would leave the database: `..`, a leading `/`.
    if len(name) > MAX_ZONE_LENGTH or not _ZONE_NAME.match(name):
        raise ValueError(message)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError covers IsADirectoryError (a folder such as `Europe`) and names
        # the file system refuses.
        raise ValueError(message) from None


def add_days(day: date, days: int) -> date:
    """`day` plus `days`, or the last date there is when that is past it."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max


def later(moment: datetime, hours: float) -> datetime:
    """`moment` plus `hours` real hours in its time zone, at most the end of year 9999.

    Counted in UTC so that a deadline across a DST change stays exactly that many hours away.
    """
    try:
        end = moment.astimezone(UTC) + timedelta(hours=hours)
    except OverflowError:
        end = _LAST_MOMENT
    return min(end, _LAST_MOMENT).astimezone(moment.tzinfo)

"""Respond-by deadlines: the one calculation that status, escalate and drill share.

Without `working_days` in kpictl.yaml a tier's `respond_within` is counted in real
hours from the moment it fires (a deadline across a DST change stays exactly 24 or
72 hours away). With `working_days`, the hours run only while the calendar date in
the registry's time zone is a working day:

- the clock runs from the firing moment to local midnight if that day is a working
  day, then through each following working day from its local midnight to the next;
  other days do not count, so a 24h tier fired on Friday 09:00 is due Monday 09:00
  and a 72h tier fired on Thursday 15:00 is due Tuesday 15:00;
- a tier fired on a day off starts counting at the next working day's midnight;
- hours are real hours, so a working day with a DST change has 23 or 25 of them;
- a deadline that uses up a working day exactly is the midnight that ends it (24h
  from Friday 00:00 is due Saturday 00:00: by the end of Friday).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta

from kpictl.registry.bounds import later

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Past this many calendar days the answer is past any date kpictl shows (year 9999).
_HORIZON_DAYS = 8 * 366


def respond_by(moment: datetime, hours: float, working_days: Sequence[str] | None) -> datetime:
    """The deadline for a tier fired at `moment` with `hours` to respond.

    Days are the calendar days of `moment`'s time zone (aware; the registry's), and the
    deadline is given in it too.
    """
    zone = moment.tzinfo
    if not working_days or zone is None:
        return later(moment, hours)
    working = {DAY_NAMES.index(day) for day in working_days}
    remaining = timedelta(hours=hours)
    # Arithmetic in UTC: two aware times in one zone subtract as wall clocks, not hours.
    cursor = moment.astimezone(UTC)
    for _ in range(_HORIZON_DAYS):
        local_day = cursor.astimezone(zone).date()
        midnight = datetime.combine(local_day + timedelta(days=1), time(0), tzinfo=zone)
        day_end = midnight.astimezone(UTC)
        if day_end <= cursor:  # a zone whose clocks go back across midnight: the later one
            day_end = midnight.replace(fold=1).astimezone(UTC)
        if local_day.weekday() in working:
            available = day_end - cursor
            if remaining <= available:
                return (cursor + remaining).astimezone(zone)
            remaining -= available
        cursor = day_end
    return later(moment, 10**9)  # clamped to the last moment kpictl shows

"""How a KPI got where it is: its observations this period, each judged as status judges today.

Built on the same `Actuals` every command reads (a CSV file now, the store later): for
a (kpi, period) they hold every `as_of` oldest first. The latest one on or before the
evaluation date is today's value; the earlier ones are its history. No I/O, no printing.

Three answers per KPI:

- `points`: the last MAX_POINTS observations up to the evaluation date, each with the
  target to date at its own `as_of` (linear pacing prorates, flat does not) and the
  deviation from it, computed by kpictl.numbers.evaluate exactly as for today.
- `change`: today's value minus the latest value at or before one review interval
  (`cadence.review`) earlier. Only values of the same period count: a period-to-date
  number starts again at each period, so a value from the last one says nothing.
- `behind_since`: see `behind_since()`.
"""

from __future__ import annotations

import bisect
import calendar
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from kpictl.numbers.actuals import Actual, Actuals
from kpictl.numbers.evaluate import campaign_period, deviation, is_worse
from kpictl.numbers.periods import Period

if TYPE_CHECKING:
    from kpictl.numbers.evaluate import CharterResult, KpiStatus
    from kpictl.registry.models import Campaign, EscalationPolicy

# A sparkline or chart of half a year of weekly values reads well; a daily KPI with a
# year of history would only make every mark thinner (and every status slower).
MAX_POINTS = 26
# How far back `cadence.review` looks, in days; months are calendar months.
REVIEW_DAYS = {"daily": 1, "weekly": 7, "biweekly": 14}
REVIEW_MONTHS = {"monthly": 1, "quarterly": 3}


@dataclass(frozen=True, slots=True)
class Point:
    """One observation judged at its own `as_of`."""

    as_of: date
    value: float
    expected: float  # the target to date at `as_of`
    deviation_pct: float | None  # positive: worse than expected; None for nothing expected
    miss: bool  # would have fired a tier (see behind_since)


@dataclass(frozen=True, slots=True)
class History:
    """A KPI's (or a charter KPI's) path through its current period."""

    kpi: str
    period: Period
    target: float
    linear: bool
    direction: str
    points: tuple[Point, ...]  # oldest first, at most MAX_POINTS
    left_out: int  # earlier observations of the period not in `points`
    change: float | None  # today's value minus the value one review interval earlier
    change_from: date | None  # the as_of of that earlier value
    behind_since: date | None

    @property
    def latest(self) -> Point | None:
        return self.points[-1] if self.points else None


def against_pace(points: Sequence[Point]) -> list[float]:
    """What a sparkline draws: each value as a share of its target to date.

    A period-to-date count under linear pacing only ever rises, so a line of raw values
    says nothing; against the pace it shows a KPI falling behind or catching up. Under
    flat pacing the target to date is the target, so the line has the values' shape.
    Raw values when any target to date is zero (no share of nothing).
    """
    if any(point.expected == 0 for point in points):
        return [point.value for point in points]
    return [point.value / point.expected for point in points]


def review_start(day: date, review: str) -> date:
    """`day` minus one review interval; a month back from 31 May is 30 April."""
    if review in REVIEW_DAYS:
        return day - timedelta(days=REVIEW_DAYS[review])
    months = REVIEW_MONTHS[review]
    month0 = day.year * 12 + day.month - 1 - months
    year, month = divmod(month0, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def miss_threshold(policy: EscalationPolicy | None) -> float | None:
    """The deviation at which an observation counts as a miss: the lowest tier's.

    None without a policy: then every observation worse than expected is a miss.
    """
    if policy is None or not policy.tiers:
        return None
    return min(tier.deviation_pct for tier in policy.tiers)


def judge(actual: Actual, expected: float, direction: str, threshold: float | None) -> Point:
    """One observation against what was expected on its day."""
    dev = deviation(expected, actual.value, direction)
    worse = is_worse(expected, actual.value, direction)
    # As firing_tier decides: a miss of an expected zero reaches every tier.
    miss = worse and (threshold is None or dev is None or dev >= threshold)
    return Point(actual.as_of, actual.value, expected, dev, miss)


def behind_since(points: Sequence[Point]) -> date | None:
    """The `as_of` of the first observation of the unbroken run of misses ending today.

    A miss is an observation that would have fired a tier: worse than its target to
    date by at least the lowest tier's `deviation_pct`. That, not "below target", is
    the line the policy draws; a KPI 1% behind with tiers from 5% is on track, and
    saying it has been "behind since" March would call for action nobody owes. Only
    an observation that is not a miss breaks the run: days without one (a data
    outage) do not, since no value showed a recovery. None when today's value is no
    miss.
    """
    since = None
    for point in reversed(points):
        if not point.miss:
            break
        since = point.as_of
    return since


def trace(
    kpi: str,
    rows: Sequence[Actual],
    period: Period,
    target: float,
    linear: bool,
    direction: str,
    threshold: float | None,
    review: str,
    day: date,
) -> History:
    """The history of `rows` (one (kpi, period), oldest first) as known on `day`."""
    known = bisect.bisect_right(rows, day, key=lambda actual: actual.as_of)

    def expected(on: date) -> float:
        # As evaluate_kpi: the share of the period elapsed by the end of that day.
        return target * period.elapsed_share(on) if linear else target

    def judged(actual: Actual) -> Point:
        return judge(actual, expected(actual.as_of), direction, threshold)

    first = max(known - MAX_POINTS, 0)
    points = tuple(judged(actual) for actual in rows[first:known])
    since = behind_since(points)
    # The run may start before the points shown: follow it back (at most a period's
    # observations, one per day).
    if since is not None and since == points[0].as_of:
        since = _run_start(rows, first, since, period, target, linear, direction, threshold)
    change = change_from = None
    if points:
        latest = points[-1]
        before = bisect.bisect_right(
            rows, review_start(latest.as_of, review), 0, known, key=lambda actual: actual.as_of
        )
        if before:
            previous = rows[before - 1]
            change = latest.value - previous.value
            change_from = previous.as_of
    return History(
        kpi, period, target, linear, direction, points, first, change, change_from, since
    )


def _run_start(
    rows: Sequence[Actual],
    first: int,
    since: date,
    period: Period,
    target: float,
    linear: bool,
    direction: str,
    threshold: float | None,
) -> date:
    """Follow a run of misses back from rows[first] to where it starts.

    The same test as judge(), written out: a year of daily values behind pace for
    thousands of KPIs makes this the hot loop of `status`.
    """
    start, days, increase = period.start, period.days, direction == "increase"
    for actual in reversed(rows[:first]):
        elapsed = (actual.as_of - start).days + 1
        expected = target * min(max(elapsed, 0), days) / days if linear else target
        worse_by = expected - actual.value if increase else actual.value - expected
        if worse_by <= 0:
            break
        if threshold is not None and expected != 0:
            percent = worse_by / abs(expected) * 100
            if math.isfinite(percent) and round(percent, 9) < threshold:
                break
        since = actual.as_of
    return since


def kpi_history(status: KpiStatus, actuals: Actuals) -> History | None:
    """The history of a KPI's current period; None when it has no target for today."""
    if status.period is None or status.target is None:
        return None
    kpi = status.kpi
    rows = actuals.rows.get((kpi.id, status.period.text), [])
    return trace(
        kpi.id,
        rows,
        status.period,
        status.target,
        kpi.pacing == "linear",
        kpi.direction,
        miss_threshold(status.policy),
        kpi.cadence.review,
        status.moment.date(),
    )


def charter_history(
    result: CharterResult, campaign: Campaign, actuals: Actuals, day: date
) -> History | None:
    """A charter KPI's path through the campaign, from rows whose period is its id.

    A campaign has no policy: every value behind the campaign's pace is a miss, as the
    readout calls it behind.
    """
    if result.target is None:
        return None
    kpi = result.kpi
    return trace(
        kpi.id,
        actuals.rows.get((kpi.id, campaign.id), []),
        campaign_period(campaign),
        result.target,
        kpi.pacing == "linear",
        kpi.direction,
        None,
        kpi.cadence.review,
        day,
    )


def histories(statuses: Sequence[KpiStatus], actuals: Actuals) -> dict[str, History]:
    """Every KPI's history that has one, by KPI id."""
    out = {}
    for status in statuses:
        found = kpi_history(status, actuals)
        if found is not None:
            out[status.kpi.id] = found
    return out

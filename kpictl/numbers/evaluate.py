"""Actual values + targets + the evaluation moment → where each KPI stands. No I/O.

Follows REGISTRY.md, "Actual values":

- The current period of a KPI is the period of the target that contains the
  evaluation date; when several do (a month, its quarter, the year), the shortest
  wins, because it is the most specific commitment (month over quarter over year).
- A KPI is in a data outage when it has no value for that period measured on or
  before the evaluation date, or when that value is older than twice the KPI's
  refresh interval (hourly and daily count as 1 day, weekly 7, monthly 31).
- The target to date is the target times the share of the period elapsed by the
  end of the evaluation date (`pacing: linear`) or the target itself (`flat`).
- Deviation is a percentage of the target to date, positive when the KPI is worse
  than expected in its direction. The tier that fires is the highest whose
  `deviation_pct` the deviation reaches; an outage fires the lowest tier with
  `on_data_outage: true`. Respond-by is the evaluation moment plus the tier's
  `respond_within`, counted in real hours (a deadline across a DST change stays
  exactly 24 or 72 hours away).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from kpictl.numbers.actuals import Actual, Actuals
from kpictl.numbers.periods import Period, parse_period
from kpictl.registry.bounds import later
from kpictl.registry.models import REFRESH_DAYS, Campaign, EscalationPolicy, Kpi, Target, Tier
from kpictl.registry.registry import Registry

# The working day starts here: `--as-of 2026-11-20` means 20 Nov 2026, 09:00.
EVALUATION_TIME = time(9, 0)
# Deviations are compared after rounding, so 5.000000001% caused by float noise is 5%.
_DIGITS = 9


class State(enum.StrEnum):
    ON_TRACK = "on-track"
    TIER = "tier"
    OUTAGE = "outage"
    NO_TARGET = "no-target"


def evaluation_moment(when: date | datetime | None, timezone: str, now: datetime) -> datetime:
    """The moment to evaluate at, aware and in the registry's time zone.

    A date means 09:00 on that date; a naive date-time is read in the registry's
    time zone; nothing means `now`.
    """
    zone = ZoneInfo(timezone)
    if when is None:
        return now.astimezone(zone)
    if isinstance(when, datetime):
        return when.replace(tzinfo=zone) if when.tzinfo is None else when.astimezone(zone)
    return datetime.combine(when, EVALUATION_TIME, tzinfo=zone)


def after_hours(moment: datetime, hours: int) -> datetime:
    """`moment` plus `hours` real hours, shown in `moment`'s time zone."""
    return later(moment, hours)


def current_target(kpi: Kpi, day: date, fiscal_start_month: int) -> tuple[Target, Period] | None:
    """The KPI's target for the period containing `day` (the shortest such period)."""
    best: tuple[Target, Period] | None = None
    for target in kpi.targets:
        period = parse_period(target.period, fiscal_start_month)
        if period.contains(day) and (best is None or period.days < best[1].days):
            best = (target, period)
    return best


def deviation(expected: float, actual: float, direction: str) -> float | None:
    """Percent by which `actual` is worse than `expected` (negative: better).

    None when `expected` is zero: no percentage of nothing exists. Nor of next to
    nothing: a target of 5e-324 would make any miss an infinite percentage.
    """
    if expected == 0:
        return None
    worse_by = expected - actual if direction == "increase" else actual - expected
    percent = worse_by / abs(expected) * 100
    return round(percent, _DIGITS) if math.isfinite(percent) else None


def is_worse(expected: float, actual: float, direction: str) -> bool:
    return actual < expected if direction == "increase" else actual > expected


def firing_tier(policy: EscalationPolicy, deviation_pct: float | None, worse: bool) -> Tier | None:
    """The highest tier whose threshold the deviation reaches (a miss of zero: the top)."""
    if not worse:
        return None
    tiers = sorted(policy.tiers, key=lambda tier: tier.level)
    if deviation_pct is None:
        return tiers[-1]
    reached = [tier for tier in tiers if deviation_pct >= tier.deviation_pct]
    return reached[-1] if reached else None


def outage_tier(policy: EscalationPolicy) -> Tier | None:
    """The lowest tier that fires on a data outage."""
    tiers = sorted(policy.tiers, key=lambda tier: tier.level)
    return next((tier for tier in tiers if tier.on_data_outage), None)


def next_tier(policy: EscalationPolicy, tier: Tier) -> Tier | None:
    higher = sorted((t for t in policy.tiers if t.level > tier.level), key=lambda t: t.level)
    return higher[0] if higher else None


@dataclass(frozen=True, slots=True)
class KpiStatus:
    """Where one KPI stands at the evaluation moment."""

    kpi: Kpi
    policy: EscalationPolicy | None
    moment: datetime
    state: State
    period: Period | None = None
    target: float | None = None
    target_to_date: float | None = None
    share: float | None = None  # of the period elapsed by the end of the evaluation date
    actual: Actual | None = None
    deviation_pct: float | None = None
    tier: Tier | None = None
    respond_by: datetime | None = None
    outage: str | None = None  # "missing" or "stale"
    age_days: int | None = None  # how old the value is
    allowed_days: int | None = None  # how old it may be before it counts as an outage

    @property
    def severity(self) -> tuple[int, int, float]:
        """Sort key, worst first: tier level, then outages, then deviation."""
        level = self.tier.level if self.tier else 0
        outage = 1 if self.state is State.OUTAGE else 0
        return (-level, -outage, -(self.deviation_pct or 0.0))


def evaluate_kpi(
    kpi: Kpi,
    policy: EscalationPolicy | None,
    actuals: Actuals,
    moment: datetime,
    fiscal_start_month: int = 1,
) -> KpiStatus:
    day = moment.date()
    found = current_target(kpi, day, fiscal_start_month)
    if found is None:
        return KpiStatus(kpi, policy, moment, State.NO_TARGET)
    target, period = found
    share = period.elapsed_share(day)
    expected = target.value * share if kpi.pacing == "linear" else target.value
    base = KpiStatus(
        kpi,
        policy,
        moment,
        State.OUTAGE,
        period=period,
        target=target.value,
        target_to_date=expected,
        share=share,
        allowed_days=2 * REFRESH_DAYS[kpi.cadence.refresh],
    )
    actual = actuals.latest(kpi.id, period.text, on=day)
    if actual is None or (day - actual.as_of).days > 2 * REFRESH_DAYS[kpi.cadence.refresh]:
        tier = outage_tier(policy) if policy else None
        return replace(
            base,
            actual=actual,
            outage="missing" if actual is None else "stale",
            age_days=None if actual is None else (day - actual.as_of).days,
            tier=tier,
            respond_by=after_hours(moment, tier.respond_hours) if tier else None,
        )
    dev = deviation(expected, actual.value, kpi.direction)
    worse = is_worse(expected, actual.value, kpi.direction)
    tier = firing_tier(policy, dev, worse) if policy else None
    return replace(
        base,
        state=State.TIER if tier else State.ON_TRACK,
        actual=actual,
        age_days=(day - actual.as_of).days,
        deviation_pct=dev,
        tier=tier,
        respond_by=after_hours(moment, tier.respond_hours) if tier else None,
    )


def evaluate(registry: Registry, actuals: Actuals, moment: datetime) -> list[KpiStatus]:
    """The status of every KPI, worst first (then by id)."""
    fiscal = registry.settings.fiscal_year_start_month
    out = []
    for kpi in registry.kpis:
        policy = registry.get(kpi.escalation)
        policy = policy if isinstance(policy, EscalationPolicy) else None
        out.append(evaluate_kpi(kpi, policy, actuals, moment, fiscal))
    out.sort(key=lambda status: (status.severity, status.kpi.id))
    return out


# --- what the pace means for the target ---------------------------------------------------


def elapsed_days(period: Period, day: date) -> int:
    """Days of the period up to and including `day` (0 before it starts, all after it ends)."""
    return min(max((day - period.start).days + 1, 0), period.days)


def needed_to_target(
    target: float, actual: float, direction: str, days_left: int
) -> tuple[float | None, float | None]:
    """What an increase KPI still has to gain to reach `target`: in all, and per week left.

    (None, None) once the target is reached, or for a decrease KPI; the weekly figure is
    None when no day is left to gain it in.
    """
    left = target - actual
    if direction != "increase" or left <= 0:
        return None, None
    return left, (left / max(days_left / 7, 1 / 7) if days_left else None)


@dataclass(frozen=True, slots=True)
class Outlook:
    """What the pace so far means for the full-period target (linear pacing only)."""

    projection: float | None = None  # the actual extrapolated to the end of the period
    shortfall: float | None = None  # how far the projection misses the target, if it does
    shortfall_pct: float | None = None  # the shortfall as a percentage of the target
    needed: float | None = None  # still to gain to reach an increase target
    needed_per_week: float | None = None  # `needed` spread over the weeks left
    headroom: float | None = None  # still allowed before a decrease target is passed


def outlook(status: KpiStatus) -> Outlook:
    """The projection, shortfall and what is needed per week for a KPI's current period.

    Only linear pacing accrues, so only there does the pace so far say where the period
    ends; with no value, no target or nothing elapsed there is nothing to project.
    """
    kpi, share, target, period = status.kpi, status.share, status.target, status.period
    if status.actual is None or target is None or period is None or share is None:
        return Outlook()
    if kpi.pacing != "linear" or share <= 0:
        return Outlook()
    actual = status.actual.value
    projection = actual / share
    miss = target - projection if kpi.direction == "increase" else projection - target
    shortfall = miss if miss > 0 and target else None
    shortfall_pct = miss / abs(target) * 100 if shortfall is not None else None
    days_left = period.days - elapsed_days(period, status.moment.date())
    needed, per_week = needed_to_target(target, actual, kpi.direction, days_left)
    headroom = max(target - actual, 0) if kpi.direction == "decrease" else None
    return Outlook(projection, shortfall, shortfall_pct, needed, per_week, headroom)


# --- campaigns ----------------------------------------------------------------------------


def campaign_period(campaign: Campaign) -> Period:
    """The campaign's timeline as a period, for elapsed shares."""
    timeline = campaign.timeline
    return Period(campaign.id, timeline.start, max(timeline.end, timeline.start))


def readout_dates(campaign: Campaign) -> list[tuple[int, date]]:
    """Each readout as (day number, date), in order."""
    timeline = campaign.timeline
    return sorted((days, timeline.readout_date(days)) for days in timeline.readouts)


class Progress(enum.StrEnum):
    AHEAD = "ahead"
    ON_TARGET = "on-target"
    BEHIND = "behind"
    NO_VALUE = "no-value"
    NO_TARGET = "no-target"


@dataclass(frozen=True, slots=True)
class CharterResult:
    """One charter KPI's progress toward the campaign's own target on a given day."""

    kpi: Kpi
    role: str  # "primary" or "secondary"
    target: float | None
    target_to_date: float | None
    share: float
    actual: Actual | None
    deviation_pct: float | None
    progress: Progress


def charter_results(
    registry: Registry, campaign: Campaign, actuals: Actuals, day: date, final: bool = False
) -> list[CharterResult]:
    """Progress of the campaign's KPIs on `day`, from values reported for the campaign.

    A campaign's value is a row whose period is the campaign id: what the campaign
    produced from its start up to `as_of`. The latest such row on or before `day` counts.
    `final` measures against the whole target (a campaign that is over, or closed
    early), never a share of it.
    """
    items: list[tuple[str, str, float | None]] = [
        ("primary", campaign.primary_kpi.kpi, campaign.primary_kpi.target),
        *(("secondary", item.kpi, item.target) for item in campaign.secondary_kpis),
    ]
    return campaign_results(registry, campaign, items, actuals, day, final)


def campaign_results(
    registry: Registry,
    campaign: Campaign,
    items: Iterable[tuple[str, str, float | None]],
    actuals: Actuals,
    day: date,
    final: bool = False,
) -> list[CharterResult]:
    """(role, KPI id, campaign target) items measured as `charter_results` measures them.

    Per-team commitments are measured here too, so a team's number and the charter's
    can never be paced differently.
    """
    share = 1.0 if final else campaign_period(campaign).elapsed_share(day)
    out: list[CharterResult] = []
    for role, kpi_id, target in items:
        kpi = registry.get(kpi_id)
        if not isinstance(kpi, Kpi):
            continue  # an unknown reference: `kpictl check` reports it
        actual = actuals.latest(kpi.id, campaign.id, on=day)
        expected = None
        if target is not None:
            expected = target * share if kpi.pacing == "linear" else target
        dev = None
        if target is None:
            progress = Progress.NO_TARGET
        elif actual is None or expected is None:
            progress = Progress.NO_VALUE
        else:
            dev = deviation(expected, actual.value, kpi.direction)
            if is_worse(expected, actual.value, kpi.direction):
                progress = Progress.BEHIND
            elif actual.value == expected:
                progress = Progress.ON_TARGET
            else:
                progress = Progress.AHEAD
        out.append(CharterResult(kpi, role, target, expected, share, actual, dev, progress))
    return out


def campaign_is_over(campaign: Campaign, day: date) -> bool:
    """Whether results on `day` are final: the campaign is complete or its end has passed."""
    return campaign.status == "complete" or day >= campaign.timeline.end


def charter_needed(
    result: CharterResult, campaign: Campaign, day: date
) -> tuple[float | None, float | None]:
    """What a linear charter KPI still has to gain by the campaign's end: in all, per week."""
    if result.target is None or result.actual is None or result.kpi.pacing != "linear":
        return None, None
    days_left = max((campaign.timeline.end - day).days, 0)
    return needed_to_target(result.target, result.actual.value, result.kpi.direction, days_left)

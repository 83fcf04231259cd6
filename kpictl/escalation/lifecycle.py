"""What fires now against what the store remembers: the contract's table, one row per case.

Pure: statuses and remembered escalations in, decisions out. Nothing here reads the
store, builds an email or prints (kpictl.escalation.run does the first two, the CLI the
last).
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from kpictl import display
from kpictl.escalation.memory import KPI_REMOVED, PERIOD_ENDED, Remembered
from kpictl.numbers.evaluate import KpiStatus, State, next_tier
from kpictl.numbers.periods import parse_period
from kpictl.numbers.workdays import respond_by
from kpictl.registry.models import Tier


class Action(enum.StrEnum):
    NEW = "new"  # nothing open, a tier fires: deliver it
    UNCHANGED = "unchanged"  # open at this tier, nothing new to say
    TIMED_OUT = "timed out"  # respond-by passed, not acknowledged: the next tier
    WORSE = "worse"  # a higher tier fires than the one open
    OUTAGE = "outage"  # the data went away while a miss is open
    RESOLVED = "resolved"  # back on track: the short note, then close
    QUIET = "quiet"  # nothing fires and nothing is open


@dataclass(frozen=True)
class Decision:
    """What one KPI gets in this run, and why."""

    status: KpiStatus
    action: Action
    why: str  # one line for the dry run
    open: Remembered | None = None
    # The status the email is built from: the firing one, or (timed out) the next tier's.
    send: KpiStatus | None = None
    step: str | None = None  # tier-2, outage, resolved; None: nothing to deliver

    @property
    def delivers(self) -> bool:
        return self.step is not None


def period_of(status: KpiStatus) -> str | None:
    return status.period.text if status.period is not None else None


def decide(
    status: KpiStatus,
    remembered: Remembered | None,
    moment: datetime,
    working_days: Sequence[str] | None = None,
) -> Decision:
    """One KPI: the row of the lifecycle table that applies, and the step it delivers."""
    tier = status.tier
    if status.state is State.ON_TRACK:
        if remembered is None:
            return Decision(status, Action.QUIET, "on track")
        return Decision(
            status,
            Action.RESOLVED,
            f"back on track: the tier-{remembered.tier} escalation closes",
            remembered,
            status,
            "resolved",
        )
    if tier is None:
        why = "no target for the current period" if status.state is State.NO_TARGET else "no tier"
        if remembered is not None:
            why += f"; tier {remembered.tier} stays open"
        return Decision(status, Action.QUIET if remembered is None else Action.UNCHANGED, why)
    step = f"tier-{tier.level}"
    if remembered is None:
        what = "data outage" if status.state is State.OUTAGE else "new"
        return Decision(status, Action.NEW, f"{what}: tier {tier.level}", None, status, step)
    if remembered.last_tier_step() is None:
        # Opened by a run whose first step failed or died: that step is still owed.
        what = "data outage" if status.state is State.OUTAGE else "new"
        return Decision(
            status,
            Action.NEW,
            f"{what}: tier {tier.level} (retried: not delivered before)",
            remembered,
            status,
            step,
        )
    if status.state is State.OUTAGE and remembered.deviation_pct is not None:
        if remembered.delivered("outage"):
            return Decision(
                status,
                Action.UNCHANGED,
                f"outage already reported; tier {remembered.tier} open",
                remembered,
            )
        return Decision(
            status,
            Action.OUTAGE,
            f"data outage while the tier-{remembered.tier} miss is open (last known "
            f"deviation {display.percent(remembered.deviation_pct)}); the miss stays open",
            remembered,
            status,
            "outage",
        )
    if tier.level > remembered.tier and not remembered.delivered(step):
        return Decision(
            status,
            Action.WORSE,
            f"worse: tier {remembered.tier} → tier {tier.level}",
            remembered,
            status,
            step,
        )
    if moment >= remembered.respond_by:
        if remembered.ack_by is not None:
            return Decision(
                status,
                Action.UNCHANGED,
                f"tier {remembered.tier} acknowledged by {remembered.ack_by}: moves up only "
                "when worse",
                remembered,
            )
        nxt = _tier_above(status, remembered.tier)
        if nxt is None:
            return Decision(
                status,
                Action.UNCHANGED,
                f"tier {remembered.tier} overdue since "
                f"{display.moment_short(remembered.respond_by.astimezone(moment.tzinfo))}; "
                "there is no higher tier",
                remembered,
            )
        if remembered.delivered(f"tier-{nxt.level}"):
            return Decision(status, Action.UNCHANGED, f"tier {nxt.level} delivered", remembered)
        due = respond_by(moment, nxt.respond_hours, working_days)  # as evaluate counts it
        bumped = replace(status, tier=nxt, respond_by=due)
        return Decision(
            status,
            Action.TIMED_OUT,
            f"timed out: tier {remembered.tier} got no response since "
            f"{display.moment_short(remembered.opened_at.astimezone(moment.tzinfo))} → "
            f"tier {nxt.level}",
            remembered,
            bumped,
            f"tier-{nxt.level}",
        )
    return Decision(
        status,
        Action.UNCHANGED,
        f"unchanged: tier {remembered.tier} open until "
        f"{display.moment_short(remembered.respond_by.astimezone(moment.tzinfo))}",
        remembered,
    )


def _tier_above(status: KpiStatus, level: int) -> Tier | None:
    policy = status.policy
    if policy is None:
        return None
    current = next((t for t in policy.tiers if t.level == level), None)
    return next_tier(policy, current) if current is not None else None


def plan(
    statuses: list[KpiStatus],
    remembered: dict[tuple[str, str], Remembered],
    moment: datetime,
    working_days: Sequence[str] | None = None,
) -> list[Decision]:
    """Every KPI's decision, in the statuses' order (worst first)."""
    out = []
    for status in statuses:
        period = period_of(status)
        found = remembered.get((status.kpi.id, period)) if period is not None else None
        out.append(decide(status, found, moment, working_days))
    return out


@dataclass(frozen=True)
class Ended:
    """An open escalation that can never get back on track: it closes, and nobody is
    notified. Its period is over, or its KPI is no longer in the registry."""

    open: Remembered
    why: str  # one line for the plan
    step: str = PERIOD_ENDED  # memory's record of why: PERIOD_ENDED or KPI_REMOVED

    @property
    def reason(self) -> str:
        """Why it closes, as `escalate` and `escalations` say it."""
        return "its KPI left the registry" if self.step == KPI_REMOVED else "its period ended"


def ended(
    remembered: dict[tuple[str, str], Remembered],
    moment: datetime,
    kpis: Collection[str],
    fiscal_start_month: int = 1,
) -> list[Ended]:
    """The open escalations whose period ended before the evaluation day, or whose KPI is
    not among `kpis` (the registry's) any more, by KPI and period.

    An escalation is kept per KPI and period until the KPI is back on track; once its
    period is over it can never be, and the KPI's next period is evaluated on its own
    (a miss there opens a new escalation). So it closes. The lifecycle table has no
    step for this, so nothing is delivered: the new period's own tiers speak for what
    happens next. Whether the owners heard of the miss depends on its steps: when no
    tier step was ever delivered (each delivery failed), the plan line says so rather
    than implying they did.
    """
    day = moment.date()
    out = []
    for (kpi, period), found in sorted(remembered.items()):
        if kpi not in kpis:
            # Deleted or renamed: nothing evaluates it again, so it would stay open for ever.
            why = (
                f"{kpi} is no longer in the registry: its tier-{found.tier} escalation for "
                f"{period} closes unresolved, nobody is notified"
            )
            out.append(Ended(found, why, KPI_REMOVED))
            continue
        try:
            span = parse_period(period, fiscal_start_month)
        except ValueError:
            continue  # not a target period: kpictl never opens one
        if span.end < day:
            heard = (
                ""
                if found.last_tier_step() is not None
                else "; no tier of it was ever delivered, so nobody heard of this miss"
            )
            why = (
                f"{period} ended on {display.day(span.end)}: its tier-{found.tier} escalation "
                f"closes unresolved, nobody is notified{heard}; the next period counts on its "
                "own"
            )
            out.append(Ended(found, why))
    return out

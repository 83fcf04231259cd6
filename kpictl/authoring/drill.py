"""`kpictl drill`: a tabletop exercise of one KPI's escalation policy. Nothing is sent.

Given a deviation (or a data outage) at a moment, it lays out what would unfold:
the tier that fires, who it notifies and who approves, the time by which someone
must respond, and, if nobody does, the next tier firing at that moment, and so on
up to the top of the ladder. On the way it flags what would go wrong in a real
escalation: a tier that reaches nobody active, an inactive person still named,
a recipient that resolves to nobody, someone notified at every tier (so the
escalation never leaves them), and a respond-by that falls on a weekend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from kpictl.numbers.evaluate import evaluation_moment
from kpictl.numbers.workdays import respond_by as deadline
from kpictl.registry.models import EscalationPolicy, Kpi, Person, Tier
from kpictl.registry.registry import Registry
from kpictl.registry.resolve import resolve
from kpictl.registry.schema_errors import suggest

WEEKEND = (5, 6)  # Saturday, Sunday


class DrillError(ValueError):
    """The drill cannot run: unknown KPI, or a KPI whose policy does not exist."""

    exit_code = 1


class UnknownKpi(DrillError):
    """The id given names no KPI: a bad argument, as an unknown id is everywhere."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class Recipient:
    id: str
    name: str
    email: str
    active: bool
    via: tuple[str, ...]  # the notify/approver entries that reach this person
    stands_in_for: tuple[str, ...] = ()  # inactive people this person acts for


@dataclass(frozen=True, slots=True)
class Absent:
    """An inactive person a tier names, and who stands in for them (None: nobody)."""

    id: str
    via: tuple[str, ...]
    by: str | None


@dataclass(frozen=True, slots=True)
class Step:
    level: int
    name: str
    trigger: str
    fires_at: datetime
    respond_within: str
    respond_by: datetime
    notified: tuple[Recipient, ...]
    approvers: tuple[Recipient, ...]
    approver_ref: str | None
    actions: tuple[str, ...]
    unresolved: tuple[str, ...]  # entries that reach nobody
    absent: tuple[Absent, ...] = ()  # inactive people the notify list names
    # Why each unresolved entry reaches nobody, as kpictl.registry.resolve says.
    reasons: tuple[tuple[str, str], ...] = ()

    @property
    def active_notified(self) -> tuple[Recipient, ...]:
        return tuple(r for r in self.notified if r.active)


@dataclass(frozen=True, slots=True)
class LadderProblem:
    """A gap in the escalation ladder the drill walked (`level`: the tier, if one)."""

    code: str
    level: int | None
    message: str


@dataclass
class Drill:
    kpi: Kpi
    policy: EscalationPolicy
    scenario: Literal["deviation", "outage"]
    deviation: float | None
    started_at: datetime
    timezone: str
    steps: list[Step] = field(default_factory=list)
    problems: list[LadderProblem] = field(default_factory=list)
    quiet: str | None = None  # why nothing fires, when nothing does


def start_moment(when: date | None, timezone: str, now: datetime | None = None) -> datetime:
    """When the drill starts: `--at` as kpictl.cli.parse_date parsed it, read as every
    command reads a moment (a date is 09:00 that day; a naive date-time is in the
    registry's time zone). Default: now, to the minute.
    """
    moment = evaluation_moment(when, timezone, now or datetime.now(UTC))
    return moment if when is not None else moment.replace(second=0, microsecond=0)


@dataclass
class _Reached:
    """What a list of entries reaches, gathered in order for one step."""

    people: dict[str, Person] = field(default_factory=dict)
    vias: dict[str, list[str]] = field(default_factory=dict)
    stand_ins: dict[str, list[str]] = field(default_factory=dict)
    absent: dict[str, tuple[list[str], str | None]] = field(default_factory=dict)
    unresolved: list[str] = field(default_factory=list)
    reasons: list[tuple[str, str]] = field(default_factory=list)

    def recipients(self) -> tuple[Recipient, ...]:
        return tuple(
            Recipient(
                p.id, p.name, p.email, p.active, tuple(self.vias[pid]), tuple(self.stand_ins[pid])
            )
            for pid, p in self.people.items()
        )


def _reach(registry: Registry, refs: list[str], kpi: Kpi) -> _Reached:
    """People the entries reach (in order, each once, with the entries that reach them)."""
    out = _Reached()
    for ref in refs:
        found = resolve(registry, ref, kpi)
        if not found.people and not found.left_out:
            out.unresolved.append(ref)
            out.reasons.extend((ref, reason) for reason in found.reasons)
        for person in found.people:
            out.people.setdefault(person.id, person)
            via = out.vias.setdefault(person.id, [])
            if ref not in via:
                via.append(ref)
            acts_for = out.stand_ins.setdefault(person.id, [])
            acts_for.extend(a.id for a in found.stand_in_for(person.id) if a.id not in acts_for)
        named: list[tuple[Person, str | None]] = [(s.absent, s.by.id) for s in found.stand_ins]
        named += [(person, None) for person in found.left_out]
        for absent, by in named:
            vias, _ = out.absent.setdefault(absent.id, ([], by))
            if ref not in vias:
                vias.append(ref)
    return out


def build_drill(
    registry: Registry,
    kpi_id: str,
    at: datetime,
    deviation: float | None = None,
    outage: bool = False,
) -> Drill:
    """The timeline for `kpi_id`, missing its target by `deviation` % or in a data outage."""
    kpi = registry.get(kpi_id)
    if not isinstance(kpi, Kpi):
        if kpi_id in registry.broken and registry.kind_of(kpi_id) == "kpi":
            raise DrillError(
                f"KPI '{kpi_id}' does not pass the schema; run `kpictl check` and fix it first"
            )
        other = registry.kind_of(kpi_id)
        if other is not None:
            article = "an" if other[0] in "aeiou" else "a"
            raise UnknownKpi(f"'{kpi_id}' is {article} {other}, not a KPI")
        close = suggest(kpi_id, [k.id for k in registry.kpis])
        tip = f"; did you mean '{close}'?" if close else ""
        raise UnknownKpi(f"no KPI has the id '{kpi_id}'{tip}")
    policy = registry.get(kpi.escalation)
    if not isinstance(policy, EscalationPolicy):
        raise DrillError(
            f"KPI '{kpi_id}' names escalation policy '{kpi.escalation}', which is not in "
            "the registry (or does not pass the schema); run `kpictl check`"
        )
    zone = ZoneInfo(registry.settings.timezone)
    at = at.astimezone(zone)
    tiers = sorted(policy.tiers, key=lambda tier: tier.level)
    drill = Drill(
        kpi,
        policy,
        "outage" if outage else "deviation",
        None if outage else deviation,
        at,
        registry.settings.timezone,
    )

    start: Tier | None
    if outage:
        start = next((tier for tier in tiers if tier.on_data_outage), None)
        if start is None:
            drill.quiet = (
                f"no tier of policy {policy.id} has on_data_outage: true, so a data outage "
                "escalates to nobody"
            )
            drill.problems.append(LadderProblem("outage-unhandled", None, drill.quiet))
            return drill
        trigger = "data outage (this is the lowest tier with on_data_outage)"
    else:
        assert deviation is not None
        reached = [tier for tier in tiers if deviation >= tier.deviation_pct]
        if not reached:
            first = tiers[0]
            drill.quiet = (
                f"a {_pct(deviation)} deviation does not reach level {first.level} "
                f"({_pct(first.deviation_pct)}): no tier fires"
            )
            return drill
        start = reached[-1]
        trigger = (
            f"{_pct(deviation)} behind the target to date reaches this tier's "
            f"{_pct(start.deviation_pct)}"
        )

    working_days = registry.settings.working_days
    moment = at
    for tier in tiers[tiers.index(start) :]:
        notified = _reach(registry, list(tier.notify), kpi)
        approvers = _reach(registry, [tier.approver] if tier.approver else [], kpi)
        # Bounded: each tier answers within a year, but a policy may have many tiers.
        respond_by = deadline(moment, tier.respond_hours, working_days).astimezone(zone)
        missing = [ref for ref in approvers.unresolved if ref not in notified.unresolved]
        step = Step(
            tier.level,
            tier.name,
            trigger if tier is start else f"nobody responded to level {drill.steps[-1].level}",
            moment,
            tier.respond_within,
            respond_by,
            notified.recipients(),
            approvers.recipients(),
            tier.approver,
            tuple(tier.actions),
            tuple(notified.unresolved + missing),
            tuple(Absent(pid, tuple(via), by) for pid, (via, by) in notified.absent.items()),
            tuple(notified.reasons + [r for r in approvers.reasons if r[0] in missing]),
        )
        drill.steps.append(step)
        drill.problems.extend(_step_problems(step, working_days))
        moment = respond_by
    drill.problems.extend(_ladder_problems(drill.steps))
    return drill


def _step_problems(step: Step, working_days: Sequence[str] | None) -> list[LadderProblem]:
    out: list[LadderProblem] = []
    where = f"level {step.level} ({step.name})"
    for ref in step.unresolved:
        why = "; ".join(reason for of, reason in step.reasons if of == ref)
        out.append(
            LadderProblem(
                "recipient-unresolved",
                step.level,
                f"{where}: '{ref}' reaches nobody ({why})",
            )
        )
    for absent in step.absent:
        through = [via for via in absent.via if via != absent.id]
        how = f" (through {', '.join(through)})" if through else ""
        instead = f"{absent.by} stands in for now; " if absent.by else ""
        out.append(
            LadderProblem(
                "inactive-recipient",
                step.level,
                f"{where} notifies {absent.id}{how}, who is inactive: "
                f"{instead}replace them in the policy or the owners",
            )
        )
    if not step.active_notified:
        out.append(
            LadderProblem(
                "tier-reaches-nobody",
                step.level,
                f"{where} reaches nobody active: nobody would hear of the escalation",
            )
        )
    if not any(person.active for person in step.approvers):
        who = f"'{step.approver_ref}' is nobody active" if step.approver_ref else "none is named"
        out.append(
            LadderProblem(
                "no-active-approver",
                step.level,
                f"{where} has no active approver ({who}): nobody can approve the corrective action",
            )
        )
    local = step.respond_by
    # With working_days a deadline is counted in working time, never in a weekend.
    days_off = WEEKEND if working_days is None else ()
    if local.weekday() in days_off:
        out.append(
            LadderProblem(
                "weekend-deadline",
                step.level,
                f"{where} must be answered by {local:%A %Y-%m-%d %H:%M}, a weekend: "
                "the next tier would fire before anyone is back at work",
            )
        )
    return out


def _ladder_problems(steps: list[Step]) -> list[LadderProblem]:
    if len(steps) < 2:
        return []
    everywhere: set[str] | None = None
    for step in steps:
        ids = {person.id for person in step.active_notified}
        everywhere = ids if everywhere is None else everywhere & ids
    names = {person.id: person for step in steps for person in step.notified}
    out = []
    levels = f"levels {steps[0].level}-{steps[-1].level}"
    for pid in sorted(everywhere or ()):
        out.append(
            LadderProblem(
                "notified-at-every-tier",
                None,
                f"{names[pid].name} ({pid}) is notified at every tier ({levels}): "
                "the escalation never goes past them; a higher tier should reach someone new "
                "rather than the same inbox again",
            )
        )
    return out


def _pct(value: float) -> str:
    return f"{value:g}%"


def as_json(drill: Drill) -> dict[str, Any]:
    """The drill as plain JSON data."""

    def person(recipient: Recipient) -> dict[str, Any]:
        return {
            "id": recipient.id,
            "name": recipient.name,
            "email": recipient.email,
            "active": recipient.active,
            "via": list(recipient.via),
            "stands_in_for": list(recipient.stands_in_for),
        }

    return {
        "kpi": {"id": drill.kpi.id, "name": drill.kpi.name},
        "policy": {"id": drill.policy.id, "name": drill.policy.name},
        "scenario": drill.scenario,
        "deviation_pct": drill.deviation,
        "started_at": drill.started_at.isoformat(),
        "timezone": drill.timezone,
        "fires": drill.quiet is None,
        "quiet": drill.quiet,
        "steps": [
            {
                "level": step.level,
                "name": step.name,
                "trigger": step.trigger,
                "fires_at": step.fires_at.isoformat(),
                "respond_within": step.respond_within,
                "respond_by": step.respond_by.isoformat(),
                "notified": [person(r) for r in step.notified],
                "approver": step.approver_ref,
                "approvers": [person(r) for r in step.approvers],
                "actions": list(step.actions),
                "unresolved": list(step.unresolved),
            }
            for step in drill.steps
        ],
        "problems": [
            {"code": problem.code, "level": problem.level, "message": problem.message}
            for problem in drill.problems
        ],
    }

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

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from kpictl.models import EscalationPolicy, Kpi, Person, Tier
from kpictl.registry import Registry
from kpictl.schema_errors import suggest

# A date given without a time means the start of that working day.
DEFAULT_START = time(9, 0)
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

    @property
    def active_notified(self) -> tuple[Recipient, ...]:
        return tuple(r for r in self.notified if r.active)


@dataclass(frozen=True, slots=True)
class Problem:
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
    problems: list[Problem] = field(default_factory=list)
    quiet: str | None = None  # why nothing fires, when nothing does


def parse_at(value: str | None, timezone: str, now: datetime | None = None) -> datetime:
    """`--at`: an ISO date-time (offset optional; default the registry's zone) or a date.

    A date alone means 09:00 that day. Default: now, to the minute.
    """
    zone = ZoneInfo(timezone)
    if value is None:
        current = (now or datetime.now(UTC)).astimezone(zone)
        return current.replace(second=0, microsecond=0)
    text = value.strip()
    try:
        if "T" not in text and " " not in text and len(text) == 10:
            return datetime.combine(date.fromisoformat(text), DEFAULT_START, zone)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"'{value}' is not a date-time: use YYYY-MM-DDTHH:MM (registry time zone), "
            "YYYY-MM-DDTHH:MM+01:00, or a date YYYY-MM-DD (09:00)"
        ) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=zone)
    return moment.astimezone(zone)


def _recipients(registry: Registry, refs: list[str], kpi: Kpi) -> tuple[list[Recipient], list[str]]:
    """People the entries reach (in order, each once, with the entries that reach them)."""
    order: list[str] = []
    people: dict[str, Person] = {}
    vias: dict[str, list[str]] = {}
    unresolved: list[str] = []
    for ref in refs:
        found = registry.resolve(ref, kpi)
        if not found:
            unresolved.append(ref)
        for person in found:
            if person.id not in people:
                order.append(person.id)
                people[person.id] = person
                vias[person.id] = []
            if ref not in vias[person.id]:
                vias[person.id].append(ref)
    out = [
        Recipient(pid, people[pid].name, people[pid].email, people[pid].active, tuple(vias[pid]))
        for pid in order
    ]
    return out, unresolved


def _why_nobody(registry: Registry, ref: str, kpi: Kpi) -> str:
    """Why a notify/approver entry reaches nobody, in a few words."""
    if ref == "$owner.manager":
        owner = registry.person(kpi.owners.primary)
        if owner is not None and not owner.manager:
            return f"the primary owner {owner.id} has no manager"
        return "the primary owner's manager is not in the registry"
    if ref in ("$owner", "$backup"):
        return "that owner is not in the registry"
    if ref == "$source.owner":
        return "no data source of the KPI has an owner in the registry"
    team = registry.team(ref)
    if team is not None:
        return f"team {ref} has no lead" if not team.lead else f"team {ref}'s lead is unknown"
    return "no person or team has this id"


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
            drill.problems.append(Problem("outage-unhandled", None, drill.quiet))
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

    moment = at
    for tier in tiers[tiers.index(start) :]:
        notified, unresolved = _recipients(registry, list(tier.notify), kpi)
        approvers, approver_missing = (
            _recipients(registry, [tier.approver], kpi) if tier.approver else ([], [])
        )
        respond_by = (moment.astimezone(UTC) + timedelta(hours=tier.respond_hours)).astimezone(zone)
        step = Step(
            tier.level,
            tier.name,
            trigger if tier is start else f"nobody responded to level {drill.steps[-1].level}",
            moment,
            tier.respond_within,
            respond_by,
            tuple(notified),
            tuple(approvers),
            tier.approver,
            tuple(tier.actions),
            tuple(unresolved + [ref for ref in approver_missing if ref not in unresolved]),
        )
        drill.steps.append(step)
        drill.problems.extend(_step_problems(registry, kpi, step))
        moment = respond_by
    drill.problems.extend(_ladder_problems(drill.steps))
    return drill


def _step_problems(registry: Registry, kpi: Kpi, step: Step) -> list[Problem]:
    out: list[Problem] = []
    where = f"level {step.level} ({step.name})"
    for ref in step.unresolved:
        out.append(
            Problem(
                "recipient-unresolved",
                step.level,
                f"{where}: '{ref}' reaches nobody ({_why_nobody(registry, ref, kpi)})",
            )
        )
    for person in step.notified:
        if not person.active:
            through = [via for via in person.via if via != person.id]
            how = f" (through {', '.join(through)})" if through else ""
            out.append(
                Problem(
                    "inactive-recipient",
                    step.level,
                    f"{where} notifies {person.id}{how}, who is inactive: "
                    "replace them in the policy or the owners",
                )
            )
    if not step.active_notified:
        out.append(
            Problem(
                "tier-reaches-nobody",
                step.level,
                f"{where} reaches nobody active: nobody would hear of the escalation",
            )
        )
    if not any(person.active for person in step.approvers):
        who = f"'{step.approver_ref}' is nobody active" if step.approver_ref else "none is named"
        out.append(
            Problem(
                "no-active-approver",
                step.level,
                f"{where} has no active approver ({who}): nobody can approve the corrective action",
            )
        )
    local = step.respond_by
    if local.weekday() in WEEKEND:
        out.append(
            Problem(
                "weekend-deadline",
                step.level,
                f"{where} must be answered by {local:%A %Y-%m-%d %H:%M}, a weekend: "
                "the next tier would fire before anyone is back at work",
            )
        )
    return out


def _ladder_problems(steps: list[Step]) -> list[Problem]:
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
            Problem(
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

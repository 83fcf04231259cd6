"""Who a reference means: the one answer every command and rule asks for.

A reference in `notify`, `approver`, a DACI role or an owner field is a person id,
a team id (meaning the team's lead) or, in a KPI's escalation, one of the roles
`$owner`, `$backup`, `$owner.manager` and `$source.owner`.

Only active people act. In a KPI's escalation, an inactive person is replaced by
the KPI's backup owner (README: "inactive people replaced by the KPI's backup"),
so an absent owner's duties, approvals included, fall to the backup; outside a
KPI, or when the backup is inactive too, the inactive person is left out. Each
resolution says why someone named is not reached, so that `drill`, `escalate`,
`map`, `who` and the rules give the same people and the same reasons.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kpictl.registry.models import DataSource, Kpi, Person
from kpictl.registry.registry import Registry

ROLES = ("$owner", "$backup", "$owner.manager", "$source.owner")


@dataclass(frozen=True, slots=True)
class StandIn:
    """An inactive person named by a reference, and the active person acting for them."""

    absent: Person
    by: Person


@dataclass(frozen=True, slots=True)
class Resolution:
    """The active people one reference reaches, who stands in for whom, and why not."""

    ref: str
    people: tuple[Person, ...]  # in order, each once
    stand_ins: tuple[StandIn, ...] = ()
    # Why someone named is not reached, or nobody is: "team ops has no lead".
    reasons: tuple[str, ...] = ()
    # Inactive people named and left out, nobody standing in for them.
    left_out: tuple[Person, ...] = ()

    def stand_in_for(self, person_id: str) -> tuple[Person, ...]:
        """The inactive people `person_id` acts for through this reference."""
        return tuple(s.absent for s in self.stand_ins if s.by.id == person_id)


def lead(registry: Registry, team_id: str) -> Person | None:
    """A team's lead as written (active or not); None for no team, lead or person."""
    team = registry.team(team_id)
    return registry.person(team.lead) if team is not None else None


def _named(registry: Registry, ref: str, kpi: Kpi | None) -> tuple[list[Person], list[str]]:
    """The people a reference names, active or not, and why it names nobody."""
    if not ref.startswith("$"):
        person = registry.person(ref)
        if person is not None:
            return [person], []
        team = registry.team(ref)
        if team is None:
            return [], [f"no person or team has the id {ref}"]
        if not team.lead:
            return [], [f"team {ref} has no lead"]
        found = registry.person(team.lead)
        if found is None:
            return [], [f"team {ref}'s lead {team.lead} is not in the registry"]
        return [found], []
    if ref not in ROLES:
        return [], [f"{ref} is not a role: use one of {', '.join(ROLES)}"]
    if kpi is None:
        return [], [f"{ref} means someone only for a KPI"]
    if ref == "$source.owner":
        people: list[Person] = []
        for source_id in kpi.sources:
            source = registry.get(source_id)
            owner = registry.person(source.owner) if isinstance(source, DataSource) else None
            if owner is not None and owner not in people:
                people.append(owner)
        why = [] if people else ["no data source of the KPI has an owner in the registry"]
        return people, why
    if ref == "$backup":
        backup = registry.person(kpi.owners.backup)
        if backup is None:
            return [], [f"the backup owner {kpi.owners.backup} is not in the registry"]
        return [backup], []
    owner = registry.person(kpi.owners.primary)
    if owner is None:
        return [], [f"the primary owner {kpi.owners.primary} is not in the registry"]
    if ref == "$owner":
        return [owner], []
    if not owner.manager:
        return [], [f"the primary owner {owner.id} has no manager"]
    manager = registry.person(owner.manager)
    if manager is None:
        return [], [f"the primary owner's manager {owner.manager} is not in the registry"]
    return [manager], []


def resolve(registry: Registry, ref: str, kpi: Kpi | None = None) -> Resolution:
    """The active people `ref` means (for `kpi`), with stand-ins and reasons."""
    named, reasons = _named(registry, ref, kpi)
    backup = registry.person(kpi.owners.backup) if kpi is not None else None
    people: list[Person] = []
    stand_ins: list[StandIn] = []
    left_out: list[Person] = []
    for person in named:
        acting: Person | None = person
        if not person.active:
            acting = backup if backup is not None and backup.active else None
            if acting is not None and acting.id != person.id:
                stand_ins.append(StandIn(person, acting))
            else:
                acting = None
                left_out.append(person)
                reasons.append(_why_left_out(person, kpi, backup))
        if acting is not None and all(p.id != acting.id for p in people):
            people.append(acting)
    return Resolution(ref, tuple(people), tuple(stand_ins), tuple(reasons), tuple(left_out))


def _why_left_out(person: Person, kpi: Kpi | None, backup: Person | None) -> str:
    if kpi is None:
        return f"{person.id} is inactive"
    if backup is None:
        return f"{person.id} is inactive, and the KPI's backup owner is not in the registry"
    if backup.id == person.id:
        return f"{person.id} is inactive and is the KPI's backup owner: nobody stands in"
    return f"{person.id} is inactive, and so is the KPI's backup owner {backup.id}"


def people(registry: Registry, refs: Iterable[str], kpi: Kpi | None = None) -> list[Person]:
    """Everyone active the references reach, in order, each once."""
    found: list[Person] = []
    for ref in refs:
        for person in resolve(registry, ref, kpi).people:
            if all(p.id != person.id for p in found):
                found.append(person)
    return found


def acting_owner(registry: Registry, kpi: Kpi) -> Resolution:
    """Who answers for the KPI now: the primary owner, or the backup standing in."""
    return resolve(registry, "$owner", kpi)


__all__ = ["ROLES", "Resolution", "StandIn", "acting_owner", "lead", "people", "resolve"]

"""Who an email goes to: notify lists, approvers and DACI roles resolved to people."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kpictl.display import clean
from kpictl.models import Campaign, Kpi, Person, Tier
from kpictl.registry import Registry


def person_view(person: Person | None) -> dict[str, Any] | None:
    """A person as templates see them; every text is on one line."""
    if person is None:
        return None
    name = clean(person.name) or person.id
    return {
        "id": person.id,
        "name": name,
        "first_name": name.split(" ")[0],
        "email": clean(person.email),
        "title": clean(person.title) if person.title else None,
    }


@dataclass
class Recipients:
    """To and Cc as people, plus who stands in for whom."""

    to: list[Person] = field(default_factory=list)
    cc: list[Person] = field(default_factory=list)
    approvers: list[Person] = field(default_factory=list)
    # (inactive person, who stands in) pairs
    stand_ins: list[tuple[Person, Person]] = field(default_factory=list)
    # people named but left out: inactive with nobody to stand in
    skipped: list[Person] = field(default_factory=list)

    def _has(self, person: Person) -> bool:
        return any(p.id == person.id for p in (*self.to, *self.cc))

    def add_to(self, person: Person) -> None:
        if not any(p.id == person.id for p in self.to):
            self.cc = [p for p in self.cc if p.id != person.id]
            self.to.append(person)

    def add_cc(self, person: Person) -> None:
        if not self._has(person):
            self.cc.append(person)


class _Resolver:
    """Resolves refs for one KPI; an inactive person is replaced by the KPI's backup."""

    def __init__(self, registry: Registry, kpi: Kpi | None, out: Recipients) -> None:
        self.registry = registry
        self.kpi = kpi
        self.out = out
        backup = registry.person(kpi.owners.backup) if kpi else None
        self.backup = backup if backup is not None and backup.active else None

    def people(self, ref: str) -> list[Person]:
        found: list[Person] = []
        for person in self.registry.resolve(ref, self.kpi):
            if not person.active:
                if self.backup is not None and self.backup.id != person.id:
                    pair = (person, self.backup)
                    if all(p.id != person.id for p, _ in self.out.stand_ins):
                        self.out.stand_ins.append(pair)
                    person = self.backup
                else:
                    if all(p.id != person.id for p in self.out.skipped):
                        self.out.skipped.append(person)
                    continue
            if all(p.id != person.id for p in found):
                found.append(person)
        return found


def escalation_recipients(registry: Registry, kpi: Kpi, tier: Tier, outage: bool) -> Recipients:
    """To: the tier's notify list; Cc: the approver (and, for an outage, the source owners).

    Roles and teams become people, duplicates go, and anyone inactive is replaced by the
    KPI's backup owner. If nobody is left, the KPI's owners are written to.
    """
    out = Recipients()
    resolver = _Resolver(registry, kpi, out)
    for ref in tier.notify:
        for person in resolver.people(ref):
            out.add_to(person)
    if tier.approver:
        for person in resolver.people(tier.approver):
            if all(p.id != person.id for p in out.approvers):
                out.approvers.append(person)
            out.add_cc(person)
    if outage:
        # The people who can repair the feed hear of it even when the tier leaves them out.
        for person in resolver.people("$source.owner"):
            out.add_cc(person)
    if not out.to:
        for ref in (kpi.owners.primary, kpi.owners.backup):
            for person in resolver.people(ref):
                out.add_to(person)
    return out


def daci_recipients(registry: Registry, campaign: Campaign) -> Recipients:
    """To: driver, approver and contributors; Cc: the informed. Teams mean their leads."""
    out = Recipients()
    resolver = _Resolver(registry, None, out)
    daci = campaign.daci
    for ref in (daci.driver, daci.approver, *daci.contributors):
        for person in resolver.people(ref):
            out.add_to(person)
    for ref in daci.informed:
        for person in resolver.people(ref):
            out.add_cc(person)
    return out

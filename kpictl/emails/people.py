"""Who an email goes to: notify lists, approvers and DACI roles resolved to people."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kpictl.display import clean
from kpictl.registry.models import Campaign, Kpi, Person, Tier
from kpictl.registry.registry import Registry
from kpictl.registry.resolve import resolve


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


def _reach(registry: Registry, ref: str, kpi: Kpi | None, out: Recipients) -> list[Person]:
    """The people `ref` reaches, noting in `out` who stands in and who is left out."""
    found = resolve(registry, ref, kpi)
    for stand_in in found.stand_ins:
        if all(p.id != stand_in.absent.id for p, _ in out.stand_ins):
            out.stand_ins.append((stand_in.absent, stand_in.by))
    for person in found.left_out:
        if all(p.id != person.id for p in out.skipped):
            out.skipped.append(person)
    return list(found.people)


def _owners_hear(registry: Registry, kpi: Kpi, out: Recipients) -> None:
    """The KPI's owners are written to when nobody else is, and copied in otherwise."""
    if not out.to:
        for ref in (kpi.owners.primary, kpi.owners.backup):
            for person in _reach(registry, ref, kpi, out):
                out.add_to(person)
    # Whoever answers for the number hears of every escalation of it, whatever the tier says.
    for person in _reach(registry, "$owner", kpi, out):
        out.add_cc(person)


def escalation_recipients(registry: Registry, kpi: Kpi, tier: Tier, outage: bool) -> Recipients:
    """To: the tier's notify list; Cc: the approver, the KPI's owner (and, for an outage,
    the source owners).

    Roles and teams become people, duplicates go, and anyone inactive is replaced by the
    KPI's backup owner (kpictl.registry.resolve). The owner, or the backup standing in, is on
    every escalation: To when the tier notifies them, else Cc. If nobody is left to
    write to, the KPI's owners are.
    """
    out = Recipients()
    for ref in tier.notify:
        for person in _reach(registry, ref, kpi, out):
            out.add_to(person)
    if tier.approver:
        for person in _reach(registry, tier.approver, kpi, out):
            if all(p.id != person.id for p in out.approvers):
                out.approvers.append(person)
            out.add_cc(person)
    if outage:
        # The people who can repair the feed hear of it even when the tier leaves them out.
        for person in _reach(registry, "$source.owner", kpi, out):
            out.add_cc(person)
    _owners_hear(registry, kpi, out)
    return out


def daci_recipients(registry: Registry, campaign: Campaign, raci: bool = False) -> Recipients:
    """To: driver, approver and contributors; Cc: the informed. Teams mean their leads.

    With `raci`, the people responsible or accountable for an activity are on it too
    (Cc, unless the DACI list already has them): they do the work a kickoff starts and a
    readout measures.
    """
    out = Recipients()
    daci = campaign.daci
    for ref in (daci.driver, daci.approver, *daci.contributors):
        for person in _reach(registry, ref, None, out):
            out.add_to(person)
    for ref in daci.informed:
        for person in _reach(registry, ref, None, out):
            out.add_cc(person)
    if raci:
        for row in campaign.raci:
            doers = [*row.responsible, *([row.accountable] if row.accountable else [])]
            for ref in doers:
                for person in _reach(registry, ref, None, out):
                    out.add_cc(person)
    return out


def review_recipients(registry: Registry, campaign: Campaign) -> Recipients:
    """To: the approver and contributors, who agree the KPIs before signing; Cc: the driver.

    Seed 003: align the A and C of DACI before work starts; the informed hear at kickoff.
    """
    out = Recipients()
    daci = campaign.daci
    for ref in (daci.approver, *daci.contributors):
        for person in _reach(registry, ref, None, out):
            out.add_to(person)
    for person in _reach(registry, daci.driver, None, out):
        out.add_cc(person)
    return out


def driver_recipients(registry: Registry, campaign: Campaign) -> Recipients:
    """To: the campaign's driver alone (a team means its lead): what only they can fill in."""
    out = Recipients()
    for person in _reach(registry, campaign.daci.driver, None, out):
        out.add_to(person)
    return out


def resolved_recipients(registry: Registry, kpi: Kpi, addresses: Sequence[str]) -> Recipients:
    """Those who got the last tier (by the addresses the server took), and the KPI's owner.

    An address the registry no longer knows is left out: kpictl writes only to people.
    With no address known (a store from before steps kept them), the owners get it.
    """
    out = Recipients()
    by_address = {person.email.lower(): person for person in registry.people}
    for addr in addresses:
        person = by_address.get(addr.lower())
        if person is not None:
            out.add_to(person)
    _owners_hear(registry, kpi, out)
    return out

"""O001-O004: every KPI has two distinct, active owners who are not overloaded."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from kpictl.findings import Finding
from kpictl.loader import KeyPath
from kpictl.models import DataSource, EscalationPolicy, Kpi, Person, Team
from kpictl.rules.base import Context, at, who


def backup_is_primary(ctx: Context) -> Iterator[Finding]:
    for kpi in ctx.registry.of_kind(Kpi):
        if kpi.owners.backup == kpi.owners.primary:
            yield at(
                ctx,
                "O001",
                kpi.id,
                ("owners", "backup"),
                f"the backup owner is the primary owner, {who(ctx, kpi.owners.primary)}: "
                "name someone else who can cover during an absence",
            )


def _named_people(ctx: Context) -> Iterator[tuple[str, KeyPath, str, str]]:
    """(entity id, path, person id, what they are) for every person named directly."""
    for kpi in ctx.registry.of_kind(Kpi):
        yield kpi.id, ("owners", "primary"), kpi.owners.primary, "primary owner"
        yield kpi.id, ("owners", "backup"), kpi.owners.backup, "backup owner"
    for source in ctx.registry.of_kind(DataSource):
        yield source.id, ("owner",), source.owner, "owner"
    for policy in ctx.registry.of_kind(EscalationPolicy):
        for i, tier in enumerate(policy.tiers):
            for j, ref in enumerate(tier.notify):
                yield policy.id, ("tiers", i, "notify", j), ref, f"notified at tier {tier.level}"
            if tier.approver:
                yield (
                    policy.id,
                    ("tiers", i, "approver"),
                    tier.approver,
                    (f"approver at tier {tier.level}"),
                )


def inactive_owner(ctx: Context) -> Iterator[Finding]:
    for entity_id, path, person_id, role in _named_people(ctx):
        person = ctx.registry.person(person_id)
        if person is not None and not person.active:
            yield at(
                ctx,
                "O002",
                entity_id,
                path,
                f"{who(ctx, person_id)} is {role} but is not active: "
                "hand this over to an active person",
            )


def team_without_lead(ctx: Context) -> Iterator[Finding]:
    for team in ctx.registry.of_kind(Team):
        if team.lead is None:
            yield at(
                ctx,
                "O003",
                team.id,
                (),
                f"team '{team.id}' has no lead: name one, so escalations that reach the "
                "team reach a person",
            )
            continue
        lead = ctx.registry.person(team.lead)
        if lead is not None and not lead.active:
            yield at(
                ctx,
                "O003",
                team.id,
                ("lead",),
                f"the lead of team '{team.id}', {who(ctx, team.lead)}, is not active: "
                "name an active lead",
            )


def owner_overload(ctx: Context) -> Iterator[Finding]:
    limit = ctx.registry.settings.owner_kpi_limit
    counts = Counter(kpi.owners.primary for kpi in ctx.registry.of_kind(Kpi))
    for person in ctx.registry.of_kind(Person):
        count = counts.get(person.id, 0)
        if count > limit:
            yield at(
                ctx,
                "O004",
                person.id,
                ("id",),
                f"{who(ctx, person.id)} is primary owner of {count} KPIs, more than the "
                f"limit of {limit}: spread ownership or raise owner_kpi_limit",
            )


RULES = {
    "O001": backup_is_primary,
    "O002": inactive_owner,
    "O003": team_without_lead,
    "O004": owner_overload,
}

"""O001-O004: every KPI has two distinct, active owners who are not overloaded."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from kpictl.check.findings import Finding
from kpictl.check.rules.base import Context, at, in_record, who
from kpictl.display import plural
from kpictl.registry.loader import KeyPath
from kpictl.registry.models import DataSource, EscalationPolicy, Experiment, Kpi, Person, Team
from kpictl.registry.registry import Record, has


def backup_is_primary(ctx: Context) -> Iterator[Finding]:
    # Every KPI written, partial or a copy of a duplicated id: one problem hides no other.
    for record in ctx.registry.every_record():
        kpi = record.entity
        if isinstance(kpi, Kpi) and has(kpi, "owners") and kpi.owners.backup == kpi.owners.primary:
            yield in_record(
                "O001",
                record,
                ("owners", "backup"),
                f"the backup owner is the primary owner, {who(ctx, kpi.owners.primary)}: "
                "name someone else who can cover during an absence",
            )


def _named_people(ctx: Context) -> Iterator[tuple[Record, KeyPath, str, str]]:
    """(entity, path, person id, what they are) for every person named directly, in
    every entity written (partial ones and copies of a duplicated id included)."""
    for record in ctx.registry.every_record():
        entity = record.entity
        if isinstance(entity, Kpi) and has(entity, "owners"):
            yield record, ("owners", "primary"), entity.owners.primary, "primary owner"
            yield record, ("owners", "backup"), entity.owners.backup, "backup owner"
        elif isinstance(entity, DataSource | Experiment) and has(entity, "owner"):
            yield record, ("owner",), entity.owner, "owner"
        elif isinstance(entity, EscalationPolicy) and has(entity, "tiers"):
            for i, tier in enumerate(entity.tiers):
                for j, ref in enumerate(tier.notify):
                    yield record, ("tiers", i, "notify", j), ref, f"notified at tier {tier.level}"
                if tier.approver:
                    yield (
                        record,
                        ("tiers", i, "approver"),
                        tier.approver,
                        (f"approver at tier {tier.level}"),
                    )


def inactive_owner(ctx: Context) -> Iterator[Finding]:
    for record, path, person_id, role in _named_people(ctx):
        person = ctx.registry.person(person_id)
        if person is not None and not person.active:
            yield in_record(
                "O002",
                record,
                path,
                f"{who(ctx, person_id)} is {role} but is not active: "
                "hand this over to an active person",
            )


def team_without_lead(ctx: Context) -> Iterator[Finding]:
    # Complete teams only: O003 is about what a team lacks, and a team that fails its
    # schema is often half-written; "no lead" on top would bury its S001.
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
    # First per id, partial KPIs and people included: a copy of a duplicated id does not
    # count twice, and a typo in a KPI does not take it off its owner's list.
    counts = Counter(
        kpi.owners.primary for kpi in ctx.registry.of_kind_with_partial(Kpi) if has(kpi, "owners")
    )
    for person in ctx.registry.of_kind_with_partial(Person):
        count = counts.get(person.id, 0)
        if count > limit:
            yield at(
                ctx,
                "O004",
                person.id,
                ("id",),
                f"{who(ctx, person.id)} is primary owner of {plural(count, 'KPI')}, more than the "
                f"limit of {limit}: spread ownership or raise owner_kpi_limit",
            )


RULES = {
    "O001": backup_is_primary,
    "O002": inactive_owner,
    "O003": team_without_lead,
    "O004": owner_overload,
}

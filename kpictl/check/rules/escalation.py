"""E001-E002: escalation tiers climb in order and always reach someone."""

from __future__ import annotations

from collections.abc import Iterator

from kpictl.check.findings import Finding, excerpt
from kpictl.check.rules.base import Context, at
from kpictl.registry.models import DataSource, EscalationPolicy, Kpi, Tier
from kpictl.registry.resolve import resolve


def tier_order(ctx: Context) -> Iterator[Finding]:
    for policy in ctx.registry.of_kind(EscalationPolicy):
        for i, tier in enumerate(policy.tiers):
            if tier.level != i + 1:
                yield at(
                    ctx,
                    "E001",
                    policy.id,
                    ("tiers", i, "level"),
                    f"tier {i + 1} in the list has level {tier.level}: "
                    "number tiers 1, 2, 3, ... in order",
                )
                break
        for i in range(1, len(policy.tiers)):
            lower, tier = policy.tiers[i - 1], policy.tiers[i]
            if tier.deviation_pct <= lower.deviation_pct:
                yield at(
                    ctx,
                    "E001",
                    policy.id,
                    ("tiers", i, "deviation_pct"),
                    f"tier '{excerpt(tier.name)}' fires at {tier.deviation_pct:g}%, not above the "
                    f"{lower.deviation_pct:g}% of the tier before it: deviation_pct must "
                    "rise with level",
                )


def _why_nobody(ctx: Context, refs: list[str], kpi: Kpi | None) -> list[str] | None:
    """None when the entries reach someone active, else why each of them does not."""
    found = [resolve(ctx.registry, ref, kpi) for ref in refs]
    if any(r.people for r in found):
        return None
    return [reason for r in found for reason in r.reasons]


def _through_broken(ctx: Context, refs: list[str], kpi: Kpi | None) -> bool:
    """Whether the tier reaches its people through an entity that failed its schema.

    Who it reaches is then unknown, not nobody: S001 already says what to fix, and
    "not in the registry" would send the user looking for an entity that is there.
    """
    registry = ctx.registry
    ids = [ref for ref in refs if not ref.startswith("$")]
    ids += [team.lead for ref in ids if (team := registry.team(ref)) and team.lead]
    if kpi is not None:
        owner = registry.person(kpi.owners.primary)
        ids += [kpi.owners.primary, kpi.owners.backup, *kpi.sources]
        ids += [owner.manager] if owner is not None and owner.manager else []
        sources = [registry.get(source_id) for source_id in kpi.sources]
        ids += [source.owner for source in sources if isinstance(source, DataSource)]
    return any(entity_id in registry.broken for entity_id in ids)


def _check_tier(
    ctx: Context, policy: EscalationPolicy, i: int, tier: Tier, kpis: list[Kpi]
) -> Iterator[Finding]:
    if tier.approver is None:
        yield at(
            ctx,
            "E002",
            policy.id,
            ("tiers", i),
            f"tier '{excerpt(tier.name)}' has no approver: name who approves the corrective action",
        )
    for field, refs in (
        ("notify", tier.notify),
        ("approver", [tier.approver] if tier.approver else []),
    ):
        if not refs:
            if field == "notify":
                yield at(
                    ctx,
                    "E002",
                    policy.id,
                    ("tiers", i, "notify"),
                    f"tier '{excerpt(tier.name)}' notifies nobody: list who must hear of it",
                )
            continue
        roles = any(ref.startswith("$") for ref in refs)
        if not roles and not all(ctx.registry.kind_of(ref) for ref in refs):
            continue  # an unknown id is R002's to report
        # Who a tier reaches depends on the KPI (roles, the backup standing in), so it
        # is asked for every KPI using the policy, as `drill` and `escalate` would.
        users: list[Kpi | None] = [*kpis] if kpis or roles else [None]
        missed: dict[str, None] = {}
        reasons: dict[str, None] = {}
        nobody = False
        for kpi in users:
            if _through_broken(ctx, refs, kpi):
                continue
            why = _why_nobody(ctx, refs, kpi)
            if why is not None:
                nobody = True
                missed.update({kpi.id: None} if kpi else {})
                reasons.update(dict.fromkeys(why))
        if nobody:
            for_whom = f" for {', '.join(sorted(missed))}" if missed else ""
            yield at(
                ctx,
                "E002",
                policy.id,
                ("tiers", i, field),
                # Reasons name only ids, which the schema keeps to slugs.
                f"tier '{excerpt(tier.name)}' {field} reaches nobody{for_whom} "
                f"({'; '.join(reasons)})",
            )


def tier_without_approver(ctx: Context) -> Iterator[Finding]:
    users: dict[str, list[Kpi]] = {}
    for kpi in ctx.registry.of_kind(Kpi):
        users.setdefault(kpi.escalation, []).append(kpi)
    for policy in ctx.registry.of_kind(EscalationPolicy):
        for i, tier in enumerate(policy.tiers):
            yield from _check_tier(ctx, policy, i, tier, users.get(policy.id, []))


RULES = {"E001": tier_order, "E002": tier_without_approver}

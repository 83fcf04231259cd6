"""E001-E002: escalation tiers climb in order and always reach someone."""

from __future__ import annotations

from collections.abc import Iterator

from kpictl.findings import Finding, excerpt
from kpictl.models import EscalationPolicy, Kpi, Tier
from kpictl.rules.base import Context, at


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


def _nobody(ctx: Context, refs: list[str], kpi: Kpi | None) -> bool:
    return not any(ctx.registry.resolve(ref, kpi) for ref in refs)


def _role_free(refs: list[str]) -> bool:
    return not any(ref.startswith("$") for ref in refs)


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
        if _role_free(refs):
            if _nobody(ctx, refs, None) and all(ctx.registry.kind_of(r) for r in refs):
                yield at(
                    ctx,
                    "E002",
                    policy.id,
                    ("tiers", i, field),
                    f"tier '{excerpt(tier.name)}' {field} reaches nobody: its teams have no lead",
                )
            continue
        missed = sorted(kpi.id for kpi in kpis if _nobody(ctx, refs, kpi))
        if missed:
            yield at(
                ctx,
                "E002",
                policy.id,
                ("tiers", i, field),
                f"tier '{excerpt(tier.name)}' {field} reaches nobody for {', '.join(missed)} "
                f"({', '.join(refs)} resolve to no person, e.g. an owner without a manager)",
            )


def tier_without_approver(ctx: Context) -> Iterator[Finding]:
    users: dict[str, list[Kpi]] = {}
    for kpi in ctx.registry.of_kind(Kpi):
        users.setdefault(kpi.escalation, []).append(kpi)
    for policy in ctx.registry.of_kind(EscalationPolicy):
        for i, tier in enumerate(policy.tiers):
            yield from _check_tier(ctx, policy, i, tier, users.get(policy.id, []))


RULES = (tier_order, tier_without_approver)

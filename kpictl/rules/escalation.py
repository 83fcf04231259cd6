"""E001-E002: escalation tiers climb in order and always reach someone."""

from __future__ import annotations

from collections.abc import Iterator

from kpictl.findings import Finding, excerpt
from kpictl.models import EscalationPolicy, Kpi, Tier
from kpictl.resolve import resolve
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


def _why_nobody(ctx: Context, refs: list[str], kpi: Kpi | None) -> list[str] | None:
    """None when the entries reach someone active, else why each of them does not."""
    found = [resolve(ctx.registry, ref, kpi) for ref in refs]
    if any(r.people for r in found):
        return None
    return [reason for r in found for reason in r.reasons]


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


RULES = (tier_order, tier_without_approver)

"""T003, O005: decision rights over targets and ownership, checked against `--base`.

Both rules compare the registry with the registry at the base commit (`Context.base`)
and do nothing without one. A change needs a reason and an approver, written in the
registry next to the value it changes:

- T003: a target whose value changed, or a target for a period that had none, on a
  KPI that exists at the base, must carry `rationale` and `approved_by`.
- O005: a changed primary owner must carry `owners.rationale` and `owners.approved_by`.

D001, the same mechanics for definitions and formulas, is in kpictl.check.rules.definitions.

Who may approve is read from the registry at the base commit, so a pull request
cannot grant itself the right to approve its own change: the primary owner's
manager (for O005, the old or the new owner's manager), or anyone the KPI's
escalation policy names as a tier approver (resolved for the KPI by kpictl.registry.resolve,
as `escalate` would: roles, team leads, the backup standing in for someone
inactive). Nobody approves a change to their own KPI: the primary owner (old and
new, for O005) is never a valid approver, even where a tier says `approver: $owner`.
"""

from __future__ import annotations

from collections.abc import Iterator

from kpictl.check.findings import Finding
from kpictl.check.rules.base import Context, at
from kpictl.display import written
from kpictl.registry.models import EscalationPolicy, Kpi
from kpictl.registry.registry import Registry
from kpictl.registry.resolve import resolve


def percent_change(old: float, new: float) -> str | None:
    """'+8.3%' from 2400 to 2600; None when the old value is 0."""
    if old == 0:
        return None
    change = (new - old) / abs(old) * 100
    return f"{change:+.1f}%"


def _policy_approvers(registry: Registry, kpi: Kpi) -> list[str]:
    policy = registry.get(kpi.escalation)
    found: list[str] = []
    if isinstance(policy, EscalationPolicy):
        for tier in policy.tiers:
            if tier.approver:
                found.extend(person.id for person in resolve(registry, tier.approver, kpi).people)
    return found


def _manager(registry: Registry, person_id: str) -> str | None:
    person = registry.person(person_id)
    return person.manager if person is not None else None


def allowed_approvers(
    base: Registry, before: Kpi, owners: tuple[str, ...]
) -> tuple[list[str], list[str]]:
    """(managers, policy approvers) who may approve a change, at the base commit.

    `owners` are the primary owners involved: their managers may approve, they may not.
    """
    managers = [m for m in (_manager(base, owner) for owner in owners) if m]
    policy = _policy_approvers(base, before)
    active = {p.id for p in base.people if p.active}

    def keep(ids: list[str]) -> list[str]:
        return [i for i in dict.fromkeys(ids) if i not in owners and i in active]

    managers = keep(managers)
    return managers, [i for i in keep(policy) if i not in managers]


def _who_may(managers: list[str], policy: list[str], policy_id: str, several: bool) -> str:
    parts = []
    if managers:
        label = "the old or the new owner's manager" if several else "the owner's manager"
        parts.append(f"{label} ({', '.join(managers)})")
    if policy:
        parts.append(f"an approver in escalation policy {policy_id} ({', '.join(policy)})")
    return " or ".join(parts)


def _problem(
    rationale: str | None,
    approved_by: str | None,
    managers: list[str],
    policy: list[str],
    policy_id: str,
    several: bool = False,
    prefix: str = "",
) -> str | None:
    """What is wrong with the approval of one change, or None when it is fine."""
    who = _who_may(managers, policy, policy_id, several)
    if not managers and not policy:
        who_text = (
            "nobody may approve it: give the owner an active manager, or the escalation "
            "policy an approver"
        )
    else:
        who_text = f"who may approve: {who}"
    fields = ((f"{prefix}rationale", rationale), (f"{prefix}approved_by", approved_by))
    missing = [name for name, value in fields if not value]
    if missing:
        ask = {
            2: "say why, and name who approved it",
            1: "say why it changed" if fields[1][1] else "name who approved it",
        }[len(missing)]
        return f"without {' and '.join(missing)}: {ask} ({who_text})"
    assert approved_by is not None
    if approved_by in managers or approved_by in policy:
        return None
    return f"but {prefix}approved_by: {approved_by} may not approve it ({who_text})"


def target_change_without_approval(ctx: Context) -> Iterator[Finding]:
    base = ctx.base
    if base is None:
        return
    for kpi in ctx.registry.of_kind(Kpi):
        before = base.get(kpi.id)
        if not isinstance(before, Kpi):
            continue  # new since the base: its targets are reviewed with the whole KPI
        old = {target.period: target.value for target in before.targets}
        managers: list[str] | None = None
        policy: list[str] = []
        for i, target in enumerate(kpi.targets):
            previous = old.get(target.period)
            if previous is not None and previous == target.value:
                continue
            if managers is None:
                managers, policy = allowed_approvers(base, before, (before.owners.primary,))
            problem = _problem(
                target.rationale, target.approved_by, managers, policy, before.escalation
            )
            if problem is None:
                continue
            if previous is None:
                change = f"the {target.period} target of {written(target.value)} is new"
            else:
                pct = percent_change(previous, target.value)
                change = (
                    f"the {target.period} target changed from {written(previous)} to "
                    f"{written(target.value)}" + (f" ({pct})" if pct else "")
                )
            yield at(ctx, "T003", kpi.id, ("targets", i, "value"), f"{change} {problem}")


def owner_change_without_approval(ctx: Context) -> Iterator[Finding]:
    base = ctx.base
    if base is None:
        return
    for kpi in ctx.registry.of_kind(Kpi):
        before = base.get(kpi.id)
        if not isinstance(before, Kpi) or before.owners.primary == kpi.owners.primary:
            continue
        owners = (before.owners.primary, kpi.owners.primary)
        managers, policy = allowed_approvers(base, before, owners)
        new_manager = (
            None if base.person(kpi.owners.primary) else _manager(ctx.registry, kpi.owners.primary)
        )
        if new_manager and new_manager not in owners and new_manager not in managers:
            managers.append(new_manager)  # a person new since the base: their manager now
            policy = [p for p in policy if p != new_manager]
        problem = _problem(
            kpi.owners.rationale,
            kpi.owners.approved_by,
            managers,
            policy,
            before.escalation,
            several=True,
            prefix="owners.",
        )
        if problem is None:
            continue
        yield at(
            ctx,
            "O005",
            kpi.id,
            ("owners", "primary"),
            f"the primary owner changed from {before.owners.primary} to "
            f"{kpi.owners.primary} {problem}",
        )


RULES = {"T003": target_change_without_approval, "O005": owner_change_without_approval}

"""T001-T002: every KPI has one target for the period we are in."""

from __future__ import annotations

from collections.abc import Iterator

from kpictl.check.findings import Finding
from kpictl.check.rules.base import Context, at
from kpictl.numbers.periods import current_periods, parse_period
from kpictl.registry.models import Kpi


def no_current_target(ctx: Context) -> Iterator[Finding]:
    fiscal = ctx.registry.settings.fiscal_year_start_month
    today = ctx.today
    quarter = current_periods(today, fiscal)[1]
    for kpi in ctx.registry.of_kind(Kpi):
        if any(parse_period(t.period, fiscal).contains(today) for t in kpi.targets):
            continue
        yield at(
            ctx,
            "T001",
            kpi.id,
            ("targets",),
            f"no target covers today ({today.isoformat()}): add one for {quarter}, "
            f"{quarter[:4]} or {today.year:04d}-{today.month:02d}",
        )


def duplicate_target_period(ctx: Context) -> Iterator[Finding]:
    for kpi in ctx.registry.of_kind(Kpi):
        seen: dict[str, int] = {}
        for i, target in enumerate(kpi.targets):
            if target.period in seen:
                yield at(
                    ctx,
                    "T002",
                    kpi.id,
                    ("targets", i, "period"),
                    f"period {target.period} already has a target (targets[{seen[target.period]}]):"
                    " keep one",
                )
            else:
                seen[target.period] = i


RULES = {"T001": no_current_target, "T002": duplicate_target_period}

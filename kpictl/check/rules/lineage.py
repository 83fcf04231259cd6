"""L001-L003: data lineage has no cycles, is fresh enough, and has a plan B."""

from __future__ import annotations

from collections.abc import Iterator

from kpictl.check.findings import Finding
from kpictl.check.rules.base import Context, at
from kpictl.registry.lineage import cycles
from kpictl.registry.models import REFRESH_RANK, DataSource, Kpi


def lineage_cycle(ctx: Context) -> Iterator[Finding]:
    for cycle in cycles(ctx.registry):
        yield at(
            ctx,
            "L001",
            cycle.ids[0],
            ("upstream", cycle.index),
            "data sources form a cycle through upstream: "
            + " → ".join([*cycle.ids, cycle.ids[0]])
            + "; a source cannot be derived from itself",
        )


def stale_source_for_cadence(ctx: Context) -> Iterator[Finding]:
    for kpi in ctx.registry.of_kind(Kpi):
        for i, source_id in enumerate(kpi.sources):
            source = ctx.registry.get(source_id)
            if not isinstance(source, DataSource):
                continue
            if REFRESH_RANK[source.refresh] > REFRESH_RANK[kpi.cadence.refresh]:
                yield at(
                    ctx,
                    "L002",
                    kpi.id,
                    ("sources", i),
                    f"'{source_id}' refreshes {source.refresh} but the KPI refreshes "
                    f"{kpi.cadence.refresh}: the number cannot be fresher than its source; "
                    "slow the KPI's cadence.refresh or speed up the source",
                )


def source_without_fallback(ctx: Context) -> Iterator[Finding]:
    feeding: dict[str, list[str]] = {}
    for kpi in ctx.registry.of_kind(Kpi):
        if kpi.audience == "business":
            for source_id in kpi.sources:
                feeding.setdefault(source_id, []).append(kpi.id)
    for source in ctx.registry.of_kind(DataSource):
        kpis = feeding.get(source.id)
        if kpis and source.fallback is None:
            yield at(
                ctx,
                "L003",
                source.id,
                (),
                f"'{source.id}' feeds business KPIs ({', '.join(sorted(kpis))}) but has no "
                "fallback: name the source to use during an outage",
            )


RULES = {
    "L001": lineage_cycle,
    "L002": stale_source_for_cadence,
    "L003": source_without_fallback,
}

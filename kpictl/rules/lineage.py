"""L001-L003: data lineage has no cycles, is fresh enough, and has a plan B."""

from __future__ import annotations

from collections.abc import Iterator

from kpictl.findings import Finding
from kpictl.models import REFRESH_RANK, DataSource, Kpi
from kpictl.rules.base import Context, at


def lineage_cycle(ctx: Context) -> Iterator[Finding]:
    sources = {source.id: source for source in ctx.registry.of_kind(DataSource)}
    reported: set[frozenset[str]] = set()
    # Iterative depth-first search; a back edge to a source on the path is a cycle.
    for start in sorted(sources):
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(sources[start].upstream))]
        on_path = [start]
        while stack:
            _, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                on_path.pop()
                continue
            if child not in sources:
                continue
            if child in on_path:
                cycle = on_path[on_path.index(child) :]
                key = frozenset(cycle)
                if key in reported:
                    continue
                reported.add(key)
                first = min(cycle)
                i = cycle.index(first)
                ordered = cycle[i:] + cycle[:i]
                nxt = ordered[1] if len(ordered) > 1 else ordered[0]
                index = sources[first].upstream.index(nxt)
                yield at(
                    ctx,
                    "L001",
                    first,
                    ("upstream", index),
                    "data sources form a cycle through upstream: "
                    + " → ".join([*ordered, first])
                    + "; a source cannot be derived from itself",
                )
                continue
            if len(on_path) > len(sources):  # pragma: no cover - cycles stop the walk first
                break
            stack.append((child, iter(sources[child].upstream)))
            on_path.append(child)


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

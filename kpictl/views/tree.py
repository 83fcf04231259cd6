"""The KPI tree of a map: which KPI drives which, drawn from awareness to revenue.

The walk is kpictl.registry.lineage's `depth_first`, the one that draws any graph
of ids: each KPI's branch once, loops cut where they close, depth bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kpictl.registry.lineage import MAX_LEVELS, depth_first
from kpictl.views.blocks import KpiLink, KpiView, TreeRow


def kpi_tree(
    kpis: Sequence[KpiView], link: Callable[[str], KpiLink]
) -> tuple[tuple[TreeRow, ...], tuple[KpiLink, ...]]:
    """The `drives` tree among `kpis`, and the KPIs outside it.

    Roots are the KPIs that drive one of the others and are driven by none, in funnel
    order (awareness first): the tree reads from activity to revenue. A KPI driven
    through two branches is drawn under the first and referenced under the second.
    """
    shown = {kpi.id: kpi for kpi in kpis}
    links = {kpi.id: [link.id for link in kpi.drives if link.id in shown] for kpi in kpis}
    driven = {target for targets in links.values() for target in targets}
    funnel = sorted(kpis, key=lambda kpi: (kpi.stage_rank, kpi.id))
    roots = [kpi.id for kpi in funnel if links[kpi.id] and kpi.id not in driven]
    # Then any KPI no root reaches: a loop (K001) still shows, marked where it closes.
    roots += [kpi.id for kpi in funnel if links[kpi.id]]
    rows = tuple(
        TreeRow(link(visit.id), visit.depth, visit.repeat, visit.cycle, visit.more)
        for visit in depth_first(links.get, roots, MAX_LEVELS)
    )
    drawn = {row.kpi.id for row in rows}
    outside = tuple(link(kpi.id) for kpi in kpis if kpi.id not in drawn and kpi.id not in driven)
    return rows, outside


__all__ = ["kpi_tree"]

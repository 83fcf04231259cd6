"""K001: the KPI tree (`drives`) runs one way, from activity to revenue."""

from __future__ import annotations

from collections.abc import Iterator

from kpictl.check.findings import Finding
from kpictl.check.rules.base import Context, at
from kpictl.registry.lineage import graph_cycles
from kpictl.registry.models import Kpi


def kpi_tree_cycle(ctx: Context) -> Iterator[Finding]:
    links = {kpi.id: kpi.drives for kpi in ctx.registry.of_kind(Kpi)}
    for cycle in graph_cycles(links):
        last = cycle.ids[-1]
        if len(cycle.ids) == 1:
            message = (
                f"'{last}' drives itself: a KPI feeds the KPIs after it in the tree; "
                "remove it from its own drives"
            )
        else:
            message = (
                "KPIs form a cycle through drives: "
                + " → ".join([*cycle.ids, cycle.ids[0]])
                + f"; the tree runs from activity to revenue, so one of these links is "
                f"backwards (this one, '{last}' drives '{cycle.ids[0]}', closes the loop)"
            )
        yield at(ctx, "K001", last, ("drives", cycle.closing), message)


RULES = {"K001": kpi_tree_cycle}

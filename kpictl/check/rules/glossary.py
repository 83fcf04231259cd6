"""G001: a glossary term earns its place by defining a KPI."""

from __future__ import annotations

from collections.abc import Iterator

from kpictl.check.findings import Finding
from kpictl.check.rules.base import Context, at
from kpictl.registry.models import GlossaryTerm, Kpi


def unused_glossary_term(ctx: Context) -> Iterator[Finding]:
    used = {kpi.definition for kpi in ctx.registry.of_kind(Kpi)}
    # A KPI that fails its schema still names its term: do not call the term unused.
    for doc in ctx.registry.broken.values():
        definition = doc.data.get("definition")
        if isinstance(definition, str):
            used.add(definition)
    for term in ctx.registry.of_kind(GlossaryTerm):
        if term.id not in used:
            yield at(
                ctx,
                "G001",
                term.id,
                (),
                f"no KPI uses the term '{term.id}': point a KPI's definition at it, or remove it",
            )


RULES = {"G001": unused_glossary_term}

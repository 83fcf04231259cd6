"""The registry rules: each one a small function that yields findings.

A rule never prints or raises; it reads the `Context` and yields `Finding`s of
one code at its rule's default severity. Each module's RULES maps that code to
the function, so `kpictl.check.check` runs only the rules that are on (--select,
--ignore, `off` in kpictl.yaml); severities and inline ignores are applied
afterwards, in `kpictl.check.check`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator

from kpictl.check.findings import Finding
from kpictl.check.rules import (
    campaigns,
    changes,
    definitions,
    escalation,
    experiments,
    glossary,
    kpi_tree,
    lineage,
    owners,
    references,
    signoff,
    targets,
    templates,
)
from kpictl.check.rules.base import Context

RuleFunction = Callable[[Context], Iterator[Finding]]

RULE_FUNCTIONS: dict[str, RuleFunction] = {
    **references.RULES,
    **owners.RULES,
    **lineage.RULES,
    **kpi_tree.RULES,
    **targets.RULES,
    **changes.RULES,
    **definitions.RULES,
    **escalation.RULES,
    **campaigns.RULES,
    **signoff.RULES,
    **glossary.RULES,
    **experiments.RULES,
    **templates.RULES,
}


def run_rules(ctx: Context, codes: Collection[str] | None = None) -> Iterator[Finding]:
    """The findings of every rule, or of the rules whose code is in `codes`."""
    for code, rule in RULE_FUNCTIONS.items():
        if codes is None or code in codes:
            yield from rule(ctx)


__all__ = ["RULE_FUNCTIONS", "Context", "run_rules"]

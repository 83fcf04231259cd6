"""The registry rules: each one a small function that yields findings.

A rule never prints or raises; it reads the `Context` and yields `Finding`s at
its rule's default severity. Settings, --select/--ignore and inline ignores are
applied afterwards, in `kpictl.check`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from kpictl.findings import Finding
from kpictl.rules import (
    campaigns,
    changes,
    escalation,
    glossary,
    lineage,
    owners,
    references,
    targets,
    templates,
)
from kpictl.rules.base import Context

RuleFunction = Callable[[Context], Iterator[Finding]]

RULE_FUNCTIONS: tuple[RuleFunction, ...] = (
    *references.RULES,
    *owners.RULES,
    *lineage.RULES,
    *targets.RULES,
    *changes.RULES,
    *escalation.RULES,
    *campaigns.RULES,
    *glossary.RULES,
    *templates.RULES,
)


def run_rules(ctx: Context) -> Iterator[Finding]:
    for rule in RULE_FUNCTIONS:
        yield from rule(ctx)


__all__ = ["RULE_FUNCTIONS", "Context", "run_rules"]

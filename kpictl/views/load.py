"""Load a registry for a view: checked once, so the view can say how broken it is."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from kpictl.check.check import check
from kpictl.check.findings import Severity
from kpictl.registry.registry import Registry
from kpictl.views.accountability import CheckSummary


def checked_registry(root: Path, today: date | None = None) -> tuple[Registry, CheckSummary]:
    """The registry at `root` and what `kpictl check` says about it (all rules, no filters)."""
    result = check(root, today=today)
    summary = CheckSummary(
        result.count(Severity.ERROR), result.count(Severity.WARNING), result.count(Severity.INFO)
    )
    return result.registry, summary

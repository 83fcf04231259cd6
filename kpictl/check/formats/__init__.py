"""Writers for `kpictl check` reports: text, json, github, sarif, junit.

Each writer is a function `(report) -> str`; the CLI decides where the text goes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kpictl.check.check import CheckResult
from kpictl.check.findings import Severity


@dataclass(frozen=True)
class Report:
    """A check result plus how the user asked to see it."""

    result: CheckResult
    fail_on: Severity = Severity.ERROR
    show_source: bool = False
    color: bool = False


Writer = Callable[[Report], str]


def writer(name: str) -> Writer:
    """The writer for a format name; imported on demand so `check` starts fast."""
    if name == "text":
        from kpictl.check.formats.text import write
    elif name == "json":
        from kpictl.check.formats.json import write
    elif name == "github":
        from kpictl.check.formats.github import write
    elif name == "sarif":
        from kpictl.check.formats.sarif import write
    elif name == "junit":
        from kpictl.check.formats.junit import write
    else:
        raise ValueError(f"unknown format {name!r}")
    return write

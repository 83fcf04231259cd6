"""Writers for `kpictl check` reports: text, json, github, sarif, junit.

Each writer is a function `(report) -> str`; the CLI decides where the text goes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kpictl.check import CheckResult
from kpictl.findings import Severity


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
        from kpictl.formats.text import write
    elif name == "json":
        from kpictl.formats.json import write
    elif name == "github":
        from kpictl.formats.github import write
    elif name == "sarif":
        from kpictl.formats.sarif import write
    elif name == "junit":
        from kpictl.formats.junit import write
    else:
        raise ValueError(f"unknown format {name!r}")
    return write

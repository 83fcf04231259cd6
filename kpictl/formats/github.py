"""`--format github`: workflow-command annotations for GitHub Actions, then the text report."""

from __future__ import annotations

from kpictl.catalog import RULES
from kpictl.findings import Severity
from kpictl.formats import Report, text

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def write(report: Report) -> str:
    lines = []
    for item in report.result.findings:
        loc = item.location
        props = ",".join(
            (
                f"file={escape_property(loc.path.as_posix())}",
                f"line={loc.line}",
                f"col={loc.column}",
                f"title={escape_property(f'{item.code} {RULES[item.code].name}')}",
            )
        )
        lines.append(f"::{_LEVEL[item.severity]} {props}::{escape_data(item.message)}")
    plain = Report(report.result, report.fail_on, report.show_source, color=False)
    return "\n".join(lines) + ("\n" if lines else "") + text.write(plain)

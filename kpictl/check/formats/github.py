"""`--format github`: workflow-command annotations for GitHub Actions, then the text report."""

from __future__ import annotations

from kpictl.check.catalog import RULES
from kpictl.check.findings import Severity
from kpictl.check.formats import Report, text
from kpictl.templating.escaping import visible

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def write(report: Report) -> str:
    lines = []
    for item in report.result.findings:
        loc = item.location
        # The file property carries the real name (the runner unescapes it), so an
        # annotation on a file with a newline in its name still lands on that file;
        # anything else invisible is spelled out, as in the message.
        props = ",".join(
            (
                f"file={visible(escape_property(loc.path.as_posix()))}",
                f"line={loc.line}",
                f"col={loc.column}",
                f"title={escape_property(f'{item.code} {RULES[item.code].name}')}",
            )
        )
        message = escape_data(visible(item.message))
        lines.append(f"::{_LEVEL[item.severity]} {props}::{message}")
    plain = Report(report.result, report.fail_on, report.show_source, color=False)
    # text.write has defused the report; the annotations above are the only commands.
    return "\n".join([*lines, text.write(plain)])

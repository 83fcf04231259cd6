"""`--format github`: workflow-command annotations for GitHub Actions, then the text report."""

from __future__ import annotations

from kpictl.catalog import RULES
from kpictl.escaping import visible
from kpictl.findings import Severity
from kpictl.formats import Report, text

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def defuse(line: str) -> str:
    """A line of the plain report that the runner will not take for a command.

    The runner obeys `::command::` at the start of a line (after white space) and
    the old `##[command]` anywhere in it. Report lines never start with `::` (see
    `text.shown_path`); this spells out `##[` wherever a name or message brings it.
    """
    return line.replace("##[", "#\\#[")


def defuse_text(text: str) -> str:
    """Free text (an email preview) for a log the runner reads: control characters
    spelled out, `##[` defused, and a line that would start with `::` escaped."""
    lines = []
    for line in text.split("\n"):
        line = defuse(visible(line))
        body = line.lstrip()
        if body.startswith("::"):
            line = line[: len(line) - len(body)] + "\\" + body
        lines.append(line)
    return "\n".join(lines)


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
    report_lines = [defuse(line) for line in text.write(plain).split("\n")]
    return "\n".join(lines + report_lines)

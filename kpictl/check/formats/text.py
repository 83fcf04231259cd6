"""The default report: one line per finding, as compilers and linters print them."""

from __future__ import annotations

from pathlib import Path

from kpictl.check.findings import Finding, Severity
from kpictl.check.formats import Report
from kpictl.display import plural
from kpictl.registry.config import hide_url_passwords
from kpictl.templating.escaping import defuse, visible

_COLORS = {Severity.ERROR: "\x1b[31m", Severity.WARNING: "\x1b[33m", Severity.INFO: "\x1b[36m"}
_BOLD, _DIM, _RESET = "\x1b[1m", "\x1b[2m", "\x1b[0m"
_STOP = frozenset(" \t,]}#")
# How much of the offending line --show-source prints: the line may be megabytes long,
# or hold a secret, so a window around the value, escaped, and `…` where it is cut.
SOURCE_CHARS = 80
_BEFORE = 20  # characters kept before the value when the line is cut


def _paint(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{_RESET}" if color else text


def shown_path(path: Path) -> str:
    """A finding's path as reports print it: control characters spelled out, and
    never starting with `::` (GitHub Actions would run the line as a workflow command)."""
    text = visible(path.as_posix())
    return f"./{text}" if text.lstrip().startswith("::") else text


def line_of(item: Finding, report: Report) -> str:
    loc = item.location
    where = f"{shown_path(loc.path)}:{loc.line}:{loc.column}:"
    severity = f"[{item.severity.label}]"
    color = report.color
    return (
        f"{_paint(where, _BOLD, color)} {_paint(item.code, _COLORS[item.severity], color)} "
        f"{_paint(severity, _COLORS[item.severity], color)} {visible(item.message)}"
    )


def source_excerpt(item: Finding, report: Report) -> list[str]:
    """The offending line with a caret under the value, as `--show-source` prints it."""
    loc = item.location
    lines = _lines(report, loc.path.as_posix())
    if not 1 <= loc.line <= len(lines):
        return []
    text = lines[loc.line - 1].expandtabs(1)
    start = min(loc.column - 1, len(text))
    # A literal password (S001) is the line's reason to be shown, and never shown itself;
    # each side of the value masked alone keeps the caret under it.
    before_value = hide_url_passwords(text[:start])
    text = before_value + hide_url_passwords(text[start:])
    start = len(before_value)
    end = start
    quote = text[start] if start < len(text) and text[start] in "'\"" else None
    if quote:
        close = text.find(quote, start + 1)
        end = close + 1 if close > start else len(text)
    else:
        while end < len(text) and text[end] not in _STOP:
            end += 1
    first = 0
    if len(text) > SOURCE_CHARS:
        first = max(0, min(start - _BEFORE, len(text) - SOURCE_CHARS))
    last = min(len(text), first + SOURCE_CHARS)
    lead = "…" if first > 0 else ""
    before = visible(text[first:start])
    value = visible(text[start : min(end, last)])
    shown = lead + before + value + visible(text[min(end, last) : last])
    if last < len(text):
        shown += "…"
    gutter = f"{loc.line:>5} | "
    caret = " " * (len(gutter) - 2) + "| " + " " * (len(lead) + len(before))
    return [
        _paint(gutter, _DIM, report.color) + shown,
        _paint(caret + "^" * max(1, len(value)), _COLORS[item.severity], report.color),
    ]


def _lines(report: Report, path: str) -> list[str]:
    for source in report.result.registry.files:
        if source.path.as_posix() == path:
            return source.lines
    return []


def summary(report: Report) -> str:
    result = report.result
    files = plural(result.files, "file")
    if not result.findings:
        return f"No findings in {files}."
    counts = []
    for severity, word in ((Severity.ERROR, "error"), (Severity.WARNING, "warning")):
        n = result.count(severity)
        counts.append(plural(n, word))
    counts.append(f"{result.count(Severity.INFO)} info")
    verdict = "failed" if result.failed(report.fail_on) else "passed"
    threshold = report.fail_on.label
    return f"Found {', '.join(counts)} in {files} (check {verdict}, failing on {threshold})."


def write(report: Report) -> str:
    out: list[str] = []
    for item in report.result.findings:
        out.append(line_of(item, report))
        if report.show_source:
            out.extend(source_excerpt(item, report))
    out.append(summary(report))
    return defuse("\n".join(out) + "\n")

"""`--format junit`: JUnit XML, one test case per finding, for CI test dashboards.

Findings at or above the failing level are failures; the rest pass, with their
message kept as output, so the dashboard agrees with the exit code.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from kpictl.catalog import RULES
from kpictl.formats import Report


def write(report: Report) -> str:
    result = report.result
    cases = []
    failures = 0
    for item in result.findings:
        loc = item.location
        where = f"{loc.path.as_posix()}:{loc.line}:{loc.column}"
        name = quoteattr(f"{item.code} {RULES[item.code].name} at {where}")
        classname = quoteattr(loc.path.as_posix())
        body = escape(f"{where}: {item.code} [{item.severity.label}] {item.message}")
        if item.severity >= report.fail_on:
            failures += 1
            cases.append(
                f"    <testcase classname={classname} name={name}>\n"
                f"      <failure type={quoteattr(item.severity.label)} "
                f"message={quoteattr(item.message)}>{body}</failure>\n"
                "    </testcase>"
            )
        else:
            cases.append(
                f"    <testcase classname={classname} name={name}>\n"
                f"      <system-out>{body}</system-out>\n"
                "    </testcase>"
            )
    if not cases:
        cases.append('    <testcase classname="kpictl" name="kpictl check"/>')
    tests = max(1, len(result.findings))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<testsuites name="kpictl" tests="{tests}" failures="{failures}">\n'
        f'  <testsuite name="kpictl check" tests="{tests}" failures="{failures}" errors="0">\n'
        + "\n".join(cases)
        + "\n  </testsuite>\n</testsuites>\n"
    )

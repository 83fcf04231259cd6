"""`--format junit`: JUnit XML, one test case per finding, for CI test dashboards.

Findings at or above the failing level are failures; the rest pass, with their
message kept as output, so the dashboard agrees with the exit code.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from kpictl.check.catalog import RULES
from kpictl.check.formats import Report
from kpictl.templating.escaping import XML_SHARP, defuse, visible


def case_names(report: Report) -> list[str]:
    """One test name per finding, from its rule, file and entity.

    Not the line or column: a dashboard tracks a test by its name across runs, and
    an edit higher up in the file must not turn one failure into a new one. Two
    findings that would share a name are numbered in the order they are reported.
    """
    names = []
    seen: dict[str, int] = {}
    for item in report.result.findings:
        name = f"{item.code} {RULES[item.code].name}: {item.location.path.as_posix()}"
        if item.entity:
            name += f" ({item.entity})"
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name} #{seen[name]}")
    return names


def write(report: Report) -> str:
    # XML 1.0 forbids most control characters even as character references, so
    # every text taken from the registry is spelled out with `visible` first.
    result = report.result
    cases = []
    failures = 0
    for item, case in zip(result.findings, case_names(report), strict=True):
        loc = item.location
        where = f"{loc.path.as_posix()}:{loc.line}:{loc.column}"
        name = quoteattr(visible(case))
        classname = quoteattr(visible(loc.path.as_posix()))
        message = visible(item.message)
        body = escape(f"{visible(where)}: {item.code} [{item.severity.label}] {message}")
        if item.severity >= report.fail_on:
            failures += 1
            cases.append(
                f"    <testcase classname={classname} name={name}>\n"
                f"      <failure type={quoteattr(item.severity.label)} "
                f"message={quoteattr(message)}>{body}</failure>\n"
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
    return defuse(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<testsuites name="kpictl" tests="{tests}" failures="{failures}">\n'
        f'  <testsuite name="kpictl check" tests="{tests}" failures="{failures}" errors="0">\n'
        + "\n".join(cases)
        + "\n  </testsuite>\n</testsuites>\n",
        XML_SHARP,
    )

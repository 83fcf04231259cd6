"""`kpictl check` output: text, --show-source, json, github, sarif, junit, --output, colour."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from kpictl.check.catalog import RULES
from tests.conftest import AS_OF, Result
from tests.helpers import Patch, Run, make

# Three findings, one per severity, in two files.
NEAR_MISS: Patch = ("source.yaml", "owner: ann", "owner: anne")  # R002 error, source.yaml:5:8
FUTURE_ONLY: Patch = (
    "kpi.yaml",
    "period: 2026-Q4",
    "period: 2027-Q1",
)  # T001 warning, kpi.yaml:20:3
BUSINESS: Patch = (
    "kpi.yaml",
    "audience: internal",
    "audience: business",
)  # L003 info, source.yaml:1:1

T001_LINE = (
    "kpi.yaml:20:3: T001 [warning] no target covers today (2026-11-20): "
    "add one for 2026-Q4, 2026 or 2026-11"
)
L003_LINE = (
    "source.yaml:1:1: L003 [info] 'crm' feeds business KPIs (mql) but has no fallback: "
    "name the source to use during an outage"
)
R002_LINE = (
    "source.yaml:5:8: R002 [error] owner names 'anne', which is not a person; did you mean 'ann'?"
)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def three(tmp_path: Path) -> Path:
    return make(tmp_path, NEAR_MISS, FUTURE_ONLY, BUSINESS)


def check(run: Run, root: Path, *options: str, cwd: Path | None = None) -> Result:
    return run("check", "--as-of", AS_OF, *options, cwd=cwd or root)


# --- text ----------------------------------------------------------------------------------


def test_text_lines_and_summary(run: Run, three: Path) -> None:
    result = check(run, three)
    assert result.out.splitlines() == [
        T001_LINE,
        L003_LINE,
        R002_LINE,
        "Found 1 error, 1 warning, 1 info in 8 files (check failed, failing on error).",
    ]
    assert (result.code, result.err) == (1, "")


def test_text_summary_counts_and_verdict(tmp_path: Path, run: Run) -> None:
    make(
        tmp_path,
        FUTURE_ONLY,
        ("source.yaml", "owner: ann", "owner: zed"),
        ("team.yaml", "lead: ann", "lead: zed"),
    )
    result = check(run, tmp_path)
    assert result.out.splitlines()[-1] == (
        "Found 2 errors, 1 warning, 0 info in 8 files (check failed, failing on error)."
    )
    make(tmp_path / "w", FUTURE_ONLY)
    result = check(run, tmp_path / "w")
    assert result.out.splitlines()[-1] == (
        "Found 0 errors, 1 warning, 0 info in 8 files (check passed, failing on error)."
    )
    result = check(run, tmp_path / "w", "--fail-on", "warning")
    assert result.out.splitlines()[-1] == (
        "Found 0 errors, 1 warning, 0 info in 8 files (check failed, failing on warning)."
    )


def test_text_no_findings(tmp_path: Path, run: Run) -> None:
    (tmp_path / "kpictl.yaml").write_text("version: 1\n")
    result = check(run, tmp_path)
    assert (result.code, result.out, result.err) == (0, "No findings in 1 file.\n", "")


def test_text_paths_are_relative_to_the_current_folder(run: Run, three: Path) -> None:
    result = check(run, three, str(three.name), cwd=three.parent)
    assert result.out.splitlines()[0] == f"{three.name}/{T001_LINE}"


def test_each_finding_is_one_line_even_when_a_value_has_a_newline(tmp_path: Path, run: Run) -> None:
    make(tmp_path, ("odd.yaml", None, 'kind: "te\\nam"\nid: x\n'))
    result = check(run, tmp_path)
    lines = result.out.splitlines()
    assert len(lines) == 2, result.out  # one finding, one summary
    assert lines[0].startswith("odd.yaml:1:7: S001 [error] unknown kind ")


# --- --show-source -------------------------------------------------------------------------


def test_show_source_puts_a_caret_under_the_value(run: Run, three: Path) -> None:
    result = check(run, three, "--show-source")
    assert result.out.splitlines() == [
        T001_LINE,
        "   20 |   - period: 2027-Q1",
        "      |   ^",
        L003_LINE,
        "    1 | kind: data_source",
        "      | ^^^^^",
        R002_LINE,
        "    5 | owner: anne",
        "      |        ^^^^",
        "Found 1 error, 1 warning, 1 info in 8 files (check failed, failing on error).",
    ]


@pytest.mark.parametrize(
    ("line", "caret"),
    [
        ('owner: "anne"', "      |        ^^^^^^"),
        ("owner: anne  # typo", "      |        ^^^^"),
    ],
)
def test_show_source_caret_width(tmp_path: Path, run: Run, line: str, caret: str) -> None:
    make(tmp_path, ("source.yaml", "owner: ann", line))
    result = check(run, tmp_path, "--show-source")
    assert result.out.splitlines()[1:3] == [f"    5 | {line}", caret]


def test_show_source_in_a_flow_list(tmp_path: Path, run: Run) -> None:
    make(tmp_path, ("kpi.yaml", "sources: [crm]", "sources: [crm, crn]"))
    result = check(run, tmp_path, "--show-source")
    assert result.out.splitlines()[:3] == [
        "kpi.yaml:15:16: R002 [error] sources[1] names 'crn', which is not a data source; "
        "did you mean 'crm'?",
        "   15 | sources: [crm, crn]",
        "      |                ^^^",
    ]


# --- json ----------------------------------------------------------------------------------


def test_json(run: Run, three: Path) -> None:
    result = check(run, three, "--format", "json")
    assert result.code == 1
    items = json.loads(result.out)
    assert [item["code"] for item in items] == ["T001", "L003", "R002"]
    r002 = items[2]
    assert {
        key: r002[key]
        for key in ("code", "name", "severity", "path", "line", "column", "message", "entity")
    } == {
        "code": "R002",
        "name": "unknown-reference",
        "severity": "error",
        "path": "source.yaml",
        "line": 5,
        "column": 8,
        "message": "owner names 'anne', which is not a person; did you mean 'ann'?",
        "entity": "crm",
    }
    assert [(i["name"], i["severity"], i["entity"]) for i in items[:2]] == [
        ("no-current-target", "warning", "mql"),
        ("source-without-fallback", "info", "crm"),
    ]


def test_json_entity_is_null_without_an_entity(tmp_path: Path, run: Run) -> None:
    make(tmp_path, ("bad.yaml", None, "kind: [\n"))
    (item,) = json.loads(check(run, tmp_path, "--format", "json").out)
    assert (item["code"], item["entity"]) == ("Y001", None)


def test_json_no_findings_is_an_empty_list(tmp_path: Path, run: Run) -> None:
    make(tmp_path)
    result = check(run, tmp_path, "--format", "json")
    assert (result.code, json.loads(result.out)) == (0, [])


def test_json_duplicate_id_points_at_the_other_place(tmp_path: Path, run: Run) -> None:
    make(tmp_path, ("zz.yaml", None, "kind: team\nid: ann\nname: A\nfunction: sales\n"))
    items = json.loads(check(run, tmp_path, "--format", "json").out)
    assert [(i["path"], i["line"], i["related"]) for i in items] == [
        ("people.yaml", 2, [{"path": "zz.yaml", "line": 2, "column": 5}]),
        ("zz.yaml", 2, [{"path": "people.yaml", "line": 2, "column": 5}]),
    ]


# --- github --------------------------------------------------------------------------------


def test_github_annotations_then_text(run: Run, three: Path) -> None:
    result = check(run, three, "--format", "github")
    assert result.out.splitlines() == [
        "::warning file=kpi.yaml,line=20,col=3,title=T001 no-current-target::"
        "no target covers today (2026-11-20): add one for 2026-Q4, 2026 or 2026-11",
        "::notice file=source.yaml,line=1,col=1,title=L003 source-without-fallback::"
        "'crm' feeds business KPIs (mql) but has no fallback: "
        "name the source to use during an outage",
        "::error file=source.yaml,line=5,col=8,title=R002 unknown-reference::"
        "owner names 'anne', which is not a person; did you mean 'ann'?",
        T001_LINE,
        L003_LINE,
        R002_LINE,
        "Found 1 error, 1 warning, 1 info in 8 files (check failed, failing on error).",
    ]
    assert result.code == 1


def test_github_escaping(tmp_path: Path, run: Run) -> None:
    # A file name with a comma and a colon; a value with a percent sign and a newline
    # (a message shows a line break in a value as \\n, so an annotation stays one line).
    make(tmp_path, ("a,b:c.yaml", None, 'kind: "50%\\nteam"\nid: x\n'))
    result = check(run, tmp_path, "--format", "github")
    annotation = result.out.splitlines()[0]
    assert annotation == (
        "::error file=a%2Cb%3Ac.yaml,line=1,col=7,title=S001 schema::unknown kind '50%25\\nteam': "
        "use one of person, team, data_source, kpi, escalation_policy, campaign, glossary_term, "
        "experiment "
        "(did you mean 'team'?)"
    )


def test_github_escapes_carriage_return(tmp_path: Path, run: Run) -> None:
    make(tmp_path, ("odd.yaml", None, 'kind: "a\\rb"\nid: x\n'))
    annotation = check(run, tmp_path, "--format", "github").out.splitlines()[0]
    assert "unknown kind 'a\\rb'" in annotation


def test_github_escape_functions() -> None:
    from kpictl.check.formats.github import escape_data, escape_property

    assert escape_data("50%\r\nx") == "50%25%0D%0Ax"
    assert escape_property("a,b:c%\n") == "a%2Cb%3Ac%25%0A"


@pytest.mark.parametrize(("value", "annotated"), [("true", True), ("false", False), ("", False)])
def test_github_is_the_default_on_github_actions(
    run: Run, three: Path, monkeypatch: pytest.MonkeyPatch, value: str, annotated: bool
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", value)
    out = check(run, three).out
    assert out.startswith("::warning file=kpi.yaml,line=20,col=3,") is annotated
    assert T001_LINE in out.splitlines()
    # --format still wins
    assert check(run, three, "--format", "json").out.startswith("[")


# --- sarif ---------------------------------------------------------------------------------


def test_sarif(run: Run, three: Path) -> None:
    result = check(run, three.parent, str(three), "--format", "sarif", cwd=three.parent)
    assert result.code == 1
    log = json.loads(result.out)
    assert log["version"] == "2.1.0"
    assert log["$schema"].startswith("https://") and "sarif" in log["$schema"]
    (sarif_run,) = log["runs"]
    driver = sarif_run["tool"]["driver"]
    assert driver["name"] == "kpictl"
    rules = driver["rules"]
    assert [rule["id"] for rule in rules] == list(RULES)
    for rule in rules:
        assert rule["shortDescription"]["text"] == RULES[rule["id"]].summary
        assert rule["name"] == RULES[rule["id"]].name
    results = sarif_run["results"]
    assert [(r["ruleId"], r["level"]) for r in results] == [
        ("T001", "warning"),
        ("L003", "note"),
        ("R002", "error"),
    ]
    for item in results:
        assert rules[item["ruleIndex"]]["id"] == item["ruleId"]
        assert item["message"]["text"]
    location = results[2]["locations"][0]["physicalLocation"]
    # Relative to the registry (it is in no git repository), not to where kpictl ran.
    assert location["artifactLocation"] == {"uri": "source.yaml", "uriBaseId": "%SRCROOT%"}
    assert location["region"] == {"startLine": 5, "startColumn": 8}
    for item in results:
        uri = item["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert not uri.startswith("/") and "\\" not in uri


def test_sarif_without_findings(tmp_path: Path, run: Run) -> None:
    make(tmp_path)
    log = json.loads(check(run, tmp_path, "--format", "sarif").out)
    assert log["runs"][0]["results"] == []


# --- junit ---------------------------------------------------------------------------------


def test_junit(run: Run, three: Path) -> None:
    result = check(run, three, "--format", "junit")
    assert result.code == 1
    root = ET.fromstring(result.out)
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == 3
    assert (root.get("tests"), root.get("failures")) == ("3", "1")
    assert (suite.get("tests"), suite.get("failures")) == ("3", "1")
    failed = [case for case in cases if case.find("failure") is not None]
    # Named by rule, file and entity (not line and column), so an edit above keeps the name.
    assert [case.get("name") for case in failed] == ["R002 unknown-reference: source.yaml (crm)"]
    failure = failed[0].find("failure")
    assert failure is not None
    assert (
        failure.get("message") == "owner names 'anne', which is not a person; did you mean 'ann'?"
    )
    assert failed[0].get("classname") == "source.yaml"


def test_junit_failures_follow_fail_on(run: Run, three: Path) -> None:
    root = ET.fromstring(check(run, three, "--format", "junit", "--fail-on", "info").out)
    assert (root.get("tests"), root.get("failures")) == ("3", "3")
    root = ET.fromstring(check(run, three, "--format", "junit", "--fail-on", "warning").out)
    assert root.get("failures") == "2"


def test_junit_clean_registry_has_one_passing_case(tmp_path: Path, run: Run) -> None:
    make(tmp_path)
    result = check(run, tmp_path, "--format", "junit")
    root = ET.fromstring(result.out)
    assert (root.get("tests"), root.get("failures")) == ("1", "0")
    assert root.find("testsuite/testcase/failure") is None
    assert result.code == 0


def test_junit_escapes_markup(tmp_path: Path, run: Run) -> None:
    make(tmp_path, ("odd.yaml", None, "kind: '<x & \"y\">'\nid: x\n"))
    root = ET.fromstring(check(run, tmp_path, "--format", "junit").out)
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None
    assert "unknown kind '<x & \"y\">'" in (failure.get("message") or "")


# --- --output ------------------------------------------------------------------------------


@pytest.mark.parametrize("output_format", ["text", "json", "github", "sarif", "junit"])
def test_output_file(run: Run, three: Path, tmp_path: Path, output_format: str) -> None:
    target = tmp_path / "report.out"
    result = check(run, three, "--format", output_format, "--output", str(target))
    assert (result.code, result.out, result.err) == (1, "", "")
    written = target.read_text(encoding="utf-8")
    expected = check(run, three, "--format", output_format).out
    assert written == expected
    assert "R002" in written


def test_output_file_in_a_missing_folder(run: Run, three: Path, tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "report.json"
    result = check(run, three, "--format", "json", "--output", str(target))
    assert result.code == 2
    assert result.out == ""
    assert result.err.startswith(f"kpictl: cannot write {target}")
    assert result.err.count("\n") == 1


# --- colour ----------------------------------------------------------------------------------


def test_colour_only_when_asked(run: Run, three: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = check(run, three).out
    assert not ANSI.search(plain)  # captured output is not a terminal
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("FORCE_COLOR", "1")
    coloured = check(run, three).out
    assert ANSI.search(coloured)
    assert ANSI.sub("", coloured) == plain


def test_no_color_wins(run: Run, three: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("NO_COLOR", "1")
    assert not ANSI.search(check(run, three).out)
    assert not ANSI.search(check(run, three, "--show-source").out)


def test_no_colour_in_files_or_machine_formats(
    run: Run, three: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("FORCE_COLOR", "1")
    target = tmp_path / "report.txt"
    check(run, three, "--output", str(target))
    assert not ANSI.search(target.read_text())
    for output_format in ("json", "github", "sarif", "junit"):
        assert not ANSI.search(check(run, three, "--format", output_format).out)


class _Stream:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    ("tty", "no_color", "expected"),
    [(True, None, True), (False, None, False), (True, "1", False), (True, "", True)],
)
def test_use_color(
    monkeypatch: pytest.MonkeyPatch, tty: bool, no_color: str | None, expected: bool
) -> None:
    from kpictl.cli import use_color

    monkeypatch.delenv("FORCE_COLOR", raising=False)
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    assert use_color(_Stream(tty)) is expected


def test_sarif_uri_does_not_depend_on_the_working_folder(tmp_path: Path, run: Run) -> None:
    from tests.conftest import write_registry

    root = write_registry(tmp_path / "reg", {"t.yaml": "kind: team\nid: t\n"})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run("check", str(root), "--format", "sarif", "--as-of", "2026-11-20", cwd=elsewhere)
    location = json.loads(result.out)["runs"][0]["results"][0]["locations"][0]
    assert location["physicalLocation"]["artifactLocation"] == {
        "uri": "t.yaml",
        "uriBaseId": "%SRCROOT%",
    }

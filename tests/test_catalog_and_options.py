"""The rule catalog as the one list of what runs, and the options every command shares.

- `check` runs only the rules that are on: --select, --ignore and `off` in
  kpictl.yaml decide which rule functions run, not only which findings show;
  an ignore comment for a rule that did not run is not reported as unused.
- Every date option goes through one parser (kpictl.cli.parse_date): the same forms
  are dates or moments everywhere, with the same messages.
- `--format` is an enum option in every command that has one: typer lists the
  values in --help and rejects any other value (exit 2) before the command runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from kpictl.check import rules
from kpictl.check.catalog import RULES
from kpictl.check.check import check
from kpictl.check.findings import Finding
from kpictl.check.rules import RULE_FUNCTIONS, Context
from kpictl.registry.registry import load_registry
from tests.conftest import EXAMPLE
from tests.helpers import TODAY, Patch, Run, make

# --- which rules run ----------------------------------------------------------------------

# Codes found while loading (YAML, schema, ids) or by the ignore comments themselves.
NOT_A_RULE_FUNCTION = {"Y001", "Y002", "Y003", "Y004", "Y005", "Y006", "S001", "R001", "X001"}
T001_AT_20: Patch = ("kpi.yaml", "period: 2026-Q4", "period: 2027-Q1")


def test_every_other_catalog_code_has_one_rule_function() -> None:
    assert set(RULE_FUNCTIONS) == set(RULES) - NOT_A_RULE_FUNCTION


@pytest.mark.parametrize(
    "patches",
    [
        pytest.param([], id="clean"),
        pytest.param(
            [
                T001_AT_20,
                ("team.yaml", "lead: ann\n", ""),
                ("kpi.yaml", "backup: bob", "backup: ann"),
            ],
            id="T001-O003-O001",
        ),
    ],
)
def test_a_rule_function_yields_only_its_own_code(tmp_path: Path, patches: list[Patch]) -> None:
    registry, _ = load_registry(make(tmp_path, *patches), tmp_path)
    ctx = Context(registry, TODAY)
    seen = {code: {item.code for item in rule(ctx)} for code, rule in RULE_FUNCTIONS.items()}
    assert {code: found for code, found in seen.items() if found - {code}} == {}


def test_the_example_registry_yields_only_declared_codes() -> None:
    registry, _ = load_registry(EXAMPLE, EXAMPLE)
    ctx = Context(registry, TODAY)
    for code, rule in RULE_FUNCTIONS.items():
        assert {item.code for item in rule(ctx)} <= {code}


def _explodes(ctx: Context) -> Iterator[Finding]:
    raise AssertionError("O004 ran although it is not on")
    yield  # a generator, like every rule


@pytest.mark.parametrize(
    ("args", "settings"),
    [
        pytest.param(["--select", "T001"], "version: 1\n", id="select-other"),
        pytest.param(["--select", "no-current-target"], "version: 1\n", id="select-by-name"),
        pytest.param(["--ignore", "O004"], "version: 1\n", id="ignore"),
        pytest.param(["--ignore", "owner-overload"], "version: 1\n", id="ignore-by-name"),
        pytest.param([], "version: 1\nrules:\n  O004: off\n", id="off-in-settings"),
        pytest.param([], "version: 1\nrules:\n  owner-overload: off\n", id="off-by-name"),
    ],
)
def test_a_rule_that_is_not_on_does_not_run(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch, args: list[str], settings: str
) -> None:
    monkeypatch.setitem(rules.RULE_FUNCTIONS, "O004", _explodes)
    root = make(tmp_path / "reg", T001_AT_20, settings=settings)
    result = run("check", str(root), "--as-of", "2026-11-20", *args, cwd=tmp_path)
    assert (result.code, result.err) == (0, "")
    assert result.out.splitlines()[0].startswith("reg/kpi.yaml:20:")
    assert " T001 " in result.out.splitlines()[0]


def test_the_exploding_rule_does_run_when_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The control for the test above: the patched rule is the one `check` calls.
    monkeypatch.setitem(rules.RULE_FUNCTIONS, "O004", _explodes)
    root = make(tmp_path, T001_AT_20)
    with pytest.raises(AssertionError, match="O004 ran although it is not on"):
        check(root, today=TODAY, select={"O004"})


# --- X001 knows which rules ran -----------------------------------------------------------

UNUSED_O004: Patch = ("kpi.yaml", "name: MQLs", "name: MQLs  # kpictl: ignore[O004]")
USED_T001: Patch = ("kpi.yaml", "period: 2026-Q4", "period: 2027-Q1  # kpictl: ignore[T001]")
EXPIRED_T001: Patch = (
    "kpi.yaml",
    "period: 2026-Q4",
    "period: 2027-Q1  # kpictl: ignore[T001] until 2026-11-01",
)
T001_OFF = "version: 1\nrules:\n  T001: off\n"
O004_OFF = "version: 1\nrules:\n  O004: off\n"
UNUSED_MESSAGE = "ignore[O004] matches no finding on line 3: remove the comment"
EXPIRED_MESSAGE = (
    "ignore[T001] expired on 2026-11-01: the finding is reported again; "
    "fix it, or extend the date with a reason"
)


V1 = "version: 1\n"
UNUSED = [("X001", 3, UNUSED_MESSAGE)]
EXPIRED = [("X001", 20, EXPIRED_MESSAGE)]

# fmt: off
X001_CASES = [
    # O004 did not run, so nobody can say its ignore is unused.
    pytest.param(UNUSED_O004, {"X001"}, set(), V1, [], id="select-X001-rule-not-run"),
    pytest.param(UNUSED_O004, set(), {"O004"}, V1, [], id="ignored-rule-not-run"),
    pytest.param(UNUSED_O004, set(), set(), O004_OFF, [], id="off-rule-not-run"),
    # The rule ran: the ignore is judged as before.
    pytest.param(UNUSED_O004, {"X001", "O004"}, set(), V1, UNUSED, id="select-both"),
    pytest.param(UNUSED_O004, set(), set(), V1, UNUSED, id="everything"),
    pytest.param(USED_T001, {"X001"}, set(), V1, [], id="used-not-run"),
    pytest.param(USED_T001, set(), set(), T001_OFF, [], id="used-off"),
    pytest.param(USED_T001, {"X001", "T001"}, set(), V1, [], id="used-and-ran"),
    # An expired date is reported whether or not its rule ran.
    pytest.param(EXPIRED_T001, {"X001"}, set(), V1, EXPIRED, id="expired-not-run"),
]
# fmt: on


@pytest.mark.parametrize(("patch", "select", "ignore", "settings", "expected"), X001_CASES)
def test_x001_counts_only_rules_that_ran(
    tmp_path: Path,
    patch: Patch,
    select: set[str],
    ignore: set[str],
    settings: str,
    expected: list[tuple[str, int, str]],
) -> None:
    root = make(tmp_path, patch, settings=settings)
    result = check(root, today=TODAY, select=select, ignore=ignore, cwd=root)
    found = [(item.code, item.location.line, item.message) for item in result.findings]
    assert found == expected


def test_select_gives_the_findings_of_a_full_run_of_those_codes(tmp_path: Path) -> None:
    root = make(tmp_path, T001_AT_20, ("team.yaml", "lead: ann\n", ""), UNUSED_O004)
    full = check(root, today=TODAY, cwd=root).findings
    assert sorted({item.code for item in full}) == ["O003", "T001", "X001"]
    for select in ({"T001"}, {"O003"}, {"T001", "O003"}, {"O003", "X001", "O004"}):
        picked = check(root, today=TODAY, select=select, cwd=root).findings
        assert picked == [item for item in full if item.code in select]


# --- --format: one enum per command -------------------------------------------------------

# (command and the arguments it needs to get as far as parsing, the values in order)
FORMAT_COMMANDS = [
    pytest.param(["check"], "text|json|github|sarif|junit", id="check"),
    pytest.param(["status", "-a", "x.csv"], "text|markdown|json|csv|html", id="status"),
    pytest.param(["map"], "text|markdown|mermaid|dot|json|html", id="map"),
    pytest.param(["who", "ann"], "text|markdown|json", id="who"),
    pytest.param(["diff"], "text|markdown|json", id="diff"),
    pytest.param(["changelog", "mql"], "text|markdown|json", id="changelog"),
    pytest.param(["drill", "mql"], "text|json", id="drill"),
]


@pytest.mark.parametrize(("args", "values"), FORMAT_COMMANDS)
def test_help_lists_the_formats(run: Run, args: list[str], values: str) -> None:
    result = run(args[0], "--help")
    assert (result.code, result.err) == (0, "")
    assert f"-f, --format <{values}>" in result.out


@pytest.mark.parametrize(("args", "values"), FORMAT_COMMANDS)
@pytest.mark.parametrize("option", ["-f", "--format"])
def test_an_unknown_format_is_a_usage_error(
    tmp_path: Path, run: Run, args: list[str], values: str, option: str
) -> None:
    # Run in an empty folder: typer refuses the value before any registry is looked for.
    result = run(*args, option, "pdf", cwd=tmp_path)
    choices = ", ".join(f"'{value}'" for value in values.split("|"))
    assert result.code == 2
    assert result.out == ""
    assert result.err.startswith(f"Usage: kpictl {args[0]} [OPTIONS]")
    assert result.err.endswith(
        f"\n\nError: Invalid value for '-f' / '--format': Value error, 'pdf' is not one of "
        f"{choices}.\n"
    )


# (the enum, the module whose templates render it, their table; json is written by code)
RENDERERS = [
    pytest.param(
        "StatusFormat", "kpictl.numbers.status", "TEMPLATES", {"json", "csv"}, id="status"
    ),
    pytest.param("MapFormat", "kpictl.views.output", "MAP_TEMPLATES", {"json"}, id="map"),
    pytest.param("WhoFormat", "kpictl.views.output", "WHO_TEMPLATES", {"json"}, id="who"),
    pytest.param("DiffFormat", "kpictl.history.diff_output", "DIFF_TEMPLATES", {"json"}, id="diff"),
    pytest.param(
        "ChangelogFormat",
        "kpictl.history.changelog",
        "CHANGELOG_TEMPLATES",
        {"json"},
        id="changelog",
    ),
]


@pytest.mark.parametrize(("enum_name", "module", "table", "by_code"), RENDERERS)
def test_every_format_an_option_takes_has_a_renderer(
    enum_name: str, module: str, table: str, by_code: set[str]
) -> None:
    import importlib

    from kpictl import output_formats

    values = {item.value for item in getattr(output_formats, enum_name)}
    assert set(getattr(importlib.import_module(module), table)) | by_code == values


def test_every_check_format_has_a_writer() -> None:
    from kpictl.check.formats import writer
    from kpictl.output_formats import CheckFormat

    assert all(callable(writer(item.value)) for item in CheckFormat)


# --- date options: one parser -------------------------------------------------------------

NOT_A_DATE = "is not a date: use YYYY-MM-DD"
NOT_A_MOMENT = (
    "is not a date or date-time: use YYYY-MM-DD (09:00), "
    "YYYY-MM-DDTHH:MM (registry time zone) or YYYY-MM-DDTHH:MM+01:00"
)


CET = timezone(timedelta(hours=1))

# fmt: off
PARSE_CASES = [
    ("2026-11-20", False, date(2026, 11, 20)),
    ("20261120", False, date(2026, 11, 20)),
    ("2026-11-20", True, date(2026, 11, 20)),
    # A date stays a date where a time is allowed: 09:00 that day, not midnight.
    ("20261120", True, date(2026, 11, 20)),
    ("2026-11-20T08:30", True, datetime(2026, 11, 20, 8, 30)),
    ("2026-11-20 08:30", True, datetime(2026, 11, 20, 8, 30)),
    ("2026-11-20T08:30+01:00", True, datetime(2026, 11, 20, 8, 30, tzinfo=CET)),
]
# fmt: on


@pytest.mark.parametrize(("value", "with_time", "expected"), PARSE_CASES)
def test_parse_date(value: str, with_time: bool, expected: date) -> None:
    from kpictl.cli import parse_date

    parsed = parse_date(value, "--x", with_time=with_time)
    assert (type(parsed), parsed) == (type(expected), expected)


# (command line without the option's value, option, takes a time)
DATE_OPTIONS = [
    pytest.param(["check", "--as-of"], "--as-of", False, id="check"),
    pytest.param(["map", "--as-of"], "--as-of", False, id="map"),
    pytest.param(["who", "ann", "--as-of"], "--as-of", False, id="who"),
    pytest.param(["calendar", "--from"], "--from", False, id="calendar-from"),
    pytest.param(["calendar", "--to"], "--to", False, id="calendar-to"),
    pytest.param(["status", "-a", "a.csv", "--as-of"], "--as-of", True, id="status"),
    pytest.param(["escalate", "-a", "a.csv", "--as-of"], "--as-of", True, id="escalate"),
    pytest.param(["kickoff", "spring-push", "--as-of"], "--as-of", True, id="kickoff"),
    pytest.param(
        ["readout", "spring-push", "-a", "a.csv", "--as-of"], "--as-of", True, id="readout"
    ),
    pytest.param(["recap", "spring-push", "-a", "a.csv", "--as-of"], "--as-of", True, id="recap"),
    pytest.param(["drill", "mql", "--outage", "--at"], "--at", True, id="drill"),
]


@pytest.mark.parametrize(("command", "option", "with_time"), DATE_OPTIONS)
@pytest.mark.parametrize("value", ["next tuesday", "2026-11-20T25:00", "2026-02-30"])
def test_a_bad_date_is_one_usage_error_everywhere(
    tmp_path: Path, run: Run, command: list[str], option: str, with_time: bool, value: str
) -> None:
    root = make(tmp_path)
    result = run(*command, value, cwd=root)
    expected = NOT_A_MOMENT if with_time else NOT_A_DATE
    assert (result.code, result.out) == (2, "")
    assert result.err.splitlines()[-1] == f"Error: Invalid value for {option}: '{value}' {expected}"


@pytest.mark.parametrize(("command", "option", "with_time"), DATE_OPTIONS)
def test_a_date_time_is_taken_only_where_a_moment_is_meant(
    tmp_path: Path, run: Run, command: list[str], option: str, with_time: bool
) -> None:
    root = make(tmp_path)
    result = run(*command, "2026-11-20T09:00", cwd=root)
    if with_time:
        assert f"Invalid value for {option}" not in result.err
    else:
        assert (result.code, result.err.splitlines()[-1]) == (
            2,
            f"Error: Invalid value for {option}: '2026-11-20T09:00' {NOT_A_DATE}",
        )


def test_drill_reads_the_option_before_looking_for_the_registry(tmp_path: Path, run: Run) -> None:
    result = run("drill", "mql", str(tmp_path / "missing"), "--outage", "--at", "soon")
    assert (result.code, result.err.splitlines()[-1]) == (
        2,
        f"Error: Invalid value for --at: 'soon' {NOT_A_MOMENT}",
    )


@pytest.mark.parametrize("value", ["20261120", "2026-11-20", "2026-11-20T09:00"])
def test_drill_at_a_date_starts_at_nine_like_status(run: Run, value: str) -> None:
    # 20261120 is a date to Python: it meant 09:00 to status and midnight to drill.
    result = run("drill", "mql", str(EXAMPLE), "--outage", "--at", value, "-f", "json")
    assert (result.code, result.err) == (0, "")
    assert json.loads(result.out)["started_at"] == "2026-11-20T09:00:00+01:00"

"""Experiments: rules A001-A005 and their references, `kpictl experiments`, and where
experiments show up elsewhere (the map's KPI detail, the campaign recap).

Rule cases are yamllint style: BASE plus an experiment, one change per case, the
(code, file, line) expected. The check runs as of 2026-11-20.
"""

# ruff: noqa: E501  (case tables: one case per line)

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kpictl.check.rules.experiments import placeholder
from tests.conftest import AS_OF, EXAMPLE, assert_golden
from tests.helpers import INACTIVE_CARL, Patch, Run, findings, make, messages

# Lines: 4 status, 6 kpi, 7 campaign, 8 owner, 10 control, 11 decision_rule,
# 12 timeline, 13 start, 14 end.
EXPERIMENT = """\
kind: experiment
id: fast-follow-up
name: Next-day follow-up
status: running
hypothesis: Following up the next day raises MQLs.
kpi: mql
campaign: spring-push
owner: ann
baseline: {value: 80, period: 2026-Q3}
control: Leads followed up in three to five days
decision_rule: Adopt if MQLs rise 10% after 200 leads per arm.
timeline:
  start: 2026-10-01
  end: 2026-11-15
"""
# Lines 15-18 once added.
RESULT = "result:\n  value: 95\n  decision: adopt\n  learnings: [Speed matters]\n"
ADD: Patch = ("experiment.yaml", None, EXPERIMENT)
CONCLUDED: Patch = ("experiment.yaml", "status: running", "status: concluded")
WITH_RESULT: Patch = ("experiment.yaml", "  end: 2026-11-15\n", "  end: 2026-11-15\n" + RESULT)


ACTUALS = str(EXAMPLE / "actuals" / "2026-11-20.csv")


def edit(old: str, new: str) -> Patch:
    return ("experiment.yaml", old, new)


CONTROL = "control: Leads followed up in three to five days"
RULE = "decision_rule: Adopt if MQLs rise 10% after 200 leads per arm."

# fmt: off
RULE_CASES = [
    pytest.param([ADD], [], id="running-ok"),
    pytest.param([ADD, CONCLUDED, WITH_RESULT], [], id="concluded-ok"),
    # A001 experiment-without-control: blank or a placeholder, once running or concluded
    pytest.param([ADD, edit(CONTROL, "control: TBD")], [("A001", "experiment.yaml", 10)], id="A001-tbd"),
    pytest.param([ADD, edit(CONTROL, 'control: ""')], [("A001", "experiment.yaml", 10)], id="A001-blank"),
    pytest.param([ADD, edit(CONTROL, "control: '-'")], [("A001", "experiment.yaml", 10)], id="A001-dash"),
    pytest.param([ADD, CONCLUDED, WITH_RESULT, edit(CONTROL, "control: n/a")], [("A001", "experiment.yaml", 10)], id="A001-concluded"),
    pytest.param([ADD, edit("status: running", "status: planned"), edit(CONTROL, "control: TBD")], [], id="A001-planned-may-wait"),
    pytest.param([ADD, edit("status: running", "status: abandoned"), edit(CONTROL, "control: TBD")], [], id="A001-abandoned"),
    pytest.param([ADD, edit(CONTROL, "control: TBD  # kpictl: ignore[A001]")], [], id="A001-suppressed"),
    # A002 experiment-without-decision-rule
    pytest.param([ADD, edit(RULE, "decision_rule: todo")], [("A002", "experiment.yaml", 11)], id="A002-todo"),
    pytest.param([ADD, edit(RULE, "decision_rule: '...'")], [("A002", "experiment.yaml", 11)], id="A002-dots"),
    pytest.param([ADD, edit(RULE, "decision_rule: To be decided.")], [("A002", "experiment.yaml", 11)], id="A002-words"),
    # A003 concluded-without-result: at the entity
    pytest.param([ADD, CONCLUDED], [("A003", "experiment.yaml", 1)], id="A003"),
    pytest.param([ADD, edit("status: running", "status: abandoned")], [], id="A003-abandoned-ok"),
    # A004 result-before-end: a result on a running or planned test; a concluded one ending after today
    pytest.param([ADD, WITH_RESULT], [("A004", "experiment.yaml", 15)], id="A004-running"),
    pytest.param([ADD, edit("status: running", "status: planned"), WITH_RESULT], [("A004", "experiment.yaml", 15)], id="A004-planned"),
    pytest.param([ADD, CONCLUDED, WITH_RESULT, edit("end: 2026-11-15", "end: 2026-12-15")], [("A004", "experiment.yaml", 14)], id="A004-end-after-today"),
    pytest.param([ADD, CONCLUDED, WITH_RESULT, edit("end: 2026-11-15", "end: 2026-11-20")], [], id="A004-ends-today-ok"),
    pytest.param([ADD, CONCLUDED, WITH_RESULT, edit("  end: 2026-11-15\n", "")], [], id="A004-no-end-ok"),
    # A005 experiment-ends-before-start
    pytest.param([ADD, edit("end: 2026-11-15", "end: 2026-09-30")], [("A005", "experiment.yaml", 14)], id="A005"),
    # References: R002 with did-you-mean, O002 for an inactive owner
    pytest.param([ADD, edit("kpi: mql", "kpi: mqll")], [("R002", "experiment.yaml", 6)], id="R002-kpi"),
    pytest.param([ADD, edit("kpi: mql", "kpi: crm")], [("R002", "experiment.yaml", 6)], id="R002-kpi-wrong-kind"),
    pytest.param([ADD, edit("campaign: spring-push", "campaign: spring")], [("R002", "experiment.yaml", 7)], id="R002-campaign"),
    pytest.param([ADD, edit("owner: ann", "owner: demand-gen")], [("R002", "experiment.yaml", 8)], id="R002-owner-team"),
    pytest.param([ADD, ("carl.yaml", None, INACTIVE_CARL), edit("owner: ann", "owner: carl")], [("O002", "experiment.yaml", 8)], id="O002-owner"),
    # S001 from the schema: missing required field, baseline period malformed
    pytest.param([ADD, edit(CONTROL + "\n", "")], [("S001", "experiment.yaml", 1)], id="S001-no-control"),
    pytest.param([ADD, edit("period: 2026-Q3", "period: Q3")], [("S001", "experiment.yaml", 9)], id="S001-baseline-period"),
]
# fmt: on


@pytest.mark.parametrize(("patches", "expected"), RULE_CASES)
def test_rule(tmp_path: Path, patches: list[Patch], expected: list[tuple[str, str, int]]) -> None:
    make(tmp_path, *patches)
    assert findings(tmp_path) == expected


def test_messages_say_what_to_do(tmp_path: Path) -> None:
    make(tmp_path, ADD, edit(CONTROL, "control: TBD"), edit(RULE, 'decision_rule: ""'))
    assert messages(tmp_path, "A001") == [
        "the experiment is running but its control is a placeholder: say what the test is "
        "compared with (the group or period left as it was)"
    ]
    assert messages(tmp_path, "A002") == [
        "the experiment is running but its decision rule is blank: write down, before the "
        "result is in, what result means adopt and what means reject"
    ]


def test_a003_a004_a005_messages(tmp_path: Path) -> None:
    make(tmp_path / "a", ADD, CONCLUDED)
    assert messages(tmp_path / "a", "A003") == [
        "the experiment is concluded but has no result: add result with value, decision "
        "(adopt, reject or inconclusive) and learnings"
    ]
    make(tmp_path / "b", ADD, WITH_RESULT)
    assert messages(tmp_path / "b", "A004") == [
        "a result is recorded but the experiment is still running: set status: concluded "
        "when the test is over, or remove the result"
    ]
    make(tmp_path / "c", ADD, CONCLUDED, WITH_RESULT, edit("end: 2026-11-15", "end: 2026-12-15"))
    assert messages(tmp_path / "c", "A004") == [
        "the experiment is concluded with a result, but its timeline runs until 2026-12-15: "
        "a result read before the end decides on part of the data; set timeline.end to the "
        "day the test stopped"
    ]
    make(tmp_path / "d", ADD, edit("end: 2026-11-15", "end: 2026-09-30"))
    assert messages(tmp_path / "d", "A005") == [
        "the experiment ends (2026-09-30) before it starts (2026-10-01)"
    ]


def test_r002_suggests_the_closest_kpi(tmp_path: Path) -> None:
    make(tmp_path, ADD, edit("kpi: mql", "kpi: mqll"))
    assert messages(tmp_path, "R002") == [
        "kpi names 'mqll', which is not a KPI; did you mean 'mql'?"
    ]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ([], ["A001", "A004"]),
        (["--select", "A001"], ["A001"]),
        (["--ignore", "result-before-end"], ["A001"]),
    ],
)
def test_select_and_ignore(
    tmp_path: Path, run: Run, options: list[str], expected: list[str]
) -> None:
    make(tmp_path, ADD, edit(CONTROL, "control: TBD"), WITH_RESULT)
    result = run("check", str(tmp_path), "--as-of", AS_OF, "--format", "json", *options)
    assert [item["code"] for item in json.loads(result.out)] == expected


def test_severity_override_by_name(tmp_path: Path) -> None:
    make(tmp_path, ADD, CONCLUDED, settings="version: 1\nrules:\n  concluded-without-result: off\n")
    assert findings(tmp_path) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("TBD", True),
        ("  tbd.  ", True),
        ("To be decided", True),
        ("-", True),
        ("…", True),
        ("N/A", True),
        ("", True),
        ("Leads followed up in five days", False),
        ("None of the usual follow-up", False),
    ],
)
def test_placeholder(text: str, expected: bool) -> None:
    assert placeholder(text) is expected


# --------------------------------------------------------------------------------------
# `kpictl experiments`
# --------------------------------------------------------------------------------------

EXPERIMENT_FORMATS = {"text": "txt", "markdown": "md", "json": "json"}


@pytest.mark.parametrize("output_format", EXPERIMENT_FORMATS)
def test_experiments_golden(run: Run, output_format: str) -> None:
    result = run("experiments", str(EXAMPLE), "-f", output_format, "--as-of", AS_OF)
    assert (result.code, result.err) == (0, "")
    assert_golden(f"experiments/example.{EXPERIMENT_FORMATS[output_format]}", result.out)


def test_concluded_only_is_the_knowledge_base(run: Run) -> None:
    result = run(
        "experiments", str(EXAMPLE), "--status", "concluded", "-f", "markdown", "--as-of", AS_OF
    )
    assert (result.code, result.err) == (0, "")
    assert_golden("experiments/concluded.md", result.out)


def test_filters_combine(run: Run) -> None:
    result = run(
        "experiments", str(EXAMPLE), "--kpi", "sql", "--kpi", "mql-to-sql-rate",
        "--status", "running", "-f", "json", "--as-of", AS_OF,
    )  # fmt: skip
    data = json.loads(result.out)
    assert (result.code, data["filters"], data["total_experiments"]) == (
        0,
        {"status": ["running"], "kpi": ["sql", "mql-to-sql-rate"]},
        3,
    )
    assert data["groups"] == [
        {
            "status": "running",
            "kpis": [{"kpi": "sql", "experiments": ["migration-assessment-offer"]}],
        }
    ]


def test_nothing_to_show(run: Run) -> None:
    result = run("experiments", str(EXAMPLE), "--kpi", "nrr", "--as-of", AS_OF)
    assert (result.code, result.out, result.err) == (
        0,
        "Experiments: Northwind Analytics\n0 experiments of 3\n\nNo experiments to show.\n",
        "",
    )


@pytest.mark.parametrize(
    ("args", "err"),
    [
        (["--kpi", "sqll"], "kpictl: no KPI has the id 'sqll'; did you mean 'sql'?\n"),
        (["--kpi", "crm"], "kpictl: no KPI has the id 'crm'\n"),
    ],
)
def test_unknown_kpi_exits_2(run: Run, args: list[str], err: str) -> None:
    result = run("experiments", str(EXAMPLE), *args)
    assert (result.code, result.out, result.err) == (2, "", err)


def test_unknown_status_exits_2(run: Run) -> None:
    result = run("experiments", str(EXAMPLE), "--status", "done")
    assert result.code == 2
    assert (
        "Invalid value for --status: 'done' is not an experiment status: use planned, "
        "running, concluded, abandoned" in result.err
    )


def test_values_are_escaped(run: Run, tmp_path: Path) -> None:
    hostile = EXPERIMENT.replace(
        "hypothesis: Following up the next day raises MQLs.",
        'hypothesis: "<b>*Next*</b> \\x1b[31m red"',
    )
    make(tmp_path, ("experiment.yaml", None, hostile))
    text = run("experiments", str(tmp_path), "--as-of", AS_OF)
    assert (text.code, text.err) == (0, "")
    # The escape character is dropped: nothing reaches the terminal that could steer it.
    assert "    Hypothesis     <b>*Next*</b> [31m red\n" in text.out
    markdown = run("experiments", str(tmp_path), "-f", "markdown", "--as-of", AS_OF)
    assert "- Hypothesis: &lt;b&gt;\\*Next\\*&lt;/b&gt; \\[31m red\n" in markdown.out


def test_map_kpi_detail_lists_experiments(run: Run) -> None:
    result = run("map", str(EXAMPLE), "--kpi", "mql-to-sql-rate", "--as-of", AS_OF)
    assert (
        "  Experiments\n"
        "    concluded  webinar-next-day-followup: Next-day SDR follow-up for live webinar "
        "questions; adopted, 41% against 28%\n"
    ) in result.out
    data = json.loads(run("map", str(EXAMPLE), "--kpi", "sql", "-f", "json").out)
    assert data["kpis"][0]["experiments"] == [
        {"id": "migration-assessment-offer", "status": "running", "decision": None}
    ]


def test_recap_lists_the_campaigns_experiments(run: Run) -> None:
    result = run(
        "recap", "q4-legacy-bi-displacement", str(EXAMPLE), "-a", ACTUALS, "--as-of", AS_OF
    )
    assert (
        "WHAT WE TESTED\n"
        "  - Free migration assessment instead of a demo (Sales Qualified Leads): running "
        "until Fri 18 Dec 2026; it will be decided by this rule: Adopt for all displacement "
        "outreach if the assessment arm produces at least 25% more SQLs per account after "
        "150 offers per arm; reject if fewer.\n"
    ) in result.out


# --------------------------------------------------------------------------------------
# Authoring: `new experiment`, `fmt`
# --------------------------------------------------------------------------------------


def test_new_experiment(run: Run, tmp_path: Path) -> None:
    root = make(tmp_path)
    result = run(
        "new", "experiment", "fast-follow-up", str(root),
        "-F", "name=Next-day follow-up", "-F", "status=planned",
        "-F", "hypothesis=Following up the next day raises MQLs.", "-F", "kpi=mql",
        "-F", "owner=ann", "-F", "control=Follow-up in five days",
        "-F", "decision_rule=Adopt if MQLs rise 10%.", "-F", "timeline.start=2026-12-01",
    )  # fmt: skip
    assert (result.code, result.err) == (0, "")
    assert (root / "experiments" / "fast-follow-up.yaml").read_text(encoding="utf-8") == (
        "kind: experiment\nid: fast-follow-up\nname: Next-day follow-up\nstatus: planned\n"
        "hypothesis: Following up the next day raises MQLs.\nkpi: mql\nowner: ann\n"
        "control: Follow-up in five days\ndecision_rule: Adopt if MQLs rise 10%.\n"
        "timeline:\n  start: 2026-12-01\n"
    )
    assert findings(root) == []


def test_new_experiment_says_what_each_field_wants(run: Run, tmp_path: Path) -> None:
    result = run("new", "experiment", "x", str(make(tmp_path)), "-F", "name=X")
    assert (result.code, result.err) == (
        2,
        "kpictl: missing required fields for an experiment (no terminal to ask on):\n"
        "  --field status=...  (planned | running | concluded | abandoned)\n"
        "  --field hypothesis=...  (what you expect to change, and why)\n"
        "  --field kpi=...  (the id of the KPI it means to move)\n"
        "  --field owner=...  (a person id)\n"
        "  --field control=...  (what the test is compared with)\n"
        "  --field decision_rule=...  (which result means adopt, which reject)\n"
        "  --field timeline.start=...  (YYYY-MM-DD)\n",
    )


def test_fmt_orders_experiment_keys() -> None:
    from kpictl.authoring.yamlfmt import format_text

    scrambled = (
        "result: {learnings: [Fast wins], decision: adopt, value: 41}\n"
        "timeline: {end: 2026-08-31, start: 2026-06-01}\n"
        "decision_rule: Adopt at +5 points.\ncontrol: Usual follow-up\n"
        "baseline: {period: 2026-Q2, value: 28}\nowner: ann\ncampaign: spring-push\n"
        "kpi: mql\nhypothesis: Faster is better.\nstatus: concluded\nname: Fast\n"
        "labels: {team: sdr}\nid: fast\nkind: experiment\n"
    )
    assert format_text(scrambled) == (
        "kind: experiment\nid: fast\nname: Fast\nstatus: concluded\n"
        "hypothesis: Faster is better.\nkpi: mql\ncampaign: spring-push\nowner: ann\n"
        "baseline: {value: 28, period: 2026-Q2}\ncontrol: Usual follow-up\n"
        "decision_rule: Adopt at +5 points.\ntimeline: {start: 2026-06-01, end: 2026-08-31}\n"
        "result: {value: 41, decision: adopt, learnings: [Fast wins]}\nlabels: {team: sdr}\n"
    )


def test_help_lists_the_formats(run: Run) -> None:
    result = run("experiments", "--help")
    assert (result.code, result.err) == (0, "")
    assert "-f, --format <text|markdown|json>" in result.out


def test_a_bad_date_is_a_usage_error(run: Run) -> None:
    result = run("experiments", str(EXAMPLE), "--as-of", "2026-02-30")
    assert (result.code, result.out) == (2, "")
    assert "--as-of" in result.err

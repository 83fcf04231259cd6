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
from tests.conftest import AS_OF
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

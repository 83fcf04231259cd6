"""`kpictl drill`: the tabletop exercise of a KPI's escalation policy."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kpictl.authoring.drill import build_drill, start_moment
from kpictl.registry.registry import load_registry
from tests.conftest import EXAMPLE, Run, assert_golden, write_registry
from tests.helpers import kpi_doc, source_doc


@pytest.mark.parametrize(
    ("golden", "args"),
    [
        ("mql-deviation-18.txt", ["mql", "--deviation", "18", "--at", "2026-11-20T09:00"]),
        (
            "mql-deviation-18.json",
            ["mql", "--deviation", "18", "--at", "2026-11-20T09:00", "-f", "json"],
        ),
        ("pipeline-outage.txt", ["pipeline-sourced", "--outage", "--at", "2026-11-20T16:30"]),
        (
            "pipeline-outage.json",
            ["pipeline-sourced", "--outage", "--at", "2026-11-20T16:30", "--format", "json"],
        ),
        ("nrr-below-threshold.txt", ["nrr", "--deviation", "1.5", "--at", "2026-11-20"]),
    ],
)
def test_example_registry(run: Run, golden: str, args: list[str]) -> None:
    result = run("drill", args[0], str(EXAMPLE), *args[1:])
    assert result.code == 0, result.err
    assert result.err == ""
    assert_golden(f"drill/{golden}", result.out)


def test_json_shape(run: Run) -> None:
    result = run(
        "drill", "mql", str(EXAMPLE), "--deviation", "40", "--at", "2026-11-20T09:00", "-f", "json"
    )
    data = json.loads(result.out)
    assert [step["level"] for step in data["steps"]] == [3]
    step = data["steps"][0]
    assert step["fires_at"] == "2026-11-20T09:00:00+01:00"
    assert step["respond_by"] == "2026-11-21T09:00:00+01:00"
    assert [p["id"] for p in step["notified"]] == ["jonas-keller", "priya-raman", "marcus-webb"]
    assert [p["code"] for p in data["problems"]] == ["weekend-deadline"]


POLICIES = """\
kind: escalation_policy
id: broken
name: Broken ladder
tiers:
  - level: 1
    name: Owner review
    deviation_pct: 5
    respond_within: 24h
    notify: [$owner, carl]
    approver: $owner
  - level: 2
    name: Nobody home
    deviation_pct: 15
    respond_within: 2d
    notify: [carl, $owner.manager, leadless]
    approver: carl
---
kind: escalation_policy
id: sticky
name: Same inbox every time
tiers:
  - level: 1
    name: First
    deviation_pct: 5
    respond_within: 4h
    notify: [$owner, $backup]
    approver: $owner
  - level: 2
    name: Second
    deviation_pct: 10
    respond_within: 4h
    notify: [$owner, team-a]
    approver: bob
"""

KPIS = (
    kpi_doc(
        "leads",
        "Leads",
        "New leads.",
        "count(leads)",
        escalation="broken",
        stage="awareness",
        paced=False,
        target=None,
    )
    + "---\n"
    + kpi_doc(
        "demos",
        "Demos",
        "Demo requests.",
        "count(demos)",
        escalation="sticky",
        paced=False,
        target=None,
    )
)

PEOPLE = """\
kind: person
id: ann
name: Ann Lee
email: ann@acme.example
team: team-a
---
kind: person
id: bob
name: Bob Ray
email: bob@acme.example
team: team-a
---
kind: person
id: carl
name: Carl Doe
email: carl@acme.example
team: team-a
active: false
---
kind: team
id: team-a
name: Team A
function: marketing
lead: ann
---
kind: team
id: leadless
name: No lead yet
function: marketing
---
""" + source_doc("crm", "CRM", "bob")


@pytest.fixture
def flawed(tmp_path: Path) -> Path:
    return write_registry(
        tmp_path / "reg",
        {"people.yaml": PEOPLE, "policies.yaml": POLICIES, "kpis.yaml": KPIS},
        "version: 1\ntimezone: America/New_York\n",
    )


def test_flags_what_would_go_wrong(run: Run, flawed: Path) -> None:
    result = run("drill", "leads", str(flawed), "--deviation", "5", "--at", "2026-11-20T10:00")
    assert result.code == 0, result.err
    assert_golden("drill/flags.txt", result.out)
    data = json.loads(
        run(
            "drill",
            "leads",
            str(flawed),
            "--deviation",
            "5",
            "--at",
            "2026-11-20T10:00",
            "-f",
            "json",
        ).out
    )
    assert [(p["code"], p["level"]) for p in data["problems"]] == [
        ("inactive-recipient", 1),
        ("weekend-deadline", 1),
        ("recipient-unresolved", 2),
        ("recipient-unresolved", 2),
        # The backup, bob, stands in for carl (kpictl.registry.resolve): level 2 reaches him.
        ("inactive-recipient", 2),
        ("notified-at-every-tier", None),
    ]


def test_flags_someone_notified_at_every_tier(flawed: Path) -> None:
    registry, _ = load_registry(flawed)
    drill = build_drill(
        registry,
        "demos",
        start_moment(datetime(2026, 11, 18, 9, 0), "America/New_York"),
        deviation=5,
    )
    assert [step.level for step in drill.steps] == [1, 2]
    assert [p.code for p in drill.problems] == ["notified-at-every-tier"]
    assert "Ann Lee (ann) is notified at every tier (levels 1-2)" in drill.problems[0].message
    # Level 2 notifies the team: its lead, Ann, once, reached two ways.
    assert drill.steps[1].notified[0].via == ("$owner", "team-a")


def test_an_outage_with_no_outage_tier_escalates_to_nobody(flawed: Path) -> None:
    registry, _ = load_registry(flawed)
    drill = build_drill(registry, "demos", start_moment(None, "UTC"), outage=True)
    assert drill.steps == []
    assert [p.code for p in drill.problems] == ["outage-unhandled"]


def test_next_tier_fires_at_the_respond_by_across_a_clock_change(flawed: Path) -> None:
    registry, _ = load_registry(flawed)
    # New York leaves daylight saving time on 2026-11-01: 24 hours after noon is 11:00.
    drill = build_drill(
        registry,
        "leads",
        start_moment(datetime(2026, 10, 31, 12, 0), "America/New_York"),
        deviation=6,
    )
    assert drill.steps[1].fires_at == drill.steps[0].respond_by
    assert drill.steps[0].respond_by.isoformat() == "2026-11-01T11:00:00-05:00"


def test_unknown_kpi_suggests_the_closest(run: Run) -> None:
    result = run("drill", "mq1", str(EXAMPLE), "--deviation", "10")
    assert result.code == 2
    assert result.err == "kpictl: no KPI has the id 'mq1'; did you mean 'mql'?\n"
    other = run("drill", "standard", str(EXAMPLE), "--outage")
    assert other.code == 2
    assert other.err == "kpictl: 'standard' is an escalation_policy, not a KPI\n"


@pytest.mark.parametrize(
    "args",
    [
        ["mql"],
        ["mql", "--outage", "--deviation", "3"],
        ["mql", "--deviation", "-3"],
        ["mql", "--outage", "--at", "next tuesday"],
        ["mql", "--outage", "--format", "xml"],
    ],
)
def test_bad_arguments(run: Run, args: list[str]) -> None:
    result = run("drill", args[0], str(EXAMPLE), *args[1:])
    assert result.code == 2


def test_start_moment() -> None:
    zone = ZoneInfo("Europe/Berlin")
    assert start_moment(date(2026, 11, 20), "Europe/Berlin") == datetime(
        2026, 11, 20, 9, 0, tzinfo=zone
    )
    assert start_moment(
        datetime(2026, 11, 20, 8, 0, tzinfo=ZoneInfo("UTC")), "Europe/Berlin"
    ) == datetime(2026, 11, 20, 9, 0, tzinfo=zone)
    now = datetime(2026, 11, 20, 8, 0, 30, tzinfo=ZoneInfo("UTC"))
    assert start_moment(None, "Europe/Berlin", now=now) == datetime(2026, 11, 20, 9, 0, tzinfo=zone)

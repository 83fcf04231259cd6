"""Working days: respond-by deadlines that skip the days nobody works (kpictl.numbers.workdays)."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kpictl.authoring.drill import build_drill, start_moment
from kpictl.numbers.workdays import respond_by
from kpictl.registry.registry import load_registry
from tests.conftest import AS_OF, EXAMPLE, Run, write_registry
from tests.test_drill import KPIS, PEOPLE, POLICIES

WEEK = ["mon", "tue", "wed", "thu", "fri"]
NY = "America/New_York"


def at(text: str, zone: str = NY) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


# (fired at, local, in NY; hours; working days; respond-by as ISO text)
CASES = [
    # Without working_days: real hours, as before (2026-11-20 is a Friday).
    ("2026-11-20T09:00", 24, None, "2026-11-21T09:00:00-05:00"),
    # The two examples.
    ("2026-11-20T09:00", 24, WEEK, "2026-11-23T09:00:00-05:00"),
    ("2026-11-19T15:00", 72, WEEK, "2026-11-24T15:00:00-05:00"),
    # Within one working day, and to the next one.
    ("2026-11-16T09:00", 4, WEEK, "2026-11-16T13:00:00-05:00"),
    ("2026-11-16T09:00", 24, WEEK, "2026-11-17T09:00:00-05:00"),
    # Fired on a day off: the clock starts at the next working day's midnight.
    ("2026-11-21T09:00", 24, WEEK, "2026-11-24T00:00:00-05:00"),
    ("2026-11-22T23:30", 1, WEEK, "2026-11-23T01:00:00-05:00"),
    # Using up Friday exactly: due at the midnight that ends it.
    ("2026-11-20T00:00", 24, WEEK, "2026-11-21T00:00:00-05:00"),
    # A seven-day week is the old behaviour.
    ("2026-11-20T09:00", 24, [*WEEK, "sat", "sun"], "2026-11-21T09:00:00-05:00"),
    # One working day a week: 48 hours take two Mondays.
    ("2026-11-16T00:00", 48, ["mon"], "2026-11-24T00:00:00-05:00"),
    ("2026-11-16T00:00", 30, ["mon"], "2026-11-23T06:00:00-05:00"),
    # Days off in the middle of the week, listed in any order.
    ("2026-11-17T12:00", 24, ["thu", "tue"], "2026-11-19T12:00:00-05:00"),
    # DST: New York's clocks go back on Sunday 2026-11-01, a day off: Monday 09:00 EST.
    ("2026-10-30T09:00", 24, WEEK, "2026-11-02T09:00:00-05:00"),
    # ...on a working day, the day has 25 real hours: 24 hours after 09:00 is 08:00.
    ("2026-10-31T09:00", 24, ["sat", "sun"], "2026-11-01T08:00:00-05:00"),
    # Spring forward (2026-03-08, a Sunday): a 23-hour working day.
    ("2026-03-07T09:00", 24, ["sat", "sun"], "2026-03-08T10:00:00-04:00"),
    # 365 days at the most, one working day a week: seven years later, still exact.
    ("2026-11-16T00:00", 8760, ["mon"], "2033-11-08T00:00:00-05:00"),
]


@pytest.mark.parametrize(("fired", "hours", "days", "due"), CASES)
def test_respond_by(fired: str, hours: int, days: list[str] | None, due: str) -> None:
    assert respond_by(at(fired), hours, days).isoformat() == due


def test_days_follow_the_registry_time_zone() -> None:
    # Friday 20:00 in Los Angeles is already Saturday in UTC: still Friday's hours count.
    fired = at("2026-11-20T20:00", "America/Los_Angeles")
    assert respond_by(fired, 8, WEEK).isoformat() == "2026-11-23T04:00:00-08:00"


@pytest.fixture
def weekdays_only(tmp_path: Path) -> Path:
    return write_registry(
        tmp_path / "reg",
        {"people.yaml": PEOPLE, "policies.yaml": POLICIES, "kpis.yaml": KPIS},
        f"version: 1\ntimezone: {NY}\nworking_days: [mon, tue, wed, thu, fri]\n",
    )


def test_drill_uses_the_same_deadlines(weekdays_only: Path) -> None:
    registry, _ = load_registry(weekdays_only)
    # Friday 2026-11-20 10:00: 24h → Monday 10:00; the next tier's 2d → Wednesday 10:00.
    drill = build_drill(
        registry, "leads", start_moment(datetime(2026, 11, 20, 10, 0), NY), deviation=5
    )
    assert [step.respond_by.isoformat() for step in drill.steps] == [
        "2026-11-23T10:00:00-05:00",
        "2026-11-25T10:00:00-05:00",
    ]
    assert drill.steps[1].fires_at == drill.steps[0].respond_by
    # The deadline is on a working day, so drill has no weekend deadline to flag.
    assert "weekend-deadline" not in [p.code for p in drill.problems]


def test_escalate_and_status_use_working_days(tmp_path: Path, run: Run) -> None:
    root = tmp_path / "registry"
    shutil.copytree(EXAMPLE, root)
    settings = root / "kpictl.yaml"
    settings.write_text(
        settings.read_text(encoding="utf-8") + "working_days: [mon, tue, wed, thu, fri]\n",
        encoding="utf-8",
    )
    args = ("--actuals", str(EXAMPLE / "actuals" / "2026-11-20.csv"), "--as-of", AS_OF)
    before = run("escalate", str(EXAMPLE), *args)
    after = run("escalate", str(root), *args)
    assert (before.code, after.code) == (0, 0)
    # Friday 09:00: the 24h tiers were due on Saturday, now on Monday; the 72h tier
    # (Monday 09:00 in real hours) is now due on Wednesday.
    subjects = [line for line in after.out.splitlines() if line.startswith("Subject: ")]
    assert [subject.split("]")[0] for subject in subjects] == [
        "Subject: [Tier 3 · respond by Mon 23 Nov 09:00 CET",
        "Subject: [Tier 2 · respond by Wed 25 Nov 09:00 CET",
        "Subject: [Tier 2 · respond by Wed 25 Nov 09:00 CET",
        "Subject: [Tier 1 · respond by Mon 23 Nov 09:00 CET",
    ]
    assert "respond by Sat 21 Nov 09:00 CET" in before.out
    status = run("status", str(root), *args, "--format", "json")
    assert status.code == 0, status.err
    assert '"2026-11-23T09:00:00+01:00"' in status.out

"""Where a KPI stands: pacing, direction, tier selection, outages, respond-by, fiscal quarters."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kpictl.numbers.actuals import parse_actuals
from kpictl.numbers.evaluate import KpiStatus, State, evaluate, evaluation_moment
from kpictl.registry.registry import load_registry
from tests.conftest import Run, write_registry

BERLIN = ZoneInfo("Europe/Berlin")

PEOPLE = """
kind: person
id: ann
name: Ann Owner
email: ann@example.com
team: t
manager: max
---
kind: person
id: bob
name: Bob Backup
email: bob@example.com
team: t
---
kind: person
id: max
name: Max Manager
email: max@example.com
team: t
---
kind: team
id: t
name: Team
function: marketing
lead: max
---
kind: data_source
id: src
name: Source
system: CRM
owner: bob
refresh: daily
---
kind: escalation_policy
id: policy
name: Policy
tiers:
  - {level: 1, name: One, deviation_pct: 5, respond_within: 24h, notify: [$owner], approver: $owner}
  - {level: 2, name: Two, deviation_pct: 15, respond_within: 72h, notify: [$owner], approver: max,
     on_data_outage: true}
  - {level: 3, name: Three, deviation_pct: 30, respond_within: 2d, notify: [max], approver: max}
"""


def kpi(kpi_id: str, unit: str, direction: str, targets: str, extra: str = "") -> str:
    return f"""
kind: kpi
id: {kpi_id}
name: {kpi_id}
description: d
formula: f
unit: {unit}
direction: {direction}
stage: conversion
indicator: leading
audience: internal
owners: {{primary: ann, backup: bob}}
sources: [src]
cadence: {{refresh: daily, review: weekly}}
targets: {targets}
escalation: policy
{extra}"""


def statuses(
    tmp_path: Path, kpis: str, csv: str, when: date | datetime, fiscal: int = 1
) -> dict[str, KpiStatus]:
    settings = f"version: 1\ntimezone: Europe/Berlin\nfiscal_year_start_month: {fiscal}\n"
    root = write_registry(tmp_path / "r", {"base.yaml": PEOPLE, "kpis.yaml": kpis}, settings)
    registry, findings = load_registry(root)
    assert [f for f in findings if f.severity.label == "error"] == []
    actuals = parse_actuals(
        "kpi,period,value,as_of\n" + csv, "a.csv", [k.id for k in registry.kpis]
    )
    assert actuals.problems == []
    moment = evaluation_moment(when, "Europe/Berlin", datetime.now(BERLIN))
    return {status.kpi.id: status for status in evaluate(registry, actuals, moment)}


Q4 = "[{period: 2026-Q4, value: 920}]"  # 92 days: 10 a day


def test_linear_pacing_prorates_the_target(tmp_path: Path) -> None:
    # 20 Nov is day 51 of Q4: 510 expected by then.
    out = statuses(
        tmp_path,
        kpi("k", "count", "increase", Q4),
        "k,2026-Q4,459,2026-11-20\n",
        date(2026, 11, 20),
    )
    status = out["k"]
    assert status.target_to_date == pytest.approx(510)
    assert status.deviation_pct == pytest.approx(10)
    assert status.state is State.TIER and status.tier is not None and status.tier.level == 1


def test_flat_pacing_keeps_the_target(tmp_path: Path) -> None:
    kpis = kpi("rate", "percent", "increase", "[{period: 2026-Q4, value: 40}]")
    out = statuses(tmp_path, kpis, "rate,2026-Q4,36,2026-11-20\n", date(2026, 11, 20))
    assert out["rate"].target_to_date == 40
    assert out["rate"].deviation_pct == pytest.approx(10)


def test_explicit_pacing_overrides_the_unit_default(tmp_path: Path) -> None:
    kpis = kpi("cost", "currency", "decrease", "[{period: 2026-Q4, value: 100}]", "pacing: flat")
    out = statuses(tmp_path, kpis, "cost,2026-Q4,131,2026-11-20\n", date(2026, 11, 20))
    status = out["cost"]
    assert status.deviation_pct == pytest.approx(31)
    assert status.tier is not None and status.tier.level == 3


@pytest.mark.parametrize(
    ("direction", "value", "deviation", "state"),
    [
        ("increase", 36, 10.0, State.TIER),
        ("increase", 44, -10.0, State.ON_TRACK),
        ("decrease", 44, 10.0, State.TIER),
        ("decrease", 36, -10.0, State.ON_TRACK),
    ],
)
def test_direction_decides_what_worse_means(
    tmp_path: Path, direction: str, value: int, deviation: float, state: State
) -> None:
    kpis = kpi("k", "ratio", direction, "[{period: 2026-Q4, value: 40}]")
    out = statuses(tmp_path, kpis, f"k,2026-Q4,{value},2026-11-20\n", date(2026, 11, 20))
    assert out["k"].deviation_pct == pytest.approx(deviation)
    assert out["k"].state is state


@pytest.mark.parametrize(
    ("value", "level"),
    [(96, None), (95.1, None), (95, 1), (85.5, 1), (85, 2), (70.1, 2), (70, 3), (0, 3)],
)
def test_the_highest_tier_reached_fires(tmp_path: Path, value: float, level: int | None) -> None:
    kpis = kpi("k", "percent", "increase", "[{period: 2026-Q4, value: 100}]")
    out = statuses(tmp_path, kpis, f"k,2026-Q4,{value},2026-11-20\n", date(2026, 11, 20))
    tier = out["k"].tier
    assert (tier.level if tier else None) == level


def test_missing_value_is_an_outage_on_the_lowest_outage_tier(tmp_path: Path) -> None:
    kpis = kpi("k", "count", "increase", Q4) + "\n---\n" + kpi("other", "count", "increase", Q4)
    out = statuses(tmp_path, kpis, "other,2026-Q4,600,2026-11-20\n", date(2026, 11, 20))
    status = out["k"]
    assert (status.state, status.outage) == (State.OUTAGE, "missing")
    assert status.tier is not None and status.tier.level == 2


def test_stale_value_is_an_outage(tmp_path: Path) -> None:
    # daily refresh: a value may be two days old, not three.
    kpis = kpi("k", "count", "increase", Q4)
    fresh = statuses(tmp_path / "a", kpis, "k,2026-Q4,600,2026-11-18\n", date(2026, 11, 20))
    assert fresh["k"].state is State.ON_TRACK
    stale = statuses(tmp_path / "b", kpis, "k,2026-Q4,600,2026-11-17\n", date(2026, 11, 20))
    assert (stale["k"].state, stale["k"].outage, stale["k"].age_days) == (State.OUTAGE, "stale", 3)


def test_value_for_another_period_is_not_current(tmp_path: Path) -> None:
    kpis = kpi("k", "count", "increase", Q4)
    out = statuses(tmp_path, kpis, "k,2026-Q3,600,2026-11-20\n", date(2026, 11, 20))
    assert out["k"].outage == "missing"


def test_no_target_for_the_date(tmp_path: Path) -> None:
    kpis = kpi("k", "count", "increase", "[{period: 2027-Q1, value: 10}]")
    out = statuses(tmp_path, kpis, "k,2027-Q1,1,2026-11-20\n", date(2026, 11, 20))
    assert out["k"].state is State.NO_TARGET and out["k"].tier is None


def test_the_shortest_period_is_current(tmp_path: Path) -> None:
    targets = (
        "[{period: 2026, value: 3650}, {period: 2026-Q4, value: 920}, "
        "{period: 2026-11, value: 300}]"
    )
    kpis = kpi("k", "count", "increase", targets)
    out = statuses(tmp_path, kpis, "k,2026-11,200,2026-11-20\n", date(2026, 11, 20))
    status = out["k"]
    assert status.period is not None and status.period.text == "2026-11"
    assert status.target_to_date == pytest.approx(200)  # 20 of 30 days of 300
    assert status.state is State.ON_TRACK


def test_fiscal_quarter_follows_the_fiscal_year(tmp_path: Path) -> None:
    # Fiscal year starting in July: FY2027-Q2 is October to December 2026.
    kpis = kpi("k", "count", "increase", "[{period: 2027-Q2, value: 920}]")
    out = statuses(tmp_path, kpis, "k,2027-Q2,510,2026-11-20\n", date(2026, 11, 20), fiscal=7)
    status = out["k"]
    assert status.period is not None and status.period.start == date(2026, 10, 1)
    assert status.deviation_pct == pytest.approx(0)
    assert status.state is State.ON_TRACK


def test_respond_by_is_the_moment_plus_respond_within(tmp_path: Path) -> None:
    kpis = kpi("k", "count", "increase", Q4)
    out = statuses(tmp_path, kpis, "k,2026-Q4,300,2026-11-20\n", date(2026, 11, 20))
    status = out["k"]
    assert status.moment == datetime(2026, 11, 20, 9, 0, tzinfo=BERLIN)
    assert status.tier is not None and status.tier.level == 3
    assert status.respond_by == datetime(2026, 11, 22, 9, 0, tzinfo=BERLIN)  # 2d


def test_respond_by_counts_real_hours_across_dst(tmp_path: Path) -> None:
    # Clocks go back on 25 Oct 2026 in Berlin: 24 real hours after 09:00 CEST is 08:00 CET.
    kpis = kpi("k", "count", "increase", Q4)
    out = statuses(tmp_path, kpis, "k,2026-Q4,220,2026-10-24\n", date(2026, 10, 24))
    status = out["k"]
    assert status.tier is not None and status.tier.level == 1
    assert status.respond_by == datetime(2026, 10, 25, 8, 0, tzinfo=BERLIN)


def test_as_of_date_time_is_read_in_the_registry_time_zone() -> None:
    now = datetime(2030, 1, 1, tzinfo=BERLIN)
    assert evaluation_moment(datetime(2026, 11, 20, 14, 30), "Europe/Berlin", now) == datetime(
        2026, 11, 20, 14, 30, tzinfo=BERLIN
    )
    assert evaluation_moment(None, "Europe/Berlin", now) == now


def test_example_registry_states(run: Run) -> None:
    from tests.conftest import AS_OF, EXAMPLE

    csv = str(EXAMPLE / "actuals" / "2026-11-20.csv")
    result = run("status", str(EXAMPLE), "--actuals", csv, "--as-of", AS_OF, "-f", "csv")
    assert result.code == 0 and result.err == ""
    states = {
        line.split(",")[0]: (line.split(",")[12], line.split(",")[14])
        for line in result.out.splitlines()[1:]
    }
    assert states["mql"] == ("tier", "1")
    assert states["sales-cycle-length"] == ("tier", "2")
    assert states["expansion-pipeline"] == ("tier", "3")
    assert states["branded-search-clicks"] == ("outage", "2")
    others = {
        k: v
        for k, v in states.items()
        if k not in ("mql", "sales-cycle-length", "expansion-pipeline", "branded-search-clicks")
    }
    assert set(others.values()) == {("on-track", "")}

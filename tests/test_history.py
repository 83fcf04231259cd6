"""A KPI's history in its period: points judged as today, change since review, behind since.

The period is 2026-Q4 (92 days) with a target of 920, so under linear pacing the
target to date on day n of the quarter is exactly 10 * n. The policy's lowest tier
fires at 5%.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kpictl.display import SPARK_ASCII, SPARK_BLOCKS, can_show, sparkline
from kpictl.numbers.actuals import Actual, parse_actuals
from kpictl.numbers.evaluate import evaluate
from kpictl.numbers.history import (
    MAX_POINTS,
    against_pace,
    behind_since,
    histories,
    judge,
    review_start,
    trace,
)
from kpictl.numbers.periods import parse_period
from kpictl.registry.registry import load_registry
from tests.conftest import EXAMPLE, ROOT

Q4 = parse_period("2026-Q4")


def day(n: int) -> date:
    """Day n of 2026-Q4 (day 1 is 1 October)."""
    return Q4.start + timedelta(days=n - 1)


def rows(*values: tuple[int, float]) -> list[Actual]:
    """(day of the quarter, value) pairs as the rows of one (kpi, period)."""
    return [Actual("k", "2026-Q4", value, day(n), i + 2) for i, (n, value) in enumerate(values)]


# name, rows, linear, direction, review, evaluation day, behind since, change, change from
CASES = [
    (
        "steady on pace",
        rows((7, 70), (14, 140), (21, 210)),
        True,
        "increase",
        "weekly",
        21,
        None,
        70.0,
        14,
    ),
    (
        "recovering: the latest value is back on pace",
        rows((7, 60), (14, 120), (21, 210)),
        True,
        "increase",
        "weekly",
        21,
        None,
        90.0,
        14,
    ),
    (
        "behind since the first of the current run of misses",
        rows((7, 70), (14, 120), (21, 180), (28, 250)),
        True,
        "increase",
        "weekly",
        28,
        14,
        70.0,
        21,
    ),
    (
        "a miss below the lowest tier breaks the run",
        rows((7, 60), (14, 135), (21, 190)),
        True,
        "increase",
        "weekly",
        21,
        21,
        55.0,
        14,
    ),
    (
        "an outage mid-history does not break the run",
        rows((7, 60), (35, 300), (42, 380)),
        True,
        "increase",
        "weekly",
        42,
        7,
        80.0,
        35,
    ),
    (
        "a single observation: no change to show",
        rows((20, 100)),
        True,
        "increase",
        "weekly",
        20,
        20,
        None,
        None,
    ),
    (
        "rows measured after the evaluation day are unknown on it",
        rows((7, 70), (14, 100), (21, 210)),
        True,
        "increase",
        "weekly",
        14,
        14,
        30.0,
        7,
    ),
    (
        "flat: the whole target counts from day one",
        rows((51, 500)),
        False,
        "increase",
        "weekly",
        51,
        51,
        None,
        None,
    ),
    (
        "linear: the same value is on pace",
        rows((51, 500)),
        True,
        "increase",
        "weekly",
        51,
        None,
        None,
        None,
    ),
    (
        "decrease: above the target is the miss",
        rows((7, 900), (14, 1000), (21, 980)),
        False,
        "decrease",
        "weekly",
        21,
        14,
        -20.0,
        14,
    ),
    ("nothing measured yet", rows((30, 300)), True, "increase", "weekly", 20, None, None, None),
]


@pytest.mark.parametrize(
    ("values", "linear", "direction", "review", "on", "since", "change", "change_from"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_history(
    values: list[Actual],
    linear: bool,
    direction: str,
    review: str,
    on: int,
    since: int | None,
    change: float | None,
    change_from: int | None,
) -> None:
    found = trace("k", values, Q4, 920, linear, direction, 5, review, day(on))
    assert found.behind_since == (day(since) if since else None)
    assert found.change == change
    assert found.change_from == (day(change_from) if change_from else None)
    assert all(point.as_of <= day(on) for point in found.points)


DAILY = rows(*((n, 10.0 * n) for n in range(1, 93)))
# review, what the change compares with (day of the quarter), for the value of 20 Nov (day 51)
CADENCES = [
    ("daily", 50),
    ("weekly", 44),
    ("biweekly", 37),
    ("monthly", 20),  # 20 October
    ("quarterly", None),  # 20 August: before the period, and the period starts again
]


@pytest.mark.parametrize(("review", "compared_with"), CADENCES)
def test_change_since_review_per_cadence(review: str, compared_with: int | None) -> None:
    found = trace("k", DAILY, Q4, 920, True, "increase", 5, review, day(51))
    if compared_with is None:
        assert (found.change, found.change_from) == (None, None)
    else:
        assert found.change_from == day(compared_with)
        assert found.change == pytest.approx(10.0 * (51 - compared_with))


def test_review_start_counts_calendar_months() -> None:
    assert review_start(date(2026, 5, 31), "monthly") == date(2026, 4, 30)
    assert review_start(date(2026, 3, 31), "monthly") == date(2026, 2, 28)
    assert review_start(date(2026, 1, 15), "quarterly") == date(2025, 10, 15)
    assert review_start(date(2026, 1, 1), "daily") == date(2025, 12, 31)


def test_points_are_judged_with_the_target_to_date_of_their_own_day() -> None:
    found = trace("k", rows((7, 70), (46, 414)), Q4, 920, True, "increase", 5, "weekly", day(46))
    assert [(p.as_of, p.value, p.expected, p.deviation_pct, p.miss) for p in found.points] == [
        (day(7), 70, 70.0, 0.0, False),
        (day(46), 414, 460.0, 10.0, True),
    ]


def test_many_observations_are_bounded_but_the_run_is_followed_back() -> None:
    behind = rows(*((n, 5.0 * n) for n in range(1, 93)))  # half the pace, every day
    found = trace("k", behind, Q4, 920, True, "increase", 5, "weekly", day(92))
    assert len(found.points) == MAX_POINTS
    assert found.left_out == 92 - MAX_POINTS
    assert found.points[0].as_of == day(92 - MAX_POINTS + 1)
    assert found.behind_since == day(1)


def test_without_a_policy_any_value_behind_pace_is_a_miss() -> None:
    found = trace("k", rows((10, 99)), Q4, 920, True, "increase", None, "weekly", day(10))
    assert found.behind_since == day(10)


def test_a_zero_target_to_date_is_a_miss_when_worse() -> None:
    found = trace("k", rows((10, 3)), Q4, 0, False, "decrease", 5, "weekly", day(10))
    assert found.points[0].deviation_pct is None
    assert found.behind_since == day(10)
    assert against_pace(found.points) == [3]


def test_the_sparkline_follows_the_pace_not_the_rising_count() -> None:
    # A count that rises every week while falling further behind the pace.
    found = trace(
        "k", rows((7, 70), (14, 126), (21, 168)), Q4, 920, True, "increase", 5, "weekly", day(21)
    )
    assert against_pace(found.points) == pytest.approx([1.0, 0.9, 0.8])
    assert sparkline(against_pace(found.points)) == "█▅▁"
    assert sparkline(against_pace(found.points), ascii_only=True) == "#=_"


def test_sparkline_edges() -> None:
    assert sparkline([]) == ""
    assert sparkline([5, 5, 5]) == "▄▄▄"
    assert sparkline([5, 5], ascii_only=True) == "~~"
    assert sparkline(range(8)) == SPARK_BLOCKS
    assert sparkline(range(8), ascii_only=True) == SPARK_ASCII
    assert can_show(SPARK_BLOCKS, "utf-8") and can_show(SPARK_BLOCKS, None)
    assert not can_show(SPARK_BLOCKS, "ascii") and not can_show(SPARK_BLOCKS, "no-such-codec")


def test_the_example_registry_with_eight_weeks_of_history() -> None:
    registry = load_registry(EXAMPLE)[0]
    text = (ROOT / "tests" / "data" / "history.csv").read_text(encoding="utf-8")
    campaigns = [c.id for c in registry.campaigns]
    actuals = parse_actuals(text, "history.csv", [k.id for k in registry.kpis], campaigns)
    moment = datetime(2026, 11, 20, 9, tzinfo=ZoneInfo("Europe/Berlin"))
    found = histories(evaluate(registry, actuals, moment), actuals)
    summary = {
        kpi: (
            len(item.points),
            item.behind_since.isoformat() if item.behind_since else None,
            item.change,
            item.change_from.isoformat() if item.change_from else None,
        )
        for kpi, item in sorted(found.items())
    }
    assert summary == {
        "branded-search-clicks": (7, None, 4951.0, "2026-11-06"),
        "cost-per-opportunity": (7, None, 60.0, "2026-10-12"),
        "expansion-pipeline": (8, "2026-10-02", 90565.0, "2026-11-13"),
        "mql": (8, "2026-10-30", 163.0, "2026-11-13"),
        "mql-to-sql-rate": (7, None, pytest.approx(0.2), "2026-11-09"),
        "nrr": (2, None, pytest.approx(0.6), "2026-10-06"),
        "pipeline-coverage": (8, None, 0.0, "2026-11-13"),
        "pipeline-sourced": (8, None, 475650.0, "2026-11-13"),
        "sales-cycle-length": (7, "2026-10-12", 10.0, "2026-10-12"),
        "sql": (8, None, 62.0, "2026-11-13"),
        "website-sessions": (6, None, 17952.0, "2026-11-13"),
    }


def test_following_a_long_run_back_agrees_with_judging_each_value() -> None:
    # The follow-back beyond the points shown is the hot loop, written out by hand: it
    # must start the run exactly where judging every value one by one does.
    import random

    generator = random.Random(12)
    for _ in range(300):
        linear = generator.random() < 0.5
        direction = generator.choice(["increase", "decrease"])
        threshold = generator.choice([None, 0.0, 5.0, 15.0])
        target = generator.choice([0.0, 920.0, -50.0])
        count = generator.randint(1, 80)
        days = sorted(generator.sample(range(1, 93), count))
        values = rows(*((n, 10.0 * n * generator.uniform(0.7, 1.3)) for n in days))
        found = trace("k", values, Q4, target, linear, direction, threshold, "weekly", day(92))
        judged = [
            judge(a, target * Q4.elapsed_share(a.as_of) if linear else target, direction, threshold)
            for a in values
        ]
        assert found.behind_since == behind_since(judged)

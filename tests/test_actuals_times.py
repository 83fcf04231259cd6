"""A time after an actuals CSV's date is read as that date only if it is a time."""

from __future__ import annotations

import io
from datetime import date

import pytest

from kpictl.numbers.actuals import read_actuals


@pytest.mark.parametrize(
    ("as_of", "day"),
    [
        ("2026-11-10", date(2026, 11, 10)),
        ("2026-11-10T09:30:00Z", date(2026, 11, 10)),
        ("2026-11-10 09:30", date(2026, 11, 10)),
        ("2026-11-10T09:30:00.123456+01:00", date(2026, 11, 10)),
        ("2026-11-10T23:59:59-0530", date(2026, 11, 10)),
        ("2026-11-10T25:99:99", None),
        ("2026-11-10T09:30:00+99:99", None),
        ("2026-11-10T" + "9" * 50, None),
    ],
)
def test_as_of_with_a_time(as_of: str, day: date | None) -> None:
    text = f"kpi,period,value,as_of\nmql,2026-Q4,5,{as_of}\n"
    actuals = read_actuals(io.BytesIO(text.encode()), "a.csv", {"mql"})
    rows = actuals.rows.get(("mql", "2026-Q4"), [])
    assert [row.as_of for row in rows] == ([day] if day else [])
    assert actuals.skipped == (0 if day else 1)

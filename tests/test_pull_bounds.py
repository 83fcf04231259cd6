"""`kpictl pull`: a date the store would refuse fails that KPI's values alone, with a
message, instead of the whole pull's record."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import Run
from tests.test_pull import AS_OF, registry

OUT_OF_RANGE = (
    "its data is dated by its sources' freshness: 0001-01-01 is out of range: use a date "
    "from 1900-01-01 to 9000-12-31"
)


def test_data_dated_before_1900_by_its_freshness_fails_its_kpi(run: Run, tmp_path: Path) -> None:
    root = registry(tmp_path / "r", freshness="select date '0001-01-01'")
    result = run("pull", str(root), "--as-of", AS_OF, "--no-backfill")
    assert (result.code, result.err) == (1, "")
    assert result.out.splitlines() == [
        f"failed: kpi mql 2026-Q4 (warehouse): {OUT_OF_RANGE}",
        f"failed: kpi mql campaign spring-push (warehouse): {OUT_OF_RANGE}",
        "Pulled 0 values in 3 queries as of 2026-11-20, 2 failures; recorded 0 new, 0 replaced, "
        "0 unchanged.",
    ]
    assert run("actuals", "export", str(root)).out == "kpi,period,value,as_of\n"

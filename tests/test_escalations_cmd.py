"""`kpictl escalations`: open escalations, since when, tier, acknowledged by, overdue first;
text, markdown and json."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Run
from tests.escalation_fixtures import KPI, Recorder, actuals, make_registry, smtp

__all__ = ["smtp"]


def two_open(run: Run, tmp_path: Path, handler: Recorder) -> Path:
    """mql opened 20 Nov 09:00 (tier 1, due 21 Nov 09:00), sql 20 Nov 20:00 (tier 3, due
    21 Nov 20:00)."""
    kpis = KPI + "---\n" + KPI.replace("id: mql", "id: sql").replace("MQLs", "SQLs")
    root = make_registry(tmp_path / "r", handler.port, kpis)  # type: ignore[attr-defined]
    first = actuals(tmp_path, "a.csv", "mql,2026-Q4,90,2026-11-20\nsql,2026-Q4,100,2026-11-20\n")
    assert run("escalate", str(root), "-a", first, "--as-of", "2026-11-20", "--send").code == 0
    second = actuals(tmp_path, "b.csv", "mql,2026-Q4,90,2026-11-20\nsql,2026-Q4,50,2026-11-20\n")
    assert (
        run("escalate", str(root), "-a", second, "--as-of", "2026-11-20T20:00", "--send").code == 0
    )
    return root


def test_text_lists_overdue_first(run: Run, tmp_path: Path, smtp: Recorder) -> None:
    root = two_open(run, tmp_path, smtp)
    result = run("escalations", str(root), "--as-of", "2026-11-21T12:00")
    assert (result.code, result.err) == (0, "")
    assert result.out == (
        "KPI  Period   Tier  Since                 Respond by                      Acknowledged\n"
        "---  -------  ----  --------------------  ------------------------------  ------------\n"
        "mql  2026-Q4     1  Fri 20 Nov 09:00 CET  Sat 21 Nov 09:00 CET (overdue)  no\n"
        "sql  2026-Q4     3  Fri 20 Nov 20:00 CET  Sat 21 Nov 20:00 CET            no\n"
        "\n"
        "2 open escalations, 1 overdue.\n"
    )


def test_acknowledged_is_not_overdue(run: Run, tmp_path: Path, smtp: Recorder) -> None:
    root = two_open(run, tmp_path, smtp)
    assert run("ack", "mql", str(root), "--by", "bob", "--at", "2026-11-21T11:00").code == 0
    result = run("escalations", str(root), "--as-of", "2026-11-21T12:00", "--format", "markdown")
    assert result.out.splitlines() == [
        "| KPI | Period  | Tier | Since                | Respond by           | Acknowledged"
        "                |",
        "| --- | ------- | ---: | -------------------- | -------------------- | ------------"
        "--------------- |",
        "| mql | 2026-Q4 |    1 | Fri 20 Nov 09:00 CET | Sat 21 Nov 09:00 CET | bob on Sat 21"
        " Nov 11:00 CET |",
        "| sql | 2026-Q4 |    3 | Fri 20 Nov 20:00 CET | Sat 21 Nov 20:00 CET | no          "
        "                |",
        "",
        "2 open escalations, 0 overdue.",
    ]


def test_json(run: Run, tmp_path: Path, smtp: Recorder) -> None:
    root = two_open(run, tmp_path, smtp)
    result = run("escalations", str(root), "--as-of", "2026-11-22T12:00", "-f", "json")
    assert json.loads(result.out) == [
        {
            "kpi": "mql",
            "period": "2026-Q4",
            "tier": 1,
            "opened_at": "2026-11-20T09:00:00+01:00",
            "respond_by": "2026-11-21T09:00:00+01:00",
            "overdue": True,
            "ending": None,
            "acknowledged_by": None,
            "acknowledged_at": None,
            "note": None,
        },
        {
            "kpi": "sql",
            "period": "2026-Q4",
            "tier": 3,
            "opened_at": "2026-11-20T20:00:00+01:00",
            "respond_by": "2026-11-21T20:00:00+01:00",
            "overdue": True,
            "ending": None,
            "acknowledged_by": None,
            "acknowledged_at": None,
            "note": None,
        },
    ]


def test_nothing_open_and_no_store(run: Run, tmp_path: Path, smtp: Recorder) -> None:
    root = make_registry(tmp_path / "r", smtp.port)  # type: ignore[attr-defined]
    assert run("escalations", str(root)).out == "No escalation is open.\n"
    assert run("escalations", str(root), "-f", "json").out == "[]\n"
    assert not (root / ".kpictl").exists()

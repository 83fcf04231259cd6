"""`escalate`'s plan and outcome lines, and `ack`'s answer, are escaped on every path: they
carry ids and periods read from the store, which anyone who can write a shared store
controls."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.conftest import Run
from tests.escalation_fixtures import Recorder, smtp
from tests.test_period_end import escalate_on, q3_escalation

__all__ = ["smtp"]  # a fixture, used by name

# A KPI id no registry allows: a terminal escape, a line of its own for a CI runner to
# obey, and GitHub's older command form.
HOSTILE = "x\x1b[2J\n::error::forged ##[warning]y"
SHOWN = "x\\x1b[2J\\n::error::forged #\\#[warning]y"


def hostile_row(root: Path) -> None:
    """An open 2026-Q3 escalation of the hostile id, written behind kpictl's back."""
    connection = sqlite3.connect(root / ".kpictl" / "store.db")
    connection.execute(
        "INSERT INTO escalations (kpi, period, open_key, opened_at, tier, respond_by) "
        "VALUES (?, '2026-Q3', ?, '2026-09-25 07:00:00', 1, '2026-09-26 07:00:00')",
        (HOSTILE, HOSTILE + "/2026-Q3"),
    )
    connection.commit()
    connection.close()


# The plan pads ids to the longest one as stored (34 characters), before escaping.
MQL_CLOSES = (
    f"{'mql':<34}  → closes        2026-Q3 ended on Wed 30 Sep 2026: its tier-1 escalation "
    "closes unresolved, nobody is notified; the next period counts on its own"
)
HOSTILE_CLOSES = (
    f"{SHOWN}  → closes        {SHOWN} is no longer in the registry: its tier-1 escalation "
    "for 2026-Q3 closes unresolved, nobody is notified"
)


def test_send_escapes_what_it_read_from_the_store(run: Run, tmp_path: Path, smtp: Recorder) -> None:
    root = q3_escalation(run, tmp_path, smtp)
    hostile_row(root)
    result = escalate_on(run, root, tmp_path, "2026-10-05", "mql,2026-Q4,98,2026-10-05", "--send")
    assert (result.code, result.err) == (0, "")
    assert result.out.splitlines() == [
        MQL_CLOSES,
        HOSTILE_CLOSES,
        "closed    mql  2026-Q3 (its period ended)",
        f"closed    {SHOWN}  2026-Q3 (its KPI left the registry)",
        "Sent 0 of 0 emails.",
    ]


def test_the_dry_run_escapes_them_the_same_way(run: Run, tmp_path: Path, smtp: Recorder) -> None:
    root = q3_escalation(run, tmp_path, smtp)
    hostile_row(root)
    result = escalate_on(run, root, tmp_path, "2026-10-05", "mql,2026-Q4,98,2026-10-05")
    assert (result.code, result.err) == (0, "")
    assert result.out.splitlines()[:3] == [MQL_CLOSES, HOSTILE_CLOSES, ""]


def test_ack_escapes_the_period_it_read_from_the_store(
    run: Run, tmp_path: Path, smtp: Recorder
) -> None:
    from tests.escalation_fixtures import make_registry

    root = make_registry(tmp_path / "r", smtp.port)  # type: ignore[attr-defined]
    # A store with escalation tables but no run (an import makes it), then a hostile row.
    csv_file = tmp_path / "a.csv"
    csv_file.write_text("kpi,period,value,as_of\nmql,2026-Q4,100,2026-11-20\n", encoding="utf-8")
    assert run("actuals", "import", str(csv_file), str(root)).code == 0
    connection = sqlite3.connect(root / ".kpictl" / "store.db")
    connection.execute(
        "INSERT INTO escalations (kpi, period, open_key, opened_at, tier, respond_by) "
        "VALUES ('mql', ?, 'mql/hostile', '2026-11-20 07:00:00', 1, '2026-11-21 07:00:00')",
        ("2026-Q4\x1b[2J\n::error::forged",),
    )
    connection.commit()
    connection.close()
    result = run("ack", "mql", str(root), "--by", "ann", "--at", "2026-11-21")
    assert (result.code, result.err) == (0, "")
    assert result.out == (
        "Acknowledged: mql 2026-Q4\\x1b[2J\\n::error::forged, tier 1, by ann on Sat 21 Nov "
        "09:00 CET.\n"
    )

"""`kpictl ack KPI --by PERSON [--note TEXT]`: what it records, and each way it says no."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Run
from tests.escalation_fixtures import Recorder, actuals, make_registry, rows, smtp

__all__ = ["smtp"]


def opened(run: Run, tmp_path: Path, handler: Recorder) -> Path:
    root = make_registry(tmp_path / "r", handler.port)  # type: ignore[attr-defined]
    csv = actuals(tmp_path, "a.csv", "mql,2026-Q4,90,2026-11-20\n")
    assert run("escalate", str(root), "-a", csv, "--as-of", "2026-11-20", "--send").code == 0
    return root


def test_ack_records_who_when_and_the_note(run: Run, tmp_path: Path, smtp: Recorder) -> None:
    root = opened(run, tmp_path, smtp)
    result = run(
        "ack",
        "mql",
        str(root),
        "--by",
        "bob",
        "--note",
        "Checking\x1b[2J the feed",
        "--at",
        "2026-11-20T10:30",
    )
    assert (result.code, result.err) == (0, "")
    assert result.out == "Acknowledged: mql 2026-Q4, tier 1, by bob on Fri 20 Nov 10:30 CET.\n"
    assert rows(root, "SELECT ack_by, ack_at, ack_note FROM escalations") == [
        ("bob", "2026-11-20 09:30:00.000000", "Checking [2J the feed")  # no escape left
    ]
    again = run("ack", "mql", str(root), "--by", "ann", "--at", "2026-11-20T11:00")
    assert again.out == (
        "Acknowledged: mql 2026-Q4, tier 1, by ann on Fri 20 Nov 11:00 CET (was acknowledged "
        "by bob).\n"
    )
    assert rows(root, "SELECT ack_by, ack_note FROM escalations") == [("ann", None)]


def test_unknown_kpi_is_exit_2_with_a_suggestion(run: Run, tmp_path: Path, smtp: Recorder) -> None:
    root = opened(run, tmp_path, smtp)
    result = run("ack", "mqls", str(root), "--by", "ann")
    assert (result.code, result.out) == (2, "")
    assert result.err == "kpictl: no KPI 'mqls' (did you mean 'mql'?)\n"
    other = run("ack", "ann", str(root), "--by", "ann")
    assert (other.code, other.err) == (2, "kpictl: 'ann' is a person, not a KPI\n")


def test_unknown_person_is_exit_2(run: Run, tmp_path: Path, smtp: Recorder) -> None:
    root = opened(run, tmp_path, smtp)
    result = run("ack", "mql", str(root), "--by", "anne")
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        "kpictl: no person 'anne' (did you mean 'ann'?): --by takes a person id\n"
    )
    assert rows(root, "SELECT ack_by FROM escalations") == [(None,)]


def test_inactive_person_is_exit_1(run: Run, tmp_path: Path, smtp: Recorder) -> None:
    root = opened(run, tmp_path, smtp)
    result = run("ack", "mql", str(root), "--by", "eve")
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        "kpictl: eve is inactive (active: false) and cannot take on an escalation; the KPI's "
        "owners are ann and bob\n"
    )
    assert rows(root, "SELECT ack_by FROM escalations") == [(None,)]


def test_no_open_escalation_is_exit_1(run: Run, tmp_path: Path, smtp: Recorder) -> None:
    root = make_registry(tmp_path / "r", smtp.port)  # type: ignore[attr-defined]
    message = (
        "kpictl: no escalation of mql is open: there is nothing to acknowledge "
        "(`kpictl escalations` lists the open ones)\n"
    )
    before = run("ack", "mql", str(root), "--by", "ann")  # no store at all yet
    assert (before.code, before.out, before.err) == (1, "", message)
    assert not (root / ".kpictl").exists()
    csv = actuals(tmp_path, "a.csv", "mql,2026-Q4,90,2026-11-20\n")
    assert run("escalate", str(root), "-a", csv, "--as-of", "2026-11-20", "--send").code == 0
    back = actuals(tmp_path, "b.csv", "mql,2026-Q4,100,2026-11-21\n")
    assert run("escalate", str(root), "-a", back, "--as-of", "2026-11-21", "--send").code == 0
    closed = run("ack", "mql", str(root), "--by", "ann")
    assert (closed.code, closed.err) == (1, message)
    assert len(smtp.messages) == 2  # the tier and the resolved note

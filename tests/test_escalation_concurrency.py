"""Two `kpictl escalate --send` processes started at the same moment against one store
deliver each step once (SQLite and PostgreSQL), a claim whose run died is taken over
after its lease, a live one is left alone, and a read-only PostgreSQL user is refused
before anything is sent."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import ROOT, Run
from tests.escalation_fixtures import (
    Recorder,
    actuals,
    kpi_like_mql,
    make_registry,
    parse,
    rows,
    smtp,
)
from tests.pg import PgServer

__all__ = ["smtp"]

COUNT = 40


def many_kpis() -> str:
    return "---\n".join(kpi_like_mql(f"k{i:02}", f"KPI {i:02}") for i in range(COUNT))


def values(tmp_path: Path) -> str:
    lines = "".join(f"k{i:02},2026-Q4,90,2026-11-20\n" for i in range(COUNT))
    return actuals(tmp_path, "a.csv", lines)


def two_at_once(root: Path, csv: str, store: str | None) -> list[subprocess.CompletedProcess[str]]:
    env = {key: value for key, value in os.environ.items() if key != "KPICTL_STORE"}
    env["NO_COLOR"] = "1"
    if store is not None:
        env["KPICTL_STORE"] = store
    args = [sys.executable, "-m", "kpictl", "escalate", str(root), "-a", csv]
    args += ["--as-of", "2026-11-20", "--send"]
    started = [
        subprocess.Popen(
            args, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    done = []
    for process in started:
        out, err = process.communicate(timeout=300)
        done.append(subprocess.CompletedProcess(args, process.returncode, out, err))
    return done


def check_once(handler: Recorder, done: list[subprocess.CompletedProcess[str]]) -> None:
    assert [p.returncode for p in done] == [0, 0], [p.stderr for p in done]
    subjects = Counter(parse(raw)["Subject"] for _, raw in handler.messages)
    assert len(handler.messages) == COUNT
    assert set(subjects.values()) == {1}
    sent = [line for p in done for line in p.stdout.splitlines() if line.startswith("sent ")]
    taken = [line for p in done for line in p.stdout.splitlines() if line.startswith("taken ")]
    assert len(sent) == COUNT
    # Whatever one process sent, the other saw as taken or as already delivered.
    assert len(taken) <= COUNT


def test_two_processes_on_one_sqlite_store_deliver_each_step_once(
    tmp_path: Path, smtp: Recorder
) -> None:
    root = make_registry(tmp_path / "r", smtp.port, many_kpis())  # type: ignore[attr-defined]
    done = two_at_once(root, values(tmp_path), None)
    check_once(smtp, done)
    assert rows(root, "SELECT count(*), count(delivered_at) FROM escalation_steps") == [
        (COUNT, COUNT)
    ]
    assert rows(root, "SELECT count(*) FROM escalations WHERE open_key IS NOT NULL") == [(COUNT,)]


def test_two_processes_on_one_postgresql_store_deliver_each_step_once(
    tmp_path: Path, smtp: Recorder, postgres: PgServer
) -> None:
    database = postgres.create_database()
    root = make_registry(tmp_path / "r", smtp.port, many_kpis())  # type: ignore[attr-defined]
    done = two_at_once(root, values(tmp_path), postgres.url(database))
    check_once(smtp, done)
    with postgres.connect(database) as connection:
        counted = connection.execute(
            "SELECT count(*), count(delivered_at) FROM escalation_steps"
        ).fetchall()
        assert counted == [(COUNT, COUNT)]
        assert connection.execute("SELECT count(*) FROM escalations").fetchall() == [(COUNT,)]


def test_read_only_postgresql_store_is_refused_before_sending(
    run: Run, tmp_path: Path, smtp: Recorder, postgres: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = postgres.create_database()
    root = make_registry(tmp_path / "r", smtp.port)  # type: ignore[attr-defined]
    csv = actuals(tmp_path, "a.csv", "mql,2026-Q4,90,2026-11-20\n")
    monkeypatch.setenv("KPICTL_STORE", postgres.url(database))
    assert run("escalate", str(root), "-a", csv, "--as-of", "2026-11-20", "--send").code == 0
    with postgres.connect(database) as connection:
        connection.execute("DROP ROLE IF EXISTS kpictl_reader")
        connection.execute("CREATE ROLE kpictl_reader LOGIN PASSWORD 'reader-pw-1'")
        connection.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO kpictl_reader")
    reader = postgres.url(database).replace(
        f"{postgres.user}:{postgres.password}@", "kpictl_reader:reader-pw-1@"
    )
    monkeypatch.setenv("KPICTL_STORE", reader)
    worse = actuals(tmp_path, "b.csv", "mql,2026-Q4,60,2026-11-20\n")
    result = run("escalate", str(root), "-a", worse, "--as-of", "2026-11-20T12:00", "--send")
    assert (result.code, result.out) == (2, "")
    assert "permission denied" in result.err
    assert result.err.endswith("; nothing was sent\n")
    assert "reader-pw-1" not in result.err
    assert len(smtp.messages) == 1


def claim_row(root: Path, claimed_at: datetime) -> None:
    """A tier-1 claim of an open escalation, by a run that never finished."""
    connection = sqlite3.connect(root / ".kpictl" / "store.db")
    with connection:
        connection.execute(
            "INSERT INTO escalations (kpi, period, open_key, opened_at, tier, respond_by) "
            "VALUES ('mql', '2026-Q4', 'mql/2026-Q4', '2026-11-20 08:00:00.000000', 1, "
            "'2026-11-21 08:00:00.000000')"
        )
        connection.execute(
            "INSERT INTO escalation_steps (escalation_id, step, channel, claimed_by, claimed_at) "
            "VALUES (1, 'tier-1', 'email', 'gone:1:x', ?)",
            (claimed_at.strftime("%Y-%m-%d %H:%M:%S.%f"),),
        )
    connection.close()


@pytest.mark.parametrize(("age", "sent"), [(timedelta(minutes=16), 1), (timedelta(minutes=1), 0)])
def test_a_dead_runs_claim_is_retried_after_its_lease_a_live_one_is_not(
    run: Run, tmp_path: Path, smtp: Recorder, age: timedelta, sent: int
) -> None:
    root = make_registry(tmp_path / "r", smtp.port)  # type: ignore[attr-defined]
    csv = actuals(tmp_path, "a.csv", "mql,2026-Q4,90,2026-11-20\n")
    # A dry run makes no store; an empty one, then the half-done claim.
    assert run("escalations", str(root)).code == 0
    from kpictl.numbers.connections import DatabaseUrl
    from kpictl.numbers.store import open_store

    open_store(DatabaseUrl("store", f"sqlite:///{root}/.kpictl/store.db", ())).close()
    claim_row(root, datetime.now(UTC) - age)
    result = run("escalate", str(root), "-a", csv, "--as-of", "2026-11-20", "--send")
    assert result.code == 0, result.err
    assert len(smtp.messages) == sent
    if sent:
        assert result.out.splitlines()[-2:] == [
            "sent      mql  ann@acme.example",
            "Sent 1 of 1 email.",
        ]
        assert rows(
            root, "SELECT claimed_by != 'gone:1:x', delivered_at FROM escalation_steps"
        ) == [(1, "2026-11-20 08:00:00.000000")]
    else:
        assert result.out.splitlines()[-2:] == [
            "taken     mql  (another run is delivering this step)",
            "Sent 0 of 0 emails.",
        ]

"""Small correctness gaps closed in December: readers never upgrade an older store, filtered
maps link only to what they show, `who` lists experiments, and an escalation whose period
ended closes on the next run."""

from __future__ import annotations

import csv
import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE, Result, Run
from tests.escalation_fixtures import (
    ANN,
    DANA,
    KPI,
    Recorder,
    actuals,
    make_registry,
    parse,
    rows,
    smtp,
)
from tests.pg import PgServer

__all__ = ["smtp"]  # a fixture, used by name

# --- 1. a dry run writes nothing -----------------------------------------------------------

OBSERVATIONS = """
CREATE TABLE kpictl_store (version INTEGER NOT NULL);
CREATE TABLE observations (
    kpi VARCHAR(63) NOT NULL, period VARCHAR(63) NOT NULL, as_of DATE NOT NULL,
    value FLOAT NOT NULL, source TEXT NOT NULL, recorded_at DATETIME NOT NULL,
    CONSTRAINT observations_key PRIMARY KEY (kpi, period, as_of)
);
"""
# What kpictl wrote before the escalation tables (store_schema: versions 1 and 2).
OLDER = {
    1: OBSERVATIONS + "INSERT INTO kpictl_store VALUES (1);\n",
    2: OBSERVATIONS
    + "CREATE INDEX observations_by_period ON observations (period, kpi, as_of, value);\n"
    + "INSERT INTO kpictl_store VALUES (2);\n",
}
AS_OF = "2026-11-20"
CAMPAIGN = "q4-legacy-bi-displacement"


def older_store(tmp_path: Path, version: int) -> Path:
    """The example registry with a version-1 or -2 store holding its 2026-11-20 actuals.

    Version 2 is in WAL mode, as the kpictl that made it left it; version 1 is not.
    """
    root = tmp_path / "registry"
    shutil.copytree(EXAMPLE, root)
    (root / ".kpictl").mkdir()
    connection = sqlite3.connect(root / ".kpictl" / "store.db")
    if version == 2:
        connection.execute("PRAGMA journal_mode=WAL")
    connection.executescript(OLDER[version])
    with (root / "actuals" / f"{AS_OF}.csv").open(encoding="utf-8") as stream:
        rows = [
            (row["kpi"], row["period"], row["as_of"], float(row["value"]), "pull", AS_OF)
            for row in csv.DictReader(stream)
        ]
    connection.executemany("INSERT INTO observations VALUES (?, ?, ?, ?, ?, ?)", rows)
    connection.commit()
    connection.close()
    return root


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file of the store's folder: its bytes' digest and its mtime in nanoseconds."""
    return {
        path.name: (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
        for path in sorted(folder.iterdir())
    }


READERS = {
    "status": ("status", "{root}", "--as-of", AS_OF),
    "escalate": ("escalate", "{root}", "--as-of", AS_OF),
    "escalate --dry-run": ("escalate", "{root}", "--as-of", AS_OF, "--dry-run"),
    "escalations": ("escalations", "{root}"),
    "readout": ("readout", CAMPAIGN, "{root}", "--as-of", AS_OF),
    "recap": ("recap", CAMPAIGN, "{root}", "--as-of", AS_OF),
    "pull --dry-run": ("pull", "{root}", "--dry-run", "--as-of", AS_OF),
    "actuals export": ("actuals", "export", "{root}"),
}
# The line of each reader's output that proves it read the older store's values.
READ_LINE = {
    "status": "11 KPIs: 7 on track, 3 escalated, 1 in a data outage, 0 without a target.",
    "escalate": "mql                    → tier-1        new: tier 1",
    "escalate --dry-run": "mql                    → tier-1        new: tier 1",
    "escalations": "No escalation is open.",
    "readout": (
        "Subject: Day 30 readout: Q4 2026 legacy BI displacement · 1 of 3 KPIs behind pace"
    ),
    "recap": (
        "Subject: Recap to date: Q4 2026 legacy BI displacement · Marketing-sourced pipeline "
        "on pace: EUR 1,010,000 vs EUR 997,826 expected by now"
    ),
    "pull --dry-run": (
        "Pulled 82 values in 31 queries as of 2026-11-20, 0 failures; nothing recorded (dry run)."
    ),
    "actuals export": "mql,2026-Q4,1225,2026-11-20",
}


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("reader", list(READERS))
def test_a_reader_leaves_an_older_store_byte_for_byte_as_it_was(
    run: Run, tmp_path: Path, reader: str, version: int
) -> None:
    root = older_store(tmp_path, version)
    folder = root / ".kpictl"
    before = snapshot(folder)
    result = run(*(arg.format(root=root) for arg in READERS[reader]))
    assert result.code == 0, result.err
    assert READ_LINE[reader] in result.out.splitlines()
    assert snapshot(folder) == before
    connection = sqlite3.connect(folder / "store.db")
    assert connection.execute("SELECT version FROM kpictl_store").fetchall() == [(version,)]
    connection.close()


def test_readers_leave_an_older_postgresql_store_at_its_version(
    run: Run, tmp_path: Path, postgres: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = postgres.create_database()
    with postgres.connect(database) as connection:
        connection.execute(
            OLDER[2].replace("DATETIME", "TIMESTAMP WITH TIME ZONE").replace("FLOAT", "FLOAT8")
        )
        connection.execute(
            "INSERT INTO observations VALUES ('mql', '2026-Q4', '2026-11-20', 1225, 'pull', now())"
        )
    monkeypatch.setenv("KPICTL_STORE", postgres.url(database))
    for reader in ("status", "escalate", "escalations", "actuals export"):
        args = (arg.format(root=EXAMPLE) for arg in READERS[reader])
        assert run(*args).code == 0
    with postgres.connect(database) as connection:
        tables = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
            "ORDER BY table_name"
        ).fetchall()
        version = connection.execute("SELECT version FROM kpictl_store").fetchall()
    assert (tables, version) == ([("kpictl_store",), ("observations",)], [(2,)])


def test_a_dry_run_on_an_older_store_says_it_holds_no_escalations_yet(
    run: Run, tmp_path: Path
) -> None:
    root = older_store(tmp_path, 2)
    result = run("escalate", str(root), "--as-of", AS_OF)
    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == (
        f"note: the store sqlite:///{root}/.kpictl/store.db was made by an older kpictl "
        "(store version 2) and holds no escalation history: every tier that fires counts as "
        "new; --send upgrades the store and starts remembering"
    )


def test_a_writer_still_upgrades_an_older_store_in_place(run: Run, tmp_path: Path) -> None:
    root = older_store(tmp_path, 1)
    csv_file = tmp_path / "more.csv"
    csv_file.write_text("kpi,period,value,as_of\nmql,2026-Q4,1300,2026-11-21\n", encoding="utf-8")
    result = run("actuals", "import", str(csv_file), str(root))
    assert result.code == 0, result.err
    connection = sqlite3.connect(root / ".kpictl" / "store.db")
    assert connection.execute("SELECT version FROM kpictl_store").fetchall() == [(3,)]
    assert connection.execute("SELECT count(*) FROM observations").fetchall() == [(21,)]
    assert connection.execute("SELECT count(*) FROM escalations").fetchall() == [(0,)]
    connection.close()


# --- 4. an escalation open when its period ends closes on the next run ----------------------

Q3_AND_Q4 = KPI.replace(
    "targets: [{period: 2026-Q4, value: 100}]",
    "targets: [{period: 2026-Q3, value: 100}, {period: 2026-Q4, value: 100}]",
)
ESCALATIONS = "SELECT kpi, period, open_key, tier, closed_at FROM escalations ORDER BY id"
STEPS = (
    "SELECT escalation_id, step, channel, tier, recipients, delivered_at FROM escalation_steps "
    "ORDER BY rowid"
)
CLOSES = (
    "mql  → closes        2026-Q3 ended on Wed 30 Sep 2026: its tier-1 escalation closes "
    "unresolved, nobody is notified; the next period counts on its own"
)


def escalate_on(run: Run, root: Path, tmp_path: Path, when: str, row: str, *more: str) -> Result:
    csv_file = actuals(tmp_path, f"{when}.csv", row + "\n")
    return run("escalate", str(root), "-a", csv_file, "--as-of", when, *more)


def q3_escalation(run: Run, tmp_path: Path, smtp: Recorder) -> Path:
    """Tier 1 opened for 2026-Q3 on 25 September (10% behind), never resolved."""
    root = make_registry(tmp_path / "r", smtp.port, Q3_AND_Q4)  # type: ignore[attr-defined]
    result = escalate_on(run, root, tmp_path, "2026-09-25", "mql,2026-Q3,90,2026-09-25", "--send")
    assert (result.code, result.err) == (0, "")
    assert len(smtp.messages) == 1
    assert rows(root, ESCALATIONS) == [("mql", "2026-Q3", "mql/2026-Q3", 1, None)]
    return root


def test_the_dry_run_says_the_ended_period_closes_and_changes_nothing(
    run: Run, tmp_path: Path, smtp: Recorder
) -> None:
    root = q3_escalation(run, tmp_path, smtp)
    before = snapshot(root / ".kpictl")
    result = escalate_on(run, root, tmp_path, "2026-10-05", "mql,2026-Q4,98,2026-10-05")
    assert (result.code, result.err) == (0, "")
    assert result.out.splitlines()[0] == CLOSES
    assert snapshot(root / ".kpictl") == before
    assert len(smtp.messages) == 1


def test_an_ended_period_closes_its_escalation_without_a_message(
    run: Run, tmp_path: Path, smtp: Recorder
) -> None:
    root = q3_escalation(run, tmp_path, smtp)
    # Q4 is on track (98 of 100): only the Q3 escalation has something to say.
    result = escalate_on(run, root, tmp_path, "2026-10-05", "mql,2026-Q4,98,2026-10-05", "--send")
    assert (result.code, result.err) == (0, "")
    assert result.out.splitlines() == [
        CLOSES,
        "closed    mql  2026-Q3 (its period ended)",
        "Sent 0 of 0 emails.",
    ]
    assert len(smtp.messages) == 1  # no resolved note: the KPI never got back on track
    assert rows(root, ESCALATIONS) == [("mql", "2026-Q3", None, 1, "2026-10-05 07:00:00.000000")]
    assert rows(root, STEPS)[1:] == [
        (1, "period-ended", "-", None, None, "2026-10-05 07:00:00.000000")
    ]
    assert run("escalations", str(root), "--as-of", "2026-10-05").out == (
        "No escalation is open.\n"
    )
    # The next run finds nothing open and closes nothing twice.
    again = escalate_on(run, root, tmp_path, "2026-10-06", "mql,2026-Q4,99,2026-10-06", "--send")
    assert again.out.splitlines() == ["Nothing fires and nothing is open.", "Sent 0 of 0 emails."]
    assert len(rows(root, STEPS)) == 2


def test_a_miss_in_the_new_period_opens_a_fresh_escalation(
    run: Run, tmp_path: Path, smtp: Recorder
) -> None:
    root = q3_escalation(run, tmp_path, smtp)
    # Q4 is 20% behind: tier 2 fires as new, not as a move up from Q3's tier 1.
    result = escalate_on(run, root, tmp_path, "2026-10-05", "mql,2026-Q4,80,2026-10-05", "--send")
    assert (result.code, result.err) == (0, "")
    assert result.out.splitlines() == [
        "mql  → tier-2        new: tier 2",
        CLOSES,
        "closed    mql  2026-Q3 (its period ended)",
        f"sent      mql  {ANN}",
        f"sent      mql  {DANA}",
        "Sent 1 of 1 email.",
    ]
    assert len(smtp.messages) == 2
    message = parse(smtp.messages[1][1])
    assert message["Subject"] == (
        "[Tier 2 · respond by Thu 8 Oct 09:00 CEST] MQLs 20% behind Q4 target"
    )
    assert message["In-Reply-To"] is None  # a new thread: Q3's is over
    assert rows(root, ESCALATIONS) == [
        ("mql", "2026-Q3", None, 1, "2026-10-05 07:00:00.000000"),
        ("mql", "2026-Q4", "mql/2026-Q4", 2, None),
    ]


def test_two_runs_closing_one_ended_escalation_close_it_once(
    run: Run, tmp_path: Path, smtp: Recorder
) -> None:
    from datetime import UTC, datetime

    from kpictl.escalation import memory
    from kpictl.numbers.connections import DatabaseUrl
    from kpictl.numbers.store import open_store

    root = q3_escalation(run, tmp_path, smtp)
    at = datetime(2026, 10, 5, 7, tzinfo=UTC)
    url = DatabaseUrl("store", f"sqlite:///{root}/.kpictl/store.db", ())
    with open_store(url) as first, open_store(url) as second:
        # Both read the escalation as open, then both try to close it.
        assert [r.id for r in memory.open_escalations(second).values()] == [1]
        assert memory.close_ended(first, [1], "run-a", at) == {1}
        assert memory.close_ended(second, [1], "run-b", at) == set()
    assert rows(root, "SELECT claimed_by FROM escalation_steps WHERE step = 'period-ended'") == [
        ("run-a",)
    ]


def test_closing_an_ended_escalation_is_once_on_postgresql_too(postgres: PgServer) -> None:
    from datetime import UTC, datetime

    from kpictl.escalation import memory
    from kpictl.numbers.connections import DatabaseUrl
    from kpictl.numbers.store import open_store

    url = DatabaseUrl("store", postgres.url(postgres.create_database()), ())
    opened = datetime(2026, 9, 25, 7, tzinfo=UTC)
    at = datetime(2026, 10, 5, 7, tzinfo=UTC)
    with open_store(url) as first, open_store(url) as second:
        made = memory.open_many(first, [("mql", "2026-Q3", opened, 1, at, 10.0)])
        escalation = made[("mql", "2026-Q3")].id
        assert memory.close_ended(first, [escalation], "run-a", at) == {escalation}
        assert memory.close_ended(second, [escalation], "run-b", at) == set()
        assert memory.open_escalations(second) == {}

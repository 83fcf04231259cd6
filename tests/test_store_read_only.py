"""A store opened read-only is never written: readers leave an older store as it was, and
a write through a read-only Store is refused by kpictl and by the database itself."""

from __future__ import annotations

import csv
import hashlib
import shutil
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from kpictl.numbers.connections import DatabaseUrl
from kpictl.numbers.store import Observation, Store, StoreError, open_store
from tests.conftest import EXAMPLE, Run
from tests.pg import PgServer

# --- readers leave an older store as it was ------------------------------------------------

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


# --- a write through a read-only Store is refused ------------------------------------------

KEPT = Observation("mql", "2026-Q4", 1225.0, date(2026, 11, 20))
WRITE = "INSERT INTO observations VALUES ('sql', '2026-Q4', '2026-11-20', 1, 'x', '2026-11-20')"


def refused(shown: str) -> str:
    return (
        f"cannot write the store {shown}: this command opened it read-only and changes nothing "
        "in it"
    )


def attempt_writes(store: Store) -> list[str]:
    """What each way of writing through a read-only store raises, in order."""
    from sqlalchemy import text

    errors = []
    with pytest.raises(StoreError) as record:
        store.record([Observation("mql", "2026-Q4", 1.0, date(2026, 11, 21))], source="test")
    errors.append(str(record.value))
    with pytest.raises(StoreError) as begin, store.transaction(write=True):
        pass
    errors.append(str(begin.value))
    # Past kpictl's own check (a read transaction that writes): the database refuses.
    with pytest.raises(StoreError) as database, store.transaction(write=False) as connection:
        connection.execute(text(WRITE))
    errors.append(str(database.value))
    return errors


def sqlite_store(tmp_path: Path) -> tuple[DatabaseUrl, Path]:
    path = tmp_path / "store.db"
    url = DatabaseUrl("store", f"sqlite:///{path}", ())
    with open_store(url) as store:
        store.record([KEPT], source="pull")
    return url, path


def test_a_read_only_sqlite_store_refuses_every_write_and_changes_nothing(
    tmp_path: Path,
) -> None:
    url, path = sqlite_store(tmp_path)
    before = snapshot(tmp_path)
    with open_store(url, read_only=True) as store:
        errors = attempt_writes(store)
        assert list(store.observations()) == [KEPT]
    shown = f"sqlite:///{path}"
    assert errors == [
        refused(shown),
        refused(shown),
        refused(shown) + " (attempt to write a readonly database)",
    ]
    assert snapshot(tmp_path) == before


def test_the_read_only_guard_holds_under_python_optimize(tmp_path: Path) -> None:
    # `python -O` drops asserts: the guard must be a check that stays.
    url, path = sqlite_store(tmp_path)
    script = (
        "import sys\n"
        "from datetime import date\n"
        "from kpictl.numbers.connections import DatabaseUrl\n"
        "from kpictl.numbers.store import Observation, StoreError, open_store\n"
        "url = DatabaseUrl('store', sys.argv[1], ())\n"
        "with open_store(url, read_only=True) as store:\n"
        "    try:\n"
        "        store.record([Observation('mql', '2026-Q4', 1.0, date(2026, 11, 21))], "
        "source='test')\n"
        "    except StoreError as exc:\n"
        "        print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-O", "-c", script, url.url],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, refused(url.url) + "\n", "")
    connection = sqlite3.connect(path)
    assert connection.execute("SELECT kpi, value FROM observations").fetchall() == [("mql", 1225.0)]
    connection.close()


def test_a_read_only_postgresql_store_refuses_every_write_and_changes_nothing(
    postgres: PgServer,
) -> None:
    database = postgres.create_database()
    url = DatabaseUrl("store", postgres.url(database), ())
    with open_store(url) as store:
        store.record([KEPT], source="pull")
    with open_store(url, read_only=True) as store:
        errors = attempt_writes(store)
        shown = store.shown
        assert list(store.observations()) == [KEPT]
    assert errors == [
        refused(shown),
        refused(shown),
        refused(shown) + " (cannot execute INSERT in a read-only transaction)",
    ]
    with postgres.connect(database) as connection:
        assert connection.execute("SELECT kpi, value FROM observations").fetchall() == [
            ("mql", 1225.0)
        ]
    # A writer opened afterwards on the same server writes as before.
    with open_store(url) as store:
        assert (
            store.record(
                [Observation(KEPT.kpi, KEPT.period, 1300.0, KEPT.as_of)], source="pull"
            ).replaced
            == 1
        )

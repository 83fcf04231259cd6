"""The store: observations kept forever, one per key, in SQLite and in a real PostgreSQL;
versioned and upgraded in place; anything that is not a store refused and left as it was."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest

from kpictl.numbers.actuals import Actual
from kpictl.numbers.connections import DatabaseUrl
from kpictl.numbers.store import Observation, Recorded, StoreError, StoreMissingError, open_store
from kpictl.numbers.store_schema import CURRENT
from tests.conftest import ROOT
from tests.pg import PgServer

D1, D2, D3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)


def sqlite_url(path: Path) -> DatabaseUrl:
    return DatabaseUrl("store", f"sqlite:///{path}", ())


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> DatabaseUrl:
    """A URL for a store that does not exist yet: an SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / ".kpictl" / "store.db")
    server: PgServer = request.getfixturevalue("postgres")
    return DatabaseUrl("store", server.url(server.create_database()), (server.password,))


def everything(url: DatabaseUrl) -> list[Observation]:
    with open_store(url, create=False) as store:
        return list(store.observations())


def test_recording_again_replaces_and_never_doubles(store_url: DatabaseUrl) -> None:
    with open_store(store_url) as store:
        first = store.record(
            [Observation("mql", "2026-Q4", 10, D1), Observation("mql", "2026-Q4", 12, D2)],
            source="test",
        )
        again = store.record(
            [
                Observation("mql", "2026-Q4", 10, D1),  # same value: unchanged
                Observation("mql", "2026-Q4", 13, D2),  # new value: replaced
                Observation("mql", "2026-11", 4, D2),  # new key: added
                Observation("sql", "2026-Q4", 1, D3),
                Observation("sql", "2026-Q4", 2, D3),  # the same key twice: the later wins
            ],
            source="test",
        )
    assert first == Recorded(added=2, replaced=0, unchanged=0)
    assert again == Recorded(added=2, replaced=1, unchanged=1)
    assert everything(store_url) == [
        Observation("mql", "2026-11", 4, D2),
        Observation("mql", "2026-Q4", 10, D1),
        Observation("mql", "2026-Q4", 13, D2),
        Observation("sql", "2026-Q4", 2, D3),
    ]


def test_observations_filter_by_kpi_and_since(store_url: DatabaseUrl) -> None:
    with open_store(store_url) as store:
        store.record(
            [
                Observation("mql", "2026-Q4", 1, D1),
                Observation("mql", "2026-Q4", 2, D3),
                Observation("sql", "2026-Q4", 3, D2),
                Observation("cac", "2026-Q4", 4, D3),
            ],
            source="test",
        )
        assert list(store.observations(kpis=["mql", "sql"], since=D2)) == [
            Observation("mql", "2026-Q4", 2, D3),
            Observation("sql", "2026-Q4", 3, D2),
        ]


def test_actuals_look_like_the_csv_readers(store_url: DatabaseUrl) -> None:
    with open_store(store_url) as store:
        store.record(
            [
                Observation("mql", "2026-Q4", 12, D2),
                Observation("mql", "2026-Q4", 10, D1),
                Observation("mql", "2026-11", 5, D1),
                Observation("mql", "webinars", 7, D1),  # a campaign id
                Observation("gone", "2026-Q4", 1, D1),  # a KPI the registry no longer has
                Observation("mql", "old-campaign", 1, D1),  # a campaign it no longer has
            ],
            source="test",
        )
        actuals = store.actuals(["mql", "sql"], ["webinars"])
        narrowed = store.actuals(["mql"], periods=["2026-Q4"], until=D1)
    assert actuals.rows == {
        ("mql", "2026-11"): [Actual("mql", "2026-11", 5, D1, 0)],
        ("mql", "2026-Q4"): [
            Actual("mql", "2026-Q4", 10, D1, 0),
            Actual("mql", "2026-Q4", 12, D2, 0),
        ],
        ("mql", "webinars"): [Actual("mql", "webinars", 7, D1, 0)],
    }
    assert actuals.latest("mql", "2026-Q4") == Actual("mql", "2026-Q4", 12, D2, 0)
    assert actuals.problems == []
    assert narrowed.rows == {("mql", "2026-Q4"): [Actual("mql", "2026-Q4", 10, D1, 0)]}


def test_a_failed_record_records_nothing(store_url: DatabaseUrl) -> None:
    def broken() -> Iterator[Observation]:
        yield Observation("mql", "2026-Q4", 1, D1)
        yield Observation("mql", "2026-Q4", float("nan"), D2)

    with open_store(store_url) as store:
        with pytest.raises(StoreError) as raised:
            store.record(broken(), source="test")
        assert str(raised.value) == (
            "not recording 'mql' '2026-Q4' as of '2026-11-02': its value 'nan' is not a "
            "finite number"
        )
        assert list(store.observations()) == []


WRITER = """
import sys
from datetime import date, timedelta
from kpictl.numbers.connections import DatabaseUrl
from kpictl.numbers.store import Observation, open_store

url = DatabaseUrl("store", sys.argv[1], ())
first, value = int(sys.argv[2]), float(sys.argv[3])
day = date(2026, 1, 1)
with open_store(url) as store:
    for batch in range(first, first + 200, 10):
        days = [day + timedelta(n) for n in range(batch, batch + 10)]
        store.record([Observation("mql", "2026", value, on) for on in days], source=sys.argv[3])
print("done")
"""


def test_two_processes_recording_at_once_both_finish(store_url: DatabaseUrl) -> None:
    """Overlapping keys from two real processes: every key once, none lost or doubled."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, store_url.url, first, value],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for first, value in (("0", "1"), ("100", "2"))
    ]
    results = [writer.communicate(timeout=120) for writer in writers]
    finished = zip(writers, results, strict=True)
    assert [(writer.returncode, out, err) for writer, (out, err) in finished] == [
        (0, "done\n", ""),
        (0, "done\n", ""),
    ]
    stored = everything(store_url)
    days = [item.as_of for item in stored]
    assert len(stored) == 300
    assert len(set(days)) == 300
    values = [item.value for item in stored]
    assert set(values[:100]) == {1.0}  # only the first process wrote days 0-99
    assert set(values[200:]) == {2.0}  # only the second wrote days 200-299
    assert set(values[100:200]) <= {1.0, 2.0}


# --- versions -------------------------------------------------------------------------------

VERSION_1 = """
CREATE TABLE kpictl_store (version INTEGER NOT NULL);
CREATE TABLE observations (
    kpi VARCHAR(63) NOT NULL, period VARCHAR(63) NOT NULL, as_of DATE NOT NULL,
    value FLOAT NOT NULL, source TEXT NOT NULL, recorded_at DATETIME NOT NULL,
    CONSTRAINT observations_key PRIMARY KEY (kpi, period, as_of)
);
INSERT INTO kpictl_store VALUES (1);
INSERT INTO observations VALUES ('mql', '2026-Q4', '2026-11-01', 10.0, 'import a.csv',
    '2026-11-01 09:00:00.000000');
INSERT INTO observations VALUES ('mql', '2026-Q4', '2026-11-02', 12.5, 'pull',
    '2026-11-02 09:00:00.000000');
"""


def make_sqlite(path: Path, script: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path)
    connection.executescript(script)
    connection.commit()
    connection.close()


def test_a_version_1_store_is_upgraded_in_place_keeping_every_row(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    make_sqlite(path, VERSION_1)
    with open_store(sqlite_url(path), create=False) as store:
        assert list(store.observations()) == [
            Observation("mql", "2026-Q4", 10, D1),
            Observation("mql", "2026-Q4", 12.5, D2),
        ]
    connection = sqlite3.connect(path)
    assert connection.execute("SELECT version FROM kpictl_store").fetchall() == [(CURRENT,)]
    assert connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'"
    ).fetchall() == [("observations_by_period",)]
    assert connection.execute("SELECT source FROM observations ORDER BY as_of").fetchall() == [
        ("import a.csv",),
        ("pull",),
    ]
    connection.close()
    assert CURRENT == 3  # version 3: the escalation tables (tests/test_escalation_lifecycle.py)


def names_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextmanager
def untouched(path: Path, *, beside: bool = True) -> Iterator[None]:
    """The file's bytes are the same afterwards, and (`beside`) no file appeared next to it."""
    before = digest(path)
    names = names_in(path.parent)
    yield
    assert digest(path) == before
    if beside:
        assert names_in(path.parent) == names


def test_a_store_from_a_newer_kpictl_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    make_sqlite(path, VERSION_1.replace("VALUES (1)", "VALUES (9)"))
    with untouched(path), pytest.raises(StoreError) as raised:
        open_store(sqlite_url(path))
    assert str(raised.value) == (
        f"the store sqlite:///{path} was written by a newer kpictl (store version 9; this "
        "kpictl knows up to 3): upgrade kpictl to use it; it was left untouched"
    )


def test_a_text_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    path.write_text("kpi,period,value,as_of\nmql,2026-Q4,1,2026-11-01\n", encoding="utf-8")
    with untouched(path), pytest.raises(StoreError) as raised:
        open_store(sqlite_url(path))
    assert str(raised.value) == (
        f"sqlite:///{path} is not a kpictl store: it is not an SQLite database; kpictl left "
        "it untouched. Point KPICTL_STORE or store: in kpictl.yaml at a new file"
    )


def test_another_applications_sqlite_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    make_sqlite(path, "CREATE TABLE contacts (id INTEGER); INSERT INTO contacts VALUES (1);")
    with untouched(path), pytest.raises(StoreError) as raised:
        open_store(sqlite_url(path))
    assert str(raised.value) == (
        f"sqlite:///{path} is not a kpictl store: it is a database with other tables "
        "(contacts); kpictl left it untouched. Point KPICTL_STORE or store: in kpictl.yaml "
        "at a new file or database"
    )
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone() == ("delete",)


def test_a_folder_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    path.mkdir()
    with pytest.raises(StoreError) as raised:
        open_store(sqlite_url(path))
    assert str(raised.value) == (
        f"cannot use the store sqlite:///{path}: it is a folder, not a database file; point "
        "KPICTL_STORE or store: at a file, such as .kpictl/store.db"
    )
    assert names_in(path) == []


def test_a_path_under_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    path = tmp_path / "notes.txt" / "store.db"
    with pytest.raises(StoreError) as raised:
        open_store(sqlite_url(path))
    assert str(raised.value) == f"cannot use the store sqlite:///{path}: Not a directory"


@contextmanager
def read_only(*paths: Path) -> Iterator[None]:
    """Make files and folders unwritable, for root too (chattr +i); undone afterwards."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", *map(str, paths)], check=True)
    else:
        for path in paths:
            path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        yield
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", *map(str, paths)], check=True)
        else:
            for path in paths:
                path.chmod(0o755 if path.is_dir() else 0o644)


def test_a_read_only_store_is_read_but_not_written(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    path = folder / "store.db"
    with open_store(sqlite_url(path)) as store:
        store.record([Observation("mql", "2026-Q4", 1, D1)], source="test")
    # A reader of a WAL database leaves its -wal and -shm files: only the store is checked.
    with (
        read_only(path),
        untouched(path, beside=False),
        open_store(sqlite_url(path), create=False) as store,
    ):
        assert list(store.observations()) == [Observation("mql", "2026-Q4", 1, D1)]
        with pytest.raises(StoreError) as raised:
            store.record([Observation("mql", "2026-Q4", 2, D2)], source="test")
    assert str(raised.value) == (
        f"cannot write the store sqlite:///{path}: it is read-only; make the file and its "
        "folder writable, or point KPICTL_STORE at another store"
    )


def test_an_empty_read_only_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    path.touch()
    with read_only(path), untouched(path), pytest.raises(StoreError) as raised:
        open_store(sqlite_url(path))
    assert str(raised.value) == (
        f"cannot write the store sqlite:///{path}: it is read-only; make the file and its "
        "folder writable, or point KPICTL_STORE at another store"
    )


def test_a_store_in_a_read_only_folder_says_what_sqlite_needs(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    path = folder / "store.db"
    with open_store(sqlite_url(path)):
        pass
    with read_only(path, folder), untouched(path), pytest.raises(StoreError) as raised:
        open_store(sqlite_url(path), create=False)
    assert str(raised.value) == (
        f"cannot open the store sqlite:///{path}: unable to open database file; SQLite needs "
        "to read and write the file and create files beside it (-wal, -shm): check the "
        "permissions of the file and its folder"
    )


def test_a_link_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real.db"
    with open_store(sqlite_url(real)):
        pass
    (tmp_path / "kpictl.yaml").write_text("version: 1\n", encoding="utf-8")
    link = tmp_path / "store.db"
    link.symlink_to(real)
    with untouched(real), pytest.raises(StoreError) as raised:
        open_store(sqlite_url(link))
    assert str(raised.value) == (
        f"cannot use the store sqlite:///{link}: it is a symbolic link, which kpictl does not "
        "follow; point KPICTL_STORE or store: at the file itself"
    )


def test_a_linked_kpictl_folder_in_a_registry_is_refused(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    registry.mkdir()
    (registry / "kpictl.yaml").write_text("version: 1\n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (registry / ".kpictl").symlink_to(elsewhere)
    path = registry / ".kpictl" / "store.db"
    with pytest.raises(StoreError) as raised:
        open_store(sqlite_url(path))
    assert str(raised.value) == (
        f"cannot use the store sqlite:///{path}: {registry / '.kpictl'} is a symbolic link "
        "inside the repository, where a pull request can plant one; kpictl does not write or "
        "read through it: name a real folder"
    )
    assert names_in(elsewhere) == []


def test_reading_a_missing_store_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / ".kpictl" / "store.db"
    with pytest.raises(StoreMissingError) as raised:
        open_store(sqlite_url(path), create=False)
    assert str(raised.value) == (
        f"there is no store yet at sqlite:///{path}: run `kpictl pull` or `kpictl actuals "
        "import FILE` to record values first"
    )
    assert names_in(tmp_path) == []


def test_creating_the_store_makes_its_folder_and_a_wal_database(tmp_path: Path) -> None:
    path = tmp_path / ".kpictl" / "store.db"
    with open_store(sqlite_url(path)) as store:
        assert list(store.observations()) == []
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert connection.execute("SELECT version FROM kpictl_store").fetchall() == [(CURRENT,)]
    connection.close()


def test_check_and_status_from_a_file_never_import_sqlalchemy() -> None:
    """The store costs only the commands that use it: `check` starts as fast as before."""
    code = (
        "import sys\n"
        "from kpictl.__main__ import main\n"
        f"main(['check', {str(ROOT / 'registry')!r}, '--as-of', '2026-11-20'])\n"
        f"main(['status', {str(ROOT / 'registry')!r}, '--as-of', '2026-11-20', '--actuals',\n"
        f"      {str(ROOT / 'registry' / 'actuals' / '2026-11-20.csv')!r}])\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in\n"
        "    ('sqlalchemy', 'psycopg', 'duckdb') or m == 'kpictl.numbers.store')\n"
        "print(loaded, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.stderr == "[]\n"

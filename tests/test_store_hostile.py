"""A store someone else made or changed: refused untouched, never hung on, never crashed
on; `actuals import` and `export` with hostile rows and values. Exact messages and codes."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest

from kpictl.numbers.connections import DatabaseUrl
from kpictl.numbers.store import StoreError, open_store
from tests.conftest import AS_OF, EXAMPLE, Run
from tests.pg import PgServer

CSV = "kpi,period,value,as_of\n"
ADVICE = (
    "kpictl left it untouched. Point KPICTL_STORE or store: in kpictl.yaml at a new file or "
    "database, or restore the store from a backup"
)


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    """A copy of the example registry without a store."""
    root = tmp_path / "registry"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".kpictl"))
    return root


def store_of(root: Path) -> Path:
    return root / ".kpictl" / "store.db"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def imported(run: Run, root: Path) -> Path:
    """The example's actuals recorded in the registry's store; the store's path."""
    result = run("actuals", "import", str(root / "actuals" / "2026-11-20.csv"), str(root))
    assert result.code == 0, result.err
    return store_of(root)


def tamper(path: Path, *statements: str) -> str:
    """Run SQL on the store as another program would; the file's digest afterwards."""
    connection = sqlite3.connect(path, isolation_level=None)
    for statement in statements:
        connection.execute(statement)
    connection.close()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- 1. a schema kpictl did not make -------------------------------------------------------

# Harmless bodies: the check refuses any view or trigger, so a regression fails here
# instead of hanging the suite as an endless recursive query would.
TAMPERED = {
    "view": (
        [
            "ALTER TABLE observations RENAME TO obs_real",
            "CREATE VIEW observations AS SELECT * FROM obs_real",
        ],
        "it has a view observations that kpictl does not make",
    ),
    "trigger": (
        [
            "CREATE TRIGGER t AFTER INSERT ON observations BEGIN "
            "SELECT count(*) FROM observations; END"
        ],
        "it has a trigger t that kpictl does not make",
    ),
    "column type": (
        [
            "CREATE TABLE o2 AS SELECT * FROM observations",
            "DROP TABLE observations",
            "CREATE TABLE observations (kpi VARCHAR(63) NOT NULL, period VARCHAR(63) NOT NULL,"
            " as_of DATE NOT NULL, value TEXT NOT NULL, source TEXT NOT NULL,"
            " recorded_at DATETIME NOT NULL, PRIMARY KEY (kpi, period, as_of))",
            "CREATE INDEX observations_by_period ON observations (period, kpi, as_of, value)",
            "INSERT INTO observations SELECT * FROM o2",
            "DROP TABLE o2",
        ],
        "it has a table observations that is not the one kpictl makes",
    ),
    "no key": (
        [
            "DROP INDEX observations_by_period",
            "CREATE TABLE o2 AS SELECT * FROM observations",
            "DROP TABLE observations",
            "ALTER TABLE o2 RENAME TO observations",
            "CREATE INDEX observations_by_period ON observations (period, kpi, as_of, value)",
        ],
        "it has a table observations that is not the one kpictl makes",
    ),
    "extra table": (
        ["CREATE TABLE notes (text TEXT)"],
        "it has a table notes that kpictl does not make",
    ),
    "missing table": (
        ["DROP TABLE escalation_runs"],
        "it has no table escalation_runs",
    ),
    "version -5": (
        ["UPDATE kpictl_store SET version = -5"],
        "its table kpictl_store holds version -5",
    ),
    "version 0": (
        ["UPDATE kpictl_store SET version = 0"],
        "its table kpictl_store holds version 0",
    ),
}


@pytest.mark.parametrize("case", sorted(TAMPERED))
@pytest.mark.parametrize(
    "command",
    [
        ("status", "{root}", "--as-of", AS_OF),
        ("actuals", "import", "{csv}", "{root}"),
        ("actuals", "export", "{root}"),
    ],
)
def test_a_store_kpictl_did_not_make_is_refused_untouched(
    run: Run, registry: Path, tmp_path: Path, case: str, command: tuple[str, ...]
) -> None:
    path = imported(run, registry)
    statements, what = TAMPERED[case]
    before = tamper(path, *statements)
    names = sorted(p.name for p in path.parent.iterdir())
    csv_file = write(tmp_path / "a.csv", CSV + "mql,2026-Q4,611,2026-11-21\n")
    args = [arg.format(root=registry, csv=csv_file) for arg in command]
    result = run(*args)
    assert (result.code, result.out) == (2, "")
    assert result.err == f"kpictl: sqlite:///{path} is not a kpictl store: {what}; {ADVICE}\n"
    assert digest(path) == before
    assert sorted(p.name for p in path.parent.iterdir()) == names


def test_a_view_in_an_empty_database_is_not_taken_for_a_store(
    run: Run, registry: Path, tmp_path: Path
) -> None:
    path = store_of(registry)
    path.parent.mkdir()
    before = tamper(path, "CREATE VIEW observations AS SELECT 1 AS kpi")
    csv_file = write(tmp_path / "a.csv", CSV + "mql,2026-Q4,611,2026-11-21\n")
    result = run("actuals", "import", str(csv_file), str(registry))
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"kpictl: sqlite:///{path} is not a kpictl store: it is a database with other tables "
        "(observations); kpictl left it untouched. Point KPICTL_STORE or store: in kpictl.yaml "
        "at a new file or database\n"
    )
    assert digest(path) == before


def test_a_store_kpictl_made_passes_the_check_at_every_version(run: Run, registry: Path) -> None:
    """Each older version's own shape is accepted (read as it is), then upgraded."""
    path = imported(run, registry)
    tamper(
        path,
        "DROP TABLE escalation_steps",
        "DROP TABLE escalations",
        "DROP TABLE escalation_runs",
        "UPDATE kpictl_store SET version = 2",
    )
    assert run("status", str(registry), "--as-of", AS_OF).code == 0
    assert run("actuals", "import", str(registry / "actuals" / "2026-11-20.csv"), str(registry))
    assert sqlite3.connect(path).execute("SELECT version FROM kpictl_store").fetchall() == [(3,)]


@pytest.mark.parametrize(
    ("statement", "what"),
    [
        (
            "CREATE FUNCTION stall() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RETURN NEW; END $$; CREATE TRIGGER t BEFORE INSERT ON observations "
            "FOR EACH ROW EXECUTE FUNCTION stall()",
            "it has a trigger t on observations that kpictl does not make",
        ),
        (
            "ALTER TABLE observations RENAME TO obs_real; "
            "CREATE VIEW observations AS SELECT * FROM obs_real",
            "it has a view observations that kpictl does not make",
        ),
        (
            "ALTER TABLE observations ADD COLUMN note text",
            "it has a table observations that is not the one kpictl makes",
        ),
    ],
)
def test_a_postgresql_store_kpictl_did_not_make_is_refused(
    postgres: PgServer, statement: str, what: str
) -> None:
    database = postgres.create_database()
    url = DatabaseUrl("store", postgres.url(database), (postgres.password,))
    open_store(url).close()
    with postgres.connect(database) as connection:
        connection.execute(statement.encode())
    with pytest.raises(StoreError) as raised:
        open_store(url, read_only=True)
    shown = url.redact(url.url)
    assert str(raised.value) == f"{shown} is not a kpictl store: {what}; {ADVICE}"

"""A second hostile tester's store: defaults, CHECK constraints, collations, generated
columns and odd indexes kpictl never makes are refused untouched; escalation rows no
kpictl wrote are named, one line, exit 2. Exact messages and codes."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest

from kpictl.numbers import store_schema
from kpictl.numbers.connections import DatabaseUrl
from kpictl.numbers.store import StoreError, open_store
from tests.conftest import AS_OF, EXAMPLE, Run
from tests.pg import PgServer

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


def imported(run: Run, root: Path) -> Path:
    """The example's actuals recorded in the registry's store; the store's path."""
    result = run("actuals", "import", str(root / "actuals" / "2026-11-20.csv"), str(root))
    assert result.code == 0, result.err
    return root / ".kpictl" / "store.db"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rebuild(path: Path, kind: str, name: str, old: str, new: str) -> str:
    """Make table or index `name` again from kpictl's own statement with `old` replaced by
    `new`, as another program would (a table comes back empty); the file's digest."""
    connection = sqlite3.connect(path, isolation_level=None)
    (sql,) = connection.execute(
        "SELECT sql FROM sqlite_master WHERE type = ? AND name = ?", (kind, name)
    ).fetchone()
    assert old in sql
    indexes = [
        row[0]
        for row in connection.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
            "AND sql IS NOT NULL",
            (name,),
        )
    ]
    connection.execute(f"DROP {kind.upper()} {name}")
    connection.execute(sql.replace(old, new))
    if kind == "table":
        for index in indexes:
            connection.execute(index)
    connection.close()
    return digest(path)


# --- 1. what PRAGMA table_xinfo's columns did not compare -----------------------------------

TABLE = "it has a table {} that is not the one kpictl makes"
ALTERED = {
    "default ack_by": (
        ("table", "escalations", "ack_by VARCHAR(63),", "ack_by VARCHAR(63) DEFAULT 'mallory',"),
        TABLE.format("escalations"),
    ),
    "default ack_at": (
        (
            "table",
            "escalations",
            "ack_at DATETIME,",
            "ack_at DATETIME DEFAULT '2026-11-01 00:00:00.000000',",
        ),
        TABLE.format("escalations"),
    ),
    "check value < 0": (
        (
            "table",
            "observations",
            "value FLOAT NOT NULL,",
            "value FLOAT NOT NULL CHECK (value < 0),",
        ),
        TABLE.format("observations"),
    ),
    "check randomblob": (
        (
            "table",
            "observations",
            "CONSTRAINT observations_key",
            "CHECK (length(randomblob(300000000)) > 0), CONSTRAINT observations_key",
        ),
        TABLE.format("observations"),
    ),
    "collate": (
        (
            "table",
            "observations",
            "kpi VARCHAR(63) NOT NULL,",
            "kpi VARCHAR(63) NOT NULL COLLATE NOCASE,",
        ),
        TABLE.format("observations"),
    ),
    "generated column": (
        ("table", "escalations", "ack_note TEXT,", "ack_note TEXT GENERATED ALWAYS AS ('x'),"),
        TABLE.format("escalations"),
    ),
    "comment": (
        ("table", "escalation_runs", "ran_at DATETIME NOT NULL", "ran_at DATETIME NOT NULL -- x\n"),
        TABLE.format("escalation_runs"),
    ),
    "expression index": (
        ("index", "observations_by_period", "value)", "value + 0)"),
        TABLE.format("observations"),
    ),
    "index collation": (
        ("index", "observations_by_period", "(period,", "(period COLLATE NOCASE,"),
        "it has an index observations_by_period that is not the one kpictl makes",
    ),
}


@pytest.mark.parametrize("case", sorted(ALTERED))
@pytest.mark.parametrize(
    "command",
    [
        ("status", "{root}", "--as-of", AS_OF),
        ("actuals", "import", "{csv}", "{root}"),
    ],
)
def test_a_default_check_collation_or_expression_kpictl_did_not_make_is_refused_untouched(
    run: Run, registry: Path, case: str, command: tuple[str, ...]
) -> None:
    path = imported(run, registry)
    (kind, name, old, new), what = ALTERED[case]
    before = rebuild(path, kind, name, old, new)
    names = sorted(p.name for p in path.parent.iterdir())
    csv_file = registry / "actuals" / "2026-11-20.csv"
    result = run(*(arg.format(root=registry, csv=csv_file) for arg in command))
    assert (result.code, result.out) == (2, "")
    assert result.err == f"kpictl: sqlite:///{path} is not a kpictl store: {what}; {ADVICE}\n"
    assert digest(path) == before
    assert sorted(p.name for p in path.parent.iterdir()) == names


def test_spacing_case_and_quotes_are_not_a_difference(run: Run, registry: Path) -> None:
    """What SQLite or another SQLAlchemy may write differently, and means the same."""
    path = imported(run, registry)
    rebuild(
        path,
        "table",
        "escalation_runs",
        "escalation_runs (\n\tas_of DATETIME NOT NULL, \n\tran_at",
        '"escalation_runs" ("as_of"  datetime  not null,ran_at',
    )
    result = run("status", str(registry), "--as-of", AS_OF)
    assert (result.code, result.err) == (0, "")


def test_the_written_out_statements_are_what_the_steps_build() -> None:
    """A new step must write out its version's statements (store_schema.SQLITE_STATEMENTS)."""
    assert sorted(store_schema.SQLITE_STATEMENTS) == list(range(1, store_schema.CURRENT + 1))
    for version in store_schema.SQLITE_STATEMENTS:
        assert store_schema.SQLITE_STATEMENTS[version] == store_schema.built_sqlite_statements(
            version
        )
        assert store_schema.expected_sqlite_shape(version) == store_schema.built_sqlite_shape(
            version
        )


def test_normalizing_keeps_strings_and_folds_ascii_only() -> None:
    normalized = store_schema.normalized_statement
    assert normalized('create  table "t" (\n\ta int)') == "CREATE TABLE T ( A INT )"
    assert normalized("CHECK (a = 'mAl ory')") == "CHECK ( A = 'mAl ory' )"
    assert normalized("\u017fource TEXT") == "\u017f OURCE TEXT"  # long s: not an S


@pytest.mark.parametrize(
    ("statement", "table"),
    [
        ("ALTER TABLE escalations ALTER COLUMN ack_by SET DEFAULT 'mallory'", "escalations"),
        ("ALTER TABLE observations ADD CONSTRAINT neg CHECK (value < 0)", "observations"),
        (
            'ALTER TABLE observations ALTER COLUMN kpi TYPE varchar(63) COLLATE "C"',
            "observations",
        ),
        (
            "ALTER TABLE escalations DROP COLUMN ack_note; ALTER TABLE escalations ADD COLUMN "
            "ack_note text GENERATED ALWAYS AS ('x') STORED",
            "escalations",
        ),
        ("CREATE INDEX odd ON observations ((kpi || 'x'))", "observations"),
        ("CREATE INDEX part ON escalation_runs (as_of) WHERE ran_at > as_of", "escalation_runs"),
    ],
)
def test_a_postgresql_default_check_or_expression_kpictl_did_not_make_is_refused(
    postgres: PgServer, statement: str, table: str
) -> None:
    database = postgres.create_database()
    url = DatabaseUrl("store", postgres.url(database), (postgres.password,))
    open_store(url).close()
    open_store(url, read_only=True).close()  # kpictl's own store passes
    with postgres.connect(database) as connection:
        connection.execute(statement.encode())
    for read_only in (True, False):
        with pytest.raises(StoreError) as raised:
            open_store(url, read_only=read_only)
        shown = url.redact(url.url)
        assert (
            str(raised.value) == f"{shown} is not a kpictl store: {TABLE.format(table)}; {ADVICE}"
        )

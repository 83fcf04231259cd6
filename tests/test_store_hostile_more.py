"""A second hostile tester's store: defaults, CHECK constraints, collations, generated
columns and odd indexes kpictl never makes are refused untouched; escalation rows no
kpictl wrote are named, one line, exit 2. Exact messages and codes."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from kpictl.numbers import store_schema
from kpictl.numbers.connections import DatabaseUrl
from kpictl.numbers.store import StoreError, open_store
from tests.conftest import AS_OF, Run
from tests.escalation_fixtures import Recorder, actuals, make_registry, smtp
from tests.pg import PgServer
from tests.test_store_hostile import ADVICE, registry

__all__ = ["registry", "smtp"]  # fixtures, used by name


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


# --- 2. escalation rows no kpictl wrote -----------------------------------------------------

STORE_FIX = (
    "correct or delete that row (escalations WHERE id = 1; its steps are escalation_steps "
    "WHERE escalation_id = 1) or restore the store from a backup"
)
TIME = "which is not a time (YYYY-MM-DD HH:MM:SS)"
DAMAGED_ESCALATIONS = {
    "tier 'abc'": ("tier = 'abc'", "tier 'abc', which is not a whole number"),
    "tier 2.5": ("tier = 2.5", "tier 2.5, which is not a whole number"),
    "respond_by 'garbage'": ("respond_by = 'garbage'", f"respond_by 'garbage', {TIME}"),
    "respond_by blob": ("respond_by = X'00ff'", f"respond_by X'00FF', {TIME}"),
    "ack_at 'garbage'": (
        "ack_by = 'ann', ack_at = '2026-11-20 garbage'",
        f"ack_at '2026-11-20 garbage', {TIME}",
    ),
    "opened_at 9999": (
        "opened_at = '9999-12-31 23:59:59.999999'",
        "opened_at '9999-12-31 23:59:59.999999', which is out of range (kpictl records times "
        "from 1900-01-01 to 9000-12-31)",
    ),
    "deviation_pct 'x'": ("deviation_pct = 'x'", "deviation_pct 'x', which is not a number"),
    "deviation_pct inf": (
        "deviation_pct = 9e999",
        "deviation_pct inf, which is not a finite number up to 1e15",
    ),
    "ack_by blob": ("ack_by = X'00'", "ack_by X'00', which is not text"),
    "thread_id header": (
        "thread_id = '<a@b>' || char(13) || char(10) || 'Bcc: x@evil.example'",
        "thread_id '<a@b>\\r\\nBcc: x@evil.example', which is not a Message-ID (<...@...>)",
    ),
}
COMMANDS = {
    "escalations": ("escalations", "{root}"),
    "escalate": ("escalate", "{root}", "-a", "{csv}", "--as-of", "2026-11-20", "--dry-run"),
    "escalate --send": ("escalate", "{root}", "-a", "{csv}", "--as-of", "2026-11-21", "--send"),
    "ack": ("ack", "mql", "{root}", "--by", "bob", "--at", "2026-11-20T12:00"),
}


def escalated(run: Run, tmp_path: Path, port: int) -> tuple[Path, str]:
    """A registry whose store holds one open escalation (id 1) after a real --send."""
    root = make_registry(tmp_path / "r", port)
    csv = actuals(tmp_path, "a.csv", "mql,2026-Q4,90,2026-11-20\n")
    assert run("escalate", str(root), "-a", csv, "--as-of", "2026-11-20", "--send").code == 0
    return root, csv


@pytest.mark.parametrize("case", sorted(DAMAGED_ESCALATIONS))
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_escalation_row_no_kpictl_wrote_is_named_with_what_to_do(
    run: Run, tmp_path: Path, smtp: Recorder, case: str, command: str
) -> None:
    root, csv = escalated(run, tmp_path, smtp.port)  # type: ignore[attr-defined]
    path = root / ".kpictl" / "store.db"
    assignment, problem = DAMAGED_ESCALATIONS[case]
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute(f"UPDATE escalations SET {assignment}")
    connection.close()
    before = digest(path)
    result = run(*(arg.format(root=root, csv=csv) for arg in COMMANDS[command]))
    assert (result.code, result.out) == (2, "")
    sent = "; nothing was sent" if command == "escalate --send" else ""
    assert result.err == (
        f"kpictl: the store sqlite:///{path} is damaged: its escalation row for KPI 'mql', "
        f"period '2026-Q4' has {problem}; {STORE_FIX}{sent}\n"
    )
    if command != "escalate --send":  # --send records its run before it reads escalations
        assert digest(path) == before
    assert len(smtp.messages) == 1  # the first --send's, nothing since


@pytest.mark.parametrize(
    ("assignment", "problem"),
    [
        ("delivered_at = 'garbage'", f"delivered_at 'garbage', {TIME}"),
        ("claimed_at = X'00'", f"claimed_at X'00', {TIME}"),
        ("tier = 'two'", "tier 'two', which is not a whole number"),
        ("recipients = X'00'", "recipients X'00', which is not text"),
    ],
)
def test_a_step_row_no_kpictl_wrote_is_named_with_what_to_do(
    run: Run, tmp_path: Path, smtp: Recorder, assignment: str, problem: str
) -> None:
    root, _csv = escalated(run, tmp_path, smtp.port)  # type: ignore[attr-defined]
    path = root / ".kpictl" / "store.db"
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute(f"UPDATE escalation_steps SET {assignment}")
    connection.close()
    result = run("escalations", str(root))
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"kpictl: the store sqlite:///{path} is damaged: its escalation step row for KPI "
        f"'mql', period '2026-Q4', step 'tier-1', channel 'email' has {problem}; correct or "
        "delete that row (DELETE FROM escalation_steps WHERE escalation_id = 1 AND step = "
        "'tier-1' AND channel = 'email') or restore the store from a backup\n"
    )


def test_a_run_row_no_kpictl_wrote_is_named_with_what_to_do(
    run: Run, tmp_path: Path, smtp: Recorder
) -> None:
    root, csv = escalated(run, tmp_path, smtp.port)  # type: ignore[attr-defined]
    path = root / ".kpictl" / "store.db"
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("UPDATE escalation_runs SET as_of = 'garbage'")
    connection.close()
    result = run("escalate", str(root), "-a", csv, "--as-of", "2026-11-21", "--send")
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"kpictl: the store sqlite:///{path} is damaged: its escalation_runs row has as_of "
        f"'garbage', {TIME}; correct or delete that row (DELETE FROM escalation_runs WHERE "
        "as_of = 'garbage') or restore the store from a backup; nothing was sent\n"
    )
    assert len(smtp.messages) == 1

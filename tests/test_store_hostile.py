"""A store someone else made or changed: refused untouched, never hung on, never crashed
on; `actuals import` and `export` with hostile rows and values. Exact messages and codes."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pytest

from kpictl.numbers import store_schema
from kpictl.numbers.connections import DatabaseUrl
from kpictl.numbers.store import Observation, Recorded, StoreError, open_store
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


# --- 2. values no kpictl wrote --------------------------------------------------------------

ROW = "kpi = 'sql' AND period = '2026-Q4' AND as_of = '2026-11-20'"
READERS = {
    "status text": ("status", "{root}", "--as-of", AS_OF),
    "status json": ("status", "{root}", "--as-of", AS_OF, "-f", "json"),
    "status html": ("status", "{root}", "--as-of", AS_OF, "-f", "html"),
    "escalate": ("escalate", "{root}", "--as-of", AS_OF, "--dry-run"),
    "readout": ("readout", "q4-legacy-bi-displacement", "{root}", "--as-of", AS_OF, "--dry-run"),
    "recap": ("recap", "data-leaders-webinars-2026", "{root}", "--as-of", AS_OF, "--dry-run"),
    "export": ("actuals", "export", "{root}"),
}
DAMAGED_VALUES = {
    "'abc'": "'abc', which is not a number",
    "X'00ff'": "X'00FF', which is not a number",
    "9e999": "inf, which is not a finite number",
    "-9e999": "-inf, which is not a finite number",
    "1.7e308": "1.7e+308, which is larger than 10^15 (1e15)",
}


@pytest.mark.parametrize("value", sorted(DAMAGED_VALUES))
@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_value_no_kpictl_wrote_is_named_with_its_row(
    run: Run, registry: Path, value: str, reader: str
) -> None:
    path = imported(run, registry)
    before = tamper(path, f"UPDATE observations SET value = {value} WHERE {ROW}")
    result = run(*(arg.format(root=registry) for arg in READERS[reader]))
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"kpictl: the store sqlite:///{path} is damaged: its row for KPI 'sql', period "
        f"'2026-Q4', as_of '2026-11-20' has value {DAMAGED_VALUES[value]}; correct or delete "
        f"that row (DELETE FROM observations WHERE {ROW}) or restore the store from a backup\n"
    )
    assert digest(path) == before


DAMAGED_DAYS = {
    "'garbage'": "'garbage', which is not a date (YYYY-MM-DD)",
    "20261120": "20261120, which is not a date (YYYY-MM-DD)",
    "'2026-11-20 junk'": "'2026-11-20 junk', which is not a date (YYYY-MM-DD)",
    "'0001-01-01'": (
        "'0001-01-01', which is out of range (kpictl records dates from 1900-01-01 to 9000-12-31)"
    ),
}


@pytest.mark.parametrize("day", sorted(DAMAGED_DAYS))
@pytest.mark.parametrize("reader", ["status text", "export"])
def test_an_as_of_no_kpictl_wrote_is_named_with_its_row(
    run: Run, registry: Path, day: str, reader: str
) -> None:
    path = imported(run, registry)
    tamper(path, f"UPDATE observations SET as_of = {day} WHERE {ROW}")
    result = run(*(arg.format(root=registry) for arg in READERS[reader]))
    if reader == "status text" and day in ("'garbage'", "'2026-11-20 junk'"):
        # Text after 2026-11-20 in SQLite's order: measured after the day asked about,
        # so never read for it.
        assert (result.code, result.err) == (0, "")
        assert "2 in a data outage" in result.out  # sql has no value of its own day
        return
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"kpictl: the store sqlite:///{path} is damaged: its row for KPI 'sql', period "
        f"'2026-Q4' has as_of {DAMAGED_DAYS[day]}; correct or delete that row (DELETE FROM "
        f"observations WHERE kpi = 'sql' AND period = '2026-Q4' AND as_of = {day}) or "
        "restore the store from a backup\n"
    )


# --- 5. ids no kpictl wrote -----------------------------------------------------------------


def test_export_leaves_out_rows_whose_ids_are_no_ids_and_says_so(
    run: Run, registry: Path, tmp_path: Path
) -> None:
    path = imported(run, registry)
    connection = sqlite3.connect(path, isolation_level=None)
    rows = [
        ("x\n::error file=a::pwned\n##[error]two", "2026-Q4"),
        ("=HYPERLINK(1)", "2026-Q4"),
        ("mql", "@SUM(1)"),
        ("mql", "2026-Q4\r::warning::x"),
    ]
    for kpi, period in rows:
        connection.execute(
            "INSERT INTO observations VALUES (?, ?, '2026-11-20', 1.0, 'x', '2026-11-20')",
            (kpi, period),
        )
    connection.close()
    result = run("actuals", "export", str(registry), "--since", "2026-11-20")
    assert result.code == 1
    assert result.out == (
        CSV + "expansion-pipeline,2026-Q4,785000,2026-11-20\n"
        "mql,2026-Q4,1225,2026-11-20\n"
        "pipeline-coverage,2026-Q4,3.2,2026-11-20\n"
        "pipeline-sourced,2026-Q4,3460000,2026-11-20\n"
        "pipeline-sourced,q4-legacy-bi-displacement,1010000,2026-11-20\n"
        "sql,2026-Q4,448,2026-11-20\n"
        "sql,q4-legacy-bi-displacement,101,2026-11-20\n"
        "website-sessions,2026-Q4,121400,2026-11-20\n"
    )
    tail = (
        ", as_of '2026-11-20' is left out: its KPI or period is not an id kpictl writes "
        "(lowercase letters, digits and -, or a period such as 2026-Q4)\n"
    )
    assert result.err == (
        f"kpictl: warning: the store's row for KPI '=HYPERLINK(1)', period '2026-Q4'{tail}"
        "kpictl: warning: the store's row for KPI 'mql', period '2026-Q4\\r::warning::x'"
        f"{tail}"
        f"kpictl: warning: the store's row for KPI 'mql', period '@SUM(1)'{tail}"
        "kpictl: warning: the store's row for KPI 'x\\n::error file=a::pwned\\n#\\#[error]two', "
        f"period '2026-Q4'{tail}"
    )
    # No line of either stream can run a workflow command.
    for line in (result.out + result.err).splitlines():
        assert not line.lstrip().startswith("::") and "##[" not in line


# --- 7. what the store takes is what import takes ------------------------------------------


@pytest.mark.parametrize(
    ("observation", "problem"),
    [
        (
            ("mql", "2026-Q4", 1.0, date(1, 1, 1)),
            "'mql' '2026-Q4' as of '0001-01-01': its as_of 0001-01-01 is out of range: use a "
            "date from 1900-01-01 to 9000-12-31",
        ),
        (
            ("mql", "2026-Q4", 1.0, date(9001, 1, 1)),
            "'mql' '2026-Q4' as of '9001-01-01': its as_of 9001-01-01 is out of range: use a "
            "date from 1900-01-01 to 9000-12-31",
        ),
        (
            ("mql", "2026-Q4", 2e15, date(2026, 11, 2)),
            "'mql' '2026-Q4' as of '2026-11-02': its value 2e+15 is too large: values are at "
            "most 10^15 (1e15) in size",
        ),
        (
            ("=HYPERLINK(1)", "2026-Q4", 1.0, date(2026, 11, 2)),
            "'=HYPERLINK(1)' '2026-Q4' as of '2026-11-02': its KPI is not an id (lowercase "
            "letters, digits and -)",
        ),
        (
            ("mql", "2026-Q4\n::error::x", 1.0, date(2026, 11, 2)),
            "'mql' '2026-Q4\\n::error::x' as of '2026-11-02': its period is not a period or a "
            "campaign id (use YYYY-Qn (2026-Q4), YYYY-MM (2026-11) or YYYY (2026))",
        ),
    ],
)
def test_the_store_refuses_what_import_would_refuse(
    tmp_path: Path, observation: tuple[str, str, float, date], problem: str
) -> None:
    url = DatabaseUrl("store", f"sqlite:///{tmp_path / 'store.db'}", ())
    with open_store(url) as store:
        good = Observation("mql", "2026-Q4", 5.0, date(2026, 11, 1))
        with pytest.raises(StoreError) as raised:
            store.record([good, Observation(*observation)], source="test")
        assert str(raised.value) == f"not recording {problem}"
        assert list(store.observations()) == []


def test_every_value_and_day_the_store_takes_exports_and_imports_back(
    run: Run, registry: Path, tmp_path: Path
) -> None:
    edges = [
        Observation("mql", "2026-Q4", value, day)
        for value, day in [
            (1e15, date(1900, 1, 1)),
            (-1e15, date(9000, 12, 31)),
            (5e-324, date(2026, 11, 1)),
            (1e-310, date(2026, 11, 2)),
            (0.1 + 0.2, date(2026, 11, 3)),
            (-0.0, date(2026, 11, 4)),
            (123456789012345.6, date(2026, 11, 5)),
        ]
    ]
    url = DatabaseUrl("store", f"sqlite:///{store_of(registry)}", ())
    with open_store(url) as store:
        store.record(edges, source="test")
    out = tmp_path / "all.csv"
    assert run("actuals", "export", str(registry), "-o", str(out)).code == 0
    again = run("actuals", "import", str(out), str(registry))
    assert (again.code, again.err) == (0, "")
    assert again.out == f"Recorded 7 rows of {out}: 0 added, 0 replaced, 7 unchanged.\n"
    with open_store(url) as store:
        assert list(store.observations()) == sorted(edges, key=lambda o: o.as_of)


# --- 6. recording many rows at once -------------------------------------------------------


@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
def test_recording_thousands_counts_each_key_once_exactly(
    request: pytest.FixtureRequest, tmp_path: Path, dialect: str
) -> None:
    if dialect == "sqlite":
        url = DatabaseUrl("store", f"sqlite:///{tmp_path / 'store.db'}", ())
    else:
        server: PgServer = request.getfixturevalue("postgres")
        url = DatabaseUrl("store", server.url(server.create_database()), (server.password,))
    days = [date(2025, 1, 1) + timedelta(days=n) for n in range(700)]
    first = [
        Observation(kpi, "2026", float(n), day)
        for kpi in ("mql", "sql")
        for n, day in enumerate(days)
    ]
    with open_store(url) as store:
        assert store.record(first, source="a") == Recorded(1400, 0, 0)
        again = [
            *first[:500],  # the same values: unchanged
            *(Observation(o.kpi, o.period, o.value + 0.5, o.as_of) for o in first[500:900]),
            Observation("mql", "2026-Q4", 1.0, days[0]),  # a new key
            Observation("mql", "2026-Q4", 2.0, days[0]),  # the same key: the later wins
        ]
        assert store.record(again, source="b") == Recorded(1, 400, 500)
        assert store.record([], source="c") == Recorded(0, 0, 0)
        stored = list(store.observations())
    assert len(stored) == 1401
    assert stored[0] == Observation("mql", "2026", 0.0, days[0])
    assert Observation("mql", "2026-Q4", 2.0, days[0]) in stored
    assert Observation("mql", "2026", 500.5, days[500]) in stored
    assert Observation("sql", "2026", 199.5, days[199]) in stored  # first[899] + 0.5
    assert Observation("sql", "2026", 200.0, days[200]) in stored  # first[900]: not given again


# --- 4. a store URL with a port that is no number -------------------------------------------


@pytest.mark.parametrize("port", ["notaport", "54 32", "-1x"])
def test_a_port_that_is_no_number_is_one_line_without_the_password(
    run: Run, registry: Path, monkeypatch: pytest.MonkeyPatch, port: str
) -> None:
    monkeypatch.setenv("KPICTL_STORE", f"postgresql+psycopg://kpi:s3cr3t-pw@db.example:{port}/kpis")
    expected = (
        f"kpictl: cannot use the store postgresql+psycopg://kpi:***@db.example:{port}/kpis: its "
        "port is not a number; set KPICTL_STORE or store: in kpictl.yaml to a URL such as "
        "postgresql+psycopg://user:${PASSWORD}@host:5432/db\n"
    )
    for command in (
        ("status", str(registry), "--as-of", AS_OF),
        ("actuals", "import", str(registry / "actuals" / "2026-11-20.csv"), str(registry)),
        ("actuals", "export", str(registry)),
    ):
        result = run(*command)
        assert (result.code, result.out, result.err) == (2, "", expected)


# --- 8. numbers are ASCII -------------------------------------------------------------------


def test_digits_of_other_scripts_are_not_numbers(run: Run, registry: Path, tmp_path: Path) -> None:
    csv_file = write(
        tmp_path / "u.csv",
        CSV + "mql,2026-Q4,\u0665,2026-11-20\n"  # ARABIC-INDIC DIGIT FIVE: float() reads 5.0
        "sql,2026-Q4,\uff15\uff10,2026-11-20\n"  # full-width 50
        "nrr,2026-Q4,1\u0966.5,2026-11-20\n"  # DEVANAGARI ZERO inside
        "mql,2026-Q4,\u0661\u0662,\u0662\u0660\u0662\u0666-11-20\n",
    )
    advice = (
        " is not a number: write ASCII digits 0-9 with a dot for decimals and no thousands "
        "separators or units (1225, 36.6); row skipped\n"
    )
    lines = (
        f"{csv_file}:2: value '\u0665'{advice}"
        f"{csv_file}:3: value '\uff15\uff10'{advice}"
        f"{csv_file}:4: value '1\u0966.5'{advice}"
        f"{csv_file}:5: value '\u0661\u0662'{advice}"
    )
    result = run("actuals", "import", str(csv_file), str(registry))
    assert (result.code, result.out) == (1, "")
    assert result.err == lines + (
        f"kpictl: nothing recorded: {csv_file} has 4 bad rows (listed above); fix them, or pass "
        "--skip-bad to record the 0 good rows\n"
    )
    assert not store_of(registry).exists()
    status = run("status", str(registry), "--actuals", str(csv_file), "--as-of", AS_OF)
    assert status.err.startswith(lines)


# --- 9. messages that say what is there -----------------------------------------------------


def test_import_messages_spell_out_what_cannot_be_seen(
    run: Run, registry: Path, tmp_path: Path
) -> None:
    csv_file = write(
        tmp_path / "c.csv",
        CSV + "mql\u202e,2026-Q4,5,2026-11-20\n"
        "mql,2026-Q4,5\x00,2026-11-20\n"
        "mql,2026-Q4,##[error]x,2026-11-20\n"
        "mql,2026-Q\t4,5,2026-11-20\n",
    )
    result = run("actuals", "import", str(csv_file), str(registry))
    assert (result.code, result.out) == (1, "")
    number = (
        "is not a number: write digits with a dot for decimals and no thousands separators or "
        "units (1225, 36.6); row skipped"
    )
    assert result.err == (
        f"{csv_file}:2: unknown KPI 'mql\\u202e' (did you mean 'mql'?): row skipped\n"
        f"{csv_file}:3: value '5\\x00' {number}\n"
        f"{csv_file}:4: value '#\\#[error]x' {number}\n"
        f"{csv_file}:5: '2026-Q\\t4' is not a period or a campaign id: use YYYY-Qn (2026-Q4), "
        "YYYY-MM (2026-11) or YYYY (2026), or a campaign id for what the campaign produced; "
        "row skipped\n"
        f"kpictl: nothing recorded: {csv_file} has 4 bad rows (listed above); fix them, or "
        "pass --skip-bad to record the 0 good rows\n"
    )


@pytest.mark.parametrize("suffix", ["-wal", "-journal", "-shm"])
@pytest.mark.parametrize("exists", [True, False])
def test_a_link_beside_the_store_is_named(
    run: Run, registry: Path, tmp_path: Path, suffix: str, exists: bool
) -> None:
    target = write(tmp_path / "target.txt", "keep me\n")
    path = imported(run, registry) if exists else store_of(registry)
    path.parent.mkdir(exist_ok=True)
    link = path.with_name("store.db" + suffix)
    link.symlink_to(target)
    expected = (
        f"kpictl: cannot use the store sqlite:///{path}: store.db{suffix} beside it is a "
        "symbolic link, which kpictl does not follow; remove it (SQLite makes its own) and run "
        "again\n"
    )
    for command in (
        ("actuals", "import", str(registry / "actuals" / "2026-11-20.csv"), str(registry)),
        ("status", str(registry), "--as-of", AS_OF),
    ):
        result = run(*command)
        assert (result.code, result.out, result.err) == (2, "", expected)
    assert target.read_text(encoding="utf-8") == "keep me\n"


def test_a_folder_beside_the_store_is_named(run: Run, registry: Path) -> None:
    path = imported(run, registry)
    path.with_name("store.db-shm").mkdir()
    result = run("status", str(registry), "--as-of", AS_OF)
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"kpictl: cannot use the store sqlite:///{path}: store.db-shm beside it is not a "
        "regular file; remove it (SQLite makes its own) and run again\n"
    )


def test_the_written_out_shapes_are_what_the_steps_build() -> None:
    """A new step must write out its version's shape (store_schema.SQLITE_SHAPES)."""
    assert sorted(store_schema.SQLITE_SHAPES) == list(range(1, store_schema.CURRENT + 1))
    for version in store_schema.SQLITE_SHAPES:
        assert store_schema.expected_sqlite_shape(version) == store_schema.built_sqlite_shape(
            version
        )

"""`kpictl pull` stays inside the registry and within bounds, whatever the registry says.

Each test is one defect a hostile tester found, with the exact failure, finding or
exit code that replaces it. Real DuckDB, real SQLite, the real PostgreSQL server of
tests/pg.py (a superuser: kpictl, not the server's rights, must refuse COPY).
"""

# ruff: noqa: E501  (case tables: one case per line)

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from kpictl.numbers.connections import DatabaseUrl, redact
from kpictl.numbers.queries import Database, QueryFailed, Watchdog, run_query
from tests.helpers import Run, deadline, make
from tests.pg import PgServer
from tests.test_pull import AS_OF, failure_of, pull, registry

FAILED = "failed: kpi mql 2026-Q4 (warehouse): "
ONLY_SELECT = "kpictl runs only SELECT queries, which never write"
SECRET = "S3cr3tValue-zq8"  # found in no other string of these tests


def settings(url: str) -> str:
    return f"version: 1\nconnections:\n  warehouse: {{url: '{url}'}}\n"


def one_failure(run: Run, root: Path) -> str:
    code, out, _ = pull(run, root, "--no-backfill")
    assert code == 1
    [failed] = failure_of(out)
    return failed


# --- 1. the URL's query cannot undo the lock-down ---------------------------------------


def test_check_reports_query_parameters_on_a_duckdb_url(tmp_path: Path, run: Run) -> None:
    make(tmp_path, settings=settings("duckdb:///:memory:?temp_directory=/"))
    result = run("check", ".", "--show-source", "--as-of", AS_OF, cwd=tmp_path)
    assert (result.code, result.err) == (1, "")
    assert result.out.splitlines() == [
        "kpictl.yaml:3:20: S001 [error] connections.warehouse.url: a DuckDB URL takes no "
        "query parameters (?temp_directory=...): kpictl sets DuckDB's settings itself "
        "(read-only, files below the registry): remove them",
        "    3 |   warehouse: {url: 'duckdb:///:memory:?temp_directory=/'}",
        "      |                    ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^",
        "Found 1 error, 0 warnings, 0 info in 8 files (check failed, failing on error).",
    ]


@pytest.mark.parametrize(
    "url", ["duckdb:///:memory:?temp_directory=/", "duckdb:///w.duckdb?access_mode=read_write"]
)
def test_a_duckdb_url_with_a_query_never_connects(tmp_path: Path, url: str) -> None:
    # Check's finding leaves the connection out of a pull; a URL reaching the engine
    # some other way is refused there too, before DuckDB sees its query.
    name = url.split("?")[1].split("=")[0]
    database = Database(DatabaseUrl("warehouse", url, ()), tmp_path, 2, tmp_path)
    with pytest.raises(QueryFailed) as raised:
        run_query(database, "select 1 as value", {}, 5, Watchdog())
    assert str(raised.value) == (
        f"refused: the DuckDB URL has query parameters (?{name}=...): kpictl sets DuckDB's "
        "settings itself (read-only, files below the registry): remove them from the URL "
        "in kpictl.yaml"
    )


# --- 2. DuckDB's temp folder is kpictl's own, never `.tmp` in the registry ---------------


def test_a_tmp_link_in_the_registry_is_not_readable(tmp_path: Path, run: Run) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "environ").write_text(f"TOKEN={SECRET}\n", encoding="utf-8")
    root = registry(
        tmp_path / "reg", "select length(content) as value from read_text('.tmp/environ')"
    )
    (root / ".tmp").symlink_to(outside)
    failed = one_failure(run, root)
    assert failed == (
        f'{FAILED}Permission Error: Cannot access file ".tmp/environ" - file system '
        "operations are disabled by configuration"
    )


def test_the_temp_folder_is_private_bounded_and_removed(tmp_path: Path, run: Run) -> None:
    sql = (
        "select (current_setting('temp_directory') like '%/kpictl-duckdb-%')::int "
        "+ 10 * (current_setting('max_temp_directory_size') = '4.0 GiB')::int as value"
    )
    root = registry(tmp_path / "reg", sql)
    code, out, _ = pull(run, root, "--no-backfill", "--format", "json")
    assert code == 0
    assert [o["value"] for o in json.loads(out)["observations"]] == [11.0]
    assert not (root / ".tmp").exists()


# --- 3. the database file: a regular file below the registry ------------------------------


def duckdb_file(path: Path) -> None:
    import duckdb

    with duckdb.connect(str(path)) as db:
        db.execute("create table t as select 42 as value")


OUTSIDE = "refused: the DuckDB file {} is outside the registry: kpictl opens only a database file below the registry folder (duckdb:///warehouse.duckdb)"
NOT_REGULAR = (
    "refused: the DuckDB file {} is {}, not a regular file: put the database file itself there"
)


# fmt: off
DATABASE_FILES = [
    pytest.param("duckdb:///{tmp}/outside.duckdb", "{tmp}/outside.duckdb", OUTSIDE, id="absolute-outside"),
    pytest.param("duckdb:///link.duckdb", "link.duckdb", NOT_REGULAR.format("{}", "a symbolic link"), id="link"),
    pytest.param("duckdb:///fifo.duckdb", "fifo.duckdb", NOT_REGULAR.format("{}", "a named pipe (FIFO)"), id="fifo"),
    pytest.param("duckdb:///warehouse", "warehouse", NOT_REGULAR.format("{}", "a folder"), id="folder"),
    pytest.param("duckdb:///sub/outside.duckdb", "sub/outside.duckdb", OUTSIDE, id="linked-folder"),
]
# fmt: on


@pytest.mark.parametrize(("url", "shown", "message"), DATABASE_FILES)
def test_a_duckdb_file_outside_or_not_regular_is_refused(
    tmp_path: Path, run: Run, url: str, shown: str, message: str
) -> None:
    duckdb_file(tmp_path / "outside.duckdb")
    root = tmp_path / "reg"
    root = registry(root, "select value from t", settings=settings(url.format(tmp=tmp_path)))
    (root / "link.duckdb").symlink_to(tmp_path / "outside.duckdb")
    (root / "sub").symlink_to(tmp_path)
    os.mkfifo(root / "fifo.duckdb")
    with deadline(60):  # opening the FIFO would block for ever
        failed = one_failure(run, root)
    assert failed == FAILED + message.format(shown.format(tmp=tmp_path, reg=root))


def test_a_duckdb_file_inside_the_registry_opens_by_absolute_path_too(
    tmp_path: Path, run: Run
) -> None:
    root = tmp_path / "reg"
    root = registry(
        root, "select value from t", settings=settings(f"duckdb:///{tmp_path}/reg/w.duckdb")
    )
    duckdb_file(root / "w.duckdb")
    code, out, _ = pull(run, root, "--no-backfill", "--format", "json")
    assert code == 0
    assert [o["value"] for o in json.loads(out)["observations"]] == [42.0]


# --- 4. memory ------------------------------------------------------------------------------


def test_a_query_past_the_memory_limit_fails_with_duckdbs_message(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kpictl.numbers import confinement

    monkeypatch.setattr(confinement, "MEMORY_CAP", 32 << 20)
    monkeypatch.setattr(confinement, "MEMORY_FLOOR", 32 << 20)
    sql = "select length(string_agg(range::varchar, ',')) as value from range(30000000)"
    root = registry(tmp_path / "reg", sql)
    failed = one_failure(run, root)
    assert failed.startswith(f"{FAILED}Out of Memory Error: failed to allocate data of size ")
    assert " MiB/32.0 MiB used)" in failed


def test_each_connection_gets_at_most_a_gib_and_together_half_the_memory() -> None:
    from kpictl.numbers import confinement

    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert confinement.memory_limit(4) == max(64 << 20, min(1 << 30, physical // 8))
    assert confinement.memory_limit(10**9) == 64 << 20


def test_the_memory_limit_is_set_on_the_connection(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kpictl.numbers import confinement

    monkeypatch.setattr(confinement, "MEMORY_CAP", 100 << 20)
    sql = "select (current_setting('memory_limit') = '100.0 MiB')::int as value"
    root = registry(tmp_path / "reg", sql)
    code, out, _ = pull(run, root, "--no-backfill", "--format", "json")
    assert code == 0
    assert [o["value"] for o in json.loads(out)["observations"]] == [1.0]


# --- 5. a FIFO in the registry ------------------------------------------------------------


def test_a_fifo_in_the_registry_stops_duckdb_before_it_waits(tmp_path: Path, run: Run) -> None:
    root = registry(
        tmp_path / "reg", "select count(*) as value from read_csv('warehouse/pipe.csv')"
    )
    os.mkfifo(root / "warehouse" / "pipe.csv")
    with deadline(60):
        failed = one_failure(run, root)
    assert failed == (
        f"{FAILED}refused: the registry holds a named pipe (FIFO) at warehouse/pipe.csv, "
        "which a query reading it would wait on forever: remove it (DuckDB queries are "
        "not run while it is there)"
    )


# --- 6. every other database: one SELECT, SQLite read-only --------------------------------


def sqlite_registry(tmp_path: Path, sql: str) -> Path:
    root = registry(tmp_path / "reg", sql, settings=settings("sqlite:///wh.db"))
    with sqlite3.connect(root / "wh.db") as db:
        db.execute("create table leads (id int)")
        db.executemany("insert into leads values (?)", [(i,) for i in range(7)])
    return root


# fmt: off
SQLITE = [
    pytest.param("attach database '{tmp}/stolen.db' as p", f"refused: the SQL is an ATTACH statement: {ONLY_SELECT}", id="attach"),
    pytest.param("vacuum into '{tmp}/copy.db'", f"refused: the SQL is a VACUUM statement: {ONLY_SELECT}", id="vacuum-into"),
    pytest.param("create table t(x)", f"refused: the SQL is a CREATE statement: {ONLY_SELECT}", id="create"),
    pytest.param("pragma query_only = off", f"refused: the SQL is a PRAGMA statement: {ONLY_SELECT}", id="pragma"),
    pytest.param("-- a comment\n/* and one */ ( delete from leads )", f"refused: the SQL is a DELETE statement: {ONLY_SELECT}", id="after-comments"),
    pytest.param("'select' as value", f"refused: the SQL does not start with SELECT or WITH: {ONLY_SELECT}", id="no-keyword"),
    pytest.param("with gone as (select 1) delete from leads", "attempt to write a readonly database", id="write-in-with"),
    pytest.param("with gone as (select 1) insert into leads select 1", "attempt to write a readonly database", id="insert-in-with"),
]
# fmt: on


@pytest.mark.parametrize(("sql", "message"), SQLITE)
def test_sqlite_runs_only_selects_on_a_read_only_connection(
    tmp_path: Path, run: Run, sql: str, message: str
) -> None:
    root = sqlite_registry(tmp_path, sql.format(tmp=tmp_path))
    failed = one_failure(run, root)
    assert failed == FAILED + message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reg"]
    with sqlite3.connect(root / "wh.db") as db:
        assert db.execute("select name from sqlite_master").fetchall() == [("leads",)]
        assert db.execute("select count(*) from leads").fetchall() == [(7,)]


@pytest.mark.parametrize(
    "sql",
    [
        "select count(*) as value from leads",
        "/* c */ select count(*) as value from leads",
        "with n as (select count(*) as c from leads) select c as value from n",
        "values (7)",
    ],
)
def test_sqlite_selects_still_run(tmp_path: Path, run: Run, sql: str) -> None:
    root = sqlite_registry(
        tmp_path, sql.replace("values (7)", "select * from (values (7)) as value")
    )
    if sql == "values (7)":
        (root / "kpi.yaml").write_text(
            (root / "kpi.yaml")
            .read_text(encoding="utf-8")
            .replace("select * from (values (7)) as value", "values (7)"),
            encoding="utf-8",
        )
    code, out, _ = pull(run, root, "--no-backfill", "--format", "json")
    data = json.loads(out)
    if sql == "values (7)":  # SQLite names the column column1: read as no `value`
        assert code == 1
        assert (
            data["failures"][0]["message"]
            == "returned no column `value` (columns: column1): name it `as value`"
        )
        return
    assert code == 0
    assert [o["value"] for o in data["observations"]] == [7.0]


def test_a_statement_without_a_result_set_says_so(tmp_path: Path) -> None:
    from sqlalchemy import create_engine, text

    from kpictl.numbers.queries import _rows

    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as connection:
        result = connection.execute(text("create table t (x int)"))
        with pytest.raises(QueryFailed) as raised:
            _rows(result)
    engine.dispose()
    assert str(raised.value) == "returned no result set: the SQL must be a SELECT"


PG_VARIABLE = "KPICTL_TEST_PG_SUPERUSER_PASSWORD"


# fmt: off
POSTGRES = [
    pytest.param("copy (select 1) to program 'touch {tmp}/touched'", "refused: the SQL is a COPY statement: " + ONLY_SELECT, id="copy-to-program"),
    pytest.param("copy leads to '{tmp}/leads.txt'", "refused: the SQL is a COPY statement: " + ONLY_SELECT, id="copy-to-file"),
    pytest.param("(copy leads to '{tmp}/leads.txt')", "refused: the SQL is a COPY statement: " + ONLY_SELECT, id="parenthesised"),
    pytest.param("do $$ begin perform 1; end $$", "refused: the SQL is a DO statement: " + ONLY_SELECT, id="do"),
]
# fmt: on


@pytest.mark.parametrize(("sql", "message"), POSTGRES)
def test_postgres_refuses_copy_before_the_server_sees_it(
    tmp_path: Path,
    run: Run,
    postgres: PgServer,
    monkeypatch: pytest.MonkeyPatch,
    sql: str,
    message: str,
) -> None:
    database = postgres.create_database()
    with postgres.connect(database) as admin:
        admin.execute("create table leads (id int)")
    tmp_path.chmod(0o777)  # the server runs as another user: it could write here
    monkeypatch.setenv(PG_VARIABLE, postgres.password)
    url = f"postgresql+psycopg://{postgres.user}:${{{PG_VARIABLE}}}@{postgres.host}:{postgres.port}/{database}"
    root = registry(tmp_path / "reg", sql.format(tmp=tmp_path), settings=settings(url))
    failed = one_failure(run, root)
    assert failed == FAILED + message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reg"]


# --- 7. a secret is hidden before a message is cut ----------------------------------------


def test_a_secret_across_the_cut_is_hidden_whole(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KPICTL_TEST_DB_NAME", f"{SECRET}.db")
    prefix = "no such table: "
    name = "t" * (495 - len(prefix)) + f"{SECRET}.db"
    root = registry(
        tmp_path / "reg",
        f'select value from "{name}"',
        settings=settings("sqlite:///${KPICTL_TEST_DB_NAME}"),
    )
    sqlite3.connect(root / f"{SECRET}.db").close()
    failed = one_failure(run, root)
    assert failed == FAILED + prefix + "t" * (495 - len(prefix)) + "***"


# --- 8. a password in a URL's query -------------------------------------------------------


def test_redact_hides_secrets_in_a_urls_query() -> None:
    text = (
        "postgresql://u@h/db?sslmode=require&PASSWORD=hunter2&Api_Key=k1;token=t2 "
        "snowflake://u@acct/db?pwd=p3&passwd=p4&secret=s5&key=k6&access_token=a7#x"
    )
    assert redact(text) == (
        "postgresql://u@h/db?sslmode=require&PASSWORD=***&Api_Key=***;token=*** "
        "snowflake://u@acct/db?pwd=***&passwd=***&secret=***&key=***&access_token=***#x"
    )


def test_redact_hides_every_parameter_named_as_a_secret_and_no_file_path() -> None:
    text = (
        "postgresql://u@h/db?sslpassword=s1&sslkey=/etc/ssl/k.pem&client_secret=s2"
        "&private_key_file_pwd=s3&credentials_base64=s4&refresh_token=s5&monkey=1"
    )
    assert redact(text) == (
        "postgresql://u@h/db?sslpassword=***&sslkey=/etc/ssl/k.pem&client_secret=***"
        "&private_key_file_pwd=***&credentials_base64=***&refresh_token=***&monkey=1"
    )


def test_check_reports_a_literal_secret_in_a_urls_query(tmp_path: Path, run: Run) -> None:
    urls = (
        "version: 1\nconnections:\n"
        "  crm: {url: 'postgresql://kpictl@db.example/crm?sslmode=require&Password=hunter2'}\n"
        "  ok: {url: 'postgresql://kpictl@db.example/crm?password=${CRM_PASSWORD}'}\n"
        "store: postgresql://kpictl@db.example/store?api_key=hunter2\n"
    )
    make(tmp_path, settings=urls)
    result = run("check", ".", "--show-source", "--as-of", AS_OF, cwd=tmp_path)
    assert result.code == 1
    assert "hunter2" not in result.out + result.err
    message = (
        "the URL holds a secret in its query ({}=...): secrets never live in the registry; "
        "write ${{NAME}} in its place and set the environment variable NAME"
    )
    assert result.out.splitlines() == [
        f"kpictl.yaml:3:14: S001 [error] connections.crm.url: {message.format('Password')}",
        "    3 |   crm: {url: 'postgresql://kpictl@db.example/crm?sslmode=require&Password=***'}",
        "      |              ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^",
        f"kpictl.yaml:5:8: S001 [error] store: {message.format('api_key')}",
        "    5 | store: postgresql://kpictl@db.example/store?api_key=***",
        "      |        ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^",
        "Found 2 errors, 0 warnings, 0 info in 8 files (check failed, failing on error).",
    ]


def test_a_query_password_never_shows_in_a_pull_failure(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.pg import free_port

    monkeypatch.setenv("KPICTL_TEST_QUERY_PASSWORD", SECRET)
    url = f"postgresql+psycopg://kpictl@127.0.0.1:{free_port()}/x?password=${{KPICTL_TEST_QUERY_PASSWORD}}&connect_timeout=5"
    root = registry(tmp_path / "reg", "select 1 as value", settings=settings(url))
    code, out, err = pull(run, root, "--no-backfill", "--format", "json")
    assert code == 1
    assert SECRET not in out + err
    assert json.loads(out)["failures"][0]["message"].startswith("connection failed: ")


# --- 9. words and numbers -----------------------------------------------------------------


def test_install_is_called_install(tmp_path: Path, run: Run) -> None:
    root = registry(tmp_path / "reg", "install httpfs")
    assert (
        one_failure(run, root) == f"{FAILED}refused: the SQL is an INSTALL statement: {ONLY_SELECT}"
    )


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-1", "86401"])
def test_a_timeout_that_is_no_number_of_seconds(tmp_path: Path, run: Run, value: str) -> None:
    root = registry(tmp_path / "reg")
    code, out, err = pull(run, root, "--timeout", value)
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == (
        "Error: Invalid value for --timeout: must be a number of seconds from 0.001 to 86400 (e.g. 60)"
    )


def test_the_text_table_prints_values_in_full(tmp_path: Path, run: Run) -> None:
    root = registry(tmp_path / "reg", "select 123456789.125 as value")
    code, out, _ = pull(run, root, "--no-backfill")
    assert code == 0
    assert out.splitlines()[:4] == [
        "Would record (dry run):",
        "  kpi  period           value  as_of       kind",
        "  ---  -------  -------------  ----------  -------",
        "  mql  2026-Q4  123456789.125  2026-11-20  current",
    ]
    root = registry(tmp_path / "reg2", "select 30000000 as value")
    assert (
        pull(run, root, "--no-backfill")[1].splitlines()[3]
        == "  mql  2026-Q4  30000000  2026-11-20  current"
    )

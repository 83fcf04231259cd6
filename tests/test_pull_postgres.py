"""`kpictl pull` with a real PostgreSQL server as the warehouse (tests/pg.py's server).

The warehouse database has a `leads` table and a role `puller` that may read and write
it: only kpictl's read-only transaction stands between a query and a write, so these
tests see that it holds. No password ever appears in any output, `--debug` included.
"""

# ruff: noqa: E501  (case tables: one case per line)

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import Run
from tests.pg import PgServer, free_port
from tests.test_pull import COUNT, failure_of, registry

PASSWORD = "kp-Secr3t/@pw"  # a `/` and an `@`: the URL must still be one URL
WRONG = "Wr0ng-Pa55-zq8"
VARIABLE = "KPICTL_TEST_PG_PASSWORD"
# Not the server's superuser (tests/pg.py's `kpictl`): roles are the whole server's, and
# this one has its own password and only the rights a warehouse reader might be given.
ROLE = "puller"


@pytest.fixture(scope="module")
def warehouse(postgres: PgServer) -> str:
    """A database with 120 leads that ROLE may read and write; its name."""
    name = postgres.create_database()
    with postgres.connect("postgres") as admin:
        admin.execute(f"create role {ROLE} login password '{PASSWORD}'")
    with postgres.connect(name) as admin:
        admin.execute(
            "create table leads (id int, created date, loaded_at timestamptz, campaign text)"
        )
        admin.execute(
            "insert into leads select i, date '2026-10-01' + (i % 60), "
            "timestamptz '2026-11-18 06:00+00', 'spring-push' from generate_series(1, 120) i"
        )
        admin.execute("create sequence ids")
        admin.execute(f"grant all on leads, ids to {ROLE}")
        admin.execute(f"grant create on schema public to {ROLE}")
    return name


def settings(server: PgServer, database: str, port: int | None = None) -> str:
    url = f"postgresql+psycopg://{ROLE}:${{{VARIABLE}}}@{server.host}:{port or server.port}/{database}"
    return f"version: 1\nconnections:\n  warehouse: {{url: '{url}'}}\n"


def leads_count(server: PgServer, database: str) -> int:
    with server.connect(database) as admin:
        row = admin.execute("select count(*) from leads").fetchone()
        assert row is not None
        return int(row[0])


def pg_registry(
    tmp_path: Path, server: PgServer, database: str, sql: str, port: int | None = None
) -> Path:
    sql = sql.replace("'warehouse/leads.csv'", "leads")
    return registry(tmp_path / "reg", sql, settings=settings(server, database, port))


def test_pull_from_postgresql(
    tmp_path: Path, run: Run, postgres: PgServer, warehouse: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VARIABLE, PASSWORD)
    root = pg_registry(tmp_path, postgres, warehouse, COUNT)
    result = run("pull", str(root), "--as-of", "2026-11-20", "--dry-run", "-f", "json")
    assert (result.code, result.err) == (0, "")
    data = json.loads(result.out)
    assert [(o["period"], o["value"], o["kind"]) for o in data["observations"]] == [
        ("2026-Q4", 4.0, "backfill"),
        ("2026-Q4", 18.0, "backfill"),
        ("2026-Q4", 32.0, "backfill"),
        ("2026-Q4", 46.0, "backfill"),
        ("2026-Q4", 60.0, "backfill"),
        ("2026-Q4", 74.0, "backfill"),
        ("2026-Q4", 88.0, "backfill"),
        ("2026-Q4", 102.0, "current"),
        ("spring-push", 62.0, "readout"),
        ("spring-push", 102.0, "campaign"),
    ]


@pytest.mark.parametrize("debug", [[], ["--debug"]], ids=["plain", "debug"])
@pytest.mark.parametrize("output_format", ["text", "json"])
def test_a_wrong_password_is_reported_and_never_shown(
    tmp_path: Path,
    run: Run,
    postgres: PgServer,
    warehouse: str,
    monkeypatch: pytest.MonkeyPatch,
    debug: list[str],
    output_format: str,
) -> None:
    monkeypatch.setenv(VARIABLE, WRONG)
    root = pg_registry(tmp_path, postgres, warehouse, COUNT)
    result = run(
        *debug,
        "pull",
        str(root),
        "--as-of",
        "2026-11-20",
        "--dry-run",
        "--no-backfill",
        "-f",
        output_format,
    )
    assert result.code == 1
    everything = result.out + result.err
    for secret in (WRONG, PASSWORD, "Wr0ng", "Secr3t"):
        assert secret not in everything
    message = (
        f'connection failed: connection to server at "127.0.0.1", port {postgres.port} failed: '
        'FATAL:  password authentication failed for user "puller"'
    )
    if output_format == "json":
        failures = json.loads(result.out)["failures"]
        assert [f["message"] for f in failures] == [message, message]
    else:
        assert failure_of(result.out) == [
            f"failed: kpi mql 2026-Q4 (warehouse): {message}",
            f"failed: kpi mql campaign spring-push (warehouse): {message}",
        ]


def test_connection_refused_is_a_failure_without_the_password(
    tmp_path: Path, run: Run, postgres: PgServer, warehouse: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VARIABLE, PASSWORD)
    root = pg_registry(tmp_path, postgres, warehouse, COUNT, port=free_port())
    result = run(
        "--debug", "pull", str(root), "--as-of", "2026-11-20", "--dry-run", "--no-backfill"
    )
    assert result.code == 1
    assert PASSWORD not in result.out + result.err
    assert "Secr3t" not in result.out + result.err
    first = failure_of(result.out)[0]
    assert first.startswith("failed: kpi mql 2026-Q4 (warehouse): connection failed: ")
    assert "Connection refused" in first


def test_a_slow_query_is_cancelled(
    tmp_path: Path, run: Run, postgres: PgServer, warehouse: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VARIABLE, PASSWORD)
    root = pg_registry(
        tmp_path, postgres, warehouse, "select count(*) as value from leads, pg_sleep(30)"
    )
    result = run(
        "pull", str(root), "--as-of", "2026-11-20", "--dry-run", "--no-backfill", "--timeout", "0.5"
    )
    assert result.code == 1
    assert failure_of(result.out) == [
        "failed: kpi mql 2026-Q4 (warehouse): cancelled after 0.5 s (--timeout): make the "
        "query faster, or give it more time with --timeout SECONDS",
    ]  # the SQL does not use :campaign: not run for the campaign


TWO = "refused: the SQL holds 2 statements: a query is one SELECT statement (a `;` may only end it), so nothing was run"


# fmt: off
WRITES = [
    pytest.param("delete from leads", "refused: the SQL is a DELETE statement: kpictl runs only SELECT queries, which never write", id="delete"),
    pytest.param("insert into leads values (0, current_date, now())", "refused: the SQL is an INSERT statement: kpictl runs only SELECT queries, which never write", id="insert"),
    pytest.param("create table stolen as select 1 as value", "refused: the SQL is a CREATE statement: kpictl runs only SELECT queries, which never write", id="create-table"),
    pytest.param("with gone as (delete from leads returning 1) select count(*) as value from gone", "cannot execute SELECT in a read-only transaction", id="delete-in-cte"),
    pytest.param("select nextval('ids') as value", "cannot execute nextval() in a read-only transaction", id="nextval"),
    pytest.param("select 1 as value; delete from leads", TWO, id="second-statement"),
    pytest.param("select 1 as value; set transaction read write; delete from leads", "refused: the SQL holds 3 statements: a query is one SELECT statement (a `;` may only end it), so nothing was run", id="read-write-again"),
    pytest.param("select $$;$$ as value; delete from leads", TWO, id="dollar-quote"),
]
# fmt: on


@pytest.mark.parametrize(("sql", "message"), WRITES)
def test_a_query_cannot_write(
    tmp_path: Path,
    run: Run,
    postgres: PgServer,
    warehouse: str,
    monkeypatch: pytest.MonkeyPatch,
    sql: str,
    message: str,
) -> None:
    monkeypatch.setenv(VARIABLE, PASSWORD)
    root = pg_registry(tmp_path, postgres, warehouse, sql)
    result = run("pull", str(root), "--as-of", "2026-11-20", "--dry-run", "--no-backfill")
    assert result.code == 1
    failed = failure_of(result.out)[0]
    prefix = "failed: kpi mql 2026-Q4 (warehouse): "
    assert failed == prefix + message
    assert leads_count(postgres, warehouse) == 120


def test_the_servers_own_statement_timeout_reads_as_the_time_limit() -> None:
    # PostgreSQL's statement_timeout and kpictl's watchdog race for the same limit: the
    # server's "canceling statement due to statement timeout" must read the same way.
    from psycopg import errors
    from sqlalchemy.exc import OperationalError

    from kpictl.numbers.queries import _cancelled_by_server

    server_side = OperationalError("select 1", {}, errors.QueryCanceled("statement timeout"))
    assert _cancelled_by_server(server_side)
    assert _cancelled_by_server(errors.QueryCanceled("canceling statement"))
    assert not _cancelled_by_server(OperationalError("select 1", {}, errors.UndefinedTable("x")))

"""The store in a real PostgreSQL through the CLI: import, the scorecard, and what goes wrong
with a server (a wrong password that never shows, a refused connection, a database that
is not a store). The server is tests/pg.py's throw-away one."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

from kpictl.numbers.connections import DatabaseUrl
from kpictl.numbers.store import StoreError, open_store
from tests.conftest import AS_OF, EXAMPLE, Run
from tests.pg import PgServer

WRONG = "Wr0ng-Pa55word-xyzzy"


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    root = tmp_path / "registry"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".kpictl"))
    return root


@pytest.fixture
def database(postgres: PgServer) -> str:
    return postgres.create_database()


def test_import_and_status_through_a_postgresql_store(
    run: Run, registry: Path, postgres: PgServer, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KPICTL_STORE", postgres.url(database))
    csv_file = registry / "actuals" / "2026-11-20.csv"
    result = run("actuals", "import", str(csv_file), str(registry))
    assert (result.code, result.out, result.err) == (
        0,
        f"Recorded 20 rows of {csv_file}: 20 added, 0 replaced, 0 unchanged.\n",
        "",
    )
    again = run("actuals", "import", str(csv_file), str(registry))
    assert again.out == f"Recorded 20 rows of {csv_file}: 0 added, 0 replaced, 20 unchanged.\n"
    from_store = run("status", str(registry), "--as-of", AS_OF)
    from_file = run("status", str(registry), "--actuals", str(csv_file), "--as-of", AS_OF)
    assert (from_store.code, from_store.out) == (0, from_file.out)
    assert not (registry / ".kpictl").exists()


def test_store_url_with_a_variable_from_kpictl_yaml(
    run: Run, registry: Path, postgres: PgServer, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = registry / "kpictl.yaml"
    template = postgres.url(database, "${KPICTL_TEST_PG_PASSWORD}")
    settings.write_text(
        settings.read_text(encoding="utf-8") + f"store: {template}\n", encoding="utf-8"
    )
    unset = run("actuals", "export", str(registry))
    assert (unset.code, unset.out, unset.err) == (
        2,
        "",
        "kpictl: the store URL needs the environment variable KPICTL_TEST_PG_PASSWORD, which "
        "is not set: set it (a CI secret, or `export KPICTL_TEST_PG_PASSWORD=...` in your "
        "shell)\n",
    )
    monkeypatch.setenv("KPICTL_TEST_PG_PASSWORD", postgres.password)
    csv_file = registry / "actuals" / "2026-11-20.csv"
    assert run("actuals", "import", str(csv_file), str(registry)).code == 0
    exported = run("actuals", "export", str(registry), "--kpi", "nrr")
    assert exported.out == "kpi,period,value,as_of\nnrr,2026-Q4,113.4,2026-11-06\n"


def test_a_wrong_password_is_named_but_never_shown(
    run: Run, registry: Path, postgres: PgServer, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = postgres.url(database, WRONG)
    shown = f"postgresql+psycopg://kpictl:***@127.0.0.1:{postgres.port}/{database}"
    expected = (
        f"cannot open the store {shown}: authentication failed (connection failed: connection "
        f'to server at "127.0.0.1", port {postgres.port} failed: FATAL:  password '
        'authentication failed for user "kpictl"); check the user and password in '
        "KPICTL_STORE or store: in kpictl.yaml"
    )
    with pytest.raises(StoreError) as raised:
        open_store(DatabaseUrl("store", url, (WRONG,)))
    assert str(raised.value) == expected
    assert WRONG not in repr(raised.value)
    monkeypatch.setenv("KPICTL_STORE", url)
    for command in (
        ("status", str(registry), "--as-of", AS_OF),
        ("actuals", "import", str(registry / "actuals" / "2026-11-20.csv"), str(registry)),
        ("actuals", "export", str(registry)),
    ):
        result = run(*command)
        assert (result.code, result.out, result.err) == (2, "", f"kpictl: {expected}\n")
        assert WRONG not in result.out + result.err


def test_a_wrong_password_in_a_crash_report_of_debug_is_hidden_too(
    run: Run, registry: Path, postgres: PgServer, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--debug shows a traceback for kpictl's own errors: it must not carry the password."""
    monkeypatch.setenv("KPICTL_STORE", postgres.url(database, WRONG))
    with pytest.raises(Exception) as raised:
        run("--debug", "status", str(registry), "--as-of", AS_OF)
    assert WRONG not in str(raised.value)
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


def test_a_refused_connection_says_so(
    run: Run, registry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("KPICTL_STORE", f"postgresql+psycopg://kpictl:{WRONG}@127.0.0.1:{port}/x")
    result = run("status", str(registry), "--as-of", AS_OF)
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"kpictl: cannot reach the store postgresql+psycopg://kpictl:***@127.0.0.1:{port}/x: "
        f'connection failed: connection to server at "127.0.0.1", port {port} failed: '
        "Connection refused Is the server running on that host and accepting TCP/IP "
        "connections?\n"
    )


def test_a_database_with_someone_elses_observations_is_refused_untouched(
    postgres: PgServer, database: str
) -> None:
    with postgres.connect(database) as connection:
        connection.execute("CREATE TABLE observations (id integer)")
        connection.execute("INSERT INTO observations VALUES (7)")
        connection.execute("CREATE TABLE contacts (id integer)")
    url = DatabaseUrl("store", postgres.url(database), (postgres.password,))
    with pytest.raises(StoreError) as raised:
        open_store(url)
    assert str(raised.value) == (
        f"postgresql+psycopg://kpictl:***@127.0.0.1:{postgres.port}/{database} is not a "
        "kpictl store: it is a database with other tables (observations); kpictl left it "
        "untouched. Point KPICTL_STORE or store: in kpictl.yaml at a new file or database"
    )
    with postgres.connect(database) as connection:
        tables = connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        ).fetchall()
        assert tables == [("contacts",), ("observations",)]
        assert connection.execute("SELECT id FROM observations").fetchall() == [(7,)]


def test_a_database_with_other_tables_becomes_a_store_beside_them(
    postgres: PgServer, database: str
) -> None:
    """A team's shared database may hold other things: only `observations` must be ours."""
    with postgres.connect(database) as connection:
        connection.execute("CREATE TABLE contacts (id integer)")
    with open_store(DatabaseUrl("store", postgres.url(database), (postgres.password,))) as store:
        assert list(store.observations()) == []


def test_a_postgresql_store_from_a_newer_kpictl_is_refused(
    postgres: PgServer, database: str
) -> None:
    url = DatabaseUrl("store", postgres.url(database), (postgres.password,))
    with open_store(url):
        pass
    with postgres.connect(database) as connection:
        connection.execute("UPDATE kpictl_store SET version = 5")
    with pytest.raises(StoreError) as raised:
        open_store(url)
    assert str(raised.value) == (
        f"the store postgresql+psycopg://kpictl:***@127.0.0.1:{postgres.port}/{database} was "
        "written by a newer kpictl (store version 5; this kpictl knows up to 2): upgrade "
        "kpictl to use it; it was left untouched"
    )

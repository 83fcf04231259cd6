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

"""Where a statement ends without a parser: strings, dollar quotes and comments as each
database reads them, and SQL whose end is unclear refused before any server sees it."""

# ruff: noqa: E501  (case tables: one case per line)

from __future__ import annotations

from pathlib import Path

import pytest

from kpictl.numbers.sql_text import first_keyword, one_statement, statements
from tests.conftest import Run
from tests.pg import PgServer
from tests.test_pull import registry
from tests.test_pull_confinement import FAILED, PG_VARIABLE, one_failure, settings

BACKSLASH = (
    "has a backslash before a quote, which some databases read as an escape: where the "
    "statement ends is unclear, so nothing was run (write '' for a quote)"
)

# fmt: off
CASES = [
    pytest.param("select 'it''s' as value", 1, 1, id="doubled-quote"),
    pytest.param(r"select '\d+' as value", 1, 1, id="backslash-in-a-pattern"),
    pytest.param(r"select E'\'' as value; commit; insert into t values (6); select 1 as z --'", 4, 4, id="e-string"),
    pytest.param(r"select e'x\'y' as value", 1, 1, id="e-string-escaped-quote"),
    pytest.param(r"select 'a\' as value; commit; insert into t values (1); select 'x' --'", 4, 1, id="standard-string-ending-in-a-backslash"),
    pytest.param("select 1 as value, 2 as x$a$; commit; insert into t values (7); select 1 as y$a$", 4, 4, id="dollar-in-names"),
    pytest.param("select $$a;b$$ as value", 1, 1, id="dollar-quoted"),
    pytest.param("select $t$ it's; $t$ as value", 1, 1, id="tagged-dollar-quote"),
    pytest.param("select name'x' as value", 1, 1, id="quote-after-a-name"),
    pytest.param('select "a;b" as value', 1, 1, id="quoted-name"),
]
# fmt: on


@pytest.mark.parametrize(("sql", "plain", "escaping"), CASES)
def test_statements_on_each_reading_of_strings(sql: str, plain: int, escaping: int) -> None:
    assert (statements(sql), statements(sql, backslash_escapes=True)) == (plain, escaping)


def test_one_statement_needs_one_on_every_reading() -> None:
    assert one_statement(r"select '\d+' as value") is None
    assert one_statement(r"select 'a\' as value; commit; select 'x' --'") == (
        "holds 3 statements: a query is one SELECT statement (a `;` may only end it), so "
        "nothing was run"
    )
    assert one_statement(r"select 'a\' as value") == BACKSLASH


def test_first_keyword_skips_comments_and_parentheses() -> None:
    assert first_keyword("/* a /* nested */ one */ -- line\n ((select 1))") == "SELECT"
    assert first_keyword("/* never closed") == ""


# fmt: off
BYPASSES = [
    pytest.param(r"select E'\'' as value; commit; insert into t values (666); select 1 as z --'", "refused: the SQL holds 4 statements: a query is one SELECT statement (a `;` may only end it), so nothing was run", id="e-string"),
    pytest.param("select 1 as value, 2 as x$a$; commit; insert into t values (777); select 1 as y$a$", "refused: the SQL holds 4 statements: a query is one SELECT statement (a `;` may only end it), so nothing was run", id="dollar-in-names"),
]
# fmt: on


@pytest.mark.parametrize(("sql", "message"), BYPASSES)
def test_postgres_never_sees_sql_that_reads_as_one_statement_only_to_kpictl(
    tmp_path: Path,
    run: Run,
    postgres: PgServer,
    monkeypatch: pytest.MonkeyPatch,
    sql: str,
    message: str,
) -> None:
    database = postgres.create_database()
    with postgres.connect(database) as admin:
        admin.execute("create table t (x int)")
    monkeypatch.setenv(PG_VARIABLE, postgres.password)
    url = f"postgresql+psycopg://{postgres.user}:${{{PG_VARIABLE}}}@{postgres.host}:{postgres.port}/{database}"
    root = registry(tmp_path / "reg", sql, settings=settings(url))
    assert one_failure(run, root) == FAILED + message
    with postgres.connect(database) as admin:
        assert admin.execute("select x from t").fetchall() == []

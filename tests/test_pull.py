"""`kpictl pull` against the embedded DuckDB warehouse: every bad input of issue 12
about queries and connections, with exact messages and exit codes.

The registry is tests.helpers.BASE (KPI mql, target 2026-Q4 = 100, reviewed weekly,
source crm, campaign spring-push from 2026-10-01 to 2026-12-31) with an `actual:`
query and a small CSV warehouse under warehouse/. Nothing here records (the store
is tested where it lives): --dry-run shows what would be recorded.
"""

# ruff: noqa: E501  (case tables: one case per line)

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from kpictl.numbers.sql_text import statements
from tests.conftest import ROOT
from tests.helpers import Run, make

AS_OF = "2026-11-20"
DUCKDB = "version: 1\nconnections:\n  warehouse: {url: 'duckdb:///:memory:'}\n"
# Every lead is attributed to the campaign spring-push: its values are the period's.
COUNT = (
    "select count(*) as value from 'warehouse/leads.csv' "
    "where created >= :period_start and created < :period_end and created <= :as_of "
    "and (cast(:campaign as varchar) is null or campaign = :campaign)"
)
LOADED = "select max(loaded_at) from 'warehouse/leads.csv'"
SHAPE = "a query returns exactly one row with a numeric column `value`"
NOT_FOR_CAMPAIGN = (
    "mql: not pulled for campaign spring-push: its SQL does not use :campaign, so it would "
    "count everything in the campaign's dates (filter on `campaign = :campaign` to count "
    "what the campaign did)"
)


def leads() -> str:
    """120 leads, 60 created in October and 60 in November, loaded 2026-11-18."""
    rows = ["id,created,loaded_at,name,campaign"]
    for i in range(120):
        month = 10 + i % 2
        rows.append(f"{i},2026-{month}-{1 + i % 28:02d},2026-11-18 06:00:00,lead {i},spring-push")
    return "\n".join(rows) + "\n"


def registry(
    root: Path,
    sql: str = COUNT,
    *,
    freshness: str | None = None,
    settings: str = DUCKDB,
    connection: str = "warehouse",
) -> Path:
    """BASE with `actual: sql` on mql (and `freshness:` on crm), plus the warehouse."""
    block = "".join(f"    {line}\n" for line in sql.splitlines())
    patches = [
        (
            "kpi.yaml",
            "escalation: standard\n",
            f"escalation: standard\nactual:\n  connection: {connection}\n  sql: |\n{block}",
        )
    ]
    if freshness is not None:
        fresh = "".join(f"    {line}\n" for line in freshness.splitlines())
        patches.append(
            (
                "source.yaml",
                "refresh: daily\n",
                f"refresh: daily\nfreshness:\n  connection: warehouse\n  sql: |\n{fresh}",
            )
        )
    make(root, *patches, settings=settings)
    (root / "warehouse").mkdir()
    (root / "warehouse" / "leads.csv").write_text(leads(), encoding="utf-8")
    return root


def pull(run: Run, root: Path, *args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    result = run("pull", str(root), "--as-of", AS_OF, "--dry-run", *args, cwd=cwd)
    return result.code, result.out, result.err


def test_dry_run_shows_current_backfill_and_campaign_values(tmp_path: Path, run: Run) -> None:
    root = registry(tmp_path / "reg", freshness=LOADED)
    code, out, err = pull(run, root)
    assert (code, err) == (0, "")
    assert out == (
        "Would record (dry run):\n"
        "  kpi  period       value  as_of       kind\n"
        "  ---  -----------  -----  ----------  --------\n"
        "  mql  2026-Q4          5  2026-10-02  backfill\n"
        "  mql  2026-Q4         24  2026-10-09  backfill\n"
        "  mql  2026-Q4         36  2026-10-16  backfill\n"
        "  mql  2026-Q4         52  2026-10-23  backfill\n"
        "  mql  2026-Q4         60  2026-10-30  backfill\n"
        "  mql  2026-Q4         75  2026-11-06  backfill\n"
        "  mql  2026-Q4         88  2026-11-13  backfill\n"
        "  mql  2026-Q4        104  2026-11-18  current\n"
        "  mql  spring-push     60  2026-10-31  readout\n"
        "  mql  spring-push    104  2026-11-18  campaign\n"
        "Pulled 10 values in 4 queries as of 2026-11-20, 0 failures; nothing recorded (dry run).\n"
    )


def test_json_without_backfill_or_freshness(tmp_path: Path, run: Run) -> None:
    root = registry(tmp_path / "reg")
    code, out, err = pull(run, root, "--no-backfill", "--format", "json")
    assert (code, err) == (0, "")
    assert json.loads(out) == {
        "as_of": "2026-11-20",
        "dry_run": True,
        "queries": 2,
        "observations": [
            {"kpi": "mql", "period": "2026-Q4", "value": 104.0, "as_of": AS_OF, "kind": "current"},
            {
                "kpi": "mql",
                "period": "spring-push",
                "value": 104.0,
                "as_of": AS_OF,
                "kind": "campaign",
            },
        ],
        "failures": [],
        "notes": [],
        "recorded": None,
    }


def test_relative_files_resolve_against_the_registry_from_anywhere(
    tmp_path: Path, run: Run
) -> None:
    root = registry(tmp_path / "reg")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "warehouse").mkdir(parents=True)
    (elsewhere / "warehouse" / "leads.csv").write_text("id,created\n", encoding="utf-8")
    code, out, _ = pull(run, root, "--no-backfill", "--format", "json", cwd=elsewhere)
    assert code == 0
    assert [o["value"] for o in json.loads(out)["observations"]] == [104.0, 104.0]


def failure_of(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("failed: ")]


# One bad query per line: the SQL, and the exact failure `pull` reports for it.
# fmt: off
BAD_QUERIES = [
    pytest.param("select 1 as value where false", f"returned no row; {SHAPE}", id="no-row"),
    pytest.param("select 1 as value from range(2)", f"returned more than one row; {SHAPE}", id="two-rows"),
    pytest.param("select count(*) as total from 'warehouse/leads.csv'", "returned no column `value` (columns: total): name it `as value`", id="no-value-column"),
    pytest.param("select 'lots' as value", f"returned the text 'lots', not a number; {SHAPE}", id="text"),
    pytest.param("select null as value", f"returned NULL as the value: return a number (coalesce(..., 0) if no rows means zero); {SHAPE}", id="null"),
    pytest.param("select 'nan'::double as value", f"returned NaN, not a number; {SHAPE}", id="nan"),
    pytest.param("select 'inf'::double as value", "returned a value kpictl cannot record: 'inf' is not a finite number", id="inf"),
    pytest.param("select true as value", f"returned true (a boolean), not a number; {SHAPE}", id="bool"),
    pytest.param("select 1e16 as value", "returned a value kpictl cannot record: 1e+16 is too large: values are at most 10^15 (1e15) in size", id="too-large"),
    pytest.param("select 1 as value, 2 as VALUE", f"returned 2 columns named value; {SHAPE}", id="two-value-columns"),
    pytest.param("selct 1 as value", 'Parser Error: syntax error at or near "selct"', id="syntax-error"),
    pytest.param("select count(*) as value from missing_table", "Catalog Error: Table with name missing_table does not exist! Did you mean \"pg_tables\"?", id="unknown-table"),
]
# fmt: on


@pytest.mark.parametrize(("sql", "message"), BAD_QUERIES)
def test_a_bad_answer_is_a_failure_naming_the_kpi(
    tmp_path: Path, run: Run, sql: str, message: str
) -> None:
    root = registry(tmp_path / "reg", sql)
    code, out, err = pull(run, root, "--no-backfill")
    # The SQL does not use :campaign, so it is not run for the campaign (a note says so).
    assert (code, err) == (1, f"kpictl: note: {NOT_FOR_CAMPAIGN}\n")
    assert failure_of(out) == [f"failed: kpi mql 2026-Q4 (warehouse): {message}"]
    assert out.splitlines()[-1] == (
        "Pulled 0 values in 1 query as of 2026-11-20, 1 failure; nothing recorded (dry run)."
    )


def test_a_failed_kpi_does_not_stop_the_others(tmp_path: Path, run: Run) -> None:
    root = registry(tmp_path / "reg")
    second = (root / "kpi.yaml").read_text(encoding="utf-8").replace("id: mql", "id: sql")
    second = second.replace("definition: mql-term\n", "").replace("created >=", "nope >=")
    (root / "sql.yaml").write_text(second, encoding="utf-8")
    code, out, _ = pull(run, root, "--no-backfill", "--format", "json")
    data = json.loads(out)
    assert code == 1
    assert [(o["kpi"], o["period"]) for o in data["observations"]] == [
        ("mql", "2026-Q4"),
        ("mql", "spring-push"),
    ]
    assert [(f["kpi"], f["what"]) for f in data["failures"]] == [("sql", "kpi sql 2026-Q4")]
    assert data["failures"][0]["message"].startswith(
        'Binder Error: Referenced column "nope" not found in FROM clause!'
    )


REFUSED = "refused: the SQL "
ONLY_SELECT = "statement: kpictl runs only SELECT queries, which never write"


# fmt: off
WRITES = [
    pytest.param("delete from 'warehouse/leads.csv'", f"{REFUSED}is a DELETE {ONLY_SELECT}", id="delete"),
    pytest.param("insert into leads values (1)", f"{REFUSED}is an INSERT {ONLY_SELECT}", id="insert"),
    pytest.param("create table leads as select 1 as value", f"{REFUSED}is a CREATE {ONLY_SELECT}", id="create-table"),
    pytest.param("copy (select 1 as value) to 'warehouse/out.csv'", f"{REFUSED}is a COPY {ONLY_SELECT}", id="copy-to"),
    pytest.param("attach 'warehouse/other.duckdb'", f"{REFUSED}is an ATTACH {ONLY_SELECT}", id="attach"),
    pytest.param("install httpfs", f"{REFUSED}is an INSTALL {ONLY_SELECT}", id="install"),
    pytest.param("select 1 as value; copy (select 1) to 'warehouse/out.csv'", f"{REFUSED}holds 2 statements: a query is one SELECT statement (a `;` may only end it), so nothing was run", id="second-statement"),
    pytest.param("select 1 as value; select 2 as value;", f"{REFUSED}holds 2 statements: a query is one SELECT statement (a `;` may only end it), so nothing was run", id="two-selects"),
    pytest.param("select count(*) as value from read_csv('/etc/passwd')", 'Permission Error: Cannot access file "/etc/passwd" - file system operations are disabled by configuration', id="etc-passwd"),
    pytest.param("select count(*) as value from '../outside.csv'", 'Permission Error: Cannot access file "../outside.csv" - file system operations are disabled by configuration', id="outside-relative"),
    pytest.param("select count(*) as value from 'warehouse/../../outside.csv'", 'Permission Error: Cannot access file "warehouse/../../outside.csv" - file system operations are disabled by configuration', id="outside-dotdot"),
    pytest.param("select count(*) as value from 'link.csv'", 'Permission Error: Cannot access file "link.csv" - file system operations are disabled by configuration', id="link-out"),
    pytest.param("select count(*) as value from read_text('warehouse/*.csv') where getenv('HOME') <> ''", 'Catalog Error: Scalar Function with name getenv does not exist! Did you mean "get_current_time"?', id="getenv"),
]
# fmt: on


@pytest.mark.parametrize(("sql", "message"), WRITES)
def test_writes_and_reads_outside_the_registry_are_refused(
    tmp_path: Path, run: Run, sql: str, message: str
) -> None:
    (tmp_path / "outside.csv").write_text("value\n42\n", encoding="utf-8")
    root = registry(tmp_path / "reg", sql)
    (root / "link.csv").symlink_to(tmp_path / "outside.csv")
    before = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    code, out, _ = pull(run, root, "--no-backfill")
    assert code == 1
    assert failure_of(out)[0] == f"failed: kpi mql 2026-Q4 (warehouse): {message}"
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == before
    assert (tmp_path / "outside.csv").read_text(encoding="utf-8") == "value\n42\n"


def test_a_database_file_is_opened_read_only(tmp_path: Path, run: Run) -> None:
    import duckdb

    settings = "version: 1\nconnections:\n  warehouse: {url: 'duckdb:///warehouse.duckdb'}\n"
    root = registry(tmp_path / "reg", "select count(*) as value from leads", settings=settings)
    with duckdb.connect(str(root / "warehouse.duckdb")) as db:
        db.execute("create table leads as select * from range(7)")
    code, out, _ = pull(run, root, "--no-backfill", "--format", "json")
    assert code == 0
    assert [o["value"] for o in json.loads(out)["observations"]] == [7.0]  # no :campaign
    # A write that slips past the statement check still meets a read-only database.
    (root / "kpi.yaml").write_text(
        (root / "kpi.yaml")
        .read_text(encoding="utf-8")
        .replace("select count(*) as value from leads", "drop table leads"),
        encoding="utf-8",
    )
    code, out, _ = pull(run, root, "--no-backfill")
    assert (
        failure_of(out)[0]
        == f"failed: kpi mql 2026-Q4 (warehouse): {REFUSED}is a DROP {ONLY_SELECT}"
    )
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as db:
        assert db.execute("select count(*) from leads").fetchall() == [(7,)]


def test_a_missing_database_file_is_a_failure(tmp_path: Path, run: Run) -> None:
    settings = "version: 1\nconnections:\n  warehouse: {url: 'duckdb:///missing.duckdb'}\n"
    root = registry(tmp_path / "reg", "select 1 as value", settings=settings)
    code, out, _ = pull(run, root, "--no-backfill")
    assert code == 1
    assert failure_of(out)[0] == (
        "failed: kpi mql 2026-Q4 (warehouse): the DuckDB file missing.duckdb does not exist: "
        "create it, or fix the path in kpictl.yaml (relative to the registry)"
    )
    assert not (root / "missing.duckdb").exists()


def test_a_query_past_its_time_limit_is_cancelled(tmp_path: Path, run: Run) -> None:
    slow = "select sum(a.range * b.range) as value from range(100000000) a, range(100000000) b"
    root = registry(tmp_path / "reg", slow)
    code, out, _ = pull(run, root, "--no-backfill", "--timeout", "0.5")
    assert code == 1
    assert failure_of(out) == [
        "failed: kpi mql 2026-Q4 (warehouse): cancelled after 0.5 s (--timeout): make the "
        "query faster, or give it more time with --timeout SECONDS",
    ]


# fmt: off
BAD_FRESHNESS = [
    pytest.param("select 'yesterday'", "returned the text 'yesterday', not a date; a freshness query returns one row with one date or timestamp", id="text"),
    pytest.param("select 42", "returned a int (42); a freshness query returns one row with one date or timestamp", id="number"),
    pytest.param("select null::date", "returned NULL (no data loaded yet?); a freshness query returns one row with one date or timestamp", id="null"),
    pytest.param("select current_date where false", "returned no row; a freshness query returns one row with one date or timestamp", id="no-row"),
]
# fmt: on


@pytest.mark.parametrize(("sql", "message"), BAD_FRESHNESS)
def test_a_bad_freshness_fails_its_source_and_its_kpis(
    tmp_path: Path, run: Run, sql: str, message: str
) -> None:
    root = registry(tmp_path / "reg", freshness=sql)
    code, out, _ = pull(run, root, "--no-backfill")
    unknown = (
        "not run: the freshness of data source crm could not be read, so the value's "
        "date is unknown"
    )
    assert code == 1
    assert failure_of(out) == [
        f"failed: source crm freshness (warehouse): {message}",
        f"failed: kpi mql 2026-Q4 (warehouse): {unknown}",
        f"failed: kpi mql campaign spring-push (warehouse): {unknown}",
    ]


def test_freshness_after_the_evaluation_date_counts_as_the_evaluation_date(
    tmp_path: Path, run: Run
) -> None:
    root = registry(tmp_path / "reg", freshness="select timestamp '2027-01-05 10:00'")
    code, out, _ = pull(run, root, "--no-backfill", "--format", "json")
    assert code == 0
    assert [o["as_of"] for o in json.loads(out)["observations"]] == [AS_OF, AS_OF]


def test_stale_data_dates_the_value_and_limits_the_backfill(tmp_path: Path, run: Run) -> None:
    root = registry(tmp_path / "reg", freshness="select date '2026-11-01'")
    code, out, _ = pull(run, root, "--format", "json")
    assert code == 0
    assert [(o["as_of"], o["kind"]) for o in json.loads(out)["observations"]] == [
        ("2026-10-02", "backfill"),
        ("2026-10-09", "backfill"),
        ("2026-10-16", "backfill"),
        ("2026-10-23", "backfill"),
        ("2026-10-30", "backfill"),
        ("2026-11-01", "current"),
        ("2026-10-31", "readout"),  # spring-push's day-30 readout
        ("2026-11-01", "campaign"),
    ]


def test_a_campaign_over_for_more_than_30_days_is_not_pulled(tmp_path: Path, run: Run) -> None:
    root = registry(tmp_path / "reg")
    campaign = (root / "campaign.yaml").read_text(encoding="utf-8")
    (root / "campaign.yaml").write_text(
        campaign.replace("end: 2026-12-31", "end: 2026-10-21").replace("active", "complete"),
        encoding="utf-8",
    )
    _, out, _ = pull(run, root, "--no-backfill", "--format", "json")
    observations = json.loads(out)["observations"]
    assert [(o["period"], o["value"]) for o in observations] == [
        ("2026-Q4", 104.0),
        ("spring-push", 48.0),  # created 2026-10-01 to 2026-10-21
    ]
    late = run(
        "pull", str(root), "--as-of", "2026-11-21", "--dry-run", "--no-backfill", "-f", "json"
    )
    assert [o["period"] for o in json.loads(late.out)["observations"]] == ["2026-Q4"]


# --- could not run: exit 2 ----------------------------------------------------------------


def test_unknown_kpi_is_exit_2_with_did_you_mean(tmp_path: Path, run: Run) -> None:
    root = registry(tmp_path / "reg")
    result = run("pull", str(root), "--kpi", "mq1", "--dry-run")
    assert (result.code, result.out) == (2, "")
    assert result.err == "kpictl: --kpi mq1: no KPI has this id; did you mean 'mql'?\n"


def test_a_kpi_without_actual_is_exit_2(tmp_path: Path, run: Run) -> None:
    root = registry(tmp_path / "reg")
    second = (root / "kpi.yaml").read_text(encoding="utf-8").replace("id: mql", "id: sql")
    second = second.replace("definition: mql-term\n", "").split("actual:")[0]
    (root / "sql.yaml").write_text(second, encoding="utf-8")
    result = run("pull", str(root), "--kpi", "sql", "--dry-run")
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        "kpictl: --kpi sql: the KPI has no `actual:` query, so there is nothing to pull\n"
    )


def test_no_kpi_with_actual_is_exit_2(tmp_path: Path, run: Run) -> None:
    make(tmp_path, settings=DUCKDB)
    result = run("pull", str(tmp_path), "--dry-run")
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        "kpictl: no KPI has an `actual:` query: add one (connection and sql) to pull its value\n"
    )


def test_no_connections_is_exit_2(tmp_path: Path, run: Run) -> None:
    root = registry(tmp_path / "reg", settings="version: 1\n")
    result = run("pull", str(root), "--dry-run")
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        "kpictl: warning: the registry has 1 error; entities that failed to load are left "
        "out (run `kpictl check`)\n"
        "kpictl: kpictl.yaml defines no connections: add one under `connections:` "
        "(e.g. warehouse: {url: 'duckdb:///:memory:'}) for the `actual:` queries to use\n"
    ) or result.err.endswith("for the `actual:` queries to use\n")


def test_unknown_connection_is_exit_2(tmp_path: Path, run: Run) -> None:
    root = registry(tmp_path / "reg", connection="warehose")
    result = run("pull", str(root), "--dry-run")
    assert (result.code, result.out) == (2, "")
    assert result.err.splitlines()[-1] == (
        "kpictl: there is no connection 'warehose' in kpictl.yaml (warehouse) (run `kpictl check`)"
    )


def test_unset_variable_is_exit_2_naming_it(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KPICTL_TEST_WAREHOUSE", raising=False)
    settings = (
        "version: 1\nconnections:\n  warehouse: {url: 'duckdb:///${KPICTL_TEST_WAREHOUSE}'}\n"
    )
    root = registry(tmp_path / "reg", settings=settings)
    result = run("pull", str(root), "--dry-run")
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        "kpictl: connection 'warehouse' needs the environment variable KPICTL_TEST_WAREHOUSE, "
        "which is not set: set it (a CI secret, or `export KPICTL_TEST_WAREHOUSE=...` in your "
        "shell) (run `kpictl check`)\n"
    )


def test_bad_timeout_is_a_usage_error(tmp_path: Path, run: Run) -> None:
    root = registry(tmp_path / "reg")
    result = run("pull", str(root), "--timeout", "0", "--dry-run")
    assert result.code == 2
    assert "--timeout" in result.err


# --- statement counting for databases kpictl cannot parse SQL for --------------------------

# fmt: off
STATEMENTS = [
    ("select 1", 1),
    ("select 1;", 1),
    ("select 1;  -- done\n", 1),
    ("select 1; /* the end */", 1),
    ("select 1; select 2", 2),
    ("select ';' as value", 1),
    ("select 'it''s; fine' as value", 1),
    ('select 1 as "a;b"', 1),
    ("select 1 as `a;b`", 1),
    ("select $$;$$ as value", 1),
    ("select $body$ ; $body$ as value", 1),
    ("select 1 -- ; delete from t\n", 1),
    ("select 1 /* ; /* nested ; */ still ; */ as value", 1),
    ("select 1 /* unterminated ;", 2),
    ("select 'unterminated; delete from t", 2),
    ("select 'a\\'; delete from t; --'", 2),
    ("select 1;;", 2),
    ("", 1),
]
# fmt: on


@pytest.mark.parametrize(("sql", "count"), STATEMENTS)
def test_statements(sql: str, count: int) -> None:
    assert statements(sql) == count


def test_check_imports_no_database_code() -> None:
    code = (
        "import json, sys\n"
        "from kpictl.__main__ import main\n"
        "main(['check', 'registry', '--as-of', '2026-11-20'])\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'duckdb', 'duckdb_engine', 'psycopg', 'kpictl'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    modules = json.loads(done.stdout.splitlines()[-1])
    assert [m for m in modules if not m.startswith("kpictl")] == []
    assert "kpictl.numbers.queries" not in modules
    assert "kpictl.numbers.pull" not in modules


def test_backfill_checkpoints_each_get_their_own_answer(tmp_path: Path, run: Run) -> None:
    # DuckDB runs one KPI's checkpoints in one statement; each date is still judged alone.
    sql = COUNT + " and :as_of > date '2026-10-20'"
    root = registry(tmp_path / "reg", f"select * from ({sql}) where value > 0")
    code, out, _ = pull(run, root, "--format", "json")
    data = json.loads(out)
    assert code == 1
    assert [(o["as_of"], o["value"]) for o in data["observations"]] == [
        ("2026-10-23", 52.0),
        ("2026-10-30", 60.0),
        ("2026-11-06", 75.0),
        ("2026-11-13", 88.0),
        ("2026-11-20", 104.0),
        ("2026-10-31", 60.0),  # spring-push's day-30 readout
        ("2026-11-20", 104.0),
    ]
    assert [(f["what"], f["message"]) for f in data["failures"]] == [
        (f"kpi mql 2026-Q4 as of 2026-10-{day}", f"returned no row; {SHAPE}")
        for day in ("02", "09", "16")
    ]


def test_backfill_that_cannot_run_together_runs_alone(tmp_path: Path, run: Run) -> None:
    # Two columns named alike: each checkpoint alone gets the exact verdict.
    root = registry(
        tmp_path / "reg", "select 1 as value, 2 as Value where :as_of > date '2026-11-10'"
    )
    code, out, _ = pull(run, root, "--format", "json")
    data = json.loads(out)
    assert code == 1
    assert [f["message"] for f in data["failures"]] == [
        f"returned 2 columns named value; {SHAPE}"
    ] * 8  # the current value and its checkpoints: no :campaign, no campaign run


# --- recording ------------------------------------------------------------------------------


def test_pull_records_and_a_second_pull_asks_only_for_what_is_missing(
    tmp_path: Path, run: Run
) -> None:
    root = registry(tmp_path / "reg", freshness=LOADED)
    first = run("pull", str(root), "--as-of", AS_OF)
    assert (first.code, first.err) == (0, "")
    assert first.out == (
        "Pulled 10 values in 4 queries as of 2026-11-20, 0 failures; "
        "recorded 10 new, 0 replaced, 0 unchanged.\n"
    )
    again = run("pull", str(root), "--as-of", AS_OF, "--format", "json")
    data = json.loads(again.out)
    assert (again.code, data["queries"], data["recorded"]) == (
        0,
        3,
        {"added": 0, "replaced": 0, "unchanged": 2},
    )
    exported = run("actuals", "export", str(root))
    assert exported.out == (
        "kpi,period,value,as_of\n"
        "mql,2026-Q4,5,2026-10-02\n"
        "mql,2026-Q4,24,2026-10-09\n"
        "mql,2026-Q4,36,2026-10-16\n"
        "mql,2026-Q4,52,2026-10-23\n"
        "mql,2026-Q4,60,2026-10-30\n"
        "mql,2026-Q4,75,2026-11-06\n"
        "mql,2026-Q4,88,2026-11-13\n"
        "mql,2026-Q4,104,2026-11-18\n"
        "mql,spring-push,60,2026-10-31\n"
        "mql,spring-push,104,2026-11-18\n"
    )


def test_failed_kpis_are_named_and_the_rest_is_recorded(tmp_path: Path, run: Run) -> None:
    root = registry(tmp_path / "reg", "select 'lots' as value")
    (root / "ok.yaml").write_text(
        (root / "kpi.yaml")
        .read_text(encoding="utf-8")
        .replace("id: mql", "id: sql")
        .replace("definition: mql-term\n", "")
        .replace("select 'lots' as value", "select 7 as value"),
        encoding="utf-8",
    )
    result = run("pull", str(root), "--as-of", AS_OF, "--no-backfill")
    assert result.code == 1
    assert result.out == (
        f"failed: kpi mql 2026-Q4 (warehouse): returned the text 'lots', not a number; {SHAPE}\n"
        "Pulled 1 value in 2 queries as of 2026-11-20, 1 failure; "
        "recorded 1 new, 0 replaced, 0 unchanged.\n"
    )
    assert run("actuals", "export", str(root)).out == (
        "kpi,period,value,as_of\nsql,2026-Q4,7,2026-11-20\n"
    )


def test_an_unusable_store_stops_before_any_query(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = registry(tmp_path / "reg", "select 1 as value")
    (tmp_path / "folder.db").mkdir()
    monkeypatch.setenv("KPICTL_STORE", f"sqlite:///{tmp_path / 'folder.db'}")
    result = run("pull", str(root), "--as-of", AS_OF)
    assert (result.code, result.out) == (2, "")
    assert result.err.startswith(f"kpictl: cannot use the store sqlite:///{tmp_path / 'folder.db'}")


def test_two_pulls_at_once_into_one_store(tmp_path: Path, run: Run) -> None:
    root = registry(tmp_path / "reg", freshness=LOADED)
    command = [sys.executable, "-m", "kpictl", "pull", str(root), "--as-of", AS_OF]
    both = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outcomes = [(p.wait(timeout=120), p.communicate()) for p in both]
    assert [code for code, _ in outcomes] == [0, 0]
    assert all(err == "" for _, (_, err) in outcomes)
    rows = run("actuals", "export", str(root)).out.splitlines()
    assert len(rows) == 11  # the header and 10 values: none lost, none doubled
    assert rows[-3:] == [
        "mql,2026-Q4,104,2026-11-18",
        "mql,spring-push,60,2026-10-31",
        "mql,spring-push,104,2026-11-18",
    ]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("total", "drawn"), [(3, False), (8, True)])
def test_a_progress_bar_on_a_terminal_for_more_than_a_handful(
    monkeypatch: pytest.MonkeyPatch, total: int, drawn: bool
) -> None:
    from kpictl.cli.pull import _progress

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with _progress() as bar:
        assert bar is not None
        bar.start(total)
        for _ in range(total):
            bar.advance()
    assert ("pulling" in terminal.getvalue()) is drawn


def test_no_progress_bar_off_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from kpictl.cli.pull import _progress

    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with _progress() as bar:
        assert bar is None

"""`kpictl actuals import|export`, and the scorecard commands reading the store: exact
output, exact exit codes, exact store contents, and every bad input about the store."""

from __future__ import annotations

import io
import shutil
import sqlite3
import sys
from datetime import date
from pathlib import Path

import pytest

from kpictl.numbers.connections import DatabaseUrl
from kpictl.numbers.store import Observation, open_store
from tests.conftest import AS_OF, EXAMPLE, Run

CSV = "kpi,period,value,as_of\n"
D1, D2 = date(2026, 11, 1), date(2026, 11, 2)


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    """A copy of the example registry (its actuals CSV included), without a store."""
    root = tmp_path / "registry"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".kpictl"))
    return root


def store_of(root: Path) -> Path:
    return root / ".kpictl" / "store.db"


def stored(root: Path) -> list[Observation]:
    url = DatabaseUrl("store", f"sqlite:///{store_of(root)}", ())
    with open_store(url, create=False) as store:
        return list(store.observations())


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- import ---------------------------------------------------------------------------------


def test_import_records_every_row_and_says_what_changed(
    run: Run, registry: Path, tmp_path: Path
) -> None:
    csv_file = write(
        tmp_path / "a.csv",
        CSV + "mql,2026-Q4,610,2026-11-01\nmql,2026-Q4,640.5,2026-11-02\n"
        "sql,q4-legacy-bi-displacement,58,2026-11-01\n",
    )
    result = run("actuals", "import", str(csv_file), str(registry))
    assert (result.code, result.out, result.err) == (
        0,
        f"Recorded 3 rows of {csv_file}: 3 added, 0 replaced, 0 unchanged.\n",
        "",
    )
    assert stored(registry) == [
        Observation("mql", "2026-Q4", 610, D1),
        Observation("mql", "2026-Q4", 640.5, D2),
        Observation("sql", "q4-legacy-bi-displacement", 58, D1),
    ]
    again = write(
        tmp_path / "b.csv", CSV + "mql,2026-Q4,610,2026-11-01\nmql,2026-Q4,650,2026-11-02\n"
    )
    result = run("actuals", "import", str(again), str(registry))
    assert result.out == f"Recorded 2 rows of {again}: 0 added, 1 replaced, 1 unchanged.\n"
    assert stored(registry)[:2] == [
        Observation("mql", "2026-Q4", 610, D1),
        Observation("mql", "2026-Q4", 650, D2),
    ]
    assert len(stored(registry)) == 3


def test_import_from_stdin(run: Run, registry: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = (CSV + "mql,2026-Q4,610,2026-11-01\n").encode("utf-8")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    result = run("actuals", "import", "-", str(registry))
    assert (result.code, result.out) == (
        0,
        "Recorded 1 row of <stdin>: 1 added, 0 replaced, 0 unchanged.\n",
    )
    with sqlite3.connect(store_of(registry)) as connection:
        assert connection.execute("SELECT source FROM observations").fetchall() == [
            ("import <stdin>",)
        ]


BAD = CSV + (
    "mql,2026-Q4,610,2026-11-01\n"
    "mqll,2026-Q4,1,2026-11-01\n"
    "sql,2026-Q4,12 000,2026-11-01\n"
    "sql,2026-Q4,448,2026-11-02\n"
)
BAD_LINES = (
    "{f}:3: unknown KPI 'mqll' (did you mean 'mql'?): row skipped\n"
    "{f}:4: value '12 000' is not a number: write digits with a dot for decimals and no "
    "thousands separators or units (1225, 36.6); row skipped\n"
)


def test_one_bad_row_records_nothing(run: Run, registry: Path, tmp_path: Path) -> None:
    first = write(tmp_path / "first.csv", CSV + "nrr,2026-Q4,113.4,2026-11-06\n")
    assert run("actuals", "import", str(first), str(registry)).code == 0
    before = store_of(registry).read_bytes()
    bad = write(tmp_path / "bad.csv", BAD)
    result = run("actuals", "import", str(bad), str(registry))
    assert (result.code, result.out) == (1, "")
    assert result.err == BAD_LINES.format(f=bad) + (
        f"kpictl: nothing recorded: {bad} has 2 bad rows (listed above); fix them, or pass "
        "--skip-bad to record the 2 good rows\n"
    )
    assert stored(registry) == [Observation("nrr", "2026-Q4", 113.4, date(2026, 11, 6))]
    assert store_of(registry).read_bytes() == before


def test_a_bad_file_creates_no_store(run: Run, registry: Path, tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.csv", CSV + "mql,2026-Q4,many,2026-11-01\n")
    result = run("actuals", "import", str(bad), str(registry))
    assert result.code == 1
    assert result.err.endswith(
        f"kpictl: nothing recorded: {bad} has 1 bad row (listed above); fix it, or pass "
        "--skip-bad to record the 0 good rows\n"
    )
    assert not (registry / ".kpictl").exists()


def test_skip_bad_records_the_good_rows_and_lists_the_rest(
    run: Run, registry: Path, tmp_path: Path
) -> None:
    bad = write(tmp_path / "bad.csv", BAD)
    result = run("actuals", "import", str(bad), str(registry), "--skip-bad")
    assert result.code == 1
    assert result.out == (
        f"Recorded 2 rows of {bad}: 2 added, 0 replaced, 0 unchanged; 2 bad rows skipped.\n"
    )
    assert result.err == BAD_LINES.format(f=bad)
    assert stored(registry) == [
        Observation("mql", "2026-Q4", 610, D1),
        Observation("sql", "2026-Q4", 448, D2),
    ]


def test_a_repeated_row_is_a_note_not_a_bad_row(run: Run, registry: Path, tmp_path: Path) -> None:
    twice = write(
        tmp_path / "twice.csv", CSV + "mql,2026-Q4,610,2026-11-01\nmql,2026-Q4,610,2026-11-01\n"
    )
    result = run("actuals", "import", str(twice), str(registry))
    assert (result.code, result.out, result.err) == (
        0,
        f"Recorded 1 row of {twice}: 1 added, 0 replaced, 0 unchanged.\n",
        f"{twice}:3: repeats row 2 (mql 2026-Q4 as of 2026-11-01): ignored\n",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "{f}:1: the file is empty: start it with the header kpi,period,value,as_of"),
        (CSV, "{f}:1: the file has a header but no rows: add one line per KPI and period"),
        (
            "kpi;period;value;as_of\n",
            "{f}:1: missing columns kpi, period, value, as_of: the header must name "
            "kpi,period,value,as_of (it names none of them, in 1 column); the file looks "
            "semicolon-separated: export it with commas",
        ),
    ],
)
def test_an_unusable_file_is_refused(
    run: Run, registry: Path, tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path / "x.csv", text)
    result = run("actuals", "import", str(path), str(registry))
    assert (result.code, result.out) == (2, "")
    assert result.err == "kpictl: " + message.format(f=path) + "; nothing recorded\n"
    assert not (registry / ".kpictl").exists()


def test_a_missing_file_is_refused(run: Run, registry: Path, tmp_path: Path) -> None:
    result = run("actuals", "import", str(tmp_path / "nope.csv"), str(registry))
    assert (result.code, result.err) == (
        2,
        f"kpictl: cannot read {tmp_path / 'nope.csv'}: No such file or directory\n",
    )


def test_a_linked_file_is_refused(run: Run, registry: Path, tmp_path: Path) -> None:
    link = tmp_path / "latest.csv"
    link.symlink_to(registry / "actuals" / "2026-11-20.csv")
    result = run("actuals", "import", str(link), str(registry))
    assert (result.code, result.err) == (
        2,
        f"kpictl: cannot read {link}: it is a symbolic link, not a regular file; kpictl does "
        "not follow links or wait on pipes: name the CSV file itself (or pipe it to -)\n",
    )


# --- bad stores -----------------------------------------------------------------------------


def test_a_store_that_is_a_text_file_is_refused_untouched(
    run: Run, registry: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    text_file = write(tmp_path / "notes.txt", "not a database\n")
    monkeypatch.setenv("KPICTL_STORE", f"sqlite:///{text_file}")
    result = run("actuals", "import", str(registry / "actuals" / "2026-11-20.csv"), str(registry))
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"kpictl: sqlite:///{text_file} is not a kpictl store: it is not an SQLite database; "
        "kpictl left it untouched. Point KPICTL_STORE or store: in kpictl.yaml at a new file\n"
    )
    assert text_file.read_text(encoding="utf-8") == "not a database\n"


def test_a_store_that_is_a_folder_is_refused(run: Run, registry: Path) -> None:
    store_of(registry).mkdir(parents=True)
    result = run("status", str(registry), "--as-of", AS_OF)
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"kpictl: cannot use the store sqlite:///{store_of(registry)}: it is a folder, not a "
        "database file; point KPICTL_STORE or store: at a file, such as .kpictl/store.db\n"
    )


def test_a_store_from_a_newer_kpictl_is_refused(run: Run, registry: Path) -> None:
    assert run("actuals", "import", str(registry / "actuals" / "2026-11-20.csv"), str(registry))
    with sqlite3.connect(store_of(registry)) as connection:
        connection.execute("UPDATE kpictl_store SET version = 4")
    connection.close()
    before = store_of(registry).read_bytes()
    result = run("actuals", "export", str(registry))
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"kpictl: the store sqlite:///{store_of(registry)} was written by a newer kpictl "
        "(store version 4; this kpictl knows up to 3): upgrade kpictl to use it; it was left "
        "untouched\n"
    )
    assert store_of(registry).read_bytes() == before


def test_store_setting_in_kpictl_yaml_is_relative_to_the_registry(
    run: Run, registry: Path, tmp_path: Path
) -> None:
    settings = registry / "kpictl.yaml"
    settings.write_text(
        settings.read_text(encoding="utf-8") + "store: sqlite:///history/kpis.db\n",
        encoding="utf-8",
    )
    csv_file = write(tmp_path / "a.csv", CSV + "mql,2026-Q4,610,2026-11-01\n")
    assert run("actuals", "import", str(csv_file), str(registry)).code == 0
    assert (registry / "history" / "kpis.db").is_file()
    assert not (registry / ".kpictl").exists()


# --- export ---------------------------------------------------------------------------------


def imported(run: Run, registry: Path) -> None:
    result = run("actuals", "import", str(registry / "actuals" / "2026-11-20.csv"), str(registry))
    assert result.code == 0, result.err


def test_export_prints_the_store_as_the_contracts_csv(run: Run, registry: Path) -> None:
    imported(run, registry)
    result = run("actuals", "export", str(registry), "--kpi", "sql", "--kpi", "mql-to-sql-rate")
    assert (result.code, result.err) == (0, "")
    assert result.out == (
        CSV + "mql-to-sql-rate,2026-Q4,36.6,2026-11-16\n"
        "sql,2026-Q4,448,2026-11-20\n"
        "sql,data-leaders-webinars-2026,271,2026-09-01\n"
        "sql,q4-legacy-bi-displacement,58,2026-10-31\n"
        "sql,q4-legacy-bi-displacement,101,2026-11-20\n"
    )
    since = run("actuals", "export", str(registry), "--kpi", "sql", "--since", "2026-11-01")
    assert since.out == (
        CSV + "sql,2026-Q4,448,2026-11-20\nsql,q4-legacy-bi-displacement,101,2026-11-20\n"
    )


def test_export_round_trips_through_import(run: Run, registry: Path, tmp_path: Path) -> None:
    imported(run, registry)
    out = tmp_path / "all.csv"
    result = run("actuals", "export", str(registry), "-o", str(out))
    assert (result.code, result.out, result.err) == (0, "", f"Wrote 20 observations to {out}.\n")
    again = run("actuals", "import", str(out), str(registry))
    assert again.out == f"Recorded 20 rows of {out}: 0 added, 0 replaced, 20 unchanged.\n"
    status_from_file = run("status", str(registry), "--actuals", str(out), "--as-of", AS_OF)
    assert status_from_file.out == run("status", str(registry), "--as-of", AS_OF).out


def test_export_cells_are_formula_safe(run: Run, registry: Path) -> None:
    # Ids that start a formula cannot be recorded any more (tests/test_store_hostile.py
    # shows such rows written behind kpictl's back left out); numbers stay numbers.
    url = DatabaseUrl("store", f"sqlite:///{store_of(registry)}", ())
    with open_store(url) as store:
        store.record(
            [
                Observation("mql", "2026-Q4", -5, D1),
                Observation("mql", "2026", 1e-05, D1),
                Observation("mql", "2026-Q4", 1e15, D2),
            ],
            source="test",
        )
    result = run("actuals", "export", str(registry))
    assert result.out == (
        CSV + "mql,2026,1e-05,2026-11-01\n"
        "mql,2026-Q4,-5,2026-11-01\n"
        "mql,2026-Q4,1000000000000000.0,2026-11-02\n"
    )


def test_export_of_an_unknown_kpi_says_what_was_meant(run: Run, registry: Path) -> None:
    imported(run, registry)
    result = run("actuals", "export", str(registry), "--kpi", "pipline-sourced")
    assert (result.code, result.out, result.err) == (
        2,
        "",
        "kpictl: --kpi: no KPI 'pipline-sourced' in the registry (did you mean "
        "'pipeline-sourced'?)\n",
    )


def test_export_refuses_to_write_a_registry_file(run: Run, registry: Path) -> None:
    imported(run, registry)
    target = registry / "kpis" / "mql.yaml"
    before = target.read_bytes()
    result = run("actuals", "export", str(registry), "-o", str(target))
    assert result.code == 2
    assert result.err.startswith(f"kpictl: not writing {target}: it is a file of the registry")
    assert target.read_bytes() == before


def test_export_without_a_store_creates_none(run: Run, registry: Path) -> None:
    result = run("actuals", "export", str(registry))
    assert (result.code, result.out, result.err) == (
        2,
        "",
        f"kpictl: there is no store yet at sqlite:///{store_of(registry)}: run `kpictl pull` "
        "or `kpictl actuals import FILE` to record values first\n",
    )
    assert not (registry / ".kpictl").exists()


def test_export_since_must_be_a_date(run: Run, registry: Path) -> None:
    result = run("actuals", "export", str(registry), "--since", "last week")
    assert result.code == 2
    assert "'last week' is not a date: use YYYY-MM-DD" in result.err


# --- the scorecard commands read the store --------------------------------------------------

CHARTER = "q4-legacy-bi-displacement"
COMMANDS = [
    ("status",),
    ("status", "--format", "json"),
    ("escalate",),
    ("readout", CHARTER),
    ("recap", "data-leaders-webinars-2026"),
    ("kickoff", CHARTER),
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_without_actuals_the_store_gives_what_the_file_gives(
    run: Run, registry: Path, command: tuple[str, ...]
) -> None:
    imported(run, registry)
    csv_file = str(registry / "actuals" / "2026-11-20.csv")
    from_store = run(*command, str(registry), "--as-of", AS_OF)
    from_file = run(*command, str(registry), "--actuals", csv_file, "--as-of", AS_OF)
    assert from_store.code == from_file.code == 0
    assert from_store.out == from_file.out
    assert from_store.err == from_file.err


@pytest.mark.parametrize("command", [c for c in COMMANDS if c[0] != "kickoff"], ids=" ".join)
def test_without_actuals_or_a_store_the_user_is_told_how(
    run: Run, registry: Path, command: tuple[str, ...]
) -> None:
    result = run(*command, str(registry), "--as-of", AS_OF)
    assert (result.code, result.out, result.err) == (
        2,
        "",
        f"kpictl: there is no store yet at sqlite:///{store_of(registry)}: run `kpictl pull` "
        "or `kpictl actuals import FILE` to record values first\n",
    )
    assert not (registry / ".kpictl").exists()


def test_kickoff_without_a_store_shows_no_values(run: Run, registry: Path) -> None:
    without = run("kickoff", CHARTER, str(registry), "--as-of", AS_OF)
    assert without.code == 0
    assert not (registry / ".kpictl").exists()


def test_the_store_keeps_history_and_status_shows_the_value_of_its_day(
    run: Run, registry: Path, tmp_path: Path
) -> None:
    early = write(tmp_path / "early.csv", CSV + "mql,2026-Q4,100,2026-10-05\n")
    late = write(tmp_path / "late.csv", CSV + "mql,2026-Q4,1225,2026-11-20\n")
    for path in (early, late):
        assert run("actuals", "import", str(path), str(registry)).code == 0

    def mql_actual(as_of: str) -> object:
        import json

        result = run("status", str(registry), "--as-of", as_of, "--format", "json")
        rows = json.loads(result.out)["kpis"]
        return next(row["actual"] for row in rows if row["kpi"] == "mql")

    assert mql_actual("2026-10-06") == 100
    assert mql_actual("2026-11-20") == 1225


# --- the store is not registry content ------------------------------------------------------


def test_a_store_under_the_registry_is_never_read_as_registry_content(
    run: Run, registry: Path
) -> None:
    before = run("check", str(registry), "--as-of", AS_OF)
    imported(run, registry)
    # Even YAML that would not check beside the store stays unread: .kpictl is hidden.
    write(registry / ".kpictl" / "notes.yaml", "kind: kpi\nid: Not A Slug\n")
    after = run("check", str(registry), "--as-of", AS_OF)
    assert (after.code, after.out) == (before.code, before.out)
    assert after.out == "No findings in 30 files.\n"


# --- kpictl init keeps the store out of git -------------------------------------------------

GITIGNORE = (
    "# kpictl keeps the history of actual values (`kpictl pull`, `kpictl actuals import`)\n"
    "# in a local database: data, not definitions. .kpictl/schema/ is committed.\n"
    ".kpictl/store.db*\n"
)


def test_init_ignores_the_store_and_its_wal_files_but_not_the_schemas(
    run: Run, tmp_path: Path
) -> None:
    import subprocess

    root = tmp_path / "kpis-repo"
    assert run("init", str(root)).code == 0
    assert (root / ".gitignore").read_text(encoding="utf-8") == GITIGNORE
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    names = [
        ".kpictl/store.db",
        ".kpictl/store.db-wal",
        ".kpictl/store.db-shm",
        ".kpictl/schema/kpi.schema.json",
    ]
    ignored = subprocess.run(
        ["git", "-C", str(root), "check-ignore", *names], capture_output=True, text=True
    )
    assert ignored.stdout.splitlines() == names[:3]


def test_init_adds_to_an_existing_gitignore(run: Run, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    write(root / ".gitignore", "node_modules/\n.kpictl/store.db*")
    assert run("init", str(root)).code == 0
    assert (root / ".gitignore").read_text(encoding="utf-8") == "node_modules/\n.kpictl/store.db*"
    other = tmp_path / "other"
    other.mkdir()
    write(other / ".gitignore", "node_modules/")
    assert run("init", str(other)).code == 0
    assert (other / ".gitignore").read_text(encoding="utf-8") == "node_modules/\n" + GITIGNORE

"""`store:` in kpictl.yaml: an SQLite path stays in the registry, and a kpictl.yaml with
errors names no store at all (its defaults would be another store)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import AS_OF, EXAMPLE, Run

OUTSIDE = (
    "kpictl.yaml:{line}:8: S001 [error] store: the store's path leaves the registry: write a "
    "path inside it (the default is sqlite:///.kpictl/store.db), a server URL, or set "
    "KPICTL_STORE for a store elsewhere"
)
BROKEN = (
    "kpictl: `{key}:` in kpictl.yaml has errors, so the {key} it names cannot be known: run "
    "`kpictl check` and fix it first\n"
)


def with_store(tmp_path: Path, store: str) -> tuple[Path, int]:
    """A copy of the example whose kpictl.yaml ends with `store: STORE`; and that line."""
    root = tmp_path / "registry"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".kpictl"))
    settings = root / "kpictl.yaml"
    text = settings.read_text(encoding="utf-8")
    settings.write_text(f'{text}store: "{store}"\n', encoding="utf-8")
    return root, text.count("\n") + 1


@pytest.mark.parametrize(
    "store",
    ["sqlite:///../elsewhere/x.db", "sqlite:///a/../../x.db", "sqlite+pysqlite:///./../x.db"],
)
def test_a_relative_store_path_that_leaves_the_registry_is_an_error(
    run: Run, tmp_path: Path, store: str
) -> None:
    root, line = with_store(tmp_path, store)
    result = run("check", str(root))
    assert result.code == 1
    assert result.out.splitlines()[0] == f"{root}/" + OUTSIDE.format(line=line)


def test_an_sqlite_uri_is_not_a_store_path(run: Run, tmp_path: Path) -> None:
    root, line = with_store(tmp_path, "sqlite:///file:x.db?uri=true")
    result = run("check", str(root))
    assert result.out.splitlines()[0] == (
        f"{root}/kpictl.yaml:{line}:8: S001 [error] store: the store is a plain path "
        "(sqlite:///.kpictl/store.db), not an SQLite file: URI"
    )


@pytest.mark.parametrize(
    "store",
    [
        "sqlite:///a/../history.db",
        "sqlite:///.kpictl/team.db",
        "sqlite:////srv/kpictl/store.db",
        "postgresql+psycopg://kpictl:${STORE_PASSWORD}@db.example/kpis",
    ],
)
def test_stores_inside_the_registry_absolute_or_on_a_server_are_fine(
    run: Run, tmp_path: Path, store: str
) -> None:
    root, _ = with_store(tmp_path, store)
    assert run("check", str(root)).out == "No findings in 30 files.\n"


@pytest.mark.parametrize(
    "command",
    [
        ("pull", "{root}", "--as-of", AS_OF),
        ("pull", "{root}", "--as-of", AS_OF, "--dry-run"),
        ("status", "{root}", "--as-of", AS_OF),
        ("escalate", "{root}", "--as-of", AS_OF),
        ("escalations", "{root}"),
        ("actuals", "export", "{root}"),
    ],
)
def test_with_errors_in_kpictl_yaml_no_store_is_guessed(
    run: Run, tmp_path: Path, command: tuple[str, ...]
) -> None:
    root, _ = with_store(tmp_path, "sqlite:///../elsewhere/x.db")
    result = run(*(arg.format(root=root) for arg in command))
    assert result.code == 2
    assert result.err.splitlines()[-1] + "\n" == BROKEN.format(key="store")
    assert not (root / ".kpictl").exists()
    assert not (tmp_path / "elsewhere").exists()


def test_with_errors_in_kpictl_yaml_actuals_from_a_file_still_show(
    run: Run, tmp_path: Path
) -> None:
    root, _ = with_store(tmp_path, "sqlite:///../elsewhere/x.db")
    csv_file = root / "actuals" / f"{AS_OF}.csv"
    result = run("status", str(root), "--as-of", AS_OF, "-a", str(csv_file))
    assert result.code == 0
    assert result.out.splitlines()[-1] == (
        "11 KPIs: 7 on track, 3 escalated, 1 in a data outage, 0 without a target."
    )


def test_broken_connections_are_not_guessed_either(run: Run, tmp_path: Path) -> None:
    root = tmp_path / "registry"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".kpictl"))
    settings = root / "kpictl.yaml"
    text = settings.read_text(encoding="utf-8")
    settings.write_text(text.replace("duckdb:///:memory:", "duckdb:///:memory:?threads=4"))
    result = run("pull", str(root), "--as-of", AS_OF)
    assert result.code == 2
    assert result.err.splitlines()[-1] + "\n" == BROKEN.format(key="connections")


def test_a_harmless_error_elsewhere_leaves_the_store_and_connections_in_use(
    run: Run, tmp_path: Path
) -> None:
    root = tmp_path / "registry"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".kpictl"))
    settings = root / "kpictl.yaml"
    settings.write_text(settings.read_text(encoding="utf-8") + "working_days: [mon, mon]\n")
    pulled = run("pull", str(root), "--as-of", AS_OF)
    assert pulled.code == 0, pulled.err
    assert pulled.out.splitlines()[-1].startswith("Pulled 88 values in 37 queries as of 2026-11-20")
    assert (root / ".kpictl" / "store.db").is_file()
    exported = run("actuals", "export", str(root), "--kpi", "mql", "--since", AS_OF)
    assert exported.out == "kpi,period,value,as_of\nmql,2026-Q4,1225,2026-11-20\n"

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
    "kpictl: kpictl.yaml has errors, so {what} cannot be known: run `kpictl check` and fix "
    "kpictl.yaml first\n"
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
    assert result.err.splitlines()[-1] + "\n" == BROKEN.format(what="the store it names")
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


def test_with_errors_in_kpictl_yaml_pull_guesses_no_connection_either(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = with_store(tmp_path, "sqlite:///../elsewhere/x.db")
    monkeypatch.setenv("KPICTL_STORE", f"sqlite:///{tmp_path}/shared.db")
    result = run("pull", str(root), "--as-of", AS_OF)
    assert result.code == 2
    assert result.err.splitlines()[-1] + "\n" == BROKEN.format(what="its connections")

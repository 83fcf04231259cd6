"""DuckDB reads the registry's visible folders and files only: never `.git` (where
actions/checkout leaves its token), `.kpictl` or a link."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Run
from tests.test_pull import registry
from tests.test_pull_confinement import FAILED, one_failure

TOKEN = "AUTHORIZATION: basic eC1hY2Nlc3MtdG9rZW4="


@pytest.mark.parametrize("path", [".git/config", "./.git/config", "warehouse/../.git/config"])
def test_the_git_folder_is_not_readable(tmp_path: Path, run: Run, path: str) -> None:
    sql = f"select length(content) as value from read_text('{path}')"
    root = registry(tmp_path / "reg", sql)
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text(f'[http]\n\textraheader = "{TOKEN}"\n')
    failed = one_failure(run, root)
    assert failed.startswith(f"{FAILED}Permission Error: Cannot access file ")
    assert TOKEN not in failed


def test_a_link_at_the_top_is_not_readable(tmp_path: Path, run: Run) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "data.csv").write_text("value\n42\n")
    root = registry(tmp_path / "reg", "select value from read_csv('linked/data.csv')")
    (root / "linked").symlink_to(outside)
    assert one_failure(run, root).startswith(f"{FAILED}Permission Error: Cannot access ")


def test_visible_folders_and_files_stay_readable(tmp_path: Path, run: Run) -> None:
    root = registry(tmp_path / "reg", "select count(*) as value from read_text('kpictl.yaml')")
    result = run("pull", str(root), "--as-of", "2026-11-20", "--dry-run", "--no-backfill")
    assert result.code == 0, result.out + result.err
    assert "  mql  2026-Q4      1  2026-11-20  current" in result.out.splitlines()

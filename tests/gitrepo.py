"""Real git repositories for tests: `git init`, commits, branches, renames, deletions.

Tests never depend on the machine's git configuration: `git_env` points git at an
empty global and system config and fixes the author, the committer and the dates,
so commit ids are the same on every run (golden files may show them) and CI needs
no `git config user.name`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

IDENTITY = {
    "GIT_AUTHOR_NAME": "Ann Lee",
    "GIT_AUTHOR_EMAIL": "ann@acme.example",
    "GIT_COMMITTER_NAME": "Ann Lee",
    "GIT_COMMITTER_EMAIL": "ann@acme.example",
}

requires_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture
def git_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """A clean, deterministic environment for git (used by `kpictl` in-process too)."""
    empty = tmp_path / "empty-gitconfig"
    empty.write_text("", encoding="utf-8")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("GIT_DIR", raising=False)
    monkeypatch.delenv("GIT_WORK_TREE", raising=False)
    monkeypatch.delenv("GITHUB_BASE_REF", raising=False)
    for key, value in IDENTITY.items():
        monkeypatch.setenv(key, value)
    yield


class Repo:
    """A git repository in a folder, driven the way a person would drive it."""

    def __init__(self, path: Path, day: int = 1) -> None:
        self.path = path
        self.day = day  # commits are dated 2026-01-<day>, one day apart

    @classmethod
    def init(cls, path: Path, branch: str = "main") -> Repo:
        path.mkdir(parents=True, exist_ok=True)
        repo = cls(path)
        repo.git("init", "-q", "-b", branch)
        return repo

    def git(self, *args: str, env: dict[str, str] | None = None) -> str:
        full_env = {**os.environ, **(env or {})}
        proc = subprocess.run(
            ["git", "-C", str(self.path), *args],
            capture_output=True,
            text=True,
            env=full_env,
            check=False,
        )
        assert proc.returncode == 0, f"git {' '.join(args)} failed: {proc.stderr}"
        return proc.stdout.strip()

    def write(self, rel: str, text: str) -> Path:
        path = self.path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def replace(self, rel: str, old: str, new: str) -> None:
        path = self.path / rel
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {rel}"
        path.write_text(text.replace(old, new), encoding="utf-8")

    def commit(self, message: str, *, add: bool = True) -> str:
        """Commit everything (or what is staged, with add=False); returns the commit id."""
        if add:
            self.git("add", "-A")
        when = f"2026-01-{self.day:02d}T10:00:00+01:00"
        self.day += 1
        self.git(
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            message,
            env={"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when},
        )
        return self.head()

    def merge(self, branch: str, message: str) -> str:
        when = f"2026-01-{self.day:02d}T10:00:00+01:00"
        self.day += 1
        self.git(
            "merge",
            "-q",
            "--no-ff",
            "-m",
            message,
            branch,
            env={"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when},
        )
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

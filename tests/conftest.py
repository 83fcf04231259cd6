"""Shared test helpers: run the CLI in-process, build registries, compare golden files."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from kpictl.__main__ import main

# The throw-away PostgreSQL server fixture (`postgres`) lives in tests/pg.py.
pytest_plugins = ["tests.pg"]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "registry"
GOLDEN = Path(__file__).resolve().parent / "golden"
# The example registry's actuals are measured on this date; tests evaluate on it.
AS_OF = "2026-11-20"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "slow: takes tens of seconds (e.g. real pre-commit installs); runs by default, "
        "skip with -m 'not slow'",
    )


@dataclass
class Result:
    code: int
    out: str
    err: str


# The `run` fixture: run(*args, cwd=None) -> Result.
Run = Callable[..., Result]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run `kpictl ARGS...` in-process; returns exit code, stdout and stderr."""
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    # A store named in the developer's shell must not feed the tests' commands.
    monkeypatch.delenv("KPICTL_STORE", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")

    def _run(*args: str, cwd: Path | None = None) -> Result:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return _run


def write_registry(root: Path, files: dict[str, str], settings: str = "version: 1\n") -> Path:
    """Create a registry at `root`: kpictl.yaml plus `files` (relative path -> YAML text)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "kpictl.yaml").write_text(settings, encoding="utf-8")
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def assert_golden(name: str, actual: str) -> None:
    """Compare `actual` with tests/golden/NAME; KPICTL_UPDATE_GOLDEN=1 rewrites it.

    Regenerate deliberately and review the diff: a golden file is the expected
    output, not a snapshot to accept blindly.
    """
    path = GOLDEN / name
    if os.environ.get("KPICTL_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with KPICTL_UPDATE_GOLDEN=1"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"output differs from {path}"

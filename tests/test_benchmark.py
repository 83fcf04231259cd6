"""The benchmark script's reference point: the interpreter kpictl runs under."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
try:
    import check_large
finally:
    sys.path.pop(0)


def test_interpreter_of_python_dash_m() -> None:
    assert check_large.kpictl_python([sys.executable, "-m", "kpictl"]) == sys.executable


def test_interpreter_of_a_console_script(tmp_path: Path) -> None:
    script = tmp_path / "kpictl"
    script.write_text("#!/opt/venv/bin/python3.11\nimport sys\n", encoding="utf-8")
    assert check_large.kpictl_python([str(script)]) == "/opt/venv/bin/python3.11"


@pytest.mark.parametrize("first_line", ["#!/bin/sh\n", "not a script\n"])
def test_interpreter_falls_back_to_this_one(tmp_path: Path, first_line: str) -> None:
    script = tmp_path / "kpictl"
    script.write_text(first_line, encoding="utf-8")
    assert check_large.kpictl_python([str(script)]) == sys.executable


def test_import_floor_runs() -> None:
    done = subprocess.run([sys.executable, "-c", check_large.IMPORT_FLOOR], check=False)
    assert done.returncode == 0

"""A terminal or pipe that cannot show every character gets stand-ins, never a crash."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REGISTRY = Path(__file__).resolve().parent.parent / "registry"


def kpictl(*args: str, encoding: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    return subprocess.run(
        [sys.executable, "-m", "kpictl", *args], env=env, capture_output=True, timeout=120
    )


def test_the_map_on_an_ascii_terminal_shows_stand_ins_for_the_tree() -> None:
    done = kpictl("map", str(REGISTRY), encoding="ascii")

    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode("ascii").splitlines()
    assert lines[0] == "Accountability map: Northwind Analytics"
    assert (
        "    ?? search-console: Organic search queries and clicks, captured in Google Search "
        "Console, owner Lucia Ferraro"
    ) in lines


def test_json_on_an_ascii_pipe_stays_json() -> None:
    done = kpictl("map", str(REGISTRY), "--format", "json", encoding="ascii")

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.decode("ascii"))["organization"] == "Northwind Analytics"


def test_a_message_on_a_latin1_terminal_keeps_the_code_point() -> None:
    done = kpictl("check", str(REGISTRY / "missing-\u2603"), encoding="latin-1")

    assert done.returncode == 2
    assert done.stderr.decode("latin-1") == (
        f"kpictl: no such file or folder: {REGISTRY}/missing-\\u2603\n"
    )

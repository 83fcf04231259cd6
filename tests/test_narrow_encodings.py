"""A terminal or pipe that cannot show every character gets stand-ins, never a crash."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kpictl.templating.narrow import look_alike

EXAMPLE = Path(__file__).resolve().parent.parent / "registry"


def kpictl(*args: str, encoding: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    return subprocess.run(
        [sys.executable, "-m", "kpictl", *args], env=env, capture_output=True, timeout=120
    )


@pytest.fixture(scope="module")
def accented(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example registry, with Lucia Ferraro spelled Lúcia."""
    root = tmp_path_factory.mktemp("narrow") / "registry"
    shutil.copytree(EXAMPLE, root)
    people = root / "people" / "marketing.yaml"
    text = people.read_text(encoding="utf-8")
    people.write_text(text.replace("name: Lucia Ferraro", "name: Lúcia Ferraro"), "utf-8")
    return root


def test_the_map_on_an_ascii_terminal_draws_its_tree_in_ascii(accented: Path) -> None:
    done = kpictl("map", str(accented), encoding="ascii")

    assert (done.returncode, done.stderr) == (0, b"")
    lines = done.stdout.decode("ascii").splitlines()
    assert lines[0] == "Accountability map: Northwind Analytics"
    assert (
        "    `- search-console: Organic search queries and clicks, captured in Google Search "
        "Console, owner Lucia Ferraro"
    ) in lines


def test_json_on_an_ascii_pipe_keeps_every_character(accented: Path) -> None:
    done = kpictl("map", str(accented), "--format", "json", encoding="ascii")

    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout.isascii()
    assert b'"L\\u00facia Ferraro"' in done.stdout
    assert json.loads(done.stdout)["people"]["lucia-ferraro"]["name"] == "Lúcia Ferraro"


def test_json_on_a_utf8_pipe_is_written_as_it_reads(accented: Path) -> None:
    done = kpictl("map", str(accented), "--format", "json", encoding="utf-8")

    assert done.returncode == 0
    assert '"Lúcia Ferraro"' in done.stdout.decode("utf-8")


def test_a_latin1_terminal_shows_what_latin1_can(accented: Path) -> None:
    done = kpictl("who", "lucia-ferraro", str(accented), encoding="latin-1")

    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout.decode("latin-1").splitlines()[0] == "Lúcia Ferraro (lucia-ferraro)"


@pytest.mark.parametrize(
    ("char", "shown"),
    [
        ("·", "-"),
        ("→", "->"),
        ("▁", "_"),
        ("█", "#"),
        ("é", "e"),
        ("ß", "?"),  # no ASCII letter under it
        ("ﬁ", "fi"),
        ("\u2028", "?"),  # a line separator: nothing invisible stands in
        ("世", "?"),
    ],
)
def test_look_alikes(char: str, shown: str) -> None:
    assert look_alike(char) == shown

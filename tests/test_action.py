"""The GitHub Action (action.yml) and the example workflow: structure, and the scripts run.

GitHub is not here, so the composite action's own shell steps are run with bash the
way the runner would (inputs as environment variables, GITHUB_OUTPUT and
GITHUB_STEP_SUMMARY as files), against a real git repository.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.conftest import ROOT
from tests.gitrepo import Repo, git_env, requires_git  # noqa: F401 - git_env is a fixture
from tests.helpers import BASE, write_registry

ACTION = ROOT / "action.yml"
WORKFLOW = ROOT / "docs" / "github-workflow.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def load(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def steps() -> list[dict[str, Any]]:
    return list(load(ACTION)["runs"]["steps"])


def step(step_id: str) -> dict[str, Any]:
    return next(s for s in steps() if s.get("id") == step_id or s.get("name") == step_id)


def test_action_is_a_composite_action_with_documented_inputs() -> None:
    action = load(ACTION)
    assert action["runs"]["using"] == "composite"
    assert set(action["inputs"]) == {
        "path",
        "python-version",
        "sarif",
        "fail-on",
        "base",
        "summary",
    }
    for name, spec in action["inputs"].items():
        assert spec.get("description"), name
        assert "default" in spec, name
    for item in steps():
        assert ("run" in item) != ("uses" in item), item
        if "run" in item:
            assert item.get("shell") == "bash", item["name"]


def test_every_expression_names_a_declared_input_and_no_script_pastes_one() -> None:
    action = load(ACTION)
    text = ACTION.read_text(encoding="utf-8")
    for expression in EXPRESSION.findall(text):
        for name in re.findall(r"inputs\.([A-Za-z0-9_-]+)", expression):
            assert name in action["inputs"], expression
        for name in re.findall(r"steps\.([A-Za-z0-9_-]+)\.outputs", expression):
            assert any(s.get("id") == name for s in steps()), expression
    for item in steps():
        # Values reach scripts through env, so a ref or folder name cannot inject code.
        assert "${{" not in item.get("run", ""), item["name"]


def test_action_installs_itself_checks_uploads_and_summarises() -> None:
    uses = [s["uses"].split("@")[0] for s in steps() if "uses" in s]
    assert uses == ["actions/setup-python", "github/codeql-action/upload-sarif"]
    assert "github.action_path" in step("Install kpictl")["env"]["KPICTL_ACTION_PATH"]
    assert "--format github" in step("check")["run"]
    upload = next(s for s in steps() if s.get("uses", "").startswith("github/codeql"))
    assert "inputs.sarif == 'true'" in upload["if"]
    assert upload["with"]["sarif_file"] == "kpictl.sarif"
    summary = step("Diff to the job summary")
    assert '--format markdown >> "$GITHUB_STEP_SUMMARY"' in summary["run"]
    assert step("Fail on findings")["run"] == 'exit "$KPICTL_EXIT"'


def test_example_workflow_uses_the_action_with_full_history() -> None:
    workflow = load(WORKFLOW)
    assert "pull_request" in workflow["on"]
    job = next(iter(workflow["jobs"].values()))
    checkout = job["steps"][0]
    assert checkout["uses"].startswith("actions/checkout@")
    assert checkout["with"]["fetch-depth"] == 0
    action = next(s for s in job["steps"] if "kpictl" in s.get("uses", ""))
    assert set(action["with"]) <= set(load(ACTION)["inputs"])
    assert job["permissions"]["security-events"] == "write"


def _run_step(name: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    script = step(name)["run"]
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )


@requires_git
@pytest.mark.skipif(shutil.which("kpictl") is None, reason="kpictl is not installed on PATH")
@pytest.mark.usefixtures("git_env")
def test_action_scripts_run_against_a_pull_request(tmp_path: Path) -> None:
    repo = Repo.init(tmp_path / "repo")
    write_registry(repo.path / "registry", BASE)
    base = repo.commit("Registry")
    repo.replace("registry/kpi.yaml", "    value: 100\n", "    value: 150\n")
    repo.commit("Raise the target")
    output = tmp_path / "output"
    summary = tmp_path / "summary.md"
    env = {
        "KPICTL_PATH": "registry",
        "KPICTL_FAIL_ON": "error",
        "KPICTL_BASE": "",
        "KPICTL_PR_BASE": base,
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_ACTIONS": "true",
    }
    checked = _run_step("check", env, repo.path)
    assert checked.returncode == 0, checked.stderr  # the step records, the last step fails
    assert "::error file=registry/kpi.yaml,line=21,col=12,title=T003" in checked.stdout
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert outputs == {"exit-code": "1", "base": base}

    diffed = _run_step("Diff to the job summary", {**env, "KPICTL_BASE": base}, repo.path)
    assert diffed.returncode == 0, diffed.stderr
    assert summary.read_text().startswith("**KPI registry:** 1 KPI changed (1 target change")

    sarif = _run_step("Write SARIF", {**env, "KPICTL_BASE": base}, repo.path)
    assert sarif.returncode == 0, sarif.stderr
    assert '"version": "2.1.0"' in (repo.path / "kpictl.sarif").read_text()

    failed = _run_step("Fail on findings", {"KPICTL_EXIT": "1"}, repo.path)
    assert failed.returncode == 1

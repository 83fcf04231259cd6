"""`kpictl changelog KPI_ID`: one KPI's history through real git commits.

The history: the KPI is created, its target recalibrated, an unrelated file changes,
the KPI moves to kpis/, its owner is handed over on a branch merged with a merge
commit, and finally it is removed; uncommitted edits show as a last entry.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Run, assert_golden
from tests.gitrepo import Repo, git_env, requires_git  # noqa: F401 - git_env is a fixture
from tests.helpers import BASE, write_registry

pytestmark = [requires_git, pytest.mark.usefixtures("git_env")]

REG = "registry"
BRIAN = {"GIT_AUTHOR_NAME": "Bob Ray", "GIT_AUTHOR_EMAIL": "bob@acme.example"}


def history(tmp_path: Path) -> Repo:
    repo = Repo.init(tmp_path / "repo")
    files = dict(BASE)
    kpi = files.pop("kpi.yaml")
    write_registry(repo.path / REG, files)
    repo.commit("Registry without KPIs")
    repo.write(f"{REG}/kpi.yaml", kpi)
    repo.commit("Add the MQL KPI")
    repo.replace(
        f"{REG}/kpi.yaml",
        "    value: 100\n",
        "    value: 120\n    rationale: Webinars added\n    approved_by: bob\n",
    )
    repo.commit("Raise the Q4 MQL target\n\nAgreed in the November revenue review.")
    repo.replace(f"{REG}/team.yaml", "name: Demand Generation", "name: Demand Gen")
    repo.commit("Rename the team")
    (repo.path / REG / "kpis").mkdir()
    repo.git("mv", f"{REG}/kpi.yaml", f"{REG}/kpis/mql.yaml")
    repo.commit("Move KPIs into kpis/")
    repo.git("checkout", "-q", "-b", "handover")
    repo.replace(
        f"{REG}/kpis/mql.yaml", "  primary: ann\n  backup: bob\n", "  primary: bob\n  backup: ann\n"
    )
    repo.git("add", "-A")
    when = f"2026-01-{repo.day:02d}T10:00:00+01:00"
    repo.day += 1
    repo.git(
        "commit",
        "-q",
        "-m",
        "Hand MQL to Bob",
        env={**BRIAN, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when},
    )
    repo.git("checkout", "-q", "main")
    repo.merge("handover", "Merge branch 'handover'")
    return repo


def test_changelog_text(tmp_path: Path, run: Run) -> None:
    repo = history(tmp_path)
    result = run("changelog", "mql", "--registry", REG, cwd=repo.path)
    assert result.code == 0, result.err
    assert_golden("changelog/mql.txt", result.out)


def test_changelog_markdown(tmp_path: Path, run: Run) -> None:
    repo = history(tmp_path)
    result = run("changelog", "mql", "--registry", REG, "--format", "markdown", cwd=repo.path)
    assert result.code == 0, result.err
    assert_golden("changelog/mql.md", result.out)


def test_changelog_json(tmp_path: Path, run: Run) -> None:
    repo = history(tmp_path)
    repo.replace(f"{REG}/kpis/mql.yaml", "value: 120", "value: 125")  # uncommitted
    result = run("changelog", "mql", "--registry", REG, "-f", "json", cwd=repo.path)
    data = json.loads(result.out)
    assert (data["kpi"], data["name"], data["exists"], data["commits_walked"]) == (
        "mql",
        "MQLs",
        True,
        6,
    )
    summary = [
        (
            e["commit"]["subject"] if e["commit"] else None,
            e["change"],
            [f["field"] for f in e["fields"]],
        )
        for e in data["entries"]
    ]
    assert summary == [
        (None, "changed", ["targets[2026-Q4]"]),
        ("Merge branch 'handover'", "changed", ["owners.primary", "owners.backup"]),
        ("Move KPIs into kpis/", "changed", ["file"]),
        ("Raise the Q4 MQL target", "changed", ["targets[2026-Q4]"]),
        (
            "Add the MQL KPI",
            "created",
            [
                "definition",
                "formula",
                "owners.primary",
                "owners.backup",
                "targets[2026-Q4]",
                "escalation",
            ],
        ),
    ]
    merge = data["entries"][1]
    assert merge["commit"]["merge"] is True
    assert [(c["author"], c["subject"]) for c in merge["via"]] == [("Bob Ray", "Hand MQL to Bob")]
    raised = data["entries"][3]
    assert raised["commit"]["body"] == "Agreed in the November revenue review."
    assert raised["commit"]["date"] == "2026-01-03T10:00:00+01:00"
    target = raised["fields"][0]
    assert (target["old"]["value"], target["new"]["value"], target["percent"]) == (
        100,
        120,
        "+20.0%",
    )


def test_changelog_of_a_removed_kpi(tmp_path: Path, run: Run) -> None:
    repo = history(tmp_path)
    repo.git("rm", "-q", f"{REG}/kpis/mql.yaml")
    repo.commit("Retire MQL")
    result = run("changelog", "mql", "--registry", REG, cwd=repo.path)
    assert result.out.startswith("KPI mql: MQLs (removed)\n")
    assert "Retire MQL\n    * removed from the registry\n" in result.out


def test_changelog_up_to_a_ref(tmp_path: Path, run: Run) -> None:
    repo = history(tmp_path)
    result = run(
        "changelog", "mql", "--registry", REG, "--rev", "HEAD~2", "-f", "json", cwd=repo.path
    )
    subjects = [e["commit"]["subject"] for e in json.loads(result.out)["entries"]]
    assert subjects == ["Raise the Q4 MQL target", "Add the MQL KPI"]


def test_unknown_kpi(tmp_path: Path, run: Run) -> None:
    repo = history(tmp_path)
    result = run("changelog", "nope", "--registry", REG, cwd=repo.path)
    assert result.code == 2
    assert result.err == (
        "kpictl: no KPI 'nope' in the history of registry: check the id (`kpictl map` lists them)\n"
    )
    # An id that exists, but is not a KPI, is not a KPI's history either.
    assert run("changelog", "ann", "--registry", REG, cwd=repo.path).code == 2


def test_changelog_bad_input(tmp_path: Path, run: Run) -> None:
    repo = Repo.init(tmp_path / "repo")
    write_registry(repo.path / REG, BASE)
    result = run("changelog", "mql", "--registry", REG, cwd=repo.path)
    assert (result.code, "no commits yet" in result.err) == (2, True)
    repo.commit("Registry")
    result = run("changelog", "mql", "--registry", REG, "--rev", "nope", cwd=repo.path)
    assert (result.code, "unknown revision 'nope'" in result.err) == (2, True)

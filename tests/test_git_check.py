"""`kpictl check --changed-since REF` and `--base REF` (T003, O005) on real git repositories.

Each test builds a repository in tmp_path (the small clean registry of tests.helpers
in `registry/`), commits, changes it the way a pull request would, and runs the
command in-process from the repository's top folder.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import AS_OF, Result, Run
from tests.gitrepo import Repo, git_env, requires_git  # noqa: F401 - git_env is a fixture
from tests.helpers import BASE, SECOND_KPI, patched, write_registry

pytestmark = [requires_git, pytest.mark.usefixtures("git_env")]

REG = "registry"


def make_repo(tmp_path: Path, *patches: tuple[str, str | None, str]) -> Repo:
    """A repository whose first commit holds BASE (plus patches) in registry/."""
    repo = Repo.init(tmp_path / "repo")
    write_registry(repo.path / REG, patched(*patches))
    repo.commit("Add the registry")
    return repo


def lines(out: str) -> list[str]:
    """The finding lines of a text report, without the summary."""
    return [line for line in out.splitlines() if ":" in line and "[" in line]


def codes(out: str) -> list[tuple[str, str]]:
    """(path, code) of each finding line."""
    found = []
    for line in lines(out):
        where, rest = line.split(": ", 1)
        found.append((where.rsplit(":", 2)[0], rest.split()[0]))
    return found


# --------------------------------------------------------------------------------------
# --changed-since
# --------------------------------------------------------------------------------------


def test_changed_since_reports_only_changed_files(tmp_path: Path, run: Run) -> None:
    # sql.yaml has no current target (T001) before the change: not the change's fault.
    repo = make_repo(tmp_path, ("sql.yaml", None, SECOND_KPI.replace("2026-Q4", "2027-Q4")))
    repo.replace(f"{REG}/kpi.yaml", "backup: bob", "backup: ann")  # O001, unstaged
    full = run("check", REG, "--as-of", AS_OF, "--fail-on", "info", cwd=repo.path)
    assert codes(full.out) == [
        ("registry/kpi.yaml", "O001"),
        ("registry/sql.yaml", "T001"),
    ]
    result = run("check", REG, "--changed-since", "HEAD", "--as-of", AS_OF, cwd=repo.path)
    assert codes(result.out) == [("registry/kpi.yaml", "O001")]
    assert result.code == 1
    assert "1 registry file changed" in result.err
    assert "1 finding in unchanged files was already there at HEAD" in result.err


def test_changed_since_reports_what_the_change_caused_elsewhere(tmp_path: Path, run: Run) -> None:
    repo = make_repo(tmp_path)
    # Bob leaves: people.yaml changes, but the KPI and the campaign still name him.
    people = (repo.path / REG / "people.yaml").read_text(encoding="utf-8")
    repo.write(f"{REG}/people.yaml", people.split("---")[0])
    repo.commit("Bob left")
    result = run("check", REG, "--changed-since", "HEAD~1", "--as-of", AS_OF, cwd=repo.path)
    assert codes(result.out) == [
        ("registry/campaign.yaml", "R002"),  # daci.approver
        ("registry/campaign.yaml", "R002"),  # sign_off by
        ("registry/kpi.yaml", "R002"),  # owners.backup
    ]
    assert "bob" in result.out


def test_changed_since_counts_staged_untracked_and_committed(tmp_path: Path, run: Run) -> None:
    repo = make_repo(tmp_path)
    base = repo.head()
    repo.git("checkout", "-q", "-b", "feature")
    repo.replace(f"{REG}/team.yaml", "lead: ann\n", "")  # O003, committed on the branch
    repo.commit("No lead")
    repo.replace(f"{REG}/source.yaml", "refresh: daily", "refresh: weekly")  # L002, staged
    repo.git("add", f"{REG}/source.yaml")
    repo.write(f"{REG}/extra.yaml", "kind: team\nid: ops\nname: Ops\nfunction: nope\n")  # S001
    result = run("check", REG, "--changed-since", base, "--as-of", AS_OF, cwd=repo.path)
    assert sorted(codes(result.out)) == [
        ("registry/extra.yaml", "S001"),
        ("registry/kpi.yaml", "L002"),  # caused by the source change
        ("registry/team.yaml", "O003"),
    ]
    assert "3 registry files changed" in result.err


def test_changed_since_follows_renamed_files(tmp_path: Path, run: Run) -> None:
    repo = make_repo(tmp_path)
    repo.git("mv", f"{REG}/kpi.yaml", f"{REG}/kpis-mql.yaml")
    repo.replace(f"{REG}/kpis-mql.yaml", "backup: bob", "backup: ann")
    repo.commit("Move the KPI")
    result = run("check", REG, "--changed-since", "HEAD~1", "--as-of", AS_OF, cwd=repo.path)
    assert codes(result.out) == [("registry/kpis-mql.yaml", "O001")]


def test_changed_since_from_inside_the_registry_at_the_repository_top(
    tmp_path: Path, run: Run
) -> None:
    repo = Repo.init(tmp_path / "repo")
    write_registry(repo.path, BASE)  # the registry is the repository
    repo.commit("Registry")
    repo.replace("kpi.yaml", "backup: bob", "backup: ann")
    result = run("check", "--changed-since", "HEAD", "--as-of", AS_OF, cwd=repo.path)
    assert codes(result.out) == [("kpi.yaml", "O001")]


def test_changed_since_with_nothing_changed(tmp_path: Path, run: Run) -> None:
    repo = make_repo(tmp_path)
    result = run("check", REG, "--changed-since", "HEAD", "--as-of", AS_OF, cwd=repo.path)
    assert (result.code, result.out) == (0, "No findings in 8 files.\n")
    assert "0 registry files changed" in result.err


def test_changed_since_json_keeps_its_shape(tmp_path: Path, run: Run) -> None:
    import json

    repo = make_repo(tmp_path)
    repo.replace(f"{REG}/kpi.yaml", "backup: bob", "backup: ann")
    result = run(
        "check",
        REG,
        "--changed-since",
        "HEAD",
        "--format",
        "json",
        "--as-of",
        AS_OF,
        cwd=repo.path,
    )
    data = json.loads(result.out)
    assert [(item["code"], item["path"], item["line"]) for item in data] == [
        ("O001", "registry/kpi.yaml", 14)
    ]


# --------------------------------------------------------------------------------------
# --base: T003 target-change-without-approval, O005 owner-change-without-approval
# --------------------------------------------------------------------------------------

# Ann reports to Carl; the policy's tier 1 approver is $owner (Ann herself), tier 2's
# is Dana by name. Targets: 2026-Q4 100 (line 21), 2027-Q1 120 (line 23).
ORG = (
    ("people.yaml", "team: demand-gen\n---", "team: demand-gen\nmanager: carl\n---"),
    (
        "people2.yaml",
        None,
        "kind: person\nid: carl\nname: Carl Doe\nemail: carl@acme.example\nteam: demand-gen\n"
        "---\nkind: person\nid: dana\nname: Dana Whit\nemail: dana@acme.example\n"
        "team: demand-gen\n---\nkind: person\nid: eve\nname: Eve Park\n"
        "email: eve@acme.example\nteam: demand-gen\nmanager: dana\n",
    ),
    (
        "policy.yaml",
        "    approver: $owner\n",
        "    approver: $owner\n  - level: 2\n    name: Leadership\n    deviation_pct: 20\n"
        "    respond_within: 3d\n    notify: [$owner.manager]\n    approver: dana\n",
    ),
    ("kpi.yaml", "    value: 100\n", "    value: 100\n  - period: 2027-Q1\n    value: 120\n"),
)


def base_case(tmp_path: Path, run: Run, old: str, new: str, rel: str = "kpi.yaml") -> Result:
    repo = make_repo(tmp_path, *ORG)
    repo.replace(f"{REG}/{rel}", old, new)
    return run("check", REG, "--base", "HEAD", "--as-of", AS_OF, cwd=repo.path)


TARGET_CASES = [
    pytest.param(
        "    value: 120\n",
        "    value: 150\n",
        [("registry/kpi.yaml", 23, "T003")],
        "the 2027-Q1 target changed from 120 to 150 (+25.0%) without rationale and approved_by",
        id="value-changed-without-approval",
    ),
    pytest.param(
        "    value: 120\n",
        "    value: 150\n    rationale: Webinar series added\n",
        [("registry/kpi.yaml", 23, "T003")],
        "without approved_by: name who approved it (who may approve: the owner's manager "
        "(carl) or an approver in escalation policy standard (dana))",
        id="rationale-only",
    ),
    pytest.param(
        "    value: 120\n",
        "    value: 150\n    rationale: Webinars\n    approved_by: carl\n",
        [],
        None,
        id="approved-by-manager",
    ),
    pytest.param(
        "    value: 120\n",
        "    value: 90\n    rationale: Budget cut\n    approved_by: dana\n",
        [],
        None,
        id="approved-by-policy-approver",
    ),
    pytest.param(
        "    value: 120\n",
        "    value: 150\n    rationale: Webinars\n    approved_by: ann\n",
        [("registry/kpi.yaml", 23, "T003")],
        "but approved_by: ann may not approve it",
        id="owner-cannot-approve-own-target",
    ),
    pytest.param(
        "    value: 120\n",
        "    value: 150\n    rationale: Webinars\n    approved_by: eve\n",
        [("registry/kpi.yaml", 23, "T003")],
        "but approved_by: eve may not approve it",
        id="approved-by-someone-else",
    ),
    pytest.param(
        "  - period: 2027-Q1\n",
        "  - period: 2027-Q2\n",
        [("registry/kpi.yaml", 23, "T003")],
        "the 2027-Q2 target of 120 is new without rationale and approved_by",
        id="period-changed",
    ),
    pytest.param(
        "    value: 120\n",
        "    value: 120\n  - period: 2027-Q2\n    value: 130\n",
        [("registry/kpi.yaml", 25, "T003")],
        "the 2027-Q2 target of 130 is new",
        id="target-added",
    ),
    pytest.param(
        "  - period: 2027-Q1\n    value: 120\n",
        "",
        [],
        None,
        id="target-removed-is-for-the-diff",
    ),
    pytest.param(
        "    value: 120\n",
        "    value: 120\n    rationale: Reworded only\n",
        [],
        None,
        id="same-value-no-change",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected", "message"), TARGET_CASES)
def test_target_changes_need_approval(
    tmp_path: Path, run: Run, old: str, new: str, expected: list[tuple[str, int, str]], message: str
) -> None:
    result = base_case(tmp_path, run, old, new)
    found = []
    for line in lines(result.out):
        where, rest = line.split(": ", 1)
        path, line_no, _ = where.rsplit(":", 2)
        found.append((path, int(line_no), rest.split()[0]))
    assert found == expected, result.out
    if message:
        assert message in result.out
    assert result.code == (1 if expected else 0)


def test_new_kpi_targets_are_not_t003(tmp_path: Path, run: Run) -> None:
    repo = make_repo(tmp_path, *ORG)
    repo.write(f"{REG}/sql.yaml", SECOND_KPI)
    result = run("check", REG, "--base", "HEAD", "--as-of", AS_OF, cwd=repo.path)
    assert (result.code, result.out) == (0, "No findings in 10 files.\n")


def test_without_base_there_is_no_t003(tmp_path: Path, run: Run) -> None:
    repo = make_repo(tmp_path, *ORG)
    repo.replace(f"{REG}/kpi.yaml", "    value: 120\n", "    value: 150\n")
    result = run("check", REG, "--as-of", AS_OF, cwd=repo.path)
    assert result.code == 0


def test_decision_rights_come_from_the_base(tmp_path: Path, run: Run) -> None:
    # The same pull request makes Eve an approver and has her approve: not valid.
    repo = make_repo(tmp_path, *ORG)
    repo.replace(f"{REG}/policy.yaml", "approver: dana", "approver: eve")
    repo.replace(
        f"{REG}/kpi.yaml",
        "    value: 120\n",
        "    value: 150\n    rationale: Webinars\n    approved_by: eve\n",
    )
    result = run("check", REG, "--base", "HEAD", "--as-of", AS_OF, cwd=repo.path)
    assert "approved_by: eve may not approve it" in result.out
    assert "(dana)" in result.out


OWNER_CASES = [
    pytest.param(
        "  primary: ann\n",
        "  primary: eve\n",
        [("registry/kpi.yaml", 13, "O005")],
        "the primary owner changed from ann to eve without owners.rationale and "
        "owners.approved_by: say why, and name who approved it (who may approve: the "
        "old or the new owner's manager (carl, dana))",
        id="owner-changed-without-approval",
    ),
    pytest.param(
        "  primary: ann\n",
        "  primary: eve\n  rationale: Ann moves to events\n  approved_by: carl\n",
        [],
        None,
        id="approved-by-old-owners-manager",
    ),
    pytest.param(
        "  primary: ann\n",
        "  primary: eve\n  rationale: Ann moves to events\n  approved_by: ann\n",
        [("registry/kpi.yaml", 13, "O005")],
        "but owners.approved_by: ann may not approve it",
        id="old-owner-cannot-approve",
    ),
    pytest.param(
        "  backup: bob\n", "  backup: eve\n", [], None, id="backup-change-is-for-the-diff"
    ),
]


@pytest.mark.parametrize(("old", "new", "expected", "message"), OWNER_CASES)
def test_owner_changes_need_approval(
    tmp_path: Path, run: Run, old: str, new: str, expected: list[tuple[str, int, str]], message: str
) -> None:
    result = base_case(tmp_path, run, old, new)
    found = []
    for line in lines(result.out):
        where, rest = line.split(": ", 1)
        path, line_no, _ = where.rsplit(":", 2)
        found.append((path, int(line_no), rest.split()[0]))
    assert found == expected, result.out
    if message:
        assert message in result.out


def test_base_and_changed_since_together(tmp_path: Path, run: Run) -> None:
    repo = make_repo(tmp_path, *ORG, ("sql.yaml", None, SECOND_KPI.replace("2026-Q4", "2027-Q4")))
    repo.git("checkout", "-q", "-b", "feature")
    repo.replace(f"{REG}/kpi.yaml", "    value: 120\n", "    value: 150\n")
    repo.commit("Raise Q1")
    result = run(
        "check",
        REG,
        "--base",
        "main",
        "--changed-since",
        "main",
        "--as-of",
        AS_OF,
        cwd=repo.path,
    )
    assert codes(result.out) == [("registry/kpi.yaml", "T003")]
    assert "already there at main" in result.err  # the T001 in sql.yaml


def test_base_without_a_registry_there(tmp_path: Path, run: Run) -> None:
    repo = Repo.init(tmp_path / "repo")
    repo.write("README.md", "A repository before its registry.\n")
    repo.commit("Start")
    write_registry(repo.path / REG, BASE)
    result = run(
        "check", REG, "--base", "HEAD", "--changed-since", "HEAD", "--as-of", AS_OF, cwd=repo.path
    )
    assert (result.code, result.out) == (0, "No findings in 8 files.\n")


# --------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------


def test_unknown_ref(tmp_path: Path, run: Run) -> None:
    repo = make_repo(tmp_path)
    result = run("check", REG, "--changed-since", "no-such-branch", cwd=repo.path)
    assert result.code == 2
    assert result.err.startswith(
        "kpictl: unknown --changed-since ref 'no-such-branch': no branch, tag or commit"
    )
    result = run("check", REG, "--base", "--oops", cwd=repo.path)
    assert result.code == 2
    assert "'--oops' is not a git ref" in result.err


def test_not_a_git_repository(tmp_path: Path, run: Run) -> None:
    write_registry(tmp_path / "plain", BASE)
    result = run("check", str(tmp_path / "plain"), "--changed-since", "HEAD")
    assert result.code == 2
    assert "is not in a git repository" in result.err


def test_shallow_clone_without_the_base(tmp_path: Path, run: Run) -> None:
    repo = make_repo(tmp_path)
    first = repo.head()
    repo.replace(f"{REG}/kpi.yaml", "value: 100", "value: 110")
    repo.commit("Second")
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{repo.path}", str(clone)], check=True
    )
    result = run("check", REG, "--changed-since", first, cwd=clone)
    assert result.code == 2
    assert "shallow" in result.err
    assert "git fetch --deepen" in result.err
    assert "fetch-depth: 0" in result.err


def test_git_not_installed(tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    result = run("check", REG, "--changed-since", "HEAD", cwd=repo.path)
    assert result.code == 2
    assert "git is not installed" in result.err

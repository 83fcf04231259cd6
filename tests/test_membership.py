"""Which files belong to a registry: one answer (registry.membership) on disk, in git, in fmt.

The table gives `exclude` patterns, a path and whether the file is read. Each row is
asked of every place that lists registry files: the disk walk (`check`), the registry
at a commit (`--base`, `--changed-since`), both sides of `diff`, and `fmt`; they
must all agree with the table. A second test holds the same table against pathspec's
`GitIgnoreSpec`, the well-kept .gitignore matcher: the rows where the documented
semantics deliberately differ from .gitignore say why.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pathspec import GitIgnoreSpec

from kpictl.authoring.fmt import collect
from kpictl.history.changelog import build_changelog
from kpictl.history.diff import Version
from kpictl.history.revisions import TrackedRegistry
from kpictl.registry.membership import ROOT_FILE, YAML_SUFFIXES, Members
from kpictl.registry.registry import Registry, load_registry
from tests.conftest import AS_OF, write_registry
from tests.gitrepo import Repo, git_env, requires_git  # noqa: F401 - git_env is a fixture
from tests.helpers import BASE, patched

# (exclude, path, read?, why .gitignore says otherwise or None)
TABLE: list[tuple[list[str], str, bool, str | None]] = [
    ([], "kpis/mql.yaml", True, None),
    ([], "kpis/mql.yml", True, None),
    ([], "kpis/notes.txt", False, None),
    ([], "kpis/mql.YAML", False, None),
    ([], ".github/workflows/check.yaml", False, None),
    ([], ".pre-commit-config.yaml", False, None),
    ([], "kpis/.mql.yaml", False, None),
    ([], "kpis/.old/mql.yaml", False, None),
    ([], ROOT_FILE, True, None),
    (["*.yaml"], ROOT_FILE, True, "kpictl.yaml holds `exclude`: it cannot exclude itself"),
    ([ROOT_FILE], ROOT_FILE, True, "kpictl.yaml holds `exclude`: it cannot exclude itself"),
    ([ROOT_FILE], "sub/kpictl.yaml", False, None),
    ([], "sub/kpictl.yaml", True, None),
    (["drafts/**"], "drafts/a.yaml", False, None),
    (["drafts/**"], "drafts/x/a.yaml", False, None),
    (["drafts/**"], "kpis/drafts.yaml", True, None),
    (["drafts/**"], "drafts-old/a.yaml", True, None),
    (["drafts/**"], "kpis/drafts/a.yaml", False, "`drafts`, `drafts/`, `drafts/**` are one"),
    (["drafts"], "kpis/drafts/a.yaml", False, None),
    (["drafts"], "drafts.yaml", True, None),
    (["drafts/"], "drafts/a.yaml", False, None),
    (["./drafts/"], "drafts/a.yaml", False, "a leading ./ is dropped"),
    (["/drafts"], "drafts/a.yaml", False, None),
    (["/drafts"], "kpis/drafts/a.yaml", False, "a leading / is dropped, not an anchor"),
    (["kpis/*.yaml"], "kpis/a.yaml", False, None),
    (["kpis/*.yaml"], "kpis/x/a.yaml", True, None),
    (["kpis/*.yaml"], "old/kpis/a.yaml", True, None),
    (["kpis/*"], "kpis/sub/a.yaml", False, None),
    (["kpis/**/old.yaml"], "kpis/old.yaml", False, None),
    (["kpis/**/old.yaml"], "kpis/a/b/old.yaml", False, None),
    (["**/old-*.yaml"], "old-a.yaml", False, None),
    (["**/old-*.yaml"], "x/y/old-a.yaml", False, None),
    (["*.draft.yaml"], "kpis/deep/mql.draft.yaml", False, None),
    (["*.draft.yaml"], "kpis/mql.yaml", True, None),
    (["a?.yaml"], "ab.yaml", False, None),
    (["a?.yaml"], "abc.yaml", True, None),
    (["a.b.yaml"], "aXb.yaml", True, None),
    (["*"], "kpis/mql.yaml", False, None),
    (["*"], ROOT_FILE, True, "kpictl.yaml holds `exclude`: it cannot exclude itself"),
    (["drafts", "archive/**"], "archive/2025/q1.yaml", False, None),
    (["drafts", "archive/**"], "kpis/mql.yaml", True, None),
    (["draft[12].yaml"], "draft1.yaml", True, "brackets are literal, not a class"),
    (["*.yaml", "!keep.yaml"], "keep.yaml", False, "no negation: `!` is literal"),
    ([" drafts "], "drafts/a.yaml", False, "spaces around a pattern are dropped"),
    (["#old.yaml"], "#old.yaml", False, "`#` starts no comment"),
]
IDS = [f"{'+'.join(exclude) or '-'}:{path}" for exclude, path, _, _ in TABLE]


def _registry_files(registry: Registry) -> list[str]:
    return sorted(source.path.as_posix() for source in registry.files)


@pytest.mark.parametrize(("exclude", "path", "read"), [row[:3] for row in TABLE], ids=IDS)
def test_members_table(exclude: list[str], path: str, read: bool) -> None:
    assert Members(exclude).belongs(path) is read


@requires_git
@pytest.mark.usefixtures("git_env")
@pytest.mark.parametrize(("exclude", "path", "read"), [row[:3] for row in TABLE], ids=IDS)
def test_disk_walk_git_tree_diff_and_fmt_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exclude: list[str], path: str, read: bool
) -> None:
    repo = Repo.init(tmp_path / "repo")
    root = repo.path
    (root / ROOT_FILE).write_text(f"version: 1\nexclude: {json.dumps(exclude)}\n")
    if path != ROOT_FILE:
        repo.write(path, "kind: glossary_term\nid: t\n")
    commit = repo.commit("Registry")
    expected = [ROOT_FILE, path] if read and path != ROOT_FILE else [ROOT_FILE]
    monkeypatch.chdir(root)
    tracked = TrackedRegistry.locate(root)

    on_disk = load_registry(root, cwd=root)[0]
    assert _registry_files(on_disk) == sorted(expected)
    at_commit = tracked.registry_at(commit)
    assert at_commit is not None
    assert _registry_files(at_commit[0]) == sorted(expected)
    entity_files = sorted(set(expected) - {ROOT_FILE})
    assert sorted(Version(tracked, commit).paths) == entity_files
    assert sorted(Version(tracked, None).paths) == entity_files
    formatted = [shown.as_posix() for _, shown in collect([root], root)]
    assert sorted(formatted) == sorted(expected)


def _hidden(path: str) -> bool:
    return any(part.startswith(".") for part in path.split("/"))


@pytest.mark.parametrize(("exclude", "path", "read", "differs"), TABLE, ids=IDS)
def test_exclude_against_gitignore(
    exclude: list[str], path: str, read: bool, differs: str | None
) -> None:
    """Our globs give .gitignore's answer (pathspec's), except where documented."""
    spec = GitIgnoreSpec.from_lines(exclude)
    gitignore = path.endswith(YAML_SUFFIXES) and not _hidden(path) and not spec.match_file(path)
    assert (read != gitignore) is (differs is not None), differs


def test_folders_are_entered_as_their_files_belong() -> None:
    members = Members(["drafts/**", "kpis/*.old"])
    assert [f for f in ["drafts", "kpis", ".github", "kpis/x.old", "a"] if members.enters(f)] == [
        "kpis",
        "a",
    ]


# --------------------------------------------------------------------------------------
# The copies that disagreed
# --------------------------------------------------------------------------------------

REG = "registry"


@requires_git
@pytest.mark.usefixtures("git_env")
def test_changed_since_counts_only_files_the_registry_reads(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    repo = Repo.init(tmp_path / "repo")
    write_registry(repo.path / REG, patched(), settings='version: 1\nexclude: ["drafts/**"]\n')
    repo.commit("Add the registry")
    repo.replace(f"{REG}/team.yaml", "name: Demand Generation", "name: Demand Gen")
    repo.write(f"{REG}/README.md", "How we keep KPIs.\n")
    repo.write(f"{REG}/drafts/idea.yaml", "kind: team\n")
    repo.write(f"{REG}/.github/workflows/check.yaml", "on: push\n")
    result = run("check", REG, "--changed-since", "HEAD", "--as-of", AS_OF, cwd=repo.path)
    assert result.code == 0, result.out
    assert result.err == (
        "kpictl: --changed-since HEAD: 1 registry file changed; showing the findings in "
        "them and those the change caused elsewhere\n"
    )


@requires_git
@pytest.mark.usefixtures("git_env")
def test_changelog_does_not_read_an_excluded_file_in_the_working_tree(tmp_path: Path) -> None:
    repo = Repo.init(tmp_path / "repo")
    write_registry(repo.path / REG, dict(BASE), settings='version: 1\nexclude: ["drafts/**"]\n')
    repo.commit("Add the registry")
    # Parked in drafts/ (not committed): `check` no longer reads the KPI.
    (repo.path / REG / "drafts").mkdir()
    (repo.path / REG / "kpi.yaml").rename(repo.path / REG / "drafts" / "kpi.yaml")
    log = build_changelog(TrackedRegistry.locate(repo.path / REG), "mql", None, True)
    assert [(e.commit is None, e.change, e.path) for e in log.entries] == [
        (True, "removed", None),
        (False, "created", "registry/kpi.yaml"),
    ]
    assert log.exists is False


@requires_git
@pytest.mark.usefixtures("git_env")
def test_changelog_follows_exclude_changed_in_the_working_tree(tmp_path: Path) -> None:
    repo = Repo.init(tmp_path / "repo")
    write_registry(repo.path / REG, dict(BASE))
    repo.commit("Add the registry")
    (repo.path / REG / ROOT_FILE).write_text('version: 1\nexclude: ["kpi.yaml"]\n')
    log = build_changelog(TrackedRegistry.locate(repo.path / REG), "mql", None, True)
    assert [(e.commit is None, e.change) for e in log.entries] == [
        (True, "removed"),
        (False, "created"),
    ]

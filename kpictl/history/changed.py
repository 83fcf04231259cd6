"""`kpictl check --changed-since REF`: report what a change is responsible for.

The whole registry is loaded and checked (references cross files), then the report
keeps:

1. every finding located in a file changed between REF and the working tree
   (committed, staged, unstaged, or untracked and not ignored by git), and
2. every finding in an unchanged file that the change caused: one the same rule did
   not report at the same place (file, line, column, entity) when the registry is
   checked as it was at REF. Deleting a person still named by a KPI in another file
   is the typical case. Messages are not compared, so a finding whose wording moved
   (a count, a "did you mean") but that was already there is not shown again.

The registry at REF is only built when there is something to decide: when every
finding already lies in a changed file (a clean registry, the usual case), it is
never loaded. When it is, only the files that changed since REF are read from git
and parsed; the others have the same content as now and are reused as parsed for
the current check.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from kpictl.check.check import CheckResult, check_loaded
from kpictl.check.findings import Finding
from kpictl.display import plural
from kpictl.errors import KpictlError
from kpictl.history.revisions import TrackedRegistry
from kpictl.registry.config import ROOT_FILE
from kpictl.registry.membership import Members, exclude_in
from kpictl.registry.registry import Registry, load_registry, registry_from_files

Key = tuple[str, int, str, int, int, str | None]


@dataclass
class ChangedReport:
    """The findings to show, and what was left out."""

    result: CheckResult
    changed_files: list[str]  # repository paths of the registry files that changed
    hidden: int  # findings in unchanged files that were already there at REF


def _key(item: Finding, path: str) -> Key:
    loc = item.location
    return (item.code, int(item.severity), path, loc.line, loc.column, item.entity)


def only_changed(
    result: CheckResult,
    tracked: TrackedRegistry,
    commit: str,
    changed: set[str],
    select: Collection[str] = (),
    ignore: Collection[str] = (),
    base: tuple[Registry, list[Finding]] | None = None,
) -> ChangedReport:
    """Narrow `result` to the findings the changes since `commit` are responsible for.

    `changed` holds the repository paths changed since `commit`. `base` is the
    registry at `commit` with its load findings when the caller has it already (with
    `--base` the same commit); else it is built from git, if needed at all.
    """
    cwd = Path.cwd()
    repo_paths: dict[Path, str | None] = {}

    def repo_path(item: Finding) -> str | None:
        path = item.location.path
        if path not in repo_paths:
            absolute = Path(os.path.abspath(cwd / path))  # noqa: PTH100 - keep symlinks as named
            try:
                repo_paths[path] = tracked.repo.relative(absolute)
            except KpictlError:  # outside the repository: cannot tell, so show it
                repo_paths[path] = None
        return repo_paths[path]

    shown: list[Finding] = []
    others: list[tuple[Finding, str]] = []
    for item in result.findings:
        path = repo_path(item)
        if path is None or path in changed:
            shown.append(item)
        else:
            others.append((item, path))

    hidden = 0
    if others:
        if base is None:
            base = tracked.registry_at_reusing(commit, result.registry, changed, cwd)
        if base is None:
            shown.extend(item for item, _ in others)  # no registry at REF: all of it is new
        else:
            before = check_loaded(base[0], list(base[1]), result.today, select, ignore)
            known = set()
            for item in before.findings:
                path = repo_path(item)
                if path is not None:
                    known.add(_key(item, path))
            for item, path in others:
                if _key(item, path) in known:
                    hidden += 1
                else:
                    shown.append(item)
    shown.sort(key=lambda item: item.sort_key)
    # Counted as `check` reads them: a README or an excluded draft is no registry file.
    root = result.registry.root_document
    members = Members(exclude_in(root.data if root is not None else None))
    in_registry = sorted(
        path
        for path in changed
        if (rel := tracked.registry_path(path)) is not None and members.belongs(rel)
    )
    return ChangedReport(CheckResult(result.registry, shown, result.today), in_registry, hidden)


def check_with_git(
    root: Path,
    today: date | None,
    select: Collection[str],
    ignore: Collection[str],
    base_ref: str | None,
    changed_ref: str | None,
) -> tuple[CheckResult, str | None]:
    """`kpictl check` with --base and/or --changed-since: the result and a note for stderr.

    The registry at the base is built from git reusing every file that did not change
    since (already parsed for the current check), so --base costs about as much as
    the change, not a second check of the whole registry.
    """
    tracked = TrackedRegistry.locate(root)
    repo = tracked.repo
    base_commit = repo.resolve(base_ref, "--base ref") if base_ref else None
    commit = repo.resolve(changed_ref, "--changed-since ref") if changed_ref else None
    changes: dict[str, set[str]] = {}

    def changed_since(ref: str) -> set[str]:
        if ref not in changes:
            changes[ref] = repo.changed_since(ref)
        return changes[ref]

    cwd = Path.cwd()
    registry, findings = load_registry(root, cwd)
    loaded = None
    base: Registry | None = None
    if base_commit is not None:
        loaded = tracked.registry_at_reusing(base_commit, registry, changed_since(base_commit), cwd)
        # No registry at the base: everything is new, and nothing new needs approval.
        base = loaded[0] if loaded is not None else empty_registry(root)
    result = check_loaded(registry, findings, today, select, ignore, base)
    if commit is None or changed_ref is None:
        return result, None
    report = only_changed(
        result,
        tracked,
        commit,
        changed_since(commit),
        select,
        ignore,
        loaded if commit == base_commit else None,
    )
    files = len(report.changed_files)
    note = (
        f"kpictl: --changed-since {changed_ref}: {plural(files, 'registry file')} "
        "changed; showing the findings in them and those the "
        "change caused elsewhere"
    )
    if report.hidden:
        were = "were" if report.hidden != 1 else "was"
        note += (
            f" ({plural(report.hidden, 'finding')} in unchanged "
            f"files {were} already there at {changed_ref}: not shown)"
        )
    return report.result, note


def empty_registry(root: Path) -> Registry:
    """A registry with no entities, standing in for one that did not exist yet."""
    built = registry_from_files(root, Path(), {ROOT_FILE: b"version: 1\n"})
    assert built is not None
    return built[0]

"""The registry at a git commit: where it sits in its repository, and loading it from git.

A registry at a commit is built from the blobs git holds, never from a checkout: one
`git ls-tree` lists the files and one `git cat-file --batch` reads them all. Paths
in its findings are repository paths (`registry/kpis/mql.yaml`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kpictl.check.findings import Finding
from kpictl.history.git import Repository
from kpictl.registry.config import ROOT_FILE
from kpictl.registry.loader import SourceFile
from kpictl.registry.membership import Members
from kpictl.registry.registry import Registry, display_path, load_registry, registry_from_files


@dataclass(frozen=True, slots=True)
class TrackedRegistry:
    """A registry folder inside a git repository."""

    repo: Repository
    root: Path  # the registry folder on disk
    prefix: str  # the same folder as a repository path; '' at the top

    @classmethod
    def locate(cls, root: Path) -> TrackedRegistry:
        repo = Repository.containing(root)
        return cls(repo, root, repo.relative(root))

    def repo_path(self, rel: str) -> str:
        """A path relative to the registry as a repository path."""
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def registry_path(self, repo_path: str) -> str | None:
        """A repository path relative to the registry, or None when outside it."""
        if not self.prefix:
            return repo_path
        head = self.prefix + "/"
        return repo_path[len(head) :] if repo_path.startswith(head) else None

    @property
    def shown_root(self) -> Path:
        return Path(self.prefix) if self.prefix else Path()

    def files_at(self, commit: str) -> dict[str, bytes]:
        """The files at `commit` that may belong to the registry (relative path -> bytes).

        `exclude` is not known before kpictl.yaml is read: `registry_from_files`
        applies it.
        """
        candidates = Members()
        wanted: dict[str, str] = {}
        for path, oid in self.repo.tree(commit, self.prefix):
            rel = self.registry_path(path)
            if rel is not None and candidates.belongs(rel):
                wanted[rel] = oid
        blobs = self.repo.read_blobs(wanted.values())
        return {rel: blobs[oid] for rel, oid in wanted.items() if oid in blobs}

    def registry_at(self, commit: str) -> tuple[Registry, list[Finding]] | None:
        """The registry as it was at `commit`; None when it had no kpictl.yaml there."""
        return registry_from_files(self.root, self.shown_root, self.files_at(commit))

    def working(self) -> tuple[Registry, list[Finding]]:
        """The registry on disk, with repository paths in its findings."""
        root = self.repo.top / self.prefix if self.prefix else self.repo.top
        return load_registry(root, cwd=self.repo.top)

    def registry_at_reusing(
        self, commit: str, current: Registry, changed: set[str], cwd: Path
    ) -> tuple[Registry, list[Finding]] | None:
        """The registry at `commit`, reusing the files of `current` that did not change.

        `changed` holds the repository paths that differ between `commit` and the
        working tree (`Repository.changed_since`); every other file has the same
        content on both sides, so its parsed form is taken from `current` instead of
        parsed again. Paths in findings follow `current` (relative to `cwd`).
        """
        if self.repo_path(ROOT_FILE) in changed:
            return self.registry_at(commit)  # settings differ: `exclude` may select other files
        parsed: dict[str, SourceFile] = {}
        head = os.path.join(os.path.abspath(self.root), "")  # noqa: PTH118, PTH100
        here = str(cwd)
        for source in current.files:
            # Plain strings: thousands of files, and pathlib is slow at this.
            absolute = os.path.abspath(os.path.join(here, source.path))  # noqa: PTH100, PTH118
            if absolute.startswith(head):
                parsed[absolute[len(head) :].replace(os.sep, "/")] = source
        candidates = Members()  # `registry_from_files` applies `exclude`
        contents: dict[str, bytes | SourceFile] = {}
        wanted: dict[str, str] = {}
        for path, oid in self.repo.tree(commit, self.prefix):
            rel = self.registry_path(path)
            if rel is None or not candidates.belongs(rel):
                continue
            if path not in changed and rel in parsed:
                contents[rel] = parsed[rel]
            else:
                wanted[rel] = oid
        blobs = self.repo.read_blobs(wanted.values())
        contents.update({rel: blobs[oid] for rel, oid in wanted.items() if oid in blobs})
        return registry_from_files(self.root, display_path(self.root, cwd), contents)

"""Which files belong to a registry: the one answer for disk, git trees and fmt.

A path relative to the registry (posix) belongs when it is `kpictl.yaml` itself
(which `exclude` cannot take away: it says what to exclude), or when it ends in
.yaml/.yml, no part of it starts with a dot, and no `exclude` glob matches it.
The disk walk, the registry at a commit, `diff`, `changelog`, `--changed-since` and
`fmt` all ask `Members`, so a file is in or out the same way everywhere.

The globs are matched by our own small translation rather than by a gitignore
library: `exclude` is set in nearly every registry, and the well-kept matcher
(pathspec) costs `kpictl check` about 8 ms and 40 modules at start-up, more than
the rest of the file walk. tests/test_membership.py holds our answers against
pathspec's `GitIgnoreSpec` on a table of patterns, including the few places where
the documented semantics deliberately differ from .gitignore.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

# The file that marks a registry and holds its settings (kpictl.registry.config re-exports it).
ROOT_FILE = "kpictl.yaml"
YAML_SUFFIXES = (".yaml", ".yml")


def _compile(patterns: Sequence[str]) -> re.Pattern[str] | None:
    """One regex for `exclude` globs; `**` spans folders, `*` stays within one.

    A pattern that names a folder excludes everything below it, so `drafts`,
    `drafts/` and `drafts/**` all mean the same. As in .gitignore, a pattern
    without a slash matches at any depth (`*.draft.yaml`).
    """
    parts = []
    for raw in patterns:
        pattern = raw.strip().lstrip("./").rstrip("/")
        if pattern.endswith("/**"):
            pattern = pattern[:-3]
        if "/" not in pattern:
            pattern = "**/" + pattern
        regex = []
        i = 0
        while i < len(pattern):
            char = pattern[i]
            if pattern.startswith("**/", i):
                regex.append("(?:.*/)?")
                i += 3
                continue
            if pattern.startswith("**", i):
                regex.append(".*")
                i += 2
                continue
            if char == "*":
                regex.append("[^/]*")
            elif char == "?":
                regex.append("[^/]")
            else:
                regex.append(re.escape(char))
            i += 1
        # Everything below a matched folder is matched too: the walk prunes the folder,
        # and a git tree, which lists only files, must come to the same answer.
        parts.append("".join(regex) + "(?:/.*)?")
    return re.compile("(?:" + "|".join(parts) + r")\Z") if parts else None


class Members:
    """The files of a registry whose kpictl.yaml sets `exclude`."""

    def __init__(self, exclude: Sequence[str] = ()) -> None:
        self._excluded = _compile(exclude)

    def _kept(self, rel: str) -> bool:
        """Neither hidden nor excluded (for a folder: the walk goes into it)."""
        if rel.startswith(".") or "/." in rel:
            return False
        return self._excluded is None or self._excluded.match(rel) is None

    def enters(self, rel_folder: str) -> bool:
        """Whether the files below the folder `rel_folder` may belong."""
        return self._kept(rel_folder)

    def belongs(self, rel: str) -> bool:
        """Whether the file at `rel` (posix, relative to the registry) is read."""
        return rel == ROOT_FILE or (rel.endswith(YAML_SUFFIXES) and self._kept(rel))

    def entity_files(self, rels: Iterable[str]) -> list[str]:
        """The paths among `rels` that belong, other than kpictl.yaml, sorted."""
        return sorted(rel for rel in rels if rel != ROOT_FILE and self.belongs(rel))


def exclude_in(settings: object) -> list[str]:
    """`exclude` from kpictl.yaml's parsed data as written, its non-strings left out.

    Used also when the settings do not validate (the errors are `check`'s business):
    which files are read must not depend on a typo elsewhere in kpictl.yaml.
    """
    exclude = settings.get("exclude") if isinstance(settings, dict) else None
    return [item for item in exclude if isinstance(item, str)] if isinstance(exclude, list) else []


def exclude_of(raw: bytes | None) -> list[str]:
    """`exclude` from kpictl.yaml's content (None: there is none, so nothing is excluded)."""
    if raw is None:
        return []
    from kpictl.registry.reading import parse_bytes

    source = parse_bytes(Path(ROOT_FILE), raw)
    return exclude_in(source.documents[0].data if source.documents else None)


def members_of(raw: bytes | None) -> Members:
    """`Members` for the registry whose kpictl.yaml has the content `raw`."""
    return Members(exclude_of(raw))

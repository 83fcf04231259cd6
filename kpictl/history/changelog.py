"""`kpictl changelog KPI_ID`: one KPI's history through git, as a change log.

Git is the change log: every commit that touched the KPI's definition is an entry
with its date, author and message, and the fields it changed (targets old -> new
with the % change, owners, formula and definition with who approved them, escalation
policy, and the rest), the same way `kpictl diff` shows them.

The walk follows the first-parent line of the given revision (the main branch's
history, where changes take effect). A change that arrived through a merge commit is
dated and attributed to the merge, with the branch commits that touched the file
listed under it; with squash or rebase merges each commit is its own entry.

It is cheap on long histories: one `git log` lists the commits that touched the
registry and the files each changed, and one long-running `git cat-file --batch`
reads the KPI's file at the commits that changed it. The KPI is followed across
files: when it leaves its file, the other files that commit changed are searched.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kpictl.errors import KpictlError
from kpictl.fileio import read_regular
from kpictl.history.compare import Entry, FieldChange, compare
from kpictl.history.diff import Parsed, read_working
from kpictl.history.git import BlobReader, Commit, Repository
from kpictl.history.revisions import TrackedRegistry
from kpictl.registry.config import ROOT_FILE
from kpictl.registry.membership import Members, members_of
from kpictl.registry.reading import discover, parse_bytes

CHANGELOG_TEMPLATES = {"text": "changelog/text.txt.j2", "markdown": "changelog/markdown.md.j2"}


@dataclass(slots=True)
class LogEntry:
    commit: Commit | None  # None: uncommitted changes in the working tree
    change: str  # "created" | "changed" | "removed"
    path: str | None  # where the KPI is after this entry (None when removed)
    fields: list[FieldChange] = field(default_factory=list)
    via: list[Commit] = field(default_factory=list)  # for a merge: the commits it brought


@dataclass(slots=True)
class KpiChangelog:
    kpi: str
    name: str | None
    registry: str
    rev: str  # what was walked, as the user named it
    commits_walked: int
    entries: list[LogEntry]  # newest first
    exists: bool  # the KPI is in the registry at the end of the walk


class _Walker:
    """Finds the KPI at a commit, reading each file version once."""

    def __init__(
        self, tracked: TrackedRegistry, kpi_id: str, reader: BlobReader, kind: str = "kpi"
    ) -> None:
        self.tracked = tracked
        self.kpi_id = kpi_id
        self.kind = kind  # a KPI, or the glossary term that defines it
        self.needle = kpi_id.encode()
        self.reader = reader
        self.cache: dict[str, Entry | None] = {}  # blob id -> the KPI in it, if any

    def entry_in(self, oid: str, raw: bytes, rel: str) -> Entry | None:
        if oid not in self.cache:
            found = None
            if self.needle in raw:
                parsed = Parsed()
                parsed.add(parse_bytes(Path(self.tracked.repo_path(rel)), raw))
                candidate = parsed.entries.get(self.kpi_id)
                found = candidate if candidate is not None and candidate.kind == self.kind else None
            self.cache[oid] = found
        cached = self.cache[oid]
        path = self.tracked.repo_path(rel)
        # The same content may sit under another name (a moved file): say where it is now.
        return replace(cached, path=path) if cached is not None and cached.path != path else cached

    def find(self, commit: str, rels: list[str]) -> Entry | None:
        for rel in rels:
            got = self.reader.read(commit, self.tracked.repo_path(rel))
            if got is not None:
                entry = self.entry_in(got[0], got[1], rel)
                if entry is not None:
                    return entry
        return None


def _members_at(reader: BlobReader, tracked: TrackedRegistry, commit: str) -> Members:
    got = reader.read(commit, tracked.repo_path(ROOT_FILE))
    return members_of(got[1] if got else None)


def build_changelog(
    tracked: TrackedRegistry, kpi_id: str, rev: str | None, include_working_tree: bool
) -> KpiChangelog:
    """The KPI's history up to `rev` (default HEAD), newest first."""
    repo = tracked.repo
    commit = repo.resolve(rev or "HEAD", "revision") if (rev or repo.head()) else None
    if commit is None:
        raise KpictlError("this repository has no commits yet: there is no history to show")
    commits = repo.commits(commit, tracked.prefix)
    entries: list[LogEntry] = []
    current: Entry | None = None
    last_seen: Entry | None = None  # for the KPI's name, even once it was removed
    # The KPI after each commit that may have changed it: which term defines it, where.
    states: list[tuple[int, Entry | None]] = []
    with BlobReader(repo) as reader:
        walker = _Walker(tracked, kpi_id, reader)
        for index, item, before, found in _walk(tracked, commits, walker, reader):
            entry = _entry(item, before, found)
            if entry is not None:
                _add_via(repo, entry, item, (before, found))
                entries.append(entry)
            current = found
            last_seen = found or last_seen
            states.append((index, found))
        entries = _with_term_changes(tracked, commits, reader, states, entries)
        if include_working_tree and rev is None:
            pending = _working_tree_entry(tracked, walker, commit, current)
            if pending is not None:
                entries.append(pending[0])
                current = pending[1]
                last_seen = current or last_seen
    if not entries:
        raise KpictlError(
            f"no KPI '{kpi_id}' in the history of {tracked.prefix or 'the registry'}"
            f"{f' up to {rev}' if rev else ''}: check the id (`kpictl map` lists them)"
        )
    name = last_seen.name if last_seen is not None else None
    entries.reverse()
    return KpiChangelog(
        kpi_id,
        name,
        tracked.prefix or ".",
        rev or "HEAD",
        len(commits),
        entries,
        current is not None,
    )


def _walk(
    tracked: TrackedRegistry, commits: list[Commit], walker: _Walker, reader: BlobReader
) -> Iterator[tuple[int, Commit, Entry | None, Entry | None]]:
    """(index, commit, entity before, entity after) for each commit that may have changed
    the walker's entity: one that changed its file, or the registry's settings."""
    repo = tracked.repo
    current: Entry | None = None
    members = Members()
    for index, item in enumerate(commits):
        rels = [r for r in (tracked.registry_path(p) for p in item.files) if r is not None]
        settings_changed = ROOT_FILE in rels
        if settings_changed:
            members = _members_at(reader, tracked, item.sha)
        changed = members.entity_files(rels)
        location = _registry_rel(tracked, current)
        if location is not None and location not in changed and not settings_changed:
            continue  # its file did not change: neither did the entity
        if settings_changed:  # `exclude` may have moved files in or out: look everywhere
            everywhere = members.entity_files(
                rel
                for rel in (
                    tracked.registry_path(p) for p, _ in repo.tree(item.sha, tracked.prefix)
                )
                if rel is not None
            )
            candidates = _first(location, everywhere)
        else:
            candidates = _first(location, changed)
        found = walker.find(item.sha, candidates)
        yield index, item, current, found
        current = found


def _add_via(
    repo: Repository, entry: LogEntry, item: Commit, sides: tuple[Entry | None, ...]
) -> None:
    """For a merge: the branch commits that touched the entity's file."""
    if len(item.parents) > 1:
        for path in sorted({e.path for e in sides if e is not None}):
            entry.via.extend(c for c in repo.branch_commits(item, path) if c not in entry.via)


def _term_of(kpi: Entry | None) -> str | None:
    term = kpi.data.get("definition") if kpi is not None else None
    return term if isinstance(term, str) else None


def _with_term_changes(
    tracked: TrackedRegistry,
    commits: list[Commit],
    reader: BlobReader,
    states: list[tuple[int, Entry | None]],
    entries: list[LogEntry],
) -> list[LogEntry]:
    """`entries` plus the changes to the words of the glossary term the KPI pointed at:
    a new definition changes what the KPI counts as much as a new formula does.

    A term's change is shown while the KPI points at it (after that commit), as
    `term.definition` / `term.agreed_by` fields labelled with the term's id.
    """
    by_commit = {entry.commit.sha: entry for entry in entries if entry.commit is not None}
    order = {item.sha: index for index, item in enumerate(commits)}
    for term_id in sorted({t for _, kpi in states if (t := _term_of(kpi)) is not None}):
        walker = _Walker(tracked, term_id, reader, kind="glossary_term")
        for index, item, before, after in _walk(tracked, commits, walker, reader):
            kpi = next((k for at, k in reversed(states) if at <= index), None)
            if before is None or after is None or _term_of(kpi) != term_id:
                continue
            fields = [
                replace(
                    change,
                    field=f"term.{change.field}",
                    label=f"{change.label} ({term_id})",
                )
                for change in compare(before, after)
                if change.category == "definition"
            ]
            if not fields:
                continue
            entry = by_commit.get(item.sha)
            if entry is None:
                entry = LogEntry(item, "changed", kpi.path if kpi is not None else None)
                _add_via(tracked.repo, entry, item, (before, after))
                by_commit[item.sha] = entry
                entries.append(entry)
            entry.fields.extend(fields)
    entries.sort(key=lambda e: order[e.commit.sha] if e.commit is not None else len(order))
    return entries


def _registry_rel(tracked: TrackedRegistry, entry: Entry | None) -> str | None:
    return tracked.registry_path(entry.path) if entry is not None else None


def _first(location: str | None, paths: list[str]) -> list[str]:
    """`paths` with the KPI's known file first: it is almost always still there."""
    if location is not None and location in paths:
        return [location, *(p for p in paths if p != location)]
    return paths


def _entry(commit: Commit | None, before: Entry | None, after: Entry | None) -> LogEntry | None:
    if before is None and after is None:
        return None
    if before is None:
        assert after is not None
        return LogEntry(commit, "created", after.path, _created_fields(after))
    if after is None:
        return LogEntry(commit, "removed", None)
    fields = compare(before, after)
    return LogEntry(commit, "changed", after.path, fields) if fields else None


def _created_fields(entry: Entry) -> list[FieldChange]:
    """What a new KPI starts with that a change log reader cares about."""
    empty = Entry(entry.id, entry.kind, entry.path, entry.line, {"kind": entry.kind})
    keep = ("owners.primary", "owners.backup", "escalation", "formula", "definition")
    return [
        change
        for change in compare(empty, entry)
        if change.field in keep or change.category == "target"
    ]


def _working_tree_entry(
    tracked: TrackedRegistry, walker: _Walker, head: str, current: Entry | None
) -> tuple[LogEntry, Entry | None] | None:
    """Uncommitted changes to the KPI, as an entry without a commit."""
    changed = tracked.repo.changed_since(head)
    rels = [r for r in (tracked.registry_path(p) for p in changed) if r is not None]
    location = _registry_rel(tracked, current)
    settings_changed = ROOT_FILE in rels
    if location is not None and location not in rels and not settings_changed:
        return None
    # The working tree's own kpictl.yaml says which files are read, as `check` does.
    members = members_of(read_working(tracked.root / ROOT_FILE))
    if settings_changed:  # `exclude` may have moved files in or out: look everywhere
        root_text = str(tracked.root)
        rels = [Path(path).relative_to(root_text).as_posix() for path in discover(tracked.root, [])]
    found = None
    for rel in _first(location, members.entity_files(rels)):
        try:
            # Never through a link (it may point out of the registry) nor from a FIFO.
            raw = read_regular(tracked.root / rel)
        except OSError:
            continue
        parsed = Parsed()
        parsed.add(parse_bytes(Path(tracked.repo_path(rel)), raw))
        candidate = parsed.entries.get(walker.kpi_id)
        if candidate is not None and candidate.kind == "kpi":
            found = candidate
            break
    entry = _entry(None, current, found)
    return (entry, found) if entry is not None else None


# --------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------


def _commit_data(commit: Commit | None) -> dict[str, Any] | None:
    if commit is None:
        return None
    return {
        "sha": commit.sha,
        "short": commit.short,
        "author": commit.author,
        "email": commit.email,
        "date": commit.date,
        "day": commit.date[:10],
        "subject": commit.subject,
        "body": commit.body,
        "merge": len(commit.parents) > 1,
    }


def changelog_data(log: KpiChangelog) -> dict[str, Any]:
    """The change log as plain data (the JSON document)."""
    from kpictl.history.diff_output import _field

    return {
        "version": 1,
        "kpi": log.kpi,
        "name": log.name,
        "registry": log.registry,
        "rev": log.rev,
        "exists": log.exists,
        "commits_walked": log.commits_walked,
        "entries": [
            {
                "commit": _commit_data(entry.commit),
                "change": entry.change,
                "path": entry.path,
                "fields": [_field(change) for change in entry.fields],
                "via": [_commit_data(commit) for commit in entry.via],
            }
            for entry in log.entries
        ],
    }


def render_changelog(log: KpiChangelog, output_format: str, env: Any) -> str:
    from kpictl.templating.escaping import json_text

    data = changelog_data(log)
    if output_format == "json":
        return json_text(data, indent=2) + "\n"
    from kpictl.templating.render import render

    return render(env, CHANGELOG_TEMPLATES[output_format], log=data)

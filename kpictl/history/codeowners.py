"""`kpictl codeowners`: a CODEOWNERS block so the owners of a KPI review changes to it.

Each file that defines a KPI, a data source, a campaign or a glossary term gets a
line naming its owners by their code-host handle (`github:` on the person):

- KPI: primary and backup owner
- data source: owner
- campaign: DACI driver and approver
- glossary term: owner

A team named as an owner means its lead. People who are inactive are left out
(they cannot review), and so are people without a `github:` handle; both are
listed in a comment at the top of the block and reported as warnings.

The generated lines sit between two marker comments. Running the command again
replaces what is between them and keeps everything else in the file, so a
hand-written CODEOWNERS (catch-all owners, other folders) can hold the block; a
file without the markers gets the block appended at its end, where it takes
precedence over earlier, broader patterns.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from kpictl.display import clean, plural
from kpictl.registry.models import Campaign, DataSource, Entity, GlossaryTerm, Kpi, Person
from kpictl.registry.registry import Registry
from kpictl.registry.resolve import resolve
from kpictl.templating.escaping import visible

BEGIN = "# BEGIN kpictl codeowners"
END = "# END kpictl codeowners"
DEFAULT_PATH = Path(".github/CODEOWNERS")


@dataclass
class Codeowners:
    """The block for a registry, and who could not be named in it."""

    lines: list[str]
    files: int  # files with at least one owner named
    without_handle: list[Person] = field(default_factory=list)
    inactive: list[Person] = field(default_factory=list)
    unowned: list[str] = field(default_factory=list)  # files whose owners have no handle
    # Files whose names CODEOWNERS cannot hold (see `listable`).
    unlisted: list[str] = field(default_factory=list)

    @property
    def block(self) -> str:
        return "\n".join(self.lines) + "\n"

    def warnings(self) -> list[str]:
        found = []
        if self.without_handle:
            n = len(self.without_handle)
            names = _some([person.id for person in self.without_handle])
            found.append(
                f"{plural(n, 'owner')} without a github handle, left out of "
                f"CODEOWNERS: {names} (add `github: <handle>` to their person entry)"
            )
        if self.inactive:
            n = len(self.inactive)
            names = _some([person.id for person in self.inactive])
            found.append(f"{plural(n, 'inactive owner')} left out: {names}")
        if self.unowned:
            n = len(self.unowned)
            found.append(f"{plural(n, 'file')} with no owner who can review: {_some(self.unowned)}")
        if self.unlisted:
            n = len(self.unlisted)
            names = _some([visible(path) for path in self.unlisted])
            found.append(
                f"{plural(n, 'file')} left out of CODEOWNERS because the name holds a control "
                f"character or one of {' '.join(UNLISTABLE)}: {names} (rename the file)"
            )
        return found


def _some(items: list[str], limit: int = 5) -> str:
    """The first few items, and how many more (the full list is in the file)."""
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"


def owners_of(registry: Registry, entity: Entity) -> list[str]:
    """Person or team ids that own `entity`, in the order they matter."""
    if isinstance(entity, Kpi):
        return [entity.owners.primary, entity.owners.backup]
    if isinstance(entity, DataSource):
        return [entity.owner]
    if isinstance(entity, Campaign):
        return [entity.daci.driver, entity.daci.approver]
    if isinstance(entity, GlossaryTerm):
        return [entity.owner]
    return []


# Characters a CODEOWNERS pattern reads as syntax, not as part of a name: `*` and `?`
# match other files (`kpis/*.yaml` would hand every KPI to whoever added that file),
# GitHub rejects `[ ]` ranges and `!` negation (the whole file "contains errors"), and
# does not document `\` escapes for them, so such a name cannot be written safely.
UNLISTABLE = ("*", "?", "[", "]", "!", "\\")


def listable(path: str) -> bool:
    """Whether a CODEOWNERS pattern can name this one file and no other.

    Not with a control character (a newline would start a rule of its own), a byte
    that is not UTF-8, or a character of `UNLISTABLE`.
    """
    return path.isprintable() and not any(char in path for char in UNLISTABLE)


def pattern(path: str) -> str:
    """A `listable` repository path as an anchored CODEOWNERS pattern (spaces and # escaped)."""
    escaped = path.replace(" ", "\\ ")
    escaped = escaped.replace("#", "\\#")
    return "/" + escaped


def build(registry: Registry, registry_folder: str) -> Codeowners:
    """The CODEOWNERS block; `registry.files` paths must be repository paths."""
    rows: list[tuple[str, list[str]]] = []
    without: dict[str, Person] = {}
    inactive: dict[str, Person] = {}
    unowned: list[str] = []
    unlisted: list[str] = []
    for source in registry.files:
        path = source.path.as_posix()
        if not listable(path):
            unlisted.append(path)
            continue
        people: list[Person] = []
        for document in source.documents:
            data = document.data
            entity_id = data.get("id") if isinstance(data, dict) else None
            record = registry.records.get(entity_id) if isinstance(entity_id, str) else None
            if record is None or record.document is not document:
                continue
            for ref in owners_of(registry, record.entity):
                # Inactive owners too: they are listed in a comment, not dropped silently.
                found = resolve(registry, ref)
                people.extend(p for p in (*found.people, *found.left_out) if p not in people)
        if not people:
            continue
        handles: list[str] = []
        for person in people:
            if not person.active:
                inactive.setdefault(person.id, person)
            elif person.github is None:
                without.setdefault(person.id, person)
            elif f"@{person.github}" not in handles:
                handles.append(f"@{person.github}")
        if handles:
            rows.append((pattern(path), handles))
        else:
            unowned.append(path)

    where = f"`{visible(registry_folder)}`" if registry_folder != "." else "the repository root"
    lines = [
        BEGIN,
        f"# Generated by `kpictl codeowners` from the KPI registry in {where}: the owners",
        "# of a KPI, data source, campaign or glossary term review changes to its file.",
        "# Change owners in the registry and run `kpictl codeowners` again; do not edit",
        "# the lines between these markers by hand.",
    ]
    if without:
        lines.append("#")
        lines.append("# Owners without a `github:` handle in the registry (not listed below):")
        lines += [f"#   {p.id} ({clean(p.name)})" for p in sorted(without.values(), key=_id)]
    if inactive:
        lines.append("#")
        lines.append("# Inactive owners (not listed below):")
        lines += [f"#   {p.id} ({clean(p.name)})" for p in sorted(inactive.values(), key=_id)]
    if unowned:
        lines.append("#")
        lines.append("# Files with no owner who can review:")
        lines += [f"#   {pattern(path)}" for path in unowned]
    lines.append("")
    width = max((len(p) for p, _ in rows), default=0)
    lines += [f"{p.ljust(width)} {' '.join(handles)}" for p, handles in rows]
    lines.append(END)
    return Codeowners(
        lines,
        len(rows),
        sorted(without.values(), key=_id),
        sorted(inactive.values(), key=_id),
        unowned,
        unlisted,
    )


def _id(person: Person) -> str:
    return person.id


class MarkerError(ValueError):
    """The CODEOWNERS file's marker comments do not enclose exactly one block."""


def _marked_block(lines: list[str]) -> tuple[int, int] | None:
    """The first and last line index of the one marked block, None when unmarked.

    Anything but one BEGIN followed by one END is refused: replacing from the first
    BEGIN to the last END would delete the hand-written lines between two blocks,
    and an unterminated BEGIN would take every line below it.
    """
    starts = [i for i, line in enumerate(lines) if line.rstrip("\r\n") == BEGIN]
    ends = [i for i, line in enumerate(lines) if line.rstrip("\r\n") == END]
    if not starts and not ends:
        return None
    if len(starts) == 1 and len(ends) == 1 and starts[0] < ends[0]:
        return starts[0], ends[0]
    where = ", ".join(
        f"line {i + 1}: {'BEGIN' if i in starts else 'END'}" for i in sorted(starts + ends)
    )
    if len(starts) > 1 or len(ends) > 1:
        problem = "more than one kpictl block"
    elif not ends:
        problem = f"'{BEGIN}' without '{END}' after it"
    elif not starts:
        problem = f"'{END}' without '{BEGIN}' before it"
    else:
        problem = f"'{END}' before '{BEGIN}'"
    raise MarkerError(
        f"{problem} ({where}); leave exactly one BEGIN/END pair around kpictl's "
        "lines and run again (nothing was changed)"
    )


def merge(existing: str | None, block: str) -> str:
    """The file with `block` in place of the marked one (or appended, or alone).

    Raises MarkerError when the markers do not enclose exactly one block.
    """
    if not existing:
        return block
    lines = existing.splitlines(keepends=True)
    marked = _marked_block(lines)
    if marked is not None:
        start, end = marked
        return "".join(lines[:start]) + block + "".join(lines[end + 1 :])
    text = existing if existing.endswith("\n") else existing + "\n"
    return text + "\n" + block


def unified_diff(path: str, old: str | None, new: str) -> str:
    return "".join(
        difflib.unified_diff(
            (old or "").splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"{path} (on disk)" if old is not None else "/dev/null",
            tofile=f"{path} (from the registry)",
        )
    )

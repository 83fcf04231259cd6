"""`kpictl diff`: what changed in the registry between two commits, entity by entity.

Entities are matched by id. One that disappeared while another of the same kind
appeared with identical content but a new id is a rename. For the rest, the fields
that matter are compared the way people read them (history/compare.py).

The comparison works on the YAML as written (not on validated models), so an entity
that fails `kpictl check` still diffs, and a file that does not parse on one side is
reported as such instead of stopping the diff.

Only files whose content differs between the two sides are parsed (git knows which
without reading them), so diffing two commits of a large registry costs about as
much as the change itself. Files that did not change are read only when an entity
disappeared, to find what still refers to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kpictl.display import clean, plural
from kpictl.errors import KpictlError
from kpictl.history.compare import Entry, FieldChange, compare
from kpictl.history.git import WORKING_TREE
from kpictl.history.revisions import TrackedRegistry
from kpictl.registry.config import ROOT_FILE
from kpictl.registry.loader import SourceFile
from kpictl.registry.membership import members_of
from kpictl.registry.reading import discover, parse_bytes

# Kinds in the order a reviewer cares about them.
KIND_ORDER = (
    "kpi",
    "escalation_policy",
    "campaign",
    "data_source",
    "person",
    "team",
    "glossary_term",
)
KIND_LABELS = {
    "kpi": ("KPI", "KPIs"),
    "escalation_policy": ("escalation policy", "escalation policies"),
    "campaign": ("campaign", "campaigns"),
    "data_source": ("data source", "data sources"),
    "person": ("person", "people"),
    "team": ("team", "teams"),
    "glossary_term": ("glossary term", "glossary terms"),
}
# Findings that mean a file (or a document in it) could not be read as entities.
UNREADABLE_CODES = ("Y001", "Y003", "Y004")


@dataclass(slots=True)
class EntityChange:
    id: str
    kind: str
    change: str  # "added" | "removed" | "renamed" | "changed" | "not_compared"
    name: str | None
    path: str | None
    old_path: str | None = None
    old_id: str | None = None
    fields: list[FieldChange] = field(default_factory=list)
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Breaking:
    code: str  # "removed-still-referenced" | "kpi-meaning-changed" | "definition-changed"
    kind: str
    entity: str
    message: str


@dataclass(frozen=True, slots=True)
class Side:
    ref: str | None  # as the user wrote it (None for the working tree)
    commit: str | None
    label: str  # "main (a1b2c3d)" or "working tree"


@dataclass(slots=True)
class RegistryDiff:
    base: Side
    head: Side
    registry: str  # the registry folder as a repository path ("." at the top)
    entities: list[EntityChange]
    breaking: list[Breaking]
    notes: list[str]
    files_compared: int

    @property
    def empty(self) -> bool:
        return not self.entities

    def count(self, change: str, kind: str | None = None) -> int:
        return sum(
            1
            for item in self.entities
            if item.change == change and (kind is None or item.kind == kind)
        )

    def count_fields(self, category: str) -> int:
        return sum(
            1 for item in self.entities for change in item.fields if change.category == category
        )

    @property
    def owner_changes(self) -> int:
        """KPI owners (primary or backup) handed to someone else."""
        return sum(
            1
            for item in self.entities
            for change in item.fields
            if item.kind == "kpi" and change.field in ("owners.primary", "owners.backup")
        )

    def groups(self) -> list[tuple[str, str, list[EntityChange]]]:
        """(kind, plural label, changes) in KIND_ORDER, then unknown kinds."""
        kinds = [k for k in KIND_ORDER if any(e.kind == k for e in self.entities)]
        kinds += sorted({e.kind for e in self.entities} - set(KIND_ORDER))
        return [
            (kind, kind_label(kind, 2), [e for e in self.entities if e.kind == kind])
            for kind in kinds
        ]

    def summary(self) -> str:
        """One line: what changed, target and owner changes, breaking changes."""
        if self.empty and not self.notes:
            return "No changes to the registry."
        parts = []
        for change in ("changed", "added", "removed", "renamed"):
            by_kind = []
            for kind in (*KIND_ORDER, *sorted({e.kind for e in self.entities} - set(KIND_ORDER))):
                n = self.count(change, kind)
                if n:
                    by_kind.append(f"{n} {kind_label(kind, n)}")
            if by_kind:
                parts.append(f"{', '.join(by_kind)} {change}")
        if not parts:
            parts.append("no entity changed")
        targets = self.count_fields("target")
        owners = self.owner_changes
        definitions = self.count_fields("definition")
        extra = []
        if targets:
            extra.append(f"{plural(targets, 'target change')}")
        if owners:
            extra.append(f"{plural(owners, 'owner change')}")
        if definitions:
            extra.append(f"{plural(definitions, 'definition change')}")
        breaking = len(self.breaking)
        extra.append(
            f"{plural(breaking, 'breaking change')}" if breaking else "no breaking changes"
        )
        return "; ".join(parts) + " (" + ", ".join(extra) + ")."


def kind_label(kind: str, n: int = 1) -> str:
    one, many = KIND_LABELS.get(kind, (kind.replace("_", " "), kind.replace("_", " ") + "s"))
    return one if n == 1 else many


# --------------------------------------------------------------------------------------
# Reading entities out of files
# --------------------------------------------------------------------------------------


@dataclass(slots=True)
class Parsed:
    """Entities found in some files of one side, and the files that did not parse."""

    entries: dict[str, Entry] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)  # path -> why

    def add(self, source: SourceFile) -> None:
        path = source.path.as_posix()
        for item in source.findings:
            if item.code in UNREADABLE_CODES and path not in self.unreadable:
                self.unreadable[path] = f"{item.message} (line {item.location.line})"
        for document in source.documents:
            data = document.data
            if not isinstance(data, dict):
                continue
            entity_id, kind = data.get("id"), data.get("kind")
            if isinstance(entity_id, str) and isinstance(kind, str):
                # The first definition wins, as in the registry (the second is R001).
                self.entries.setdefault(
                    entity_id, Entry(entity_id, kind, path, document.start.line, data)
                )


def parse_files(files: Mapping[str, bytes], tracked: TrackedRegistry) -> Parsed:
    parsed = Parsed()
    for rel in sorted(files):
        parsed.add(parse_bytes(Path(tracked.repo_path(rel)), files[rel]))
    return parsed


class Version:
    """One side of a diff: a commit, or the working tree."""

    def __init__(self, tracked: TrackedRegistry, commit: str | None) -> None:
        self.tracked = tracked
        self.commit = commit
        self._oids: dict[str, str] = {}
        if commit is not None:
            for path, oid in tracked.repo.tree(commit, tracked.prefix):
                rel = tracked.registry_path(path)
                if rel is not None:
                    self._oids[rel] = oid
            self.exists = ROOT_FILE in self._oids
            root_raw = self.read([ROOT_FILE]).get(ROOT_FILE) if self.exists else None
            candidates = list(self._oids)
        else:
            root_raw = read_working(tracked.root / ROOT_FILE)
            self.exists = root_raw is not None
            root_text = str(tracked.root)
            candidates = [
                Path(path).relative_to(root_text).as_posix() for path in discover(tracked.root, [])
            ]
        self.root_raw = root_raw
        self.paths: set[str] = (
            set(members_of(root_raw).entity_files(candidates)) if self.exists else set()
        )

    def oid(self, rel: str) -> str | None:
        return self._oids.get(rel)

    def read(self, rels: list[str]) -> dict[str, bytes]:
        if self.commit is not None:
            wanted = {rel: self._oids[rel] for rel in rels if rel in self._oids}
            blobs = self.tracked.repo.read_blobs(wanted.values())
            return {rel: blobs[oid] for rel, oid in wanted.items() if oid in blobs}
        out = {}
        for rel in rels:
            raw = read_working(self.tracked.root / rel)
            if raw is not None:
                out[rel] = raw
        return out


def read_working(path: Path) -> bytes | None:
    """A working-tree file's content; None when it cannot be read or is not a file.

    A link is left out as `Repository.tree` leaves out a link at a commit: following
    it would read whatever it points at, outside the registry included, and a FIFO
    would never answer. The check reports such files.
    """
    from kpictl.fileio import read_regular

    try:
        return read_regular(path)
    except OSError:
        return None


def changed_paths(tracked: TrackedRegistry, base: Version, head: Version) -> set[str]:
    """Registry files (relative paths) whose content differs between the two sides."""
    only = base.paths ^ head.paths
    both = base.paths & head.paths
    if head.commit is not None:
        differ = {rel for rel in both if base.oid(rel) != head.oid(rel)}
    else:
        assert base.commit is not None
        git_changed = tracked.repo.changed_since(base.commit)
        differ = {rel for rel in both if tracked.repo_path(rel) in git_changed}
    return only | differ


# --------------------------------------------------------------------------------------
# The whole diff
# --------------------------------------------------------------------------------------


def build_diff(tracked: TrackedRegistry, base: Side, head: Side) -> RegistryDiff:
    """Compare the registry at `base.commit` with `head.commit` (or the working tree)."""
    old = Version(tracked, base.commit)
    new = Version(tracked, head.commit)
    notes: list[str] = []
    if not old.exists:
        notes.append(f"There is no registry at {base.label}: everything in it is new.")
    if not new.exists:
        notes.append(f"There is no registry at {head.label}: everything in it was removed.")
    changed = sorted(changed_paths(tracked, old, new))
    before = parse_files(old.read([p for p in changed if p in old.paths]), tracked)
    after = parse_files(new.read([p for p in changed if p in new.paths]), tracked)

    for path, why in sorted(before.unreadable.items()):
        notes.append(
            f"{path} does not parse at {base.label} ({why}): what it defined there is not compared."
        )
    for path, why in sorted(after.unreadable.items()):
        notes.append(
            f"{path} does not parse at {head.label} ({why}): what it defines is not compared."
        )

    entities: list[EntityChange] = []
    removed = {i: e for i, e in before.entries.items() if i not in after.entries}
    added = {i: e for i, e in after.entries.items() if i not in before.entries}

    # An entity can leave a changed file while another, unchanged file still defines it
    # (a duplicate id): then it was not removed. Unchanged files are only read for this,
    # and to find what refers to removed entities.
    unchanged = sorted(new.paths - set(changed))
    referrers: dict[str, list[tuple[Entry, str]]] = {}
    if removed:
        still, referrers = _scan_unchanged(new, unchanged, set(removed), tracked, after)
        for entity_id in still:
            removed.pop(entity_id, None)

    # Renames: same kind, same content, new id.
    by_content: dict[tuple[str, str], list[str]] = {}
    for entity_id, entry in sorted(added.items()):
        by_content.setdefault((entry.kind, repr(entry.content())), []).append(entity_id)
    for old_id, entry in sorted(removed.items()):
        candidates = by_content.get((entry.kind, repr(entry.content())))
        if not candidates:
            continue
        new_id = candidates.pop(0)
        new_entry = added.pop(new_id)
        del removed[old_id]
        entities.append(
            EntityChange(
                new_id,
                entry.kind,
                "renamed",
                new_entry.name,
                new_entry.path,
                entry.path if entry.path != new_entry.path else None,
                old_id,
            )
        )

    for entity_id, entry in after.entries.items():
        previous = before.entries.get(entity_id)
        if previous is not None:
            fields = compare(previous, entry)
            if fields:
                entities.append(
                    EntityChange(
                        entity_id,
                        entry.kind,
                        "changed",
                        entry.name or previous.name,
                        entry.path,
                        previous.path if previous.path != entry.path else None,
                        fields=fields,
                    )
                )
        elif entity_id in added:
            if entry.path in before.unreadable:
                # Its file did not parse at the base: it may have been there all along.
                note = f"{entry.path} does not parse at {base.label}"
                entities.append(
                    EntityChange(
                        entity_id, entry.kind, "not_compared", entry.name, entry.path, note=note
                    )
                )
            else:
                entities.append(
                    EntityChange(entity_id, entry.kind, "added", entry.name, entry.path)
                )
    for entity_id, entry in removed.items():
        if entry.path in after.unreadable:
            note = f"{entry.path} does not parse at {head.label}"
            entities.append(
                EntityChange(
                    entity_id, entry.kind, "not_compared", entry.name, entry.path, note=note
                )
            )
        else:
            entities.append(
                EntityChange(
                    entity_id, entry.kind, "removed", entry.name, None, old_path=entry.path
                )
            )

    order = {kind: i for i, kind in enumerate(KIND_ORDER)}
    entities.sort(key=lambda e: (order.get(e.kind, len(order)), e.kind, e.id))
    breaking = _breaking(entities, before, after, referrers)
    return RegistryDiff(base, head, tracked.prefix or ".", entities, breaking, notes, len(changed))


def _scan_unchanged(
    version: Version,
    unchanged: list[str],
    ids: set[str],
    tracked: TrackedRegistry,
    after: Parsed,
) -> tuple[set[str], dict[str, list[tuple[Entry, str]]]]:
    """(ids still defined in unchanged files, id -> [(entity, field) still naming it])."""
    from kpictl.check.rules.references import CONNECTION, references
    from kpictl.registry.models import KINDS
    from kpictl.registry.schema_errors import field_label

    contents = version.read(unchanged)
    needles = {entity_id: entity_id.encode() for entity_id in ids}
    wanted = {rel: raw for rel, raw in contents.items() if any(n in raw for n in needles.values())}
    scanned = parse_files(wanted, tracked)
    still = {entity_id for entity_id in ids if entity_id in scanned.entries}
    referrers: dict[str, list[tuple[Entry, str]]] = {}
    pool = list(scanned.entries.values()) + list(after.entries.values())
    for entry in pool:
        model = KINDS.get(entry.kind)
        if model is None:
            continue
        try:
            entity = model.model_validate(entry.data)
        except ValueError:
            continue  # invalid now: `kpictl check` says why
        for path, ref, allowed in references(entity):
            if ref in ids and allowed is not CONNECTION:  # a connection name is no entity
                referrers.setdefault(ref, []).append((entry, field_label(path)))
    return still, referrers


def _breaking(
    entities: list[EntityChange],
    before: Parsed,
    after: Parsed,
    referrers: dict[str, list[tuple[Entry, str]]],
) -> list[Breaking]:
    """Changes that break what relies on the registry (see docs/diff-json.md)."""
    found: list[Breaking] = []
    renamed = {(e.old_id, e.id) for e in entities if e.change == "renamed"}
    for item in entities:
        gone = item.old_id if item.change == "renamed" else item.id
        if item.change in ("removed", "renamed") and gone in referrers:
            users = ", ".join(
                f"{kind_label(entry.kind)} {entry.id} ({where})"
                for entry, where in sorted(referrers[gone], key=lambda pair: pair[0].id)
            )
            verb = f"renamed to {item.id}" if item.change == "renamed" else "removed"
            found.append(
                Breaking(
                    "removed-still-referenced",
                    item.kind,
                    gone or item.id,
                    f"{kind_label(item.kind)} {gone} was {verb} but is still named by {users}",
                )
            )
        if item.change == "changed":
            found.extend(_definition_changes(item, renamed))
        if item.change == "changed" and item.kind == "kpi":
            for change in item.fields:
                if change.field in ("unit", "direction"):
                    found.append(
                        Breaking(
                            "kpi-meaning-changed",
                            item.kind,
                            item.id,
                            f"KPI {item.id}: {change.field} changed from {change.old_text} to "
                            f"{change.new_text}; its actuals and targets now mean something else",
                        )
                    )
    return found


# What a change to each governed field means for the numbers (rule D001 asks for approval).
_MEANING = {
    ("kpi", "formula"): "its actuals are now computed another way than its history",
    ("kpi", "definition"): "it now counts what another glossary term defines",
    ("glossary_term", "definition"): "every KPI defined by it now means something else",
}


def _definition_changes(item: EntityChange, renamed: set[tuple[str | None, str]]) -> list[Breaking]:
    """Formulas and definitions that changed in words (not only in line breaks), and
    KPIs pointed at another glossary term (not the same term under a new id)."""
    found = []
    for change in item.fields:
        meaning = _MEANING.get((item.kind, change.field))
        if meaning is None:
            continue
        old, new = change.old, change.new
        if isinstance(old, str) and isinstance(new, str) and clean(old) == clean(new):
            continue
        if item.kind == "kpi" and change.field == "definition" and (old, new) in renamed:
            continue
        approval = change.detail or "no approval recorded: kpictl check --base asks for one"
        found.append(
            Breaking(
                "definition-changed",
                item.kind,
                item.id,
                f"{kind_label(item.kind)} {item.id}: {change.field} changed; {meaning} "
                f"({approval})",
            )
        )
    return found


def resolve_sides(
    tracked: TrackedRegistry, base_ref: str | None, head_ref: str | None
) -> tuple[Side, Side]:
    """BASE (default: where HEAD branched off the default branch) and HEAD (default:
    the working tree) as commits with labels."""
    repo = tracked.repo
    if base_ref is None:
        if repo.head() is None:
            raise KpictlError("this repository has no commits yet: nothing to compare with")
        branch = repo.default_branch()
        commit = repo.merge_base(branch, "HEAD")
        base = Side(None, commit, f"{branch} ({commit[:7]})")
    else:
        commit = repo.resolve(base_ref, "base ref")
        base = Side(base_ref, commit, _label(base_ref, commit))
    if head_ref is None:
        head = Side(None, None, WORKING_TREE)
    else:
        commit = repo.resolve(head_ref, "head ref")
        head = Side(head_ref, commit, _label(head_ref, commit))
    return base, head


def _label(ref: str, commit: str) -> str:
    return commit[:7] if commit.startswith(ref) else f"{ref} ({commit[:7]})"

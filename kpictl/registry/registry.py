"""The loaded registry: every entity by id, with the document it came from."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import ValidationError

from kpictl.check.catalog import finding
from kpictl.check.findings import Finding, Location, Severity, excerpt
from kpictl.registry.config import ROOT_FILE, Settings
from kpictl.registry.loader import Document, KeyPath, SourceFile
from kpictl.registry.membership import Members, exclude_in
from kpictl.registry.models import (
    KINDS,
    Campaign,
    DataSource,
    Entity,
    EscalationPolicy,
    Experiment,
    GlossaryTerm,
    Kpi,
    Person,
    Team,
)
from kpictl.registry.reading import read_file, read_files, scan, unreadable
from kpictl.registry.schema_errors import field_label, suggest, validation_messages

E = TypeVar("E", bound=Entity)


@dataclass(slots=True)
class Record:
    """One entity and the document it was read from."""

    entity: Entity
    document: Document


def has(entity: Entity, name: str) -> bool:
    """Whether `entity` holds the field `name`: always for a valid entity; for a partial
    one (see `Registry.partial`), only when the field passed validation."""
    return name in entity.__dict__


@dataclass
class Registry:
    """The entities of one registry folder, by id, with its settings and files."""

    root: Path
    settings: Settings
    files: list[SourceFile]
    records: dict[str, Record] = field(default_factory=dict)
    # Ids of entities that failed schema checks: references to them are not reported
    # as unknown (the schema finding already says what is wrong).
    broken: dict[str, Document] = field(default_factory=dict)
    # What validates of those entities, so one schema error hides no other finding:
    # rules that read ids, references and owners see them, guarding each field with
    # `has`. `get` and the views never do: a partial entity is not one to act on.
    partial: dict[str, Record] = field(default_factory=dict)
    # Every later entity with an id already taken (valid or partial). Lookups by id stay
    # first-wins; the reference rules still check what each copy names.
    copies: list[Record] = field(default_factory=list)
    root_document: Document | None = None

    def get(self, entity_id: str) -> Entity | None:
        record = self.records.get(entity_id)
        return record.entity if record else None

    def record(self, entity_id: str) -> Record:
        """The first entity with this id, valid or partial."""
        record = self.records.get(entity_id)
        return record if record is not None else self.partial[entity_id]

    def every_record(self) -> Iterator[Record]:
        """Every entity written, valid or partial, each copy of a duplicated id included."""
        yield from self.records.values()
        yield from self.partial.values()
        yield from self.copies

    def of_kind_with_partial(self, cls: type[E]) -> Iterator[E]:
        """Like `of_kind`, plus the partial entities of that kind (first per id)."""
        yield from self.of_kind(cls)
        for record in self.partial.values():
            if isinstance(record.entity, cls):
                yield record.entity

    def kind_of(self, entity_id: str) -> str | None:
        record = self.records.get(entity_id)
        if record is not None:
            return record.entity.kind
        document = self.broken.get(entity_id)
        return str(document.data["kind"]) if document is not None else None

    def written_ids(self, kind: str) -> set[str]:
        """Every id of `kind` the registry writes, those that failed to load included:
        an entity broken by a typo is still there, only not usable until fixed."""
        loaded = (*self.records, *self.partial)
        ids = {key for key in loaded if self.record(key).entity.kind == kind}
        return ids | {key for key, doc in self.broken.items() if doc.data["kind"] == kind}

    def of_kind(self, cls: type[E]) -> Iterator[E]:
        for record in self.records.values():
            if isinstance(record.entity, cls):
                yield record.entity

    def person(self, entity_id: str | None) -> Person | None:
        entity = self.get(entity_id) if entity_id else None
        return entity if isinstance(entity, Person) else None

    def team(self, entity_id: str | None) -> Team | None:
        entity = self.get(entity_id) if entity_id else None
        return entity if isinstance(entity, Team) else None

    @property
    def people(self) -> list[Person]:
        return list(self.of_kind(Person))

    @property
    def teams(self) -> list[Team]:
        return list(self.of_kind(Team))

    @property
    def sources(self) -> list[DataSource]:
        return list(self.of_kind(DataSource))

    @property
    def kpis(self) -> list[Kpi]:
        return list(self.of_kind(Kpi))

    @property
    def policies(self) -> list[EscalationPolicy]:
        return list(self.of_kind(EscalationPolicy))

    @property
    def campaigns(self) -> list[Campaign]:
        return list(self.of_kind(Campaign))

    @property
    def glossary(self) -> list[GlossaryTerm]:
        return list(self.of_kind(GlossaryTerm))

    @property
    def experiments(self) -> list[Experiment]:
        return list(self.of_kind(Experiment))

    def location(self, entity_id: str, path: KeyPath = ()) -> Location:
        """Where the value at `path` of an entity sits (or the closest thing to it)."""
        return self.record(entity_id).document.location(path)


def display_path(path: Path, cwd: Path) -> Path:
    """`path` relative to the current directory when it lies below it, else absolute."""
    # abspath, not resolve(): keep symlinked folders as the user named them.
    absolute = Path(os.path.abspath(path))  # noqa: PTH100
    try:
        return absolute.relative_to(os.path.abspath(cwd))  # noqa: PTH100
    except ValueError:
        return absolute


def _settings_from(
    document: Document | None, path: Path
) -> tuple[Settings, list[Finding], list[str]]:
    """Validate kpictl.yaml; on failure keep going with defaults (and its exclude)."""
    if document is None:
        return Settings.default(), [], []
    data = document.data
    if not isinstance(data, dict):
        return (
            Settings.stand_in(data),
            [
                finding(
                    "Y003",
                    "kpictl.yaml must be a mapping of settings (version: 1, organization, ...)",
                    document.location(),
                )
            ],
            [],
        )
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        findings = [
            _schema_finding(document, item_path, message, at_key)
            for item_path, message, at_key in validation_messages(exc, Settings)
        ]
        return Settings.stand_in(data), findings, exclude_in(data)
    return settings, [], settings.exclude


def _schema_finding(
    document: Document, path: KeyPath, message: str, at_key: bool, entity: str | None = None
) -> Finding:
    mark = document.key_mark(path) if at_key else document.mark(path)
    return finding("S001", message, Location(document.path, mark.line, mark.column), entity)


def _start(root: Path, root_file: SourceFile) -> tuple[Registry, list[Finding], list[str]]:
    """A registry holding only its kpictl.yaml: settings, their findings, and `exclude`."""
    findings = list(root_file.findings)
    if len(root_file.documents) > 1:
        findings.append(
            finding(
                "Y003",
                "kpictl.yaml holds one document; move entities into their own files",
                root_file.documents[1].location(),
            )
        )
    root_doc = root_file.documents[0] if root_file.documents else None
    if root_doc is None and not root_file.findings:
        findings.append(
            finding(
                "S001",
                "kpictl.yaml is empty: it needs at least `version: 1`",
                Location(root_file.path, 1, 1),
            )
        )
    settings, problems, exclude = _settings_from(root_doc, root_file.path)
    findings.extend(problems)
    return Registry(root, settings, [root_file], root_document=root_doc), findings, exclude


def _add_file(registry: Registry, source: SourceFile) -> Iterator[Finding]:
    """Add one parsed file's entities; its own findings come first."""
    registry.files.append(source)
    yield from source.findings
    if not source.findings and all(doc.data is None for doc in source.documents):
        yield finding(
            "Y006",
            "this file holds no YAML document: add an entity or delete the file",
            Location(source.path, 1, 1),
        )
    for document in source.documents:
        yield from _add_document(registry, document)


def registry_for_use(root: Path) -> tuple[Registry, list[str]]:
    """The registry for a command that uses it (not `check`): errors become one note.

    What failed to load is left out; the note says so, and `kpictl check` says why.
    """
    from kpictl.display import plural

    registry, findings = load_registry(root)
    errors = sum(1 for item in findings if item.severity is Severity.ERROR)
    notes = []
    if errors:
        notes.append(
            f"kpictl: warning: the registry has {plural(errors, 'error')}; "
            "entities that failed to load are left out (run `kpictl check`)"
        )
    return registry, notes


def load_registry(root: Path, cwd: Path | None = None) -> tuple[Registry, list[Finding]]:
    """Read every file of the registry at `root`; problems come back as findings."""
    cwd = cwd or Path.cwd()
    root_path = root / ROOT_FILE
    registry, findings, exclude = _start(
        root, read_file(root_path, display_path(root_path, cwd), root, settings=True)
    )
    # Every file lies below the root, so one prefix serves them all, unless the
    # current folder is inside the registry: then each file is shown on its own.
    shown_root = display_path(root, cwd)
    inside = Path(os.path.abspath(cwd)).is_relative_to(root) and str(shown_root) != "."  # noqa: PTH100
    prefix = "" if str(shown_root) == "." else f"{shown_root}{os.sep}"
    root_text = f"{root}{os.sep}"

    def shown(path: Path) -> Path:
        return (
            display_path(path, cwd) if inside else Path(prefix + str(path).removeprefix(root_text))
        )

    paths, refused = scan(root, exclude)
    findings.extend(unreadable(shown(path), problem) for path, problem in refused)
    wanted = [(path, shown(path)) for path in paths if path != root_path]
    for source in read_files(wanted, root):
        findings.extend(_add_file(registry, source))
    return registry, findings


def _add_document(registry: Registry, document: Document) -> Iterator[Finding]:
    data: Any = document.data
    if data is None:
        return  # an empty document between two `---` lines
    if not isinstance(data, dict):
        if isinstance(data, list):
            what = "a list"
        elif isinstance(data, str):
            what = f"the value '{excerpt(data)}'"
        else:
            what = f"the value {excerpt(repr(data))}"
        yield finding(
            "Y003",
            f"each document must be a mapping (one entity with kind and id), not {what}",
            document.location(),
        )
        return
    kind = data.get("kind")
    raw_id = data.get("id")
    # An id such as 007 or 1e3 is a valid slug that YAML reads as a number; the
    # loader's numbers remember their written form, which str() gives back.
    numeric = isinstance(raw_id, int | float) and not isinstance(raw_id, bool)
    entity_id = str(raw_id) if isinstance(raw_id, str) or numeric else None
    if kind is None:
        yield finding(
            "S001",
            f"missing required field 'kind': use one of {', '.join(KINDS)}",
            document.location(),
            entity_id,
        )
        return
    model = KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        close = suggest(str(kind), KINDS)
        tip = f" (did you mean '{close}'?)" if close else ""
        yield finding(
            "S001",
            f"unknown kind '{excerpt(kind)}': use one of {', '.join(KINDS)}{tip}",
            document.location(("kind",)),
            entity_id,
        )
        return
    entity: Entity | None
    partial: Entity | None = None
    try:
        entity = model.model_validate(data)
    except ValidationError as exc:
        entity = None
        for path, message, at_key in validation_messages(exc, model):
            yield _schema_finding(document, path, message, at_key, entity_id)
        partial = _partial(model, data, exc)

    if entity_id is None:
        return
    first = registry.records.get(entity_id)
    first_doc = first.document if first else registry.broken.get(entity_id)
    if first_doc is not None:
        first_loc = first_doc.location(("id",))
        here = document.location(("id",))
        first_kind = registry.kind_of(entity_id)
        yield finding(
            "R001",
            f"id '{excerpt(entity_id)}' is used twice: the {first_kind} at {_where(first_loc)} "
            "has it "
            "too; ids must be unique across the registry",
            here,
            entity_id,
            (first_loc,),
        )
        yield finding(
            "R001",
            f"id '{excerpt(entity_id)}' is used twice: the {kind} at {_where(here)} has it too; "
            "ids must be unique across the registry",
            first_loc,
            entity_id,
            (here,),
        )
        copy = entity if entity is not None else partial
        if copy is not None:
            registry.copies.append(Record(copy, document))
        return
    if entity is None:
        registry.broken[entity_id] = document
        if partial is not None:
            registry.partial[entity_id] = Record(partial, document)
    else:
        registry.records[entity_id] = Record(entity, document)


@cache
def _lenient(model: type[Entity]) -> type[Entity]:
    """`model` with every required field optional, its validators kept: it validates
    whatever a broken document still holds (built on the first broken entity of a kind)."""
    from pydantic import create_model

    optional: dict[str, Any] = {
        name: (
            Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation,
            None,
        )
        for name, info in model.model_fields.items()
        if info.is_required()
    }
    return create_model(f"Partial{model.__name__}", __base__=model, **optional)


def _partial(model: type[Entity], data: dict[str, Any], exc: ValidationError) -> Entity | None:
    """The entity with every top-level field that failed (or is missing) left out, or
    None when its id is among them. Left-out fields are absent (see `has`), not
    defaulted: an invalid `lead` must not read as no lead."""
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    lost = {str(error["loc"][0]) for error in errors if error["loc"]}
    if "id" in lost:
        return None
    kept = {key: value for key, value in data.items() if key not in lost}
    try:
        valid = _lenient(model).model_validate(kept)
    except ValidationError:  # pragma: no cover - each kept field validated on its own
        return None
    # model_construct, not validation: the fields left are valid, and no model
    # validator may derive a value from a field that is not there (KPI pacing from unit).
    entity = model.model_construct(**{name: getattr(valid, name) for name in kept})
    for name in lost:
        entity.__dict__.pop(name, None)
    return entity


def _where(location: Location) -> str:
    return f"{location.path.as_posix()}:{location.line}"


def registry_from_files(
    root: Path, shown_root: Path, files: Mapping[str, bytes | SourceFile]
) -> tuple[Registry, list[Finding]] | None:
    """Build a registry from file contents (e.g. read from git), without touching disk.

    `files` maps paths relative to the registry (posix) to raw bytes, or to a file
    already parsed (reused as it is); `kpictl.yaml` among them marks the registry
    (None when it is missing). Files are selected as `load_registry` selects them
    (hidden and `exclude` left out), and findings show `shown_root / path`. `root` is
    the registry folder on disk, for template lookups.
    """
    from kpictl.registry.reading import not_read, over_limits, parse_bytes

    def parsed(rel: str, content: bytes | SourceFile) -> SourceFile:
        if isinstance(content, SourceFile):
            return content
        return parse_bytes(shown_root / rel, content)

    raw_root = files.get(ROOT_FILE)
    if raw_root is None:
        return None
    registry, findings, exclude = _start(root, parsed(ROOT_FILE, raw_root))
    wanted = Members(exclude).entity_files(files)
    documents = size = values = 0  # the registry's limits hold at a commit as on disk
    for index, rel in enumerate(wanted):
        source = parsed(rel, files[rel])
        documents += source.parsed
        size += source.size
        values += source.values
        if over_limits(documents, size, values):
            findings.extend(_add_file(registry, not_read(shown_root / rel, len(wanted) - index)))
            break
        findings.extend(_add_file(registry, source))
    return registry, findings


__all__ = ["Record", "Registry", "display_path", "field_label", "has", "load_registry"]

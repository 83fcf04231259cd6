"""What every rule receives, and the one helper that turns a place into a finding."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from kpictl.check.catalog import finding
from kpictl.check.findings import Finding, Location, excerpt
from kpictl.registry.loader import KeyPath
from kpictl.registry.registry import Record, Registry


@dataclass(frozen=True, slots=True)
class Context:
    registry: Registry
    today: date
    # The registry at the `--base` commit, for the rules that compare against it.
    base: Registry | None = None


def at(ctx: Context, code: str, entity_id: str, path: KeyPath, message: str) -> Finding:
    """A finding pointing at `path` inside an entity (or the entity, if the value is missing)."""
    return finding(code, message, ctx.registry.location(entity_id, path), entity_id)


def at_key(ctx: Context, code: str, entity_id: str, path: KeyPath, message: str) -> Finding:
    """Like `at`, at the key that holds `path`: a whole mapping that should not be there
    (a `result:` too early) is pointed at by its key line, not its first entry."""
    document = ctx.registry.record(entity_id).document
    mark = document.key_mark(path)
    return finding(code, message, Location(document.path, mark.line, mark.column), entity_id)


def in_record(code: str, record: Record, path: KeyPath, message: str) -> Finding:
    """Like `at`, inside one given entity: the copy of a duplicated id that has the problem."""
    return finding(code, message, record.document.location(path), record.entity.id)


def who(ctx: Context, person_id: str) -> str:
    """`maria-lopez (Maria Lopez)`, or the bare id when it names nobody."""
    person = ctx.registry.person(person_id)
    return f"{person_id} ({excerpt(person.name)})" if person else person_id

"""`kpictl diff` output: text and markdown through templates/diff/, json by hand.

The JSON shape is a stable interface, documented in docs/diff-json.md; the
templates receive the same data as plain dicts (plus `groups`), so an override
template can rely on the documented names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kpictl.history.compare import FieldChange
from kpictl.history.diff import EntityChange, RegistryDiff
from kpictl.templating.escaping import json_text

if TYPE_CHECKING:
    from jinja2 import Environment

DIFF_TEMPLATES = {"text": "diff/text.txt.j2", "markdown": "diff/markdown.md.j2"}
JSON_VERSION = 1


def _plain(value: Any) -> Any:
    """A YAML value as JSON can hold it (dates and other scalars as text)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return str(value)


def _field(change: FieldChange) -> dict[str, Any]:
    return {
        "field": change.field,
        "change": change.change,
        "category": change.category,
        "label": change.label,
        "old": _plain(change.old),
        "new": _plain(change.new),
        "old_text": change.old_text,
        "new_text": change.new_text,
        "percent": change.percent,
        "detail": change.detail,
        "itemized": change.itemized,
    }


def _entity(item: EntityChange) -> dict[str, Any]:
    return {
        "id": item.id,
        "kind": item.kind,
        "change": item.change,
        "name": item.name,
        "path": item.path,
        "old_path": item.old_path,
        "old_id": item.old_id,
        "note": item.note,
        "fields": [_field(change) for change in item.fields],
    }


def diff_data(diff: RegistryDiff) -> dict[str, Any]:
    """The diff as plain data: the JSON document (see docs/diff-json.md)."""
    counts: dict[str, Any] = {
        change: diff.count(change) for change in ("added", "removed", "renamed", "changed")
    }
    counts["not_compared"] = diff.count("not_compared")
    counts["target_changes"] = diff.count_fields("target")
    counts["owner_changes"] = diff.owner_changes
    counts["definition_changes"] = diff.count_fields("definition")
    counts["breaking"] = len(diff.breaking)
    return {
        "version": JSON_VERSION,
        "registry": diff.registry,
        "base": {"ref": diff.base.ref, "commit": diff.base.commit, "label": diff.base.label},
        "head": {"ref": diff.head.ref, "commit": diff.head.commit, "label": diff.head.label},
        "summary": diff.summary(),
        "counts": counts,
        "files_compared": diff.files_compared,
        "entities": [_entity(item) for item in diff.entities],
        "breaking": [
            {"code": b.code, "kind": b.kind, "entity": b.entity, "message": b.message}
            for b in diff.breaking
        ],
        "notes": list(diff.notes),
    }


def diff_json(diff: RegistryDiff) -> str:
    return json_text(diff_data(diff), indent=2) + "\n"


def render_diff(diff: RegistryDiff, output_format: str, env: Environment) -> str:
    """The diff in one of the formats of kpictl.output_formats.DiffFormat."""
    if output_format == "json":
        return diff_json(diff)
    data = diff_data(diff)
    entities = data["entities"]
    groups = [
        {"kind": kind, "label": label, "entities": [e for e in entities if e["kind"] == kind]}
        for kind, label, _ in diff.groups()
    ]
    from kpictl.templating.render import render

    return render(env, DIFF_TEMPLATES[output_format], diff=data, groups=groups)

"""`kpictl new`: a new entity file from `--field key=value` pairs (and prompts).

Keys are field names as in the YAML; a dot goes into a nested mapping
(`owners.primary=maria-lopez`), a number picks a list item (`targets.0.period=2026-Q4`,
`tiers.0.notify=$owner,$backup`). A list of plain values is comma-separated
(`sources=crm,web`). Values are read by the field's type: numbers, true/false,
dates (YYYY-MM-DD), text.
"""

from __future__ import annotations

import os
import types
import typing
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from kpictl.display import plural
from kpictl.registry.models import KINDS
from kpictl.registry.registry import Registry
from kpictl.registry.schema_errors import suggest, validation_messages
from kpictl.templating.escaping import visible

FOLDERS: dict[str, str] = {
    "person": "people",
    "team": "teams",
    "data_source": "sources",
    "kpi": "kpis",
    "escalation_policy": "policies",
    "campaign": "campaigns",
    "glossary_term": "glossary",
    "experiment": "experiments",
}
ALIASES: dict[str, str] = {
    "data-source": "data_source",
    "source": "data_source",
    "escalation-policy": "escalation_policy",
    "policy": "escalation_policy",
    "glossary-term": "glossary_term",
    "glossary": "glossary_term",
    "term": "glossary_term",
    "charter": "campaign",
    "test": "experiment",
}

Key = str | int


class NewError(ValueError):
    """A bad argument to `kpictl new`: unknown kind or field, a value of the wrong type."""


@dataclass(frozen=True, slots=True)
class Shape:
    """What a field holds, as far as typing a value on the command line goes."""

    kind: str  # text, int, number, bool, date, choice, list, map, model, models
    choices: tuple[str, ...] = ()
    item: Shape | None = None
    model: type[BaseModel] | None = None
    annotation: Any = None  # the field's own type, to check a value typed at a prompt
    hint_text: str = ""  # what to type, when the kind alone does not say

    def check(self, value: Any, label: str) -> Any:
        """`value` as the model will read it; raises NewError saying what is wrong."""
        if self.annotation is None:
            return value
        from pydantic import TypeAdapter

        try:
            TypeAdapter(self.annotation).validate_python(value)
        except ValidationError as exc:
            reason = exc.errors(include_url=False)[0]["msg"]
            raise NewError(f"{label}: {reason}") from None
        return value

    def hint(self) -> str:
        if self.hint_text:
            return self.hint_text
        if self.kind == "choice":
            return " | ".join(self.choices)
        if self.kind == "list" and self.item is not None:
            inner = self.item.hint()
            return f"comma-separated {inner}" if inner else "comma-separated"
        return {
            "int": "whole number",
            "number": "number",
            "bool": "true | false",
            "date": "YYYY-MM-DD",
        }.get(self.kind, "")


def shape_of(annotation: Any) -> Shape:
    """The Shape of a (pydantic-resolved) field annotation."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return shape_of(args[0])
    if origin in (typing.Union, types.UnionType):
        real = [arg for arg in args if arg is not type(None)]
        return shape_of(real[0]) if len(real) == 1 else Shape("text")
    if origin is typing.Literal:
        return Shape("choice", tuple(str(arg) for arg in args))
    if origin is list:
        item = shape_of(args[0]) if args else Shape("text")
        if item.kind == "model":
            return Shape("models", model=item.model)
        return Shape("list", item=item)
    if origin is dict:
        return Shape("map")
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return Shape("model", model=annotation)
    if annotation is bool:
        return Shape("bool")
    if annotation is int:
        return Shape("int")
    if annotation is float:
        return Shape("number")
    if annotation is date:
        return Shape("date")
    return Shape("text")


def _fields(model: type[BaseModel]) -> dict[str, Any]:
    return {(info.alias or name): info for name, info in model.model_fields.items()}


def resolve_kind(text: str) -> str:
    """A kind from the command line: `kpi`, `data_source` or `data-source`, `policy`..."""
    word = text.strip().lower()
    kind = ALIASES.get(word, word.replace("-", "_"))
    if kind in KINDS:
        return kind
    close = suggest(word, [*KINDS, *ALIASES])
    tip = f" (did you mean '{ALIASES.get(close, close)}'?)" if close else ""
    raise NewError(f"'{text}' is not a kind: use one of {', '.join(KINDS)}{tip}")


def convert(text: str, shape: Shape, label: str) -> Any:
    """A command-line value as the field's type; raises NewError saying what to write."""
    value = text.strip()
    if shape.kind == "list":
        item = shape.item or Shape("text")
        return [convert(part, item, label) for part in value.split(",") if part.strip()]
    if shape.kind == "int":
        try:
            return int(value)
        except ValueError:
            raise NewError(f"{label}: '{text}' is not a whole number") from None
    if shape.kind == "number":
        try:
            number = float(value)
        except ValueError:
            raise NewError(f"{label}: '{text}' is not a number") from None
        return int(number) if number.is_integer() and "." not in value else number
    if shape.kind == "bool":
        lowered = value.lower()
        if lowered in ("true", "yes", "y", "1"):
            return True
        if lowered in ("false", "no", "n", "0"):
            return False
        raise NewError(f"{label}: '{text}' is not true or false")
    if shape.kind == "date":
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise NewError(f"{label}: '{text}' is not a date: use YYYY-MM-DD") from None
    if shape.kind == "choice" and value not in shape.choices:
        close = suggest(value, shape.choices)
        tip = f" (did you mean '{close}'?)" if close else ""
        raise NewError(f"{label}: '{text}' is not one of {', '.join(shape.choices)}{tip}")
    if shape.kind in ("model", "models"):
        raise NewError(f"{label} holds fields: set them one by one, like {label}.<field>=...")
    return value


def _label(path: tuple[Key, ...]) -> str:
    return ".".join(str(part) for part in path)


def set_field(data: dict[str, Any], model: type[BaseModel], assignment: str) -> None:
    """Apply one `key=value` to `data`, checking the key against `model`."""
    if "=" not in assignment:
        raise NewError(f"'{assignment}' is not key=value (e.g. owners.primary=maria-lopez)")
    key, text = assignment.split("=", 1)
    if visible(key) != key:  # messages below quote the key: it must show as typed
        raise NewError(f"unknown field '{visible(key)}': a field name has no control character")
    # ASCII digits only: `isdigit` also holds for '²', which int() refuses.
    parts: list[Key] = [
        int(p) if p.isascii() and p.isdigit() and len(p) <= 9 else p for p in key.strip().split(".")
    ]
    if not parts or parts[0] in ("", "kind", "id"):
        raise NewError(f"'{key}': kind and id are the command's arguments, not fields")
    container: Any = data
    current: type[BaseModel] | None = model
    shape = Shape("model", model=model)
    for index, part in enumerate(parts):
        path = tuple(parts[: index + 1])
        last = index == len(parts) - 1
        if shape.kind == "map":
            if not isinstance(part, str) or not last:
                raise NewError(f"'{key}': {_label(path[:-1])} maps names to text")
            container[part] = text.strip()
            return
        if shape.kind == "models":
            if not isinstance(part, int):
                raise NewError(
                    f"'{key}': {_label(path[:-1])} is a list; pick an item by number, "
                    f"like {_label(path[:-1])}.0.{part}"
                )
            items = container
            if part > len(items):
                # Appending only: `targets.99999999.period` must not grow a list that far.
                label = _label(path[:-1])
                raise NewError(
                    f"'{key}': {label} has {plural(len(items), 'item')} so far; number "
                    f"them from 0 without gaps: the next is {label}.{len(items)}"
                )
            if part == len(items):
                items.append({})
            if last:
                raise NewError(f"'{key}': name a field of the item, like {key}.<field>")
            container = items[part]
            shape = Shape("model", model=shape.model)
            current = shape.model
            continue
        if not isinstance(part, str) or current is None:
            raise NewError(f"'{key}' does not name a field")
        fields = _fields(current)
        info = fields.get(part)
        if info is None:
            close = suggest(part, fields)
            tip = f" (did you mean '{close}'?)" if close else ""
            where = f" in {_label(path[:-1])}" if index else ""
            raise NewError(f"unknown field '{part}'{where}{tip}")
        shape = shape_of(info.annotation)
        if last:
            if shape.kind == "map":
                raise NewError(f"'{key}' maps names to text: write {key}.<name>=<text>")
            container[part] = convert(text, shape, key)
            return
        if shape.kind in ("model", "map"):
            container = container.setdefault(part, {})
            current = shape.model
        elif shape.kind == "models":
            container = container.setdefault(part, [])
            current = shape.model
        else:
            raise NewError(f"'{key}': {_label(path)} is a single value, not a mapping")


def missing(
    model: type[BaseModel], data: dict[str, Any], prefix: tuple[Key, ...] = ()
) -> list[tuple[tuple[Key, ...], Shape]]:
    """Required fields not in `data`, in the order the model declares them."""
    out: list[tuple[tuple[Key, ...], Shape]] = []
    for key, info in _fields(model).items():
        if key in ("kind", "id") and not prefix:
            continue
        shape = _prompt_shape(info)
        value = data.get(key)
        if shape.kind == "model" and shape.model is not None:
            if value is None and not info.is_required():
                continue
            out.extend(missing(shape.model, value or {}, (*prefix, key)))
        elif shape.kind == "models" and shape.model is not None:
            items = value or []
            if not items and info.is_required():
                items = [{}]
            for index, item in enumerate(items):
                out.extend(missing(shape.model, item, (*prefix, key, index)))
        elif value is None and info.is_required():
            out.append(((*prefix, key), shape))
    return out


def put(data: dict[str, Any], path: tuple[Key, ...], value: Any) -> None:
    container: Any = data
    for index, part in enumerate(path[:-1]):
        following = path[index + 1]
        if isinstance(part, int):
            while len(container) <= part:
                container.append({})
            container = container[part]
        else:
            container = container.setdefault(part, [] if isinstance(following, int) else {})
    container[path[-1]] = value


# ask(label, shape, default): the value for one field, typed at a prompt.
Ask = Callable[[str, Shape, str | None], Any]

# What to type where the field's type alone does not say: an experiment is written
# down before it starts (seed 001), so its prompts ask for the decision up front.
PROMPT_HINTS: dict[tuple[str, tuple[Key, ...]], str] = {
    ("experiment", ("hypothesis",)): "what you expect to change, and why",
    ("experiment", ("kpi",)): "the id of the KPI it means to move",
    ("experiment", ("owner",)): "a person id",
    ("experiment", ("control",)): "what the test is compared with",
    ("experiment", ("decision_rule",)): "which result means adopt, which reject",
}
PROMPT_DEFAULTS: dict[tuple[str, tuple[Key, ...]], str] = {
    ("experiment", ("status",)): "planned",
}


def _article(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def build(
    kind: str,
    entity_id: str,
    assignments: list[str],
    ask: Ask | None,
    current_period: str | None = None,
) -> dict[str, Any]:
    """The new entity's data; `ask` is called for each missing required field.

    Without `ask`, missing fields raise NewError listing them all. With it, a new
    KPI is also asked for its target in `current_period` (rule T001 would warn
    right away without one) and, for a currency, which currency.
    """
    model = KINDS[kind]
    data: dict[str, Any] = {"kind": kind, "id": entity_id}
    for assignment in assignments:
        set_field(data, model, assignment)
    needed = [
        (path, replace(shape, hint_text=PROMPT_HINTS[(kind, path)]))
        if (kind, path) in PROMPT_HINTS
        else (path, shape)
        for path, shape in missing(model, data)
    ]
    if needed and ask is None:
        lines = "\n".join(
            f"  --field {_label(path)}=...{f'  ({shape.hint()})' if shape.hint() else ''}"
            for path, shape in needed
        )
        raise NewError(
            f"missing required fields for {_article(kind)} (no terminal to ask on):\n{lines}"
        )
    for path, shape in needed:
        assert ask is not None
        put(data, path, ask(_label(path), shape, PROMPT_DEFAULTS.get((kind, path))))
    if ask is not None and kind == "kpi":
        _ask_kpi_extras(data, ask, current_period)
    try:
        model.model_validate(data)
    except ValidationError as exc:
        messages = [message for _, message, _ in validation_messages(exc, model)]
        raise NewError("the new " + kind + " is not valid:\n  " + "\n  ".join(messages)) from None
    return data


def _ask_kpi_extras(data: dict[str, Any], ask: Ask, current_period: str | None) -> None:
    """The optional KPI fields a new KPI should not go without: a current target, a currency."""
    from kpictl.registry.models import Kpi, Target

    if not data.get("targets"):
        target = _fields(Target)
        period = replace(_prompt_shape(target["period"]), hint_text="YYYY-Qn, YYYY-MM or YYYY")
        put(data, ("targets", 0, "period"), ask("targets.0.period", period, current_period))
        value = _prompt_shape(target["value"])
        put(data, ("targets", 0, "value"), ask("targets.0.value", value, None))
    if data.get("unit") == "currency" and not data.get("currency"):
        currency = replace(_prompt_shape(_fields(Kpi)["currency"]), hint_text="ISO 4217, e.g. EUR")
        put(data, ("currency",), ask("currency", currency, None))


def _prompt_shape(info: Any) -> Shape:
    """A field's Shape, checking a typed value with the field's own validators."""
    full = typing.Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
    return replace(shape_of(info.annotation), annotation=full)


def folder_for(registry: Registry, kind: str) -> Path:
    """Where most entities of `kind` live in the registry; else the kind's usual folder."""
    root = registry.root.resolve()
    counts: Counter[Path] = Counter()
    for record in registry.records.values():
        if record.entity.kind != kind:
            continue
        path = Path(os.path.abspath(record.document.path)).resolve()  # noqa: PTH100
        try:
            counts[path.parent.relative_to(root)] += 1
        except ValueError:  # pragma: no cover - outside the registry
            continue
    if counts:
        best = max(counts.values())
        folder = sorted(path for path, count in counts.items() if count == best)[0]
        return registry.root / folder
    return registry.root / FOLDERS[kind]

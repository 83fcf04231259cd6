"""Pydantic validation errors, said in plain words for the person who wrote the YAML."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from kpictl.check.findings import MAX_SAME_FINDINGS, excerpt
from kpictl.display import plural
from kpictl.registry.loader import KeyPath


def field_label(path: KeyPath) -> str:
    """`('tiers', 1, 'approver')` → `tiers[1].approver`.

    Keys come from the file (an unknown field, a key under labels), so each is quoted
    as an excerpt.
    """
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = excerpt(part)
            out += f".{name}" if out else name
    return out


def _shown(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"'{excerpt(value)}'"


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """The closest of `choices` to `word`, when one is close enough to be a typo."""
    by_folded: dict[str, str] = {}
    for choice in choices:
        by_folded.setdefault(choice.lower(), choice)
    matches = difflib.get_close_matches(word.lower(), list(by_folded), n=1, cutoff=0.6)
    return by_folded[matches[0]] if matches else None


def _model_at(model: type[BaseModel], path: KeyPath) -> type[BaseModel] | None:
    """The nested model class that holds the last element of `path`."""
    import typing

    current: Any = model
    for part in path[:-1]:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(part)
        if field is None:
            return None
        current = _unwrap(field.annotation, typing)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None


def _unwrap(annotation: Any, typing: Any) -> Any:
    """Find the model class inside `list[X]`, `X | None` and the like."""
    for arg in (annotation, *typing.get_args(annotation)):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
        for inner in typing.get_args(arg):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                return inner
    return annotation


def _field_names(model: type[BaseModel] | None) -> list[str]:
    if model is None:
        return []
    return [field.alias or name for name, field in model.model_fields.items()]


def describe(error: ErrorDetails, model: type[BaseModel]) -> tuple[KeyPath, str, bool]:
    """(path, message, points_at_key) for one pydantic error."""
    path: KeyPath = tuple(part for part in error["loc"] if isinstance(part, str | int))
    label = field_label(path)
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")

    if kind == "missing":
        where = f" in {field_label(path[:-1])}" if len(path) > 1 else ""
        name = path[-1] if path else label
        return path, f"missing required field '{name}'{where}", False
    if kind == "extra_forbidden":
        name = str(path[-1]) if path else label
        close = suggest(name[:100], _field_names(_model_at(model, path)))
        name = excerpt(name)
        fix = (
            f"did you mean '{close}'?"
            if close
            else "remove it, or keep free-form data under labels"
        )
        where = f" in {field_label(path[:-1])}" if len(path) > 1 else ""
        return path, f"unknown field '{name}'{where}: {fix}", True
    if kind == "literal_error":
        allowed = [
            part.strip(" '")
            for part in str(ctx.get("expected", "")).replace(" or ", ", ").split(",")
        ]
        allowed = [a for a in allowed if a]
        close = suggest(str(value), allowed) if isinstance(value, str) else None
        tip = f" (did you mean '{close}'?)" if close else ""
        return (
            path,
            f"{label}: {_shown(value)} is not allowed; use one of {', '.join(allowed)}{tip}",
            False,
        )
    if kind.startswith("kpictl_"):
        message = _quoted_briefly(error["msg"], ctx)
        return path, f"{label}: {message}" if label else message, False
    if kind in ("string_type",):
        return path, f"{label} must be text, not {_shown(value)}", False
    if kind in ("int_parsing", "int_type", "int_from_float", "float_parsing", "float_type"):
        whole = " whole" if kind.startswith("int") else ""
        return path, f"{label} must be a{whole} number, not {_shown(value)}", False
    if kind in ("bool_parsing", "bool_type"):
        return path, f"{label} must be true or false, not {_shown(value)}", False
    if kind in ("list_type",):
        return path, f"{label} must be a list, not {_shown(value)}", False
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return path, f"{label} must be a mapping of fields, not {_shown(value)}", False
    if kind.startswith(("date_", "datetime_")):
        return path, f"{label} must be a date like 2026-10-01, not {_shown(value)}", False
    if kind == "too_short":
        least = ctx.get("min_length", 1)
        return path, f"{label} must list at least {plural(least, 'item')}", False
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        words = {
            "greater_than_equal": "at least",
            "greater_than": "more than",
            "less_than_equal": "at most",
            "less_than": "less than",
        }[kind]
        bound = next(iter(ctx.values()), "")
        return path, f"{label} must be {words} {bound}, not {_shown(value)}", False
    if kind == "finite_number":
        return path, f"{label} must be a finite number, not {_shown(value)}", False
    message = _quoted_briefly(error["msg"], ctx)
    return path, f"{label}: {message}" if label else message, False


def _quoted_briefly(message: str, ctx: dict[str, Any]) -> str:
    """`message` with every value it quotes from the file (its context) as an excerpt.

    The models' own errors put the offending value into their message whole. A context
    value that is the whole message is kpictl's own wording (`"{problem}"`), not a value.
    """
    for value in ctx.values():
        if isinstance(value, str) and value and value != message and excerpt(value) != value:
            message = message.replace(value, excerpt(value))
    return message


def validation_messages(
    exc: ValidationError, model: type[BaseModel]
) -> list[tuple[KeyPath, str, bool]]:
    """Every error of a failed validation, in plain words, deduplicated.

    Past MAX_SAME_FINDINGS errors, one more message counts the rest: describing each
    costs a search for a close field name, and a document can hold 100,000 unknown keys.
    """
    seen: set[tuple[KeyPath, str]] = set()
    out: list[tuple[KeyPath, str, bool]] = []
    errors = exc.errors(include_url=False)
    for done, error in enumerate(errors):
        if len(out) == MAX_SAME_FINDINGS - 1:  # and this one: no more than the report shows
            more = len(errors) - done
            out.append(
                (
                    (),
                    f"{more:,} more schema error{'s' if more > 1 else ''} in this entity not "
                    "shown: fix the ones above and check again",
                    False,
                )
            )
            break
        path, message, at_key = describe(error, model)
        if (path, message) in seen:
            continue
        seen.add((path, message))
        out.append((path, message, at_key))
    return out

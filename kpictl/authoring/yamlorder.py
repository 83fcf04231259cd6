"""The order `kpictl fmt` puts keys in: the order of the fields in the pydantic models.

A document's kind picks its model (kpictl.yaml's is Settings); keys the model does not
know go after the known ones (and before `labels`), so `check` still reports them."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel

from kpictl.registry.config import Settings
from kpictl.registry.models import KINDS

_Fields = dict[str, type[BaseModel] | None]
_FIELD_CACHE: dict[type[BaseModel], _Fields] = {}


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model class inside `list[X]`, `X | None`, `Annotated[...]`; None for dicts."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) is dict:
        return None
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def fields_of(model: type[BaseModel]) -> _Fields:
    """The keys of `model` in canonical order (`labels` last), each with its nested model."""
    cached = _FIELD_CACHE.get(model)
    if cached is not None:
        return cached
    out: _Fields = {}
    for name, info in model.model_fields.items():
        out[info.alias or name] = _model_in(info.annotation)
    if "labels" in out:
        out["labels"] = out.pop("labels")
    _FIELD_CACHE[model] = out
    return out


def _rank(fields: _Fields) -> dict[str, int]:
    ranks = {key: index for index, key in enumerate(fields)}
    if "labels" in ranks:
        ranks["labels"] = len(fields) + 1  # after unknown keys, which rank len(fields)
    return ranks


def reorder(node: Any, model: type[BaseModel] | None) -> None:
    """Put the keys of `node` (and of its nested mappings) in the order of `model`."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(node, CommentedSeq):
        for item in node:
            reorder(item, model)
        return
    if not isinstance(node, CommentedMap):
        return
    if model is None:
        for value in node.values():
            reorder(value, None)
        return
    fields = fields_of(model)
    ranks = _rank(fields)
    keys = list(node.keys())
    wanted = sorted(
        keys, key=lambda key: ranks.get(key, len(fields)) if isinstance(key, str) else len(fields)
    )
    if wanted != keys:
        for key in wanted:
            node.move_to_end(key)
    for key, value in node.items():
        child = fields.get(key) if isinstance(key, str) else None
        if child is not None:
            reorder(value, child)


def document_model(data: Any, root_file: bool) -> type[BaseModel] | None:
    if root_file:
        return Settings
    if isinstance(data, dict):
        kind = data.get("kind")
        if isinstance(kind, str):
            return KINDS.get(kind)
    return None

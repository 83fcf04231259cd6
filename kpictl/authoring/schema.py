"""JSON Schema (draft 2020-12) for registry files, generated from the pydantic models.

Editors use it to complete and check YAML as it is typed (the YAML language server
reads `yaml.schemas` from .vscode/settings.json). The schema accepts what the
models accept, as the YAML loader hands it over: dates stay text, a single id may
stand for a list of ids, a year-only period may be a number, and text fields take
numbers too (`name: 2026` is read as the text "2026"). `kpictl check` remains the
judge: references, ownership and the other rules are beyond a schema.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import BaseModel, Field, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from kpictl.numbers.periods import PERIOD_PATTERN
from kpictl.registry import config, models
from kpictl.registry.bounds import MAX_VALUE

DIALECT = "https://json-schema.org/draft/2020-12/schema"
# An identifier, not a download location: editors are pointed at the files themselves.
ID_BASE = "https://kpictl.example/schema/v1/"
ROOT_SCHEMA = "kpictl.schema.json"
ENTITY_SCHEMA = "entity.schema.json"

DESCRIPTIONS: dict[str, str] = {
    "person": "A person who can own KPIs and data sources, approve and be notified.",
    "team": "A team; where a team is named as a recipient or approver, its lead is meant.",
    "data_source": "A system of record or derived dataset; lineage is a chain of these.",
    "kpi": "A KPI: what it measures, who answers for it, where the data comes from, "
    "its targets and its escalation policy.",
    "escalation_policy": "Tiers of escalation that fire when a KPI misses its target "
    "to date by a percentage, or when its data is out.",
    "campaign": "A campaign charter: context, objective, KPIs, DACI, timeline and sign-off.",
    "glossary_term": "A shared definition that KPIs point to.",
}


def _ecma(pattern: re.Pattern[str]) -> str:
    """A Python pattern as a JSON Schema (ECMA-262) one, anchored at both ends."""
    text = pattern.pattern.removesuffix(r"\Z").replace('\\"', '"')
    return f"^{text}$"


_ID = _ecma(models.ID_PATTERN)
_ROLES = "|".join(re.escape(role) for role in models.ROLES)
_RECIPIENT = f"^(?:{_ROLES}|{_ID[1:-1]})$"
_DURATION = r"^\s*[1-9][0-9]*\s*[hd]\s*$"
_PERIOD = _ecma(PERIOD_PATTERN)
_RULE_SETTINGS = ("error", "warning", "info", "off")


def _after_patterns() -> dict[Callable[..., Any], JsonSchemaValue]:
    """What each of the models' text checks allows, as a schema."""
    found: dict[Callable[..., Any], JsonSchemaValue] = {
        models._check_id: {"type": "string", "pattern": _ID},
        models._check_ref: {"type": "string", "pattern": _RECIPIENT},
        models._check_duration: {
            "type": "string",
            "pattern": _DURATION,
            "description": "A response time in hours or days, like 24h or 3d.",
        },
        models._check_amount: {
            "type": "number",
            "minimum": -MAX_VALUE,
            "maximum": MAX_VALUE,
        },
        models._check_spend: {"type": "number", "minimum": 0, "maximum": MAX_VALUE},
        models._check_email: {
            "type": "string",
            "pattern": _ecma(models.EMAIL_PATTERN),
            "format": "email",
        },
        models._check_currency: {
            "type": "string",
            "pattern": _ecma(models.CURRENCY_PATTERN),
            "description": "An ISO 4217 currency code, like EUR or USD.",
        },
    }
    github = getattr(models, "_check_github", None)
    github_pattern = getattr(models, "GITHUB_PATTERN", None)
    if github is not None and isinstance(github_pattern, re.Pattern):
        found[github] = {"type": "string", "pattern": _ecma(github_pattern)}
    return found


class _Generator(GenerateJsonSchema):
    """pydantic's generator, taught what kpictl's validators accept."""

    def str_schema(self, schema: core_schema.StringSchema) -> JsonSchemaValue:
        out = super().str_schema(schema)
        # The models read numbers as text (coerce_numbers_to_str).
        if out.get("type") == "string" and len(out) == 1:
            return {"type": ["string", "number"]}
        return out

    def function_after_schema(
        self, schema: core_schema.AfterValidatorFunctionSchema
    ) -> JsonSchemaValue:
        out = super().function_after_schema(schema)
        known = _after_patterns().get(schema["function"]["function"])
        return {**known} if known is not None else out

    def function_before_schema(
        self, schema: core_schema.BeforeValidatorFunctionSchema
    ) -> JsonSchemaValue:
        out = super().function_before_schema(schema)
        function = schema["function"]["function"]
        if function is models._listify and out.get("type") == "array":
            return {"anyOf": [dict(out["items"]), out]}
        if function is models._check_period:
            return {
                "anyOf": [
                    {"type": "string", "pattern": _PERIOD},
                    {"type": "integer", "minimum": 1000, "maximum": 9999},
                ],
                "description": "YYYY-Qn (2026-Q4), YYYY-MM (2026-11) or YYYY (2026).",
            }
        if function is config._rule_setting:
            letters = "|".join(
                "".join(f"[{c.upper()}{c}]" for c in word) for word in _RULE_SETTINGS
            )
            return {
                "anyOf": [
                    {"enum": list(_RULE_SETTINGS)},
                    {"type": "string", "pattern": f"^(?:{letters})$"},
                    {"const": False},
                ]
            }
        return out


def _strip_titles(node: Any, keep: bool = True) -> Any:
    """Drop the titles pydantic derives from field names ("Approved By"): noise in hovers."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "title" and not keep:
                continue
            if key == "properties" and isinstance(value, dict):
                out[key] = {name: _strip_titles(item, False) for name, item in value.items()}
            elif key == "$defs" and isinstance(value, dict):
                out[key] = {name: _strip_titles(item, True) for name, item in sorted(value.items())}
            else:
                out[key] = _strip_titles(value, keep and key not in ("items", "anyOf"))
        return out
    if isinstance(node, list):
        return [_strip_titles(item, False) for item in node]
    return node


def _model_schema(model: type[BaseModel]) -> JsonSchemaValue:
    return model.model_json_schema(mode="validation", schema_generator=_Generator)


def _document(name: str, title: str, description: str, body: JsonSchemaValue) -> JsonSchemaValue:
    head: JsonSchemaValue = {
        "$schema": DIALECT,
        "$id": ID_BASE + name,
        "title": title,
        "description": description,
    }
    body = {key: value for key, value in body.items() if key not in ("title", "description")}
    out: JsonSchemaValue = _strip_titles({**head, **body})
    return out


def _root_schema() -> JsonSchemaValue:
    from kpictl.check.catalog import RULES

    body = _model_schema(config.Settings)
    names: list[str] = []
    for rule in RULES.values():
        names.extend((rule.code, rule.code.lower(), rule.name))
    body["properties"]["rules"]["propertyNames"] = {"enum": names}
    return _document(
        ROOT_SCHEMA,
        "kpictl.yaml",
        "The root of a kpictl registry: format version, organization, time zone, "
        "fiscal calendar, excluded files, rule settings and email settings.",
        body,
    )


def _entity_schema() -> JsonSchemaValue:
    union = Union[tuple(models.KINDS.values())]  # type: ignore[valid-type]  # noqa: UP007
    adapter: TypeAdapter[Any] = TypeAdapter(
        Annotated[union, Field(discriminator="kind")]  # type: ignore[arg-type]
    )
    body = adapter.json_schema(mode="validation", schema_generator=_Generator)
    for kind, model in models.KINDS.items():
        definition = body["$defs"][model.__name__]
        definition["description"] = DESCRIPTIONS.get(kind, "")
    return _document(
        ENTITY_SCHEMA,
        "kpictl entity",
        "Any document of a kpictl registry other than kpictl.yaml; `kind` says which.",
        body,
    )


def schemas() -> dict[str, JsonSchemaValue]:
    """Every schema kpictl publishes, by file name."""
    out: dict[str, JsonSchemaValue] = {
        ROOT_SCHEMA: _root_schema(),
        ENTITY_SCHEMA: _entity_schema(),
    }
    for kind, model in models.KINDS.items():
        name = f"{kind}.schema.json"
        out[name] = _document(
            name, f"kpictl {kind}", DESCRIPTIONS.get(kind, ""), _model_schema(model)
        )
    return out


def render(schema: JsonSchemaValue) -> str:
    """One schema as the text kpictl writes: stable, indented, ending in a newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write(folder: Path) -> list[Path]:
    """Write every schema into `folder` (created if need be), each file whole."""
    from kpictl.fileio import make_folder, write_atomic

    make_folder(folder)
    written = []
    for name, schema in schemas().items():
        path = folder / name
        write_atomic(path, render(schema))
        written.append(path)
    return written

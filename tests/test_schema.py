"""`kpictl schema`: JSON Schema 2020-12 that accepts what the models accept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from kpictl.authoring.schema import DIALECT, ENTITY_SCHEMA, ROOT_SCHEMA, render, schemas
from kpictl.registry.config import Settings
from kpictl.registry.loader import parse_text
from kpictl.registry.models import KINDS
from kpictl.registry.reading import discover, read_file
from tests.conftest import EXAMPLE, ROOT, Run

COMMITTED = ROOT / "schema"
REGENERATE = "run `kpictl schema --out schema/` and commit the result"


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schemas()[name], format_checker=Draft202012Validator.FORMAT_CHECKER)


def documents(text: str) -> list[Any]:
    found, findings = parse_text(Path("x.yaml"), text)
    assert findings == []
    return [document.data for document in found]


def test_committed_schemas_are_up_to_date(run: Run, tmp_path: Path) -> None:
    result = run("schema", "--out", str(tmp_path / "fresh"))
    assert result.code == 0, result.err
    fresh = {path.name: path.read_text() for path in (tmp_path / "fresh").iterdir()}
    committed = {path.name: path.read_text() for path in COMMITTED.glob("*.json")}
    assert sorted(committed) == sorted(fresh), f"schema/ holds other files: {REGENERATE}"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"schema/{', schema/'.join(stale)} out of date with the models: {REGENERATE}"


@pytest.mark.parametrize("name", sorted(schemas()))
def test_every_schema_is_valid_2020_12_and_every_ref_resolves(name: str) -> None:
    schema = schemas()[name]
    assert schema["$schema"] == DIALECT
    assert schema["$id"].endswith("/" + name)
    Draft202012Validator.check_schema(schema)
    resolver = (
        Registry()
        .with_resource(schema["$id"], Resource.from_contents(schema))
        .resolver(schema["$id"])
    )
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    for ref in refs:
        assert resolver.lookup(ref).contents, ref
    if name == ENTITY_SCHEMA:
        assert len(refs) >= len(KINDS)


def test_entity_schema_is_one_of_the_kinds_discriminated_on_kind() -> None:
    schema = schemas()[ENTITY_SCHEMA]
    assert schema["discriminator"]["propertyName"] == "kind"
    assert sorted(schema["discriminator"]["mapping"]) == sorted(KINDS)
    assert len(schema["oneOf"]) == len(KINDS)
    for kind, model in KINDS.items():
        definition = schema["$defs"][model.__name__]
        assert definition["properties"]["kind"]["const"] == kind
        assert definition["additionalProperties"] is False
    for kind in KINDS:
        per_kind = schemas()[f"{kind}.schema.json"]
        assert per_kind["properties"]["kind"]["const"] == kind


def test_the_example_registry_validates() -> None:
    entity, root = validator(ENTITY_SCHEMA), validator(ROOT_SCHEMA)
    checked = 0
    for path in [EXAMPLE / "kpictl.yaml", *discover(EXAMPLE, ["drafts/**"])]:
        for document in read_file(path, path).documents:
            which = root if path.name == "kpictl.yaml" else entity
            errors = [
                f"{path}: {e.json_path}: {e.message}" for e in which.iter_errors(document.data)
            ]
            assert errors == []
            checked += 1
    assert checked > 40


def test_what_the_yaml_holds_is_accepted() -> None:
    entity = validator(ENTITY_SCHEMA)
    kpi = """
kind: kpi
id: x
name: 2026
description: d
formula: f
unit: count
direction: increase
stage: awareness
indicator: leading
audience: internal
owners: {primary: ann, backup: bob}
sources: crm
cadence: {refresh: daily, review: weekly}
targets:
  - {period: 2026, value: 1}
  - {period: 2026-Q4, value: 1.5}
  - {period: "2026-11", value: 2}
escalation: standard
labels: {tier: gold, rank: 3}
"""
    (data,) = documents(kpi)
    assert list(entity.iter_errors(data)) == []
    campaign = """
kind: campaign
id: c
name: C
status: draft
context: x
objective: y
strategies: One strategy
primary_kpi: {kpi: x}
daci: {driver: ann, approver: bob, contributors: cat}
timeline: {start: 2026-10-01, end: 2026-12-31}
sign_off: [{by: bob, date: 2026-09-01}]
"""
    (data,) = documents(campaign)
    assert list(entity.iter_errors(data)) == []


@pytest.mark.parametrize(
    ("yaml", "word"),
    [
        ("kind: person\nid: Ann\nname: A\nemail: a@b.example\nteam: t\n", "does not match"),
        ("kind: person\nid: a\nname: A\nemail: nope\nteam: t\n", "does not match"),
        ("kind: person\nid: a\nname: A\nemail: a@b.example\nteam: t\nnmae: x\n", "Additional"),
        ("kind: team\nid: t\nname: T\nfunction: sales-ops\n", "is not one of"),
        ("kind: widget\nid: w\n", "kind"),
        (
            "kind: campaign\nid: c\nname: C\nstatus: draft\ncontext: x\nobjective: y\n"
            "primary_kpi: {kpi: x}\ndaci: {driver: a, approver: b}\n"
            "timeline: {start: 2026-13-01, end: 2026-12-31}\n",
            "date",
        ),
        (
            "kind: escalation_policy\nid: p\nname: P\ntiers:\n  - {level: 1, name: L, "
            "deviation_pct: 5, respond_within: soon, notify: [$owner]}\n",
            "does not match",
        ),
    ],
)
def test_what_the_models_refuse_the_schema_refuses(yaml: str, word: str) -> None:
    (data,) = documents(yaml)
    assert list(validator(ENTITY_SCHEMA).iter_errors(data))
    kind = data["kind"]
    name = f"{kind}.schema.json" if kind in KINDS else ENTITY_SCHEMA
    errors = list(validator(name).iter_errors(data))
    assert errors
    text = " ".join(error.message for error in errors)
    assert word in text, text


def test_root_schema_accepts_rule_names_and_settings_spellings() -> None:
    (data,) = documents("version: 1\nrules: {O004: off, owner-overload: Warning, t001: false}\n")
    assert list(validator(ROOT_SCHEMA).iter_errors(data)) == []
    Settings.model_validate(data)
    (bad,) = documents("version: 1\nrules: {Z999: off}\nsmtp_password: x\n")
    assert len(list(validator(ROOT_SCHEMA).iter_errors(bad))) == 2


def test_print_one_schema(run: Run) -> None:
    result = run("schema", "--kind", "kpi")
    assert result.code == 0
    assert result.out == render(schemas()["kpi.schema.json"])
    assert json.loads(result.out)["title"] == "kpictl kpi"
    wrong = run("schema", "--kind", "widget")
    assert wrong.code == 2
    assert "'widget' is not a schema" in wrong.err

"""Property tests: whatever the input, the loader and the check report findings, never raise.

Examples are derandomized so the suite is repeatable; raise max_examples locally
(`KPICTL_FUZZ=5000 python -m pytest tests/test_properties.py`) to search harder.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from kpictl.check.catalog import RULES
from kpictl.check.check import check
from kpictl.check.findings import Finding
from kpictl.registry.loader import SourceFile, parse_text
from kpictl.registry.reading import read_file
from kpictl.registry.registry import load_registry
from tests.helpers import BASE

EXAMPLES = int(os.environ.get("KPICTL_FUZZ", "300"))
# Whole-registry examples are slow to shrink (each one writes files and runs every rule);
# their draws are printed unshrunk, which is readable enough for a mutated BASE.
NO_SHRINK = [Phase.explicit, Phase.reuse, Phase.generate]
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def assert_findings(findings: list[Finding], text: str | None = None) -> None:
    for item in findings:
        assert isinstance(item, Finding)
        assert item.code in RULES
        assert item.message
        assert item.location.line >= 1
        assert item.location.column >= 1
        if text is not None:
            # At most one line past the last line break (libyaml ends the stream on a
            # line of its own); YAML also breaks lines at NEL, LS and PS.
            breaks = sum(text.count(c) for c in "\n\r\x85\u2028\u2029")
            assert item.location.line <= breaks + 2


# --- the loader ------------------------------------------------------------------------------

TOKENS = [
    "kind", "id", "name", "a", "b", "x1", "2026-Q4", "12", "1.5", "null", "~", "yes", "true",
    ":", ": ", "-", "- ", ",", "[", "]", "{", "}", "? ",
    "&a ", "*a", "&b ", "*b", "!!tag ", "!!python/object:os.system ", "!t ", "<<", "<<: ",
    "'", '"', "\\", "|", ">", "%YAML 1.2", "%TAG ! tag:x,2000:",
    "\n", "\r\n", " ", "  ", "    ", "\t", "---", "...", "#", "# kpictl: ignore[O004]",
    "é", "\ufeff", "\x85", "\u2028", "\x00", "\x07",
]  # fmt: skip
yamlish = st.lists(st.sampled_from(TOKENS), max_size=80).map("".join)


@FUZZ
@given(yamlish)
def test_yamlish_text_never_raises(text: str) -> None:
    documents, findings = parse_text(Path("f.yaml"), text)
    assert_findings(findings, text)
    for document in documents:
        assert document.start.line >= 1


@FUZZ
@given(st.text(max_size=300))
def test_random_text_never_raises(text: str) -> None:
    _, findings = parse_text(Path("f.yaml"), text)
    assert_findings(findings, text)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _read(folder: Path, raw: bytes) -> SourceFile:
    path = folder / "f.yaml"
    path.write_bytes(raw)
    return read_file(path, Path("f.yaml"))


@FUZZ
@given(raw=st.binary(max_size=300))
def test_random_bytes_never_raise(scratch: Path, raw: bytes) -> None:
    source = _read(scratch, raw)
    assert_findings(source.findings)


@FUZZ
@given(text=yamlish, encoding=st.sampled_from(["utf-8", "utf-16", "latin-1", "utf-8-sig"]))
def test_yamlish_bytes_in_any_encoding_never_raise(scratch: Path, text: str, encoding: str) -> None:
    raw = text.encode(encoding, errors="replace")
    source = _read(scratch, raw)
    assert_findings(source.findings)
    if encoding == "utf-16" and text:
        # UTF-16 is not UTF-8 (and its NUL bytes make it binary): never parsed as YAML.
        assert source.documents == []
        assert [f.code for f in source.findings] == ["Y001"]


@FUZZ
@given(text=yamlish)
def test_loader_is_deterministic(text: str) -> None:
    first = parse_text(Path("f.yaml"), text)
    second = parse_text(Path("f.yaml"), text)
    assert repr([d.data for d in first[0]]) == repr([d.data for d in second[0]])
    assert first[1] == second[1]


# --- the whole check on random registries -----------------------------------------------------

VALUES: list[Any] = [
    None, True, False, 0, 1, -1, 5, 1.5, 10**12, "", "x", "ann", "bob", "crm", "mql", "standard",
    "mql-term", "demand-gen", "spring-push", "Ann Lee", "$owner", "$backup", "$owner.manager",
    "$source.owner", "$boss", "daily", "hourly", "weekly", "monthly", "count", "percent",
    "increase", "business", "internal", "active", "complete", "draft", "2026-Q4", "2026-11",
    "2026", "2026-Q5", "2026-10-01", "2026-13-01", "24h", "3d", "marketing", "person", "team",
    "kpi", "data_source", "escalation_policy", "campaign", "glossary_term", [], {},
]  # fmt: skip
FIELDS = [
    "kind", "id", "name", "email", "team", "manager", "active", "lead", "function", "owner",
    "refresh", "upstream", "fallback", "owners", "primary", "backup", "sources", "cadence",
    "review", "targets", "period", "value", "escalation", "tiers", "level", "deviation_pct",
    "respond_within", "notify", "approver", "on_data_outage", "status", "primary_kpi",
    "secondary_kpis", "kpi", "daci", "driver", "timeline", "start", "end", "readouts",
    "sign_off", "by", "date", "retrospective", "definition", "labels", "unit", "audience",
]  # fmt: skip

scalars = st.sampled_from(VALUES)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(FIELDS), inner, max_size=4)
    ),
    max_leaves=8,
)


def _entities() -> list[dict[str, Any]]:
    """BASE's entities as plain data, the starting point for mutations."""
    out: list[Any] = []
    for name, text in sorted(BASE.items()):
        documents, findings = parse_text(Path(name), text)
        assert findings == []
        out.extend(document.data for document in documents)
    return out


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield (*prefix, i)
            yield from _paths(item, (*prefix, i))


def _mutate(data: st.DataObject, entity: dict[str, Any]) -> None:
    paths = list(_paths(entity))
    path = data.draw(st.sampled_from(paths))
    parent: Any = entity
    for part in path[:-1]:
        parent = parent[part]
    action = data.draw(st.sampled_from(["set", "delete", "add"]))
    if action == "delete" and isinstance(parent, dict):
        del parent[path[-1]]
    elif action == "add" and isinstance(parent, dict):
        parent[data.draw(st.sampled_from(FIELDS))] = data.draw(values)
    else:
        parent[path[-1]] = data.draw(values)


def _write(root: Path, settings_doc: dict[str, Any], entities: list[dict[str, Any]]) -> None:
    # JSON is YAML: every generated value survives the trip exactly.
    (root / "kpictl.yaml").write_text(json.dumps(settings_doc))
    for i, entity in enumerate(entities):
        (root / f"e{i}.yaml").write_text(json.dumps(entity, indent=1))


SETTINGS = st.fixed_dictionaries(
    {"version": st.sampled_from([1, 1, 1, 2, "1"])},
    optional={
        "fiscal_year_start_month": st.sampled_from([1, 4, 7, 12, 0, 13, "x"]),
        "owner_kpi_limit": st.sampled_from([1, 2, 0, "x"]),
        "rules": st.sampled_from([{"T001": "error"}, {"O004": "off"}, {"bogus": "off"}, []]),
        "exclude": st.sampled_from([["e1.yaml"], ["**"], "e1.yaml", [1]]),
        "timezone": st.sampled_from(["UTC", "Europe/Berlin", "Nowhere/Land", ""]),
    },
)


@settings(
    max_examples=max(EXAMPLES // 3, 50),
    deadline=None,
    derandomize=True,
    phases=NO_SHRINK,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data(), settings_doc=SETTINGS, mutations=st.integers(0, 6))
def test_mutated_registry_never_raises(
    data: st.DataObject, settings_doc: dict[str, Any], mutations: int
) -> None:
    entities = _entities()
    for _ in range(mutations):
        _mutate(data, data.draw(st.sampled_from(entities)))
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        _write(root, settings_doc, entities)
        result = check(root, today=date(2026, 11, 20), cwd=root)
    assert_findings(result.findings)


@settings(max_examples=max(EXAMPLES // 3, 50), deadline=None, derandomize=True, phases=NO_SHRINK)
@given(
    entities=st.lists(
        st.dictionaries(st.sampled_from(FIELDS), values, max_size=8).map(
            lambda d: {**d, "kind": d.get("kind", "kpi")}
        ),
        max_size=6,
    )
)
def test_random_mappings_load_without_raising(entities: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        _write(root, {"version": 1}, entities)
        registry, findings = load_registry(root, cwd=root)
    assert_findings(findings)
    assert len(registry.files) == len(entities) + 1

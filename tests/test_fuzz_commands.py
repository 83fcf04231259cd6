"""Fuzz every registry-reading command: a mutated example registry never escapes as a bug.

kpictl runs on pull requests whose files an attacker writes. Hypothesis mutates the
example registry (entity fields, kpictl.yaml settings, the actuals CSV) with ordinary
and absurd values, then runs each command that reads a registry, in-process, in every
output format. Whatever the registry holds, each command ends in findings, output or
a one-line error with exit code 0, 1 or 2: never "internal error", never a traceback.

Derandomized and bounded so the suite is repeatable; search harder locally with
`KPICTL_FUZZ_COMMANDS=200 python -m pytest tests/test_fuzz_commands.py`.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from kpictl.__main__ import main
from kpictl.registry.loader import parse_text
from tests.conftest import AS_OF, EXAMPLE

EXAMPLES = int(os.environ.get("KPICTL_FUZZ_COMMANDS", "12"))

# Stand-ins for values JSON cannot spell; swapped for their YAML after dumping.
_YAML_ONLY = {"__NAN__": ".nan", "__INF__": ".inf", "__NINF__": "-.inf"}

HOSTILE: list[Any] = [
    None, True, 0, -1, 1.5, 10**30, -(10**30), 1e308, -1e308, 99999999999,
    "__NAN__", "__INF__", "__NINF__",
    "", "x", "a" * 300, "2026-02-30", "9999-12-31", "0001-01-01", "2026-Q4", "2026-Q9",
    "99999999999h", "24h", "0h", "Europe", "Europe/Berlin", "../../etc/passwd", "/",
    "=HYPERLINK(\"http://evil.example\")", "+1", "-1", "@SUM(A1)",
    "name\x1b[31m red\x07\x00\r", "line\n::error file=x::forged",
    "Marcus =?utf-8?q?=0D=0ABcc:_evil@evil.example=0D=0A=0D=0APay?= Webb",
    "<script>alert(1)</script>", "{{ 7 * 7 }}", "$owner", "$owner.manager", "$source.owner",
    "maria-okafor", "lucia-ferraro", "standard", "mql", "pipeline-sourced", "revops",
    [], {}, ["mql"], [99999999999],
]  # fmt: skip

SETTINGS_FIELDS: dict[str, list[Any]] = {
    "timezone": ["UTC", "Europe", "Nowhere/Land", "a" * 300, "../../etc/localtime", ""],
    "fiscal_year_start_month": [1, 4, 12, 0, 13, "__NAN__"],
    "owner_kpi_limit": [1, 0, -1, 10**30],
    "templates": ["..", "/", "templates", "does-not-exist"],
    "exclude": [["**"], ["kpis/**"], "x", [1]],
    "organization": ["Acme\r\nBcc: evil@evil.example", "=cmd", "\x1b]0;title\x07"],
}

ACTUAL_VALUES = ["1225", "-1e308", "1e308", "nan", "inf", "", "x" * 2000, "=1+1", "0", "-0"]
ACTUAL_DATES = ["2026-11-20", "9999-12-31", "0001-01-01", "2026-02-30", "", "yesterday"]


def _documents() -> dict[str, list[dict[str, Any]]]:
    """The example registry's files as plain data (relative path -> its documents)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(EXAMPLE.rglob("*.yaml")):
        relative = path.relative_to(EXAMPLE).as_posix()
        documents, findings = parse_text(Path(relative), path.read_text(encoding="utf-8"))
        assert findings == []
        out[relative] = [document.data for document in documents]
    return out


DOCUMENTS = _documents()
ACTUALS = sorted((EXAMPLE / "actuals").glob("*.csv"))[0]
ACTUAL_ROWS = list(csv.DictReader(io.StringIO(ACTUALS.read_text(encoding="utf-8"))))


def _dump(documents: list[dict[str, Any]]) -> str:
    text = "\n---\n".join(json.dumps(document, indent=1) for document in documents)
    for stand_in, spelling in _YAML_ONLY.items():
        text = text.replace(f'"{stand_in}"', spelling)
    return text + "\n"


def _leaf_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths: list[tuple[Any, ...]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        paths.append((*prefix, key))
        if isinstance(item, dict | list) and item:
            paths.extend(_leaf_paths(item, (*prefix, key)))
    return paths


def _mutate(data: st.DataObject, document: dict[str, Any]) -> None:
    path = data.draw(st.sampled_from(_leaf_paths(document)))
    parent: Any = document
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = data.draw(st.sampled_from(HOSTILE))


def _build(data: st.DataObject, root: Path, mutations: int) -> None:
    documents = json.loads(json.dumps(DOCUMENTS))
    files = sorted(name for name in documents if name != "kpictl.yaml")
    for _ in range(mutations):
        name = data.draw(st.sampled_from(files))
        _mutate(data, data.draw(st.sampled_from(documents[name])))
    for key, choices in SETTINGS_FIELDS.items():
        if data.draw(st.integers(0, 5)) == 0:
            documents["kpictl.yaml"][0][key] = data.draw(st.sampled_from(choices))
    for name, items in documents.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_dump(items), encoding="utf-8")
    rows = [dict(row) for row in ACTUAL_ROWS]
    for _ in range(data.draw(st.integers(0, 3))):
        row = data.draw(st.sampled_from(rows))
        row["value"] = data.draw(st.sampled_from(ACTUAL_VALUES))
        row["as_of"] = data.draw(st.sampled_from(ACTUAL_DATES))
    with (root / "actuals.csv").open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(ACTUAL_ROWS[0]))
        writer.writeheader()
        writer.writerows(rows)


def _commands(root: Path, out: Path) -> list[list[str]]:
    """Every command that reads a registry, in every output format it has."""
    reg, actuals = str(root), str(root / "actuals.csv")
    numbers = ["-a", actuals, "--as-of", AS_OF]
    commands = [["check", reg, "--as-of", AS_OF, "-f", fmt] for fmt in ("text", "json", "github")]
    commands += [["check", reg, "--as-of", AS_OF, "-f", fmt] for fmt in ("sarif", "junit")]
    commands += [["check", reg, "--show-source"], ["fmt", "--check", reg]]
    commands += [["map", reg, "-f", fmt] for fmt in ("text", "markdown", "mermaid", "dot", "json")]
    commands += [["map", reg, "-f", "html", "-o", str(out / "map.html")]]
    commands += [["who", "maria-okafor", reg], ["who", "revops", reg]]
    commands += [
        ["status", reg, *numbers, "-f", fmt] for fmt in ("text", "markdown", "json", "csv")
    ]
    commands += [["escalate", reg, *numbers, "--out", str(out / "escalate")]]
    for campaign in ("q4-legacy-bi-displacement", "data-leaders-webinars-2026"):
        for command in ("kickoff", "readout", "recap"):
            commands.append([command, campaign, reg, *numbers, "--out", str(out / command)])
    draft = "q1-2027-analytics-plus-upsell"
    commands += [["review-request", draft, reg, *numbers, "--out", str(out / "review")]]
    commands += [["calendar", reg, "--from", "2026-10-01", "--to", "2026-12-31"]]
    commands += [["drill", "mql", reg, "--deviation", "40"], ["drill", "mql", reg, "--outage"]]
    commands += [["codeowners", reg, "--check"]]
    return commands


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data(), mutations=st.integers(1, 8))
def test_every_command_survives_a_mutated_registry(
    capsys: pytest.CaptureFixture[str], data: st.DataObject, mutations: int
) -> None:
    folder = Path(tempfile.mkdtemp(prefix="kpictl-fuzz-"))
    try:
        root, out = folder / "registry", folder / "out"
        _build(data, root, mutations)
        out.mkdir()
        for args in _commands(root, out):
            code = main(args)
            captured = capsys.readouterr()
            context = f"kpictl {' '.join(args)} -> {code}\n{captured.err[-2000:]}"
            assert code in (0, 1, 2), context
            assert "internal error" not in captured.err, context
            assert "Traceback" not in captured.err, context
    finally:
        shutil.rmtree(folder, ignore_errors=True)

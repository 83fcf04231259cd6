"""`kpictl check` on `connection:` names and on URLs that hold a password.

One line per case, as in tests/test_rules.py: settings and patches to BASE in, the
exact (code, file, line) and message out. Check never imports SQLAlchemy or a
database driver for any of it (tests/test_pull.py proves that in a fresh interpreter).
"""

# ruff: noqa: E501  (case tables: one case per line)

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import Patch, Run, findings, make, messages

ONE = "version: 1\nconnections:\n  warehouse: {url: 'duckdb:///:memory:'}\n"
TWO = ONE + "  crm: {url: 'postgresql+psycopg://kpictl:${CRM_PASSWORD}@db.example/crm'}\n"
NONE = "version: 1\n"
# A schema error elsewhere in kpictl.yaml: the names written still count.
BROKEN = ONE + "owner_kpi_limit: lots\n"
ACTUAL = "escalation: standard\nactual:\n  connection: {name}\n  sql: select 1 as value\n"
FRESHNESS = "refresh: daily\nfreshness:\n  connection: {name}\n  sql: select current_date\n"


def actual(name: str) -> Patch:
    return ("kpi.yaml", "escalation: standard\n", ACTUAL.format(name=name))


def freshness(name: str) -> Patch:
    return ("source.yaml", "refresh: daily\n", FRESHNESS.format(name=name))


# fmt: off
CASES = [
    pytest.param(ONE, [actual("warehouse")], [], [], id="actual-known"),
    pytest.param(ONE, [freshness("warehouse")], [], [], id="freshness-known"),
    pytest.param(TWO, [actual("crm"), freshness("warehouse")], [], [], id="both-known"),
    pytest.param(ONE, [actual("warehose")], [("R002", "kpi.yaml", 24)], ["actual.connection names 'warehose', which is not a connection in kpictl.yaml; did you mean 'warehouse'?"], id="actual-typo"),
    pytest.param(TWO, [freshness("cmr")], [("R002", "source.yaml", 8)], ["freshness.connection names 'cmr', which is not a connection in kpictl.yaml; did you mean 'crm'?"], id="freshness-typo"),
    pytest.param(TWO, [actual("finance")], [("R002", "kpi.yaml", 24)], ["actual.connection names 'finance', which is not a connection in kpictl.yaml (it has crm, warehouse)"], id="actual-far-off"),
    pytest.param(NONE, [actual("warehouse")], [("R002", "kpi.yaml", 24)], ["actual.connection names 'warehouse', but kpictl.yaml defines no connections: add it under `connections:` with its SQLAlchemy URL"], id="no-connections"),
    pytest.param(ONE, [actual("Warehouse")], [("R002", "kpi.yaml", 24)], ["actual.connection names 'Warehouse', which is not a connection in kpictl.yaml; did you mean 'warehouse'?"], id="case-matters"),
    pytest.param(ONE, [actual("mql")], [("R002", "kpi.yaml", 24)], ["actual.connection names 'mql', which is not a connection in kpictl.yaml (it has warehouse)"], id="an-entity-id-is-no-connection"),
    pytest.param(BROKEN, [actual("warehouse")], [("S001", "kpictl.yaml", 4)], [], id="broken-settings-keep-names"),
    pytest.param(ONE, [actual("'ware\\thouse'")], [("R002", "kpi.yaml", 24)], ["actual.connection names 'ware\\thouse', which is not a connection in kpictl.yaml; did you mean 'warehouse'?"], id="escaped-in-message"),
]
# fmt: on


@pytest.mark.parametrize(("settings", "patches", "expected", "expected_messages"), CASES)
def test_connection_names(
    tmp_path: Path,
    settings: str,
    patches: list[Patch],
    expected: list[tuple[str, str, int]],
    expected_messages: list[str],
) -> None:
    make(tmp_path, *patches, settings=settings)
    assert findings(tmp_path) == expected
    assert messages(tmp_path, "R002") == expected_messages


PASSWORD = "hunter2-Xq9"
SECRET_SETTINGS = (
    "version: 1\n"
    "connections:\n"
    f"  crm: {{url: 'postgresql://kpictl:{PASSWORD}@db.example/crm'}}\n"
    "  dw:\n"
    f"    url: postgresql+psycopg://kpictl:{PASSWORD}%40x:y@db.example/dw\n"
    "  ok: {url: 'postgresql://kpictl:${DW_PASSWORD}@db.example/dw'}\n"
    f"store: sqlite://u:{PASSWORD}@x/y\n"
)


@pytest.mark.parametrize("output_format", ["text", "json", "sarif", "github", "junit"])
def test_show_source_never_shows_a_literal_password(
    tmp_path: Path, run: Run, output_format: str
) -> None:
    make(tmp_path, settings=SECRET_SETTINGS)
    result = run("check", str(tmp_path), "--show-source", "--format", output_format, cwd=tmp_path)
    assert result.code == 1
    assert PASSWORD not in result.out + result.err
    assert "hunter2" not in result.out + result.err
    if output_format == "json":
        found = [(item["code"], item["line"]) for item in json.loads(result.out)]
        assert found == [("S001", 3), ("S001", 5), ("S001", 7)]


def test_show_source_masks_the_password_and_keeps_the_caret(tmp_path: Path, run: Run) -> None:
    make(tmp_path, settings=SECRET_SETTINGS)
    result = run("check", ".", "--show-source", "--as-of", "2026-11-20", cwd=tmp_path)
    message = (
        "the URL holds a password: secrets never live in the registry; write ${NAME} "
        "in its place and set the environment variable NAME"
    )
    assert result.out.splitlines() == [
        f"kpictl.yaml:3:14: S001 [error] connections.crm.url: {message}",
        "    3 |   crm: {url: 'postgresql://kpictl:***@db.example/crm'}",
        "      |              ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^",
        f"kpictl.yaml:5:10: S001 [error] connections.dw.url: {message}",
        "    5 |     url: postgresql+psycopg://kpictl:***@db.example/dw",
        "      |          ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^",
        f"kpictl.yaml:7:8: S001 [error] store: {message}",
        "    7 | store: sqlite://u:***@x/y",
        "      |        ^^^^^^^^^^^^^^^^^^",
        "Found 3 errors, 0 warnings, 0 info in 8 files (check failed, failing on error).",
    ]


def test_an_environment_reference_is_shown_as_written(tmp_path: Path, run: Run) -> None:
    settings = ONE + "  crm: {url: 'postgresql://kpictl:${CRM_PASSWORD}@db.example/crm'}\n"
    make(tmp_path, actual("crn"), settings=settings)
    result = run("check", ".", "--show-source", "--as-of", "2026-11-20", cwd=tmp_path)
    assert result.out.splitlines()[:3] == [
        "kpi.yaml:24:15: R002 [error] actual.connection names 'crn', which is not a "
        "connection in kpictl.yaml; did you mean 'crm'?",
        "   24 |   connection: crn",
        "      |               ^^^",
    ]

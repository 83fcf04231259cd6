"""Names under `connections:` and `chat:`: identifiers, since `escalate --out` puts a
channel's name into a file name (`KPI.CHANNEL.json`) and messages quote both."""

# ruff: noqa: E501  (case tables: one case per line)

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import findings, make, messages

HOOK = '{kind: slack, url: "${HOOK}"}'
DB = '{url: "duckdb:///:memory:"}'
LONG = "w" * 64
HINT = "is not a name: use letters, digits, '-' and '_', starting with a letter or digit, at most 63 characters (e.g. 'warehouse', 'revops-room')"

# (kpictl.yaml after `version: 1`, expected findings, expected S001 message endings)
# fmt: off
CASES = [
    pytest.param(f"chat:\n  revops-room: {HOOK}\n  Exec_Room2: {HOOK}\n", [], [], id="names"),
    pytest.param(f"connections:\n  warehouse: {DB}\n  crm-2: {DB}\n", [], [], id="connections"),
    pytest.param(f'chat:\n  "../../escape": {HOOK}\n', [("S001", "kpictl.yaml", 3)], [f"'../../escape' {HINT}"], id="path"),
    pytest.param(f'chat:\n  "a/b": {HOOK}\n', [("S001", "kpictl.yaml", 3)], [f"'a/b' {HINT}"], id="slash"),
    pytest.param(f'chat:\n  ".hidden": {HOOK}\n', [("S001", "kpictl.yaml", 3)], [f"'.hidden' {HINT}"], id="dot"),
    pytest.param(f'chat:\n  "room\\u0007": {HOOK}\n', [("S001", "kpictl.yaml", 3)], [f"'room\\x07' {HINT}"], id="control"),
    pytest.param(f'connections:\n  "=?utf-8?q?x?=": {DB}\n', [("S001", "kpictl.yaml", 3)], [f"'=?utf-8?q?x?=' {HINT}"], id="encoded-word"),
    pytest.param(f"connections:\n  {LONG}: {DB}\n", [("S001", "kpictl.yaml", 3)], [f"'{LONG[:60]}' {HINT}"], id="too-long"),
]
# fmt: on


@pytest.mark.parametrize(("settings", "expected", "endings"), CASES)
def test_setting_names(
    tmp_path: Path, settings: str, expected: list[tuple[str, str, int]], endings: list[str]
) -> None:
    make(tmp_path, settings="version: 1\n" + settings)
    assert findings(tmp_path) == expected
    found = messages(tmp_path, "S001")
    assert len(found) == len(endings)
    for message, ending in zip(found, endings, strict=True):
        assert message.endswith(ending), message

"""R002 for `post_to`: a tier posts only to channels defined under `chat:` in kpictl.yaml."""

# ruff: noqa: E501  (case tables: one case per line, as in yamllint's tests)

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import AS_OF
from tests.helpers import Run, findings, make, messages

ROOM = 'version: 1\nchat:\n  revops-room: {kind: slack, url: "${SLACK_HOOK}"}\n  exec-room: {kind: teams, url: "${TEAMS_HOOK}"}\n'
NO_CHAT = "version: 1\n"
BROKEN_SETTINGS = ROOM + "owner_kpi_limit: zero\n"
APPROVER = "approver: $owner"

# (post_to as written after the tier's approver, kpictl.yaml, expected findings, expected messages)
# fmt: off
CASES = [
    pytest.param("\n    post_to: [revops-room]", ROOM, [], [], id="known"),
    pytest.param("\n    post_to: [revops-room, exec-room]", ROOM, [], [], id="two-known"),
    pytest.param("\n    post_to: exec-room", ROOM, [], [], id="single-name"),
    pytest.param("\n    post_to: [revops-rom]", ROOM, [("R002", "policy.yaml", 11)], ["tiers[0].post_to[0] names 'revops-rom', which is not a chat channel in kpictl.yaml; did you mean 'revops-room'?"], id="near-miss"),
    pytest.param("\n    post_to: [revops-room, sales-floor]", ROOM, [("R002", "policy.yaml", 11)], ["tiers[0].post_to[1] names 'sales-floor', which is not a chat channel in kpictl.yaml (it has exec-room, revops-room)"], id="unknown-second"),
    pytest.param("\n    post_to:\n      - revops-room\n      - exec-rom", ROOM, [("R002", "policy.yaml", 13)], ["tiers[0].post_to[1] names 'exec-rom', which is not a chat channel in kpictl.yaml; did you mean 'exec-room'?"], id="block-list-line"),
    pytest.param("\n    post_to: [revops-room]", NO_CHAT, [("R002", "policy.yaml", 11)], ["tiers[0].post_to[0] names 'revops-room', but kpictl.yaml defines no chat channels: add it under `chat:` with its kind and webhook URL"], id="no-chat-section"),
    pytest.param("\n    post_to: [revops-room]", BROKEN_SETTINGS, [("S001", "kpictl.yaml", 5)], [], id="settings-broken-elsewhere"),
    pytest.param("\n    post_to: [\"\\u001b[31mx\"]", ROOM, [("R002", "policy.yaml", 11)], ["tiers[0].post_to[0] names '\\x1b[31mx', which is not a chat channel in kpictl.yaml (it has exec-room, revops-room)"], id="escaped-name"),
]
# fmt: on


@pytest.mark.parametrize(("post_to", "settings", "expected", "texts"), CASES)
def test_post_to(
    tmp_path: Path,
    post_to: str,
    settings: str,
    expected: list[tuple[str, str, int]],
    texts: list[str],
) -> None:
    make(tmp_path, ("policy.yaml", APPROVER, APPROVER + post_to), settings=settings)
    assert findings(tmp_path) == expected
    assert messages(tmp_path, "R002") == texts


def test_cli_line_and_column(tmp_path: Path, run: Run) -> None:
    make(
        tmp_path, ("policy.yaml", APPROVER, APPROVER + "\n    post_to: [revops-rom]"), settings=ROOM
    )
    result = run("check", ".", "--as-of", AS_OF, cwd=tmp_path)
    assert result.code == 1
    assert result.out.splitlines()[0] == (
        "policy.yaml:11:15: R002 [error] tiers[0].post_to[0] names 'revops-rom', which is not "
        "a chat channel in kpictl.yaml; did you mean 'revops-room'?"
    )

"""Readouts that move (issue 14, item 6): each risk's status, and, for a KPI behind pace,
the decision needed: from the tier of the KPI's escalation policy that the campaign's
shortfall reaches (who approves, which actions are on the table), and the charter's own
decisions for leadership."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Run
from tests.helpers import Patch, patched, write_registry

SETTINGS = 'version: 1\ntimezone: Europe/Berlin\nemail:\n  from: "KPI Desk <kpi@acme.example>"\n'
C = "campaign.yaml"
P = "policy.yaml"
# A second tier at 20%, approved by bob by name (the owner, ann, has no manager).
TIER_2: Patch = (
    P,
    "    approver: $owner\n",
    "    approver: $owner\n    actions: [Root-cause assessment]\n"
    "  - level: 2\n    name: Leadership call\n    deviation_pct: 20\n    respond_within: 72h\n"
    "    notify: [$owner, bob]\n    approver: bob\n"
    "    actions: [Move budget between programmes, Lower the target]\n",
)
RISKS: Patch = (
    C,
    "timeline:\n",
    "risks:\n"
    "  - {risk: Speakers cancel, owner: ann, status: happened}\n"
    "  - {risk: Low-fit sign-ups, mitigation: Score before routing, status: mitigated}\n"
    "  - {risk: Budget freeze}\n"
    "timeline:\n",
)
DECISIONS: Patch = (
    C,
    "  - {by: bob, date: 2026-09-24}\n",
    "  - {by: bob, date: 2026-09-24}\n"
    "retrospective:\n  decisions: [Whether to add a paid channel]\n",
)


def readout(run: Run, tmp_path: Path, patches: list[Patch], value: int) -> list[str]:
    root = write_registry(tmp_path / "reg", patched(*patches), SETTINGS)
    csv = tmp_path / "actuals.csv"
    csv.write_text(f"kpi,period,value,as_of\nmql,spring-push,{value},2026-10-30\n")
    result = run("readout", "spring-push", str(root), "-a", str(csv), "--as-of", "2026-11-02")
    assert (result.code, result.err) == (0, ""), result.err
    return result.out.splitlines()


def section(lines: list[str], title: str) -> list[str]:
    """The lines under `title` up to the next blank line."""
    at = lines.index(title)
    end = lines.index("", at)
    return lines[at + 1 : end]


def test_risks_show_their_status(run: Run, tmp_path: Path) -> None:
    lines = readout(run, tmp_path, [RISKS], 50)
    assert section(lines, "RISKS") == [
        "  - [happened] Speakers cancel (owner: Ann Lee)",
        "  - [mitigated] Low-fit sign-ups. What we do about it: Score before routing",
        "  - [open] Budget freeze",
    ]


def test_behind_past_a_tier_names_the_decision_and_who_takes_it(run: Run, tmp_path: Path) -> None:
    # Day 30 (31 Oct, 31 of 92 days): 50.5 expected; 30 is 41% behind, past tier 2's 20%.
    lines = readout(run, tmp_path, [TIER_2], 30)
    assert section(lines, "DECISION NEEDED") == [
        "  - MQLs is 41% behind pace, past the 20% at which Standard calls for tier 2 "
        "(Leadership call): Bob Ray decides; on the table: Move budget between programmes; "
        "Lower the target."
    ]


def test_the_charters_own_decisions_join_when_a_kpi_is_behind(run: Run, tmp_path: Path) -> None:
    lines = readout(run, tmp_path, [TIER_2, DECISIONS], 47)
    # 47 is 7% behind: tier 1 (5%), approved by the owner.
    assert section(lines, "DECISION NEEDED") == [
        "  - MQLs is 7% behind pace, past the 5% at which Standard calls for tier 1 "
        "(Owner review): Ann Lee decides; on the table: Root-cause assessment.",
        "  - The charter names these decisions for leadership: Whether to add a paid channel",
    ]


def test_no_decision_when_on_pace_or_under_the_first_tier(run: Run, tmp_path: Path) -> None:
    assert "DECISION NEEDED" not in readout(run, tmp_path / "a", [TIER_2, DECISIONS], 60)
    # 49 is 3% behind: behind, but under tier 1's 5%, and no charter decisions.
    lines = readout(run, tmp_path / "b", [TIER_2], 49)
    assert "DECISION NEEDED" not in lines
    assert "  - Ann brings a plan to close the MQLs gap to the day-60 readout." in lines

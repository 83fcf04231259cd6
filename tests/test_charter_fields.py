"""Charters that decide (issue 14, item 4): budget, segments, channels, per-team
commitments, risk status, and the retrospective's decisions and next steps.

One line per case: what the charter gains → the findings, as (code, file, line).
Every field is optional, so the charter in tests/helpers.py stays clean without them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import SECOND_KPI, Finding3, Patch, Run, findings, make, messages

C = "campaign.yaml"
# Inserted after line 6 (objective): the first new line is line 7.
AFTER_OBJECTIVE = "objective: Add MQLs.\n"
# Appended after line 15 (the sign-off entry): the first new line is line 16.
AT_END = "  - {by: bob, date: 2026-09-24}\n"


def add(text: str) -> Patch:
    return (C, AFTER_OBJECTIVE, AFTER_OBJECTIVE + text)


def append(text: str) -> Patch:
    return (C, AT_END, AT_END + text)


CASES: list[tuple[Patch, list[Finding3]]] = [
    # budget: an amount and an ISO 4217 currency, both required
    (add("budget: {amount: 50000, currency: EUR}\n"), []),
    (add("budget: {amount: 0, currency: USD}\n"), []),
    (add("budget: {amount: 50000, currency: eur}\n"), [("S001", C, 7)]),
    (add("budget: {amount: -1, currency: EUR}\n"), [("S001", C, 7)]),
    (add("budget: {amount: 50000}\n"), [("S001", C, 7)]),
    (add("budget: {amount: 5e20, currency: EUR}\n"), [("S001", C, 7)]),
    (add("budget: {amount: 1, currency: EUR, owner: ann}\n"), [("S001", C, 7)]),
    (add("budget: 50000\n"), [("S001", C, 7)]),
    # segments and channels: free text lists (a single text is a list of one)
    (add("segments: [Mid-market data leaders, EMEA]\nchannels: [LinkedIn, Webinars]\n"), []),
    (add("segments: Mid-market\nchannels: Email\n"), []),
    (add("channels: {linkedin: 1}\n"), [("S001", C, 7)]),
    # commitments: team and kpi are references; the kpi is one of the charter's
    (add("commitments:\n  - {team: demand-gen, kpi: mql, target: 120}\n"), []),
    (add("commitments:\n  - {team: demand-gen, kpi: mql}\n"), []),
    (add("commitments:\n  - {team: demand-gn, kpi: mql, target: 1}\n"), [("R002", C, 8)]),
    (add("commitments:\n  - {team: ann, kpi: mql, target: 1}\n"), [("R002", C, 8)]),
    (add("commitments:\n  - {team: demand-gen, kpi: sqll, target: 1}\n"), [("R002", C, 8)]),
    (add("commitments:\n  - {team: demand-gen, kpi: crm, target: 1}\n"), [("R002", C, 8)]),
    (add("commitments:\n  - {team: demand-gen, target: 1}\n"), [("S001", C, 8)]),
    (add("commitments:\n  - {team: demand-gen, kpi: mql, target: many}\n"), [("S001", C, 8)]),
    # risks: status open (default), mitigated or happened
    (add("risks:\n  - {risk: Speakers cancel, status: mitigated}\n"), []),
    (add("risks:\n  - {risk: Speakers cancel, status: happened, owner: ann}\n"), []),
    (add("risks:\n  - {risk: Speakers cancel, status: closed}\n"), [("S001", C, 8)]),
    # retrospective: decisions (what leadership must decide) and next steps
    (append("retrospective:\n  decisions: [Fund a 2027 series]\n"), []),
    (append("retrospective:\n  decisions: Fund a 2027 series\n"), []),
    (
        append(
            "retrospective:\n  next_steps:\n"
            "    - {action: Book speakers, owner: ann, due: 2027-01-15}\n"
        ),
        [],
    ),
    (append("retrospective:\n  next_steps:\n    - {action: Book speakers}\n"), []),
    (
        append("retrospective:\n  next_steps:\n    - {action: Book speakers, owner: an}\n"),
        [("R002", C, 18)],
    ),
    (
        append("retrospective:\n  next_steps:\n    - {action: Book speakers, owner: demand-gen}\n"),
        [("R002", C, 18)],
    ),
    (
        append("retrospective:\n  next_steps:\n    - {action: Book speakers, due: soon}\n"),
        [("S001", C, 18)],
    ),
    (append("retrospective:\n  next_steps:\n    - {owner: ann}\n"), [("S001", C, 18)]),
    (append("retrospective:\n  next_steps:\n    - Book speakers\n"), [("S001", C, 18)]),
]


@pytest.mark.parametrize(("patch", "expected"), CASES)
def test_charter_field(tmp_path: Path, patch: Patch, expected: list[Finding3]) -> None:
    make(tmp_path, patch)
    assert findings(tmp_path) == expected


# A second KPI (sql) in the registry that the charter does not list.
SQL = ("sql.yaml", None, SECOND_KPI)

C007_CASES: list[tuple[Patch, list[Finding3]]] = [
    (add("commitments:\n  - {team: demand-gen, kpi: sql}\n"), [("C007", C, 8)]),
    (add("commitments:\n  - {team: demand-gen, kpi: sql, rationale: SQLs prove it}\n"), []),
    (add("secondary_kpis: [{kpi: sql}]\ncommitments:\n  - {team: demand-gen, kpi: sql}\n"), []),
    (
        add("commitments:\n  - {team: demand-gen, kpi: mql}\n  - {team: demand-gen, kpi: sql}\n"),
        [("C007", C, 9)],
    ),
]


@pytest.mark.parametrize(("patch", "expected"), C007_CASES)
def test_c007_commitment_outside_charter(
    tmp_path: Path, patch: Patch, expected: list[Finding3]
) -> None:
    make(tmp_path, SQL, patch)
    assert findings(tmp_path) == expected


def test_c007_message_names_the_charter_kpis_and_the_ways_out(tmp_path: Path) -> None:
    make(tmp_path, SQL, add("commitments:\n  - {team: demand-gen, kpi: sql}\n"))
    assert messages(tmp_path, "C007") == [
        "team demand-gen commits to 'sql', which is not one of the charter's KPIs (mql): "
        "commit to one of them, add it to secondary_kpis, or say why in the commitment's "
        "rationale"
    ]


def test_risk_status_defaults_to_open(tmp_path: Path) -> None:
    from kpictl.registry.models import Risk

    assert Risk(risk="Speakers cancel").status == "open"


def test_a_charter_with_every_new_field_is_clean(tmp_path: Path) -> None:
    make(
        tmp_path,
        add(
            "segments: [Mid-market]\n"
            "channels: [Webinars, LinkedIn]\n"
            "budget: {amount: 50000, currency: EUR}\n"
            "commitments:\n"
            "  - {team: demand-gen, kpi: mql, target: 150}\n"
            "risks:\n"
            "  - {risk: Speakers cancel, owner: ann, mitigation: Record back-ups, status: open}\n"
        ),
        append(
            "retrospective:\n"
            "  why: Co-hosts made it credible.\n"
            "  decisions: [Fund a 2027 series]\n"
            "  next_steps:\n"
            "    - {action: Book speakers, owner: ann, due: 2027-01-15}\n"
        ),
    )
    assert findings(tmp_path) == []


def test_fmt_puts_the_new_keys_in_the_format_order() -> None:
    from kpictl.authoring.yamlorder import fields_of
    from kpictl.registry.models import Campaign, Commitment, NextStep, Retrospective, Risk

    assert list(fields_of(Campaign))[:16] == [
        "kind",
        "id",
        "name",
        "status",
        "context",
        "objective",
        "strategies",
        "out_of_scope",
        "segments",
        "channels",
        "budget",
        "primary_kpi",
        "secondary_kpis",
        "commitments",
        "daci",
        "raci",
    ]
    assert list(fields_of(Commitment)) == ["team", "kpi", "target", "rationale"]
    assert list(fields_of(Risk)) == ["risk", "owner", "mitigation", "status"]
    assert list(fields_of(Retrospective))[-2:] == ["decisions", "next_steps"]
    assert list(fields_of(NextStep)) == ["action", "owner", "due"]


# --- `kpictl new campaign` takes the new fields as -F pairs and asks a budget's currency ---

NEW_CAMPAIGN = [
    "name=Spring webinars",
    "status=draft",
    "context=Inbound is flat.",
    "objective=Grow MQLs.",
    "primary_kpi.kpi=mql",
    "primary_kpi.target=900",
    "daci.driver=lucia-ferraro",
    "daci.approver=jonas-keller",
    "timeline.start=2027-03-01",
    "timeline.end=2027-05-31",
    "segments=Mid-market data leaders,Nordics",
    "channels=Webinars,LinkedIn",
    "budget.amount=40000",
    "commitments.0.team=demand-gen",
    "commitments.0.kpi=mql",
    "commitments.0.target=900",
    "risks.0.risk=Speakers cancel",
    "risks.0.status=mitigated",
]


def _copy_example(tmp_path: Path) -> Path:
    import shutil

    from tests.conftest import EXAMPLE

    root = tmp_path / "registry"
    shutil.copytree(EXAMPLE, root)
    return root


def _fields(pairs: list[str]) -> list[str]:
    return [arg for pair in pairs for arg in ("-F", pair)]


def test_new_campaign_without_a_terminal_lists_the_missing_currency(
    run: Run, tmp_path: Path
) -> None:
    root = _copy_example(tmp_path)
    result = run("new", "campaign", "spring-webinars", str(root), *_fields(NEW_CAMPAIGN), cwd=root)
    assert result.err == (
        "kpictl: missing required fields for a campaign (no terminal to ask on):\n"
        "  --field budget.currency=...\n"
    )
    assert result.code == 2


def test_new_campaign_asks_the_budget_currency_on_a_terminal(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    root = _copy_example(tmp_path)
    monkeypatch.setattr("sys.stdin", Terminal("eur\nEUR\n"))
    result = run("new", "campaign", "spring-webinars", str(root), *_fields(NEW_CAMPAIGN), cwd=root)
    assert result.code == 0, result.err
    # A budget needs its currency: asked like any missing required field, and checked.
    assert result.out.startswith("budget.currency: budget.currency: Created ")
    assert result.err == (
        "  budget.currency: 'eur' is not an ISO 4217 currency code: three capital letters, "
        "such as EUR or USD\n"
    )
    text = (root / "campaigns" / "spring-webinars.yaml").read_text(encoding="utf-8")
    assert text == (
        "kind: campaign\nid: spring-webinars\nname: Spring webinars\nstatus: draft\n"
        "context: Inbound is flat.\nobjective: Grow MQLs.\n"
        "segments: [Mid-market data leaders, Nordics]\nchannels: [Webinars, LinkedIn]\n"
        "budget:\n  amount: 40000\n  currency: EUR\n"
        "primary_kpi:\n  kpi: mql\n  target: 900\n"
        "commitments:\n  - team: demand-gen\n    kpi: mql\n    target: 900\n"
        "daci:\n  driver: lucia-ferraro\n  approver: jonas-keller\n"
        "risks:\n  - risk: Speakers cancel\n    status: mitigated\n"
        "timeline:\n  start: 2027-03-01\n  end: 2027-05-31\n"
    )
    checked = run("check", str(root), "--as-of", "2026-11-20", "--fail-on", "info")
    assert (checked.code, checked.out) == (0, "No findings in 31 files.\n")

"""`kpictl check` rules, yamllint style: a small registry in, (code, file, line) out.

Every case starts from `tests.helpers.BASE` (a registry that checks clean) and
changes one thing. Dates are fixed: the check runs as of 2026-11-20 (2026-Q4).
"""

# ruff: noqa: E501  (case tables: one case per line, as in yamllint's tests)

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from kpictl.numbers.periods import current_periods, fiscal_quarter, parse_period
from tests.conftest import AS_OF
from tests.helpers import (
    INACTIVE_CARL,
    SECOND_KPI,
    Patch,
    Run,
    findings,
    make,
    messages,
    patched,
)

CARL: Patch = ("carl.yaml", None, INACTIVE_CARL)
SQL: Patch = ("sql.yaml", None, SECOND_KPI)
WAREHOUSE = (
    "kind: data_source\nid: wh\nname: Warehouse\nsystem: Snowflake\nowner: ann\nrefresh: daily\n"
)
OPS_TEAM: Patch = ("ops.yaml", None, "kind: team\nid: ops\nname: Ops\nfunction: other\n")
SECOND_TIER = (
    "  - level: 2\n    name: Manager\n    deviation_pct: {pct}\n    respond_within: 3d\n"
    "    notify: [$backup]\n    approver: $backup\n"
)


def test_base_registry_has_no_findings(tmp_path: Path, run: Run) -> None:
    make(tmp_path)
    assert findings(tmp_path) == []
    result = run("check", str(tmp_path), "--as-of", AS_OF, "--fail-on", "info")
    assert (result.code, result.out, result.err) == (0, "No findings in 8 files.\n", "")


# One case per line: patches to BASE, then every finding expected, sorted.
# fmt: off
RULE_CASES = [
    # O001 backup-is-primary
    pytest.param([("kpi.yaml", "backup: bob", "backup: ann")], [("O001", "kpi.yaml", 14)], id="O001"),
    # O002 inactive-owner: a KPI's owner, a source's owner, a policy's notify and approver
    pytest.param([("people.yaml", "manager: ann", "manager: ann\nactive: false")], [("O002", "kpi.yaml", 14)], id="O002-kpi-backup"),
    pytest.param([CARL, ("source.yaml", "owner: ann", "owner: carl")], [("O002", "source.yaml", 5)], id="O002-source-owner"),
    pytest.param([CARL, ("policy.yaml", "notify: [$owner]", "notify: [$owner, carl]")], [("O002", "policy.yaml", 9)], id="O002-notify"),
    pytest.param([CARL, ("policy.yaml", "approver: $owner", "approver: carl")], [("O002", "policy.yaml", 10)], id="O002-approver"),
    pytest.param([CARL], [], id="O002-inactive-but-unnamed"),
    # O003 team-without-lead: no lead (points at the team), inactive lead (at the lead)
    pytest.param([("team.yaml", "lead: ann\n", "")], [("O003", "team.yaml", 1)], id="O003-no-lead"),
    pytest.param([CARL, ("team.yaml", "lead: ann", "lead: carl")], [("O003", "team.yaml", 5)], id="O003-inactive-lead"),
    # L001 lineage-cycle: reported once, at the upstream entry of the smallest id
    pytest.param([("source.yaml", "refresh: daily", "refresh: daily\nupstream: [crm]")], [("L001", "source.yaml", 7)], id="L001-self"),
    pytest.param([("source.yaml", "refresh: daily", "refresh: daily\nupstream: [wh]"), ("wh.yaml", None, WAREHOUSE + "upstream: [crm]\n")], [("L001", "source.yaml", 7)], id="L001-two-sources"),
    pytest.param([("wh.yaml", None, WAREHOUSE + "upstream: [crm]\n")], [], id="L001-chain-no-cycle"),
    # L002 stale-source-for-cadence: points at the KPI's sources entry
    pytest.param([("source.yaml", "refresh: daily", "refresh: weekly")], [("L002", "kpi.yaml", 15)], id="L002"),
    pytest.param([("source.yaml", "refresh: daily", "refresh: hourly")], [], id="L002-fresher-source-ok"),
    # L003 source-without-fallback: only for sources feeding business KPIs
    pytest.param([("kpi.yaml", "audience: internal", "audience: business")], [("L003", "source.yaml", 1)], id="L003"),
    pytest.param([("kpi.yaml", "audience: internal", "audience: business"), ("source.yaml", "refresh: daily", "refresh: daily\nfallback: wh"), ("wh.yaml", None, WAREHOUSE)], [], id="L003-with-fallback"),
    # T001 no-current-target (as of 2026-11-20)
    pytest.param([("kpi.yaml", "period: 2026-Q4", "period: 2027-Q1")], [("T001", "kpi.yaml", 20)], id="T001-future-only"),
    pytest.param([("kpi.yaml", "targets:\n  - period: 2026-Q4\n    value: 100\n", "")], [("T001", "kpi.yaml", 1)], id="T001-no-targets"),
    pytest.param([("kpi.yaml", "period: 2026-Q4", "period: 2026-11")], [], id="T001-month-ok"),
    pytest.param([("kpi.yaml", "period: 2026-Q4", "period: 2026")], [], id="T001-year-ok"),
    # T002 duplicate-target-period: at the second period
    pytest.param([("kpi.yaml", "    value: 100\n", "    value: 100\n  - period: 2026-Q4\n    value: 120\n")], [("T002", "kpi.yaml", 22)], id="T002"),
    # E001 tier-order
    pytest.param([("policy.yaml", "level: 1", "level: 2")], [("E001", "policy.yaml", 5)], id="E001-level"),
    pytest.param([("policy.yaml", "approver: $owner\n", "approver: $owner\n" + SECOND_TIER.format(pct=5))], [("E001", "policy.yaml", 13)], id="E001-pct-not-rising"),
    pytest.param([("policy.yaml", "approver: $owner\n", "approver: $owner\n" + SECOND_TIER.format(pct=15))], [], id="E001-two-tiers-ok"),
    # E002 tier-without-approver
    pytest.param([("policy.yaml", "    approver: $owner\n", "")], [("E002", "policy.yaml", 5)], id="E002-no-approver"),
    pytest.param([("policy.yaml", "notify: [$owner]", "notify: []")], [("E002", "policy.yaml", 9)], id="E002-empty-notify"),
    pytest.param([("policy.yaml", "notify: [$owner]", "notify: [$owner.manager]")], [("E002", "policy.yaml", 9)], id="E002-owner-has-no-manager"),
    pytest.param([OPS_TEAM, ("policy.yaml", "notify: [$owner]", "notify: [ops]")], [("E002", "policy.yaml", 9), ("O003", "ops.yaml", 1)], id="E002-team-without-lead"),
    pytest.param([("policy.yaml", "notify: [$owner]", "notify: [demand-gen]")], [], id="E002-team-means-lead"),
    # C001 charter-unsigned
    pytest.param([("campaign.yaml", "sign_off:\n  - {by: bob, date: 2026-09-24}\n", "")], [("C001", "campaign.yaml", 1)], id="C001-no-sign-off"),
    pytest.param([("campaign.yaml", "by: bob", "by: ann")], [("C001", "campaign.yaml", 15)], id="C001-wrong-signer"),
    # A draft needs no sign-off (no C001); this one's start has passed, which C006 reports.
    pytest.param([("campaign.yaml", "status: active", "status: draft"), ("campaign.yaml", "by: bob", "by: ann")], [("C006", "campaign.yaml", 4)], id="C001-draft-ok"),
    pytest.param([("campaign.yaml", "approver: bob", "approver: demand-gen"), ("campaign.yaml", "by: bob", "by: ann")], [], id="C001-team-lead-signs"),
    # C002 readout-outside-timeline
    pytest.param([("campaign.yaml", "end: 2026-12-31", "end: 2026-09-01")], [("C002", "campaign.yaml", 13)], id="C002-end-before-start"),
    pytest.param([("campaign.yaml", "end: 2026-12-31\n", "end: 2026-12-31\n  readouts: [30, 120]\n")], [("C002", "campaign.yaml", 14)], id="C002-explicit-readout"),
    pytest.param([("campaign.yaml", "end: 2026-12-31", "end: 2026-12-01")], [("C002", "campaign.yaml", 12)], id="C002-default-readout"),
    # C003 complete-without-retrospective
    pytest.param([("campaign.yaml", "status: active", "status: complete")], [("C003", "campaign.yaml", 4)], id="C003"),
    pytest.param([("campaign.yaml", "status: active", "status: complete\nretrospective: {why: It worked.}")], [], id="C003-with-retro"),
    # C004 kpi-twice-in-charter
    pytest.param([("campaign.yaml", "target: 150}\n", "target: 150}\nsecondary_kpis: [{kpi: mql}]\n")], [("C004", "campaign.yaml", 8)], id="C004-primary-and-secondary"),
    pytest.param([SQL, ("campaign.yaml", "target: 150}\n", "target: 150}\nsecondary_kpis:\n  - kpi: sql\n  - kpi: sql\n")], [("C004", "campaign.yaml", 10)], id="C004-secondary-twice"),
    # G001 unused-glossary-term
    pytest.param([("kpi.yaml", "definition: mql-term\n", "")], [("G001", "glossary.yaml", 1)], id="G001"),
    # R001 duplicate-id, whatever the kinds: both places
    pytest.param([("zz-dup.yaml", None, "kind: team\nid: ann\nname: Ann team\nfunction: sales\n")], [("R001", "people.yaml", 2), ("R001", "zz-dup.yaml", 2)], id="R001"),
    # R002 unknown-reference
    pytest.param([("source.yaml", "owner: ann", "owner: anne")], [("R002", "source.yaml", 5)], id="R002-near-miss"),
    pytest.param([("source.yaml", "owner: ann", "owner: demand-gen")], [("R002", "source.yaml", 5)], id="R002-wrong-kind"),
    pytest.param([("kpi.yaml", "sources: [crm]", "sources: [crm, zzz]")], [("R002", "kpi.yaml", 15)], id="R002-in-list"),
    pytest.param([("campaign.yaml", "driver: ann", "driver: demand-gen")], [], id="R002-team-allowed"),
]
# fmt: on


@pytest.mark.parametrize(("patches", "expected"), RULE_CASES)
def test_rule(tmp_path: Path, patches: list[Patch], expected: list[tuple[str, str, int]]) -> None:
    make(tmp_path, *patches)
    assert findings(tmp_path) == expected


def test_o004_owner_overload_uses_owner_kpi_limit(tmp_path: Path) -> None:
    make(tmp_path, SQL, settings="version: 1\nowner_kpi_limit: 1\n")
    assert findings(tmp_path) == [("O004", "people.yaml", 2)]
    (message,) = messages(tmp_path, "O004")
    assert "ann (Ann Lee) is primary owner of 2 KPIs, more than the limit of 1" in message


def test_o004_at_the_limit_is_fine(tmp_path: Path) -> None:
    make(tmp_path, SQL, settings="version: 1\nowner_kpi_limit: 2\n")
    assert findings(tmp_path) == []


def test_o004_default_limit_is_eight(tmp_path: Path) -> None:
    kpis = [(f"k{i}.yaml", None, SECOND_KPI.replace("id: sql", f"id: k{i}")) for i in range(8)]
    make(tmp_path / "nine", *kpis)  # mql + 8 more: 9 KPIs for ann
    assert findings(tmp_path / "nine") == [("O004", "people.yaml", 2)]
    make(tmp_path / "eight", *kpis[:7])  # at the limit
    assert findings(tmp_path / "eight") == []


def test_column_points_at_the_value(tmp_path: Path) -> None:
    make(tmp_path, ("source.yaml", "owner: ann", "owner: anne"))
    from kpictl.check.check import check

    (item,) = check(tmp_path, today=date(2026, 11, 20), cwd=tmp_path).findings
    assert (item.location.line, item.location.column, item.entity) == (5, 8, "crm")


def test_r001_reports_both_places_with_each_other(tmp_path: Path) -> None:
    make(tmp_path, ("zz-dup.yaml", None, "kind: team\nid: ann\nname: Ann team\nfunction: sales\n"))
    at_person, at_team = messages(tmp_path, "R001")  # sorted: people.yaml, then zz-dup.yaml
    assert at_person.startswith("id 'ann' is used twice: the team at zz-dup.yaml:2 has it too")
    assert at_team.startswith("id 'ann' is used twice: the person at people.yaml:2 has it too")


def test_r002_did_you_mean(tmp_path: Path) -> None:
    make(tmp_path, ("source.yaml", "owner: ann", "owner: anne"))
    assert messages(tmp_path, "R002") == [
        "owner names 'anne', which is not a person; did you mean 'ann'?"
    ]


def test_r002_wrong_kind(tmp_path: Path) -> None:
    make(tmp_path, ("source.yaml", "owner: ann", "owner: demand-gen"))
    assert messages(tmp_path, "R002") == [
        "owner names 'demand-gen', which is a team; it must be a person"
    ]


def test_r002_no_close_id(tmp_path: Path) -> None:
    make(tmp_path, ("kpi.yaml", "escalation: standard", "escalation: zzz"))
    assert findings(tmp_path) == [("R002", "kpi.yaml", 22)]
    assert messages(tmp_path, "R002") == [
        "escalation names 'zzz', which is not an escalation policy in this registry"
    ]


def test_reference_to_a_broken_entity_is_not_unknown(tmp_path: Path) -> None:
    # crm has a schema error; the KPI naming it gets no R002 on top.
    make(tmp_path, ("source.yaml", "refresh: daily", "refresh: daly"))
    assert findings(tmp_path) == [("S001", "source.yaml", 6)]
    (message,) = messages(tmp_path, "S001")
    assert "refresh: 'daly' is not allowed; use one of hourly, daily, weekly, monthly" in message
    assert "did you mean 'daily'?" in message


def test_broken_kpi_does_not_make_its_glossary_term_unused(tmp_path: Path) -> None:
    # The KPI fails its schema, but it still names mql-term as its definition:
    # G001 on top of the S001 would tell the user to delete a term that is in use.
    make(tmp_path, ("kpi.yaml", "unit: count", "unit: coutn"))
    assert findings(tmp_path) == [("S001", "kpi.yaml", 7)]


def test_numeric_id_is_a_valid_id(tmp_path: Path) -> None:
    # `^[a-z0-9][a-z0-9-]{0,62}$` allows all-digit ids; YAML reads `id: 123` as a number.
    # The entity must be registered like any other: referencing it is fine...
    person = "kind: person\nid: 123\nname: Num\nemail: num@acme.example\nteam: demand-gen\n"
    make(tmp_path, ("num.yaml", None, person), ("people.yaml", "manager: ann", "manager: 123"))
    assert findings(tmp_path) == []


def test_numeric_id_used_twice_is_reported(tmp_path: Path) -> None:
    # ...and using it twice is a duplicate id, never silently accepted.
    person = "kind: person\nid: 123\nname: Num\nemail: num@acme.example\nteam: demand-gen\n"
    make(tmp_path, ("num.yaml", None, person + "---\n" + person))
    assert findings(tmp_path) == [("R001", "num.yaml", 2), ("R001", "num.yaml", 8)]


# --- S001 schema -------------------------------------------------------------------------

# fmt: off
SCHEMA_CASES = [
    # missing field: the entity's first line, or the mapping that lacks it
    pytest.param(("team.yaml", "name: Demand Generation\n", ""), 1, "missing required field 'name'", id="missing-top-level"),
    pytest.param(("kpi.yaml", "  backup: bob\n", ""), 13, "missing required field 'backup' in owners", id="missing-nested"),
    pytest.param(("team.yaml", "kind: team\n", ""), 1, "missing required field 'kind': use one of person, team, data_source, kpi, escalation_policy, campaign, glossary_term", id="missing-kind"),
    # unknown field: at the key, with a suggestion when one is close
    pytest.param(("people.yaml", "manager: ann", "manager: ann\ntitel: Boss"), 13, "unknown field 'titel': did you mean 'title'?", id="unknown-field"),
    pytest.param(("kpi.yaml", "  review: weekly", "  review: weekly\n  reviw: daily"), 19, "unknown field 'reviw' in cadence: did you mean 'review'?", id="unknown-nested-field"),
    pytest.param(("team.yaml", "lead: ann", "lead: ann\ncolour: blue"), 6, "unknown field 'colour': remove it, or keep free-form data under labels", id="unknown-field-no-close-match"),
    # enums list the allowed values
    pytest.param(("team.yaml", "function: marketing", "function: marketting"), 4, "function: 'marketting' is not allowed; use one of marketing, sales, finance, customer-success, product, analytics, executive, other (did you mean 'marketing'?)", id="enum"),
    pytest.param(("kpi.yaml", "direction: increase", "direction: up"), 8, "direction: 'up' is not allowed; use one of increase, decrease", id="enum-no-close-match"),
    pytest.param(("kpi.yaml", "  refresh: daily", "  refresh: yearly"), 17, "cadence.refresh: 'yearly' is not allowed; use one of hourly, daily, weekly, monthly", id="enum-nested"),
    # wrong types and values
    pytest.param(("people.yaml", "manager: ann", "manager: ann\nactive: maybe"), 13, "active must be true or false, not 'maybe'", id="bool"),
    pytest.param(("kpi.yaml", "value: 100", "value: lots"), 21, "targets[0].value must be a number, not 'lots'", id="number"),
    pytest.param(("kpi.yaml", "sources: [crm]", "sources: {crm: 1}"), 15, "sources must be a list, not a mapping", id="list"),
    pytest.param(("kpi.yaml", "sources: [crm]", "sources: []"), 15, "sources must list at least 1 item", id="empty-list"),
    pytest.param(("kpi.yaml", "owners:\n  primary: ann\n  backup: bob\n", "owners: ann\n"), 12, "owners must be a mapping of fields, not 'ann'", id="mapping"),
    pytest.param(("campaign.yaml", "start: 2026-10-01", "start: soon"), 12, "timeline.start must be a date like 2026-10-01, not 'soon'", id="date"),
    pytest.param(("kpi.yaml", "period: 2026-Q4", "period: 2026-Q5"), 20, "targets[0].period: '2026-Q5' is not a period: use YYYY-Qn (2026-Q4), YYYY-MM (2026-11) or YYYY (2026)", id="period"),
    pytest.param(("kpi.yaml", "period: 2026-Q4", "period: 0999"), 20, "targets[0].period: '0999' is not a period: years run from 1000 to 9998", id="period-year"),
    pytest.param(("policy.yaml", "respond_within: 24h", "respond_within: tomorrow"), 8, "tiers[0].respond_within: 'tomorrow' is not a response time", id="duration"),
    pytest.param(("policy.yaml", "notify: [$owner]", "notify: [$boss]"), 9, "tiers[0].notify[0]: '$boss' is not a role", id="role"),
    pytest.param(("policy.yaml", "deviation_pct: 5", "deviation_pct: -5"), 7, "tiers[0].deviation_pct must be at least 0", id="minimum"),
    pytest.param(("people.yaml", "email: ann@acme.example", "email: ann-at-acme"), 4, "email: 'ann-at-acme' is not an email address", id="email"),
    pytest.param(("people.yaml", "id: ann", "id: Ann Lee"), 2, "id: 'Ann Lee' is not a valid id: use lowercase letters, digits and hyphens", id="id-capitals-spaces"),
    pytest.param(("team.yaml", "kind: team", "kind: teem"), 1, "unknown kind 'teem': use one of person, team, data_source, kpi, escalation_policy, campaign, glossary_term, experiment (did you mean 'team'?)", id="unknown-kind"),
]
# fmt: on


@pytest.mark.parametrize(("patch", "line", "phrase"), SCHEMA_CASES)
def test_schema(tmp_path: Path, patch: Patch, line: int, phrase: str) -> None:
    make(tmp_path, patch)
    found = [item for item in findings(tmp_path) if item[0] == "S001"]
    assert [item[1:] for item in found] == [(patch[0], line)]
    (message,) = messages(tmp_path, "S001")
    assert phrase in message
    # Plain words, never a raw pydantic error.
    for raw in ("Input should", "validation error", "pydantic", "type=", "[type"):
        assert raw not in message


def test_unknown_field_points_at_the_key(tmp_path: Path) -> None:
    make(tmp_path, ("people.yaml", "manager: ann", "manager: ann\ntitel: Boss"))
    from kpictl.check.check import check

    (item,) = check(tmp_path, today=date(2026, 11, 20), cwd=tmp_path).findings
    assert (item.location.line, item.location.column) == (13, 1)


def test_labels_take_any_keys(tmp_path: Path) -> None:
    make(tmp_path, ("team.yaml", "lead: ann", "lead: ann\nlabels: {slack: '#dg', anything: x}"))
    assert findings(tmp_path) == []


def test_defaults_pacing_and_active(tmp_path: Path) -> None:
    from kpictl.registry.models import Kpi, Person
    from kpictl.registry.registry import load_registry

    make(tmp_path, ("pct.yaml", None, SECOND_KPI.replace("unit: count", "unit: percent")))
    registry, problems = load_registry(tmp_path, cwd=tmp_path)
    assert problems == []
    kpis = {kpi.id: kpi for kpi in registry.of_kind(Kpi)}
    assert (kpis["mql"].pacing, kpis["sql"].pacing) == ("linear", "flat")
    assert all(person.active for person in registry.of_kind(Person))


@pytest.mark.parametrize(
    ("settings", "line", "phrase"),
    [
        ("version: 2\n", 1, "version: '2' is not allowed; use one of 1"),
        ("organization: Acme\n", 1, "missing required field 'version'"),
        (
            "version: 1\nfiscal_year_start_month: 13\n",
            2,
            "fiscal_year_start_month must be at most 12",
        ),
        ("version: 1\ntimezone: Mars/Base\n", 2, "'Mars/Base' is not a known time zone"),
        ("version: 1\nrules: {Z999: off}\n", 2, "'Z999' is not a rule code or name"),
        (
            "version: 1\nrules: {O004: loud}\n",
            2,
            "'loud' is not allowed; use one of error, warning, info, off",
        ),
        ("version: 1\nowner_kpi_limt: 3\n", 2, "did you mean 'owner_kpi_limit'?"),
        (
            "version: 1\nemail:\n  from: a@b.example\n  smtp: {host: h, password: x}\n",
            4,
            "the SMTP password is never stored in the registry",
        ),
    ],
)
def test_settings_schema(tmp_path: Path, settings: str, line: int, phrase: str) -> None:
    make(tmp_path, settings=settings)
    assert findings(tmp_path) == [("S001", "kpictl.yaml", line)]
    (message,) = messages(tmp_path, "S001")
    assert phrase in message


# --- X001 and inline ignores ---------------------------------------------------------------

FUTURE_ONLY: Patch = ("kpi.yaml", "period: 2026-Q4", "period: 2027-Q1")  # T001 at kpi.yaml:20


def _t001_with(comment: str) -> list[Patch]:
    return [("kpi.yaml", "period: 2026-Q4", f"period: 2027-Q1  {comment}")]


# fmt: off
SUPPRESS_CASES = [
    pytest.param(_t001_with("# kpictl: ignore[T001]"), [], id="same-line"),
    pytest.param(_t001_with("# kpictl: ignore[no-current-target]"), [], id="same-line-by-name"),
    pytest.param(_t001_with("# kpictl: ignore[t001]"), [], id="code-any-case"),
    pytest.param([FUTURE_ONLY, ("kpi.yaml", "targets:\n", "targets:\n  # kpictl: ignore[T001]\n")], [], id="line-above"),
    pytest.param([("team.yaml", "lead: ann\n", ""), ("team.yaml", "kind: team", "# kpictl: ignore[O003]\nkind: team")], [], id="line-above-entity"),
    pytest.param([("team.yaml", "lead: ann\n", ""), ("team.yaml", "kind: team", "# kpictl: ignore[team-without-lead]\nkind: team")], [], id="line-above-by-name"),
    pytest.param(_t001_with("# kpictl: ignore[O004, T001]"), [("X001", "kpi.yaml", 20)], id="one-of-two-unused"),
    pytest.param(_t001_with("# kpictl: ignore[T001] until 2026-12-31"), [], id="until-future"),
    pytest.param(_t001_with("# kpictl: ignore[T001] until 2026-11-20"), [], id="until-today"),
    pytest.param(_t001_with("# kpictl: ignore[T001] until 2026-11-01"), [("T001", "kpi.yaml", 20), ("X001", "kpi.yaml", 20)], id="until-expired"),
    pytest.param(_t001_with("# kpictl: ignore[O004]"), [("T001", "kpi.yaml", 20), ("X001", "kpi.yaml", 20)], id="wrong-code"),
    pytest.param([("kpi.yaml", "name: MQLs", "name: MQLs  # kpictl: ignore[O004]")], [("X001", "kpi.yaml", 3)], id="unused"),
    pytest.param([("kpi.yaml", "name: MQLs", "name: MQLs\n# kpictl: ignore[O004]")], [("X001", "kpi.yaml", 4)], id="unused-alone"),
    pytest.param(_t001_with("# kpictl: ignore"), [("T001", "kpi.yaml", 20), ("X001", "kpi.yaml", 20)], id="malformed-no-code"),
    pytest.param(_t001_with("# kpictl: ignore[]"), [("T001", "kpi.yaml", 20), ("X001", "kpi.yaml", 20)], id="malformed-empty"),
    pytest.param(_t001_with("# kpictl: ignore[Z999]"), [("T001", "kpi.yaml", 20), ("X001", "kpi.yaml", 20)], id="malformed-unknown-code"),
    pytest.param(_t001_with("# kpictl: ignore[T001] until someday"), [("T001", "kpi.yaml", 20), ("X001", "kpi.yaml", 20)], id="malformed-date"),
    pytest.param([FUTURE_ONLY, ("kpi.yaml", "name: MQLs", "name: MQLs  # kpictl: ignore[T001]")], [("T001", "kpi.yaml", 20), ("X001", "kpi.yaml", 3)], id="other-line"),
]
# fmt: on


@pytest.mark.parametrize(("patches", "expected"), SUPPRESS_CASES)
def test_suppression(
    tmp_path: Path, patches: list[Patch], expected: list[tuple[str, str, int]]
) -> None:
    make(tmp_path, *patches)
    assert findings(tmp_path) == expected


def test_x001_messages(tmp_path: Path) -> None:
    make(tmp_path, *_t001_with("# kpictl: ignore[T001] until 2026-11-01"))
    (expired,) = messages(tmp_path, "X001")
    assert "ignore[T001] expired on 2026-11-01" in expired
    make(tmp_path, *_t001_with("# kpictl: ignore[Z999]"))
    (unknown,) = messages(tmp_path, "X001")
    assert "unknown code Z999" in unknown
    make(tmp_path, ("kpi.yaml", "name: MQLs", "name: MQLs  # kpictl: ignore[O004]"))
    (unused,) = messages(tmp_path, "X001")
    assert "ignore[O004] matches no finding on line 3" in unused


def test_x001_points_at_the_comment(tmp_path: Path) -> None:
    from kpictl.check.check import check

    make(tmp_path, ("kpi.yaml", "name: MQLs", "name: MQLs  # kpictl: ignore[O004]"))
    (item,) = check(tmp_path, today=date(2026, 11, 20), cwd=tmp_path).findings
    assert (item.code, item.severity.label, item.location.line, item.location.column) == (
        "X001",
        "warning",
        3,
        13,
    )


# --- severity overrides, --select / --ignore, --fail-on -------------------------------------

BUSINESS: Patch = ("kpi.yaml", "audience: internal", "audience: business")  # L003 (info)


def _codes_and_severities(out: str) -> list[tuple[str, str]]:
    return [(item["code"], item["severity"]) for item in json.loads(out)]


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        ("", [("T001", "warning"), ("L003", "info")]),
        ("rules: {T001: error}\n", [("T001", "error"), ("L003", "info")]),
        ("rules: {no-current-target: error}\n", [("T001", "error"), ("L003", "info")]),
        ("rules: {T001: off}\n", [("L003", "info")]),
        ("rules: {T001: false}\n", [("L003", "info")]),
        ("rules: {source-without-fallback: off, T001: info}\n", [("T001", "info")]),
        ("rules: {L003: warning}\n", [("T001", "warning"), ("L003", "warning")]),
    ],
)
def test_severity_overrides(
    tmp_path: Path, run: Run, rules: str, expected: list[tuple[str, str]]
) -> None:
    make(tmp_path, FUTURE_ONLY, BUSINESS, settings="version: 1\n" + rules)
    result = run("check", str(tmp_path), "--as-of", AS_OF, "--format", "json")
    assert _codes_and_severities(result.out) == expected
    assert result.code == (1 if any(sev == "error" for _, sev in expected) else 0)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ([], ["T001", "L003"]),  # sorted by file: kpi.yaml, then source.yaml
        (["--select", "T001"], ["T001"]),
        (["--select", "no-current-target"], ["T001"]),
        (["--select", "t001,L003"], ["T001", "L003"]),
        (["--select", "T001", "--select", "source-without-fallback"], ["T001", "L003"]),
        (["--ignore", "T001"], ["L003"]),
        (["--ignore", "source-without-fallback"], ["T001"]),
        (["--ignore", "T001,L003"], []),
        (["--select", "T001", "--ignore", "T001"], []),
    ],
)
def test_select_and_ignore(
    tmp_path: Path, run: Run, options: list[str], expected: list[str]
) -> None:
    make(tmp_path, FUTURE_ONLY, BUSINESS)
    result = run("check", str(tmp_path), "--as-of", AS_OF, "--format", "json", *options)
    assert [item["code"] for item in json.loads(result.out)] == expected


@pytest.mark.parametrize("option", ["--select", "--ignore"])
def test_select_unknown_rule_is_a_usage_error(tmp_path: Path, run: Run, option: str) -> None:
    make(tmp_path)
    result = run("check", str(tmp_path), "--as-of", AS_OF, option, "Z999")
    assert result.code == 2
    assert "'Z999' is not a rule code or name" in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    ("patches", "fail_on", "code"),
    [
        ([FUTURE_ONLY], None, 0),  # warnings only: passes by default
        ([FUTURE_ONLY], "warning", 1),
        ([FUTURE_ONLY], "info", 1),
        ([FUTURE_ONLY], "error", 0),
        ([BUSINESS], None, 0),  # info only
        ([BUSINESS], "warning", 0),
        ([BUSINESS], "info", 1),
        ([("kpi.yaml", "backup: bob", "backup: ann")], None, 1),  # an error
        ([], "info", 0),
    ],
)
def test_fail_on(
    tmp_path: Path, run: Run, patches: list[Patch], fail_on: str | None, code: int
) -> None:
    make(tmp_path, *patches)
    options = ["--fail-on", fail_on] if fail_on else []
    result = run("check", str(tmp_path), "--as-of", AS_OF, *options)
    assert result.code == code, result.out


@pytest.mark.parametrize(
    "options",
    [["--fail-on", "fatal"], ["--as-of", "2026-13-01"], ["--format", "xml"], ["--bogus"]],
)
def test_bad_options_exit_2(tmp_path: Path, run: Run, options: list[str]) -> None:
    make(tmp_path)
    args = ["check", str(tmp_path), *options]
    if "--as-of" not in options:
        args += ["--as-of", AS_OF]
    result = run(*args)
    assert result.code == 2
    assert result.out == ""
    assert "Traceback" not in result.err


# --- which files are read ----------------------------------------------------------------

BROKEN = "kind: team\nname: a: b\n"  # Y001 at line 2


@pytest.mark.parametrize(
    ("name", "settings", "expected"),
    [
        ("drafts/wip.yaml", "version: 1\nexclude: ['drafts/**']\n", []),
        ("drafts/deep/wip.yaml", "version: 1\nexclude: ['drafts/**']\n", []),
        ("drafts/wip.yaml", "version: 1\nexclude: [drafts]\n", []),
        ("drafts/wip.yaml", "version: 1\nexclude: ['drafts/']\n", []),
        ("drafts/wip.yaml", "version: 1\n", [("Y001", "drafts/wip.yaml", 2)]),
        ("kpis/old-mql.yaml", "version: 1\nexclude: ['kpis/old-*.yaml']\n", []),
        (
            "kpis/new-mql.yaml",
            "version: 1\nexclude: ['kpis/old-*.yaml']\n",
            [("Y001", "kpis/new-mql.yaml", 2)],
        ),
        ("a/b/wip.yaml", "version: 1\nexclude: ['**/wip.yaml']\n", []),
        ("wip.yaml", "version: 1\nexclude: ['**/wip.yaml']\n", []),
        (".github/workflows/ci.yaml", "version: 1\n", []),
        (".pre-commit-config.yaml", "version: 1\n", []),
        ("kpis/.hidden.yml", "version: 1\n", []),
        ("notes.txt", "version: 1\n", []),
        ("extra.yml", "version: 1\n", [("Y001", "extra.yml", 2)]),
    ],
)
def test_which_files_are_read(
    tmp_path: Path, name: str, settings: str, expected: list[tuple[str, str, int]]
) -> None:
    make(tmp_path, (name, None, BROKEN), settings=settings)
    assert findings(tmp_path) == expected


def test_exclude_still_applies_when_settings_are_invalid(tmp_path: Path) -> None:
    make(
        tmp_path, ("drafts/wip.yaml", None, BROKEN), settings="version: 2\nexclude: ['drafts/**']\n"
    )
    assert findings(tmp_path) == [("S001", "kpictl.yaml", 1)]


def test_kind_decides_the_type_not_the_folder(tmp_path: Path) -> None:
    files = patched()
    files = {f"kpis/{name}": text for name, text in files.items()}
    from tests.conftest import write_registry

    write_registry(tmp_path, files)
    assert findings(tmp_path) == []


# --- where the registry is found ---------------------------------------------------------

NEAR_MISS: Patch = (
    "sub/extra.yaml",
    None,
    "kind: team\nid: ops\nname: Ops\nfunction: other\nlead: anne\n",
)


@pytest.mark.parametrize("target", ["", "kpi.yaml", "sub", "sub/extra.yaml"])
def test_path_inside_the_registry_checks_the_whole_registry(
    tmp_path: Path, run: Run, target: str
) -> None:
    root = make(tmp_path / "reg", NEAR_MISS, FUTURE_ONLY)
    result = run(
        "check", str(root / target) if target else str(root), "--as-of", AS_OF, cwd=tmp_path
    )
    assert result.out.splitlines()[:2] == [
        "reg/kpi.yaml:20:3: T001 [warning] no target covers today (2026-11-20): "
        "add one for 2026-Q4, 2026 or 2026-11",
        "reg/sub/extra.yaml:5:7: R002 [error] lead names 'anne', which is not a person; "
        "did you mean 'ann'?",
    ]
    assert result.code == 1


def test_path_omitted_searches_upward_from_cwd(tmp_path: Path, run: Run) -> None:
    root = make(tmp_path / "reg", NEAR_MISS)
    result = run("check", "--as-of", AS_OF, cwd=root / "sub")
    assert result.code == 1
    assert result.out.splitlines()[0] == (
        "extra.yaml:5:7: R002 [error] lead names 'anne', which is not a person; did you mean 'ann'?"
    )
    result = run("check", "--as-of", AS_OF, cwd=root)
    assert result.out.splitlines()[0].startswith("sub/extra.yaml:5:7: R002 [error]")


# --- fiscal periods -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fiscal", "start", "end"),
    [
        ("2026-Q4", 1, date(2026, 10, 1), date(2026, 12, 31)),
        ("2026", 1, date(2026, 1, 1), date(2026, 12, 31)),
        ("2026-02", 1, date(2026, 2, 1), date(2026, 2, 28)),
        ("2028-02", 7, date(2028, 2, 1), date(2028, 2, 29)),  # months are calendar months
        ("2027-Q1", 7, date(2026, 7, 1), date(2026, 9, 30)),
        ("2027-Q3", 7, date(2027, 1, 1), date(2027, 3, 31)),
        ("2027-Q4", 7, date(2027, 4, 1), date(2027, 6, 30)),
        ("2027", 7, date(2026, 7, 1), date(2027, 6, 30)),
        ("2027-Q1", 4, date(2026, 4, 1), date(2026, 6, 30)),
        ("2026-Q4", 12, date(2026, 9, 1), date(2026, 11, 30)),
    ],
)
def test_parse_period(text: str, fiscal: int, start: date, end: date) -> None:
    period = parse_period(text, fiscal)
    assert (period.start, period.end) == (start, end)


@pytest.mark.parametrize(
    ("day", "fiscal", "expected"),
    [
        (date(2026, 8, 15), 7, ("2026-08", "2027-Q1", "2027")),
        (date(2026, 6, 30), 7, ("2026-06", "2026-Q4", "2026")),
        (date(2026, 7, 1), 7, ("2026-07", "2027-Q1", "2027")),
        (date(2026, 11, 20), 1, ("2026-11", "2026-Q4", "2026")),
        (date(2026, 1, 1), 1, ("2026-01", "2026-Q1", "2026")),
    ],
)
def test_current_periods(day: date, fiscal: int, expected: tuple[str, str, str]) -> None:
    assert current_periods(day, fiscal) == expected
    assert fiscal_quarter(day, fiscal) == expected[1]
    assert parse_period(expected[1], fiscal).contains(day)
    assert parse_period(expected[2], fiscal).contains(day)


def test_parse_period_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="is not a period"):
        parse_period("2026-Q5")


@pytest.mark.parametrize(
    ("period", "expected"),
    [("2027-Q1", []), ("2027", []), ("2026-08", []), ("2026-Q1", [("T001", "kpi.yaml", 20)])],
)
def test_fiscal_year_targets(
    tmp_path: Path, period: str, expected: list[tuple[str, str, int]]
) -> None:
    make(
        tmp_path,
        ("kpi.yaml", "period: 2026-Q4", f"period: {period}"),
        ("campaign.yaml", "start: 2026-10-01", "start: 2026-07-01"),
        ("campaign.yaml", "date: 2026-09-24", "date: 2026-06-24"),  # signed before it starts
        settings="version: 1\nfiscal_year_start_month: 7\n",
    )
    assert findings(tmp_path, today=date(2026, 8, 15)) == expected


def test_t001_message_names_the_fiscal_quarter(tmp_path: Path) -> None:
    make(
        tmp_path,
        ("kpi.yaml", "period: 2026-Q4", "period: 2026-Q1"),
        settings="version: 1\nfiscal_year_start_month: 7\n",
    )
    assert messages(tmp_path, "T001", today=date(2026, 8, 15)) == [
        "no target covers today (2026-08-15): add one for 2027-Q1, 2027 or 2026-08"
    ]


# --- values that parse but cannot be dates -------------------------------------------------


@pytest.mark.parametrize(
    ("period", "fiscal"),
    [("'0000'", 1), ("0000-01", 1), ("9999-12", 1), ("'9999'", 1), ("0001-Q1", 7)],
)
def test_period_at_the_edge_of_the_calendar_is_not_a_crash(
    tmp_path: Path, run: Run, period: str, fiscal: int
) -> None:
    # PERIOD_PATTERN accepts any four digits; date() does not (years 1-9999 only).
    settings = f"version: 1\nfiscal_year_start_month: {fiscal}\n"
    make(tmp_path, ("kpi.yaml", "period: 2026-Q4", f"period: {period}"), settings=settings)
    result = run("check", str(tmp_path), "--as-of", AS_OF, "--format", "json")
    assert "internal error" not in result.err
    codes = {(item["code"], item["line"]) for item in json.loads(result.out or "[]")}
    # Either a schema finding on the period, or a T001 (the period is not today).
    assert codes & {("S001", 20), ("T001", 20)}, (result.out, result.err)


def test_readout_far_in_the_future_is_not_a_crash(tmp_path: Path, run: Run) -> None:
    make(
        tmp_path,
        ("campaign.yaml", "end: 2026-12-31\n", "end: 2026-12-31\n  readouts: [30, 3000000]\n"),
    )
    result = run("check", str(tmp_path), "--as-of", AS_OF, "--format", "json")
    assert "internal error" not in result.err
    # Past the schema's bound of ten years (a C002 before the bound existed).
    assert [(i["code"], i["line"]) for i in json.loads(result.out or "[]")] == [("S001", 14)], (
        result.err
    )


# --- the catalog matches the spec ------------------------------------------------------------

# REGISTRY.md "Rules every check must have", plus X001 from "Suppressing a finding".
SPEC_RULES = [
    ("Y001", "yaml-syntax", "error"),
    ("Y002", "yaml-duplicate-key", "error"),
    ("Y003", "yaml-forbidden-construct", "error"),
    ("S001", "schema", "error"),
    ("R001", "duplicate-id", "error"),
    ("R002", "unknown-reference", "error"),
    ("O001", "backup-is-primary", "error"),
    ("O002", "inactive-owner", "error"),
    ("O003", "team-without-lead", "warning"),
    ("O004", "owner-overload", "warning"),
    ("L001", "lineage-cycle", "error"),
    ("L002", "stale-source-for-cadence", "warning"),
    ("L003", "source-without-fallback", "info"),
    ("T001", "no-current-target", "warning"),
    ("T002", "duplicate-target-period", "error"),
    ("T003", "target-change-without-approval", "error"),
    ("E001", "tier-order", "error"),
    ("E002", "tier-without-approver", "error"),
    ("C001", "charter-unsigned", "error"),
    ("C002", "readout-outside-timeline", "error"),
    ("C003", "complete-without-retrospective", "warning"),
    ("C004", "kpi-twice-in-charter", "error"),
    ("G001", "unused-glossary-term", "info"),
    ("X001", "unused-ignore", "warning"),
    ("Y004", "file-unreadable", "error"),
    ("Y005", "large-file", "warning"),
    ("Y006", "empty-file", "info"),
]


@pytest.mark.parametrize(("code", "name", "severity"), SPEC_RULES)
def test_catalog_matches_the_spec(code: str, name: str, severity: str) -> None:
    from kpictl.check.catalog import RULES, lookup

    rule = RULES[code]
    assert (rule.name, rule.severity.label) == (name, severity)
    assert lookup(name) is rule
    assert lookup(code.lower()) is rule


def test_rules_command_lists_every_rule(run: Run) -> None:
    from kpictl.check.catalog import RULES

    result = run("rules")
    assert result.code == 0
    lines = result.out.splitlines()
    assert [line.split()[:3] for line in lines] == [
        [rule.code, rule.name, rule.severity.label] for rule in RULES.values()
    ]


def test_unknown_kind_suggestion_ignores_case(tmp_path: Path) -> None:
    make(tmp_path, ("odd.yaml", None, "kind: KPI\nid: k\n"))
    assert findings(tmp_path) == [("S001", "odd.yaml", 1)]
    (message,) = messages(tmp_path, "S001")
    assert message.endswith("(did you mean 'kpi'?)")


def test_lineage_cycle_of_three_is_reported_once(tmp_path: Path) -> None:
    make(
        tmp_path,
        ("source.yaml", "refresh: daily", "refresh: daily\nupstream: [wh]"),
        ("wh.yaml", None, WAREHOUSE + "upstream: [lake]\n"),
        ("lake.yaml", None, WAREHOUSE.replace("id: wh", "id: lake") + "upstream: [crm]\n"),
    )
    assert findings(tmp_path) == [("L001", "source.yaml", 7)]
    assert messages(tmp_path, "L001") == [
        "data sources form a cycle through upstream: crm → wh → lake → crm; "
        "a source cannot be derived from itself"
    ]


def test_tier_levels_with_a_gap(tmp_path: Path) -> None:
    make(
        tmp_path,
        (
            "policy.yaml",
            "approver: $owner\n",
            "approver: $owner\n" + SECOND_TIER.format(pct=15).replace("level: 2", "level: 3"),
        ),
    )
    assert findings(tmp_path) == [("E001", "policy.yaml", 11)]
    assert messages(tmp_path, "E001") == [
        "tier 2 in the list has level 3: number tiers 1, 2, 3, ... in order"
    ]


# --- "today" follows the registry's time zone ------------------------------------------------


@pytest.mark.parametrize(
    ("timezone", "expected"),
    [
        ("UTC", []),  # 2026-12-31 23:30: still Q4
        # Already 2027-01-01: Q1 has no target, and the draft was due to start today.
        ("Europe/Berlin", [("C006", "campaign.yaml", 4), ("T001", "kpi.yaml", 20)]),
        ("America/New_York", []),
    ],
)
def test_today_is_in_the_registry_time_zone(
    tmp_path: Path,
    run: Run,
    monkeypatch: pytest.MonkeyPatch,
    timezone: str,
    expected: list[tuple[str, str, int]],
) -> None:
    from datetime import UTC, datetime

    import kpictl.check.check

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            instant = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
            return instant.astimezone(tz) if tz else instant

    monkeypatch.setattr(kpictl.check.check, "datetime", Frozen)
    make(
        tmp_path,
        ("campaign.yaml", "status: active", "status: draft"),
        ("campaign.yaml", "start: 2026-10-01", "start: 2027-01-01"),
        ("campaign.yaml", "end: 2026-12-31", "end: 2027-04-30"),
        settings=f"version: 1\ntimezone: {timezone}\n",
    )
    result = run("check", str(tmp_path), "--format", "json", cwd=tmp_path)
    assert [(i["code"], i["path"], i["line"]) for i in json.loads(result.out)] == expected


@pytest.mark.parametrize("written", ["007", "0x1f", "1e3", "0o17"])
def test_number_like_id_keeps_its_written_form(tmp_path: Path, written: str) -> None:
    # Each is a valid slug, but YAML 1.2 reads it as a number (7, 31, 1000.0, 15). The id
    # is what the file says: a quoted reference to it resolves, and no message shows the
    # id under a name the user never wrote.
    person = f"kind: person\nid: {written}\nname: Num\nemail: num@acme.example\nteam: demand-gen\n"
    make(
        tmp_path,
        ("num.yaml", None, person),
        ("people.yaml", "manager: ann", f"manager: '{written}'"),
    )
    assert findings(tmp_path) == []


def test_broken_entity_with_a_list_definition_is_not_a_crash(tmp_path: Path, run: Run) -> None:
    # The KPI fails its schema twice over (unit, and definition is a list, not an id).
    make(
        tmp_path,
        ("kpi.yaml", "unit: count", "unit: coutn"),
        ("kpi.yaml", "definition: mql-term", "definition: [mql-term]"),
    )
    result = run("check", str(tmp_path), "--as-of", AS_OF, "--format", "json", cwd=tmp_path)
    assert "internal error" not in result.err
    found = [(i["code"], i["path"], i["line"]) for i in json.loads(result.out or "[]")]
    # Whether the term counts as used by a broken KPI is a judgment call; the schema
    # findings are not.
    assert [f for f in found if f[0] != "G001"] == [
        ("S001", "kpi.yaml", 5),
        ("S001", "kpi.yaml", 7),
    ]
    assert set(found) <= {
        ("S001", "kpi.yaml", 5),
        ("S001", "kpi.yaml", 7),
        ("G001", "glossary.yaml", 1),
    }


def test_exclude_without_a_slash_matches_at_any_depth(tmp_path: Path, run: Run) -> None:
    from tests.conftest import write_registry

    write_registry(
        tmp_path,
        {"kpis/x.draft.yaml": "kind: nonsense\n", "y.draft.yaml": "kind: nonsense\n"},
        settings='version: 1\nexclude: ["*.draft.yaml"]\n',
    )
    result = run("check", str(tmp_path), "--as-of", "2026-11-20", cwd=tmp_path)
    assert (result.code, result.out) == (0, "No findings in 1 file.\n")

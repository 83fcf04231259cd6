"""Who a reference means: one table of cases for kpictl.registry.resolve, and the commands agreeing.

Every case starts from a copy of the example registry, changes it (people made
inactive, a manager or a team lead taken away), and asks who one reference means
for one KPI. The command tests then run `drill`, `escalate`, `map`, `who` and
`check` on a few of the same changes and assert they name the same people.
"""

from __future__ import annotations

import email.policy
import json
import shutil
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest

from kpictl.emails.people import escalation_recipients
from kpictl.registry.models import EscalationPolicy, Kpi
from kpictl.registry.registry import Registry, load_registry
from kpictl.registry.resolve import resolve
from tests.conftest import AS_OF, EXAMPLE
from tests.helpers import Run

Patch = tuple[str, str, str]  # (file, old, new): `old` occurs exactly once

LUCIA_AWAY: Patch = (
    "people/marketing.yaml",
    "title: Content and SEO Lead\nmanager: aisha-okafor\n",
    "title: Content and SEO Lead\nmanager: aisha-okafor\nactive: false\n",
)
TOM_AWAY: Patch = (
    "people/marketing.yaml",
    "title: Paid Media Manager\nmanager: aisha-okafor\n",
    "title: Paid Media Manager\nmanager: aisha-okafor\nactive: false\n",
)
OMAR_AWAY: Patch = (
    "people/revenue.yaml",
    "title: Head of Revenue Operations\nmanager: marcus-webb\n",
    "title: Head of Revenue Operations\nmanager: marcus-webb\nactive: false\n",
)
PRIYA_AWAY: Patch = (
    "people/leadership.yaml",
    "id: priya-raman\n",
    "id: priya-raman\nactive: false\n",
)
LUCIA_NO_MANAGER: Patch = (
    "people/marketing.yaml",
    "title: Content and SEO Lead\nmanager: aisha-okafor\n",
    "title: Content and SEO Lead\n",
)
REVOPS_NO_LEAD: Patch = ("teams/teams.yaml", "lead: omar-haddad\n", "")
REVOPS_GHOST_LEAD: Patch = ("teams/teams.yaml", "lead: omar-haddad\n", "lead: ghost\n")

BRANDED = "branded-search-clicks"  # owners: lucia-ferraro, backup tom-brennan; source owner lucia


def example(tmp_path: Path, *patches: Patch) -> Path:
    """A copy of the example registry with `patches` applied."""
    root = tmp_path / "registry"
    shutil.copytree(EXAMPLE, root)
    for name, old, new in patches:
        path = root / name
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{old!r} is not in {name} exactly once"
        path.write_text(text.replace(old, new), encoding="utf-8")
    return root


def loaded(root: Path) -> Registry:
    registry, _ = load_registry(root)
    return registry


def kpi_of(registry: Registry, kpi_id: str) -> Kpi:
    kpi = registry.get(kpi_id)
    assert isinstance(kpi, Kpi)
    return kpi


# (id, patches, reference, KPI or None, people, stand-ins as (absent, by), reasons)
CASES: list[Any] = [
    pytest.param((), "$owner", BRANDED, ["lucia-ferraro"], [], [], id="owner"),
    pytest.param((), "$backup", BRANDED, ["tom-brennan"], [], [], id="backup"),
    pytest.param((), "$owner.manager", BRANDED, ["aisha-okafor"], [], [], id="owner-manager"),
    pytest.param((), "$source.owner", BRANDED, ["lucia-ferraro"], [], [], id="source-owner"),
    pytest.param((), "revops", BRANDED, ["omar-haddad"], [], [], id="team-means-its-lead"),
    pytest.param((), "priya-raman", BRANDED, ["priya-raman"], [], [], id="person"),
    pytest.param(
        (LUCIA_AWAY,),
        "$owner",
        BRANDED,
        ["tom-brennan"],
        [("lucia-ferraro", "tom-brennan")],
        [],
        id="inactive-owner-replaced-by-backup",
    ),
    pytest.param(
        (LUCIA_AWAY,),
        "$source.owner",
        BRANDED,
        ["tom-brennan"],
        [("lucia-ferraro", "tom-brennan")],
        [],
        id="inactive-source-owner-replaced-by-backup",
    ),
    pytest.param(
        (LUCIA_AWAY,),
        "$owner.manager",
        BRANDED,
        ["aisha-okafor"],
        [],
        [],
        id="inactive-owner-still-has-a-manager",
    ),
    pytest.param(
        (OMAR_AWAY,),
        "revops",
        BRANDED,
        ["tom-brennan"],
        [("omar-haddad", "tom-brennan")],
        [],
        id="inactive-team-lead-replaced-by-backup",
    ),
    pytest.param(
        (LUCIA_AWAY, TOM_AWAY),
        "$owner",
        BRANDED,
        [],
        [],
        ["lucia-ferraro is inactive, and so is the KPI's backup owner tom-brennan"],
        id="owner-and-backup-inactive",
    ),
    pytest.param(
        (TOM_AWAY,),
        "$backup",
        BRANDED,
        [],
        [],
        ["tom-brennan is inactive and is the KPI's backup owner: nobody stands in"],
        id="inactive-backup",
    ),
    pytest.param(
        (PRIYA_AWAY,),
        "priya-raman",
        None,
        [],
        [],
        ["priya-raman is inactive"],
        id="inactive-person-outside-a-kpi",
    ),
    pytest.param(
        (LUCIA_NO_MANAGER,),
        "$owner.manager",
        BRANDED,
        [],
        [],
        ["the primary owner lucia-ferraro has no manager"],
        id="owner-without-manager",
    ),
    pytest.param(
        (REVOPS_NO_LEAD,), "revops", BRANDED, [], [], ["team revops has no lead"], id="no-lead"
    ),
    pytest.param(
        (REVOPS_GHOST_LEAD,),
        "revops",
        BRANDED,
        [],
        [],
        ["team revops's lead ghost is not in the registry"],
        id="lead-not-in-registry",
    ),
    pytest.param(
        (),
        "nobody-here",
        BRANDED,
        [],
        [],
        ["no person or team has the id nobody-here"],
        id="unknown-id",
    ),
    pytest.param(
        (), "$owner", None, [], [], ["$owner means someone only for a KPI"], id="role-without-kpi"
    ),
]


@pytest.mark.parametrize(("patches", "ref", "kpi_id", "people", "stand_ins", "reasons"), CASES)
def test_who_a_reference_means(
    tmp_path: Path,
    patches: tuple[Patch, ...],
    ref: str,
    kpi_id: str | None,
    people: list[str],
    stand_ins: list[tuple[str, str]],
    reasons: list[str],
) -> None:
    registry = loaded(example(tmp_path, *patches))
    kpi = kpi_of(registry, kpi_id) if kpi_id else None
    found = resolve(registry, ref, kpi)
    assert [p.id for p in found.people] == people
    assert [(s.absent.id, s.by.id) for s in found.stand_ins] == stand_ins
    assert list(found.reasons) == reasons


# --------------------------------------------------------------------------------------
# The commands agree
# --------------------------------------------------------------------------------------


def _drill(run: Run, root: Path, *args: str) -> dict[str, Any]:
    result = run("drill", BRANDED, str(root), "--at", "2026-11-20", "-f", "json", *args)
    assert result.code == 0, result.err
    data: dict[str, Any] = json.loads(result.out)
    return data


def _escalation_email(run: Run, root: Path, out: Path) -> EmailMessage:
    actuals = str(root / "actuals" / f"{AS_OF}.csv")
    result = run("escalate", str(root), "-a", actuals, "--as-of", AS_OF, "--out", str(out))
    assert result.code == 0, result.err
    with (out / f"{BRANDED}.eml").open("rb") as handle:
        message = BytesParser(policy=email.policy.default).parse(handle)
    assert isinstance(message, EmailMessage)
    return message


def _addresses(message: EmailMessage, header: str) -> list[str]:
    value = message[header]
    return [a.addr_spec for a in value.addresses] if value is not None else []


def _ids_by_email(registry: Registry) -> dict[str, str]:
    return {p.email: p.id for p in registry.people}


# (patches, who the outage tier (level 2) notifies, who approves it, who acts as owner,
#  the E002 messages `check` gives)
AGREEMENT: list[Any] = [
    pytest.param(
        (),
        ["lucia-ferraro", "tom-brennan", "aisha-okafor", "omar-haddad"],
        ["aisha-okafor"],
        ["lucia-ferraro"],
        [],
        id="example",
    ),
    pytest.param(
        (LUCIA_AWAY,),
        ["tom-brennan", "aisha-okafor", "omar-haddad"],
        ["aisha-okafor"],
        ["tom-brennan"],
        [],
        id="owner-inactive",
    ),
    pytest.param(
        (LUCIA_AWAY, TOM_AWAY),
        ["aisha-okafor", "omar-haddad"],
        ["aisha-okafor"],
        [],
        [
            "tier 'Owner review' notify reaches nobody for branded-search-clicks "
            "(lucia-ferraro is inactive, and so is the KPI's backup owner tom-brennan; "
            "tom-brennan is inactive and is the KPI's backup owner: nobody stands in)",
            "tier 'Owner review' approver reaches nobody for branded-search-clicks "
            "(lucia-ferraro is inactive, and so is the KPI's backup owner tom-brennan)",
        ],
        id="owner-and-backup-inactive",
    ),
    pytest.param(
        (REVOPS_NO_LEAD,),
        ["lucia-ferraro", "tom-brennan", "aisha-okafor"],
        ["aisha-okafor"],
        ["lucia-ferraro"],
        [],
        id="team-without-lead",
    ),
]


@pytest.mark.parametrize(("patches", "notified", "approvers", "owner", "e002"), AGREEMENT)
def test_commands_agree(
    run: Run,
    tmp_path: Path,
    patches: tuple[Patch, ...],
    notified: list[str],
    approvers: list[str],
    owner: list[str],
    e002: list[str],
) -> None:
    root = example(tmp_path, *patches)
    registry = loaded(root)

    # drill: an outage fires level 2 of `standard` (its lowest tier with on_data_outage).
    step = _drill(run, root, "--outage")["steps"][0]
    assert step["level"] == 2
    assert [r["id"] for r in step["notified"]] == notified
    assert [r["id"] for r in step["approvers"]] == approvers

    # map: the same tier, the same people, in the same order.
    result = run("map", str(root), "--kpi", BRANDED, "--format", "json")
    assert result.code == 0, result.err
    tier = json.loads(result.out)["kpis"][0]["escalation"]["tiers"][1]
    assert (tier["level"], tier["notify"], tier["approvers"]) == (2, notified, approvers)

    # who: everyone notified has the duty, and nobody else among the KPI's people.
    for person in ("lucia-ferraro", "tom-brennan", "aisha-okafor", "omar-haddad"):
        result = run("who", person, str(root), "--format", "json")
        assert result.code == 0, result.err
        duties = [
            (d["notified"], d["approves"])
            for d in json.loads(result.out)["escalations"]
            if d["policy"] == "standard" and d["level"] == 2 and BRANDED in d["kpis"]
        ]
        expected = [(True, person in approvers)] if person in notified else []
        assert duties == expected, person

    # escalate: the example's actuals put the KPI in an outage, so the email is level 2.
    # To: the tier's notify list; the approver, the source owners and the acting owner
    # are on it too (Cc when not in To).
    message = _escalation_email(run, root, tmp_path / "out")
    ids = _ids_by_email(registry)
    to = [ids[a] for a in _addresses(message, "To")]
    cc = [ids[a] for a in _addresses(message, "Cc")]
    assert to == notified
    assert set(approvers) | set(owner) <= set(to) | set(cc)
    if LUCIA_AWAY in patches:
        assert "lucia-ferraro" not in to + cc
        body = message.get_body(("plain",))
        assert body is not None
        text = body.get_content()
        if owner:
            assert "Owns the KPI:                    Tom Brennan (Paid Media Manager)\n" in text
            assert "Tom Brennan is on this email in place of Lucia Ferraro" in text

    # check: E002 says a tier reaches nobody exactly when drill says so.
    result = run("check", str(root), "--format", "json")
    found = [f["message"] for f in json.loads(result.out) if f["code"] == "E002"]
    assert found == e002


def test_drill_and_escalate_agree_on_the_approver_of_an_absent_owner(
    run: Run, tmp_path: Path
) -> None:
    """The issue's reproduction: the owner inactive, an 8% miss fires level 1."""
    root = example(tmp_path, LUCIA_AWAY)
    drill = _drill(run, root, "--deviation", "8")
    step = drill["steps"][0]
    assert step["level"] == 1
    assert [(r["id"], r["via"], r["stands_in_for"]) for r in step["approvers"]] == [
        ("tom-brennan", ["$owner"], ["lucia-ferraro"])
    ]
    assert [p["code"] for p in drill["problems"] if p["level"] == 1] == [
        "inactive-recipient",
        "weekend-deadline",
    ]
    assert drill["problems"][0]["message"] == (
        "level 1 (Owner review) notifies lucia-ferraro (through $owner), who is inactive: "
        "tom-brennan stands in for now; replace them in the policy or the owners"
    )
    registry = loaded(root)
    kpi = kpi_of(registry, BRANDED)
    policy = registry.get("standard")
    assert isinstance(policy, EscalationPolicy)
    recipients = escalation_recipients(registry, kpi, policy.tiers[0], outage=False)
    assert [p.id for p in recipients.to] == ["tom-brennan"]
    assert [p.id for p in recipients.approvers] == ["tom-brennan"]
    assert [(a.id, b.id) for a, b in recipients.stand_ins] == [("lucia-ferraro", "tom-brennan")]


def test_drill_reports_a_tier_that_reaches_nobody_active(run: Run, tmp_path: Path) -> None:
    root = example(tmp_path, LUCIA_AWAY, TOM_AWAY)
    drill = _drill(run, root, "--deviation", "8")
    assert drill["steps"][0]["notified"] == []
    assert [(p["code"], p["level"]) for p in drill["problems"] if p["level"] == 1] == [
        ("inactive-recipient", 1),
        ("inactive-recipient", 1),
        ("tier-reaches-nobody", 1),
        ("no-active-approver", 1),
        ("weekend-deadline", 1),
    ]
    assert drill["problems"][0]["message"] == (
        "level 1 (Owner review) notifies lucia-ferraro (through $owner), who is inactive: "
        "replace them in the policy or the owners"
    )


@pytest.mark.parametrize(
    ("patches", "kpi_id", "level", "to", "cc"),
    [
        # Tier 3 of `standard` notifies [$owner.manager, priya-raman, marcus-webb]: the
        # owner is not among them, so Cc.
        ((), "mql", 3, ["jonas-keller", "priya-raman", "marcus-webb"], ["aisha-okafor"]),
        # Tier 1 notifies [$owner, $backup]: the owner is in To already, not Cc'd again.
        ((), "mql", 1, ["aisha-okafor", "sofia-lindqvist"], []),
        # The owner inactive: the backup stands in, on the email in the owner's place.
        (
            (LUCIA_AWAY,),
            BRANDED,
            3,
            ["aisha-okafor", "priya-raman", "marcus-webb"],
            ["tom-brennan"],
        ),
    ],
)
def test_the_owner_is_on_every_escalation_email(
    tmp_path: Path,
    patches: tuple[Patch, ...],
    kpi_id: str,
    level: int,
    to: list[str],
    cc: list[str],
) -> None:
    registry = loaded(example(tmp_path, *patches))
    kpi = kpi_of(registry, kpi_id)
    policy = registry.get(kpi.escalation)
    assert isinstance(policy, EscalationPolicy)
    tier = next(t for t in policy.tiers if t.level == level)
    recipients = escalation_recipients(registry, kpi, tier, outage=False)
    assert [p.id for p in recipients.to] == to
    assert [p.id for p in recipients.cc] == cc

"""Small registries for check tests, and a helper that returns findings as plain tuples.

`BASE` is a minimal registry that checks clean on AS_OF (every kind but one KPI
and one of everything it needs). Tests change it with patches: `(file, old, new)`
replaces `old` by `new` in one file (`old` must occur exactly once, so a patch
that stops matching fails loudly instead of testing nothing), and `(file, None,
text)` adds a file. Line numbers below are what the tests point at.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from types import FrameType

from kpictl.check.check import check

# Run and write_registry are part of this module's toolkit too: tests import them from here.
from tests.conftest import AS_OF
from tests.conftest import Run as Run
from tests.conftest import write_registry as write_registry

TODAY = date.fromisoformat(AS_OF)

Patch = tuple[str, str | None, str]
Finding3 = tuple[str, str, int]

PEOPLE = """\
kind: person
id: ann
name: Ann Lee
email: ann@acme.example
team: demand-gen
---
kind: person
id: bob
name: Bob Ray
email: bob@acme.example
team: demand-gen
manager: ann
"""

TEAM = """\
kind: team
id: demand-gen
name: Demand Generation
function: marketing
lead: ann
"""


def source_doc(source_id: str, name: str, owner: str, fallback: str | None = None) -> str:
    """A daily HubSpot data source document (with `fallback:` when given)."""
    text = f"kind: data_source\nid: {source_id}\nname: {name}\nsystem: HubSpot\n"
    text += f"owner: {owner}\nrefresh: daily\n"
    return text + (f"fallback: {fallback}\n" if fallback else "")


def kpi_doc(
    kpi_id: str,
    name: str,
    description: str,
    formula: str,
    *,
    escalation: str,
    stage: str = "consideration",
    paced: bool = True,
    target: int | None = 100,
) -> str:
    """A count KPI document in flow style: owned by ann (backup bob), fed by `crm`, reviewed
    weekly, flat pacing and a 2026-Q4 target unless told otherwise. The escalation and
    drill tests build their registries from it."""
    lines = [
        "kind: kpi",
        f"id: {kpi_id}",
        f"name: {name}",
        f"description: {description}",
        f"formula: {formula}",
        "unit: count",
        *(["pacing: flat"] if paced else []),
        "direction: increase",
        f"stage: {stage}",
        "indicator: leading",
        "audience: internal",
        "owners: {primary: ann, backup: bob}",
        "sources: [crm]",
        "cadence: {refresh: daily, review: weekly}",
        *([f"targets: [{{period: 2026-Q4, value: {target}}}]"] if target is not None else []),
        f"escalation: {escalation}",
    ]
    return "\n".join(lines) + "\n"


SOURCE = source_doc("crm", "CRM contacts", "ann")

# Lines: 12 owners, 13 primary, 14 backup, 15 sources, 16 cadence,
# 19 targets, 20 `- period`, 21 value, 22 escalation.
KPI = """\
kind: kpi
id: mql
name: MQLs
description: Leads that meet the MQL definition.
definition: mql-term
formula: count(leads)
unit: count
direction: increase
stage: consideration
indicator: leading
audience: internal
owners:
  primary: ann
  backup: bob
sources: [crm]
cadence:
  refresh: daily
  review: weekly
targets:
  - period: 2026-Q4
    value: 100
escalation: standard
"""

# The first tier of every test policy: the owner reviews a 5% deviation within a day.
OWNER_REVIEW = """\
  - level: 1
    name: Owner review
    deviation_pct: 5
    respond_within: 24h
    notify: [$owner]
    approver: $owner
"""

# Lines: 4 tiers, 5 `- level`, 7 deviation_pct, 9 notify, 10 approver.
POLICY = (
    """\
kind: escalation_policy
id: standard
name: Standard
tiers:
"""
    + OWNER_REVIEW
)

GLOSSARY = """\
kind: glossary_term
id: mql-term
term: MQL
definition: A lead with a fit score of 60 or more.
owner: ann
"""

# Lines: 4 status, 7 primary_kpi, 8 daci, 11 timeline, 12 start, 13 end,
# 14 sign_off, 15 its first entry.
CAMPAIGN = """\
kind: campaign
id: spring-push
name: Spring push
status: active
context: Pipeline is behind plan.
objective: Add MQLs.
primary_kpi: {kpi: mql, target: 150}
daci:
  driver: ann
  approver: bob
timeline:
  start: 2026-10-01
  end: 2026-12-31
sign_off:
  - {by: bob, date: 2026-09-24}
"""

BASE: dict[str, str] = {
    "people.yaml": PEOPLE,
    "team.yaml": TEAM,
    "source.yaml": SOURCE,
    "kpi.yaml": KPI,
    "policy.yaml": POLICY,
    "glossary.yaml": GLOSSARY,
    "campaign.yaml": CAMPAIGN,
}

# Extra entities some cases add.
INACTIVE_CARL = """\
kind: person
id: carl
name: Carl Doe
email: carl@acme.example
team: demand-gen
active: false
"""

SECOND_KPI = KPI.replace("id: mql", "id: sql").replace("definition: mql-term\n", "")


def patched(*patches: Patch) -> dict[str, str]:
    """BASE with `patches` applied (see the module docstring)."""
    files = dict(BASE)
    for name, old, new in patches:
        if old is None:
            assert name not in files, f"{name} already exists; patch it instead"
            files[name] = new
            continue
        text = files[name]
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {name}"
        files[name] = text.replace(old, new)
    return files


def make(root: Path, *patches: Patch, settings: str = "version: 1\n") -> Path:
    """Write BASE plus `patches` as a registry at `root`."""
    return write_registry(root, patched(*patches), settings)


def findings(root: Path, today: date = TODAY) -> list[Finding3]:
    """Check the registry at `root`: sorted (code, path relative to root, line)."""
    result = check(root, today=today, cwd=root)
    return sorted(
        (item.code, item.location.path.as_posix(), item.location.line) for item in result.findings
    )


def messages(root: Path, code: str, today: date = TODAY) -> list[str]:
    """The messages of every `code` finding in the registry at `root`."""
    return [
        item.message for item in check(root, today=today, cwd=root).findings if item.code == code
    ]


class Hung(BaseException):
    """Raised by `deadline`. Not an Exception: no `except` in kpictl may swallow it."""


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Fail instead of hanging: a FIFO opened for reading, a runaway template or a
    quadratic regression would otherwise stall the suite until CI's own limit."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise Hung(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)

"""A small registry, actual values and a counting SMTP server for the escalation lifecycle tests.

One KPI, `mql`, flat target 100 (so a value of 90 is 10% behind), owned by Ann (manager
Dana), backup Bob; three tiers: 5% → Ann, 15% → Ann and Dana (and data outages),
30% → Carol (the CMO).
"""

from __future__ import annotations

import email.policy
import sqlite3
from collections.abc import Iterator
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_registry
from tests.helpers import OWNER_REVIEW, kpi_doc, source_doc

aiosmtpd = pytest.importorskip("aiosmtpd")
from aiosmtpd.controller import Controller  # noqa: E402

from tests.test_smtp import Recorder as Recorder  # noqa: E402
from tests.test_smtp import free_port  # noqa: E402

PEOPLE = """\
kind: person
id: ann
name: Ann Lee
email: ann@acme.example
team: demand-gen
manager: dana
---
kind: person
id: bob
name: Bob Ray
email: bob@acme.example
team: demand-gen
---
kind: person
id: dana
name: Dana Whit
email: dana@acme.example
team: demand-gen
---
kind: person
id: carol
name: Carol Stone
email: carol@acme.example
team: demand-gen
---
kind: person
id: eve
name: Eve Gone
email: eve@acme.example
team: demand-gen
active: false
---
kind: team
id: demand-gen
name: Demand Generation
function: marketing
lead: dana
---
"""
PEOPLE += source_doc("crm", "CRM contacts", "bob", fallback="crm-export")
PEOPLE += "---\n" + source_doc("crm-export", "CRM export", "bob")


def kpi_like_mql(kpi_id: str, name: str) -> str:
    """Another KPI like `mql`: target 100, the three tiers."""
    return kpi_doc(
        kpi_id, name, "Leads that meet the MQL definition.", "count(leads)", escalation="tiers"
    )


KPI = kpi_like_mql("mql", "MQLs")

POLICY = (
    """\
kind: escalation_policy
id: tiers
name: Three tiers
tiers:
"""
    + OWNER_REVIEW
    + """\
  - level: 2
    name: Manager review
    deviation_pct: 15
    respond_within: 72h
    notify: [$owner, $owner.manager]
    approver: $owner.manager
    on_data_outage: true
  - level: 3
    name: Executive escalation
    deviation_pct: 30
    respond_within: 24h
    notify: [carol]
    approver: carol
"""
)

ANN, BOB, DANA, CAROL = (f"{n}@acme.example" for n in ("ann", "bob", "dana", "carol"))


def settings(port: int) -> str:
    return (
        "version: 1\norganization: Acme\ntimezone: Europe/Berlin\n"
        'email:\n  from: "KPI Desk <desk@acme.example>"\n'
        f"  smtp: {{host: 127.0.0.1, port: {port}, starttls: false, timeout: 2}}\n"
    )


def make_registry(root: Path, port: int, kpis: str = KPI) -> Path:
    files = {"people.yaml": PEOPLE, "kpis.yaml": kpis, "policy.yaml": POLICY}
    return write_registry(root, files, settings(port))


def actuals(folder: Path, name: str, rows: str) -> str:
    """A CSV of `kpi,period,value,as_of` rows ("mql,2026-Q4,90,2026-11-20")."""
    path = folder / name
    path.write_text("kpi,period,value,as_of\n" + rows, encoding="utf-8")
    return str(path)


@pytest.fixture
def smtp() -> Iterator[Recorder]:
    """A real SMTP server on 127.0.0.1 that records every message; `.port` says where."""
    handler = Recorder()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    handler.port = port  # type: ignore[attr-defined]
    yield handler
    controller.stop()


def parse(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content()).replace("\r\n", "\n")


def rows(root: Path, query: str) -> list[tuple[Any, ...]]:
    """Rows of the registry's SQLite store, read behind kpictl's back."""
    connection = sqlite3.connect(root / ".kpictl" / "store.db")
    try:
        return connection.execute(query).fetchall()
    finally:
        connection.close()

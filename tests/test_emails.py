"""Every email of the example registry, as written to .eml and read back by the stdlib parser."""

from __future__ import annotations

import email.policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

from tests.conftest import AS_OF, EXAMPLE, Run, assert_golden, write_registry

ACTUALS = str(EXAMPLE / "actuals" / "2026-11-20.csv")
ESCALATIONS = ("expansion-pipeline", "branded-search-clicks", "sales-cycle-length", "mql")


def read_eml(path: Path) -> EmailMessage:
    with path.open("rb") as stream:
        message = BytesParser(policy=email.policy.default).parse(stream)
    assert isinstance(message, EmailMessage)
    return message


def parts(message: EmailMessage) -> tuple[str, str]:
    """The text and HTML parts of a multipart/alternative message."""
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def readable(message: EmailMessage) -> str:
    """Headers a person reads, then the text part: what a golden file holds."""
    lines = [
        f"{name}: {message[name]}"
        for name in ("From", "To", "Cc", "Reply-To", "Subject", "Date", "Message-ID")
        if message[name] is not None
    ]
    return "\n".join(lines) + "\n\n" + parts(message)[0]


def check_message(message: EmailMessage) -> None:
    assert message["MIME-Version"] == "1.0"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Date"] is not None and message["Message-ID"].startswith("<kpictl.")
    assert message.defects == []
    for part in message.iter_parts():
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
        assert part.get_content_charset() == "utf-8"


def write_and_compare(out: Path, key: str) -> EmailMessage:
    message = read_eml(out / f"{key}.eml")
    check_message(message)
    assert_golden(f"email/{key}.txt", readable(message))
    assert_golden(f"email/{key}.html", parts(message)[1])
    raw = (out / f"{key}.eml").read_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")  # CRLF throughout
    return message


def test_escalations_of_the_example_registry(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run(
        "escalate", str(EXAMPLE), "--actuals", ACTUALS, "--as-of", AS_OF, "--out", str(out)
    )
    assert result.code == 0, result.err
    assert result.err == ""
    assert result.out == f"Wrote 4 emails to {out} (index.md lists them).\n"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{key}.eml" for key in ESCALATIONS] + ["index.md"]
    )
    assert_golden("email/index.md", (out / "index.md").read_text(encoding="utf-8"))
    for key in ESCALATIONS:
        write_and_compare(out, key)


def test_escalation_recipients(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run("escalate", str(EXAMPLE), "--actuals", ACTUALS, "--as-of", AS_OF, "--out", str(out))
    mql = read_eml(out / "mql.eml")
    # Tier 1 of `standard`: notify [$owner, $backup], approver $owner (already in To).
    assert [a.addr_spec for a in mql["To"].addresses] == [
        "aisha.okafor@northwind.example",
        "sofia.lindqvist@northwind.example",
    ]
    assert mql["Cc"] is None
    assert mql["Subject"] == (
        "[Tier 1 · respond by Sat 21 Nov 09:00 CET] Marketing Qualified Leads 7.9% behind Q4 "
        "target to date"
    )
    cycle = read_eml(out / "sales-cycle-length.eml")
    # revops means its lead, Omar, who is also the backup: listed once.
    assert [a.addr_spec for a in cycle["To"].addresses] == [
        "victor.almeida@northwind.example",
        "omar.haddad@northwind.example",
        "marcus.webb@northwind.example",
        "hannah.schulz@northwind.example",
    ]


def test_output_is_the_same_on_every_run(run: Run, tmp_path: Path) -> None:
    for name in ("a", "b"):
        run(
            "escalate", str(EXAMPLE), "-a", ACTUALS, "--as-of", AS_OF, "--out", str(tmp_path / name)
        )
    for key in ESCALATIONS:
        first = (tmp_path / "a" / f"{key}.eml").read_bytes()
        assert first == (tmp_path / "b" / f"{key}.eml").read_bytes()


def test_dry_run_prints_summary_and_text(run: Run) -> None:
    result = run("escalate", str(EXAMPLE), "--actuals", ACTUALS, "--as-of", AS_OF)
    assert result.code == 0 and result.err == ""
    assert_golden("email/escalate-dry-run.txt", result.out)


@pytest.mark.parametrize(
    ("command", "campaign", "key"),
    [
        ("kickoff", "q4-legacy-bi-displacement", "q4-legacy-bi-displacement-kickoff"),
        ("readout", "q4-legacy-bi-displacement", "q4-legacy-bi-displacement-readout-day-30"),
        ("recap", "data-leaders-webinars-2026", "data-leaders-webinars-2026-recap"),
    ],
)
def test_campaign_emails(run: Run, tmp_path: Path, command: str, campaign: str, key: str) -> None:
    out = tmp_path / "out"
    result = run(
        command, campaign, str(EXAMPLE), "-a", ACTUALS, "--as-of", AS_OF, "--out", str(out)
    )
    assert result.code == 0, result.err
    # The example's kickoff goes out 50 days after the campaign started: kickoff says so.
    late = (
        "kpictl: warning: 'q4-legacy-bi-displacement' started on 2026-10-01, 50 days ago: "
        "this kickoff goes out after work started; send it before timeline.start next time\n"
    )
    assert result.err == (late if command == "kickoff" else "")
    message = write_and_compare(out, key)
    # Everyone on the DACI list: driver, approver and contributors in To, informed in Cc.
    assert len(message["To"].addresses) >= 2
    assert message["Reply-To"] is not None


def test_readout_day_option(run: Run) -> None:
    args = ("q4-legacy-bi-displacement", str(EXAMPLE), "-a", ACTUALS, "--as-of", AS_OF)
    result = run("readout", *args, "--day", "60")
    assert result.code == 1
    assert "the day-60 readout of 'q4-legacy-bi-displacement' is due on Mon 30 Nov 2026" in (
        result.err
    )
    result = run("readout", *args, "--day", "45")
    assert result.code == 1
    assert result.err == (
        "kpictl: 'q4-legacy-bi-displacement' has no 45-day readout "
        "(timeline.readouts: 30, 60, 90)\n"
    )
    result = run("readout", *args[:-1], "2026-12-01", "--day", "60")
    assert result.code == 0 and "Day 60 readout" in result.out


def test_kickoff_refuses_an_unsigned_charter(run: Run) -> None:
    result = run("kickoff", "q1-2027-analytics-plus-upsell", str(EXAMPLE), "--as-of", AS_OF)
    assert result.code == 1
    assert result.out == ""
    assert result.err == (
        "kpictl: 'q1-2027-analytics-plus-upsell' is not signed off by its approver "
        "jonas-keller: add sign_off: [{by: jonas-keller, date: YYYY-MM-DD}] to the charter "
        "before the kickoff email goes out\n"
    )


def test_recap_refuses_a_draft(run: Run) -> None:
    result = run("recap", "q1-2027-analytics-plus-upsell", str(EXAMPLE), "-a", ACTUALS)
    assert result.code == 1
    assert "is a draft" in result.err


def test_unknown_campaign_suggests(run: Run) -> None:
    result = run("kickoff", "q4-legacy-bi-displacment", str(EXAMPLE))
    assert result.code == 2
    assert result.err.startswith(
        "kpictl: no campaign 'q4-legacy-bi-displacment' (did you mean 'q4-legacy-bi-displacement'?)"
    )
    result = run("recap", "mql", str(EXAMPLE), "-a", ACTUALS)
    assert (result.code, result.err) == (2, "kpictl: 'mql' is a kpi, not a campaign\n")


def test_status_formats(run: Run) -> None:
    for fmt, name in (("text", "txt"), ("markdown", "md"), ("json", "json"), ("csv", "csv")):
        result = run("status", str(EXAMPLE), "-a", ACTUALS, "--as-of", AS_OF, "-f", fmt)
        assert result.code == 0 and result.err == ""
        assert_golden(f"status/status.{name}", result.out)


HOSTILE = {
    "people.yaml": """
        kind: person
        id: eve
        name: 'Eve, Bcc: x, <evil.example> "Cc": (y) [z]; \\ end'
        email: eve@example.com
        team: t
        manager: mal
        ---
        kind: person
        id: mal
        name: "<script>alert(1)</script>"
        email: mal@example.com
        team: t
        ---
        kind: team
        id: t
        name: "Team <b>bold</b>"
        function: marketing
        lead: mal
        ---
        kind: data_source
        id: src
        name: Source
        system: CRM
        owner: mal
        refresh: daily
        ---
        kind: escalation_policy
        id: p
        name: Policy
        tiers:
          - level: 1
            name: "One, X-Injected: yes"
            deviation_pct: 5
            respond_within: 24h
            notify: [$owner, $owner.manager]
            approver: $owner.manager
        ---
        kind: kpi
        id: k
        name: "Leads, Bcc: y@evil.example"
        description: d
        formula: f
        unit: count
        direction: increase
        stage: conversion
        indicator: leading
        audience: internal
        owners: {primary: eve, backup: mal}
        sources: [src]
        cadence: {refresh: daily, review: weekly}
        targets: [{period: 2026-Q4, value: 920}]
        escalation: p
    """
}


def test_hostile_names_never_reach_a_header_or_raw_html(run: Run, tmp_path: Path) -> None:
    root = write_registry(
        tmp_path / "r",
        HOSTILE,
        'version: 1\nemail: {from: "Desk, Bcc: z@evil.example <desk@example.com>"}\n',
    )
    csv = tmp_path / "a.csv"
    csv.write_text("kpi,period,value,as_of\nk,2026-Q4,100,2026-11-20\n")
    out = tmp_path / "out"
    result = run("escalate", str(root), "-a", str(csv), "--as-of", AS_OF, "--out", str(out))
    assert result.code == 0, result.err
    raw = (out / "k.eml").read_bytes()
    header_block = raw.split(b"\r\n\r\n", 1)[0]
    header_names = [line.split(b":", 1)[0] for line in header_block.split(b"\r\n")]
    assert b"Bcc" not in header_names and b"X-Injected" not in header_names
    message = read_eml(out / "k.eml")
    assert message["Bcc"] is None and message["X-Injected"] is None
    assert message.defects == []
    to = message["To"].addresses
    assert [(a.display_name, a.addr_spec) for a in to] == [
        ('Eve, Bcc: x, <evil.example> "Cc": (y) [z]; \\ end', "eve@example.com"),
        ("<script>alert(1)</script>", "mal@example.com"),
    ]
    assert message["From"].addresses[0].addr_spec == "desk@example.com"
    assert "\n" not in message["Subject"]
    text, html = parts(message)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script>" in text  # plain text is not HTML: shown as written


def test_m001_reports_broken_overrides(run: Run, tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "r"
    shutil.copytree(EXAMPLE, root)
    settings = (root / "kpictl.yaml").read_text(encoding="utf-8")
    (root / "kpictl.yaml").write_text(settings + "templates: overrides\n", encoding="utf-8")
    folder = root / "overrides" / "email"
    folder.mkdir(parents=True)
    (folder / "escalation.txt.j2").write_text("Hi\n{% if %}\n", encoding="utf-8")
    (folder / "outage.subject.j2").write_text("{{ kpi.name }}\n{{ nope }}\n", encoding="utf-8")
    (folder / "kickoff.txt.j2").write_text("{{ campaign.name.__class__ }}\n", encoding="utf-8")
    (folder / "recap.txt.j2").write_text("Fine: {{ campaign.name }}\n", encoding="utf-8")
    result = run("check", str(root), "--as-of", AS_OF, "--select", "M001")
    assert result.code == 1
    lines = result.out.splitlines()
    assert len(lines) == 4, result.out
    assert lines[0].endswith(
        "email/escalation.txt.j2:2:1: M001 [error] email/escalation.txt.j2 does not compile: "
        "TemplateSyntaxError: Expected an expression, got 'end of statement block'"
    )
    assert "email/kickoff.txt.j2:1:1: M001 [error]" in lines[1] and "SecurityError" in lines[1]
    assert lines[2].endswith(
        "email/outage.subject.j2:2:1: M001 [error] email/outage.subject.j2 fails with sample "
        "data: UndefinedError: 'nope' is undefined"
    )
    # The good override is used for real.
    fine = run("recap", "data-leaders-webinars-2026", str(root), "-a", ACTUALS, "--as-of", AS_OF)
    assert "Fine: Summer 2026 Data Leaders webinar series" in fine.out


def test_m001_is_silent_without_overrides(run: Run) -> None:
    result = run("check", str(EXAMPLE), "--as-of", AS_OF, "--select", "M001")
    assert (result.code, result.out) == (0, "No findings in 30 files.\n")


def test_no_email_block_uses_a_default_sender_and_cannot_send(run: Run, tmp_path: Path) -> None:
    root = write_registry(tmp_path / "r", HOSTILE)
    csv = tmp_path / "a.csv"
    csv.write_text("kpi,period,value,as_of\nk,2026-Q4,100,2026-11-20\n")
    result = run("escalate", str(root), "-a", str(csv), "--as-of", AS_OF)
    assert result.code == 0 and "From: kpictl <kpictl@localhost>" in result.out
    result = run("escalate", str(root), "-a", str(csv), "--as-of", AS_OF, "--send")
    assert result.code == 2
    assert "kpictl.yaml has no email.smtp settings" in result.err

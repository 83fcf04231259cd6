"""Email security: no header injection from registry text, no writes through planted links,
no resending after a dropped SMTP connection, no crash on an unknown signer."""

from __future__ import annotations

import email.policy
import json
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest

from kpictl.emails.compose import address, compose, to_bytes
from kpictl.registry.models import Kpi
from tests.conftest import AS_OF, EXAMPLE, Result, Run
from tests.helpers import make
from tests.test_smtp import free_port, registry_with_smtp

ACTUALS = str(EXAMPLE / "actuals" / "2026-11-20.csv")
# The name from the issue: on Python 3.11 it became a real Bcc header and a forged body.
ENCODED_NAME = "Marcus =?utf-8?q?=0D=0ABcc:_evil@evil.example=0D=0A=0D=0APay?= Webb"
ENCODED_SUBJECT = "Leads =?utf-8?q?=0D=0ABcc:_y@evil.example=0D=0A=0D=0AForged?= behind"
# What kpictl writes instead: the same text, its encoded-word opener made inert.
INERT_NAME = "Marcus =\u200b?utf-8?q?=0D=0ABcc:_evil@evil.example=0D=0A=0D=0APay?= Webb"
# Parts as read back from the wire (CRLF line ends).
BODIES = [("text/plain", "Body\r\n"), ("text/html", "<p>Body</p>\r\n")]
HEADERS = [
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "Auto-Submitted",
    "MIME-Version",
    "Content-Type",
]


def parse(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def bodies(message: EmailMessage) -> list[tuple[str, str]]:
    """(content type, content) of every leaf part."""
    out = []
    for part in message.walk():
        if not part.is_multipart():
            assert isinstance(part, EmailMessage)
            out.append((part.get_content_type(), part.get_content()))
    return out


def addresses(message: EmailMessage, name: str) -> list[str]:
    return [a.addr_spec for a in message[name].addresses]


def hostile_message(name: str, subject: str) -> EmailMessage:
    sender = address("KPI Desk", "desk@acme.example")
    msg = compose(
        sender=sender,
        to=(address(name, "marcus.webb@acme.example"), address("Ann Lee", "ann@acme.example")),
        cc=(address(name, "cc@acme.example"),),
        subject=subject,
        text="Body\n",
        html="<p>Body</p>\n",
        date=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        msgid="<kpictl.20261120.abc@acme.example>",
    )
    return parse(to_bytes(msg))


# --- 1. encoded words and control characters never become headers ---------------------


def test_header_text_makes_encoded_words_inert() -> None:
    from kpictl.emails.compose import header_text

    assert header_text(ENCODED_NAME) == INERT_NAME
    assert header_text("Ann\r\nBcc: x@evil.example") == "Ann Bcc: x@evil.example"
    assert header_text("Plain Name") == "Plain Name"


def test_encoded_word_in_a_display_name_forges_no_header() -> None:
    message = hostile_message(ENCODED_NAME, "Weekly KPIs")
    assert list(message.keys()) == HEADERS
    assert message["Bcc"] is None
    assert addresses(message, "To") == ["marcus.webb@acme.example", "ann@acme.example"]
    assert addresses(message, "Cc") == ["cc@acme.example"]
    assert addresses(message, "From") == ["desk@acme.example"]
    assert bodies(message) == BODIES
    shown = message["To"].addresses[0].display_name
    # The email package may fold a long encoded name into two encoded words; a reader
    # sees the name as written, with no line break anywhere.
    assert "\r" not in shown and "\n" not in shown
    assert shown.replace(" ", "") == INERT_NAME.replace(" ", "")
    assert message.defects == []


def test_encoded_word_and_line_breaks_in_the_subject_forge_no_header() -> None:
    message = hostile_message("Ann Lee", ENCODED_SUBJECT + "\r\nX-Injected: yes")
    assert list(message.keys()) == HEADERS
    assert message["Subject"] == (
        "Leads =\u200b?utf-8?q?=0D=0ABcc:_y@evil.example=0D=0A=0D=0AForged?= behind X-Injected: yes"
    )
    assert bodies(message) == BODIES


def test_check_reports_control_characters_and_encoded_words_in_names(
    run: Run, tmp_path: Path
) -> None:
    root = make(
        tmp_path / "r",
        ("people.yaml", "name: Ann Lee", 'name: "Ann\\r\\nBcc: x@evil.example"'),
        ("people.yaml", "name: Bob Ray", f'name: "{ENCODED_NAME}"'),
        ("team.yaml", "name: Demand Generation", 'name: "Demand\\u202eGen"'),
        settings='version: 1\norganization: "Acme\\nBcc: z@evil.example"\n',
    )
    result = run("check", str(root), "--as-of", AS_OF, "--select", "S001", cwd=tmp_path)
    assert result.code == 1
    assert result.out.splitlines()[:4] == [
        "r/kpictl.yaml:2:15: S001 [error] organization: holds the control character U+000A "
        "at position 5: write it on one line without control characters",
        "r/people.yaml:3:7: S001 [error] name: holds the control character U+000D at "
        "position 4: write it on one line without control characters",
        "r/people.yaml:9:7: S001 [error] name: holds the encoded word "
        "'=?utf-8?q?=0D=0ABcc:_evil@evil.example=0D=0A=0D=0APay?=': write the text itself "
        "(the registry is UTF-8), not its email-header encoding",
        "r/team.yaml:3:7: S001 [error] name: holds the control character U+202E at position "
        "7: write it on one line without control characters",
    ]


def test_hostile_kpi_name_is_a_finding(run: Run, tmp_path: Path) -> None:
    root = make(
        tmp_path / "r",
        ("kpi.yaml", "name: MQLs", f'name: "{ENCODED_SUBJECT}"'),
    )
    result = run("check", str(root), "--as-of", AS_OF, "--select", "S001", cwd=tmp_path)
    assert (result.code, result.out.splitlines()[0]) == (
        1,
        "r/kpi.yaml:3:7: S001 [error] name: holds the encoded word "
        "'=?utf-8?q?=0D=0ABcc:_y@evil.example=0D=0A=0D=0AForged?=': write the text itself "
        "(the registry is UTF-8), not its email-header encoding",
    )


def test_subject_from_an_override_template_forges_no_header(run: Run, tmp_path: Path) -> None:
    # Template overrides and free-text fields (descriptions) are not name fields: the
    # subject they make is made safe when the message is composed.
    root = tmp_path / "r"
    shutil.copytree(EXAMPLE, root)
    settings = (root / "kpictl.yaml").read_text(encoding="utf-8")
    (root / "kpictl.yaml").write_text(settings + "templates: overrides\n", encoding="utf-8")
    folder = root / "overrides" / "email"
    folder.mkdir(parents=True)
    (folder / "escalation.subject.j2").write_text(
        "{{ kpi.name }} " + ENCODED_SUBJECT + "\n", encoding="utf-8"
    )
    out = tmp_path / "out"
    result = run("escalate", str(root), "-a", ACTUALS, "--as-of", AS_OF, "--out", str(out))
    assert result.code == 0, result.err
    message = parse((out / "mql.eml").read_bytes())
    assert list(message.keys()) == [h for h in HEADERS if h != "Cc"]
    assert message["Subject"] == (
        "Marketing Qualified Leads Leads =\u200b?utf-8?q?=0D=0ABcc:_y@evil.example"
        "=0D=0A=0D=0AForged?= behind"
    )
    assert addresses(message, "To") == [
        "aisha.okafor@northwind.example",
        "sofia.lindqvist@northwind.example",
    ]
    assert [kind for kind, _ in bodies(message)] == ["text/plain", "text/html"]


def test_hostile_names_that_bypass_check_still_make_safe_headers() -> None:
    # `check` rejects these names, but the email builder must not rely on it: entities
    # may come from elsewhere later (a store, an API). Patch them in after loading.
    from datetime import date

    from kpictl.emails.outbox import load_actuals, load_inputs, mailer_for
    from kpictl.numbers.evaluate import evaluate

    inputs = load_inputs(EXAMPLE, date.fromisoformat(AS_OF))
    actuals = load_actuals(inputs.registry, ACTUALS, inputs.moment.date()).actuals
    registry = inputs.registry
    kpi = registry.get("mql")
    owner = registry.person("aisha-okafor")
    assert isinstance(kpi, Kpi) and owner is not None
    kpi.name = ENCODED_SUBJECT + "\r\nX-Injected: yes"
    owner.name = ENCODED_NAME
    emails = mailer_for(inputs).escalations(evaluate(registry, actuals, inputs.moment))
    message = parse(next(e for e in emails if e.key == "mql").as_bytes())
    assert list(message.keys()) == [h for h in HEADERS if h != "Cc"]
    assert message["Subject"] == (
        "[Tier 1 · respond by Sat 21 Nov 09:00 CET] Leads =\u200b?utf-8?q?=0D=0ABcc:_y@evil"
        ".example=0D=0A=0D=0AForged?= behind X-Injected: yes 7.9% behind Q4 target to date"
    )
    assert addresses(message, "To") == [
        "aisha.okafor@northwind.example",
        "sofia.lindqvist@northwind.example",
    ]
    assert [kind for kind, _ in bodies(message)] == ["text/plain", "text/html"]


# --- 2. --out DIR never writes through a planted link ----------------------------------


def escalate_out(run: Run, out: Path) -> Result:
    return run("escalate", str(EXAMPLE), "-a", ACTUALS, "--as-of", AS_OF, "--out", str(out))


def test_link_at_the_old_temp_name_is_not_followed(run: Run, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / ".mql.eml.tmp").symlink_to(victim)
    result = escalate_out(run, out)
    assert result.code == 0, result.err
    assert victim.read_text(encoding="utf-8") == "precious\n"
    assert (out / ".mql.eml.tmp").readlink() == victim
    assert (out / "mql.eml").is_file() and not (out / "mql.eml").is_symlink()


def test_link_at_the_eml_name_is_refused(run: Run, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "mql.eml").symlink_to(victim)
    result = escalate_out(run, out)
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"kpictl: cannot write {out / 'mql.eml'}: something other than a regular file is "
        "there (a symbolic link); remove it or choose another --out folder\n"
    )
    assert victim.read_text(encoding="utf-8") == "precious\n"
    assert (out / "mql.eml").readlink() == victim
    assert sorted(p.name for p in out.iterdir()) == ["mql.eml"]  # nothing else written


def test_fifo_at_the_index_name_is_refused(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / "index.md")
    result = escalate_out(run, out)
    assert result.code == 2
    assert result.err == (
        f"kpictl: cannot write {out / 'index.md'}: something other than a regular file is "
        "there (a named pipe (FIFO)); remove it or choose another --out folder\n"
    )


def test_existing_eml_files_are_replaced(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "mql.eml").write_bytes(b"old")
    result = escalate_out(run, out)
    assert result.code == 0, result.err
    assert (out / "mql.eml").read_bytes().startswith(b"From: ")
    assert sorted(p.name for p in out.iterdir()) == [
        "branded-search-clicks.eml",
        "expansion-pipeline.eml",
        "index.md",
        "mql.eml",
        "sales-cycle-length.eml",
    ]


# --- 4. kickoff with a sign_off by an unknown id ----------------------------------------


def test_kickoff_refuses_an_unknown_signer(run: Run, tmp_path: Path) -> None:
    root = tmp_path / "r"
    shutil.copytree(EXAMPLE, root)
    charter = root / "campaigns" / "q4-legacy-bi-displacement.yaml"
    text = charter.read_text(encoding="utf-8")
    charter.write_text(text.replace("{by: marcus-webb,", "{by: marcus-web,"), encoding="utf-8")
    result = run("kickoff", "q4-legacy-bi-displacement", str(root), "--as-of", AS_OF)
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        "kpictl: 'q4-legacy-bi-displacement' sign_off[1].by names 'marcus-web', which is not "
        "a person (did you mean 'marcus-webb'?): fix the charter (`kpictl check` lists every "
        "such problem) before the kickoff email goes out\n"
    )


def test_readout_leaves_an_unknown_signer_out(run: Run, tmp_path: Path) -> None:
    # Readouts do not list signatures; an override that does sees only known people.
    root = tmp_path / "r"
    shutil.copytree(EXAMPLE, root)
    charter = root / "campaigns" / "q4-legacy-bi-displacement.yaml"
    text = charter.read_text(encoding="utf-8")
    charter.write_text(text.replace("{by: marcus-webb,", "{by: marcus-web,"), encoding="utf-8")
    settings = (root / "kpictl.yaml").read_text(encoding="utf-8")
    (root / "kpictl.yaml").write_text(settings + "templates: overrides\n", encoding="utf-8")
    folder = root / "overrides" / "email"
    folder.mkdir(parents=True)
    (folder / "readout.txt.j2").write_text(
        "{% for s in campaign.signed %}{{ s.by.name }} {{ s.date }}\n{% endfor %}",
        encoding="utf-8",
    )
    result = run("readout", "q4-legacy-bi-displacement", str(root), "-a", ACTUALS, "--as-of", AS_OF)
    assert result.code == 0, result.err
    assert "\nPriya Raman Tue 22 Sep 2026\n" in result.out
    assert "marcus" not in result.out.lower().split("subject:")[-1]


# --- 3. a rerun after a dropped SMTP connection sends only the rest --------------------


@pytest.fixture
def smtp() -> Iterator[Callable[[Any], int]]:
    """Start a real SMTP server (aiosmtpd on 127.0.0.1) with a handler; gives its port."""
    from aiosmtpd.controller import Controller

    started: list[Controller] = []

    def start(handler: Any) -> int:
        controller = Controller(handler, hostname="127.0.0.1", port=free_port())
        controller.start()
        started.append(controller)
        return int(controller.port)

    yield start
    for controller in started:
        controller.stop()


# escalate remembers in the store; the campaign emails keep --sent-log.
READOUT = ("readout", "q4-legacy-bi-displacement")


class Dropper:
    """Accepts `accept` messages, then hangs up in the middle of the next one, once."""

    def __init__(self, accept: int) -> None:
        self.messages: list[tuple[list[str], bytes]] = []
        self.accept = accept
        self.dropped = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if not self.dropped and len(self.messages) >= self.accept:
            self.dropped = True
            server.transport.close()
            return "421 4.3.0 going away"
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted"


def subjects(handler: Dropper) -> list[str]:
    return [parse(raw)["Subject"].split("] ", 1)[1].split(" ")[0] for _, raw in handler.messages]


def test_rerun_sends_only_what_did_not_go_out(
    run: Run, tmp_path: Path, smtp: Callable[[Any], int]
) -> None:
    """The store remembers each step the server took (escalate's --sent-log is deprecated)."""
    handler = Dropper(accept=1)
    root = registry_with_smtp(tmp_path, smtp(handler))
    args = ("escalate", str(root), "-a", ACTUALS, "--as-of", AS_OF, "--send")
    first = run(*args)
    assert first.code == 1
    assert first.out.splitlines()[-1] == "Sent 1 of 4 emails."
    assert len(handler.messages) == 1

    second = run(*args)
    assert second.code == 0, second.err
    assert second.err == ""
    assert second.out.splitlines()[0] == (
        "expansion-pipeline     → nothing       unchanged: tier 3 open until Sat 21 Nov 09:00 CET"
    )
    assert second.out.splitlines()[-1] == "Sent 3 of 3 emails."
    assert len(handler.messages) == 4  # 1 + the remaining 3, none twice
    subjects_sent = [parse(raw)["Subject"].split("] ", 1)[1] for _, raw in handler.messages]
    assert [subject.split(" ")[0] for subject in subjects_sent] == [
        "Expansion",
        "Data",
        "New-business",
        "Marketing",
    ]

    third = run(*args)
    assert (third.code, third.err) == (0, "")
    assert third.out.splitlines()[-1] == "Sent 0 of 0 emails."
    assert len(handler.messages) == 4


def test_sent_log_is_never_followed_through_a_link(
    run: Run, tmp_path: Path, smtp: Callable[[Any], int]
) -> None:
    handler = Dropper(accept=10)
    root = registry_with_smtp(tmp_path, smtp(handler))
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n", encoding="utf-8")
    log = tmp_path / "sent.jsonl"
    log.symlink_to(victim)
    result = run(
        *READOUT, str(root), "-a", ACTUALS, "--as-of", AS_OF, "--send", "--sent-log", str(log)
    )
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"kpictl: cannot use {log} as the sent log: it is a symbolic link; name the file itself\n"
    )
    assert victim.read_text(encoding="utf-8") == "precious\n"
    assert handler.messages == []


def test_sent_log_with_a_foreign_line_is_refused(
    run: Run, tmp_path: Path, smtp: Callable[[Any], int]
) -> None:
    handler = Dropper(accept=10)
    root = registry_with_smtp(tmp_path, smtp(handler))
    log = tmp_path / "sent.jsonl"
    log.write_text("hello\n{}\n", encoding="utf-8")
    result = run(
        *READOUT, str(root), "-a", ACTUALS, "--as-of", AS_OF, "--send", "--sent-log", str(log)
    )
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"kpictl: {log}:1: not a line kpictl wrote to a sent log; fix or remove it (each "
        "line records one email that went out)\n"
    )
    assert handler.messages == []


def test_sent_log_ignores_a_torn_last_line(
    run: Run, tmp_path: Path, smtp: Callable[[Any], int]
) -> None:
    handler = Dropper(accept=10)
    root = registry_with_smtp(tmp_path, smtp(handler))
    log = tmp_path / "sent.jsonl"
    log.write_text(
        '{"email": "readout/q4-legacy-bi-displacement-readout-day-30/2026-11-20", "to": ["pr',
        "utf-8",
    )
    result = run(
        *READOUT, str(root), "-a", ACTUALS, "--as-of", AS_OF, "--send", "--sent-log", str(log)
    )
    assert result.code == 0, result.err
    assert len(handler.messages) == 1
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and lines[0].endswith('["pr')  # kept, and the next line apart
    assert json.loads(lines[1])["email"].startswith("readout/q4-legacy-bi-displacement-readout")


def test_sent_log_needs_send(run: Run, tmp_path: Path) -> None:
    log = tmp_path / "sent.jsonl"
    result = run(*READOUT, str(EXAMPLE), "-a", ACTUALS, "--as-of", AS_OF, "--sent-log", str(log))
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        "kpictl: --sent-log records what --send delivers: add --send, or leave it out\n"
    )
    assert not log.exists()

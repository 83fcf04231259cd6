"""Email security, second round: a display name can neither add a recipient nor turn
into group syntax however long it is, and email previews print no raw control character
and no line a CI runner would take for a workflow command."""

from __future__ import annotations

import email.policy
import re
import shutil
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

from kpictl.emails.compose import address, compose, header_text, to_bytes
from kpictl.emails.smtp import envelope
from tests.conftest import AS_OF, EXAMPLE
from tests.helpers import Run

ACTUALS = str(EXAMPLE / "actuals" / "2026-11-20.csv")
LONG_TAIL = ", Head of Demand Generation and Pipeline Programs" * 2

# Names whose punctuation means something in an address header.
HOSTILE_NAMES = [
    "Aisha Okafor, Head of Demand Generation and Pipeline Programs <attacker@evil.example>, x",
    "Ops: a@evil.example, b@evil.example;",
    "a: b; c",
    'Bob "The Builder" \\ Smith',
    "O'Brien, Jr.",
    '(comment) [bracket] <angle> @ ; : , . \\ "',
    '"',
    "<>",
    ",,,",
    "Zoë Ünal, Head of Données: Europe; <z@evil.example>",
    "=?utf-8?q?=0D=0ABcc:_evil@evil.example?= Webb",
    "x" * 100,
]
NAMES = [name for base in HOSTILE_NAMES for name in (base, base + LONG_TAIL)]


def parse(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def pairs(message: EmailMessage, header: str) -> list[tuple[str, str]]:
    return [(a.display_name, a.addr_spec) for a in message[header].addresses]


# --- 1. a display name re-parses to exactly itself ------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_hostile_display_names_reparse_to_exactly_the_intended_addresses(name: str) -> None:
    sender = address(name, "desk@acme.example")
    to = (address(name, "to@acme.example"), address("Ann Lee", "ann@acme.example"))
    cc = (address(name, "cc@acme.example"),)
    msg = compose(
        sender=sender,
        to=to,
        cc=cc,
        reply_to=address(name, "reply@acme.example"),
        subject="Weekly KPIs",
        text="Body\n",
        html="<p>Body</p>\n",
        date=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        msgid="<kpictl.20261120.abc@acme.example>",
    )
    raw = to_bytes(msg)
    message = parse(raw)
    shown = header_text(name)
    assert pairs(message, "From") == [(shown, "desk@acme.example")]
    assert pairs(message, "To") == [(shown, "to@acme.example"), ("Ann Lee", "ann@acme.example")]
    assert pairs(message, "Cc") == [(shown, "cc@acme.example")]
    assert pairs(message, "Reply-To") == [(shown, "reply@acme.example")]
    assert message.defects == []
    for header in ("From", "To", "Cc", "Reply-To"):
        assert message[header].defects == ()
    assert message["Bcc"] is None
    # The envelope is kpictl's own list, whatever the headers say.
    assert envelope(msg) == (
        "desk@acme.example",
        ["to@acme.example", "ann@acme.example", "cc@acme.example"],
    )
    if name.endswith(LONG_TAIL):
        # The long names really were folded, so folding is what this test checks.
        to_field = raw.split(b"\r\nTo: ", 1)[1].split(b"\r\nCc: ", 1)[0]
        assert b"\r\n " in to_field


def test_a_folded_name_keeps_its_quotes_on_the_wire() -> None:
    name = (
        "Aisha Okafor, Head of Demand Generation and Pipeline Programs <attacker@evil.example>, x"
    )
    msg = compose(
        sender=address("KPI Desk", "desk@acme.example"),
        to=(address(name, "aisha@acme.example"), address("Ann Lee", "ann@acme.example")),
        subject="s",
        text="Body\n",
        html="<p>Body</p>\n",
        date=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        msgid="<kpictl.20261120.abc@acme.example>",
    )
    headers = to_bytes(msg).split(b"\r\n\r\n", 1)[0].decode()
    assert headers.split("\r\nSubject:")[0] == (
        "From: KPI Desk <desk@acme.example>\r\n"
        'To: "Aisha Okafor, Head of Demand Generation and Pipeline Programs\r\n'
        ' <attacker@evil.example>, x" <aisha@acme.example>, Ann Lee <ann@acme.example>'
    )


def test_non_ascii_names_become_encoded_words_split_only_at_spaces() -> None:
    msg = compose(
        sender=address("KPI Desk", "desk@acme.example"),
        to=(address("Zoë Ünal, Head of Données: Europe" + LONG_TAIL, "zoe@acme.example"),),
        subject="s",
        text="Body\n",
        html="<p>Body</p>\n",
        date=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        msgid="<kpictl.20261120.abc@acme.example>",
    )
    headers = to_bytes(msg).split(b"\r\n\r\n", 1)[0].decode()
    assert headers.split("\r\nTo: ")[1].split("\r\nSubject:")[0] == (
        "=?utf-8?q?Zo=C3=AB_=C3=9Cnal=2C_Head_of_Donn=C3=A9es=3A_Europe=2C?=\r\n"
        " =?utf-8?q?Head_of_Demand_Generation_and_Pipeline_Programs=2C_Head?=\r\n"
        " =?utf-8?q?of_Demand_Generation_and_Pipeline_Programs?= <zoe@acme.example>"
    )
    assert max(len(line) for line in headers.split("\r\n")) <= 78


def example_with_name(tmp_path: Path, name_yaml: str) -> Path:
    root = tmp_path / "r"
    shutil.copytree(EXAMPLE, root)
    people = root / "people" / "marketing.yaml"
    text = people.read_text(encoding="utf-8")
    assert text.count("\nname: Aisha Okafor\n") == 1
    people.write_text(text.replace("\nname: Aisha Okafor\n", f"\nname: {name_yaml}\n"))
    return root


def test_check_reports_an_address_in_a_person_name(run: Run, tmp_path: Path) -> None:
    root = example_with_name(
        tmp_path,
        '"Aisha Okafor, Head of Demand Generation and Pipeline Programs '
        '<attacker@evil.example>, x"',
    )
    result = run("check", str(root), "--as-of", AS_OF, "--select", "S001", cwd=tmp_path)
    assert result.code == 1
    assert result.out.splitlines()[0] == (
        "r/people/marketing.yaml:5:7: S001 [error] name: holds '@' at position 72: a name "
        "never needs one; write the address in email, and only the name here"
    )
    assert len(result.out.splitlines()) == 2  # the finding, then the summary


@pytest.mark.parametrize(
    "name_yaml",
    [
        '"O\'Brien, Jr."',
        "'Bob \"The Builder\" Smith; Ops: EMEA (interim) [x] \\'",
        "'Ann <b>Lee</b>'",
        "Zoë Ünal",
    ],
)
def test_check_keeps_punctuation_in_names_valid(run: Run, tmp_path: Path, name_yaml: str) -> None:
    root = example_with_name(tmp_path, name_yaml)
    result = run("check", str(root), "--as-of", AS_OF, "--select", "S001", cwd=tmp_path)
    assert (result.code, result.out) == (0, "No findings in 30 files.\n")


def test_escalation_to_a_long_punctuated_name_reaches_only_its_recipients(
    run: Run, tmp_path: Path
) -> None:
    name = "Aisha Okafor, Head of Demand Generation and Pipeline Programs: EMEA; x, y" + LONG_TAIL
    root = example_with_name(tmp_path, f'"{name}"')
    out = tmp_path / "out"
    result = run("escalate", str(root), "-a", ACTUALS, "--as-of", AS_OF, "--out", str(out))
    assert (result.code, result.err) == (0, "")
    message = parse((out / "mql.eml").read_bytes())
    assert pairs(message, "To") == [
        (name, "aisha.okafor@northwind.example"),
        ("Sofia Lindqvist", "sofia.lindqvist@northwind.example"),
    ]
    assert message.defects == [] and message["To"].defects == ()


# --- 2. previews print no raw control character and no workflow command ----------------

HOSTILE_TEXT = (
    '"Leads.\\n::error file=kpis/mql.yaml,line=1::forged annotation\\n'
    '\\e]0;pwned\\a\\e[2J ##[group]x"'
)
# C0 and C1 controls but the line feed: what must never reach stdout or a body raw.
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def hostile_example(tmp_path: Path) -> Path:
    """The example registry with the hostile text in a KPI description, a campaign
    risk (kickoff, readout), a campaign objective and a decision (recap), and a draft's
    objective (review-request)."""
    root = tmp_path / "r"
    shutil.copytree(EXAMPLE, root)
    edits = [
        ("kpis/mql.yaml", re.compile(r"^description:.*?(?=^\w)", re.S | re.M), "description: "),
        (
            "campaigns/q4-legacy-bi-displacement.yaml",
            re.compile(r"\{risk: Intent data covers only about 60% of the target accounts"),
            "{risk: ",
        ),
        (
            "campaigns/data-leaders-webinars-2026.yaml",
            re.compile(r"^objective: .*$", re.M),
            "objective: ",
        ),
        (
            "campaigns/data-leaders-webinars-2026.yaml",
            re.compile(r"^    - Fund a 2027 series.*$", re.M),
            "    - ",
        ),
        (
            "campaigns/q1-2027-analytics-plus-upsell.yaml",
            re.compile(r"^objective: >-\n(  .*\n)+", re.M),
            "objective: ",
        ),
    ]
    for name, pattern, key in edits:
        path = root / name
        text = path.read_text(encoding="utf-8")
        found = pattern.search(text)
        assert found is not None
        # A match that took its line break (a block scalar) gives it back.
        end = "\n" if found.group().endswith("\n") else ""
        text = text[: found.start()] + key + HOSTILE_TEXT + end + text[found.end() :]
        path.write_text(text, encoding="utf-8")
    return root


COMMANDS = [
    ("escalate",),
    ("kickoff", "q4-legacy-bi-displacement"),
    ("review-request", "q1-2027-analytics-plus-upsell"),
    ("readout", "q4-legacy-bi-displacement"),
    ("recap", "data-leaders-webinars-2026"),
]
# The example's kickoff goes out after the campaign started, and says so on stderr.
LATE = {
    "kickoff": "kpictl: warning: 'q4-legacy-bi-displacement' started on 2026-10-01, 50 days "
    "ago: this kickoff goes out after work started; send it before timeline.start next time\n"
}


@pytest.mark.parametrize("command", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_preview_escapes_control_characters_and_workflow_commands(
    run: Run, tmp_path: Path, command: tuple[str, ...]
) -> None:
    root = hostile_example(tmp_path)
    result = run(*command, str(root), "-a", ACTUALS, "--as-of", AS_OF)
    assert (result.code, result.err) == (0, LATE.get(command[0], ""))
    lines = result.out.split("\n")
    assert ":\\:error file=kpis/mql.yaml,line=1::forged annotation" in lines
    assert RAW_CONTROL.search(result.out) is None
    assert [line for line in lines if line.lstrip().startswith("::")] == []
    assert "##[" not in result.out
    assert any(line.startswith("]0;pwned[2J #\\#[group]x") for line in lines)


@pytest.mark.parametrize("command", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_email_bodies_carry_no_raw_control_characters(
    run: Run, tmp_path: Path, command: tuple[str, ...]
) -> None:
    root = hostile_example(tmp_path)
    out = tmp_path / "out"
    result = run(*command, str(root), "-a", ACTUALS, "--as-of", AS_OF, "--out", str(out))
    assert (result.code, result.err) == (0, LATE.get(command[0], ""))
    checked = 0
    for path in sorted(out.glob("*.eml")):
        for part in parse(path.read_bytes()).walk():
            if part.is_multipart():
                continue
            assert isinstance(part, EmailMessage)
            content = str(part.get_content()).replace("\r\n", "\n")
            assert RAW_CONTROL.search(content) is None, path.name
            if "forged annotation" in content:
                checked += 1
                assert "]0;pwned[2J" in content
    assert checked >= 2  # the text and the HTML part of at least one email


def test_defuse_text_spells_out_controls_and_defuses_commands() -> None:
    from kpictl.templating.escaping import defuse_text

    text = "ok\n::error::x\n  ::warning::y\nsee ##[group]\x1b[2J\x07 \u2028 end\n"
    assert defuse_text(text) == (
        "ok\n:\\:error::x\n  :\\:warning::y\nsee #\\#[group]\\x1b[2J\\x07 \\u2028 end\n"
    )

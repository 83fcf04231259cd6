"""Email security, round 2 (fold): a display name with one very long word still gives
header lines within RFC 5322's 78 characters, and the registry refuses such a name."""

from __future__ import annotations

import email.policy
import re
import shutil
from datetime import UTC, datetime
from email.header import decode_header
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

from kpictl.emails.compose import address, compose, to_bytes
from tests.conftest import AS_OF, EXAMPLE
from tests.helpers import Run

ACTUALS = str(EXAMPLE / "actuals" / "2026-11-20.csv")
# The tester's name: "Content-Type: text/html," where an MTA wrapping at 998 would cut.
ASCII_LONG = "A" * 994 + "Content-Type: text/html,"
LONG_NAMES = [
    ASCII_LONG,
    "A" * 1200,
    "é" * 1200,
    "Aisha " + "A" * 1200 + " Okafor",
    "Zoë " + "é" * 1200,
    "日本" * 600 + " x",
]

ENCODED_WORD = re.compile(rb"=\?utf-8\?[qb]\?[^?]*\?=")


def parse(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def header_lines(raw: bytes) -> list[bytes]:
    return raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


@pytest.mark.parametrize("name", LONG_NAMES, ids=range(len(LONG_NAMES)))
def test_a_name_with_a_1200_character_word_folds_within_78_characters(name: str) -> None:
    msg = compose(
        sender=address(name, "desk@acme.example"),
        to=(address(name, "to@acme.example"),),
        cc=(address(name, "cc@acme.example"),),
        reply_to=address(name, "reply@acme.example"),
        subject="s",
        text="Body\n",
        html="<p>Body</p>\n",
        date=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        msgid="<kpictl.20261120.abc@acme.example>",
    )
    raw = to_bytes(msg)
    assert max(len(line) for line in header_lines(raw)) <= 78
    assert max(len(word) for word in ENCODED_WORD.findall(raw)) <= 75  # RFC 2047 2
    message = parse(raw)
    assert message.defects == []
    assert message.get_all("Content-Type") == [
        'multipart/alternative; boundary="=_kpictl_alternative"'
    ]
    for header, addr in [
        ("From", "desk@acme.example"),
        ("To", "to@acme.example"),
        ("Cc", "cc@acme.example"),
        ("Reply-To", "reply@acme.example"),
    ]:
        (parsed,) = message[header].addresses
        assert parsed.addr_spec == addr
        # Python 3.11 shows a space where a word was cut; the characters are all there.
        assert parsed.display_name.replace(" ", "") == name.replace(" ", "")
        if " " not in name:
            # An RFC 2047 reader joins adjacent encoded words: the name comes back exactly.
            assert decode_header(unfolded(raw, header)) == [
                (name.encode(), "utf-8"),
                (f" <{addr}>".encode(), None),
            ]


def unfolded(raw: bytes, header: str) -> str:
    """One header's value with its folds undone (RFC 5322 3.2.2)."""
    lines = raw.split(b"\r\n\r\n", 1)[0].decode().replace("\r\n ", " ").split("\r\n")
    (value,) = [line for line in lines if line.startswith(f"{header}: ")]
    return value.removeprefix(f"{header}: ")


def example_with_name(tmp_path: Path, name: str) -> Path:
    root = tmp_path / "r"
    shutil.copytree(EXAMPLE, root)
    people = root / "people" / "marketing.yaml"
    text = people.read_text(encoding="utf-8")
    assert text.count("\nname: Aisha Okafor\n") == 1
    people.write_text(text.replace("\nname: Aisha Okafor\n", f'\nname: "{name}"\n'))
    return root


@pytest.mark.parametrize(
    ("name", "length"),
    [(ASCII_LONG, 1007), ("Zoë " + "é" * 1200, 1200), ("Aisha " + "A" * 61, 61)],
    ids=["ascii-1007", "non-ascii-1200", "ascii-61"],
)
def test_check_refuses_a_name_with_a_word_over_60_characters(
    run: Run, tmp_path: Path, name: str, length: int
) -> None:
    root = example_with_name(tmp_path, name)
    result = run("check", str(root), "--as-of", AS_OF, "--select", "S001", cwd=tmp_path)
    assert result.code == 1
    assert result.out.splitlines() == [
        f"r/people/marketing.yaml:5:7: S001 [error] name: has a word of {length} characters: "
        "a name's words are at most 60 long, so the name fits an email header",
        "Found 1 error, 0 warnings, 0 info in 30 files (check failed, failing on error).",
    ]


def test_check_accepts_a_name_with_a_60_character_word(run: Run, tmp_path: Path) -> None:
    root = example_with_name(tmp_path, "Aisha " + "A" * 60)
    result = run("check", str(root), "--as-of", AS_OF, "--select", "S001", cwd=tmp_path)
    assert (result.code, result.out) == (0, "No findings in 30 files.\n")


def test_escalation_with_a_1200_character_name_writes_only_short_header_lines(
    run: Run, tmp_path: Path
) -> None:
    root = example_with_name(tmp_path, ASCII_LONG)
    out = tmp_path / "out"
    result = run("escalate", str(root), "-a", ACTUALS, "--as-of", AS_OF, "--out", str(out))
    assert (result.code, result.err) == (
        0,
        "kpictl: warning: the registry has 1 error; entities that failed to load are left "
        "out (run `kpictl check`)\n",
    )
    emails = sorted(out.glob("*.eml"))
    assert len(emails) == 4
    for path in emails:
        assert max(len(line) for line in header_lines(path.read_bytes())) <= 78
    message = parse((out / "mql.eml").read_bytes())
    assert [(a.display_name, a.addr_spec) for a in message["To"].addresses] == [
        ("Sofia Lindqvist", "sofia.lindqvist@northwind.example")
    ]

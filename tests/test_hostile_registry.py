"""One hostile registry, run through every command in every output format.

The registry is the example one plus what a pull request can plant: symlinks to
files outside the registry (a fake SSH key, /etc/passwd), a FIFO, a file whose name
holds a newline and a workflow command, names with terminal control characters,
an RFC 2047 encoded word that decodes to a Bcc header, and values that a
spreadsheet would run as formulas. Each output must stay what its reader expects:
no secret, no raw control character, no forged annotation, header or formula,
and well-formed JSON, SARIF, XML, CSV, iCalendar and email.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from tests.conftest import AS_OF, EXAMPLE, Result, Run
from tests.helpers import deadline

SECRET = "SECRET-TOKEN-4b1d"
KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "".join(
    f"b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW{i:02d}\n"
    for i in range(40)
)
ENCODED_WORD = "Marcus =?utf-8?q?=0D=0ABcc:_evil@evil.example=0D=0A=0D=0APay?= Webb"
FORMULA = '=HYPERLINK("http://evil.example","MQLs")'
# C0 controls but tab and line feed, DEL and the C1 range: never raw in any output.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
NEWLINE_NAME = "evil\n::error file=x,line=1::forged.yaml"


@pytest.fixture(autouse=True)
def _no_hang() -> Iterator[None]:
    """Turn a hang (a FIFO opened for reading, a runaway loop) into a failure."""
    with deadline(60):
        yield


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example registry with everything a pull request can plant in it."""
    top = tmp_path_factory.mktemp("hostile")
    outside = top / "outside"
    outside.mkdir()
    (outside / "id_ed25519").write_text(KEY, encoding="utf-8")
    (outside / "token.yaml").write_text(f"token: {SECRET}\n", encoding="utf-8")
    root = top / "registry"
    shutil.copytree(EXAMPLE, root)

    (root / "kpis" / "key.yaml").symlink_to(outside / "id_ed25519")
    (root / "kpis" / "token.yaml").symlink_to(outside / "token.yaml")
    (root / "people" / "passwd.yaml").symlink_to("/etc/passwd")
    (root / "sources" / "zero.yaml").symlink_to("/dev/zero")
    os.mkfifo(root / "kpis" / "pipe.yaml")
    (root / "kpis" / NEWLINE_NAME).write_text(
        "kind: kpi\nid: forged\nunknown_field: 1\n", encoding="utf-8"
    )

    people = root / "people" / "revenue.yaml"
    text = people.read_text(encoding="utf-8")
    people.write_text(
        text.replace("name: Marcus Webb", f"name: '{ENCODED_WORD}'"), encoding="utf-8"
    )
    mql = root / "kpis" / "mql.yaml"
    text = mql.read_text(encoding="utf-8")
    name = re.search(r"^name: .*$", text, re.MULTILINE)
    assert name is not None
    mql.write_text(text.replace(name.group(), f"name: '{FORMULA}'", 1), encoding="utf-8")
    sql = root / "kpis" / "sql.yaml"
    text = sql.read_text(encoding="utf-8")
    name = re.search(r"^name: .*$", text, re.MULTILINE)
    assert name is not None
    sql.write_text(
        text.replace(name.group(), 'name: "SQLs\\e[2J\\e]0;pwned\\a\\0\\r\\x9b"', 1),
        encoding="utf-8",
    )
    return root


def assert_clean(result: Result, *, allow_exit: tuple[int, ...] = (0, 1)) -> None:
    """Nothing secret, no raw control character, no crash, in stdout or stderr."""
    for stream in (result.out, result.err):
        assert SECRET not in stream
        assert "OPENSSH PRIVATE KEY" not in stream
        assert "b3BlbnNzaC1rZXkt" not in stream
        assert "root:x:0:0" not in stream
        assert not RAW_CONTROL.search(stream.replace("\r\n", "\n")), stream[:2000]
    assert "internal error" not in result.err
    assert result.code in allow_exit, result.err


@pytest.mark.parametrize("fmt", ["text", "json", "github", "sarif", "junit"])
def test_check_formats(run: Run, hostile: Path, fmt: str) -> None:
    result = run("check", str(hostile), "--as-of", AS_OF, "--format", fmt)
    assert_clean(result, allow_exit=(1,))
    # No line of any format starts a workflow command that kpictl did not write.
    for line in result.out.splitlines():
        assert not line.startswith("::error file=x"), line
    if fmt == "json":
        paths = {finding["path"] for finding in json.loads(result.out)}
        assert any("pipe.yaml" in path for path in paths)
        assert any("key.yaml" in path for path in paths)
    if fmt == "sarif":
        sarif = json.loads(result.out)
        assert sarif["version"] == "2.1.0"
    if fmt == "junit":
        ET.fromstring(result.out)
    if fmt == "github":
        for line in result.out.splitlines():
            if line.startswith("::"):
                assert re.match(r"^::(error|warning|notice) file=[^\n]*::", line), line


def test_check_show_source(run: Run, hostile: Path) -> None:
    assert_clean(run("check", str(hostile), "--as-of", AS_OF, "--show-source"), allow_exit=(1,))


@pytest.mark.parametrize("fmt", ["text", "markdown", "mermaid", "dot", "json", "html"])
def test_map_formats(run: Run, hostile: Path, fmt: str) -> None:
    result = run("map", str(hostile), "--as-of", AS_OF, "--format", fmt)
    assert_clean(result)
    if fmt == "json":
        json.loads(result.out)


def test_who(run: Run, hostile: Path) -> None:
    assert_clean(run("who", "marcus-webb", str(hostile), "--as-of", AS_OF))


@pytest.mark.parametrize("fmt", ["text", "markdown", "json", "csv"])
def test_status_formats(run: Run, hostile: Path, fmt: str) -> None:
    actuals = str(hostile / "actuals" / "2026-11-20.csv")
    result = run("status", str(hostile), "-a", actuals, "--as-of", AS_OF, "--format", fmt)
    assert_clean(result)
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(result.out)))
        cells = [cell for row in rows for cell in row]
        assert any("HYPERLINK" in cell for cell in cells)
        for cell in cells:
            if re.fullmatch(r"-?\d+(\.\d+)?", cell):
                continue
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_calendar(run: Run, hostile: Path) -> None:
    result = run("calendar", str(hostile), "--from", "2026-10-01", "--to", "2026-12-31")
    assert_clean(result)
    assert result.out.startswith("BEGIN:VCALENDAR")


def test_drill(run: Run, hostile: Path) -> None:
    for args in (["--deviation", "40"], ["--outage"]):
        assert_clean(run("drill", "sql", str(hostile), *args), allow_exit=(0, 1))


def _emails(folder: Path) -> list[Path]:
    emails = sorted(folder.glob("*.eml"))
    assert emails
    return emails


def assert_safe_email(path: Path) -> None:
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["Bcc"] is None
    for name, value in message.items():
        assert name.lower() != "bcc"
        assert "\r" not in str(value) and "\n" not in str(value), (name, value)
        assert not RAW_CONTROL.search(str(value)), (name, value)
    for header in ("To", "Cc"):
        for address in message.get_all(header) or []:
            assert "evil.example" not in str(address.addresses)


def test_escalation_emails(run: Run, hostile: Path, tmp_path: Path) -> None:
    actuals = str(hostile / "actuals" / "2026-11-20.csv")
    result = run("escalate", str(hostile), "-a", actuals, "--as-of", AS_OF, "--out", str(tmp_path))
    assert_clean(result)
    for path in _emails(tmp_path):
        assert_safe_email(path)


@pytest.mark.parametrize(
    ("command", "campaign"),
    [
        ("kickoff", "q4-legacy-bi-displacement"),
        ("readout", "q4-legacy-bi-displacement"),
        ("recap", "q4-legacy-bi-displacement"),
        ("recap", "data-leaders-webinars-2026"),  # with the driver's own email
        ("review-request", "q1-2027-analytics-plus-upsell"),
    ],
)
def test_campaign_emails(
    run: Run, hostile: Path, tmp_path: Path, command: str, campaign: str
) -> None:
    actuals = str(hostile / "actuals" / "2026-11-20.csv")
    result = run(
        command, campaign, str(hostile), "-a", actuals, "--as-of", AS_OF, "--out", str(tmp_path)
    )
    assert_clean(result)
    for path in _emails(tmp_path):
        assert_safe_email(path)


def test_fmt_check(run: Run, hostile: Path) -> None:
    before = {p: p.read_bytes() for p in (hostile / "people").glob("*.yaml") if p.is_file()}
    assert_clean(run("fmt", "--check", str(hostile)), allow_exit=(0, 1, 2))
    assert {p: p.read_bytes() for p in before} == before
    assert Path("/etc/passwd").read_text(encoding="utf-8").startswith("root:")

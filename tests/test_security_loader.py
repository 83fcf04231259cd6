"""What a pull request can put in the registry's files, and what kpictl reads of it.

Links, pipes, devices, sockets and huge files are refused with a finding (never read,
never quoted, never waited on); a message quotes at most a short escaped excerpt of
a file; a file is parsed at most twice however many findings it has; and repeated
findings are capped. Tests that could hang or exhaust memory before the fix run
under `signal.alarm`, so a regression fails instead of stalling the suite.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from kpictl.check.findings import MAX_SAME_FINDINGS, excerpt
from kpictl.registry import loader, reading
from kpictl.registry.loader import MAX_VALUES
from kpictl.registry.reading import MAX_FILE_BYTES, Unreadable, read_bytes
from tests.conftest import AS_OF
from tests.helpers import Run, deadline, make

FIX = (
    "kpictl reads only regular files; replace it with the file itself, or add it to "
    "`exclude` in kpictl.yaml"
)
OUTSIDE = f"this file is a symbolic link to a file outside the registry: {FIX}"
KEY_LINES = [
    f"b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtz{n:04d}" for n in range(40)
]
FAKE_KEY = "\n".join(
    ["-----BEGIN OPENSSH PRIVATE KEY-----", *KEY_LINES, "-----END OPENSSH PRIVATE KEY-----", ""]
)


def check_json(run: Run, root: Path) -> tuple[int, list[tuple[str, str, int, int, str]]]:
    result = run("check", "--as-of", AS_OF, "--format", "json", cwd=root)
    assert result.err == ""
    found = [
        (i["code"], i["path"], i["line"], i["column"], i["message"]) for i in json.loads(result.out)
    ]
    return result.code, found


# --- 1. only regular files inside the registry are read ------------------------------------


def test_link_to_a_secret_outside_is_refused_and_never_quoted_in_any_format(
    tmp_path: Path, run: Run
) -> None:
    secret = tmp_path / "home" / "id_ed25519"
    secret.parent.mkdir()
    secret.write_text(FAKE_KEY, encoding="utf-8")
    root = make(tmp_path / "registry")
    (root / "kpis").mkdir()
    (root / "kpis" / "key.yaml").symlink_to(secret)

    assert check_json(run, root) == (1, [("Y004", "kpis/key.yaml", 1, 1, OUTSIDE)])
    for form in ("text", "json", "github", "sarif", "junit"):
        result = run("check", "--as-of", AS_OF, "--format", form, "--show-source", cwd=root)
        assert result.code == 1, form
        shown = result.out + result.err
        assert "PRIVATE KEY" not in shown, form
        assert not any(line[:12] in shown for line in KEY_LINES), form


def test_link_to_dev_zero_is_refused_without_reading_it(tmp_path: Path, run: Run) -> None:
    root = make(tmp_path)
    (root / "zero.yaml").symlink_to("/dev/zero")
    with deadline(30):
        assert check_json(run, root) == (1, [("Y004", "zero.yaml", 1, 1, OUTSIDE)])


def test_fifo_is_a_finding_not_a_hang(tmp_path: Path, run: Run) -> None:
    root = make(tmp_path)
    os.mkfifo(root / "pipe.yaml")
    with deadline(30):
        assert check_json(run, root) == (
            1,
            [("Y004", "pipe.yaml", 1, 1, f"this file is a named pipe (FIFO): {FIX}")],
        )


def test_socket_is_a_finding(tmp_path: Path, run: Run) -> None:
    root = make(tmp_path)
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(root / "s.yaml"))
        assert check_json(run, root) == (
            1,
            [("Y004", "s.yaml", 1, 1, f"this file is a socket: {FIX}")],
        )
    finally:
        server.close()


@pytest.mark.parametrize(
    ("target", "message"),
    [
        pytest.param("nowhere.yaml", "a symbolic link that points to nothing", id="dangling"),
        pytest.param("loop.yaml", "a symbolic link that points to nothing", id="loop"),
        pytest.param("people.yaml", "a symbolic link to another file in the registry", id="inside"),
        pytest.param("../outside.yaml", "a symbolic link to a file outside the registry", id="out"),
    ],
)
def test_links_are_findings(tmp_path: Path, run: Run, target: str, message: str) -> None:
    (tmp_path / "outside.yaml").write_text("kind: team\nid: out\n", encoding="utf-8")
    root = make(tmp_path / "registry")
    (root / "loop.yaml").symlink_to("loop.yaml")
    link = root / "link.yaml"
    if target != "loop.yaml":
        link.symlink_to(target)
    found = [
        ("Y004", "loop.yaml", 1, 1, f"this file is a symbolic link that points to nothing: {FIX}")
    ]
    if target != "loop.yaml":
        found.insert(0, ("Y004", "link.yaml", 1, 1, f"this file is {message}: {FIX}"))
    assert check_json(run, root) == (1, found)


def test_linked_folders_are_not_entered(tmp_path: Path, run: Run) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "team.yaml").write_text("kind: team\nid: elsewhere\n", encoding="utf-8")
    root = make(tmp_path / "registry")
    (root / "linked").symlink_to(outside, target_is_directory=True)
    (root / "sub").mkdir()
    (root / "sub" / "up").symlink_to("..", target_is_directory=True)  # a loop
    message = (
        "this folder is a symbolic link: kpictl does not follow linked folders; replace it "
        "with the folder itself, or add it to `exclude` in kpictl.yaml"
    )
    with deadline(30):
        assert check_json(run, root) == (
            1,
            [("Y004", "linked", 1, 1, message), ("Y004", "sub/up", 1, 1, message)],
        )


def test_unreadable_folder_is_a_finding(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make(tmp_path)
    (root / "locked").mkdir()
    (root / "locked" / "team.yaml").write_text("kind: team\nid: hidden\n", encoding="utf-8")
    original = os.scandir

    def scandir(path: Any = ".") -> Any:
        if Path(path).name == "locked":  # chmod 000 does not stop root
            raise PermissionError(13, "Permission denied", str(path))
        return original(path)

    monkeypatch.setattr(os, "scandir", scandir)
    message = (
        "cannot read this folder (permission denied): fix its permissions or add it to "
        "`exclude` in kpictl.yaml"
    )
    assert check_json(run, root) == (1, [("Y004", "locked", 1, 1, message)])


def test_excluded_link_is_not_reported(tmp_path: Path, run: Run) -> None:
    root = make(tmp_path, settings="version: 1\nexclude: [vendored]\n")
    (root / "vendored").symlink_to("/etc", target_is_directory=True)
    (root / "zero.yaml").symlink_to("/dev/zero")
    (root / ".hidden.yaml").symlink_to("/dev/zero")
    assert check_json(run, root) == (1, [("Y004", "zero.yaml", 1, 1, OUTSIDE)])


@pytest.mark.parametrize("kind", ["link", "fifo"])
def test_settings_file_that_is_not_a_regular_file(tmp_path: Path, run: Run, kind: str) -> None:
    root = make(tmp_path / "registry")
    settings = root / "kpictl.yaml"
    settings.unlink()
    if kind == "link":
        (tmp_path / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
        settings.symlink_to(tmp_path / "passwd")
        what = "a symbolic link to a file outside the registry"
    else:
        os.mkfifo(settings)
        what = "a named pipe (FIFO)"
    with deadline(30):
        result = run("check", "--as-of", AS_OF, "registry", cwd=tmp_path)
    assert result.code == 1
    assert result.out.splitlines()[0] == (
        f"registry/kpictl.yaml:1:1: Y004 [error] this file is {what}: "
        "kpictl.yaml must be a regular file of settings"
    )
    assert "root:x" not in result.out


def test_file_over_the_hard_cap_is_not_parsed(tmp_path: Path, run: Run) -> None:
    root = make(tmp_path)
    # Valid YAML that would be a schema error per key if it were parsed.
    line = b"k0000000: 1\n"
    (root / "big.yaml").write_bytes(b"kind: team\nid: big\n" + line * (MAX_FILE_BYTES // len(line)))
    assert check_json(run, root) == (
        1,
        [
            (
                "Y004",
                "big.yaml",
                1,
                1,
                "this file is over 8 MB and is not read: registry files are a few KB; split "
                "it, or add it to `exclude` in kpictl.yaml if it is data",
            )
        ],
    )


def test_content_from_git_over_the_hard_cap_is_not_parsed() -> None:
    source = reading.parse_bytes(Path("big.yaml"), b"k: 1\n" * (MAX_FILE_BYTES // 5 + 1))
    assert source.documents == []
    assert [(item.code, item.message) for item in source.findings] == [
        (
            "Y004",
            "this file is over 8 MB and is not read: registry files are a few KB; split it, "
            "or add it to `exclude` in kpictl.yaml if it is data",
        )
    ]


def test_read_bytes_reads_at_most_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_bytes(b"x" * 11)
    assert read_bytes(path, limit=11) == b"x" * 11
    with pytest.raises(Unreadable) as refused:
        read_bytes(path, limit=10)
    assert refused.value.reason == "this file is over 0 MB and is not read"


def test_a_number_with_too_many_digits_is_read_not_a_crash(tmp_path: Path, run: Run) -> None:
    # int() refuses more than 4,300 digits; the loader reads such a number as a float
    # that remembers how it was written, so an id made of digits is still reported.
    digits = "9" * 5000
    documents, problems = loader.parse_text(Path("f.yaml"), f"value: {digits}\n")
    assert problems == []
    assert documents[0].data["value"] == float("inf")
    assert str(documents[0].data["value"]) == digits
    root = make(tmp_path)
    (root / "bad.yaml").write_text(f"kind: team\nid: {digits}\nname: T\nfunction: other\n")
    code, found = check_json(run, root)
    assert code == 1
    assert [item[:4] for item in found] == [("S001", "bad.yaml", 2, 5)]
    assert found[0][4].startswith(f"id: '{'9' * 60}…' is not a valid id")


# --- 2. a message quotes at most a short, escaped excerpt ---------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param("short", "short", id="short"),
        pytest.param("x" * 60, "x" * 60, id="exactly-the-limit"),
        pytest.param("x" * 61, "x" * 60 + "…", id="cut"),
        pytest.param("a\nb\x1b[31mc\u202ed\t", "a\\nb\\x1b[31mc\\u202ed\\t", id="escaped"),
        pytest.param("\x07" * 40, "\\x07" * 15 + "…", id="escapes-count-towards-the-limit"),
        pytest.param(12, "12", id="not-text"),
    ],
)
def test_excerpt(value: object, shown: str) -> None:
    assert excerpt(value) == shown


def test_a_document_that_is_one_long_scalar_is_quoted_briefly(tmp_path: Path, run: Run) -> None:
    root = make(tmp_path)
    (root / "notes.yaml").write_text(FAKE_KEY.replace("\n", "\n  "), encoding="utf-8")
    assert check_json(run, root) == (
        1,
        [
            (
                "Y003",
                "notes.yaml",
                1,
                1,
                "each document must be a mapping (one entity with kind and id), not the value "
                "'-----BEGIN OPENSSH PRIVATE KEY----- b3BlbnNzaC1rZXktdjEAAAAA…'",
            )
        ],
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "kind: team\nid: ops\nname: Ops\nfunction: other\n" + "k\u202e" * 50 + ": 1\n",
            "unknown field '"
            + "k\\u202e" * 8
            + "k…': remove it, or keep free-form data under labels",
            id="unknown-key",
        ),
        pytest.param(
            "kind: " + "t" * 500 + "\nid: ops\n",
            f"unknown kind '{'t' * 60}…': use one of person, team, data_source, kpi, "
            "escalation_policy, campaign, glossary_term, experiment",
            id="unknown-kind",
        ),
        pytest.param(
            "kind: person\nid: zed\nname: Zed\nteam: demand-gen\nemail: " + "z" * 500 + "\n",
            f"email: '{'z' * 60}…' is not an email address: write it as name@example.com",
            id="model-error-value",
        ),
        pytest.param(
            "kind: team\nid: ops\nname: Ops\nfunction: " + "f" * 500 + "\n",
            f"function: '{'f' * 60}…' is not allowed; use one of marketing, sales, finance, "
            "customer-success, product, analytics, executive, other",
            id="literal-value",
        ),
        pytest.param(
            "kind: team\nid: ops\nname: Ops\nfunction: other\nlabels:\n  " + "l" * 500 + ": [1]\n",
            f"labels.{'l' * 60}… must be text, not a list",
            id="key-in-a-field-label",
        ),
    ],
)
def test_schema_messages_quote_briefly(tmp_path: Path, run: Run, text: str, message: str) -> None:
    root = make(tmp_path)
    (root / "bad.yaml").write_text(text, encoding="utf-8")
    code, found = check_json(run, root)
    assert code == 1
    assert [item[4] for item in found] == [message]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "kind: team\nid: ops\nname: Ops\nfunction: other\n" + ("d" * 300 + ": 1\n") * 2,
            f"duplicate key '{'d' * 60}…' (first at line 5): remove one of them; only the "
            "first is used",
            id="duplicate-key",
        ),
        pytest.param(
            "kind: !" + "t" * 300 + " team\nid: ops\n",
            f"YAML tags are not allowed (found '!{'t' * 59}…'): remove the tag and write a "
            "plain value",
            id="tag",
        ),
        pytest.param(
            "kind: team\nid: *" + "a" * 300 + "\n",
            f"alias '*{'a' * 60}…' has no anchor '&{'a' * 60}…' before it (or refers to the "
            "value that contains it)",
            id="alias",
        ),
    ],
)
def test_yaml_messages_quote_briefly(tmp_path: Path, run: Run, text: str, message: str) -> None:
    root = make(tmp_path)
    (root / "bad.yaml").write_text(text, encoding="utf-8")
    code, found = check_json(run, root)
    assert code == 1
    assert message in [item[4] for item in found]


@pytest.mark.parametrize(
    ("comment", "message"),
    [
        pytest.param(
            "# kpictl: ignore[" + "Z" * 300 + "]",
            f"ignore comment with unknown code {'Z' * 60}…: write # kpictl: ignore[CODE], "
            "e.g. ignore[O004]",
            id="code",
        ),
        pytest.param(
            "# kpictl: ignore[O004] until " + "9" * 300,
            f"'{'9' * 60}…' is not a date: write until YYYY-MM-DD",
            id="until",
        ),
    ],
)
def test_ignore_comment_messages_quote_briefly(
    tmp_path: Path, run: Run, comment: str, message: str
) -> None:
    root = make(tmp_path)
    (root / "team2.yaml").write_text(
        f"kind: team\nid: ops\nname: Ops\nfunction: other\nlead: ann\n{comment}\n",
        encoding="utf-8",
    )
    assert check_json(run, root) == (0, [("X001", "team2.yaml", 6, 1, message)])


def test_show_source_prints_a_window_of_a_long_line(tmp_path: Path, run: Run) -> None:
    root = make(tmp_path)
    (root / "bad.yaml").write_text(
        "kind: team\nid: ops\nname: Ops\nfunction: other\nlead: " + "secret\u202e" * 100 + "\n",
        encoding="utf-8",
    )
    result = run("check", "--as-of", AS_OF, "--show-source", cwd=root)
    lines = result.out.splitlines()
    assert lines[1] == "    5 | lead: " + "secret\\u202e" * 10 + "secr…"
    assert lines[2] == "      |       " + "^" * 124  # the value runs to the line's end


def test_show_source_keeps_the_value_in_view(tmp_path: Path, run: Run) -> None:
    root = make(tmp_path)
    (root / "bad.yaml").write_text(
        "kind: team\nid: ops\nname: Ops\nfunction: other\n"
        "labels: {pad: '" + "p" * 200 + "', x: [1]}\n",
        encoding="utf-8",
    )
    result = run("check", "--as-of", AS_OF, "--show-source", cwd=root)
    lines = result.out.splitlines()
    assert lines[0].endswith("labels.x must be text, not a list")
    assert lines[1] == "    5 | …" + "p" * 70 + "', x: [1]}"
    assert lines[2] == "      | " + " " * 77 + "^^"


# --- 3. a file is parsed at most twice, however many documents have findings -------------


def test_positions_are_found_once_per_file(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make(tmp_path)
    documents = 2000
    (root / "many.yaml").write_text(
        "".join(
            f"---\nkind: team\nid: t{n}\nname: T\nfunction: other\nbogus: 1\n"
            for n in range(documents)
        ),
        encoding="utf-8",
    )
    parses: list[tuple[str, bool]] = []
    original = loader._parse

    def counting(path: Path, text: str, positions: bool) -> Any:
        parses.append((path.name, positions))
        return original(path, text, positions)

    monkeypatch.setattr(loader, "_parse", counting)
    with deadline(60):  # re-parsing per document took minutes
        code, found = check_json(run, root)
    assert code == 1
    assert parses.count(("many.yaml", False)) == 1
    assert parses.count(("many.yaml", True)) == 1
    assert len(found) == MAX_SAME_FINDINGS + 1
    assert found[0] == (
        "S001",
        "many.yaml",
        6,
        1,
        "unknown field 'bogus': remove it, or keep free-form data under labels",
    )


# --- 4. repeated findings and huge documents are capped -----------------------------------


def test_findings_per_rule_and_file_are_capped(tmp_path: Path, run: Run) -> None:
    root = make(tmp_path)
    (root / "many.yaml").write_text(
        "".join(
            f"---\nkind: team\nid: t{n}\nname: T\nfunction: other\nbogus: 1\n" for n in range(150)
        ),
        encoding="utf-8",
    )
    code, found = check_json(run, root)
    assert code == 1
    assert len(found) == MAX_SAME_FINDINGS + 1
    assert found[-2][:3] == ("S001", "many.yaml", 6 + 6 * 99)
    assert found[-1] == (
        "S001",
        "many.yaml",
        6 + 6 * 100,
        1,
        "50 more S001 findings in this file not shown (at most 100 per rule and file): fix "
        "the ones above and check again",
    )


def test_schema_errors_per_entity_are_counted_past_the_cap(tmp_path: Path, run: Run) -> None:
    root = make(tmp_path)
    keys = "".join(f"k{n}: 1\n" for n in range(150))
    (root / "wide.yaml").write_text(
        "kind: team\nid: wide\nname: W\nfunction: other\n" + keys, encoding="utf-8"
    )
    code, found = check_json(run, root)
    assert code == 1
    assert len(found) == MAX_SAME_FINDINGS
    assert found[0] == (
        "S001",
        "wide.yaml",
        1,
        1,
        "51 more schema errors in this entity not shown: fix the ones above and check again",
    )
    assert found[-1][2:] == (
        5 + 98,
        1,
        "unknown field 'k98': remove it, or keep free-form data under labels",
    )


def test_a_document_of_too_many_values_is_not_validated(tmp_path: Path, run: Run) -> None:
    root = make(tmp_path)
    keys = "".join(f"k{n}: 1\n" for n in range(MAX_VALUES))
    (root / "wide.yaml").write_text("kind: team\nid: wide\n" + keys, encoding="utf-8")
    with deadline(120):
        assert check_json(run, root) == (
            1,
            [
                (
                    "Y003",
                    "wide.yaml",
                    MAX_VALUES + 1,
                    9,
                    "this document holds more than 100,000 values; a registry entity holds a "
                    "few hundred: split it, or remove what was generated into it",
                )
            ],
        )

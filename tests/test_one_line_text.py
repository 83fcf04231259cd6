"""One answer for the characters nobody can see (kpictl.registry.characters).

`check` refuses in a one-line text (a name, a title, a term) exactly what the outputs
drop from one: before, a name with a zero-width space or a left-to-right mark passed
`check` and came out of every view without it.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from kpictl.registry.characters import NOT_IN_ONE_LINE, compiled, first_unseen
from kpictl.templating import escaping
from tests.conftest import AS_OF, Run
from tests.helpers import make

# The classes hold only characters of the Basic Multilingual Plane (checked below), so
# it is enough to try those: every one but the surrogates, which no UTF-8 file holds.
CHARACTERS = [chr(code) for code in range(0x10000) if not 0xD800 <= code <= 0xDFFF]
FIX = "write it on one line without control characters"


def test_what_check_refuses_is_what_oneline_drops() -> None:
    # Other spaces (no-break, em...) are not refused: oneline makes them plain spaces.
    refused = {char for char in CHARACTERS if first_unseen(f"a{char}b") is not None}
    dropped = {
        char
        for char in CHARACTERS
        if escaping.oneline(f"a{char}b") != f"a{char}b" and unicodedata.category(char) != "Zs"
    }
    assert refused == dropped
    assert {"\u200b", "\u200e", "\u200f", "\u2060", "\u061c", "\u180e", "\ufff9"} <= refused
    assert {"\u200c", "\u200d", "\u00a0", "\ufeff"}.isdisjoint(refused)  # joiners, NBSP, BOM


@pytest.mark.parametrize(
    "pattern",
    [
        NOT_IN_ONE_LINE,
        escaping._CONTROL,
        escaping._SURROGATE,
        escaping._INVISIBLE,
        escaping._HTML_HIDDEN,
    ],
)
def test_printable_text_needs_no_expression(pattern: str) -> None:
    # The fast paths answer printable text without compiling these classes: exact
    # only while none of their characters is printable.
    assert max(map(ord, pattern)) < 0x10000
    regex = compiled(pattern)
    every = [chr(code) for code in range(0x10000)]
    assert [char for char in every if regex.fullmatch(char) and char.isprintable()] == []


@pytest.mark.parametrize(
    ("text", "oneline", "visible"),
    [
        ("Ann  Lee ", "Ann Lee", "Ann  Lee "),
        ("Ann\u200bLee", "Ann Lee", "Ann\\u200bLee"),
        ("Ann\tLee\n", "Ann Lee", "Ann\\tLee\\n"),
        ("Ann\u00a0Lee", "Ann Lee", "Ann\u00a0Lee"),
        ("Zo\u00eb \u200d\U0001f469", "Zo\u00eb \u200d\U0001f469", "Zo\u00eb \u200d\U0001f469"),
        ("x\udcff", "x\\xff", "x\\xff"),
    ],
)
def test_outputs_read_the_same_definition(text: str, oneline: str, visible: str) -> None:
    assert (escaping.oneline(text), escaping.visible(text)) == (oneline, visible)


@pytest.mark.parametrize("char", ["\u200b", "\u200e", "\u200f", "\u2060", "\u061c", "\ufffb"])
def test_check_reports_invisible_characters_in_one_line_texts(
    run: Run, tmp_path: Path, char: str
) -> None:
    code = f"{ord(char):04X}"
    escaped = f"\\u{ord(char):04x}"
    root = make(
        tmp_path / "r",
        ("people.yaml", "name: Ann Lee", f'name: "Ann{escaped}Lee"\ntitle: "CMO{escaped}"'),
        ("team.yaml", "name: Demand Generation", f'name: "{escaped}Demand"'),
        ("glossary.yaml", "term: MQL", f'term: "M{escaped}QL"'),
    )
    result = run("check", str(root), "--as-of", AS_OF, "--select", "S001", cwd=tmp_path)
    assert (result.code, result.err) == (1, "")
    assert result.out.splitlines() == [
        f"r/glossary.yaml:3:7: S001 [error] term: holds the control character U+{code} at "
        f"position 2: {FIX}",
        f"r/people.yaml:3:7: S001 [error] name: holds the control character U+{code} at "
        f"position 4: {FIX}",
        f"r/people.yaml:4:8: S001 [error] title: holds the control character U+{code} at "
        f"position 4: {FIX}",
        f"r/team.yaml:3:7: S001 [error] name: holds the control character U+{code} at "
        f"position 1: {FIX}",
        "Found 4 errors, 0 warnings, 0 info in 8 files (check failed, failing on error).",
    ]


def test_joiners_and_other_scripts_stay_allowed(run: Run, tmp_path: Path) -> None:
    root = make(
        tmp_path / "r",
        ("people.yaml", "name: Ann Lee", 'name: "\u0645\u06cc\u200c\u0631\u0648\u062f"'),
        ("team.yaml", "name: Demand Generation", 'name: "Demand \U0001f469\u200d\U0001f4bb"'),
    )
    result = run("check", str(root), "--as-of", AS_OF, "--select", "S001", cwd=tmp_path)
    assert (result.code, result.out, result.err) == (0, "No findings in 8 files.\n", "")

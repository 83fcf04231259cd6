"""The loader on its own: text in, documents with positions and findings out."""

from __future__ import annotations

import ast
import inspect
import math
from pathlib import Path
from typing import Any

import pytest

from kpictl.registry import loader, reading
from kpictl.registry.loader import MAX_DEPTH, Mark, parse_text
from kpictl.registry.reading import read_file

PATH = Path("f.yaml")


def parse(text: str) -> tuple[list[loader.Document], list[tuple[str, int, int]]]:
    documents, problems = parse_text(PATH, text)
    return documents, [(p.code, p.location.line, p.location.column) for p in problems]


def data(text: str) -> Any:
    documents, problems = parse(text)
    assert problems == []
    (document,) = documents
    return document.data


# --- the parser ----------------------------------------------------------------------------


def test_ruamel_safe_loader_uses_the_c_parser() -> None:
    from _ruamel_yaml import CParser
    from ruamel.yaml import YAML

    assert YAML(typ="safe").Parser is CParser


def test_loader_imports_cparser_from_the_c_extension() -> None:
    tree = ast.parse(inspect.getsource(loader))
    imports = [
        (node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    ]
    assert ("_ruamel_yaml", "CParser") in imports
    # and never a pure-Python parser or loader
    assert not any(module and module.startswith("ruamel.yaml.parser") for module, _ in imports)
    assert not any(name in {"YAML", "load", "safe_load", "Parser"} for _, name in imports)


# --- positions -----------------------------------------------------------------------------

POSITIONS = """\
# a comment first
kind: kpi
owners:
  primary: ann
  backup:   bob
sources: [crm, 'wh']
cadence: {refresh: daily}
targets:
  - period: 2026-Q4
    value: 100
"""


@pytest.mark.parametrize(
    ("path", "value", "key"),
    [
        (("kind",), Mark(2, 7), Mark(2, 1)),
        (("owners",), Mark(4, 3), Mark(3, 1)),
        (("owners", "primary"), Mark(4, 12), Mark(4, 3)),
        (("owners", "backup"), Mark(5, 13), Mark(5, 3)),
        (("sources",), Mark(6, 10), Mark(6, 1)),
        (("sources", 0), Mark(6, 11), None),
        (("sources", 1), Mark(6, 16), None),
        (("cadence", "refresh"), Mark(7, 20), Mark(7, 11)),
        (("targets",), Mark(9, 3), Mark(8, 1)),
        (("targets", 0), Mark(9, 5), None),
        (("targets", 0, "period"), Mark(9, 13), Mark(9, 5)),
        (("targets", 0, "value"), Mark(10, 12), Mark(10, 5)),
    ],
)
def test_positions_are_one_based(path: tuple[Any, ...], value: Mark, key: Mark | None) -> None:
    (document,), problems = parse(POSITIONS)
    assert problems == []
    assert document.mark(path) == value
    if key is not None:
        assert document.key_mark(path) == key


def test_document_start_and_missing_values_fall_back() -> None:
    (document,), _ = parse(POSITIONS)
    assert document.start == Mark(2, 1)  # the first key, after the comment
    assert document.mark(("owners", "manager")) == Mark(4, 3)  # the owners mapping
    assert document.mark(("nope",)) == Mark(2, 1)  # the entity
    assert document.location(("owners", "backup")).line == 5


def test_columns_count_characters_not_bytes() -> None:
    (document,), _ = parse("name: Zoë\nlist: [日本語, x]\n")
    assert document.mark(("list", 1)) == Mark(2, 13)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_line_endings(newline: str) -> None:
    (document,), _ = parse(newline.join(["a: 1", "b: 2", ""]))
    assert document.mark(("b",)) == Mark(2, 4)


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfkind: team\nid: x\n")
    source = read_file(path, Path("bom.yaml"))
    assert source.findings == []
    assert source.documents[0].data == {"kind": "team", "id": "x"}
    assert source.documents[0].mark(("id",)) == Mark(2, 5)


def test_positions_are_found_on_demand_and_kept() -> None:
    (document,), _ = parse(POSITIONS)
    assert document.found is None  # the first pass records none
    assert document.mark(("owners", "backup")) == Mark(5, 13)
    found = document.found
    assert found is not None
    assert found.keys[("targets", 0, "value")] == (10, 5)
    document.mark(("kind",))
    assert document.found is found  # parsed again once, not on every question


def test_positions_on_demand_skip_a_dropped_document() -> None:
    # The second document is dropped (a tag); the third keeps its own positions.
    documents, _ = parse("a: 1\n---\nb: !!str x\n---\n\nc:\n  d: 2\n")
    assert [d.data for d in documents] == [{"a": 1}, {"c": {"d": 2}}]
    assert documents[1].mark(("c", "d")) == Mark(7, 6)
    assert documents[0].mark(("a",)) == Mark(1, 4)


# --- documents -----------------------------------------------------------------------------


def test_multi_document_file() -> None:
    documents, problems = parse(
        "kind: person\nid: a\n---\nkind: person\nid: b\n...\n---\nkind: team\nid: c\n"
    )
    assert problems == []
    assert [(d.index, d.data["id"], d.start) for d in documents] == [
        (0, "a", Mark(1, 1)),
        (1, "b", Mark(4, 1)),
        (2, "c", Mark(8, 1)),
    ]
    assert documents[2].mark(("id",)) == Mark(9, 5)


def test_documents_before_a_syntax_error_are_kept() -> None:
    documents, problems = parse("kind: team\nid: a\n---\nkind: [\n")
    assert [d.data for d in documents] == [{"kind": "team", "id": "a"}]
    assert [code for code, _, _ in problems] == ["Y001"]


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "   \n# x\n"])
def test_no_documents(text: str) -> None:
    assert parse(text) == ([], [])


@pytest.mark.parametrize(
    ("text", "expected"),
    [("- a\n- b\n", ["a", "b"]), ("just text\n", "just text"), ("42\n", 42), ("---\n", None)],
)
def test_non_mapping_documents_are_returned_for_the_registry_to_reject(
    text: str, expected: Any
) -> None:
    # The registry reports them as Y003 (see test_bad_input); the loader keeps the data.
    assert data(text) == expected


# --- scalars: YAML 1.2 core schema ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", "yes"),
        ("no", "no"),
        ("on", "on"),
        ("off", "off"),
        ("Yes", "Yes"),
        ("y", "y"),
        ("NO", "NO"),
        ("2026-10-01", "2026-10-01"),
        ("2026-10-01T10:00:00", "2026-10-01T10:00:00"),
        ("2026-Q4", "2026-Q4"),
        ("12", 12),
        ("-3", -3),
        ("+7", 7),
        ("012", 12),
        ("0o17", 15),
        ("0x1F", 31),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("-.5", -0.5),
        (".inf", math.inf),
        ("-.Inf", -math.inf),
        ("null", None),
        ("Null", None),
        ("~", None),
        ("", None),
        ("true", True),
        ("False", False),
        ("TRUE", True),
        ("1_000", "1_000"),
        ("0b101", "0b101"),
        ("24h", "24h"),
        ("$owner", "$owner"),
        ("'12'", "12"),
        ('"true"', "true"),
        ("'null'", "null"),
        ("'2026-10-01'", "2026-10-01"),
    ],
)
def test_scalar_resolution(text: str, expected: Any) -> None:
    value = data(f"v: {text}\n")["v"]
    assert value == expected
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        assert type(value) is type(expected)
    else:
        # Numbers are int/float subclasses that remember how they were written.
        assert type(value).__mro__[1] is type(expected)
        assert str(value) == text


def test_nan() -> None:
    assert math.isnan(data("v: .nan\n")["v"])


def test_keys_stay_text() -> None:
    assert data("1: a\ntrue: b\nnull: c\nyes: d\n") == {
        "1": "a",
        "true": "b",
        "null": "c",
        "yes": "d",
    }


def test_block_scalars() -> None:
    assert data("a: |\n  one\n  two\nb: >-\n  folded\n  text\n") == {
        "a": "one\ntwo\n",
        "b": "folded text",
    }


# --- forbidden constructs ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "phrase"),
    [
        (
            "a: !!python/object:os.system x\n",
            [("Y003", 1, 4)],
            "python/object:os.system'): remove the tag",
        ),
        (
            "a: !!python/object/apply:os.system [ls]\n",
            [("Y003", 1, 4)],
            "YAML tags are not allowed",
        ),
        ("a: 1\nb: !custom x\n", [("Y003", 2, 4)], "found '!custom'"),
        ("a: !!str x\n", [("Y003", 1, 4)], "YAML tags are not allowed"),
        ("a: !!int '3'\n", [("Y003", 1, 4)], "YAML tags are not allowed"),
        ("!!map {a: 1}\n", [("Y003", 1, 1)], "YAML tags are not allowed"),
        ("a: !!seq [1]\n", [("Y003", 1, 4)], "YAML tags are not allowed"),
        ("base: &b {x: 1}\nteam:\n  <<: *b\n", [("Y003", 3, 3)], "merge keys (<<) are not allowed"),
        ("team: {<<: {x: 1}}\n", [("Y003", 1, 8)], "merge keys (<<) are not allowed"),
        ("a: *nope\n", [("Y003", 1, 4)], "alias '*nope' has no anchor '&nope'"),
        ("? [a, b]\n: 1\n", [("Y003", 1, 3)], "a mapping key must be a plain value"),
        ("{a: 1}: x\n", [("Y003", 1, 1)], "a mapping key must be a plain value"),
    ],
)
def test_forbidden_constructs(text: str, expected: list[tuple[str, int, int]], phrase: str) -> None:
    documents, problems = parse_text(PATH, text)
    assert documents == []  # the document is dropped, never half-built
    assert [(p.code, p.location.line, p.location.column) for p in problems] == expected
    assert phrase in problems[0].message


def test_quoted_merge_key_is_an_ordinary_key() -> None:
    assert data("'<<': 1\n") == {"<<": 1}


def test_forbidden_construct_drops_only_its_own_document() -> None:
    documents, problems = parse("a: !!python/object x\n---\nb: 2\n")
    assert [d.data for d in documents] == [{"b": 2}]
    assert [code for code, _, _ in problems] == ["Y003"]


@pytest.mark.parametrize(
    ("text", "expected", "phrase"),
    [
        ("a: 1\nb: 2\na: 3\n", [("Y002", 3, 1)], "duplicate key 'a' (first at line 1)"),
        ("x:\n  c: 1\n  d: 2\n  c: 3\n", [("Y002", 4, 3)], "duplicate key 'c' (first at line 2)"),
        ("{a: 1, b: 2, a: 3}\n", [("Y002", 1, 14)], "duplicate key 'a' (first at line 1)"),
        ("- {k: 1}\n- {k: 1, k: 2}\n", [("Y002", 2, 10)], "duplicate key 'k' (first at line 2)"),
        ("a: 1\n'a': 2\n", [("Y002", 2, 1)], "duplicate key 'a'"),
    ],
)
def test_duplicate_keys(text: str, expected: list[tuple[str, int, int]], phrase: str) -> None:
    documents, problems = parse_text(PATH, text)
    assert [(p.code, p.location.line, p.location.column) for p in problems] == expected
    assert phrase in problems[0].message
    assert len(documents) == 1  # reported, and the first value is kept


def test_duplicate_key_keeps_the_first_value_and_its_position() -> None:
    (document,), _ = parse("a: 1\nb: 2\na: 3\n")
    assert document.data == {"a": 1, "b": 2}
    assert document.mark(("a",)) == Mark(1, 4)
    (problem,) = parse_text(PATH, "a: 1\nb: 2\na: 3\n")[1]
    assert [(r.line, r.column) for r in problem.related] == [(1, 1)]


# --- aliases -------------------------------------------------------------------------------


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_a_finding() -> None:
    # 9 levels of 9 aliases each expand to 9**10 values: this test only finishes
    # (at all) because the loader stops counting at its budget.
    documents, problems = parse_text(PATH, alias_bomb())
    assert documents == []
    (problem,) = problems
    assert problem.code == "Y003"
    assert "aliases expand this document to more than 100,000 values" in problem.message
    assert 2 <= problem.location.line <= 10  # on one of the alias lines


def test_alias_bomb_in_a_later_document_keeps_the_first() -> None:
    documents, problems = parse_text(PATH, "kind: team\n---\n" + alias_bomb())
    assert [d.data for d in documents] == [{"kind": "team"}]
    assert [p.code for p in problems] == ["Y003"]


def test_aliases_within_budget_work() -> None:
    value = data(
        "base: &b [x, y]\nm: &m {k: v}\nc: *b\nd: [*m, *m]\n" + alias_bomb(levels=2, width=3)
    )
    assert value["c"] == ["x", "y"]
    assert value["d"] == [{"k": "v"}, {"k": "v"}]
    assert value["a2"] == [[["lol"] * 3] * 3] * 3  # 3 levels of 3 aliases: well within budget


def test_alias_value_position_is_the_alias() -> None:
    (document,), _ = parse("a: &x ann\nb: *x\n")
    assert document.data == {"a": "ann", "b": "ann"}
    assert document.mark(("b",)) == Mark(2, 4)


# --- depth ---------------------------------------------------------------------------------


def test_deep_nesting_is_a_finding() -> None:
    depth = MAX_DEPTH + 6
    documents, problems = parse("a: " + "[" * depth + "]" * depth + "\n")
    assert documents == []
    assert problems == [("Y003", 1, 4 + MAX_DEPTH - 1)]
    _, found = parse_text(PATH, "[" * 1_000 + "]" * 1_000)
    assert [p.message for p in found] == [
        f"nesting deeper than {MAX_DEPTH} levels is not supported"
    ]


def test_nesting_within_the_limit_works() -> None:
    depth = MAX_DEPTH - 2
    value = data("a: " + "[" * depth + "1" + "]" * depth + "\n")["a"]
    for _ in range(depth - 1):
        (value,) = value
    assert value == [1]


# --- syntax errors and bytes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "column", "phrase"),
    [
        ("kind: team\nname: a: b\n", 2, 8, "mapping values are not allowed"),
        ("a: 1\n b: 2\n", 2, 3, "mapping values are not allowed"),
        ("- a\nb: 1\n", 2, 1, "did not find expected '-' indicator"),
        ("a: 1\nb: x\x01y\n", 2, 5, "control characters are not allowed"),
        ("%FOO bar\n---\na: 1\n", 1, 5, "unknown directive"),
    ],
)
def test_syntax_errors(text: str, line: int, column: int, phrase: str) -> None:
    _, problems = parse_text(PATH, text)
    assert [(p.code, p.location.line, p.location.column) for p in problems] == [
        ("Y001", line, column)
    ]
    assert problems[0].message.startswith("invalid YAML, ")
    assert phrase in problems[0].message


@pytest.mark.parametrize(
    "text",
    [
        "kind: person\nlabels:\n\tteam: a\n",  # a tab where the indentation should be
        "tiers:\n\t- level: 1\n",
        "a: 1\n\tb: 2\n",
        "a: |\n\tfoo\n",
    ],
)
def test_tab_indentation_says_tabs(text: str) -> None:
    _, problems = parse_text(PATH, text)
    (problem,) = problems
    tab_line = next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith("\t"))
    assert (problem.code, problem.location.line, problem.location.column) == ("Y001", tab_line, 1)
    assert "indent YAML with spaces, not tabs" in problem.message


def test_read_file_reports_invalid_utf8_with_position(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes("kind: team\nname: Caf\xe9\n".encode("latin-1"))
    source = read_file(path, Path("latin.yaml"))
    assert source.documents == []
    (problem,) = source.findings
    assert (problem.code, problem.location.line, problem.location.column) == ("Y001", 2, 10)
    assert "not valid UTF-8 (byte 0xe9)" in problem.message


def test_invalid_utf8_column_counts_characters(tmp_path: Path) -> None:
    # Columns are characters everywhere else (see test_columns_count_characters_not_bytes);
    # 'Zoë' is four bytes but three characters, so the bad byte is at column 10.
    path = tmp_path / "mixed.yaml"
    path.write_bytes(b"name: Zo\xc3\xab\xff\n")
    (problem,) = read_file(path, Path("mixed.yaml")).findings
    assert (problem.location.line, problem.location.column) == (1, 10)


def test_read_file_reports_binary(tmp_path: Path) -> None:
    path = tmp_path / "logo.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    source = read_file(path, Path("logo.yaml"))
    assert [(p.code, p.location.line, p.location.column) for p in source.findings] == [
        ("Y001", 1, 1)
    ]
    assert "binary file" in source.findings[0].message


def test_read_file_reports_unreadable(tmp_path: Path) -> None:
    source = read_file(tmp_path / "missing.yaml", Path("missing.yaml"))
    assert [(p.code, p.location.path, p.location.line) for p in source.findings] == [
        ("Y004", Path("missing.yaml"), 1)
    ]
    assert "cannot read this file (no such file or directory)" in source.findings[0].message


def test_read_file_large_file_is_reported_and_still_parsed(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(
        "kind: team\ndescription: " + "x" * (loader.LARGE_FILE_BYTES + 1) + "\nid: a\nid: b\n"
    )
    source = read_file(path, Path("big.yaml"))
    assert [(p.code, p.location.line) for p in source.findings] == [("Y005", 1), ("Y002", 4)]
    assert source.documents[0].data["id"] == "a"


def test_read_file_keeps_text_for_show_source(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("a: 1\nb: 2\n")
    source = read_file(path, Path("shown/t.yaml"))
    assert source.path == Path("shown/t.yaml")
    assert source.lines == ["a: 1", "b: 2"]
    assert source.documents[0].path == Path("shown/t.yaml")


# --- discovery (exclude globs: tests/test_membership.py) -------------------------------


def test_discover(tmp_path: Path) -> None:
    for name in [
        "b.yaml",
        "a/c.yml",
        "a/d.txt",
        ".hidden.yaml",
        ".git/x.yaml",
        "drafts/e.yaml",
        "a/.f.yaml",
    ]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x: 1\n")
    found = [p.relative_to(tmp_path).as_posix() for p in reading.discover(tmp_path, ["drafts/**"])]
    assert found == ["a/c.yml", "b.yaml"]


def test_parse_text_goes_through_the_c_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    import _ruamel_yaml

    created: list[str] = []
    real = _ruamel_yaml.CParser

    def spy(text: str) -> Any:
        created.append(text)
        return real(text)

    monkeypatch.setattr(_ruamel_yaml, "CParser", spy)
    assert data("a: 1\n") == {"a": 1}
    assert created == ["a: 1\n"]


def test_large_file_threshold(tmp_path: Path) -> None:
    path = tmp_path / "edge.yaml"
    head = "kind: team\ndescription: "
    path.write_text(head + "x" * (loader.LARGE_FILE_BYTES - len(head) - 1) + "\n")
    assert path.stat().st_size == loader.LARGE_FILE_BYTES
    assert read_file(path, Path("edge.yaml")).findings == []

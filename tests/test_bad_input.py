"""Every bad input from the issue, through `kpictl check`: a finding (or one line), never a traceback.

Each case adds one bad file to the clean BASE registry, runs the CLI from the
registry folder with `--format json`, and checks the exact code, file, line and
column, the exit code, and that nothing but the report came out.
"""

# ruff: noqa: E501  (case tables: one case per line, as in yamllint's tests)

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import AS_OF, Result
from tests.helpers import Run, make
from tests.test_loader import alias_bomb

Found = tuple[str, str, int, int]


def check_json(
    run: Run, root: Path, *options: str
) -> tuple[Result, list[Found], list[dict[str, Any]]]:
    """Run `kpictl check` in `root` with JSON output: (result, [(code, path, line, column)], raw)."""
    result = run("check", "--as-of", AS_OF, "--format", "json", *options, cwd=root)
    assert "Traceback" not in result.out + result.err
    assert result.err == ""
    raw = json.loads(result.out)
    return result, [(i["code"], i["path"], i["line"], i["column"]) for i in raw], raw


def add(root: Path, name: str, content: str | bytes) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


# fmt: off
BAD_FILES = [
    # (file content, expected findings, exit code, key phrase of the first message)
    pytest.param(b"", [("Y006", "bad.yaml", 1, 1)], 0, "holds no YAML document", id="empty-file"),
    pytest.param("# TODO: add the SQL KPI\n", [("Y006", "bad.yaml", 1, 1)], 0, "holds no YAML document", id="only-a-comment"),
    pytest.param("kind: team\nname: a: b\n", [("Y001", "bad.yaml", 2, 8)], 1, "invalid YAML, mapping values are not allowed", id="syntax-error"),
    pytest.param("kind: team\nid: ops\nlabels:\n\tslack: '#ops'\n", [("Y001", "bad.yaml", 4, 1)], 1, "invalid YAML", id="tab-indentation"),
    pytest.param("- kind: team\n- id: ops\n", [("Y003", "bad.yaml", 1, 1)], 1, "each document must be a mapping (one entity with kind and id), not a list", id="document-is-a-list"),
    pytest.param("just some text\n", [("Y003", "bad.yaml", 1, 1)], 1, "each document must be a mapping (one entity with kind and id), not the value 'just some text'", id="document-is-a-scalar"),
    pytest.param("kind: team\nid: ops\nname: Ops\nfunction: other\nname: Ops again\nlead: ann\n", [("Y002", "bad.yaml", 5, 1)], 1, "duplicate key 'name' (first at line 3)", id="duplicate-key"),
    pytest.param("kind: team\nid: ops\nname: !!python/object:os.system ls\nfunction: other\nlead: ann\n", [("Y003", "bad.yaml", 3, 7)], 1, "YAML tags are not allowed", id="python-object-tag"),
    pytest.param("kind: team\nid: ops\nname: Ops\nfunction: !!python/name:os.system ''\nlead: ann\n", [("Y003", "bad.yaml", 4, 11)], 1, "YAML tags are not allowed", id="python-name-tag"),
    pytest.param("kind: team\nid: ops\n<<: {name: Ops, function: other}\nlead: ann\n", [("Y003", "bad.yaml", 3, 1)], 1, "merge keys (<<) are not allowed", id="merge-key"),
    pytest.param("kind: team\nid: ops\nname: Caf\xe9\nfunction: other\n".encode("latin-1"), [("Y001", "bad.yaml", 3, 10)], 1, "not valid UTF-8 (byte 0xe9)", id="latin-1"),
    pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", [("Y001", "bad.yaml", 1, 1)], 1, "binary file", id="binary"),
    pytest.param(b"kind: team\x00\nid: ops\n", [("Y001", "bad.yaml", 1, 1)], 1, "binary file", id="nul-byte"),
    pytest.param("kind: persn\nid: zoe\nname: Zoe\n", [("S001", "bad.yaml", 1, 7)], 1, "unknown kind 'persn': use one of person, team, data_source, kpi, escalation_policy, campaign, glossary_term, experiment (did you mean 'person'?)", id="unknown-kind"),
    pytest.param("kind: team\nname: Ops\nfunction: other\nlead: ann\n", [("S001", "bad.yaml", 1, 1)], 1, "missing required field 'id'", id="missing-id"),
    pytest.param("# Ops team\nkind: team\nname: Ops\nfunction: other\nlead: ann\n", [("S001", "bad.yaml", 2, 1)], 1, "missing required field 'id'", id="missing-id-after-comment"),
    pytest.param("kind: team\nid: RevOps\nname: Ops\nfunction: other\nlead: ann\n", [("S001", "bad.yaml", 2, 5)], 1, "'RevOps' is not a valid id: use lowercase letters, digits and hyphens", id="id-capitals"),
    pytest.param("kind: team\nid: rev ops\nname: Ops\nfunction: other\nlead: ann\n", [("S001", "bad.yaml", 2, 5)], 1, "(e.g. 'rev-ops')", id="id-spaces"),
    pytest.param("kind: team\nid: -ops\nname: Ops\nfunction: other\nlead: ann\n", [("S001", "bad.yaml", 2, 5)], 1, "is not a valid id", id="id-leading-hyphen"),
    pytest.param("kind: team\nid: " + "a" * 64 + "\nname: Ops\nfunction: other\nlead: ann\n", [("S001", "bad.yaml", 2, 5)], 1, "at most 63 characters", id="id-too-long"),
    pytest.param("---\nkind: team\nid: ops\nname: Ops\nfunction: other\nlead: ann\n---\n- a list\n", [("Y003", "bad.yaml", 8, 1)], 1, "not a list", id="second-document-is-a-list"),
]
# fmt: on


@pytest.mark.parametrize(("content", "expected", "code", "phrase"), BAD_FILES)
def test_bad_file(
    tmp_path: Path, run: Run, content: str | bytes, expected: list[Found], code: int, phrase: str
) -> None:
    add(make(tmp_path), "bad.yaml", content)
    result, found, raw = check_json(run, tmp_path)
    assert found == expected
    assert phrase in raw[0]["message"]
    assert result.code == code


def test_bad_file_in_text_format_is_one_line(tmp_path: Path, run: Run) -> None:
    add(make(tmp_path), "bad.yaml", "kind: team\nname: a: b\n")
    result = run("check", "--as-of", AS_OF, cwd=tmp_path)
    assert result.code == 1
    assert result.err == ""
    assert result.out == (
        "bad.yaml:2:8: Y001 [error] invalid YAML, mapping values are not allowed in this context\n"
        "Found 1 error, 0 warnings, 0 info in 9 files (check failed, failing on error).\n"
    )


def test_empty_file_fails_only_on_info(tmp_path: Path, run: Run) -> None:
    add(make(tmp_path), "empty.yaml", b"")
    assert run("check", "--as-of", AS_OF, cwd=tmp_path).code == 0
    assert run("check", "--as-of", AS_OF, "--fail-on", "info", cwd=tmp_path).code == 1


def test_id_that_is_not_text(tmp_path: Path, run: Run) -> None:
    add(
        make(tmp_path), "bad.yaml", "kind: team\nid: [ops]\nname: Ops\nfunction: other\nlead: ann\n"
    )
    _, found, raw = check_json(run, tmp_path)
    assert found == [("S001", "bad.yaml", 2, 5)]
    assert raw[0]["message"] == "id must be text, not a list"


def test_alias_bomb_finishes_with_a_finding(tmp_path: Path, run: Run) -> None:
    # 9 levels x 9 aliases: a billion values if expanded. Reaching the asserts at all
    # is the point; the loader stops at its value budget.
    add(make(tmp_path), "bad.yaml", "kind: team\nid: ops\n" + alias_bomb())
    result, found, raw = check_json(run, tmp_path)
    assert [(code, path) for code, path, _, _ in found] == [("Y003", "bad.yaml")]
    assert 4 <= found[0][2] <= 12  # on one of the alias lines
    assert "aliases expand this document to more than 100,000 values" in raw[0]["message"]
    assert result.code == 1


def test_deep_nesting(tmp_path: Path, run: Run) -> None:
    add(make(tmp_path), "bad.yaml", "kind: team\nid: ops\nlabels: " + "[" * 200 + "]" * 200 + "\n")
    _, found, raw = check_json(run, tmp_path)
    assert [(c, p, line) for c, p, line, _ in found] == [("Y003", "bad.yaml", 3)]
    assert "nesting deeper than" in raw[0]["message"]


# --- a 5 MB file ---------------------------------------------------------------------------

FIVE_MB = 5 * 1024 * 1024


def test_five_megabyte_file_with_a_huge_value_is_warned_and_checked(
    tmp_path: Path, run: Run
) -> None:
    text = (
        "kind: data_source\nid: wh\nname: Warehouse\nsystem: Snowflake\nowner: anne\n"
        "refresh: daily\ndescription: " + "x" * FIVE_MB + "\n"
    )
    add(make(tmp_path), "big.yaml", text)
    result, found, raw = check_json(run, tmp_path)
    # Y005 says the file is large; the rules still ran (R002 on the owner).
    assert found == [("Y005", "big.yaml", 1, 1), ("R002", "big.yaml", 5, 8)]
    assert raw[0]["severity"] == "warning"
    assert "this file is 5.0 MB" in raw[0]["message"]
    assert "did you mean 'ann'?" in raw[1]["message"]
    assert result.code == 1


def test_five_megabyte_file_with_many_keys_is_warned_and_checked(tmp_path: Path, run: Run) -> None:
    # The same size spread over 80,000 labels: no aliases anywhere, so no alias finding.
    labels = "".join(f"  key{i:05d}: {'v' * 56}\n" for i in range(80_000))
    text = "kind: team\nid: ops\nname: Ops\nfunction: other\nlead: anne\nlabels:\n" + labels
    assert len(text) > FIVE_MB
    add(make(tmp_path), "big.yaml", text)
    _, found, raw = check_json(run, tmp_path)
    assert found == [("Y005", "big.yaml", 1, 1), ("R002", "big.yaml", 5, 7)], [
        i["message"] for i in raw
    ]


# --- paths that are not a registry ---------------------------------------------------------


def test_registry_path_that_does_not_exist(tmp_path: Path, run: Run) -> None:
    missing = tmp_path / "no-such-registry"
    result = run("check", str(missing), "--as-of", AS_OF)
    assert result.code == 2
    assert result.out == ""
    assert result.err == f"kpictl: no such file or folder: {missing}\n"


@pytest.mark.parametrize("target", ["folder", "file"])
def test_path_outside_any_registry(tmp_path: Path, run: Run, target: str) -> None:
    outside = tmp_path / "loose"
    outside.mkdir()
    path = outside if target == "folder" else add(outside, "team.yaml", "kind: team\nid: x\n")
    result = run("check", str(path), "--as-of", AS_OF)
    assert result.code == 2
    assert result.out == ""
    assert result.err.count("\n") == 1
    assert result.err.startswith(f"kpictl: no registry found: neither {path} nor any folder above")
    assert "kpictl.yaml" in result.err
    assert "Traceback" not in result.err


def test_no_path_and_cwd_outside_any_registry(tmp_path: Path, run: Run) -> None:
    result = run("check", "--as-of", AS_OF, cwd=tmp_path)
    assert result.code == 2
    assert result.err.startswith("kpictl: no registry found: neither the current folder nor")
    assert result.err.count("\n") == 1


# --- unreadable files ----------------------------------------------------------------------


def make_unreadable(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """chmod 000; as root, where that does not stop reads, make opening it fail instead."""
    if os.geteuid() != 0:
        path.chmod(0)
        return
    original = os.open

    def os_open(name: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        candidate = Path(name)
        if candidate.name == path.name and candidate.parent.resolve() == path.parent.resolve():
            raise PermissionError(13, "Permission denied")
        return original(name, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)


def test_unreadable_file(tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    make(tmp_path)
    locked = add(tmp_path, "locked.yaml", "kind: team\nid: ops\n")
    make_unreadable(locked, monkeypatch)
    try:
        result, found, raw = check_json(run, tmp_path)
    finally:
        locked.chmod(0o644)
    assert found == [("Y004", "locked.yaml", 1, 1)]
    assert "cannot read this file (permission denied)" in raw[0]["message"]
    assert result.code == 1


def test_unreadable_root_file_is_reported_and_the_rest_checked(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    make(tmp_path, ("source.yaml", "owner: ann", "owner: anne"))
    make_unreadable(tmp_path / "kpictl.yaml", monkeypatch)
    try:
        result, found, _ = check_json(run, tmp_path)
    finally:
        (tmp_path / "kpictl.yaml").chmod(0o644)
    assert found == [("Y004", "kpictl.yaml", 1, 1), ("R002", "source.yaml", 5, 8)]
    assert result.code == 1


# --- bad kpictl.yaml ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "expected", "phrase"),
    [
        (
            "",
            [("S001", "kpictl.yaml", 1, 1)],
            "kpictl.yaml is empty: it needs at least `version: 1`",
        ),
        ("- version: 1\n", [("Y003", "kpictl.yaml", 1, 1)], "kpictl.yaml must be a mapping"),
        ("version: 1\nname: a: b\n", [("Y001", "kpictl.yaml", 2, 8)], "invalid YAML"),
        (
            "version: 1\n---\nkind: team\n",
            [("Y003", "kpictl.yaml", 3, 1)],
            "kpictl.yaml holds one document",
        ),
        ("version: 1\nversion: 1\n", [("Y002", "kpictl.yaml", 2, 1)], "duplicate key 'version'"),
    ],
)
def test_bad_root_file_still_checks_the_rest(
    tmp_path: Path, run: Run, settings: str, expected: list[Found], phrase: str
) -> None:
    make(tmp_path, ("source.yaml", "owner: ann", "owner: anne"), settings=settings)
    result, found, raw = check_json(run, tmp_path)
    assert found == [*expected, ("R002", "source.yaml", 5, 8)]
    assert phrase in raw[0]["message"]
    assert result.code == 1


# --- one broken file hides nothing -------------------------------------------------------


def test_one_broken_file_never_hides_findings_in_others(tmp_path: Path, run: Run) -> None:
    make(
        tmp_path,
        ("a-broken.yaml", None, "kind: team\nid: [ops\n"),
        ("source.yaml", "owner: ann", "owner: anne"),
        ("z-binary.yaml", None, "\x00"),
        ("m-tagged.yaml", None, "kind: team\nid: !!python/object:x ops\n"),
    )
    result, found, _ = check_json(run, tmp_path)
    assert [(code, path) for code, path, _, _ in found] == [
        ("Y001", "a-broken.yaml"),
        ("Y003", "m-tagged.yaml"),
        ("R002", "source.yaml"),
        ("Y001", "z-binary.yaml"),
    ]
    assert result.code == 1


def test_broken_document_does_not_hide_the_others_in_its_file(tmp_path: Path, run: Run) -> None:
    make(
        tmp_path,
        (
            "teams.yaml",
            None,
            "kind: team\nid: ops\nname: Ops\nfunction: other\nlead: anne\n---\n"
            "kind: team\nid: !!str x\n---\nkind: team\nid: fin\nname: Fin\nfunction: finance\n",
        ),
    )
    _, found, _ = check_json(run, tmp_path)
    assert found == [
        ("R002", "teams.yaml", 5, 7),
        ("Y003", "teams.yaml", 8, 5),
        ("O003", "teams.yaml", 10, 1),
    ]


# --- internal errors ---------------------------------------------------------------------


def _explode(*args: object, **kwargs: object) -> None:
    raise RuntimeError("boom")


def test_internal_error_is_one_short_report(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    make(tmp_path)
    monkeypatch.setattr("kpictl.check.check.check", _explode)
    result = run("check", str(tmp_path), "--as-of", AS_OF)
    assert result.code == 2
    assert result.out == ""
    assert result.err.startswith("kpictl: internal error: RuntimeError: boom\n")
    assert "--debug" in result.err
    assert "Traceback" not in result.err


def test_debug_lets_the_traceback_through(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    make(tmp_path)
    monkeypatch.setattr("kpictl.check.check.check", _explode)
    with pytest.raises(RuntimeError, match="boom"):
        run("--debug", "check", str(tmp_path), "--as-of", AS_OF)


def test_utf16_file_is_named_as_an_encoding_problem(tmp_path: Path, run: Run) -> None:
    # Windows tools (PowerShell's `>`) write UTF-16. It is text in the wrong encoding,
    # and the fix is "save as UTF-8", not "remove this binary file".
    text = "kind: team\nid: ops\nname: Ops\nfunction: other\nlead: ann\n"
    add(make(tmp_path), "bad.yaml", text.encode("utf-16"))
    _, found, raw = check_json(run, tmp_path)
    assert found == [("Y001", "bad.yaml", 1, 1)]
    assert "UTF-8" in raw[0]["message"]
    assert "binary" not in raw[0]["message"]


def test_unclosed_bracket_points_where_it_opened(tmp_path: Path, run: Run) -> None:
    from tests.conftest import write_registry

    write_registry(tmp_path, {"t.yaml": "kind: team\nid: [a, b\n"})
    result = run("check", str(tmp_path), "--as-of", "2026-11-20", cwd=tmp_path)
    assert result.code == 1
    assert result.out.splitlines()[0].startswith("t.yaml:2:5: Y001 [error] invalid YAML")


def test_file_of_only_document_markers_is_empty(tmp_path: Path, run: Run) -> None:
    from tests.conftest import write_registry

    write_registry(tmp_path, {"t.yaml": "---\n---\n"})
    result = run("check", str(tmp_path), "--as-of", "2026-11-20", cwd=tmp_path)
    assert result.code == 0
    assert result.out.splitlines()[0] == (
        "t.yaml:1:1: Y006 [info] this file holds no YAML document: add an entity or delete the file"
    )

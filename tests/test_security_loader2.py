"""What a whole registry may cost: documents per file, documents and bytes per registry.

The size limit alone was per file: two files under 8 MB of tiny documents took 36 s
and 1.15 GB. Past a limit the rest is a Y004 finding and is not parsed. Tests whose
input used to take seconds per file run under `deadline`, so a regression fails
instead of stalling the suite.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from kpictl.check.check import check
from kpictl.registry import loader, reading
from kpictl.registry.reading import parse_bytes, read_file
from kpictl.registry.registry import load_registry, registry_from_files
from tests.conftest import AS_OF
from tests.helpers import deadline, make

TEAM = "kind: team\nid: t{n}\nname: T\nfunction: marketing\nlead: ann\n"
MAX_FILE_DOCUMENTS = 10_000  # loader.MAX_FILE_DOCUMENTS, written out: see the first test
EXCLUDE = "add it to `exclude` in kpictl.yaml if it is data"
Found = tuple[str, str, int, int, str]


def teams(first: int, count: int) -> str:
    return "---\n".join(TEAM.format(n=n) for n in range(first, first + count))


def found(root: Path) -> list[Found]:
    result = check(root, today=date.fromisoformat(AS_OF), cwd=root)
    return [
        (f.code, f.location.path.as_posix(), f.location.line, f.location.column, f.message)
        for f in result.findings
    ]


def left_out(documents: int, megabytes: int, others: str) -> str:
    return (
        f"with this file the registry holds more than {documents:,} documents, "
        f"2,000,000 values or {megabytes} MB: this file{others} left out; registry files "
        f"hold a few entities each: remove what was generated, or {EXCLUDE}"
    )


# --- documents per file ----------------------------------------------------------------


def test_limits_are_what_the_documentation_says() -> None:
    assert loader.MAX_FILE_DOCUMENTS == 10_000
    assert reading.MAX_REGISTRY_DOCUMENTS == 100_000
    assert reading.MAX_REGISTRY_BYTES == 64 * 1024 * 1024


def test_a_file_of_too_many_documents_is_read_up_to_the_limit(tmp_path: Path) -> None:
    root = make(tmp_path)
    # Three times the limit: reading it all took seconds; a regression that reads on
    # (or re-reads per document) runs into the deadline.
    (root / "many.yaml").write_text(teams(0, 3 * MAX_FILE_DOCUMENTS), encoding="utf-8")
    with deadline(60):
        assert found(root) == [
            (
                "Y005",
                "many.yaml",
                1,
                1,
                "this file is 1.8 MB; registry files are usually a few KB: split it, or "
                "exclude it if it is data rather than definitions",
            ),
            (
                "Y004",
                "many.yaml",
                # Document 10,001 starts at its `---`: after 10,000 documents of 5 lines
                # and 9,999 separators.
                6 * MAX_FILE_DOCUMENTS,
                1,
                f"this file holds more than {MAX_FILE_DOCUMENTS:,} documents: the rest of it, "
                "from here, is not read; registry files hold a few entities each: split it, "
                f"or {EXCLUDE}",
            ),
        ]
        source = read_file(root / "many.yaml", Path("many.yaml"))
    assert source.parsed == MAX_FILE_DOCUMENTS
    assert [doc.data["id"] for doc in source.documents[-2:]] == ["t9998", "t9999"]


def test_the_limit_counts_documents_dropped_for_a_finding() -> None:
    text = "---\n".join(f"!!python/object x{n}: 1\n" for n in range(MAX_FILE_DOCUMENTS + 5))
    source = parse_bytes(Path("tags.yaml"), text.encode())
    assert source.documents == []
    assert source.parsed == MAX_FILE_DOCUMENTS
    assert [f.code for f in source.findings] == ["Y003"] * MAX_FILE_DOCUMENTS + ["Y004"]


def test_exactly_the_limit_is_read_whole() -> None:
    source = parse_bytes(Path("ok.yaml"), teams(0, MAX_FILE_DOCUMENTS).encode())
    assert (len(source.documents), source.findings) == (MAX_FILE_DOCUMENTS, [])


# --- documents and bytes per registry ---------------------------------------------------


def small_registry(root: Path) -> tuple[Path, int]:
    """The base registry plus four files of 3, 3, 1 and 2 teams, read last in this
    order; and how many documents the base registry's files hold."""
    make(root)
    base = sum(source.parsed for source in load_registry(root)[0].files[1:])
    (root / "zz").mkdir()
    for name, first, count in (("a", 0, 3), ("b", 3, 3), ("c", 6, 1), ("d", 7, 2)):
        (root / "zz" / f"{name}.yaml").write_text(teams(first, count), encoding="utf-8")
    return root, base


def read_spy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    names: list[str] = []
    original = reading.read_file

    def spy(path: Path, *args: Any, **kwargs: Any) -> loader.SourceFile:
        names.append(path.name)
        return original(path, *args, **kwargs)

    monkeypatch.setattr(reading, "read_file", spy)
    return names


def test_past_the_registry_document_limit_the_rest_is_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, base = small_registry(tmp_path)
    monkeypatch.setattr(reading, "MAX_REGISTRY_DOCUMENTS", base + 4)  # a fits, b does not
    parsed = read_spy(monkeypatch)
    assert found(root) == [
        ("Y004", "zz/b.yaml", 1, 1, left_out(base + 4, 64, " and the 2 after it are"))
    ]
    assert parsed[-2:] == ["a.yaml", "b.yaml"]  # c and d are not even opened
    registry, _ = load_registry(root)
    assert [f.path.relative_to(root).as_posix() for f in registry.files[-2:]] == [
        "zz/a.yaml",
        "zz/b.yaml",
    ]
    assert registry.files[-1].documents == []
    assert (registry.get("t2") is None, registry.get("t3")) == (False, None)


def test_past_the_registry_byte_limit_the_rest_is_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = small_registry(tmp_path)
    total = sum(source.size for source in load_registry(root)[0].files[1:])
    assert total == sum(p.stat().st_size for p in root.rglob("*.yaml")) - len("version: 1\n")
    monkeypatch.setattr(reading, "MAX_REGISTRY_BYTES", total - 1)  # d is one byte too many
    assert found(root) == [("Y004", "zz/d.yaml", 1, 1, left_out(100_000, 0, " is"))]


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
@pytest.mark.parametrize(("limit", "cut"), [(20, "aa/f10.yaml"), (70, "aa/f35.yaml")])
def test_forked_workers_stop_at_the_same_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int, cut: str
) -> None:
    make(tmp_path)
    (tmp_path / "aa").mkdir()  # read first, 2 documents a file: the cut is at limit / 2
    for n in range(60):
        (tmp_path / "aa" / f"f{n:02d}.yaml").write_text(teams(2 * n, 2), encoding="utf-8")
    monkeypatch.setattr(reading, "MAX_REGISTRY_DOCUMENTS", limit)
    monkeypatch.setattr(reading, "PARALLEL_MIN_FILES", 10**9)
    serial = found(tmp_path)
    monkeypatch.setattr(reading, "PARALLEL_MIN_FILES", 2)
    parallel = found(tmp_path)
    assert parallel == serial
    assert [item[:2] for item in serial if item[0] == "Y004"] == [("Y004", cut)]


def test_content_from_git_is_held_to_the_same_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    files: dict[str, bytes | loader.SourceFile] = {
        "kpictl.yaml": b"version: 1\n",
        "a.yaml": teams(0, 3).encode(),
        "b.yaml": teams(3, 3).encode(),
        "c.yaml": teams(6, 3).encode(),
    }
    monkeypatch.setattr(reading, "MAX_REGISTRY_DOCUMENTS", 5)
    built = registry_from_files(Path("/nowhere"), Path("reg"), files)
    assert built is not None
    registry, findings = built
    assert [(f.code, f.location.path.as_posix(), f.message) for f in findings] == [
        ("Y004", "reg/b.yaml", left_out(5, 64, " and the 1 after it are"))
    ]
    assert sorted(registry.records) == ["t0", "t1", "t2"]


# --- memory per document ---------------------------------------------------------------


def test_repeated_texts_are_kept_once() -> None:
    source = parse_bytes(Path("t.yaml"), teams(0, 2).encode())
    first, second = (doc.data for doc in source.documents)
    shared = [key for key in first if any(key is other for other in second)]
    assert shared == ["kind", "id", "name", "function", "lead"]
    assert first["function"] is second["function"]

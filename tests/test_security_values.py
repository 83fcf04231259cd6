"""A registry's values in all, and fmt's file size: the limits a hostile registry met.

32 files of 7.6 MB (42 documents of 20,000 labels each) stayed under every limit on
files, documents and bytes, and `kpictl check` took 90 s and 1.4 GB; `fmt --check` of
one such file 64 s. Past MAX_REGISTRY_VALUES the rest is a Y004 finding and is not
parsed; fmt leaves a file over 1 MB untouched.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pytest

from kpictl.check.check import check
from kpictl.registry import loader, reading
from kpictl.registry.reading import parse_bytes
from kpictl.registry.registry import load_registry, registry_from_files
from tests.conftest import AS_OF, ROOT, Run
from tests.helpers import make

TEAM = "kind: team\nid: t{n}\nname: T\nfunction: marketing\nlead: ann\n"
LABELS = "labels: {{{labels}}}\n"
EXCLUDE = "add it to `exclude` in kpictl.yaml if it is data"
Found = tuple[str, str, int, int, str]


def teams(first: int, count: int, labels: int = 0) -> str:
    extra = LABELS.format(labels=", ".join(f"k{i}: v" for i in range(labels))) if labels else ""
    return "---\n".join(TEAM.format(n=n) + extra for n in range(first, first + count))


def left_out(others: str, values: int = 2_000_000) -> str:
    return (
        f"with this file the registry holds more than 100,000 documents, {values:,} values "
        f"or 64 MB: this file{others} left out; registry files hold a few entities "
        f"each: remove what was generated, or {EXCLUDE}"
    )


def found(root: Path) -> list[Found]:
    result = check(root, today=date.fromisoformat(AS_OF), cwd=root)
    return [
        (f.code, f.location.path.as_posix(), f.location.line, f.location.column, f.message)
        for f in result.findings
    ]


def test_limits_are_what_the_documentation_says() -> None:
    assert reading.MAX_REGISTRY_VALUES == 2_000_000
    assert reading.MAX_REGISTRY_BYTES == 64 * 1024 * 1024
    assert loader.LARGE_FILE_BYTES == 1024 * 1024


def test_values_are_counted_in_kept_and_dropped_documents() -> None:
    # A team: its mapping and five values (keys are not counted); with labels, one
    # mapping more and a value per label.
    assert parse_bytes(Path("a.yaml"), teams(0, 2).encode()).values == 12
    assert parse_bytes(Path("a.yaml"), teams(0, 1, labels=10).encode()).values == 17
    # Dropped for a tag after its labels: what was built still counts (all but the
    # unfinished document mapping).
    dropped = parse_bytes(Path("a.yaml"), (teams(0, 1, labels=10) + "x: !!str y\n").encode())
    assert (dropped.documents, dropped.values) == ([], 16)
    assert [f.code for f in dropped.findings] == ["Y003"]


def small_registry(root: Path) -> tuple[Path, int]:
    """The base registry plus four files of teams with 100 labels each, read last;
    and how many values the base registry's files hold."""
    make(root)
    base = sum(source.values for source in load_registry(root)[0].files[1:])
    (root / "zz").mkdir()
    for name, first, count in (("a", 0, 3), ("b", 3, 3), ("c", 6, 1), ("d", 7, 2)):
        text = teams(first, count, labels=100)
        (root / "zz" / f"{name}.yaml").write_text(text, encoding="utf-8")
    return root, base


def test_past_the_registry_value_budget_the_rest_is_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, base = small_registry(tmp_path)
    per_team = 6 + 1 + 100
    budget = base + 3 * per_team  # a fits, b does not
    monkeypatch.setattr(reading, "MAX_REGISTRY_VALUES", budget)
    assert found(root) == [("Y004", "zz/b.yaml", 1, 1, left_out(" and the 2 after it are", budget))]
    registry, _ = load_registry(root)
    assert (registry.get("t2") is None, registry.get("t3")) == (False, None)


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
def test_forked_workers_stop_at_the_same_file_for_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make(tmp_path)
    (tmp_path / "aa").mkdir()  # read first, 17 values a file: the cut is at f20
    for n in range(60):
        (tmp_path / "aa" / f"f{n:02d}.yaml").write_text(teams(n, 1, 10), encoding="utf-8")
    monkeypatch.setattr(reading, "MAX_REGISTRY_VALUES", 17 * 20 + 8)
    monkeypatch.setattr(reading, "PARALLEL_MIN_FILES", 10**9)
    serial = found(tmp_path)
    monkeypatch.setattr(reading, "PARALLEL_MIN_FILES", 2)
    assert found(tmp_path) == serial
    assert [item[:2] for item in serial if item[0] == "Y004"] == [("Y004", "aa/f20.yaml")]


def test_content_from_git_is_held_to_the_value_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    files: dict[str, bytes | loader.SourceFile] = {
        "kpictl.yaml": b"version: 1\n",
        "a.yaml": teams(0, 1, 10).encode(),
        "b.yaml": teams(1, 1, 10).encode(),
    }
    monkeypatch.setattr(reading, "MAX_REGISTRY_VALUES", 20)
    built = registry_from_files(Path("/nowhere"), Path("reg"), files)
    assert built is not None
    assert [(f.code, f.location.path.as_posix(), f.message) for f in built[1]] == [
        ("Y004", "reg/b.yaml", left_out(" is", 20))
    ]


def test_fmt_leaves_a_file_over_1_mb_untouched(tmp_path: Path, run: Run) -> None:
    root = make(tmp_path)
    big = root / "teams" / "big.yaml"
    big.parent.mkdir(exist_ok=True)
    text = teams(0, 12, labels=20_000)  # some 1.4 MB, which took 11 s
    assert len(text) > 1024 * 1024
    big.write_text(text, encoding="utf-8")
    message = (
        "cannot format (left untouched): this file is over 1 MB; registry files are a few "
        "KB: split it, or add it to `exclude` in kpictl.yaml"
    )
    for args in (("fmt", "--check", "teams/big.yaml"), ("fmt", "teams/big.yaml")):
        result = run(*args, cwd=root)
        assert (result.code, result.err) == (1, "")
        assert result.out.splitlines()[0] == f"teams/big.yaml:1:1: {message}"
    assert big.read_text(encoding="utf-8") == text


def test_example_and_benchmark_registries_stay_far_under_the_limits(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import check_large
    finally:
        sys.path.pop(0)

    for root, scale in ((ROOT / "registry", 1), (tmp_path / "bench", 10)):
        if scale > 1:
            check_large.generate_registry(root, 2000)  # N=20,000 is ten times this
        files = load_registry(root)[0].files
        documents = sum(source.parsed for source in files) * scale
        values = sum(source.values for source in files) * scale
        size = sum(source.size for source in files) * scale
        assert documents < reading.MAX_REGISTRY_DOCUMENTS // 2
        assert values < reading.MAX_REGISTRY_VALUES // 2
        assert size < reading.MAX_REGISTRY_BYTES // 2

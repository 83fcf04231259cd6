"""Large registries are parsed in forked workers: the result must equal a serial load."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kpictl.check.check import check
from kpictl.registry import reading
from tests.conftest import AS_OF, EXAMPLE, ROOT


def _findings(root: Path) -> list[tuple[str, str, int, int, str]]:
    from datetime import date

    result = check(root, today=date.fromisoformat(AS_OF), cwd=root)
    return [
        (f.code, f.location.path.as_posix(), f.location.line, f.location.column, f.message)
        for f in result.findings
    ]


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
def test_parallel_load_equals_serial_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import check_large
    finally:
        sys.path.pop(0)
    root = tmp_path / "reg"
    check_large.generate_registry(root, 60)
    # Break a few files so findings (with positions) travel back from the workers too.
    kpis = sorted((root / "kpis").rglob("*.yaml"))
    kpis[0].write_text(kpis[0].read_text(encoding="utf-8").replace("unit:", "unit: [x]\nunt:"))
    kpis[-1].write_text("kind: kpi\nid: [broken\n", encoding="utf-8")
    (root / "z.yaml").write_text("n: 007\nkind: team\n", encoding="utf-8")

    monkeypatch.setattr(reading, "PARALLEL_MIN_FILES", 10**9)
    serial = _findings(root)
    monkeypatch.setattr(reading, "PARALLEL_MIN_FILES", 2)
    parallel = _findings(root)
    assert parallel == serial
    assert {"S001", "Y001"} <= {code for code, *_ in serial}


def test_example_registry_loads_the_same_in_parallel(monkeypatch: pytest.MonkeyPatch) -> None:
    from kpictl.registry.registry import load_registry

    serial, _ = load_registry(EXAMPLE)
    monkeypatch.setattr(reading, "PARALLEL_MIN_FILES", 2)
    parallel, _ = load_registry(EXAMPLE)
    assert [f.path for f in parallel.files] == [f.path for f in serial.files]
    assert {k: r.entity for k, r in parallel.records.items()} == {
        k: r.entity for k, r in serial.records.items()
    }

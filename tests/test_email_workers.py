"""Emails built by worker processes are the emails one process builds, byte for byte."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from kpictl import parallel
from kpictl.emails import workers
from tests.conftest import AS_OF, EXAMPLE, Result, write_registry
from tests.test_emails import ACTUALS, HOSTILE

Run = Callable[..., Result]

pytestmark = pytest.mark.skipif(workers.worker_count() < 2, reason="needs fork and a second CPU")


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_workers_write_the_same_files(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    args = ("escalate", str(EXAMPLE), "-a", ACTUALS, "--as-of", AS_OF)
    serial = run(*args, "--out", str(tmp_path / "serial"))
    serial_preview = run(*args)
    monkeypatch.setattr(workers, "PARALLEL_MIN", 1)
    monkeypatch.setattr(parallel, "CHUNKS_PER_WORKER", 2)  # 4 emails: chunks of one
    forked = run(*args, "--out", str(tmp_path / "forked"))
    forked_preview = run(*args)
    assert serial.code == forked.code == 0
    assert (forked.out, forked.err) == (
        serial.out.replace(str(tmp_path / "serial"), str(tmp_path / "forked")),
        serial.err,
    )
    assert _files(tmp_path / "forked") == _files(tmp_path / "serial")
    assert forked_preview == serial_preview


def test_workers_keep_warnings_and_hostile_names_out(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root = write_registry(tmp_path / "r", HOSTILE)
    csv = tmp_path / "a.csv"
    csv.write_text("kpi,period,value,as_of\nk,2026-Q4,100,2026-11-20\n")
    args = ("escalate", str(root), "-a", str(csv), "--as-of", AS_OF)
    serial = run(*args, "--out", str(tmp_path / "serial"))
    monkeypatch.setattr(workers, "PARALLEL_MIN", 1)
    forked = run(*args, "--out", str(tmp_path / "forked"))
    assert forked.err == serial.err
    assert _files(tmp_path / "forked") == _files(tmp_path / "serial")


def test_a_failing_template_fails_as_without_workers(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root = tmp_path / "r"
    shutil.copytree(EXAMPLE, root)
    settings = (root / "kpictl.yaml").read_text(encoding="utf-8")
    (root / "kpictl.yaml").write_text(settings + "templates: overrides\n", encoding="utf-8")
    folder = root / "overrides" / "email"
    folder.mkdir(parents=True)
    (folder / "escalation.txt.j2").write_text("{{ nope }}\n", encoding="utf-8")
    args = ("escalate", str(root), "-a", ACTUALS, "--as-of", AS_OF, "--out", str(tmp_path / "o"))
    serial = run(*args)
    assert serial.code == 2 and "UndefinedError: 'nope' is undefined" in serial.err
    monkeypatch.setattr(workers, "PARALLEL_MIN", 1)
    assert run(*args) == serial  # the workers give up; the error is raised here, the same
    assert not (tmp_path / "o").exists()

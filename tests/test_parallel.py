"""kpictl.parallel: work really runs in workers, falls back only when they cannot run."""

from __future__ import annotations

import logging
import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from kpictl import parallel
from kpictl.emails import workers
from kpictl.parallel import map_in_workers
from kpictl.registry import loader, reading
from tests.conftest import AS_OF, EXAMPLE, Run
from tests.test_emails import ACTUALS

pytestmark = pytest.mark.skipif(not parallel.can_fork(), reason="workers are forked")

PARENT = os.getpid()
FORK_FAILED = "BlockingIOError: [Errno 11] Resource temporarily unavailable"


@pytest.fixture(autouse=True)
def no_hang() -> Iterator[None]:
    """A pool that hangs fails its test instead of the whole suite."""

    def give_up(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError("the pool did not finish in 60 s")

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(60)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def fork_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every fork fails, as when the process limit is reached."""

    def fail() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", fail)


def with_pid(item: int) -> tuple[int, int]:
    return item, os.getpid()


def test_workers_run_the_items_from_the_threshold_on() -> None:
    results = map_in_workers(with_pid, range(40), workers=2, min_items=40)
    assert [item for item, _ in results] == list(range(40))
    pids = {pid for _, pid in results}
    assert pids and PARENT not in pids  # one worker may take every chunk


def test_below_the_threshold_the_items_run_here() -> None:
    assert map_in_workers(with_pid, range(39), workers=2, min_items=40) == [
        (item, PARENT) for item in range(39)
    ]


def test_one_worker_means_no_pool() -> None:
    assert map_in_workers(with_pid, range(40), workers=1, min_items=2) == [
        (item, PARENT) for item in range(40)
    ]


def test_a_closure_runs_in_the_workers_too() -> None:
    offset = 100  # a closure cannot be pickled: the forked workers inherit it

    def shifted(item: int) -> tuple[int, int]:
        return item + offset, os.getpid()

    results = map_in_workers(shifted, range(40), workers=2, min_items=2)
    assert [item for item, _ in results] == list(range(100, 140))
    assert PARENT not in {pid for _, pid in results}


def fails_on_7(item: int) -> int:
    if item == 7:
        raise ValueError(f"item 7 failed in {os.getpid()}")
    return item


def test_an_error_in_fn_is_raised_not_retried_here(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="kpictl")
    with pytest.raises(ValueError, match=r"^item 7 failed in (\d+)$") as raised:
        map_in_workers(fails_on_7, range(40), workers=2, min_items=2)
    assert str(raised.value) != f"item 7 failed in {PARENT}"  # raised by a worker
    assert caplog.records == []  # a bug in fn is no reason to fall back


@pytest.mark.usefixtures("fork_fails")
def test_a_pool_that_cannot_start_falls_back_and_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="kpictl")
    results = map_in_workers(with_pid, range(40), workers=2, min_items=2)
    assert results == [(item, PARENT) for item in range(40)]
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "kpictl.parallel",
            "DEBUG",
            "with_pid: 40 of 40 items ran in this process instead of in 2 workers: " + FORK_FAILED,
        )
    ]


def dies_in_a_worker(item: int) -> tuple[int, int]:
    if item == 0 and os.getpid() != PARENT:
        os._exit(3)  # a worker killed (out of memory, a signal) while it works
    return item, os.getpid()


def test_a_worker_that_dies_leaves_its_items_to_this_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="kpictl")
    results = map_in_workers(dies_in_a_worker, range(40), workers=2, min_items=2)
    assert [item for item, _ in results] == list(range(40))
    assert results[0] == (0, PARENT)
    [record] = caplog.records
    found = re.fullmatch(
        r"dies_in_a_worker: (\d+) of 40 items ran in this process instead of in 2 workers: "
        r"BrokenProcessPool: A process in the process pool was terminated abruptly .*",
        record.getMessage(),
    )
    assert found is not None, record.getMessage()
    here = int(found.group(1))
    assert here == sum(pid == PARENT for _, pid in results)


@pytest.mark.usefixtures("fork_fails")
def test_check_reports_the_fall_back_under_debug_only(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ("check", str(EXAMPLE), "--as-of", AS_OF)
    monkeypatch.setattr(reading, "PARALLEL_MIN_FILES", 2)
    monkeypatch.setattr(parallel, "usable_cpus", lambda: 2)
    quiet = run(*args)
    assert (quiet.code, quiet.err) == (0, "")
    debug = run("--debug", *args)
    assert (debug.code, debug.out) == (quiet.code, quiet.out)
    found = re.fullmatch(
        r"kpictl: debug: read_files\.<locals>\.read_item: (\d+) of (\d+) items ran in this "
        r"process instead of "
        rf"in 2 workers: {re.escape(FORK_FAILED)}\n",
        debug.err,
    )
    assert found is not None, debug.err
    assert found.group(1) == found.group(2)


def test_check_on_a_large_registry_parses_in_workers(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    read_file = reading.read_file

    def spy(path: Path, display: Path, root: Path | None = None) -> loader.SourceFile:
        (tmp_path / str(os.getpid())).touch()  # which processes parsed files
        return read_file(path, display, root)

    monkeypatch.setattr(reading, "read_file", spy)
    monkeypatch.setattr(reading, "PARALLEL_MIN_FILES", 2)
    monkeypatch.setattr(parallel, "usable_cpus", lambda: 2)
    result = run("--debug", "check", str(EXAMPLE), "--as-of", AS_OF)
    assert (result.code, result.err) == (0, "")
    parsed_in = {int(path.name) for path in tmp_path.iterdir()}
    assert parsed_in and PARENT not in parsed_in


@pytest.mark.usefixtures("fork_fails")
def test_escalate_reports_the_fall_back_and_writes_the_same_emails(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def args(out: str) -> tuple[str, ...]:
        return ("escalate", str(EXAMPLE), "-a", ACTUALS, "--as-of", AS_OF, "--out", out)

    quiet = run(*args(str(tmp_path / "serial")))
    monkeypatch.setattr(workers, "PARALLEL_MIN", 1)
    monkeypatch.setattr(parallel, "usable_cpus", lambda: 2)
    debug = run("--debug", *args(str(tmp_path / "fallback")))
    assert (debug.code, debug.out.replace("fallback", "serial")) == (quiet.code, quiet.out)
    found = re.fullmatch(
        r"kpictl: debug: _build_one: (\d+) of (\d+) items ran in this process instead of "
        rf"in 2 workers: {re.escape(FORK_FAILED)}\n",
        debug.err.replace(quiet.err, "", 1),
    )
    assert found is not None, debug.err
    assert found.group(1) == found.group(2)
    assert _files(tmp_path / "fallback") == _files(tmp_path / "serial")


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}

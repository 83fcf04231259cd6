"""The one way kpictl spreads work over processes (`map_in_workers`) or threads
(`map_in_threads`).

Parsing a large registry, formatting hundreds of files and building thousands of
emails are pure Python, so they scale with processes, not threads. The workers are
forked: they inherit the loaded modules, the registry and `fn` itself (a closure is
fine), so only chunk bounds go to them and results come back pickled, in order.

Below `min_items`, with one worker, or without a safe `fork`, the work runs in this
process. If the pool cannot start (no processes or semaphores left, a sandbox that
forbids them) or a worker dies, the items it did not deliver run here instead and
`--debug` says why. An exception raised by `fn` is never a reason to fall back: it
reaches the caller as it would without workers.

Database queries (`kpictl pull`) wait on a server or run inside a database engine
that releases the GIL, and each needs its own open connection: those run in
threads (`map_in_threads`), which share the connections a pool hands out.

Only the standard library's `os` and `sys` are imported at the top: the pool's
modules load when a pool is used, so small runs start as fast as before.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import Future

T = TypeVar("T")
R = TypeVar("R")

# Chunks per worker: enough to even out slow and fast chunks, few enough to keep the
# per-chunk overhead (one pickle round trip) negligible.
CHUNKS_PER_WORKER = 8

# What the forked workers run: set just before the pool forks them, cleared after.
_JOB: tuple[Callable[[Any], Any], Sequence[Any]] | None = None


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS, Windows
        return os.cpu_count() or 1


def can_fork() -> bool:
    """Whether workers can be forked here.

    Not on macOS, where system libraries are not fork-safe (the reason CPython starts
    processes there with spawn), nor on Windows, which has no fork.
    """
    import multiprocessing

    return sys.platform != "darwin" and "fork" in multiprocessing.get_all_start_methods()


def map_in_workers(
    fn: Callable[[T], R], items: Sequence[T], workers: int, min_items: int
) -> list[R]:
    """`[fn(item) for item in items]`, in up to `workers` processes from `min_items` items."""
    if workers <= 1 or len(items) < max(min_items, 2):
        return [fn(item) for item in items]
    if not can_fork():
        _report(fn, len(items), len(items), workers, "this platform cannot fork workers")
        return [fn(item) for item in items]
    return _in_pool(fn, items, workers)


def map_in_threads(
    fn: Callable[[T], R],
    items: Sequence[T],
    workers: int,
    on_done: Callable[[], None] | None = None,
) -> list[R]:
    """`[fn(item) for item in items]` in up to `workers` threads, results in order.

    For work that waits (a query on a server, a database engine that releases the GIL).
    `on_done` is called after each item, from the thread that ran it (a progress bar).
    An exception raised by `fn` reaches the caller once the running items have finished.
    """

    def one(item: T) -> R:
        result = fn(item)
        if on_done is not None:
            on_done()
        return result

    if workers <= 1 or len(items) < 2:
        return [one(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(one, items))


def _in_pool(fn: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
    import contextlib
    import gc
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    global _JOB
    size = -(-len(items) // (workers * CHUNKS_PER_WORKER))
    bounds = [(start, min(start + size, len(items))) for start in range(0, len(items), size)]
    futures: list[Future[list[R]]] = []
    failure: BaseException | None = None
    here = 0
    results: list[R] = []
    pool = None
    _JOB = (fn, items)
    # Objects that exist before the fork stay out of the workers' garbage collections,
    # so collecting does not touch (and copy) every page of the inherited data.
    gc.freeze()
    try:
        # Unflushed output would be written again by every worker as it exits.
        with contextlib.suppress(AttributeError, OSError):  # closed: nothing to repeat
            sys.stdout.flush()
            sys.stderr.flush()
        try:
            context = multiprocessing.get_context("fork")
            pool = ProcessPoolExecutor(max_workers=min(workers, len(bounds)), mp_context=context)
            for bound in bounds:  # the first submit forks the workers
                futures.append(pool.submit(_run_chunk, bound))
        except (OSError, NotImplementedError, BrokenProcessPool) as exc:
            failure = exc  # the chunks submitted so far may still come back
        for index, (start, end) in enumerate(bounds):
            chunk: list[R] | None = None
            if index < len(futures):
                try:
                    chunk = futures[index].result()
                except BrokenProcessPool as exc:  # a worker died (killed, out of memory)
                    failure = failure or exc
            if chunk is None:
                chunk = [fn(item) for item in items[start:end]]
                here += end - start
            results.extend(chunk)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        _JOB = None
        gc.unfreeze()
    if failure is not None:
        reason = f"{type(failure).__name__}: {failure}"
        _report(fn, here, len(items), workers, reason)
    return results


def _run_chunk(bounds: tuple[int, int]) -> list[Any]:
    """In a worker: fn over items[start:end]."""
    assert _JOB is not None
    fn, items = _JOB
    return [fn(item) for item in items[bounds[0] : bounds[1]]]


def _report(fn: Callable[..., Any], here: int, total: int, workers: int, reason: str) -> None:
    """A debug line (shown under --debug) saying which work ran here instead, and why."""
    import logging

    name = getattr(fn, "__qualname__", None) or getattr(getattr(fn, "func", fn), "__qualname__", "")
    logging.getLogger("kpictl.parallel").debug(
        "%s: %d of %d items ran in this process instead of in %d workers: %s",
        name or repr(fn),
        here,
        total,
        workers,
        reason,
    )

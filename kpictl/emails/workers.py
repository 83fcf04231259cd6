"""Building thousands of emails in two worker processes.

Rendering and composing an escalation takes a few milliseconds, all of it Python, so
with every KPI of a large registry breaching one process spends most of the run on it.
On POSIX the work is split between forked workers: they inherit the loaded registry,
the template environment and the mailer, build their share of the emails (message bytes
included) and send them back in order. The emails, their order, the warnings and every
byte written are the same as when one process builds them all, which it still does for
small runs, where there is no `fork`, on a single CPU, or if a worker fails (the serial
run then reports the error exactly as it would have anyway).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from kpictl.emails.build import Email, Envelope, Mailer

T = TypeVar("T")

# Below this many emails, starting workers costs more than it saves.
PARALLEL_MIN = 200
WORKERS = 2
# Chunks per worker: enough to even out slow and fast chunks, few enough to keep the
# per-chunk overhead (one pickle round trip) negligible.
CHUNKS_PER_WORKER = 8

# (kind, key, subject, text, html, to ids, cc ids, envelope, facts, message bytes)
Packed = tuple[str, str, str, str, str, list[str], list[str], "Envelope", dict[str, str], bytes]
# Per item: the packed email (None when skipped) and the warnings building it gave.
Chunk = list[tuple[Packed | None, list[str]]]

# What the forked workers run: set just before the pool forks them, cleared after.
_JOB: tuple[Mailer, Sequence[Any], Callable[[Any], Email | None]] | None = None


def worker_count() -> int:
    """How many workers to use: 2, or 1 (no workers) without fork or a second CPU."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(WORKERS, cpus))


def build_all(
    mailer: Mailer, items: Sequence[T], build: Callable[[T], Email | None]
) -> list[Email]:
    """`build` applied to every item, in order, leaving out the Nones."""
    jobs = worker_count()
    if len(items) >= PARALLEL_MIN and jobs > 1:
        built = _parallel(mailer, items, build, jobs)
        if built is not None:
            return built
    return [email for email in map(build, items) if email is not None]


def _parallel(
    mailer: Mailer, items: Sequence[T], build: Callable[[T], Email | None], jobs: int
) -> list[Email] | None:
    """The emails built by `jobs` forked workers; None if that was not possible."""
    global _JOB
    size = max(1, -(-len(items) // (jobs * CHUNKS_PER_WORKER)))
    bounds = [(start, min(start + size, len(items))) for start in range(0, len(items), size)]
    _JOB = (mailer, items, build)
    # Objects that exist before the fork stay out of the workers' garbage collections,
    # so collecting does not touch (and copy) every page of the inherited registry.
    gc.freeze()
    try:
        # Unflushed output would be written again by every worker as it exits.
        sys.stdout.flush()
        sys.stderr.flush()
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            chunks = list(pool.map(_run_chunk, bounds))
    except Exception:  # no processes, a worker died: build them here instead
        return None
    finally:
        _JOB = None
        gc.unfreeze()
    if any(chunk is None for chunk in chunks):
        return None  # a build raised; the serial run raises it again, in this process
    emails: list[Email] = []
    for chunk in chunks:
        assert chunk is not None
        for packed, warnings in chunk:
            mailer.warnings.extend(warnings)
            if packed is not None:
                emails.append(_unpack(mailer, packed))
    return emails


def _run_chunk(bounds: tuple[int, int]) -> Chunk | None:
    """In a worker: build items[start:end]; None if any of them raised."""
    assert _JOB is not None
    mailer, items, build = _JOB
    out: Chunk = []
    try:
        for item in items[bounds[0] : bounds[1]]:
            start = len(mailer.warnings)
            email = build(item)
            warnings = mailer.warnings[start:]
            del mailer.warnings[start:]
            out.append((None if email is None else _pack(email), warnings))
    except Exception:
        return None
    return out


def _pack(email: Email) -> Packed:
    """An email as plain data: people by id (the parent has the same registry)."""
    return (
        email.kind,
        email.key,
        email.subject,
        email.text,
        email.html,
        [person.id for person in email.to],
        [person.id for person in email.cc],
        email.envelope,
        email.facts,
        email.as_bytes(),
    )


def _unpack(mailer: Mailer, packed: Packed) -> Email:
    from kpictl.emails.build import Email

    kind, key, subject, text, html, to, cc, envelope, facts, data = packed

    def people(ids: list[str]) -> list[Any]:
        found = [mailer.registry.person(person_id) for person_id in ids]
        assert all(person is not None for person in found)
        return found

    return Email(kind, key, subject, text, html, people(to), people(cc), envelope, facts, data=data)

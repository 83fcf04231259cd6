"""Building thousands of emails in worker processes.

Rendering and composing an escalation takes a few milliseconds, all of it Python, so
with every KPI of a large registry breaching one process spends most of the run on it.
`kpictl.parallel` splits the work between forked workers: they inherit the loaded
registry, the template environment and the mailer, build their share of the emails
(message bytes included) and send them back in order. The emails, their order, the
warnings and every byte written are the same as when one process builds them all,
which it still does for small runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from kpictl.parallel import can_fork, map_in_workers, usable_cpus

if TYPE_CHECKING:
    from kpictl.emails.build import Email, Envelope, Mailer

T = TypeVar("T")

# Below this many emails, starting workers costs more than it saves.
PARALLEL_MIN = 200
WORKERS = 2

# (kind, key, subject, text, html, to ids, cc ids, envelope, facts, message bytes)
Packed = tuple[str, str, str, str, str, list[str], list[str], "Envelope", dict[str, str], bytes]


def worker_count() -> int:
    """How many workers to use: 2, or 1 (no workers) without fork or a second CPU."""
    return min(WORKERS, usable_cpus()) if can_fork() else 1


def build_all(
    mailer: Mailer, items: Sequence[T], build: Callable[[T], Email | None]
) -> list[Email]:
    """`build` applied to every item, in order, leaving out the Nones."""
    start = len(mailer.warnings)
    one = partial(_build_one, mailer, build, os.getpid())
    built = map_in_workers(one, items, worker_count(), PARALLEL_MIN)
    # Warnings made here are in mailer.warnings already, a worker's only in its results:
    # rebuilt from the results, they are in item order either way.
    del mailer.warnings[start:]
    emails: list[Email] = []
    for email, warnings in built:
        mailer.warnings.extend(warnings)
        if isinstance(email, tuple):
            emails.append(_unpack(mailer, email))
        elif email is not None:
            emails.append(email)
    return emails


def _build_one(
    mailer: Mailer, build: Callable[[T], Email | None], parent: int, item: T
) -> tuple[Email | Packed | None, list[str]]:
    """One email and the warnings building it gave; packed when built in a worker."""
    start = len(mailer.warnings)
    email = build(item)
    warnings = mailer.warnings[start:]
    if email is None or os.getpid() == parent:
        return email, warnings
    return _pack(email), warnings


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

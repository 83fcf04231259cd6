"""Data lineage: what a KPI's numbers are built from. The one walk of `upstream`.

Shapes of one answer: `walk` lists each source once, breadth first (the emails'
"where the number comes from"); `chain` lists every id depth first, in the order
kpictl.views.trees.Trees draws each KPI's lineage as a tree (the accountability map,
kept with the views so that `kpictl check` does not build its classes); `cycles`
finds the loops (rule L001). Every one stops where a cycle closes, walks without
recursion and visits each source a bounded number of times: a registry under review
is untrusted, a ladder of n diamonds has 2^n paths and a chain may be thousands of
sources long.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from kpictl.registry.models import DataSource
from kpictl.registry.registry import Registry


@dataclass(frozen=True, slots=True)
class Step:
    """One source on a walk: how far from the KPI, and which source it feeds."""

    source: DataSource
    depth: int  # 0: the KPI reads it directly
    feeds: DataSource | None  # the source it was reached from; None at depth 0


def walk(registry: Registry, roots: Iterable[str]) -> list[Step]:
    """Every data source `roots` are built from, each once, breadth first.

    The roots come first, then what they are derived from, level by level. An id that
    names no data source is skipped (`kpictl check` reports it as R001).
    """
    steps: list[Step] = []
    seen: set[str] = set()
    queue: deque[tuple[str, DataSource | None, int]] = deque((sid, None, 0) for sid in roots)
    while queue:
        source_id, feeds, depth = queue.popleft()
        source = registry.get(source_id)
        if source_id in seen or not isinstance(source, DataSource):
            continue
        seen.add(source_id)
        steps.append(Step(source, depth, feeds))
        queue.extend((up, source, depth + 1) for up in source.upstream)
    return steps


def chain(registry: Registry, roots: Iterable[str]) -> list[str]:
    """Every id `roots` are built from, each once, depth first in `upstream` order.

    Unlike `walk`, an id that names no data source is listed (the map marks it
    missing), and the order is the one the map's trees read from top to bottom.
    """
    found: list[str] = []
    seen: set[str] = set()
    todo = list(reversed(tuple(roots)))
    while todo:
        source_id = todo.pop()
        if source_id in seen:
            continue
        seen.add(source_id)
        found.append(source_id)
        source = registry.get(source_id)
        if isinstance(source, DataSource):
            todo.extend(reversed(source.upstream))
    return found


@dataclass(frozen=True, slots=True)
class Cycle:
    """Sources that feed themselves through `upstream`: rule L001's finding."""

    ids: tuple[str, ...]  # from the smallest id, in `upstream` order
    index: int  # where the first source's `upstream` names the second


def cycles(registry: Registry) -> list[Cycle]:
    """The cycles a depth-first walk of `upstream` meets, each set of sources once.

    Each source is entered once (a source whose inputs are all walked is not walked
    again), so the walk is linear in sources and links. Every group of sources that
    loops has at least one of its cycles reported; fixing it shows the next, where
    listing every cycle could take 2^n findings.
    """
    sources = {source.id: source for source in registry.of_kind(DataSource)}
    done: set[str] = set()
    found: list[Cycle] = []
    reported: set[frozenset[str]] = set()
    for start in sorted(sources):
        if start in done:
            continue
        stack = [iter(sources[start].upstream)]
        on_path = [start]
        where = {start: 0}  # position on the path, for the cycle a back link closes
        while stack:
            child = next(stack[-1], None)
            if child is None:
                stack.pop()
                finished = on_path.pop()
                del where[finished]
                done.add(finished)
                continue
            if child not in sources or child in done:
                continue
            if child in where:
                cycle = on_path[where[child] :]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    found.append(_ordered(sources, cycle))
                continue
            stack.append(iter(sources[child].upstream))
            where[child] = len(on_path)
            on_path.append(child)
    return found


def _ordered(sources: dict[str, DataSource], cycle: list[str]) -> Cycle:
    """The cycle from its smallest id, so the same loop always reads the same."""
    i = cycle.index(min(cycle))
    ids = (*cycle[i:], *cycle[:i])
    nxt = ids[1] if len(ids) > 1 else ids[0]
    return Cycle(ids, sources[ids[0]].upstream.index(nxt))

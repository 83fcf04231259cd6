"""Data lineage: what a KPI's numbers are built from. The one walk of `upstream`.

Shapes of one answer: `walk` lists each source once, breadth first (the emails'
"where the number comes from"); `chain` lists every id depth first, in the order
kpictl.views.lineage_trees.Trees draws each KPI's lineage as a tree (the accountability
map, kept with the views so that `kpictl check` does not build its classes); `cycles`
finds the loops (rule L001). The walks themselves (`breadth_first`, `depth_first`,
`graph_cycles`) take any graph of ids, so the KPI tree (`drives`) is walked by the same
code: its downstream KPIs, its cycles (K001). Every one stops where a cycle closes,
walks without recursion and visits each node a bounded number of times: a registry
under review is untrusted, a ladder of n diamonds has 2^n paths and a chain may be
thousands of sources long.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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

    def source(source_id: str) -> DataSource | None:
        entity = registry.get(source_id)
        return entity if isinstance(entity, DataSource) else None

    def upstream(source_id: str) -> Sequence[str] | None:
        found = source(source_id)
        return found.upstream if found is not None else None

    steps = []
    for reached in breadth_first(upstream, roots):
        found = source(reached.id)
        assert found is not None  # breadth_first reaches only ids `upstream` knows
        feeds = source(reached.via) if reached.via is not None else None
        steps.append(Step(found, reached.depth, feeds))
    return steps


@dataclass(frozen=True, slots=True)
class Reached:
    """One id on a breadth-first walk: how many links from the roots, and from which id."""

    id: str
    depth: int  # 0: a root
    via: str | None  # the id it was reached from; None for a root


def breadth_first(
    links: Callable[[str], Sequence[str] | None],
    roots: Iterable[str],
    max_depth: int | None = None,
) -> list[Reached]:
    """Every id reachable from `roots` through `links`, each once, level by level.

    `links(id)` is what an id points at, or None for an id outside the graph (it is
    skipped). Each id and link is visited once, so the walk is linear however tangled
    the graph; `max_depth` stops it that many links from the roots.
    """
    found: list[Reached] = []
    seen: set[str] = set()
    queue: deque[Reached] = deque(Reached(root, 0, None) for root in roots)
    while queue:
        item = queue.popleft()
        if item.id in seen:
            continue
        out = links(item.id)
        if out is None:
            continue
        seen.add(item.id)
        found.append(item)
        if max_depth is None or item.depth < max_depth:
            queue.extend(Reached(nxt, item.depth + 1, item.id) for nxt in out)
    return found


@dataclass(frozen=True, slots=True)
class Visit:
    """One line of a depth-first drawing: an id, how deep, and why it is not expanded."""

    id: str
    depth: int  # 0: a root
    repeat: bool = False  # expanded earlier in the drawing: a reference
    cycle: bool = False  # already on this branch: the branch stops
    more: bool = False  # at `max_depth`, with links left undrawn


def depth_first(
    links: Callable[[str], Sequence[str] | None], roots: Iterable[str], max_depth: int
) -> list[Visit]:
    """A drawing of what `roots` lead to through `links`, each id's branch expanded once.

    Depth first, in link order; an id met again is a reference (`repeat`), an id on
    its own branch a `cycle`, and a branch is cut `max_depth` links down. A root
    already drawn under an earlier one is skipped, so `roots` may list every id that
    should appear (loops that no root reaches included). Iterative and linear in ids
    and links, however deep or tangled the graph.
    """
    visits: list[Visit] = []
    listed: set[str] = set()
    expanded: set[str] = set()
    path: set[str] = set()
    stack: list[tuple[str, Iterator[str], int]] = []

    def visit(item: str, depth: int) -> None:
        listed.add(item)
        out = links(item) or ()
        if item in path:
            visits.append(Visit(item, depth, cycle=True))
        elif out and item in expanded:
            visits.append(Visit(item, depth, repeat=True))
        elif out and depth >= max_depth:
            visits.append(Visit(item, depth, more=True))
        else:
            visits.append(Visit(item, depth))
            if out:
                expanded.add(item)
                path.add(item)
                stack.append((item, iter(out), depth))

    for root in roots:
        if root in listed:
            continue
        visit(root, 0)
        while stack:
            item, rest, depth = stack[-1]
            nxt = next(rest, None)
            if nxt is None:
                stack.pop()
                path.discard(item)
            else:
                visit(nxt, depth + 1)
    return visits


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
    """Ids that reach themselves through their links: rules L001 and K001's finding."""

    ids: tuple[str, ...]  # from the smallest id, in link order
    index: int  # where the first id's links name the second
    closing: int  # where the last id's links name the first: the link that closes it


def cycles(registry: Registry) -> list[Cycle]:
    """The cycles of data sources through `upstream` (rule L001)."""
    return graph_cycles({source.id: source.upstream for source in registry.of_kind(DataSource)})


def graph_cycles(links: Mapping[str, Sequence[str]]) -> list[Cycle]:
    """The cycles a depth-first walk of `links` meets, each set of ids once.

    `links` maps an id to the ids it points at: a source to its `upstream`, a KPI to
    the KPIs it `drives`; a link to an id that is not a key is ignored. Each id is
    entered once (an id whose links are all walked is not walked again), so the walk
    is linear in ids and links. Every group of ids that loops has at least one of its
    cycles reported; fixing it shows the next, where listing every cycle could take
    2^n findings.
    """
    done: set[str] = set()
    found: list[Cycle] = []
    reported: set[frozenset[str]] = set()
    for start in sorted(links):
        if start in done:
            continue
        stack = [iter(links[start])]
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
            if child not in links or child in done:
                continue
            if child in where:
                cycle = on_path[where[child] :]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    found.append(_ordered(links, cycle))
                continue
            stack.append(iter(links[child]))
            where[child] = len(on_path)
            on_path.append(child)
    return found


def _ordered(links: Mapping[str, Sequence[str]], cycle: list[str]) -> Cycle:
    """The cycle from its smallest id, so the same loop always reads the same."""
    i = cycle.index(min(cycle))
    ids = (*cycle[i:], *cycle[:i])
    nxt = ids[1] if len(ids) > 1 else ids[0]
    return Cycle(ids, list(links[ids[0]]).index(nxt), list(links[ids[-1]]).index(ids[0]))

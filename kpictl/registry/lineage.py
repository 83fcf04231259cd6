"""Data lineage: what a KPI's numbers are built from. The one walk of `upstream`.

Three shapes of one answer: `walk` lists each source once, breadth first (the emails'
"where the number comes from"); `Trees` draws each KPI's lineage as a tree, each
chain once (the accountability map); `cycles` finds the loops (rule L001). The walks
themselves (`breadth_first`, `graph_cycles`) take any graph of ids, so the KPI tree
(`drives`) is walked by the same code: its downstream KPIs, its cycles (K001). Every
one stops where a cycle closes, walks without recursion and visits each source a
bounded number of times: a registry under review is untrusted, a ladder of n
diamonds has 2^n paths and a chain may be thousands of sources long.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

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


# How many levels of a KPI's lineage the map draws. Real lineages are a handful of
# levels deep; a registry under review may chain a thousand sources, and every level
# indents the next line, so a drawing of them would grow with the square of the depth.
MAX_LEVELS = 50


@dataclass(frozen=True, slots=True)
class Node:
    """A source id and the chains it is derived from, in the order `upstream` lists them."""

    id: str
    source: DataSource | None  # None: the id names no data source
    upstream: tuple[Node, ...] = ()
    cycle: bool = False  # the source is already on this path: the chain stops here
    shown: bool = False  # its chain is drawn earlier in this lineage: referenced, not repeated
    more: int = 0  # sources left out below this one, at the MAX_LEVELS'th level


@dataclass(slots=True)
class _Row:
    """A node while its lineage is being walked: children by index, counts filled later."""

    id: str
    source: DataSource | None
    children: list[int] = field(default_factory=list)
    cycle: bool = False
    shown: bool = False
    cut: bool = False
    more: int = 0


@dataclass(slots=True)
class _Drawn:
    """What one lineage has drawn so far: the sources whose chains are drawn, and every
    source that has a line (or was counted in a "more" line)."""

    expanded: set[str] = field(default_factory=set)
    listed: set[str] = field(default_factory=set)


class Trees:
    """The lineages of the KPIs, each source's chain drawn once per KPI.

    A ladder of n diamonds has 2^n paths and a chain may be a thousand sources long:
    within one KPI's lineage a source whose chain is already drawn is a reference
    (`shown`), and at MAX_LEVELS levels the rest is a count (`more`). The walk is
    iterative and visits each link of a KPI's lineage at most once.
    """

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        # A root's tree drawn on its own, with what it drew: KPIs that read the same
        # source share it unless an earlier root of theirs drew part of it.
        self._alone: dict[str, tuple[Node, frozenset[str], frozenset[str]]] = {}

    def lineage(self, roots: Iterable[str]) -> tuple[Node, ...]:
        """One tree per root (each id once), sharing what is drawn between them."""
        drawn = _Drawn()
        trees: list[Node] = []
        for root in dict.fromkeys(roots):
            alone = self._alone.get(root)
            if alone is None:
                own = _Drawn()
                alone = (self._build(root, own), frozenset(own.expanded), frozenset(own.listed))
                self._alone[root] = alone
            node, expanded, listed = alone
            if listed.isdisjoint(drawn.listed):
                # Nothing it draws is drawn yet, so in this lineage it reads the same.
                drawn.expanded |= expanded
                drawn.listed |= listed
            else:
                node = self._build(root, drawn)
            trees.append(node)
        return tuple(trees)

    def _source(self, source_id: str) -> DataSource | None:
        entity = self.registry.get(source_id)
        return entity if isinstance(entity, DataSource) else None

    def _build(self, root: str, drawn: _Drawn) -> Node:
        rows: list[_Row] = []
        path: set[str] = set()
        stack: list[tuple[int, Iterator[str], int]] = []  # row, its inputs left, level

        def visit(source_id: str, level: int) -> int:
            row = _Row(source_id, self._source(source_id))
            rows.append(row)
            drawn.listed.add(source_id)
            upstream = dict.fromkeys(row.source.upstream if row.source else ())
            if source_id in path:
                row.cycle = True
            elif not upstream:
                pass  # a capturing system is one line: repeating it costs nothing
            elif source_id in drawn.expanded:
                row.shown = True
            elif level >= MAX_LEVELS:
                row.cut = True
            else:
                drawn.expanded.add(source_id)
                path.add(source_id)
                stack.append((len(rows) - 1, iter(upstream), level))
            return len(rows) - 1

        visit(root, 1)
        while stack:
            index, inputs, level = stack[-1]
            upstream = next(inputs, None)
            if upstream is None:
                stack.pop()
                path.discard(rows[index].id)
                continue
            rows[index].children.append(visit(upstream, level + 1))
        for row in rows:
            if row.cut:
                row.more = self._count_more(row, drawn)
        nodes: list[Node | None] = [None] * len(rows)
        for index in range(len(rows) - 1, -1, -1):  # children come after their parent
            row = rows[index]
            children = tuple(nodes[i] for i in row.children)
            nodes[index] = Node(
                row.id,
                row.source,
                tuple(child for child in children if child is not None),
                cycle=row.cycle,
                shown=row.shown,
                more=row.more,
            )
        top = nodes[0]
        assert top is not None
        return top

    def _count_more(self, row: _Row, drawn: _Drawn) -> int:
        """Sources below a cut that the lineage draws nowhere, each counted at one cut."""
        count = 0
        todo = [row.source.upstream if row.source else []]
        while todo:
            for source_id in todo.pop():
                if source_id not in drawn.listed:
                    drawn.listed.add(source_id)
                    count += 1
                    source = self._source(source_id)
                    if source is not None:
                        todo.append(source.upstream)
        return count


@dataclass(frozen=True, slots=True)
class Cycle:
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

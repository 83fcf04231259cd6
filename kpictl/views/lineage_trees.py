"""The accountability map's lineage trees: each KPI's `upstream`, drawn as a tree.

The walk of kpictl.registry.lineage (`chain`, `walk`, `cycles`) in the shape the map
draws: each chain once, cycles and repeats marked, at most MAX_LEVELS deep. It lives
with the views that draw it, off `kpictl check`'s path (its classes cost start-up).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from kpictl.registry.models import DataSource
from kpictl.registry.registry import Registry

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

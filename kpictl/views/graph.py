"""The lineage and ownership graph of a map, and a layered layout for drawing it.

Columns run left to right: capturing systems, derived data (one column per
derivation step), KPIs, then the people who own the KPIs. Mermaid and DOT lay
the graph out themselves; the HTML page draws it as inline SVG from `layout()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from kpictl.views.accountability import AccountabilityMap
from kpictl.views.blocks import SourceView

NodeKind = Literal["capture", "derived", "kpi", "person"]
EdgeKind = Literal["feeds", "primary", "backup", "drives"]


@dataclass(slots=True)
class Node:
    key: str  # unique across kinds: "source:ID", "kpi:ID", "person:ID"
    id: str
    kind: NodeKind
    label: str
    detail: str  # second line: system and owner, stage, team
    column: int = 0
    # Layout, in SVG user units; set by layout().
    x: float = 0.0
    y: float = 0.0
    known: bool = True

    @property
    def slug(self) -> str:
        """The registry id as an HTML/SVG id fragment: kind prefix plus id."""
        return self.key.replace(":", "-")


@dataclass(frozen=True, slots=True)
class Edge:
    source: str  # node key
    target: str
    kind: EdgeKind


@dataclass(slots=True)
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)  # kind of each column, left to right
    width: float = 0.0
    height: float = 0.0

    def column(self, index: int) -> list[Node]:
        nodes = [n for n in self.nodes.values() if n.column == index]
        return sorted(nodes, key=lambda n: n.y)

    def of_kind(self, *kinds: NodeKind) -> list[Node]:
        return [n for n in self.nodes.values() if n.kind in kinds]

    @property
    def column_heads(self) -> list[tuple[str, float]]:
        """(kind, x) of each column, for headings."""
        return [(kind, i * (NODE_WIDTH + COLUMN_GAP)) for i, kind in enumerate(self.columns)]


def build_graph(view: AccountabilityMap) -> Graph:
    """Sources reachable from the map's KPIs, the KPIs, and their owners."""
    graph = Graph()
    edges: dict[tuple[str, str], Edge] = {}

    def add_source(source: SourceView) -> str:
        key = f"source:{source.id}"
        if key not in graph.nodes:
            owner = source.owner.name if source.owner else ""
            detail = " · ".join(part for part in (source.system or "", owner) if part)
            kind: NodeKind = "capture" if source.captures or not source.known else "derived"
            graph.nodes[key] = Node(key, source.id, kind, source.name, detail, known=source.known)
        return key

    # Each source and each link once, from the KPIs' flat chains: walking the trees
    # would meet a shared chain once per path to it.
    drawn: set[str] = set()
    for kpi in view.kpis:
        kpi_key = f"kpi:{kpi.id}"
        graph.nodes[kpi_key] = Node(kpi_key, kpi.id, "kpi", kpi.name, kpi.stage)
        for source in kpi.chain:
            if source.id in drawn:
                continue
            drawn.add(source.id)
            key = add_source(source)
            for upstream in source.upstream:
                upstream_key = f"source:{upstream}"
                edges.setdefault((upstream_key, key), Edge(upstream_key, key, "feeds"))
        for root in kpi.lineage:
            source_key = add_source(root.source)
            edges.setdefault((source_key, kpi_key), Edge(source_key, kpi_key, "feeds"))
        for person, kind in ((kpi.primary, "primary"), (kpi.backup, "backup")):
            person_key = f"person:{person.id}"
            if person_key not in graph.nodes:
                team = person.team.name if person.team else ""
                graph.nodes[person_key] = Node(
                    person_key, person.id, "person", person.name, team, known=person.known
                )
            edge_kind: EdgeKind = "primary" if kind == "primary" else "backup"
            edges.setdefault((kpi_key, person_key), Edge(kpi_key, person_key, edge_kind))
    # The KPI tree, between the KPIs the map shows.
    for kpi in view.kpis:
        for link in kpi.drives:
            target = f"kpi:{link.id}"
            if target in graph.nodes and graph.nodes[target].kind == "kpi":
                edges.setdefault((f"kpi:{kpi.id}", target), Edge(f"kpi:{kpi.id}", target, "drives"))
    graph.edges = sorted(edges.values(), key=lambda e: (e.source, e.target))
    _assign_columns(graph)
    return graph


def _assign_columns(graph: Graph) -> None:
    upstream: dict[str, list[str]] = {}
    for edge in graph.edges:
        if edge.kind == "feeds" and edge.target.startswith("source:"):
            upstream.setdefault(edge.target, []).append(edge.source)
    depth: dict[str, int] = {}

    def depth_of(start: str) -> int:
        # A source's column: one more than its deepest input's. Iterative, as a chain
        # may be thousands of sources long; an input already on the path closes a
        # cycle (reported by `kpictl check`) and counts as column 0.
        path = {start}
        stack = [(start, iter(upstream.get(start, ())), -1)]
        while stack:
            key, parents, deepest = stack[-1]
            parent = next(parents, None)
            if parent is None:
                stack.pop()
                path.discard(key)
                depth[key] = deepest + 1
                if stack:
                    below, rest, most = stack[-1]
                    stack[-1] = (below, rest, max(most, depth[key]))
                continue
            if parent in depth or parent in path:
                found = depth.get(parent, 0)
                stack[-1] = (key, parents, max(deepest, found))
                continue
            path.add(parent)
            stack.append((parent, iter(upstream.get(parent, ())), -1))
        return depth[start]

    sources = graph.of_kind("capture", "derived")
    for node in sources:
        node.column = depth[node.key] if node.key in depth else depth_of(node.key)
        if node.column > 0:
            node.kind = "derived"
    last_source = max((n.column for n in sources), default=-1)
    for node in graph.of_kind("kpi"):
        node.column = last_source + 1
    for node in graph.of_kind("person"):
        node.column = last_source + 2
    graph.columns = (
        ["capture"] + ["derived"] * last_source + ["kpi", "person"]
        if last_source >= 0
        else ["kpi", "person"]
    )


# --------------------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------------------

NODE_WIDTH = 262.0
NODE_HEIGHT = 40.0
ROW_GAP = 10.0
COLUMN_GAP = 64.0
HEADER = 34.0  # room for the column headings


def layout(graph: Graph, sweeps: int = 4) -> Graph:
    """Place nodes in their columns, ordered to keep edges short (barycenter sweeps)."""
    columns: list[list[Node]] = [[] for _ in graph.columns]
    for node in sorted(graph.nodes.values(), key=lambda n: (n.label.casefold(), n.key)):
        columns[node.column].append(node)
    neighbours: dict[str, list[str]] = {key: [] for key in graph.nodes}
    for edge in graph.edges:
        if edge.kind == "drives":  # within the KPI column: not drawn, no pull on the order
            continue
        neighbours[edge.source].append(edge.target)
        neighbours[edge.target].append(edge.source)

    def place(column: list[Node]) -> None:
        for i, node in enumerate(column):
            node.y = (i + 0.5) / max(len(column), 1)  # relative position, 0..1

    for column in columns:
        place(column)
    # Alternate left-to-right and right-to-left passes; each node moves towards the
    # mean relative position of its neighbours in the other columns.
    for sweep in range(sweeps):
        order = range(len(columns)) if sweep % 2 == 0 else range(len(columns) - 1, -1, -1)
        for index in order:
            column = columns[index]
            keyed = []
            for position, node in enumerate(column):
                near = [graph.nodes[k].y for k in neighbours[node.key]]
                centre = sum(near) / len(near) if near else node.y
                keyed.append((centre, position, node))
            keyed.sort(key=lambda item: (item[0], item[1]))
            columns[index] = [node for _, _, node in keyed]
            place(columns[index])

    tallest = max((len(c) for c in columns), default=0)
    height = tallest * (NODE_HEIGHT + ROW_GAP) - ROW_GAP if tallest else 0.0
    for index, column in enumerate(columns):
        used = len(column) * (NODE_HEIGHT + ROW_GAP) - ROW_GAP
        top = HEADER + (height - used) / 2
        for row, node in enumerate(column):
            node.x = index * (NODE_WIDTH + COLUMN_GAP)
            node.y = top + row * (NODE_HEIGHT + ROW_GAP)
    graph.width = len(columns) * (NODE_WIDTH + COLUMN_GAP) - COLUMN_GAP if columns else 0.0
    graph.height = HEADER + height
    return graph


def edge_path(graph: Graph, edge: Edge) -> str:
    """An SVG path from the right side of one node to the left side of the other."""
    a, b = graph.nodes[edge.source], graph.nodes[edge.target]
    x1, y1 = a.x + NODE_WIDTH, a.y + NODE_HEIGHT / 2
    x2, y2 = b.x, b.y + NODE_HEIGHT / 2
    bend = max((x2 - x1) / 2, 24.0)
    return (
        f"M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f} {x2 - bend:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
    )


def shorten(text: str, limit: int) -> str:
    """`text` cut to `limit` characters with an ellipsis, for a fixed-width box."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True, slots=True)
class DrawnNode:
    node: Node
    label: str  # at most LABEL_CHARS; the page shortens it further to fit its box
    detail: str
    title: str  # the full text, shown on hover


@dataclass(frozen=True, slots=True)
class DrawnEdge:
    d: str  # SVG path data
    kind: EdgeKind
    source: str  # slugs
    target: str


@dataclass(frozen=True, slots=True)
class Drawing:
    nodes: tuple[DrawnNode, ...]
    edges: tuple[DrawnEdge, ...]
    heads: tuple[tuple[str, float], ...]  # column kind and x
    width: float
    height: float
    node_width: float = NODE_WIDTH
    node_height: float = NODE_HEIGHT


LABEL_CHARS = 34
DETAIL_CHARS = 42


def draw(view: AccountabilityMap) -> Drawing:
    """The map's graph, laid out and ready for an SVG template."""
    graph = layout(build_graph(view))
    # What a hover traces the page works out from the edges, so the page grows with
    # the graph rather than with the square of its depth.
    order = sorted(graph.nodes.values(), key=lambda n: (n.column, n.y))
    nodes = tuple(
        DrawnNode(
            node,
            shorten(node.label, LABEL_CHARS),
            shorten(node.detail, DETAIL_CHARS),
            f"{node.label} ({node.id})" + (f"\n{node.detail}" if node.detail else ""),
        )
        for node in order
    )
    edges = tuple(
        DrawnEdge(
            edge_path(graph, edge),
            edge.kind,
            graph.nodes[edge.source].slug,
            graph.nodes[edge.target].slug,
        )
        for edge in graph.edges
        # The picture reads left to right, sources to owners; links inside the KPI
        # column would cross it. The page shows the KPI tree as a list instead.
        if edge.kind != "drives"
    )
    return Drawing(nodes, edges, tuple(graph.column_heads), graph.width, graph.height)

"""Reading a YAML text for `kpictl fmt`: which line is what, and where the comments are.

A scan of the source lines, without a YAML parser, that says for each line whether it
is blank, a full-line comment, document marker or content, and where an end-of-line
comment starts. authoring/yamlfmt.py places the comments back from it."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

_BREAK = re.compile("\r\n|\r|\n|\x85|\u2028|\u2029")
_MARKER = re.compile(r"(---|\.\.\.)(?=[ \t]|\Z)")
# What may follow the last node that ends on a line: indicators, anchors, a block
# scalar header, and then perhaps a comment. Each piece starts with a character no
# other piece starts with and is matched possessively, so a line that does not fit
# is given up in one pass: with `[ \t]+` free to split a run of spaces every which
# way, a deeply indented line took seconds, twice as long with each extra space.
_REST = re.compile(r"(?:[ \t]++|[:?,\-\[\]{}]|(?>&\S+)|[|>][1-9+-]{0,2}+)*?(?P<comment>#.*)?\Z")
# Plain scalars that might be dates or times; the resolver decides (see _impossible_time).
_TIME_LIKE = re.compile(r"[0-9]{4}-[0-9]")
_BLOCK_HEADER = re.compile(r"[|>](?P<ind>[1-9+-]{0,2})")
_IN_FLOW = (
    "a comment inside a flow list or mapping ([...] or {...}) spanning several lines "
    "cannot be kept in place; move it above the key, or write the list in block style"
)
_UNSURE = "fmt cannot tell whether this '#' starts a comment; move the comment to its own line"
# --------------------------------------------------------------------------------------
# Reading the source text: which line is what, and where the comments are
# --------------------------------------------------------------------------------------

LineKind = Literal["content", "comment", "blank", "scalar", "marker"]


@dataclass
class Scan:
    lines: list[str]
    kinds: list[LineKind]
    eol: dict[int, tuple[int, str]] = field(default_factory=dict)  # line -> (column, text)
    block_headers: set[int] = field(default_factory=set)
    folded: dict[int, tuple[int, int]] = field(default_factory=dict)  # header -> content lines
    # Anchors, block scalar indentation indicators and header comments: things only
    # ruamel's own (slow, pure-Python) loader keeps, so such files take that road.
    needs_pure_loader: bool = False
    marker_comments: dict[int, str] = field(default_factory=dict)
    # (line, column, why) of what fmt cannot keep as written: a comment inside a flow
    # list, a date that does not exist.
    stuck: list[tuple[int, int, str]] = field(default_factory=list)

    def comments(self) -> Counter[str]:
        """Every comment's text, as a multiset."""
        found: Counter[str] = Counter()
        for index, kind in enumerate(self.kinds):
            if kind == "comment":
                found[self.lines[index].strip()] += 1
        for _, text in self.eol.values():
            found[text] += 1
        for text in self.marker_comments.values():
            found[text] += 1
        return found


def _impossible_time(text: str) -> str | None:
    """Why a plain scalar that YAML reads as a date or time is not a valid one, or None.

    ruamel's round-trip loader turns `2026-02-30` into a date, and raises for a day,
    month, hour or offset out of range; kpictl's loader keeps dates as text (the
    models say where one is wrong), so only fmt meets this, before loading.
    """
    from ruamel.yaml.constructor import RoundTripConstructor
    from ruamel.yaml.nodes import ScalarNode

    tag = _resolver().resolve(ScalarNode, text, (True, False))
    if tag != "tag:yaml.org,2002:timestamp":
        return None
    try:
        RoundTripConstructor(preserve_quotes=True).construct_object(ScalarNode(tag, text))
    except (ValueError, OverflowError) as exc:
        return (
            f"'{text}' is not a valid date or time ({exc}): correct it, "
            "or quote it if it is not meant as one"
        )
    return None


_RESOLVER: Any = None


def _resolver() -> Any:
    """The resolver fmt's loader uses (YAML 1.2), to tell which scalars are dates."""
    global _RESOLVER
    if _RESOLVER is None:
        from ruamel.yaml.resolver import VersionedResolver

        _RESOLVER = VersionedResolver(version=(1, 2))
    return _RESOLVER


def _split(text: str) -> list[str]:
    lines = _BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def scan_text(text: str) -> Scan:
    """Classify every line using libyaml's event marks (C parser: fast)."""
    from kpictl.compat import c_parser

    lines = _split(text)
    kinds: list[LineKind] = []
    for line in lines:
        stripped = line.strip()
        if not stripped:
            kinds.append("blank")
        elif stripped.startswith("#"):
            kinds.append("comment")
        elif _MARKER.match(line):
            kinds.append("marker")
        else:
            kinds.append("content")
    scan = Scan(lines, kinds)
    ends: dict[int, int] = {}
    spans: dict[int, list[tuple[int, int]]] = {}  # line -> (start, end) columns of scalars
    collections: list[tuple[bool, int]] = []  # (flow style, start line) of open collections
    flow_ranges: list[tuple[int, int]] = []

    def ended(line: int, column: int) -> None:
        if column > ends.get(line, -1):
            ends[line] = column

    parser = c_parser(text)
    try:
        while True:
            event = parser.get_event()
            name = type(event).__name__
            start, end = event.start_mark, event.end_mark
            if getattr(event, "anchor", None) is not None:
                scan.needs_pure_loader = True
            if name == "ScalarEvent":
                if not event.style and _TIME_LIKE.match(event.value):
                    problem = _impossible_time(event.value)
                    if problem is not None:
                        scan.stuck.append((start.line, start.column, problem))
                if start.line == end.line:
                    spans.setdefault(start.line, []).append((start.column, end.column))
                elif event.style not in ("|", ">"):
                    spans.setdefault(start.line, []).append((start.column, len(lines[start.line])))
                    spans.setdefault(end.line, []).append((0, end.column))
                if event.style in ("|", ">"):
                    scan.block_headers.add(start.line)
                    header = _BLOCK_HEADER.match(lines[start.line], start.column)
                    indicator = header["ind"] if header else ""
                    if any(char.isdigit() for char in indicator):
                        scan.needs_pure_loader = True
                    ended(
                        start.line, start.column + (header.end() - header.start() if header else 1)
                    )
                    last = end.line - 1 if end.column == 0 else end.line
                    if "+" not in indicator:
                        while last > start.line and not lines[last].strip():
                            last -= 1
                    for number in range(start.line + 1, last + 1):
                        kinds[number] = "scalar"
                    if event.style == ">":
                        scan.folded[start.line] = (start.line + 1, last)
                else:
                    for number in range(start.line + 1, end.line + 1):
                        kinds[number] = "scalar"
                    ended(end.line, end.column)
            elif name == "AliasEvent":
                scan.needs_pure_loader = True
                ended(end.line, end.column)
            elif name in ("SequenceStartEvent", "MappingStartEvent"):
                collections.append((bool(event.flow_style), start.line))
            elif name in ("SequenceEndEvent", "MappingEndEvent"):
                flow, first = collections.pop()
                if flow:
                    ended(end.line, end.column)
                    if end.line > first:
                        flow_ranges.append((first, end.line))
            elif name == "StreamEndEvent":
                break
    finally:
        parser.dispose()

    for number, kind in enumerate(kinds):
        line = lines[number]
        if kind == "marker":
            match = _REST.match(line, 3)
            if match and match["comment"]:
                scan.marker_comments[number] = match["comment"].rstrip()
            continue
        if kind != "content":
            continue
        start = ends.get(number, 0)
        match = _REST.match(line, start)
        if match is not None and match["comment"]:
            scan.eol[number] = (match.start("comment"), match["comment"].rstrip())
            if number in scan.block_headers:
                scan.needs_pure_loader = True
    # Every `#` outside a scalar must be a comment the scan found: otherwise fmt would
    # drop a comment without noticing, so it refuses the file instead.
    for number, kind in enumerate(kinds):
        if kind not in ("content", "marker") or "#" not in lines[number]:
            continue
        limit = scan.eol[number][0] if number in scan.eol else len(lines[number])
        for column, char in enumerate(lines[number][:limit]):
            if char == "#" and not any(a <= column < b for a, b in spans.get(number, ())):
                if kind == "marker" and number in scan.marker_comments:
                    break
                scan.stuck.append((number, column, _UNSURE))
                break
    for first, last in flow_ranges:
        for number in range(first, last):
            if kinds[number] == "comment" or (number in scan.eol):
                column = scan.eol[number][0] if number in scan.eol else indent_of(lines[number])
                scan.stuck.append((number, column, _IN_FLOW))
    return scan


def indent_of(line: str) -> int:
    return len(line) - len(line.lstrip())

"""`kpictl fmt`: registry YAML in one canonical form, with every comment kept.

This is the only module that loads YAML round-trip: ruamel's round-trip
constructor keeps quotes, block and flow styles, folded text and anchors, and
its emitter writes them back. (The events come from libyaml's C parser, three
times faster than ruamel's own scanner; files whose anchors or block scalar
header comments only ruamel's scanner keeps are read by it.)

Canonical form is: keys in the order of the registry format
(the order the models declare their fields, `labels` last; unknown keys after
the known ones, as written), 2-space indentation with list items indented
under their key (`  - `), one entity per document with `---` between documents
and none before the first, at most one blank line in a row, and no line width
(nothing is re-wrapped). Flow lists and mappings (`[a, b]`, `{kpi: x}`) stay
flow; block ones stay block.

ruamel attaches comments to nodes with heuristics that differ between a comment
after a scalar, after a flow list, or at the end of a nested block, so moving a
key would drag along comments that belong to its neighbour. fmt therefore
clears them and places each comment itself, from the source text: a run of
full-line comments and blank lines goes with the node below it, an end-of-line
comment with the node on its line, the lines above a document's first node
form its header and those below its last node its end. Two checks guard every
result before it is written: the data, read the way `kpictl check` reads it,
and the comments (as a multiset of texts) must be the same as before.
"""

from __future__ import annotations

import io
import re
import typing
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from kpictl.registry.config import ROOT_FILE, Settings
from kpictl.registry.loader import parse_text
from kpictl.registry.models import KINDS
from kpictl.registry.reading import parse_bytes

# From this many files on, formatting is spread over worker processes: ruamel's
# round-trip loader is pure Python and the files are independent.
PARALLEL_THRESHOLD = 200

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


class FormatError(Exception):
    """A file fmt will not rewrite; the message says why, at a 1-based line and column."""

    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.column = column
        self.message = message


# --------------------------------------------------------------------------------------
# Key order
# --------------------------------------------------------------------------------------

_Fields = dict[str, type[BaseModel] | None]
_FIELD_CACHE: dict[type[BaseModel], _Fields] = {}


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model class inside `list[X]`, `X | None`, `Annotated[...]`; None for dicts."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) is dict:
        return None
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def fields_of(model: type[BaseModel]) -> _Fields:
    """The keys of `model` in canonical order (`labels` last), each with its nested model."""
    cached = _FIELD_CACHE.get(model)
    if cached is not None:
        return cached
    out: _Fields = {}
    for name, info in model.model_fields.items():
        out[info.alias or name] = _model_in(info.annotation)
    if "labels" in out:
        out["labels"] = out.pop("labels")
    _FIELD_CACHE[model] = out
    return out


def _rank(fields: _Fields) -> dict[str, int]:
    ranks = {key: index for index, key in enumerate(fields)}
    if "labels" in ranks:
        ranks["labels"] = len(fields) + 1  # after unknown keys, which rank len(fields)
    return ranks


def _reorder(node: Any, model: type[BaseModel] | None) -> None:
    """Put the keys of `node` (and of its nested mappings) in the order of `model`."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(node, CommentedSeq):
        for item in node:
            _reorder(item, model)
        return
    if not isinstance(node, CommentedMap):
        return
    if model is None:
        for value in node.values():
            _reorder(value, None)
        return
    fields = fields_of(model)
    ranks = _rank(fields)
    keys = list(node.keys())
    wanted = sorted(
        keys, key=lambda key: ranks.get(key, len(fields)) if isinstance(key, str) else len(fields)
    )
    if wanted != keys:
        for key in wanted:
            node.move_to_end(key)
    for key, value in node.items():
        child = fields.get(key) if isinstance(key, str) else None
        if child is not None:
            _reorder(value, child)


def _document_model(data: Any, root_file: bool) -> type[BaseModel] | None:
    if root_file:
        return Settings
    if isinstance(data, dict):
        kind = data.get("kind")
        if isinstance(kind, str):
            return KINDS.get(kind)
    return None


# --------------------------------------------------------------------------------------
# Reading the source text: which line is what, and where the comments are
# --------------------------------------------------------------------------------------

LineKind = Literal["content", "comment", "blank", "scalar", "marker"]


@dataclass
class _Scan:
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


def _scan(text: str) -> _Scan:
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
    scan = _Scan(lines, kinds)
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
                column = scan.eol[number][0] if number in scan.eol else _indent(lines[number])
                scan.stuck.append((number, column, _IN_FLOW))
    return scan


# --------------------------------------------------------------------------------------
# Placing comments
# --------------------------------------------------------------------------------------


@dataclass
class _Anchor:
    """A place a comment can attach to: a mapping key or a sequence item (block style)."""

    line: int
    column: int  # of the key, or of the item's dash
    container: Any
    key: Any
    is_item: bool
    chain: tuple[int, ...]  # ids of the block collections from the root to `container`
    pre: list[str] = field(default_factory=list)  # comment texts; "" is a blank line
    eol: tuple[int, str] | None = None


def _anchors(
    node: Any,
    lines: list[str],
    out: list[_Anchor],
    indents: dict[int, int],
    chain: tuple[int, ...] = (),
) -> None:
    """Every block mapping key and sequence item below `node`, in document order."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    from kpictl.compat import positions

    if not isinstance(node, CommentedMap | CommentedSeq) or node.fa.flow_style():
        return
    chain = (*chain, id(node))
    keys = list(node.keys()) if isinstance(node, CommentedMap) else list(range(len(node)))
    for key in keys:
        position = positions(node).get(key)
        if position is None:  # pragma: no cover - merge keys are rejected before
            raise FormatError(1, 1, "a key or list item has no position")
        line, column = position[0], position[1]
        if isinstance(node, CommentedSeq):
            before = lines[line][:column].rstrip()
            column = len(before) - 1 if before.endswith("-") else column
        indents.setdefault(id(node), column)
        out.append(_Anchor(line, column, node, key, isinstance(node, CommentedSeq), chain))
        _anchors(node[key], lines, out, indents, chain)


def _ruamel_comments(node: Any, seen: set[int], found: Counter[str]) -> None:
    """The comment texts ruamel attached anywhere below `node` (to cross-check the scan)."""
    from ruamel.yaml.comments import CommentedBase

    from kpictl.compat import attached_comments

    def take(value: Any) -> None:
        if value is None:
            return
        if isinstance(value, list):
            for item in value:
                take(item)
            return
        if isinstance(value, str):
            text = value
        else:
            if id(value) in seen:
                return
            seen.add(id(value))
            text = getattr(value, "value", "")
            if not isinstance(text, str):
                return
        for line in text.split("\n"):
            stripped = line.strip()
            if stripped.startswith("#"):
                found[stripped] += 1

    if isinstance(node, CommentedBase):
        for value in attached_comments(node):
            take(value)
        children: Iterable[Any] = node.values() if isinstance(node, dict) else node  # type: ignore[assignment]
        for child in children:
            _ruamel_comments(child, seen, found)


def _clear_comments(node: Any) -> None:
    """Drop ruamel's comment attachments, keeping block scalar header comments."""
    from ruamel.yaml.comments import CommentedBase

    from kpictl.compat import clear_comments

    if not isinstance(node, CommentedBase):
        return
    clear_comments(node)
    children: Iterable[Any] = node.values() if isinstance(node, dict) else node  # type: ignore[assignment]
    for child in children:
        _clear_comments(child)


def _tidy(texts: list[str]) -> list[str]:
    """Collapse runs of blank lines to one."""
    out: list[str] = []
    for text in texts:
        if text == "" and out and out[-1] == "":
            continue
        out.append(text)
    return out


def _strip_blank_edges(texts: list[str]) -> list[str]:
    start, end = 0, len(texts)
    while start < end and texts[start] == "":
        start += 1
    while end > start and texts[end - 1] == "":
        end -= 1
    return texts[start:end]


def _attach(
    node: Any, column: int, table: dict[tuple[int, Any], _Anchor], ends: dict[int, list[str]]
) -> None:
    """Write the comments planned for `node` and below; `column` is where its items start."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    from kpictl.compat import set_end_comments, set_key_comments

    if not isinstance(node, CommentedMap | CommentedSeq) or node.fa.flow_style():
        return
    keys = list(node.keys()) if isinstance(node, CommentedMap) else list(range(len(node)))
    for key in keys:
        anchor = table.get((id(node), key))
        if anchor is not None:
            set_key_comments(node, key, anchor.pre, column, anchor.eol, anchor.is_item)
        _attach(node[key], column + 2, table, ends)
    end = ends.get(id(node))
    if end:
        set_end_comments(node, end, column)


def _hoist(node: Any, table: dict[tuple[int, Any], _Anchor]) -> None:
    """Move comments above a list item's first key (or nested item) to above the item.

    ruamel would write them between the dash and the key, with the dash alone on
    its line, which reads badly and does not survive a second round.
    """
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if not isinstance(node, CommentedMap | CommentedSeq) or node.fa.flow_style():
        return
    if isinstance(node, CommentedMap):
        for value in node.values():
            _hoist(value, table)
        return
    for index, value in enumerate(node):
        item = table.get((id(node), index))
        target = value
        while (
            item is not None
            and isinstance(target, CommentedMap | CommentedSeq)
            and len(target) > 0
            and not target.fa.flow_style()
        ):
            first_key = next(iter(target)) if isinstance(target, CommentedMap) else 0
            first = table.get((id(target), first_key))
            if first is not None and first.pre:
                item.pre.extend(first.pre)
                first.pre = []
            if isinstance(target, CommentedMap):
                break
            target = target[0]  # `- - a`: the nested item shares the dash's line
        item_pre = item.pre if item is not None else []
        if item is not None:
            item.pre = _tidy(item_pre)
        _hoist(value, table)


# --------------------------------------------------------------------------------------
# Formatting one text
# --------------------------------------------------------------------------------------


def _yaml() -> Any:
    from ruamel.yaml import YAML

    from kpictl.compat import fixed_emitter

    yaml = YAML(typ="rt")
    yaml.Emitter = fixed_emitter()
    yaml.preserve_quotes = True
    yaml.width = 1_000_000  # never re-wrap
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.allow_unicode = True
    return yaml


def _fast_load(text: str, scan: _Scan) -> list[Any]:
    """Load round-trip data with libyaml's C parser and ruamel's round-trip constructor.

    About three times faster than ruamel's pure-Python loader, and the same tree but
    for what the C parser does not report: comments (fmt places them itself), anchor
    names and block scalar header comments (files with those take the slow road), and
    where folded text (`>`) was broken into lines, which is read back from the source.
    """
    from kpictl.compat import fast_load

    docs = [doc for doc in fast_load(text) if doc is not None]
    for doc in docs:
        _refold(doc, scan)
    return docs


def _refold(node: Any, scan: _Scan) -> None:
    """Give every folded scalar below `node` the line breaks it has in the source."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import FoldedScalarString

    from kpictl.compat import positions, set_fold_positions

    if isinstance(node, CommentedMap):
        places = [(key, positions(node)[key][2]) for key in node]
    elif isinstance(node, CommentedSeq):
        places = [(index, positions(node)[index][0]) for index in range(len(node))]
    else:
        return
    for key, line in places:
        value = node[key]
        if isinstance(value, FoldedScalarString):
            offsets = _fold_positions(scan, line, str(value))
            if offsets is None:  # pragma: no cover - guarded by the scan
                raise FormatError(line + 1, 1, "fmt cannot read this folded text (>)")
            if offsets:
                set_fold_positions(value, offsets)
        else:
            _refold(value, scan)


def _fold_positions(scan: _Scan, header: int, value: str) -> list[int] | None:
    """Where the source breaks the lines of a folded scalar, as offsets into its value."""
    span = scan.folded.get(header)
    if span is None:
        return None
    first, last = span
    texts = [scan.lines[n] for n in range(first, last + 1)]
    content = [text for text in texts if text.strip()]
    if not content:
        return []
    indent = _indent(content[0])
    positions: list[int] = []
    cursor = 0
    for number, text in enumerate(content):
        piece = text[indent:]
        found = value.find(piece, cursor)
        if found < 0 or value[cursor:found].strip(" \n"):
            return None
        cursor = found + len(piece)
        if number < len(content) - 1:
            positions.append(cursor)
    return positions


def _segments(scan: _Scan) -> list[tuple[int, int]]:
    """Line ranges between document markers."""
    out: list[tuple[int, int]] = []
    start = 0
    for number, kind in enumerate(scan.kinds):
        if kind == "marker":
            out.append((start, number))
            start = number + 1
    out.append((start, len(scan.kinds)))
    return out


def _has_content(scan: _Scan, segment: tuple[int, int]) -> bool:
    return any(scan.kinds[n] in ("content", "scalar") for n in range(*segment))


def _data(text: str) -> list[Any]:
    documents, findings = parse_text(Path("<fmt>"), text)
    if findings:
        first = findings[0]
        raise FormatError(first.location.line, first.location.column, first.message)
    return [document.data for document in documents if document.data is not None]


def format_text(
    text: str,
    root_file: bool = False,
    pure_loader: bool = False,
    before: list[Any] | None = None,
) -> str:
    """The canonical form of `text`; raises FormatError when it cannot be had safely.

    `root_file` orders keys as in kpictl.yaml; `pure_loader` forces ruamel's own
    loader (the tests use it to show the fast loader gives the same result);
    `before` is the data as kpictl's loader read it, when the caller has it already.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    if before is None:
        before = _data(text)  # also rejects syntax errors, tags, merge keys, duplicate keys
    scan = _scan(text)
    directive = next(
        (n for n, kind in enumerate(scan.kinds) if kind == "content" and scan.lines[n][:1] == "%"),
        None,
    )
    if directive is not None:
        raise FormatError(
            directive + 1,
            1,
            "fmt does not rewrite files with YAML directives (%YAML, %TAG); remove the line",
        )
    if scan.stuck:
        line, column, why = min(scan.stuck)
        raise FormatError(line + 1, column + 1, why)
    every = _segments(scan)
    segments = [segment for segment in every if _has_content(scan, segment)]
    if not segments:
        return text  # comments only: nothing to put in order

    yaml = _yaml()
    if pure_loader or scan.needs_pure_loader:
        loaded = [doc for doc in yaml.load_all(text) if doc is not None]
        _cross_check(loaded, scan)
    else:
        loaded = _fast_load(text, scan)
    if len(loaded) != len(segments):  # pragma: no cover - scan and loader disagree
        raise FormatError(1, 1, "fmt could not match the documents of this file to its lines")

    # Comments on a `---` line, and documents holding only comments, go to the header
    # of the next document (or to the end of the last one).
    carried: list[str] = []
    headers: list[list[str]] = []
    for segment in every:
        marker = segment[0] - 1
        if marker in scan.marker_comments:
            carried.append(scan.marker_comments[marker])
        if segment in segments:
            headers.append(carried)
            carried = []
        else:
            carried.extend(_comment_lines(scan, range(*segment)))

    for index, (doc, segment) in enumerate(zip(loaded, segments, strict=True)):
        tail = carried if index == len(loaded) - 1 else []
        plan = _plan(doc, scan, segment, headers[index], tail)
        _reorder(doc, _document_model(doc, root_file))
        _apply(doc, plan)

    out = io.StringIO()
    yaml.dump_all(loaded, out)
    result = out.getvalue()
    if not result.endswith("\n"):
        result += "\n"

    if _data(result) != before:
        raise FormatError(1, 1, "fmt would change the data of this file (a bug in kpictl fmt)")
    if _scan(result).comments() != scan.comments():
        raise FormatError(1, 1, "fmt would lose a comment of this file (a bug in kpictl fmt)")
    return result


def _cross_check(loaded: list[Any], scan: _Scan) -> None:
    """Every comment ruamel saw must be one the line scan will place."""
    attached: Counter[str] = Counter()
    seen: set[int] = set()
    for doc in loaded:
        _ruamel_comments(doc, seen, attached)
    missing = attached - scan.comments()
    if missing:
        text = next(iter(missing))
        number = next((n for n, line in enumerate(scan.lines) if text in line), 0)
        raise FormatError(number + 1, 1, f"fmt cannot tell where the comment '{text}' belongs")


def _comment_lines(scan: _Scan, numbers: Iterable[int]) -> list[str]:
    out = []
    for number in numbers:
        kind = scan.kinds[number]
        if kind == "comment":
            out.append(scan.lines[number].strip())
        elif kind == "blank":
            out.append("")
    return out


@dataclass
class _Plan:
    anchors: list[_Anchor]
    header: list[str]
    ends: dict[int, list[str]]  # container id -> comments after its last item


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _split_run(
    scan: _Scan,
    numbers: range,
    previous: _Anchor | None,
    next_column: int,
    indents: dict[int, int],
    ends: dict[int, list[str]],
) -> list[str]:
    """Share a run of comment lines between the blocks that end above it and the next node.

    A comment indented deeper than the next node closes the innermost block above it
    at that indentation (it stays at the end of that block wherever the block moves);
    the rest goes with the next node. Blank lines go with the comment below them.
    """
    chain = previous.chain if previous is not None else ()
    depth = len(chain)  # may only go shallower, to keep the comments in order
    pending: list[str] = []
    pre: list[str] = []
    for number in numbers:
        if scan.kinds[number] == "blank":
            pending.append("")
            continue
        text = scan.lines[number].strip()
        indent = _indent(scan.lines[number])
        target = None
        if not pre and indent > next_column:
            for index in range(min(depth, len(chain)) - 1, -1, -1):
                container = chain[index]
                if next_column < indents[container] <= indent:
                    target, depth = container, index + 1
                    break
        if target is None:
            pre.extend(pending)
            pre.append(text)
        else:
            ends.setdefault(target, []).extend([*pending, text])
        pending = []
    pre.extend(pending)
    return pre


def _plan(
    doc: Any, scan: _Scan, segment: tuple[int, int], carried: list[str], tail: list[str]
) -> _Plan:
    """Decide which node each comment of one document goes with."""
    import bisect

    start, end = segment
    anchors: list[_Anchor] = []
    indents: dict[int, int] = {}
    _anchors(doc, scan.lines, anchors, indents)
    content = [n for n in range(start, end) if scan.kinds[n] in ("content", "scalar")]
    first, last = content[0], content[-1]

    outermost: dict[int, _Anchor] = {}
    deepest: dict[int, _Anchor] = {}
    for anchor in anchors:
        outermost.setdefault(anchor.line, anchor)
        deepest[anchor.line] = anchor
    lines = sorted(deepest)

    def before(number: int) -> _Anchor | None:
        position = bisect.bisect_right(lines, number) - 1
        return deepest[lines[position]] if position >= 0 else None

    ends: dict[int, list[str]] = {}
    claimed: set[int] = set(range(start, first)) | set(range(last + 1, end))
    for line, anchor in outermost.items():
        if line <= first:
            continue
        above = line - 1
        while above >= start and scan.kinds[above] in ("comment", "blank"):
            above -= 1
        run = range(above + 1, line)
        anchor.pre = _tidy(_split_run(scan, run, before(above), anchor.column, indents, ends))
        claimed.update(run)
    for number in range(start, end):
        if scan.kinds[number] == "comment" and number not in claimed:
            raise FormatError(
                number + 1,
                1,
                "fmt cannot tell which key this comment belongs to; move it directly "
                "above a key or a list item",
            )

    header = carried + _comment_lines(scan, range(start, first))
    closing = _split_run(scan, range(last + 1, end), before(last), -1, indents, ends)
    if closing or tail:
        if not anchors:
            raise FormatError(
                last + 2, 1, "fmt keeps comments after a document only when it is a mapping"
            )
        ends.setdefault(anchors[0].chain[0], []).extend([*closing, *tail])
    for key in list(ends):
        ends[key] = _strip_blank_edges(_tidy(ends[key]))

    for number in range(start, end):
        if number not in scan.eol or number in scan.block_headers:
            continue
        column, text = scan.eol[number]
        target = before(number)
        if target is None:
            header.append(text)
            continue
        if target.eol is not None:  # pragma: no cover - two end-of-line comments, one node
            raise FormatError(number + 1, column + 1, "fmt cannot tell where this comment goes")
        target.eol = (column, text)
    return _Plan(anchors, header, ends)


def _apply(doc: Any, plan: _Plan) -> None:
    """Replace ruamel's comment attachments with the planned ones."""
    from ruamel.yaml.comments import CommentedBase, CommentedMap, CommentedSeq

    from kpictl.compat import set_header_comments

    _clear_comments(doc)
    table = {(id(anchor.container), anchor.key): anchor for anchor in plan.anchors}
    _hoist(doc, table)
    header = plan.header
    if isinstance(doc, CommentedMap | CommentedSeq) and len(doc) and not doc.fa.flow_style():
        # Comments above the key that is now first are part of the header, as the
        # next round would read them.
        key = next(iter(doc)) if isinstance(doc, CommentedMap) else 0
        first = table.get((id(doc), key))
        if first is not None:
            header, first.pre = header + first.pre, []
    header = _tidy(header)
    gap = bool(header) and header[-1] == ""
    header = _strip_blank_edges(header)
    if gap and header:
        header.append("")
    if isinstance(doc, CommentedBase) and header:
        set_header_comments(doc, header)
    if isinstance(doc, CommentedMap | CommentedSeq):
        _after_kept_lines(doc, table, plan.ends, [False])
    _attach(doc, 0, table, plan.ends)


def _after_kept_lines(
    node: Any, table: dict[tuple[int, Any], _Anchor], ends: dict[int, list[str]], kept: list[bool]
) -> None:
    """Drop blank lines right after a block scalar that keeps its final line breaks (`|+`).

    Such blank lines would be read back as part of the text. `kept[0]` says whether
    the last value written, in document order, was one.
    """
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

    keys = list(node.keys()) if isinstance(node, CommentedMap) else list(range(len(node)))
    for key in keys:
        anchor = table.get((id(node), key))
        if anchor is not None and kept[0]:
            anchor.pre = _strip_blank_edges([*anchor.pre, "#"])[:-1]
        value = node[key]
        if isinstance(value, CommentedMap | CommentedSeq) and not value.fa.flow_style():
            _after_kept_lines(value, table, ends, kept)
        else:
            kept[0] = isinstance(value, LiteralScalarString | FoldedScalarString) and str(
                value
            ).endswith("\n\n")
    if kept[0] and id(node) in ends:
        ends[id(node)] = _strip_blank_edges([*ends[id(node)], "#"])[:-1]


# --------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------

Status = Literal["unchanged", "changed", "error"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What fmt did (or would do) to one file."""

    path: Path
    display: Path
    status: Status
    line: int = 0
    column: int = 0
    message: str = ""
    diff: str = ""


def format_file(path: Path, display: Path, write: bool, diff: bool = False) -> Outcome:
    """Format one file; with `write`, replace it (whole) when it changes.

    Only a regular file is read or replaced: a link is neither followed (it may point
    out of the registry, or at itself) nor replaced by a file, and a FIFO is never
    waited on.
    """
    from kpictl.fileio import (
        LinkedFolderError,
        NotRegularFileError,
        read_regular,
        refuse_linked_folder,
    )

    try:
        # `fmt linked/x.yaml` names a file through a linked folder: read_regular's
        # O_NOFOLLOW guards only the file itself, so the folders are checked first.
        refuse_linked_folder(path.parent)
        raw = read_regular(path)
    except LinkedFolderError as exc:
        return Outcome(path, display, "error", 1, 1, f"not read: {exc.strerror}")
    except NotRegularFileError as exc:
        return Outcome(
            path,
            display,
            "error",
            1,
            1,
            f"this is {exc.kind}, not a regular file: fmt reads and rewrites regular files "
            "only; put the file itself here, or add it to `exclude` in kpictl.yaml",
        )
    except OSError as exc:
        reason = (exc.strerror or type(exc).__name__).lower()
        return Outcome(
            path,
            display,
            "error",
            1,
            1,
            f"cannot read this file ({reason}): fix its permissions or add it to `exclude` "
            "in kpictl.yaml",
        )
    source = parse_bytes(display, raw)
    if source.findings:
        first = source.findings[0]
        return Outcome(
            path, display, "error", first.location.line, first.location.column, first.message
        )
    try:
        before = [doc.data for doc in source.documents if doc.data is not None]
        result = format_text(source.text, root_file=path.name == ROOT_FILE, before=before)
    except FormatError as exc:
        return Outcome(path, display, "error", exc.line, exc.column, exc.message)
    if result.encode("utf-8") == raw:
        return Outcome(path, display, "unchanged")
    patch = ""
    if diff:
        import difflib

        from kpictl.templating.escaping import defuse, visible

        lines = difflib.unified_diff(
            source.text.splitlines(keepends=True),
            result.splitlines(keepends=True),
            f"a/{visible(display.as_posix())}",
            f"b/{visible(display.as_posix())}",
        )
        # The file's own lines go to a terminal or a CI log: bidi and other invisible
        # characters of a comment are spelled out, and no line can start a command.
        patch = defuse("".join(visible(line.removesuffix("\n")) + "\n" for line in lines))
    if write:
        from kpictl.fileio import write_atomic

        try:
            write_atomic(path, result)
        except OSError as exc:
            return Outcome(path, display, "error", 1, 1, f"cannot write: {exc.strerror or exc}")
    return Outcome(path, display, "changed", diff=patch)


def _format_job(job: tuple[Path, Path, bool, bool]) -> Outcome:
    return format_file(*job)


def format_files(
    files: Sequence[tuple[Path, Path]], write: bool, diff: bool = False, jobs: int | None = None
) -> list[Outcome]:
    """Format many (path, display) files, in worker processes when there are many."""
    work = [(path, display, write, diff) for path, display in files]
    from kpictl.parallel import map_in_workers, usable_cpus

    workers = jobs if jobs is not None else min(usable_cpus(), 8)
    return map_in_workers(_format_job, work, workers, PARALLEL_THRESHOLD)


def collect(paths: Sequence[Path], cwd: Path) -> list[tuple[Path, Path]]:
    """The files to format for PATH arguments, as (path, path to show) pairs.

    A file is taken as named. A folder inside a registry means the registry's YAML
    files below it (kpictl.yaml included, `exclude` and hidden entries left out); a
    folder outside any registry, every YAML file below it but hidden ones. Raises
    FileNotFoundError for a path that does not exist.
    """
    from kpictl.registry.config import find_root
    from kpictl.registry.membership import exclude_of
    from kpictl.registry.reading import discover
    from kpictl.registry.registry import display_path

    found: dict[Path, None] = {}
    for given in paths:
        if not given.exists():
            raise FileNotFoundError(str(given))
        if given.is_file():
            found[given] = None
            continue
        root = find_root(given)
        if root is None:
            for path in discover(given, []):
                found[path] = None
            continue
        folder = given.resolve()
        root_file = root / ROOT_FILE
        candidates = [root_file, *discover(root, exclude_of(_settings_raw(root_file)))]
        for path in candidates:
            # `root` is resolved and `discover` follows no folder link, so the paths
            # compare as written. Resolving them would follow a file's link, and
            # raise on a link loop.
            if path.is_relative_to(folder):
                found[given / path.relative_to(folder)] = None
    return [(path, display_path(path, cwd)) for path in found]


def _settings_raw(root_file: Path) -> bytes | None:
    """kpictl.yaml's content; None when it is not a regular file (fmt reports it with
    the other files, and nothing is excluded)."""
    from kpictl.fileio import read_regular

    try:
        return read_regular(root_file)
    except OSError:
        return None


def dump_entity(data: dict[str, Any], root_file: bool = False) -> str:
    """New YAML text for one entity (plain Python data), in canonical form.

    Lists of plain values are written flow style (`sources: [a, b]`), as the
    registry format's examples do; lists of mappings, block style.
    """
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    def build(value: Any) -> Any:
        if isinstance(value, dict):
            out = CommentedMap()
            for key, item in value.items():
                out[key] = build(item)
            return out
        if isinstance(value, list):
            seq = CommentedSeq(build(item) for item in value)
            if all(not isinstance(item, dict | list) for item in value):
                seq.fa.set_flow_style()
            return seq
        return value

    tree = build(data)
    _reorder(tree, _document_model(data, root_file))
    out = io.StringIO()
    _yaml().dump(tree, out)
    return format_text(out.getvalue(), root_file=root_file)

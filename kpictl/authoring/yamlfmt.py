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
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kpictl.authoring.yamlorder import document_model, reorder
from kpictl.authoring.yamlscan import Scan, indent_of, scan_text
from kpictl.registry.loader import parse_text


class FormatError(Exception):
    """A file fmt will not rewrite; the message says why, at a 1-based line and column."""

    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.column = column
        self.message = message


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


def _fast_load(text: str, scan: Scan) -> list[Any]:
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


def _refold(node: Any, scan: Scan) -> None:
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


def _fold_positions(scan: Scan, header: int, value: str) -> list[int] | None:
    """Where the source breaks the lines of a folded scalar, as offsets into its value."""
    span = scan.folded.get(header)
    if span is None:
        return None
    first, last = span
    texts = [scan.lines[n] for n in range(first, last + 1)]
    content = [text for text in texts if text.strip()]
    if not content:
        return []
    indent = indent_of(content[0])
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


def _segments(scan: Scan) -> list[tuple[int, int]]:
    """Line ranges between document markers."""
    out: list[tuple[int, int]] = []
    start = 0
    for number, kind in enumerate(scan.kinds):
        if kind == "marker":
            out.append((start, number))
            start = number + 1
    out.append((start, len(scan.kinds)))
    return out


def _has_content(scan: Scan, segment: tuple[int, int]) -> bool:
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
    scan = scan_text(text)
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
        reorder(doc, document_model(doc, root_file))
        _apply(doc, plan)

    out = io.StringIO()
    yaml.dump_all(loaded, out)
    result = out.getvalue()
    if not result.endswith("\n"):
        result += "\n"

    if _data(result) != before:
        raise FormatError(1, 1, "fmt would change the data of this file (a bug in kpictl fmt)")
    if scan_text(result).comments() != scan.comments():
        raise FormatError(1, 1, "fmt would lose a comment of this file (a bug in kpictl fmt)")
    return result


def _cross_check(loaded: list[Any], scan: Scan) -> None:
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


def _comment_lines(scan: Scan, numbers: Iterable[int]) -> list[str]:
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


def _split_run(
    scan: Scan,
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
        indent = indent_of(scan.lines[number])
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
    doc: Any, scan: Scan, segment: tuple[int, int], carried: list[str], tail: list[str]
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
    reorder(tree, document_model(data, root_file))
    out = io.StringIO()
    _yaml().dump(tree, out)
    return format_text(out.getvalue(), root_file=root_file)

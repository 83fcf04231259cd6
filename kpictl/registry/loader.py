"""Files to documents with positions: the only module that talks to ruamel.yaml.

Parsing goes through libyaml's event stream (ruamel.yaml's C parser) and the tree
is built here, not by a YAML constructor, for three reasons: every key and value
keeps its line and column; nothing a document says can construct an object
(tags are reported, never honoured); and aliases are counted as they expand, so
an alias bomb ends in a finding instead of exhausting memory.

Positions are found when first asked for. The first pass builds only the data; the
first document of a file asked where a value sits parses the file's text again,
recording every position of every document, so a file is parsed at most twice
however many of its documents have findings. A clean registry of thousands of files
never asks, and the first pass saves a tenth of its time and, on several cores, most
of what workers send back.

A file is parsed up to MAX_FILE_DOCUMENTS documents, so a hostile file ends in a finding.
Reading files from disk (never through a link, within limits) is registry/reading.py's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kpictl.check.catalog import finding
from kpictl.check.findings import Finding, Location, excerpt

# Values that aliases may add to one document when expanded, and values one document
# may hold as written. A registry entity has a few hundred values at most; an alias
# bomb reaches millions in a few lines, and a generated file a million keys in 10 MB
# (each of which would become a schema error, and all of them gigabytes).
MAX_VALUES = 100_000
MAX_DEPTH = 64
# Files above this size are still read, but reported: a registry file is a few KB.
LARGE_FILE_BYTES = 1024 * 1024
# Documents one file may hold; what a document costs, and the registry's limits, are
# with MAX_REGISTRY_DOCUMENTS in registry/reading.py.
MAX_FILE_DOCUMENTS = 10_000
# What the finding for a file that should not be in the registry tells its author.
EXCLUDE_FIX = "add it to `exclude` in kpictl.yaml"

Key = str | int
KeyPath = tuple[Key, ...]


@dataclass(frozen=True, slots=True)
class Mark:
    """A 1-based line and column."""

    line: int
    column: int


@dataclass(slots=True)
class Positions:
    """Where every value and every key of one document sits, as 1-based (line, column).

    Plain tuples: a document has hundreds of them, and tuples are the cheapest.
    """

    values: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)
    keys: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)


@dataclass(slots=True, eq=False)
class FileText:
    """A file's text, shared by its documents, and the positions of all of them once found.

    One per file, so that the first document asked for positions finds them for
    every document of the file in one parse (see the module's docstring).
    """

    path: Path
    text: str = field(repr=False)
    positions: list[Positions] | None = field(default=None, repr=False)

    def positions_of(self, index: int) -> Positions:
        if self.positions is None:
            documents = _parse(self.path, self.text, positions=True).documents
            self.positions = [document.found or Positions() for document in documents]
        return self.positions[index] if index < len(self.positions) else Positions()


@dataclass(slots=True)
class Document:
    """One YAML document: its data, and where its keys and values sit.

    `origin` is the file the document came from (shared, not copied), so that
    positions can be found on demand (see the module's docstring).
    """

    path: Path
    index: int
    data: Any
    start: Mark
    origin: FileText | None = field(default=None, repr=False)
    found: Positions | None = field(default=None, repr=False)

    @property
    def positions(self) -> Positions:
        if self.found is None:
            origin = self.origin
            self.found = origin.positions_of(self.index) if origin is not None else Positions()
        return self.found

    def mark(self, path: KeyPath) -> Mark:
        """Position of the value at `path`, or of its closest present ancestor."""
        values = self.positions.values
        while path:
            found = values.get(path)
            if found is not None:
                return Mark(*found)
            path = path[:-1]
        return self.start

    def key_mark(self, path: KeyPath) -> Mark:
        """Position of the key that holds `path`, falling back like `mark`."""
        found = self.positions.keys.get(path)
        return Mark(*found) if found is not None else self.mark(path)

    def location(self, path: KeyPath = ()) -> Location:
        mark = self.mark(path)
        return Location(self.path, mark.line, mark.column)


@dataclass(slots=True)
class SourceFile:
    """A file as read: its text (for suppressions and --show-source) and documents."""

    path: Path
    text: str
    documents: list[Document]
    findings: list[Finding]
    split: list[str] | None = field(default=None, repr=False, compare=False)
    # What reading it cost, counted against the registry's limits: bytes read, and
    # documents parsed and values built (those dropped for a finding too).
    size: int = field(default=0, repr=False, compare=False)
    parsed: int = field(default=0, repr=False, compare=False)
    values: int = field(default=0, repr=False, compare=False)

    @property
    def lines(self) -> list[str]:
        # Kept: --show-source asks once per finding, and a file may have thousands.
        if self.split is None:
            self.split = self.text.splitlines()
        return self.split


# YAML 1.2 core schema, for plain (unquoted) scalars only.
_NULL = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})
_INT = re.compile(r"[-+]?[0-9]+\Z")
_OCT = re.compile(r"0o[0-7]+\Z")
_HEX = re.compile(r"0x[0-9a-fA-F]+\Z")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)\Z")
_NAN = re.compile(r"\.(nan|NaN|NAN)\Z")
_MAX_INT_DIGITS = 4000  # below Python's limit of 4300 for int("...")


class YamlInt(int):
    """An integer read from YAML that remembers how it was written.

    `str()` gives the text as written, so where a model expects text (an id such
    as `007`, a name such as `1e3`) it gets what the author typed, not `7`.
    """

    source: str

    def __new__(cls, value: int, source: str) -> YamlInt:
        number = super().__new__(cls, value)
        number.source = source
        return number

    def __getnewargs__(self) -> tuple[int, str]:  # type: ignore[override]
        return int(self), self.source

    def __str__(self) -> str:
        return self.source


class YamlFloat(float):
    """A float read from YAML that remembers how it was written (see YamlInt)."""

    source: str

    def __new__(cls, value: float, source: str) -> YamlFloat:
        number = super().__new__(cls, value)
        number.source = source
        return number

    def __getnewargs__(self) -> tuple[float, str]:  # type: ignore[override]
        return float(self), self.source

    def __str__(self) -> str:
        return self.source


def resolve_plain(text: str) -> Any:
    """Type of an unquoted scalar under the YAML 1.2 core schema.

    Dates stay strings: the models parse them where a date is expected, so an id
    or a name that happens to look like a date is never turned into one.
    """
    if text in _NULL:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    first = text[0]
    if first.isdigit() or first in "+-.":
        if _INT.match(text):
            if len(text) > _MAX_INT_DIGITS:
                # int() refuses so many digits (a guard against slow conversions); as a
                # float it is infinite, which every number field reports as not finite.
                return YamlFloat(float(text), text)
            return YamlInt(int(text), text)
        if _OCT.match(text):
            return YamlInt(int(text[2:], 8), text)
        if _HEX.match(text):
            return YamlInt(int(text[2:], 16), text)
        if _FLOAT.match(text):
            return YamlFloat(float(text), text)
        if _INF.match(text):
            return YamlFloat(float("-inf") if first == "-" else float("inf"), text)
        if _NAN.match(text):
            return YamlFloat(float("nan"), text)
    return text


class _Abort(Exception):
    """Stop building the current document; the finding is already recorded.

    Its argument is the values placed so far, which count against the registry's budget.
    """


class _NeedPositions(Exception):
    """A duplicate key turned up while positions were not recorded: parse again with them."""


class _Builder:
    """Turns one file's event stream into documents, recording findings.

    This is the hot loop of `kpictl check` on a large registry, so it trades a
    little elegance for speed: events are told apart by class identity and each
    open mapping or list is a small list (a "frame") rather than an object.
    With `positions` false it records no position (see the module's docstring).
    """

    def __init__(self, path: Path, text: str, parser: Any, positions: bool) -> None:
        self.path = path
        self.origin = FileText(path, text)
        self.positions = positions
        self.next_event = parser.get_event
        self.documents: list[Document] = []
        self.findings: list[Finding] = []
        self.started = 0  # documents begun, kept or dropped
        self.values = 0  # values placed in them, dropped documents' too
        # One copy of each short text: keys, kinds, enum values and references repeat
        # in every document, and a string costs some 50 bytes (a third of what a file
        # of small documents keeps) while one look-up costs nothing next to the parse.
        self.texts: dict[str, str] = {}

    def _finding(self, code: str, message: str, mark: Any) -> None:
        self.findings.append(
            finding(code, message, Location(self.path, mark.line + 1, mark.column + 1))
        )

    def run(self) -> None:
        from ruamel.yaml.events import DocumentEndEvent, DocumentStartEvent, StreamEndEvent

        next_event = self.next_event
        while True:
            event = next_event()
            cls = type(event)
            if cls is StreamEndEvent:
                return
            if cls is not DocumentStartEvent:
                continue
            if self.started == MAX_FILE_DOCUMENTS:
                self._finding(
                    "Y004",
                    f"this file holds more than {MAX_FILE_DOCUMENTS:,} documents: the rest of "
                    "it, from here, is not read; registry files hold a few entities each: "
                    f"split it, or {EXCLUDE_FIX} if it is data",
                    event.start_mark,
                )
                return
            self.started += 1
            doc = Document(self.path, len(self.documents), None, _FIRST, self.origin)
            if self.positions:
                doc.found = Positions()
            try:
                doc.data = self._build(doc)
            except _Abort as stop:
                self.values += stop.args[0]
                while type(next_event()) is not DocumentEndEvent:
                    pass  # skip the rest of this document
                continue
            next_event()  # DocumentEndEvent
            self.documents.append(doc)

    def _build(self, doc: Document) -> Any:
        """Build the document's root value; iterative, so depth is bounded by us."""
        from ruamel.yaml.events import (
            AliasEvent,
            MappingEndEvent,
            MappingStartEvent,
            ScalarEvent,
            SequenceEndEvent,
            SequenceStartEvent,
        )

        next_event = self.next_event
        texts = self.texts
        found = doc.found
        track = found is not None
        values = found.values if found is not None else {}
        keys = found.keys if found is not None else {}
        # anchor -> (value, values in it, levels of lists and mappings in it)
        anchors: dict[str, tuple[Any, int, int]] = {}
        expanded = 0  # values that aliases add, counted as if written out
        written = 0  # values placed in the document
        # A frame: [container, path, size, pending key, key position, key style,
        #           start mark, anchor, height]. `pending key` is _NO_KEY while a
        #           mapping waits for its next key; `height` counts the levels of the
        #           container and the deepest value in it, aliases expanded.
        stack: list[list[Any]] = []
        no_key = _NO_KEY

        while True:
            event = next_event()
            cls = type(event)
            mark = event.start_mark
            if cls is ScalarEvent:
                if event.tag is not None and self._rejects_tag(event):
                    raise _Abort(written)
                text = event.value
                if len(text) <= _SHARED_TEXT:
                    text = texts.setdefault(text, text)
                frame = stack[-1] if stack else None
                if frame is not None and frame[3] is no_key and type(frame[0]) is dict:
                    # A key: keep its text as written, whatever it would resolve to.
                    if text == "<<" and not event.style:
                        self._finding(
                            "Y003",
                            "merge keys (<<) are not allowed: write the fields out in full",
                            mark,
                        )
                        raise _Abort(written)
                    if event.anchor is not None:
                        anchors[event.anchor] = (text, 1, 0)
                    frame[3] = text
                    if track:
                        frame[4] = (mark.line + 1, mark.column + 1)
                    continue
                value: Any = text if event.style else resolve_plain(text)
                size = 1
                height = 0
                anchor = event.anchor
            elif cls is MappingStartEvent or cls is SequenceStartEvent:
                if event.tag is not None and self._rejects_tag(event):
                    raise _Abort(written)
                if len(stack) >= MAX_DEPTH:
                    self._finding(
                        "Y003", f"nesting deeper than {MAX_DEPTH} levels is not supported", mark
                    )
                    raise _Abort(written)
                path: KeyPath = ()
                if stack:
                    parent = stack[-1]
                    container = parent[0]
                    if parent[3] is no_key and type(container) is dict:
                        self._finding(
                            "Y003",
                            "a mapping key must be a plain value, not a list or mapping",
                            mark,
                        )
                        raise _Abort(written)
                    if track:
                        last = len(container) if type(container) is list else parent[3]
                        path = (*parent[1], last)
                new: Any = {} if cls is MappingStartEvent else []
                stack.append([new, path, 1, no_key, None, None, mark, event.anchor, 1])
                continue
            elif cls is MappingEndEvent or cls is SequenceEndEvent:
                frame = stack.pop()
                value, size, mark, anchor, height = frame[0], frame[2], frame[6], frame[7], frame[8]
            elif cls is AliasEvent:
                target = anchors.get(event.anchor)
                if target is None:
                    self._finding(
                        "Y003",
                        f"alias '*{excerpt(event.anchor)}' has no anchor "
                        f"'&{excerpt(event.anchor)}' before it "
                        "(or refers to the value that contains it)",
                        mark,
                    )
                    raise _Abort(written)
                value, size, height = target
                anchor = None
                if len(stack) + height > MAX_DEPTH:
                    # Written nesting is bounded above; an alias of a deep value inside
                    # another deep value nests deeper than anything written, and every
                    # reader that walks the data recursively would overflow.
                    self._finding(
                        "Y003",
                        f"aliases nest this document deeper than {MAX_DEPTH} levels: "
                        "write the values out instead of nesting aliases",
                        mark,
                    )
                    raise _Abort(written)
                expanded += size
                if expanded > MAX_VALUES:
                    self._finding(
                        "Y003",
                        f"aliases expand this document to more than {MAX_VALUES:,} values; "
                        "write the values out instead of nesting aliases",
                        mark,
                    )
                    raise _Abort(written)
                if stack and stack[-1][3] is no_key and type(stack[-1][0]) is dict:
                    if not isinstance(value, str):
                        self._finding(
                            "Y003",
                            "a mapping key must be a plain value, not a list or mapping",
                            mark,
                        )
                        raise _Abort(written)
                    stack[-1][3] = value
                    if track:
                        stack[-1][4] = (mark.line + 1, mark.column + 1)
                    continue
            else:  # pragma: no cover - only node events occur inside a document
                raise AssertionError(f"unexpected event {event!r}")

            # Place `value` (of `size` values once aliases are expanded) in its parent.
            written += 1
            if written > MAX_VALUES:
                self._finding(
                    "Y003",
                    f"this document holds more than {MAX_VALUES:,} values; a registry entity "
                    "holds a few hundred: split it, or remove what was generated into it",
                    mark,
                )
                raise _Abort(written)
            if anchor is not None:
                anchors[anchor] = (value, size, height)
            if not stack:
                doc.start = Mark(mark.line + 1, mark.column + 1)
                self.values += written
                return value
            frame = stack[-1]
            container = frame[0]
            frame[2] += size
            if height >= frame[8]:
                frame[8] = height + 1
            if type(container) is list:
                if track:
                    values.setdefault((*frame[1], len(container)), (mark.line + 1, mark.column + 1))
                container.append(value)
                continue
            key = frame[3]
            if key in container:
                if not track:
                    raise _NeedPositions
                child = (*frame[1], key)
                first = keys[child]
                line, column = frame[4]
                self.findings.append(
                    finding(
                        "Y002",
                        f"duplicate key '{excerpt(key)}' (first at line {first[0]}): "
                        "remove one of them; only the first is used",
                        Location(self.path, line, column),
                        related=(Location(self.path, *first),),
                    )
                )
            else:
                container[key] = value
                if track:
                    child = (*frame[1], key)
                    values.setdefault(child, (mark.line + 1, mark.column + 1))
                    keys.setdefault(child, frame[4])
            frame[3] = no_key

    def _rejects_tag(self, event: Any) -> bool:
        """Whether `event`'s tag is refused (its finding recorded)."""
        implicit = event.implicit
        if isinstance(implicit, tuple):
            implicit = implicit[0]
        if implicit and event.tag in ("!", "tag:yaml.org,2002:str"):
            return False  # libyaml reports quoted scalars with the non-specific tag
        shown = excerpt(str(event.tag).replace("tag:yaml.org,2002:", "!!", 1))
        self._finding(
            "Y003",
            f"YAML tags are not allowed (found '{shown}'): remove the tag and write a plain value",
            event.start_mark,
        )
        return True


_NO_KEY: Any = object()
_FIRST = Mark(1, 1)  # frozen, so every document can start out with the same one
_SHARED_TEXT = 64  # longer texts rarely repeat (see _Builder.texts)


def _decode(path: Path, raw: bytes) -> tuple[str | None, Finding | None]:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, finding(
            "Y001",
            "this file is saved as UTF-16: save it as UTF-8",
            Location(path, 1, 1),
        )
    if b"\x00" in raw[:8192]:
        return None, finding(
            "Y001",
            "this is a binary file, not YAML: remove it or move it out of the registry",
            Location(path, 1, 1),
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        # Columns count characters, as everywhere else.
        line_start = before.rfind(b"\n") + 1
        column = len(raw[line_start : exc.start].decode("utf-8", "replace")) + 1
        return None, finding(
            "Y001",
            f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}): save the file as UTF-8",
            Location(path, line, column),
        )
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, None


def _yaml_error(path: Path, text: str, exc: Exception) -> Finding:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    context_mark = getattr(exc, "context_mark", None)
    if mark is not None and context_mark is not None and mark.line >= text.count("\n"):
        # The parser gave up at the end of the file (an unclosed bracket or quote):
        # the place where the unclosed thing opened is the useful one.
        mark = context_mark
    if mark is not None:
        line, column = mark.line + 1, mark.column + 1
    else:  # a reader error carries a character offset instead of a mark
        offset = getattr(exc, "position", 0) or 0
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    problem = getattr(exc, "problem", None) or getattr(exc, "reason", None) or str(exc)
    context = getattr(exc, "context", None)
    # The parser's words may quote the file (a tag, an escape): keep them short and safe.
    message = excerpt(f"{context}: {problem}" if context else str(problem), 160)
    lines = text.splitlines()
    indent = lines[line - 1][: max(column, 1)] if 0 < line <= len(lines) else ""
    if "tab" in message or "\t" in indent:
        message += " (indent YAML with spaces, not tabs)"
    return finding("Y001", f"invalid YAML, {message}", Location(path, line, column))


def parse_text(path: Path, text: str) -> tuple[list[Document], list[Finding]]:
    """Parse YAML text into documents; problems come back as findings, never raised."""
    parsed = _parse_once(path, text)
    return parsed.documents, parsed.findings


def _parse_once(path: Path, text: str) -> _Builder:
    try:
        return _parse(path, text, positions=False)
    except _NeedPositions:  # a duplicate key: its finding points at the first one
        return _parse(path, text, positions=True)


def parsed_file(display: Path, raw: bytes, large: bool) -> SourceFile:
    """A file's content decoded and parsed, with what it cost (`size`, `parsed`, `values`).

    `large`: report a file over LARGE_FILE_BYTES (Y005), as a registry on disk does.
    """
    text, problem = _decode(display, raw)
    if text is None:
        assert problem is not None
        return SourceFile(display, "", [], [problem], size=len(raw))
    findings: list[Finding] = []
    if large and len(raw) > LARGE_FILE_BYTES:
        findings.append(
            finding(
                "Y005",
                f"this file is {len(raw) / 1024 / 1024:.1f} MB; registry files are usually a "
                "few KB: split it, or exclude it if it is data rather than definitions",
                Location(display, 1, 1),
            )
        )
    parsed = _parse_once(display, text)
    findings.extend(parsed.findings)
    return SourceFile(
        display,
        text,
        parsed.documents,
        findings,
        size=len(raw),
        parsed=parsed.started,
        values=parsed.values,
    )


def _parse(path: Path, text: str, positions: bool) -> _Builder:
    from _ruamel_yaml import CParser
    from ruamel.yaml.error import YAMLError

    parser = CParser(text)
    builder = _Builder(path, text, parser, positions)
    try:
        builder.run()
    except YAMLError as exc:
        builder.findings.append(_yaml_error(path, text, exc))
    finally:
        parser.dispose()
    return builder

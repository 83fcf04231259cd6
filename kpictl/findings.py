"""Findings: what a check reports. Plain values, no behaviour beyond ordering."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from pathlib import Path

# Findings of one rule shown per file. A generated or hostile file can hold a million
# unknown keys; past a hundred, more lines of the same help nobody and fill the log.
MAX_SAME_FINDINGS = 100
# How much of a file's text a message may quote. A finding names a value so that its
# author recognises it; more than a line's worth only helps whoever linked a secret in.
EXCERPT_CHARS = 60
# C0/C1 controls, DEL, line and paragraph separators, bidirectional overrides and the
# byte-order mark: characters that could rewrite a terminal, an annotation or a log line.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_char(char: str) -> str:
    """One unsafe character as its escape (`\\n`, `\\x1b`, `\\u202e`)."""
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_text(text: str) -> str:
    """`text` with every unsafe character escaped, nothing cut."""
    return _UNSAFE.sub(lambda match: escape_char(match.group()), text)


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """A value from a file as a message may quote it: escaped, and cut to `limit` characters.

    Cut first (a value may be megabytes), then escaped; what was left out shows as `…`.
    """
    text = value if isinstance(value, str) else str(value)
    cut = len(text) > limit
    shown = escape_text(text[:limit] if cut else text)
    if len(shown) > limit:  # escapes made it longer: cut again, never inside an escape
        shown, cut = escape_text(_fit(text, limit)), True
    return shown + "…" if cut else shown


def _fit(text: str, limit: int) -> str:
    """The longest start of `text` whose escaped form fits in `limit` characters."""
    width = 0
    for index, char in enumerate(text):
        width += len(escape_char(char)) if _UNSAFE.match(char) else 1
        if width > limit:
            return text[:index]
    return text


class Severity(enum.IntEnum):
    """How bad a finding is; higher is worse, so `max()` and `>=` read naturally."""

    INFO = 1
    WARNING = 2
    ERROR = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown severity {text!r}: use error, warning or info") from None


@dataclass(frozen=True, slots=True)
class Location:
    """Where a finding points: a file and a 1-based line and column."""

    path: Path
    line: int = 1
    column: int = 1


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found in a registry."""

    code: str
    severity: Severity
    message: str
    location: Location
    entity: str | None = None
    # Other places that belong to the same finding (e.g. the first of two duplicate ids).
    related: tuple[Location, ...] = field(default=())

    @property
    def sort_key(self) -> tuple[str, int, int, str, str]:
        loc = self.location
        return (loc.path.as_posix(), loc.line, loc.column, self.code, self.message)

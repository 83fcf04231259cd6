"""Findings: what a check reports. Plain values, no behaviour beyond ordering."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

from kpictl.templating.escaping import visible

# Findings of one rule shown per file. A generated or hostile file can hold a million
# unknown keys; past a hundred, more lines of the same help nobody and fill the log.
MAX_SAME_FINDINGS = 100
# How much of a file's text a message may quote. A finding names a value so that its
# author recognises it; more than a line's worth only helps whoever linked a secret in.
EXCERPT_CHARS = 60


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """A value from a file as a message may quote it: escaped, and cut to `limit` characters.

    Cut first (a value may be megabytes), then escaped; what was left out shows as `…`.
    """
    text = value if isinstance(value, str) else str(value)
    cut = len(text) > limit
    shown = visible(text[:limit] if cut else text)
    if len(shown) > limit:  # escapes made it longer: cut again, never inside an escape
        shown, cut = visible(_fit(text, limit)), True
    return shown + "…" if cut else shown


def _fit(text: str, limit: int) -> str:
    """The longest start of `text` whose escaped form fits in `limit` characters."""
    width = 0
    for index, char in enumerate(text):
        width += len(visible(char))
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

"""Escaping registry text for each output language, as Jinja filters.

Names, titles and descriptions come from people, so any of them may hold a
pipe, a bracket, a quote or `<script>`. HTML is escaped by Jinja's autoescape
(templates whose name contains `.html`); every other language has its filter
here, and templates apply it to every value they did not write themselves.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# C0/C1 control characters (but tab), DEL, and the bidirectional overrides that can
# make a terminal or editor show text in an order other than the bytes'.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r"\s+")


def oneline(value: Any) -> str:
    """Text on one line: newlines and runs of white space become one space."""
    return _SPACES.sub(" ", _CONTROL.sub(" ", str(value))).strip()


_CONTROL_BUT_NEWLINE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def multiline(value: Any) -> str:
    """Text that keeps its line breaks (as \\n) and loses every other control character."""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return _CONTROL_BUT_NEWLINE.sub("", text)


def plain(value: Any) -> str:
    """Text for a terminal or a .txt file: one line, no control characters."""
    return oneline(value)


# Characters that start Markdown syntax anywhere in a line (GitHub flavour included:
# `|` ends a table cell, `~` strikes through).
_MD_INLINE = re.compile(r"([\\`*\[\]|~])")
# `_` only emphasises at a word boundary; `snake_case` stays readable.
_MD_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
# `&` only matters where it would start an entity such as `&lt;`.
_MD_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
# Block syntax that only counts at the start of a line (or of a list item's text).
_MD_LEADING = re.compile(r"^([#>+=-])")
_MD_ORDERED = re.compile(r"^(\d+)([.)])")


def markdown(value: Any) -> str:
    """Text for a Markdown paragraph, list item or table cell (GitHub flavour)."""
    text = oneline(value)
    text = _MD_ENTITY.sub("&amp;", text)
    text = _MD_INLINE.sub(r"\\\1", text)
    text = _MD_UNDERSCORE.sub(r"\\_", text)
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_ORDERED.sub(r"\1\\\2", text)
    return _MD_LEADING.sub(r"\\\1", text)


# Mermaid entity codes (`#quot;`, `#35;`), one pass so codes are not escaped again.
# Inside a quoted label brackets, pipes and semicolons are literal; these are not:
# `"` ends the label, `#` starts a code, `<`/`&` would reach the SVG as markup, and a
# leading backtick turns the label into Markdown.
_MERMAID = {
    "#": "#35;",
    "&": "#amp;",
    '"': "#quot;",
    "<": "#lt;",
    ">": "#gt;",
    "`": "#96;",
    "%": "#37;",  # `%%` starts a comment
}
_MERMAID_CHARS = re.compile("[" + re.escape("".join(_MERMAID)) + "]")


def mermaid(value: Any) -> str:
    """Text for inside a quoted Mermaid label: `A["…"]`."""
    return _MERMAID_CHARS.sub(lambda m: _MERMAID[m.group()], oneline(value))


def mermaid_id(value: Any) -> str:
    """A Mermaid node id from a registry id (lowercase slug): hyphens become underscores."""
    return re.sub(r"[^A-Za-z0-9_]", "_", str(value))


def dot(value: Any) -> str:
    """Text for inside a double-quoted Graphviz string: `label="…"`."""
    return oneline(value).replace("\\", "\\\\").replace('"', '\\"')


FILTERS: dict[str, Callable[[Any], str]] = {
    "oneline": oneline,
    "plain": plain,
    "md": markdown,
    "mermaid": mermaid,
    "mermaid_id": mermaid_id,
    "dot": dot,
}

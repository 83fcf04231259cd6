"""Escaping registry text for each output language, as Jinja filters.

Names, titles and descriptions come from people, so any of them may hold a
pipe, a bracket, a quote or `<script>`. HTML is escaped by Jinja's autoescape
(templates whose name contains `.html`); every other language has its filter
here, and templates apply it to every value they did not write themselves.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from kpictl.registry.characters import CONTROL, FORMAT, SEPARATORS, compiled

# The character classes below are text, compiled on first use (`compiled`): compiling
# them all cost every `kpictl check` about 20M instructions, and a clean registry's text
# is printable, which `visible` and `oneline` answer without them.
# Control characters but tab (a tab is white space, below), and the format characters
# that kpictl.registry.characters says nobody can see.
_CONTROL = f"[\x00-\x08\x0a-\x1f\x7f-\x9f{FORMAT}]"
# Lone surrogates: the bytes of a file name that is not UTF-8 (surrogateescape).
_SURROGATE = "[\ud800-\udfff]"


def oneline(value: Any) -> str:
    """Text on one line: newlines and runs of white space become one space.

    A byte that is not UTF-8 is spelled out (`\\xff`): written raw it would be invalid
    UTF-8, and dropped the name would no longer be the file's.
    """
    text = str(value)
    if not text.isprintable():
        text = compiled(_CONTROL).sub(" ", compiled(_SURROGATE).sub(_spell, text))
    # str.split() splits at the white space `\s` matches (str.isspace), dropping empties.
    return " ".join(text.split())


# What `visible` spells out: the controls (tab included: one line stays one line), the
# format characters and line separators, lone surrogates (the bytes of a file name that
# is not UTF-8, which no encoder takes), the byte-order mark and the two non-characters
# that XML 1.0 forbids. None of them is printable (str.isprintable).
_INVISIBLE = f"[{CONTROL}{FORMAT}{SEPARATORS}\ud800-\udfff\ufeff\ufffe\uffff]"
# What json.dumps(ensure_ascii=False) leaves raw of those (it escapes C0 itself; a
# raw newline in its output is indentation, not data).
_JSON_RAW = f"[\x7f-\x9f{FORMAT}{SEPARATORS}\ud800-\udfff\ufffe\uffff]"
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _spell(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if char in _NAMED:
        return _NAMED[char]
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the original byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(value: Any) -> str:
    """Text with every control character spelled out (`\\x1b`, `\\n`), for reports.

    Unlike `plain`, nothing is lost: a file name with a newline, an escape sequence
    or a carriage return reads back as what it is, on one line, and can neither move
    the cursor of a terminal nor start a new line that a CI runner would obey.
    """
    text = str(value)
    return text if text.isprintable() else compiled(_INVISIBLE).sub(_spell, text)


# GitHub's runner reads a step's output line by line (a line ends at \r or \n) and
# obeys `::command::` at the start of a line after leading white space, and the older
# `##[command]` anywhere in a line (actions/runner, ActionCommand.TryParseV2/TryParse).
# A terminal view's colour codes (SGR) count as white space there: a log viewer that
# drops them would see the line start with `::`.
_LINE_START_COMMAND = r"(^|[\r\n])((?:\s|\x1b\[[0-9;]*m)*):(?=:)"


def defuse(text: str, sharp: str = "\\#") -> str:
    """Text in which no line can run a CI workflow command, whatever values it holds.

    `##[` becomes `#` + `sharp` + `[` and a leading `::` becomes `:\\:`, which read the
    same to a person and render the same in Markdown (a backslash escapes
    punctuation). JSON passes `sharp="\\u0023"` and XML `"&#35;"`, the same text to
    their readers; their lines never start with `:`. Applied to a whole report, not
    to each value: two harmless values can meet to form `##[`, and a value can start
    a line.
    """
    return compiled(_LINE_START_COMMAND).sub(r"\1\2:\\", text.replace("##[", f"#{sharp}["))


def defuse_text(text: str) -> str:
    """Free text (an email preview) for a terminal or a CI log: control characters
    spelled out line by line, and no line that can run a workflow command."""
    return defuse("\n".join(visible(line) for line in text.split("\n")))


# What an HTML page must not show: controls but tab and newline (which HTML reads as
# white space), the format characters and the two non-characters.
_HTML_HIDDEN = f"[\x00-\x08\x0b-\x1f\x7f-\x9f{FORMAT}\ufffe\uffff]"


def html_text(value: Any) -> Any:
    """A value for an HTML page, before autoescape: no control or format character.

    A byte that is not UTF-8 is spelled out (`\\xff`); anything but text is returned
    as it is, and markup stays markup (its type is kept).
    """
    if not isinstance(value, str):
        return value
    if value.isprintable():
        return value
    cleaned = compiled(_HTML_HIDDEN).sub("", compiled(_SURROGATE).sub(_spell, value))
    return value if cleaned == value else type(value)(cleaned)


JSON_SHARP = "\\u0023"  # `#` in a JSON string, for defuse
XML_SHARP = "&#35;"  # `#` in XML text or an attribute, for defuse


def json_text(data: Any, **options: Any) -> str:
    """`json.dumps(data, ensure_ascii=False)`, with nothing invisible left raw.

    json escapes C0 controls itself but passes C1 controls (`\\x9b` is a CSI to some
    terminals), bidirectional overrides, line separators and lone surrogates through;
    those become `\\uXXXX` escapes, which is the same JSON value. A nan or infinity
    becomes its text (`"nan"`): json.dumps would write NaN or Infinity, which are not
    JSON, and strict readers reject the whole document.
    """
    import json

    from kpictl.templating.narrow import json_ascii

    # On standard output that cannot carry UTF-8, `\uXXXX` escapes keep every character.
    options.setdefault("ensure_ascii", json_ascii())
    text = json.dumps(_finite(data), allow_nan=False, **options)
    raw = compiled(_JSON_RAW)
    return defuse(raw.sub(lambda match: f"\\u{ord(match.group()):04x}", text), JSON_SHARP)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


_CONTROL_BUT_NEWLINE = f"[\x00-\x08\x0b-\x1f\x7f-\x9f{FORMAT}]"


def multiline(value: Any) -> str:
    """Text that keeps its line breaks (as \\n) and loses every other control character."""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return compiled(_CONTROL_BUT_NEWLINE).sub("", text)


def plain(value: Any) -> str:
    """Text for a terminal or a .txt file: one line, no control characters."""
    return oneline(value)


# What makes a spreadsheet read a cell as a formula (OWASP, "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet(value: Any) -> Any:
    """A CSV cell that Excel or Sheets shows as text and never evaluates.

    Text starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading
    `'`, as OWASP recommends; numbers and everything else are left as they are, so
    a negative number stays a number.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


# Characters that start Markdown syntax anywhere in a line (GitHub flavour included:
# `|` ends a table cell, `~` strikes through).
_MD_INLINE = r"([\\`*\[\]|~])"
# `_` only emphasises at a word boundary; `snake_case` stays readable.
_MD_UNDERSCORE = r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])"
# `&` only matters where it would start an entity such as `&lt;`.
_MD_ENTITY = r"&(?=#?[A-Za-z0-9]+;)"
# Block syntax that only counts at the start of a line (or of a list item's text).
_MD_LEADING = r"^([#>+=-])"
_MD_ORDERED = r"^(\d+)([.)])"


def markdown(value: Any) -> str:
    """Text for a Markdown paragraph, list item or table cell (GitHub flavour)."""
    text = oneline(value)
    text = compiled(_MD_ENTITY).sub("&amp;", text)
    text = compiled(_MD_INLINE).sub(r"\\\1", text)
    text = compiled(_MD_UNDERSCORE).sub(r"\\_", text)
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    text = compiled(_MD_ORDERED).sub(r"\1\\\2", text)
    return compiled(_MD_LEADING).sub(r"\\\1", text)


def mrkdwn(value: Any) -> str:
    """Text for Slack mrkdwn: one line, `&`, `<`, `>` as entities, so no `<url|link>`,
    `<!channel>` or `<@user>` can come from registry text."""
    return oneline(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# What Adaptive Card TextBlocks (Teams) read as Markdown: link brackets, emphasis, code
# and autolinks anywhere, headings and list markers at the start. Only these are
# escaped, because Teams clients differ in how they show a backslash before others.
_CARD_MARKUP = re.compile(r"([\\`*_~\[\]<>])")
_CARD_LEADING = re.compile(r"^([-+#]|\d+(?=\.))")


def card_text(value: Any) -> str:
    """Text for an Adaptive Card TextBlock: one line, no emphasis, link or list markup."""
    text = _CARD_MARKUP.sub(r"\\\1", oneline(value))
    return _CARD_LEADING.sub(lambda m: m[1] + "\\" if m[1][0].isdigit() else "\\" + m[1], text)


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
_MERMAID_CHARS = "[" + re.escape("".join(_MERMAID)) + "]"


def mermaid(value: Any) -> str:
    """Text for inside a quoted Mermaid label: `A["…"]`."""
    return compiled(_MERMAID_CHARS).sub(lambda m: _MERMAID[m.group()], oneline(value))


def mermaid_id(value: Any) -> str:
    """A Mermaid node id from a registry id (lowercase slug): hyphens become underscores."""
    return re.sub(r"[^A-Za-z0-9_]", "_", str(value))


def dot(value: Any) -> str:
    """Text for inside a double-quoted Graphviz string: `label="…"`."""
    return oneline(value).replace("\\", "\\\\").replace('"', '\\"')


FILTERS: dict[str, Callable[[Any], str]] = {
    "oneline": oneline,
    "plain": plain,
    "visible": visible,
    "md": markdown,
    "mermaid": mermaid,
    "mermaid_id": mermaid_id,
    "dot": dot,
}

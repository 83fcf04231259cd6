"""What a terminal or pipe that cannot show every character gets instead.

Under an ASCII or Latin-1 locale (`PYTHONIOENCODING=ascii`, a minimal container's
`LANG=C`) the first "·" or accented name would otherwise fail the whole command.
Text for people gets a readable stand-in ("·" as "-", a tree's "├─" as "+-",
"Zoë" as "Zoe"); JSON is written with `\\uXXXX` escapes instead, which lose nothing.
Files written with `-o` are UTF-8 whatever the locale.
"""

from __future__ import annotations

import codecs
import contextlib
import unicodedata
from typing import TextIO

HANDLER = "kpictl-look-alike"
# Set by `tolerate` for this process's standard output (the CLI is the one caller).
_json_ascii = False

_BLOCKS = "▁▂▃▄▅▆▇█"
_BLOCKS_ASCII = "_.-~=+*#"  # display.SPARK_ASCII: a sparkline's ASCII heights
_TABLE = {
    **dict(zip(_BLOCKS, _BLOCKS_ASCII, strict=True)),
    "·": "-",
    "•": "*",
    "—": "--",
    "\u2013": "-",
    "…": "...",
    "→": "->",
    "←": "<-",
    "↑": "^",
    "↓": "v",
    "▲": "^",
    "▼": "v",
    "├": "+",
    "└": "`",
    "┌": "+",
    "┐": "+",
    "┘": "+",
    "┬": "+",
    "┴": "+",
    "┤": "+",
    "┼": "+",
    "│": "|",
    "─": "-",
    "“": '"',
    "”": '"',
    "\u2018": "'",
    "\u2019": "'",
    "\u00d7": "x",
    "±": "+/-",
    "≤": "<=",
    "≥": ">=",
    "≠": "!=",
    "✓": "ok",
    "✗": "x",
    "€": "EUR",
    "£": "GBP",
    "\u00a0": " ",
    "\u202f": " ",
}


def is_narrow(stream: object) -> bool:
    """Whether `stream` has an encoding that cannot carry every character (not UTF)."""
    encoding = getattr(stream, "encoding", None)
    if not isinstance(encoding, str):
        return False  # not a text stream kpictl writes to: nothing to stand in for
    return not encoding.lower().replace("_", "-").startswith("utf")


def look_alike(char: str) -> str:
    """An ASCII stand-in for one character: a look-alike, its letter without accents, or ?."""
    if char in _TABLE:
        return _TABLE[char]
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    return base if base and base.isascii() and base.isprintable() else "?"


def _handle(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start : error.end]
    return "".join(look_alike(char) for char in text), error.end


def tolerate(stream: TextIO) -> None:
    """Give standard output `stream`, if narrow, stand-ins instead of encoding errors.

    Standard error already escapes what it cannot carry (`\\xe9`).
    """
    global _json_ascii
    _json_ascii = is_narrow(stream)
    if not _json_ascii or not hasattr(stream, "reconfigure"):
        return
    try:
        codecs.lookup_error(HANDLER)
    except LookupError:
        codecs.register_error(HANDLER, _handle)
    with contextlib.suppress(ValueError, OSError):  # detached: leave it as it is
        stream.reconfigure(errors=HANDLER)


def json_ascii() -> bool:
    """Whether JSON must escape every non-ASCII character: standard output is narrow."""
    return _json_ascii

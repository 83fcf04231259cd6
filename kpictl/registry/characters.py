"""Which characters nobody can see: the one answer for what `check` refuses in a one-line
text (a name, a title, a term) and what every output drops or spells out
(kpictl.templating.escaping). When the two disagreed, a name passed `check` with a
zero-width space and came out of every view without it.

The sets are regular-expression character classes, kept as text: compiling classes
this wide costs `kpictl check` a few million instructions at start-up, so each user
compiles its class (`compiled`) when a text first holds something unprintable.
"""

from __future__ import annotations

import functools
import re

# C0 and C1 control characters and DEL.
CONTROL = "\x00-\x1f\x7f-\x9f"
# Format characters that show nothing yet change what a reader sees: the bidirectional
# marks, embeddings, overrides and isolates (which can show text in an order other than
# the bytes'), the zero-width space, word joiner and invisible operators, the deprecated
# format characters and the interlinear annotation marks. Zero-width (non-)joiners stay:
# Persian, Indic scripts and emoji need them.
FORMAT = "\u061c\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u206f\ufff9-\ufffb"
# The Unicode line and paragraph separators: a line break to any reader that knows them.
SEPARATORS = "\u2028\u2029"
# What a one-line text may not hold: `check` reports it (S001); outputs drop it.
NOT_IN_ONE_LINE = f"[{CONTROL}{SEPARATORS}{FORMAT}]"


@functools.cache
def compiled(pattern: str) -> re.Pattern[str]:
    """`pattern` compiled once, on first use (the re module's own cache may evict it)."""
    return re.compile(pattern)


def first_unseen(text: str) -> re.Match[str] | None:
    """The first character of `text` a one-line text may not hold, or None.

    Every such character is unprintable (tests/test_one_line_text.py holds that), so
    printable text, nearly every name, is answered without the expression.
    """
    if text.isprintable():
        return None
    return compiled(NOT_IN_ONE_LINE).search(text)

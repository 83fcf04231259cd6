"""Reading SQL text without a parser: how many statements, and the first keyword.

For databases kpictl cannot parse SQL for (all but DuckDB, whose own parser decides):
quotes, `$tag$` bodies and comments are skipped, so a `;` or a keyword inside them
counts for nothing.
"""

from __future__ import annotations

import re

_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_WORD = re.compile(r"[A-Za-z_]+")
ONLY_SELECT = "kpictl runs only SELECT queries, which never write"
# What a query may start with: SELECT, WITH (a CTE, then SELECT) or VALUES.
READING = ("SELECT", "WITH", "VALUES")


def _after_comment(sql: str, i: int) -> int | None:
    """Where the comment starting at `i` ends (past it); -1 if it never does; None if
    no comment starts at `i`. Block comments nest, as PostgreSQL's do."""
    if sql.startswith("--", i):
        end = sql.find("\n", i)
        return len(sql) if end < 0 else end + 1
    if not sql.startswith("/*", i):
        return None
    depth, i, n = 1, i + 2, len(sql)
    while depth and i < n:
        if sql.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif sql.startswith("*/", i):
            depth, i = depth - 1, i + 2
        else:
            i += 1
    return -1 if depth else i


def statements(sql: str, backslash_escapes: bool = False) -> int:
    """How many statements `sql` holds.

    Counts the `;` outside '...' strings, "..." and `...` names, $tag$...$tag$ bodies,
    -- and /* */ comments, then adds one unless only blanks and comments follow the
    last. An unterminated quote or comment counts as one more statement (refused).

    Where a string ends depends on the database: a backslash escapes a quote in
    PostgreSQL's E'...' strings always, and in every string of MySQL and its kin
    (`backslash_escapes`). `one_statement` asks both ways.
    """
    count, i, n, pending = 0, 0, len(sql), False
    while i < n:
        char = sql[i]
        if char in "'\"`":
            escapes = (backslash_escapes and char != "`") or (char == "'" and _e_string(sql, i))
            end = _string_end(sql, i, escapes)
            if end < 0:
                return count + 2
            i, pending = end + 1, True
        elif (after := _after_comment(sql, i)) is not None:
            if after < 0:
                return count + 2
            i = after
        elif char == "$" and not _in_word(sql, i) and (tag := _DOLLAR_TAG.match(sql, i)):
            # `x$a$` is a name, not the start of a $a$ body (PostgreSQL's own rule).
            end = sql.find(tag[0], tag.end())
            if end < 0:
                return count + 2
            i, pending = end + len(tag[0]), True
        elif char == ";":
            count, pending, i = count + 1, False, i + 1
        else:
            pending = pending or not char.isspace()
            i += 1
    return count + (1 if pending or count == 0 else 0)


def one_statement(sql: str) -> str | None:
    """Why `sql` is not one statement on every reading of its strings, or None."""
    count = statements(sql)
    if count != 1:
        return more_than_one(count)
    if statements(sql, backslash_escapes=True) != 1:
        return (
            "has a backslash before a quote, which some databases read as an escape: where "
            "the statement ends is unclear, so nothing was run (write '' for a quote)"
        )
    return None


def more_than_one(count: int) -> str:
    return (
        f"holds {count} statements: a query is one SELECT statement (a `;` may only end "
        "it), so nothing was run"
    )


def _string_end(sql: str, start: int, escapes: bool) -> int:
    """The index of the quote closing the string or name opened at `start`, or -1."""
    quote, i, n = sql[start], start + 1, len(sql)
    while i < n:
        if escapes and sql[i] == "\\":
            i += 2
        elif sql[i] == quote:
            if not sql.startswith(quote, i + 1):  # '' inside a string is one quote
                return i
            i += 2
        else:
            i += 1
    return -1


def _in_word(sql: str, i: int) -> bool:
    """Whether the character before `i` continues a name (letters, digits, _ or $)."""
    return i > 0 and (sql[i - 1].isalnum() or sql[i - 1] in "_$")


def _e_string(sql: str, i: int) -> bool:
    """Whether the quote at `i` opens PostgreSQL's E'...' (escapes with backslashes)."""
    return i > 0 and sql[i - 1] in "eE" and not _in_word(sql, i - 1)


def first_keyword(sql: str) -> str:
    """The first word of `sql` in capitals, after blanks, comments and `(` ("" if none)."""
    i, n = 0, len(sql)
    while i < n:
        if sql[i].isspace() or sql[i] == "(":
            i += 1
        elif (after := _after_comment(sql, i)) is not None:
            if after < 0:
                return ""
            i = after
        else:
            break
    word = _WORD.match(sql, i)
    return word[0].upper() if word else ""

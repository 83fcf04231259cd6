"""Database URLs from kpictl.yaml: which one, with secrets from the environment, never shown.

One answer for every database kpictl opens: the `connections:` that `kpictl pull`
queries and the `store:` that keeps history. A URL names its secrets as `${NAME}`;
they are filled in from the environment only when kpictl connects, and every text
that could carry them (a driver's error message, a URL) goes through `redact` before
anyone sees it.

No SQLAlchemy here: `kpictl check` imports this module's settings without it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote, unquote

from kpictl.registry.config import ENV_REFERENCE, QUERY_SECRET, Settings

DEFAULT_STORE = "sqlite:///.kpictl/store.db"
STORE_VARIABLE = "KPICTL_STORE"
HIDDEN = "***"
BROKEN_SETTINGS = (
    "`{key}:` in kpictl.yaml has errors, so the {key} it names cannot be known: run "
    "`kpictl check` and fix it first"
)
# Embedded databases whose `scheme:///path` is a file; a relative path is the registry's.
# SQLAlchemy reads `sqlite://@/x.db` (an empty user) as `sqlite:///x.db`: the same file.
_FILE_SCHEMES = re.compile(r"(sqlite|duckdb)(\+[a-z0-9_]+)?://(?:[^/?#]*@)?/(?!/)", re.IGNORECASE)
_IN_MEMORY = ("", ":memory:")
# The password of `scheme://user:password@host`, in any text a driver prints.
_URL_PASSWORD = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)([^@\s/]+)(@)")
# What URL parsing splits a value at: a secret holding one shows up in pieces.
_URL_DELIMITERS = re.compile(r"[?&=#/@:;%\s]+")
# A piece shorter than this is hidden only as part of a longer form: hiding every `db`
# or `ab` would blank out the rest of the message.
_SHORTEST_PIECE = 4


class ConnectError(Exception):
    """A database cannot be reached as configured; the message names it and what to do."""


class UnknownStoreError(ConnectError):
    """kpictl.yaml has errors: the store it names is unknown (commands that can do
    without a store, such as `kickoff`, go on without one)."""


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    """A URL ready to connect with, and the secrets it holds (to hide them from output)."""

    name: str  # the connection's name, or "store"
    url: str
    secrets: tuple[str, ...]

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)

    def __repr__(self) -> str:  # a URL object in a traceback must not show its password
        return f"DatabaseUrl(name={self.name!r}, url={redact(self.url, self.secrets)!r})"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every secret (in every form it may take) and any URL password hidden.

    A URL password is `user:password@`, or a query value named like a secret
    (`?password=`, `&api_key=`: config.QUERY_SECRET), whatever the case.
    """
    for form in _forms(tuple(sorted({s for s in secrets if s}))):
        text = text.replace(form, HIDDEN)
    text = _URL_PASSWORD.sub(rf"\g<1>{HIDDEN}\g<3>", text)
    return QUERY_SECRET.sub(rf"\g<1>{HIDDEN}", text)


@lru_cache(maxsize=64)
def _forms(secrets: tuple[str, ...]) -> tuple[str, ...]:
    """Every text a secret may appear as in a message, longest first.

    A value is substituted into a URL raw, so what a driver or SQLAlchemy says may
    carry it percent-decoded (`%42` read as `B`), percent-encoded, spelled out by
    `visible` (a newline as `\\n`), or split where URL parsing cuts it (`ab&LEAK=1`
    read as two query parameters): each of those, and each piece of 4 or more
    characters, is hidden.
    """
    from kpictl.templating.escaping import visible

    found: set[str] = set()
    for secret in secrets:
        whole = {secret, unquote(secret), quote(secret, safe=""), quote(secret)}
        whole |= {visible(form) for form in whole}
        found |= whole
        for form in whole:
            found.update(
                piece for piece in _URL_DELIMITERS.split(form) if len(piece) >= _SHORTEST_PIECE
            )
    found.discard("")
    return tuple(sorted(found, key=lambda form: (-len(form), form)))


def expand(
    name: str, template: str, root: Path, environ: Mapping[str, str] | None = None
) -> DatabaseUrl:
    """The URL `template` with `${NAME}` filled in from `environ`, file paths made absolute.

    A value that lands in the user and password part is percent-encoded, so a password
    holding `@` or `/` still makes one URL. Raises ConnectError naming an unset variable.
    """
    environ = os.environ if environ is None else environ
    userinfo_end = _userinfo_end(template)
    secrets: list[str] = []
    parts: list[str] = []
    last = 0
    for match in ENV_REFERENCE.finditer(template):
        variable = match[1]
        value = environ.get(variable)
        if value is None:
            raise ConnectError(
                f"{_what(name)} needs the environment variable {variable}, which is not set: "
                f"set it (a CI secret, or `export {variable}=...` in your shell)"
            )
        secrets.append(value)
        parts.append(template[last : match.start()])
        parts.append(quote(value, safe="") if match.start() < userinfo_end else value)
        last = match.end()
    parts.append(template[last:])
    return DatabaseUrl(name, _absolute("".join(parts), root), tuple(secrets))


def connection_url(
    settings: Settings, name: str, root: Path, environ: Mapping[str, str] | None = None
) -> DatabaseUrl:
    """The URL of the connection `name` from kpictl.yaml (check has vetted the name)."""
    connection = settings.connections.get(name)
    if connection is None:
        known = ", ".join(sorted(settings.connections)) or "none are defined"
        raise ConnectError(f"there is no connection '{name}' in kpictl.yaml ({known})")
    return expand(name, connection.url, root, environ)


def store_url(
    settings: Settings, root: Path, environ: Mapping[str, str] | None = None
) -> DatabaseUrl:
    """Where history lives: KPICTL_STORE, else `store:` in kpictl.yaml, else the default."""
    environ = os.environ if environ is None else environ
    from_environment = environ.get(STORE_VARIABLE)
    if from_environment:
        # The variable holds the whole URL, password included: all of it is secret-bearing.
        url = _absolute(from_environment, root)
        return DatabaseUrl("store", url, _written_secrets(url))
    if settings.unknown("store"):
        # The defaults would be another store: a shared one's escalations sent again.
        raise UnknownStoreError(BROKEN_SETTINGS.format(key="store"))
    return expand("store", settings.store or DEFAULT_STORE, root, environ)


def _written_secrets(url: str) -> tuple[str, ...]:
    """The secrets of a URL written out in full (KPICTL_STORE), however it is written.

    A password that is not percent-encoded is read differently by each parser: the
    password SQLAlchemy connects with, everything up to the last `@` (`pa@ss`), and
    a query secret with all that follows it (`password=ab&LEAK=1` is one secret to
    the user, two parameters to the parser) are all hidden.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    found: list[str] = []
    head = re.split(r"[?#]", url, maxsplit=1)[0]
    scheme_end = head.find("://")
    at_sign = head.rfind("@")
    if 0 <= scheme_end < at_sign:
        userinfo = head[scheme_end + 3 : at_sign]
        if ":" in userinfo:
            found.append(userinfo.split(":", 1)[1])
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # the store says so when it opens the URL
        parsed = None
    if parsed is not None and parsed.password:
        found.append(str(parsed.password))
    if parsed is not None and parsed.host and "@" in parsed.host:
        # SQLAlchemy cut `pa@ss@host` at the first `@`: the rest of the password leads
        # its host name, which a driver's message quotes (`'ss@127.0.0.1'`).
        found.append(parsed.host[: parsed.host.rfind("@") + 1])
    found += [url[match.start(2) :].split("#", 1)[0] for match in QUERY_SECRET.finditer(url)]
    return tuple(dict.fromkeys(secret for secret in found if secret))


def _userinfo_end(template: str) -> int:
    """Where the `user:password@` part of a URL template ends (0 when it has none)."""
    scheme_end = template.find("://")
    if scheme_end < 0:
        return 0
    start = scheme_end + 3
    authority_end = len(template)
    for stop in "/?#":
        at = template.find(stop, start)
        if at >= 0:
            authority_end = min(authority_end, at)
    at_sign = template.rfind("@", start, authority_end)
    return at_sign if at_sign >= 0 else 0


def _absolute(url: str, root: Path) -> str:
    """`sqlite:///relative.db` (or duckdb) as a path below `root`; other URLs as they are."""
    match = _FILE_SCHEMES.match(url)
    if match is None:
        return url
    rest = url[match.end() :]
    path, query = rest.split("?", 1) if "?" in rest else (rest, None)
    if path in _IN_MEMORY:
        return url
    absolute = (root / path).as_posix()
    return f"{url[: match.end()]}{absolute}" + (f"?{query}" if query is not None else "")


def _what(name: str) -> str:
    return "the store URL" if name == "store" else f"connection '{name}'"

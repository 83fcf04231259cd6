"""What keeps a DuckDB or SQLite connection of `kpictl pull` inside the registry, and bounded.

A pull runs SQL that a pull request may have written, in the CI job that holds the
secrets. DuckDB is locked down by `queries.Database` (files below the registry only,
no extensions, read-only); this module decides everything DuckDB is told before
that lock-down runs, where a registry could otherwise steer it:

- The URL's query (`?temp_directory=/`, `?access_mode=read_write`): the DuckDB
  dialect applies it after kpictl's own settings, so any of it is refused.
- The database file (DuckDB's and SQLite's alike): below the registry, a regular
  file that exists: not a link (to a database outside), not a FIFO (opening it
  blocks before any time limit can act), judged as SQLAlchemy decodes the URL.
- The temp folder: DuckDB's default, `.tmp` beside the database (the registry),
  is added to the folders a query may read, so a committed `.tmp -> /proc/self`
  would show the environment. kpictl gives DuckDB a private folder instead, with
  a size limit, and a memory limit per connection.
- Memory outside DuckDB's accounting: `memory_limit` does not count every
  allocation (`repeat('x', 4000000000)` builds a 4 GB string past a 1 GB limit).
  A process-wide address-space limit would catch it, but also fails ordinary
  queries on small machines (thread stacks and malloc arenas reserve far more than
  they use), so that bound is the job's: a container memory limit or `ulimit -v`.
- Special files: a FIFO, device or socket anywhere in the registry would block a
  query that opens it (`read_csv('warehouse/pipe.csv')`) where no cancel reaches:
  a registry holding one is refused before the first query.

No DuckDB here, and SQLAlchemy only to read a URL as it will be opened.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from kpictl.fileio import NotRegularFileError, refuse_unless_regular

# Memory each DuckDB connection may use (DuckDB's `memory_limit`): at most 1 GiB, and
# together at most half the machine's memory, so a runaway query fails with DuckDB's
# own out-of-memory error instead of taking the machine. Never below 64 MiB.
MEMORY_CAP = 1 << 30
MEMORY_FLOOR = 64 << 20
# What DuckDB may spill to its private temp folder, per pull.
TEMP_LIMIT = "4GiB"

_SPECIAL = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class Refused(Exception):
    """DuckDB is not started: the message says why and what to do."""


def memory_limit(workers: int) -> int:
    """Bytes of memory one DuckDB connection may use, when `workers` run at once."""
    physical = _physical_memory() or 2 * MEMORY_CAP * max(1, workers)
    return max(MEMORY_FLOOR, min(MEMORY_CAP, physical // 2 // max(1, workers)))


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # no sysconf (Windows)
        return 0


# An embedded database's name in messages, and an example of a URL it takes.
_KINDS = {
    "duckdb": ("DuckDB", "duckdb:///warehouse.duckdb"),
    "sqlite": ("SQLite", "sqlite:///warehouse.db"),
}


def database_file(url: str, root: Path, redact: Callable[[str], str] = str) -> str:
    """The file a DuckDB or SQLite `url` opens: ':memory:' or a regular file below `root`.

    `url` has its relative path made absolute already (connections.expand). The path
    judged is the one SQLAlchemy opens (`make_url(url).database`, percent-escapes
    decoded: `%2e%2e` is `..` to it), and the caller opens exactly that path, never
    the URL again. A secret from `${NAME}` in the path is hidden (`redact`) before a
    message spells anything out.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    kind, example = _KINDS[url.split(":", 1)[0].split("+", 1)[0].lower()]
    if "?" in url:
        name = _visible(redact(url.split("?", 1)[1]).split("=", 1)[0])
        raise Refused(
            f"refused: the {kind} URL has query parameters (?{name}=...): "
            f"kpictl sets {kind}'s settings itself (read-only, files below the registry): remove "
            "them from the URL in kpictl.yaml"
        )
    try:
        database = make_url(url).database or ""
    except ArgumentError as exc:
        raise Refused(f"the {kind} URL cannot be read: {redact(str(exc))}") from None
    if database in ("", ":memory:"):
        return ":memory:"
    if database.startswith(":memory:") and kind == "DuckDB":
        return database  # a named in-memory database: no file either
    path = Path(database)
    real_root = root.resolve()
    shown = _shown(path, root, redact)
    inside = os.path.realpath(path.parent)
    if not path.is_absolute() or not (
        inside == str(real_root) or inside.startswith(f"{real_root}{os.sep}")
    ):
        raise Refused(
            f"refused: the {kind} file {shown} is outside the registry: kpictl opens only a "
            f"database file below the registry folder ({example})"
        )
    try:
        status = refuse_unless_regular(path)
    except NotRegularFileError as exc:
        raise Refused(
            f"refused: the {kind} file {shown} is {exc.kind}, not a regular file: put the "
            "database file itself there"
        ) from None
    except OSError as exc:
        raise Refused(f"the {kind} file {shown} cannot be read: {exc.strerror}") from None
    if status is None:
        raise Refused(
            f"the {kind} file {shown} does not exist: create it, or fix the path in "
            "kpictl.yaml (relative to the registry)"
        )
    return database


def refuse_special_files(root: Path) -> None:
    """Raise Refused when the registry holds a FIFO, device or socket (links not followed)."""
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in (*dirs, *files):
            place = os.path.join(folder, name)  # noqa: PTH118
            try:
                mode = os.lstat(place).st_mode
            except OSError:
                continue  # gone meanwhile: nothing DuckDB could open
            kind = next((word for test, word in _SPECIAL if test(mode)), None)
            if kind is not None:
                shown = _shown(Path(place), root)
                raise Refused(
                    f"refused: the registry holds {kind} at {shown}, which a query reading "
                    "it would wait on forever: remove it (DuckDB queries are not run while "
                    "it is there)"
                )


def _shown(path: Path, root: Path, redact: Callable[[str], str] = str) -> str:
    """`path` for a message: relative to the registry, secrets hidden, then made visible
    (in that order: a secret holding a newline is found only before it is spelled out)."""
    try:
        text = path.relative_to(root).as_posix()
    except ValueError:
        text = path.as_posix()
    return _visible(redact(text))


def _visible(text: str) -> str:
    from kpictl.templating.escaping import visible

    return visible(text)


def readable(root: Path) -> tuple[list[str], list[str]]:
    """What a DuckDB query may read: the registry's visible folders and files (DuckDB's
    `allowed_directories` and `allowed_paths`), as absolute paths.

    Not the registry folder as a whole: when it is the repository's top, `.git/config`
    holds the token `actions/checkout` leaves there, and a hidden folder (`.git`,
    `.kpictl`, `.github`) holds nothing a KPI counts. Links are left out too: a link
    names a place outside the registry as easily as inside it.
    """
    folders: list[str] = []
    files: list[str] = []
    top = root.resolve()
    try:
        entries = sorted(os.scandir(top), key=lambda entry: entry.name)
    except OSError:
        return folders, files
    for entry in entries:
        if entry.name.startswith(".") or entry.is_symlink():
            continue
        if entry.is_dir(follow_symlinks=False):
            folders.append(f"{top.as_posix()}/{entry.name}/")
        elif entry.is_file(follow_symlinks=False):
            files.append(f"{top.as_posix()}/{entry.name}")
    return folders, files

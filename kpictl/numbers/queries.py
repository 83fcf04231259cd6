"""Running one `actual:` or `freshness:` query safely, and reading its one answer.

What every query gets, whatever the database:

- Its SQL goes through `sqlalchemy.text()` with the bind parameters `:period_start`,
  `:period_end`, `:as_of` and `:campaign` (NULL outside a campaign run); kpictl
  never formats a value into SQL text.
- One statement only, refused before anything is sent: DuckDB's own parser counts
  the statements and says what kind each is (only SELECT runs); for every other
  database a small lexer (`statements`) finds a `;` outside quotes, quoted names,
  dollar-quoted bodies and comments. A trailing `;` is fine. The lexer errs on the
  side of refusing: a backslash-escaped quote (MySQL) can make it see a second
  statement that is not there, never miss one that is. That statement must start
  (after comments and `(`) with SELECT, WITH or VALUES: `COPY ... TO PROGRAM`
  would run even in a read-only transaction.
- A transaction that is always rolled back; on PostgreSQL a READ ONLY one, so a
  write is refused by the server, with `statement_timeout` set inside it; SQLite
  connections are `query_only` (its DDL would outlive the rollback).
- A time limit: past it the query is cancelled (DuckDB `interrupt()`, the driver's
  `cancel()` elsewhere) and reported as timed out.
- DuckDB is locked down before the first query: it reads files below the registry
  folder only (`allowed_directories`, `enable_external_access = false`, locked),
  never installs or loads extensions, opens a database file read-only, and relative
  file names resolve against the registry (the caller runs queries from there).
  What DuckDB is told before that (never the URL's settings; the database file; a
  private temp folder; memory) is decided in `numbers.confinement`.

Every message that leaves this module has been through the URL's `redact`.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from kpictl.numbers.connections import DatabaseUrl
from kpictl.numbers.sql_text import (
    ONLY_SELECT,
    READING,
    first_keyword,
    more_than_one,
    one_statement,
)
from kpictl.registry.bounds import value_problem

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, CursorResult, Engine
    from sqlalchemy.sql.elements import TextClause

# A bind parameter's value: the dates, and `:campaign` (a campaign id, or None).
Param = date | str | None

SHAPE = "a query returns exactly one row with a numeric column `value`"


class QueryFailed(Exception):
    """One query could not give its answer; the message is safe to show (redacted)."""


# --- one statement -----------------------------------------------------------------------


def _server_refusal(sql: str) -> str | None:
    """Why a database kpictl cannot parse SQL for must not run `sql`, or None."""
    refusal = one_statement(sql)
    if refusal is not None:
        return refusal
    word = first_keyword(sql)
    if word in READING:
        return None
    if not word:
        return f"does not start with SELECT or WITH: {ONLY_SELECT}"
    return f"is {_article(word)} {word} statement: {ONLY_SELECT}"


def _article(name: str) -> str:
    return "an" if name[0] in "AEIOU" else "a"


def _duckdb_refusal(compiled: str, redact: Callable[[str], str]) -> str | None:
    """Why DuckDB must not run `compiled`, from DuckDB's own parser, or None."""
    import duckdb

    try:
        parsed = duckdb.extract_statements(compiled)
    except duckdb.Error as exc:  # a syntax error: DuckDB's own message, as a run would say
        raise QueryFailed(_message(exc, redact)) from None
    if len(parsed) != 1:
        return more_than_one(len(parsed))
    kind = parsed[0].type
    if kind != duckdb.StatementType.SELECT:
        name = kind.name.replace("_", " ")
        if kind == duckdb.StatementType.LOAD and first_keyword(compiled) == "INSTALL":
            name = "INSTALL"  # DuckDB's parser files INSTALL under LOAD
        return f"is {_article(name)} {name} statement: {ONLY_SELECT}"
    return None


# --- time limits -------------------------------------------------------------------------


class Watchdog:
    """One thread that cancels the queries running past their deadline.

    A timer thread per query would cost more than a fast query itself.
    """

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._heap: list[tuple[float, int]] = []
        self._cancel: dict[int, Callable[[], None]] = {}
        self._fired: dict[int, set[int]] = {}
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None
        self._stopped = False

    @contextlib.contextmanager
    def watch(self, seconds: float, cancel: Callable[[], None]) -> Iterator[set[int]]:
        """Cancel with `cancel` after `seconds`; yields a set that is not empty if it did."""
        token = next(self._ids)
        fired: set[int] = set()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="kpictl-timeout")
                self._thread.daemon = True
                self._thread.start()
            self._cancel[token] = cancel
            self._fired[token] = fired
            heapq.heappush(self._heap, (time.monotonic() + seconds, token))
            self._lock.notify()
        try:
            yield fired
        finally:
            with self._lock:  # after this, `cancel` is never called for this query
                self._cancel.pop(token, None)
                self._fired.pop(token, None)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._lock.notify()

    def _run(self) -> None:
        with self._lock:
            while not self._stopped:
                while self._heap and self._heap[0][1] not in self._cancel:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._lock.wait()
                    continue
                deadline, token = self._heap[0]
                now = time.monotonic()
                if deadline > now:
                    self._lock.wait(deadline - now)
                    continue
                heapq.heappop(self._heap)
                self._fired[token].add(token)
                with contextlib.suppress(Exception):  # the query may have ended just now
                    self._cancel[token]()


# --- connections -------------------------------------------------------------------------


@dataclass
class Database:
    """One connection of kpictl.yaml: its engine (made on first use) and how to run on it."""

    url: DatabaseUrl
    root: Path  # the registry folder: DuckDB reads files below it only
    workers: int
    scratch: Path  # DuckDB's private temp folder (the caller removes it)
    _engine: Engine | None = None
    _failure: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _checked: dict[str, tuple[TextClause, str | None]] = field(default_factory=dict)
    _local: threading.local = field(default_factory=threading.local)
    _sessions: list[Connection] = field(default_factory=list)

    @property
    def dialect(self) -> str:
        return self.url.url.split(":", 1)[0].split("+", 1)[0].lower()

    def engine(self) -> Engine:
        with self._lock:
            if self._failure is not None:
                raise QueryFailed(self._failure)
            if self._engine is None:
                try:
                    with _no_warnings():
                        self._engine = self._create()
                except Exception as exc:  # a driver missing, a URL SQLAlchemy cannot read
                    self._failure = _message(exc, self.url.redact)
                    raise QueryFailed(self._failure) from None
            return self._engine

    def checked(self, sql: str) -> TextClause:
        """`sql` as a bind-parameter clause, once it is known to be one SELECT statement.

        Backfill runs one SQL several times: it is checked (and refused) once.
        """
        from sqlalchemy import text

        with self._lock:
            found = self._checked.get(sql)
        if found is None:
            clause = text(sql.strip().rstrip(";").rstrip())
            try:
                if self.dialect == "duckdb":
                    compiled = str(clause.compile(dialect=self.engine().dialect))
                    refusal = _duckdb_refusal(compiled, self.url.redact)
                else:
                    refusal = _server_refusal(sql)
            except QueryFailed as exc:
                refusal = f"\0{exc}"  # a syntax error: no "refused", the parser's own words
            found = (clause, refusal)
            with self._lock:
                self._checked[sql] = found
        clause, refusal = found
        if refusal is not None:
            if refusal.startswith("\0"):
                raise QueryFailed(self.url.redact(refusal[1:]))
            raise QueryFailed(f"refused: the SQL {self.url.redact(refusal)}")
        return clause

    def session(self) -> Connection:
        """This thread's connection, in a transaction (DuckDB: one per worker thread)."""
        connection: Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            engine = self.engine()
            with _no_warnings():
                connection = engine.connect()
            self._local.connection = connection
            with self._lock:
                self._sessions.append(connection)
        return connection

    def end_sessions(self) -> None:
        """Roll back and close every session, once the threads that used them are done."""
        for connection in self._sessions:
            with contextlib.suppress(Exception):  # an interrupted connection may be gone
                connection.rollback()
                connection.close()
        self._sessions.clear()
        self._local = threading.local()

    def dispose(self) -> None:
        self.end_sessions()
        if self._engine is not None:
            self._engine.dispose()

    def _create(self) -> Engine:
        from sqlalchemy import URL, create_engine, event
        from sqlalchemy.pool import QueuePool

        # One connection per worker thread, kept for the whole pull (SQLAlchemy's default
        # for DuckDB in memory closes connections that other threads still use).
        pooling: dict[str, Any] = {
            "poolclass": QueuePool,
            "pool_size": self.workers,
            "max_overflow": 0,
            "hide_parameters": True,
        }
        if self.dialect not in ("duckdb", "sqlite"):
            return create_engine(self.url.url, **pooling)
        from kpictl.numbers.confinement import (
            TEMP_LIMIT,
            Refused,
            database_file,
            memory_limit,
            readable,
            refuse_special_files,
        )

        try:
            database = database_file(self.url.url, self.root, self.url.redact)
            if self.dialect == "duckdb":
                refuse_special_files(self.root)
        except Refused as exc:
            raise QueryFailed(str(exc)) from None
        if self.dialect == "sqlite":
            return self._sqlite(database, pooling)
        # kpictl's settings, never the URL's (it has none): these keep a query inside the
        # registry and its memory and disk bounded.
        config = {
            "threads": 1,  # one query per worker thread; the pool gives the parallelism
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "memory_limit": f"{memory_limit(self.workers) >> 20}MiB",
            "temp_directory": str(self.scratch),
            "max_temp_directory_size": TEMP_LIMIT,
        }
        # The path as judged, never the URL again: parsing it a second time would decode
        # its percent-escapes twice.
        engine = create_engine(
            URL.create("duckdb", database=database),
            connect_args={"read_only": not database.startswith(":memory:"), "config": config},
            **pooling,
        )
        allowed = f"{self.root.resolve().as_posix()}/"
        folders, files = readable(self.root)

        @event.listens_for(engine, "connect")
        def _lock_down(dbapi_connection: Any, _record: Any) -> None:
            # A database file's connections share one DuckDB instance, whose settings
            # the first connection has locked already.
            locked = dbapi_connection.execute(
                "SELECT current_setting('lock_configuration'), "
                "current_setting('enable_external_access')"
            ).fetchone()
            if locked == (True, False):
                return
            dbapi_connection.execute("SET allowed_directories = ?", [folders])
            dbapi_connection.execute("SET allowed_paths = ?", [files])
            dbapi_connection.execute("SET file_search_path = ?", [allowed])
            # Every KPI reads the same few files again: keep their footers in memory.
            dbapi_connection.execute("SET parquet_metadata_cache = true")
            dbapi_connection.execute("SET enable_external_access = false")
            dbapi_connection.execute("SET lock_configuration = true")

        return engine

    def _sqlite(self, database: str, pooling: dict[str, Any]) -> Engine:
        """An SQLite file opened read-only (SQLite's `mode=ro`: never created), query_only."""
        from sqlalchemy import URL, create_engine, event

        if database != ":memory:":
            database = f"{Path(database).as_uri()}?mode=ro"
        engine = create_engine(
            URL.create("sqlite", database=database, query={"uri": "true"}), **pooling
        )
        event.listen(engine, "connect", _sqlite_query_only)
        return engine


@contextlib.contextmanager
def _no_warnings() -> Iterator[None]:
    """Silence SQLAlchemy's and the drivers' warnings while connecting.

    They quote the URL's parts (`Query string argument(s) 'LEAK' are not accepted`),
    which may be pieces of a secret, and go straight to stderr, past `redact`.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _sqlite_query_only(dbapi_connection: Any, _record: Any) -> None:
    # SQLite has no read-only transaction, and its DDL is not rolled back: the
    # connection itself refuses every write (ATTACH of a new file and VACUUM INTO too).
    dbapi_connection.execute("PRAGMA query_only = ON")


@dataclass(frozen=True, slots=True)
class Answer:
    """What a query returned: its one value (a number, or a date for freshness)."""

    value: float | date


def run_query(
    database: Database,
    sql: str,
    params: Mapping[str, Param],
    timeout: float,
    watchdog: Watchdog,
    *,
    freshness: bool = False,
    timezone: str = "UTC",
) -> Answer:
    """Run one query as the module docstring says; QueryFailed with a redacted message."""
    from sqlalchemy.exc import SQLAlchemyError

    redact = database.url.redact
    clause = database.checked(sql)
    timed_out: set[int] = set()
    try:
        if database.dialect == "duckdb":
            columns, rows = _on_duckdb(database, clause, params, timeout, watchdog, timed_out)
        else:
            columns, rows = _on_server(database, clause, params, timeout, watchdog, timed_out)
    except QueryFailed:
        raise
    except SQLAlchemyError as exc:
        if timed_out or _cancelled_by_server(exc):
            raise QueryFailed(_timeout_message(timeout)) from None
        raise QueryFailed(_message(exc, redact)) from None
    except Exception as exc:  # a driver's own error class, outside SQLAlchemy's wrapping
        if timed_out or _cancelled_by_server(exc):
            raise QueryFailed(_timeout_message(timeout)) from None
        raise QueryFailed(_message(exc, redact)) from None
    if freshness:
        return Answer(_freshness(columns, rows, timezone, redact))
    return Answer(_number(columns, rows, redact))


Rows = tuple[list[str], list[tuple[Any, ...]]]

# `:as_of` where SQLAlchemy's text() would bind it (its own rule: not after `:`, a word
# character or a backslash, and the whole name).
_AS_OF = re.compile(r"(?<![:\w\\]):as_of(?![\w:])")
_CAMPAIGN = re.compile(r"(?<![:\w\\]):campaign(?![\w:])")


def uses_campaign(sql: str) -> bool:
    """Whether `sql` binds `:campaign`: only such a query can count what one campaign did."""
    return _CAMPAIGN.search(sql) is not None


def run_checkpoints(
    database: Database,
    sql: str,
    params: Mapping[str, Param],
    checkpoints: list[date],
    timeout: float,
    watchdog: Watchdog,
) -> list[Answer | QueryFailed]:
    """The same query at several `:as_of` dates in one DuckDB statement (backfill).

    A LATERAL join runs the SQL once per date with `:as_of` read from a list of dates, so
    DuckDB scans once instead of once per date: the same bind-parameter substitution
    text() makes, pointed at a column. Raises QueryFailed when the statement as a whole
    fails: the caller then runs each date alone, for each date's own answer.
    """
    from sqlalchemy import text

    database.checked(sql)  # one SELECT, or refused as a single query would be
    inner = _AS_OF.sub("kpictl_c.kpictl_as_of", sql.strip().rstrip(";").rstrip())
    # The dates as one list parameter: DuckDB plans an unnested list much faster than
    # a VALUES row per date.
    batch = text(
        f"select kpictl_c.kpictl_i, kpictl_q.* from (select unnest(range({len(checkpoints)})) "
        "as kpictl_i, unnest(cast(:kpictl_days as date[])) as kpictl_as_of) kpictl_c, "
        f"lateral ({inner}) kpictl_q"
    )
    bound: dict[str, Any] = {k: v for k, v in params.items() if k != "as_of"}
    bound["kpictl_days"] = list(checkpoints)
    connection = database.session()
    try:
        with watchdog.watch(timeout, _canceller(connection)):
            result = connection.execute(batch, bound)
            columns = list(result.keys())[1:]
            rows = result.fetchmany(2 * len(checkpoints) + 1)
    except Exception as exc:
        connection.rollback()
        raise QueryFailed(_message(exc, database.url.redact)) from None
    # A subquery's columns named alike come out renamed (`value_1`): each date alone
    # then gets the verdict a single query gets.
    if any(re.fullmatch(r"value_\d+", name.lower()) for name in columns):
        raise QueryFailed("columns named alike: ask each date alone")
    by_date: list[list[tuple[Any, ...]]] = [[] for _ in checkpoints]
    for row in rows:
        by_date[row[0]].append(tuple(row[1:]))
    answers: list[Answer | QueryFailed] = []
    for found in by_date:
        try:
            answers.append(Answer(_number(columns, found, database.url.redact)))
        except QueryFailed as exc:
            answers.append(exc)
    return answers


def _on_duckdb(
    database: Database,
    clause: TextClause,
    params: Mapping[str, Param],
    timeout: float,
    watchdog: Watchdog,
    timed_out: set[int],
) -> Rows:
    """On this thread's own connection, inside its transaction (rolled back at the end).

    A transaction per query would cost two statements more than the query itself; one
    per worker, never committed, is as read-only and is rolled back after an error.
    """
    connection = database.session()
    try:
        with watchdog.watch(timeout, _canceller(connection)) as fired:
            result = connection.execute(clause, dict(params))
            return _rows(result)
    except BaseException:
        timed_out.update(fired)
        connection.rollback()
        raise


def _on_server(
    database: Database,
    clause: TextClause,
    params: Mapping[str, Param],
    timeout: float,
    watchdog: Watchdog,
    timed_out: set[int],
) -> Rows:
    """In a transaction of its own, READ ONLY on PostgreSQL, always rolled back."""
    from sqlalchemy import text

    postgres = database.dialect == "postgresql"
    engine = database.engine()
    with _no_warnings():
        connection = engine.connect()
    with connection:
        if postgres:
            connection = connection.execution_options(postgresql_readonly=True)
        with watchdog.watch(timeout, _canceller(connection)) as fired:
            transaction = connection.begin()
            try:
                if postgres:
                    connection.execute(
                        text("select set_config('statement_timeout', :limit, true)"),
                        {"limit": str(max(1, math.ceil(timeout * 1000)))},
                    )
                result = connection.execute(clause, dict(params))
                return _rows(result)
            except BaseException:
                timed_out.update(fired)
                raise
            finally:
                transaction.rollback()


def _rows(result: CursorResult[Any]) -> Rows:
    """The columns and the first two rows (one too many is enough to say so)."""
    if not result.returns_rows:  # e.g. SQLite's `WITH ... DELETE`: no rows, not "closed"
        raise QueryFailed("returned no result set: the SQL must be a SELECT")
    return list(result.keys()), [tuple(row) for row in result.fetchmany(2)]


def _canceller(connection: Connection) -> Callable[[], None]:
    """Stops the query running on `connection` (DuckDB interrupts, drivers cancel)."""
    raw = connection.connection.dbapi_connection
    stop = getattr(raw, "interrupt", None) or getattr(raw, "cancel", None)
    return stop if callable(stop) else lambda: None


# SQLSTATE query_canceled: PostgreSQL's own `statement_timeout` ended the query. It
# races the watchdog's cancel for the same limit; either way the query ran too long.
_QUERY_CANCELED = "57014"


def _cancelled_by_server(exc: BaseException) -> bool:
    original = getattr(exc, "orig", None) or exc
    return getattr(original, "sqlstate", None) == _QUERY_CANCELED


def _timeout_message(timeout: float) -> str:
    return (
        f"cancelled after {timeout:g} s (--timeout): make the query faster, or give it "
        "more time with --timeout SECONDS"
    )


def _message(exc: BaseException, redact: Callable[[str], str]) -> str:
    """The database's own message, one line, secrets hidden: no SQLAlchemy link, no SQL echo.

    Hidden before it is cut: a secret straddling the cut would otherwise show its start.
    """
    inner = getattr(exc, "orig", None) or exc
    # Hidden before the lines are split and joined too: a secret may hold a newline.
    text = redact(str(inner)).strip() or type(inner).__name__
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    kept: list[str] = []
    for line in lines:
        # DuckDB's and PostgreSQL's "LINE 1: ..." and caret need their own lines to mean
        # anything; SQLAlchemy's SQL echo and link add nothing the user does not have.
        if line.startswith(("LINE ", "[SQL:", "[parameters:", "(Background on this error")):
            break
        kept.append(line)
    return redact(" ".join(kept))[:500] or type(inner).__name__


def _number(columns: list[str], rows: list[tuple[Any, ...]], redact: Callable[[str], str]) -> float:
    index = _value_column(columns, redact)
    row = _one_row(rows)
    value = row[index]
    if value is None:
        raise QueryFailed(
            "returned NULL as the value: return a number (coalesce(..., 0) if no rows "
            f"means zero); {SHAPE}"
        )
    if isinstance(value, bool):
        raise QueryFailed(f"returned {str(value).lower()} (a boolean), not a number; {SHAPE}")
    if isinstance(value, str | bytes):
        shown = redact(value if isinstance(value, str) else repr(value))
        raise QueryFailed(f"returned the text '{_cut(shown)}', not a number; {SHAPE}")
    if not isinstance(value, int | float | Decimal):
        raise QueryFailed(f"returned a {type(value).__name__}, not a number; {SHAPE}")
    number = float(value)
    if math.isnan(number):
        raise QueryFailed(f"returned NaN, not a number; {SHAPE}")
    problem = value_problem(number)
    if problem is not None:
        raise QueryFailed(f"returned a value kpictl cannot record: {problem}")
    return number


def _freshness(
    columns: list[str], rows: list[tuple[Any, ...]], timezone: str, redact: Callable[[str], str]
) -> date:
    what = "a freshness query returns one row with one date or timestamp"
    if not columns:
        raise QueryFailed(f"returned no column; {what}")
    value = _one_row(rows, what)[0]
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(ZoneInfo(timezone))
        return value.date()
    if isinstance(value, date):
        return value
    if value is None:
        raise QueryFailed(f"returned NULL (no data loaded yet?); {what}")
    if isinstance(value, str):
        raise QueryFailed(f"returned the text '{_cut(redact(value))}', not a date; {what}")
    raise QueryFailed(f"returned a {type(value).__name__} ({_cut(redact(str(value)))}); {what}")


def _value_column(columns: list[str], redact: Callable[[str], str]) -> int:
    # Snowflake and Oracle name an unquoted `as value` VALUE: any case is the same column.
    found = [i for i, name in enumerate(columns) if name.lower() == "value"]
    if len(found) == 1:
        return found[0]
    named = ", ".join(_cut(redact(name), 30) for name in columns[:10]) or "none"
    if found:
        raise QueryFailed(f"returned {len(found)} columns named value; {SHAPE}")
    raise QueryFailed(f"returned no column `value` (columns: {named}): name it `as value`")


def _one_row(rows: list[tuple[Any, ...]], what: str = SHAPE) -> tuple[Any, ...]:
    if not rows:
        raise QueryFailed(f"returned no row; {what}")
    if len(rows) > 1:
        raise QueryFailed(f"returned more than one row; {what}")
    return rows[0]


def _cut(text: str, limit: int = 60) -> str:
    from kpictl.check.findings import excerpt

    return excerpt(text, limit)

"""The store: every actual value kpictl has seen, kept forever, in SQLite or PostgreSQL.

One observation per KPI, period and `as_of`; recording the same key again replaces
its value and never adds a second row. `pull` and `actuals import` record here;
`status`, `escalate`, `readout` and `recap` read here when no `--actuals` is given.

A store is a database holding kpictl's version table (see store_schema). Anything
else at the store's path (a text file, another application's SQLite file, a folder,
a file that cannot be written) is refused before a byte of it changes: kpictl
checks what is there before it switches SQLite to WAL or creates a table.

Not imported by `kpictl check`: SQLAlchemy loads here, when a command needs numbers.
"""

from __future__ import annotations

import stat
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    event,
    inspect,
    select,
    text,
    type_coerce,
)
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.types import NullType

from kpictl.numbers import store_schema as schema
from kpictl.numbers.actuals import Actual, Actuals
from kpictl.numbers.periods import PERIOD_PATTERN
from kpictl.numbers.store_rows import (
    DamagedRowError,
    is_id,
    is_period,
    stored_day,
    stored_value,
    unrecordable,
    unusable_ids,
)
from kpictl.templating.escaping import visible

if TYPE_CHECKING:
    from kpictl.numbers.connections import DatabaseUrl

# How long a writer waits for another process's transaction on an SQLite store.
BUSY_SECONDS = 30
_SQLITE_MAGIC = b"SQLite format 3\x00"
_WHAT_TO_DO_MISSING = "run `kpictl pull` or `kpictl actuals import FILE` to record values first"


@dataclass(frozen=True, slots=True)
class Observation:
    """One measured value: `period` is 2026-Q4, 2026-11, 2026 or a campaign id."""

    kpi: str
    period: str
    value: float
    as_of: date


@dataclass
class Recorded:
    """What one `record` did: new keys, keys given a new value, keys already holding it."""

    added: int = 0
    replaced: int = 0
    unchanged: int = 0


class StoreError(Exception):
    """The store cannot be used: one line naming it and what to do, secrets hidden."""


class StoreMissingError(StoreError):
    """Nothing has been recorded yet: reading commands say so instead of creating a store."""


def open_store(url: DatabaseUrl, *, create: bool = True, read_only: bool = False) -> Store:
    """The store at `url`, created (`create`) or upgraded in place as needed.

    `read_only` (commands that only look: status, a dry run, an export) changes
    nothing: no store is created, an older store is read as it is and not upgraded,
    and SQLite's journal mode is left alone. Raises StoreError when it cannot be
    opened, is not a store or comes from a newer kpictl, and StoreMissingError when
    it does not exist and `create` is False or `read_only` is True.
    """
    return Store(url, create=create, read_only=read_only)


# How long a new SQLite store may wait for another kpictl switching it to WAL: 10 s.
_WAL_ATTEMPTS = 100
_WAL_PAUSE = 0.1


class Store:
    """An open store; use it as a context manager or call `close`."""

    def __init__(self, url: DatabaseUrl, *, create: bool = True, read_only: bool = False) -> None:
        self.url = url
        self.read_only = read_only
        create = create and not read_only
        # The schema version this store has once opened: CURRENT, or older when read_only.
        self.version = schema.CURRENT
        self.shown = url.redact(url.url)
        try:
            self._file = _sqlite_file(url.url)
        except ValueError:  # SQLAlchemy's int() of the port, the one part it converts
            raise StoreError(
                f"cannot use the store {self.shown}: its port is not a number; set "
                "KPICTL_STORE or store: in kpictl.yaml to a URL such as "
                "postgresql+psycopg://user:${PASSWORD}@host:5432/db"
            ) from None
        if self._file is not None:
            _check_file(self._file, self.shown, create)
        self.engine = self._engine()
        try:
            self._prepare(create)
        except BaseException:
            self.engine.dispose()
            raise

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.engine.dispose()

    # --- writing ---------------------------------------------------------------------------

    def record(self, observations: Iterable[Observation], *, source: str) -> Recorded:
        """Record `observations` in one transaction: all of them, or none on an error."""
        latest: dict[tuple[str, str, date], Observation] = {}
        for item in observations:
            problem = unrecordable(item.kpi, item.period, item.value, item.as_of)
            if problem is not None:
                raise StoreError(problem)
            latest[(item.kpi, item.period, item.as_of)] = item  # a later one for a key wins
        if not latest:
            return Recorded()
        from kpictl.numbers.store_write import record_all

        rows = ((o.kpi, o.period, o.as_of, o.value) for o in latest.values())
        with self._transaction(write=True) as connection:
            added, replaced, unchanged = record_all(
                connection, rows, source=source, now=datetime.now(UTC)
            )
        return Recorded(added, replaced, unchanged)

    # --- reading ---------------------------------------------------------------------------

    def actuals(
        self,
        kpi_ids: Collection[str],
        campaign_ids: Collection[str] = (),
        *,
        periods: Collection[str] | None = None,
        until: date | None = None,
    ) -> Actuals:
        """The observations of these KPIs as the CSV reader returns a file's rows.

        Rows per (kpi, period), oldest `as_of` first; `row` is 0 (no line to point
        at). `periods` and `until` narrow the read to what a scorecard can use: the
        periods it evaluates, measured on or before the evaluation date. Rows for a
        KPI or campaign the registry no longer has are left out, as the CSV reader
        leaves out unknown ids.
        """
        table = schema.observations
        query = select(table.c.kpi, table.c.period, table.c.as_of, table.c.value)
        if periods is not None:
            query = query.where(table.c.period.in_(sorted(set(periods))))
        if until is not None:
            query = query.where(table.c.as_of <= until)
        if periods is None:
            query = query.order_by(table.c.kpi, table.c.period, table.c.as_of)
        # else the index on period gives the rows in its own order; each list is sorted
        # below (sorting in SQL would sort them all again, in one temporary tree).
        kpis = set(kpi_ids)
        campaigns = set(campaign_ids)
        known: dict[str, bool] = {}  # period -> usable, asked once per period
        days: dict[object, date] = {}  # as the driver gives them: text (SQLite) or dates
        actuals = Actuals(f"the store ({self.shown})")
        rows = actuals.rows
        with self._transaction(write=False) as connection:
            result = connection.execute(query)
            # The driver's rows, not SQLAlchemy's: a scorecard of 2,000 KPIs reads 100,000
            # rows, and making a Row and a date of each costs more than the rest of the read.
            fetched = result.cursor.fetchall()
            result.close()
        for kpi, period, measured, value in fetched:
            if kpi not in kpis:
                continue
            usable = known.get(period)
            if usable is None:
                usable = known[period] = isinstance(period, str) and (
                    period in campaigns or PERIOD_PATTERN.match(period) is not None
                )
            if not usable:
                continue
            try:
                day = days.get(measured)
                if day is None:
                    day = days[measured] = stored_day(measured, (kpi, period, measured))
                number = stored_value(value, (kpi, period, measured))
            except DamagedRowError as exc:
                raise self.damaged(exc) from None
            found = rows.get((kpi, period))
            if found is None:
                found = rows[(kpi, period)] = []
            found.append(Actual(kpi, period, number, day, 0))
        if periods is not None:
            for found in rows.values():
                found.sort(key=_measured)
        return actuals

    def observations(
        self,
        *,
        kpis: Collection[str] = (),
        since: date | None = None,
        left_out: list[str] | None = None,
    ) -> Iterator[Observation]:
        """Every observation (of `kpis`, measured on or after `since`), by kpi, period, as_of.

        A row whose KPI or period is no id kpictl writes (another program's, with a line
        break or a workflow command in it) is left out, and said so in `left_out`.
        """
        table = schema.observations
        # The driver's values, unconverted: store_rows checks them (SQLAlchemy's Date
        # would fail on a hostile row's text before it could).
        query = select(
            table.c.kpi,
            table.c.period,
            type_coerce(table.c.value, NullType()),
            type_coerce(table.c.as_of, NullType()),
        )
        if kpis:
            query = query.where(table.c.kpi.in_(sorted(set(kpis))))
        if since is not None:
            query = query.where(table.c.as_of >= since)
        query = query.order_by(table.c.kpi, table.c.period, table.c.as_of)
        with self._transaction(write=False) as connection:
            result = connection.execution_options(yield_per=1000).execute(query)
            for kpi, period, value, as_of in result:
                key = (kpi, period, as_of)
                if not (is_id(kpi) and is_period(period)):
                    if left_out is not None:
                        left_out.append(unusable_ids(key))
                    continue
                try:
                    yield Observation(kpi, period, stored_value(value, key), stored_day(as_of, key))
                except DamagedRowError as exc:
                    raise self.damaged(exc) from None

    def damaged(self, exc: DamagedRowError) -> StoreError:
        """The one line for a row no kpictl wrote (store_rows, escalation.memory_rows)."""
        return StoreError(f"the store {self.shown} is damaged: {exc}")

    # --- opening ---------------------------------------------------------------------------

    def _engine(self) -> Engine:
        options: dict[str, Any] = {}
        if self._file is not None:
            options["connect_args"] = {"timeout": BUSY_SECONDS}
        elif self.url.url.startswith("postgresql"):
            options["connect_args"] = {"connect_timeout": 10}
        try:
            engine = create_engine(self.url.url, **options)
        except (ArgumentError, NoSuchModuleError, ValueError) as exc:
            raise StoreError(
                f"cannot use the store {self.shown}: {self._message(exc)}; set KPICTL_STORE or "
                "store: in kpictl.yaml to a URL such as sqlite:///.kpictl/store.db or "
                "postgresql+psycopg://user:${PASSWORD}@host/db"
            ) from None
        except ModuleNotFoundError as exc:
            raise StoreError(
                f"cannot use the store {self.shown}: its database driver {exc.name} is not "
                "installed; for PostgreSQL install kpictl[postgres] (psycopg 3)"
            ) from None
        if engine.dialect.name == "sqlite":
            _take_sqlite_transactions(engine, read_only=self.read_only)
        elif engine.dialect.name != "postgresql":
            engine.dispose()
            raise StoreError(
                f"cannot use the store {self.shown}: kpictl keeps its store in SQLite or "
                f"PostgreSQL, not {engine.dialect.name}"
            )
        return engine

    def _prepare(self, create: bool) -> None:
        """Make sure this is a store of our version: create it, upgrade it, or refuse it."""
        with self._transaction(write=False) as connection:
            found = self._version(connection)
        if found is None and not create:
            raise StoreMissingError(f"there is no store yet at {self.shown}: {_WHAT_TO_DO_MISSING}")
        if found is not None and found > schema.CURRENT:
            raise self._newer(found)
        if self.read_only:
            # A reader must not write, and upgrading is a write: it reads the older
            # version's tables as they are (store_schema says how that stays safe).
            assert found is not None
            self.version = found
            return
        if self._file is not None:
            self._use_wal()
        if found == schema.CURRENT:
            return
        with self._transaction(write=True) as connection:
            if self.engine.dialect.name == "postgresql":
                # Two kpictl runs creating one new store: the second waits, then finds it made.
                connection.execute(text("SELECT pg_advisory_xact_lock(7242011)"))
            found = self._version(connection)
            if found is not None and found > schema.CURRENT:
                raise self._newer(found)
            if found != schema.CURRENT:
                schema.upgrade(connection, found or 0)

    def _version(self, connection: Connection) -> int | None:
        """The store's version, None for an empty database; StoreError for someone else's."""
        names = set(inspect(connection).get_table_names())
        if schema.VERSION_TABLE not in names:
            if self._file is not None:
                # Views and triggers too: a store made here must start from nothing.
                foreign = {name for _kind, name in schema.sqlite_objects(connection)}
            else:
                foreign = names & {"observations"}
            if foreign:
                raise StoreError(
                    f"{self.shown} is not a kpictl store: it is a database with other tables "
                    f"({', '.join(sorted(foreign)[:5])}); kpictl left it untouched. Point "
                    "KPICTL_STORE or store: in kpictl.yaml at a new file or database"
                )
            return None
        version = schema.read_version(connection)
        if version is None:
            raise StoreError(
                f"the store {self.shown} is damaged: its table {schema.VERSION_TABLE} should "
                "hold one version number; restore it from a backup or start a new store"
            )
        if version < 1:
            raise self._foreign(f"its table {schema.VERSION_TABLE} holds version {version}")
        if version <= schema.CURRENT:
            difference = (
                schema.sqlite_difference(connection, version)
                if self.engine.dialect.name == "sqlite"
                else schema.postgresql_difference(connection, version, names)
            )
            if difference is not None:
                raise self._foreign(f"it has {difference}")
        return version

    def _foreign(self, what: str) -> StoreError:
        """A database that looks like a store but is not one kpictl made: left untouched."""
        return StoreError(
            f"{self.shown} is not a kpictl store: {visible(what)}; kpictl left it untouched. Point "
            "KPICTL_STORE or store: in kpictl.yaml at a new file or database, or restore "
            "the store from a backup"
        )

    def _newer(self, version: int) -> StoreError:
        return StoreError(
            f"the store {self.shown} was written by a newer kpictl (store version {version}; "
            f"this kpictl knows up to {schema.CURRENT}): upgrade kpictl to use it; it was left "
            "untouched"
        )

    def _use_wal(self) -> None:
        """WAL lets readers go on while one process writes (the setting stays in the file)."""
        import time

        with self.engine.connect() as connection:
            raw = connection.connection.driver_connection
            assert raw is not None
            # Switching needs the file to itself: when another kpictl opens the same new
            # store at this moment, SQLite answers "locked" at once, busy timeout or not.
            # That process is switching it too, so look again before giving up.
            for attempt in range(_WAL_ATTEMPTS):
                mode = raw.execute("PRAGMA journal_mode").fetchone()
                if mode is not None and str(mode[0]).lower() == "wal":
                    return
                try:
                    raw.execute("PRAGMA journal_mode=WAL")
                    return
                except Exception as exc:  # sqlite3.Error, raised outside SQLAlchemy
                    busy = any(word in str(exc).lower() for word in ("locked", "busy"))
                    if not busy or attempt == _WAL_ATTEMPTS - 1:
                        raise StoreError(self._cannot(exc)) from None
                time.sleep(_WAL_PAUSE)

    def _transaction(self, *, write: bool) -> _Transaction:
        if write and self.read_only:
            # A check, not an assert: `python -O` drops asserts, and a reader that wrote
            # would upgrade or change a store its command promised to leave alone.
            raise StoreError(
                f"cannot write the store {self.shown}: this command opened it read-only "
                "and changes nothing in it"
            )
        return _Transaction(self, write)

    def transaction(self, *, write: bool) -> _Transaction:
        """One transaction for another stage's tables (kpictl.escalation); errors: StoreError.

        `write` takes SQLite's write lock at the start (BEGIN IMMEDIATE), so two
        processes writing take turns instead of failing.
        """
        return self._transaction(write=write)

    def holds(self, version: int) -> bool:
        """Whether this store has the tables that schema `version` added."""
        return self.version >= version

    @property
    def dialect(self) -> str:
        return str(self.engine.dialect.name)

    def _cannot(self, exc: BaseException) -> str:
        """One line for a database error: what failed, the driver's words, what to do."""
        message = self._message(exc)
        lowered = message.lower()
        read_only_words = "readonly" in lowered or "read-only" in lowered
        if self.read_only and read_only_words:
            # The database refused a write because kpictl opened it read-only (query_only,
            # a read-only transaction): the file's permissions are not the cause.
            return (
                f"cannot write the store {self.shown}: this command opened it read-only "
                f"and changes nothing in it ({message})"
            )
        if "authentication failed" in lowered:
            return (
                f"cannot open the store {self.shown}: authentication failed ({message}); check "
                "the user and password in KPICTL_STORE or store: in kpictl.yaml"
            )
        if read_only_words:
            return (
                f"cannot write the store {self.shown}: it is read-only; make the file and its "
                "folder writable, or point KPICTL_STORE at another store"
            )
        if "connection refused" in lowered:
            return f"cannot reach the store {self.shown}: {message}"
        if "unable to open" in lowered:
            return (
                f"cannot open the store {self.shown}: {message}; SQLite needs to read and "
                "write the file and create files beside it (-wal, -shm): check the permissions "
                "of the file and its folder"
            )
        if "not a database" in lowered:
            return f"{self.shown} is not a kpictl store: {message}; kpictl left it untouched"
        return f"cannot use the store {self.shown}: {message}"

    def _message(self, exc: BaseException) -> str:
        """The driver's own message, one line, with any secret hidden."""
        original = getattr(exc, "orig", None) or exc
        lines = [line.strip() for line in str(original).splitlines() if line.strip()]
        message = " ".join(line for line in lines if not line.startswith("(Background"))
        return self.url.redact(message)[:400] or type(original).__name__


class _Transaction:
    """One transaction on a pooled connection; database errors become StoreError."""

    def __init__(self, store: Store, write: bool) -> None:
        self.store = store
        self.write = write
        self.connection: Connection | None = None

    def __enter__(self) -> Connection:
        try:
            connection = self.store.engine.connect()
        except DBAPIError as exc:
            raise StoreError(self.store._cannot(exc)) from None
        options: dict[str, Any] = {"kpictl_write": self.write}
        if self.store.read_only and self.store.dialect == "postgresql":
            # The server refuses any write in the transaction (SQLite: query_only).
            options["postgresql_readonly"] = True
        try:
            self.connection = connection.execution_options(**options)
        except DBAPIError as exc:
            connection.close()
            raise StoreError(self.store._cannot(exc)) from None
        try:
            self.connection.begin()
        except DBAPIError as exc:
            self.connection.close()
            raise StoreError(self.store._cannot(exc)) from None
        return self.connection

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        connection = self.connection
        assert connection is not None
        try:
            if kind is None and self.write:
                connection.commit()
            else:
                connection.rollback()
        except SQLAlchemyError as exc:
            if kind is None:
                raise StoreError(self.store._cannot(exc)) from None
        finally:
            connection.close()
        if isinstance(error, SQLAlchemyError):
            raise StoreError(self.store._cannot(error)) from None


def _measured(actual: Actual) -> date:
    return actual.as_of


def _take_sqlite_transactions(engine: Engine, *, read_only: bool) -> None:
    """Let kpictl, not the sqlite3 module, say when a transaction starts, and how.

    The sqlite3 module opens transactions lazily and never for DDL, so an upgrade
    would not be atomic; and a write transaction that starts as a read (BEGIN) fails
    at once when another process writes, whatever the busy timeout. BEGIN IMMEDIATE
    takes the write lock first (waiting up to BUSY_SECONDS for it), so two processes
    recording at once take turns. A store opened `read_only` is query_only: SQLite
    itself refuses a write, whatever code path attempts it.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute(f"PRAGMA busy_timeout = {BUSY_SECONDS * 1000}")
        # In WAL mode NORMAL keeps every commit through a crash of kpictl (only a power
        # cut may lose the last ones) and saves an fsync per commit: escalate records each
        # email the server took in its own commit, thousands in a run.
        dbapi_connection.execute("PRAGMA synchronous = NORMAL")
        if read_only:
            dbapi_connection.execute("PRAGMA query_only = ON")

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        write = connection.get_execution_options().get("kpictl_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _sqlite_file(url: str) -> Path | None:
    """The file of an SQLite URL (None for a server or an in-memory database)."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    if parsed.database.startswith("file:"):
        return None
    return Path(parsed.database)


def _check_file(path: Path, shown: str, create: bool) -> None:
    """Refuse what is at an SQLite store's path unless it is a regular SQLite file.

    Checked before SQLite opens it: SQLite would create a missing file, follow a link
    and, once asked for WAL, rewrite the header of another application's database.
    """
    from kpictl.fileio import LinkedFolderError, make_folder, refuse_linked_folder

    try:
        refuse_linked_folder(path.parent)
        _check_beside(path, shown)
        status = path.lstat()
    except LinkedFolderError as exc:
        raise StoreError(f"cannot use the store {shown}: {exc.strerror}") from None
    except FileNotFoundError:
        if not create:
            raise StoreMissingError(
                f"there is no store yet at {shown}: {_WHAT_TO_DO_MISSING}"
            ) from None
        try:
            make_folder(path.parent)
        except OSError as exc:
            raise StoreError(
                f"cannot create the store {shown}: {exc.strerror or exc}; choose another "
                "place with KPICTL_STORE or store: in kpictl.yaml"
            ) from None
        return
    except OSError as exc:
        raise StoreError(f"cannot use the store {shown}: {exc.strerror or exc}") from None
    if stat.S_ISLNK(status.st_mode):
        raise StoreError(
            f"cannot use the store {shown}: it is a symbolic link, which kpictl does not "
            "follow; point KPICTL_STORE or store: at the file itself"
        )
    if stat.S_ISDIR(status.st_mode):
        raise StoreError(
            f"cannot use the store {shown}: it is a folder, not a database file; point "
            "KPICTL_STORE or store: at a file, such as .kpictl/store.db"
        )
    if not stat.S_ISREG(status.st_mode):
        raise StoreError(f"cannot use the store {shown}: it is not a regular file")
    if status.st_size == 0:
        return  # an empty file is an empty database: SQLite makes it a store
    try:
        with path.open("rb") as stream:
            head = stream.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise StoreError(
            f"cannot read the store {shown}: {exc.strerror or exc}; check its permissions"
        ) from None
    if head != _SQLITE_MAGIC:
        raise StoreError(
            f"{shown} is not a kpictl store: it is not an SQLite database; kpictl left it "
            "untouched. Point KPICTL_STORE or store: in kpictl.yaml at a new file"
        )


def _check_beside(path: Path, shown: str) -> None:
    """Refuse a link (or anything but a file) where SQLite keeps its -wal, -shm or -journal.

    SQLite refuses to open through such a link, saying only "unable to open database
    file": name the file, so the user need not look for a permission problem.
    """
    for suffix in ("-wal", "-shm", "-journal"):
        beside = path.with_name(path.name + suffix)
        try:
            mode = beside.lstat().st_mode
        except FileNotFoundError:
            continue
        if stat.S_ISREG(mode):
            continue
        kind = (
            "a symbolic link, which kpictl does not follow"
            if stat.S_ISLNK(mode)
            else "not a regular file"
        )
        raise StoreError(
            f"cannot use the store {shown}: {visible(beside.name)} beside it is {kind}; "
            "remove it (SQLite makes its own) and run again"
        )

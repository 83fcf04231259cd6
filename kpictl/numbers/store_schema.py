"""The store's tables and how a store of each older version becomes the current one.

A store carries its schema version in a one-row table. Opening an older store runs
the steps from its version up, in the same transaction, so a store is upgraded in
place or not at all; a new store is made by running every step from nothing, so a
fresh store and an upgraded one cannot differ. A later issue adds its escalation
tables by appending one step: never edit a step that has shipped.

Only writing commands upgrade. A reading command (status, a dry run, an export) reads
an older store as it is, so a table a reader uses must read the same in every version
that has it, and a reader asks `Store.holds(version)` before it reads a table a later
version added, through one helper per stage (kpictl.escalation.memory.remembers); the
observations have not changed since version 1.

Imported only where the store is used (SQLAlchemy is not on `kpictl check`'s path).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Date,
    DateTime,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    select,
)

# The table that marks a database as a kpictl store: no other application has it.
VERSION_TABLE = "kpictl_store"

metadata = MetaData()

store_version = Table(
    VERSION_TABLE,
    metadata,
    Column("version", Integer, nullable=False),
)

observations = Table(
    "observations",
    metadata,
    Column("kpi", String(63), nullable=False),
    # A target period (2026-Q4, 2026-11, 2026) or a campaign id.
    Column("period", String(63), nullable=False),
    Column("as_of", Date, nullable=False),
    Column("value", Float(precision=53), nullable=False),
    # Who recorded it: `pull`, `import FILE`; for the history, never for a decision.
    Column("source", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    # One value per KPI, period and day measured: recording it again replaces it.
    PrimaryKeyConstraint("kpi", "period", "as_of", name="observations_key"),
)

Step = Callable[[Connection], None]


# Each step builds its own tables as they were in its version: the tables above may
# change in a later version, and a step that followed them would change with them.
def _create_observations(connection: Connection) -> None:
    """Version 1: the version table and the observations."""
    frozen = MetaData()
    version = Table(VERSION_TABLE, frozen, Column("version", Integer, nullable=False))
    Table(
        "observations",
        frozen,
        Column("kpi", String(63), nullable=False),
        Column("period", String(63), nullable=False),
        Column("as_of", Date, nullable=False),
        Column("value", Float(precision=53), nullable=False),
        Column("source", Text, nullable=False),
        Column("recorded_at", DateTime(timezone=True), nullable=False),
        PrimaryKeyConstraint("kpi", "period", "as_of", name="observations_key"),
    )
    frozen.create_all(connection)
    connection.execute(version.insert().values(version=0))


def _index_periods(connection: Connection) -> None:
    """Version 2: observations found by period, so `status` reads only current periods.

    The index holds every column `status` reads (a covering index): the rows of one
    period then come from one stretch of the index, not from pages all over the table.
    """
    frozen = MetaData()
    table = Table(
        "observations", frozen, Column("period"), Column("kpi"), Column("as_of"), Column("value")
    )
    Index(
        "observations_by_period", table.c.period, table.c.kpi, table.c.as_of, table.c.value
    ).create(connection)


def _escalation_tables(target: MetaData) -> tuple[Table, Table, Table]:
    """The escalation lifecycle's tables as version 3 made them (see kpictl.escalation)."""
    escalations = Table(
        "escalations",
        target,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("kpi", String(63), nullable=False),
        Column("period", String(63), nullable=False),
        # "kpi/period" while open, NULL once closed: UNIQUE lets one escalation per KPI
        # and period be open, so two runs opening it at once end up with one row.
        Column("open_key", String(127), nullable=True, unique=True),
        Column("opened_at", DateTime(timezone=True), nullable=False),
        Column("tier", Integer, nullable=False),
        Column("respond_by", DateTime(timezone=True), nullable=False),
        Column("deviation_pct", Float(precision=53), nullable=True),
        Column("thread_id", Text, nullable=True),  # Message-ID of the first step
        Column("ack_by", String(63), nullable=True),
        Column("ack_at", DateTime(timezone=True), nullable=True),
        Column("ack_note", Text, nullable=True),
        Column("closed_at", DateTime(timezone=True), nullable=True),
    )
    steps = Table(
        "escalation_steps",
        target,
        Column("escalation_id", Integer, nullable=False),
        Column("step", String(63), nullable=False),  # tier-2, outage, resolved
        Column("channel", String(63), nullable=False),  # email, or a chat channel's name
        Column("claimed_by", Text, nullable=False),
        Column("claimed_at", DateTime(timezone=True), nullable=False),
        Column("tier", Integer, nullable=True),
        Column("recipients", Text, nullable=True),  # addresses the server took, one per line
        Column("message_id", Text, nullable=True),
        Column("delivered_at", DateTime(timezone=True), nullable=True),
        # The exactly-once guarantee: a step is claimed by inserting this key, in its own
        # committed transaction, before it is delivered; a second run's insert fails.
        PrimaryKeyConstraint("escalation_id", "step", "channel", name="escalation_steps_key"),
        ForeignKeyConstraint(["escalation_id"], ["escalations.id"], name="escalation_steps_of"),
    )
    runs = Table(
        "escalation_runs",
        target,
        Column("as_of", DateTime(timezone=True), nullable=False),
        Column("ran_at", DateTime(timezone=True), nullable=False),
    )
    return escalations, steps, runs


def _create_escalations(connection: Connection) -> None:
    """Version 3: escalations, the steps delivered for them, and the runs' moments."""
    frozen = MetaData()
    _escalation_tables(frozen)
    frozen.create_all(connection)


# STEPS[n] turns a version-n store into version n + 1 (version 0: an empty database).
STEPS: tuple[Step, ...] = (_create_observations, _index_periods, _create_escalations)
CURRENT = len(STEPS)


def since(step: Step) -> int:
    """The store version that `step` made: a version-n store has run STEPS[:n]."""
    return STEPS.index(step) + 1


# The store version that added the escalation tables.
ESCALATIONS_SINCE = since(_create_escalations)


def read_version(connection: Connection) -> int | None:
    """The store's version, or None when its version table holds no single whole number."""
    rows = connection.execute(select(store_version.c.version)).fetchmany(2)
    if len(rows) != 1 or not isinstance(rows[0][0], int):
        return None
    return int(rows[0][0])


def upgrade(connection: Connection, version: int) -> None:
    """Run the steps from `version` to CURRENT inside the caller's transaction."""
    for step in STEPS[version:]:
        step(connection)
    connection.execute(store_version.update().values(version=CURRENT))


# --- what a store of each version looks like --------------------------------------------
#
# A store is a file or database someone else may have handed over: a view named
# `observations` over an endless recursive query, or a trigger on insert, would make
# every reader or writer hang, and a column of another type would make values
# anything. Before kpictl reads a row it compares the store's schema with the one its
# own steps make for that version, and refuses any difference.

# One table's shape: its columns, its keys and indexes, its foreign keys.
TableShape = tuple[tuple[Any, ...], ...]


def sqlite_objects(connection: Connection) -> list[tuple[str, str]]:
    """(type, name) of every table, view, trigger and index SQLite did not make itself."""
    rows = connection.exec_driver_sql(
        "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
    ).fetchall()
    return sorted((str(kind), str(name)) for kind, name in rows)


def sqlite_shape(connection: Connection) -> dict[str, TableShape]:
    """Every table of an SQLite database as PRAGMA describes it; views and triggers as such."""
    shape: dict[str, TableShape] = {}
    for kind, name in sqlite_objects(connection):
        if kind != "table":
            if kind != "index":  # indexes are read with their table, below
                shape[f"{kind} {name}"] = ()
            continue
        quoted = '"' + name.replace('"', '""') + '"'
        columns = connection.exec_driver_sql(f"PRAGMA table_xinfo({quoted})").fetchall()
        indexes = []
        for _seq, index, unique, origin, partial in connection.exec_driver_sql(
            f"PRAGMA index_list({quoted})"
        ).fetchall():
            escaped = '"' + str(index).replace('"', '""') + '"'
            keys = connection.exec_driver_sql(f"PRAGMA index_info({escaped})").fetchall()
            # SQLite names the indexes of keys itself: only an index kpictl made is named.
            named = str(index) if origin == "c" else ""
            indexes.append(("index", named, unique, origin, partial, tuple(key[2] for key in keys)))
        foreign = connection.exec_driver_sql(f"PRAGMA foreign_key_list({quoted})").fetchall()
        shape[f"table {name}"] = (
            # c[4], the default: a default no kpictl wrote (ack_by 'mallory') fills every
            # row kpictl inserts without naming the column.
            *(("column", c[1], str(c[2]).upper(), c[3], c[4], c[5], c[6]) for c in columns),
            *sorted(indexes),
            *sorted(("foreign key", f[2], f[3], f[4]) for f in foreign),
        )
    return shape


# The shapes the steps above give, written out: building them in memory costs every
# command that opens a store about 20 ms. tests/test_store_hostile.py checks that
# these equal `built_sqlite_shape` for every version, so a new step must add its own.
_NOT_NULL, _NULL = 1, 0
_OBSERVATIONS: TableShape = (
    ("column", "kpi", "VARCHAR(63)", _NOT_NULL, None, 1, 0),
    ("column", "period", "VARCHAR(63)", _NOT_NULL, None, 2, 0),
    ("column", "as_of", "DATE", _NOT_NULL, None, 3, 0),
    ("column", "value", "FLOAT", _NOT_NULL, None, 0, 0),
    ("column", "source", "TEXT", _NOT_NULL, None, 0, 0),
    ("column", "recorded_at", "DATETIME", _NOT_NULL, None, 0, 0),
    ("index", "", 1, "pk", 0, ("kpi", "period", "as_of")),
)
_VERSION_1: dict[str, TableShape] = {
    "table kpictl_store": (("column", "version", "INTEGER", _NOT_NULL, None, 0, 0),),
    "table observations": _OBSERVATIONS,
}
_VERSION_2 = {
    **_VERSION_1,
    "table observations": (
        *_OBSERVATIONS,
        ("index", "observations_by_period", 0, "c", 0, ("period", "kpi", "as_of", "value")),
    ),
}
_VERSION_3 = {
    **_VERSION_2,
    "table escalations": (
        ("column", "id", "INTEGER", _NOT_NULL, None, 1, 0),
        ("column", "kpi", "VARCHAR(63)", _NOT_NULL, None, 0, 0),
        ("column", "period", "VARCHAR(63)", _NOT_NULL, None, 0, 0),
        ("column", "open_key", "VARCHAR(127)", _NULL, None, 0, 0),
        ("column", "opened_at", "DATETIME", _NOT_NULL, None, 0, 0),
        ("column", "tier", "INTEGER", _NOT_NULL, None, 0, 0),
        ("column", "respond_by", "DATETIME", _NOT_NULL, None, 0, 0),
        ("column", "deviation_pct", "FLOAT", _NULL, None, 0, 0),
        ("column", "thread_id", "TEXT", _NULL, None, 0, 0),
        ("column", "ack_by", "VARCHAR(63)", _NULL, None, 0, 0),
        ("column", "ack_at", "DATETIME", _NULL, None, 0, 0),
        ("column", "ack_note", "TEXT", _NULL, None, 0, 0),
        ("column", "closed_at", "DATETIME", _NULL, None, 0, 0),
        ("index", "", 1, "u", 0, ("open_key",)),
    ),
    "table escalation_steps": (
        ("column", "escalation_id", "INTEGER", _NOT_NULL, None, 1, 0),
        ("column", "step", "VARCHAR(63)", _NOT_NULL, None, 2, 0),
        ("column", "channel", "VARCHAR(63)", _NOT_NULL, None, 3, 0),
        ("column", "claimed_by", "TEXT", _NOT_NULL, None, 0, 0),
        ("column", "claimed_at", "DATETIME", _NOT_NULL, None, 0, 0),
        ("column", "tier", "INTEGER", _NULL, None, 0, 0),
        ("column", "recipients", "TEXT", _NULL, None, 0, 0),
        ("column", "message_id", "TEXT", _NULL, None, 0, 0),
        ("column", "delivered_at", "DATETIME", _NULL, None, 0, 0),
        ("index", "", 1, "pk", 0, ("escalation_id", "step", "channel")),
        ("foreign key", "escalations", "escalation_id", "id"),
    ),
    "table escalation_runs": (
        ("column", "as_of", "DATETIME", _NOT_NULL, None, 0, 0),
        ("column", "ran_at", "DATETIME", _NOT_NULL, None, 0, 0),
    ),
}
SQLITE_SHAPES: dict[int, dict[str, TableShape]] = {1: _VERSION_1, 2: _VERSION_2, 3: _VERSION_3}


# What PRAGMA does not say: a CHECK constraint (one that fails every insert, or that
# makes each insert allocate 300 MB), a COLLATE clause, a generated column's expression,
# an index's collation, WITHOUT ROWID. Each table's and index's CREATE statement, as
# `sqlite_statements` normalizes it, must be the one kpictl's steps write; the test
# that checks SQLITE_SHAPES checks these against the steps too.
_STATEMENTS_1 = {
    "table kpictl_store": "CREATE TABLE KPICTL_STORE ( VERSION INTEGER NOT NULL )",
    "table observations": (
        "CREATE TABLE OBSERVATIONS ( KPI VARCHAR ( 63 ) NOT NULL , PERIOD VARCHAR ( 63 ) NOT "
        "NULL , AS_OF DATE NOT NULL , VALUE FLOAT NOT NULL , SOURCE TEXT NOT NULL , "
        "RECORDED_AT DATETIME NOT NULL , CONSTRAINT OBSERVATIONS_KEY PRIMARY KEY ( KPI , "
        "PERIOD , AS_OF ) )"
    ),
}
_STATEMENTS_2 = {
    **_STATEMENTS_1,
    "index observations_by_period": (
        "CREATE INDEX OBSERVATIONS_BY_PERIOD ON OBSERVATIONS ( PERIOD , KPI , AS_OF , VALUE )"
    ),
}
_STATEMENTS_3 = {
    **_STATEMENTS_2,
    "table escalations": (
        "CREATE TABLE ESCALATIONS ( ID INTEGER NOT NULL , KPI VARCHAR ( 63 ) NOT NULL , "
        "PERIOD VARCHAR ( 63 ) NOT NULL , OPEN_KEY VARCHAR ( 127 ) , OPENED_AT DATETIME NOT "
        "NULL , TIER INTEGER NOT NULL , RESPOND_BY DATETIME NOT NULL , DEVIATION_PCT FLOAT , "
        "THREAD_ID TEXT , ACK_BY VARCHAR ( 63 ) , ACK_AT DATETIME , ACK_NOTE TEXT , CLOSED_AT "
        "DATETIME , PRIMARY KEY ( ID ) , UNIQUE ( OPEN_KEY ) )"
    ),
    "table escalation_steps": (
        "CREATE TABLE ESCALATION_STEPS ( ESCALATION_ID INTEGER NOT NULL , STEP VARCHAR ( 63 ) "
        "NOT NULL , CHANNEL VARCHAR ( 63 ) NOT NULL , CLAIMED_BY TEXT NOT NULL , CLAIMED_AT "
        "DATETIME NOT NULL , TIER INTEGER , RECIPIENTS TEXT , MESSAGE_ID TEXT , DELIVERED_AT "
        "DATETIME , CONSTRAINT ESCALATION_STEPS_KEY PRIMARY KEY ( ESCALATION_ID , STEP , "
        "CHANNEL ) , CONSTRAINT ESCALATION_STEPS_OF FOREIGN KEY ( ESCALATION_ID ) REFERENCES "
        "ESCALATIONS ( ID ) )"
    ),
    "table escalation_runs": (
        "CREATE TABLE ESCALATION_RUNS ( AS_OF DATETIME NOT NULL , RAN_AT DATETIME NOT NULL )"
    ),
}
SQLITE_STATEMENTS: dict[int, dict[str, str]] = {
    1: _STATEMENTS_1,
    2: _STATEMENTS_2,
    3: _STATEMENTS_3,
}

# SQLite's tokens, as far as kpictl's own statements use them: whitespace (ASCII, as
# SQLite reads it) between tokens, words and quoted names in either case. A string stays
# as written; anything else (a comment, a character outside ASCII) stays itself, so a
# statement with it differs from kpictl's.
_TOKENS = re.compile(
    r"""(?P<space>[ \t\n\f\r]+)
    |(?P<word>[A-Za-z_][A-Za-z0-9_]*)
    |"(?P<quoted>[A-Za-z_][A-Za-z0-9_]*)"
    |(?P<string>'(?:[^']|'')*')
    |(?P<number>[0-9]+)
    |(?P<other>.)""",
    re.VERBOSE | re.DOTALL,
)


def normalized_statement(sql: str) -> str:
    """A CREATE statement as tokens: case and spacing as kpictl or SQLite may have left them."""
    tokens = []
    for match in _TOKENS.finditer(sql):
        kind = match.lastgroup
        if kind == "space":
            continue
        token = match.group(kind or 0)
        # Words are ASCII (the pattern says so): SQLite folds the case of ASCII alone.
        tokens.append(token.upper() if kind in ("word", "quoted") else token)
    return " ".join(tokens)


def sqlite_statements(connection: Connection) -> dict[str, str]:
    """The normalized CREATE statement of every table and index with one (not SQLite's own)."""
    rows = connection.exec_driver_sql(
        "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
        " AND type IN ('table', 'index')"
    ).fetchall()
    return {
        f"{kind} {name}": normalized_statement(str(sql)) if sql is not None else ""
        for kind, name, sql in rows
    }


@cache
def built_sqlite_statements(version: int) -> dict[str, str]:
    """The statements kpictl's own steps give an SQLite store of `version`, built in memory."""
    from sqlalchemy import create_engine

    engine = create_engine("sqlite://")
    try:
        with engine.begin() as connection:
            for step in STEPS[:version]:
                step(connection)
            return sqlite_statements(connection)
    finally:
        engine.dispose()


def expected_sqlite_shape(version: int) -> dict[str, TableShape]:
    """The shape kpictl's own steps give an SQLite store of `version`."""
    return SQLITE_SHAPES[version]


@cache
def built_sqlite_shape(version: int) -> dict[str, TableShape]:
    """The shape kpictl's own steps give an SQLite store of `version`, built in memory."""
    from sqlalchemy import create_engine

    engine = create_engine("sqlite://")
    try:
        with engine.begin() as connection:
            for step in STEPS[:version]:
                step(connection)
            return sqlite_shape(connection)
    finally:
        engine.dispose()


def sqlite_difference(connection: Connection, version: int) -> str | None:
    """What in this SQLite store kpictl's version `version` would not have made, or None."""
    found = sqlite_shape(connection)
    expected = expected_sqlite_shape(version)
    # A view or trigger first: it is what makes a store hang, and the clearer sign.
    for what in sorted(found, key=lambda what: what.startswith("table ")):
        if what not in expected:
            return f"a {what} that kpictl does not make"
    for what, shape in expected.items():
        if what not in found:
            return f"no {what}"
        if found[what] != shape:
            return f"a {what} that is not the one kpictl makes"
    statements = sqlite_statements(connection)
    for what, statement in SQLITE_STATEMENTS[version].items():
        if statements.get(what) != statement:
            return f"{_article(what)} {what} that is not the one kpictl makes"
    for what in sorted(statements):
        if what not in SQLITE_STATEMENTS[version]:
            return f"{_article(what)} {what} that kpictl does not make"
    return None


def _article(what: str) -> str:
    return "an" if what.startswith("index ") else "a"


# The only default kpictl makes on PostgreSQL: escalations.id is SERIAL.
_POSTGRESQL_ADDED = """
SELECT table_name FROM information_schema.columns
WHERE table_schema = current_schema() AND (
    is_generated <> 'NEVER' OR is_identity = 'YES' OR collation_name IS NOT NULL OR (
        column_default IS NOT NULL AND NOT (
            table_name = 'escalations' AND column_name = 'id'
            AND column_default = 'nextval(''escalations_id_seq''::regclass)'
        )
    )
)
UNION ALL
SELECT rel.relname FROM pg_constraint con
JOIN pg_class rel ON rel.oid = con.conrelid
JOIN pg_namespace ns ON ns.oid = rel.relnamespace
WHERE ns.nspname = current_schema() AND con.contype NOT IN ('p', 'u', 'f', 'n')
UNION ALL
SELECT rel.relname FROM pg_index ind
JOIN pg_class rel ON rel.oid = ind.indrelid
JOIN pg_namespace ns ON ns.oid = rel.relnamespace
WHERE ns.nspname = current_schema() AND (ind.indexprs IS NOT NULL OR ind.indpred IS NOT NULL)
ORDER BY 1
"""


def postgresql_difference(connection: Connection, version: int, tables: set[str]) -> str | None:
    """The same check on PostgreSQL, as far as it is simple: tables, columns, defaults,
    CHECK constraints, collations, generated columns, odd indexes, triggers, rules.
    `tables`: the database's table names, as the caller has read them already."""
    from sqlalchemy import inspect

    expected = {
        name.removeprefix("table "): [column[1] for column in shape if column[0] == "column"]
        for name, shape in expected_sqlite_shape(version).items()
    }
    inspector = inspect(connection)
    views = set(inspector.get_view_names())
    for name, columns in expected.items():
        if name in views:
            return f"a view {name} that kpictl does not make"
        if name not in tables:
            return f"no table {name}"
        found = [column["name"] for column in inspector.get_columns(name)]
        if sorted(found) != sorted(columns):
            return f"a table {name} that is not the one kpictl makes"
    # What a column list does not show: a default that fills each row kpictl inserts, a
    # CHECK that fails or stalls each insert, a generated column, an index on an
    # expression (its function runs on each insert) or on part of a table.
    for (name,) in connection.exec_driver_sql(_POSTGRESQL_ADDED).fetchall():
        if name in expected:
            return f"a table {name} that is not the one kpictl makes"
    for kind, query in (
        (
            "trigger",
            "SELECT trigger_name, event_object_table FROM information_schema.triggers "
            "WHERE event_object_schema = current_schema()",
        ),
        ("rule", "SELECT rulename, tablename FROM pg_rules WHERE schemaname = current_schema()"),
    ):
        for name, table in connection.exec_driver_sql(query).fetchall():
            if table in expected:
                return f"a {kind} {name} on {table} that kpictl does not make"
    return None

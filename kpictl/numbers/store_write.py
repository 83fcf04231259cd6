"""Recording many observations at once, in time linear in their number.

Asking the store which keys it holds, a few hundred at a time, made SQLite scan the
whole table for every batch (a row-value IN list uses no index): 200,000 rows took
28 s, a million more than five minutes. The rows go into a temporary table instead,
one join against the key's index counts what is new, changed or the same, and one
INSERT ... ON CONFLICT DO UPDATE writes the new and changed ones. The same SQL runs on
SQLite and PostgreSQL; the temporary table lives and dies in the caller's transaction.

Imported only by kpictl.numbers.store.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Date,
    DateTime,
    Float,
    MetaData,
    String,
    Table,
    Text,
    and_,
    case,
    func,
    literal,
    or_,
    select,
)

from kpictl.numbers import store_schema as schema

# Rows handed to the driver per executemany: bounded memory for the parameters.
_BATCH = 10_000


def _incoming() -> Table:
    """The temporary table of one `record`: a fresh MetaData, so nothing is shared."""
    return Table(
        "kpictl_incoming",
        MetaData(),
        Column("kpi", String(63), nullable=False),
        Column("period", String(63), nullable=False),
        Column("as_of", Date, nullable=False),
        Column("value", Float(precision=53), nullable=False),
        prefixes=["TEMPORARY"],
    )


def record_all(
    connection: Connection,
    rows: Iterable[tuple[str, str, date, float]],
    *,
    source: str,
    now: datetime,
) -> tuple[int, int, int]:
    """Upsert `rows` (one per key) in the caller's transaction: (added, replaced, unchanged)."""
    incoming = _incoming()
    incoming.create(connection)
    batch: list[dict[str, Any]] = []
    for kpi, period, as_of, value in rows:
        batch.append({"kpi": kpi, "period": period, "as_of": as_of, "value": value})
        if len(batch) == _BATCH:
            connection.execute(incoming.insert(), batch)
            batch = []
    if batch:
        connection.execute(incoming.insert(), batch)
    table = schema.observations
    joined = incoming.outerjoin(
        table,
        and_(
            table.c.kpi == incoming.c.kpi,
            table.c.period == incoming.c.period,
            table.c.as_of == incoming.c.as_of,
        ),
    )
    same = case((table.c.value == incoming.c.value, 1), else_=0)
    counted = connection.execute(
        select(func.count(), func.count(table.c.kpi), func.coalesce(func.sum(same), 0)).select_from(
            joined
        )
    ).one()
    total, held, unchanged = (int(number) for number in counted)
    if held - unchanged or total - held:
        changed = (
            select(
                incoming.c.kpi,
                incoming.c.period,
                incoming.c.as_of,
                incoming.c.value,
                literal(source, Text),
                literal(now, DateTime(timezone=True)),
            )
            .select_from(joined)
            .where(or_(table.c.kpi.is_(None), table.c.value != incoming.c.value))
        )
        connection.execute(_upsert(connection, changed))
    # Dropped on success only: after an error the transaction is rolled back, which undoes
    # the CREATE on both databases, and on PostgreSQL a DROP in a failed transaction would
    # replace the database's message with "current transaction is aborted".
    incoming.drop(connection)
    return total - held, held - unchanged, unchanged


def _upsert(connection: Connection, rows: Any) -> Any:
    """INSERT of `rows` that replaces the value of a key already there (another process's)."""
    table = schema.observations
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement: Any = pg_insert(table)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(table)
    columns = ["kpi", "period", "as_of", "value", "source", "recorded_at"]
    return statement.from_select(columns, rows).on_conflict_do_update(
        index_elements=[table.c.kpi, table.c.period, table.c.as_of],
        set_={
            "value": statement.excluded.value,
            "source": statement.excluded.source,
            "recorded_at": statement.excluded.recorded_at,
        },
    )

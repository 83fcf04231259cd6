"""What the store remembers about escalations, and the claims that make delivery exactly once.

Tables: store_schema version 3. Times are written in UTC; SQLite gives them back without
a zone, so every read puts UTC back on.

Exactly once: before a step (tier-2 by email, say) is delivered, a run inserts the row
(escalation, step, channel) into escalation_steps in its own committed transaction. The
primary key lets one run win; the others see the row and leave the step alone. The
winner marks the row delivered once the server took the message, and deletes it when
delivery failed, so the next run tries again. A claim whose run died (no delivered_at
after LEASE) is taken over by the next run, by an UPDATE that only succeeds against the
claim it read: of two runs taking over one stale claim, one does.

Imported only where a command needs the store (SQLAlchemy is not on `check`'s path).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, insert, select, type_coerce, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.types import NullType

from kpictl.escalation.memory_rows import escalation_reader, run_time, step_reader
from kpictl.numbers import store_schema as schema
from kpictl.numbers.store import StoreError
from kpictl.numbers.store_rows import DamagedRowError

if TYPE_CHECKING:
    from kpictl.numbers.store import Store

ESCALATIONS, STEPS, RUNS = schema._escalation_tables(schema.metadata)
# A claim not delivered within this long belongs to a run that died: a later run retries it.
# Longer than any SMTP timeout times a batch's messages could keep one run busy on a step.
LEASE = timedelta(minutes=15)


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


# The driver's values, unconverted: memory_rows checks each (SQLAlchemy's DateTime would
# fail on a hostile row's text, and an Integer column may hold 'abc', before it could).
def _raw(table: Any) -> list[Any]:
    return [type_coerce(column, NullType()).label(column.name) for column in table.c]


_RAW_ESCALATIONS = _raw(ESCALATIONS)
_RAW_STEPS = _raw(STEPS)
_OWNER = (
    type_coerce(ESCALATIONS.c.kpi, NullType()).label("owner_kpi"),
    type_coerce(ESCALATIONS.c.period, NullType()).label("owner_period"),
)


@dataclass(frozen=True)
class Step:
    """One step delivered (or claimed) for an escalation."""

    step: str  # tier-2, outage, resolved
    channel: str  # email, or a chat channel's name
    tier: int | None
    recipients: tuple[str, ...]
    message_id: str | None
    claimed_at: datetime
    delivered_at: datetime | None


@dataclass
class Remembered:
    """An escalation as the store holds it."""

    id: int
    kpi: str
    period: str
    opened_at: datetime
    tier: int
    respond_by: datetime
    deviation_pct: float | None
    thread_id: str | None
    ack_by: str | None
    ack_at: datetime | None
    ack_note: str | None
    closed_at: datetime | None
    steps: list[Step] = field(default_factory=list)

    def delivered(self, step: str, channel: str = "email") -> bool:
        return any(s.step == step and s.channel == channel and s.delivered_at for s in self.steps)

    def last_tier_step(self) -> Step | None:
        """The latest tier step delivered: who got the last tier."""
        done = [s for s in self.steps if s.step.startswith("tier-") and s.delivered_at]
        return max(done, key=lambda s: (s.delivered_at, s.tier or 0)) if done else None


def _remembered(store: Store, row: Any) -> Remembered:
    """An escalations row as kpictl wrote it, or StoreError naming what is wrong with it."""
    cells = escalation_reader(row)
    try:
        return Remembered(
            id=int(row.id),  # INTEGER PRIMARY KEY: SQLite itself keeps it a whole number
            kpi=cells.text("kpi"),
            period=cells.text("period"),
            opened_at=cells.time("opened_at"),
            tier=cells.whole("tier"),
            respond_by=cells.time("respond_by"),
            deviation_pct=cells.number("deviation_pct"),
            thread_id=cells.maybe_message_id("thread_id"),
            ack_by=cells.maybe_text("ack_by"),
            ack_at=cells.maybe_time("ack_at"),
            ack_note=cells.maybe_text("ack_note"),
            closed_at=cells.maybe_time("closed_at"),
        )
    except DamagedRowError as exc:
        raise store.damaged(exc) from None


def _step(store: Store, row: Any, kpi: str, period: str) -> Step:
    """An escalation_steps row of the escalation of (kpi, period), checked the same way."""
    cells = step_reader(row, kpi, period)
    try:
        return Step(
            step=cells.text("step"),
            channel=cells.text("channel"),
            tier=cells.maybe_whole("tier"),
            recipients=tuple(
                line for line in (cells.maybe_text("recipients") or "").splitlines() if line
            ),
            message_id=cells.maybe_text("message_id"),
            claimed_at=cells.time("claimed_at"),
            delivered_at=cells.maybe_time("delivered_at"),
        )
    except DamagedRowError as exc:
        raise store.damaged(exc) from None


def _last_run(store: Store, value: object) -> datetime | None:
    try:
        return run_time(value)
    except DamagedRowError as exc:
        raise store.damaged(exc) from None


def remembers(store: Store) -> bool:
    """Whether the store has the escalation tables: an older one read as it is has not."""
    return store.holds(schema.ESCALATIONS_SINCE)


def open_escalations(store: Store) -> dict[tuple[str, str], Remembered]:
    """Every open escalation with its steps, by (kpi, period)."""
    out: dict[tuple[str, str], Remembered] = {}
    if not remembers(store):
        return out  # an older store read as it is: no kpictl before it escalated
    by_id: dict[int, Remembered] = {}
    with store.transaction(write=False) as connection:
        query = select(*_RAW_ESCALATIONS).where(ESCALATIONS.c.closed_at.is_(None))
        for row in connection.execute(query):
            found = _remembered(store, row)
            out[(found.kpi, found.period)] = found
            by_id[found.id] = found
        query = select(*_RAW_STEPS).join_from(
            STEPS, ESCALATIONS, ESCALATIONS.c.id == STEPS.c.escalation_id
        )
        query = query.where(ESCALATIONS.c.closed_at.is_(None))
        for row in connection.execute(query.order_by(STEPS.c.claimed_at)):
            # SQLite lets escalation_id hold any value: only a whole number has an owner.
            owner = by_id.get(row.escalation_id) if isinstance(row.escalation_id, int) else None
            if owner is not None:
                owner.steps.append(_step(store, row, owner.kpi, owner.period))
    return out


def last_run(store: Store) -> datetime | None:
    if not remembers(store):
        return None
    with store.transaction(write=False) as connection:
        return _last_run(store, connection.execute(select(_max_run())).scalar())


def start_run(store: Store, moment: datetime) -> datetime | None:
    """Record a run at `moment`, refusing one earlier than the last; the last run's moment.

    A write before anything is delivered: a read-only store fails here, not after
    an email went out that it cannot remember.
    """
    with store.transaction(write=True) as connection:
        last = _last_run(store, connection.execute(select(_max_run())).scalar())
        if last is not None and utc(moment) < last:
            raise ClockError(last)
        connection.execute(insert(RUNS).values(as_of=utc(moment), ran_at=datetime.now(UTC)))
    return last


def _max_run() -> Any:
    return type_coerce(func.max(RUNS.c.as_of), NullType())


class ClockError(Exception):
    """The evaluation moment is earlier than the last recorded run."""

    def __init__(self, last: datetime) -> None:
        super().__init__(last.isoformat())
        self.last = last


def open_escalation(
    store: Store,
    kpi: str,
    period: str,
    opened_at: datetime,
    tier: int,
    respond_by: datetime,
    deviation_pct: float | None,
) -> Remembered:
    """The open escalation of (kpi, period): made now, or the one another run just made."""
    key = f"{kpi}/{period}"
    values = {
        "kpi": kpi,
        "period": period,
        "open_key": key,
        "opened_at": utc(opened_at),
        "tier": tier,
        "respond_by": utc(respond_by),
        "deviation_pct": deviation_pct,
    }
    try:
        with store.transaction(write=True) as connection:
            connection.execute(insert(ESCALATIONS).values(**values))
    except StoreError:
        pass  # another run opened it first (UNIQUE open_key): use theirs
    except IntegrityError:
        pass
    with store.transaction(write=False) as connection:
        query = select(*_RAW_ESCALATIONS).where(ESCALATIONS.c.open_key == key)
        row = connection.execute(query).first()
    if row is None:
        raise StoreError(f"cannot open the escalation of {kpi} {period} in {store.shown}")
    return _remembered(store, row)


_CHUNK = 300  # keys per statement: well under every database's parameter limit


def _insert_ignoring_conflicts(store: Store, table: Any) -> Any:
    """INSERT that skips rows whose unique key is taken (another run's), on either database."""
    if store.dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing()


def open_many(
    store: Store, wanted: list[tuple[str, str, datetime, int, datetime, float | None]]
) -> dict[tuple[str, str], Remembered]:
    """Open (kpi, period, opened_at, tier, respond_by, deviation) escalations in one
    transaction; each comes back as stored, whether this run or another opened it."""
    if not wanted:
        return {}
    rows = [
        {
            "kpi": kpi,
            "period": period,
            "open_key": f"{kpi}/{period}",
            "opened_at": utc(opened_at),
            "tier": tier,
            "respond_by": utc(respond_by),
            "deviation_pct": deviation,
        }
        for kpi, period, opened_at, tier, respond_by, deviation in wanted
    ]
    keys = [row["open_key"] for row in rows]
    out: dict[tuple[str, str], Remembered] = {}
    with store.transaction(write=True) as connection:
        connection.execute(_insert_ignoring_conflicts(store, ESCALATIONS), rows)
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            query = select(*_RAW_ESCALATIONS).where(ESCALATIONS.c.open_key.in_(chunk))
            for row in connection.execute(query):
                found = _remembered(store, row)
                out[(found.kpi, found.period)] = found
    return out


def claim_many(
    store: Store, keys: list[tuple[int, str, str]], runner: str, now: datetime
) -> set[tuple[int, str, str]]:
    """Claim (escalation, step, channel) keys in one committed transaction; the ones won.

    A key another run holds is won only when its claim is stale (see `claim`).
    """
    if not keys:
        return set()
    rows = [
        {
            "escalation_id": eid,
            "step": step,
            "channel": channel,
            "claimed_by": runner,
            "claimed_at": utc(now),
        }
        for eid, step, channel in keys
    ]
    won: set[tuple[int, str, str]] = set()
    wanted = set(keys)
    with store.transaction(write=True) as connection:
        connection.execute(_insert_ignoring_conflicts(store, STEPS), rows)
        ids = sorted({eid for eid, _, _ in keys})
        for start in range(0, len(ids), _CHUNK):
            query = select(STEPS.c.escalation_id, STEPS.c.step, STEPS.c.channel).where(
                STEPS.c.escalation_id.in_(ids[start : start + _CHUNK]),
                STEPS.c.claimed_by == runner,
            )
            for eid, step, channel in connection.execute(query):
                if (int(eid), step, channel) in wanted:
                    won.add((int(eid), step, channel))
    for key in keys:
        if key not in won and claim(store, *key, runner, now):
            won.add(key)
    return won


def claim(
    store: Store, escalation: int, step: str, channel: str, runner: str, now: datetime
) -> bool:
    """Claim a step for this run; False when it is delivered or another live run has it."""
    row = {
        "escalation_id": escalation,
        "step": step,
        "channel": channel,
        "claimed_by": runner,
        "claimed_at": utc(now),
    }
    try:
        with store.transaction(write=True) as connection:
            connection.execute(insert(STEPS).values(**row))
        return True
    except StoreError:
        pass  # the key is taken: look at who holds it
    key = and_(
        STEPS.c.escalation_id == escalation, STEPS.c.step == step, STEPS.c.channel == channel
    )
    with store.transaction(write=True) as connection:
        query = select(*_RAW_STEPS, *_OWNER).join_from(
            STEPS, ESCALATIONS, ESCALATIONS.c.id == STEPS.c.escalation_id
        )
        held = connection.execute(query.where(key)).first()
        if held is None:
            return False
        found = _step(store, held, str(held.owner_kpi), str(held.owner_period))
        if found.delivered_at is not None or utc(now) - found.claimed_at < LEASE:
            return False
        taken = connection.execute(
            update(STEPS)
            .where(key, STEPS.c.claimed_by == held.claimed_by, STEPS.c.delivered_at.is_(None))
            .values(claimed_by=runner, claimed_at=utc(now))
        )
        return bool(taken.rowcount == 1)


def release(store: Store, escalation: int, step: str, channel: str, runner: str) -> None:
    """Give a claim back after a failed delivery: the next run tries the step again."""
    from sqlalchemy import delete

    with store.transaction(write=True) as connection:
        connection.execute(
            delete(STEPS).where(
                STEPS.c.escalation_id == escalation,
                STEPS.c.step == step,
                STEPS.c.channel == channel,
                STEPS.c.claimed_by == runner,
                STEPS.c.delivered_at.is_(None),
            )
        )


@dataclass(frozen=True)
class Delivered:
    """A step the server took, and what the escalation becomes with it."""

    escalation: int
    step: str
    channel: str
    tier: int | None
    recipients: tuple[str, ...]
    message_id: str | None
    at: datetime
    # The escalation afterwards: its tier and respond-by (None: unchanged), closed or not.
    new_tier: int | None = None
    respond_by: datetime | None = None
    close: bool = False


def delivered(store: Store, runner: str, done: Delivered) -> None:
    """Record a delivered step and move the escalation with it, in one transaction."""
    with store.transaction(write=True) as connection:
        connection.execute(
            update(STEPS)
            .where(
                STEPS.c.escalation_id == done.escalation,
                STEPS.c.step == done.step,
                STEPS.c.channel == done.channel,
                STEPS.c.claimed_by == runner,
            )
            .values(
                tier=done.tier,
                recipients="\n".join(done.recipients),
                message_id=done.message_id,
                delivered_at=utc(done.at),
            )
        )
        # The first step's Message-ID is the thread every later step replies to.
        values: dict[str, Any] = {}
        if done.message_id and done.step.startswith("tier-"):
            values["thread_id"] = func.coalesce(ESCALATIONS.c.thread_id, done.message_id)
        if done.new_tier is not None:
            values["tier"] = done.new_tier
        if done.respond_by is not None:
            values["respond_by"] = utc(done.respond_by)
        if done.close:
            values["closed_at"] = utc(done.at)
            values["open_key"] = None
        if values:
            connection.execute(
                update(ESCALATIONS).where(ESCALATIONS.c.id == done.escalation).values(**values)
            )


def note_deviations(store: Store, deviations: dict[int, float]) -> None:
    """The last known deviation of each open escalation (what an outage email states)."""
    if not deviations:
        return
    from sqlalchemy import bindparam

    statement = (
        update(ESCALATIONS)
        .where(ESCALATIONS.c.id == bindparam("eid"))
        .values(deviation_pct=bindparam("dev"))
    )
    with store.transaction(write=True) as connection:
        connection.execute(
            statement, [{"eid": key, "dev": value} for key, value in deviations.items()]
        )


# The steps that say why an escalation closed without getting back on track: its
# period ended, or its KPI left the registry. Nothing is delivered for them, so their
# channel is none: "-", which no chat channel can be named.
PERIOD_ENDED = "period-ended"
KPI_REMOVED = "kpi-removed"
NO_CHANNEL = "-"


def close_ended(
    store: Store, escalations: list[int], runner: str, at: datetime, step: str = PERIOD_ENDED
) -> set[int]:
    """Close these escalations because their period ended (or, with `step` KPI_REMOVED,
    their KPI left the registry); the ids this run closed.

    Each closes once, and only while it is still open: in one write transaction the
    rows still open are locked and closed, and the step is recorded for them alone
    (claimed and done at once, since nothing is delivered). A run at the same moment,
    or a resolved note recorded in between, leaves nothing here to close; its close
    stands, and no period-ended step is recorded against it.
    """
    if not escalations:
        return set()
    closed: set[int] = set()
    with store.transaction(write=True) as connection:
        for start in range(0, len(escalations), _CHUNK):
            chunk = escalations[start : start + _CHUNK]
            # FOR UPDATE: on PostgreSQL a second run waits here for the first to commit,
            # then sees the row closed. SQLite's write transaction already serializes.
            query = (
                select(ESCALATIONS.c.id)
                .where(ESCALATIONS.c.id.in_(chunk), ESCALATIONS.c.closed_at.is_(None))
                .with_for_update()
            )
            still_open = sorted(int(eid) for (eid,) in connection.execute(query))
            if not still_open:
                continue
            connection.execute(
                update(ESCALATIONS)
                .where(ESCALATIONS.c.id.in_(still_open), ESCALATIONS.c.closed_at.is_(None))
                .values(closed_at=utc(at), open_key=None)
            )
            closed.update(still_open)
        rows = [
            {
                "escalation_id": eid,
                "step": step,
                "channel": NO_CHANNEL,
                "claimed_by": runner,
                "claimed_at": utc(at),
                "delivered_at": utc(at),
            }
            for eid in sorted(closed)
        ]
        if rows:
            connection.execute(_insert_ignoring_conflicts(store, STEPS), rows)
    return closed


def acknowledge(store: Store, escalation: int, person: str, note: str | None, at: datetime) -> None:
    with store.transaction(write=True) as connection:
        connection.execute(
            update(ESCALATIONS)
            .where(ESCALATIONS.c.id == escalation)
            .values(ack_by=person, ack_at=utc(at), ack_note=note)
        )

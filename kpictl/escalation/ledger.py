"""`kpictl ack` and `kpictl escalations`: take an escalation on, and list what is open.

Exit codes follow the README: 2 when kpictl cannot act on the words it was given (an
unknown KPI or person, no registry), 1 when it understood them but the state says no
(an inactive person, nothing open to acknowledge).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from kpictl import display
from kpictl.errors import KpictlError
from kpictl.escalation import memory
from kpictl.escalation.lifecycle import Ended, ended
from kpictl.escalation.memory import KPI_REMOVED, PERIOD_ENDED
from kpictl.registry.models import Kpi
from kpictl.registry.schema_errors import suggest
from kpictl.templating.escaping import defuse_text, json_text

if TYPE_CHECKING:
    from kpictl.escalation.memory import Remembered
    from kpictl.numbers.store import Store
    from kpictl.registry.registry import Registry

NOTE_LIMIT = 500  # characters of an acknowledgement note kept
# What an open escalation that can never get back on track waits for (lifecycle.ended).
CLOSES_NEXT = "closes on the next escalate --send"


@dataclass(frozen=True)
class Acknowledged:
    kpi: str
    period: str
    tier: int
    by: str
    at: datetime
    before: str | None  # who had acknowledged it already, if anyone


def _kpi(registry: Registry, kpi_id: str) -> Kpi:
    entity = registry.get(kpi_id)
    if isinstance(entity, Kpi):
        return entity
    if entity is not None:
        raise KpictlError(f"'{kpi_id}' is a {entity.kind}, not a KPI")
    close = suggest(kpi_id, [kpi.id for kpi in registry.kpis])
    tip = f" (did you mean '{close}'?)" if close else ""
    raise KpictlError(f"no KPI '{kpi_id}'{tip}")


def _open_store(registry: Registry, *, read_only: bool) -> Store | None:
    from kpictl.numbers.transfer import registry_store

    try:
        return registry_store(registry, create=False, read_only=read_only)
    except KpictlError as exc:
        if "there is no store yet" in str(exc):
            return None
        raise


def _guarded_open(store: Store) -> dict[tuple[str, str], Remembered]:
    from kpictl.numbers.store import StoreError

    try:
        return memory.open_escalations(store)
    except StoreError as exc:
        raise KpictlError(str(exc)) from None


def acknowledge(
    registry: Registry, kpi_id: str, person_id: str, note: str | None, at: datetime
) -> Acknowledged:
    """Record that `person_id` took on the open escalation of `kpi_id`."""
    from kpictl.numbers.store import StoreError

    kpi = _kpi(registry, kpi_id)
    person = registry.person(person_id)
    if person is None:
        close = suggest(person_id, [p.id for p in registry.people])
        tip = f" (did you mean '{close}'?)" if close else ""
        raise KpictlError(f"no person '{person_id}'{tip}: --by takes a person id")
    if not person.active:
        raise KpictlError(
            f"{person.id} is inactive (active: false) and cannot take on an escalation; "
            f"the KPI's owners are {kpi.owners.primary} and {kpi.owners.backup}",
            exit_code=1,
        )
    text = display.clean(note)[:NOTE_LIMIT] if note else None
    store = _open_store(registry, read_only=False)
    nothing = (
        f"no escalation of {kpi.id} is open: there is nothing to acknowledge "
        "(`kpictl escalations` lists the open ones)"
    )
    if store is None:
        raise KpictlError(nothing, exit_code=1)
    with store:
        found = [r for (k, _), r in _guarded_open(store).items() if k == kpi.id]
        if not found:
            raise KpictlError(nothing, exit_code=1)
        over = _ending(registry, found, at)
        current = [r for r in found if r.id not in over]
        if not current:
            # Acknowledging a miss of a period that is over would change nothing: the
            # next escalate --send closes it, and the new period escalates on its own.
            periods = ", ".join(sorted({r.period for r in found}))
            raise KpictlError(
                f"no escalation of {kpi.id} is open for the current period: its {periods} "
                "escalation belongs to a period that ended and closes on the next "
                "`kpictl escalate --send`; there is nothing to acknowledge",
                exit_code=1,
            )
        latest = max(current, key=lambda r: r.opened_at)
        try:
            memory.acknowledge(store, latest.id, person.id, text, at)
        except StoreError as exc:
            raise KpictlError(str(exc)) from None
    return Acknowledged(kpi.id, latest.period, latest.tier, person.id, at, latest.ack_by)


def _ending(registry: Registry, found: list[Remembered], moment: datetime) -> dict[int, Ended]:
    """Those of these open escalations that the next escalate --send closes, by id."""
    fiscal = registry.settings.fiscal_year_start_month
    kpis = registry.written_ids("kpi")
    over = ended({(r.kpi, r.period): r for r in found}, moment, kpis, fiscal)
    return {item.open.id: item for item in over}


@dataclass(frozen=True)
class OpenRow:
    kpi: str
    period: str
    tier: int
    opened_at: datetime
    respond_by: datetime
    overdue: bool
    # Its period is over, or its KPI left the registry: the next escalate --send closes
    # it, so it is never overdue. memory's step name (period-ended, kpi-removed) or None.
    ending: str | None
    ack_by: str | None
    ack_at: datetime | None
    ack_note: str | None


def open_rows(registry: Registry, moment: datetime) -> list[OpenRow]:
    """Open escalations, overdue first (unacknowledged and past respond-by), then by deadline;
    last those whose period ended (they wait for the next escalate --send to close them)."""
    store = _open_store(registry, read_only=True)
    if store is None:
        return []
    with store:
        remembered = _guarded_open(store)
    zone = moment.tzinfo
    over = _ending(registry, list(remembered.values()), moment)
    rows = [
        OpenRow(
            r.kpi,
            r.period,
            r.tier,
            r.opened_at.astimezone(zone),
            r.respond_by.astimezone(zone),
            r.id not in over and r.ack_by is None and moment >= r.respond_by,
            over[r.id].step if r.id in over else None,
            r.ack_by,
            r.ack_at.astimezone(zone) if r.ack_at else None,
            r.ack_note,
        )
        for r in remembered.values()
    ]
    rows.sort(key=lambda r: (r.ending is not None, not r.overdue, r.respond_by, r.kpi))
    return rows


def render(rows: list[OpenRow], style: str) -> str:
    """text, markdown or json."""
    if style == "json":
        return (
            json_text(
                [
                    {
                        "kpi": r.kpi,
                        "period": r.period,
                        "tier": r.tier,
                        "opened_at": r.opened_at.isoformat(),
                        "respond_by": r.respond_by.isoformat(),
                        "overdue": r.overdue,
                        "ending": r.ending,
                        "acknowledged_by": r.ack_by,
                        "acknowledged_at": r.ack_at.isoformat() if r.ack_at else None,
                        "note": r.ack_note,
                    }
                    for r in rows
                ],
                indent=2,
            )
            + "\n"
        )
    if not rows:
        return "No escalation is open.\n"
    cell = display.clean  # text_table escapes Markdown itself
    table: list[list[object]] = [["KPI", "Period", "Tier", "Since", "Respond by", "Acknowledged"]]
    for r in rows:
        due = display.moment_short(r.respond_by) + (" (overdue)" if r.overdue else "")
        if r.ending is not None:  # its respond-by no longer asks anything of anyone
            why = "KPI left the registry" if r.ending == KPI_REMOVED else "period ended"
            due = f"{why}: {CLOSES_NEXT}"
        acked = (
            f"{cell(r.ack_by)} on {display.moment_short(r.ack_at)}"
            if r.ack_by and r.ack_at
            else "no"
        )
        table.append(
            [cell(r.kpi), cell(r.period), r.tier, display.moment_short(r.opened_at), due, acked]
        )
    overdue = sum(1 for r in rows if r.overdue)
    text = display.text_table(table, "markdown" if style == "markdown" else "text", right=(2,))
    summary = f"{display.plural(len(rows), 'open escalation')}, {overdue} overdue"
    over = sum(1 for r in rows if r.ending == PERIOD_ENDED)
    if over:
        summary += (
            ", 1 for a period that ended" if over == 1 else f", {over} for periods that ended"
        )
    gone = sum(1 for r in rows if r.ending == KPI_REMOVED)
    if gone:
        summary += f", {gone} whose KPI left the registry"
    summary += "."
    return defuse_text(f"{text}\n\n{summary}\n")

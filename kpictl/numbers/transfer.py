"""Actual values between CSV files and the store: `actuals import`, `actuals export`, and
the store's values for the scorecard commands. Use cases: they return data, the CLI prints.

Imported only by commands that need the store (SQLAlchemy loads with it).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date

from kpictl.display import plural, written
from kpictl.errors import KpictlError
from kpictl.fileio import NotRegularFileError
from kpictl.numbers.actuals import Actuals, ActualsError, open_actuals, read_actuals
from kpictl.numbers.connections import ConnectError, UnknownStoreError, store_url
from kpictl.numbers.periods import current_periods
from kpictl.numbers.store import (
    Observation,
    Recorded,
    Store,
    StoreError,
    StoreMissingError,
    open_store,
)
from kpictl.registry.registry import Registry
from kpictl.registry.schema_errors import suggest
from kpictl.templating.escaping import defuse, spreadsheet, visible

HEADER = ("kpi", "period", "value", "as_of")


def registry_store(registry: Registry, *, create: bool, read_only: bool = False) -> Store:
    """The registry's store (KPICTL_STORE, `store:` or .kpictl/store.db), or a one-line error.

    Reading commands pass `read_only=True`: a missing store is then an error telling
    the user how to record values, never an empty store made for a read, and an older
    store is read as it is, never upgraded (see open_store).
    """
    try:
        return open_store(
            store_url(registry.settings, registry.root), create=create, read_only=read_only
        )
    except (ConnectError, StoreError) as exc:
        raise KpictlError(str(exc)) from None


def stored_actuals(registry: Registry, day: date, *, required: bool = True) -> Actuals | None:
    """What the store knows for a scorecard on `day`: the current periods, up to that day.

    Not `required`: None when there is no store yet, or kpictl.yaml has errors so the
    store is unknown (instead of the error saying so).

    Only the month, quarter and year holding `day` (a KPI's current target period is
    one of them) and the campaigns' own values are read: a store with years of daily
    history holds hundreds of thousands of rows that no scorecard of today uses.
    """
    kpis = [kpi.id for kpi in registry.kpis]
    campaigns = [campaign.id for campaign in registry.campaigns]
    periods = [*current_periods(day, registry.settings.fiscal_year_start_month), *campaigns]
    try:
        opened = open_store(store_url(registry.settings, registry.root), read_only=True)
    except (StoreMissingError, UnknownStoreError) as exc:
        if not required:
            return None
        raise KpictlError(str(exc)) from None
    except (ConnectError, StoreError) as exc:
        raise KpictlError(str(exc)) from None
    with opened as store:
        try:
            return store.actuals(kpis, campaigns, periods=periods, until=day)
        except StoreError as exc:
            raise KpictlError(str(exc)) from None


@dataclass
class ImportReport:
    """What `actuals import` did: the rows recorded (or none) and the rows left out."""

    name: str  # the file as messages show it
    rows: int  # usable rows
    recorded: Recorded | None  # None: nothing recorded
    notes: list[str] = field(default_factory=list)  # file:row lines for stderr
    skipped: int = 0  # rows left out as unusable

    @property
    def ok(self) -> bool:
        return self.skipped == 0


def import_csv(registry: Registry, spec: str, *, skip_bad: bool) -> ImportReport:
    """Record the rows of CSV file `spec` (`-`: stdin) in the store, all or none.

    Every row goes through the CSV reader `status --actuals` uses, so a row is
    accepted or refused here exactly as there. With a bad row and no `skip_bad`
    nothing is recorded; with `skip_bad` the good rows are.
    """
    actuals = _read(registry, spec)
    notes = [f"{actuals.source}:{problem.row}: {problem.message}" for problem in actuals.problems]
    if actuals.more_problems:
        notes.append(
            f"{actuals.source}: {plural(actuals.more_problems, 'more row')} with problems not "
            "shown: fix the rows above and run again"
        )
    report = ImportReport(actuals.source, len(actuals), None, notes, actuals.skipped)
    if actuals.skipped and not skip_bad:
        return report
    source = "import <stdin>" if spec == "-" else f"import {actuals.source}"
    observations = (Observation(a.kpi, a.period, a.value, a.as_of) for a in actuals)
    with registry_store(registry, create=True) as store:
        try:
            report.recorded = store.record(observations, source=source)
        except StoreError as exc:
            raise KpictlError(f"nothing recorded: {exc}") from None
    return report


def _read(registry: Registry, spec: str) -> Actuals:
    kpis = [kpi.id for kpi in registry.kpis]
    campaigns = [campaign.id for campaign in registry.campaigns]
    name = "<stdin>" if spec == "-" else visible(spec)
    try:
        with open_actuals(spec) as (stream, opened):
            return read_actuals(stream, visible(opened), kpis, campaigns)
    except ActualsError as exc:
        raise KpictlError(f"{name}:{exc.row}: {exc.message}; nothing recorded") from None
    except NotRegularFileError as exc:
        raise KpictlError(
            f"cannot read {name}: it is {exc.kind}, not a regular file; kpictl does not "
            "follow links or wait on pipes: name the CSV file itself (or pipe it to -)"
        ) from None
    except OSError as exc:
        raise KpictlError(f"cannot read {name}: {exc.strerror or exc}") from None


def check_kpis(registry: Registry, wanted: Collection[str]) -> None:
    """Refuse (exit 2) a --kpi that names no KPI of the registry, with a did-you-mean."""
    ids = sorted(kpi.id for kpi in registry.kpis)
    for kpi in wanted:
        if kpi in ids:
            continue
        close = suggest(kpi, ids)
        tip = f" (did you mean '{close}'?)" if close else ""
        raise KpictlError(f"--kpi: no KPI '{visible(kpi)}' in the registry{tip}")


@dataclass
class Export:
    """What `actuals export` gives: the CSV, its rows, and the store's rows left out."""

    text: str
    count: int
    left_out: list[str] = field(default_factory=list)  # one line each, for stderr


def export_csv(registry: Registry, kpis: Collection[str], since: date | None) -> Export:
    """The store's observations as the CSV of REGISTRY.md, and how many rows it holds.

    The store is another program's to write too: a row whose KPI or period is no id
    (a line break and a workflow command in it) is left out and said so; every cell
    is formula-safe and the whole text can run no CI workflow command.
    """
    check_kpis(registry, kpis)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    count = 0
    left_out: list[str] = []
    with registry_store(registry, create=False, read_only=True) as store:
        try:
            for item in store.observations(kpis=kpis, since=since, left_out=left_out):
                writer.writerow(
                    (
                        spreadsheet(item.kpi),
                        spreadsheet(item.period),
                        written(item.value, exact=True),
                        item.as_of.isoformat(),
                    )
                )
                count += 1
        except StoreError as exc:
            raise KpictlError(str(exc)) from None
    return Export(defuse(buffer.getvalue()), count, [defuse(line) for line in left_out])

"""`kpictl pull`: actual values from the warehouse into the store."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kpictl.cli import RegistryPath, app, parse_date, resolve_registry
from kpictl.errors import KpictlError
from kpictl.output_formats import PullFormat

if TYPE_CHECKING:
    from kpictl.numbers.pull import PullResult

# More queries than this get a progress bar (on a terminal): a handful finish before
# a bar would be drawn.
PROGRESS_FROM = 8
MAX_TIMEOUT = 86400  # a day
AS_OF_HELP = (
    "Evaluate at this date (YYYY-MM-DD): the target period holding it is pulled, and "
    "it is the :as_of of the queries. Default: today in the registry's time zone."
)
KPI_HELP = "Pull only this KPI (repeat for more). Default: every KPI with an `actual:` query."
TIMEOUT_HELP = "Cancel a query that runs longer than this many seconds (it is reported)."
BACKFILL_HELP = (
    "--backfill (default) also computes the value at each earlier review checkpoint of "
    "the current period that the store does not hold yet, so a first pull shows a trend."
)
DRY_RUN_HELP = "Run the queries and show what would be recorded; record nothing."


@app.command()
def pull(
    path: RegistryPath = None,
    kpi: Annotated[
        list[str] | None,
        typer.Option("--kpi", metavar="ID", help=KPI_HELP, show_default=False),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", metavar="DATE", help=AS_OF_HELP, show_default=False)
    ] = None,
    timeout: Annotated[
        float,
        typer.Option("--timeout", metavar="SECONDS", help=TIMEOUT_HELP),
    ] = 60.0,
    backfill: Annotated[bool, typer.Option("--backfill/--no-backfill", help=BACKFILL_HELP)] = True,
    dry_run: Annotated[bool, typer.Option("--dry-run", help=DRY_RUN_HELP)] = False,
    output_format: Annotated[
        PullFormat,
        typer.Option("-f", "--format", help="text (default) or json.", show_default=False),
    ] = PullFormat.text,
) -> int:
    """Compute each KPI's actual value in the warehouse and record it in the store.

    Runs the `actual.sql` of every KPI that has one (or those given with --kpi) for the
    target period holding the evaluation date, with the bind parameters :period_start,
    :period_end (the day after the period), :as_of and :campaign (NULL); each in a
    read-only transaction that is rolled back, one SELECT statement only, in parallel,
    each within --timeout. Data sources with `freshness:` date the values. Charter KPIs
    whose SQL uses :campaign are recorded per running campaign too (:campaign = its id),
    with its readout dates. Exit 0 when every value was recorded, 1 when some
    query failed (each is named with the database's message), 2 when kpictl could not
    run (no connections, an unset variable, an unusable store).
    Example: `kpictl pull registry/ --as-of 2026-11-20 --dry-run`.
    """
    from kpictl.numbers.evaluate import evaluation_moment
    from kpictl.numbers.pull import held_in, open_pull_store, record, select_kpis
    from kpictl.numbers.pull import pull as run_pull
    from kpictl.registry.registry import registry_for_use

    when = parse_date(as_of, "--as-of")
    if not 0.001 <= timeout <= MAX_TIMEOUT:  # false for nan too
        raise typer.BadParameter(
            f"must be a number of seconds from 0.001 to {MAX_TIMEOUT} (e.g. 60)",
            param_hint="--timeout",
        )
    registry, notes = registry_for_use(resolve_registry(path))
    for note in notes:
        print(note, file=sys.stderr)
    from datetime import datetime
    from zoneinfo import ZoneInfo

    zone = registry.settings.timezone
    day = evaluation_moment(when, zone, datetime.now(ZoneInfo(zone))).date()
    kpis = select_kpis(registry, kpi or [])
    store = open_pull_store(registry, dry_run=dry_run)
    try:
        with _progress() as progress:
            result = run_pull(
                registry,
                kpis,
                day,
                timeout=timeout,
                backfill=backfill,
                held=held_in(store) if store is not None else None,
                progress=progress,
            )
        recorded = None
        if store is not None and not dry_run:
            done = record(store, result)
            recorded = {"added": done.added, "replaced": done.replaced, "unchanged": done.unchanged}
    finally:
        if store is not None:
            store.close()
    for note in result.notes:
        print(f"kpictl: note: {_visible(note)}", file=sys.stderr)
    if output_format is PullFormat.json:
        sys.stdout.write(_json(result, dry_run, recorded))
    else:
        sys.stdout.write(_text(result, dry_run, recorded))
    return 1 if result.failures else 0


class _Bar:
    """A rich progress bar on stderr, drawn once more than a handful of queries run."""

    def __init__(self) -> None:
        self._progress: Any = None
        self._task: Any = None

    def start(self, total: int) -> None:
        if total < PROGRESS_FROM:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self._progress = Progress(
            TextColumn("pulling"),
            BarColumn(),
            MofNCompleteColumn(),
            console=Console(file=sys.stderr),
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task("pull", total=total)

    def advance(self) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()


@contextmanager
def _progress() -> Iterator[_Bar | None]:
    """A progress bar when stderr is a terminal (never in a log or a pipe)."""
    bar = _Bar() if sys.stderr.isatty() else None
    try:
        yield bar
    finally:
        if bar is not None:
            bar.stop()


def _visible(text: str) -> str:
    from kpictl.templating.escaping import visible

    return visible(text)


def _text(result: "PullResult", dry_run: bool, recorded: dict[str, int] | None) -> str:
    from kpictl.display import text_table, written
    from kpictl.numbers.pull import summary
    from kpictl.templating.escaping import defuse

    lines: list[str] = []
    if dry_run and result.pulled:
        lines.append("Would record (dry run):")
        rows = [["kpi", "period", "value", "as_of", "kind"]]
        rows += [
            [p.kpi, p.period, written(p.value, exact=True), p.as_of.isoformat(), p.kind]
            for p in result.pulled
        ]
        lines.extend("  " + row for row in text_table(rows, right=(2,)).splitlines())
    for failure in result.failures:
        lines.append(f"failed: {failure.what} ({failure.connection}): {failure.message}")
    done = "nothing recorded (dry run)" if dry_run else _recorded_text(recorded)
    lines.append(summary(result, done))
    return defuse("\n".join(_visible(line) for line in lines) + "\n")


def _recorded_text(recorded: dict[str, int] | None) -> str | None:
    if recorded is None:
        return None
    return (
        f"recorded {recorded['added']} new, {recorded['replaced']} replaced, "
        f"{recorded['unchanged']} unchanged"
    )


def _json(result: "PullResult", dry_run: bool, recorded: dict[str, int] | None) -> str:
    from kpictl.templating.escaping import json_text

    data = {
        "as_of": result.day.isoformat(),
        "dry_run": dry_run,
        "queries": result.queries,
        "observations": [
            {
                "kpi": p.kpi,
                "period": p.period,
                "value": p.value,
                "as_of": p.as_of.isoformat(),
                "kind": p.kind,
            }
            for p in result.pulled
        ],
        "failures": [
            {"what": f.what, "kpi": f.kpi, "connection": f.connection, "message": f.message}
            for f in result.failures
        ],
        "notes": result.notes,
        "recorded": recorded,
    }
    return json_text(data, indent=2) + "\n"


__all__ = ["KpictlError", "pull"]

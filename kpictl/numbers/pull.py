"""`kpictl pull`: compute actual values in the warehouse, as observations to record.

What is asked, per KPI with `actual:` (REGISTRY.md, "From the warehouse"):

- The current value: the period is the KPI's target period holding the evaluation
  date (the shortest, as `status` decides it); `:period_start` is its first day,
  `:period_end` the day after its last, `:as_of` the evaluation date.
- Backfill (unless turned off), so a first pull already shows a trend: the same SQL
  with `:as_of` at each earlier review checkpoint of the current period (every 7
  days back from the evaluation date for daily and weekly reviews, 14 for biweekly,
  30 for monthly; at most 13), for the checkpoints the store does not hold yet. The
  SQL decides what was known by `:as_of`.
- Campaigns whose timeline holds the evaluation date, or ended at most
  CAMPAIGN_GRACE_DAYS before it (a recap is written in the weeks after the end), and
  are neither draft nor cancelled: each charter KPI whose `actual.sql` binds
  `:campaign` over the campaign (`:period_start` its start, `:period_end` the day
  after min(end, evaluation date), `:campaign` its id), recorded with the campaign id
  as its period, which `readout` and `recap` read. A KPI whose SQL does not bind
  `:campaign` would count everything in those dates, not what the campaign produced:
  it is left out, with a note. Every other query gets `:campaign` = NULL.
- Campaign checkpoints (with backfill), so readouts and recaps from the store have
  values: each readout date that has passed, and the day after the end (the first day
  the campaign's last day is loaded) once it has, with `:as_of` that date, for the
  dates the store does not hold yet; for campaigns that ended at most
  CAMPAIGN_CHECKPOINT_DAYS before the evaluation date.

`as_of` of an observation is the oldest `freshness` of the KPI's data sources (each
freshness query runs once per pull), else the evaluation date; never later than the
evaluation date (or the checkpoint). A KPI whose source's freshness cannot be read
is not recorded: a value with an unknown date would pass for fresh.

No printing: the CLI shows the result and records it.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from kpictl.display import plural
from kpictl.errors import KpictlError
from kpictl.numbers.connections import ConnectError, DatabaseUrl, connection_url
from kpictl.numbers.evaluate import current_target
from kpictl.registry.bounds import day_problem
from kpictl.registry.models import Campaign, DataSource, Kpi, Query
from kpictl.registry.registry import Registry
from kpictl.registry.schema_errors import suggest

if TYPE_CHECKING:
    from kpictl.numbers.queries import Database
    from kpictl.numbers.store import Recorded, Store

DEFAULT_TIMEOUT = 60.0
MAX_CHECKPOINTS = 13
CAMPAIGN_GRACE_DAYS = 30
# A first pull fills in the readouts of the last year's campaigns, not of every
# campaign ever written down (their data may be long gone from the warehouse).
CAMPAIGN_CHECKPOINT_DAYS = 366
# Days between backfill checkpoints, per `cadence.review`; daily reviews get weekly
# checkpoints too, so a first pull costs at most 13 queries more per KPI.
CHECKPOINT_DAYS = {"daily": 7, "weekly": 7, "biweekly": 14, "monthly": 30, "quarterly": 91}

# `held(kpi_ids, periods)`: the as_of dates the store already has per (kpi, period).
Held = Callable[[Collection[str], Collection[str]], Mapping[tuple[str, str], Collection[date]]]


class Progress(Protocol):
    """What pull reports while queries run (the CLI draws a bar on a terminal)."""

    def start(self, total: int) -> None: ...

    def advance(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Pulled:
    """One value computed: an observation to record."""

    kpi: str
    period: str  # a target period, or a campaign id
    value: float
    as_of: date
    kind: str  # "current", "backfill", "campaign" or "readout" (a campaign checkpoint)


@dataclass(frozen=True, slots=True)
class Failure:
    """A query that gave no value: whose, for what, and the database's message."""

    what: str  # "kpi mql 2026-Q4", "kpi mql 2026-Q4 as of 2026-11-13", "source crm freshness"
    connection: str
    message: str
    kpi: str | None = None


@dataclass
class PullResult:
    day: date  # the evaluation date
    pulled: list[Pulled] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # KPIs left out, and why
    queries: int = 0

    @property
    def failed_kpis(self) -> list[str]:
        return sorted({f.kpi for f in self.failures if f.kpi is not None})


@dataclass(frozen=True, slots=True)
class _Job:
    kpi: Kpi | None
    source: DataSource | None
    period: str
    query: Query
    params: Mapping[str, date]
    kind: str  # "current", "backfill", "campaign", "readout" or "freshness"
    stale: date | None = None  # the freshness to cap as_of at
    campaign: str | None = None  # `:campaign`: the campaign id of a campaign run, else NULL

    def bound(self) -> dict[str, date | str | None]:
        """The bind parameters the SQL gets."""
        return {**self.params, "campaign": self.campaign}


@dataclass(frozen=True, slots=True)
class _Done:
    job: _Job
    value: float | date | None
    error: str | None


def select_kpis(registry: Registry, ids: Sequence[str]) -> list[Kpi]:
    """The KPIs to pull: every one with `actual:`, or those named (exit 2 if unknown)."""
    kpis = {kpi.id: kpi for kpi in registry.kpis}
    if not ids:
        chosen = [kpi for kpi in kpis.values() if kpi.actual is not None]
        if not chosen:
            raise KpictlError(
                "no KPI has an `actual:` query: add one (connection and sql) to pull its value"
            )
        return chosen
    out: list[Kpi] = []
    for kpi_id in dict.fromkeys(ids):
        kpi = kpis.get(kpi_id)
        if kpi is None:
            close = suggest(kpi_id, kpis)
            tip = f"; did you mean '{close}'?" if close else ""
            raise KpictlError(f"--kpi {_shown(kpi_id)}: no KPI has this id{tip}")
        if kpi.actual is None:
            raise KpictlError(
                f"--kpi {kpi_id}: the KPI has no `actual:` query, so there is nothing to pull"
            )
        out.append(kpi)
    return out


def databases(
    registry: Registry,
    kpis: Iterable[Kpi],
    environ: Mapping[str, str] | None,
    workers: int,
    scratch: Path,
) -> dict[str, Database]:
    """Every connection the KPIs and their sources use, URL expanded (exit 2 if unusable)."""
    from kpictl.numbers.queries import Database

    settings = registry.settings
    if settings.unknown("connections"):
        from kpictl.numbers.connections import BROKEN_SETTINGS

        raise KpictlError(BROKEN_SETTINGS.format(key="connections"))
    if not settings.connections:
        raise KpictlError(
            "kpictl.yaml defines no connections: add one under `connections:` "
            "(e.g. warehouse: {url: 'duckdb:///:memory:'}) for the `actual:` queries to use"
        )
    names: dict[str, None] = {}
    for kpi in kpis:
        assert kpi.actual is not None
        names[kpi.actual.connection] = None
        for source in _fresh_sources(registry, kpi):
            assert source.freshness is not None
            names[source.freshness.connection] = None
    found: dict[str, Database] = {}
    for name in names:
        try:
            url: DatabaseUrl = connection_url(settings, name, registry.root, environ)
        except ConnectError as exc:
            raise KpictlError(f"{exc} (run `kpictl check`)") from None
        found[name] = Database(url, registry.root, workers, scratch)
    return found


def pull(
    registry: Registry,
    kpis: Sequence[Kpi],
    day: date,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    backfill: bool = True,
    held: Held | None = None,
    environ: Mapping[str, str] | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> PullResult:
    """Run the queries of `kpis` as of `day`; the values and the failures, nothing recorded."""
    # DuckDB's temp folder: private to this pull, gone after it (see numbers.confinement).
    with tempfile.TemporaryDirectory(prefix="kpictl-duckdb-", ignore_cleanup_errors=True) as tmp:
        return _pull(registry, kpis, day, timeout, backfill, held, environ, workers, progress, tmp)


def _pull(
    registry: Registry,
    kpis: Sequence[Kpi],
    day: date,
    timeout: float,
    backfill: bool,
    held: Held | None,
    environ: Mapping[str, str] | None,
    workers: int | None,
    progress: Progress | None,
    scratch: str,
) -> PullResult:
    from kpictl.numbers.queries import Watchdog
    from kpictl.parallel import usable_cpus

    workers = workers or max(2, min(8, 2 * usable_cpus()))
    found = databases(registry, kpis, environ, workers, Path(scratch))
    result = PullResult(day)
    current, notes = _current_jobs(registry, kpis, day)
    result.notes.extend(notes)
    campaigns, readouts, notes = _campaign_jobs(registry, kpis, day)
    result.notes.extend(notes)
    if not backfill:
        readouts = []
    fresh_jobs = _freshness_jobs(registry, kpis, day)
    total = len(fresh_jobs) + len(current) * (1 + (MAX_CHECKPOINTS if backfill else 0))
    total += len(campaigns) + len(readouts)
    watchdog = Watchdog()

    def run_group(group: list[_Job]) -> tuple[list[_Done], int]:
        """Backfill checkpoints of one KPI in one DuckDB statement, else each alone."""
        from kpictl.numbers.queries import QueryFailed, run_checkpoints

        database = found[group[0].query.connection]
        if len(group) > 1 and database.dialect == "duckdb":
            first = group[0]
            days = [job.params["as_of"] for job in group]
            try:
                answers = run_checkpoints(
                    database, first.query.sql, first.bound(), days, timeout, watchdog
                )
            except QueryFailed:
                pass  # each alone, for each one's own message
            else:
                if advance is not None:
                    for _ in group[1:]:
                        advance()
                return [
                    _Done(job, a.value, None)
                    if not isinstance(a, QueryFailed)
                    else _Done(job, None, str(a))
                    for job, a in zip(group, answers, strict=True)
                ], 1
        done = [run(job) for job in group]
        if advance is not None:
            for _ in group[1:]:
                advance()
        return done, len(group)

    def run(job: _Job) -> _Done:
        from kpictl.numbers.queries import QueryFailed, run_query

        database = found[job.query.connection]
        try:
            answer = run_query(
                database,
                job.query.sql,
                job.bound(),
                timeout,
                watchdog,
                freshness=job.kind == "freshness",
                timezone=registry.settings.timezone,
            )
        except QueryFailed as exc:
            return _Done(job, None, str(exc))
        return _Done(job, answer.value, None)

    from kpictl.parallel import map_in_threads

    advance = progress.advance if progress is not None else None
    try:
        # DuckDB resolves a relative file name against the current folder, and allows
        # only files below the registry: queries run from the registry folder.
        with contextlib.chdir(registry.root):
            fresh = map_in_threads(run, fresh_jobs, workers)
            for database in found.values():
                database.end_sessions()  # the next threads open their own
            freshness, broken = _read_freshness(fresh, day, result)
            jobs = _stamped(current, registry, freshness, broken, day, result)
            jobs += _stamped(campaigns, registry, freshness, broken, day, result)
            if backfill:
                jobs += _backfill_jobs(jobs, registry, day, held)
                stamped = _stamped(readouts, registry, freshness, broken, day, result)
                jobs += _new_checkpoints(stamped, held)
            if progress is not None:
                progress.start(min(total, len(fresh_jobs) + len(jobs)))
                for _ in fresh_jobs:
                    progress.advance()
            groups = _grouped(jobs)
            ran = map_in_threads(run_group, groups, workers, advance)
            done = [item for group_done, _ in ran for item in group_done]
    finally:
        watchdog.stop()
        for database in found.values():
            database.dispose()
    result.queries = len(fresh) + sum(sent for _, sent in ran)
    for item in done:
        _collect(item, result)
    result.pulled.sort(key=lambda p: (p.kpi, p.period, p.as_of))
    return result


def _shown(text: str) -> str:
    from kpictl.check.findings import excerpt

    return excerpt(text)


def _fresh_sources(registry: Registry, kpi: Kpi) -> list[DataSource]:
    out: list[DataSource] = []
    for source_id in kpi.sources:
        source = registry.get(source_id)
        if isinstance(source, DataSource) and source.freshness is not None:
            out.append(source)
    return out


def _current_jobs(
    registry: Registry, kpis: Sequence[Kpi], day: date
) -> tuple[list[_Job], list[str]]:
    jobs: list[_Job] = []
    notes: list[str] = []
    for kpi in kpis:
        assert kpi.actual is not None
        found = current_target(kpi, day, registry.settings.fiscal_year_start_month)
        if found is None:
            notes.append(
                f"{kpi.id}: no target period holds {day.isoformat()}: not pulled "
                "(add a target for the current period)"
            )
            continue
        period = found[1]
        params = {
            "period_start": period.start,
            "period_end": period.end + timedelta(days=1),
            "as_of": day,
        }
        jobs.append(_Job(kpi, None, period.text, kpi.actual, params, "current"))
    return jobs, notes


def _campaign_jobs(
    registry: Registry, kpis: Sequence[Kpi], day: date
) -> tuple[list[_Job], list[_Job], list[str]]:
    """Campaign runs as of `day`, campaign checkpoints up to it, and the KPIs left out."""
    from kpictl.numbers.queries import uses_campaign

    wanted = {kpi.id: kpi for kpi in kpis}
    runs: list[_Job] = []
    checkpoints: list[_Job] = []
    notes: list[str] = []
    for campaign in registry.campaigns:
        current = _campaign_counts(campaign, day)
        dates = _checkpoint_dates(campaign, day)
        if not current and not dates:
            continue
        ids = [campaign.primary_kpi.kpi, *(item.kpi for item in campaign.secondary_kpis)]
        for kpi_id in dict.fromkeys(ids):
            kpi = wanted.get(kpi_id)
            if kpi is None or kpi.actual is None:
                continue
            if not uses_campaign(kpi.actual.sql):
                if current:
                    notes.append(
                        f"{kpi.id}: not pulled for campaign {campaign.id}: its SQL does not "
                        "use :campaign, so it would count everything in the campaign's dates "
                        "(filter on `campaign = :campaign` to count what the campaign did)"
                    )
                continue
            if current:
                runs.append(_campaign_job(kpi, campaign, day, "campaign"))
            checkpoints += [_campaign_job(kpi, campaign, on, "readout") for on in dates]
    return runs, checkpoints, notes


def _campaign_job(kpi: Kpi, campaign: Campaign, on: date, kind: str) -> _Job:
    assert kpi.actual is not None
    timeline = campaign.timeline
    params = {
        "period_start": timeline.start,
        "period_end": min(timeline.end, on) + timedelta(days=1),
        "as_of": on,
    }
    return _Job(kpi, None, campaign.id, kpi.actual, params, kind, campaign=campaign.id)


def _campaign_counts(campaign: Campaign, day: date) -> bool:
    if campaign.status in ("draft", "cancelled"):
        return False
    timeline = campaign.timeline
    return timeline.start <= day <= timeline.end + timedelta(days=CAMPAIGN_GRACE_DAYS)


def _checkpoint_dates(campaign: Campaign, day: date) -> list[date]:
    """The readout dates that have passed, and the day after the end once it has."""
    if campaign.status in ("draft", "cancelled"):
        return []
    timeline = campaign.timeline
    closed = timeline.end + timedelta(days=1)
    if (day - closed).days > CAMPAIGN_CHECKPOINT_DAYS:
        return []
    dates = [timeline.readout_date(n) for n in timeline.readouts]
    dates.append(closed)
    return sorted({on for on in dates if timeline.start < on <= day})


def _new_checkpoints(jobs: list[_Job], held: Held | None) -> list[_Job]:
    """The campaign checkpoints the store lacks, and whose data had arrived by then."""
    have: Mapping[tuple[str, str], Collection[date]] = {}
    if held is not None and jobs:
        have = held({job.kpi.id for job in jobs if job.kpi}, {job.period for job in jobs})
    out: list[_Job] = []
    for job in jobs:
        assert job.kpi is not None and job.stale is not None
        on = job.params["as_of"]
        # Past its sources' freshness a checkpoint would be dated as the current value.
        if on > job.stale or on in have.get((job.kpi.id, job.period), ()):
            continue
        out.append(job)
    return out


def _freshness_jobs(registry: Registry, kpis: Sequence[Kpi], day: date) -> list[_Job]:
    sources: dict[str, DataSource] = {}
    for kpi in kpis:
        for source in _fresh_sources(registry, kpi):
            sources.setdefault(source.id, source)
    jobs: list[_Job] = []
    for source in sources.values():
        assert source.freshness is not None
        jobs.append(_Job(None, source, "", source.freshness, {"as_of": day}, "freshness"))
    return jobs


def _read_freshness(
    done: list[_Done], day: date, result: PullResult
) -> tuple[dict[str, date], set[str]]:
    """Each source's freshness (never after `day`), and the sources whose query failed."""
    freshness: dict[str, date] = {}
    broken: set[str] = set()
    for item in done:
        source = item.job.source
        assert source is not None and source.freshness is not None
        if item.error is not None or not isinstance(item.value, date):
            broken.add(source.id)
            result.failures.append(
                Failure(
                    f"source {source.id} freshness",
                    source.freshness.connection,
                    item.error or "returned no date",
                )
            )
            continue
        freshness[source.id] = min(item.value, day)
    return freshness, broken


def _stamped(
    jobs: list[_Job],
    registry: Registry,
    freshness: Mapping[str, date],
    broken: set[str],
    day: date,
    result: PullResult,
) -> list[_Job]:
    """The jobs with the date their data is as fresh as; a KPI with a broken source fails."""
    out: list[_Job] = []
    for job in jobs:
        assert job.kpi is not None
        sources = [source.id for source in _fresh_sources(registry, job.kpi)]
        failed = [source_id for source_id in sources if source_id in broken]
        if failed:
            result.failures.append(
                Failure(
                    _what(job),
                    job.query.connection,
                    f"not run: the freshness of data source {', '.join(failed)} could not "
                    "be read, so the value's date is unknown",
                    job.kpi.id,
                )
            )
            continue
        dates = [freshness[source_id] for source_id in sources if source_id in freshness]
        out.append(_with_stale(job, min(dates) if dates else day))
    return out


def _with_stale(job: _Job, stale: date) -> _Job:
    return _Job(
        job.kpi, job.source, job.period, job.query, job.params, job.kind, stale, job.campaign
    )


def _backfill_jobs(
    jobs: list[_Job], registry: Registry, day: date, held: Held | None
) -> list[_Job]:
    """The earlier checkpoints of each current value that the store lacks."""
    current = [job for job in jobs if job.kind == "current"]
    have: Mapping[tuple[str, str], Collection[date]] = {}
    if held is not None and current:
        have = held({job.kpi.id for job in current if job.kpi}, {job.period for job in current})
    out: list[_Job] = []
    for job in current:
        assert job.kpi is not None and job.stale is not None
        start = job.params["period_start"]
        step = CHECKPOINT_DAYS[job.kpi.cadence.review]
        known = have.get((job.kpi.id, job.period), ())
        mine: list[_Job] = []
        # A checkpoint whose as_of would be the current value's (data older than it)
        # would only replace the current value: the data is as old at both.
        for n in range(1, MAX_CHECKPOINTS + 1):
            checkpoint = day - timedelta(days=step * n)
            if checkpoint < start:
                break
            as_of = min(checkpoint, job.stale)
            if as_of >= job.stale or as_of in known:
                continue
            params = {**job.params, "as_of": checkpoint}
            mine.append(_Job(job.kpi, None, job.period, job.query, params, "backfill", as_of))
        out.extend(reversed(mine))  # oldest first, as they are read
    return out


def _grouped(jobs: list[_Job]) -> list[list[_Job]]:
    """Each job alone, except one KPI's current value and its checkpoints: together."""
    groups: list[list[_Job]] = []
    backfill: dict[tuple[str, str], list[_Job]] = {}
    for job in jobs:
        if job.kind in ("current", "backfill") and job.kpi is not None:
            key = (job.kpi.id, job.period)
            if key not in backfill:
                backfill[key] = []
                groups.append(backfill[key])
            backfill[key].append(job)
        else:
            groups.append([job])
    return groups


def _what(job: _Job) -> str:
    assert job.kpi is not None
    if job.kind == "campaign":
        return f"kpi {job.kpi.id} campaign {job.period}"
    if job.kind == "readout":
        return f"kpi {job.kpi.id} campaign {job.period} as of {job.params['as_of'].isoformat()}"
    if job.kind == "backfill":
        return f"kpi {job.kpi.id} {job.period} as of {job.params['as_of'].isoformat()}"
    return f"kpi {job.kpi.id} {job.period}"


def _collect(item: _Done, result: PullResult) -> None:
    job = item.job
    assert job.kpi is not None and job.stale is not None
    if item.error is not None or not isinstance(item.value, float):
        message = item.error or "returned no number"
        result.failures.append(Failure(_what(job), job.query.connection, message, job.kpi.id))
        return
    as_of = min(job.stale, job.params["as_of"])
    # A date the store would refuse fails this value alone, not the whole pull's record
    # (the value's own bounds are the query's: see queries._number).
    if (problem := day_problem(as_of)) is not None:
        why = f"its data is dated by its sources' freshness: {problem}"
        result.failures.append(Failure(_what(job), job.query.connection, why, job.kpi.id))
        return
    result.pulled.append(Pulled(job.kpi.id, job.period, item.value, as_of, job.kind))


def open_pull_store(registry: Registry, *, dry_run: bool) -> Store | None:
    """The store to record in (created if missing), opened before any query runs.

    An unusable store stops the pull before the warehouse is queried (exit 2). A dry
    run writes nothing: it creates no store (without one nothing is held, so no
    checkpoint is skipped) and reads an older one without upgrading it.
    """
    from kpictl.numbers.store import StoreMissingError, open_store
    from kpictl.numbers.transfer import registry_store

    if not dry_run:
        return registry_store(registry, create=True)
    from kpictl.numbers.connections import ConnectError, store_url
    from kpictl.numbers.store import StoreError

    try:
        return open_store(store_url(registry.settings, registry.root), read_only=True)
    except StoreMissingError:
        return None
    except (ConnectError, StoreError) as exc:
        raise KpictlError(str(exc)) from None


def held_in(store: Store) -> Held:
    """What `store` already holds, for backfill to ask only for what is missing."""
    from kpictl.numbers.store import StoreError

    def held(kpis: Collection[str], periods: Collection[str]) -> dict[tuple[str, str], set[date]]:
        try:
            # A period that is no target period is a campaign id: asked for as one.
            stored = store.actuals(list(kpis), list(periods), periods=list(periods))
        except StoreError as exc:
            raise KpictlError(str(exc)) from None
        return {key: {row.as_of for row in rows} for key, rows in stored.rows.items()}

    return held


def record(store: Store, result: PullResult) -> Recorded:
    """Record every value pulled, in one transaction (all or nothing)."""
    from kpictl.numbers.store import Observation, StoreError

    observations = [Observation(p.kpi, p.period, p.value, p.as_of) for p in result.pulled]
    try:
        return store.record(observations, source="pull")
    except StoreError as exc:
        raise KpictlError(f"nothing recorded: {exc}") from None


def summary(result: PullResult, recorded: str | None) -> str:
    """One line: how many values, queries, failures (and what the store did)."""
    values = plural(len(result.pulled), "value")
    queries = plural(result.queries, "query", "queries")
    failed = plural(len(result.failures), "failure")
    tail = f"; {recorded}" if recorded else ""
    return f"Pulled {values} in {queries} as of {result.day.isoformat()}, {failed}{tail}."


__all__ = [
    "CAMPAIGN_CHECKPOINT_DAYS",
    "CAMPAIGN_GRACE_DAYS",
    "CHECKPOINT_DAYS",
    "DEFAULT_TIMEOUT",
    "MAX_CHECKPOINTS",
    "Failure",
    "Held",
    "Progress",
    "PullResult",
    "Pulled",
    "held_in",
    "open_pull_store",
    "pull",
    "record",
    "select_kpis",
    "summary",
]

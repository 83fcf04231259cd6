"""The example's embedded warehouse gives the example's numbers (issue 12, item 2).

Each KPI's `actual.sql` and each source's `freshness.sql` run here the way `kpictl
pull` runs them: DuckDB in memory through SQLAlchemy, file names resolved against
the registry folder, `text()` with the three bind parameters. For 2026-Q4 as of
2026-11-20 they must give registry/actuals/2026-11-20.csv (which the README and the
other tests use), and earlier as_of dates must give the history the trends show.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, text

from kpictl.numbers.actuals import Actuals, parse_actuals
from kpictl.numbers.evaluate import KpiStatus, evaluate, evaluation_moment
from kpictl.registry.models import DataSource, Kpi
from kpictl.registry.registry import Registry, load_registry
from tests.conftest import EXAMPLE, ROOT

ACTUALS = EXAMPLE / "actuals" / "2026-11-20.csv"
WAREHOUSE = EXAMPLE / "warehouse"
AS_OF = date(2026, 11, 20)
Q3 = (date(2026, 7, 1), date(2026, 10, 1))
Q4 = (date(2026, 10, 1), date(2027, 1, 1))
# Weekly as_of dates from 11 September to 20 November: what a trend shows.
WEEKS = [AS_OF - timedelta(days=7 * n) for n in range(10, -1, -1)]

# The value at each of WEEKS, for the quarter the date falls in. The first days of a
# quarter read low for counts: nightly loads bring a day in the night after it.
# fmt: off
HISTORY: dict[str, tuple[float, ...]] = {
    "website-sessions": (142049, 156898, 171354, 2817, 19486, 36014, 52773, 69994, 87282,
                         104880, 121400),
    "branded-search-clicks": (21843, 24017, 26287, 0, 2822, 6068, 9064, 12124, 14985, 17905,
                              18400),
    "mql": (1750, 1964, 2186, 39, 254, 451, 621, 793, 954, 1111, 1225),
    "sql": (652, 728, 805, 5, 81, 164, 237, 310, 370, 417, 448),
    "mql-to-sql-rate": (35.5, 36.1, 36.5, 39.0, 36.9, 39.8, 38.4, 37.6, 38.2, 37.5, 36.6),
    "pipeline-sourced": (4777000, 5227100, 5741200, 55600, 472600, 846100, 1321600, 1839300,
                         2384500, 2874100, 3460000),
    "expansion-pipeline": (1744700, 1930000, 2119700, 41200, 206000, 380500, 481500, 560300,
                           634100, 703200, 785000),
    "cost-per-opportunity": (2585, 2582, 2559, 1747, 1969, 2212, 2369, 2320, 2371, 2301, 2310),
    "sales-cycle-length": (83, 83, 83, 88, 90, 90, 90, 89, 90, 90, 90),
    "pipeline-coverage": (5.25, 5.76, 6.34, 1.81, 1.97, 2.14, 2.28, 2.43, 2.66, 2.94, 3.2),
    "nrr": (113.6, 113.6, 113.6, 113.6, 113.4, 113.4, 113.4, 113.4, 113.4, 113.4, 113.4),
}
# fmt: on

# When each source last loaded, as the warehouse stood on the morning of 20 November.
FRESHNESS = {
    "ga4-web": date(2026, 11, 20),
    "search-console": date(2026, 11, 14),  # the feed stopped: branded clicks go dark
    "google-ads": date(2026, 11, 20),
    "linkedin-ads": date(2026, 11, 20),
    "finance-spend-sheet": date(2026, 11, 16),  # weekly, on Mondays
    "wh-lead-funnel": date(2026, 11, 20),
    "wh-funnel-cohorts": date(2026, 11, 16),
    "wh-pipeline": date(2026, 11, 20),
    "wh-closed-deals": date(2026, 11, 16),
    "wh-marketing-spend": date(2026, 11, 16),  # as fresh as finance's weekly programme spend
    "wh-arr-movements": date(2026, 11, 6),  # October closed on the fifth working day
}


@pytest.fixture(scope="module")
def registry() -> Registry:
    registry, findings = load_registry(EXAMPLE)
    assert findings == []
    return registry


@pytest.fixture(scope="module")
def warehouse() -> Iterator[Connection]:
    engine = create_engine("duckdb:///:memory:")
    with engine.connect() as connection:
        # What kpictl pull does: 'warehouse/x.csv' in SQL is the registry's, from anywhere.
        connection.exec_driver_sql(f"set file_search_path = '{EXAMPLE}'")
        yield connection
    engine.dispose()


def run_kpi(
    warehouse: Connection,
    kpi: Kpi,
    period: tuple[date, date],
    as_of: date,
    campaign: str | None = None,
) -> float:
    """The one `value` the KPI's SQL returns (anything else fails the test)."""
    assert kpi.actual is not None
    parameters = {
        "period_start": period[0],
        "period_end": period[1],
        "as_of": as_of,
        "campaign": campaign,  # what kpictl pull binds: NULL outside a campaign run
    }
    result = warehouse.execute(text(kpi.actual.sql), parameters)
    assert list(result.keys()) == ["value"]
    rows = result.all()
    assert len(rows) == 1, kpi.id
    value = rows[0][0]
    assert isinstance(value, int | float) and not isinstance(value, bool), (kpi.id, value)
    return float(value)


def quarter_of(day: date) -> tuple[date, date]:
    return Q4 if day >= Q4[0] else Q3


def csv_rows() -> dict[str, tuple[str, str]]:
    """The actuals file's 2026-Q4 rows: KPI id -> (value, as_of) as written."""
    rows = {}
    for line in ACTUALS.read_text(encoding="utf-8").splitlines()[1:]:
        kpi, period, value, as_of = line.split(",")
        if period == "2026-Q4":
            rows[kpi] = (value, as_of)
    return rows


def freshness(warehouse: Connection, source: DataSource) -> date:
    assert source.freshness is not None
    loaded = warehouse.execute(text(source.freshness.sql)).scalar_one()
    assert isinstance(loaded, datetime), (source.id, loaded)
    return loaded.date()


def observed(warehouse: Connection, registry: Registry) -> str:
    """The CSV `kpictl pull` would record for 2026-Q4 as of 2026-11-20."""
    lines = ["kpi,period,value,as_of"]
    for kpi in registry.kpis:
        value = run_kpi(warehouse, kpi, Q4, AS_OF)
        sources = [registry.get(source) for source in kpi.sources]
        as_of = min(freshness(warehouse, s) for s in sources if isinstance(s, DataSource))
        lines.append(f"{kpi.id},2026-Q4,{value:g},{as_of.isoformat()}")
    return "\n".join(lines) + "\n"


def states(registry: Registry, actuals: Actuals) -> dict[str, tuple[str, int | None]]:
    moment = evaluation_moment(AS_OF, registry.settings.timezone, datetime.now().astimezone())
    return {status.kpi.id: summary(status) for status in evaluate(registry, actuals, moment)}


def summary(status: KpiStatus) -> tuple[str, int | None]:
    return str(status.state), status.tier.level if status.tier else None


def test_every_kpi_and_every_warehouse_source_names_the_warehouse_connection(
    registry: Registry,
) -> None:
    assert sorted(registry.settings.connections) == ["warehouse"]
    assert registry.settings.connections["warehouse"].url == "duckdb:///:memory:"
    connections = {kpi.id: kpi.actual.connection if kpi.actual else None for kpi in registry.kpis}
    assert connections == dict.fromkeys(HISTORY, "warehouse")
    fresh = {s.id: s.freshness.connection for s in registry.sources if s.freshness}
    assert fresh == dict.fromkeys(FRESHNESS, "warehouse")


def test_freshness_of_every_source(warehouse: Connection, registry: Registry) -> None:
    fresh = {s.id: freshness(warehouse, s) for s in registry.sources if s.freshness}
    assert fresh == FRESHNESS


def test_the_sql_gives_the_actuals_file_for_q4_as_of_20_november(
    warehouse: Connection, registry: Registry
) -> None:
    computed = observed(warehouse, registry)
    by_kpi = {line.split(",")[0]: line.split(",")[2:] for line in computed.splitlines()[1:]}
    assert {kpi: (float(value), as_of) for kpi, (value, as_of) in by_kpi.items()} == {
        kpi: (float(value), as_of) for kpi, (value, as_of) in csv_rows().items()
    }


def test_the_sql_gives_the_states_the_example_shows(
    warehouse: Connection, registry: Registry
) -> None:
    kpis, campaigns = [k.id for k in registry.kpis], [c.id for c in registry.campaigns]
    from_sql = parse_actuals(observed(warehouse, registry), "pull", kpis, campaigns)
    from_file = parse_actuals(ACTUALS.read_text(encoding="utf-8"), "csv", kpis, campaigns)
    assert from_sql.problems == []
    assert states(registry, from_sql) == states(registry, from_file)
    assert states(registry, from_sql) == {
        "expansion-pipeline": ("tier", 3),
        "branded-search-clicks": ("outage", 2),  # stale: search clicks stopped on 14 November
        "sales-cycle-length": ("tier", 2),
        "mql": ("tier", 1),
        "sql": ("on-track", None),
        "nrr": ("on-track", None),
        "cost-per-opportunity": ("on-track", None),
        "pipeline-sourced": ("on-track", None),
        "website-sessions": ("on-track", None),
        "mql-to-sql-rate": ("on-track", None),
        "pipeline-coverage": ("on-track", None),
    }


def test_weekly_history_back_to_september(warehouse: Connection, registry: Registry) -> None:
    history = {
        kpi.id: tuple(run_kpi(warehouse, kpi, quarter_of(day), day) for day in WEEKS)
        for kpi in registry.kpis
    }
    assert history == {kpi: tuple(float(v) for v in values) for kpi, values in HISTORY.items()}


def test_the_history_tells_the_story(warehouse: Connection, registry: Registry) -> None:
    """MQLs slip behind over November; expansion pipeline falls behind from mid-October."""
    kpis, campaigns = [k.id for k in registry.kpis], [c.id for c in registry.campaigns]
    story: dict[str, list[tuple[str, int | None]]] = {"mql": [], "expansion-pipeline": []}
    for day in WEEKS[-6:]:  # 16 October to 20 November
        rows = ["kpi,period,value,as_of"]
        for kpi_id in story:
            kpi = registry.get(kpi_id)
            assert isinstance(kpi, Kpi)
            rows.append(f"{kpi_id},2026-Q4,{run_kpi(warehouse, kpi, Q4, day):g},{day}")
        actuals = parse_actuals("\n".join(rows) + "\n", "pull", kpis, campaigns)
        moment = evaluation_moment(day, "Europe/Berlin", datetime.now().astimezone())
        for status in evaluate(registry, actuals, moment):
            if status.kpi.id in story:
                story[status.kpi.id].append(summary(status))
    on_track = ("on-track", None)
    assert story == {
        # 16 Oct, 23 Oct, 30 Oct: ahead of pace; 6 and 13 Nov: behind by less than 5%
        "mql": [on_track, on_track, on_track, on_track, on_track, ("tier", 1)],
        # on pace on 16 Oct; 12% behind on 23 Oct, 22% and worse from 30 Oct
        "expansion-pipeline": [on_track, ("tier", 2), *[("tier", 3)] * 4],
    }


WEBINARS = ("data-leaders-webinars-2026", date(2026, 6, 1))
LEGACY = ("q4-legacy-bi-displacement", date(2026, 10, 1))


@pytest.mark.parametrize(
    ("kpi_id", "campaign", "end", "as_of", "value"),
    [
        ("mql", WEBINARS, date(2026, 9, 1), date(2026, 9, 1), 962),
        ("sql", WEBINARS, date(2026, 9, 1), date(2026, 9, 1), 271),
        ("branded-search-clicks", WEBINARS, date(2026, 9, 1), date(2026, 9, 1), 6350),
        ("pipeline-sourced", LEGACY, date(2026, 10, 31), date(2026, 10, 30), 520000),
        ("sql", LEGACY, date(2026, 10, 31), date(2026, 10, 30), 58),
        ("cost-per-opportunity", LEGACY, date(2026, 10, 31), date(2026, 10, 30), 2480),
        # Nothing is attributed to Friday 30 October: the day-30 readout (Saturday) agrees.
        ("pipeline-sourced", LEGACY, date(2026, 11, 1), date(2026, 10, 31), 520000),
        ("sql", LEGACY, date(2026, 11, 1), date(2026, 10, 31), 58),
        ("cost-per-opportunity", LEGACY, date(2026, 11, 1), date(2026, 10, 31), 2480),
        ("pipeline-sourced", LEGACY, date(2026, 11, 21), date(2026, 11, 20), 1010000),
        ("sql", LEGACY, date(2026, 11, 21), date(2026, 11, 20), 101),
        ("cost-per-opportunity", LEGACY, date(2026, 11, 21), date(2026, 11, 20), 2540),
    ],
)
def test_campaign_runs_give_the_actuals_files_campaign_rows(
    warehouse: Connection,
    registry: Registry,
    kpi_id: str,
    campaign: tuple[str, date],
    end: date,
    as_of: date,
    value: int,
) -> None:
    """With `:campaign` bound, the charter KPIs count the campaign's rows alone."""
    kpi = registry.get(kpi_id)
    assert isinstance(kpi, Kpi)
    assert run_kpi(warehouse, kpi, (campaign[1], end), as_of, campaign[0]) == value


def test_queries_read_the_registry_whatever_the_current_folder(
    warehouse: Connection, registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    mql = registry.get("mql")
    assert isinstance(mql, Kpi)
    assert run_kpi(warehouse, mql, Q4, AS_OF) == 1225


def test_the_generator_rewrites_the_same_files(tmp_path: Path) -> None:
    script = ROOT / "tools" / "make_example_warehouse.py"
    subprocess.run([sys.executable, str(script), str(tmp_path)], check=True, timeout=120)
    written = sorted(p.name for p in (tmp_path / "warehouse").iterdir())
    assert written == sorted(p.name for p in WAREHOUSE.glob("*.csv"))
    for name in written:
        assert (tmp_path / "warehouse" / name).read_bytes() == (WAREHOUSE / name).read_bytes()


def test_the_warehouse_stays_small() -> None:
    assert sum(p.stat().st_size for p in WAREHOUSE.iterdir()) < 2_000_000

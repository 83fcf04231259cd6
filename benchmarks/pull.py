"""Benchmark `kpictl pull` on a generated registry and an embedded DuckDB warehouse.

The registry is check_large's (N KPIs, clean under every rule); this script adds a
DuckDB connection, an `actual.sql` to every KPI and a `freshness` query to every data
source, and writes the warehouse as Parquet files under the registry: one row per KPI
and day for the last 150 days (N x 150 rows, sorted by KPI) and one load time per
source. Then it times whole `kpictl pull` processes into a fresh SQLite store, with and
without backfill, and prints wall time, the child's peak RSS and what it pulled.

    python benchmarks/pull.py                    # 2,000 KPIs, 3 runs each
    python benchmarks/pull.py --kpis 200 --repeat 1 --keep /tmp/pull-bench

Target (issue 12): a pull of 2,000 KPIs in under 10 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from check_large import generate_registry, run_measured

TARGET_SECONDS = 10.0
AS_OF = date(2026, 11, 20)
DAYS = 150
SQL = (
    "select coalesce(sum(amount), 0) as value from 'warehouse/events.parquet'\n"
    "where kpi = '{kpi}' and day >= :period_start and day < :period_end and day <= :as_of\n"
    "and (cast(:campaign as varchar) is null or campaign = :campaign)"
)
FRESHNESS = "select max(loaded_at) from 'warehouse/loads.parquet' where source = '{source}'"


def add_warehouse(root: Path) -> tuple[int, int]:
    """Connection, queries and Parquet files for the registry at `root`: (KPIs, sources)."""
    import duckdb

    with (root / "kpictl.yaml").open("a", encoding="utf-8") as settings:
        settings.write("connections:\n  warehouse: {url: 'duckdb:///:memory:'}\n")
    kpis: list[str] = []
    for path in sorted((root / "kpis").rglob("*.yaml")):
        kpi = path.stem
        kpis.append(kpi)
        block = "".join(f"    {line}\n" for line in SQL.format(kpi=kpi).splitlines())
        with path.open("a", encoding="utf-8") as out:
            out.write(f"actual:\n  connection: warehouse\n  sql: |\n{block}")
    sources: list[str] = []
    for path in sorted((root / "sources").rglob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        if "\nfreshness:" in text:
            continue
        source = path.stem
        sources.append(source)
        sql = FRESHNESS.format(source=source)
        path.write_text(
            text + f"freshness:\n  connection: warehouse\n  sql: {json.dumps(sql)}\n",
            encoding="utf-8",
        )
    campaigns = sorted(path.stem for path in (root / "campaigns").glob("*.yaml"))
    folder = root / "warehouse"
    folder.mkdir()
    first = AS_OF - timedelta(days=DAYS - 1)
    with duckdb.connect() as db:
        db.execute("create table ids as select unnest(?::varchar[]) as kpi", [kpis])
        db.execute(
            "create table events as select kpi, ?::date + d::int as day, "
            "(hash(kpi, d) % 100)::double as amount, "
            # Every third day's amount is one campaign's (the registry's own ids, in turn).
            "case when d % 3 = 0 then (?::varchar[])[(d // 3) % ? + 1] end as campaign "
            "from ids, range(?) t(d) order by kpi, day",
            [first, campaigns, len(campaigns), DAYS],
        )
        db.execute(f"copy events to '{folder / 'events.parquet'}' (format parquet)")
        db.execute("create table srcs as select unnest(?::varchar[]) as source", [sources])
        db.execute(
            "create table loads as select source, ?::timestamp - interval 3 hour as loaded_at "
            "from srcs",
            [AS_OF],
        )
        db.execute(f"copy loads to '{folder / 'loads.parquet'}' (format parquet)")
    return len(kpis), len(sources)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kpis", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="generate here (must not exist) and keep it")
    parser.add_argument("--kpictl", default=shutil.which("kpictl") or "kpictl")
    args = parser.parse_args(argv)
    base = args.keep or Path(tempfile.mkdtemp(prefix="kpictl-pull-bench-"))
    root = base / "registry"
    generated = generate_registry(root, args.kpis)
    kpis, sources = add_warehouse(root)
    size = sum(p.stat().st_size for p in (root / "warehouse").iterdir())
    print(
        f"registry: {generated.files} files, {kpis} KPIs with actual.sql, {sources} sources "
        f"with freshness; warehouse: {kpis * DAYS:,} event rows, {size / 1e6:.1f} MB Parquet"
    )
    failed = False
    # Loading the registry is part of every pull: `check` shows what it costs here now
    # (on a busy machine every figure grows alike).
    check = [args.kpictl, "check", str(root), "--as-of", AS_OF.isoformat()]
    floor = min(run_measured(check, timeout=300).wall for _ in range(args.repeat))
    print(f"{'check (the load)':<20} best {floor:6.2f} s")
    try:
        for label, extra in (("pull", []), ("pull --no-backfill", ["--no-backfill"])):
            walls: list[float] = []
            cpus: list[float] = []
            rss = 0
            summary = ""
            for attempt in range(args.repeat):
                store = base / f"store-{label.replace(' ', '')}-{attempt}.db"
                os.environ["KPICTL_STORE"] = f"sqlite:///{store}"
                argv = [args.kpictl, "pull", str(root), "--as-of", AS_OF.isoformat(), *extra]
                run = run_measured(argv, timeout=300)
                walls.append(run.wall)
                cpus.append(run.cpu)
                rss = max(rss, run.max_rss_kb)
                summary = next((x for x in run.output_head if x.startswith("Pulled")), "")
                if run.exit_code != 0:
                    failed = True
                    print(f"WARNING: {label} exited {run.exit_code}:", *run.output_head, sep="\n  ")
            verdict = "ok" if min(walls) < TARGET_SECONDS else "OVER TARGET"
            print(
                f"{label:<20} best {min(walls):6.2f} s  median {statistics.median(walls):6.2f} s  "
                f"CPU {statistics.median(cpus):5.2f} s  peak RSS {rss / 1024:4.0f} MB  "
                f"[{verdict}, target {TARGET_SECONDS:g} s]"
            )
            print(f"{'':<20} {summary}")
    finally:
        os.environ.pop("KPICTL_STORE", None)
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    # Wall time on a shared machine grows with its load; CPU time much less so.
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

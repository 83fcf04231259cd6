"""Benchmark `kpictl status` reading the store: 2,000 KPIs x 365 days of observations.

Generates a clean registry of N KPIs (check_large.py's generator), fills its default
store (.kpictl/store.db) with one observation per KPI and day for the `--days` days up
to `--as-of` (730,000 rows for the defaults; the period of each is the calendar quarter
of its day, as a daily `kpictl pull` records them), written straight into SQLite with
executemany, then times whole `kpictl status PATH --as-of DATE` processes: wall time
(best and median) and the peak RSS of the child processes
(resource.getrusage(RUSAGE_CHILDREN)), and prints the figures.

    python benchmarks/store_status.py                    # N=2000, 365 days, 5 runs
    python benchmarks/store_status.py --kpis 200 --repeat 3
    python benchmarks/store_status.py --keep /tmp/store-bench   # keep the registry and store

Targets: under 2 s and under 300 MB.
"""

from __future__ import annotations

import argparse
import random
import re
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
try:
    import check_large
finally:
    sys.path.pop(0)

TARGET_SECONDS = 2.0
TARGET_MB = 300
_TARGET = re.compile(r"period: (\S+), value: ([0-9.]+)")


def kpi_targets(root: Path) -> dict[str, dict[str, float]]:
    """Each generated KPI's targets by period, read back from its file."""
    found: dict[str, dict[str, float]] = {}
    for file in sorted((root / "kpis").rglob("*.yaml")):
        text = file.read_text(encoding="utf-8")
        kpi = re.search(r"^id: (\S+)$", text, re.MULTILINE)
        if kpi:
            found[kpi[1]] = {period: float(value) for period, value in _TARGET.findall(text)}
    return found


def quarter(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def rows(
    targets: dict[str, dict[str, float]], as_of: date, days: int
) -> Iterator[tuple[str, str, str, float, str, str]]:
    """One observation per KPI and day: a value pacing around its quarter's target."""
    chance = random.Random(12)
    recorded = datetime(as_of.year, as_of.month, as_of.day, 6, tzinfo=UTC).isoformat(" ")
    first = as_of - timedelta(days=days - 1)
    for kpi, by_period in targets.items():
        for n in range(days):
            day = first + timedelta(days=n)
            period = quarter(day)
            start = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
            share = ((day - start).days + 1) / 92
            value = by_period.get(period, 1000.0) * share * chance.uniform(0.7, 1.2)
            yield kpi, period, day.isoformat(), round(value, 2), "benchmark", recorded


def today_csv(root: Path, as_of: date) -> Path:
    """The store's values of the evaluation day as an --actuals file: the reference run."""
    path = root.parent / "today.csv"
    with sqlite3.connect(root / ".kpictl" / "store.db") as connection:
        found = connection.execute(
            "SELECT kpi, period, value, as_of FROM observations WHERE as_of = ?",
            (as_of.isoformat(),),
        ).fetchall()
    connection.close()
    lines = ["kpi,period,value,as_of", *(",".join(map(str, row)) for row in found)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def fill_store(root: Path, as_of: date, days: int) -> tuple[int, float]:
    """Create the registry's store with kpictl, then write the rows straight into SQLite."""
    from kpictl.numbers.connections import DatabaseUrl
    from kpictl.numbers.store import open_store

    path = root / ".kpictl" / "store.db"
    with open_store(DatabaseUrl("store", f"sqlite:///{path}", ())):
        pass  # the schema, made by kpictl itself
    started = time.perf_counter()
    connection = sqlite3.connect(path)
    with connection:
        connection.executemany(
            "INSERT INTO observations (kpi, period, as_of, value, source, recorded_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows(kpi_targets(root), as_of, days),
        )
    count = connection.execute("SELECT count(*) FROM observations").fetchone()[0]
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return int(count), time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(prog="store_status.py", description=__doc__.split("\n")[0])
    parser.add_argument("--kpis", type=int, default=2000, help="KPIs in the registry (2000)")
    parser.add_argument("--days", type=int, default=365, help="daily observations per KPI (365)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs (5)")
    parser.add_argument("--as-of", default=check_large.DEFAULT_AS_OF, help="evaluation date")
    parser.add_argument("--kpictl-cmd", default="kpictl", help="how to start kpictl")
    parser.add_argument("--keep", type=Path, help="generate here and keep it (a new folder)")
    args = parser.parse_args()
    as_of = date.fromisoformat(args.as_of)
    if args.keep is not None and args.keep.exists():
        raise SystemExit(f"error: {args.keep} exists; name a new folder")
    scratch = Path(tempfile.mkdtemp(prefix="kpictl-store-bench-"))
    root = args.keep if args.keep is not None else scratch / "registry"
    try:
        generated = check_large.generate_registry(root, args.kpis)
        print(f"generated {generated.kpis:,} KPIs in {generated.files:,} files at {root}")
        count, seconds = fill_store(root, as_of, args.days)
        size = (root / ".kpictl" / "store.db").stat().st_size / 1e6
        print(f"store: {count:,} observations, {size:.0f} MB, written in {seconds:.1f} s")
        argv = [*args.kpictl_cmd.split(), "status", str(root), "--as-of", args.as_of]
        reference = [*argv, "--actuals", str(today_csv(root, as_of))]
        # Interleaved with the store's runs, so both see the same machine: on a shared one
        # the difference between them is the store's cost, whatever the load.
        walls: list[float] = []
        csv_walls: list[float] = []
        cpu = {"store": 0.0, "csv": 0.0}
        for _ in range(args.repeat):
            for label, command, into in (("store", argv, walls), ("csv", reference, csv_walls)):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                run = check_large.run_measured(command, timeout=120)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                if run.exit_code != 0:
                    print(f"WARNING: exit {run.exit_code}: " + "\n".join(run.output_head))
                    return 1
                into.append(run.wall)
                cpu[label] += after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        best, median = min(walls), statistics.median(walls)
        print(
            f"kpictl status, {args.kpis:,} KPIs, store of {count:,} observations: "
            f"best {best:.2f} s, median {median:.2f} s of {args.repeat} runs "
            f"({cpu['store'] / args.repeat:.2f} s CPU per run); peak RSS {peak_mb:.0f} MB "
            f"(targets: < {TARGET_SECONDS:.0f} s, < {TARGET_MB} MB)"
        )
        print(
            f"reference, the same day's {args.kpis:,} values from --actuals: best "
            f"{min(csv_walls):.2f} s, median {statistics.median(csv_walls):.2f} s "
            f"({cpu['csv'] / args.repeat:.2f} s CPU per run)"
        )
        return 0 if median < TARGET_SECONDS and peak_mb < TARGET_MB else 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())

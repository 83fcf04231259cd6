"""Benchmark `kpictl actuals import`: 100,000 and 1,000,000 rows into the store.

Generates a clean registry of N KPIs (check_large.py's generator) and a CSV of one row
per KPI and day (the period of each is the calendar quarter of its day), then times
whole `kpictl actuals import FILE PATH` processes: into a new store (every row added),
and the same file again (every row unchanged, each one looked up). Prints wall time
and rows per second for each size; the time per row should not grow with the size.

    python benchmarks/store_import.py                       # 100,000 and 1,000,000 rows
    python benchmarks/store_import.py --rows 20000 --rows 200000
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
try:
    import check_large
finally:
    sys.path.pop(0)

KPIS = 2000


def write_csv(path: Path, kpis: list[str], rows: int, last: date) -> None:
    """`rows` rows: every KPI on each day back from `last`, as many days as it takes."""
    days = -(-rows // len(kpis))
    written = 0
    with path.open("w", encoding="utf-8") as stream:
        stream.write("kpi,period,value,as_of\n")
        for n in range(days):
            day = last - timedelta(days=n)
            period = f"{day.year}-Q{(day.month - 1) // 3 + 1}"
            for index, kpi in enumerate(kpis):
                if written == rows:
                    return
                stream.write(f"{kpi},{period},{(index * 7 + n) % 1000 + 0.5},{day}\n")
                written += 1


def kpi_ids(root: Path) -> list[str]:
    ids = []
    for file in sorted((root / "kpis").rglob("*.yaml")):
        for line in file.read_text(encoding="utf-8").splitlines():
            if line.startswith("id: "):
                ids.append(line[4:].strip())
                break
    return ids


def main() -> int:
    parser = argparse.ArgumentParser(prog="store_import.py", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--rows", type=int, action="append", help="rows per run (repeatable; 100000, 1000000)"
    )
    parser.add_argument("--kpis", type=int, default=KPIS, help=f"KPIs in the registry ({KPIS})")
    parser.add_argument("--kpictl-cmd", default="kpictl", help="how to start kpictl")
    args = parser.parse_args()
    sizes = args.rows or [100_000, 1_000_000]
    last = date.fromisoformat(check_large.DEFAULT_AS_OF)
    scratch = Path(tempfile.mkdtemp(prefix="kpictl-import-bench-"))
    try:
        root = scratch / "registry"
        generated = check_large.generate_registry(root, args.kpis)
        kpis = kpi_ids(root)
        print(f"generated {generated.kpis:,} KPIs at {root}")
        for rows in sizes:
            csv_file = scratch / f"rows-{rows}.csv"
            write_csv(csv_file, kpis, rows, last)
            shutil.rmtree(root / ".kpictl", ignore_errors=True)
            argv = [*args.kpictl_cmd.split(), "actuals", "import", str(csv_file), str(root)]
            for label in ("new store", "again"):
                run = check_large.run_measured(argv, timeout=1800)
                if run.exit_code != 0:
                    print(f"WARNING: exit {run.exit_code}: " + "\n".join(run.output_head))
                    return 1
                print(
                    f"import {rows:>9,} rows, {label:<9}: {run.wall:6.1f} s "
                    f"({rows / run.wall:,.0f} rows/s); {' '.join(run.output_head)[:90]}"
                )
        return 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())

"""How long the history of every KPI takes: 2,000 KPIs x 365 daily values (730,000 rows).

In-process, stdlib only besides kpictl: the rows are built in memory as the `Actuals`
object a CSV file or the store hands to `status`, then timed are the evaluation of every
KPI, their histories (sparkline points, change since review, behind since) and the JSON
and text scorecards built from them. Prints the figures; asserts nothing.

    python benchmarks/history.py                 # 2,000 KPIs x 365 days
    python benchmarks/history.py --kpis 200 --days 90
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kpictl.numbers.actuals import Actual, Actuals  # noqa: E402
from kpictl.numbers.evaluate import evaluate_kpi  # noqa: E402
from kpictl.numbers.history import histories  # noqa: E402
from kpictl.registry.models import EscalationPolicy, Kpi, Target  # noqa: E402
from kpictl.registry.registry import load_registry  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kpis", type=int, default=2000)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    registry, _ = load_registry(ROOT / "registry")
    template = registry.get("mql")
    policy = registry.get("standard")
    assert isinstance(template, Kpi) and isinstance(policy, EscalationPolicy)
    year = date(2026, 1, 1)
    kpis = [
        template.model_copy(update={"id": f"k{i}", "targets": [Target(period="2026", value=9000)]})
        for i in range(args.kpis)
    ]
    actuals = Actuals("<benchmark>")
    for n, kpi in enumerate(kpis):
        pace = 0.85 + (n % 30) / 100  # some far behind, some ahead
        actuals.rows[(kpi.id, "2026")] = [
            Actual(kpi.id, "2026", 9000 * (d + 1) / 365 * pace, year + timedelta(days=d), d + 2)
            for d in range(args.days)
        ]
    moment = datetime(2026, 12, 31, 9, tzinfo=ZoneInfo("Europe/Berlin"))
    rows = len(actuals)

    started = time.perf_counter()
    statuses = [evaluate_kpi(kpi, policy, actuals, moment) for kpi in kpis]
    evaluated = time.perf_counter()
    found = histories(statuses, actuals)
    traced = time.perf_counter()
    from kpictl.numbers import status as scorecard

    scorecard.render(registry, statuses, moment, "json", None, found)
    rendered = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    behind = sum(1 for item in found.values() if item.behind_since)
    print(f"{args.kpis:,} KPIs x {args.days} days = {rows:,} observations")
    print(f"  evaluate every KPI:        {evaluated - started:6.3f} s")
    print(f"  histories (26 points each): {traced - evaluated:6.3f} s  ({behind:,} behind)")
    print(f"  JSON scorecard with them:  {rendered - traced:6.3f} s")
    print(f"  peak memory of the process: {peak_mb:,.0f} MB (rows built in memory included)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

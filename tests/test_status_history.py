"""`kpictl status` with eight weeks of values: sparkline, change since review, behind since."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest
from rich.console import Console

from kpictl.numbers import status as scorecard
from kpictl.numbers.actuals import parse_actuals
from kpictl.numbers.evaluate import evaluate, evaluation_moment
from kpictl.numbers.history import histories
from kpictl.registry.registry import load_registry
from kpictl.views.scorecard_terminal import print_status
from tests.conftest import AS_OF, EXAMPLE, ROOT, Run, assert_golden

HISTORY = str(ROOT / "tests" / "data" / "history.csv")


@pytest.mark.parametrize(
    ("fmt", "name"), [("text", "txt"), ("markdown", "md"), ("json", "json"), ("csv", "csv")]
)
def test_every_format_carries_the_history(run: Run, fmt: str, name: str) -> None:
    result = run("status", str(EXAMPLE), "-a", HISTORY, "--as-of", AS_OF, "-f", fmt)
    assert (result.code, result.err) == (0, "")
    assert_golden(f"status/history.{name}", result.out)


def test_json_history_of_one_kpi(run: Run) -> None:
    result = run("status", str(EXAMPLE), "-a", HISTORY, "--as-of", AS_OF, "-f", "json")
    mql = next(item for item in json.loads(result.out)["kpis"] if item["kpi"] == "mql")
    # 30 October is day 30 of 92: 2,400 * 30 / 92 = 782.6 expected, 736 is 5.96% behind,
    # past the 5% of the lowest tier, and every value since is too.
    assert mql["history"] == [
        {"as_of": "2026-10-02", "value": 53.0, "deviation_pct": -1.58},
        {"as_of": "2026-10-09", "value": 237.0, "deviation_pct": -0.94},
        {"as_of": "2026-10-16", "value": 413.0, "deviation_pct": 1.05},
        {"as_of": "2026-10-23", "value": 582.0, "deviation_pct": 3.0},
        {"as_of": "2026-10-30", "value": 736.0, "deviation_pct": 5.96},
        {"as_of": "2026-11-06", "value": 898.0, "deviation_pct": 6.96},
        {"as_of": "2026-11-13", "value": 1062.0, "deviation_pct": 7.48},
        {"as_of": "2026-11-20", "value": 1225.0, "deviation_pct": 7.92},
    ]
    assert (mql["change_since_review"], mql["change_from"], mql["behind_since"]) == (
        163.0,
        "2026-11-13",
        "2026-10-30",
    )


MQL_LINE = (
    "mql                    2026-Q4          2,400          1,330          1,225  20 Nov  "
    "7.9% behind  {trend}          +163  30 Oct        tier 1 · Owner review                   "
    "          Aisha Okafor     Sat 21 Nov 09:00 CET"
)


def test_a_stream_that_cannot_show_blocks_gets_ascii() -> None:
    # A Windows console (cp1252) has the middle dot of the state but no block elements.
    env = {**os.environ, "PYTHONIOENCODING": "cp1252", "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "kpictl", "status", str(EXAMPLE), "-a", HISTORY, "--as-of", AS_OF],
        capture_output=True,
        env=env,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, b"")
    lines = done.stdout.decode("cp1252").splitlines()
    assert next(line for line in lines if line.startswith("mql ")) == MQL_LINE.format(
        trend="##+=..__"
    )


def test_written_to_a_file_the_sparkline_is_unicode(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "status.txt"
    result = run("status", str(EXAMPLE), "-a", HISTORY, "--as-of", AS_OF, "-o", str(out))
    assert (result.code, result.out) == (0, "")
    lines = out.read_text(encoding="utf-8").splitlines()
    assert next(line for line in lines if line.startswith("mql ")) == MQL_LINE.format(
        trend="██▆▅▂▂▁▁"
    )


def _terminal(width: int) -> list[str]:
    registry, _ = load_registry(EXAMPLE)
    text = Path(HISTORY).read_text(encoding="utf-8")
    campaigns = [c.id for c in registry.campaigns]
    actuals = parse_actuals(text, "h", [k.id for k in registry.kpis], campaigns)
    moment = evaluation_moment(date(2026, 11, 20), registry.settings.timezone, datetime.now())
    statuses = evaluate(registry, actuals, moment)
    rows = scorecard.rows_of(registry, statuses, histories(statuses, actuals))
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, highlight=False, color_system=None)
    print_status(rows, "heading", "summary", console)
    return buffer.getvalue().splitlines()


def test_the_terminal_table_keeps_80_columns_with_the_trend() -> None:
    lines = _terminal(80)
    assert max(len(line) for line in lines) <= 80
    assert lines[1].split() == ["KPI", "Deviation", "Trend", "State", "Owner"]
    mql = next(line for line in lines if line.startswith("mql "))
    assert mql == "mql                     7.9% behind   ██▆▅▂▂▁▁   tier 1 · Owner     Aisha Okafor"
    assert " ".join(line.rstrip() for line in lines[-3:-1]) == (
        "Not shown at this width: Period, Target, To date, Actual, As of, Change, Behind "
        "since, Respond by (widen the terminal, or use --format markdown or json)."
    )


def test_a_wide_terminal_shows_change_and_behind_since() -> None:
    lines = _terminal(250)
    assert lines[1].split() == [
        "KPI", "Period", "Target", "To", "date", "Actual", "As", "of", "Deviation", "Trend",
        "Change", "Behind", "since", "State", "Owner", "Respond", "by",
    ]  # fmt: skip
    mql = next(line for line in lines if line.startswith("mql "))
    assert "   7.9% behind   ██▆▅▂▂▁▁           +163   30 Oct         tier 1 · Owner" in mql


def test_check_renders_a_scorecard_page_override_with_sample_data(run: Run, tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "registry"
    shutil.copytree(EXAMPLE, root)
    with (root / "kpictl.yaml").open("a", encoding="utf-8") as settings:
        settings.write("templates: overrides/\n")
    page = root / "overrides" / "status" / "page.html.j2"
    page.parent.mkdir(parents=True)
    page.write_text("{{ cards[0].chart.y_ticks[0].text }} {{ cards[0].row.text.trend }}\n")
    result = run("check", str(root))
    assert (result.code, result.out) == (0, "No findings in 30 files.\n")
    page.write_text("{{ cards[0].chart.y_min }}\n{{ cards[0].row.nope.x }}\n")
    result = run("check", str(root), cwd=tmp_path)
    assert result.code == 1
    assert result.out.splitlines()[0] == (
        "registry/overrides/status/page.html.j2:2:1: M001 [error] status/page.html.j2 fails "
        "with sample data: UndefinedError: 'dict object' has no attribute 'nope'"
    )

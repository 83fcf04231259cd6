"""Numbers at the edges of what kpictl accepts, and what arithmetic makes of them: every
display helper shows something for an infinite or absurd intermediate, never a crash;
chart axes read well for 10^15 and stay inside the chart (checked in Chromium)."""

from __future__ import annotations

import functools
import math
import shutil
from pathlib import Path

import pytest

from kpictl import display
from kpictl.registry.models import Kpi
from kpictl.views.scorecard_page import axis_label, nice_ticks
from tests.browser import Browser
from tests.conftest import AS_OF, EXAMPLE, Run
from tests.test_map_browser import CHROMIUM, browser, shots

__all__ = ["browser", "shots"]  # fixtures, used by name

INF, NAN = math.inf, math.nan
CSV = "kpi,period,value,as_of\n"


@functools.cache
def example_kpi(kpi_id: str) -> Kpi:
    from kpictl.registry.registry import load_registry

    kpi = load_registry(EXAMPLE)[0].get(kpi_id)
    assert isinstance(kpi, Kpi)
    return kpi


# mql: count; pipeline-sourced: currency (EUR); mql-to-sql-rate: percent;
# pipeline-coverage: ratio; sales-cycle-length: days.
UNITS = ["mql", "pipeline-sourced", "mql-to-sql-rate", "pipeline-coverage", "sales-cycle-length"]


@pytest.mark.parametrize("value", [INF, -INF, NAN])
def test_a_number_that_is_none_shows_as_n_a(value: float) -> None:
    assert display.amount(value) == "n/a"
    assert display.written(value) == "n/a"
    assert display.written(value, grouped=True) == "n/a"
    assert display.money(value, "EUR") == "n/a"
    assert display.percent(value) == "n/a"
    for kpi_id in UNITS:
        assert display.number(value, example_kpi(kpi_id)) == "n/a"
        assert display.number(value, example_kpi(kpi_id), approx=True) == "n/a"
        assert display.value_in(value, example_kpi(kpi_id)) == "n/a"
    assert display.value_in(value, None) == "n/a"


def test_huge_and_tiny_numbers_read_without_a_wall_of_digits() -> None:
    assert display.amount(1e15) == "1,000,000,000,000,000"
    assert display.amount(5e304) == "5e+304"
    assert display.amount(-2.5e20) == "-2.5e+20"
    assert display.amount(1e-310) == "0"
    assert display.money(48_000 / 1e-300, "EUR") == "EUR 4.8e+304"
    assert display.percent(2.2e302) == "over 999,999%"
    assert display.percent(-999_999.4) == "999,999%"
    assert display.percent(1_234.5) == "1,234%"
    assert display.written(1.7e308) == "1.7e+308"
    assert display.signed(-INF, example_kpi("mql")) == "-n/a"


@pytest.mark.parametrize(
    ("values", "blocks", "ascii_text"),
    [
        ([1, INF, NAN, -INF, 2], "▁█ ▁█", "_# _#"),
        ([1.7e308, -1.7e308, 0], "█▁▅", "#_="),  # the span would overflow to inf
        ([INF, INF], "██", "##"),
        ([NAN], " ", " "),
        ([5e-324, 1e-310, 5e-324], "▁█▁", "_#_"),
        ([3, 3, INF], "▄▄█", "~~#"),
    ],
)
def test_a_sparkline_draws_every_value(values: list[float], blocks: str, ascii_text: str) -> None:
    assert display.sparkline(values) == blocks
    assert display.sparkline(values, ascii_only=True) == ascii_text


@pytest.mark.parametrize(
    ("low", "high", "ticks"),
    [
        (0, 2400, [0, 1000, 2000, 3000]),
        (0, 1.25e15, [0, 5e14, 1e15, 1.5e15]),
        (0, 5e-324, [0.0, 2.5e-10, 5e-10, 7.500000000000001e-10, 1e-09]),
        (1e-310, 1e-310, [0.0, 2.5e-10, 5e-10, 7.500000000000001e-10, 1e-09]),
        (0, 0, [0.0, 0.25, 0.5, 0.75, 1.0]),
        (2.9, 3.3, [2.8, 2.9, 3.0, 3.1, 3.2, 3.3]),
    ],
)
def test_axis_ticks_end_for_any_range(low: float, high: float, ticks: list[float]) -> None:
    assert nice_ticks(low, high) == ticks


@pytest.mark.parametrize(
    ("kpi_id", "value", "label"),
    [
        ("mql", 1e15, "1,000T"),
        ("mql", 7.5e14, "750T"),
        ("mql", 2.5e9, "2.5B"),
        ("mql", 40_000, "40k"),
        ("pipeline-sourced", 1e15, "EUR 1,000T"),
        ("pipeline-sourced", 2.5e6, "EUR 2.5M"),
        ("mql-to-sql-rate", 1e15, "1,000T%"),
        ("pipeline-coverage", 2.5e14, "250T x".replace(" ", "")),
        ("sales-cycle-length", 1e15, "1,000T"),  # the axis title says Days
        ("sales-cycle-length", 2.5e5, "250k days"),
        ("sales-cycle-length", 80, "80 days"),
    ],
)
def test_axis_labels_are_short_for_every_unit(kpi_id: str, value: float, label: str) -> None:
    assert axis_label(value, example_kpi(kpi_id)) == label


def test_a_long_currency_code_is_left_to_the_axis_title() -> None:
    kpi = example_kpi("pipeline-sourced").model_copy(
        update={"currency": None, "labels": {"currency": "Swiss francs"}}
    )
    assert axis_label(1e15, kpi) == "1,000T"
    assert axis_label(5_000, kpi) == "Swiss francs 5,000"  # below 10,000: as the text shows it


# --- the commands ------------------------------------------------------------------------


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    root = tmp_path / "registry"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".kpictl"))
    return root


def test_a_cost_per_result_of_almost_nothing_produced_is_n_a(
    run: Run, registry: Path, tmp_path: Path
) -> None:
    csv_file = tmp_path / "t.csv"
    csv_file.write_text(CSV + "mql,data-leaders-webinars-2026,1e-310,2026-09-02\n", "utf-8")
    assert run("actuals", "import", str(csv_file), str(registry)).code == 0
    result = run(
        "recap", "data-leaders-webinars-2026", str(registry), "--as-of", "2026-11-20", "--dry-run"
    )
    assert (result.code, result.err) == (0, "")
    assert (
        "  Cost per result: n/a (EUR 48,000 budget for 0 Marketing Qualified Leads).\n"
        in result.out
    )


def test_a_value_far_past_a_tiny_target_is_shown_not_crashed_on(
    run: Run, registry: Path, tmp_path: Path
) -> None:
    kpi_file = registry / "kpis" / "mql.yaml"
    text = kpi_file.read_text(encoding="utf-8")
    kpi_file.write_text(text.replace("value: 2400\n", "value: 1e-300\n", 1), "utf-8")
    csv_file = tmp_path / "t.csv"
    csv_file.write_text(
        CSV
        + "mql,2026-Q4,1e15,2026-11-10\nmql,2026-Q4,5,2026-11-12\nmql,2026-Q4,1225,2026-11-20\n",
        "utf-8",
    )
    for form in ("text", "markdown", "json", "html"):
        result = run("status", str(registry), "-a", str(csv_file), "--as-of", AS_OF, "-f", form)
        assert (result.code, result.err) == (0, ""), form
    text_out = run("status", str(registry), "-a", str(csv_file), "--as-of", AS_OF).out
    row = next(line for line in text_out.splitlines() if line.startswith("mql "))
    assert "over 999,999% ahead  █▁█" in row
    escalate = run("escalate", str(registry), "-a", str(csv_file), "--as-of", AS_OF, "--dry-run")
    assert escalate.code in (0, 1) and "internal error" not in escalate.err


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_axis_labels_of_10_to_the_15_stay_inside_the_chart(
    run: Run, registry: Path, tmp_path: Path, browser: Browser, shots: Path
) -> None:
    rows = "".join(
        f"{kpi},2026-Q4,{value},{day}\n"
        for kpi in UNITS
        for value, day in ((9.5e14, "2026-10-30"), (1e15, "2026-11-20"))
    )
    csv_file = tmp_path / "huge.csv"
    csv_file.write_text(CSV + rows, "utf-8")
    page = tmp_path / "huge.html"
    result = run(
        "status",
        str(registry),
        "-a",
        str(csv_file),
        "--as-of",
        AS_OF,
        "-f",
        "html",
        "-o",
        str(page),
    )
    assert (result.code, result.err) == (0, "")
    browser.open(page)
    browser.screenshot(shots / "scorecard-1e15.png", full_page=True)
    labels = browser.evaluate(
        "[...document.querySelectorAll('svg[data-kpi]')].flatMap(svg =>"
        " [...svg.querySelectorAll('text.label')].map(t => [svg.dataset.kpi, t.textContent,"
        " t.getBBox().x]))"
    )
    by_kpi = {kpi: sorted(text for k, text, _x in labels if k == kpi) for kpi in UNITS}
    assert "1,000T" in by_kpi["mql"]
    assert "EUR 1,000T" in by_kpi["pipeline-sourced"]
    assert "1,000T%" in by_kpi["mql-to-sql-rate"]
    assert "1,000T" in by_kpi["sales-cycle-length"]
    outside = [(kpi, text, x) for kpi, text, x in labels if x < 0]
    assert outside == []

"""`kpictl status --format html`, opened in headless Chromium: a chart per KPI, drawn right.

Needs Chromium (skipped with the reason when missing, as the map's browser tests are).
Screenshots go to the test's tmp_path, or to $KPICTL_ARTIFACTS when set.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import Browser
from tests.conftest import AS_OF, EXAMPLE, ROOT, Run
from tests.test_map import _evil_registry
from tests.test_map_browser import CHROMIUM, browser, png_size, shots

__all__ = ["browser", "shots"]  # fixtures, used by name

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)"
)
HISTORY = ROOT / "tests" / "data" / "history.csv"

# Every dot of every chart, with where the chart's axis says it belongs.
DOTS = """[...document.querySelectorAll('svg[data-kpi]')].flatMap(svg => {
  const d = svg.dataset, lo = +d.yMin, hi = +d.yMax, top = +d.top, bottom = +d.bottom;
  return [...svg.querySelectorAll('circle')].map(c => [svg.dataset.kpi, c.dataset.asOf,
    +c.getAttribute('cy'), bottom - (+c.dataset.value - lo) / (hi - lo) * (bottom - top),
    c.getBoundingClientRect().width]);
})"""


@pytest.fixture
def page(run: Run, tmp_path: Path) -> Path:
    out = tmp_path / "scorecard.html"
    result = run("status", str(EXAMPLE), "-a", str(HISTORY), "--as-of", AS_OF, "-f", "html",
                 "-o", str(out))  # fmt: skip
    assert (result.code, result.out) == (0, "")
    return out


def test_every_kpi_has_a_chart_with_its_values(page: Path, browser: Browser) -> None:
    browser.open(page)
    charts = browser.evaluate(
        "[...document.querySelectorAll('article')].map(a => [a.dataset.kpi,"
        " a.querySelectorAll('svg circle').length, a.querySelectorAll('tbody tr').length,"
        " !!a.querySelector('svg title') && !!a.querySelector('svg desc')])"
    )
    assert charts == [
        ["expansion-pipeline", 8, 8, True],
        ["branded-search-clicks", 7, 7, True],
        ["sales-cycle-length", 7, 7, True],
        ["mql", 8, 8, True],
        ["sql", 8, 8, True],
        ["nrr", 2, 2, True],
        ["cost-per-opportunity", 7, 7, True],
        ["pipeline-sourced", 8, 8, True],
        ["website-sessions", 6, 6, True],
        ["mql-to-sql-rate", 7, 7, True],
        ["pipeline-coverage", 8, 8, True],
    ]
    assert browser.evaluate("document.scripts.length") == 0
    desc = browser.evaluate("document.querySelector('#kpi-mql svg desc').textContent")
    assert desc == (
        "8 values from 2 Oct to 20 Nov; the latest, 1,225 on 20 Nov, is 7.9% behind the pace. "
        "Target 2,400, reached by a straight line from zero at the start of the period."
    )
    behind = browser.evaluate("document.querySelector('#kpi-mql dd.behind').textContent")
    assert behind == "30 Oct"


def test_each_dot_sits_at_its_value_and_the_lines_at_the_target(
    page: Path, browser: Browser
) -> None:
    browser.open(page)
    dots = browser.evaluate(DOTS)
    assert len(dots) == 76
    for kpi, as_of, cy, expected, width in dots:
        assert abs(cy - expected) <= 0.06, (kpi, as_of)
        assert width > 0, (kpi, as_of)  # drawn, not clipped away
    # Linear pacing: the pace line runs from zero at the period's start to the target at
    # its end, where the target line is; flat: the pace line is the target.
    lines = browser.evaluate(
        "[...document.querySelectorAll('svg[data-kpi]')].map(svg => { const d = svg.dataset;"
        " const p = svg.querySelector('[data-role=pace]');"
        " const t = svg.querySelector('[data-role=target]');"
        " const y = v => +d.bottom - (v - +d.yMin) / (+d.yMax - +d.yMin) * (+d.bottom - +d.top);"
        " return [d.kpi, +p.getAttribute('x1') === +d.left, +p.getAttribute('x2') === +d.right,"
        " Math.abs(+p.getAttribute('y1') - y(0)) < 0.06,"
        " t ? +t.getAttribute('y1') === +p.getAttribute('y2') : null]; })"
    )
    assert {line[0]: line[1:] for line in lines} == {
        "expansion-pipeline": [True, True, True, True],
        "branded-search-clicks": [True, True, True, True],
        "sales-cycle-length": [True, True, False, None],
        "mql": [True, True, True, True],
        "sql": [True, True, True, True],
        "nrr": [True, True, False, None],
        "cost-per-opportunity": [True, True, False, None],
        "pipeline-sourced": [True, True, True, True],
        "website-sessions": [True, True, True, True],
        "mql-to-sql-rate": [True, True, False, None],
        "pipeline-coverage": [True, True, False, None],
    }
    # A flat KPI's pace line is level, at the target's height.
    flat = browser.evaluate(
        "(() => { const l = document.querySelector('#kpi-nrr [data-role=pace]');"
        " return [l.getAttribute('y1'), l.getAttribute('y2')]; })()"
    )
    assert flat[0] == flat[1]


def test_screenshots_at_desktop_and_phone_width(page: Path, browser: Browser, shots: Path) -> None:
    browser.open(page)
    assert png_size(browser.screenshot(shots / "scorecard-desktop.png")) == (1366, 768)
    browser.screenshot(shots / "scorecard-desktop-full.png", full_page=True)
    browser.resize(390, 844, mobile=True)
    browser.open(page)
    browser.screenshot(shots / "scorecard-phone.png", full_page=True)
    # Nothing runs off the side: no sideways scrolling, every chart inside its card.
    assert browser.evaluate("document.documentElement.scrollWidth") <= 390
    overflow = browser.evaluate(
        "[...document.querySelectorAll('article')].filter(a => {"
        " const s = a.querySelector('svg').getBoundingClientRect(), r = a.getBoundingClientRect();"
        " return s.right > r.right || s.left < r.left; }).map(a => a.dataset.kpi)"
    )
    assert overflow == []


def test_names_from_the_registry_are_text_not_markup(
    tmp_path: Path, run: Run, browser: Browser
) -> None:
    root = _evil_registry(tmp_path / "evil")
    kpis = root / "kpis.yaml"
    # (Control and bidi characters never get this far: the loader refuses such a name.)
    kpis.write_text(
        kpis.read_text(encoding="utf-8") + "targets: [{period: 2026-Q4, value: 100}]\n",
        encoding="utf-8",
    )
    actuals = tmp_path / "a.csv"
    actuals.write_text(
        "kpi,period,value,as_of\nk1,2026-Q4,20,2026-11-13\nk1,2026-Q4,30,2026-11-20\n"
    )
    out = tmp_path / "evil.html"
    result = run("status", str(root), "-a", str(actuals), "--as-of", AS_OF, "-f", "html",
                 "-o", str(out))  # fmt: skip
    assert result.code == 0, result.err
    html = out.read_text(encoding="utf-8")
    assert "<script>" not in html and "<b>" not in html
    browser.open(out)
    assert not any(e["method"] == "Page.javascriptDialogOpening" for e in browser._events)
    assert browser.evaluate("document.scripts.length") == 0
    assert browser.evaluate("document.querySelector('#kpi-k1 h2').firstChild.textContent") == (
        "KPI `one` <script>x</script> | end"
    )
    assert browser.evaluate("document.querySelectorAll('#kpi-k1 svg circle').length") == 2

"""The HTML map, opened in headless Chromium the way a person would use it.

Needs Debian's `chromium` (CI's .ci/run installs it); skipped with a reason when it is
missing. Screenshots go to the test's tmp_path, or to $KPICTL_ARTIFACTS when set, so a
person can look at them.
"""

from __future__ import annotations

import os
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import Browser, find_chromium
from tests.conftest import AS_OF, EXAMPLE, Run
from tests.test_map import EVIL, _evil_registry

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)"
)

VISIBLE = "[...document.querySelectorAll('tbody.kpi:not([hidden])')].map(b => b.dataset.kpi)"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture
def shots(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "shots"
    folder.mkdir()
    yield folder
    keep = os.environ.get("KPICTL_ARTIFACTS")
    if keep:
        shutil.copytree(folder, Path(keep), dirs_exist_ok=True)


@pytest.fixture
def browser() -> Iterator[Browser]:
    assert CHROMIUM is not None
    with Browser(CHROMIUM, width=1366, height=768) as opened:
        yield opened
        # Any uncaught exception, console error or failed load fails the test: one error
        # early in the page's script silently disables everything after it.
        opened.settle()
        assert opened.errors == []


@pytest.fixture
def page(run: Run, tmp_path: Path) -> Path:
    """The example registry's map as an HTML file."""
    out = tmp_path / "map.html"
    assert run("map", str(EXAMPLE), "-f", "html", "-o", str(out), "--as-of", AS_OF).code == 0
    return out


def test_search_sort_and_details_work(
    run: Run, tmp_path: Path, shots: Path, browser: Browser
) -> None:
    page = tmp_path / "map.html"
    assert run("map", str(EXAMPLE), "-f", "html", "-o", str(page), "--as-of", AS_OF).code == 0
    browser.open(page)

    assert len(browser.evaluate(VISIBLE)) == 11
    browser.settle()
    assert browser.errors == []
    # One self-contained file: nothing fetched, and the page fits a laptop's width.
    assert browser.evaluate("performance.getEntriesByType('resource').length") == 0
    assert browser.evaluate("document.documentElement.scrollWidth") <= 1366
    assert png_size(browser.screenshot(shots / "map.png")) == (1366, 768)
    browser.screenshot(shots / "map-full.png", full_page=True)

    # Typing in the search box filters the rows, the count and the graph.
    browser.type("#q", "felix")
    assert browser.evaluate(VISIBLE) == ["cost-per-opportunity", "nrr"]
    assert browser.evaluate("document.getElementById('shown').textContent") == "2 of 11 KPIs"
    assert browser.evaluate("document.querySelectorAll('#graph .node.kpi.dim').length") == 9
    browser.screenshot(shots / "map-search.png")
    browser.type("#q", " retention")  # every word must match
    assert browser.evaluate(VISIBLE) == ["nrr"]
    browser.type("#q", " zzz")
    assert browser.evaluate(VISIBLE) == []
    assert browser.evaluate("getComputedStyle(document.getElementById('nomatch')).display") == (
        "block"
    )
    browser.evaluate("document.getElementById('q').select()")
    browser.call("Input.insertText", {"text": ""})
    browser.evaluate("document.getElementById('q').dispatchEvent(new Event('input'))")
    assert len(browser.evaluate(VISIBLE)) == 11

    # Clicking a column heading sorts; clicking it again reverses.
    primary = "[...document.querySelectorAll('tbody.kpi')].map(b => b.dataset.primary)"
    browser.evaluate("document.querySelector('button[data-key=primary]').click()")
    names = browser.evaluate(primary)
    assert names == sorted(names)
    browser.evaluate("document.querySelector('button[data-key=primary]').click()")
    assert browser.evaluate(primary) == sorted(names, reverse=True)
    stage = "[...document.querySelectorAll('tbody.kpi')].map(b => b.dataset.kpi)"
    browser.evaluate("document.querySelector('button[data-key=stage]').click()")
    order = browser.evaluate(stage)
    assert order[0] in ("branded-search-clicks", "website-sessions")  # awareness first
    assert order[-1] == "expansion-pipeline"

    # Clicking a row opens its lineage and escalation ladder.
    browser.evaluate("document.querySelector('#kpi-nrr tr.main').click()")
    detail = "document.querySelector('#kpi-nrr tr.detail')"
    assert browser.evaluate(f"{detail}.offsetHeight") > 100
    assert "Revenue review" in browser.evaluate(f"{detail}.innerText")
    browser.evaluate(f"{detail}.scrollIntoView({{block: 'center'}})")
    browser.screenshot(shots / "map-detail.png")

    # Printing shows every KPI and the details that are open, without the controls.
    browser.call("Emulation.setEmulatedMedia", {"media": "print"})
    opened = "[...document.querySelectorAll('tr.detail')].filter(r => r.offsetHeight > 0)"
    assert browser.evaluate(f"{opened}.map(r => r.parentNode.dataset.kpi)") == ["nrr"]
    assert browser.evaluate("document.querySelectorAll('tr.main').length") == 11
    assert browser.evaluate("getComputedStyle(document.querySelector('.search')).display") == (
        "none"
    )
    browser.pdf(shots / "map.pdf")


def test_names_from_the_registry_cannot_run_script(
    tmp_path: Path, run: Run, browser: Browser
) -> None:
    page = tmp_path / "evil.html"
    root = _evil_registry(tmp_path / "evil")
    assert run("map", str(root), "-f", "html", "-o", str(page)).code == 0
    browser.open(page)
    assert not any(e["method"] == "Page.javascriptDialogOpening" for e in browser._events)
    assert browser.evaluate("document.scripts.length") == 1
    assert browser.evaluate("document.querySelectorAll('img, b, i').length") == 0
    row = browser.evaluate("document.querySelector('#kpi-k1 tr.main').innerText")
    assert EVIL.split(" --> ")[0] in row  # shown as text
    browser.type("#q", "<script>")
    assert browser.evaluate(VISIBLE) == ["k1"]


LIT = (
    "[...document.querySelectorAll('#graph .lit')]"
    ".map(e => e.id || e.dataset.from + '>' + e.dataset.to).sort()"
)
OPEN = "[...document.querySelectorAll('tbody.kpi.open')].map(b => b.dataset.kpi)"
# Where a KPI's row is on screen: the top of its box, and the viewport's height.
PLACE = "(() => [document.getElementById('kpi-nrr').getBoundingClientRect().top, innerHeight])()"


def test_searching_a_source_owner_finds_the_kpis_their_data_feeds(
    page: Path, browser: Browser
) -> None:
    browser.open(page)
    browser.type("#q", "hannah schulz")  # owns the warehouse models, no KPI
    assert browser.evaluate(VISIBLE) == [
        "cost-per-opportunity",
        "expansion-pipeline",
        "mql",
        "mql-to-sql-rate",
        "nrr",
        "pipeline-coverage",
        "pipeline-sourced",
        "sales-cycle-length",
        "sql",
    ]
    assert browser.evaluate("document.getElementById('shown').textContent") == "9 of 11 KPIs"


def test_sorting_ignores_the_ladder_tables_inside_rows(page: Path, browser: Browser) -> None:
    browser.open(page)
    heads = (
        "[...document.querySelectorAll('th[aria-sort]')]"
        ".map(t => t.textContent + ' ' + t.getAttribute('aria-sort'))"
    )
    browser.evaluate("document.querySelector('button[data-key=review]').click()")
    assert browser.evaluate(heads) == ["Review ascending"]
    reviews = "[...document.querySelectorAll('tbody.kpi')].map(b => b.dataset.review)"
    assert browser.evaluate(reviews) == ["2"] * 8 + ["4"] * 3
    # The ladder's own headings are not sort buttons and gained nothing.
    assert browser.evaluate("document.querySelectorAll('table.ladder th button').length") == 0


def test_hovering_a_box_traces_its_lineage_and_owners(
    page: Path, shots: Path, browser: Browser
) -> None:
    browser.open(page)
    x, y = browser.centre("#n-kpi-nrr rect")
    browser.mouse("mouseMoved", x, y)
    assert browser.evaluate("document.getElementById('graph').classList.contains('focus')")
    assert browser.evaluate(LIT) == [
        "kpi-nrr>person-felix-braun",
        "kpi-nrr>person-grace-liu",
        "n-kpi-nrr",
        "n-person-felix-braun",
        "n-person-grace-liu",
        "n-source-billing-subscriptions",
        "n-source-salesforce-crm",
        "n-source-wh-arr-movements",
        "source-billing-subscriptions>source-wh-arr-movements",
        "source-salesforce-crm>source-wh-arr-movements",
        "source-wh-arr-movements>kpi-nrr",
    ]
    browser.screenshot(shots / "map-hover.png")
    # The faded boxes really are faded; moving away clears the trace.
    faded = "getComputedStyle(document.getElementById('n-kpi-mql')).opacity"
    assert float(browser.evaluate(faded)) < 0.5
    browser.mouse("mouseMoved", 2, 2)
    assert browser.evaluate(LIT) == []
    assert browser.evaluate("document.getElementById('graph').classList.contains('focus')") is False


def test_clicking_a_kpi_in_the_graph_opens_its_row(
    page: Path, shots: Path, browser: Browser
) -> None:
    browser.open(page)
    browser.click(*browser.centre("#n-kpi-nrr rect"))
    browser.settle()
    assert browser.evaluate("location.hash") == "#kpi-nrr"
    assert browser.evaluate(OPEN) == ["nrr"]
    assert browser.evaluate("document.querySelector('#kpi-nrr tr.detail').offsetHeight") > 100
    top, height = browser.evaluate(PLACE)
    assert 0 <= top < height / 2
    browser.screenshot(shots / "map-graph-click.png")
    # Closed again, the same box opens it again although the address did not change.
    browser.evaluate("document.querySelector('#kpi-nrr tr.main').click()")
    assert browser.evaluate(OPEN) == []
    browser.click(*browser.centre("#n-kpi-nrr rect"))
    browser.settle()
    assert browser.evaluate(OPEN) == ["nrr"]
    # A KPI the search box hides is shown again when its box is clicked.
    browser.evaluate("document.querySelector('#kpi-nrr tr.main').click()")
    browser.type("#q", "zzz")
    assert browser.evaluate(VISIBLE) == []
    browser.click(*browser.centre("#n-kpi-nrr rect"))
    browser.settle()
    assert browser.evaluate(OPEN) == ["nrr"]
    assert len(browser.evaluate(VISIBLE)) == 11
    assert browser.evaluate("document.getElementById('q').value") == ""


def test_a_link_to_a_kpi_opens_and_shows_it(page: Path, shots: Path, browser: Browser) -> None:
    browser.open(page, "kpi-nrr")
    browser.settle()
    assert browser.evaluate(OPEN) == ["nrr"]
    assert browser.evaluate("window.scrollY") > 0
    top, height = browser.evaluate(PLACE)
    assert 0 <= top < height / 2
    browser.screenshot(shots / "map-link.png")


@pytest.mark.parametrize("fragment", ["%E0%A4%A", "kpi-", "q", "kpi-nrr%22%3E%3Cimg"])
def test_a_broken_link_opens_nothing_and_breaks_nothing(
    page: Path, browser: Browser, fragment: str
) -> None:
    browser.open(page, fragment)
    browser.settle()
    assert browser.evaluate(OPEN) == []
    browser.type("#q", "felix")  # the rest of the script still runs
    assert browser.evaluate(VISIBLE) == ["cost-per-opportunity", "nrr"]


LABELS = """[...document.querySelectorAll('#graph .node')].flatMap(g => {
  const box = g.querySelector('rect').width.baseVal.value;
  return [...g.querySelectorAll('text')].map(t => ({
    id: g.id, text: t.textContent, title: g.querySelector('title').textContent,
    right: t.x.baseVal[0].value + t.getComputedTextLength(), box: box,
    measured: t.getBBox().x + t.getBBox().width,
  }));
})"""


def test_every_graph_label_fits_its_box(page: Path, shots: Path, browser: Browser) -> None:
    browser.open(page)
    labels = browser.evaluate(LABELS)
    assert len(labels) == 2 * browser.evaluate("document.querySelectorAll('#graph .node').length")
    for label in labels:
        # 10 units of padding either side, measured in the font the page really uses.
        assert label["right"] <= label["box"] - 10, label
        assert label["measured"] <= label["box"] - 10, label
    cut = {label["id"]: label for label in labels if label["text"].endswith("…")}
    assert "n-kpi-cost-per-opportunity" in cut  # too long for its box at any common font
    title = cut["n-kpi-cost-per-opportunity"]["title"]
    assert title.startswith("Cost per marketing-sourced opportunity (cost-per-opportunity)")
    browser.evaluate("document.getElementById('lineage').scrollIntoView()")
    browser.screenshot(shots / "map-graph.png")


@pytest.mark.parametrize("mobile", [False, True], ids=["narrow-window", "phone"])
def test_a_phone_never_scrolls_sideways(
    run: Run, tmp_path: Path, shots: Path, browser: Browser, mobile: bool
) -> None:
    page = tmp_path / "map.html"
    assert run("map", str(EXAMPLE), "-f", "html", "-o", str(page), "--as-of", AS_OF).code == 0
    browser.resize(390, 844, mobile=mobile)
    browser.open(page)
    width = "document.documentElement.scrollWidth"
    assert browser.evaluate(width) <= 390
    browser.screenshot(shots / f"map-390-{'phone' if mobile else 'window'}.png")
    # Open every KPI's details: ladders and lineage trees must fit too.
    browser.evaluate("document.querySelectorAll('tr.main').forEach(r => r.click())")
    assert len(browser.evaluate(OPEN)) == 11
    assert browser.evaluate(width) <= 390
    # Nor is anything cut off by the table's rounded corners: only the ladders and the
    # graph are wider, and they scroll in their own boxes.
    cut = (
        "[...document.querySelectorAll('body *')].filter(e => !e.closest('.ladder, .graph-scroll')"
        " && e.getBoundingClientRect().right > 390.5).map(e => e.tagName + ' ' + e.textContent)"
    )
    assert browser.evaluate(cut) == []
    browser.evaluate("document.querySelector('#kpi-nrr tr.detail').scrollIntoView()")
    browser.screenshot(shots / f"map-390-{'phone' if mobile else 'window'}-detail.png")
    browser.type("#q", "felix")
    assert browser.evaluate(VISIBLE) == ["cost-per-opportunity", "nrr"]
    browser.evaluate("document.querySelector('button[data-key=name]').click()")
    assert browser.evaluate(width) <= 390

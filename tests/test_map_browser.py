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
from tests.conftest import AS_OF, EXAMPLE
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


def test_search_sort_and_details_work(run, tmp_path: Path, shots: Path, browser: Browser) -> None:  # type: ignore[no-untyped-def]
    page = tmp_path / "map.html"
    assert run("map", str(EXAMPLE), "-f", "html", "-o", str(page), "--as-of", AS_OF).code == 0
    browser.open(page)

    assert len(browser.evaluate(VISIBLE)) == 11
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


def test_names_from_the_registry_cannot_run_script(tmp_path: Path, run, browser: Browser) -> None:  # type: ignore[no-untyped-def]
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

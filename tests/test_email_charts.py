"""Charts in emails: bars made of table cells in the HTML part, words in the text part.

With eight weeks of values (tests/data/history.csv) the escalation, readout and recap
emails of the example registry show each KPI's path and since when it is off track.
The HTML is also opened in Chromium, as a mail client would show it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser import Browser
from tests.conftest import AS_OF, EXAMPLE, ROOT, Run, assert_golden
from tests.test_emails import parts, read_eml
from tests.test_map_browser import CHROMIUM, browser, png_size, shots

__all__ = ["browser", "shots"]  # fixtures, used by name

HISTORY = str(ROOT / "tests" / "data" / "history.csv")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)"
)

MQL_TEXT = """\
Marketing Qualified Leads is 7.9% behind where it should be by now for Q4 2026. That \
reaches tier 1 (Owner review) of our Standard KPI escalation policy, so it needs a plan, \
not just a note. Please reply with yours by Sat 21 Nov 2026, 09:00 CET.

It has been off track since Fri 30 Oct 2026 (21 days).
"""
MQL_TREND = """\
HOW IT GOT HERE
  Against the pace, last 8 values (2 Oct to 20 Nov): ██▆▅▂▂▁▁
    2 Oct: 53 of 52 (1.6% ahead)
    9 Oct: 237 of 235 (0.9% ahead)
    16 Oct: 413 of 417 (1.1% behind)
    23 Oct: 582 of 600 (3% behind)
    30 Oct: 736 of 783 (6% behind), off track
    6 Nov: 898 of 965 (7% behind), off track
    13 Nov: 1,062 of 1,148 (7.5% behind), off track
    20 Nov: 1,225 of 1,330 (7.9% behind), off track
  Since the previous weekly review: +163 (from Fri 13 Nov 2026).

WHAT COULD BE BEHIND IT
"""


def _emails(run: Run, out: Path, *command: str) -> None:
    result = run(*command, str(EXAMPLE), "-a", HISTORY, "--as-of", AS_OF, "--out", str(out))
    assert result.code == 0, result.err


@pytest.fixture
def outbox(run: Run, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    _emails(run, out, "escalate")
    _emails(run, out / "readout", "readout", "q4-legacy-bi-displacement", "--day", "30")
    _emails(run, out / "recap", "recap", "data-leaders-webinars-2026")
    return out


def test_the_escalation_says_since_when_and_shows_the_trend_in_words(outbox: Path) -> None:
    text, html = parts(read_eml(outbox / "mql.eml"))
    assert MQL_TEXT in text
    assert MQL_TREND in text
    assert_golden("email/history-mql.txt", text)
    assert_golden("email/history-mql.html", html)
    assert (
        '<p style="margin:0 0 16px;">It has been off track since <strong>Fri 30 Oct 2026'
        "</strong> (21 days).</p>"
    ) in html


def test_the_html_bars_are_table_cells_sized_by_value(outbox: Path) -> None:
    _, html = parts(read_eml(outbox / "mql.eml"))
    # 20 Nov: 1,225 against the largest of the values and targets shown, 1,330: 92%,
    # red for a miss; the target to date under it is that largest: the whole width.
    assert (
        '<td width="92%" height="10" bgcolor="#dc2626" style="width:92%;height:10px;'
        'background:#dc2626;font-size:0;line-height:0;">&nbsp;</td>'
    ) in html
    assert (
        '<td width="100%" height="3" bgcolor="#9ca3af" style="width:100%;height:3px;'
        'background:#9ca3af;font-size:0;line-height:0;">&nbsp;</td>'
    ) in html
    assert '<td width="4%" height="10" bgcolor="#2563eb"' in html  # 2 Oct: 53 of 1,330
    assert '<strong>1,225</strong> <span style="color:#6b7280;">of 1,330 · 7.9% behind' in html


@pytest.mark.parametrize(
    "name",
    [
        "mql.eml",
        "expansion-pipeline.eml",
        "sales-cycle-length.eml",
        "branded-search-clicks.eml",
        "readout/q4-legacy-bi-displacement-readout-day-30.eml",
        "recap/data-leaders-webinars-2026-recap.eml",
    ],
)
def test_no_svg_script_or_remote_image_in_any_email(outbox: Path, name: str) -> None:
    message = read_eml(outbox / name)
    assert message.get_content_type() == "multipart/alternative"
    _, html = parts(message)
    assert not re.search(r"<(svg|script|img|object|iframe|link)\b", html, re.IGNORECASE)
    assert "url(" not in html and "src=" not in html


def test_readout_and_recap_show_each_charter_kpi(outbox: Path) -> None:
    text, html = parts(
        read_eml(outbox / "readout" / "q4-legacy-bi-displacement-readout-day-30.eml")
    )
    assert (
        "    Behind pace since Fri 16 Oct 2026.\n"
        "    Against the pace, last 3 values (16 Oct to 30 Oct): ▁▆█\n"
        "      16 Oct: EUR 180,000 of EUR 313,043 (42% behind), off track\n"
        "      23 Oct: EUR 350,000 of EUR 450,000 (22% behind), off track\n"
        "      30 Oct: EUR 520,000 of EUR 586,957 (11% behind), off track\n"
    ) in text
    assert html.count('aria-label="') == 3  # a chart per charter KPI
    assert "(red: behind the campaign&#39;s pace)" in html
    text, html = parts(read_eml(outbox / "recap" / "data-leaders-webinars-2026-recap.eml"))
    assert (
        "  Miss  Sales Qualified Leads: 271 against a target of 300 (9.7% behind target, "
        "29 short).\n"
        "        Behind pace since Tue 30 Jun 2026.\n"
        "        Against the pace, last 4 values (30 Jun to 1 Sep): ▁▃▄█\n"
    ) in text
    assert html.count('aria-label="') == 3


@needs_chromium
def test_the_bars_render_in_chromium(outbox: Path, browser: Browser, shots: Path) -> None:
    for name in ("mql", "readout/q4-legacy-bi-displacement-readout-day-30"):
        page = shots / f"{name.replace('/', '-')}.html"
        page.write_text(parts(read_eml(outbox / f"{name}.eml"))[1], encoding="utf-8")
        browser.resize(700, 900)
        browser.open(page)
        browser.screenshot(page.with_suffix(".png"), full_page=True)
        browser.resize(390, 844, mobile=True)
        browser.open(page)
        phone = browser.screenshot(page.with_suffix(".phone.png"), full_page=True)
        assert png_size(phone)[0] == 390
    # The last page open is the readout on a phone; measure the mql bars at desktop width.
    mql = shots / "mql.html"
    browser.resize(700, 900)
    browser.open(mql)
    widths = browser.evaluate(
        "[...document.querySelectorAll('table[aria-label] > tbody > tr')].map(row => {"
        " const box = row.children[1].getBoundingClientRect().width;"
        " const bar = row.children[1].querySelector('td[bgcolor]');"
        " return [row.children[0].textContent,"
        " Math.round(bar.getBoundingClientRect().width / box * 100),"
        " getComputedStyle(bar).backgroundColor]; })"
    )
    blue, red = "rgb(37, 99, 235)", "rgb(220, 38, 38)"
    expected = [
        ("2 Oct", 4, blue),
        ("9 Oct", 18, blue),
        ("16 Oct", 31, blue),
        ("23 Oct", 44, blue),
        ("30 Oct", 55, red),
        ("6 Nov", 68, red),
        ("13 Nov", 80, red),
        ("20 Nov", 92, red),
    ]
    assert [(day, colour) for day, _, colour in widths] == [(d, c) for d, _, c in expected]
    # Drawn within a percent of the width asked for (the browser rounds to pixels).
    assert all(abs(got[1] - want[1]) <= 1 for got, want in zip(widths, expected, strict=True))
    assert browser.evaluate("document.documentElement.scrollWidth") <= 700

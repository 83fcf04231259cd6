"""The data-outage email draws what the numbers did before the feed stopped (issue 12, item 6).

Built from a copy of the example registry after `kpictl pull --as-of 2026-11-20`: the
Search Console feed stopped on 14 November, so branded search clicks is the example's
data outage. Its store holds the quarter's weekly values up to then. The chart is the
escalation emails' chart (the same history view and macros) ending with today's pace
and no value; with one value or none there is no chart, and nothing reads "None".
"""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import pytest

from kpictl.__main__ import main
from tests.browser import Browser
from tests.conftest import AS_OF, EXAMPLE, Run, assert_golden
from tests.test_email_charts import needs_chromium
from tests.test_emails import parts, read_eml
from tests.test_map_browser import browser, png_size, shots
from tests.test_pull_campaigns import pulled

__all__ = ["browser", "pulled", "shots"]  # fixtures, used by name

BRANDED = "branded-search-clicks.eml"

CHART_TEXT = """\
  Status:          the number cannot be trusted, so nobody can say whether Q4 2026 is on track

BEFORE THE DATA STOPPED
  Against the pace, last 8 values (2 Oct to 14 Nov): ▁▆▇█████
    2 Oct: 0 of 826 (100% behind), off track
    9 Oct: 2,822 of 3,717 (24% behind), off track
    16 Oct: 6,068 of 6,609 (8.2% behind), off track
    23 Oct: 9,064 of 9,500 (4.6% behind)
    30 Oct: 12,124 of 12,391 (2.2% behind)
    6 Nov: 14,985 of 15,283 (1.9% behind)
    13 Nov: 17,905 of 18,174 (1.5% behind)
    14 Nov: 18,400 of 18,587 (1% behind)
    20 Nov: no value (pace 21,065)
  The last value was measured on Sat 14 Nov 2026; none has arrived since.

WHERE TO LOOK
"""

# The last value, 18,400 on 14 November, was 1% behind: no miss, so no "off track since".
INTRO = (
    "We can't trust the Branded search clicks number right now. The latest value was "
    "measured on Sat 14 Nov 2026, 6 days ago; this KPI refreshes daily, so anything older "
    "than 2 days counts as an outage. Under our Standard KPI escalation policy a data outage "
    "is a tier 2 matter (Cross-functional check-in). Please get the number back, or agree "
    "on a stand-in source, by Mon 23 Nov 2026, 09:00 CET.\n\nTHE PROBLEM\n"
)

# Behind by more than the policy's lowest tier (5%) from 30 October to the last value.
BEHIND_CSV = """\
kpi,period,value,as_of
branded-search-clicks,2026-Q4,9064,2026-10-23
branded-search-clicks,2026-Q4,10000,2026-10-30
branded-search-clicks,2026-Q4,12000,2026-11-06
branded-search-clicks,2026-Q4,14000,2026-11-14
"""
ONE_BEHIND_CSV = "kpi,period,value,as_of\nbranded-search-clicks,2026-Q4,14000,2026-11-14\n"


def _outage(run: Run, out: Path, root: Path, *args: str) -> tuple[str, str]:
    result = run("escalate", str(root), "--as-of", AS_OF, "--out", str(out), *args)
    assert (result.code, result.err) == (0, "")
    return parts(read_eml(out / BRANDED))


@pytest.fixture(scope="module")
def from_store(pulled: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The escalation emails of the pulled copy, from its store (no --actuals)."""
    out = tmp_path_factory.mktemp("outbox")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("KPICTL_STORE", raising=False)
        assert main(["escalate", str(pulled), "--as-of", AS_OF, "--out", str(out)]) == 0
    return out


def test_the_text_part_shows_the_values_up_to_the_last_and_the_pace(from_store: Path) -> None:
    text, _ = parts(read_eml(from_store / BRANDED))
    assert CHART_TEXT in text
    assert INTRO in text
    assert "It was off track" not in text and "off track since" not in text
    assert_golden("email/outage-history.txt", text)


def test_the_html_part_draws_the_bars_and_where_the_data_stopped(from_store: Path) -> None:
    _, html = parts(read_eml(from_store / BRANDED))
    assert_golden("email/outage-history.html", html)
    assert (
        '<h2 style="margin:28px 0 8px;font-size:13px;letter-spacing:0.06em;'
        'text-transform:uppercase;color:#374151;">Before the data stopped</h2>\n'
        '<table role="presentation" cellpadding="0" cellspacing="0" width="100%" '
        'style="border-collapse:collapse;width:100%;font-size:13px;margin:4px 0 0;" '
        'aria-label="Branded search clicks: the last 8 values against the pace, then no '
        'value on 20 Nov">\n'
    ) in html
    # Bars are shares of today's pace, 21,065, the largest number shown: 18,400 is 87%,
    # 9 October's 2,822 is 13% and red (24% behind, past the 5% of the lowest tier).
    assert (
        '<td width="87%" height="10" bgcolor="#2563eb" style="width:87%;height:10px;'
        'background:#2563eb;font-size:0;line-height:0;">&nbsp;</td>'
    ) in html
    assert '<td width="13%" height="10" bgcolor="#dc2626"' in html
    # 2 October's value is 0: no value cell, only the empty rest of the row.
    assert html.count('height="10" bgcolor=') == 7
    # Today: the words, an empty value row (no bar: an empty bar would read as zero)
    # and the pace at full width.
    assert (
        '<td style="padding:4px 10px 4px 0;white-space:nowrap;color:#6b7280;'
        'vertical-align:bottom;width:52px;">20 Nov</td>\n'
        '<td width="100%" style="padding:4px 0;vertical-align:bottom;width:100%;">\n'
        '<div style="font-size:12px;line-height:1.3;margin:0 0 2px;"><strong>no value'
        '</strong> <span style="color:#6b7280;">· pace 21,065</span></div>\n'
        '<table role="presentation" cellpadding="0" cellspacing="0" width="100%" '
        'style="border-collapse:collapse;width:100%;"><tr>\n'
        '<td width="100%" height="10" style="width:100%;height:10px;font-size:0;'
        'line-height:0;">&nbsp;</td></tr></table>\n'
        '<table role="presentation" cellpadding="0" cellspacing="0" width="100%" '
        'style="border-collapse:collapse;width:100%;margin-top:2px;"><tr>\n'
        '<td width="100%" height="3" bgcolor="#9ca3af" style="width:100%;height:3px;'
        'background:#9ca3af;font-size:0;line-height:0;">&nbsp;</td></tr></table>\n'
        "</td>\n"
        "</tr>\n"
        "</table>\n"
    ) in html
    assert (
        "the thin grey bar under it is the pace it was measured against. 20 Nov has no "
        "value: only the pace it should have reached.</p>\n"
        '<p style="margin:8px 0 0;">The last value was measured on <strong>Sat 14 Nov 2026'
        "</strong>; none has arrived since.</p>\n"
    ) in html
    assert not re.search(r"<(svg|script|img|object|iframe|link)\b", html, re.IGNORECASE)
    assert "url(" not in html and "src=" not in html


@pytest.mark.parametrize(
    ("csv", "text_line", "html_line"),
    [
        pytest.param(
            BEHIND_CSV,
            "It was off track from Fri 30 Oct 2026 until its last value on Sat 14 Nov 2026 "
            "(15 days).\n",
            '<p style="margin:0 0 16px;">It was off track from <strong>Fri 30 Oct 2026</strong> '
            "until its last value on <strong>Sat 14 Nov 2026</strong> (15 days).</p>\n",
            id="behind-from-30-october",
        ),
        pytest.param(
            ONE_BEHIND_CSV,
            "It was off track at its last value, on Sat 14 Nov 2026, its only value this period.\n",
            '<p style="margin:0 0 16px;">It was off track at its last value, on '
            "<strong>Sat 14 Nov 2026</strong>, its only value this period.</p>\n",
            id="one-value-behind",
        ),
    ],
)
def test_off_track_before_the_outage_says_since_when(
    run: Run, tmp_path: Path, csv: str, text_line: str, html_line: str
) -> None:
    actuals = tmp_path / "actuals.csv"
    actuals.write_text(csv, encoding="utf-8")
    text, html = _outage(run, tmp_path / "out", EXAMPLE, "-a", str(actuals))
    # Right after the opening paragraph, before the facts.
    assert f"09:00 CET.\n\n{text_line}\nTHE PROBLEM\n" in text
    assert f"<strong>Mon 23 Nov 2026, 09:00 CET</strong>.</p>\n\n{html_line}" in html


def test_the_behind_history_marks_each_miss(run: Run, tmp_path: Path) -> None:
    actuals = tmp_path / "actuals.csv"
    actuals.write_text(BEHIND_CSV, encoding="utf-8")
    text, html = _outage(run, tmp_path / "out", EXAMPLE, "-a", str(actuals))
    assert (
        "BEFORE THE DATA STOPPED\n"
        "  Against the pace, last 4 values (23 Oct to 14 Nov): █▃▂▁\n"
        "    23 Oct: 9,064 of 9,500 (4.6% behind)\n"
        "    30 Oct: 10,000 of 12,391 (19% behind), off track\n"
        "    6 Nov: 12,000 of 15,283 (21% behind), off track\n"
        "    14 Nov: 14,000 of 18,587 (25% behind), off track\n"
        "    20 Nov: no value (pace 21,065)\n"
        "  The last value was measured on Sat 14 Nov 2026; none has arrived since.\n"
    ) in text
    assert html.count('height="10" bgcolor="#dc2626"') == 3
    assert html.count('height="10" bgcolor="#2563eb"') == 1


def test_an_open_miss_and_since_when_make_one_paragraph(tmp_path: Path) -> None:
    # What `escalate` with a store adds when a miss is still open as the data stops.
    from kpictl.emails.outbox import load_actuals, load_inputs, mailer_for, scorecard
    from kpictl.emails.story import Story
    from kpictl.numbers.history import histories

    actuals_file = tmp_path / "actuals.csv"
    actuals_file.write_text(BEHIND_CSV, encoding="utf-8")
    inputs = load_inputs(EXAMPLE, date.fromisoformat(AS_OF))
    actuals = load_actuals(inputs.registry, str(actuals_file), inputs.moment.date()).actuals
    statuses = scorecard(inputs, actuals)
    story = Story(last_deviation=19.3, open_tier=1)
    emails = mailer_for(inputs).escalations(
        statuses, histories(statuses, actuals), {"branded-search-clicks": story}
    )
    outage = next(e for e in emails if e.key == "branded-search-clicks")
    assert (
        "09:00 CET.\n\nBefore the data went away it was 19% behind where it should have been: "
        "that miss is still open at tier 1. It was off track from Fri 30 Oct 2026 until its "
        "last value on Sat 14 Nov 2026 (15 days).\n\nTHE PROBLEM\n"
    ) in outage.text
    assert (
        '<p style="margin:0 0 16px;">Before the data went away it was <strong>19%</strong> '
        "behind where it should have been: that miss is still open at tier 1. It was off "
        "track from <strong>Fri 30 Oct 2026</strong> until its last value on <strong>Sat 14 "
        "Nov 2026</strong> (15 days).</p>\n"
    ) in outage.html


def _no_chart(text: str, html: str) -> None:
    assert "BEFORE THE DATA STOPPED" not in text and "no value (pace" not in text
    assert "Before the data stopped" not in html and "aria-label" not in html
    # "None of this KPI's sources has a fallback" is a sentence; any other None is a bug.
    for part in (text, html):
        assert "None" not in part.replace("None of this KPI's sources", "")
    assert "none has arrived since" not in text


def test_one_value_in_a_csv_reads_well_without_a_chart(run: Run, tmp_path: Path) -> None:
    actuals = EXAMPLE / "actuals" / "2026-11-20.csv"  # 18,400 on 14 November, no more
    text, html = _outage(run, tmp_path / "out", EXAMPLE, "-a", str(actuals))
    _no_chart(text, html)
    assert INTRO in text
    assert (
        "  Last value:      18,400, measured Sat 14 Nov 2026 (6 days old; the limit is 2 days)\n"
        "  Full target:     38,000 for Q4 2026 (Thu 1 Oct 2026 to Thu 31 Dec 2026)\n"
        "  Expected by now: 21,065\n"
        "  Status:          the number cannot be trusted, so nobody can say whether Q4 2026 "
        "is on track\n"
        "\n"
        "WHERE TO LOOK\n"
    ) in text


def test_no_history_in_the_store_reads_well_without_a_chart(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A store that holds only MQLs: branded search clicks has no value this quarter.
    root = tmp_path / "registry"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".kpictl"))
    monkeypatch.delenv("KPICTL_STORE", raising=False)
    assert run("pull", str(root), "--as-of", AS_OF, "--kpi", "mql").code == 0
    text, html = _outage(run, tmp_path / "out", root)
    _no_chart(text, html)
    assert (
        "We can't trust the Branded search clicks number right now. There is no value for "
        "Q4 2026 at all in the actuals we received. Under our Standard KPI escalation policy"
    ) in text
    assert "  Last value:      none for Q4 2026\n  Full target:" in text
    assert '<td style="padding:4px 0;vertical-align:top;">none for Q4 2026</td></tr>\n' in html


@needs_chromium
def test_the_outage_chart_renders_in_chromium(
    from_store: Path, browser: Browser, shots: Path
) -> None:
    page = shots / "outage.html"
    page.write_text(parts(read_eml(from_store / BRANDED))[1], encoding="utf-8")
    browser.resize(390, 844, mobile=True)
    browser.open(page)
    phone = browser.screenshot(shots / "outage.phone.png", full_page=True)
    assert png_size(phone)[0] == 390
    assert browser.evaluate("document.documentElement.scrollWidth") <= 390
    browser.resize(700, 900)
    browser.open(page)
    browser.screenshot(shots / "outage.png", full_page=True)
    # Per row: the day, the value bar's and the pace bar's width in percent of the row
    # (null: no bar) and the value bar's colour.
    rows = browser.evaluate(
        "[...document.querySelectorAll('table[aria-label] > tbody > tr')].map(row => {"
        " const box = row.children[1].getBoundingClientRect().width;"
        " const [value, pace] = row.children[1].querySelectorAll(':scope > table');"
        " const share = t => { const bar = t.querySelector('td[bgcolor]');"
        "   return bar ? Math.round(bar.getBoundingClientRect().width / box * 100) : null; };"
        " const bar = value.querySelector('td[bgcolor]');"
        " return [row.children[0].textContent, share(value), share(pace),"
        "   bar ? getComputedStyle(bar).backgroundColor : null]; })"
    )
    blue, red = "rgb(37, 99, 235)", "rgb(220, 38, 38)"
    expected = [
        ("2 Oct", None, 4, None),
        ("9 Oct", 13, 18, red),
        ("16 Oct", 29, 31, red),
        ("23 Oct", 43, 45, blue),
        ("30 Oct", 58, 59, blue),
        ("6 Nov", 71, 73, blue),
        ("13 Nov", 85, 86, blue),
        ("14 Nov", 87, 88, blue),
        ("20 Nov", None, 100, None),
    ]
    assert [(r[0], r[1] is None, r[3]) for r in rows] == [
        (day, value is None, colour) for day, value, _, colour in expected
    ]
    # Drawn within a percent of the width asked for (the browser rounds to pixels).
    for got, want in zip(rows, expected, strict=True):
        assert got[1] == want[1] or abs(got[1] - want[1]) <= 1, got
        assert abs(got[2] - want[2]) <= 1, got
    assert browser.evaluate("document.documentElement.scrollWidth") <= 700

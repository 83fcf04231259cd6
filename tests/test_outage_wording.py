"""The outage email says what the values show: off track up to the last value, never
through the days without one (the dark period). The escalation emails, whose latest
value is current, keep counting to today."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import AS_OF, EXAMPLE, Run
from tests.test_emails import parts, read_eml

BRANDED = "branded-search-clicks.eml"

# Every value of the quarter behind by more than the lowest tier (5%): the run starts at
# the first one, so it was never on track this quarter.
FROM_THE_FIRST_CSV = """\
kpi,period,value,as_of
branded-search-clicks,2026-Q4,10000,2026-10-30
branded-search-clicks,2026-Q4,14000,2026-11-14
"""


def _emails(run: Run, tmp_path: Path, csv: str) -> Path:
    actuals = tmp_path / "actuals.csv"
    actuals.write_text(csv, encoding="utf-8")
    out = tmp_path / "out"
    result = run("escalate", str(EXAMPLE), "--as-of", AS_OF, "--out", str(out), "-a", str(actuals))
    assert (result.code, result.err) == (0, "")
    return out


def test_off_track_from_the_first_value_counts_to_the_last_value(run: Run, tmp_path: Path) -> None:
    text, html = parts(read_eml(_emails(run, tmp_path, FROM_THE_FIRST_CSV) / BRANDED))
    assert (
        "09:00 CET.\n\nIt was off track from Fri 30 Oct 2026, its first value this period, "
        "until its last value on Sat 14 Nov 2026 (15 days).\n\nTHE PROBLEM\n"
    ) in text
    assert (
        '<p style="margin:0 0 16px;">It was off track from <strong>Fri 30 Oct 2026</strong>, '
        "its first value this period, until its last value on <strong>Sat 14 Nov 2026"
        "</strong> (15 days).</p>\n"
    ) in html
    # Twenty-one days would count the six since 14 November, which have no value.
    assert "21 days" not in text and "21 days" not in html

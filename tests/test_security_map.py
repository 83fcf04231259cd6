"""The HTML map's data, checked without a browser (tests/test_map_browser.py drives the page).

A person looks a KPI up by whoever fixes its data; every label has a fallback that
keeps it in its box when the page's script does not run. (Hovering a box traces the
whole chain: the page's script walks the edges, see tests/test_security_map2.py.)
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import AS_OF, EXAMPLE, Run


def example_page(run: Run, tmp_path: Path) -> str:
    out = tmp_path / "map.html"
    assert run("map", str(EXAMPLE), "-f", "html", "-o", str(out), "--as-of", AS_OF).code == 0
    return out.read_text(encoding="utf-8")


def test_a_source_owner_is_a_search_word(run: Run, tmp_path: Path) -> None:
    page = example_page(run, tmp_path)
    rows = dict(re.findall(r'data-kpi="([a-z0-9-]+)"\s.*?data-search="([^"]*)"', page, re.S))
    assert len(rows) == 11
    # Hannah Schulz owns the warehouse models and no KPI.
    assert sorted(kpi for kpi, words in rows.items() if "hannah schulz" in words) == [
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
    assert rows["nrr"] == (
        "nrr net revenue retention retention lagging business monthly grace-liu grace liu "
        "customer success felix-braun felix braun finance and fp&amp;a revenue-critical kpi "
        "escalation wh-arr-movements arr movements model (analytics.marts.fct_arr_movements) "
        "snowflake hannah-schulz hannah schulz billing-subscriptions subscriptions, invoices "
        "and mrr changes chargebee salesforce-crm salesforce leads, accounts and "
        "opportunities salesforce omar-haddad omar haddad"
    )


def test_labels_are_clipped_to_their_box_without_script(run: Run, tmp_path: Path) -> None:
    page = example_page(run, tmp_path)
    assert (
        '<clipPath id="fit" clipPathUnits="userSpaceOnUse">'
        '<rect x="0" y="0" width="254" height="40"/></clipPath>'
    ) in page
    labels = re.findall(r'<text class="(?:label|sub)" x="10" y="\d+"([^>]*)>', page)
    assert len(labels) == 2 * page.count('<g class="node ')
    assert set(labels) == {' clip-path="url(#fit)"'}


def test_the_sort_script_only_takes_the_kpi_tables_own_headings(run: Run, tmp_path: Path) -> None:
    # Each KPI's escalation ladder is a table with a <thead> inside the KPI table: the
    # heading buttons must not be looked up in it (the script stopped at the first one).
    page = example_page(run, tmp_path)
    assert 'table.querySelectorAll(":scope > thead > tr > th")' in page
    assert 'querySelectorAll("thead th")' not in page

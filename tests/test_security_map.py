"""The HTML map's data, checked without a browser (tests/test_map_browser.py drives the page).

A person looks a KPI up by whoever fixes its data; hovering a box traces the whole
chain, not only its neighbours; every label has a fallback that keeps it in its box
when the page's script does not run.
"""

from __future__ import annotations

import re
from pathlib import Path

from kpictl.check import check
from kpictl.views.accountability import build_map
from kpictl.views.graph import draw
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


def test_a_hover_traces_everything_upstream_and_downstream() -> None:
    drawing = draw(build_map(check(EXAMPLE).registry))
    nodes = {item.node.slug: item for item in drawing.nodes}
    nrr = nodes["kpi-nrr"]
    assert nrr.up == (
        "source-billing-subscriptions",
        "source-salesforce-crm",
        "source-wh-arr-movements",
    )
    assert nrr.down == ("person-grace-liu", "person-felix-braun")
    # A capturing system reaches, through the model built on it, every KPI and owner.
    billing = nodes["source-billing-subscriptions"]
    assert billing.up == ()
    assert billing.down == (
        "source-wh-arr-movements",
        "kpi-nrr",
        "person-grace-liu",
        "person-felix-braun",
    )
    assert nodes["person-felix-braun"].down == ()
    assert nrr.related == nrr.up + nrr.down


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

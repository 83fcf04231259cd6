"""A filtered map (`--kpi`, `--owner`) links only to the KPIs it shows and names the others,
in every format."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest

from tests.conftest import AS_OF, EXAMPLE, Run


def map_of(run: Run, output_format: str, *filters: str) -> str:
    result = run("map", str(EXAMPLE), "--format", output_format, "--as-of", AS_OF, *filters)
    assert (result.code, result.err) == (0, "")
    return result.out


def anchors(page: str) -> set[str]:
    """The KPIs a page links to (`#kpi-…`), each checked to have its section on the page."""
    links = re.findall(r'\(#kpi-([a-z0-9-]+)\)|href="#kpi-([a-z0-9-]+)"', page)
    linked = {a or b for a, b in links}
    sections = set(re.findall(r'id="kpi-([a-z0-9-]+)"', page))
    assert linked <= sections, f"dead links to {sorted(linked - sections)}"
    return linked


def test_a_filtered_text_map_names_the_kpis_it_leaves_out(run: Run) -> None:
    lines = map_of(run, "text", "--kpi", "mql").splitlines()
    assert "  Drives         sql [not on this map]" in lines
    assert "  Driven by      website-sessions [not on this map]" in lines


def test_a_filtered_terminal_map_flags_the_kpis_it_leaves_out_as_the_text_map_does() -> None:
    from rich.console import Console

    from kpictl.check.check import check
    from kpictl.views.accountability import build_map
    from kpictl.views.terminal import print_map

    console = Console(record=True, width=100, force_terminal=True)
    view = build_map(check(EXAMPLE).registry, kpi_ids=["mql"], as_of=date.fromisoformat(AS_OF))
    print_map(view, console)
    lines = [line for line in console.export_text().splitlines() if "Drive" in line]
    # Brackets, as the text map marks its flags; printed as written, not read as markup.
    assert lines == [
        "├── Drives   sql [not on this map]",
        "├── Driven by website-sessions [not on this map]",
    ]


def test_a_filtered_markdown_map_links_only_to_its_own_sections(run: Run) -> None:
    page = map_of(run, "markdown", "--kpi", "mql")
    lines = page.splitlines()
    assert "- **Drives:** `sql` (not on this map)" in lines
    assert "- **Driven by:** `website-sessions` (not on this map)" in lines
    assert anchors(page) == {"mql"}


def test_a_filtered_html_map_links_only_to_its_own_sections(run: Run) -> None:
    page = map_of(run, "html", "--kpi", "mql")
    lines = [line.strip() for line in page.splitlines()]
    assert "<li>Driven by Website sessions <small>not on this map</small></li>" in lines
    assert "<li>Drives Sales Qualified Leads <small>not on this map</small></li>" in lines
    assert anchors(page) == {"mql"}
    # Two KPIs of the tree on one map: the link between them stays a link.
    both = map_of(run, "html", "--kpi", "mql", "--kpi", "sql")
    lines = [line.strip() for line in both.splitlines()]
    assert '<li>Drives <a href="#kpi-sql">Sales Qualified Leads</a></li>' in lines
    assert (
        '<li>Driven by <a href="#kpi-mql">Marketing Qualified Leads</a>, MQL to SQL conversion '
        "rate <small>not on this map</small></li>"
    ) in lines
    assert anchors(both) == {"mql", "sql"}


@pytest.mark.parametrize("output_format", ["markdown", "html"])
def test_an_owner_filtered_map_has_no_dead_kpi_link(run: Run, output_format: str) -> None:
    page = map_of(run, output_format, "--owner", "aisha-okafor")
    assert anchors(page) == {"cost-per-opportunity", "mql", "sql"}  # hers, primary or backup


def test_filtered_graphs_draw_drives_edges_only_between_kpis_they_show(run: Run) -> None:
    mermaid = map_of(run, "mermaid", "--kpi", "mql")
    assert [line for line in mermaid.splitlines() if "drives" in line] == []
    dot = map_of(run, "dot", "--kpi", "mql")
    assert [line for line in dot.splitlines() if "drives" in line] == []
    mermaid = map_of(run, "mermaid", "--kpi", "mql", "--kpi", "sql")
    assert [line for line in mermaid.splitlines() if "drives" in line] == [
        "  kpi_mql ==>|drives| kpi_sql"
    ]
    dot = map_of(run, "dot", "--kpi", "mql", "--kpi", "sql")
    assert [line.split(" [")[0] for line in dot.splitlines() if "drives" in line] == [
        '  "kpi:mql" -> "kpi:sql"'
    ]


def test_a_filtered_json_map_keeps_the_ids_as_written(run: Run) -> None:
    # JSON carries ids, not links (docs/map-json.md): a consumer sees `kpis` to tell.
    data = json.loads(map_of(run, "json", "--kpi", "mql"))
    [kpi] = data["kpis"]
    assert (kpi["drives"], kpi["driven_by"]) == (["sql"], ["website-sessions"])

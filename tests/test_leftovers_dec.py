"""Small correctness gaps closed in December: filtered maps link only to what they show,
and `who` lists experiments. (Readers and the store: test_store_read_only; ended periods:
test_period_end.)"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE, Run

AS_OF = "2026-11-20"

# --- filtered maps link only to what they show ------------------------------------------


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
    assert "  Drives         sql (not on this map)" in lines
    assert "  Driven by      website-sessions (not on this map)" in lines


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


# --- `who` lists the experiments a person owns ------------------------------------------

EXPERIMENT = "webinar-next-day-followup"
EXPERIMENT_NAME = "Next-day SDR follow-up for live webinar questions"


def who(run: Run, subject: str, output_format: str, root: Path = EXAMPLE) -> str:
    result = run("who", subject, str(root), "-f", output_format, "--as-of", AS_OF)
    assert (result.code, result.err) == (0, "")
    return result.out


def section_of(text: str, start: str, end: str) -> list[str]:
    """The lines of `text` from the line `start` up to the line `end` (not included)."""
    lines = text.splitlines()
    begin = lines.index(start)
    return lines[begin : lines.index(end, begin)]


def test_who_text_lists_the_experiments_a_person_owns(run: Run) -> None:
    out = who(run, "rachel-adeyemi", "text")
    assert section_of(out, "Experiments owned (1)", "Glossary terms owned (1)") == [
        "Experiments owned (1)",
        f"  {EXPERIMENT}: {EXPERIMENT_NAME} (concluded, adopted); moves mql-to-sql-rate",
        "",
    ]
    # Someone who owns none says so, as the other sections do.
    out = who(run, "aisha-okafor", "text")
    assert section_of(out, "Experiments owned (0)", "Glossary terms owned (0)") == [
        "Experiments owned (0)",
        "  none",
        "",
    ]


def test_who_markdown_lists_the_experiments_of_a_team_member(run: Run) -> None:
    out = who(run, "sales-development", "markdown")
    assert section_of(out, "## Experiments", "## Glossary terms") == [
        "## Experiments",
        "",
        f"- `{EXPERIMENT}` {EXPERIMENT_NAME}: concluded, adopted; moves `mql-to-sql-rate` "
        "(Rachel Adeyemi)",
        "",
    ]


def test_who_json_lists_the_experiments_and_their_owner(run: Run) -> None:
    data = json.loads(who(run, "rachel-adeyemi", "json"))
    assert data["experiments"] == [
        {
            "experiment": EXPERIMENT,
            "status": "concluded",
            "kpi": "mql-to-sql-rate",
            "decision": "adopt",
            "person": "rachel-adeyemi",
            "via_team": None,
        }
    ]
    assert "rachel-adeyemi" in data["people"]


def test_who_lists_experiments_in_life_cycle_order_with_names_escaped(
    run: Run, tmp_path: Path
) -> None:
    root = tmp_path / "registry"
    shutil.copytree(EXAMPLE, root)
    (root / "experiments" / "more.yaml").write_text(
        "kind: experiment\n"
        "id: subject-line-test\n"
        "name: 'Subject *lines* <b>x</b> | [a](b) `c`'\n"
        "status: running\n"
        "hypothesis: Shorter subject lines are opened more.\n"
        "kpi: mql\n"
        "owner: rachel-adeyemi\n"
        "control: The usual subject lines\n"
        "decision_rule: Adopt if opens rise 2 points after 5,000 sends per arm.\n"
        "timeline: {start: 2026-11-01}\n",
        encoding="utf-8",
    )
    text = who(run, "rachel-adeyemi", "text", root)
    assert section_of(text, "Experiments owned (2)", "Glossary terms owned (1)")[1:3] == [
        "  subject-line-test: Subject *lines* <b>x</b> | [a](b) `c` (running); moves mql",
        f"  {EXPERIMENT}: {EXPERIMENT_NAME} (concluded, adopted); moves mql-to-sql-rate",
    ]
    markdown = who(run, "rachel-adeyemi", "markdown", root)
    assert section_of(markdown, "## Experiments", "## Glossary terms")[2] == (
        r"- `subject-line-test` Subject \*lines\* &lt;b&gt;x&lt;/b&gt; \| \[a\](b) \`c\`: "
        "running; moves `mql`"
    )

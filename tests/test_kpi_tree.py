"""The KPI tree (`drives`): rules K001 and R002, the map's tree in every format, and the
escalation email's "what else this puts at risk".

Rule cases are yamllint style: BASE (the KPI mql) plus KPIs sql and won, one change
per case, the (code, file, line) expected.
"""

# ruff: noqa: E501  (case tables: one case per line)

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kpictl.registry.lineage import breadth_first, graph_cycles
from tests.conftest import AS_OF, EXAMPLE
from tests.helpers import SECOND_KPI, Patch, Run, findings, make, messages

# `drives` goes on line 23 of kpi.yaml, line 22 of sql.yaml and won.yaml (no definition).
SQL: Patch = ("sql.yaml", None, SECOND_KPI)
WON: Patch = ("won.yaml", None, SECOND_KPI.replace("id: sql", "id: won"))


def drives(name: str, ids: str) -> Patch:
    return (name, "escalation: standard\n", f"escalation: standard\ndrives: {ids}\n")


# fmt: off
RULE_CASES = [
    pytest.param([SQL, WON, drives("kpi.yaml", "[sql]"), drives("sql.yaml", "[won]")], [], id="chain-ok"),
    pytest.param([SQL, WON, drives("kpi.yaml", "[sql, won]"), drives("sql.yaml", "[won]")], [], id="diamond-ok"),
    pytest.param([SQL, drives("kpi.yaml", "sql")], [], id="single-id-ok"),
    # R002: drives names KPIs only, with did-you-mean
    pytest.param([SQL, drives("kpi.yaml", "[sqll]")], [("R002", "kpi.yaml", 23)], id="R002-unknown"),
    pytest.param([drives("kpi.yaml", "[crm]")], [("R002", "kpi.yaml", 23)], id="R002-wrong-kind"),
    pytest.param([SQL, drives("kpi.yaml", "\n  - sql\n  - nope")], [("R002", "kpi.yaml", 25)], id="R002-second-item"),
    # K001 kpi-tree-cycle: once per loop, at the link that closes it (from the smallest id)
    pytest.param([drives("kpi.yaml", "[mql]")], [("K001", "kpi.yaml", 23)], id="K001-self"),
    pytest.param([SQL, drives("kpi.yaml", "[sql]"), drives("sql.yaml", "[mql]")], [("K001", "sql.yaml", 22)], id="K001-two"),
    pytest.param([SQL, WON, drives("kpi.yaml", "[sql]"), drives("sql.yaml", "[won]"), drives("won.yaml", "[mql]")], [("K001", "won.yaml", 22)], id="K001-three"),
    pytest.param([SQL, WON, drives("kpi.yaml", "[sql]"), drives("sql.yaml", "\n  - mql\n  - won"), drives("won.yaml", "[sql]")], [("K001", "sql.yaml", 23), ("K001", "won.yaml", 22)], id="K001-two-loops"),
    pytest.param([SQL, drives("kpi.yaml", "[sql]"), drives("sql.yaml", "[mql]  # kpictl: ignore[K001]")], [], id="K001-suppressed"),
]
# fmt: on


@pytest.mark.parametrize(("patches", "expected"), RULE_CASES)
def test_rule(tmp_path: Path, patches: list[Patch], expected: list[tuple[str, str, int]]) -> None:
    make(tmp_path, *patches)
    assert findings(tmp_path) == expected


def test_k001_messages(tmp_path: Path) -> None:
    make(tmp_path / "self", drives("kpi.yaml", "[mql]"))
    assert messages(tmp_path / "self", "K001") == [
        "'mql' drives itself: a KPI feeds the KPIs after it in the tree; remove it from its "
        "own drives"
    ]
    make(
        tmp_path / "three",
        SQL,
        WON,
        drives("kpi.yaml", "[sql]"),
        drives("sql.yaml", "[won]"),
        drives("won.yaml", "[mql]"),
    )
    assert messages(tmp_path / "three", "K001") == [
        "KPIs form a cycle through drives: mql → sql → won → mql; the tree runs from "
        "activity to revenue, so one of these links is backwards (this one, 'won' drives "
        "'mql', closes the loop)"
    ]


def test_r002_message(tmp_path: Path) -> None:
    make(tmp_path, SQL, drives("kpi.yaml", "[sqll]"))
    assert messages(tmp_path, "R002") == [
        "drives[0] names 'sqll', which is not a KPI; did you mean 'sql'?"
    ]


def test_long_chain_stays_linear() -> None:
    # 50,000 KPIs in one chain closing on itself: one cycle, found without recursion.
    n = 50_000
    links = {f"k{i}": [f"k{i + 1}"] for i in range(n)}
    links[f"k{n - 1}"] = ["k0"]
    (cycle,) = graph_cycles(links)
    assert (len(cycle.ids), cycle.ids[0], cycle.ids[-1], cycle.closing) == (n, "k0", "k49999", 0)
    reached = breadth_first(lambda kpi: links.get(kpi), ["k0"], max_depth=5)
    assert [(r.id, r.depth, r.via) for r in reached] == [
        ("k0", 0, None),
        ("k1", 1, "k0"),
        ("k2", 2, "k1"),
        ("k3", 3, "k2"),
        ("k4", 4, "k3"),
        ("k5", 5, "k4"),
    ]


# --------------------------------------------------------------------------------------
# The map shows the tree
# --------------------------------------------------------------------------------------

SQLS: Patch = ("sql.yaml", None, SECOND_KPI.replace("name: MQLs", "name: SQLs"))
WINS: Patch = (
    "won.yaml",
    None,
    SECOND_KPI.replace("id: sql", "id: won").replace("name: MQLs", "name: Wins"),
)
TREE = [SQLS, WINS, drives("kpi.yaml", "[sql, won]"), drives("sql.yaml", "[won]")]


def section(text: str, start: str, end: str) -> str:
    """`text` from `start` up to the next `end`."""
    begin = text.index(start)
    return text[begin : text.index(end, begin)]


def test_map_text_tree(run: Run, tmp_path: Path) -> None:
    result = run("map", str(make(tmp_path, *TREE)), "--as-of", AS_OF)
    assert section(result.out, "== KPI tree", "== Accountability health") == (
        "== KPI tree: what drives what, from awareness to revenue\n"
        "\n"
        "mql: MQLs [consideration]\n"
        "  → sql: SQLs [consideration]\n"
        "    → won: Wins [consideration]\n"
        "  → won: Wins [consideration]\n"
        "\n"
    )
    assert "  Drives         sql, won\n  Data sources\n" in result.out
    assert "  Drives         won\n  Driven by      mql\n" in result.out
    assert "  Driven by      mql, sql\n" in result.out


def test_map_text_tree_with_a_cycle(run: Run, tmp_path: Path) -> None:
    root = make(tmp_path, SQLS, drives("kpi.yaml", "[sql]"), drives("sql.yaml", "[mql]"))
    result = run("map", str(root), "--as-of", AS_OF)
    assert (result.code, result.err) == (0, "")
    assert section(result.out, "== KPI tree", "== Accountability health") == (
        "== KPI tree: what drives what, from awareness to revenue\n"
        "\n"
        "mql: MQLs [consideration]\n"
        "  → sql: SQLs [consideration]\n"
        "    → mql: MQLs [consideration] (cycle: already above)\n"
        "\n"
    )


def test_map_markdown_tree(run: Run, tmp_path: Path) -> None:
    result = run("map", str(make(tmp_path, *TREE)), "-f", "markdown", "--as-of", AS_OF)
    assert section(result.out, "## KPI tree", "## Accountability health") == (
        "## KPI tree\n"
        "\n"
        "What drives what, from awareness to revenue: each KPI feeds the ones indented under it.\n"
        "\n"
        "- [MQLs](#kpi-mql) (`mql`, consideration)\n"
        "  - [SQLs](#kpi-sql) (`sql`, consideration)\n"
        "    - [Wins](#kpi-won) (`won`, consideration)\n"
        "  - [Wins](#kpi-won) (`won`, consideration)\n"
        "\n"
    )
    assert "- **Drives:** [`sql`](#kpi-sql), [`won`](#kpi-won)\n" in result.out
    assert "- **Driven by:** [`mql`](#kpi-mql), [`sql`](#kpi-sql)\n" in result.out


def test_map_mermaid_and_dot_draw_drives(run: Run, tmp_path: Path) -> None:
    root = make(tmp_path, *TREE)
    mermaid = run("map", str(root), "-f", "mermaid").out
    assert [line for line in mermaid.splitlines() if "drives" in line] == [
        "  kpi_mql ==>|drives| kpi_sql",
        "  kpi_mql ==>|drives| kpi_won",
        "  kpi_sql ==>|drives| kpi_won",
    ]
    dot = run("map", str(root), "-f", "dot").out
    style = '[label="drives", fontsize=9, penwidth=2, color="#f9a825", constraint=false];'
    assert [line for line in dot.splitlines() if "drives" in line] == [
        f'  "kpi:mql" -> "kpi:sql" {style}',
        f'  "kpi:mql" -> "kpi:won" {style}',
        f'  "kpi:sql" -> "kpi:won" {style}',
    ]


def test_map_html_and_json_tree(run: Run, tmp_path: Path) -> None:
    root = make(tmp_path, *TREE)
    html = run("map", str(root), "-f", "html", "--as-of", AS_OF).out
    assert section(html, '<ul class="tree kpi-tree">', "  </section>") == (
        '<ul class="tree kpi-tree">\n'
        '      <li><a href="#kpi-mql">MQLs</a> <code>mql</code> <span class="stage stage-consideration">Consideration</span>\n'
        "      <ul>\n"
        '      <li><a href="#kpi-sql">SQLs</a> <code>sql</code> <span class="stage stage-consideration">Consideration</span>\n'
        "      <ul>\n"
        '      <li><a href="#kpi-won">Wins</a> <code>won</code> <span class="stage stage-consideration">Consideration</span>\n'
        "      </li>\n"
        "      </ul></li>\n"
        '      <li><a href="#kpi-won">Wins</a> <code>won</code> <span class="stage stage-consideration">Consideration</span>\n'
        "      </li>\n"
        "      </ul></li>\n"
        "    </ul>\n"
    )
    # The lineage picture has no drives edges: it reads left to right, sources to owners.
    assert 'class="edge drives"' not in html
    data = json.loads(run("map", str(root), "-f", "json").out)
    assert [(k["id"], k["drives"], k["driven_by"]) for k in data["kpis"]] == [
        ("mql", ["sql", "won"], []),
        ("sql", ["won"], ["mql"]),
        ("won", [], ["mql", "sql"]),
    ]
    assert [(r["kpi"], r["depth"]) for r in data["kpi_tree"]["rows"]] == [
        ("mql", 0),
        ("sql", 1),
        ("won", 2),
        ("won", 1),
    ]


def test_map_filter_names_what_it_leaves_out_and_draws_only_what_is_shown(
    run: Run, tmp_path: Path
) -> None:
    result = run(
        "map", str(make(tmp_path, *TREE)), "--kpi", "sql", "--kpi", "won", "--as-of", AS_OF
    )
    # mql is not on this map: named, not linked (tests/test_map_filter_links.py, every format).
    assert "  Drives         won\n  Driven by      mql [not on this map]\n" in result.out
    assert section(result.out, "== KPI tree", "== Accountability health") == (
        "== KPI tree: what drives what, from awareness to revenue\n"
        "\n"
        "sql: SQLs [consideration]\n"
        "  → won: Wins [consideration]\n"
        "\n"
    )


def test_example_tree_runs_from_awareness_to_revenue(run: Run) -> None:
    result = run("map", str(EXAMPLE), "--as-of", AS_OF)
    assert section(result.out, "== KPI tree", "\nmql-to-sql-rate") == (
        "== KPI tree: what drives what, from awareness to revenue\n"
        "\n"
        "branded-search-clicks: Branded search clicks [awareness]\n"
        "  → website-sessions: Website sessions [awareness]\n"
        "    → mql: Marketing Qualified Leads [consideration]\n"
        "      → sql: Sales Qualified Leads [conversion]\n"
        "        → pipeline-sourced: Marketing-sourced pipeline [conversion]\n"
        "          → pipeline-coverage: Pipeline coverage [conversion]\n"
    )


# --------------------------------------------------------------------------------------
# The escalation email: what else this puts at risk
# --------------------------------------------------------------------------------------

ACTUALS = "kpi,period,value,as_of\nmql,2026-Q4,10,2026-11-20\nwon,2026-Q4,1000,2026-11-20\n"


def test_escalation_names_downstream_kpis_with_their_state(run: Run, tmp_path: Path) -> None:
    root = make(tmp_path, *TREE)
    (tmp_path / "actuals.csv").write_text(ACTUALS, encoding="utf-8")
    result = run("escalate", str(root), "-a", str(tmp_path / "actuals.csv"), "--as-of", AS_OF)
    assert result.code == 0, result.err
    assert section(result.out, "WHAT ELSE THIS PUTS AT RISK", "WHAT TIER 1") == (
        "WHAT ELSE THIS PUTS AT RISK\n"
        "  MQLs drives these KPIs in our KPI tree, so a miss here shows up there next:\n"
        "  - SQLs (sql): in a data outage: no current value\n"
        "  - Wins (won): on track\n"
        "\n"
    )


def test_escalation_downstream_is_transitive_and_bounded(run: Run, tmp_path: Path) -> None:
    # mql drives k0; k0 drives k1 .. k14: 16 KPIs downstream, 12 named.
    kpis = [
        (
            f"k{i}.yaml",
            None,
            SECOND_KPI.replace("id: sql", f"id: k{i}").replace("name: MQLs", f"name: K{i}"),
        )
        for i in range(15)
    ]
    many = ", ".join(f"k{i}" for i in range(1, 15))
    root = make(tmp_path, *kpis, drives("kpi.yaml", "[k0]"), drives("k0.yaml", f"[{many}]"))
    (tmp_path / "actuals.csv").write_text(
        "kpi,period,value,as_of\nmql,2026-Q4,10,2026-11-20\n", encoding="utf-8"
    )
    result = run("escalate", str(root), "-a", str(tmp_path / "actuals.csv"), "--as-of", AS_OF)
    assert result.code == 0, result.err
    shown = section(result.out, "WHAT ELSE THIS PUTS AT RISK", "WHAT TIER 1")
    assert shown.splitlines()[2:5] == [
        "  - K0 (k0): in a data outage: no current value",
        "    - K1 (k1), through K0: in a data outage: no current value",
        "    - K2 (k2), through K0: in a data outage: no current value",
    ]
    assert shown.endswith(
        "    - K11 (k11), through K0: in a data outage: no current value\n"
        "  ... and 3 more KPIs further down the tree.\n\n"
    )

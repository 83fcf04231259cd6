"""The KPI tree (`drives`): rules K001 and R002, the map's tree in every format, and the
escalation email's "what else this puts at risk".

Rule cases are yamllint style: BASE (the KPI mql) plus KPIs sql and won, one change
per case, the (code, file, line) expected.
"""

# ruff: noqa: E501  (case tables: one case per line)

from __future__ import annotations

from pathlib import Path

import pytest

from kpictl.registry.lineage import breadth_first, graph_cycles
from tests.helpers import SECOND_KPI, Patch, findings, make, messages

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

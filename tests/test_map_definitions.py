"""The map shows what each KPI means: its formula, its definition (the glossary term's
words) and its current target, in every format (text, markdown, html, json, terminal).

Registries are tests.helpers' BASE (one KPI, mql, defined by the glossary term mql-term
with a 2026-Q4 target of 100) with patches; the golden files of tests/test_map.py cover
the example registry.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from kpictl.check.check import check
from kpictl.views.accountability import build_map
from tests.conftest import AS_OF, Run
from tests.helpers import make

LONG_FORMULA = (
    "formula: sum(opportunities.first_year_arr_eur where type = 'new business' and "
    "source = 'marketing' and created_date in period and stage not in ('closed-lost', "
    "'disqualified')) / count(https://example.com/a-very-long-address-that-never-breaks-up-anywhere)\n"
)


def _map_text(tmp_path: Path, run: Run, *patches: tuple[str, str | None, str], **kw: str) -> str:
    root = make(tmp_path / "reg", *patches)
    result = run("map", str(root), "--as-of", kw.get("as_of", AS_OF), "-f", kw.get("fmt", "text"))
    assert result.code == 0, result.err
    return result.out


def _block(out: str) -> list[str]:
    """The lines of the KPI block between its heading line and `Primary owner`."""
    lines = out.splitlines()
    start = lines.index("mql: MQLs") + 2
    end = next(i for i, line in enumerate(lines) if line.startswith("  Primary owner"))
    return lines[start:end]


def test_text_shows_formula_definition_and_current_target(tmp_path: Path, run: Run) -> None:
    out = _map_text(
        tmp_path,
        run,
        ("glossary.yaml", "owner: ann\n", "owner: ann\nagreed_by: [marketing, demand-gen]\n"),
    )
    assert _block(out) == [
        "  Formula        count(leads)",
        "  Definition     MQL (mql-term), agreed by marketing, demand-gen",
        "                 A lead with a fit score of 60 or more.",
        "  Target         100 for Q4 2026 (2026-Q4)",
    ]


@pytest.mark.parametrize(
    ("patches", "as_of", "target_line"),
    [
        pytest.param(
            [
                (
                    "kpi.yaml",
                    "    value: 100\n",
                    "    value: 100\n  - period: 2026-11\n    value: 40\n",
                )
            ],
            AS_OF,
            "  Target         40 for November 2026 (2026-11)",
            id="a-month-over-its-quarter",
        ),
        pytest.param(
            [
                (
                    "kpi.yaml",
                    "    value: 100\n",
                    "    value: 100\n  - period: 2026\n    value: 500\n",
                )
            ],
            AS_OF,
            "  Target         100 for Q4 2026 (2026-Q4)",
            id="a-quarter-over-its-year",
        ),
        pytest.param(
            [],
            "2027-01-05",
            "  Target         none for the period holding 2027-01-05",
            id="no-target-covers-the-date",
        ),
        pytest.param(
            [
                ("kpi.yaml", "unit: count", "unit: currency\ncurrency: EUR"),
                ("kpi.yaml", "value: 100", "value: 1800000"),
            ],
            AS_OF,
            "  Target         EUR 1,800,000 for Q4 2026 (2026-Q4)",
            id="in-the-kpis-unit",
        ),
        pytest.param(
            [("kpi.yaml", "unit: count", "unit: percent"), ("kpi.yaml", "value: 100", "value: 35")],
            AS_OF,
            "  Target         35% for Q4 2026 (2026-Q4)",
            id="a-percent",
        ),
    ],
)
def test_the_current_target(
    tmp_path: Path, run: Run, patches: list[tuple[str, str, str]], as_of: str, target_line: str
) -> None:
    out = _map_text(tmp_path, run, *patches, as_of=as_of)
    assert _block(out)[-1] == target_line


def test_a_kpi_without_a_term_and_one_whose_term_is_missing(tmp_path: Path, run: Run) -> None:
    out = _map_text(tmp_path, run, ("kpi.yaml", "definition: mql-term\n", ""))
    assert _block(out)[1] == "  Definition     none: no glossary term defines it"
    root = make(tmp_path / "broken", ("kpi.yaml", "definition: mql-term", "definition: mql-trem"))
    result = run("map", str(root), "--as-of", AS_OF)
    assert _block(result.out)[1] == "  Definition     mql-trem (not in the registry)"


def test_text_wraps_long_formulas_and_definitions_at_100_columns(tmp_path: Path, run: Run) -> None:
    words = " ".join(["Contacts scored by the agreed model"] * 8)
    out = _map_text(
        tmp_path,
        run,
        ("kpi.yaml", "formula: count(leads)\n", LONG_FORMULA),
        (
            "glossary.yaml",
            "definition: A lead with a fit score of 60 or more.",
            f"definition: {words}.",
        ),
    )
    block = _block(out)
    assert block[:4] == [
        "  Formula        sum(opportunities.first_year_arr_eur where type = 'new business' and "
        "source =",
        "                 'marketing' and created_date in period and stage not in ('closed-lost',",
        "                 'disqualified')) /",
        "                 count(https://example.com/a-very-long-address-that-never-breaks-up-anywhere)",
    ]
    assert block[4] == "  Definition     MQL (mql-term)"
    assert all(len(line) <= 100 for line in block)
    assert " ".join(line.strip() for line in block[5:-1]) == f"{words}."


def test_markdown(tmp_path: Path, run: Run) -> None:
    out = _map_text(
        tmp_path,
        run,
        ("kpi.yaml", "formula: count(leads)", "formula: count(leads where tier = 'A|B' and *x*)"),
        ("glossary.yaml", "owner: ann\n", "owner: ann\nagreed_by: [marketing, sales]\n"),
        fmt="markdown",
    )
    assert (
        "- **Formula:** count(leads where tier = 'A\\|B' and \\*x\\*)\n"
        "- **Definition:** *MQL* (`mql-term`, agreed by marketing, sales): A lead with a fit "
        "score of 60 or more.\n"
        "- **Current target:** 100 for Q4 2026 (2026-Q4)\n"
        "- **Primary owner:** Ann Lee (Demand Generation)\n"
    ) in out


def test_json(tmp_path: Path, run: Run) -> None:
    data = json.loads(_map_text(tmp_path, run, fmt="json"))
    assert data["as_of"] == AS_OF
    [kpi] = data["kpis"]
    assert (kpi["formula"], kpi["term"], kpi["target"]) == (
        "count(leads)",
        {
            "id": "mql-term",
            "term": "MQL",
            "definition": "A lead with a fit score of 60 or more.",
            "agreed_by": [],
            "known": True,
        },
        {"period": "2026-Q4", "label": "Q4 2026", "value": 100, "shown": "100"},
    )
    later = json.loads(_map_text(tmp_path / "later", run, fmt="json", as_of="2027-02-01"))
    assert later["kpis"][0]["target"] is None


def test_html_escapes_and_shows_the_meaning(tmp_path: Path, run: Run) -> None:
    out = _map_text(
        tmp_path,
        run,
        ("kpi.yaml", "formula: count(leads)", "formula: count(<script>x</script>)"),
        fmt="html",
    )
    assert "<dt>Formula</dt><dd><code>count(&lt;script&gt;x&lt;/script&gt;)</code></dd>" in out
    assert (
        "<dt>Definition</dt><dd><strong>MQL</strong> <code>mql-term</code><br>A lead with a fit "
        "score of 60 or more.</dd>"
    ) in out
    assert (
        "<dt>Current target</dt><dd><strong>100</strong> for Q4 2026 <small>2026-Q4</small></dd>"
        in out
    )


def test_terminal(tmp_path: Path) -> None:
    from rich.console import Console

    from kpictl.views.terminal import print_map

    root = make(tmp_path / "reg")
    console = Console(record=True, width=100, force_terminal=True)
    print_map(build_map(check(root).registry, as_of=date(2026, 11, 20)), console)
    lines = console.export_text().splitlines()
    assert lines[4:8] == [
        "├── Formula  count(leads)",
        "├── Defined  MQL  mql-term",
        "│   A lead with a fit score of 60 or more.",
        "├── Target   100 for Q4 2026 (2026-Q4)",
    ]


def test_without_a_date_the_view_has_no_target(tmp_path: Path) -> None:
    view = build_map(check(make(tmp_path / "reg")).registry)
    assert view.as_of is None
    assert view.kpis[0].target is None
    assert view.kpis[0].formula == "count(leads)"

"""`map` on lineage shaped to blow it up: shared chains and very long chains.

A ladder of n diamonds (s0 reads a0 and b0, both read s1, which reads a1 and b1, ...)
has 2^n paths from the KPI down to the last source; a chain of a thousand sources is
a thousand levels deep. Within one KPI's lineage each chain is drawn once and then
referenced, the tree stops at MAX_LEVELS levels with a count of what is left out,
and nothing recurses once per level.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from kpictl.check.check import check
from kpictl.output_formats import MapFormat
from kpictl.views.accountability import build_map
from kpictl.views.graph import build_graph
from kpictl.views.lineage_trees import MAX_LEVELS
from tests.browser import Browser, find_chromium
from tests.conftest import AS_OF, EXAMPLE
from tests.helpers import SOURCE, Run, deadline, make

CHROMIUM = find_chromium()

FORMATS = [item.value for item in MapFormat]


def source(source_id: str, upstream: list[str]) -> str:
    text = SOURCE.replace("id: crm", f"id: {source_id}").replace("CRM contacts", source_id)
    return text + (f"upstream: [{', '.join(upstream)}]\n" if upstream else "")


def registry(root: Path, sources: list[tuple[str, list[str]]]) -> Path:
    """BASE with the KPI reading s0 and `sources` beside its own `crm`."""
    docs = "---\n".join(source(sid, upstream) for sid, upstream in sources)
    return make(root, ("kpi.yaml", "sources: [crm]", "sources: [s0]"), ("chain.yaml", None, docs))


def diamonds(layers: int) -> list[tuple[str, list[str]]]:
    """s0 reads a0 and b0, which both read s1, ... down to s<layers>, which captures."""
    found: list[tuple[str, list[str]]] = []
    for i in range(layers):
        found += [(f"s{i}", [f"a{i}", f"b{i}"]), (f"a{i}", [f"s{i + 1}"]), (f"b{i}", [f"s{i + 1}"])]
    return [*found, (f"s{layers}", [])]


def chain(length: int) -> list[tuple[str, list[str]]]:
    """s0 reads s1, ... down to s<length - 1>, which captures."""
    return [(f"s{i}", [f"s{i + 1}"] if i + 1 < length else []) for i in range(length)]


def kpi_map(run: Run, root: Path, output_format: str) -> str:
    result = run("map", str(root), "-f", output_format)
    assert (result.code, result.err) == (0, "")
    return result.out


def lineage_lines(text: str) -> list[str]:
    """The lines of the text map's only KPI between "Data sources" and "Escalation"."""
    lines = text.splitlines()
    start = lines.index("  Data sources") + 1
    end = next(i for i, line in enumerate(lines) if line.startswith("  Escalation"))
    return lines[start:end]


def test_a_small_diamond_draws_each_chain_once_in_text(run: Run, tmp_path: Path) -> None:
    root = registry(tmp_path / "reg", diamonds(3))
    assert lineage_lines(kpi_map(run, root, "text")) == [
        "    └─ s0: s0, built in HubSpot, owner Ann Lee",
        "       ├─ a0: a0, built in HubSpot, owner Ann Lee",
        "       │  └─ s1: s1, built in HubSpot, owner Ann Lee",
        "       │     ├─ a1: a1, built in HubSpot, owner Ann Lee",
        "       │     │  └─ s2: s2, built in HubSpot, owner Ann Lee",
        "       │     │     ├─ a2: a2, built in HubSpot, owner Ann Lee",
        "       │     │     │  └─ s3: s3, captured in HubSpot, owner Ann Lee",
        "       │     │     └─ b2: b2, built in HubSpot, owner Ann Lee",
        # A capturing system is one line either way: it is repeated, not referenced.
        "       │     │        └─ s3: s3, captured in HubSpot, owner Ann Lee",
        "       │     └─ b1: b1, built in HubSpot, owner Ann Lee",
        "       │        └─ ↑ s2 (shown above)",
        "       └─ b0: b0, built in HubSpot, owner Ann Lee",
        "          └─ ↑ s1 (shown above)",
    ]


def node(source_id: str, *upstream: dict[str, object], **extra: object) -> dict[str, object]:
    return {"source": source_id, "upstream": list(upstream), "cycle": False, **extra}


def test_a_small_diamond_references_a_drawn_chain_by_id_in_json(run: Run, tmp_path: Path) -> None:
    root = registry(tmp_path / "reg", diamonds(3))
    data = json.loads(kpi_map(run, root, "json"))
    (kpi,) = data["kpis"]
    s3 = node("s3")
    assert kpi["lineage"] == [
        node(
            "s0",
            node(
                "a0",
                node(
                    "s1",
                    node("a1", node("s2", node("a2", s3), node("b2", s3))),
                    node("b1", node("s2", shown_above=True)),
                ),
            ),
            node("b0", node("s1", shown_above=True)),
        )
    ]
    # What the tree references is still listed in full.
    assert kpi["capture"] == ["s3"]
    assert sorted(data["sources"]) == sorted(sid for sid, _ in diamonds(3))
    assert data["sources"]["s1"]["upstream"] == ["a1", "b1"]


def test_a_ladder_of_18_diamonds_stays_small_in_every_format(run: Run, tmp_path: Path) -> None:
    # 2^18 paths: the text map was 176 MB and took nearly two minutes.
    root = registry(tmp_path / "reg", diamonds(18))
    with deadline(60):
        sizes = {output_format: len(kpi_map(run, root, output_format)) for output_format in FORMATS}
        who = run("who", "ann", str(root), "-f", "json")
    assert all(size < 1_000_000 for size in sizes.values()), sizes
    assert who.code == 0
    (duty,) = [d for d in json.loads(who.out)["sources"] if d["source"] == "s18"]
    assert duty["kpis"] == ["mql"]


def test_a_chain_of_1000_sources_is_cut_at_the_drawn_depth(run: Run, tmp_path: Path) -> None:
    root = registry(tmp_path / "reg", chain(1000))
    with deadline(60):
        outputs = {output_format: kpi_map(run, root, output_format) for output_format in FORMATS}
    assert all(len(text) < 2_000_000 for text in outputs.values()), {
        key: len(text) for key, text in outputs.items()
    }
    lines = lineage_lines(outputs["text"])
    assert len(lines) == MAX_LEVELS + 1
    assert lines[-2] == " " * (4 + 3 * 49) + "└─ s49: s49, built in HubSpot, owner Ann Lee"
    assert lines[-1] == (
        " " * (4 + 3 * 50) + "└─ … 950 more upstream sources (the map draws 50 levels of lineage)"
    )
    markdown = outputs["markdown"].splitlines()
    cut = markdown.index(
        "  " * 50 + "- … 950 more upstream sources (the map draws 50 levels of lineage)"
    )
    assert markdown[cut - 1] == "  " * 49 + "- `s49` s49: built in HubSpot, owner Ann Lee"
    assert "… 950 more upstream sources (the map draws 50 levels of lineage)" in outputs["html"]

    data = json.loads(outputs["json"])
    (kpi,) = data["kpis"]
    deepest, levels = kpi["lineage"][0], 1
    while deepest["upstream"]:
        (deepest,) = deepest["upstream"]
        levels += 1
    assert (levels, deepest) == (
        MAX_LEVELS,
        node("s49", more_upstream=950),
    )
    # The flat lists still reach the end of the chain.
    assert kpi["capture"] == ["s999"]
    assert len(data["sources"]) == 1000
    # The graph draws every source once and every link once.
    assert outputs["dot"].count('" -> "source:') == 999 + 0
    assert outputs["dot"].count('"source:s999" -> "source:s998";') == 1


def test_who_finds_every_kpi_above_a_source_below_the_drawn_depth(run: Run, tmp_path: Path) -> None:
    root = registry(tmp_path / "reg", chain(1000))
    with deadline(60):
        result = run("who", "ann", str(root), "-f", "json")
    assert result.code == 0
    readers = {d["source"]: d["kpis"] for d in json.loads(result.out)["sources"]}
    assert (readers["s0"], readers["s999"], readers["crm"]) == (["mql"], ["mql"], [])


def test_the_graph_draws_each_source_and_link_once(tmp_path: Path) -> None:
    root = registry(tmp_path / "reg", diamonds(18))
    with deadline(30):
        graph = build_graph(build_map(check(root).registry))
    sources = sorted(key for key in graph.nodes if key.startswith("source:"))
    assert sources == sorted(f"source:{sid}" for sid, _ in diamonds(18))
    feeds = [(edge.source, edge.target) for edge in graph.edges if edge.kind == "feeds"]
    assert len(feeds) == len(set(feeds)) == 4 * 18 + 1  # s->a, s->b, a->s, b->s; s0->mql
    # s18 captures; each diamond is two columns further from it.
    assert (graph.nodes["source:s18"].column, graph.nodes["source:s0"].column) == (0, 36)


def test_the_terminal_map_references_a_drawn_chain_and_cuts_a_deep_one(tmp_path: Path) -> None:
    from rich.console import Console

    from kpictl.views.terminal import print_map

    for name, sources in (("diamonds", diamonds(3)), ("chain", chain(1000))):
        out = io.StringIO()
        with deadline(30):
            view = build_map(check(registry(tmp_path / name, sources)).registry)
            print_map(view, Console(file=out, width=400, no_color=True, highlight=False))
        text = out.getvalue()
        if name == "diamonds":
            assert text.count("↑ s1  (shown above)") == text.count("↑ s2  (shown above)") == 1
        else:
            assert text.count("… 950 more upstream sources (the map draws 50 levels of") == 1


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_hovering_a_box_traces_its_whole_chain_in_the_page(run: Run, tmp_path: Path) -> None:
    # The page walks the edges itself: it no longer lists every box's ancestors.
    out = tmp_path / "map.html"
    assert run("map", str(EXAMPLE), "-f", "html", "-o", str(out), "--as-of", AS_OF).code == 0
    assert CHROMIUM is not None
    with Browser(CHROMIUM, width=1366, height=768) as browser:
        browser.open(out)
        x, y = browser.centre("#n-source-billing-subscriptions rect")
        browser.mouse("mouseMoved", x, y)
        lit = browser.evaluate(
            "[...document.querySelectorAll('#graph .lit')]"
            ".map(e => e.id || e.dataset.from + '>' + e.dataset.to).sort()"
        )
        browser.settle()
        assert browser.errors == []
    assert lit == [
        "kpi-nrr>person-felix-braun",
        "kpi-nrr>person-grace-liu",
        "n-kpi-nrr",
        "n-person-felix-braun",
        "n-person-grace-liu",
        "n-source-billing-subscriptions",
        "n-source-wh-arr-movements",
        "source-billing-subscriptions>source-wh-arr-movements",
        "source-wh-arr-movements>kpi-nrr",
    ]

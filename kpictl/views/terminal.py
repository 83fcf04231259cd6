"""`kpictl map` on a terminal: rich tables and trees. Piped output uses the text template.

Registry text reaches rich only as `Text` objects (never as markup), so a name
like `[bold]` or `<script>` is printed as written.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING

from kpictl.display import plural
from kpictl.templating.escaping import defuse
from kpictl.views.accountability import AccountabilityMap
from kpictl.views.blocks import KpiView, LineageNode, PersonView, SourceView
from kpictl.views.lineage_trees import MAX_LEVELS

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text
    from rich.tree import Tree

AUDIENCE = {"business": "reported to the business", "internal": "internal"}
REASONS = {
    "sources": "also owns every data source it reads",
    "approver": "is the only approver on its whole escalation ladder",
}
GROUPED = {
    "kpi": "KPI",
    "owner": "primary owner",
    "team": "primary owner's team",
    "stage": "funnel stage",
}


def _name(person: PersonView | None) -> Text:
    from rich.text import Text

    if person is None:
        return Text("nobody", style="dim italic")
    text = Text(person.name)
    if not person.known:
        text.append(" (not in the registry)", style="bold red")
    elif not person.active:
        text.append(" (inactive)", style="bold red")
    return text


def _owner(person: PersonView) -> Text:
    text = _name(person)
    if person.known and person.team is not None:
        text.append(f"  {person.team.name}", style="dim")
    return text


def _people(people: tuple[PersonView, ...]) -> Text:
    from rich.text import Text

    if not people:
        return Text("nobody", style="dim italic")
    return Text(", ").join(_name(p) for p in people)


def _source(source: SourceView) -> Text:
    from rich.text import Text

    text = Text(source.id, style="cyan")
    if not source.known:
        text.append("  not in the registry", style="bold red")
        return text
    text.append(f"  {source.name}")
    role = "captured in" if source.captures else "built in"
    text.append(f"  {role} {source.system}", style="green" if source.captures else "blue")
    text.append(", owner ", style="dim")
    text.append_text(_name(source.owner))
    return text


def _lineage(tree: Tree, node: LineageNode) -> None:
    from rich.text import Text

    # Recursion is bounded: a tree is at most MAX_LEVELS deep.
    if node.shown:
        label = Text("↑ ").append(node.source.id, style="cyan")
        tree.add(label.append("  (shown above)", style="dim"))
        return
    label = _source(node.source)
    if node.cycle:
        label.append("  (cycle: already above)", style="bold red")
    branch = tree.add(label)
    for child in node.upstream:
        _lineage(branch, child)
    if node.more:
        sources = plural(node.more, "more upstream source", "more upstream sources")
        branch.add(Text(f"… {sources} (the map draws {MAX_LEVELS} levels of lineage)", style="dim"))


def _meaning(tree: Tree, kpi: KpiView, as_of: date | None) -> None:
    """Formula, definition and current target: what the number is and what it should be."""
    from rich.text import Text

    tree.add(Text("Formula  ", style="bold").append(kpi.formula))
    line = Text("Defined  ", style="bold")
    term = kpi.term
    if term is None:
        line.append("by no glossary term", style="dim italic")
    elif not term.known:
        line.append(term.id, style="cyan").append("  not in the registry", style="bold red")
    else:
        line.append(term.term).append(f"  {term.id}", style="cyan")
        if term.agreed_by:
            line.append(f"  agreed by {', '.join(term.agreed_by)}", style="dim")
        line.append("\n").append(term.definition)
    tree.add(line)
    if kpi.target is not None:
        target = kpi.target
        text = Text("Target   ", style="bold").append(target.shown)
        tree.add(text.append(f" for {target.label} ({target.period})"))
    elif as_of is not None:
        tree.add(Text("Target   ", style="bold").append(f"none for the period holding {as_of}"))


DECIDED = {"adopt": "adopted", "reject": "rejected", "inconclusive": "inconclusive"}


def _kpi(kpi: KpiView, as_of: date | None = None) -> Tree:
    from rich.table import Table
    from rich.text import Text
    from rich.tree import Tree

    title = Text(kpi.name, style="bold")
    title.append(f"  {kpi.id}", style="cyan")
    title.append(f"  {kpi.stage} · {kpi.indicator} · {AUDIENCE.get(kpi.audience)}", style="dim")
    tree = Tree(title, guide_style="dim")
    _meaning(tree, kpi, as_of)
    tree.add(Text("Primary  ", style="bold").append_text(_owner(kpi.primary)))
    tree.add(Text("Backup   ", style="bold").append_text(_owner(kpi.backup)))
    tree.add(Text(f"Review   {kpi.review}, data refreshes {kpi.refresh}"))
    for label, links in (("Drives   ", kpi.drives), ("Driven by ", kpi.driven_by)):
        if links:
            named = (k.id if k.on_map else f"{k.id} [not on this map]" for k in links)
            tree.add(Text(label, style="bold").append(", ".join(named)))
    data = tree.add(Text("Data sources", style="bold"))
    for node in kpi.lineage:
        _lineage(data, node)
    if kpi.fallbacks:
        fallbacks = tree.add(Text("Fallbacks", style="bold"))
        for item in kpi.fallbacks:
            line = Text(f"{item.source.id} → {item.fallback.id}", style="cyan")
            if item.fallback.known:
                line.append(f"  {item.fallback.name}")
            fallbacks.add(line)
    ladder = kpi.escalation
    if not ladder.known:
        tree.add(Text(f"Escalation  {ladder.id} (not in the registry)", style="bold red"))
        return tree
    heading = Text("Escalation  ", style="bold").append(ladder.name)
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="dim")
    for column in ("Tier", "Fires at", "Respond", "Notify", "Approves"):
        table.add_column(column, overflow="fold")
    for tier in ladder.tiers:
        trigger = f"{tier.deviation_pct:g}% off target"
        if tier.on_data_outage:
            trigger += " or data outage"
        table.add_row(
            Text(f"{tier.level}. {tier.name}"),
            trigger,
            tier.respond_within,
            _people(tier.notify),
            _people(tier.approvers),
        )
    tree.add(heading).add(table)
    if kpi.experiments:
        tests = tree.add(Text("Experiments", style="bold"))
        for e in kpi.experiments:
            line = Text(f"{e.status:<10} ", style="dim").append(f"{e.id}: {e.name}")
            if e.decision:
                line.append(f"; {DECIDED.get(e.decision, e.decision)}")
                if e.result:
                    line.append(f", {e.result}" + (f" against {e.baseline}" if e.baseline else ""))
            tests.add(line)
    return tree


@contextmanager
def defused(console: Console) -> Iterator[None]:
    """What is printed to `console` meanwhile, with no line that runs a CI workflow command.

    rich wraps a long cell onto lines of its own, so a value that starts nowhere in
    the registry can start a line (after padding) of the terminal view.
    """
    from rich.text import Text

    with console.capture() as capture:
        yield
    # Printed again as styled text, not written to the file: a recording console keeps it.
    console.print(Text.from_ansi(defuse(capture.get()), end=""), soft_wrap=True, end="")


def print_map(view: AccountabilityMap, console: Console | None = None) -> None:
    """Print the map with colour, trees and tables."""
    from rich.console import Console

    console = console or Console(highlight=False)
    with defused(console):
        _print_map(view, console)


def _print_map(view: AccountabilityMap, console: Console) -> None:
    from rich.panel import Panel
    from rich.rule import Rule
    from rich.table import Table
    from rich.text import Text

    title = Text("Accountability map", style="bold")
    if view.organization:
        title.append(f": {view.organization}")
    console.print(title)
    shown = plural(len(view.kpis), "KPI", "KPIs")
    if view.filtered:
        shown += f" of {view.total_kpis}"
    console.print(
        f"{shown}, {plural(len(view.people), 'person', 'people')}, "
        f"{plural(len(view.sources), 'data source', 'data sources')}; "
        f"grouped by {GROUPED[view.grouped_by]}",
        style="dim",
        markup=False,
    )
    if view.check.errors:
        console.print(
            Panel(
                Text(
                    f"`kpictl check` reports {plural(view.check.errors, 'error', 'errors')} "
                    "in this registry. This map shows what could be read; missing entities "
                    "are marked. Fix the errors and run again."
                ),
                border_style="yellow",
            )
        )
    if not view.kpis:
        console.print(Text("No KPIs to show.", style="italic"))
    for group in view.groups:
        if view.grouped_by != "kpi":
            label = group.person.name if group.person else (group.label or "No team")
            console.print(Rule(Text(f"{label}: {plural(len(group.kpis), 'KPI', 'KPIs')}")))
        for kpi in group.kpis:
            console.print()
            console.print(_kpi(kpi, view.as_of))

    if view.tree:
        console.print()
        console.print(Rule(Text("KPI tree: what drives what, from awareness to revenue")))
        for row in view.tree:
            line = Text("  " * row.depth + ("→ " if row.depth else ""))
            line.append(row.kpi.id, style="cyan").append(f": {row.kpi.name}")
            if row.kpi.stage:
                line.append(f" [{row.kpi.stage}]", style="dim")
            if row.cycle or row.shown or row.more:
                flag = "cycle: already above" if row.cycle else "drives what is shown above"
                line.append(f" ({flag if not row.more else 'cut here'})", style="dim")
            console.print(line)
        if view.outside_tree:
            outside = ", ".join(k.id for k in view.outside_tree)
            console.print(Text(f"Not in the tree: {outside}", style="dim"))

    health = view.health
    console.print()
    console.print(Rule(Text("Accountability health", style="bold")))
    lines: list[tuple[str, list[Text]]] = [
        (
            "Primary and backup owner on the same team",
            [
                Text(f"{item.kpi.id}: both owners are in {item.team.name}")
                for item in health.same_team
            ],
        ),
        (
            "Single points of failure",
            [
                _name(item.person).append(
                    f" on {item.kpi.id}: primary owner who "
                    + " and ".join(REASONS.get(code, code) for code in item.reasons)
                )
                for item in health.single_points
            ],
        ),
        (
            "Business KPIs without a business-facing owner",
            [
                Text(f"{kpi.id}: ").append_text(_people((kpi.primary, kpi.backup)))
                for kpi in health.no_business_owner
            ],
        ),
    ]
    for heading, items in lines:
        style = "yellow" if items else "green"
        console.print(Text(f"{heading} ({len(items)})", style=f"bold {style}"))
        for item in items or [Text("none", style="dim")]:
            console.print(Text("  ").append_text(item))
    table = Table(title="Most ownership", title_justify="left", title_style="bold")
    table.add_column("Person")
    for column in ("Primary", "Backup", "Sources", "Total"):
        table.add_column(column, justify="right")
    for load in health.top_owners:
        table.add_row(
            _owner(load.person),
            str(load.primary),
            str(load.backup),
            str(load.sources),
            Text(str(load.total), style="bold"),
        )
    console.print(table)

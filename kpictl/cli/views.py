"""The accountability map and who answers for what: `kpictl map`, `kpictl who`."""

import sys
from pathlib import Path
from typing import Annotated

import typer

from kpictl.cli import RegistryPath, app, output_option, parse_date, resolve_registry, write_output
from kpictl.errors import KpictlError
from kpictl.output_formats import MapFormat, ReportFormat

MAP_FORMAT_HELP = (
    "text (default: tables on a terminal, plain when piped), markdown (commit it as "
    "ACCOUNTABILITY.md or paste it into a wiki), mermaid, dot (Graphviz), json "
    "(documented in docs/map-json.md) or html (one self-contained page)."
)
AS_OF_HELP = (
    "Check the registry as if today were this date (YYYY-MM-DD), for the error banner. "
    "Default: today in the registry's time zone."
)
MAP_AS_OF_HELP = (
    "Show the map as if today were this date (YYYY-MM-DD): each KPI's current target is "
    "the one whose period holds it, and the error banner checks on it. Default: today in "
    "the registry's time zone."
)


@app.command("map")
def map_(
    path: RegistryPath = None,
    output_format: Annotated[
        MapFormat,
        typer.Option("-f", "--format", help=MAP_FORMAT_HELP, show_default=False),
    ] = MapFormat.text,
    output: Annotated[Path | None, output_option("the map")] = None,
    by: Annotated[
        str,
        typer.Option(
            "--by",
            metavar="GROUPING",
            help="Group KPIs by kpi (one list), owner (primary owner), team (the primary "
            "owner's team) or stage (funnel order).",
        ),
    ] = "kpi",
    kpi: Annotated[
        list[str] | None,
        typer.Option("--kpi", metavar="ID", help="Show only this KPI id (repeatable)."),
    ] = None,
    owner: Annotated[
        list[str] | None,
        typer.Option(
            "--owner",
            metavar="ID",
            help="Show only KPIs this person owns, as primary or backup, or that a member "
            "of this team owns (repeatable).",
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", metavar="DATE", help=MAP_AS_OF_HELP, show_default=False),
    ] = None,
) -> int:
    """Show who answers for every KPI: owners, data lineage, escalation ladder.

    For each KPI: stage, leading or lagging, audience, its formula, its definition (the
    glossary term's words) and current target, primary and backup owner, the
    data sources it reads with their whole upstream chain down to the systems that
    capture the data (and who owns each), fallbacks, review cadence, and each
    escalation tier resolved to the people it notifies and who approves, with
    response times. Ends with accountability health: shared-team owner pairs, single
    points of failure, the busiest owners, business KPIs without a business-facing
    owner. A registry with check errors still maps, under a banner.

    Examples: `kpictl map --format markdown -o ACCOUNTABILITY.md`,
    `kpictl map --format html -o map.html`, `kpictl map --by team --owner revops`.
    """
    from kpictl.views.accountability import GROUPINGS, UnknownId, build_map
    from kpictl.views.output import render_map

    if by not in GROUPINGS:
        raise typer.BadParameter(
            f"'{by}' is not a grouping: use {', '.join(GROUPINGS)}", param_hint="--by"
        )
    from kpictl.check.check import registry_today
    from kpictl.views.load import checked_registry

    day = parse_date(as_of, "--as-of")
    registry, summary = checked_registry(resolve_registry(path), day)
    try:
        view = build_map(
            registry,
            by=by,
            kpi_ids=kpi or (),
            owner_ids=owner or (),
            check=summary,
            as_of=day or registry_today(registry),
        )
    except UnknownId as exc:
        raise KpictlError(str(exc)) from None
    if output_format == MapFormat.text and output is None and sys.stdout.isatty():
        from kpictl.views.terminal import print_map

        print_map(view)
        return 0
    from kpictl.templating.render import registry_environment

    write_output(render_map(view, output_format.value, registry_environment(registry)), output)
    return 0


@app.command()
def who(
    subject: Annotated[
        str,
        typer.Argument(
            metavar="PERSON_OR_TEAM", help="A person id or a team id.", show_default=False
        ),
    ],
    path: RegistryPath = None,
    output_format: Annotated[
        ReportFormat,
        typer.Option(
            "-f", "--format", help="text (default), markdown or json.", show_default=False
        ),
    ] = ReportFormat.text,
    output: Annotated[Path | None, output_option("the answer")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", metavar="DATE", help=AS_OF_HELP, show_default=False)
    ] = None,
) -> int:
    """Show everything a person or a team answers for.

    KPIs they own as primary or backup, data sources they own (and the KPIs that read
    them), escalation tiers where they are notified or approve (for which KPIs, and
    why: as owner, as manager, as a team lead, by name), campaign roles in DACI and
    RACI, experiments they own (and so decide by their decision rule), and glossary
    terms they own. For a team: its lead, its members, and all of the above for each
    member plus what names the team itself.

    Examples: `kpictl who aisha-okafor`, `kpictl who revops --format markdown`.
    """
    from kpictl.views.accountability import UnknownId
    from kpictl.views.load import checked_registry
    from kpictl.views.output import render_who
    from kpictl.views.who import build_who

    registry, summary = checked_registry(resolve_registry(path), parse_date(as_of, "--as-of"))
    try:
        view = build_who(registry, subject, check=summary)
    except UnknownId as exc:
        raise KpictlError(str(exc)) from None
    from kpictl.templating.render import registry_environment

    write_output(render_who(view, output_format.value, registry_environment(registry)), output)
    return 0


@app.command()
def experiments(
    path: RegistryPath = None,
    output_format: Annotated[
        ReportFormat,
        typer.Option(
            "-f",
            "--format",
            help="text (default), markdown (for a wiki page) or json.",
            show_default=False,
        ),
    ] = ReportFormat.text,
    output: Annotated[Path | None, output_option("the list")] = None,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            metavar="STATUS",
            help="Show only experiments with this status: planned, running, concluded or "
            "abandoned (repeatable).",
        ),
    ] = None,
    kpi: Annotated[
        list[str] | None,
        typer.Option(
            "--kpi", metavar="ID", help="Show only experiments on this KPI id (repeatable)."
        ),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", metavar="DATE", help=AS_OF_HELP, show_default=False)
    ] = None,
) -> int:
    """List the experiments: what was tested, how it was decided, what was learned.

    Grouped by status (planned, running, concluded, abandoned) and, within each, by
    the KPI the experiment means to move. Each shows its owner, campaign, timeline,
    hypothesis, baseline, control and decision rule; a concluded one also its decision,
    its result against the baseline and its learnings: the team's knowledge base.

    Examples: `kpictl experiments --status concluded --format markdown -o LEARNINGS.md`,
    `kpictl experiments --kpi mql-to-sql-rate`.
    """
    from kpictl.views.accountability import UnknownId
    from kpictl.views.experiments import UnknownStatus, build_experiments
    from kpictl.views.load import checked_registry
    from kpictl.views.output import render_experiments

    registry, summary = checked_registry(resolve_registry(path), parse_date(as_of, "--as-of"))
    try:
        view = build_experiments(registry, statuses=status or (), kpi_ids=kpi or (), check=summary)
    except UnknownStatus as exc:
        raise typer.BadParameter(str(exc), param_hint="--status") from None
    except UnknownId as exc:
        raise KpictlError(str(exc)) from None
    from kpictl.templating.render import registry_environment

    write_output(
        render_experiments(view, output_format.value, registry_environment(registry)), output
    )
    return 0


# --- status and emails ----------------------------------------------------------------------

"""Authoring and governance rituals: `schema`, `init`, `new`, `fmt`, `calendar`, `drill`."""

import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from kpictl.cli import RegistryPath, app, output_option, parse_date, resolve_registry, write_output
from kpictl.errors import KpictlError
from kpictl.output_formats import DrillFormat


@app.command()
def schema(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="DIR",
            help="Write every schema into this folder (created if missing): kpictl.schema.json "
            "for kpictl.yaml, entity.schema.json for any entity, and one per kind.",
            show_default=False,
        ),
    ] = None,
    out_short: Annotated[
        Path | None,
        # `-o` meant --out DIR here before it meant one file everywhere; kept, unlisted,
        # so that existing scripts keep working.
        typer.Option("-o", metavar="DIR", hidden=True, show_default=False),
    ] = None,
    kind: Annotated[
        str,
        typer.Option(
            "--kind",
            metavar="NAME",
            help="Without --out, print this schema: entity (any kind), kpictl (kpictl.yaml), "
            "or a kind such as kpi.",
        ),
    ] = "entity",
) -> int:
    """Print or write JSON Schemas (draft 2020-12) for registry files, for editors.

    Generated from the same models `kpictl check` validates with. Point the YAML
    language server at them (VS Code: `yaml.schemas` in .vscode/settings.json, as
    `kpictl init` sets up) to get completion and checking while typing.

    Examples: `kpictl schema --out .kpictl/schema`, `kpictl schema --kind kpi`.
    """
    from kpictl.authoring import schema as schemas
    from kpictl.display import plural

    out = _one_of(out, "--out", out_short, "-o")
    if out is not None:
        try:
            written = schemas.write(out)
        except OSError as exc:
            raise KpictlError(f"cannot write into {out}: {exc.strerror or exc}") from None
        print(f"Wrote {plural(len(written), 'schema')} to {out}.")
        return 0
    every = schemas.schemas()
    name = f"{kind.replace('-', '_')}.schema.json"
    if name not in every:
        choices = ", ".join(n.removesuffix(".schema.json") for n in every)
        raise typer.BadParameter(f"'{kind}' is not a schema: use {choices}", param_hint="--kind")
    write_output(schemas.render(every[name]), None)
    return 0


def _one_of(value: Path | None, name: str, alias: Path | None, alias_name: str) -> Path | None:
    """An option given under its name or its older, unlisted alias: once, not both."""
    if value is not None and alias is not None:
        raise typer.BadParameter(f"give {name} once (not also as {alias_name})", param_hint=name)
    return value if value is not None else alias


@app.command()
def init(
    folder: Annotated[
        Path,
        typer.Argument(
            metavar="FOLDER",
            help="Where to create the registry (created if missing). Default: here.",
        ),
    ] = Path(),
    organization: Annotated[
        str, typer.Option("--organization", metavar="NAME", help="The organization's name.")
    ] = "Example Co",
    timezone: Annotated[
        str,
        typer.Option(
            "--timezone",
            metavar="ZONE",
            help="IANA time zone, like Europe/Berlin or America/New_York.",
        ),
    ] = "UTC",
    fiscal_year_start_month: Annotated[
        int,
        typer.Option(
            "--fiscal-year-start-month",
            min=1,
            max=12,
            metavar="MONTH",
            help="1-12; 1 = calendar year.",
        ),
    ] = 1,
    kpictl_source: Annotated[
        str | None,
        typer.Option(
            "--kpictl-source",
            metavar="URL",
            help="The git repository the pre-commit hooks and the workflow install kpictl "
            "from (kpictl is not on PyPI). Default: kpictl's own repository.",
            show_default=False,
        ),
    ] = None,
    kpictl_ref: Annotated[
        str | None,
        typer.Option(
            "--kpictl-ref",
            metavar="REF",
            help="The tag or commit of that repository to pin. Default: v<this kpictl's version>.",
            show_default=False,
        ),
    ] = None,
) -> int:
    """Start a new registry: kpictl.yaml, one example of each kind, editor and CI set-up.

    Writes kpictl.yaml; a person, team, data source, KPI, escalation policy, campaign
    charter and glossary term to edit or copy (they check clean today); the JSON Schemas
    in .kpictl/schema/ with .vscode/settings.json mapping them for the YAML language
    server; a .pre-commit-config.yaml (fmt, check, schemas); and a GitHub Actions
    workflow in .github/workflows/kpictl.yml running `kpictl fmt --check` and
    `kpictl check --format github`. Both install kpictl from its git repository at a
    pinned tag (--kpictl-source, --kpictl-ref). Refuses (exit 1) a folder that already
    holds kpictl.yaml or YAML files, and never overwrites a file.
    """
    from kpictl.authoring.scaffold import (
        Install,
        ScaffoldError,
        default_install,
        git_ref,
        plan,
        repository_url,
        write,
    )
    from kpictl.check.check import check as run_check
    from kpictl.display import plural
    from kpictl.registry.bounds import load_zone
    from kpictl.templating.escaping import visible

    if visible(organization) != organization:
        raise typer.BadParameter(
            f"'{visible(organization)}' holds a control character: use plain text",
            param_hint="--organization",
        )
    try:
        zone = load_zone(timezone)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--timezone") from None
    default = default_install()
    try:
        repository = repository_url(default.repository if kpictl_source is None else kpictl_source)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--kpictl-source") from None
    try:
        ref = git_ref(default.ref if kpictl_ref is None else kpictl_ref)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--kpictl-ref") from None

    today = datetime.now(zone).date()
    files = plan(organization, timezone, today, fiscal_year_start_month, Install(repository, ref))
    try:
        written = write(folder, files)
    except ScaffoldError as exc:
        raise KpictlError(str(exc), exit_code=1) from None
    except OSError as exc:
        raise KpictlError(f"cannot write into {folder}: {exc.strerror or exc}") from None
    result = run_check(folder, today=today)
    print(f"Created a kpictl registry in {folder} ({plural(len(written), 'file')}).")
    for item in result.findings:  # pragma: no cover - the scaffold checks clean
        print(f"  {item.location.path}:{item.location.line}: {item.code} {item.message}")
    print(
        "Next: edit the examples (or `kpictl new kpi <id>`), run `kpictl check`, "
        "and commit; `pre-commit install` runs kpictl before each commit."
    )
    return 0


NEW_FIELD_HELP = (
    "A field of the new entity as KEY=VALUE; repeatable. Dots go into nested fields "
    "(owners.primary=maria-lopez), a number picks a list item (targets.0.period=2026-Q4), "
    "list values are comma-separated (sources=crm,web). Required fields you leave out are "
    "asked for on a terminal; elsewhere kpictl lists them and exits 2."
)


@app.command()
def new(
    kind: Annotated[
        str,
        typer.Argument(
            metavar="KIND",
            help=(
                "person, team, data_source, kpi, escalation_policy, campaign, glossary_term "
                "or experiment."
            ),
            show_default=False,
        ),
    ],
    entity_id: Annotated[
        str, typer.Argument(metavar="ID", help="The new id (lowercase slug).", show_default=False)
    ],
    path: RegistryPath = None,
    fields: Annotated[
        list[str] | None,
        typer.Option("--field", "-F", metavar="KEY=VALUE", help=NEW_FIELD_HELP),
    ] = None,
) -> int:
    """Create an entity file where that kind lives in this registry.

    The file is ID.yaml in the folder holding most entities of the kind (else people/,
    teams/, sources/, kpis/, policies/, campaigns/ or glossary/), in canonical form.
    Then the registry is checked and the findings about the new file are shown: exit 1
    if any is an error (say, a reference to an id that does not exist yet), else 0.
    An id already in use is refused (exit 1) with the file that has it.

    Example: `kpictl new kpi sql -F name="Sales Qualified Leads" -F owners.primary=ann ...`
    """
    from kpictl.authoring.authoring import NewError, Shape, build, convert, folder_for, resolve_kind
    from kpictl.authoring.yamlfmt import dump_entity
    from kpictl.check.check import check as run_check
    from kpictl.fileio import make_folder, write_atomic
    from kpictl.registry.models import ID_PATTERN
    from kpictl.registry.registry import display_path, load_registry
    from kpictl.templating.escaping import defuse_text, visible

    try:
        kind = resolve_kind(kind)
    except NewError as exc:
        raise typer.BadParameter(str(exc), param_hint="KIND") from None
    if not ID_PATTERN.match(entity_id):
        raise typer.BadParameter(
            f"'{entity_id}' is not a valid id: lowercase letters, digits and hyphens, "
            "starting with a letter or digit, at most 63 characters",
            param_hint="ID",
        )
    root = resolve_registry(path)
    registry, _ = load_registry(root)
    record = registry.records.get(entity_id)
    taken = record.document if record else registry.broken.get(entity_id)
    if taken is not None:
        raise KpictlError(
            f"the id '{entity_id}' is already used by the {registry.kind_of(entity_id)} in "
            f"{taken.path.as_posix()}:{taken.start.line}; ids are unique across the registry",
            exit_code=1,
        )
    target = folder_for(registry, kind) / f"{entity_id}.yaml"
    if target.exists():
        raise KpictlError(f"{target} exists already; not overwriting it", exit_code=1)

    def ask(label: str, shape: Shape, default: str | None) -> object:
        hint = shape.hint()
        while True:
            text = typer.prompt(f"{label}{f' ({hint})' if hint else ''}", default=default)
            try:
                return shape.check(convert(text, shape, label), label)
            except NewError as exc:
                typer.echo(f"  {exc}", err=True)

    interactive = sys.stdin.isatty()
    from kpictl.check.check import registry_today
    from kpictl.numbers.periods import fiscal_quarter

    quarter = fiscal_quarter(registry_today(registry), registry.settings.fiscal_year_start_month)
    try:
        data = build(kind, entity_id, list(fields or []), ask if interactive else None, quarter)
    except NewError as exc:  # it quotes the -F argument, which may hold control characters
        raise KpictlError(defuse_text(str(exc))) from None
    try:
        make_folder(target.parent)
        write_atomic(target, dump_entity(data))
    except OSError as exc:
        raise KpictlError(f"cannot write {target}: {exc.strerror or exc}") from None
    shown = display_path(target, Path.cwd())
    print(f"Created {shown.as_posix()}.")
    result = run_check(root)
    mine = [
        item
        for item in result.findings
        if Path(os.path.abspath(item.location.path)) == Path(os.path.abspath(shown))  # noqa: PTH100
    ]
    for item in mine:
        print(
            f"{item.location.path.as_posix()}:{item.location.line}:{item.location.column}: "
            f"{item.code} [{item.severity.label}] {visible(item.message)}"
        )
    return 1 if any(item.severity.label == "error" for item in mine) else 0


@app.command()
def fmt(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="PATH",
            help="Files, or folders (a registry folder means its YAML files, kpictl.yaml "
            "included, excluded and hidden files left out). Default: the registry around "
            "the current folder.",
            show_default=False,
        ),
    ] = None,
    check_only: Annotated[
        bool,
        typer.Option(
            "--check", help="Change nothing; list the files that would change, exit 1 if any."
        ),
    ] = False,
    show_diff: Annotated[
        bool, typer.Option("--diff", help="Also print what would change, as a unified diff.")
    ] = False,
) -> int:
    """Rewrite registry YAML in canonical form, keeping every comment.

    Canonical form: keys in the order of the registry format (labels last), 2-space
    indentation with list items indented under their key, `---` between documents,
    at most one blank line in a row, nothing re-wrapped. Flow lists stay flow, quotes
    stay as written. Each file is written whole (temp file + rename). A file that does
    not parse, holds tags, duplicate keys or a date that does not exist (2026-02-30),
    or is not a regular file (a symbolic link, a FIFO: never followed, never replaced)
    is reported with its line and left untouched; the other files are still formatted.

    Exit code: 0 when all is well, 1 when a file was left untouched or, with --check,
    would be reformatted, 2 when fmt could not run (no registry, no such PATH).

    Examples: `kpictl fmt`, `kpictl fmt --check` (for CI), `kpictl fmt kpis/mql.yaml`.
    """
    from kpictl.authoring.fmt import collect, format_files
    from kpictl.display import plural
    from kpictl.templating.escaping import visible

    cwd = Path.cwd()
    try:
        files = collect(paths or [resolve_registry(None)], cwd)
    except FileNotFoundError as exc:
        raise KpictlError(f"no such file or folder: {exc}") from None
    outcomes = sorted(
        format_files(files, write=not check_only, diff=show_diff), key=lambda o: str(o.display)
    )
    errors = [o for o in outcomes if o.status == "error"]
    changed = [o for o in outcomes if o.status == "changed"]
    for outcome in outcomes:
        # Names and messages come from the files: control characters are spelled out.
        shown = visible(outcome.display.as_posix())
        if outcome.status == "error":
            print(
                f"{shown}:{outcome.line}:{outcome.column}: cannot format (left untouched): "
                f"{visible(outcome.message)}"
            )
        elif outcome.status == "changed":
            print(f"{'would reformat' if check_only else 'reformatted'} {shown}")
            if outcome.diff:
                sys.stdout.write(outcome.diff)
    unchanged = len(outcomes) - len(errors) - len(changed)
    parts = [
        f"{plural(len(changed), 'file')} {'would be reformatted' if check_only else 'reformatted'}",
        f"{unchanged} already formatted",
    ]
    if errors:
        parts.append(f"{len(errors)} left untouched because of errors")
    print(", ".join(parts) + ".")
    return 1 if errors or (check_only and changed) else 0


@app.command("calendar")
def calendar_(
    path: RegistryPath = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="DATE",
            help="First day (YYYY-MM-DD). Default: today.",
            show_default=False,
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            "--to",
            metavar="DATE",
            help=(
                "Last day (YYYY-MM-DD), at most 10 years after --from. "
                "Default: 90 days after --from."
            ),
            show_default=False,
        ),
    ] = None,
    output: Annotated[Path | None, output_option("the calendar")] = None,
    out: Annotated[
        Path | None,
        # --out FILE, before -o/--output meant one file in every command: kept, unlisted.
        typer.Option("--out", metavar="FILE", hidden=True, show_default=False),
    ] = None,
) -> int:
    """Export the governance cadence as an iCalendar (.ics) file to import.

    Events: a weekly data health check per KPI owner (Mondays 09:30, listing their
    KPIs), the monthly KPI performance review (first Tuesday, 10:00, all owners), the
    quarterly signal review (second Wednesday of each fiscal quarter, 14:00, owners of
    business KPIs, the marketing, sales and finance leads, the executive team), and each
    campaign's readouts (start + N days, 15:00) and retrospective (a week after the
    end, 14:00), with its DACI as attendees; milestones on a weekend move to Monday.
    Times are in the registry's time zone; recurring rituals carry an RRULE up to
    --to. UIDs are stable, so importing a newer file updates the events.

    Example: `kpictl calendar --from 2026-10-01 --to 2026-12-31 -o cadence.ics`.
    """
    from kpictl.authoring.cadence import DEFAULT_WINDOW, build_events, to_ics, window_problem
    from kpictl.check.check import registry_today
    from kpictl.check.findings import Severity
    from kpictl.display import plural
    from kpictl.registry.registry import load_registry

    output = _one_of(output, "--output", out, "--out")
    first = parse_date(start, "--from")
    last = parse_date(end, "--to")
    registry, findings = load_registry(resolve_registry(path))
    first = first or registry_today(registry)
    last = last or first + DEFAULT_WINDOW
    problem = window_problem(first, last)
    if problem:
        raise typer.BadParameter(problem)  # the message names the options
    errors = sum(1 for item in findings if item.severity >= Severity.ERROR)
    if errors:
        print(
            f"kpictl: warning: {plural(errors, 'problem')} in the registry "
            "(`kpictl check` lists them); entities that do not pass the schema are left out",
            file=sys.stderr,
        )
    events = build_events(registry, first, last)
    data = to_ics(events, registry, first, last)
    write_output(data, output)
    if output is None:
        return 0
    print(f"Wrote {plural(len(events), 'event')} ({first} to {last}) to {output}.")
    return 0


@app.command()
def drill(
    kpi_id: Annotated[
        str, typer.Argument(metavar="KPI_ID", help="The KPI to rehearse.", show_default=False)
    ],
    path: RegistryPath = None,
    deviation: Annotated[
        float | None,
        typer.Option(
            "--deviation",
            metavar="PCT",
            help="How far the KPI is behind its target to date, in percent: the highest "
            "tier this reaches fires.",
            show_default=False,
        ),
    ] = None,
    outage: Annotated[
        bool,
        typer.Option("--outage", help="A data outage: the lowest tier with on_data_outage fires."),
    ] = False,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            metavar="DATETIME",
            help="When it starts: YYYY-MM-DDTHH:MM in the registry's time zone (or with an "
            "offset), or a date (09:00). Default: now.",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        DrillFormat,
        typer.Option("-f", "--format", help="text (default) or json.", show_default=False),
    ] = DrillFormat.text,
    output: Annotated[Path | None, output_option("the rehearsal")] = None,
) -> int:
    """Rehearse a KPI's escalation (a tabletop exercise): nothing is sent.

    Shows the tier that fires, who it notifies and who approves, the respond-by time,
    and, if nobody responds, the next tier firing at that respond-by, up to the top.
    Flags what would go wrong: a tier reaching nobody active, an inactive or unknown
    recipient, no active approver, someone notified at every tier, a respond-by on a
    weekend (registry time zone). An unknown KPI exits 1 with a suggestion.

    Examples: `kpictl drill mql --deviation 18 --at 2026-11-20T09:00`,
    `kpictl drill pipeline-sourced --outage --format json`.
    """
    import math

    from kpictl.authoring.drill import DrillError, as_json, build_drill, start_moment
    from kpictl.registry.registry import load_registry
    from kpictl.templating.escaping import json_text
    from kpictl.templating.render import registry_environment, render

    if (deviation is None) == (not outage):
        raise typer.BadParameter("give either --deviation PCT or --outage (one of them)")
    if deviation is not None and not math.isfinite(deviation):
        # typer reads 'inf' and 'nan' as floats; JSON has no such numbers.
        raise typer.BadParameter(
            f"'{deviation}' is not a finite number: give the percentage behind target, like 18",
            param_hint="--deviation",
        )
    if deviation is not None and deviation < 0:
        raise typer.BadParameter(
            "the deviation is a percentage behind target: 0 or more", param_hint="--deviation"
        )
    when = parse_date(at, "--at", with_time=True)
    registry, _ = load_registry(resolve_registry(path))
    start = start_moment(when, registry.settings.timezone)
    try:
        result = build_drill(registry, kpi_id, start, deviation=deviation, outage=outage)
    except DrillError as exc:
        raise KpictlError(str(exc), exit_code=exc.exit_code) from None
    if output_format == DrillFormat.json:
        text = json_text(as_json(result), indent=2) + "\n"
    else:
        text = render(registry_environment(registry), "drill/text.txt.j2", drill=result)
    write_output(text, output)
    return 0

"""The Typer app: options in, call the core, print, return an exit code.

Commands import the core lazily so `kpictl --version` and `--help` start fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kpictl import __version__
from kpictl.errors import KpictlError

if TYPE_CHECKING:
    from kpictl.models import Campaign
    from kpictl.outbox import Session

app = typer.Typer(
    name="kpictl",
    help=(
        "One git-versioned source of truth for marketing KPIs and who answers for them.\n\n"
        "Definitions, owners, data lineage, escalation policies, campaign charters and a "
        "shared glossary live as YAML files in a registry folder (the one holding "
        "kpictl.yaml). Start with `kpictl check` to validate it."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@contextmanager
def invoked_only(args: list[str]) -> Iterator[None]:
    """While running `args`, let typer build only the command being invoked.

    Typer turns every registered command into a click command on each start, which
    costs more than the rest of `kpictl --version`; the group's own --help, an unknown
    command and completion still see them all.
    """
    word = next((arg for arg in args if not arg.startswith("-")), None)
    chosen = [info for info in app.registered_commands if _command_name(info) == word]
    saved = app.registered_commands
    if chosen:
        app.registered_commands = chosen
    try:
        yield
    finally:
        app.registered_commands = saved


def _command_name(info: typer.models.CommandInfo) -> str | None:
    if info.name:
        return info.name
    callback = info.callback
    return callback.__name__.replace("_", "-") if callback else None


def _version(value: bool) -> None:
    if value:
        print(f"kpictl {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show a traceback when kpictl itself fails.")
    ] = False,
) -> None:
    """kpictl command line."""


def resolve_registry(path: Path | None) -> Path:
    """The registry root for PATH (or the current folder), or a one-line error."""
    from kpictl.config import ROOT_FILE, find_root

    start = path if path is not None else Path.cwd()
    if not start.exists():
        raise KpictlError(f"no such file or folder: {start}")
    root = find_root(start)
    if root is None:
        where = "the current folder" if path is None else str(path)
        raise KpictlError(
            f"no registry found: neither {where} nor any folder above it holds {ROOT_FILE}. "
            f"Pass the registry folder, or create {ROOT_FILE} with `version: 1`."
        )
    return root


def parse_as_of(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"'{value}' is not a date: use YYYY-MM-DD") from None


def parse_rule_list(values: list[str] | None, option: str) -> set[str]:
    from kpictl.catalog import lookup

    codes: set[str] = set()
    for value in values or []:
        for word in value.split(","):
            if not word.strip():
                continue
            rule = lookup(word)
            if rule is None:
                raise typer.BadParameter(
                    f"'{word.strip()}' is not a rule code or name; `kpictl rules` lists them",
                    param_hint=option,
                )
            codes.add(rule.code)
    return codes


def use_color(stream: object) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def write_output(text: str, output: Path | None) -> None:
    """Print `text`, or write it whole to `output` (temp file + rename)."""
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from kpictl.fileio import write_atomic

    try:
        write_atomic(output, text)
    except OSError as exc:
        raise KpictlError(f"cannot write {output}: {exc.strerror or exc}") from None


REGISTRY_HELP = (
    "The registry folder, or any file or folder inside it. "
    "Default: search upward from the current folder for kpictl.yaml."
)
# The optional registry argument most commands take first.
RegistryPath = Annotated[Path | None, typer.Argument(help=REGISTRY_HELP, show_default=False)]

FORMAT_HELP = (
    "text (default; github when GITHUB_ACTIONS=true), json, github (workflow annotations "
    "plus text), sarif (2.1.0, for GitHub code scanning) or junit."
)


@app.command()
def check(
    path: RegistryPath = None,
    output_format: Annotated[
        str | None,
        typer.Option("--format", "-f", metavar="FORMAT", help=FORMAT_HELP, show_default=False),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write the report to this file instead of stdout.",
        ),
    ] = None,
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on",
            metavar="LEVEL",
            help="Exit 1 when any finding is at or above this severity: error, warning or info.",
        ),
    ] = "error",
    select: Annotated[
        list[str] | None,
        typer.Option(
            "--select",
            metavar="RULES",
            help="Report only these rules (codes or names, comma-separated or repeated).",
        ),
    ] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option(
            "--ignore", metavar="RULES", help="Do not report these rules (codes or names)."
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            metavar="DATE",
            help="Check as if today were this date (YYYY-MM-DD). "
            "Default: today in the registry's time zone.",
            show_default=False,
        ),
    ] = None,
    show_source: Annotated[
        bool,
        typer.Option(
            "--show-source", help="Print the offending line with a caret under the value."
        ),
    ] = False,
    changed_since: Annotated[
        str | None,
        typer.Option(
            "--changed-since",
            metavar="REF",
            help="Check the whole registry but report only findings in files changed since "
            "this git ref (committed, staged, unstaged or untracked), plus those the change "
            "caused in other files.",
            show_default=False,
        ),
    ] = None,
    base: Annotated[
        str | None,
        typer.Option(
            "--base",
            metavar="REF",
            help="Compare with the registry at this git ref: a changed target (T003) or "
            "primary owner (O005) needs a rationale and an approver with the right to approve.",
            show_default=False,
        ),
    ] = None,
) -> int:
    """Validate the registry: schema, references, ownership, lineage, targets, charters.

    Prints one line per finding (path:line:col: CODE [severity] message) and a summary.
    Exit code 0 when nothing reaches --fail-on, 1 when something does, 2 when kpictl
    could not run. Silence one finding with a comment on its line, or alone on the
    line above: `# kpictl: ignore[O004]` or `# kpictl: ignore[T001] until 2026-12-31`.
    """
    from kpictl.findings import Severity
    from kpictl.formats import FORMATS, Report, writer

    if output_format is None:
        output_format = "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text"
    if output_format not in FORMATS:
        raise typer.BadParameter(
            f"'{output_format}' is not a format: use {', '.join(FORMATS)}", param_hint="--format"
        )
    try:
        threshold = Severity.parse(fail_on)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--fail-on") from None
    selected = parse_rule_list(select, "--select")
    ignored = parse_rule_list(ignore, "--ignore")
    today = parse_as_of(as_of)
    root = resolve_registry(path)

    if changed_since is not None or base is not None:
        from kpictl.changed import check_with_git

        result, note = check_with_git(root, today, selected, ignored, base, changed_since)
        if note:
            print(note, file=sys.stderr)
    else:
        from kpictl.check import check as run_check

        result = run_check(root, today=today, select=selected, ignore=ignored)
    color = output is None and output_format == "text" and use_color(sys.stdout)
    report = Report(result, threshold, show_source, color)
    write_output(writer(output_format)(report), output)
    return 1 if result.failed(threshold) else 0


@app.command()
def rules() -> int:
    """List every rule: code, name, default severity and what it checks.

    Change a rule's severity, or turn it off, under `rules:` in kpictl.yaml
    (`O004: off`, `T001: error`); pick rules for one run with --select / --ignore.
    """
    from kpictl.catalog import RULES

    for rule in RULES.values():
        print(f"{rule.code}  {rule.name:<32} {rule.severity.label:<8} {rule.summary}")
    return 0


@app.command()
def diff(
    base: Annotated[
        str | None,
        typer.Argument(
            metavar="BASE",
            help="The git ref to compare from. Default: where HEAD branched off the default "
            "branch (the pull request's base in GitHub Actions, else origin/HEAD, main or "
            "master).",
            show_default=False,
        ),
    ] = None,
    head: Annotated[
        str | None,
        typer.Argument(
            metavar="HEAD",
            help="The git ref to compare to. Default: the working tree, uncommitted "
            "changes included.",
            show_default=False,
        ),
    ] = None,
    registry: Annotated[
        Path | None,
        typer.Option("--registry", metavar="PATH", help=REGISTRY_HELP, show_default=False),
    ] = None,
    output_format: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="text (default), markdown (for a pull-request comment or job summary) or "
            "json (documented in docs/diff-json.md).",
            show_default=False,
        ),
    ] = "text",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write the diff to this file."),
    ] = None,
    fail_on_breaking: Annotated[
        bool,
        typer.Option(
            "--fail-on-breaking",
            help="Exit 1 when a change is breaking: an entity removed or renamed while "
            "something still names it, or a KPI's unit or direction changed.",
        ),
    ] = False,
) -> int:
    """Show what changed in the registry between two git refs, entity by entity.

    KPIs, policies, campaigns, sources, people, teams and glossary terms added,
    removed, renamed (same content, new id) or changed, with the fields that matter:
    owners, targets (old -> new and the % change, with approval), escalation tiers,
    charter status and sign-offs. A file that does not parse on one side is reported,
    not fatal. Exit code 0, unless --fail-on-breaking finds a breaking change (1).

    Examples: `kpictl diff` (this branch against main, uncommitted changes included),
    `kpictl diff v1.2 HEAD --format markdown >> "$GITHUB_STEP_SUMMARY"`.
    """
    from kpictl.diff import build_diff, resolve_sides
    from kpictl.diff_output import DIFF_FORMATS, render_diff
    from kpictl.render import environment
    from kpictl.revisions import TrackedRegistry

    if output_format not in DIFF_FORMATS:
        raise typer.BadParameter(
            f"'{output_format}' is not a diff format: use {', '.join(DIFF_FORMATS)}",
            param_hint="--format",
        )
    tracked = TrackedRegistry.locate(resolve_registry(registry))
    old, new = resolve_sides(tracked, base, head)
    result = build_diff(tracked, old, new)
    write_output(render_diff(result, output_format, environment()), output)
    return 1 if fail_on_breaking and result.breaking else 0


@app.command()
def changelog(
    kpi_id: Annotated[
        str, typer.Argument(metavar="KPI_ID", help="The KPI's id.", show_default=False)
    ],
    registry: Annotated[
        Path | None,
        typer.Option("--registry", metavar="PATH", help=REGISTRY_HELP, show_default=False),
    ] = None,
    rev: Annotated[
        str | None,
        typer.Option(
            "--rev",
            metavar="REF",
            help="Walk the history up to this git ref. Default: HEAD, plus uncommitted "
            "changes in the working tree.",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        str,
        typer.Option("--format", "-f", metavar="FORMAT", help="text (default), markdown or json."),
    ] = "text",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write the log to this file."),
    ] = None,
) -> int:
    """Show one KPI's history from git: who changed which target or owner, when, and why.

    Each entry is a commit that changed the KPI (on the first-parent line, so a merged
    pull request appears once, with its commits listed), with its date, author and
    message, and the fields it changed: targets (old -> new, % change, approver and
    rationale), owners, escalation policy and the rest. The KPI is followed when it
    moves to another file. Exit code 1 when the id never appears in the history.

    Example: `kpictl changelog mql --format markdown -o docs/mql-changes.md`.
    """
    from kpictl.changelog import CHANGELOG_FORMATS, build_changelog, render_changelog
    from kpictl.render import environment
    from kpictl.revisions import TrackedRegistry

    if output_format not in CHANGELOG_FORMATS:
        raise typer.BadParameter(
            f"'{output_format}' is not a changelog format: use {', '.join(CHANGELOG_FORMATS)}",
            param_hint="--format",
        )
    tracked = TrackedRegistry.locate(resolve_registry(registry))
    log = build_changelog(tracked, kpi_id, rev, include_working_tree=True)
    write_output(render_changelog(log, output_format, environment()), output)
    return 0


@app.command()
def codeowners(
    path: Annotated[
        Path | None,
        typer.Argument(metavar="PATH", help=REGISTRY_HELP, show_default=False),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="The CODEOWNERS file. Default: .github/CODEOWNERS in the git repository "
            "that holds the registry.",
            show_default=False,
        ),
    ] = None,
    check_only: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Write nothing; exit 1 and print a diff when the file is not up to date.",
        ),
    ] = False,
) -> int:
    """Write the CODEOWNERS lines that make a KPI's owners review changes to it.

    Each file defining a KPI (primary and backup owner), a data source (owner), a
    campaign (DACI driver and approver) or a glossary term (owner) is mapped to its
    owners' GitHub handles (`github:` on each person). The lines go between marker
    comments; the rest of an existing CODEOWNERS file is kept. Owners without a
    handle, or inactive, are listed in a comment and reported as warnings.
    """
    from kpictl import codeowners as co
    from kpictl.revisions import TrackedRegistry

    tracked = TrackedRegistry.locate(resolve_registry(path))
    registry, _ = tracked.working()
    built = co.build(registry, tracked.prefix or ".")
    target = output if output is not None else tracked.repo.top / co.DEFAULT_PATH
    try:
        existing = target.read_text(encoding="utf-8") if target.exists() else None
    except (OSError, UnicodeDecodeError) as exc:
        raise KpictlError(f"cannot read {target}: {exc}") from None
    wanted = co.merge(existing, built.block)
    for warning in built.warnings():
        print(f"kpictl: warning: {warning}", file=sys.stderr)
    from kpictl.registry import display_path

    shown = display_path(target, Path.cwd()).as_posix()
    if check_only:
        if existing == wanted:
            print(f"{shown} is up to date ({built.files} files).")
            return 0
        sys.stdout.write(co.unified_diff(shown, existing, wanted))
        print(
            f"kpictl: {shown} is out of date: run `kpictl codeowners` and commit it",
            file=sys.stderr,
        )
        return 1
    if existing == wanted:
        print(f"{shown} is up to date ({built.files} files).")
        return 0
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KpictlError(f"cannot create {target.parent}: {exc.strerror or exc}") from None
    write_output(wanted, target)
    print(f"Wrote {shown}: owners for {built.files} files.")
    return 0


MAP_FORMAT_HELP = (
    "text (default: tables on a terminal, plain when piped), markdown (commit it as "
    "ACCOUNTABILITY.md or paste it into a wiki), mermaid, dot (Graphviz), json "
    "(documented in docs/map-json.md) or html (one self-contained page)."
)
AS_OF_HELP = (
    "Check the registry as if today were this date (YYYY-MM-DD), for the error banner. "
    "Default: today in the registry's time zone."
)


@app.command("map")
def map_(
    path: RegistryPath = None,
    output_format: Annotated[
        str,
        typer.Option("--format", "-f", metavar="FORMAT", help=MAP_FORMAT_HELP, show_default=False),
    ] = "text",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write the map to this file (whole, or not at all).",
        ),
    ] = None,
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
        str | None, typer.Option("--as-of", metavar="DATE", help=AS_OF_HELP, show_default=False)
    ] = None,
) -> int:
    """Show who answers for every KPI: owners, data lineage, escalation ladder.

    For each KPI: stage, leading or lagging, audience, primary and backup owner, the
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
    from kpictl.views.output import MAP_FORMATS, render_map

    if output_format not in MAP_FORMATS:
        raise typer.BadParameter(
            f"'{output_format}' is not a map format: use {', '.join(MAP_FORMATS)}",
            param_hint="--format",
        )
    if by not in GROUPINGS:
        raise typer.BadParameter(
            f"'{by}' is not a grouping: use {', '.join(GROUPINGS)}", param_hint="--by"
        )
    from kpictl.views.load import checked_registry

    registry, summary = checked_registry(resolve_registry(path), parse_as_of(as_of))
    try:
        view = build_map(registry, by=by, kpi_ids=kpi or (), owner_ids=owner or (), check=summary)
    except UnknownId as exc:
        raise KpictlError(str(exc), exit_code=1) from None
    if output_format == "text" and output is None and sys.stdout.isatty():
        from kpictl.views.terminal import print_map

        print_map(view)
        return 0
    from kpictl.render import environment, override_folder

    write_output(render_map(view, output_format, environment(override_folder(registry))), output)
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
        str,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="text (default), markdown or json.",
            show_default=False,
        ),
    ] = "text",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write the answer to this file instead of stdout.",
        ),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", metavar="DATE", help=AS_OF_HELP, show_default=False)
    ] = None,
) -> int:
    """Show everything a person or a team answers for.

    KPIs they own as primary or backup, data sources they own (and the KPIs that read
    them), escalation tiers where they are notified or approve (for which KPIs, and
    why: as owner, as manager, as a team lead, by name), campaign roles in DACI and
    RACI, and glossary terms they own. For a team: its lead, its members, and all of
    the above for each member plus what names the team itself.

    Examples: `kpictl who aisha-okafor`, `kpictl who revops --format markdown`.
    """
    from kpictl.views.accountability import UnknownId, build_who
    from kpictl.views.output import WHO_FORMATS, render_who

    if output_format not in WHO_FORMATS:
        raise typer.BadParameter(
            f"'{output_format}' is not a format for who: use {', '.join(WHO_FORMATS)}",
            param_hint="--format",
        )
    from kpictl.views.load import checked_registry

    registry, summary = checked_registry(resolve_registry(path), parse_as_of(as_of))
    try:
        view = build_who(registry, subject, check=summary)
    except UnknownId as exc:
        raise KpictlError(str(exc), exit_code=1) from None
    from kpictl.render import environment, override_folder

    write_output(render_who(view, output_format, environment(override_folder(registry))), output)
    return 0


# --- status and emails ----------------------------------------------------------------------

ACTUALS_HELP = (
    "CSV of actual values (kpi,period,value,as_of), or - for stdin. For a campaign's own "
    "results, put the campaign id in the period column. Bad rows are reported with their "
    "row number and skipped."
)
WHEN_HELP = (
    "Evaluate at this date (YYYY-MM-DD, meaning 09:00 in the registry's time zone) or "
    "date-time (YYYY-MM-DDTHH:MM). Given, every run prints the same output. "
    "Default: now in the registry's time zone."
)
OUT_HELP = "Write one .eml file per email, plus index.md, into this folder."
SEND_HELP = (
    "--dry-run (default) only shows the emails; --send sends them through email.smtp in "
    "kpictl.yaml (password from KPICTL_SMTP_PASSWORD) and stops at the first failure."
)


def parse_when(value: str | None) -> date | datetime | None:
    """--as-of for commands that evaluate: a date (09:00 that day) or a date-time."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"'{value}' is not a date or date-time: use YYYY-MM-DD or YYYY-MM-DDTHH:MM",
            param_hint="--as-of",
        ) from None


@app.command()
def status(
    actuals: Annotated[str, typer.Option("--actuals", "-a", metavar="FILE", help=ACTUALS_HELP)],
    path: RegistryPath = None,
    output_format: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="text (default), markdown (paste it into the weekly review), json or csv.",
        ),
    ] = "text",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write the scorecard to this file instead of stdout.",
        ),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", metavar="DATE", help=WHEN_HELP, show_default=False)
    ] = None,
) -> int:
    """The scorecard: every KPI against its target to date, worst first.

    For each KPI: the current period (the shortest target period holding the evaluation
    date), the target, the target to date (prorated for linear pacing), the actual value,
    the deviation, the state (on track, tier N, data outage, no target), the owner and,
    when a tier fires, the respond-by time. Example:
    `kpictl status registry --actuals registry/actuals/2026-11-20.csv --format markdown`.
    """
    from kpictl import status as scorecard

    if output_format not in scorecard.FORMATS:
        raise typer.BadParameter(
            f"'{output_format}' is not a format for status: use {', '.join(scorecard.FORMATS)}",
            param_hint="--format",
        )
    when = parse_when(as_of)
    from kpictl.emails.env import environment_for
    from kpictl.evaluate import evaluate
    from kpictl.outbox import open_session

    session = open_session(resolve_registry(path), actuals, when)
    assert session.actuals is not None
    statuses = evaluate(session.registry, session.actuals, session.moment)
    env = environment_for(session.registry) if output_format in ("text", "markdown") else None
    text = scorecard.render(session.registry, statuses, session.moment, output_format, env)
    write_output(text, output)
    return 0


@app.command()
def escalate(
    actuals: Annotated[str, typer.Option("--actuals", "-a", metavar="FILE", help=ACTUALS_HELP)],
    path: RegistryPath = None,
    out: Annotated[Path | None, typer.Option("--out", metavar="DIR", help=OUT_HELP)] = None,
    send: Annotated[bool, typer.Option("--send/--dry-run", help=SEND_HELP)] = False,
    as_of: Annotated[
        str | None, typer.Option("--as-of", metavar="DATE", help=WHEN_HELP, show_default=False)
    ] = None,
) -> int:
    """One escalation email for every KPI whose state fires a tier.

    To: the tier's notify list as people (roles and team leads resolved, inactive people
    replaced by the KPI's backup); Cc: the approver. The email says what is wrong, what
    may cause it (from the KPI's data lineage), what it means for the period target, what
    the tier asks for, who approves and who acts, the respond-by time and the next tier.
    A data outage gets its own email naming the source owners and the fallback source.
    Without --out or --send, prints a summary and every email's text.
    """
    when = parse_when(as_of)
    from kpictl.evaluate import evaluate
    from kpictl.outbox import deliver, open_session

    session = open_session(resolve_registry(path), actuals, when)
    assert session.actuals is not None
    statuses = evaluate(session.registry, session.actuals, session.moment)
    mailer = session.mailer()
    emails = mailer.escalations(statuses)
    title = f"Escalations for {_moment_text(session.moment)}"
    return deliver(session, emails, mailer.warnings, out, send, title)


def _moment_text(moment: datetime) -> str:
    from kpictl.display import moment as moment_text

    return moment_text(moment)


CAMPAIGN_ARG_HELP = "The campaign id (kind: campaign in the registry)."


@app.command()
def kickoff(
    campaign: Annotated[str, typer.Argument(help=CAMPAIGN_ARG_HELP, show_default=False)],
    path: RegistryPath = None,
    actuals: Annotated[
        str | None,
        typer.Option(
            "--actuals", "-a", metavar="FILE", help=ACTUALS_HELP + " Optional: adds today's values."
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", metavar="DIR", help=OUT_HELP)] = None,
    send: Annotated[bool, typer.Option("--send/--dry-run", help=SEND_HELP)] = False,
    as_of: Annotated[
        str | None, typer.Option("--as-of", metavar="DATE", help=WHEN_HELP, show_default=False)
    ] = None,
) -> int:
    """The "here we go" email to everyone on the charter's DACI list.

    Context, objective, strategies, out of scope, primary and secondary KPIs with their
    targets, who drives and who approves, risks, timeline and readout dates. Refuses
    (exit 1) until the charter's DACI approver has signed it off (sign_off in the charter).
    """
    when = parse_when(as_of)
    from kpictl.outbox import deliver, find_campaign, open_session
    from kpictl.rules.base import Context
    from kpictl.rules.campaigns import approver_signed

    session = open_session(resolve_registry(path), actuals, when)
    charter = find_campaign(session.registry, campaign)
    if not approver_signed(Context(session.registry, session.moment.date()), charter):
        raise KpictlError(
            f"'{charter.id}' is not signed off by its approver {charter.daci.approver}: add "
            f"sign_off: [{{by: {charter.daci.approver}, date: YYYY-MM-DD}}] to the charter "
            "before the kickoff email goes out",
            exit_code=1,
        )
    mailer = session.mailer()
    email = mailer.kickoff(charter, session.actuals)
    emails = [email] if email else []
    return deliver(session, emails, mailer.warnings, out, send, f"Kickoff for {charter.id}")


def _charter_session(
    path: Path | None, actuals: str | None, as_of: str | None, campaign: str, draft: str
) -> tuple[Session, Campaign]:
    """The evaluation session and the charter for a campaign email; refuses a draft."""
    from kpictl.outbox import find_campaign, open_session

    session = open_session(resolve_registry(path), actuals, parse_when(as_of))
    charter = find_campaign(session.registry, campaign)
    if charter.status == "draft":
        raise KpictlError(f"'{charter.id}' {draft}", exit_code=1)
    return session, charter


@app.command()
def readout(
    campaign: Annotated[str, typer.Argument(help=CAMPAIGN_ARG_HELP, show_default=False)],
    actuals: Annotated[str, typer.Option("--actuals", "-a", metavar="FILE", help=ACTUALS_HELP)],
    path: RegistryPath = None,
    day: Annotated[
        int | None,
        typer.Option(
            "--day",
            metavar="DAYS",
            help="Which readout: days after the start, as listed in timeline.readouts. "
            "Default: the latest readout due on or before the evaluation date.",
            show_default=False,
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", metavar="DIR", help=OUT_HELP)] = None,
    send: Annotated[bool, typer.Option("--send/--dry-run", help=SEND_HELP)] = False,
    as_of: Annotated[
        str | None, typer.Option("--as-of", metavar="DATE", help=WHEN_HELP, show_default=False)
    ] = None,
) -> int:
    """The 30/60/90-day results readout of a campaign.

    Each charter KPI against its target to date on the readout day (the campaign target
    prorated over the timeline for linear pacing), from actual rows whose period is the
    campaign id; then the risks and what is next.
    """
    from kpictl.evaluate import charter_results
    from kpictl.outbox import deliver, pick_readout

    session, charter = _charter_session(
        path,
        actuals,
        as_of,
        campaign,
        "is still a draft: readouts start once the charter is signed off",
    )
    assert session.actuals is not None
    today = session.moment.date()
    number, on = pick_readout(charter, day, today)
    results = charter_results(session.registry, charter, session.actuals, on)
    mailer = session.mailer()
    email = mailer.readout(charter, number, on, results)
    emails = [email] if email else []
    title = f"Day-{number} readout for {charter.id}"
    return deliver(session, emails, mailer.warnings, out, send, title)


@app.command()
def recap(
    campaign: Annotated[str, typer.Argument(help=CAMPAIGN_ARG_HELP, show_default=False)],
    actuals: Annotated[str, typer.Option("--actuals", "-a", metavar="FILE", help=ACTUALS_HELP)],
    path: RegistryPath = None,
    out: Annotated[Path | None, typer.Option("--out", metavar="DIR", help=OUT_HELP)] = None,
    send: Annotated[bool, typer.Option("--send/--dry-run", help=SEND_HELP)] = False,
    as_of: Annotated[
        str | None, typer.Option("--as-of", metavar="DATE", help=WHEN_HELP, show_default=False)
    ] = None,
) -> int:
    """The executive-summary recap of a campaign.

    What the work was, what the goal was, each charter KPI against its target (hit or
    missed, by how much), why (the charter's retrospective), what worked, what did not,
    and recommendations. Refuses a draft; warns when a complete campaign has no
    retrospective, or when the campaign is not complete yet (results to date).
    """
    from kpictl.evaluate import charter_results
    from kpictl.outbox import deliver

    session, charter = _charter_session(
        path, actuals, as_of, campaign, "is a draft: there is nothing to recap until it has run"
    )
    assert session.actuals is not None
    warnings: list[str] = []
    if charter.status == "complete" and charter.retrospective is None:
        warnings.append(
            f"'{charter.id}' is complete but has no retrospective: the recap cannot say why; "
            "add retrospective (why, worked, did_not_work, recommendations) to the charter"
        )
    elif charter.status != "complete":
        warnings.append(f"'{charter.id}' is {charter.status}: the recap shows results to date")
    day = session.moment.date()
    results = charter_results(session.registry, charter, session.actuals, day)
    mailer = session.mailer()
    email = mailer.recap(charter, results, day)
    emails = [email] if email else []
    return deliver(
        session, emails, [*warnings, *mailer.warnings], out, send, f"Recap of {charter.id}"
    )


# --------------------------------------------------------------------------------------
# Authoring and governance rituals: schema, init, new, fmt, calendar, drill
# --------------------------------------------------------------------------------------


@app.command()
def schema(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            metavar="DIR",
            help="Write every schema into this folder (created if missing): kpictl.schema.json "
            "for kpictl.yaml, entity.schema.json for any entity, and one per kind.",
            show_default=False,
        ),
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
    from kpictl import schema as schemas

    if out is not None:
        try:
            written = schemas.write(out)
        except OSError as exc:
            raise KpictlError(f"cannot write into {out}: {exc.strerror or exc}") from None
        print(f"Wrote {len(written)} schemas to {out}.")
        return 0
    every = schemas.schemas()
    name = f"{kind.replace('-', '_')}.schema.json"
    if name not in every:
        choices = ", ".join(n.removesuffix(".schema.json") for n in every)
        raise typer.BadParameter(f"'{kind}' is not a schema: use {choices}", param_hint="--kind")
    write_output(schemas.render(every[name]), None)
    return 0


@app.command()
def init(
    folder: Annotated[
        Path,
        typer.Argument(help="Where to create the registry (created if missing). Default: here."),
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
) -> int:
    """Start a new registry: kpictl.yaml, one example of each kind, editor and CI set-up.

    Writes kpictl.yaml; a person, team, data source, KPI, escalation policy, campaign
    charter and glossary term to edit or copy (they check clean today); the JSON Schemas
    in .kpictl/schema/ with .vscode/settings.json mapping them for the YAML language
    server; a .pre-commit-config.yaml (fmt, check, schemas); and a GitHub Actions
    workflow in .github/workflows/kpictl.yml running `kpictl fmt --check` and
    `kpictl check --format github`. Refuses (exit 1) a folder that already holds
    kpictl.yaml or YAML files, and never overwrites a file.
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from kpictl.check import check as run_check
    from kpictl.scaffold import ScaffoldError, plan, write

    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise typer.BadParameter(
            f"'{timezone}' is not a known time zone: use an IANA name such as Europe/Berlin",
            param_hint="--timezone",
        ) from None
    from datetime import datetime

    today = datetime.now(zone).date()
    try:
        written = write(folder, plan(organization, timezone, today, fiscal_year_start_month))
    except ScaffoldError as exc:
        raise KpictlError(str(exc), exit_code=1) from None
    except OSError as exc:
        raise KpictlError(f"cannot write into {folder}: {exc.strerror or exc}") from None
    result = run_check(folder, today=today)
    print(f"Created a kpictl registry in {folder} ({len(written)} files).")
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
            help="person, team, data_source, kpi, escalation_policy, campaign or glossary_term.",
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
    from kpictl.authoring import NewError, Shape, build, convert, folder_for, resolve_kind
    from kpictl.check import check as run_check
    from kpictl.fileio import write_atomic
    from kpictl.models import ID_PATTERN
    from kpictl.registry import display_path, load_registry
    from kpictl.yamlfmt import dump_entity

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

    def ask(label: str, shape: Shape) -> object:
        hint = shape.hint()
        while True:
            text = typer.prompt(f"{label}{f' ({hint})' if hint else ''}")
            try:
                return shape.check(convert(text, shape, label), label)
            except NewError as exc:
                typer.echo(f"  {exc}", err=True)

    interactive = sys.stdin.isatty()
    try:
        data = build(kind, entity_id, list(fields or []), ask if interactive else None)
    except NewError as exc:
        raise KpictlError(str(exc)) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
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
            f"{item.code} [{item.severity.label}] {item.message}"
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
    not parse, or holds tags or duplicate keys, is reported and left untouched (exit 1).

    Examples: `kpictl fmt`, `kpictl fmt --check` (for CI), `kpictl fmt kpis/mql.yaml`.
    """
    from kpictl.yamlfmt import collect, format_files

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
        shown = outcome.display.as_posix()
        if outcome.status == "error":
            print(
                f"{shown}:{outcome.line}:{outcome.column}: cannot format (left untouched): "
                f"{outcome.message}"
            )
        elif outcome.status == "changed":
            print(f"{'would reformat' if check_only else 'reformatted'} {shown}")
            if outcome.diff:
                sys.stdout.write(outcome.diff)
    unchanged = len(outcomes) - len(errors) - len(changed)
    parts = [
        f"{len(changed)} file{'s' if len(changed) != 1 else ''} "
        f"{'would be reformatted' if check_only else 'reformatted'}",
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
            help="Last day (YYYY-MM-DD). Default: 90 days after --from.",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            metavar="FILE",
            help="Write the .ics file here (whole). Default: stdout.",
            show_default=False,
        ),
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

    Example: `kpictl calendar --from 2026-10-01 --to 2026-12-31 --out cadence.ics`.
    """
    from kpictl.cadence import DEFAULT_WINDOW, build_events, to_ics
    from kpictl.check import registry_today
    from kpictl.findings import Severity
    from kpictl.registry import load_registry

    first = parse_as_of(start)
    last = parse_as_of(end)
    registry, findings = load_registry(resolve_registry(path))
    first = first or registry_today(registry)
    last = last or first + DEFAULT_WINDOW
    if last < first:
        raise typer.BadParameter(f"--to {last} is before --from {first}", param_hint="--to")
    errors = sum(1 for item in findings if item.severity >= Severity.ERROR)
    if errors:
        print(
            f"kpictl: warning: {errors} problem{'s' if errors != 1 else ''} in the registry "
            "(`kpictl check` lists them); entities that do not pass the schema are left out",
            file=sys.stderr,
        )
    events = build_events(registry, first, last)
    data = to_ics(events, registry)
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return 0
    from kpictl.fileio import write_atomic

    try:
        write_atomic(out, data)
    except OSError as exc:
        raise KpictlError(f"cannot write {out}: {exc.strerror or exc}") from None
    print(
        f"Wrote {len(events)} event{'s' if len(events) != 1 else ''} ({first} to {last}) to {out}."
    )
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
        str,
        typer.Option(
            "--format", "-f", metavar="FORMAT", help="text (default) or json.", show_default=False
        ),
    ] = "text",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", metavar="FILE", help="Write to this file instead of stdout."
        ),
    ] = None,
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
    import json

    from kpictl.drill import DrillError, as_json, build_drill, parse_at
    from kpictl.registry import load_registry
    from kpictl.render import environment, override_folder, render

    if (deviation is None) == (not outage):
        raise typer.BadParameter("give either --deviation PCT or --outage (one of them)")
    if deviation is not None and deviation < 0:
        raise typer.BadParameter(
            "the deviation is a percentage behind target: 0 or more", param_hint="--deviation"
        )
    if output_format not in ("text", "json"):
        raise typer.BadParameter(
            f"'{output_format}' is not a format: use text or json", param_hint="--format"
        )
    registry, _ = load_registry(resolve_registry(path))
    try:
        start = parse_at(at, registry.settings.timezone)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--at") from None
    try:
        result = build_drill(registry, kpi_id, start, deviation=deviation, outage=outage)
    except DrillError as exc:
        raise KpictlError(str(exc), exit_code=1) from None
    if output_format == "json":
        text = json.dumps(as_json(result), indent=2, ensure_ascii=False) + "\n"
    else:
        text = render(environment(override_folder(registry)), "drill/text.txt.j2", drill=result)
    write_output(text, output)
    return 0

"""Commands over git history: `kpictl diff`, `kpictl changelog`, `kpictl codeowners`."""

import sys
from pathlib import Path
from typing import Annotated

import typer

from kpictl.cli import (
    REGISTRY_HELP,
    RegistryPath,
    app,
    output_option,
    resolve_registry,
    write_output,
)
from kpictl.errors import KpictlError
from kpictl.output_formats import ChangelogFormat, DiffFormat

# `--registry PATH`, what diff and changelog took before PATH became an argument as
# everywhere else; kept, unlisted, so that existing scripts keep working.
LegacyRegistry = Annotated[
    Path | None, typer.Option("--registry", metavar="PATH", hidden=True, show_default=False)
]


def _registry_path(path: Path | None, registry: Path | None) -> Path | None:
    if path is not None and registry is not None:
        raise typer.BadParameter(
            "give the registry once: as PATH, or with the older --registry", param_hint="PATH"
        )
    return path if path is not None else registry


def _split_diff_arguments(
    base: str | None, head: str | None, path: str | None
) -> tuple[str | None, str | None, Path | None]:
    """BASE, HEAD and PATH from up to three arguments: the last, if it names something
    on disk, is PATH (as git tells a path from a revision), the others are refs."""
    given = [word for word in (base, head, path) if word is not None]
    folder: Path | None = None
    if given and (path is not None or Path(given[-1]).exists()):
        folder = Path(given.pop())
    return (given[0] if given else None), (given[1] if len(given) > 1 else None), folder


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
    path: Annotated[
        str | None,
        typer.Argument(
            metavar="PATH",
            help=REGISTRY_HELP + " Taken as PATH, not as a ref, when it names an existing "
            "file or folder: `kpictl diff registry`, `kpictl diff main HEAD registry`.",
            show_default=False,
        ),
    ] = None,
    registry: LegacyRegistry = None,
    output_format: Annotated[
        DiffFormat,
        typer.Option(
            "-f",
            "--format",
            help="text (default), markdown (for a pull-request comment or job summary) or "
            "json (documented in docs/diff-json.md).",
            show_default=False,
        ),
    ] = DiffFormat.text,
    output: Annotated[Path | None, output_option("the diff")] = None,
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
    from kpictl.history.diff import build_diff, resolve_sides
    from kpictl.history.diff_output import render_diff
    from kpictl.history.revisions import TrackedRegistry
    from kpictl.templating.render import environment

    base, head, folder = _split_diff_arguments(base, head, path)
    tracked = TrackedRegistry.locate(resolve_registry(_registry_path(folder, registry)))
    old, new = resolve_sides(tracked, base, head)
    result = build_diff(tracked, old, new)
    write_output(render_diff(result, output_format.value, environment()), output)
    return 1 if fail_on_breaking and result.breaking else 0


@app.command()
def changelog(
    kpi_id: Annotated[
        str, typer.Argument(metavar="KPI_ID", help="The KPI's id.", show_default=False)
    ],
    path: RegistryPath = None,
    registry: LegacyRegistry = None,
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
        ChangelogFormat,
        typer.Option("-f", "--format", help="text (default), markdown or json."),
    ] = ChangelogFormat.text,
    output: Annotated[Path | None, output_option("the log")] = None,
) -> int:
    """Show one KPI's history from git: who changed which target or owner, when, and why.

    Each entry is a commit that changed the KPI (on the first-parent line, so a merged
    pull request appears once, with its commits listed), with its date, author and
    message, and the fields it changed: targets (old -> new, % change, approver and
    rationale), owners, escalation policy and the rest. The KPI is followed when it
    moves to another file. Exit code 2 when the id never appears in the history, as
    for any unknown id.

    Example: `kpictl changelog mql --format markdown -o docs/mql-changes.md`.
    """
    from kpictl.history.changelog import build_changelog, render_changelog
    from kpictl.history.revisions import TrackedRegistry
    from kpictl.templating.render import environment

    tracked = TrackedRegistry.locate(resolve_registry(_registry_path(path, registry)))
    log = build_changelog(tracked, kpi_id, rev, include_working_tree=True)
    write_output(render_changelog(log, output_format.value, environment()), output)
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
    from kpictl.history import codeowners as co
    from kpictl.history.revisions import TrackedRegistry

    tracked = TrackedRegistry.locate(resolve_registry(path))
    registry, _ = tracked.working()
    built = co.build(registry, tracked.prefix or ".")
    target = output if output is not None else tracked.repo.top / co.DEFAULT_PATH
    top = tracked.repo.top.resolve()
    if output is None and not target.parent.resolve().is_relative_to(top):
        # A `.github` planted as a link out of the repository would take the write.
        raise KpictlError(
            f"{target.parent} leads outside the repository (a symbolic link?); "
            "pass --output FILE to say where CODEOWNERS goes"
        )
    from kpictl.display import plural
    from kpictl.fileio import read_regular_text
    from kpictl.registry.registry import display_path

    shown = display_path(target, Path.cwd()).as_posix()
    try:
        existing = read_regular_text(target)
    except OSError as exc:
        raise KpictlError(f"cannot read {shown}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise KpictlError(f"cannot read {shown}: not UTF-8 ({exc.reason})") from None
    try:
        wanted = co.merge(existing, built.block)
    except co.MarkerError as exc:
        raise KpictlError(f"{shown}: {exc}") from None
    for warning in built.warnings():
        print(f"kpictl: warning: {warning}", file=sys.stderr)
    if check_only:
        if existing == wanted:
            print(f"{shown} is up to date ({plural(built.files, 'file')}).")
            return 0
        sys.stdout.write(co.unified_diff(shown, existing, wanted))
        print(
            f"kpictl: {shown} is out of date: run `kpictl codeowners` and commit it",
            file=sys.stderr,
        )
        return 1
    if existing == wanted:
        print(f"{shown} is up to date ({plural(built.files, 'file')}).")
        return 0
    from kpictl.fileio import make_folder

    try:
        make_folder(target.parent)
    except OSError as exc:
        raise KpictlError(f"cannot create {target.parent}: {exc.strerror or exc}") from None
    write_output(wanted, target)
    print(f"Wrote {shown}: owners for {plural(built.files, 'file')}.")
    return 0

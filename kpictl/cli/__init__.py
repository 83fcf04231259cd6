"""The Typer app: options in, call the core, print, return an exit code.

The commands live in the modules of this package, by area; a run imports only the
module of the command it runs (`commands_for`), and each command imports the core
it needs when called, so `kpictl check` never loads the email or git code and
`kpictl --version` loads none of it. Annotations here are real objects, not
strings (no `from __future__ import annotations`): typer would compile and evaluate
each string on every run.
"""

import contextlib
import importlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from kpictl import __version__
from kpictl.compat import command_name, registered_commands, set_registered_commands
from kpictl.errors import KpictlError

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


# The command modules, each with its commands in the order `kpictl --help` lists them.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "checking": ("check", "rules"),
    "history": ("diff", "changelog", "codeowners"),
    "views": ("map", "who", "experiments"),
    "emails": ("status", "escalate", "kickoff", "review-request", "readout", "recap"),
    "pull": ("pull",),
    "authoring": ("schema", "init", "new", "fmt", "calendar", "drill"),
    # A group (`kpictl actuals import|export`): typer lists groups after the commands.
    "actuals": ("actuals",),
}
ORDER = {name: i for i, name in enumerate(n for names in COMMAND_MODULES.values() for n in names)}


@contextmanager
def commands_for(args: list[str]) -> Iterator[None]:
    """Register the commands running `args` needs; while it runs, typer sees only those.

    The command being invoked needs its own module, and typer then builds only that
    command (turning every command into a click command costs more than the rest of
    `kpictl --version`). The group's --help, an unknown command and no command at
    all need every module, and see every command in the order of COMMAND_MODULES.
    """
    word = next((arg for arg in args if not arg.startswith("-")), None)
    modules = [module for module, names in COMMAND_MODULES.items() if word in names]
    app._add_completion = _wants_completion(args, group=not modules)
    for module in modules or COMMAND_MODULES:
        importlib.import_module(f"kpictl.cli.{module}")
    registered = sorted(registered_commands(app), key=lambda info: ORDER[command_name(info)])
    chosen = [info for info in registered if command_name(info) == word]
    set_registered_commands(app, chosen or registered)
    try:
        yield
    finally:
        set_registered_commands(app, registered)


COMPLETION_OPTIONS = ("--install-completion", "--show-completion")
# The variable a shell's completion function sets when it asks kpictl for candidates.
COMPLETE_VARIABLE = "_KPICTL_COMPLETE"


def _wants_completion(args: list[str], group: bool) -> bool:
    """Whether this run needs typer's shell-completion options (--install-completion).

    Wiring them in imports typer's completion modules and shellingham, a cost `kpictl
    check` should not pay on every run; so only a run that uses them, asks the shell
    for candidates, or shows the group's help (which lists them) gets them.
    """
    if COMPLETE_VARIABLE in os.environ:
        return True
    if any(arg.split("=", 1)[0] in COMPLETION_OPTIONS for arg in args):
        return True
    return group and (not args or "--help" in args or "-h" in args)


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
        bool,
        typer.Option(
            "--debug",
            help="Show a traceback when kpictl itself fails, and debug notes on stderr.",
        ),
    ] = False,
) -> None:
    """kpictl command line."""


def resolve_registry(path: Path | None) -> Path:
    """The registry root for PATH (or the current folder), or a one-line error.

    Every command finds its registry here. Without PATH, the current folder or the
    nearest one above it holding kpictl.yaml; failing that, the one kpictl.yaml the
    git repository tracks below the current folder, so a command run at the top of a
    repository whose registry sits in a subfolder still finds it (and says so).
    """
    from kpictl.registry.config import ROOT_FILE, find_root

    start = path if path is not None else Path.cwd()
    if not start.exists():
        raise KpictlError(f"no such file or folder: {start}")
    root = find_root(start)
    if root is None and path is None:
        root = _tracked_root(start)
    if root is None:
        where = "the current folder" if path is None else str(path)
        raise KpictlError(
            f"no registry found: neither {where} nor any folder above it holds {ROOT_FILE}. "
            f"Pass the registry folder, or create {ROOT_FILE} with `version: 1`."
        )
    return root


def _tracked_root(cwd: Path) -> Path | None:
    """The registry below `cwd` that git tracks, when there is exactly one; None if none.

    Hidden folders are skipped (as the loader skips them); a root file that is a
    link is skipped too, since following it could lead outside the repository.
    """
    from kpictl.history.git import tracked_below
    from kpictl.registry.config import ROOT_FILE
    from kpictl.templating.escaping import visible

    found = [
        rel
        for rel in tracked_below(cwd, ROOT_FILE) or []
        if not any(part.startswith(".") for part in rel.split("/")[:-1])
        and not (cwd / rel).is_symlink()
        and (cwd / rel).is_file()
    ]
    if len(found) > 1:
        listed = ", ".join(visible(Path(rel).parent) + "/" for rel in found)
        raise KpictlError(
            f"no {ROOT_FILE} in the current folder or above it, and this git repository "
            f"tracks several below it ({listed}): pass the registry folder"
        )
    if not found:
        return None
    folder = Path(found[0]).parent
    print(f"kpictl: using registry at {visible(folder.as_posix())}/", file=sys.stderr)
    return (cwd / folder).resolve()


# The one parser of date options, for every command: --as-of, --at, --from, --to.
# What a date alone or a naive date-time means (09:00 that day, the registry's time
# zone) is decided once, in kpictl.numbers.evaluate.evaluation_moment.
NOT_A_DATE = "'{value}' is not a date: use YYYY-MM-DD"
NOT_A_MOMENT = (
    "'{value}' is not a date or date-time: use YYYY-MM-DD (09:00), "
    "YYYY-MM-DDTHH:MM (registry time zone) or YYYY-MM-DDTHH:MM+01:00"
)


def parse_date(
    value: str | None, option: str, *, with_time: bool = False
) -> date | datetime | None:
    """The date (or, `with_time`, the date or date-time) an option names, or a usage error.

    Checked against the dates kpictl can count from before any time zone is applied:
    converting 9999-12-31T23:00 overflows.
    """
    from kpictl.registry.bounds import day_problem

    if value is None:
        return None
    when = _from_iso(value, with_time)
    if when is None:
        message = NOT_A_MOMENT if with_time else NOT_A_DATE
        raise typer.BadParameter(message.format(value=value), param_hint=option)
    problem = day_problem(when.date() if isinstance(when, datetime) else when)
    if problem is not None:
        raise typer.BadParameter(problem, param_hint=option)
    return when


def _from_iso(value: str, with_time: bool) -> date | datetime | None:
    # A date first: with a time allowed, 2026-11-20 is still a date (09:00), not midnight.
    with contextlib.suppress(ValueError):
        return date.fromisoformat(value)
    if with_time:
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(value)
    return None


def parse_rule_list(values: list[str] | None, option: str) -> set[str]:
    from kpictl.check.catalog import lookup

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


def write_output(text: str | bytes, output: Path | None) -> None:
    """Print `text`, or write it whole to `output` (temp file + rename).

    `output` must not be a file a registry reads (see `refuse_registry_file`), nor
    anything but a regular file (see `kpictl.fileio.write_atomic`).
    """
    if output is None:
        if isinstance(text, bytes):
            sys.stdout.flush()
            sys.stdout.buffer.write(text)
        else:
            sys.stdout.write(text)
        sys.stdout.flush()
        return
    from kpictl.fileio import write_atomic

    refuse_registry_file(output)
    try:
        write_atomic(output, text)
    except OSError as exc:
        raise KpictlError(f"cannot write {output}: {exc.strerror or exc}") from None


def refuse_registry_file(output: Path) -> None:
    """Refuse an output path that a registry reads as part of itself.

    `-o kpis/mql.yaml` would silently replace a KPI definition with a report (or add
    a file that no longer parses as an entity). Any registry counts, not only the
    one the command runs on, and `exclude:` is not consulted: a report has no
    business being a registry's YAML file either way.
    """
    from kpictl.registry.config import find_root
    from kpictl.registry.membership import Members

    try:
        folder = output.parent.resolve()
    except OSError:
        return  # write_atomic reports the unusable folder
    root = find_root(folder)
    if root is None:
        return
    relative = (folder / output.name).relative_to(root).as_posix()
    if Members().belongs(relative):
        raise KpictlError(
            f"not writing {output}: it is a file of the registry in {root} "
            f"({relative}); write the output outside the registry, or to a file "
            "whose name does not end in .yaml or .yml"
        )


def output_option(what: str) -> Any:
    """The --output option of a command that prints `what` (see `write_output`)."""
    return typer.Option(
        "--output",
        "-o",
        metavar="FILE",
        help=f"Write {what} to this file instead of stdout (whole, or not at all).",
    )


REGISTRY_HELP = (
    "The registry folder, or any file or folder inside it. "
    "Default: search upward from the current folder for kpictl.yaml, else the one "
    "kpictl.yaml git tracks below it."
)
# The optional registry argument most commands take first.
RegistryPath = Annotated[
    Path | None, typer.Argument(metavar="PATH", help=REGISTRY_HELP, show_default=False)
]

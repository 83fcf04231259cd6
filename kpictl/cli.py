"""The Typer app: options in, call the core, print, return an exit code.

Commands import the core lazily so `kpictl --version` and `--help` start fast.
"""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from kpictl import __version__
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


FORMAT_HELP = (
    "text (default; github when GITHUB_ACTIONS=true), json, github (workflow annotations "
    "plus text), sarif (2.1.0, for GitHub code scanning) or junit."
)


@app.command()
def check(
    path: Annotated[
        Path | None,
        typer.Argument(
            help="The registry folder, or any file or folder inside it. "
            "Default: search upward from the current folder for kpictl.yaml.",
            show_default=False,
        ),
    ] = None,
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

"""`kpictl check` and `kpictl rules`: validate a registry, list the rules."""

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from kpictl.cli import (
    RegistryPath,
    app,
    output_option,
    parse_date,
    parse_rule_list,
    resolve_registry,
    use_color,
    write_output,
)
from kpictl.output_formats import CheckFormat

FORMAT_HELP = (
    "text (default; github when GITHUB_ACTIONS=true), json, github (workflow annotations "
    "plus text), sarif (2.1.0, for GitHub code scanning) or junit."
)


@app.command()
def check(
    path: RegistryPath = None,
    output_format: Annotated[
        CheckFormat | None,
        typer.Option("-f", "--format", help=FORMAT_HELP, show_default=False),
    ] = None,
    output: Annotated[Path | None, output_option("the report")] = None,
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
            "primary owner (O005) needs a rationale and an approver with the right to approve; "
            "a changed definition or formula (D001), a rationale and the approval of every "
            "team in agreed_by.",
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
    from kpictl.check.findings import Severity
    from kpictl.check.formats import Report, writer

    if output_format is None:
        in_actions = os.environ.get("GITHUB_ACTIONS") == "true"
        output_format = CheckFormat.github if in_actions else CheckFormat.text
    try:
        threshold = Severity.parse(fail_on)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--fail-on") from None
    selected = parse_rule_list(select, "--select")
    ignored = parse_rule_list(ignore, "--ignore")
    today = parse_date(as_of, "--as-of")
    root = resolve_registry(path)

    if changed_since is not None or base is not None:
        from kpictl.history.changed import check_with_git

        result, note = check_with_git(root, today, selected, ignored, base, changed_since)
        if note:
            print(note, file=sys.stderr)
    else:
        from kpictl.check.check import check as run_check

        result = run_check(root, today=today, select=selected, ignore=ignored)
    color = output is None and output_format == CheckFormat.text and use_color(sys.stdout)
    report = Report(result, threshold, show_source, color)
    write_output(writer(output_format.value)(report), output)
    return 1 if result.failed(threshold) else 0


@app.command()
def rules() -> int:
    """List every rule: code, name, default severity and what it checks.

    Change a rule's severity, or turn it off, under `rules:` in kpictl.yaml
    (`O004: off`, `T001: error`); pick rules for one run with --select / --ignore.
    """
    from kpictl.check.catalog import RULES

    for rule in RULES.values():
        print(f"{rule.code}  {rule.name:<32} {rule.severity.label:<8} {rule.summary}")
    return 0

"""`kpictl actuals import` and `kpictl actuals export`: CSV files into the store and out."""

import sys
from pathlib import Path
from typing import Annotated

import typer

from kpictl.cli import RegistryPath, app, output_option, parse_date, resolve_registry, write_output

actuals_app = typer.Typer(
    name="actuals",
    help=(
        "The store of actual values: record a CSV file in it, or export it as CSV. "
        "The store is .kpictl/store.db in the registry, `store:` in kpictl.yaml, or "
        "KPICTL_STORE."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(actuals_app)

IMPORT_FILE_HELP = (
    "CSV of actual values (kpi,period,value,as_of), or - for stdin; read exactly as "
    "`status --actuals` reads it."
)
SKIP_BAD_HELP = (
    "Record the good rows even when some rows are bad (the bad ones are listed with their "
    "line numbers). Without it, one bad row means nothing is recorded."
)


@actuals_app.command("import")
def import_(
    file: Annotated[str, typer.Argument(metavar="FILE", help=IMPORT_FILE_HELP, show_default=False)],
    path: RegistryPath = None,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help=SKIP_BAD_HELP)] = False,
) -> int:
    """Record a CSV file of actual values in the store, all rows in one transaction.

    A row already in the store for the same KPI, period and as_of gets the file's
    value; nothing is ever recorded twice. Exit 0 when every row was recorded, 1 when
    a row is bad (then nothing is recorded, unless --skip-bad), 2 when kpictl could
    not run.
    """
    from kpictl.display import plural
    from kpictl.numbers.transfer import import_csv
    from kpictl.registry.registry import registry_for_use

    registry, notes = registry_for_use(resolve_registry(path))
    _print_lines(notes)
    report = import_csv(registry, file, skip_bad=skip_bad)
    _print_lines(report.notes)
    recorded = report.recorded
    bad = plural(report.skipped, "bad row")
    if recorded is None:
        them = "it" if report.skipped == 1 else "them"
        print(
            f"kpictl: nothing recorded: {report.name} has {bad} (listed above); fix {them}, or "
            f"pass --skip-bad to record the {plural(report.rows, 'good row')}",
            file=sys.stderr,
        )
        return 1
    skipped = f"; {bad} skipped" if report.skipped else ""
    print(
        f"Recorded {plural(report.rows, 'row')} of {report.name}: {recorded.added} added, "
        f"{recorded.replaced} replaced, {recorded.unchanged} unchanged{skipped}."
    )
    return 0 if report.ok else 1


@actuals_app.command("export")
def export(
    path: RegistryPath = None,
    output: Annotated[Path | None, output_option("the CSV")] = None,
    kpi: Annotated[
        list[str] | None,
        typer.Option(
            "--kpi",
            metavar="ID",
            help="Only this KPI (repeat the option for several).",
            show_default=False,
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="DATE",
            help="Only values measured on or after this date (YYYY-MM-DD).",
            show_default=False,
        ),
    ] = None,
) -> int:
    """Every observation in the store as CSV (kpi,period,value,as_of), oldest first per KPI.

    The file `actuals import` and `status --actuals` read; cells a spreadsheet would
    take for a formula are written as text. A row whose KPI or period is not an id
    (written by another program) is left out with a warning, and the exit code is 1.
    """
    from kpictl.display import plural
    from kpictl.numbers.transfer import export_csv
    from kpictl.registry.registry import registry_for_use

    day = parse_date(since, "--since")
    registry, notes = registry_for_use(resolve_registry(path))
    _print_lines(notes)
    exported = export_csv(registry, kpi or [], day if day is not None else None)
    write_output(exported.text, output)
    for line in exported.left_out:
        print(f"kpictl: warning: {line}", file=sys.stderr)
    if output is not None:
        print(f"Wrote {plural(exported.count, 'observation')} to {output}.", file=sys.stderr)
    return 1 if exported.left_out else 0


def _print_lines(lines: list[str]) -> None:
    for line in lines:
        print(line, file=sys.stderr)

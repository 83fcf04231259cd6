"""The escalation lifecycle from the command line: `ack` and `escalations`."""

import sys
from datetime import date, datetime
from typing import Annotated

import typer

from kpictl.cli import RegistryPath, app, parse_date, resolve_registry
from kpictl.output_formats import EscalationsFormat

AT_HELP = (
    "The moment (YYYY-MM-DD, meaning 09:00 in the registry's time zone, or "
    "YYYY-MM-DDTHH:MM). Default: now."
)


def _moment(root_path: RegistryPath, when: date | datetime | None) -> "tuple[object, datetime]":
    from kpictl.emails.outbox import load_inputs

    inputs = load_inputs(resolve_registry(root_path), when)
    for note in inputs.notes:
        print(note, file=sys.stderr)
    return inputs.registry, inputs.moment


@app.command()
def ack(
    kpi: Annotated[str, typer.Argument(metavar="KPI", help="The KPI id.", show_default=False)],
    by: Annotated[
        str,
        typer.Option(
            "--by", metavar="PERSON", help="Who takes it on (a person id).", show_default=False
        ),
    ],
    path: RegistryPath = None,
    note: Annotated[
        str | None,
        typer.Option(
            "--note",
            metavar="TEXT",
            help="What they will do (one line, kept in the store).",
            show_default=False,
        ),
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", metavar="WHEN", help=AT_HELP, show_default=False)
    ] = None,
) -> int:
    """Record that someone took on the open escalation of a KPI.

    An acknowledged escalation no longer moves to the next tier when its respond-by
    passes; only a worse deviation moves it up. An escalation whose period ended is
    left alone (the next `escalate --send` closes it). Exit 2 for an unknown KPI or
    person, exit 1 for an inactive person or a KPI with no open escalation for the
    current period.
    """
    from kpictl import display
    from kpictl.escalation.ledger import acknowledge
    from kpictl.registry.registry import Registry
    from kpictl.templating.escaping import defuse_text, visible

    registry, moment = _moment(path, parse_date(at, "--at", with_time=True))
    assert isinstance(registry, Registry)
    done = acknowledge(registry, kpi, by, note, moment)
    before = (
        f" (was acknowledged by {done.before})" if done.before and done.before != done.by else ""
    )
    # The period and who acknowledged before come from the store: escaped, on one line.
    line = (
        f"Acknowledged: {done.kpi} {done.period}, tier {done.tier}, by {done.by} on "
        f"{display.moment_short(done.at)}{before}."
    )
    print(defuse_text(visible(line)))
    return 0


@app.command()
def escalations(
    path: RegistryPath = None,
    output_format: Annotated[
        EscalationsFormat,
        typer.Option("-f", "--format", help="text (default), markdown or json."),
    ] = EscalationsFormat.text,
    as_of: Annotated[
        str | None, typer.Option("--as-of", metavar="WHEN", help=AT_HELP, show_default=False)
    ] = None,
) -> int:
    """The open escalations: KPI, period, tier, since when, respond-by, who acknowledged it.

    Overdue ones first (respond-by passed, nobody acknowledged), then by respond-by;
    last those whose period ended, which are never overdue and close on the next
    `escalate --send`. Reads the store; with no store yet, nothing is open.
    """
    from kpictl.escalation.ledger import open_rows, render
    from kpictl.registry.registry import Registry

    registry, moment = _moment(path, parse_date(as_of, "--as-of", with_time=True))
    assert isinstance(registry, Registry)
    sys.stdout.write(render(open_rows(registry, moment), output_format.value))
    return 0

"""Actual values in, emails out: `status`, `escalate`, `kickoff`, `review-request`,
`readout`, `recap`."""

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO, overload

import typer

from kpictl.cli import RegistryPath, app, output_option, parse_date, resolve_registry, write_output
from kpictl.errors import KpictlError
from kpictl.output_formats import StatusFormat

if TYPE_CHECKING:
    from kpictl.emails.build import Email
    from kpictl.emails.chat import ChatMessage
    from kpictl.emails.outbox import Inputs, Outbox
    from kpictl.numbers.actuals import Actuals as ActualValues


ACTUALS_HELP = (
    "CSV of actual values (kpi,period,value,as_of), or - for stdin. For a campaign's own "
    "results, put the campaign id in the period column. Bad rows are reported with their "
    "row number and skipped. Default: the values in the store (`kpictl pull`, "
    "`kpictl actuals import`)."
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
SENT_LOG_HELP = (
    "With --send: a file recording each email the server accepted and for whom (JSON "
    "lines, appended as it goes; created if missing, never followed if it is a link). "
    "Recipients it already records for the same email and evaluation date are left out, "
    "so after a dropped connection the same command sends only the rest."
)
CAMPAIGN_ARG_HELP = "The campaign id (kind: campaign in the registry)."

# The options these commands share.
Actuals = Annotated[
    str | None,
    typer.Option("--actuals", "-a", metavar="FILE", help=ACTUALS_HELP, show_default=False),
]
When = Annotated[
    str | None, typer.Option("--as-of", metavar="DATE", help=WHEN_HELP, show_default=False)
]
OutDir = Annotated[Path | None, typer.Option("--out", metavar="DIR", help=OUT_HELP)]
Send = Annotated[bool, typer.Option("--send/--dry-run", help=SEND_HELP)]
SentLog = Annotated[
    Path | None,
    typer.Option("--sent-log", metavar="FILE", help=SENT_LOG_HELP, show_default=False),
]
CampaignId = Annotated[
    str, typer.Argument(metavar="CAMPAIGN", help=CAMPAIGN_ARG_HELP, show_default=False)
]


@app.command()
def status(
    actuals: Actuals = None,
    path: RegistryPath = None,
    output_format: Annotated[
        StatusFormat,
        typer.Option(
            "-f",
            "--format",
            help="text (default), markdown (paste it into the weekly review), json, csv, or "
            "html (one self-contained page with a chart per KPI).",
        ),
    ] = StatusFormat.text,
    output: Annotated[Path | None, output_option("the scorecard")] = None,
    as_of: When = None,
) -> int:
    """The scorecard: every KPI against its target to date, worst first.

    For each KPI: the current period (the shortest target period holding the evaluation
    date), the target, the target to date (prorated for linear pacing), the actual value,
    the deviation, the state (on track, tier N, data outage, no target), the owner and,
    when a tier fires, the respond-by time. From the earlier values of the period: a
    sparkline of the last observations, the change since the previous review (per
    cadence.review) and "behind since" (the start of the current run of misses). Example:
    `kpictl status registry --actuals registry/actuals/2026-11-20.csv --format markdown`.
    """
    from kpictl import display
    from kpictl.numbers import status as scorecard

    when = parse_date(as_of, "--as-of", with_time=True)
    from kpictl.emails.env import environment_for
    from kpictl.emails.outbox import scorecard as evaluate_all
    from kpictl.numbers.history import histories

    inputs = _inputs(resolve_registry(path), when)
    loaded = _actuals(inputs, actuals)
    statuses = evaluate_all(inputs, loaded)
    found = histories(statuses, loaded)
    # Written to a file, text is UTF-8; a terminal or pipe that cannot show the
    # sparkline's blocks gets its ASCII form rather than an encoding error.
    ascii_only = output is None and not display.can_show(
        display.SPARK_BLOCKS, getattr(sys.stdout, "encoding", None)
    )
    if output_format is StatusFormat.text and output is None and sys.stdout.isatty():
        from kpictl.views.scorecard_terminal import print_status

        rows = scorecard.rows_of(inputs.registry, statuses, found, ascii_only)
        heading = scorecard.heading(inputs.registry, inputs.moment)
        print_status(rows, heading, scorecard.summary(statuses))
        return 0
    words = output_format is not StatusFormat.json and output_format is not StatusFormat.csv
    env = environment_for(inputs.registry) if words else None
    text = scorecard.render(
        inputs.registry, statuses, inputs.moment, output_format.value, env, found, ascii_only
    )
    write_output(text, output)
    return 0


@app.command()
def escalate(
    actuals: Actuals = None,
    path: RegistryPath = None,
    out: OutDir = None,
    send: Send = False,
    sent_log: SentLog = None,
    as_of: When = None,
) -> int:
    """Escalate what changed since the last run: new tiers, timeouts, outages, resolutions.

    Every KPI's state is compared with the escalations the store remembers (per KPI and
    period): a tier that fires with nothing open goes out; the same tier again before its
    respond-by sends nothing; respond-by passed without `kpictl ack` moves to the next
    tier; a worse tier goes out at once; a data outage while a miss is open says the last
    known deviation (the miss stays open); back on track sends a short resolved note to
    those who got the last tier and closes the escalation. Later steps reply to the first
    email (one conversation). --send delivers and remembers each step exactly once, also
    with two runs at the same moment; a step that fails is retried by the next run.

    To: the tier's notify list as people (roles and team leads resolved, inactive people
    replaced by the KPI's backup); Cc: the approver, and the KPI's owner (or the backup
    standing in) when the tier does not notify them. The email says what is wrong, what
    may cause it (from the KPI's data lineage), what it means for the period target, what
    the tier asks for, who approves and who acts, the respond-by time and the next tier.
    A data outage gets its own email naming the source owners and the fallback source.
    Without --out or --send, prints what each KPI would get and why, then every email's
    text, and changes nothing; --out writes the emails and changes nothing either.
    """
    when = parse_date(as_of, "--as-of", with_time=True)
    from kpictl.escalation import run

    inputs = _inputs(resolve_registry(path), when)
    if sent_log is not None:
        print(
            "kpictl: warning: --sent-log is deprecated for escalate and ignored: the store "
            "remembers every step delivered, so a rerun sends only what did not go out",
            file=sys.stderr,
        )
    loaded = _actuals(inputs, actuals)
    if send:
        result, outcome = run.send(inputs, loaded)
    else:
        result, outcome = run.preview(inputs, loaded), None
    _print_lines([f"kpictl: warning: {warning}" for warning in result.warnings], sys.stderr)
    if out is not None:
        _write_out(result.outgoing, result.chats, out, result.title)
    if outcome is not None:
        from kpictl.emails.outbox import chat_failures, chat_lines

        chats = [chat for chat, _ in outcome.posted]
        results = [posted for _, posted in outcome.posted]
        _print_lines([*run.plan_lines(result), *run.outcome_lines(outcome)], sys.stdout)
        _print_lines(chat_lines(chats, results), sys.stdout)
        sys.stdout.flush()
        failure = run.outcome_failure(outcome)
        if failure is not None:
            print(f"kpictl: {failure}", file=sys.stderr)
        failures = chat_failures(chats, results)
        _print_lines([f"kpictl: {line}" for line in failures], sys.stderr)
        return 1 if failure is not None or failures else 0
    if out is None:
        from kpictl.emails.outbox import Outbox, dry_run

        _print_lines(run.plan_lines(result), sys.stdout)
        sys.stdout.write("\n")
        sys.stdout.write(dry_run(Outbox(result.outgoing, [], result.title)))
        if result.chats:
            from kpictl.emails.outbox import chat_preview

            sys.stdout.write("\n" + chat_preview(result.chats))
    sys.stdout.flush()
    return 0


@app.command()
def kickoff(
    campaign: CampaignId,
    path: RegistryPath = None,
    actuals: Annotated[
        str | None,
        typer.Option(
            "--actuals",
            "-a",
            metavar="FILE",
            help=ACTUALS_HELP + " Optional: adds today's values (none without a store).",
        ),
    ] = None,
    out: OutDir = None,
    send: Send = False,
    sent_log: SentLog = None,
    as_of: When = None,
) -> int:
    """The "here we go" email to everyone on the charter's DACI list.

    Context, objective, strategies, segments, channels, budget, out of scope, primary and
    secondary KPIs with their targets, each team's commitment, who drives and who
    approves, risks and their status, everyone who signed, timeline and readout dates.
    The people responsible or accountable in the RACI get it too (Cc). Refuses (exit 1)
    until the charter's DACI approver has signed it off (sign_off in the charter), and
    (exit 2) while a sign_off names someone who is not a person in the registry. Warns
    on stderr when it goes out after timeline.start.
    """
    when = parse_date(as_of, "--as-of", with_time=True)
    from kpictl.emails.outbox import find_campaign
    from kpictl.emails.outbox import kickoff as kickoff_email

    with _campaign_missing_if_path("kickoff", campaign, path):
        inputs = _inputs(resolve_registry(path), when)
        find_campaign(inputs.registry, campaign)
    loaded = _actuals(inputs, actuals, required=False)
    outbox = kickoff_email(inputs, campaign, loaded)
    return _deliver(inputs, outbox, out, send, sent_log)


@app.command("review-request")
def review_request(
    campaign: CampaignId,
    path: RegistryPath = None,
    actuals: Annotated[
        str | None,
        typer.Option(
            "--actuals", "-a", metavar="FILE", help=ACTUALS_HELP + " Optional: adds today's values."
        ),
    ] = None,
    out: OutDir = None,
    send: Send = False,
    sent_log: SentLog = None,
    as_of: When = None,
) -> int:
    """Ask the approver and contributors to review a draft charter before signing it.

    To: the DACI approver and contributors; Cc: the driver, who gets the replies. The
    email shows the context, objective, the KPIs and targets, budget, segments, channels
    and each team's commitment, and asks for changes before the approver signs off.
    Only for drafts: any other status is refused (exit 1) with the email to send instead.
    """
    when = parse_date(as_of, "--as-of", with_time=True)
    from kpictl.emails.outbox import find_campaign
    from kpictl.emails.outbox import review_request as review_email

    with _campaign_missing_if_path("review-request", campaign, path):
        inputs = _inputs(resolve_registry(path), when)
        find_campaign(inputs.registry, campaign)
    loaded = _actuals(inputs, actuals) if actuals is not None else None
    outbox = review_email(inputs, campaign, loaded)
    return _deliver(inputs, outbox, out, send, sent_log)


@contextmanager
def _campaign_missing_if_path(command: str, campaign: str, path: Path | None) -> Iterator[None]:
    """Say the campaign id is missing when the one argument given was the registry.

    `kpictl recap registry -a today.csv` takes `registry` as the campaign id; the
    registry then is either not found or has no such campaign, and either error would
    send the user looking in the wrong place.
    """
    try:
        yield
    except KpictlError:
        if path is not None or not Path(campaign).exists():
            raise
        raise KpictlError(
            f"missing argument CAMPAIGN: '{campaign}' is a file or folder, not a campaign "
            f"id; usage: kpictl {command} CAMPAIGN [PATH]"
        ) from None


@app.command()
def readout(
    campaign: CampaignId,
    actuals: Actuals = None,
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
    out: OutDir = None,
    send: Send = False,
    sent_log: SentLog = None,
    as_of: When = None,
) -> int:
    """The 30/60/90-day results readout of a campaign.

    Each charter KPI against its target to date on the readout day (the campaign target
    prorated over the timeline for linear pacing), from actual rows whose period is the
    campaign id; then the risks with their status, the decision needed for a KPI behind
    pace (who approves and what is on the table, from the tier of the KPI's escalation
    policy that the shortfall reaches, and the charter's decisions), and what is next.
    RACI responsible and accountable people are in Cc.
    """
    from kpictl.emails.outbox import readout as readout_email
    from kpictl.emails.outbox import running_charter

    with _campaign_missing_if_path("readout", campaign, path):
        inputs = _inputs(resolve_registry(path), parse_date(as_of, "--as-of", with_time=True))
        charter = running_charter(
            inputs.registry,
            campaign,
            "is still a draft: readouts start once the charter is signed off",
        )
    loaded = _actuals(inputs, actuals)
    outbox = readout_email(inputs, charter, loaded, day)
    return _deliver(inputs, outbox, out, send, sent_log)


@app.command()
def recap(
    campaign: CampaignId,
    actuals: Actuals = None,
    path: RegistryPath = None,
    out: OutDir = None,
    send: Send = False,
    sent_log: SentLog = None,
    as_of: When = None,
) -> int:
    """The executive-summary recap of a campaign.

    Opens with the bottom line, the primary KPI's verdict (also in the subject): hit or
    missed once the campaign is over, on pace or behind pace against the target to date
    while it runs. Then cost per result (with a budget), what the work and the goal were,
    each charter KPI and each team's commitment with its result, what leadership must
    decide, next steps, why, what worked, what did not, and recommendations. What only
    the driver can fill in (retrospective parts, next steps without owner or date,
    unreported values) goes to the driver alone, in a second email
    (CAMPAIGN-recap-requests). Refuses a draft; warns when a complete campaign has no
    retrospective, or when the campaign is not complete yet (results to date).
    """
    from kpictl.emails.outbox import recap as recap_email
    from kpictl.emails.outbox import running_charter

    with _campaign_missing_if_path("recap", campaign, path):
        inputs = _inputs(resolve_registry(path), parse_date(as_of, "--as-of", with_time=True))
        charter = running_charter(
            inputs.registry, campaign, "is a draft: there is nothing to recap until it has run"
        )
    loaded = _actuals(inputs, actuals)
    outbox = recap_email(inputs, charter, loaded)
    return _deliver(inputs, outbox, out, send, sent_log)


def _inputs(root: Path, when: date | datetime | None) -> "Inputs":
    """The registry and the evaluation moment; what went wrong loading it goes to stderr."""
    from kpictl.emails.outbox import load_inputs

    inputs = load_inputs(root, when)
    _print_lines(inputs.notes, sys.stderr)
    return inputs


@overload
def _actuals(inputs: "Inputs", spec: str | None) -> "ActualValues": ...
@overload
def _actuals(inputs: "Inputs", spec: str | None, required: bool) -> "ActualValues | None": ...
def _actuals(inputs: "Inputs", spec: str | None, required: bool = True) -> "ActualValues | None":
    """The actuals (`--actuals FILE`, else the store); bad and late rows go to stderr.

    Not `required`: None when there is no file and no store yet.
    """
    from kpictl.emails.outbox import load_actuals

    loaded = load_actuals(inputs.registry, spec, inputs.moment.date(), required=required)
    if loaded is None:
        return None
    _print_lines(loaded.notes, sys.stderr)
    return loaded.actuals


def _print_lines(lines: Sequence[str], stream: TextIO) -> None:
    """Each line escaped as the dry run's text is, and kept one line (a newline is spelled
    out): lines carry ids, periods and addresses read from the store and from servers,
    which are as hostile as the registry's text."""
    from kpictl.templating.escaping import defuse_text, visible

    for line in lines:
        print(defuse_text(visible(line)), file=stream)


def _write_out(
    emails: Sequence["Email"], chats: Sequence["ChatMessage"], folder: Path, title: str
) -> None:
    """--out for emails and escalate: the .eml files and index.md, then any chat payloads."""
    from kpictl.display import plural
    from kpictl.emails.outbox import write_all, write_chats

    write_all(emails, folder, title)
    print(f"Wrote {plural(len(emails), 'email')} to {folder} (index.md lists them).")
    if chats:
        write_chats(chats, folder)
        count = plural(len(chats), "chat message")
        print(f"Wrote {count} to {folder} (KPI.CHANNEL.json).")


def _deliver(
    inputs: "Inputs", outbox: "Outbox", out_dir: Path | None, do_send: bool, sent_log: Path | None
) -> int:
    """Preview (default), write .eml files (--out) and/or send (--send, --sent-log)."""
    from kpictl.emails.outbox import delivery_failure, delivery_lines, dry_run, send

    if sent_log is not None and not do_send:
        raise KpictlError("--sent-log records what --send delivers: add --send, or leave it out")
    _print_lines([f"kpictl: warning: {warning}" for warning in outbox.warnings], sys.stderr)
    if out_dir is not None:
        _write_out(outbox.emails, outbox.chats, out_dir, outbox.title)
    if do_send:
        delivery = send(inputs.registry, outbox.emails, sent_log)
        _print_lines(delivery_lines(delivery), sys.stdout)
        sys.stdout.flush()
        failure = delivery_failure(delivery)
        if failure is not None:
            print(f"kpictl: {failure}", file=sys.stderr)
            return 1
        return _post_chats(inputs, outbox)
    if out_dir is None:
        sys.stdout.write(dry_run(outbox))
        if outbox.chats:
            from kpictl.emails.outbox import chat_preview

            sys.stdout.write("\n" + chat_preview(outbox.chats))
    sys.stdout.flush()
    return 0


def _post_chats(inputs: "Inputs", outbox: "Outbox") -> int:
    """Post the escalations' chat messages (after the emails went out); 1 if one failed."""
    if not outbox.chats:
        return 0
    from kpictl.emails.chat import post_all
    from kpictl.emails.outbox import chat_failures, chat_lines

    results = post_all(inputs.registry, outbox.chats, inputs.registry.root)
    _print_lines(chat_lines(outbox.chats, results), sys.stdout)
    sys.stdout.flush()
    failures = chat_failures(outbox.chats, results)
    _print_lines([f"kpictl: {line}" for line in failures], sys.stderr)
    return 1 if failures else 0


# --------------------------------------------------------------------------------------
# Authoring and governance rituals: schema, init, new, fmt, calendar, drill
# --------------------------------------------------------------------------------------

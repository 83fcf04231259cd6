"""Actual values in, emails out: `status`, `escalate`, `kickoff`, `readout`, `recap`."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kpictl.cli import RegistryPath, app, output_option, parse_date, resolve_registry, write_output
from kpictl.errors import KpictlError
from kpictl.output_formats import StatusFormat

if TYPE_CHECKING:
    from kpictl.models import Campaign
    from kpictl.outbox import Session


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
SENT_LOG_HELP = (
    "With --send: a file recording each email the server accepted and for whom (JSON "
    "lines, appended as it goes; created if missing, never followed if it is a link). "
    "Recipients it already records for the same email and evaluation date are left out, "
    "so after a dropped connection the same command sends only the rest."
)
CAMPAIGN_ARG_HELP = "The campaign id (kind: campaign in the registry)."

# The options these commands share.
Actuals = Annotated[str, typer.Option("--actuals", "-a", metavar="FILE", help=ACTUALS_HELP)]
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
    actuals: Actuals,
    path: RegistryPath = None,
    output_format: Annotated[
        StatusFormat,
        typer.Option(
            "-f",
            "--format",
            help="text (default), markdown (paste it into the weekly review), json or csv.",
        ),
    ] = StatusFormat.text,
    output: Annotated[Path | None, output_option("the scorecard")] = None,
    as_of: When = None,
) -> int:
    """The scorecard: every KPI against its target to date, worst first.

    For each KPI: the current period (the shortest target period holding the evaluation
    date), the target, the target to date (prorated for linear pacing), the actual value,
    the deviation, the state (on track, tier N, data outage, no target), the owner and,
    when a tier fires, the respond-by time. Example:
    `kpictl status registry --actuals registry/actuals/2026-11-20.csv --format markdown`.
    """
    from kpictl import status as scorecard

    when = parse_date(as_of, "--as-of", with_time=True)
    from kpictl.emails.env import environment_for
    from kpictl.evaluate import evaluate
    from kpictl.outbox import open_session

    session = open_session(resolve_registry(path), actuals, when)
    assert session.actuals is not None
    statuses = evaluate(session.registry, session.actuals, session.moment)
    if output_format is StatusFormat.text and output is None and sys.stdout.isatty():
        from kpictl.views.scorecard_terminal import print_status

        rows = [scorecard.row(session.registry, item) for item in statuses]
        heading = scorecard.heading(session.registry, session.moment)
        print_status(rows, heading, scorecard.summary(statuses))
        return 0
    words = output_format in (StatusFormat.text, StatusFormat.markdown)
    env = environment_for(session.registry) if words else None
    text = scorecard.render(session.registry, statuses, session.moment, output_format.value, env)
    write_output(text, output)
    return 0


@app.command()
def escalate(
    actuals: Actuals,
    path: RegistryPath = None,
    out: OutDir = None,
    send: Send = False,
    sent_log: SentLog = None,
    as_of: When = None,
) -> int:
    """One escalation email for every KPI whose state fires a tier.

    To: the tier's notify list as people (roles and team leads resolved, inactive people
    replaced by the KPI's backup); Cc: the approver, and the KPI's owner (or the backup
    standing in) when the tier does not notify them. The email says what is wrong, what
    may cause it (from the KPI's data lineage), what it means for the period target, what
    the tier asks for, who approves and who acts, the respond-by time and the next tier.
    A data outage gets its own email naming the source owners and the fallback source.
    Without --out or --send, prints a summary and every email's text.
    """
    when = parse_date(as_of, "--as-of", with_time=True)
    from kpictl.evaluate import evaluate
    from kpictl.outbox import deliver, open_session

    session = open_session(resolve_registry(path), actuals, when)
    assert session.actuals is not None
    statuses = evaluate(session.registry, session.actuals, session.moment)
    mailer = session.mailer()
    emails = mailer.escalations(statuses)
    title = f"Escalations for {_moment_text(session.moment)}"
    return deliver(session, emails, mailer.warnings, out, send, title, sent_log)


def _moment_text(moment: datetime) -> str:
    from kpictl.display import moment as moment_text

    return moment_text(moment)


@app.command()
def kickoff(
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
    """The "here we go" email to everyone on the charter's DACI list.

    Context, objective, strategies, out of scope, primary and secondary KPIs with their
    targets, who drives and who approves, risks, timeline and readout dates. Refuses
    (exit 1) until the charter's DACI approver has signed it off (sign_off in the charter),
    and (exit 2) while a sign_off names someone who is not a person in the registry.
    """
    when = parse_date(as_of, "--as-of", with_time=True)
    from kpictl.outbox import check_signers, deliver, find_campaign, open_session
    from kpictl.rules.base import Context
    from kpictl.rules.campaigns import approver_signed

    with _campaign_missing_if_path("kickoff", campaign, path):
        session = open_session(resolve_registry(path), actuals, when)
        charter = find_campaign(session.registry, campaign)
    check_signers(session.registry, charter)
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
    return deliver(
        session, emails, mailer.warnings, out, send, f"Kickoff for {charter.id}", sent_log
    )


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


def _charter_session(
    command: str,
    path: Path | None,
    actuals: str | None,
    as_of: str | None,
    campaign: str,
    draft: str,
) -> "tuple[Session, Campaign]":
    """The evaluation session and the charter for a campaign email; refuses a draft."""
    from kpictl.outbox import find_campaign, open_session

    with _campaign_missing_if_path(command, campaign, path):
        session = open_session(
            resolve_registry(path), actuals, parse_date(as_of, "--as-of", with_time=True)
        )
        charter = find_campaign(session.registry, campaign)
    if charter.status == "draft":
        raise KpictlError(f"'{charter.id}' {draft}", exit_code=1)
    return session, charter


@app.command()
def readout(
    campaign: CampaignId,
    actuals: Actuals,
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
    campaign id; then the risks and what is next.
    """
    from kpictl.evaluate import charter_results
    from kpictl.outbox import deliver, pick_readout

    session, charter = _charter_session(
        "readout",
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
    return deliver(session, emails, mailer.warnings, out, send, title, sent_log)


@app.command()
def recap(
    campaign: CampaignId,
    actuals: Actuals,
    path: RegistryPath = None,
    out: OutDir = None,
    send: Send = False,
    sent_log: SentLog = None,
    as_of: When = None,
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
        "recap",
        path,
        actuals,
        as_of,
        campaign,
        "is a draft: there is nothing to recap until it has run",
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
        session,
        emails,
        [*warnings, *mailer.warnings],
        out,
        send,
        f"Recap of {charter.id}",
        sent_log,
    )


# --------------------------------------------------------------------------------------
# Authoring and governance rituals: schema, init, new, fmt, calendar, drill
# --------------------------------------------------------------------------------------

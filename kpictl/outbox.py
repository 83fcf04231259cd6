"""What the status and email commands share: load the registry and the actuals, fix the
evaluation moment, then preview, write or send the emails. The CLI calls these."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TextIO

from kpictl import display
from kpictl.actuals import MAX_PROBLEMS, Actuals, ActualsError, open_actuals, read_actuals
from kpictl.display import plural
from kpictl.emails.build import Email, Mailer
from kpictl.emails.compose import AddressError, Sender
from kpictl.emails.env import environment_for
from kpictl.errors import KpictlError
from kpictl.evaluate import evaluation_moment
from kpictl.findings import Severity
from kpictl.formats.github import defuse_text
from kpictl.models import Campaign
from kpictl.registry import Registry, load_registry
from kpictl.schema_errors import suggest


@dataclass
class Session:
    registry: Registry
    actuals: Actuals | None
    moment: datetime
    stable: bool  # --as-of given: output is the same on every run

    def mailer(self) -> Mailer:
        try:
            sender = Sender.from_settings(self.registry.settings)
        except AddressError as exc:
            raise KpictlError(f"kpictl.yaml: {exc}") from None
        env = environment_for(self.registry)
        return Mailer(self.registry, env, sender, self.moment, self.stable)


def open_session(
    root: Path,
    actuals: str | None,
    when: date | datetime | None,
    err: TextIO | None = None,
) -> Session:
    """Load the registry and the actuals; problems in the actuals go to `err` as file:row lines."""
    err = err or sys.stderr
    registry, findings = load_registry(root)
    errors = sum(1 for item in findings if item.severity is Severity.ERROR)
    if errors:
        print(
            f"kpictl: warning: the registry has {plural(errors, 'error')}; "
            "entities that failed to load are left out (run `kpictl check`)",
            file=err,
        )
    from zoneinfo import ZoneInfo

    now = datetime.now(ZoneInfo(registry.settings.timezone))
    moment = evaluation_moment(when, registry.settings.timezone, now)
    loaded = None
    if actuals is not None:
        loaded = load_actuals(registry, actuals, moment.date(), err)
    return Session(registry, loaded, moment, stable=when is not None)


def load_actuals(registry: Registry, spec: str, day: date, err: TextIO) -> Actuals:
    kpis = [kpi.id for kpi in registry.kpis]
    campaigns = [campaign.id for campaign in registry.campaigns]
    name = "<stdin>" if spec == "-" else spec
    try:
        with open_actuals(spec) as (stream, name):
            actuals = read_actuals(stream, name, kpis, campaigns)
    except ActualsError as exc:
        raise KpictlError(f"{name}:{exc.row}: {exc.message}") from None
    except OSError as exc:
        raise KpictlError(f"cannot read actuals {spec}: {exc.strerror or exc}") from None
    for problem in actuals.problems:
        print(f"{name}:{problem.row}: {problem.message}", file=err)
    if actuals.more_problems:
        print(
            f"{name}: {plural(actuals.more_problems, 'more row')} with problems not shown: "
            "fix the rows above and run again",
            file=err,
        )
    later = actuals.measured_after(day)
    for actual in later[:MAX_PROBLEMS]:
        print(
            f"{name}:{actual.row}: measured {actual.as_of.isoformat()}, after the evaluation "
            f"date {day.isoformat()}: not used",
            file=err,
        )
    if len(later) > MAX_PROBLEMS:
        print(
            f"{name}: {plural(len(later) - MAX_PROBLEMS, 'more row')} measured after "
            f"{day.isoformat()} not shown: not used either",
            file=err,
        )
    return actuals


def pick_readout(charter: Campaign, day: int | None, today: date) -> tuple[int, date]:
    """The readout to send: day `day`, or the last one due by `today`; refuses otherwise."""
    from kpictl.evaluate import readout_dates

    dates = readout_dates(charter)
    if day is not None:
        chosen = [(n, on) for n, on in dates if n == day]
        if not chosen:
            listed = ", ".join(str(n) for n, _ in dates) or "none"
            raise KpictlError(
                f"'{charter.id}' has no {day}-day readout (timeline.readouts: {listed})",
                exit_code=1,
            )
    else:
        chosen = [(n, on) for n, on in dates if on <= today][-1:]
        if not chosen:
            first = (
                f": the first, day {dates[0][0]}, is on {display.day(dates[0][1])}" if dates else ""
            )
            raise KpictlError(
                f"no readout of '{charter.id}' is due by {display.day(today)}{first}; "
                "pass --day to pick one",
                exit_code=1,
            )
    number, on = chosen[0]
    if on > today:
        raise KpictlError(
            f"the day-{number} readout of '{charter.id}' is due on {display.day(on)}, after "
            f"{display.day(today)}; pass --as-of {on.isoformat()} to preview it",
            exit_code=1,
        )
    return number, on


def find_campaign(registry: Registry, campaign_id: str) -> Campaign:
    """The campaign with this id, or a refusal with a did-you-mean (exit 1)."""
    entity = registry.get(campaign_id)
    if isinstance(entity, Campaign):
        return entity
    ids = sorted(campaign.id for campaign in registry.campaigns)
    if entity is not None:
        raise KpictlError(f"'{campaign_id}' is a {entity.kind}, not a campaign", exit_code=1)
    close = suggest(campaign_id, ids)
    tip = f" (did you mean '{close}'?)" if close else ""
    known = f"; campaigns: {', '.join(ids)}" if ids and len(ids) <= 12 else ""
    raise KpictlError(f"no campaign '{campaign_id}'{tip}{known}", exit_code=1)


def check_signers(registry: Registry, charter: Campaign) -> None:
    """Refuse a charter whose sign_off names someone who is not a person (exit 2).

    The kickoff email tells everyone who signed; a typo there is a broken registry
    (`kpictl check` reports it as R002), not something to send or guess around.
    """
    people = [person.id for person in registry.people]
    for i, sign in enumerate(charter.sign_off):
        if registry.person(sign.by) is not None:
            continue
        close = suggest(sign.by, people)
        tip = f" (did you mean '{close}'?)" if close else ""
        raise KpictlError(
            f"'{charter.id}' sign_off[{i}].by names '{sign.by}', which is not a person{tip}: "
            "fix the charter (`kpictl check` lists every such problem) before the kickoff "
            "email goes out"
        )


def _people(people: Sequence[object]) -> str:
    parts = []
    for person in people:
        name = display.clean(getattr(person, "name", ""))
        addr = display.clean(getattr(person, "email", ""))
        parts.append(f"{name} <{addr}>" if name else addr)
    return ", ".join(parts)


def preview(emails: Sequence[Email]) -> str:
    """Each email as a person would read it: headers, then the text part."""
    out = []
    for email in emails:
        out.append(f"==== {email.key}.eml " + "=" * max(4, 60 - len(email.key)))
        out.append(f"From: {email.message['From']}")
        out.append(f"To: {_people(email.to)}")
        if email.cc:
            out.append(f"Cc: {_people(email.cc)}")
        out.append(f"Subject: {email.subject}")
        out.append(f"Date: {email.message['Date']}")
        out.append("")
        out.append(email.text.rstrip("\n"))
        out.append("")
    # Stdout is a CI log: no value may move the terminal or start a workflow command.
    return defuse_text("\n".join(out)) + ("\n" if out else "")


def summary_table(emails: Sequence[Email], style: str = "text") -> str:
    rows: list[list[object]] = [["Email", "To", "Cc", "Subject"]]
    for email in emails:
        rows.append([f"{email.key}.eml", len(email.to), len(email.cc), email.subject])
    return display.text_table(rows, style, right=(1, 2))


def _refuse_odd_target(path: Path) -> None:
    """Refuse to replace anything at `path` but a regular file.

    An --out folder can sit in a checkout someone else controls. A symlink, FIFO or
    folder planted at `mql.eml` was put there on purpose: replacing it silently would
    hide that, and the user should look before kpictl writes there.
    """
    from kpictl.fileio import NotRegularFileError, refuse_unless_regular

    try:
        refuse_unless_regular(path)
    except NotRegularFileError as exc:
        raise KpictlError(
            f"cannot write {path}: something other than a regular file is there "
            f"({exc.kind}); remove it or choose another --out folder"
        ) from None


def write_all(emails: Sequence[Email], folder: Path, title: str) -> None:
    """One .eml per email plus index.md, which lists them.

    Each file goes through write_atomic: a unique temp file created with O_EXCL, then a
    rename, so no link planted under a predictable temp name is ever followed.
    """
    from kpictl.fileio import write_atomic

    targets = [(folder / f"{email.key}.eml", email) for email in emails]
    index_path = folder / "index.md"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # All refusals before the first write: a refused run leaves the folder as it was.
        for path in (*(path for path, _ in targets), index_path):
            _refuse_odd_target(path)
        for path, email in targets:
            write_atomic(path, email.as_bytes(), sync=False)
        index = (
            f"# {title}\n\n{summary_table(emails, 'markdown')}\n"
            if emails
            else f"# {title}\n\nNo emails.\n"
        )
        write_atomic(index_path, index)
    except OSError as exc:
        raise KpictlError(f"cannot write to {folder}: {exc.strerror or exc}") from None


def send(
    registry: Registry,
    emails: Sequence[Email],
    out: TextIO,
    err: TextIO,
    sent_log: Path | None = None,
) -> int:
    """Send through kpictl.yaml's SMTP settings; 1 and a full report on any failure.

    With `sent_log`, recipients it records for an email are left out, and every email
    the server accepts is recorded there before the next one is sent.
    """
    from kpictl.sentlog import DeliveryRecord, SentLog, SentLogError, email_id
    from kpictl.smtp import Delivery, SmtpSetupError, send_all

    block = registry.settings.email
    if block is None or block.smtp is None:
        raise KpictlError(
            "cannot send: kpictl.yaml has no email.smtp settings (host, port, starttls); "
            "add them, or use --out DIR to write .eml files instead"
        )
    ids = {
        email.key: email_id(email.kind, email.key, email.envelope.date.date()) for email in emails
    }
    msgids = {email.key: email.envelope.msgid for email in emails}
    record: DeliveryRecord | None = None
    delivered: dict[str, frozenset[str]] = {}
    if sent_log is not None:
        try:
            record = SentLog.open(sent_log)
        except SentLogError as exc:
            raise KpictlError(str(exc)) from None
        delivered = {key: record.delivered(ident) for key, ident in ids.items()}

    def remember(delivery: Delivery) -> None:
        if record is not None and delivery.accepted:
            record.record(ids[delivery.key], msgids[delivery.key], delivery.accepted)

    try:
        report = send_all(
            block.smtp,
            [(email.key, email.message) for email in emails],
            progress=remember,
            delivered=delivered,
        )
    except SmtpSetupError as exc:
        raise KpictlError(f"cannot send: {exc}") from None
    except SentLogError as exc:
        # The server has the email but the log does not: a rerun would send it again.
        raise KpictlError(f"sending stopped: {exc}; the last email sent is not recorded") from None
    for delivery in report.deliveries:
        for addr in delivery.already:
            print(f"was sent  {delivery.key}  {addr}", file=out)
        for addr in delivery.accepted:
            print(f"sent      {delivery.key}  {addr}", file=out)
        for addr, reply in delivery.refused.items():
            print(f"refused   {delivery.key}  {addr}  ({reply})", file=out)
        for addr in delivery.not_sent:
            print(f"not sent  {delivery.key}  {addr}", file=out)
    total = len(emails)
    before = (
        f"; {report.sent_before} sent before, as {sent_log} records" if report.sent_before else ""
    )
    print(f"Sent {report.sent} of {plural(total, 'email')}{before}.", file=out)
    if report.ok:
        return 0
    not_sent = [d.key for d in report.deliveries if not d.accepted]
    partly = [d.key for d in report.deliveries if d.accepted and (d.refused or d.not_sent)]
    detail = f"; not sent: {', '.join(not_sent)}" if not_sent else ""
    detail += f"; partly sent: {', '.join(partly)}" if partly else ""
    print(f"kpictl: sending stopped: {report.error}{detail}", file=err)
    return 1


def deliver(
    session: Session,
    emails: Sequence[Email],
    warnings: Sequence[str],
    out_dir: Path | None,
    do_send: bool,
    title: str,
    sent_log: Path | None = None,
) -> int:
    """Preview (default), write .eml files (--out) and/or send (--send, --sent-log)."""
    if sent_log is not None and not do_send:
        raise KpictlError("--sent-log records what --send delivers: add --send, or leave it out")
    stdout, stderr = sys.stdout, sys.stderr
    for warning in warnings:
        print(f"kpictl: warning: {warning}", file=stderr)
    if out_dir is not None:
        write_all(emails, out_dir, title)
        print(
            f"Wrote {plural(len(emails), 'email')} to {out_dir} (index.md lists them).",
            file=stdout,
        )
    if do_send:
        code = send(session.registry, emails, stdout, stderr, sent_log)
        stdout.flush()
        return code
    if out_dir is None:
        if emails:
            stdout.write(f"{title}: dry run, nothing sent.\n\n")
            stdout.write(defuse_text(summary_table(emails)) + "\n\n")
            stdout.write(preview(emails))
        else:
            stdout.write(f"{title}: no emails to send.\n")
    stdout.flush()
    return 0

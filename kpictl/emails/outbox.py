"""The use cases behind `status` and the email commands: load the registry and the actuals,
fix the evaluation moment, build the emails, write or send them. Each returns data (notes,
emails, warnings, a delivery report); the CLI prints it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, overload

from kpictl import display
from kpictl.display import plural
from kpictl.emails.build import Email, Mailer
from kpictl.emails.compose import AddressError, Sender
from kpictl.emails.env import environment_for
from kpictl.errors import KpictlError
from kpictl.fileio import NotRegularFileError
from kpictl.numbers.actuals import MAX_PROBLEMS, Actuals, ActualsError, open_actuals, read_actuals
from kpictl.numbers.evaluate import CharterResult, evaluation_moment
from kpictl.numbers.history import History, charter_history, histories
from kpictl.registry.models import Campaign
from kpictl.registry.registry import Registry, registry_for_use
from kpictl.registry.schema_errors import suggest
from kpictl.templating.escaping import defuse_text, visible

if TYPE_CHECKING:
    from kpictl.emails.chat import ChatMessage, ChatResult
    from kpictl.emails.smtp import SendReport
    from kpictl.numbers.evaluate import KpiStatus


@dataclass(frozen=True)
class Inputs:
    """The registry and the moment every email command evaluates at."""

    registry: Registry
    moment: datetime
    stable: bool  # --as-of given: output is the same on every run
    notes: list[str] = field(default_factory=list)  # lines for stderr, in order


@dataclass(frozen=True)
class LoadedActuals:
    actuals: Actuals
    notes: list[str]  # bad rows and rows measured too late, as file:row lines


@dataclass(frozen=True)
class Outbox:
    """What an email command has to deliver: the emails, why some are missing, a title."""

    emails: list[Email]
    warnings: list[str]
    title: str
    chats: list[ChatMessage] = field(default_factory=list)  # escalations' post_to messages


@dataclass(frozen=True)
class Delivery:
    """What --send did: the server's answers, and which run sent what before."""

    report: SendReport
    total: int
    sent_log: Path | None

    @property
    def ok(self) -> bool:
        return self.report.ok


def load_inputs(root: Path, when: date | datetime | None) -> Inputs:
    """Load the registry and fix the evaluation moment; a broken registry is a note."""
    registry, notes = registry_for_use(root)
    from zoneinfo import ZoneInfo

    now = datetime.now(ZoneInfo(registry.settings.timezone))
    moment = evaluation_moment(when, registry.settings.timezone, now)
    return Inputs(registry, moment, stable=when is not None, notes=notes)


@overload
def load_actuals(registry: Registry, spec: str | None, day: date) -> LoadedActuals: ...
@overload
def load_actuals(
    registry: Registry, spec: str | None, day: date, *, required: bool
) -> LoadedActuals | None: ...
def load_actuals(
    registry: Registry, spec: str | None, day: date, *, required: bool = True
) -> LoadedActuals | None:
    """The actual values a command uses: the CSV `spec` (`-`: stdin), else the store.

    The one place that decides where values come from. From a file, bad rows and rows
    measured after `day` become notes; the store holds every day's values, so for it
    later ones are simply not read. A store that does not exist yet is an error
    saying how to fill it, or (not `required`) None.
    """
    if spec is None:
        from kpictl.numbers.transfer import stored_actuals

        stored = stored_actuals(registry, day, required=required)
        return None if stored is None else LoadedActuals(stored, [])
    kpis = [kpi.id for kpi in registry.kpis]
    campaigns = [campaign.id for campaign in registry.campaigns]
    name = "<stdin>" if spec == "-" else visible(spec)
    try:
        with open_actuals(spec) as (stream, opened):
            name = visible(opened)
            actuals = read_actuals(stream, name, kpis, campaigns)
    except ActualsError as exc:
        raise KpictlError(f"{name}:{exc.row}: {exc.message}") from None
    except NotRegularFileError as exc:
        raise KpictlError(
            f"cannot read actuals {visible(spec)}: it is {exc.kind}, not a regular file; "
            "kpictl does not follow links or wait on pipes: name the CSV file itself "
            "(or pipe it to --actuals -)"
        ) from None
    except OSError as exc:
        raise KpictlError(f"cannot read actuals {visible(spec)}: {exc.strerror or exc}") from None
    notes = [f"{name}:{problem.row}: {problem.message}" for problem in actuals.problems]
    if actuals.more_problems:
        notes.append(
            f"{name}: {plural(actuals.more_problems, 'more row')} with problems not shown: "
            "fix the rows above and run again"
        )
    later = actuals.measured_after(day)
    notes.extend(
        f"{name}:{actual.row}: measured {actual.as_of.isoformat()}, after the evaluation "
        f"date {day.isoformat()}: not used"
        for actual in later[:MAX_PROBLEMS]
    )
    if len(later) > MAX_PROBLEMS:
        notes.append(
            f"{name}: {plural(len(later) - MAX_PROBLEMS, 'more row')} measured after "
            f"{day.isoformat()} not shown: not used either"
        )
    return LoadedActuals(actuals, notes)


def mailer_for(inputs: Inputs) -> Mailer:
    """The email builder for this registry, or a refusal naming a bad sender address."""
    try:
        sender = Sender.from_settings(inputs.registry.settings)
    except AddressError as exc:
        raise KpictlError(f"kpictl.yaml: {exc}") from None
    env = environment_for(inputs.registry)
    return Mailer(inputs.registry, env, sender, inputs.moment, inputs.stable)


def scorecard(inputs: Inputs, actuals: Actuals) -> list[KpiStatus]:
    """Every KPI evaluated at the moment: what `status` shows."""
    from kpictl.numbers.evaluate import evaluate

    return evaluate(inputs.registry, actuals, inputs.moment)


def escalations(inputs: Inputs, actuals: Actuals) -> Outbox:
    """One escalation email per KPI whose state fires a tier."""
    mailer = mailer_for(inputs)
    statuses = scorecard(inputs, actuals)
    emails = mailer.escalations(statuses, histories(statuses, actuals))
    title = f"Escalations for {display.moment(inputs.moment)}"
    chats = []
    if any(status.tier and status.tier.post_to for status in statuses):
        from kpictl.emails.chat import chat_messages

        chats = chat_messages(inputs.registry, statuses)
    return Outbox(emails, mailer.warnings, title, chats)


def kickoff(inputs: Inputs, campaign_id: str, actuals: Actuals | None) -> Outbox:
    """The kickoff email of a signed-off charter; refuses an unsigned or mis-signed one."""
    charter = find_campaign(inputs.registry, campaign_id)
    check_signers(inputs.registry, charter)
    require_approval(inputs, charter)
    mailer = mailer_for(inputs)
    email = mailer.kickoff(charter, actuals)
    late = _late(inputs, charter, "kickoff")
    return Outbox([email] if email else [], [*late, *mailer.warnings], f"Kickoff for {charter.id}")


def _late(inputs: Inputs, charter: Campaign, what: str) -> list[str]:
    """A one-line warning when `what` goes out once the work should have started.

    Seed 003: the kickoff says "here we go" before work starts; after the start it
    only reports what was already decided without everyone.
    """
    start = charter.timeline.start
    today = inputs.moment.date()
    if today <= start:
        return []
    days = plural((today - start).days, "day")
    return [
        f"'{charter.id}' started on {start.isoformat()}, {days} ago: this {what} goes out "
        "after work started; send it before timeline.start next time"
    ]


def review_request(inputs: Inputs, campaign_id: str, actuals: Actuals | None) -> Outbox:
    """The request to review a draft charter's KPIs and targets before signing it.

    Refuses (exit 1) anything but a draft: once the approver has signed, the time to
    change the numbers has passed, and the kickoff or a readout is the email to send.
    """
    charter = find_campaign(inputs.registry, campaign_id)
    if charter.status != "draft":
        instead = {
            "approved": f"send the kickoff (kpictl kickoff {charter.id})",
            "active": f"send a readout (kpictl readout {charter.id})",
            "complete": f"send the recap (kpictl recap {charter.id})",
            "cancelled": "there is nothing to review",
        }[charter.status]
        raise KpictlError(
            f"'{charter.id}' is {charter.status}, not a draft: a review request asks for "
            f"agreement before sign-off; {instead}",
            exit_code=1,
        )
    mailer = mailer_for(inputs)
    email = mailer.review_request(charter, actuals)
    late = _late(inputs, charter, "review request")
    title = f"Review request for {charter.id}"
    return Outbox([email] if email else [], [*late, *mailer.warnings], title)


def require_approval(inputs: Inputs, charter: Campaign) -> None:
    """Refuse (exit 1) a charter its DACI approver (or their team's lead) has not signed.

    Asks the function rule C001 asks, so `check` and `kickoff` cannot disagree.
    """
    from kpictl.check.rules.campaigns import approver_signed

    if not approver_signed(inputs.registry, charter):
        raise KpictlError(
            f"'{charter.id}' is not signed off by its approver {charter.daci.approver}: add "
            f"sign_off: [{{by: {charter.daci.approver}, date: YYYY-MM-DD}}] to the charter "
            "before the kickoff email goes out",
            exit_code=1,
        )


def running_charter(registry: Registry, campaign_id: str, draft: str) -> Campaign:
    """The campaign with this id, refused (exit 1, `draft` says why) while it is a draft."""
    charter = find_campaign(registry, campaign_id)
    if charter.status == "draft":
        raise KpictlError(f"'{charter.id}' {draft}", exit_code=1)
    return charter


def readout(inputs: Inputs, charter: Campaign, actuals: Actuals, day: int | None) -> Outbox:
    """The readout due by the evaluation date, or the day-`day` one."""
    from kpictl.numbers.evaluate import charter_results

    number, on = pick_readout(charter, day, inputs.moment.date())
    results = charter_results(inputs.registry, charter, actuals, on)
    mailer = mailer_for(inputs)
    email = mailer.readout(
        charter, number, on, results, charter_histories(charter, results, actuals, on)
    )
    title = f"Day-{number} readout for {charter.id}"
    return Outbox([email] if email else [], mailer.warnings, title)


def recap(inputs: Inputs, charter: Campaign, actuals: Actuals) -> Outbox:
    """The recap of a campaign; warns when it cannot say why or is not complete yet."""
    from kpictl.numbers.evaluate import campaign_is_over, charter_results

    warnings: list[str] = []
    if charter.status == "complete" and charter.retrospective is None:
        warnings.append(
            f"'{charter.id}' is complete but has no retrospective: the recap cannot say why; "
            "add retrospective (why, worked, did_not_work, recommendations) to the charter"
        )
    elif charter.status != "complete":
        warnings.append(f"'{charter.id}' is {charter.status}: the recap shows results to date")
    day = inputs.moment.date()
    final = campaign_is_over(charter, day)
    results = charter_results(inputs.registry, charter, actuals, day, final)
    mailer = mailer_for(inputs)
    histories = charter_histories(charter, results, actuals, day)
    emails = mailer.recap(charter, results, day, actuals, histories)
    return Outbox(emails, [*warnings, *mailer.warnings], f"Recap of {charter.id}")


def charter_histories(
    charter: Campaign, results: list[CharterResult], actuals: Actuals, day: date
) -> dict[str, History]:
    """Each charter KPI's path through the campaign up to `day`, by KPI id."""
    out = {}
    for result in results:
        found = charter_history(result, charter, actuals, day)
        if found is not None:
            out[result.kpi.id] = found
    return out


def pick_readout(charter: Campaign, day: int | None, today: date) -> tuple[int, date]:
    """The readout to send: day `day`, or the last one due by `today`; refuses otherwise."""
    from kpictl.numbers.evaluate import readout_dates

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
    """The campaign with this id, or a bad-argument error with a did-you-mean (exit 2)."""
    entity = registry.get(campaign_id)
    if isinstance(entity, Campaign):
        return entity
    ids = sorted(campaign.id for campaign in registry.campaigns)
    if entity is not None:
        raise KpictlError(f"'{campaign_id}' is a {entity.kind}, not a campaign")
    close = suggest(campaign_id, ids)
    tip = f" (did you mean '{close}'?)" if close else ""
    known = f"; campaigns: {', '.join(ids)}" if ids and len(ids) <= 12 else ""
    raise KpictlError(f"no campaign '{campaign_id}'{tip}{known}")


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
    from kpictl.fileio import make_folder, write_atomic

    targets = [(folder / f"{email.key}.eml", email) for email in emails]
    index_path = folder / "index.md"
    try:
        make_folder(folder)
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


def send(registry: Registry, emails: Sequence[Email], sent_log: Path | None = None) -> Delivery:
    """Send through kpictl.yaml's SMTP settings; the report says what the server took.

    With `sent_log`, recipients it records for an email are left out, and every email
    the server accepts is recorded there before the next one is sent.
    """
    from kpictl.emails.sentlog import DeliveryRecord, SentLog, SentLogError, email_id
    from kpictl.emails.smtp import Delivery as Sent
    from kpictl.emails.smtp import SmtpSetupError, send_all

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

    def remember(delivery: Sent) -> None:
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
    return Delivery(report, len(emails), sent_log)


def delivery_lines(delivery: Delivery) -> list[str]:
    """One line per recipient and what became of them, then the count."""
    report = delivery.report
    lines = report.recipient_lines()
    before = (
        f"; {report.sent_before} sent before, as {delivery.sent_log} records"
        if report.sent_before
        else ""
    )
    lines.append(f"Sent {report.sent} of {plural(delivery.total, 'email')}{before}.")
    return lines


def delivery_failure(delivery: Delivery) -> str | None:
    """Why sending stopped and which emails did not (fully) go, or None if all went."""
    return delivery.report.stopped()


def dry_run(outbox: Outbox) -> str:
    """What a run without --out or --send prints: a summary, then every email."""
    if not outbox.emails:
        return f"{outbox.title}: no emails to send.\n"
    return (
        f"{outbox.title}: dry run, nothing sent.\n\n"
        + defuse_text(summary_table(outbox.emails))
        + "\n\n"
        + preview(outbox.emails)
    )


# --- chat messages (kpictl.emails.chat builds and posts them) ---------------------------


def chat_file_name(message: ChatMessage) -> str:
    return f"{message.kpi}.{message.channel}.json"


def write_chats(chats: Sequence[ChatMessage], folder: Path) -> None:
    """Each payload as `<kpi>.<channel>.json`, written as write_all writes emails."""
    from kpictl.fileio import make_folder, write_atomic
    from kpictl.templating.escaping import json_text

    targets = [(folder / chat_file_name(chat), chat) for chat in chats]
    try:
        make_folder(folder)
        for path, _ in targets:
            _refuse_odd_target(path)
        for path, chat in targets:
            write_atomic(path, json_text(chat.payload, indent=2) + "\n", sync=False)
    except OSError as exc:
        raise KpictlError(f"cannot write to {folder}: {exc.strerror or exc}") from None


def chat_preview(chats: Sequence[ChatMessage]) -> str:
    """What a dry run shows of the chat messages: channel, KPI and the JSON payload."""
    from kpictl.templating.escaping import json_text

    if not chats:
        return ""
    parts = [f"Chat: {plural(len(chats), 'message')} would be posted (dry run, nothing posted).\n"]
    for chat in chats:
        parts.append(f"\n--- {chat.kpi} to {chat.channel} ({chat.kind}) ---\n")
        parts.append(json_text(chat.payload, indent=2) + "\n")
    return "".join(parts)


def chat_lines(chats: Sequence[ChatMessage], results: Sequence[ChatResult]) -> list[str]:
    """One line per post that went through; failures are in `chat_failures`."""
    return [
        f"Posted {chat.kpi} to {chat.channel} ({plural(result.attempts, 'attempt')})."
        for chat, result in zip(chats, results, strict=True)
        if result.ok
    ]


def chat_failures(chats: Sequence[ChatMessage], results: Sequence[ChatResult]) -> list[str]:
    return [
        f"{chat.kpi}: {result.error}"
        for chat, result in zip(chats, results, strict=True)
        if not result.ok
    ]

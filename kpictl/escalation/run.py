"""The use cases of `escalate`, `ack` and `escalations`: plan against the store, deliver each
step once, remember it. They return data; kpictl.cli prints it.

Delivery goes through a Channel: email (SMTP, one connection per run) today. Chat
channels (`post_to:` on a tier) plug in as another Channel whose name is the step's
channel in the store, with the same claims; see EmailChannel for what one must do.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol, TypeVar

from kpictl import display
from kpictl.errors import KpictlError
from kpictl.escalation import memory
from kpictl.escalation.lifecycle import Action, Decision, Ended, ended, period_of, plan
from kpictl.escalation.memory import Remembered
from kpictl.numbers.evaluate import State

if TYPE_CHECKING:
    from kpictl.emails.build import Email, Mailer
    from kpictl.emails.chat import ChatMessage, ChatResult
    from kpictl.emails.outbox import Inputs
    from kpictl.emails.smtp import Delivery, Raw, SendReport
    from kpictl.emails.story import Story
    from kpictl.numbers.actuals import Actuals
    from kpictl.numbers.store import Store
    from kpictl.registry.registry import Registry

EMAIL = "email"
T = TypeVar("T")


@dataclass
class Plan:
    """What a run would deliver: a decision per KPI, the emails for those that deliver."""

    decisions: list[Decision]
    emails: dict[str, Email]  # by KPI id
    notes: list[str]  # what the user should know about the store's memory
    warnings: list[str]
    title: str
    chats: list[ChatMessage] = field(default_factory=list)  # the tiers' post_to messages
    # Open escalations of a period that is over: they close, delivering nothing.
    ended: list[Ended] = field(default_factory=list)

    @property
    def outgoing(self) -> list[Email]:
        return [
            self.emails[d.status.kpi.id] for d in self.decisions if d.status.kpi.id in self.emails
        ]


@dataclass
class Outcome:
    """What --send did: the server's answers, and the steps another run had already taken."""

    report: SendReport
    total: int
    taken: list[str] = field(default_factory=list)  # KPIs whose step another run delivers
    # Chat posts of this run, in order, with what became of each.
    posted: list[tuple[ChatMessage, ChatResult]] = field(default_factory=list)
    # Escalations whose period ended: closed by this run, or by another at the same time.
    closed: list[Ended] = field(default_factory=list)
    closed_elsewhere: list[Ended] = field(default_factory=list)


def _stories(registry: Registry, decisions: Sequence[Decision]) -> dict[str, Story]:
    from kpictl.emails.story import Story, story_lines

    out = {}
    for decision in decisions:
        found = decision.open
        if found is None or not decision.delivers:
            continue
        zone = decision.status.moment.tzinfo
        tiers = [
            (s.tier or 0, s.delivered_at)
            for s in found.steps
            if s.step.startswith("tier-") and s.delivered_at is not None and s.channel == EMAIL
        ]
        tiers.sort(key=lambda item: item[1])
        ack = (
            (found.ack_by, found.ack_at, found.ack_note) if found.ack_by and found.ack_at else None
        )
        lines = story_lines(registry, tiers, ack, ack is not None, zone)
        outage = decision.action is Action.OUTAGE
        out[decision.status.kpi.id] = Story(
            lines=lines,
            last_deviation=found.deviation_pct if outage else None,
            open_tier=found.tier,
            opened_at=found.opened_at,
            thread_id=found.thread_id,
        )
    return out


def build_plan(
    inputs: Inputs, actuals: Actuals, remembered: dict[tuple[str, str], Remembered]
) -> Plan:
    """Decide every KPI against what is remembered and build the emails to deliver."""
    from kpictl.emails.outbox import mailer_for, scorecard
    from kpictl.numbers.history import histories

    statuses = scorecard(inputs, actuals)
    working_days = inputs.registry.settings.working_days
    decisions = [
        _chat_owed(inputs.registry, d)
        for d in plan(statuses, remembered, inputs.moment, working_days)
    ]
    mailer = mailer_for(inputs)
    stories = _stories(inputs.registry, decisions)
    firing = [d.send for d in decisions if d.send is not None and d.action is not Action.RESOLVED]
    sends = [status for status in firing if status is not None]
    built = mailer.escalations(sends, histories(sends, actuals), stories, statuses)
    emails = {email.key: email for email in built}
    for decision in decisions:
        if decision.action is Action.RESOLVED and decision.open is not None:
            email = _resolved(mailer, inputs.registry, decision, stories)
            if email is not None:
                emails[email.key] = email
    chats = []
    if any(status.tier is not None and status.tier.post_to for status in sends):
        from kpictl.emails.chat import chat_messages

        chats = [c for c in chat_messages(inputs.registry, sends) if c.kpi in emails]
    # A step whose email went but whose chat post did not: the post is owed, the email not.
    for decision in decisions:
        if decision.action is Action.UNCHANGED and decision.delivers:
            emails.pop(decision.status.kpi.id, None)
            found = decision.open
            assert found is not None and decision.step is not None
            chats = [
                c
                for c in chats
                if c.kpi != decision.status.kpi.id or not found.delivered(decision.step, c.channel)
            ]
    title = f"Escalations for {display.moment(inputs.moment)}"
    fiscal = inputs.registry.settings.fiscal_year_start_month
    over = ended(remembered, inputs.moment, inputs.registry.written_ids("kpi"), fiscal)
    return Plan(decisions, emails, [], mailer.warnings, title, chats, over)


def _chat_owed(registry: Registry, decision: Decision) -> Decision:
    """An unchanged escalation whose current tier has a chat post not delivered yet (it
    failed, or the channel was added): the step again, for that channel only."""
    found = decision.open
    status = decision.status
    if decision.action is not Action.UNCHANGED or found is None or status.policy is None:
        return decision
    tier = next((t for t in status.policy.tiers if t.level == found.tier), None)
    step = f"tier-{found.tier}"
    if tier is None or not found.delivered(step):
        return decision
    owed = [
        name
        for name in tier.post_to
        if name in registry.settings.chat and not found.delivered(step, name)
    ]
    if not owed:
        return decision
    send = replace(status, tier=tier, respond_by=found.respond_by.astimezone(status.moment.tzinfo))
    why = f"{decision.why}; chat post to {', '.join(owed)} not delivered before: retried"
    return replace(decision, why=why, send=send, step=step)


def _resolved(
    mailer: Mailer, registry: Registry, decision: Decision, stories: dict[str, Story]
) -> Email | None:
    from kpictl.emails.people import resolved_recipients

    found = decision.open
    assert found is not None
    last = found.last_tier_step()
    recipients = resolved_recipients(registry, decision.status.kpi, last.recipients if last else ())
    return mailer.resolved(decision.status, recipients, stories[decision.status.kpi.id])


def _no_history(store: Store) -> str:
    if not memory.remembers(store):
        # Read as it is by a dry run: the first --send upgrades it.
        return (
            f"the store {store.shown} was made by an older kpictl (store version "
            f"{store.version}) and holds no escalation history: every tier that fires counts "
            "as new; --send upgrades the store and starts remembering"
        )
    return (
        f"the store {store.shown} holds no escalation history (a new store, or one lost or "
        "replaced since the last run): every tier that fires counts as new, and what earlier "
        "runs delivered is not known"
    )


def preview(inputs: Inputs, actuals: Actuals) -> Plan:
    """The plan without changing anything: the store is read if there is one, never made."""
    from kpictl.numbers.store import StoreMissingError
    from kpictl.numbers.transfer import registry_store

    notes: list[str] = []
    try:
        store = registry_store(inputs.registry, create=False, read_only=True)
    except KpictlError as exc:
        if "there is no store yet" not in str(exc):
            raise
        remembered: dict[tuple[str, str], Remembered] = {}
        notes.append(
            "there is no store yet: no escalation is remembered, so every tier that fires "
            "counts as new (--send creates the store)"
        )
    except StoreMissingError:
        remembered = {}
    else:
        with store:
            remembered = _read(store)
            if not remembered and _guard(memory.last_run, store) is None:
                notes.append(_no_history(store))
    result = build_plan(inputs, actuals, remembered)
    result.notes[:0] = notes
    return result


def _read(store: Store) -> dict[tuple[str, str], Remembered]:
    return _guard(memory.open_escalations, store)


def _guard(call: Callable[[Store], T], store: Store) -> T:
    from kpictl.numbers.store import StoreError

    try:
        return call(store)
    except StoreError as exc:
        raise KpictlError(str(exc)) from None


class Channel(Protocol):
    """A way to deliver steps: `deliver` hands back each accepted one through `accepted`."""

    name: str

    def deliver(
        self,
        items: Sequence[tuple[str, Raw]],
        accepted: Callable[[Delivery], None],
    ) -> SendReport: ...


class EmailChannel:
    """Email through kpictl.yaml's SMTP settings, one connection for the whole run."""

    name = EMAIL

    def __init__(self, registry: Registry) -> None:
        block = registry.settings.email
        if block is None or block.smtp is None:
            raise KpictlError(
                "cannot send: kpictl.yaml has no email.smtp settings (host, port, starttls); "
                "add them, or use --out DIR to write .eml files instead"
            )
        self.smtp = block.smtp

    def deliver(
        self,
        items: Sequence[tuple[str, Raw]],
        accepted: Callable[[Delivery], None],
    ) -> SendReport:
        from kpictl.emails.smtp import SmtpSetupError, send_all

        try:
            return send_all(self.smtp, items, progress=accepted)
        except SmtpSetupError as exc:
            raise KpictlError(f"cannot send: {exc}") from None


def send(inputs: Inputs, actuals: Actuals, channel: Channel | None = None) -> tuple[Plan, Outcome]:
    """`escalate --send`: plan against the store, claim each step, deliver, remember.

    Refuses before anything is delivered when the store cannot be written or the
    evaluation moment is earlier than the last run's.
    """
    from kpictl.numbers.store import StoreError
    from kpictl.numbers.transfer import registry_store

    chosen = channel or EmailChannel(inputs.registry)
    with registry_store(inputs.registry, create=True) as store:
        try:
            last = memory.start_run(store, inputs.moment)
        except memory.ClockError as exc:
            shown = display.moment(exc.last.astimezone(inputs.moment.tzinfo))
            raise KpictlError(
                f"the store {store.shown} last escalated at {shown}, after "
                f"{display.moment(inputs.moment)}: refusing to run with the clock going "
                "backwards (it would resend or reopen what later runs decided); pass a later "
                "--as-of, or none for now",
                exit_code=2,
            ) from None
        except StoreError as exc:
            raise KpictlError(f"{exc}; nothing was sent") from None
        try:
            remembered = memory.open_escalations(store)
        except StoreError as exc:  # a damaged row: say, as above, that nothing went out
            raise KpictlError(f"{exc}; nothing was sent") from None
        result = build_plan(inputs, actuals, remembered)
        if last is None and not remembered:
            result.notes.insert(0, _no_history(store))
        try:
            outcome = _deliver(inputs, store, result, chosen)
        except StoreError as exc:
            raise KpictlError(
                f"sending stopped: {exc}; the last step the server took is not recorded and "
                "may be sent again by the next run"
            ) from None
    return result, outcome


def _deliver(inputs: Inputs, store: Store, result: Plan, channel: Channel) -> Outcome:
    from kpictl.numbers.store import StoreError

    runner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
    moment = inputs.moment
    try:
        closed: set[int] = set()
        for step in sorted({item.step for item in result.ended}):
            ids = [item.open.id for item in result.ended if item.step == step]
            closed |= memory.close_ended(store, ids, runner, moment, step)
    except StoreError as exc:
        # Before anything is claimed or sent: `send`'s "may be sent again" would be false.
        raise KpictlError(
            f"could not close the escalations whose periods ended: {exc}; nothing was sent "
            "and nothing closed, the next run tries again"
        ) from None
    deviations: dict[int, float] = {}
    delivering: list[Decision] = []
    to_open = []
    for decision in result.decisions:
        found = decision.open
        status = decision.status
        if found is not None and status.deviation_pct is not None and status.state is State.TIER:
            deviations[found.id] = status.deviation_pct
        chat_only = any(chat.kpi == status.kpi.id for chat in result.chats)
        if not decision.delivers or (status.kpi.id not in result.emails and not chat_only):
            continue
        delivering.append(decision)
        if found is None:
            send_status = decision.send
            period = period_of(status)
            assert send_status is not None and send_status.tier is not None
            assert send_status.respond_by is not None and period is not None
            level, due = send_status.tier.level, send_status.respond_by
            to_open.append((status.kpi.id, period, moment, level, due, status.deviation_pct))
    # One transaction opens every new escalation, one claims every step, both committed
    # before the first message leaves: a run of 2,000 steps is not 4,000 commits.
    try:
        memory.note_deviations(store, deviations)
        opened = memory.open_many(store, to_open)
    except StoreError as exc:
        raise _nothing_sent(exc) from None
    owners: dict[str, tuple[Decision, Remembered]] = {}
    for decision in delivering:
        status = decision.status
        found = decision.open or opened[(status.kpi.id, period_of(status) or "")]
        owners[status.kpi.id] = (decision, found)
    keys = {
        kpi: (found.id, decision.step or "", channel.name)
        for kpi, (decision, found) in owners.items()
        if kpi in result.emails
    }
    # A chat channel is a channel of its own: its step is claimed and recorded apart from
    # the email's, so a post that failed is retried without mailing anyone twice.
    chat_keys = [
        (chat, (owners[chat.kpi][1].id, owners[chat.kpi][0].step or "", chat.channel))
        for chat in result.chats
        if chat.kpi in owners
    ]
    everything = [*keys.values(), *(key for _, key in chat_keys)]
    try:
        won = memory.claim_many(store, everything, runner, datetime.now(UTC))
    except StoreError as exc:
        raise _nothing_sent(exc) from None
    claimed = {kpi: owners[kpi] for kpi, key in keys.items() if key in won}
    taken = [kpi for kpi, key in keys.items() if key not in won]

    def record(kpi: str, on: str, recipients: tuple[str, ...], message_id: str | None) -> None:
        decision, found = owners[kpi]
        step = decision.step
        assert step is not None
        send_status = decision.send
        moves = decision.action in (Action.NEW, Action.WORSE, Action.TIMED_OUT)
        tier = send_status.tier.level if send_status and send_status.tier else None
        memory.delivered(
            store,
            runner,
            memory.Delivered(
                escalation=found.id,
                step=step,
                channel=on,
                tier=tier if step.startswith("tier-") else found.tier,
                recipients=recipients,
                message_id=message_id,
                at=moment,
                new_tier=tier if moves else None,
                respond_by=send_status.respond_by if moves and send_status else None,
                close=decision.action is Action.RESOLVED,
            ),
        )

    def accepted(delivery: Delivery) -> None:
        message_id = result.emails[delivery.key].envelope.msgid
        record(delivery.key, channel.name, tuple(delivery.accepted), message_id)

    items = [(key, raw(result.emails[key])) for key in claimed]
    if items:
        report = channel.deliver(items, accepted)
    else:
        from kpictl.emails.smtp import SendReport

        report = SendReport()
    done = {d.key for d in report.deliveries if d.accepted}
    for key, (decision, found) in claimed.items():
        if key not in done:
            assert decision.step is not None
            memory.release(store, found.id, decision.step, channel.name, runner)
    posted = _post(inputs, store, runner, [(c, k) for c, k in chat_keys if k in won], record)
    mine = [item for item in result.ended if item.open.id in closed]
    theirs = [item for item in result.ended if item.open.id not in closed]
    return Outcome(report, len(items), taken, posted, mine, theirs)


def _nothing_sent(exc: Exception) -> KpictlError:
    """A store error before the first message left: nothing went out, so nothing repeats."""
    return KpictlError(f"{exc}; nothing was sent, the next run tries again")


def _post(
    inputs: Inputs,
    store: Store,
    runner: str,
    chats: list[tuple[ChatMessage, tuple[int, str, str]]],
    record: Callable[[str, str, tuple[str, ...], str | None], None],
) -> list[tuple[ChatMessage, ChatResult]]:
    """Post the claimed chat messages; record each that went, give back the others."""
    if not chats:
        return []
    from kpictl.emails.chat import post_all

    messages = [chat for chat, _ in chats]
    results = post_all(inputs.registry, messages, inputs.registry.root)
    for (chat, key), outcome in zip(chats, results, strict=True):
        if outcome.ok:
            record(chat.kpi, chat.channel, (chat.channel,), None)
        else:
            memory.release(store, *key, runner)
    return list(zip(messages, results, strict=True))


def raw(email: Email) -> Raw:
    """The message as bytes (built once, by the workers when there are many) and its envelope."""
    from kpictl.emails.smtp import Raw

    envelope = email.envelope
    recipients: list[str] = []
    for item in (*envelope.to, *envelope.cc):
        if item.addr_spec not in recipients:
            recipients.append(item.addr_spec)
    return Raw(envelope.sender.addr_spec, tuple(recipients), email.as_bytes())


def plan_lines(result: Plan) -> list[str]:
    """One line per KPI that has something open or firing: what it gets and why."""
    kpis = [d.status.kpi.id for d in result.decisions] + [e.open.kpi for e in result.ended]
    width = max(map(len, kpis), default=0)
    lines = [f"note: {note}" for note in result.notes]
    for decision in result.decisions:
        if decision.action is Action.QUIET:
            continue
        what = f"→ {decision.step}" if decision.delivers else "→ nothing"
        lines.append(f"{decision.status.kpi.id:<{width}}  {what:<14}  {decision.why}")
    for item in result.ended:
        lines.append(f"{item.open.kpi:<{width}}  {'→ closes':<14}  {item.why}")
    if not result.ended and not any(d.action is not Action.QUIET for d in result.decisions):
        lines.append("Nothing fires and nothing is open.")
    return lines


def outcome_lines(outcome: Outcome) -> list[str]:
    lines = [f"taken     {key}  (another run is delivering this step)" for key in outcome.taken]
    lines.extend(
        f"closed    {item.open.kpi}  {item.open.period} ({item.reason})" for item in outcome.closed
    )
    lines.extend(
        f"taken     {item.open.kpi}  (another run closed its {item.open.period} escalation)"
        for item in outcome.closed_elsewhere
    )
    # No sent log here (the store remembers steps), so no recipient reads "was sent".
    lines.extend(outcome.report.recipient_lines())
    report = outcome.report
    lines.append(f"Sent {report.sent} of {display.plural(outcome.total, 'email')}.")
    return lines


def outcome_failure(outcome: Outcome) -> str | None:
    stopped = outcome.report.stopped()
    if stopped is None:
        return None
    # A step the store did not mark delivered fires again on the next run.
    retry = "; the next run retries what was not sent" if outcome.report.unsent() else ""
    return stopped + retry

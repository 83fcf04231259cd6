"""Statuses and charters in, finished emails out: render the templates, compose the message."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from functools import partial
from typing import TYPE_CHECKING, Any

from kpictl import display
from kpictl.emails import context
from kpictl.emails.charter import driver_requests
from kpictl.emails.compose import AddressError, Sender, address, compose, message_id, to_bytes
from kpictl.emails.people import (
    Recipients,
    daci_recipients,
    driver_recipients,
    escalation_recipients,
    review_recipients,
)
from kpictl.numbers.actuals import Actuals
from kpictl.numbers.evaluate import CharterResult, KpiStatus, State
from kpictl.numbers.history import History
from kpictl.registry.models import Campaign, Person
from kpictl.registry.registry import Registry
from kpictl.registry.resolve import lead
from kpictl.templating.escaping import multiline

if TYPE_CHECKING:
    from jinja2 import Environment, Template

Templates = dict[str, tuple["Template", ...]]

# Each email: a subject, a text and an HTML template under templates/email/.
KINDS = (
    "escalation",
    "outage",
    "kickoff",
    "readout",
    "recap",
    "recap-requests",  # to the driver: what only they can fill in after a recap
    "review-request",  # to the approver and contributors, before they sign a draft
)


def template_names(kind: str) -> tuple[str, str, str]:
    return (f"email/{kind}.subject.j2", f"email/{kind}.txt.j2", f"email/{kind}.html.j2")


@dataclass(frozen=True)
class Envelope:
    """Everything a message needs besides the subject and the two parts."""

    sender: Address
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    reply_to: Address | None
    date: datetime
    msgid: str


@dataclass
class Email:
    """One rendered email and its message, ready to write or send."""

    kind: str
    key: str  # the file name stem: `mql`, `q4-legacy-bi-displacement-kickoff`
    subject: str
    text: str
    html: str
    to: list[Person]
    cc: list[Person]
    envelope: Envelope
    facts: dict[str, str] = field(default_factory=dict)  # for the summary and the index
    # The message as bytes, when a worker process has already made them.
    data: bytes | None = field(default=None, repr=False)
    _message: EmailMessage | None = field(default=None, repr=False, compare=False)

    @property
    def recipients(self) -> list[Person]:
        return [*self.to, *self.cc]

    @property
    def message(self) -> EmailMessage:
        if self._message is None:
            self._message = _compose(self.envelope, self.subject, self.text, self.html)
        return self._message

    def as_bytes(self) -> bytes:
        """The message as written to an .eml file."""
        if self.data is None:
            self.data = to_bytes(self.message)
        return self.data


def _compose(envelope: Envelope, subject: str, text: str, html: str) -> EmailMessage:
    return compose(
        sender=envelope.sender,
        to=envelope.to,
        cc=envelope.cc,
        reply_to=envelope.reply_to,
        subject=subject,
        text=text,
        html=html,
        date=envelope.date,
        msgid=envelope.msgid,
    )


def render_email(
    env: Environment, kind: str, values: dict[str, Any], templates: Templates | None = None
) -> tuple[str, str, str]:
    """Subject, text and HTML of one email; the bodies see the subject as `subject`.

    `templates` keeps the three templates of each kind, so a run of thousands of emails
    looks each one up once.
    """
    found = templates.get(kind) if templates is not None else None
    if found is None:
        found = tuple(env.get_template(name) for name in template_names(kind))
        if templates is not None:
            templates[kind] = found
    subject_template, text_template, html_template = found
    subject = display.clean(subject_template.render(values))
    values = {**values, "subject": subject}
    # Free text keeps its line breaks but no other control character: an escape
    # sequence in a description must not reach a mail client or a terminal raw.
    text = multiline(text_template.render(values))
    html = multiline(html_template.render(values))
    return subject, text, html


class Mailer:
    """Builds the emails of one run: one registry, one evaluation moment, one sender."""

    def __init__(
        self,
        registry: Registry,
        env: Environment,
        sender: Sender,
        moment: datetime,
        stable: bool,
    ) -> None:
        self.registry = registry
        self.env = env
        self.sender = sender
        self.moment = moment
        self.stable = stable  # --as-of given: the same Date and Message-ID on every run
        self.warnings: list[str] = []
        self.templates: Templates = {}

    def _addresses(self, people: Iterable[Person], what: str) -> tuple[Address, ...]:
        out = []
        for person in people:
            try:
                out.append(address(person.name, person.email))
            except AddressError as exc:
                self.warnings.append(f"{what}: {person.id} left out: {exc}")
        return tuple(out)

    def _email(
        self,
        kind: str,
        key: str,
        values: dict[str, Any],
        recipients: Recipients,
        reply_to: Address | None,
        facts: dict[str, str],
    ) -> Email | None:
        subject, text, html = render_email(self.env, kind, values, self.templates)
        to = self._addresses(recipients.to, key)
        cc = self._addresses(recipients.cc, key)
        if not to:
            self.warnings.append(f"{key}: nobody to send the {kind} email to; skipped")
            return None
        msgid = message_id(kind, key, self.moment, self.sender.domain, self.stable)
        envelope = Envelope(
            self.sender.address, to, cc, reply_to or self.sender.reply_to, self.moment, msgid
        )
        message = _compose(envelope, subject, text, html)
        return Email(
            kind,
            key,
            subject,
            text,
            html,
            recipients.to,
            recipients.cc,
            envelope,
            facts,
            _message=message,
        )

    def escalations(
        self, statuses: list[KpiStatus], histories: dict[str, History] | None = None
    ) -> list[Email]:
        """One email per KPI whose state fires a tier, worst first.

        Thousands of escalations are built by worker processes (see emails.workers); the
        emails, their order and their bytes are the same either way.
        """
        from kpictl.emails.workers import build_all

        by_source = context.outages_by_source(statuses)
        states = context.states_by_kpi(statuses)
        firing = [status for status in statuses if status.tier is not None]
        build = partial(
            self._escalation, by_source=by_source, states=states, histories=histories or {}
        )
        return build_all(self, firing, build)

    def _escalation(
        self,
        status: KpiStatus,
        by_source: dict[str, list[str]],
        states: dict[str, context.View],
        histories: dict[str, History],
    ) -> Email | None:
        assert status.tier is not None and status.respond_by is not None
        outage = status.state is State.OUTAGE
        recipients = escalation_recipients(self.registry, status.kpi, status.tier, outage)
        values = context.escalation_context(
            self.registry, status, recipients, by_source, states, histories.get(status.kpi.id)
        )
        facts = {
            "kpi": status.kpi.id,
            "state": "data outage" if outage else "deviation",
            "tier": f"{status.tier.level} · {display.clean(status.tier.name)}",
            "respond_by": display.moment_short(status.respond_by),
        }
        kind = "outage" if outage else "escalation"
        return self._email(kind, status.kpi.id, values, recipients, None, facts)

    def _driver_reply_to(self, campaign: Campaign) -> Address | None:
        """Replies to a campaign email go to the person driving the campaign."""
        driver = self.registry.person(campaign.daci.driver) or lead(
            self.registry, campaign.daci.driver
        )
        if driver is None:
            return None
        try:
            return address(driver.name, driver.email)
        except AddressError:
            return None

    def kickoff(self, campaign: Campaign, actuals: Actuals | None) -> Email | None:
        values = context.kickoff_context(self.registry, campaign, self.moment, actuals)
        recipients = daci_recipients(self.registry, campaign, raci=True)
        facts = {"campaign": campaign.id, "email": "kickoff"}
        return self._email(
            "kickoff",
            f"{campaign.id}-kickoff",
            values,
            recipients,
            self._driver_reply_to(campaign),
            facts,
        )

    def readout(
        self,
        campaign: Campaign,
        day_number: int,
        when: date,
        results: list[CharterResult],
        histories: dict[str, History] | None = None,
    ) -> Email | None:
        values = context.readout_context(
            self.registry, campaign, day_number, when, results, self.moment, histories
        )
        recipients = daci_recipients(self.registry, campaign, raci=True)
        facts = {"campaign": campaign.id, "email": f"day-{day_number} readout"}
        return self._email(
            "readout",
            f"{campaign.id}-readout-day-{day_number}",
            values,
            recipients,
            self._driver_reply_to(campaign),
            facts,
        )

    def recap(
        self,
        campaign: Campaign,
        results: list[CharterResult],
        day: date,
        actuals: Actuals,
        histories: dict[str, History] | None = None,
    ) -> list[Email]:
        """The executives' recap and, when it leaves gaps, the driver's own list of them."""
        values = context.recap_context(
            self.registry, campaign, results, day, self.moment, actuals, histories
        )
        recipients = daci_recipients(self.registry, campaign)
        facts = {"campaign": campaign.id, "email": "recap"}
        reply_to = self._driver_reply_to(campaign)
        recap = self._email("recap", f"{campaign.id}-recap", values, recipients, reply_to, facts)
        emails = [recap] if recap else []
        requests = driver_requests(campaign, results, values["commitments"], values["final"])
        if requests:
            asks = context.recap_requests_context(self.registry, values, requests, self.moment)
            email = self._email(
                "recap-requests",
                f"{campaign.id}-recap-requests",
                asks,
                driver_recipients(self.registry, campaign),
                None,
                {"campaign": campaign.id, "email": "recap requests to the driver"},
            )
            emails.extend([email] if email else [])
        return emails

    def review_request(self, campaign: Campaign, actuals: Actuals | None) -> Email | None:
        values = context.review_request_context(self.registry, campaign, self.moment, actuals)
        return self._email(
            "review-request",
            f"{campaign.id}-review-request",
            values,
            review_recipients(self.registry, campaign),
            self._driver_reply_to(campaign),
            {"campaign": campaign.id, "email": "review request"},
        )

"""Statuses and charters in, finished emails out: render the templates, compose the message."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from kpictl import display
from kpictl.actuals import Actuals
from kpictl.emails import context
from kpictl.emails.compose import AddressError, Sender, address, compose, message_id
from kpictl.emails.people import Recipients, daci_recipients, escalation_recipients
from kpictl.evaluate import CharterResult, KpiStatus, State
from kpictl.models import Campaign, Person
from kpictl.registry import Registry

if TYPE_CHECKING:
    from jinja2 import Environment

# Each email: a subject, a text and an HTML template under templates/email/.
KINDS = ("escalation", "outage", "kickoff", "readout", "recap")


def template_names(kind: str) -> tuple[str, str, str]:
    return (f"email/{kind}.subject.j2", f"email/{kind}.txt.j2", f"email/{kind}.html.j2")


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
    message: EmailMessage
    facts: dict[str, str] = field(default_factory=dict)  # for the summary and the index

    @property
    def recipients(self) -> list[Person]:
        return [*self.to, *self.cc]


def render_email(env: Environment, kind: str, values: dict[str, Any]) -> tuple[str, str, str]:
    """Subject, text and HTML of one email; the bodies see the subject as `subject`."""
    subject_name, text_name, html_name = template_names(kind)
    subject = display.clean(env.get_template(subject_name).render(values))
    values = {**values, "subject": subject}
    text = env.get_template(text_name).render(values)
    html = env.get_template(html_name).render(values)
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
        subject, text, html = render_email(self.env, kind, values)
        to = self._addresses(recipients.to, key)
        cc = self._addresses(recipients.cc, key)
        if not to:
            self.warnings.append(f"{key}: nobody to send the {kind} email to; skipped")
            return None
        msgid = message_id(kind, key, self.moment, self.sender.domain, self.stable)
        message = compose(
            sender=self.sender.address,
            to=to,
            cc=cc,
            reply_to=reply_to or self.sender.reply_to,
            subject=subject,
            text=text,
            html=html,
            date=self.moment,
            msgid=msgid,
        )
        return Email(kind, key, subject, text, html, recipients.to, recipients.cc, message, facts)

    def escalations(self, statuses: list[KpiStatus]) -> list[Email]:
        """One email per KPI whose state fires a tier, worst first."""
        by_source = context.outages_by_source(statuses)
        emails = []
        for status in statuses:
            if status.tier is None:
                continue
            outage = status.state is State.OUTAGE
            recipients = escalation_recipients(self.registry, status.kpi, status.tier, outage)
            values = context.escalation_context(self.registry, status, recipients, by_source)
            assert status.respond_by is not None
            facts = {
                "kpi": status.kpi.id,
                "state": "data outage" if outage else "deviation",
                "tier": f"{status.tier.level} · {display.clean(status.tier.name)}",
                "respond_by": display.moment_short(status.respond_by),
            }
            kind = "outage" if outage else "escalation"
            built = self._email(kind, status.kpi.id, values, recipients, None, facts)
            if built is not None:
                emails.append(built)
        return emails

    def _driver_reply_to(self, campaign: Campaign) -> Address | None:
        """Replies to a campaign email go to the person driving the campaign."""
        driver = self.registry.person(campaign.daci.driver) or self.registry.lead_of(
            campaign.daci.driver
        )
        if driver is None:
            return None
        try:
            return address(driver.name, driver.email)
        except AddressError:
            return None

    def kickoff(self, campaign: Campaign, actuals: Actuals | None) -> Email | None:
        values = context.kickoff_context(self.registry, campaign, self.moment, actuals)
        recipients = daci_recipients(self.registry, campaign)
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
        self, campaign: Campaign, day_number: int, when: date, results: list[CharterResult]
    ) -> Email | None:
        values = context.readout_context(
            self.registry, campaign, day_number, when, results, self.moment
        )
        recipients = daci_recipients(self.registry, campaign)
        facts = {"campaign": campaign.id, "email": f"day-{day_number} readout"}
        return self._email(
            "readout",
            f"{campaign.id}-readout-day-{day_number}",
            values,
            recipients,
            self._driver_reply_to(campaign),
            facts,
        )

    def recap(self, campaign: Campaign, results: list[CharterResult], day: date) -> Email | None:
        values = context.recap_context(self.registry, campaign, results, day, self.moment)
        recipients = daci_recipients(self.registry, campaign)
        facts = {"campaign": campaign.id, "email": "recap"}
        return self._email(
            "recap",
            f"{campaign.id}-recap",
            values,
            recipients,
            self._driver_reply_to(campaign),
            facts,
        )

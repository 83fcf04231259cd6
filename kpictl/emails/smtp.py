"""Sending emails through the SMTP server named in kpictl.yaml.

One connection for the whole batch. The first failure stops the batch: nothing
after it is sent, and the report says exactly which recipients the server accepted
and which it did not. A message is only reported as sent once the server has
accepted it; if the connection breaks before that, it counts as not sent.
Recipients that an earlier run already delivered to (see kpictl.emails.sentlog) are left
out, and a message with none left is not sent at all.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage

from kpictl.registry.config import Smtp

PASSWORD_VARIABLE = "KPICTL_SMTP_PASSWORD"


class SmtpSetupError(Exception):
    """Sending cannot start (no settings, no password): nothing was attempted."""


@dataclass(frozen=True)
class Raw:
    """A message already made into bytes, with its envelope (taken from the address
    objects it was built with, as `envelope` does): sent as is, never parsed again."""

    sender: str
    recipients: tuple[str, ...]
    data: bytes


@dataclass
class Delivery:
    """What happened to one message, per recipient."""

    key: str
    accepted: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # address → server reply
    not_sent: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)  # delivered by an earlier run


@dataclass
class SendReport:
    deliveries: list[Delivery] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not any(d.refused or d.not_sent for d in self.deliveries)

    @property
    def sent(self) -> int:
        return sum(1 for d in self.deliveries if d.accepted and not d.refused and not d.not_sent)

    @property
    def sent_before(self) -> int:
        """Messages left out whole: an earlier run delivered them to everyone."""
        return sum(1 for d in self.deliveries if d.already and not (d.accepted or d.not_sent))

    def recipient_lines(self) -> list[str]:
        """One line per recipient and what became of them (emails and escalate print these)."""
        lines: list[str] = []
        for sent in self.deliveries:
            lines.extend(f"was sent  {sent.key}  {addr}" for addr in sent.already)
            lines.extend(f"sent      {sent.key}  {addr}" for addr in sent.accepted)
            lines.extend(
                f"refused   {sent.key}  {addr}  ({reply})" for addr, reply in sent.refused.items()
            )
            lines.extend(f"not sent  {sent.key}  {addr}" for addr in sent.not_sent)
        return lines

    def unsent(self) -> list[str]:
        """Keys of the messages no recipient accepted."""
        return [d.key for d in self.deliveries if not d.accepted]

    def stopped(self) -> str | None:
        """Why sending stopped and which messages did not (fully) go, or None if all went."""
        if self.ok:
            return None
        not_sent = self.unsent()
        partly = [d.key for d in self.deliveries if d.accepted and (d.refused or d.not_sent)]
        detail = f"; not sent: {', '.join(not_sent)}" if not_sent else ""
        detail += f"; partly sent: {', '.join(partly)}" if partly else ""
        return f"sending stopped: {self.error}{detail}"


def envelope(message: EmailMessage) -> tuple[str, list[str]]:
    """The envelope sender and recipients (To and Cc) of a message.

    Taken from the address objects the message was built with, not from its header
    text: re-parsing a display name is how a name such as `Ann, <x@evil.example>`
    would turn into a recipient.
    """
    sender = _addr_specs(message, "From")
    seen: list[str] = []
    for addr in (*_addr_specs(message, "To"), *_addr_specs(message, "Cc")):
        if addr and addr not in seen:
            seen.append(addr)
    return (sender[0] if sender else ""), seen


def _addr_specs(message: EmailMessage, name: str) -> list[str]:
    return [item.addr_spec for header in message.get_all(name, []) for item in header.addresses]


def _reply(code: int, text: bytes | str) -> str:
    body = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(body.split())}".strip()


def _connect(settings: Smtp, password: str | None) -> smtplib.SMTP:
    where = f"{settings.host}:{settings.port}"
    context = ssl.create_default_context()
    try:
        if settings.ssl:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout, context=context
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        try:
            client.ehlo()
            if settings.starttls and not settings.ssl:
                client.starttls(context=context)
                client.ehlo()
            if settings.username:
                client.login(settings.username, password or "")
        except BaseException:
            client.close()
            raise
    except smtplib.SMTPNotSupportedError as exc:
        what = "STARTTLS" if "STARTTLS" in str(exc).upper() else "authentication"
        raise ConnectionError(
            f"the SMTP server at {where} does not offer {what} ({exc}); "
            + (
                "set email.smtp.starttls: false only for a trusted local relay"
                if what == "STARTTLS"
                else "remove email.smtp.username if the server needs no login"
            )
        ) from None
    except smtplib.SMTPAuthenticationError as exc:
        raise ConnectionError(
            f"the SMTP server at {where} refused the login for '{settings.username}': "
            f"{_reply(exc.smtp_code, exc.smtp_error)}; check {PASSWORD_VARIABLE}"
        ) from None
    except TimeoutError:
        raise ConnectionError(
            f"the SMTP server at {where} did not answer within {settings.timeout:g} s"
        ) from None
    except smtplib.SMTPServerDisconnected as exc:
        if "timed out" in str(exc):
            raise ConnectionError(
                f"the SMTP server at {where} did not answer within {settings.timeout:g} s"
            ) from None
        raise ConnectionError(
            f"the SMTP server at {where} closed the connection before any email was sent ({exc})"
        ) from None
    except ssl.SSLError as exc:
        raise ConnectionError(f"TLS with the SMTP server at {where} failed: {exc}") from None
    except smtplib.SMTPException as exc:
        raise ConnectionError(f"the SMTP server at {where} failed: {exc}") from None
    except OSError as exc:
        raise ConnectionError(
            f"cannot connect to the SMTP server at {where}: {exc.strerror or exc}"
        ) from None
    return client


def password_for(settings: Smtp) -> str | None:
    """The SMTP password from the environment, when a username needs one."""
    if not settings.username:
        return None
    password = os.environ.get(PASSWORD_VARIABLE)
    if not password:
        raise SmtpSetupError(
            f"email.smtp.username is '{settings.username}' but {PASSWORD_VARIABLE} is not "
            "set: export the password in that variable (never in kpictl.yaml)"
        )
    if not settings.starttls and not settings.ssl:
        raise SmtpSetupError(
            "refusing to send the SMTP password over an unencrypted connection: set "
            "email.smtp.starttls: true (or ssl: true)"
        )
    return password


def send_all(
    settings: Smtp,
    messages: Sequence[tuple[str, EmailMessage | Raw]],
    progress: Callable[[Delivery], None] | None = None,
    delivered: Mapping[str, Collection[str]] | None = None,
) -> SendReport:
    """Send (key, message) pairs in order; stop at the first failure.

    `delivered` maps a key to the addresses an earlier run already delivered it to.
    """
    password = password_for(settings)
    report = SendReport()
    delivered = delivered or {}
    pending = []
    for key, msg in messages:
        if isinstance(msg, Raw):
            sender, rcpts = msg.sender, list(msg.recipients)
        else:
            sender, rcpts = envelope(msg)
        before = delivered.get(key, ())
        already = [addr for addr in rcpts if addr in before]
        pending.append((key, msg, sender, [a for a in rcpts if a not in before], already))

    def give_up(start: int, reason: str) -> SendReport:
        for key, _, _, rcpts, already in pending[start:]:
            report.deliveries.append(Delivery(key, not_sent=list(rcpts), already=already))
        report.error = reason
        return report

    if not any(rcpts for _, _, _, rcpts, _ in pending):
        # Everything went out before: no need to reach the server at all.
        report.deliveries = [Delivery(key, already=already) for key, *_, already in pending]
        return report
    try:
        client = _connect(settings, password)
    except ConnectionError as exc:
        return give_up(0, str(exc))
    where = f"{settings.host}:{settings.port}"
    try:
        for i, (key, msg, sender, rcpts, already) in enumerate(pending):
            delivery = Delivery(key, already=already)
            if not rcpts:
                report.deliveries.append(delivery)
                continue
            try:
                if isinstance(msg, Raw):
                    refused = client.sendmail(sender, rcpts, msg.data)
                else:
                    refused = client.send_message(msg, from_addr=sender, to_addrs=rcpts)
            except smtplib.SMTPRecipientsRefused as exc:
                delivery.refused = {a: _reply(c, t) for a, (c, t) in exc.recipients.items()}
                delivery.not_sent = [a for a in rcpts if a not in delivery.refused]
                report.deliveries.append(delivery)
                return give_up(i + 1, f"the server refused every recipient of '{key}'")
            except smtplib.SMTPSenderRefused as exc:
                delivery.not_sent = list(rcpts)
                report.deliveries.append(delivery)
                return give_up(
                    i + 1,
                    f"the server refused the sender {sender}: "
                    + _reply(exc.smtp_code, exc.smtp_error),
                )
            except smtplib.SMTPDataError as exc:
                delivery.not_sent = list(rcpts)
                report.deliveries.append(delivery)
                return give_up(
                    i + 1,
                    f"the server refused '{key}': {_reply(exc.smtp_code, exc.smtp_error)}",
                )
            except (smtplib.SMTPServerDisconnected, TimeoutError, OSError) as exc:
                delivery.not_sent = list(rcpts)
                report.deliveries.append(delivery)
                reason = (
                    f"no answer from {where} within {settings.timeout:g} s"
                    if isinstance(exc, TimeoutError) or "timed out" in str(exc)
                    else f"the connection to {where} broke ({exc or type(exc).__name__})"
                )
                return give_up(i + 1, f"{reason} while sending '{key}'; it may not have arrived")
            except smtplib.SMTPException as exc:
                delivery.not_sent = list(rcpts)
                report.deliveries.append(delivery)
                return give_up(i + 1, f"sending '{key}' failed: {exc}")
            delivery.refused = {a: _reply(c, t) for a, (c, t) in refused.items()}
            delivery.accepted = [a for a in rcpts if a not in delivery.refused]
            report.deliveries.append(delivery)
            if progress is not None:
                progress(delivery)
            if delivery.refused:
                return give_up(i + 1, f"the server refused some recipients of '{key}'")
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()
    return report

"""Escalations in chat: Slack Block Kit messages and Teams Adaptive Cards, posted with httpx.

Interface (for the escalation lifecycle and `kpictl escalate`; nothing here prints):

- `chat_messages(registry, statuses)` → one `ChatMessage` per firing tier and channel in
  its `post_to`, built from the same escalation context as the emails
  (`kpictl.emails.context.escalation_context`).
- `slack_message(values, map_url)` / `teams_message(values, map_url)` → the JSON payload
  for one escalation context.
- `webhook_url(settings, channel, root, environ)` → a `DatabaseUrl` whose `${NAME}` is
  filled in from the environment (`ConnectError` naming an unset variable) and whose
  `redact` hides it: a webhook URL is itself a secret and never appears in any output.
- `post(channel, url, payload, limits, deadline)` → `ChatResult(channel, ok,
  status, attempts, error)`: connect and read timeouts, up to `limits.attempts` tries
  with exponential backoff on 429, 5xx and failed connections, honouring `Retry-After`
  (seconds or an HTTP date, capped at `limits.max_wait`); a read timeout is not
  retried (the service may have posted the message: a second try could post it twice);
  at most `limits.per_post` seconds per post and never past `deadline` (a
  `time.monotonic()` value: the run's budget). `error` names the channel, the status
  and a short reason, never the URL.
- `post_all(registry, messages, root, environ, limits)` → one `ChatResult` per message,
  within `limits.per_run` seconds in all.

Registry text reaches Slack as `plain_text` (header, fields) or escaped mrkdwn
(`escaping.mrkdwn`), and Teams as escaped TextBlocks (`escaping.card_text`), so a KPI
name can neither mention `@channel` nor add a link; the only link is `links.map`
(http(s), checked by the schema), as a button.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from kpictl.emails import context
from kpictl.emails.people import escalation_recipients
from kpictl.numbers.connections import ConnectError, DatabaseUrl, expand
from kpictl.numbers.evaluate import KpiStatus, State
from kpictl.registry.config import Settings
from kpictl.registry.registry import Registry
from kpictl.templating.escaping import card_text, mrkdwn, oneline

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
# Slack's limits: a header's plain text, a field's text, the fallback text.
_HEADER_CHARS = 150
_FIELD_CHARS = 2000
_REASON_CHARS = 80
# Shorter parts of a webhook path (`services`, `v1`) are no secret, and hiding them
# would blank ordinary words in a reason.
_SECRET_MIN = 8


@dataclass(frozen=True, slots=True)
class ChatMessage:
    kpi: str
    channel: str
    kind: str  # slack | teams
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ChatResult:
    channel: str
    ok: bool
    status: int | None  # the last HTTP status, None when nothing answered
    attempts: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    """How long kpictl waits for a chat service; seconds."""

    connect: float = 5.0
    read: float = 10.0
    attempts: int = 4
    backoff: float = 1.0  # first wait; doubles each retry
    max_wait: float = 30.0  # the longest Retry-After honoured
    per_post: float = 60.0
    per_run: float = 300.0


DEFAULT_LIMITS = Limits()


# --- building --------------------------------------------------------------------------


def chat_messages(registry: Registry, statuses: Sequence[KpiStatus]) -> list[ChatMessage]:
    """One message per firing KPI and channel its tier posts to, worst first."""
    by_source = context.outages_by_source(statuses)
    links = registry.settings.links
    map_url = links.map if links else None
    out: list[ChatMessage] = []
    for status in statuses:
        tier = status.tier
        if tier is None or not tier.post_to:
            continue
        outage = status.state is State.OUTAGE
        recipients = escalation_recipients(registry, status.kpi, tier, outage)
        values = context.escalation_context(registry, status, recipients, by_source)
        for name in tier.post_to:
            channel = registry.settings.chat.get(name)
            if channel is None:  # a check finding (R002); nothing to post to
                continue
            build = slack_message if channel.kind == "slack" else teams_message
            out.append(ChatMessage(status.kpi.id, name, channel.kind, build(values, map_url)))
    return out


def _facts(values: context.View) -> list[tuple[str, str]]:
    """(label, value) pairs both services show: registry text, not yet escaped."""
    tier = values["tier"]
    numbers = values["numbers"]
    kpi = values["kpi"]
    if values["outage"]:
        outage = values["outage"]
        deviation = (
            "data outage: no value for the period"
            if outage["missing"]
            else f"data outage: last value {outage['last_value']} as of {outage['as_of']}"
        )
    else:
        deviation = (
            f"{numbers['deviation']} {kpi['worse_word']} the target to date "
            f"({numbers['actual']} against {numbers['target_to_date']})"
        )
    owner = values["recipients"]["to"] or [kpi["owner"]]
    acting = kpi["owner"] or owner[0]
    return [
        ("KPI", f"{kpi['name']} ({kpi['id']})"),
        ("Tier", f"Level {tier['level']} · {tier['name']}"),
        ("Deviation", deviation),
        ("Respond by", values["respond_by"]["text"]),
        ("Owner", acting["name"] if acting else "nobody active"),
        ("Period", values["period"]["label"]),
    ]


def _title(values: context.View) -> str:
    kind = "Data outage" if values["outage"] else "Escalation"
    return f"{kind}: {values['kpi']['name']} at level {values['tier']['level']}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_message(values: context.View, map_url: str | None) -> dict[str, Any]:
    """A Block Kit message: header, fields, what the tier asks for, and the map link."""
    facts = _facts(values)
    title = oneline(_title(values))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(title, _HEADER_CHARS)}},
        {
            "type": "section",
            "fields": [
                {
                    "type": "plain_text",
                    "text": _clip(f"{label}: {oneline(value)}", _FIELD_CHARS),
                    "emoji": False,
                }
                for label, value in facts
            ],
        },
    ]
    actions = values["tier"]["actions"]
    if actions:
        listed = "; ".join(oneline(action) for action in actions)
        blocks.append(
            {
                "type": "section",
                "text": {"type": "plain_text", "text": _clip(f"Asked for: {listed}", 3000)},
            }
        )
    if map_url:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open the accountability map"},
                        "url": map_url,
                    }
                ],
            }
        )
    sent = values["sent"]
    by = f"kpictl for {sent['organization']}" if sent["organization"] else "kpictl"
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": mrkdwn(f"Sent by {by} at {sent['at']}")}],
        }
    )
    fallback = f"{title}. " + ". ".join(f"{label}: {value}" for label, value in facts[2:5])
    return {"text": mrkdwn(fallback), "blocks": blocks}


def teams_message(values: context.View, map_url: str | None) -> dict[str, Any]:
    """An incoming-webhook envelope holding one Adaptive Card (1.4)."""
    facts = _facts(values)
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": card_text(_title(values)),
            "size": "Large",
            "weight": "Bolder",
            "wrap": True,
            "color": "Attention",
        },
        {
            "type": "FactSet",
            "facts": [{"title": label, "value": card_text(value)} for label, value in facts],
        },
    ]
    actions = values["tier"]["actions"]
    if actions:
        body.append(
            {
                "type": "TextBlock",
                "text": card_text("Asked for: " + "; ".join(actions)),
                "wrap": True,
            }
        )
    sent = values["sent"]
    by = f"kpictl for {sent['organization']}" if sent["organization"] else "kpictl"
    body.append(
        {
            "type": "TextBlock",
            "text": card_text(f"Sent by {by} at {sent['at']}"),
            "isSubtle": True,
            "size": "Small",
            "wrap": True,
        }
    )
    card: dict[str, Any] = {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if map_url:
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": "Open the accountability map", "url": map_url}
        ]
    return {
        "type": "message",
        "attachments": [{"contentType": ADAPTIVE_CARD, "contentUrl": None, "content": card}],
    }


# --- posting ---------------------------------------------------------------------------


def webhook_url(
    settings: Settings, channel: str, root: Path, environ: Mapping[str, str] | None = None
) -> DatabaseUrl:
    """The webhook URL of `channel`, its `${NAME}` filled in; ConnectError when unset."""
    found = settings.chat.get(channel)
    if found is None:
        raise ConnectError(f"there is no chat channel '{channel}' in kpictl.yaml")
    try:
        url = expand(channel, found.url, root, environ)
    except ConnectError as exc:
        raise ConnectError(str(exc).replace("connection '", "chat channel '", 1)) from None
    return DatabaseUrl(url.name, url.url, (*url.secrets, *_secret_parts(url.url)))


def _secret_parts(url: str) -> tuple[str, ...]:
    """The whole URL is a secret, and so is each tail of its path: a webhook's token is
    its path, and a service may echo part of it back in an error message."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    segments = parts.path.split("/")
    tails = ["/".join(segments[i:]) for i in range(len(segments))]
    return tuple(part for part in (url, *tails, parts.query) if len(part) >= _SECRET_MIN)


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _reason(url: DatabaseUrl, text: str) -> str:
    """A short, single-line, redacted excerpt of what the service answered."""
    short = oneline(url.redact(text))[:_REASON_CHARS]
    return f": {short}" if short else ""


def post(
    channel: str,
    url: DatabaseUrl | str,
    payload: Mapping[str, Any],
    limits: Limits = DEFAULT_LIMITS,
    deadline: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ChatResult:
    """POST `payload` as JSON to the webhook `url`, retrying on 429 and 5xx (see module)."""
    import httpx

    if isinstance(url, str):
        url = DatabaseUrl(channel, url, _secret_parts(url))
    start = time.monotonic()
    stop = start + limits.per_post
    if deadline is not None:
        stop = min(stop, deadline)
    status: int | None = None
    error = ""
    attempts = 0
    timeout = httpx.Timeout(limits.read, connect=limits.connect)
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        while attempts < limits.attempts:
            left = stop - time.monotonic()
            if left <= 0:
                break
            attempts += 1
            wait: float | None = None
            try:
                response = client.post(
                    url.url,
                    json=payload,
                    timeout=httpx.Timeout(
                        min(limits.read, left), connect=min(limits.connect, left)
                    ),
                )
            except httpx.ConnectTimeout:
                status = None
                error = "could not connect in time (connect timeout)"
            except httpx.TimeoutException:
                # The service got the message and did not answer: it may have posted it,
                # so sending again could post it twice. Reported, not retried.
                status = None
                error = "no answer in time (read timeout; the message may have been posted)"
                break
            except httpx.HTTPError as exc:
                status = None
                error = f"could not reach the service ({type(exc).__name__})"
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return ChatResult(channel, True, status, attempts)
                error = f"HTTP {status}{_reason(url, response.text)}"
                if status != 429 and status < 500:
                    break  # the service refused the message; sending it again will not help
                wait = retry_after(response.headers.get("retry-after"))
            backoff = limits.backoff * 2 ** (attempts - 1)
            pause = min(limits.max_wait, max(backoff, wait or 0.0))
            if attempts >= limits.attempts or time.monotonic() + pause >= stop:
                break
            sleep(pause)
    tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
    message = f"chat channel '{channel}': {error or 'out of time'} after {tries}"
    return ChatResult(channel, False, status, attempts, url.redact(message))


def post_all(
    registry: Registry,
    messages: Sequence[ChatMessage],
    root: Path,
    environ: Mapping[str, str] | None = None,
    limits: Limits | None = None,
) -> list[ChatResult]:
    """Post every message in order, within `limits.per_run` seconds in all.

    A channel whose webhook variable is unset fails with that message (nothing posted
    to it); the other channels still get theirs.
    """
    limits = limits or DEFAULT_LIMITS
    deadline = time.monotonic() + limits.per_run
    urls: dict[str, DatabaseUrl | str] = {}
    results: list[ChatResult] = []
    for message in messages:
        if message.channel not in urls:
            try:
                urls[message.channel] = webhook_url(
                    registry.settings, message.channel, root, environ
                )
            except ConnectError as exc:
                urls[message.channel] = str(exc)
        url = urls[message.channel]
        if not isinstance(url, DatabaseUrl):
            results.append(ChatResult(message.channel, False, None, 0, url))
            continue
        results.append(post(message.channel, url, message.payload, limits, deadline))
    return results

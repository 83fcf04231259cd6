"""What an escalation email tells about the escalation so far: the tiers that went out
before and what became of them, the last known deviation, and the resolved note's values.

Data comes from kpictl.escalation.memory (what the store remembers); the words are the
templates'. Every value here is cleaned for one line, as templates expect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kpictl import display
from kpictl.emails.context import kpi_view, period_view
from kpictl.emails.people import Recipients
from kpictl.numbers.evaluate import KpiStatus
from kpictl.registry.registry import Registry

View = dict[str, Any]


@dataclass(frozen=True)
class Story:
    """What one email of an escalation knows beyond today's numbers."""

    lines: tuple[str, ...] = ()  # the tiers before and what became of them
    last_deviation: float | None = None  # an outage while a miss is open states it
    open_tier: int | None = None  # the tier the escalation stays open at
    opened_at: datetime | None = None
    thread_id: str | None = None  # the first step's Message-ID: later steps reply to it


def person_name(registry: Registry, person_id: str) -> str:
    person = registry.person(person_id)
    return display.clean(person.name) if person is not None else person_id


def story_lines(
    registry: Registry,
    steps: list[tuple[int, datetime]],
    ack: tuple[str, datetime, str | None] | None,
    responded: bool,
    zone: Any,
) -> tuple[str, ...]:
    """One line per tier delivered before, oldest first, saying what became of it.

    `steps` are (tier, delivered at); `ack` is (person id, at, note) when someone took it
    on; a tier nobody acknowledged and that later ones followed got no response.
    """
    lines = []
    for i, (tier, at) in enumerate(steps):
        when = display.moment_short(at.astimezone(zone))
        line = f"Tier {tier} went out on {when}"
        last = i == len(steps) - 1
        if ack is not None and last:
            person, ack_at, note = ack
            line += (
                f"; acknowledged by {person_name(registry, person)} on "
                f"{display.moment_short(ack_at.astimezone(zone))}"
            )
            if note:
                line += f": {display.clean(note)[:200]}"
        elif not last or not responded:
            line += "; no response since then"
        lines.append(line + ".")
    return tuple(lines)


def resolved_context(
    registry: Registry, status: KpiStatus, recipients: Recipients, story: Story
) -> View:
    """Everything resolved.* templates may use."""
    from kpictl.emails.context import _recipients_view, _sent

    assert status.period is not None
    kpi = status.kpi
    fiscal = registry.settings.fiscal_year_start_month
    actual = status.actual
    opened = story.opened_at.astimezone(status.moment.tzinfo) if story.opened_at else None
    return {
        "kind": "resolved",
        "kpi": kpi_view(registry, kpi),
        "period": period_view(status.period, fiscal, status.moment.date()),
        "numbers": {
            "actual": display.number(actual.value, kpi) if actual else None,
            "target_to_date": display.number(status.target_to_date or 0, kpi),
        },
        "open_tier": story.open_tier,
        "opened": display.moment_short(opened) if opened else None,
        "story": list(story.lines),
        "recipients": _recipients_view(recipients),
        "sent": _sent(registry, status.moment),
    }

"""Sample data for every shipped template, built from a registry: `kpictl check` renders
template overrides with it, so a broken override fails before any email is due."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from kpictl.emails import context
from kpictl.emails.build import KINDS, template_names
from kpictl.emails.people import escalation_recipients
from kpictl.emails.story import Story, resolved_context
from kpictl.numbers import status as scorecard
from kpictl.numbers.actuals import Actual, Actuals
from kpictl.numbers.evaluate import (
    KpiStatus,
    charter_results,
    current_target,
    evaluate_kpi,
    evaluation_moment,
    readout_dates,
)
from kpictl.numbers.history import kpi_history
from kpictl.numbers.periods import fiscal_quarter
from kpictl.registry.models import REFRESH_DAYS, EscalationPolicy, Kpi, Target
from kpictl.registry.registry import Registry


def _kpi_with_target(kpi: Kpi, day: date, fiscal: int) -> Kpi:
    if current_target(kpi, day, fiscal) is not None:
        return kpi
    return kpi.model_copy(
        update={"targets": [Target(period=fiscal_quarter(day, fiscal), value=100)]}
    )


def _breaching(kpi: Kpi, status_day: date, fiscal: int) -> Actuals:
    """Actuals that put `kpi` far behind its target to date."""
    found = current_target(kpi, status_day, fiscal)
    assert found is not None
    target, period = found
    value = target.value * (0.1 if kpi.direction == "increase" else 3.0)
    actuals = Actuals("<sample>")
    actuals.rows[(kpi.id, period.text)] = [Actual(kpi.id, period.text, value, status_day, 2)]
    return actuals


def _stale(kpi: Kpi, status_day: date, fiscal: int) -> Actuals:
    """Two values far behind that stopped a day before they count as an outage.

    With two values the outage email draws its chart, ending with today's row without
    a value (`history.missing_today`), and says since when the KPI was off track: an
    override that breaks only there fails `kpictl check` too.
    """
    found = current_target(kpi, status_day, fiscal)
    assert found is not None
    target, period = found
    value = target.value * (0.1 if kpi.direction == "increase" else 3.0)
    last = status_day - timedelta(days=2 * REFRESH_DAYS[kpi.cadence.refresh] + 1)
    actuals = Actuals("<sample>")
    actuals.rows[(kpi.id, period.text)] = [
        Actual(kpi.id, period.text, value, last - timedelta(days=7), 2),
        Actual(kpi.id, period.text, value, last, 3),
    ]
    return actuals


def _statuses(registry: Registry, moment: datetime) -> list[tuple[KpiStatus, Actuals]]:
    """A deviation and an outage status, each with its actuals, for the first KPI with a
    usable policy; none without one."""
    fiscal = registry.settings.fiscal_year_start_month
    day = moment.date()
    for kpi in sorted(registry.kpis, key=lambda k: k.id):
        policy = registry.get(kpi.escalation)
        if not isinstance(policy, EscalationPolicy):
            continue
        kpi = _kpi_with_target(kpi, day, fiscal)
        breaching = _breaching(kpi, day, fiscal)
        deviation = evaluate_kpi(kpi, policy, breaching, moment, fiscal)
        outage_policy = policy.model_copy(
            update={"tiers": [t.model_copy(update={"on_data_outage": True}) for t in policy.tiers]}
        )
        stale = _stale(kpi, day, fiscal)
        outage = evaluate_kpi(kpi, outage_policy, stale, moment, fiscal)
        if deviation.tier is not None and outage.tier is not None:
            return [(deviation, breaching), (outage, stale)]
    return []


def sample_contexts(registry: Registry, today: date) -> dict[str, dict[str, Any]]:
    """Template name → a context to render it with, for every template the data allows."""
    now = datetime.now().astimezone()
    moment = evaluation_moment(today, registry.settings.timezone, now)
    out: dict[str, dict[str, Any]] = {}
    found = _statuses(registry, moment)
    for status, actuals in found:
        assert status.tier is not None
        outage = status.outage is not None
        recipients = escalation_recipients(registry, status.kpi, status.tier, outage)
        history = kpi_history(status, actuals)
        values = context.escalation_context(registry, status, recipients, {}, history=history)
        # What the store adds for a later step (kpictl.escalation): an override must
        # render with it as well as without it.
        story = Story(("Tier 1 went out on Fri 20 Nov 09:00 CET; no response since then.",))
        values["story"] = list(story.lines)
        values["last_deviation"] = "12%" if outage else None
        values["open_tier"] = status.tier.level
        _add(out, "outage" if outage else "escalation", values)
        if not outage:
            opened = Story(story.lines, open_tier=status.tier.level, opened_at=moment)
            _add(out, "resolved", resolved_context(registry, status, recipients, opened))
    campaigns = sorted(registry.campaigns, key=lambda c: c.id)
    if campaigns:
        campaign = campaigns[0]
        empty = Actuals("<sample>")
        _add(out, "kickoff", context.kickoff_context(registry, campaign, moment, empty))
        days = readout_dates(campaign)
        number, on = days[0] if days else (30, campaign.timeline.start)
        results = charter_results(registry, campaign, empty, on)
        _add(
            out,
            "readout",
            context.readout_context(registry, campaign, number, on, results, moment),
        )
        results = charter_results(registry, campaign, empty, today)
        recap = context.recap_context(registry, campaign, results, today, moment, empty)
        _add(out, "recap", recap)
        requests = ["Write the retrospective in the charter.", "Report the campaign's result."]
        _add(
            out,
            "recap-requests",
            context.recap_requests_context(registry, recap, requests, moment),
        )
        _add(
            out,
            "review-request",
            context.review_request_context(registry, campaign, moment, empty),
        )
    statuses = [status for status, _ in found]
    histories = {s.kpi.id: h for s, actuals in found if (h := kpi_history(s, actuals)) is not None}
    rows = [scorecard.row(registry, status, histories.get(status.kpi.id)) for status in statuses]
    counts = {"on-track": 0, "tier": len(rows), "outage": 0, "no-target": 0}
    for kind in ("text", "markdown"):
        out[scorecard.TEMPLATES[kind]] = {
            "rows": rows,
            "evaluated_at": "",
            "organization": None,
            "counts": counts,
        }
    from kpictl.views.scorecard_page import page_data

    out[scorecard.TEMPLATES["html"]] = page_data(registry, statuses, histories, moment)
    return out


def _add(out: dict[str, dict[str, Any]], kind: str, values: dict[str, Any]) -> None:
    assert kind in KINDS
    subject_name, text_name, html_name = template_names(kind)
    out[subject_name] = values
    with_subject = {**values, "subject": "Sample subject"}
    out[text_name] = with_subject
    out[html_name] = with_subject

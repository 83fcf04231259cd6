"""Sample data for every shipped template, built from a registry: `kpictl check` renders
template overrides with it, so a broken override fails before any email is due."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from kpictl.emails import context
from kpictl.emails.build import KINDS, template_names
from kpictl.emails.people import escalation_recipients
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
from kpictl.numbers.history import History, kpi_history
from kpictl.numbers.periods import fiscal_quarter
from kpictl.registry.models import EscalationPolicy, Kpi, Target
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


def _statuses(registry: Registry, moment: datetime) -> tuple[KpiStatus, KpiStatus] | None:
    """A deviation and an outage status for the first KPI with a usable policy."""
    fiscal = registry.settings.fiscal_year_start_month
    day = moment.date()
    for kpi in sorted(registry.kpis, key=lambda k: k.id):
        policy = registry.get(kpi.escalation)
        if not isinstance(policy, EscalationPolicy):
            continue
        kpi = _kpi_with_target(kpi, day, fiscal)
        deviation = evaluate_kpi(kpi, policy, _breaching(kpi, day, fiscal), moment, fiscal)
        outage_policy = policy.model_copy(
            update={"tiers": [t.model_copy(update={"on_data_outage": True}) for t in policy.tiers]}
        )
        outage = evaluate_kpi(kpi, outage_policy, Actuals("<sample>"), moment, fiscal)
        if deviation.tier is not None and outage.tier is not None:
            return deviation, outage
    return None


def sample_contexts(registry: Registry, today: date) -> dict[str, dict[str, Any]]:
    """Template name → a context to render it with, for every template the data allows."""
    now = datetime.now().astimezone()
    moment = evaluation_moment(today, registry.settings.timezone, now)
    out: dict[str, dict[str, Any]] = {}
    found = _statuses(registry, moment)
    if found is not None:
        for status in found:
            assert status.tier is not None
            outage = status.outage is not None
            recipients = escalation_recipients(registry, status.kpi, status.tier, outage)
            history = _history(status)
            values = context.escalation_context(registry, status, recipients, {}, history=history)
            _add(out, "outage" if outage else "escalation", values)
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
    statuses = list(found or ())
    histories = {s.kpi.id: h for s in statuses if (h := _history(s)) is not None}
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


def _history(status: KpiStatus) -> History | None:
    """The history of a sample status: its one value."""
    sample = Actuals("<sample>")
    if status.actual is not None and status.period is not None:
        sample.rows[(status.kpi.id, status.period.text)] = [status.actual]
    return kpi_history(status, sample)


def _add(out: dict[str, dict[str, Any]], kind: str, values: dict[str, Any]) -> None:
    assert kind in KINDS
    subject_name, text_name, html_name = template_names(kind)
    out[subject_name] = values
    with_subject = {**values, "subject": "Sample subject"}
    out[text_name] = with_subject
    out[html_name] = with_subject

"""What each email template sees: plain dicts of ready-to-print text, built from the registry.

Numbers arrive formatted (`EUR 785,000`, `7.9%`, `Mon 23 Nov 2026, 09:00 CET`) so a
template override only chooses words and order. The variables of each template are
listed in templates/email/README.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from kpictl import display
from kpictl.emails.charter import (
    bottom_line,
    charter_extras,
    commitment_results,
    cost_per_result,
    decisions_needed,
    verdict,
)
from kpictl.emails.people import (
    Recipients,
    daci_recipients,
    driver_recipients,
    escalation_recipients,
    person_view,
    review_recipients,
)
from kpictl.emails.trend import history_view
from kpictl.numbers.actuals import Actuals
from kpictl.numbers.evaluate import (
    CharterResult,
    KpiStatus,
    Progress,
    State,
    campaign_is_over,
    campaign_period,
    charter_needed,
    current_target,
    elapsed_days,
    next_tier,
    outlook,
    readout_dates,
)
from kpictl.numbers.history import History
from kpictl.numbers.periods import Period
from kpictl.registry.lineage import breadth_first, walk
from kpictl.registry.models import (
    REFRESH_RANK,
    Campaign,
    DataSource,
    GlossaryTerm,
    Kpi,
    Person,
    Tier,
)
from kpictl.registry.registry import Registry
from kpictl.registry.resolve import acting_owner
from kpictl.registry.resolve import lead as team_lead

View = dict[str, Any]

GOVERNANCE = {
    "central-office": "central campaign office",
    "pod": "pod (one cross-functional team)",
    "hybrid-coe": "hybrid centre of excellence",
    "sales-led": "sales-led with marketing support",
}


def _people(people: Iterable[Person]) -> list[View]:
    return [view for view in map(person_view, people) if view is not None]


def kpi_view(registry: Registry, kpi: Kpi) -> View:
    term = registry.get(kpi.definition) if kpi.definition else None
    increase = kpi.direction == "increase"
    return {
        "id": kpi.id,
        "name": display.clean(kpi.name),
        "description": kpi.description.strip(),
        "formula": kpi.formula.strip(),
        "unit": kpi.unit,
        "direction": kpi.direction,
        "higher_is_better": increase,
        "better": "higher" if increase else "lower",
        "worse_word": "behind" if increase else "above",
        "better_word": "ahead of" if increase else "below",
        "pacing": kpi.pacing,
        "linear": kpi.pacing == "linear",
        "refresh": kpi.cadence.refresh,
        "review": kpi.cadence.review,
        "stage": kpi.stage,
        "audience": kpi.audience,
        "definition": (
            {"term": display.clean(term.term), "definition": term.definition.strip()}
            if isinstance(term, GlossaryTerm)
            else None
        ),
        "owner": person_view(registry.person(kpi.owners.primary)),
        "backup": person_view(registry.person(kpi.owners.backup)),
        "labels": {key: display.clean(value) for key, value in kpi.labels.items()},
    }


def period_view(period: Period, fiscal_start_month: int, day: date) -> View:
    elapsed = elapsed_days(period, day)
    return {
        "text": period.text,
        "label": display.period_label(period, fiscal_start_month),
        "short": display.period_short(period, fiscal_start_month),
        "start": display.day(period.start),
        "end": display.day(period.end),
        "days": period.days,
        "elapsed_days": elapsed,
        "remaining_days": period.days - elapsed,
        "elapsed_pct": display.percent(elapsed / period.days * 100),
    }


def tier_view(registry: Registry, kpi: Kpi, tier: Tier) -> View:
    reached = escalation_recipients(registry, kpi, tier, outage=False)
    return {
        "level": tier.level,
        "name": display.clean(tier.name),
        "threshold": display.percent(tier.deviation_pct),
        "respond_within": display.hours(tier.respond_hours),
        "actions": [action.strip() for action in tier.actions],
        "on_data_outage": tier.on_data_outage,
        "notify": _people(reached.to),
        "approvers": _people(reached.approvers),
    }


def _source_view(registry: Registry, source: DataSource) -> View:
    return {
        "id": source.id,
        "name": display.clean(source.name),
        "system": display.clean(source.system),
        "refresh": source.refresh,
        "owner": person_view(registry.person(source.owner)),
    }


def lineage_view(registry: Registry, kpi: Kpi, out_by_source: dict[str, list[str]]) -> list[View]:
    """The KPI's sources, then what they are built from, breadth first."""
    views: list[View] = []
    for step in walk(registry, kpi.sources):
        source = step.source
        fallback = registry.get(source.fallback) if source.fallback else None
        others = [name for name in out_by_source.get(source.id, []) if name != kpi.name]
        views.append(
            {
                **_source_view(registry, source),
                "direct": step.depth == 0,
                "depth": step.depth,
                "feeds": display.clean(step.feeds.name) if step.feeds else None,
                "lags": REFRESH_RANK[source.refresh] > REFRESH_RANK[kpi.cadence.refresh],
                "fallback": (
                    _source_view(registry, fallback) if isinstance(fallback, DataSource) else None
                ),
                "also_out": others,
            }
        )
    return views


def outages_by_source(statuses: Iterable[KpiStatus]) -> dict[str, list[str]]:
    """For each data source, the KPIs reading it directly that are in a data outage."""
    out: dict[str, list[str]] = {}
    for status in statuses:
        if status.state is State.OUTAGE:
            for source_id in status.kpi.sources:
                out.setdefault(source_id, []).append(display.clean(status.kpi.name))
    return out


# How far "what else this puts at risk" follows the KPI tree: a tree of a real
# registry is a handful of levels deep, one under review may be thousands.
DOWNSTREAM_LEVELS = 6
DOWNSTREAM_KPIS = 12


def states_by_kpi(statuses: Iterable[KpiStatus]) -> dict[str, View]:
    """Each KPI's state from one evaluation, as a line an email can print."""
    out: dict[str, View] = {}
    for status in statuses:
        if status.state is State.TIER:
            assert status.tier is not None
            deviation = display.percent(status.deviation_pct or 0)
            text = f"behind: {deviation} off its target to date (tier {status.tier.level})"
            state = "behind"
        elif status.state is State.OUTAGE:
            text = (
                "in a data outage: no current value"
                if status.outage == "missing"
                else ("in a data outage: its latest value is stale")
            )
            state = "outage"
        elif status.state is State.NO_TARGET:
            text, state = "no target for this period", "no-target"
        else:
            text, state = "on track", "on-track"
        out[status.kpi.id] = {"state": state, "text": text}
    return out


def downstream_view(registry: Registry, kpi: Kpi, states: dict[str, View]) -> View:
    """The KPIs `kpi` drives, directly or further along the tree, each with its state.

    Breadth first, nearest first, at most DOWNSTREAM_LEVELS links and DOWNSTREAM_KPIS
    KPIs (`more` counts the rest that were reached).
    """

    def drives(kpi_id: str) -> list[str] | None:
        found = registry.get(kpi_id)
        return found.drives if isinstance(found, Kpi) else None

    reached = breadth_first(drives, [kpi.id], DOWNSTREAM_LEVELS)[1:]
    names = {kpi.id: display.clean(kpi.name)}
    items: list[View] = []
    for item in reached[:DOWNSTREAM_KPIS]:
        found = registry.get(item.id)
        assert isinstance(found, Kpi)  # breadth_first reaches only KPIs
        names[item.id] = display.clean(found.name)
        state = states.get(item.id, {"state": "unknown", "text": "not evaluated"})
        items.append(
            {
                "id": item.id,
                "name": names[item.id],
                "depth": item.depth,
                "via": names.get(item.via or "", item.via),
                "state": state["state"],
                "state_text": state["text"],
            }
        )
    return {"kpis": items, "more": max(0, len(reached) - DOWNSTREAM_KPIS)}


def _impact(status: KpiStatus, kpi: Kpi) -> View:
    """What the current pace means for the full-period target, as text."""
    found = outlook(status)

    def number(value: float | None, approx: bool = False) -> str | None:
        return None if value is None else display.number(value, kpi, approx=approx)

    return {
        "projection": number(found.projection, approx=True),
        "shortfall": number(found.shortfall, approx=True),
        "shortfall_pct": (
            None if found.shortfall_pct is None else display.percent(found.shortfall_pct)
        ),
        "needed": number(found.needed),
        "needed_per_week": number(found.needed_per_week, approx=True),
        "headroom": number(found.headroom),
    }


def _recipients_view(recipients: Recipients) -> View:
    return {
        "to": _people(recipients.to),
        "cc": _people(recipients.cc),
        "approvers": _people(recipients.approvers),
        "stand_ins": [
            {"absent": person_view(absent), "by": person_view(by)}
            for absent, by in recipients.stand_ins
        ],
    }


def _sent(registry: Registry, moment: datetime) -> View:
    org = registry.settings.organization
    return {
        "organization": display.clean(org) if org else None,
        "at": display.moment(moment),
        "date": display.day(moment.date()),
    }


def escalation_context(
    registry: Registry,
    status: KpiStatus,
    recipients: Recipients,
    out_by_source: dict[str, list[str]],
    states: dict[str, View] | None = None,
    history: History | None = None,
) -> View:
    """Everything escalation.* and outage.* templates may use.

    `states` is every KPI's state from the same evaluation (`states_by_kpi`), for the
    KPIs downstream in the tree."""
    kpi, tier, policy = status.kpi, status.tier, status.policy
    assert tier is not None and policy is not None and status.period is not None
    assert status.respond_by is not None and status.target is not None
    fiscal = registry.settings.fiscal_year_start_month
    day = status.moment.date()
    period = period_view(status.period, fiscal, day)
    actual = status.actual
    nxt = next_tier(policy, tier)
    lineage = lineage_view(registry, kpi, out_by_source)
    numbers: View = {
        "actual": display.number(actual.value, kpi) if actual else None,
        "as_of": display.day(actual.as_of) if actual else None,
        "as_of_short": display.day_short(actual.as_of) if actual else None,
        "age_days": status.age_days,
        "target": display.number(status.target, kpi),
        "target_to_date": display.number(status.target_to_date or 0, kpi),
        "deviation": (
            display.percent(status.deviation_pct) if status.deviation_pct is not None else None
        ),
        "gap": (
            display.number(abs((status.target_to_date or 0) - actual.value), kpi)
            if actual
            else None
        ),
    }
    outage = None
    if status.state is State.OUTAGE:
        outage = {
            "reason": status.outage,
            "missing": status.outage == "missing",
            "stale": status.outage == "stale",
            "last_value": numbers["actual"],
            "as_of": numbers["as_of"],
            "as_of_short": numbers["as_of_short"],
            "age_days": status.age_days,
            "allowed_days": status.allowed_days,
            "refresh": kpi.cadence.refresh,
        }
    fallbacks = [s["fallback"] for s in lineage if s["direct"] and s["fallback"]]
    source_owners: list[View] = []
    for source in lineage:
        owner = source["owner"]
        if source["direct"] and owner and all(o["id"] != owner["id"] for o in source_owners):
            source_owners.append(owner)
    return {
        "kind": "outage" if outage else "escalation",
        "kpi": kpi_view(registry, kpi),
        "policy": {"id": policy.id, "name": display.clean(policy.name)},
        "tier": tier_view(registry, kpi, tier),
        "next_tier": tier_view(registry, kpi, nxt) if nxt else None,
        "period": period,
        "numbers": numbers,
        "impact": _impact(status, kpi),
        # An outage's chart ends with today: the pace the missing value should have kept.
        "history": history_view(
            history, kpi, day, missing_today=status.target_to_date if outage else None
        ),
        "outage": outage,
        "lineage": lineage,
        "fallbacks": fallbacks,
        "source_owners": source_owners,
        "lagging_sources": [s for s in lineage if s["lags"]],
        "respond_by": {
            "text": display.moment(status.respond_by),
            "short": display.moment_short(status.respond_by),
            "iso": status.respond_by.isoformat(),
        },
        "implementer": _implementer(registry, kpi),
        "recipients": _recipients_view(recipients),
        "sent": _sent(registry, status.moment),
        "downstream": downstream_view(registry, kpi, states or {}),
    }


def _implementer(registry: Registry, kpi: Kpi) -> View | None:
    """The owner who acts on the KPI: the primary, or the backup standing in for them."""
    acting = acting_owner(registry, kpi).people
    return person_view(acting[0] if acting else registry.person(kpi.owners.primary))


# --- campaigns ----------------------------------------------------------------------------


def party_view(registry: Registry, ref: str) -> View | None:
    """A DACI/RACI entry: a person, or a team shown with its lead."""
    person = registry.person(ref)
    if person is not None:
        return person_view(person)
    team = registry.team(ref)
    if team is None:
        return None
    lead = person_view(team_lead(registry, ref))
    name = display.clean(team.name)
    return {
        "id": team.id,
        "name": f"{name} ({lead['name']})" if lead else name,
        "first_name": lead["first_name"] if lead else name,
        "email": lead["email"] if lead else None,
        "title": None,
    }


def _parties(registry: Registry, refs: Iterable[str]) -> list[View]:
    return [view for view in (party_view(registry, ref) for ref in refs) if view is not None]


def campaign_view(registry: Registry, campaign: Campaign) -> View:
    timeline = campaign.timeline
    return {
        "id": campaign.id,
        "name": display.clean(campaign.name),
        "status": campaign.status,
        "context": campaign.context.strip(),
        "objective": campaign.objective.strip(),
        "strategies": [text.strip() for text in campaign.strategies],
        "out_of_scope": [text.strip() for text in campaign.out_of_scope],
        "governance": GOVERNANCE.get(campaign.governance) if campaign.governance else None,
        "start": display.day(timeline.start),
        "end": display.day(timeline.end),
        "days": (timeline.end - timeline.start).days + 1,
        "readouts": [
            {"day": days, "date": display.day(when)} for days, when in readout_dates(campaign)
        ],
        "driver": party_view(registry, campaign.daci.driver),
        "approver": party_view(registry, campaign.daci.approver),
        "contributors": _parties(registry, campaign.daci.contributors),
        "informed": _parties(registry, campaign.daci.informed),
        "raci": [
            {
                "activity": display.clean(item.activity),
                "responsible": _parties(registry, item.responsible),
                "accountable": party_view(registry, item.accountable) if item.accountable else None,
            }
            for item in campaign.raci
        ],
        "risks": [
            {
                "risk": risk.risk.strip(),
                "owner": party_view(registry, risk.owner) if risk.owner else None,
                "mitigation": risk.mitigation.strip() if risk.mitigation else None,
                "status": risk.status,
            }
            for risk in campaign.risks
        ],
        # Only sign-offs by known people: a template may read `by.name` of any of them.
        "signed": [
            {"by": by, "date": display.day(sign.date)}
            for sign in campaign.sign_off
            if (by := party_view(registry, sign.by)) is not None
        ],
        **charter_extras(registry, campaign),
    }


def _charter_kpis(
    registry: Registry, campaign: Campaign, actuals: Actuals | None, day: date
) -> list[View]:
    fiscal = registry.settings.fiscal_year_start_month
    items = [
        ("primary", campaign.primary_kpi),
        *(("secondary", k) for k in campaign.secondary_kpis),
    ]
    views = []
    for role, item in items:
        kpi = registry.get(item.kpi)
        if not isinstance(kpi, Kpi):
            continue
        baseline = None
        found = current_target(kpi, day, fiscal)
        if actuals is not None and found is not None:
            latest = actuals.latest(kpi.id, found[1].text, on=day)
            if latest is not None:
                baseline = {
                    "value": display.number(latest.value, kpi),
                    "as_of": display.day(latest.as_of),
                    "period": display.period_label(found[1], fiscal),
                }
        views.append(
            {
                "role": role,
                "kpi": kpi_view(registry, kpi),
                "target": display.number(item.target, kpi) if item.target is not None else None,
                "baseline": baseline,
            }
        )
    return views


def _campaign_base(
    registry: Registry, campaign: Campaign, recipients: Recipients, moment: datetime
) -> View:
    return {
        "campaign": campaign_view(registry, campaign),
        "recipients": _recipients_view(recipients),
        "sent": _sent(registry, moment),
    }


def kickoff_context(
    registry: Registry, campaign: Campaign, moment: datetime, actuals: Actuals | None
) -> View:
    recipients = daci_recipients(registry, campaign, raci=True)
    return _campaign_base(registry, campaign, recipients, moment) | {
        "kpis": _charter_kpis(registry, campaign, actuals, moment.date())
    }


def result_view(
    result: CharterResult,
    campaign: Campaign,
    day: date,
    final: bool = False,
    history: History | None = None,
) -> View:
    kpi = result.kpi
    actual = result.actual
    fmt = display.number
    left, per_week = charter_needed(result, campaign, day)
    final_miss = None
    if result.target is not None and actual is not None:
        diff = actual.value - result.target
        final_miss = fmt(abs(diff), kpi)
    increase = kpi.direction == "increase"
    return {
        "role": result.role,
        "kpi": {"id": kpi.id, "name": display.clean(kpi.name), "linear": kpi.pacing == "linear"},
        "target": fmt(result.target, kpi) if result.target is not None else None,
        "target_to_date": (
            fmt(result.target_to_date, kpi) if result.target_to_date is not None else None
        ),
        "actual": fmt(actual.value, kpi) if actual else None,
        "as_of": display.day(actual.as_of) if actual else None,
        "deviation": (
            display.percent(result.deviation_pct) if result.deviation_pct is not None else None
        ),
        "progress": result.progress.value,
        "ahead": result.progress in (Progress.AHEAD, Progress.ON_TARGET),
        "behind": result.progress is Progress.BEHIND,
        "has_value": actual is not None and result.target is not None,
        "worse_word": "behind" if increase else "above",
        "better_word": "ahead of" if increase else "below",
        "difference": final_miss,
        "needed": fmt(left, kpi) if left is not None else None,
        "needed_per_week": fmt(per_week, kpi, approx=True) if per_week is not None else None,
        # hit / missed once the campaign is over; on pace / behind pace while it runs
        "verdict": verdict(result, final),
        "history": history_view(history, kpi, day, "behind the campaign's pace"),
    }


def readout_context(
    registry: Registry,
    campaign: Campaign,
    day_number: int,
    readout_day: date,
    results: list[CharterResult],
    moment: datetime,
    histories: dict[str, History] | None = None,
) -> View:
    recipients = daci_recipients(registry, campaign, raci=True)
    found = histories or {}
    later = [(n, when) for n, when in readout_dates(campaign) if when > readout_day]
    share = campaign_period(campaign).elapsed_share(readout_day)
    views = [result_view(r, campaign, readout_day, history=found.get(r.kpi.id)) for r in results]
    return _campaign_base(registry, campaign, recipients, moment) | {
        "readout": {
            "day": day_number,
            "date": display.day(readout_day),
            "elapsed_pct": display.percent(share * 100),
            "days_left": max((campaign.timeline.end - readout_day).days, 0),
        },
        "results": views,
        "behind": [v for v in views if v["behind"]],
        "missing": [v for v in views if v["progress"] == Progress.NO_VALUE.value],
        "next_readout": {"day": later[0][0], "date": display.day(later[0][1])} if later else None,
        # What must be decided about the KPIs behind pace, and by whom.
        "decisions_needed": decisions_needed(registry, campaign, results),
    }


def experiments_view(registry: Registry, campaign: Campaign) -> list[View]:
    """The experiments run in the campaign, by start date: what was tested and decided."""
    found = sorted(
        (e for e in registry.experiments if e.campaign == campaign.id),
        key=lambda e: (e.timeline.start, e.id),
    )
    out = []
    for experiment in found:
        kpi = registry.get(experiment.kpi)
        kpi = kpi if isinstance(kpi, Kpi) else None
        result, baseline = experiment.result, experiment.baseline
        value = result.value if result else None
        change = (
            display.result_change(baseline.value, value, kpi)
            if baseline is not None and value is not None
            else None
        )
        out.append(
            {
                "id": experiment.id,
                "name": display.clean(experiment.name),
                "status": experiment.status,
                "kpi": display.clean(kpi.name) if kpi else experiment.kpi,
                "hypothesis": experiment.hypothesis.strip(),
                "decision_rule": experiment.decision_rule.strip(),
                "end": display.day(experiment.timeline.end) if experiment.timeline.end else None,
                "decision": result.decision if result else None,
                "result": display.value_in(value, kpi) if value is not None else None,
                "baseline": display.value_in(baseline.value, kpi) if baseline else None,
                "change": change[0] if change else None,
                "learnings": [text.strip() for text in result.learnings] if result else [],
            }
        )
    return out


def recap_context(
    registry: Registry,
    campaign: Campaign,
    results: list[CharterResult],
    day: date,
    moment: datetime,
    actuals: Actuals | None = None,
    histories: dict[str, History] | None = None,
) -> View:
    """The executives' recap: the bottom line first, then the story and what to decide.

    `results` are measured with `final=campaign_is_over(...)`: a campaign still running
    is on or behind pace against its target to date, never "hit" against the full one.
    """
    recipients = daci_recipients(registry, campaign)
    final = campaign_is_over(campaign, day)
    found = histories or {}
    views = [result_view(r, campaign, day, final, found.get(r.kpi.id)) for r in results]
    primary = next((r for r in results if r.role == "primary"), None)
    retro = campaign.retrospective
    return _campaign_base(registry, campaign, recipients, moment) | {
        "experiments": experiments_view(registry, campaign),
        "results": views,
        "hits": [v for v in views if v["has_value"] and v["ahead"]],
        "misses": [v for v in views if v["has_value"] and v["behind"]],
        "complete": campaign.status == "complete",
        "final": final,
        "measured_on": display.day(day),
        "bottom_line": bottom_line(primary, campaign, final) if primary else None,
        "cost_per_result": cost_per_result(campaign, primary, final) if primary else None,
        "commitments": commitment_results(registry, campaign, actuals, day, final),
        "retrospective": (
            {
                "why": retro.why.strip() if retro.why else None,
                "worked": [text.strip() for text in retro.worked],
                "did_not_work": [text.strip() for text in retro.did_not_work],
                "recommendations": [text.strip() for text in retro.recommendations],
            }
            if retro
            else None
        ),
    }


def recap_requests_context(
    registry: Registry, recap: View, requests: list[str], moment: datetime
) -> View:
    """The driver's own email: what the recap (its context is `recap`) could not say."""
    return {
        "campaign": recap["campaign"],
        "bottom_line": recap["bottom_line"],
        "final": recap["final"],
        "requests": requests,
        "recap_recipients": recap["recipients"],
        "recipients": _recipients_view(driver_recipients(registry, _campaign_of(registry, recap))),
        "sent": _sent(registry, moment),
    }


def _campaign_of(registry: Registry, view: View) -> Campaign:
    campaign = registry.get(view["campaign"]["id"])
    assert isinstance(campaign, Campaign)
    return campaign


def review_request_context(
    registry: Registry, campaign: Campaign, moment: datetime, actuals: Actuals | None
) -> View:
    """The request to the approver and contributors to agree the KPIs before signing."""
    recipients = review_recipients(registry, campaign)
    start = campaign.timeline.start
    return _campaign_base(registry, campaign, recipients, moment) | {
        "kpis": _charter_kpis(registry, campaign, actuals, moment.date()),
        "started": moment.date() >= start,
    }

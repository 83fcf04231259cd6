"""The scorecard: every KPI's status as a table (text, Markdown) or data (JSON, CSV)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kpictl import display
from kpictl.numbers.evaluate import KpiStatus, State
from kpictl.registry.registry import Registry
from kpictl.templating.escaping import json_text, spreadsheet

if TYPE_CHECKING:
    from jinja2 import Environment

TEMPLATES = {"text": "status/status.txt.j2", "markdown": "status/status.md.j2"}


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def row(registry: Registry, status: KpiStatus) -> dict[str, Any]:
    """One KPI as data: raw numbers (JSON, CSV) next to their display text (tables)."""
    kpi = status.kpi
    owner = registry.person(kpi.owners.primary)
    fiscal = registry.settings.fiscal_year_start_month
    actual = status.actual
    dev = status.deviation_pct
    if dev is None or status.state is State.OUTAGE:
        deviation_text = ""
    elif dev == 0:
        deviation_text = "on target"
    else:
        increase = kpi.direction == "increase"
        word = (
            ("behind" if increase else "above") if dev > 0 else ("ahead" if increase else "below")
        )
        deviation_text = f"{display.percent(dev)} {word}"
    return {
        "kpi": kpi.id,
        "name": display.clean(kpi.name),
        "unit": kpi.unit,
        "direction": kpi.direction,
        "pacing": kpi.pacing,
        "period": status.period.text if status.period else None,
        "period_label": (display.period_label(status.period, fiscal) if status.period else None),
        "target": status.target,
        "target_to_date": _round(status.target_to_date),
        "actual": actual.value if actual else None,
        "as_of": actual.as_of.isoformat() if actual else None,
        "deviation_pct": _round(dev),
        "state": status.state.value,
        "outage": status.outage,
        "tier": status.tier.level if status.tier else None,
        "tier_name": display.clean(status.tier.name) if status.tier else None,
        "policy": status.policy.id if status.policy else None,
        "owner": owner.id if owner else kpi.owners.primary,
        "owner_name": display.clean(owner.name) if owner else None,
        "owner_email": owner.email if owner else None,
        "respond_by": status.respond_by.isoformat() if status.respond_by else None,
        "text": {
            "target": display.number(status.target, kpi) if status.target is not None else "",
            "target_to_date": (
                display.number(status.target_to_date, kpi)
                if status.target_to_date is not None
                else ""
            ),
            "actual": display.number(actual.value, kpi) if actual else "",
            "as_of": display.day_short(actual.as_of) if actual else "",
            "deviation": deviation_text,
            "respond_by": display.moment_short(status.respond_by) if status.respond_by else "",
            "owner": display.clean(owner.name) if owner else kpi.owners.primary,
            "state": _state_text(status),
        },
    }


def _state_text(status: KpiStatus) -> str:
    """The state in words, as every scorecard shows it."""
    tier = f"tier {status.tier.level} · {display.clean(status.tier.name)}" if status.tier else ""
    if status.state is State.ON_TRACK:
        return "on track"
    if status.state is State.NO_TARGET:
        return "no target"
    if status.state is State.OUTAGE:
        return f"data outage ({tier})" if tier else "data outage"
    return tier


def render(
    registry: Registry,
    statuses: list[KpiStatus],
    moment: datetime,
    output_format: str,
    env: Environment | None = None,
) -> str:
    rows = [row(registry, status) for status in statuses]
    if output_format == "json":
        payload = {
            "evaluated_at": moment.isoformat(),
            "timezone": registry.settings.timezone,
            "kpis": [{k: v for k, v in item.items() if k != "text"} for item in rows],
        }
        return json_text(payload, indent=2) + "\n"
    if output_format == "csv":
        buffer = io.StringIO()
        fields = [key for key in rows[0] if key != "text"] if rows else ["kpi"]
        writer = csv.DictWriter(
            buffer, fieldnames=fields, extrasaction="ignore", lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows({key: spreadsheet(value) for key, value in item.items()} for item in rows)
        return buffer.getvalue()
    assert env is not None
    org = registry.settings.organization
    from kpictl.templating.render import render

    return render(
        env,
        TEMPLATES[output_format],
        rows=rows,
        evaluated_at=display.moment(moment),
        organization=display.clean(org) if org else None,
        counts=_counts(statuses),
        heading=heading(registry, moment),
        summary=summary(statuses),
    )


def _counts(statuses: list[KpiStatus]) -> dict[str, int]:
    return {state.value: sum(1 for item in statuses if item.state is state) for state in State}


def heading(registry: Registry, moment: datetime) -> str:
    """`KPI status for Acme, Fri 20 Nov 2026, 09:00 CET`: the text scorecard's first line."""
    org = registry.settings.organization
    where = f" for {display.clean(org)}" if org else ""
    return f"KPI status{where}, {display.moment(moment)}"


def summary(statuses: list[KpiStatus]) -> str:
    """`8 KPIs: 4 on track, 3 escalated, ...`: the text scorecard's last line."""
    counts = _counts(statuses)
    return (
        f"{display.plural(len(statuses), 'KPI')}: {counts['on-track']} on track, "
        f"{counts['tier']} escalated, "
        f"{counts['outage']} in a data outage, {counts['no-target']} without a target."
    )

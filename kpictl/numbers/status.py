"""The scorecard: every KPI's status as a table (text, Markdown) or data (JSON, CSV)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kpictl import display
from kpictl.numbers.evaluate import KpiStatus, State
from kpictl.numbers.history import History, against_pace
from kpictl.registry.models import Kpi
from kpictl.registry.registry import Registry
from kpictl.templating.escaping import json_text, spreadsheet

if TYPE_CHECKING:
    from jinja2 import Environment

TEMPLATES = {
    "text": "status/status.txt.j2",
    "markdown": "status/status.md.j2",
    "html": "status/page.html.j2",  # its data: kpictl.views.scorecard_page
}
# Observations in a table's sparkline: two months of a weekly KPI, and narrow enough
# that an 80-column terminal still shows it next to the state and the owner.
SPARK_POINTS = 8


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def row(
    registry: Registry,
    status: KpiStatus,
    history: History | None = None,
    ascii_only: bool = False,
) -> dict[str, Any]:
    """One KPI as data: raw numbers (JSON, CSV) next to their display text (tables).

    `history` adds the trend; `ascii_only` draws its sparkline in ASCII.
    """
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
        **_trend(history),
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
            **_trend_text(history, kpi, ascii_only),
        },
    }


def _trend(history: History | None) -> dict[str, Any]:
    """The history as data: each observation judged, the change, the run of misses."""
    if history is None:
        return {
            "history": [],
            "change_since_review": None,
            "change_from": None,
            "behind_since": None,
        }
    return {
        "history": [
            {
                "as_of": point.as_of.isoformat(),
                "value": point.value,
                "deviation_pct": _round(point.deviation_pct),
            }
            for point in history.points
        ],
        "change_since_review": history.change,
        "change_from": history.change_from.isoformat() if history.change_from else None,
        "behind_since": history.behind_since.isoformat() if history.behind_since else None,
    }


def _trend_text(history: History | None, kpi: Kpi, ascii_only: bool) -> dict[str, str]:
    if history is None:
        return {"trend": "", "change": "", "change_from": "", "behind_since": ""}
    change = ""
    if history.change is not None and history.change_from is not None:
        change = display.signed(history.change, kpi)
    return {
        # One value draws a flat line that says nothing: a trend starts at two.
        "trend": (
            display.sparkline(against_pace(history.points[-SPARK_POINTS:]), ascii_only)
            if len(history.points) > 1
            else ""
        ),
        "change": change,
        "change_from": display.day_short(history.change_from) if history.change_from else "",
        "behind_since": display.day_short(history.behind_since) if history.behind_since else "",
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


def rows_of(
    registry: Registry,
    statuses: list[KpiStatus],
    histories: dict[str, History] | None = None,
    ascii_only: bool = False,
) -> list[dict[str, Any]]:
    """Every KPI as row() makes it, with its history when there is one."""
    found = histories or {}
    return [row(registry, item, found.get(item.kpi.id), ascii_only) for item in statuses]


def render(
    registry: Registry,
    statuses: list[KpiStatus],
    moment: datetime,
    output_format: str,
    env: Environment | None = None,
    histories: dict[str, History] | None = None,
    ascii_only: bool = False,
) -> str:
    """The scorecard in one of the formats of kpictl.output_formats.StatusFormat."""
    if output_format == "html":
        from kpictl.views.scorecard_page import render_page

        assert env is not None
        return render_page(registry, statuses, histories or {}, moment, env)
    rows = rows_of(registry, statuses, histories, ascii_only)
    if output_format == "json":
        payload = {
            "evaluated_at": moment.isoformat(),
            "timezone": registry.settings.timezone,
            "kpis": [{k: v for k, v in item.items() if k != "text"} for item in rows],
        }
        return json_text(payload, indent=2) + "\n"
    if output_format == "csv":
        buffer = io.StringIO()
        # A history is a list: the CSV keeps what it says (behind since, change), not it.
        fields = [key for key in rows[0] if key not in ("text", "history")] if rows else ["kpi"]
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

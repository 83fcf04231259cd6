"""A KPI's recent values as an email shows them: bars of table cells and a sparkline.

Gmail and Outlook show neither SVG nor script, and block remote images, so a chart in
an email is a table whose cells have widths and colours.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from kpictl import display
from kpictl.numbers.history import History, against_pace
from kpictl.registry.models import Kpi

View = dict[str, Any]


# Bars in an email's chart: two months of a weekly KPI; an email is read, not studied.
EMAIL_POINTS = 8


def history_view(
    history: History | None,
    kpi: Kpi,
    today: date,
    miss: str = "far enough off to escalate",
    missing_today: float | None = None,
) -> View | None:
    """A KPI's recent values for an email: bars, a sparkline, since when it is off track.

    Each bar's length is a percentage of the largest value or target to date shown, so
    an email draws it with table cells (no image, no SVG: Gmail and Outlook show those
    unreliably or not at all). None without a target, or before the first value.

    `missing_today` is today's target to date of a KPI whose data stopped (a data
    outage): the chart then ends with today's row, the target without a value, so the
    gap since the last value shows against the pace it should have kept. An outage's
    last value is always older than today (`evaluate_kpi` calls it stale or missing).
    """
    if history is None or not history.points:
        return None
    points = history.points[-EMAIL_POINTS:]
    heights = [max(p.value, p.expected) for p in points]
    if missing_today is not None:
        heights.append(missing_today)
    scale = max(heights) or 1.0
    since = history.behind_since
    bars = []
    for point in points:
        dev = point.deviation_pct
        if dev is None or dev == 0:
            words = "" if dev is None else "on pace"
        else:
            worse = "behind" if kpi.direction == "increase" else "above"
            better = "ahead" if kpi.direction == "increase" else "below"
            words = f"{display.percent(dev)} {worse if dev > 0 else better}"
        bars.append(
            {
                "day": display.day_short(point.as_of),
                "value": display.number(point.value, kpi),
                "expected": display.number(point.expected, kpi),
                "deviation": words,
                "miss": point.miss,
                "value_pct": _bar(point.value, scale),
                "expected_pct": _bar(point.expected, scale),
            }
        )
    return {
        "points": bars,
        "count": len(bars),
        "first": bars[0]["day"],
        "last": bars[-1]["day"],
        "sparkline": display.sparkline(against_pace(points)),
        "behind_since": display.day(since) if since else None,
        "behind_since_short": display.day_short(since) if since else None,
        "behind_days": (today - since).days if since else None,
        # What the values show: a data outage has none from the last one to today.
        "last_day": display.day(points[-1].as_of),
        "behind_days_to_last": (points[-1].as_of - since).days if since else None,
        # Off track from the first value of the period: it may never have been on track.
        "since_first": since is not None and not history.left_out and since == points[0].as_of,
        "change": display.signed(history.change, kpi) if history.change is not None else None,
        "change_from": display.day(history.change_from) if history.change_from else None,
        "expected_word": "pace" if history.linear else "target",
        "miss_words": miss,
        "missing_today": (
            {
                "day": display.day_short(today),
                "expected": display.number(missing_today, kpi),
                "expected_pct": _bar(missing_today, scale),
            }
            if missing_today is not None
            else None
        ),
    }


def _bar(value: float, scale: float) -> int:
    """A bar's width in whole percent, 0 to 100 (a negative value draws nothing)."""
    share = value / scale * 100
    if math.isnan(share):
        return 0
    # Clamped before rounding: a value near the float limit over a tiny scale is infinite.
    return round(max(0.0, min(100.0, share)))

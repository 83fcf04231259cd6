"""`kpictl status --format html`: one self-contained page, a chart per KPI.

The charts are inline SVG drawn from numbers computed here, so the template only
places them: no script, no font or image from elsewhere (the page's Content Security
Policy forbids both). Every chart says what it shows in words too (title, desc and a
table of its values), for screen readers and for anyone who cannot see the lines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from kpictl import display
from kpictl.numbers import status as scorecard
from kpictl.numbers.evaluate import KpiStatus
from kpictl.numbers.history import History
from kpictl.registry.models import Kpi
from kpictl.registry.registry import Registry

if TYPE_CHECKING:
    from jinja2 import Environment

TEMPLATE = scorecard.TEMPLATES["html"]


@dataclass(frozen=True, slots=True)
class Frame:
    """Where a chart's plot area sits in its viewBox (SVG user units)."""

    width: float = 480
    height: float = 240
    left: float = 84  # room for the value labels
    right: float = 16
    top: float = 16
    bottom: float = 48  # room for the date labels and the axis title

    @property
    def plot_right(self) -> float:
        return self.width - self.right

    @property
    def plot_bottom(self) -> float:
        return self.height - self.bottom


FRAME = Frame()


# The narrowest range an axis spans: below it, values that differ by a few units in the
# last place (1e-310 and 5e-324) would give a step of nothing, and ticks without end.
_MIN_SPAN = 1e-9


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round values from `low` to at least `high` for an axis: 0, 500, 1,000, 1,500."""
    if high <= low:
        high = low + (abs(low) or 1)
    high = max(high, low + _MIN_SPAN)
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step)
    # Each tick from its index, not by adding steps: no error builds up, and a bounded
    # count however small the step.
    steps = max(math.ceil(high / step - first - 1e-9), 1)
    ticks = [(first + n) * step for n in range(steps + 1)]
    # Rounding hides 0.30000000000000004; for a step this small it would make every tick 0.
    return [round(tick, 10) for tick in ticks] if step >= 1e-6 else ticks


def _fmt(value: float) -> str:
    """A coordinate: one decimal is finer than a pixel at any size the page is shown."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def chart(history: History, kpi: Kpi, today: date, frame: Frame = FRAME) -> dict[str, Any]:
    """The geometry of one KPI's chart: the actual's path, the pace line, the target.

    x is the end of each day of the period (so a value measured on a day sits where
    the pace line has that day's target to date); y starts at zero under linear pacing
    (the pace starts there) and, for flat pacing, a little below the lowest value.
    """
    period, target = history.period, history.target
    values = [point.value for point in history.points]
    high = max([target, *values])
    low = 0.0 if history.linear else min([target, *values])
    if not history.linear:
        spread = (high - low) or abs(high) or 1
        low = max(low - spread * 0.5, 0.0) if low >= 0 else low - spread * 0.5
        high = high + spread * 0.25
    low = min(low, 0.0) if history.linear else low
    ticks = nice_ticks(low, high)
    y_min, y_max = ticks[0], ticks[-1]

    def x(day: date) -> float:
        share = period.elapsed_share(day)
        return frame.left + share * (frame.plot_right - frame.left)

    def y(value: float) -> float:
        share = (value - y_min) / (y_max - y_min)
        return frame.plot_bottom - share * (frame.plot_bottom - frame.top)

    start_x = frame.left
    pace_from = (start_x, y(0.0) if history.linear else y(target))
    pace_to = (frame.plot_right, y(target))
    points = [
        {
            "x": _fmt(x(point.as_of)),
            "y": _fmt(y(point.value)),
            "as_of": point.as_of.isoformat(),
            "value": point.value,
            "day": display.day_short(point.as_of),
            "text": display.number(point.value, kpi),
            "expected": display.number(point.expected, kpi),
            "deviation": _deviation_words(point.deviation_pct, kpi),
            "miss": point.miss,
        }
        for point in history.points
    ]
    middle = period.start + (period.end - period.start) / 2
    return {
        "frame": {
            "width": _fmt(frame.width),
            "height": _fmt(frame.height),
            "left": _fmt(frame.left),
            "right": _fmt(frame.plot_right),
            "top": _fmt(frame.top),
            "bottom": _fmt(frame.plot_bottom),
        },
        "y_min": y_min,
        "y_max": y_max,
        "y_ticks": [{"y": _fmt(y(tick)), "text": axis_label(tick, kpi)} for tick in ticks],
        "x_ticks": [
            {
                "x": _fmt(x(day) if day != period.start else frame.left),
                "text": display.day_short(day),
            }
            for day in (period.start, middle, period.end)
        ],
        "pace": [_fmt(v) for v in (*pace_from, *pace_to)],
        "target_y": _fmt(y(target)),
        "today_x": _fmt(x(today)) if period.contains(today) else None,
        "path": " ".join(f"{p['x']},{p['y']}" for p in points),
        "points": points,
        "period_label": period.text,
        "y_title": axis_title(kpi),
    }


# A tick label's room in characters: the margin left of the plot at the page's font
# (`EUR 1,000T` fits, `1,000T days` ran 2 units past the edge in Chromium).
MAX_LABEL = 10
_SIZES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))


def axis_label(value: float, kpi: Kpi) -> str:
    """A value on the axis, short enough for its margin: `EUR 2.5M`, `40k`, `75 days`.

    Every unit is shortened from 10,000 up (`1,000T` for 10^15, where `.3g` wrote
    `1e+06B`); a currency code or unit that would not fit is left to the axis title.
    """
    if abs(value) < 10_000:
        return display.number(value, kpi, approx=True)
    short = _short(value)
    unit = kpi.unit
    if unit == "currency":
        code = display.clean(kpi.currency or kpi.labels.get("currency", ""))
        labelled = f"{code} {short}" if code else short
    else:
        labelled = short + {"percent": "%", "ratio": "x", "days": " days"}.get(unit, "")
    return labelled if len(labelled) <= MAX_LABEL else short


def _short(value: float) -> str:
    """`40k`, `2.5M`, `1.2B`, `1,000T`: three significant digits and a size."""
    for size, suffix in _SIZES:
        if abs(value) >= size:
            scaled = value / size
            text = f"{scaled:.3g}"
            return (f"{scaled:,.0f}" if "e" in text else text) + suffix
    return display.written(value)


def axis_title(kpi: Kpi) -> str:
    """The value axis's name: the currency's code, or the unit."""
    if kpi.unit == "currency":
        return display.clean(kpi.currency or kpi.labels.get("currency", "")) or "Amount"
    return {"count": "Count", "percent": "Percent", "ratio": "Ratio", "days": "Days"}.get(
        kpi.unit, kpi.unit.capitalize()
    )


def _deviation_words(deviation: float | None, kpi: Kpi) -> str:
    if deviation is None:
        return ""
    if deviation == 0:
        return "on pace"
    increase = kpi.direction == "increase"
    word = (
        ("behind" if increase else "above") if deviation > 0 else ("ahead" if increase else "below")
    )
    return f"{display.percent(deviation)} {word}"


def page_data(
    registry: Registry,
    statuses: list[KpiStatus],
    histories: dict[str, History],
    moment: datetime,
) -> dict[str, Any]:
    """What the page template sees: a card per KPI, worst first, with its chart."""
    cards = []
    for status in statuses:
        history = histories.get(status.kpi.id)
        row = scorecard.row(registry, status, history)
        drawn = chart(history, status.kpi, moment.date()) if history else None
        cards.append({"row": row, "chart": drawn, "linear": status.kpi.pacing == "linear"})
    org = registry.settings.organization
    return {
        "heading": scorecard.heading(registry, moment),
        "summary": scorecard.summary(statuses),
        "organization": display.clean(org) if org else None,
        "evaluated_at": display.moment(moment),
        "cards": cards,
    }


def render_page(
    registry: Registry,
    statuses: list[KpiStatus],
    histories: dict[str, History],
    moment: datetime,
    env: Environment,
) -> str:
    """The scorecard page as HTML text."""
    from kpictl.templating.render import render

    return render(env, TEMPLATE, **page_data(registry, statuses, histories, moment))

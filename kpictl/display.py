"""How values read in anything kpictl writes for people: numbers, dates, periods, names.

Formatting is fixed (English, no locale): the same registry gives the same email on
every machine.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from kpictl.numbers.periods import Period
from kpictl.registry.models import Kpi

# Fixed English names: strftime's %a and %b follow the C library's locale.
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_SPACES = re.compile(r"\s+")
# Control, format and separator characters: line breaks, tabs, bidi overrides, NUL...
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def clean(text: str) -> str:
    """`text` on one line: every control or line-breaking character becomes a space."""
    if text.isprintable():
        return _SPACES.sub(" ", text).strip()
    safe = "".join(
        " " if unicodedata.category(char) in _UNSAFE_CATEGORIES else char for char in text
    )
    return _SPACES.sub(" ", safe).strip()


def _trim(text: str) -> str:
    """`12.0` → `12`, `12.50` → `12.5`."""
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


# What a number that is not one shows: arithmetic on values within kpictl's bounds can
# still leave them (a budget divided by 1e-310 produced is infinite), and every helper
# below must show something rather than fail on it.
NOT_A_NUMBER = "n/a"
# From here up, digits are not read one by one: `1.2e+20`, not twenty-one digits.
_DIGITS_UP_TO = 1e18
_PERCENT_UP_TO = 999_999.5  # what rounds to 1,000,000%


def amount(value: float) -> str:
    """A count or amount: thousands separated, no decimals from 10 up."""
    if not math.isfinite(value):
        return NOT_A_NUMBER
    if abs(value) >= _DIGITS_UP_TO:
        return f"{value:.3g}"
    if abs(value) >= 10 or value == int(value):
        return f"{round(value):,}"
    return _trim(f"{value:,.1f}")


def written(value: float, grouped: bool = False, exact: bool = False) -> str:
    """A target or value as a person wrote it: `2400` (`2,400` grouped), `0.35`.

    Unlike `amount`, nothing is rounded to the unit: what the registry says is what a
    review or a calendar shows, to six significant digits; `exact` keeps every digit
    (`36.6`, `1e-05`), so a CSV reader reads back the very value.
    """
    if not math.isfinite(value):
        return NOT_A_NUMBER
    comma = "," if grouped else ""
    if abs(value) < 1e15 and value == int(value):
        return f"{int(value):{comma}}"
    return repr(value) if exact and not grouped else f"{value:{comma}.6g}"


def number(value: float, kpi: Kpi, approx: bool = False) -> str:
    """`value` in the KPI's unit: `1,225`, `EUR 785,000`, `36.6%`, `3.2x`, `90 days`.

    `approx` rounds large values to three significant digits, for estimates such as
    a projection (`EUR 1,420,000` rather than `EUR 1,416,078`).
    """
    if not math.isfinite(value):
        return NOT_A_NUMBER
    if approx and abs(value) >= 1000:
        value = float(f"{value:.3g}")
    unit = kpi.unit
    if unit == "count":
        return amount(value)
    if unit == "currency":
        # `labels: {currency: EUR}` said it before the field existed.
        code = clean(kpi.currency or kpi.labels.get("currency", ""))
        return f"{code} {amount(value)}" if code else amount(value)
    if unit == "percent":
        return _trim(f"{value:.1f}") + "%"
    if unit == "ratio":
        return _trim(f"{value:.2f}") + "x"
    days = _trim(f"{value:.1f}")
    return f"{days} day" if days == "1" else f"{days} days"


def value_in(value: float, kpi: Kpi | None) -> str:
    """`number` for a KPI that may be missing (a reference to nothing): then as written."""
    return number(value, kpi) if kpi is not None else written(value, grouped=True)


def result_change(baseline: float, result: float, kpi: Kpi | None) -> tuple[str, bool | None]:
    """An experiment's result against its baseline, and whether that is the good way.

    `+13 points` for a percent KPI (a rate that went from 28% to 41% rose 13 points, not
    46%), `+12.5%` for anything else; `no change`. The flag is None without a KPI.
    """
    delta = result - baseline
    if delta == 0:
        return "no change", None
    sign = "+" if delta > 0 else "-"
    if kpi is not None and kpi.unit == "percent":
        text = f"{sign}{written(round(abs(delta), 1))} points"
    elif baseline != 0:
        text = f"{sign}{written(round(abs(delta) / abs(baseline) * 100, 1))}%"
    else:
        text = f"{sign}{value_in(abs(delta), kpi)}"
    return text, None if kpi is None else (delta > 0) == (kpi.direction == "increase")


def money(value: float, currency: str) -> str:
    """A sum of money: `EUR 50,000`, `EUR 51.98` (cents below 100, where they matter)."""
    if not math.isfinite(value):
        return NOT_A_NUMBER
    code = clean(currency)
    shown = amount(value) if abs(value) >= 100 else f"{value:,.2f}"
    return f"{code} {shown}" if code else shown


def percent(value: float) -> str:
    """A deviation: `7.9%`, `20%`, `36%` (whole numbers from 10% up)."""
    if not math.isfinite(value):
        return NOT_A_NUMBER
    value = abs(value)
    if value >= _PERCENT_UP_TO:
        return "over 999,999%"  # a share of a target of almost nothing: its digits say nothing
    return (f"{value:,.0f}" if value >= 10 else _trim(f"{value:.1f}")) + "%"


# Eight heights, lowest first; the ASCII ones for a terminal or file that cannot show blocks.
SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
SPARK_ASCII = "_.-~=+*#"


def sparkline(values: Iterable[float], ascii_only: bool = False) -> str:
    """`▁▃▅█`: one character per value, scaled from the lowest to the highest.

    An infinite value (a share of a target to date of almost nothing) is drawn at the
    top or the bottom, a NaN as a gap; the finite ones are scaled among themselves.
    """
    marks = SPARK_ASCII if ascii_only else SPARK_BLOCKS
    values = list(values)
    if not values:
        return ""
    finite = [value for value in values if math.isfinite(value)]
    low, high = (min(finite), max(finite)) if finite else (0.0, 0.0)
    top = len(marks) - 1
    # Halves: high - low of two values near the float limit would overflow to inf.
    span = high / 2 - low / 2

    def mark(value: float) -> str:
        if math.isnan(value):
            return " "
        if math.isinf(value):
            return marks[top] if value > 0 else marks[0]
        if span == 0:
            return marks[len(marks) // 2 - 1]  # flat: a level line mid-height
        return marks[round((value / 2 - low / 2) / span * top)]

    return "".join(mark(value) for value in values)


def can_show(text: str, encoding: str | None) -> bool:
    """Whether a stream with `encoding` can carry `text` (None: assume UTF-8)."""
    try:
        text.encode(encoding or "utf-8")
    except (LookupError, UnicodeEncodeError):
        return False
    return True


def signed(value: float, kpi: Kpi) -> str:
    """A change in the KPI's unit with its sign: `+125`, `-EUR 10,000`, `0`."""
    shown = number(abs(value), kpi)
    return shown if value == 0 else ("+" if value > 0 else "-") + shown


def day(value: date) -> str:
    """`Fri 20 Nov 2026`."""
    return f"{_DAYS[value.weekday()]} {value.day} {_MONTHS[value.month - 1][:3]} {value.year}"


def day_short(value: date) -> str:
    """`20 Nov`."""
    return f"{value.day} {_MONTHS[value.month - 1][:3]}"


def moment(value: datetime) -> str:
    """`Mon 23 Nov 2026, 09:00 CET`."""
    return f"{day(value)}, {value:%H:%M} {value.tzname() or ''}".rstrip()


def moment_short(value: datetime) -> str:
    """`Mon 23 Nov 09:00 CET`: for subject lines and tables."""
    weekday, month = _DAYS[value.weekday()], _MONTHS[value.month - 1][:3]
    return f"{weekday} {value.day} {month} {value:%H:%M} {value.tzname() or ''}".rstrip()


def period_label(period: Period, fiscal_start_month: int = 1) -> str:
    """`Q4 2026`, `November 2026`, `2026` (`Q1 FY2027`, `FY2027` for a shifted fiscal year)."""
    text = period.text
    fiscal = "FY" if fiscal_start_month != 1 else ""
    if "-Q" in text:
        year, quarter = text.split("-")
        return f"{quarter} {fiscal}{year}"
    if "-" in text:
        return f"{_MONTHS[period.start.month - 1]} {period.start.year}"
    return f"{fiscal}{text}"


def period_short(period: Period, fiscal_start_month: int = 1) -> str:
    """`Q4`, `November`, `2026`: the period as said within its year."""
    text = period.text
    if "-Q" in text:
        return text.split("-")[1]
    if "-" in text:
        return _MONTHS[period.start.month - 1]
    return period_label(period, fiscal_start_month)


def hours(value: int) -> str:
    """`24 hours`, `3 days` (whole days from 48 hours up)."""
    if value >= 48 and value % 24 == 0:
        return f"{value // 24} days"
    return plural(value, "hour")


def plural(n: int, one: str, many: str | None = None) -> str:
    """'1 file', '3 files'; `many` for a plural that is not `one` + s ('2 people')."""
    return f"{n} {one if n == 1 else many or one + 's'}"


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|<>#~])")


def text_table(rows: list[list[Any]], style: str = "text", right: Iterable[int] = ()) -> str:
    """Rows of cells (the first row is the header) as an aligned text or Markdown table.

    `right` lists the columns to align right (numbers). Templates call it as
    `{{ table(rows, "markdown", (2, 3)) }}`. Every cell is put on one line; in Markdown,
    characters that would start formatting or end a cell are escaped.
    """
    cells = [[clean(str(cell)) for cell in row] for row in rows]
    if not cells:
        return ""
    aligned = set(right)
    if style == "markdown":
        cells = [[_MARKDOWN_SPECIAL.sub(r"\\\1", cell) for cell in row] for row in cells]
    count = max(len(row) for row in cells)
    cells = [row + [""] * (count - len(row)) for row in cells]
    widths = [max(len(row[i]) for row in cells) for i in range(count)]

    def line(row: list[str], sep: str) -> str:
        return sep.join(
            cell.rjust(widths[i]) if i in aligned else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        )

    if style == "markdown":
        widths = [max(width, 3) for width in widths]
        rules = [
            "-" * (widths[i] - 1) + ":" if i in aligned else "-" * widths[i] for i in range(count)
        ]
        lines = [line(cells[0], " | "), " | ".join(rules), *(line(row, " | ") for row in cells[1:])]
        return "\n".join(f"| {text} |" for text in lines)
    rule = "  ".join("-" * width for width in widths)
    body = [line(row, "  ").rstrip() for row in cells[1:]]
    return "\n".join([line(cells[0], "  ").rstrip(), rule, *body])

"""`kpictl status` on a terminal: a rich table that fits the terminal's width.

Piped or written output uses the text template, whole, for scripts and diffs; a
person at a terminal gets the columns that fit, the least needed dropped first
(as `kpictl map` wraps its trees), and a line saying which were left out. Registry
text reaches rich only as `Text` objects, never as markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    cell: str  # key in a row's "text", or "kpi"/"period" at the top of the row
    right: bool = False
    wrap_at: int | None = None  # may wrap down to this width; None: never wraps
    optional: bool = False  # left out, unmentioned, when no row has anything in it


# In the order shown; PRIORITY says which stay when the terminal is narrow.
COLUMNS = (
    Column("KPI", "kpi", wrap_at=22),
    Column("Period", "period"),
    Column("Target", "target", right=True),
    Column("To date", "target_to_date", right=True),
    Column("Actual", "actual", right=True),
    Column("As of", "as_of"),
    Column("Deviation", "deviation"),
    Column("Trend", "trend", optional=True),
    Column("Change", "change", right=True, optional=True),
    Column("Behind since", "behind_since", optional=True),
    Column("State", "state", wrap_at=16),
    Column("Owner", "owner", wrap_at=12),
    Column("Respond by", "respond_by", wrap_at=10),
)
PRIORITY = (
    "KPI",
    "State",
    "Deviation",
    "Owner",
    "Trend",
    "Behind since",
    "Actual",
    "Change",
    "Respond by",
    "To date",
    "Target",
    "As of",
    "Period",
)
GAP = 3  # between columns: padding on either side and the (blank) divider


def _cell(row: dict[str, Any], column: Column) -> str:
    if column.cell in ("kpi", "period"):
        return str(row[column.cell] or "—")
    return str(row["text"].get(column.cell) or ("—" if column.cell == "actual" else ""))


def wanted_columns(rows: list[dict[str, Any]]) -> list[Column]:
    """The columns with something to show: a trend needs two values, a change an earlier one."""
    return [c for c in COLUMNS if not c.optional or any(_cell(row, c) for row in rows)]


def fitting_columns(rows: list[dict[str, Any]], width: int) -> list[tuple[Column, int]]:
    """The columns to show in `width`, by priority, each with the width it gets.

    Each column needs its widest cell, or less for one that may wrap; space left
    over goes to the wrapping columns, by priority, up to their widest cell.
    """
    natural: dict[str, int] = {}
    narrowest: dict[str, int] = {}
    columns = wanted_columns(rows)
    for column in columns:
        natural[column.header] = max(
            [len(column.header), *(len(_cell(row, column)) for row in rows)]
        )
        floor = max(column.wrap_at or natural[column.header], len(column.header))
        narrowest[column.header] = min(natural[column.header], floor)
    given: dict[str, int] = {}
    used = -GAP
    for header in PRIORITY:
        if header not in narrowest:
            continue
        need = narrowest[header] + GAP
        if used + need <= width or not given:
            given[header] = narrowest[header]
            used += need
    for header in PRIORITY:
        if header in given:
            extra = min(natural[header] - given[header], max(width - used, 0))
            given[header] += extra
            used += extra
    return [(column, given[column.header]) for column in columns if column.header in given]


def print_status(
    rows: list[dict[str, Any]],
    heading: str,
    summary: str,
    console: Console | None = None,
) -> None:
    """Print the scorecard as a table no wider than the console."""
    from rich.console import Console

    from kpictl.views.terminal import defused

    console = console or Console(highlight=False)
    with defused(console):
        _print_status(rows, heading, summary, console)


def _print_status(rows: list[dict[str, Any]], heading: str, summary: str, console: Console) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    shown = fitting_columns(rows, console.width)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), show_edge=False)
    for column, width in shown:
        table.add_column(
            column.header,
            justify="right" if column.right else "left",
            width=width,
            no_wrap=column.wrap_at is None,
            overflow="fold",
        )
    for row in rows:
        table.add_row(*(Text(_cell(row, column)) for column, _ in shown))
    console.print(Text(heading, style="bold"))
    console.print(table)
    kept = {column.header for column, _ in shown}
    left_out = [column.header for column in wanted_columns(rows) if column.header not in kept]
    if left_out:
        console.print(
            Text(
                f"Not shown at this width: {', '.join(left_out)} "
                "(widen the terminal, or use --format markdown or json).",
                style="dim",
            )
        )
    console.print(Text(summary))

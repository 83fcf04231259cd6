"""The bounds a template override renders within, and the meter that counts against them.

A Meter per render counts steps (loop iterations, calls, filters), characters written
and characters and items built; the checks here refuse a filter, operator or range
whose arguments would go past a bound before it runs. templating/sandbox.py calls them
from the compiled template and the sandbox's hooks."""

from __future__ import annotations

import re
import string
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import wraps
from typing import Any, NoReturn

from jinja2 import Environment
from jinja2.exceptions import TemplateRuntimeError
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, StrictUndefined
from jinja2.utils import object_type_repr

# One render may take this many steps: loop iterations, calls, filter calls (a filter on
# a long list or string counts as more), plus STEPS_PER_ENTITY for each entity of the
# registry (the text map of 2,500 KPIs takes 6.3M steps; ~5 s on a slow machine).
MAX_STEPS = 5_000_000
STEPS_PER_ENTITY = 5_000
# A macro call or a recursive loop's loop(...) costs Jinja ~50 loop iterations.
CALL_STEPS = 50
# Characters one render may produce, counting text built on the way ({% set %} blocks),
# plus OUTPUT_PER_ENTITY per entity (the HTML map of 2,500 KPIs is 11 MB, 26M counted).
MAX_OUTPUT = 50_000_000
OUTPUT_PER_ENTITY = 20_000
# Characters in one string, items in one list, that a template may build: an email is
# far smaller, and a string of emoji takes four bytes a character.
MAX_SIZE = 2_000_000
# Bytes of characters and items one render may build in all (every string, list and slice made by
# an operator, a filter or a call counts, even when it is dropped right away: `a[1:]`,
# `a[2:]`... held in a tuple each take memory), plus ALLOC_PER_ENTITY per entity.
MAX_ALLOC = 20_000_000
ALLOC_PER_ENTITY = 5_000
# Wall-clock seconds one render may take, and all renders of one environment (one run:
# check's M001 pass renders every override), plus a little per entity for the big views.
# A step is not a fixed time: these catch what the step count underestimates.
MAX_SECONDS = 2.0
MAX_RUN_SECONDS = 10.0
SECONDS_PER_ENTITY = 0.005
# The clock is read every this many counted operations.
CLOCK_EVERY = 256
# Characters or items a slow filter (Python code per character: wordwrap, urlize...) may
# be given: about a tenth of a second of work each.
MAX_SLOW_INPUT = 200_000
# Width or count arguments (center(80), batch(3), '%-20s'): far above any real layout.
MAX_WIDTH = 10_000
# Bits of an integer a template may compute (2 ** 65536 has 19,729 digits).
MAX_INT_BITS = 65_536
# Items of one range().
MAX_RANGE = 100_000
# The per-entity bonuses above count at most this many entities: a pull request chooses
# how many entities there are (50,000 two-line glossary terms are 2.4 MB), so the bonus
# must stop somewhere; twice the 2,500-KPI map above.
MAX_BONUS_ENTITIES = 5_000
# Whatever the registry's size, a render and a run stop at these (unless the base
# budgets above are larger).
CEILING_SECONDS = 5.0
CEILING_RUN_SECONDS = 30.0
# Tokens of one override, counted before it is compiled: Jinja's parser and compiler
# take far more time and memory than the source's size (190,000 `{{x}}` in 950 KB: 11 s
# and 2 GB). The largest shipped template (map/page.html.j2, 39 KB) has about 2,900.
MAX_TOKENS = 20_000


class TemplateLimitError(TemplateRuntimeError):
    """A template went past one of the bounds above."""


@dataclass
class Meter:
    """What one render has used so far, and whether the limits apply to it."""

    # kpictl's own templates are linear in the registry, which may be large: the limits
    # are for environments holding a registry's overrides.
    limited: bool = True
    max_steps: int = MAX_STEPS
    max_output: int = MAX_OUTPUT
    max_alloc: int = MAX_ALLOC
    # time.monotonic() past which the render stops, and what that limit is, in words.
    deadline: float = float("inf")
    timeout: str = ""
    steps: int = 0
    chars: int = 0
    allocated: int = 0
    ticks: int = 0

    def tick(self, steps: int, chars: int = 0) -> None:
        self.steps += steps
        self.chars += chars
        self.ticks += 1
        if self.ticks % CLOCK_EVERY == 0 and time.monotonic() > self.deadline:
            stop_render(self.timeout)
        if self.steps > self.max_steps:
            stop_render(
                f"more than {self.max_steps:,} steps (loop iterations and calls): "
                "a loop or a macro that does not end?"
            )
        if self.chars > self.max_output:
            stop_render(f"output longer than {self.max_output:,} characters")

    def allocate(self, value: Any) -> None:
        """Charge a string, list or slice a template made; refuse one too large."""
        check_size(size_of(value), "a string or list")
        self.allocate_size(memory_of(value))

    def allocate_size(self, size: int) -> None:
        """Charge `size` characters or items made."""
        self.allocated += size
        if self.allocated > self.max_alloc:
            stop_render(
                f"more than {self.max_alloc:,} characters and items built in one render "
                "(strings, lists and slices, counted as they are made)"
            )


METER: ContextVar[Meter | None] = ContextVar("kpictl_template_meter", default=None)


def current_meter() -> Meter:
    # Outside a render (Jinja folding constants while compiling) nothing accumulates.
    return METER.get() or Meter()


def stop_render(what: str) -> NoReturn:
    raise TemplateLimitError(f"the template went past a limit: {what}")


def weight(value: Any, limit: int = MAX_SIZE) -> int:
    """About how many characters `value` becomes as text; stops counting past `limit`.

    A list may hold the same long string many times: its items are counted each time,
    since that is what printing or joining it costs.
    """
    total = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item) + 2
        elif isinstance(item, bool | int):
            total += item.bit_length() // 3 + 1
        elif isinstance(item, Mapping):
            total += len(item) + 2
            if len(item) > limit:
                break
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset | range):
            total += len(item) + 2
            if len(item) > limit or isinstance(item, range):
                continue
            stack.extend(item)
        else:
            total += 8
    return total


def steps_of(value: Any) -> int:
    """Steps printing or joining `value` costs: a structure is walked item by item."""
    if isinstance(value, str):
        return len(value) // 64
    if isinstance(value, tuple) and all(isinstance(part, str) for part in value):
        return sum(map(len, value)) // 64
    return weight(value) // 4


def check_size(size: int, what: str) -> None:
    if size > MAX_SIZE:
        stop_render(f"{what} of more than {MAX_SIZE:,} characters or items")


def size_of(value: Any) -> int:
    """Characters or items `value` holds itself (what making it took)."""
    if isinstance(value, str | bytes | list | tuple | dict | set | frozenset):
        return len(value)
    return 0


def memory_of(value: Any) -> int:
    """What `value` takes in memory, in the units of MAX_ALLOC: a string's characters
    count by their width (an emoji takes four bytes), other sizes as size_of's."""
    if isinstance(value, str) and not value.isascii():  # isascii() reads a flag
        return 4 * len(value)
    return size_of(value)


def cost_of(value: Any) -> int:
    """Steps a filter or call on `value` costs: it may go through all of it."""
    if isinstance(value, str | bytes):
        return len(value) // 64
    if isinstance(value, list | tuple | dict | set | frozenset | range):
        return len(value)
    return 0


def int_args(args: Iterable[Any]) -> list[int]:
    return [a for a in args if isinstance(a, int) and not isinstance(a, bool)]


def check_amplifier(what: str, base: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse an operation whose result could be far larger than its input.

    The bound is generous and generic: every character of `base` may become the other
    string arguments (`replace`, `join`, `indent`), plus padding by the integer ones
    (`center`, `zfill`, `batch`).
    """
    others = [*args, *kwargs.values()]
    for number in int_args(others):
        if number > MAX_WIDTH:
            stop_render(f"{what}() with a width or count above {MAX_WIDTH:,}")
    extra = sum(weight(a) for a in others if not isinstance(a, int))
    check_size((weight(base) + 1) * (extra + 1), f"{what}() result")


_PRINTF_WIDTH = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def check_printf(fmt: str, values: Any) -> None:
    """`fmt % values` and the format filter: widths within bounds, the result too."""
    star = False
    for match in _PRINTF_WIDTH.finditer(fmt):
        for width in match.groups():
            if width == "*":
                star = True
            elif width and int(width) > MAX_WIDTH:
                stop_render(f"a format width above {MAX_WIDTH:,}")
    items = values if isinstance(values, tuple) else (values,)
    if star and any(n > MAX_WIDTH for n in int_args(items)):
        stop_render(f"a format width above {MAX_WIDTH:,}")
    check_size(len(fmt) + fmt.count("%") * weight(values), "a formatted string")


def check_format(fmt: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """`fmt.format(...)`: widths within bounds, the result too."""
    fields = 0
    try:
        parsed = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # str.format raises the same error itself
    for _, name, spec, _ in parsed:
        if name is None:
            continue
        fields += 1
        if spec and "{" in spec:
            if any(n > MAX_WIDTH for n in int_args([*args, *kwargs.values()])):
                stop_render(f"a format width above {MAX_WIDTH:,}")
        elif spec:
            for digits in re.findall(r"\d+", spec):
                if int(digits) > MAX_WIDTH:
                    stop_render(f"a format width above {MAX_WIDTH:,}")
    check_size(len(fmt) + fields * weight((args, kwargs)), "a formatted string")


def check_power(left: Any, right: Any) -> None:
    if not (isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1):
        return
    if right * abs(left).bit_length() > MAX_INT_BITS:
        stop_render(f"a number of more than {MAX_INT_BITS:,} bits")


def check_product(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        if abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS:
            stop_render(f"a number of more than {MAX_INT_BITS:,} bits")
        return
    for seq, times in ((left, right), (right, left)):
        if isinstance(times, int) and not isinstance(seq, int) and hasattr(seq, "__len__"):
            each = len(seq) if isinstance(seq, str | bytes) else weight(seq)
            check_size(max(times, 0) * each, "a repeated string or list")


def check_sum(left: Any, right: Any) -> None:
    if hasattr(left, "__len__") and hasattr(right, "__len__"):
        check_size(len(left) + len(right), "a joined string or list")


# Filters whose result can be much larger than their input.
_AMPLIFIERS = frozenset({"center", "indent", "replace", "wordwrap", "batch", "slice"})
# Filters that turn a whole structure into text.
_SERIALIZERS = frozenset({"string", "tojson", "pprint", "xmlattr", "list", "urlize"})
# String methods whose result can be much larger than the string.
STR_AMPLIFIERS = frozenset(
    {"center", "ljust", "rjust", "zfill", "expandtabs", "replace", "join", "translate"}
)


# Filters that run Python code for each character or item of their input, and how many
# steps each character or item costs (measured: about a microsecond a step).
_SLOW_FILTERS = {
    "wordwrap": 1,
    "urlize": 3,
    "title": 1,
    "pprint": 1,
    "sort": 2,
    "dictsort": 2,
    "unique": 1,
    "groupby": 2,
    "min": 1,
    "max": 1,
}


_CHECKED_FILTERS = _AMPLIFIERS | _SERIALIZERS | {"join", "format", "sum"}
# What Jinja passes a filter before the value (pass_context, pass_eval_context...).
_JINJA_STATE = (Environment, Context, EvalContext)


def check_join(separator: Any, items: Any) -> None:
    count = len(items) if hasattr(items, "__len__") else 0
    check_size(weight(items) + weight(separator) * count, "a joined string")


def checked_filter(name: str, func: Callable[..., Any], test: bool = False) -> Callable[..., Any]:
    """`func` with its steps counted and an oversized result refused before it is made.

    `test`: a Jinja test (`x is in(s)`, `select('in', s)`), only counted.
    """
    inspect = name in _CHECKED_FILTERS and not test

    @wraps(func)  # keeps Jinja's pass_context / pass_eval_context marker
    def checked(*args: Any, **kwargs: Any) -> Any:
        meter = current_meter()
        values = [a for a in args if not isinstance(a, _JINJA_STATE)]
        if meter.limited:
            meter.tick(1 + sum(map(cost_of, args)))
            if not test and values and name in _SLOW_FILTERS:
                _check_slow(meter, name, values[0])
            if inspect and values:
                _check_filter(name, values[0], tuple(values[1:]), kwargs)
        result = func(*args, **kwargs)
        if meter.limited:
            meter.tick(cost_of(result), len(result) if isinstance(result, str) else 0)
            meter.allocate(result)
        if name == "attr" and isinstance(result, StrictUndefined) and values:
            # attr(name) with a computed name: the message must not quote it.
            return Masked(hint=f"{object_type_repr(values[0])} has no such attribute")
        return result

    return checked


def _check_slow(meter: Meter, name: str, base: Any) -> None:
    """A slow filter: refused on a long input, else charged what it really costs."""
    size = size_of(base) if isinstance(base, str | bytes) else weight(base, MAX_SLOW_INPUT)
    if size > MAX_SLOW_INPUT:
        stop_render(f"the {name} filter on more than {MAX_SLOW_INPUT:,} characters or items")
    meter.tick(_SLOW_FILTERS[name] * size)


def _check_filter(name: str, base: Any, rest: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    if name == "join":
        check_join(rest[0] if rest else kwargs.get("d", ""), base)
    elif name in _AMPLIFIERS:
        check_amplifier(name, base, rest, kwargs)
    elif name in _SERIALIZERS:
        check_size(weight(base), f"the {name} filter's result")
    elif name == "format" and isinstance(base, str):
        check_printf(base, tuple(rest) or dict(kwargs))
    elif name == "sum" and not isinstance(kwargs.get("start", 0), int | float):
        check_size(weight(base) ** 2, "a sum of strings or lists")


def checked_table(func: Callable[..., str]) -> Callable[..., str]:
    """A `table(rows, ...)` global for templates, refused before it is built when too large.

    Every row is padded to the longest row and every column to its widest cell, so a
    table can be far larger than its cells: one long cell and many short rows.
    """

    @wraps(func)
    def table(rows: Any, *args: Any, **kwargs: Any) -> str:
        meter = current_meter()
        if meter.limited and isinstance(rows, list | tuple):
            widths: dict[int, int] = {}
            for row in rows:
                cells = list(row) if isinstance(row, list | tuple) else [row]
                meter.tick(1 + len(cells))
                for i, cell in enumerate(cells):
                    widths[i] = max(widths.get(i, 0), weight(cell))
            check_size(len(rows) * (sum(widths.values()) + 2 * len(widths)), "a table")
        return func(rows, *args, **kwargs)

    return table


def counting(iterable: Iterable[Any], meter: Meter, steps: int, chars: int) -> Iterator[Any]:
    for item in iterable:
        meter.tick(steps, chars)
        yield item


class CountedRange:
    """range() for templates: at most MAX_RANGE items, each iteration counted."""

    def __init__(self, *args: int) -> None:
        self.range = range(*args)
        if len(self.range) > MAX_RANGE:
            stop_render(f"a range of more than {MAX_RANGE:,} numbers")

    def __len__(self) -> int:
        return len(self.range)

    def __getitem__(self, index: Any) -> Any:
        return self.range[index]

    def __contains__(self, value: object) -> bool:
        return value in self.range

    def __iter__(self) -> Iterator[int]:
        meter = current_meter()
        return counting(self.range, meter, 1, 0) if meter.limited else iter(self.range)

    def __repr__(self) -> str:
        return repr(self.range)


class Masked(StrictUndefined):
    """An undefined value whose message was written by kpictl, quoting nothing computed."""

    __slots__ = ()

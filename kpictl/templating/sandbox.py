"""The sandbox every template renders in: bounded, and quiet about what it computed.

A registry's template overrides come from whoever wrote the pull request, and CI renders
them (rule M001) before anyone has read them. Jinja's immutable sandbox already keeps
them away from Python internals; this module adds what it leaves open:

- where templates come from: only regular `*.j2` files listed inside the override
  folder, then kpictl's own templates; never a symlink, never another file;
- how much a render may do: loop iterations and calls are counted, strings, lists,
  numbers and the output have size limits, what a render builds in all is counted, and
  a render and a run have a clock, so no template hangs or fills the memory;
- what a template may reach: the sandbox's rules, and no method of a pydantic model;
- what may be compiled: a template nested too deeply for Jinja's parser is a syntax
  error, not a crash;
- what an error says: the template file, the line and the kind of error, never a
  value the template computed (it might be a file's content or a secret).
"""

from __future__ import annotations

import datetime
import os
import re
import string
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, cast

from jinja2 import BaseLoader, Environment, Template, TemplateNotFound
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.exceptions import (
    SecurityError,
    TemplateError,
    TemplateRuntimeError,
    TemplateSyntaxError,
    UndefinedError,
)
from jinja2.nodes import Compare, Concat, EvalContext, For, Getitem, Node, Slice, TemplateData
from jinja2.runtime import Context, LoopContext, Macro, StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import object_type_repr, pass_eval_context
from pydantic import BaseModel

from kpictl.display import clean
from kpictl.errors import KpictlError
from kpictl.templating.escaping import html_text

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
# Characters and items one render may build in all (every string, list and slice made by
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
# Override files: how many, how large, how deep, how many folder entries to look at.
MAX_TEMPLATES = 1_000
MAX_TEMPLATE_BYTES = 1_000_000
MAX_DEPTH = 8
MAX_ENTRIES = 10_000
# The longest Jinja syntax message quoted in a finding or error.
MAX_MESSAGE = 200


class TemplateLimitError(TemplateRuntimeError):
    """A template went past one of the bounds above."""


class OverrideRefused(TemplateError):
    """An override file kpictl will not read (a symlink, not UTF-8, too large)."""

    def __init__(self, message: str, filename: str | None = None) -> None:
        super().__init__(message)
        self.filename = filename


class TemplateFailure(KpictlError):
    """A template failed: where, and what kind of error, without any rendered value."""

    def __init__(self, filename: str | None, line: int | None, kind: str, detail: str) -> None:
        self.filename = filename
        self.line = line
        self.kind = kind
        self.detail = detail
        where = f"{_shown(filename)}:{line}" if line else _shown(filename)
        super().__init__(f"template {where} failed: {kind}: {detail}")


def _shown(filename: str | None) -> str:
    if filename is None:
        return "(unknown template)"
    path = Path(filename)
    if path.is_absolute():
        from kpictl.registry.registry import display_path

        return clean(str(display_path(path, Path.cwd())))
    return clean(filename)


# --------------------------------------------------------------------------------------
# Override files
# --------------------------------------------------------------------------------------


@dataclass
class Listing:
    """The override folder's templates by name, and the files refused, with why."""

    folder: Path
    templates: dict[str, Path] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)


def list_overrides(folder: Path) -> Listing:
    """The `*.j2` files below `folder`, without following a link and within the bounds.

    Hidden files and folders are skipped, as the registry loader does. A symlink is
    refused whatever it points at: following it could leave the registry.
    """
    listing = Listing(folder)
    pending: list[tuple[Path, str, int]] = [(folder, "", 0)]
    seen = 0
    while pending:
        where, prefix, depth = pending.pop()
        try:
            with os.scandir(where) as entries:
                batch = []
                for entry in entries:
                    seen += 1
                    if seen > MAX_ENTRIES:
                        listing.refused[prefix or "."] = (
                            f"the templates folder holds more than {MAX_ENTRIES:,} files "
                            "and folders; the rest were not read"
                        )
                        return listing
                    batch.append(entry)
        except OSError as exc:
            listing.refused[prefix or "."] = f"cannot be read ({exc.strerror or 'error'})"
            continue
        for entry in sorted(batch, key=lambda e: e.name):
            if entry.name.startswith("."):
                continue
            name = prefix + entry.name
            if entry.is_symlink():
                listing.refused[name] = (
                    "is a symbolic link: overrides must be regular files inside the "
                    "templates folder; put the file itself there"
                )
            elif entry.is_dir(follow_symlinks=False):
                if depth + 1 > MAX_DEPTH:
                    listing.refused[name] = f"is nested more than {MAX_DEPTH} folders deep"
                else:
                    pending.append((Path(entry.path), name + "/", depth + 1))
            elif entry.name.endswith(".j2"):
                if not entry.is_file(follow_symlinks=False):
                    listing.refused[name] = "is not a regular file"
                elif len(listing.templates) >= MAX_TEMPLATES:
                    listing.refused[name] = f"is past the first {MAX_TEMPLATES:,} templates"
                else:
                    listing.templates[name] = Path(entry.path)
    return listing


def read_override(path: Path) -> str:
    """One override's source: a regular file read without following a link, bounded."""
    from kpictl.fileio import FileTooLargeError, NotRegularFileError, read_regular

    try:
        data = read_regular(path, MAX_TEMPLATE_BYTES)
    except NotRegularFileError:
        raise OverrideRefused("is not a regular file") from None
    except FileTooLargeError:
        raise OverrideRefused(f"is larger than {MAX_TEMPLATE_BYTES:,} bytes") from None
    except OSError as exc:
        raise OverrideRefused(f"cannot be read ({exc.strerror or 'error'})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise OverrideRefused("is not UTF-8 text") from None


class OverrideLoader(BaseLoader):
    """Loads exactly the listed override files; every other name is not found here."""

    def __init__(self, listing: Listing) -> None:
        self.listing = listing

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        path = self.listing.templates.get(template)
        if path is None:
            reason = self.listing.refused.get(template)
            if reason is not None:
                raise OverrideRefused(f"{template} {reason}", str(self.listing.folder / template))
            raise TemplateNotFound(template)
        try:
            source = read_override(path)
        except OverrideRefused as exc:
            raise OverrideRefused(f"{template} {exc.message}", str(path)) from None
        # An environment lives for one run, and the files do not change meanwhile.
        return source, str(path), lambda: True

    def list_templates(self) -> list[str]:
        return sorted(self.listing.templates)


# --------------------------------------------------------------------------------------
# The limits
# --------------------------------------------------------------------------------------


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
            _limit(self.timeout)
        if self.steps > self.max_steps:
            _limit(
                f"more than {self.max_steps:,} steps (loop iterations and calls): "
                "a loop or a macro that does not end?"
            )
        if self.chars > self.max_output:
            _limit(f"output longer than {self.max_output:,} characters")

    def allocate(self, value: Any) -> None:
        """Charge a string, list or slice a template made; refuse one too large."""
        size = _size(value)
        _too_big(size, "a string or list")
        self.allocate_size(size)

    def allocate_size(self, size: int) -> None:
        """Charge `size` characters or items made."""
        self.allocated += size
        if self.allocated > self.max_alloc:
            _limit(
                f"more than {self.max_alloc:,} characters and items built in one render "
                "(strings, lists and slices, counted as they are made)"
            )


_METER: ContextVar[Meter | None] = ContextVar("kpictl_template_meter", default=None)


def _meter() -> Meter:
    # Outside a render (Jinja folding constants while compiling) nothing accumulates.
    return _METER.get() or Meter()


def _limit(what: str) -> NoReturn:
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


def _steps(value: Any) -> int:
    """Steps printing or joining `value` costs: a structure is walked item by item."""
    if isinstance(value, str):
        return len(value) // 64
    if isinstance(value, tuple) and all(isinstance(part, str) for part in value):
        return sum(map(len, value)) // 64
    return weight(value) // 4


def _too_big(size: int, what: str) -> None:
    if size > MAX_SIZE:
        _limit(f"{what} of more than {MAX_SIZE:,} characters or items")


def _size(value: Any) -> int:
    """Characters or items `value` holds itself (what making it took)."""
    if isinstance(value, str | bytes | list | tuple | dict | set | frozenset):
        return len(value)
    return 0


def _cost(value: Any) -> int:
    """Steps a filter or call on `value` costs: it may go through all of it."""
    if isinstance(value, str | bytes):
        return len(value) // 64
    if isinstance(value, list | tuple | dict | set | frozenset | range):
        return len(value)
    return 0


def _int_args(args: Iterable[Any]) -> list[int]:
    return [a for a in args if isinstance(a, int) and not isinstance(a, bool)]


def _check_amplifier(what: str, base: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse an operation whose result could be far larger than its input.

    The bound is generous and generic: every character of `base` may become the other
    string arguments (`replace`, `join`, `indent`), plus padding by the integer ones
    (`center`, `zfill`, `batch`).
    """
    others = [*args, *kwargs.values()]
    for number in _int_args(others):
        if number > MAX_WIDTH:
            _limit(f"{what}() with a width or count above {MAX_WIDTH:,}")
    extra = sum(weight(a) for a in others if not isinstance(a, int))
    _too_big((weight(base) + 1) * (extra + 1), f"{what}() result")


_PRINTF_WIDTH = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _check_printf(fmt: str, values: Any) -> None:
    """`fmt % values` and the format filter: widths within bounds, the result too."""
    star = False
    for match in _PRINTF_WIDTH.finditer(fmt):
        for width in match.groups():
            if width == "*":
                star = True
            elif width and int(width) > MAX_WIDTH:
                _limit(f"a format width above {MAX_WIDTH:,}")
    items = values if isinstance(values, tuple) else (values,)
    if star and any(n > MAX_WIDTH for n in _int_args(items)):
        _limit(f"a format width above {MAX_WIDTH:,}")
    _too_big(len(fmt) + fmt.count("%") * weight(values), "a formatted string")


def _check_format(fmt: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
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
            if any(n > MAX_WIDTH for n in _int_args([*args, *kwargs.values()])):
                _limit(f"a format width above {MAX_WIDTH:,}")
        elif spec:
            for digits in re.findall(r"\d+", spec):
                if int(digits) > MAX_WIDTH:
                    _limit(f"a format width above {MAX_WIDTH:,}")
    _too_big(len(fmt) + fields * weight((args, kwargs)), "a formatted string")


def _check_power(left: Any, right: Any) -> None:
    if not (isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1):
        return
    if right * abs(left).bit_length() > MAX_INT_BITS:
        _limit(f"a number of more than {MAX_INT_BITS:,} bits")


def _check_product(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        if abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS:
            _limit(f"a number of more than {MAX_INT_BITS:,} bits")
        return
    for seq, times in ((left, right), (right, left)):
        if isinstance(times, int) and not isinstance(seq, int) and hasattr(seq, "__len__"):
            each = len(seq) if isinstance(seq, str | bytes) else weight(seq)
            _too_big(max(times, 0) * each, "a repeated string or list")


def _check_sum(left: Any, right: Any) -> None:
    if hasattr(left, "__len__") and hasattr(right, "__len__"):
        _too_big(len(left) + len(right), "a joined string or list")


# Filters whose result can be much larger than their input.
_AMPLIFIERS = frozenset({"center", "indent", "replace", "wordwrap", "batch", "slice"})
# Filters that turn a whole structure into text.
_SERIALIZERS = frozenset({"string", "tojson", "pprint", "xmlattr", "list", "urlize"})
# String methods whose result can be much larger than the string.
_STR_AMPLIFIERS = frozenset(
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


def _check_join(separator: Any, items: Any) -> None:
    count = len(items) if hasattr(items, "__len__") else 0
    _too_big(weight(items) + weight(separator) * count, "a joined string")


def _checked_filter(name: str, func: Callable[..., Any], test: bool = False) -> Callable[..., Any]:
    """`func` with its steps counted and an oversized result refused before it is made.

    `test`: a Jinja test (`x is in(s)`, `select('in', s)`), only counted.
    """
    inspect = name in _CHECKED_FILTERS and not test

    @wraps(func)  # keeps Jinja's pass_context / pass_eval_context marker
    def checked(*args: Any, **kwargs: Any) -> Any:
        meter = _meter()
        values = [a for a in args if not isinstance(a, _JINJA_STATE)]
        if meter.limited:
            meter.tick(1 + sum(map(_cost, args)))
            if not test and values and name in _SLOW_FILTERS:
                _check_slow(meter, name, values[0])
            if inspect and values:
                _check_filter(name, values[0], tuple(values[1:]), kwargs)
        result = func(*args, **kwargs)
        if meter.limited:
            meter.tick(_cost(result), len(result) if isinstance(result, str) else 0)
            meter.allocate(result)
        if name == "attr" and isinstance(result, StrictUndefined) and values:
            # attr(name) with a computed name: the message must not quote it.
            return _Masked(hint=f"{object_type_repr(values[0])} has no such attribute")
        return result

    return checked


def _check_slow(meter: Meter, name: str, base: Any) -> None:
    """A slow filter: refused on a long input, else charged what it really costs."""
    size = _size(base) if isinstance(base, str | bytes) else weight(base, MAX_SLOW_INPUT)
    if size > MAX_SLOW_INPUT:
        _limit(f"the {name} filter on more than {MAX_SLOW_INPUT:,} characters or items")
    meter.tick(_SLOW_FILTERS[name] * size)


def _check_filter(name: str, base: Any, rest: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    if name == "join":
        _check_join(rest[0] if rest else kwargs.get("d", ""), base)
    elif name in _AMPLIFIERS:
        _check_amplifier(name, base, rest, kwargs)
    elif name in _SERIALIZERS:
        _too_big(weight(base), f"the {name} filter's result")
    elif name == "format" and isinstance(base, str):
        _check_printf(base, tuple(rest) or dict(kwargs))
    elif name == "sum" and not isinstance(kwargs.get("start", 0), int | float):
        _too_big(weight(base) ** 2, "a sum of strings or lists")


def checked_table(func: Callable[..., str]) -> Callable[..., str]:
    """A `table(rows, ...)` global for templates, refused before it is built when too large.

    Every row is padded to the longest row and every column to its widest cell, so a
    table can be far larger than its cells: one long cell and many short rows.
    """

    @wraps(func)
    def table(rows: Any, *args: Any, **kwargs: Any) -> str:
        meter = _meter()
        if meter.limited and isinstance(rows, list | tuple):
            widths: dict[int, int] = {}
            for row in rows:
                cells = list(row) if isinstance(row, list | tuple) else [row]
                meter.tick(1 + len(cells))
                for i, cell in enumerate(cells):
                    widths[i] = max(widths.get(i, 0), weight(cell))
            _too_big(len(rows) * (sum(widths.values()) + 2 * len(widths)), "a table")
        return func(rows, *args, **kwargs)

    return table


def _counting(iterable: Iterable[Any], meter: Meter, steps: int, chars: int) -> Iterator[Any]:
    for item in iterable:
        meter.tick(steps, chars)
        yield item


class CountedRange:
    """range() for templates: at most MAX_RANGE items, each iteration counted."""

    def __init__(self, *args: int) -> None:
        self.range = range(*args)
        if len(self.range) > MAX_RANGE:
            _limit(f"a range of more than {MAX_RANGE:,} numbers")

    def __len__(self) -> int:
        return len(self.range)

    def __getitem__(self, index: Any) -> Any:
        return self.range[index]

    def __contains__(self, value: object) -> bool:
        return value in self.range

    def __iter__(self) -> Iterator[int]:
        meter = _meter()
        return _counting(self.range, meter, 1, 0) if meter.limited else iter(self.range)

    def __repr__(self) -> str:
        return repr(self.range)


class _Generator(CodeGenerator):
    """Jinja's code generator, with every for-loop's iterable wrapped in a counter.

    Each iteration costs one step, plus the loop body's literal text (which is output
    without passing through anything else kpictl can count).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._counted: dict[int, int] = {}  # id of a loop's iterable → its body's literal text
        self._charged: set[int] = set()  # ids of compared values

    def visit_For(self, node: For, frame: Frame) -> None:
        self._counted[id(node.iter)] = sum(len(data.data) for data in node.find_all(TemplateData))
        super().visit_For(node, frame)

    def visit_Compare(self, node: Compare, frame: Frame) -> None:
        # `'x' in s` or `s == t` goes through all of a long string: charge each operand.
        self._charged.update(id(operand) for operand in (node.expr, *(o.expr for o in node.ops)))
        super().visit_Compare(node, frame)

    @optimizeconst
    def visit_Concat(self, node: Concat, frame: Frame) -> None:
        # Jinja's own, with the parts checked before they become one string (`s ~ s`
        # in a loop doubles; a list printed in it may hold a long string many times).
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            join = "markup_join"
        else:
            join = "str_join"
        self.write(f"environment.joined({join}, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def visit(self, node: Node, *args: Any, **kwargs: Any) -> Any:
        # s[1:] is Python's own slicing, a copy: charge its steps and its memory.
        if isinstance(node, Getitem) and isinstance(node.arg, Slice):
            self._charged.discard(id(node))
            self.write("environment.sliced(")
            super().visit(node, *args, **kwargs)
            self.write(")")
            return None
        if id(node) in self._charged:
            self._charged.discard(id(node))
            self.write("environment.charged(")
            super().visit(node, *args, **kwargs)
            self.write(")")
            return None
        literal = self._counted.pop(id(node), None)
        if literal is None:
            return super().visit(node, *args, **kwargs)
        self.write("environment.counted(")
        super().visit(node, *args, **kwargs)
        self.write(f", {literal})")
        return None


# What a template can raise while rendering; anything else is a bug in kpictl.
_RENDER_ERRORS = (
    TemplateError,
    ArithmeticError,
    LookupError,
    TypeError,
    ValueError,
    RecursionError,
    MemoryError,
)


class BoundedTemplate(Template):
    """A template whose render is metered, capped, and fails with a TemplateFailure."""

    environment: BoundedSandbox

    def render(self, *args: Any, **kwargs: Any) -> str:
        env = self.environment
        meter = Meter(env.limited, env.max_steps, env.max_output, env.max_alloc)
        started = time.monotonic()
        if meter.limited:
            env.start_clock(meter, started)
        token = _METER.set(meter)
        try:
            if not meter.limited:
                return super().render(*args, **kwargs)
            parts = []
            size = 0
            # Chunk by chunk, to stop as soon as the output is too long.
            for chunk in self.generate(*args, **kwargs):
                size += len(chunk)
                if size > meter.max_output:
                    _limit(f"output longer than {meter.max_output:,} characters")
                parts.append(chunk)
            return "".join(parts)
        except TemplateFailure:
            raise
        except _RENDER_ERRORS as exc:
            raise failure(exc) from None
        finally:
            _METER.reset(token)
            env.spent += time.monotonic() - started


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox with the limits above and errors that quote no value."""

    code_generator_class = _Generator
    template_class = BoundedTemplate
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, *args: Any, limited: bool = True, entities: int = 0, **kwargs: Any) -> None:
        """`limited`: apply the limits (the environment has overrides); `entities`: the
        registry's size, which legitimately makes renders longer."""
        super().__init__(*args, undefined=StrictUndefined, finalize=self._finalize, **kwargs)
        self.limited = limited
        self.max_steps = MAX_STEPS + STEPS_PER_ENTITY * entities
        self.max_output = MAX_OUTPUT + OUTPUT_PER_ENTITY * entities
        self.max_alloc = MAX_ALLOC + ALLOC_PER_ENTITY * entities
        self.max_seconds = MAX_SECONDS + SECONDS_PER_ENTITY * entities
        self.max_run_seconds = MAX_RUN_SECONDS + 4 * SECONDS_PER_ENTITY * entities
        self.spent = 0.0  # seconds all renders in this environment took so far
        self.globals["range"] = CountedRange
        # lipsum(n=10**9) writes paragraphs without end; nothing kpictl ships uses it.
        self.globals.pop("lipsum", None)
        self.add_filters(dict(self.filters))
        # select('in', s) runs the test once per item: each run counts.
        tests = cast("dict[str, Callable[..., Any]]", self.tests)  # Jinja types them loosely
        tests.update({n: _checked_filter(n, f, test=True) for n, f in tests.items()})

    def start_clock(self, meter: Meter, now: float) -> None:
        """Set `meter`'s deadline: this render's time, or what is left of the run's."""
        left = self.max_run_seconds - self.spent
        if left < self.max_seconds:
            meter.deadline = now + left
            meter.timeout = (
                f"more than {self.max_run_seconds:.3g} s rendering templates in one run: "
                "a loop or a filter that takes too long?"
            )
        else:
            meter.deadline = now + self.max_seconds
            meter.timeout = (
                f"more than {self.max_seconds:.3g} s rendering one template: "
                "a loop or a filter that takes too long?"
            )

    def add_filters(self, filters: Mapping[str, Callable[..., Any]]) -> None:
        """Add filters (kpictl's escapes), counted and checked like Jinja's own."""
        self.filters.update({n: _checked_filter(n, f) for n, f in filters.items()})

    def get_template(self, name: Any, parent: Any = None, globals: Any = None) -> Template:
        """Jinja's get_template; a template that does not compile is a TemplateFailure."""
        try:
            return super().get_template(name, parent, globals)
        except (TemplateSyntaxError, OverrideRefused) as exc:
            raise failure(exc) from None

    def compile(
        self,
        source: Any,
        name: str | None = None,
        filename: str | None = None,
        raw: bool = False,
        defer_init: bool = False,
    ) -> Any:
        """Jinja's compile; a template nested too deeply for the parser is a syntax error.

        Jinja's parser and code generator recurse once per level of parentheses, blocks
        or attributes: a few hundred levels exhaust Python's stack (RecursionError).
        """
        try:
            # Jinja types compile() as overloads on a literal `raw`: pass it on as given.
            return super().compile(source, name, filename, raw, defer_init)  # type: ignore[call-overload]
        except (RecursionError, MemoryError) as exc:
            raise TemplateSyntaxError(
                "the template nests too deeply to compile (parentheses, brackets, "
                "blocks or attributes inside each other): split it up or use macros",
                _deepest_line(exc),
                name,
                filename,
            ) from None

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """Jinja's rule, and no method of a pydantic model (model_dump_json(indent=10**7)
        builds gigabytes): a template reads a model's fields only."""
        if isinstance(obj, BaseModel) and (
            attr.startswith("model_") or callable(getattr(type(obj), attr, None))
        ):
            return False
        return bool(super().is_safe_attribute(obj, attr, value))

    def counted(self, iterable: Any, literal: int) -> Iterable[Any]:
        """A for-loop's iterable, each iteration counted (see _Generator)."""
        meter = _meter()
        if not meter.limited:
            return iterable  # type: ignore[no-any-return]
        return _counting(iterable, meter, 1 + literal // 64, literal)

    def charged(self, value: Any) -> Any:
        """A compared value, its length charged (see _Generator.visit)."""
        meter = _meter()
        if meter.limited:
            meter.tick(_cost(value))
        return value

    def sliced(self, value: Any) -> Any:
        """A slice, a copy: its length charged, and the memory it took (see _Generator.visit)."""
        meter = _meter()
        if meter.limited:
            meter.tick(_cost(value))
            meter.allocate(value)
        return value

    def joined(self, join: Callable[[Any], str], parts: tuple[Any, ...]) -> str:
        """`a ~ b ~ c`, refused before it is made when the result would be too long."""
        meter = _meter()
        if meter.limited:
            size = sum(len(p) if isinstance(p, str) else weight(p) for p in parts)
            _too_big(size, "a joined string")
            meter.tick(1 + _steps(parts), size)
            meter.allocate_size(size)
        return join(parts)

    @pass_eval_context
    def _finalize(self, eval_ctx: EvalContext, value: Any) -> Any:
        # Every {{ value }}: count it, and refuse a structure too large to print.
        meter = _meter()
        if meter.limited:
            if isinstance(value, str):
                # Already made, and output (a macro's whole table): the output limit's.
                size = len(value)
            else:
                size = weight(value)
                _too_big(size, "a printed value")
            meter.tick(1 + _steps(value), size)
        # An HTML page has no filter of ours on each value (autoescape does the
        # escaping), so the control characters go here, for every template that escapes.
        return html_text(value) if eval_ctx.autoescape else value

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        meter = _meter()
        if not meter.limited:
            return super().call_binop(context, operator, left, right)
        meter.tick(1)
        if operator == "**":
            _check_power(left, right)
        elif operator == "*":
            _check_product(left, right)
        elif operator == "+":
            _check_sum(left, right)
        elif operator == "%" and isinstance(left, str):
            _check_printf(left, right)
        result = super().call_binop(context, operator, left, right)
        meter.tick(_cost(result))  # `s * 2` in a loop copies a long string each time
        meter.allocate(result)
        return result

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        meter = _meter()
        if meter.limited:
            args = _checked_call(meter, __obj, args, kwargs)
        try:
            result = super().call(__context, __obj, *args, **kwargs)
        except SecurityError:
            # Jinja's message quotes the callable's repr, which can hold a value.
            raise SecurityError("a call the sandbox does not allow") from None
        if meter.limited:
            meter.tick(_cost(result))
            if isinstance(__obj, Macro | LoopContext):
                # Template output (a whole table of the map), bounded like the rest of it.
                meter.allocate_size(_size(result))
            else:
                meter.allocate(result)
        return result

    def getitem(self, obj: Any, argument: Any) -> Any:
        value = super().getitem(obj, argument)
        if isinstance(value, StrictUndefined) and not isinstance(value, _Masked):
            # x[key] with a computed key: the message must not quote the key.
            return _Masked(hint=f"{object_type_repr(obj)} has no such key, index or attribute")
        return value

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        # The attribute may be a computed key (x[name]): name only the object's type.
        return _Masked(
            hint=f"access to an unsafe attribute of {object_type_repr(obj)}",
            exc=SecurityError,
        )


# Owners whose methods take large numbers legitimately: keys, dates and times.
_NUMBERS_WELCOME = (Mapping, datetime.date, datetime.time, datetime.timedelta)


def _check_method_numbers(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    # A method may build as much as a number says ((10).to_bytes(10 ** 9, 'big')).
    if any(n > MAX_WIDTH for n in _int_args([*args, *kwargs.values()])):
        _limit(f"{name or 'a method'}() with a number above {MAX_WIDTH:,}")


def _deepest_line(exc: BaseException) -> int:
    """The template line Jinja's parser or code generator was at when `exc` happened."""
    from jinja2.parser import Parser

    line = 1
    tb = exc.__traceback__
    while tb is not None:
        local = tb.tb_frame.f_locals
        owner, node = local.get("self"), local.get("node")
        if isinstance(owner, Parser):
            line = owner.stream.current.lineno
        elif isinstance(owner, Node) and owner.lineno:
            line = owner.lineno
        elif isinstance(node, Node) and node.lineno:
            line = node.lineno
        tb = tb.tb_next
    return line


def _checked_call(
    meter: Meter, obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, ...]:
    """Count a call from a template and refuse one that would build too much; the arguments."""
    # A macro call or a recursive loop's loop(...) costs Jinja ~20 loop iterations.
    heavy = isinstance(obj, Macro | LoopContext)
    if isinstance(obj, LoopContext) and args:
        # loop(children) in a recursive for-loop: count those iterations too.
        meter.tick(CALL_STEPS + _cost(args[0]))
        return (_counting(args[0], meter, 1, 0), *args[1:])
    wrapped = getattr(obj, "__wrapped__", obj)  # the sandbox wraps str.format
    owner = getattr(wrapped, "__self__", None)  # `s` of s.split(): it goes through all of s
    name = getattr(wrapped, "__name__", "")
    meter.tick((CALL_STEPS if heavy else 1) + _cost(owner) + sum(map(_cost, args)))
    if isinstance(owner, str | bytes):
        if name in ("format", "format_map") and isinstance(owner, str):
            _check_format(owner, args, kwargs)
        elif name == "join" and args:
            _check_join(owner, args[0])
        elif name in _STR_AMPLIFIERS:
            _check_amplifier(name, owner, args, kwargs)
    elif owner is not None and not isinstance(owner, _NUMBERS_WELCOME):
        _check_method_numbers(name, args, kwargs)
    return args


class _Masked(StrictUndefined):
    """An undefined value whose message was written by kpictl, quoting nothing computed."""

    __slots__ = ()


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------

# What kind of error, in words, for errors whose own message may hold a value.
_KINDS: tuple[tuple[type[BaseException], str], ...] = (
    (ZeroDivisionError, "division by zero"),
    (OverflowError, "a number too large"),
    (RecursionError, "too deep recursion (a macro or recursive loop that does not end?)"),
    (MemoryError, "out of memory"),
    (TemplateNotFound, "an included, imported or extended template does not exist"),
    (ArithmeticError, "an arithmetic error"),
    (LookupError, "an index or key that does not exist"),
    (TypeError, "an operation on a value of the wrong type"),
    (ValueError, "a value that does not fit (a filter's or function's argument?)"),
    (TemplateRuntimeError, "an error while rendering"),
)
# The shapes of the Undefined messages kpictl lets through: names from the source.
_SAFE_UNDEFINED = re.compile(
    r"'[A-Za-z_]\w{0,63}' is undefined"
    r"|'[A-Za-z_][\w.]{0,63}( object)?' has no attribute '[A-Za-z_]\w{0,63}'"
)


def _capped(text: str) -> str:
    text = clean(text)
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def describe(exc: BaseException) -> tuple[str, str]:
    """(kind, detail) of a template error, quoting no value the template computed.

    A syntax error's message is about the source the author wrote; an undefined name is
    quoted only in the shapes Jinja gives a name written in the source; every other
    error is described by its kind.
    """
    kind = type(exc).__name__
    if isinstance(exc, TemplateSyntaxError):
        return kind, _capped(exc.message or "invalid syntax")
    if isinstance(exc, TemplateLimitError | OverrideRefused):
        return kind, _capped(str(exc.message))
    if isinstance(exc, SecurityError):
        message = str(exc)
        safe = message.startswith("access to an unsafe attribute of ") or message == (
            "a call the sandbox does not allow"
        )
        return kind, _capped(message) if safe else "something the sandbox does not allow"
    if isinstance(exc, UndefinedError):
        message = str(exc)
        if _SAFE_UNDEFINED.fullmatch(message) or message.endswith(
            ("has no such key, index or attribute", "has no such attribute")
        ):
            return kind, _capped(message)
        return kind, "a value that is not defined"
    for family, words in _KINDS:
        if isinstance(exc, family):
            return kind, words
    return kind, "an error while rendering"


def position(exc: BaseException) -> tuple[str | None, int | None]:
    """The template file and line where `exc` happened (the innermost template frame)."""
    if isinstance(exc, TemplateSyntaxError) and exc.filename:
        return exc.filename, exc.lineno
    if isinstance(exc, OverrideRefused) and exc.filename:
        return exc.filename, None
    found: tuple[str | None, int | None] = (None, None)
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.endswith(".j2"):
            found = (frame.filename, frame.lineno)
    return found


def failure(exc: BaseException) -> TemplateFailure:
    """`exc` as a TemplateFailure: file, line, kind and a detail quoting no value."""
    filename, line = position(exc)
    kind, detail = describe(exc)
    return TemplateFailure(filename, line, kind, detail)

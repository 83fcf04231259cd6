"""The sandbox every template renders in: bounded, and quiet about what it computed.

A registry's template overrides come from whoever wrote the pull request, and CI renders
them (rule M001) before anyone has read them. Jinja's immutable sandbox already keeps
them away from Python internals; this module adds what it leaves open:

- where templates come from: only regular `*.j2` files listed inside the override
  folder, then kpictl's own templates; never a symlink, never another file
  (templating/overrides.py);
- how much a render may do (templating/limits.py): loop iterations and calls are
  counted, strings, lists, numbers and the output have size limits, what a render
  builds in all is counted, and a render and a run have a clock, so no template hangs
  or fills the memory;
- what a template may reach: the sandbox's rules, and no method of a pydantic model;
- what may be compiled: a template nested too deeply for Jinja's parser is a syntax
  error, not a crash;
- what an error says: the template file, the line and the kind of error, never a
  value the template computed (it might be a file's content or a secret).
"""

from __future__ import annotations

import datetime
import re
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, cast

from jinja2 import Template, TemplateNotFound
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.exceptions import (
    SecurityError,
    TemplateError,
    TemplateRuntimeError,
    TemplateSyntaxError,
    UndefinedError,
)
from jinja2.nodes import Compare, Concat, EvalContext, For, Getitem, Node, Slice, TemplateData
from jinja2.runtime import LoopContext, Macro, StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import object_type_repr, pass_eval_context
from pydantic import BaseModel

from kpictl.display import clean
from kpictl.errors import KpictlError
from kpictl.templating import limits
from kpictl.templating.escaping import html_text
from kpictl.templating.limits import (
    CALL_STEPS,
    MAX_WIDTH,
    METER,
    STR_AMPLIFIERS,
    CountedRange,
    Masked,
    Meter,
    TemplateLimitError,
    check_amplifier,
    check_format,
    check_join,
    check_power,
    check_printf,
    check_product,
    check_size,
    check_sum,
    checked_filter,
    cost_of,
    counting,
    current_meter,
    int_args,
    size_of,
    steps_of,
    stop_render,
    weight,
)
from kpictl.templating.overrides import OverrideRefused

# The longest Jinja syntax message quoted in a finding or error.
MAX_MESSAGE = 200


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
        token = METER.set(meter)
        try:
            if not meter.limited:
                return super().render(*args, **kwargs)
            parts = []
            size = 0
            # Chunk by chunk, to stop as soon as the output is too long.
            for chunk in self.generate(*args, **kwargs):
                size += len(chunk)
                if size > meter.max_output:
                    stop_render(f"output longer than {meter.max_output:,} characters")
                parts.append(chunk)
            return "".join(parts)
        except TemplateFailure:
            raise
        except _RENDER_ERRORS as exc:
            raise failure(exc) from None
        finally:
            METER.reset(token)
            env.spent += time.monotonic() - started


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, bounded by templating/limits.py, with errors that quote no value."""

    code_generator_class = _Generator
    template_class = BoundedTemplate
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, *args: Any, limited: bool = True, entities: int = 0, **kwargs: Any) -> None:
        """`limited`: apply the limits (the environment has overrides); `entities`: the
        registry's size, which legitimately makes renders longer."""
        super().__init__(*args, undefined=StrictUndefined, finalize=self._finalize, **kwargs)
        self.limited = limited
        # The pull request chooses the registry's size: the bonus stops growing.
        entities = min(entities, limits.MAX_BONUS_ENTITIES)
        self.max_steps = limits.MAX_STEPS + limits.STEPS_PER_ENTITY * entities
        self.max_output = limits.MAX_OUTPUT + limits.OUTPUT_PER_ENTITY * entities
        self.max_alloc = limits.MAX_ALLOC + limits.ALLOC_PER_ENTITY * entities
        self.max_seconds = _within(
            limits.MAX_SECONDS, limits.SECONDS_PER_ENTITY * entities, limits.CEILING_SECONDS
        )
        self.max_run_seconds = _within(
            limits.MAX_RUN_SECONDS,
            4 * limits.SECONDS_PER_ENTITY * entities,
            limits.CEILING_RUN_SECONDS,
        )
        self.spent = 0.0  # seconds all renders in this environment took so far
        self.globals["range"] = CountedRange
        # lipsum(n=10**9) writes paragraphs without end; nothing kpictl ships uses it.
        self.globals.pop("lipsum", None)
        self.add_filters(dict(self.filters))
        # select('in', s) runs the test once per item: each run counts.
        tests = cast("dict[str, Callable[..., Any]]", self.tests)  # Jinja types them loosely
        tests.update({n: checked_filter(n, f, test=True) for n, f in tests.items()})

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
        self.filters.update({n: checked_filter(n, f) for n, f in filters.items()})

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
        started = time.monotonic()
        try:
            if self.limited and isinstance(source, str):
                self._check_compile_budget(source, name, filename)
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
        finally:
            # Compiling is work the pull request chose too: the run's clock counts it.
            self.spent += time.monotonic() - started

    def _check_compile_budget(self, source: str, name: str | None, filename: str | None) -> None:
        """Refuse to compile an override with too many tokens, or once the run's time is spent.

        Jinja's parser and compiler take far more time and memory than the source's size
        and are not metered: counting the lexer's tokens first is cheap.
        """
        if self.spent > self.max_run_seconds:
            raise TemplateSyntaxError(
                f"not compiled: more than {self.max_run_seconds:.3g} s spent on templates "
                "in one run",
                1,
                name,
                filename,
            )
        for count, (line, _, _) in enumerate(self.lex(source, name, filename), 1):
            if count > limits.MAX_TOKENS:
                raise TemplateSyntaxError(
                    f"the template has more than {limits.MAX_TOKENS:,} tokens "
                    "(tags, names, operators, text): split it up or use macros",
                    line,
                    name,
                    filename,
                )

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
        meter = current_meter()
        if not meter.limited:
            return iterable  # type: ignore[no-any-return]
        return counting(iterable, meter, 1 + literal // 64, literal)

    def charged(self, value: Any) -> Any:
        """A compared value, its length charged (see _Generator.visit)."""
        meter = current_meter()
        if meter.limited:
            meter.tick(cost_of(value))
        return value

    def sliced(self, value: Any) -> Any:
        """A slice, a copy: its length charged, and the memory it took (see _Generator.visit)."""
        meter = current_meter()
        if meter.limited:
            meter.tick(cost_of(value))
            meter.allocate(value)
        return value

    def joined(self, join: Callable[[Any], str], parts: tuple[Any, ...]) -> str:
        """`a ~ b ~ c`, refused before it is made when the result would be too long."""
        meter = current_meter()
        if meter.limited:
            size = sum(len(p) if isinstance(p, str) else weight(p) for p in parts)
            check_size(size, "a joined string")
            meter.tick(1 + steps_of(parts), size)
            meter.allocate_size(size)
        return join(parts)

    @pass_eval_context
    def _finalize(self, eval_ctx: EvalContext, value: Any) -> Any:
        # Every {{ value }}: count it, and refuse a structure too large to print.
        meter = current_meter()
        if meter.limited:
            if isinstance(value, str):
                # Already made, and output (a macro's whole table): the output limit's.
                size = len(value)
            else:
                size = weight(value)
                check_size(size, "a printed value")
            meter.tick(1 + steps_of(value), size)
        # An HTML page has no filter of ours on each value (autoescape does the
        # escaping), so the control characters go here, for every template that escapes.
        return html_text(value) if eval_ctx.autoescape else value

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        meter = current_meter()
        if not meter.limited:
            return super().call_binop(context, operator, left, right)
        meter.tick(1)
        if operator == "**":
            check_power(left, right)
        elif operator == "*":
            check_product(left, right)
        elif operator == "+":
            check_sum(left, right)
        elif operator == "%" and isinstance(left, str):
            check_printf(left, right)
        result = super().call_binop(context, operator, left, right)
        meter.tick(cost_of(result))  # `s * 2` in a loop copies a long string each time
        meter.allocate(result)
        return result

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        meter = current_meter()
        if meter.limited:
            args = _checked_call(meter, __obj, args, kwargs)
        try:
            result = super().call(__context, __obj, *args, **kwargs)
        except SecurityError:
            # Jinja's message quotes the callable's repr, which can hold a value.
            raise SecurityError("a call the sandbox does not allow") from None
        if meter.limited:
            meter.tick(cost_of(result))
            if isinstance(__obj, Macro | LoopContext):
                # Template output (a whole table of the map), bounded like the rest of it.
                meter.allocate_size(size_of(result))
            else:
                meter.allocate(result)
        return result

    def getitem(self, obj: Any, argument: Any) -> Any:
        value = super().getitem(obj, argument)
        if isinstance(value, StrictUndefined) and not isinstance(value, Masked):
            # x[key] with a computed key: the message must not quote the key.
            return Masked(hint=f"{object_type_repr(obj)} has no such key, index or attribute")
        return value

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        # The attribute may be a computed key (x[name]): name only the object's type.
        return Masked(
            hint=f"access to an unsafe attribute of {object_type_repr(obj)}",
            exc=SecurityError,
        )


def _within(base: float, bonus: float, ceiling: float) -> float:
    """`base` plus `bonus`, no more than `ceiling` (or `base`, when larger)."""
    return max(base, min(base + bonus, ceiling))


# Owners whose methods take large numbers legitimately: keys, dates and times.
_NUMBERS_WELCOME = (Mapping, datetime.date, datetime.time, datetime.timedelta)


def _check_method_numbers(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    # A method may build as much as a number says ((10).to_bytes(10 ** 9, 'big')).
    if any(n > MAX_WIDTH for n in int_args([*args, *kwargs.values()])):
        stop_render(f"{name or 'a method'}() with a number above {MAX_WIDTH:,}")


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
        meter.tick(CALL_STEPS + cost_of(args[0]))
        return (counting(args[0], meter, 1, 0), *args[1:])
    wrapped = getattr(obj, "__wrapped__", obj)  # the sandbox wraps str.format
    owner = getattr(wrapped, "__self__", None)  # `s` of s.split(): it goes through all of s
    name = getattr(wrapped, "__name__", "")
    meter.tick((CALL_STEPS if heavy else 1) + cost_of(owner) + sum(map(cost_of, args)))
    if isinstance(owner, str | bytes):
        if name in ("format", "format_map") and isinstance(owner, str):
            check_format(owner, args, kwargs)
        elif name == "join" and args:
            check_join(owner, args[0])
        elif name in STR_AMPLIFIERS:
            check_amplifier(name, owner, args, kwargs)
    elif owner is not None and not isinstance(owner, _NUMBERS_WELCOME):
        _check_method_numbers(name, args, kwargs)
    return args


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

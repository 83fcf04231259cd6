"""Template overrides against the sandbox's bounds, second round: memory counted across a
render, a clock per render and per run, and templates nested too deeply to compile.

The memory attacks run kpictl in a child process limited to 1 GB of address space: a
regression ends there as a MemoryError finding (a different message) instead of taking
the machine's memory.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import AS_OF
from tests.helpers import deadline
from tests.test_security_templates import ACTUALS, check_m001, checkout, override

GIGABYTE = 1 << 30
LIMIT = "TemplateLimitError: the template went past a limit: "
ESCALATION_FAILS = (
    "registry/tpl/email/escalation.txt.j2:2:1: M001 [error] email/escalation.txt.j2 fails "
    "with sample data: "
)
TOO_DEEP = (
    "TemplateSyntaxError: the template nests too deeply to compile (parentheses, brackets, "
    "blocks or attributes inside each other): split it up or use macros"
)


@pytest.fixture(autouse=True)
def _no_hang() -> Iterator[None]:
    with deadline(60):
        yield


def _one_gigabyte() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (GIGABYTE, GIGABYTE))


def kpictl_in_1gb(cwd: Path, *args: str) -> tuple[int, str, str]:
    """`kpictl ARGS` in a child process that cannot take more than 1 GB."""
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
    env["NO_COLOR"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "kpictl", *args],
        cwd=cwd,
        env=env,
        preexec_fn=_one_gigabyte,
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


# --------------------------------------------------------------------------------------
# 1. Memory: strings are capped at 2 M characters, and a render may build 20 M in all
# --------------------------------------------------------------------------------------

EMOJI = "\\U0001F600"


@pytest.mark.parametrize(
    ("source", "limit"),
    [
        # The tester's: 18 M emoji (72 MB), then 18 slices of it held in a tuple (1.4 GB).
        (f'{{% set a = ("{EMOJI}" * 6000000) * 3 %}}'
         "{% set t = (" + ", ".join(f"a[{i}:]" for i in range(1, 19)) + ") %}{{ t|length }}",
         "a repeated string or list of more than 2,000,000 characters or items"),
        # Under the string cap, but 59 slices of 600,000 emoji each: the render's budget
        # (20,000,000 plus 5,000 for each of the example's 72 entities).
        (f'{{% set a = "{EMOJI}" * 600000 %}}'
         "{% set t = (" + ", ".join(f"a[{i}:]" for i in range(1, 60)) + ") %}{{ t|length }}",
         "more than 20,360,000 characters and items built in one render (strings, lists "
         "and slices, counted as they are made)"),
        # A filter's results count too, even when each is dropped at once.
        ("{% set s = 'x' * 1000000 %}{% for i in range(100) %}{% set t = s|upper %}"
         "{% endfor %}",
         "more than 20,360,000 characters and items built in one render (strings, lists "
         "and slices, counted as they are made)"),
        ("{% set s = 'x' * 1000000 %}{% set t = [] %}{% for i in range(100) %}"
         "{% set t = t + [s ~ i] %}{% endfor %}",
         "more than 20,360,000 characters and items built in one render (strings, lists "
         "and slices, counted as they are made)"),
        # A method of a number builds as much as its argument says.
        ("{{ (10).to_bytes(10 ** 9, 'big')|length }}", "to_bytes() with a number above 10,000"),
    ],
)  # fmt: skip
def test_memory_is_bounded_per_render(tmp_path: Path, source: str, limit: str) -> None:
    root = checkout(tmp_path, "tpl")
    override(root, "email/escalation.txt.j2", f"Hi\n{source}\n")
    code, out, err = kpictl_in_1gb(
        root.parent, "check", "registry", "--as-of", AS_OF, "--select", "M001"
    )
    assert (code, out.splitlines()[0], err) == (1, ESCALATION_FAILS + LIMIT + limit, "")


@pytest.mark.parametrize(
    "call",
    [
        "drill.kpi.model_dump_json(indent=8000000)",
        "drill.kpi.model_dump()",
        "drill.kpi.json()",
        "drill.kpi.copy()",
        "drill.kpi.model_copy(update={'name': 'x'})",
    ],
)
def test_drill_template_cannot_call_model_methods(tmp_path: Path, call: str) -> None:
    root = checkout(tmp_path, "tpl")
    override(root, "drill/text.txt.j2", f"{{{{ {call}|length }}}}\n")
    result = kpictl_in_1gb(
        root.parent, "drill", "mql", "registry", "--deviation", "40", "--at", AS_OF
    )
    assert result == (
        2,
        "",
        "kpictl: template registry/tpl/drill/text.txt.j2:1 failed: SecurityError: "
        "a call the sandbox does not allow\n",
    )


def test_drill_template_still_reads_model_fields(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = checkout(tmp_path, "tpl")
    override(
        root,
        "drill/text.txt.j2",
        "{{ drill.kpi.id }} {{ drill.kpi.owners.primary }} {{ drill.steps|length }}\n",
    )
    result = run("drill", "mql", "registry", "--deviation", "40", "--at", AS_OF, cwd=root.parent)
    assert (result.code, result.out, result.err) == (0, "mql aisha-okafor 1\n", "")


# --------------------------------------------------------------------------------------
# 2. Time: slow filters are refused on long input; a render and a run have a clock
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["wordwrap(3)", "urlize", "title", "sort", "unique"])
def test_slow_filters_refuse_long_input(run, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    root = checkout(tmp_path, "tpl")
    source = f"{{% set s = 'a ' * 500000 %}}{{{{ (s|{name})|list|length }}}}"
    override(root, "email/escalation.txt.j2", f"Hi\n{source}\n")
    result = check_m001(run, root)
    assert (result.code, result.out.splitlines()[0]) == (
        1,
        ESCALATION_FAILS
        + LIMIT
        + f"the {name.split('(')[0]} filter on more than 200,000 characters or items",
    )


def test_slow_filters_are_charged_per_character(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # The tester's eight wordwraps, each under the input cap: about 1.6 M steps apiece.
    root = checkout(tmp_path, "tpl")
    source = "{% set s = 'a ' * 99000 %}" + "".join(
        f"{{{{ (s|wordwrap({3 + i}))|length }}}}" for i in range(80)
    )
    override(root, "email/escalation.txt.j2", f"Hi\n{source}\n")
    result = check_m001(run, root)
    assert (result.code, result.out.splitlines()[0]) == (
        1,
        ESCALATION_FAILS
        + LIMIT
        + "more than 5,360,000 steps (loop iterations and calls): a loop or a macro that "
        "does not end?",
    )


HANG = "{% for i in range(10**5) %}{% for j in range(10**5) %}{% endfor %}{% endfor %}"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Steps without end, so that only the clock stops a render; short times for the test."""
    from kpictl.templating import limits

    monkeypatch.setattr(limits, "MAX_STEPS", 10**15)
    monkeypatch.setattr(limits, "MAX_SECONDS", 0.5)
    monkeypatch.setattr(limits, "MAX_RUN_SECONDS", 0.8)
    monkeypatch.setattr(limits, "SECONDS_PER_ENTITY", 0.0)


@pytest.mark.usefixtures("clock")
def test_a_render_has_a_clock(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = checkout(tmp_path, "tpl")
    override(root, "email/escalation.txt.j2", f"Hi\n{HANG}\n")
    result = run("escalate", "registry", "-a", ACTUALS, "--as-of", AS_OF, cwd=root.parent)
    assert (result.code, result.out, result.err) == (
        2,
        "",
        "kpictl: template registry/tpl/email/escalation.txt.j2:2 failed: " + LIMIT
        + "more than 0.5 s rendering one template: a loop or a filter that takes too long?\n",
    )  # fmt: skip


@pytest.mark.usefixtures("clock")
def test_all_renders_of_a_run_share_a_clock(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = checkout(tmp_path, "tpl")
    for name in ("email/escalation.txt.j2", "email/outage.txt.j2", "email/recap.txt.j2"):
        override(root, name, f"Hi\n{HANG}\n")
    result = check_m001(run, root)
    assert (result.code, result.out.splitlines()[:3]) == (
        1,
        [
            ESCALATION_FAILS + LIMIT + "more than 0.5 s rendering one template: a loop or a "
            "filter that takes too long?",
            "registry/tpl/email/outage.txt.j2:2:1: M001 [error] email/outage.txt.j2 fails "
            "with sample data: " + LIMIT + "more than 0.8 s rendering templates in one run: "
            "a loop or a filter that takes too long?",
            # The run's time is spent: the last override is not even compiled.
            "registry/tpl/email/recap.txt.j2:1:1: M001 [error] email/recap.txt.j2 does not "
            "compile: TemplateSyntaxError: not compiled: more than 0.8 s spent on templates "
            "in one run",
        ],
    )


# --------------------------------------------------------------------------------------
# 3. A template nested too deeply for Jinja's parser is a finding, not a crash
# --------------------------------------------------------------------------------------

DEEP = [
    ("{{ " + "(" * 100 + "1" + ")" * 100 + " }}", 2),
    ("{{ " + "[" * 300 + "]" * 300 + " }}", 2),
    # Deep enough for Jinja's parser, within limits.MAX_TOKENS (20,000).
    ("{% if 1 %}" * 1000 + "{% endif %}" * 1000, 2),
    ("{{ a" + ".y" * 5000 + " }}", 2),
    ("{{ " + "+".join(["1"] * 5000) + " }}", 2),
    ("x\n\n{{ " + "(" * 100 + "1" + ")" * 100 + " }}", 4),
]


@pytest.mark.parametrize(("source", "line"), DEEP)
def test_too_deep_a_template_is_a_finding(run, tmp_path: Path, source: str, line: int) -> None:  # type: ignore[no-untyped-def]
    root = checkout(tmp_path, "tpl")
    override(root, "email/escalation.txt.j2", f"Hi\n{source}\n")
    result = check_m001(run, root)
    assert (result.code, result.out.splitlines()[0], result.err) == (
        1,
        f"registry/tpl/email/escalation.txt.j2:{line}:1: M001 [error] email/escalation.txt.j2 "
        f"does not compile: {TOO_DEEP}",
        "",
    )


@pytest.mark.parametrize(("source", "line"), DEEP[:1])
def test_too_deep_a_template_is_one_line_exit_2(  # type: ignore[no-untyped-def]
    run, tmp_path: Path, source: str, line: int
) -> None:
    root = checkout(tmp_path, "tpl")
    override(root, "email/escalation.txt.j2", f"Hi\n{source}\n")
    result = run("escalate", "registry", "-a", ACTUALS, "--as-of", AS_OF, cwd=root.parent)
    assert (result.code, result.out, result.err) == (
        2,
        "",
        f"kpictl: template registry/tpl/email/escalation.txt.j2:{line} failed: {TOO_DEEP}\n",
    )


def test_a_too_deep_partial_fails_the_template_including_it(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = checkout(tmp_path, "tpl")
    override(root, "email/_deep.txt.j2", "Hi\n{{ " + "(" * 100 + "1" + ")" * 100 + " }}\n")
    override(root, "email/escalation.txt.j2", 'Hi\n{% include "email/_deep.txt.j2" %}\n')
    result = run("escalate", "registry", "-a", ACTUALS, "--as-of", AS_OF, cwd=root.parent)
    assert (result.code, result.out, result.err) == (
        2,
        "",
        f"kpictl: template registry/tpl/email/_deep.txt.j2:2 failed: {TOO_DEEP}\n",
    )

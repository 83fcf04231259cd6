"""Template overrides, third round: what compiling costs, and budgets the pull request
cannot grow by adding entities.

- compiling is bounded: an override's size, its number of tokens, the number of
  overrides, and the run's clock, which now counts compile time too;
- the per-entity bonuses stop growing past limits.MAX_BONUS_ENTITIES, and the clocks
  stop at 5 s a render and 30 s a run;
- memory is charged by what a string takes: an emoji is four bytes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2.exceptions import TemplateSyntaxError

from kpictl.templating.overrides import list_overrides
from kpictl.templating.sandbox import BoundedSandbox, TemplateFailure
from tests.test_security_templates import check_m001, checkout, override

FAILS = "registry/tpl/email/escalation.txt.j2:1:1: M001 [error] email/escalation.txt.j2 "


def test_an_override_with_too_many_tokens_is_not_compiled(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # 7,000 `{{x}}` are 21,000 tokens in 35 KB: 190,000 took 11 s and 2 GB to compile.
    root = checkout(tmp_path, "tpl")
    override(root, "email/escalation.txt.j2", "{{x}}" * 7_000)
    result = check_m001(run, root)
    assert (result.code, result.out.splitlines()[0]) == (
        1,
        FAILS + "does not compile: TemplateSyntaxError: the template has more than 20,000 "
        "tokens (tags, names, operators, text): split it up or use macros",
    )


def test_an_override_over_200_kb_is_refused(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = checkout(tmp_path, "tpl")
    override(root, "email/escalation.txt.j2", "a" * 200_001)
    result = check_m001(run, root)
    assert (result.code, result.out.splitlines()[0]) == (
        1,
        FAILS + "does not compile: OverrideRefused: email/escalation.txt.j2 is larger than "
        "200,000 bytes",
    )


def test_at_most_100_overrides_are_read(tmp_path: Path) -> None:
    for i in range(101):
        (tmp_path / f"t{i:03}.j2").write_text("hi", encoding="utf-8")
    listing = list_overrides(tmp_path)
    assert (len(listing.templates), listing.refused) == (
        100,
        {"t100.j2": "is past the first 100 templates"},
    )


def test_compiling_counts_on_the_run_clock() -> None:
    env = BoundedSandbox(limited=True)
    env.from_string("hi")
    assert env.spent > 0
    env.spent = env.max_run_seconds + 1
    with pytest.raises(TemplateSyntaxError) as caught:
        env.from_string("hi")
    assert caught.value.message == "not compiled: more than 10 s spent on templates in one run"


def test_the_entity_bonus_stops_growing() -> None:
    # 50,000 glossary terms raised one render's budget to 252 s and the run's to 1,010 s.
    env = BoundedSandbox(limited=True, entities=50_000)
    assert (env.max_seconds, env.max_run_seconds, env.max_steps, env.max_alloc) == (
        5.0,
        30.0,
        30_000_000,
        45_000_000,
    )


def test_a_small_registry_keeps_its_budgets() -> None:
    env = BoundedSandbox(limited=True, entities=67)
    assert (env.max_seconds, env.max_run_seconds, env.max_steps) == (2.335, 11.34, 5_335_000)


def test_emoji_are_charged_four_bytes_each() -> None:
    # 1M emoji and five slices of them: 6M characters, but 24 MB, past the 20M budget.
    slices = ", ".join(f"a[{i}:]" for i in range(1, 6))
    source = '{% set a = "\U0001f600" * 1000000 %}{% set t = (' + slices + ") %}{{ t|length }}"
    env = BoundedSandbox(limited=True)
    with pytest.raises(TemplateFailure) as caught:
        env.from_string(source).render()
    assert (caught.value.kind, caught.value.detail) == (
        "TemplateLimitError",
        "the template went past a limit: more than 20,000,000 characters and items built in "
        "one render (strings, lists and slices, counted as they are made)",
    )

"""A001-A005: an experiment decides something only if it was written down to.

Seed 001's practice: the hypothesis, the control and the decision rule are fixed
before the test runs, and the result is recorded once it is over, so that nobody
argues the outcome afterwards. A planned experiment may still hold placeholders;
from `running` on, the control and the decision rule must say something.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from kpictl.check.findings import Finding
from kpictl.check.rules.base import Context, at, at_key
from kpictl.registry.models import Experiment

DECIDING = ("running", "concluded")
# What people write before they know: the schema requires the field, so a running
# test without a control still "has" one. Compared without case, spaces or the
# punctuation around them.
PLACEHOLDERS = frozenset(
    {
        "",
        "tbd",
        "tba",
        "tbc",
        "todo",
        "to do",
        "to be decided",
        "to be defined",
        "to be determined",
        "n/a",
        "na",
        "none",
        "null",
        "unknown",
        "xxx",
        "fill in",
        "fixme",
    }
)
_EDGES = re.compile(r"^[\W_]+|[\W_]+$")


def placeholder(text: str) -> bool:
    """Whether `text` says nothing yet: blank, `TBD`, `todo`, `-`, `...`, `n/a` and the like."""
    words = " ".join(text.split()).casefold()
    return _EDGES.sub("", words) in PLACEHOLDERS


def _missing(ctx: Context, code: str, field: str, label: str, fix: str) -> Iterator[Finding]:
    for experiment in ctx.registry.of_kind(Experiment):
        if experiment.status in DECIDING and placeholder(getattr(experiment, field)):
            yield at(
                ctx,
                code,
                experiment.id,
                (field,),
                f"the experiment is {experiment.status} but its {label} is "
                f"{'blank' if not getattr(experiment, field).strip() else 'a placeholder'}: "
                f"{fix}",
            )


def experiment_without_control(ctx: Context) -> Iterator[Finding]:
    yield from _missing(
        ctx,
        "A001",
        "control",
        "control",
        "say what the test is compared with (the group or period left as it was)",
    )


def experiment_without_decision_rule(ctx: Context) -> Iterator[Finding]:
    yield from _missing(
        ctx,
        "A002",
        "decision_rule",
        "decision rule",
        "write down, before the result is in, what result means adopt and what means reject",
    )


def concluded_without_result(ctx: Context) -> Iterator[Finding]:
    for experiment in ctx.registry.of_kind(Experiment):
        if experiment.status == "concluded" and experiment.result is None:
            yield at(
                ctx,
                "A003",
                experiment.id,
                (),
                "the experiment is concluded but has no result: add result with value, "
                "decision (adopt, reject or inconclusive) and learnings",
            )


def result_before_end(ctx: Context) -> Iterator[Finding]:
    for experiment in ctx.registry.of_kind(Experiment):
        if experiment.result is None:
            continue
        end = experiment.timeline.end
        if experiment.status in ("planned", "running"):
            yield at_key(
                ctx,
                "A004",
                experiment.id,
                ("result",),
                f"a result is recorded but the experiment is still {experiment.status}: "
                "set status: concluded when the test is over, or remove the result",
            )
        elif experiment.status == "concluded" and end is not None and end > ctx.today:
            yield at(
                ctx,
                "A004",
                experiment.id,
                ("timeline", "end"),
                f"the experiment is concluded with a result, but its timeline runs until "
                f"{end}: a result read before the end decides on part of the data; set "
                "timeline.end to the day the test stopped",
            )


def experiment_ends_before_start(ctx: Context) -> Iterator[Finding]:
    for experiment in ctx.registry.of_kind(Experiment):
        timeline = experiment.timeline
        if timeline.end is not None and timeline.end < timeline.start:
            yield at(
                ctx,
                "A005",
                experiment.id,
                ("timeline", "end"),
                f"the experiment ends ({timeline.end}) before it starts ({timeline.start})",
            )


RULES = {
    "A001": experiment_without_control,
    "A002": experiment_without_decision_rule,
    "A003": concluded_without_result,
    "A004": result_before_end,
    "A005": experiment_ends_before_start,
}

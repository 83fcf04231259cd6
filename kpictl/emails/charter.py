"""What a charter decides, as templates see it: budget and cost per result, per-team
commitments, the recap's bottom line, decisions and next steps, the decision a readout
asks for, and the requests only the campaign's driver can answer.

Like kpictl.emails.context, every value arrives as ready-to-print text. Sentences that
mix several values (the bottom line) are built here rather than in a template: the same
words go into the subject, the text and the HTML, and a template macro would not escape
them in the HTML part (a macro escapes by the file it is defined in).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from kpictl import display
from kpictl.emails.people import person_view
from kpictl.numbers.actuals import Actuals
from kpictl.numbers.evaluate import (
    CharterResult,
    Progress,
    campaign_period,
    campaign_results,
    firing_tier,
)
from kpictl.registry.models import Campaign, EscalationPolicy, Kpi
from kpictl.registry.registry import Registry
from kpictl.registry.resolve import people

View = dict[str, Any]


def _kpi_name(registry: Registry, kpi_id: str) -> str:
    kpi = registry.get(kpi_id)
    return display.clean(kpi.name) if isinstance(kpi, Kpi) else kpi_id


def _team_name(registry: Registry, team_id: str) -> str:
    team = registry.team(team_id)
    return display.clean(team.name) if team is not None else team_id


def _target(registry: Registry, kpi_id: str, value: float | None) -> str | None:
    kpi = registry.get(kpi_id)
    if value is None:
        return None
    return display.number(value, kpi) if isinstance(kpi, Kpi) else display.written(value, True)


def _goal(registry: Registry, kpi_id: str, value: float | None) -> str | None:
    """The committed number as said: `160`, or `at most EUR 2,600` for a KPI to keep down."""
    shown = _target(registry, kpi_id, value)
    kpi = registry.get(kpi_id)
    if shown is not None and isinstance(kpi, Kpi) and kpi.direction == "decrease":
        return f"at most {shown}"
    return shown


def charter_extras(registry: Registry, campaign: Campaign) -> View:
    """The optional charter fields: budget, segments, channels, commitments, decisions."""
    budget = campaign.budget
    retro = campaign.retrospective
    return {
        "budget": display.money(budget.amount, budget.currency) if budget else None,
        "segments": [text.strip() for text in campaign.segments],
        "channels": [text.strip() for text in campaign.channels],
        "commitments": [
            {
                "team": _team_name(registry, item.team),
                "kpi": _kpi_name(registry, item.kpi),
                "target": _target(registry, item.kpi, item.target),
                "goal": _goal(registry, item.kpi, item.target),
                "rationale": item.rationale.strip() if item.rationale else None,
            }
            for item in campaign.commitments
        ],
        "decisions": [text.strip() for text in retro.decisions] if retro else [],
        "next_steps": next_steps_view(registry, campaign),
    }


def next_steps_view(registry: Registry, campaign: Campaign) -> list[View]:
    retro = campaign.retrospective
    steps = retro.next_steps if retro else []
    return [
        {
            "action": step.action.strip(),
            "owner": person_view(registry.person(step.owner)) if step.owner else None,
            "due": display.day(step.due) if step.due else None,
        }
        for step in steps
    ]


def verdict(result: CharterResult, final: bool) -> str:
    """`hit` / `missed` once the campaign is over, `on pace` / `behind pace` while it runs."""
    if result.progress is Progress.NO_TARGET:
        return "no target"
    if result.progress is Progress.NO_VALUE:
        return "not reported"
    behind = result.progress is Progress.BEHIND
    if final:
        return "missed" if behind else "hit"
    return "behind pace" if behind else "on pace"


def bottom_line(result: CharterResult, campaign: Campaign, final: bool) -> View:
    """The primary KPI's verdict: one sentence for the body, a short one for the subject."""
    kpi = result.kpi
    name = display.clean(kpi.name)
    said = verdict(result, final)
    fmt = display.number
    actual = fmt(result.actual.value, kpi) if result.actual else None
    target = fmt(result.target, kpi) if result.target is not None else None
    expected = fmt(result.target_to_date, kpi) if result.target_to_date is not None else None
    dev = display.percent(result.deviation_pct) if result.deviation_pct else None
    increase = kpi.direction == "increase"
    end = display.day(campaign.timeline.end)
    if said == "no target":
        text = f"{name}: {actual or 'no value reported'}, with no target in the charter."
        short = f"{name}: no target"
    elif said == "not reported":
        text = f"{name}: no result has been reported for the campaign yet."
        short = f"{name}: not reported yet"
    elif final:
        assert actual is not None and result.actual is not None and result.target is not None
        short = f"{name} {said}: {actual} vs {target} target"
        if said == "hit":
            ahead = f" ({dev} {'ahead of' if increase else 'below'} target)" if dev else ""
            text = f"{name}: target hit, {actual} against {target}{ahead}."
        else:
            gap = fmt(abs(result.actual.value - result.target), kpi)
            word = "short" if increase else "over"
            worse = "behind" if increase else "above"
            by = f"{dev} {worse} target, " if dev else ""
            text = f"{name}: target missed, {actual} against {target} ({by}{gap} {word})."
    elif kpi.pacing == "linear":
        short = f"{name} {said}: {actual} vs {expected} expected by now"
        how = f"{dev} behind; " if said == "behind pace" and dev else ""
        text = (
            f"{name}: {said}, {actual} so far against {expected} expected by now "
            f"({how}target {target} by {end})."
        )
    else:
        short = f"{name} {said}: {actual} vs {target} target"
        how = (
            f" ({dev} {'behind' if increase else 'above'} target)"
            if said == "behind pace" and dev
            else ""
        )
        text = f"{name}: {said}, {actual} against a target of {target}{how}."
    return {"kpi": name, "verdict": said, "text": text, "short": short}


def cost_per_result(campaign: Campaign, result: CharterResult, final: bool) -> View | None:
    """Budget over the primary KPI's result, for a count or money KPI with a value.

    While the campaign runs, only part of the result is in but the budget is the whole
    plan's: the figure then uses the result projected at the pace so far (linear KPIs),
    and says so. A money KPI in another currency than the budget is not compared.
    """
    budget = campaign.budget
    kpi = result.kpi
    if budget is None or result.actual is None or kpi.unit not in ("count", "currency"):
        return None
    produced = result.actual.value
    projected = False
    if not final:
        share = campaign_period(campaign).elapsed_share(result.actual.as_of)
        if kpi.pacing != "linear" or share <= 0:
            return None
        produced, projected = produced / share, True
    if produced <= 0:
        return None
    currency = budget.currency
    name = display.clean(kpi.name)
    spent = display.money(budget.amount, currency)
    # A projection is an estimate: three significant digits, as escalations show them.
    shown = float(f"{produced:.3g}") if projected and produced >= 1000 else produced
    made = "a projected " if projected else ""
    if kpi.unit == "count":
        per = display.money(budget.amount / produced, currency)
        text = f"{per} ({spent} budget for {made}{display.amount(shown)} {name})"
    else:
        kpi_currency = kpi.currency or kpi.labels.get("currency")
        if kpi_currency and kpi_currency != currency:
            return None
        per = display.money(budget.amount / produced, currency)
        back = display.money(produced / budget.amount, currency)
        one = f"{display.clean(currency)} 1"
        text = (
            f"{per} per {one} of {name} ({spent} budget for {made}"
            f"{display.money(shown, currency)}: {back} per {one} spent)"
        )
    if projected:
        text = f"{text}, at the pace so far"
    return {"per": per, "budget": spent, "projected": projected, "text": text}


def commitment_results(
    registry: Registry, campaign: Campaign, actuals: Actuals | None, day: date, final: bool
) -> list[View]:
    """Each team's commitment with its KPI's campaign result, paced as the charter's are."""
    views = []
    for item in campaign.commitments:
        measured = (
            campaign_results(
                registry, campaign, [("commitment", item.kpi, item.target)], actuals, day, final
            )
            if actuals is not None
            else []
        )
        result = measured[0] if measured else None
        kpi = result.kpi if result else None
        views.append(
            {
                "team": _team_name(registry, item.team),
                "kpi": _kpi_name(registry, item.kpi),
                "target": _target(registry, item.kpi, item.target),
                "actual": (
                    display.number(result.actual.value, kpi)
                    if result and kpi and result.actual
                    else None
                ),
                "expected": (
                    display.number(result.target_to_date, kpi)
                    if result and kpi and result.target_to_date is not None and not final
                    else None
                ),
                "verdict": verdict(result, final) if result else "not reported",
            }
        )
    return views


def decisions_needed(
    registry: Registry, campaign: Campaign, results: list[CharterResult]
) -> list[View]:
    """For each KPI behind pace, the decision its escalation policy asks for at this gap.

    The campaign's own shortfall is set against the tiers of the KPI's policy: the tier it
    reaches names who approves and which actions are on the table. A gap below the first
    tier needs no decision yet (the driver's plan is enough).
    """
    out = []
    for result in results:
        if result.progress is not Progress.BEHIND:
            continue
        kpi = result.kpi
        policy = registry.get(kpi.escalation)
        if not isinstance(policy, EscalationPolicy):
            continue
        tier = firing_tier(policy, result.deviation_pct, worse=True)
        if tier is None:
            continue
        approvers = people(registry, [tier.approver], kpi) if tier.approver else []
        who = [view for view in map(person_view, approvers) if view is not None]
        names = " and ".join(view["name"] for view in who) or "the approver"
        actions = [action.strip() for action in tier.actions]
        dev = display.percent(result.deviation_pct or 0)
        what = "; ".join(actions) if actions else "how to close the gap"
        verb = "decides" if len(who) == 1 else "decide"
        out.append(
            {
                "kpi": display.clean(kpi.name),
                "deviation": dev,
                "tier": {
                    "level": tier.level,
                    "name": display.clean(tier.name),
                    "threshold": display.percent(tier.deviation_pct),
                },
                "policy": display.clean(policy.name),
                "approvers": who,
                "actions": actions,
                "text": (
                    f"{display.clean(kpi.name)} is {dev} behind pace, past the "
                    f"{display.percent(tier.deviation_pct)} at which {display.clean(policy.name)} "
                    f"calls for tier {tier.level} ({display.clean(tier.name)}): {names} "
                    f"{verb}; on the table: {what}."
                ),
            }
        )
    return out


def driver_requests(
    campaign: Campaign, results: list[CharterResult], commitments: list[View], final: bool
) -> list[str]:
    """What the recap could not say because only the driver can fill it in.

    These go to the driver in their own email rather than into the executives' recap:
    a recap asks leadership for decisions, not the campaign lead for homework.
    """
    asks: list[str] = []
    retro = campaign.retrospective
    charter = f"the charter '{campaign.id}'"
    if final and retro is None:
        asks.append(
            f"Write the retrospective in {charter}: why the results came out as they did, "
            "what worked, what did not, what you recommend, the decisions leadership must "
            "take and the next steps."
        )
    elif final and retro is not None:
        missing = [
            label
            for label, empty in (
                ("why (why the results came out as they did)", not retro.why),
                ("worked", not retro.worked),
                ("did_not_work", not retro.did_not_work),
                ("recommendations", not retro.recommendations),
                ("decisions (what leadership must decide, if anything)", not retro.decisions),
                ("next_steps", not retro.next_steps),
            )
            if empty
        ]
        if missing:
            asks.append(f"Fill in the retrospective in {charter}: {', '.join(missing)}.")
    for i, step in enumerate(retro.next_steps if retro else []):
        lacks = [
            word
            for word, empty in (("an owner", not step.owner), ("a due date", not step.due))
            if empty
        ]
        if lacks:
            asks.append(
                f"Give the next step '{display.clean(step.action)}' {' and '.join(lacks)} "
                f"(retrospective.next_steps[{i}])."
            )
    asked: set[str] = set()
    for result in results:
        if result.progress is Progress.NO_VALUE:
            name = display.clean(result.kpi.name)
            asked.add(name)
            asks.append(
                f"Report the campaign's {name}: add a row "
                f'"{result.kpi.id},{campaign.id},VALUE,YYYY-MM-DD" to the actuals.'
            )
    for item in commitments:
        if item["actual"] is None and item["target"] is not None and item["kpi"] not in asked:
            asked.add(item["kpi"])
            asks.append(
                f"Report the campaign's {item['kpi']}, so {item['team']}'s commitment "
                f"({item['target']}) can be measured."
            )
    return asks

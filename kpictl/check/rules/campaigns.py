"""C001-C004, C007: a campaign charter is signed before work starts and reads consistently."""

from __future__ import annotations

from collections.abc import Iterator

from kpictl.check.findings import Finding
from kpictl.check.rules.base import Context, at, who
from kpictl.registry.models import Campaign, Kpi
from kpictl.registry.registry import Registry
from kpictl.registry.resolve import lead

SIGNED_STATUSES = ("approved", "active", "complete")


def approver_signed(registry: Registry, campaign: Campaign) -> bool:
    """Whether the DACI approver (or, for a team, its lead) signed the charter.

    Rule C001 and the kickoff command both ask this; here is their one answer.
    """
    approver = campaign.daci.approver
    accepted = {approver}
    team_lead = lead(registry, approver)
    if team_lead is not None:
        accepted.add(team_lead.id)
    return any(sign.by in accepted for sign in campaign.sign_off)


def charter_unsigned(ctx: Context) -> Iterator[Finding]:
    for campaign in ctx.registry.of_kind(Campaign):
        if campaign.status in SIGNED_STATUSES and not approver_signed(ctx.registry, campaign):
            yield at(
                ctx,
                "C001",
                campaign.id,
                ("sign_off",),
                f"the campaign is {campaign.status} but its approver "
                f"{who(ctx, campaign.daci.approver)} has not signed it off: add "
                f"sign_off: [{{by: {campaign.daci.approver}, date: YYYY-MM-DD}}] "
                "or set status: draft",
            )


def readout_outside_timeline(ctx: Context) -> Iterator[Finding]:
    for campaign in ctx.registry.of_kind(Campaign):
        timeline = campaign.timeline
        if timeline.end < timeline.start:
            yield at(
                ctx,
                "C002",
                campaign.id,
                ("timeline", "end"),
                f"the campaign ends ({timeline.end}) before it starts ({timeline.start})",
            )
            continue
        explicit = "readouts" in ctx.registry.records[campaign.id].document.data.get("timeline", {})
        for i, days in enumerate(timeline.readouts):
            when = timeline.readout_date(days)
            if when > timeline.end:
                path = ("timeline", "readouts", i) if explicit else ("timeline",)
                fix = (
                    "use a day within the timeline"
                    if explicit
                    else "the default readouts are 30, 60 and 90 days; set timeline.readouts "
                    "to days within the timeline"
                )
                yield at(
                    ctx,
                    "C002",
                    campaign.id,
                    path,
                    f"the {days}-day readout falls on {when}, after the campaign ends on "
                    f"{timeline.end}: {fix}",
                )


def complete_without_retrospective(ctx: Context) -> Iterator[Finding]:
    for campaign in ctx.registry.of_kind(Campaign):
        if campaign.status == "complete" and campaign.retrospective is None:
            yield at(
                ctx,
                "C003",
                campaign.id,
                ("status",),
                "the campaign is complete but has no retrospective: add why, worked, "
                "did_not_work and recommendations so the recap can tell the story",
            )


def kpi_twice_in_charter(ctx: Context) -> Iterator[Finding]:
    for campaign in ctx.registry.of_kind(Campaign):
        seen: dict[str, int] = {campaign.primary_kpi.kpi: -1}  # -1: the primary KPI
        for i, item in enumerate(campaign.secondary_kpis):
            first = seen.setdefault(item.kpi, i)
            if first == i:
                continue
            message = (
                f"'{item.kpi}' is the primary KPI and also a secondary one: list it once"
                if first == -1
                else f"'{item.kpi}' is listed twice, as secondary_kpis[{first}] and here: "
                "list it once"
            )
            yield at(ctx, "C004", campaign.id, ("secondary_kpis", i, "kpi"), message)


def commitment_outside_charter(ctx: Context) -> Iterator[Finding]:
    for campaign in ctx.registry.of_kind(Campaign):
        charter = [campaign.primary_kpi.kpi, *(item.kpi for item in campaign.secondary_kpis)]
        for i, commitment in enumerate(campaign.commitments):
            if commitment.kpi in charter or commitment.rationale:
                continue
            if not isinstance(ctx.registry.get(commitment.kpi), Kpi):
                continue  # R002 says the reference is wrong; one finding is enough
            yield at(
                ctx,
                "C007",
                campaign.id,
                ("commitments", i, "kpi"),
                f"team {commitment.team} commits to '{commitment.kpi}', which is not one of "
                f"the charter's KPIs ({', '.join(charter)}): commit to one of them, add it "
                "to secondary_kpis, or say why in the commitment's rationale",
            )


RULES = {
    "C001": charter_unsigned,
    "C002": readout_outside_timeline,
    "C003": complete_without_retrospective,
    "C004": kpi_twice_in_charter,
    "C007": commitment_outside_charter,
}

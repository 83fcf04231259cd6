"""C005-C006: the charter is signed before work starts, and work does not start unsigned.

Seed 003: get the approver's sign-off on context, objective and KPIs *before* execution,
so nobody has committed to an event or an ad buy the approver never agreed to. Both
rules are warnings: a late signature is history that cannot be rewritten, and a
registry that was valid before these rules existed must not start failing CI.
"""

from __future__ import annotations

from collections.abc import Iterator

from kpictl.check.findings import Finding
from kpictl.check.rules.base import Context, at, who
from kpictl.registry.models import Campaign

# Statuses in which nobody has started the work yet (or says so).
NOT_STARTED = ("draft", "approved")


def signoff_after_start(ctx: Context) -> Iterator[Finding]:
    for campaign in ctx.registry.of_kind(Campaign):
        start = campaign.timeline.start
        for i, sign in enumerate(campaign.sign_off):
            if sign.date > start:
                yield at(
                    ctx,
                    "C005",
                    campaign.id,
                    ("sign_off", i, "date"),
                    f"{who(ctx, sign.by)} signed off on {sign.date}, after the campaign "
                    f"started on {start}: sign-off comes before work starts; correct the "
                    "date if it is wrong, else agree the charter earlier next time",
                )


def start_passed_unsigned(ctx: Context) -> Iterator[Finding]:
    today = ctx.today
    for campaign in ctx.registry.of_kind(Campaign):
        start = campaign.timeline.start
        if campaign.status not in NOT_STARTED or start > today:
            continue
        if campaign.status == "draft":
            fix = (
                f"is still a draft although it was due to start on {start}: get "
                f"{who(ctx, campaign.daci.approver)} to sign it off and set status: active, "
                "move timeline.start, or set status: cancelled"
            )
        else:
            fix = (
                f"is approved but not active although it was due to start on {start}: "
                "set status: active (and send the kickoff), or move timeline.start"
            )
        yield at(ctx, "C006", campaign.id, ("status",), f"the campaign {fix}")


RULES = {"C005": signoff_after_start, "C006": start_passed_unsigned}

"""`kpictl calendar`: the governance cadence as calendar events people import.

Four rituals keep KPI ownership alive between quarterly reports, and one more
closes every campaign:

- a weekly data health check per KPI owner (one event listing the KPIs they
  own, where the owner confirms the data is fresh and right, or raises it);
- the monthly performance review (trends, attribution, channel mix) with every
  KPI owner;
- the quarterly signal review, where the owners of business-facing KPIs, the
  leads of the marketing, sales and finance teams and the executive team align;
- each campaign's readouts (days 30, 60 and 90 after its start, or as its
  charter says) and its retrospective a week after it ends, with its DACI.

The registry holds who and what, not when people meet, so the times are fixed
slots (below), in the registry's time zone. Recurring rituals are one event each
with an RRULE that runs to the end of the window; campaign milestones are
single events, moved to the Monday after when they fall on a weekend. Every event
has a UID derived from the organization, the ritual and the ids involved, so
importing a newer file updates the events instead of duplicating them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parseaddr
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from kpictl.display import plural, written
from kpictl.registry.bounds import add_days
from kpictl.registry.models import Campaign, Kpi, Person
from kpictl.registry.registry import Registry
from kpictl.registry.resolve import acting_owner, resolve
from kpictl.templating.escaping import multiline, oneline

if TYPE_CHECKING:
    from icalendar import Timezone

# When each ritual happens (local time in the registry's zone) and for how long.
HEALTH_CHECK = (time(9, 30), timedelta(minutes=30))  # Mondays
PERFORMANCE_REVIEW = (time(10, 0), timedelta(hours=1))  # first Tuesday of the month
SIGNAL_REVIEW = (time(14, 0), timedelta(minutes=90))  # 2nd Wednesday, 1st month of the quarter
READOUT = (time(15, 0), timedelta(minutes=45))
RETROSPECTIVE = (time(14, 0), timedelta(hours=1))
RETROSPECTIVE_AFTER_END = 7  # days
DEFAULT_WINDOW = timedelta(days=90)
# A window is a planning horizon: ten years is plenty, and it keeps the file (one
# time zone change per half year) and the time it takes small. The years keep every
# date arithmetic, the day either side included, inside what datetime holds.
LONGEST_WINDOW = timedelta(days=3653)
EARLIEST = date(1900, 1, 1)
LATEST = date(9998, 12, 31)

EventKind = Literal[
    "health-check", "performance-review", "signal-review", "readout", "retrospective"
]


@dataclass(frozen=True, slots=True)
class Attendee:
    id: str
    name: str
    email: str
    required: bool = True


@dataclass(slots=True)
class CadenceEvent:
    uid: str
    kind: EventKind
    summary: str
    description: str
    start: datetime
    end: datetime
    attendees: list[Attendee] = field(default_factory=list)
    organizer: Attendee | None = None
    rrule: dict[str, object] | None = None
    tentative: bool = False


def slug(text: str) -> str:
    """`text` as a lowercase slug (for UIDs and example e-mail domains)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "registry"


def _at(day: date, slot: tuple[time, timedelta], zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, slot[0], zone)
    end = (start.astimezone(UTC) + slot[1]).astimezone(zone)
    return start, end


def _weekday_on_or_after(day: date, weekday: int) -> date:
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def _nth_weekday(year: int, month: int, weekday: int, nth: int) -> date:
    return _weekday_on_or_after(date(year, month, 1), weekday) + timedelta(weeks=nth - 1)


def _next_month(year: int, month: int, step: int = 1) -> tuple[int, int]:
    index = year * 12 + month - 1 + step
    return index // 12, index % 12 + 1


def _monthly_first(start: date, months: Iterable[int], weekday: int, nth: int) -> date:
    """The first `nth` `weekday` on or after `start` in one of `months`."""
    wanted = set(months)
    year, month = start.year, start.month
    for _ in range(25):
        if month in wanted:
            day = _nth_weekday(year, month, weekday, nth)
            if day >= start:
                return day
        year, month = _next_month(year, month)
    raise AssertionError("no month found")  # pragma: no cover


def _weekday_after(day: date) -> tuple[date, bool]:
    """`day`, or the Monday after it when it falls on a weekend (and whether it moved)."""
    if day.weekday() >= 5:
        return add_days(day, 7 - day.weekday()), True
    return day, False


class Cadence:
    """Builds the events of one registry for a window of dates."""

    def __init__(self, registry: Registry, first: date, last: date) -> None:
        self.registry = registry
        self.first = first
        self.last = last
        self.zone = ZoneInfo(registry.settings.timezone)
        self.org = registry.settings.organization or registry.root.resolve().name
        self.domain = f"{slug(self.org)}.kpictl"
        # RRULE UNTIL is the end of the window's last day, in UTC as RFC 5545 requires.
        self.until = datetime.combine(last, time(23, 59, 59), self.zone).astimezone(UTC)

    # People ---------------------------------------------------------------------------

    def attendee(self, person: Person | None, required: bool = True) -> Attendee | None:
        if person is None or not person.active:
            return None
        return Attendee(person.id, person.name, person.email, required)

    def people(self, refs: Iterable[str], required: bool) -> list[Attendee]:
        out = []
        for ref in refs:
            for person in resolve(self.registry, ref).people:
                found = self.attendee(person, required)
                if found is not None:
                    out.append(found)
        return out

    @staticmethod
    def merge(*groups: Iterable[Attendee | None]) -> list[Attendee]:
        """Attendees in order, each once; required wins over optional."""
        found: dict[str, Attendee] = {}
        for group in groups:
            for attendee in group:
                if attendee is None:
                    continue
                known = found.get(attendee.id)
                if known is None or (attendee.required and not known.required):
                    found[attendee.id] = attendee
        return list(found.values())

    def desk(self) -> Attendee | None:
        """The sender of kpictl's emails, as organizer of the registry-wide rituals."""
        email = self.registry.settings.email
        if email is None:
            return None
        name, address = parseaddr(email.from_)
        if not address:
            return None
        return Attendee("kpi-desk", name or address, address)

    def active_kpis(self) -> list[Kpi]:
        return sorted(self.registry.kpis, key=lambda kpi: kpi.id)

    def steward(self, kpi: Kpi) -> Person | None:
        """Who checks a KPI's data: its primary owner, or the backup while they are away."""
        acting = acting_owner(self.registry, kpi).people
        return acting[0] if acting else None

    # Events ---------------------------------------------------------------------------

    def uid(self, *parts: str) -> str:
        return "-".join(parts) + "@" + self.domain

    def recurring(
        self,
        kind: EventKind,
        parts: tuple[str, ...],
        first: date,
        slot: tuple[time, timedelta],
        rule: dict[str, object],
    ) -> CadenceEvent | None:
        if first > self.last:
            return None
        start, end = _at(first, slot, self.zone)
        return CadenceEvent(
            self.uid(kind, *parts), kind, "", "", start, end, rrule={**rule, "until": self.until}
        )

    def health_checks(self) -> list[CadenceEvent]:
        by_owner: dict[str, list[Kpi]] = {}
        for kpi in self.active_kpis():
            steward = self.steward(kpi)
            if steward is not None:
                by_owner.setdefault(steward.id, []).append(kpi)
        monday = _weekday_on_or_after(self.first, 0)
        out = []
        for pid in sorted(by_owner):
            owner = self.registry.person(pid)
            kpis = by_owner[pid]
            event = self.recurring(
                "health-check", (pid,), monday, HEALTH_CHECK, {"freq": "weekly", "byday": "MO"}
            )
            if event is None or owner is None:
                continue
            lines = [
                f"{oneline(owner.name)} confirms that the data behind each KPI below is fresh and "
                "right: the sources refreshed on schedule, the numbers match the source "
                "systems, and anything odd is noted (or escalated as a data outage).",
                "",
                f"KPIs ({len(kpis)}):",
            ]
            for kpi in kpis:
                sources = ", ".join(kpi.sources)
                cover = "" if kpi.owners.primary == pid else f", covering for {kpi.owners.primary}"
                lines.append(
                    f"- {kpi.id}: {oneline(kpi.name)} (refresh {kpi.cadence.refresh}, "
                    f"review {kpi.cadence.review}; sources {sources}{cover})"
                )
            event.summary = f"Data health check: {oneline(owner.name)} ({plural(len(kpis), 'KPI')})"
            event.description = "\n".join(lines)
            me = self.attendee(owner)
            backups = [
                self.attendee(self.registry.person(kpi.owners.backup), required=False)
                for kpi in kpis
            ]
            event.organizer = me
            event.attendees = self.merge([me], backups)
            out.append(event)
        return out

    def performance_review(self) -> CadenceEvent | None:
        first = _monthly_first(self.first, range(1, 13), 1, 1)
        event = self.recurring(
            "performance-review", (), first, PERFORMANCE_REVIEW, {"freq": "monthly", "byday": "1TU"}
        )
        if event is None:
            return None
        kpis = self.active_kpis()
        event.summary = f"Monthly KPI performance review: {oneline(self.org)}"
        lines = [
            "Each KPI owner walks through the month's trend against target, what drove it "
            "(attribution, channel mix), the risks ahead and the actions they own, with "
            "dates. Escalations still open are reviewed first.",
            "",
            f"KPIs ({len(kpis)}):",
        ]
        lines += [
            f"- {kpi.id}: {oneline(kpi.name)} ({kpi.stage}, owner {kpi.owners.primary})"
            for kpi in kpis
        ]
        event.description = "\n".join(lines)
        event.organizer = self.desk()
        event.attendees = self.merge(
            [self.attendee(self.registry.person(kpi.owners.primary)) for kpi in kpis],
            [self.attendee(self.registry.person(kpi.owners.backup), False) for kpi in kpis],
        )
        return event

    def signal_review(self) -> CadenceEvent | None:
        start_month = self.registry.settings.fiscal_year_start_month
        months = [(start_month - 1 + 3 * q) % 12 + 1 for q in range(4)]
        first = _monthly_first(self.first, months, 2, 2)
        event = self.recurring(
            "signal-review",
            (),
            first,
            SIGNAL_REVIEW,
            {"freq": "monthly", "interval": 3, "byday": "2WE"},
        )
        if event is None:
            return None
        kpis = [kpi for kpi in self.active_kpis() if kpi.audience == "business"]
        teams = sorted(self.registry.teams, key=lambda team: team.id)
        leads = [
            self.attendee(self.registry.person(team.lead))
            for team in teams
            if team.function in ("marketing", "sales", "finance", "executive")
        ]
        executives = {team.id for team in teams if team.function == "executive"}
        leads += [
            self.attendee(person)
            for person in sorted(self.registry.people, key=lambda person: person.id)
            if person.team in executives
        ]
        event.summary = f"Quarterly performance signal review: {oneline(self.org)}"
        lines = [
            "Marketing, sales and finance leaders read the quarter's signals together: "
            "the business-facing KPIs against target, leading indicators for next "
            "quarter, whether targets and incentives still drive the right behaviour, and "
            "which priorities change.",
            "",
            f"Business-facing KPIs ({len(kpis)}):",
        ]
        lines += [
            f"- {kpi.id}: {oneline(kpi.name)} ({kpi.indicator}, owner {kpi.owners.primary})"
            for kpi in kpis
        ]
        event.description = "\n".join(lines)
        event.organizer = self.desk()
        event.attendees = self.merge(
            [self.attendee(self.registry.person(kpi.owners.primary)) for kpi in kpis], leads
        )
        return event

    def campaign_events(self, campaign: Campaign) -> list[CadenceEvent]:
        if campaign.status == "cancelled":
            return []
        daci = campaign.daci
        driver = self.attendee(self.registry.person(daci.driver))
        attendees = self.merge(
            [driver],
            self.people([daci.driver, daci.approver], True),
            self.people(daci.contributors, True),
            self.people(daci.informed, False),
        )
        timeline = campaign.timeline
        kpis = [f"{campaign.primary_kpi.kpi}{_target(campaign.primary_kpi.target)} (primary)"]
        kpis += [f"{k.kpi}{_target(k.target)}" for k in campaign.secondary_kpis]
        context = [
            f"Objective: {oneline(campaign.objective)}",
            f"KPIs: {', '.join(kpis)}",
            f"Runs {timeline.start.isoformat()} to {timeline.end.isoformat()}; "
            f"driver {daci.driver}, approver {daci.approver}.",
        ]
        if campaign.status == "draft":
            context.append("The charter is still a draft: these dates are tentative.")
        out: list[CadenceEvent] = []
        total = len(timeline.readouts)
        for number, days in enumerate(sorted(timeline.readouts), start=1):
            planned = timeline.readout_date(days)
            day, moved = _weekday_after(planned)
            if not self.first <= day <= self.last:
                continue
            start, end = _at(day, READOUT, self.zone)
            note = (
                f"Day {days} falls on {planned:%A %Y-%m-%d}; the readout moves to the Monday after."
                if moved
                else f"Day {days} after the start."
            )
            out.append(
                CadenceEvent(
                    self.uid("readout", campaign.id, str(days)),
                    "readout",
                    f"{days}-day readout: {oneline(campaign.name)}",
                    "\n".join(
                        [
                            f"Results readout {number} of {total}: where each KPI stands "
                            "against its target, what is working, what is not, and what "
                            "changes before the next readout.",
                            note,
                            "",
                            *context,
                        ]
                    ),
                    start,
                    end,
                    attendees,
                    driver,
                    tentative=campaign.status == "draft",
                )
            )
        planned = add_days(timeline.end, RETROSPECTIVE_AFTER_END)
        day, moved = _weekday_after(planned)
        if self.first <= day <= self.last:
            start, end = _at(day, RETROSPECTIVE, self.zone)
            out.append(
                CadenceEvent(
                    self.uid("retrospective", campaign.id),
                    "retrospective",
                    f"Retrospective: {oneline(campaign.name)}",
                    "\n".join(
                        [
                            "Close the campaign together: the results against the charter's "
                            "KPIs, why they came out as they did, what worked, what did not, "
                            "and what to do next time. Record it under `retrospective:` in "
                            "the charter; it feeds the recap email.",
                            "A week after the campaign ends"
                            + (", moved off the weekend." if moved else "."),
                            "",
                            *context,
                        ]
                    ),
                    start,
                    end,
                    attendees,
                    driver,
                    tentative=campaign.status == "draft",
                )
            )
        return out

    def events(self) -> list[CadenceEvent]:
        out = self.health_checks()
        for event in (self.performance_review(), self.signal_review()):
            if event is not None:
                out.append(event)
        for campaign in sorted(self.registry.campaigns, key=lambda c: c.id):
            out.extend(self.campaign_events(campaign))
        out.sort(key=lambda event: (event.start, event.uid))
        return out


def _target(value: float | None) -> str:
    return "" if value is None else f" (target {written(value, grouped=True)})"


def build_events(registry: Registry, first: date, last: date) -> list[CadenceEvent]:
    """Every ritual of the registry that falls between `first` and `last` (inclusive)."""
    return Cadence(registry, first, last).events()


def window_problem(first: date, last: date) -> str | None:
    """Why `first`..`last` cannot be exported, or None when it can."""
    if last < first:
        return f"--to {last} is before --from {first}"
    if first < EARLIEST or last > LATEST:
        return f"--from and --to must lie between {EARLIEST} and {LATEST}"
    if last - first > LONGEST_WINDOW:
        return f"--to {last} is more than 10 years after --from {first}: export less at a time"
    return None


def to_ics(
    events: list[CadenceEvent],
    registry: Registry,
    first: date,
    last: date,
    stamp: datetime | None = None,
) -> bytes:
    """The events of `first`..`last` as an iCalendar file (RFC 5545) with their time zone."""
    from icalendar import Calendar, Event, vCalAddress, vText

    from kpictl import __version__

    stamp = (stamp or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    calendar = Calendar()
    calendar.add("prodid", f"-//kpictl//kpictl {__version__}//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    organization = registry.settings.organization or registry.root.resolve().name
    # An X- property is written as it is unless it is typed as TEXT, which escapes it.
    calendar.add("x-wr-calname", vText(f"KPI governance cadence: {oneline(organization)}"))
    calendar.add("x-wr-timezone", registry.settings.timezone)

    def address(attendee: Attendee, role: str | None) -> vCalAddress:
        value = vCalAddress(f"mailto:{attendee.email}")
        value.params["cn"] = vText(oneline(attendee.name))
        if role is not None:
            value.params["role"] = role
            value.params["partstat"] = "NEEDS-ACTION"
            value.params["rsvp"] = "TRUE"
        return value

    for item in events:
        event = Event()
        event.add("uid", item.uid)
        event.add("dtstamp", stamp)
        event.add("dtstart", item.start)
        event.add("dtend", item.end)
        # Names come from the registry: vText escapes what RFC 5545 TEXT needs (\\ ; ,
        # newline); control characters have no escape, so they are taken out first.
        event.add("summary", oneline(item.summary))
        event.add("description", multiline(item.description))
        event.add("categories", ["kpictl", item.kind])
        event.add("status", "TENTATIVE" if item.tentative else "CONFIRMED")
        if item.rrule is not None:
            event.add("rrule", item.rrule)
        if item.organizer is not None:
            event.add("organizer", address(item.organizer, None), encode=False)
        for attendee in item.attendees:
            role = "REQ-PARTICIPANT" if attendee.required else "OPT-PARTICIPANT"
            event.add("attendee", address(attendee, role), encode=False)
        calendar.add_component(event)
    if registry.settings.timezone in calendar.get_missing_tzids():
        zone = ZoneInfo(registry.settings.timezone)
        calendar.add_component(_vtimezone(zone, first, last))
    return refold(bytes(calendar.to_ical()))


# RFC 5545 folds a content line longer than 75 octets: CRLF, then a space.
_FOLD = 75


def refold(ics: bytes) -> bytes:
    """`ics` folded so that no physical line can start a CI workflow command.

    `calendar` may print to a CI log, where GitHub's runner obeys `##[` anywhere in a
    line and `::` at its start after white space, and a folded line starts with a
    space. Folding elsewhere is lossless: a reader unfolds to the same text, so no
    value has to change.
    """
    logical = ics.decode("utf-8").replace("\r\n ", "").split("\r\n")
    return "\r\n".join("\r\n ".join(_fold(line)) for line in logical).encode("utf-8")


def _fold(line: str) -> list[str]:
    chunks: list[str] = []
    start = 0
    while start < len(line) or not chunks:
        end = _fit(line, start, _FOLD if not chunks else _FOLD - 1)
        # End the line inside `##[` (after `##`), so neither line holds it.
        found = line.find("##[", start, end)
        if found >= 0:
            end = found + 2
        if chunks:
            # A continuation that is white space then `::` keeps only the first colon.
            text = line[start:end]
            lead = start + len(text) - len(text.lstrip())
            if line.startswith("::", lead) and lead + 2 <= end:
                end = lead + 1
        chunks.append(line[start:end])
        start = end
    return chunks


def _fit(line: str, start: int, octets: int) -> int:
    """The furthest end after `start` whose characters take at most `octets` in UTF-8."""
    end, used = start, 0
    while end < len(line):
        size = len(line[end].encode("utf-8", "surrogatepass"))
        if used + size > octets and end > start:
            break
        used += size
        end += 1
    return end


def _vtimezone(zone: ZoneInfo, first: date, last: date) -> Timezone:
    """`zone` as a VTIMEZONE for `first`..`last`: one STANDARD or DAYLIGHT per change.

    icalendar's own (Calendar.add_missing_timezones, Timezone.from_tzid) puts all the
    changes of one kind in a single comma-separated RDATE, which vobject and ical.js
    misread (summer events an hour off), and dates a change to summer time by the new
    wall time, where RFC 5545 3.6.5 wants the old one.
    """
    from icalendar import Timezone, TimezoneDaylight, TimezoneStandard

    # A day either side, so events near midnight at either end are covered too.
    start = datetime.combine(first - timedelta(days=1), time(), zone).astimezone(UTC)
    stop = datetime.combine(last + timedelta(days=2), time(), zone).astimezone(UTC)
    vtimezone = Timezone()
    vtimezone.add("tzid", zone.key)
    before = start.astimezone(zone).utcoffset()
    for moment in [start, *_offset_changes(zone, start, stop)]:
        local = moment.astimezone(zone)
        after = local.utcoffset()
        assert before is not None and after is not None  # a ZoneInfo always has one
        part = TimezoneDaylight() if local.dst() else TimezoneStandard()
        # DTSTART is the wall time just before the change, in the offset it changes from.
        part.add("dtstart", (moment + before).replace(tzinfo=None))
        part.add("tzname", local.tzname())
        part.add("tzoffsetfrom", before)
        part.add("tzoffsetto", after)
        vtimezone.add_component(part)
        before = after
    return vtimezone


def _offset_changes(zone: ZoneInfo, start: datetime, stop: datetime) -> list[datetime]:
    """The instants (UTC, to the second) in `start`..`stop` when `zone`'s offset changes.

    A day at a time, then halving the day that holds a change: no time zone has changed
    its offset twice within one day.
    """
    changes: list[datetime] = []
    day = timedelta(days=1)
    second = timedelta(seconds=1)
    low, offset = start, start.astimezone(zone).utcoffset()
    while low < stop:
        high = min(low + day, stop)
        if high.astimezone(zone).utcoffset() == offset:
            low = high
            continue
        while high - low > second:  # the offset is `offset` at low and not at high
            middle = low + (high - low) // 2 // second * second
            if middle.astimezone(zone).utcoffset() == offset:
                low = middle
            else:
                high = middle
        changes.append(high)
        low, offset = high, high.astimezone(zone).utcoffset()
    return changes

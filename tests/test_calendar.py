"""`kpictl calendar`: the governance cadence as an .ics file, read back with icalendar."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar

from tests.conftest import EXAMPLE, Run, write_registry

BERLIN = ZoneInfo("Europe/Berlin")


def read(path: Path) -> list[Any]:
    calendar = Calendar.from_ical(path.read_bytes())
    assert calendar["version"] == "2.0"
    assert [tz["tzid"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]
    return list(calendar.walk("VEVENT"))


def by_uid(events: list[Any]) -> dict[str, Any]:
    return {str(event["uid"]): event for event in events}


def attendees(event: Any) -> list[tuple[str, str, str]]:
    found = event.get("attendee", [])
    found = found if isinstance(found, list) else [found]
    return [(str(a), str(a.params["cn"]), str(a.params["role"])) for a in found]


def export(run: Run, tmp_path: Path, *args: str) -> list[Any]:
    out = tmp_path / "cadence.ics"
    result = run("calendar", str(EXAMPLE), *args, "--out", str(out))
    assert result.code == 0, result.err
    assert result.out.startswith("Wrote ")
    return read(out)


def test_the_example_registry_cadence(run: Run, tmp_path: Path) -> None:
    events = export(run, tmp_path, "--from", "2026-11-20", "--to", "2027-02-18")
    uids = by_uid(events)
    assert len(uids) == len(events) == 15
    domain = "@northwind-analytics.kpictl"

    check = uids["health-check-aisha-okafor" + domain]
    assert str(check["summary"]) == "Data health check: Aisha Okafor (2 KPIs)"
    assert check.decoded("dtstart") == datetime(2026, 11, 23, 9, 30, tzinfo=BERLIN)
    assert check.decoded("dtend") == datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)
    rule = check["rrule"]
    assert rule["FREQ"] == ["WEEKLY"]
    assert rule["BYDAY"] == ["MO"]
    assert rule["UNTIL"][0] == datetime(2027, 2, 18, 22, 59, 59, tzinfo=ZoneInfo("UTC"))
    assert "- mql: Marketing Qualified Leads" in str(check["description"])
    assert "- cost-per-opportunity:" in str(check["description"])
    assert attendees(check) == [
        ("mailto:aisha.okafor@northwind.example", "Aisha Okafor", "REQ-PARTICIPANT"),
        ("mailto:felix.braun@northwind.example", "Felix Braun", "OPT-PARTICIPANT"),
        ("mailto:sofia.lindqvist@northwind.example", "Sofia Lindqvist", "OPT-PARTICIPANT"),
    ]
    assert str(check["organizer"]) == "mailto:aisha.okafor@northwind.example"

    review = uids["performance-review" + domain]
    assert review.decoded("dtstart") == datetime(2026, 12, 1, 10, 0, tzinfo=BERLIN)  # 1st Tuesday
    assert review["rrule"]["BYDAY"] == ["1TU"]
    assert str(review["organizer"]) == "mailto:kpi-desk@northwind.example"
    assert len(attendees(review)) == 13

    signal = uids["signal-review" + domain]
    assert signal.decoded("dtstart") == datetime(2027, 1, 13, 14, 0, tzinfo=BERLIN)
    assert signal["rrule"]["INTERVAL"] == [3]
    assert signal["rrule"]["BYDAY"] == ["2WE"]
    names = {cn for _, cn, _ in attendees(signal)}
    # Business KPI owners, the marketing, sales and finance leads, the executive team.
    assert {"Aisha Okafor", "Victor Almeida", "Felix Braun", "Priya Raman", "Nina Petrova"} <= names
    assert "Tom Brennan" not in names

    readout = uids["readout-q4-legacy-bi-displacement-60" + domain]
    assert readout.decoded("dtstart") == datetime(2026, 11, 30, 15, 0, tzinfo=BERLIN)
    assert "rrule" not in readout
    assert str(readout["status"]) == "CONFIRMED"
    daci = attendees(readout)
    assert daci[0] == ("mailto:aisha.okafor@northwind.example", "Aisha Okafor", "REQ-PARTICIPANT")
    assert ("mailto:priya.raman@northwind.example", "Priya Raman", "REQ-PARTICIPANT") in daci
    # The informed teams (leadership, customer success, finance) come as optional.
    assert ("mailto:grace.liu@northwind.example", "Grace Liu", "OPT-PARTICIPANT") in daci

    retro = uids["retrospective-q4-legacy-bi-displacement" + domain]
    assert retro.decoded("dtstart") == datetime(2027, 1, 7, 14, 0, tzinfo=BERLIN)  # end + 7 days

    draft = uids["readout-q1-2027-analytics-plus-upsell-21" + domain]
    assert str(draft["status"]) == "TENTATIVE"
    # Day 30 of the Q4 campaign (Saturday 31 October) is before --from: left out.
    assert "readout-q4-legacy-bi-displacement-30" + domain not in uids


def test_weekend_milestones_move_to_monday(run: Run, tmp_path: Path) -> None:
    events = export(run, tmp_path, "--from", "2026-10-01", "--to", "2026-11-05")
    readout = by_uid(events)["readout-q4-legacy-bi-displacement-30@northwind-analytics.kpictl"]
    assert readout.decoded("dtstart").date() == date(2026, 11, 2)
    assert "falls on Saturday 2026-10-31" in str(readout["description"])


def test_uids_are_stable_across_exports(run: Run, tmp_path: Path) -> None:
    first = export(run, tmp_path, "--from", "2026-11-20", "--to", "2027-02-18")
    second = export(run, tmp_path, "--from", "2026-12-01", "--to", "2027-02-18")
    assert set(by_uid(second)) <= set(by_uid(first))
    check = by_uid(second)["health-check-aisha-okafor@northwind-analytics.kpictl"]
    assert check.decoded("dtstart").date() == date(2026, 12, 7)


def test_window_defaults_to_90_days_and_stdout(run: Run, tmp_path: Path) -> None:
    result = run("calendar", str(EXAMPLE), "--from", "2026-11-20")
    assert result.code == 0
    assert result.out.startswith("BEGIN:VCALENDAR")
    assert "UNTIL=20270218T225959Z" in result.out


def test_bad_window(run: Run) -> None:
    result = run("calendar", str(EXAMPLE), "--from", "2026-11-20", "--to", "2026-11-01")
    assert result.code == 2
    assert "before --from" in result.err
    assert run("calendar", str(EXAMPLE), "--from", "soon").code == 2


def test_names_are_escaped_and_inactive_owners_covered(run: Run, tmp_path: Path) -> None:
    root = write_registry(
        tmp_path / "reg",
        {
            "people.yaml": """
                kind: person
                id: ann
                name: 'Ann "The Owner", Lee; Jr'
                email: ann@acme.example
                team: t
                active: false
                ---
                kind: person
                id: bob
                name: Bob
                email: bob@acme.example
                team: t
                ---
                kind: team
                id: t
                name: T
                function: marketing
                lead: bob
                """,
            "kpi.yaml": """
                kind: kpi
                id: k
                name: "Leads, new"
                description: d
                formula: f
                unit: count
                direction: increase
                stage: awareness
                indicator: leading
                audience: internal
                owners: {primary: ann, backup: bob}
                sources: [s]
                cadence: {refresh: daily, review: weekly}
                escalation: p
                """,
        },
        "version: 1\norganization: Acme & Co\ntimezone: Europe/Berlin\n",
    )
    out = tmp_path / "c.ics"
    result = run(
        "calendar", str(root), "--from", "2026-11-20", "--to", "2026-11-30", "--out", str(out)
    )
    assert result.code == 0
    assert result.err == ""
    uids = by_uid(read(out))
    # Ann has left: Bob, the backup, runs the health check for her KPI.
    check = uids["health-check-bob@acme-co.kpictl"]
    assert "covering for ann" in str(check["description"])
    assert "Leads, new" in str(check["description"])
    assert attendees(check) == [("mailto:bob@acme.example", "Bob", "REQ-PARTICIPANT")]
    assert "ann@acme.example" not in out.read_text()

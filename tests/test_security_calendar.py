"""`kpictl calendar` read back by parsers other than the one that wrote it.

The VTIMEZONE must place summer-time events right in every calendar app, not only in
icalendar: vobject (Python) and, when node is around, ical.js (what web calendars use)
read the file here. Registry names reach SUMMARY, DESCRIPTION and CN, so a name with
control characters or iCalendar syntax must come out as plain, escaped TEXT.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import vobject
from icalendar import Calendar

from tests.conftest import EXAMPLE, Run

# The first weekly health check of Aisha Okafor, the example registry's first owner.
HEALTH_CHECK = "health-check-aisha-okafor@northwind-analytics.kpictl"


@pytest.fixture(autouse=True)
def _vobject_forgets_time_zones() -> Iterator[None]:
    # vobject keeps the first VTIMEZONE it reads for each TZID for the whole process
    # (vobject.icalendar.registerTzid): each test must read its own file's zone.
    known = vars(vobject.icalendar)["__tzidMap"]
    saved = dict(known)
    yield
    known.clear()
    known.update(saved)


def example_in(tmp_path: Path, timezone: str, **names: str) -> Path:
    """A copy of the example registry in another time zone, with some names replaced."""
    root = tmp_path / "reg"
    shutil.copytree(EXAMPLE, root)
    settings = root / "kpictl.yaml"
    text = settings.read_text(encoding="utf-8").replace("Europe/Berlin", timezone)
    settings.write_text(text, encoding="utf-8")
    for old, new in names.items():
        for path in root.rglob("*.yaml"):
            before = path.read_text(encoding="utf-8")
            after = before.replace(f"name: {old}\n", f"name: {json.dumps(new)}\n")
            after = after.replace(f"organization: {old}\n", f"organization: {json.dumps(new)}\n")
            if after != before:
                path.write_text(after, encoding="utf-8")
    return root


def export(run: Run, root: Path, tmp_path: Path, first: str, last: str) -> Path:
    out = tmp_path / "cadence.ics"
    result = run("calendar", str(root), "--from", first, "--to", last, "--out", str(out))
    assert result.code == 0, result.err
    assert result.err == ""
    return out


def vobject_event(path: Path, uid: str) -> Any:
    calendar = vobject.readOne(path.read_text(encoding="utf-8"))
    (event,) = [e for e in calendar.vevent_list if e.uid.value == uid]
    return event


def test_vobject_places_winter_and_summer_events_at_the_right_instant(
    run: Run, tmp_path: Path
) -> None:
    root = example_in(tmp_path, "America/New_York")
    out = export(run, root, tmp_path, "2026-01-01", "2026-07-31")
    event = vobject_event(out, HEALTH_CHECK)
    # Monday 2026-01-05 09:30 EST (UTC-5) and Monday 2026-07-06 09:30 EDT (UTC-4).
    assert event.dtstart.value.astimezone(UTC) == datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
    occurrences = [when.astimezone(UTC) for when in event.getrruleset()]
    assert occurrences[0] == datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
    assert occurrences[9] == datetime(2026, 3, 9, 13, 30, tzinfo=UTC)  # first Monday in EDT
    july = [when for when in occurrences if when.month == 7]
    assert july[0] == datetime(2026, 7, 6, 13, 30, tzinfo=UTC)
    assert len(occurrences) == 30


def test_a_summer_only_window_in_vobject(run: Run, tmp_path: Path) -> None:
    root = example_in(tmp_path, "America/New_York")
    out = export(run, root, tmp_path, "2026-07-01", "2026-07-31")
    event = vobject_event(out, HEALTH_CHECK)
    assert event.dtstart.value.astimezone(UTC) == datetime(2026, 7, 6, 13, 30, tzinfo=UTC)


def test_the_vtimezone_lists_each_change_on_its_own(run: Run, tmp_path: Path) -> None:
    root = example_in(tmp_path, "America/New_York")
    out = export(run, root, tmp_path, "2026-01-01", "2027-12-31")
    text = out.read_bytes().decode("utf-8")
    zone = text[text.index("BEGIN:VTIMEZONE") : text.index("END:VTIMEZONE")]
    # No comma-separated RDATE lists: one component per change, onset in the old offset
    # (RFC 5545 3.6.5: 02:00 EST is when clocks go forward, 02:00 EDT when they go back).
    assert "RDATE" not in zone
    changes = re.findall(
        r"BEGIN:(STANDARD|DAYLIGHT)\r\nDTSTART:(\w+)\r\nTZNAME:(\w+)\r\n"
        r"TZOFFSETFROM:([-+]\d+)\r\nTZOFFSETTO:([-+]\d+)\r\n",
        zone,
    )
    assert changes == [
        ("STANDARD", "20251231T000000", "EST", "-0500", "-0500"),
        ("DAYLIGHT", "20260308T020000", "EDT", "-0500", "-0400"),
        ("STANDARD", "20261101T020000", "EST", "-0400", "-0500"),
        ("DAYLIGHT", "20270314T020000", "EDT", "-0500", "-0400"),
        ("STANDARD", "20271107T020000", "EST", "-0400", "-0500"),
    ]
    # icalendar, which wrote it, agrees with vobject.
    calendar = Calendar.from_ical(out.read_bytes())
    (check,) = [e for e in calendar.walk("VEVENT") if str(e["uid"]) == HEALTH_CHECK]
    assert check.decoded("dtstart").astimezone(UTC) == datetime(2026, 1, 5, 14, 30, tzinfo=UTC)


def test_a_zone_without_summer_time_and_utc(run: Run, tmp_path: Path) -> None:
    root = example_in(tmp_path, "Asia/Kolkata")
    out = export(run, root, tmp_path, "2026-07-01", "2026-07-31")
    event = vobject_event(out, HEALTH_CHECK)
    assert event.dtstart.value.astimezone(UTC) == datetime(2026, 7, 6, 4, 0, tzinfo=UTC)
    text = out.read_text(encoding="utf-8")
    assert text.count("BEGIN:STANDARD") == 1
    assert "BEGIN:DAYLIGHT" not in text
    assert "TZOFFSETFROM:+0530\nTZOFFSETTO:+0530\n" in text

    # UTC needs no VTIMEZONE: times are written with a Z.
    utc = example_in(tmp_path / "utc", "UTC")
    out = export(run, utc, tmp_path, "2026-07-01", "2026-07-31")
    text = out.read_text(encoding="utf-8")
    assert "BEGIN:VTIMEZONE" not in text
    assert "DTSTART:20260706T093000Z\n" in text
    event = vobject_event(out, HEALTH_CHECK)
    assert event.dtstart.value.astimezone(UTC) == datetime(2026, 7, 6, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        (
            "0001-01-01",
            "0002-01-01",
            "Invalid value for --from: {first} is out of range: use a date from 1900-01-01 "
            "to 9000-12-31",
        ),
        (
            "9998-01-01",
            "9999-12-31",
            "Invalid value for --from: {first} is out of range: use a date from 1900-01-01 "
            "to 9000-12-31",
        ),
        (
            "2026-01-01",
            "2036-01-03",
            "--to 2036-01-03 is more than 10 years after --from 2026-01-01: export less at a time",
        ),
    ],
)
def test_an_absurd_window_is_one_clear_error(
    run: Run, tmp_path: Path, first: str, last: str, message: str
) -> None:
    root = example_in(tmp_path, "America/New_York")
    result = run("calendar", str(root), "--from", first, "--to", last)
    assert result.code == 2
    assert message.format(first=first) in result.err
    assert "Traceback" not in result.err
    assert result.out == ""


def test_the_longest_window_covers_every_change(run: Run, tmp_path: Path) -> None:
    root = example_in(tmp_path, "America/New_York")
    out = export(run, root, tmp_path, "2026-01-01", "2036-01-02")
    calendar = Calendar.from_ical(out.read_bytes())
    (zone,) = calendar.walk("VTIMEZONE")
    assert len(zone.walk("DAYLIGHT")) == 10
    assert len(zone.walk("STANDARD")) == 11
    event = vobject_event(out, HEALTH_CHECK)
    last = list(event.getrruleset())[-1]
    assert last.astimezone(UTC) == datetime(2035, 12, 31, 14, 30, tzinfo=UTC)


# One line, so `check` accepts it: the characters that RFC 5545 TEXT must escape.
HOSTILE = "Aisha Okafor, Jr; \\ boss"
# Names with control characters are S001 findings and never reach the calendar from
# a registry; the calendar still removes them, for a registry loaded some other way.
CONTROL = "Aisha\x1b[31m Okafor\x07, Jr; \\ \x00boss\x7f\u202e\r\nEvil: yes"


def test_rfc_5545_text_escaping(run: Run, tmp_path: Path) -> None:
    root = example_in(tmp_path, "Europe/Berlin", **{"Aisha Okafor": HOSTILE})
    out = export(run, root, tmp_path, "2026-11-20", "2026-11-30")
    unfolded = out.read_bytes().replace(b"\r\n ", b"").decode("utf-8")
    assert "SUMMARY:Data health check: Aisha Okafor\\, Jr\\; \\\\ boss (2 KPIs)\r\n" in unfolded
    assert 'CN="Aisha Okafor, Jr; \\ boss"' in unfolded
    event = vobject_event(out, "health-check-aisha-okafor@northwind-analytics.kpictl")
    assert event.summary.value == "Data health check: Aisha Okafor, Jr; \\ boss (2 KPIs)"


def test_control_characters_never_reach_the_file(tmp_path: Path) -> None:
    from datetime import date

    from kpictl.authoring.cadence import build_events, to_ics
    from kpictl.registry.registry import load_registry

    root = example_in(tmp_path, "Europe/Berlin")
    registry, _ = load_registry(root, cwd=root)
    person = registry.person("aisha-okafor")
    assert person is not None
    person.name = CONTROL
    first, last = date(2026, 11, 20), date(2026, 11, 30)
    raw = to_ics(build_events(registry, first, last), registry, first, last)
    out = tmp_path / "cadence.ics"
    out.write_bytes(raw)
    # Nothing but printable text and the CRLF that ends each (folded) content line.
    assert re.findall(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)|(?<!\r)\n", raw) == []
    assert "\u202e" not in raw.decode("utf-8")
    assert b"\nEvil: yes" not in raw and b"\r\nEvil" not in raw
    unfolded = raw.replace(b"\r\n ", b"").decode("utf-8")
    assert (
        "SUMMARY:Data health check: Aisha [31m Okafor \\, Jr\\; \\\\ boss Evil: yes (2 KPIs)\r\n"
        in unfolded
    )
    assert 'CN="Aisha [31m Okafor , Jr; \\ boss Evil: yes"' in unfolded
    event = vobject_event(out, "health-check-aisha-okafor@northwind-analytics.kpictl")
    assert event.description.value.startswith(
        "Aisha [31m Okafor , Jr; \\ boss Evil: yes confirms that the data"
    )


def test_a_hostile_organization_name(run: Run, tmp_path: Path) -> None:
    root = example_in(tmp_path, "Europe/Berlin", **{"Northwind Analytics": "North;wind, Co"})
    out = export(run, root, tmp_path, "2026-11-20", "2026-12-05")
    unfolded = out.read_bytes().replace(b"\r\n ", b"").decode("utf-8")
    assert "X-WR-CALNAME:KPI governance cadence: North\\;wind\\, Co\r\n" in unfolded
    assert "SUMMARY:Monthly KPI performance review: North\\;wind\\, Co\r\n" in unfolded


NODE = shutil.which("node")
# ical.js is an npm package, not a Python one: point KPICTL_ICAL_JS at an installed copy
# (`npm install --prefix /tmp/kpictl-icaljs ical.js` gives the default).
ICAL_JS = Path(os.environ.get("KPICTL_ICAL_JS", "/tmp/kpictl-icaljs/node_modules/ical.js"))
ICAL_JS_SCRIPT = """
const ICAL = require(process.argv[2]);
const text = require("fs").readFileSync(process.argv[3], "utf8");
const component = new ICAL.Component(ICAL.parse(text));
for (const zone of component.getAllSubcomponents("vtimezone")) {
  ICAL.TimezoneService.register(zone);
}
const out = {};
for (const item of component.getAllSubcomponents("vevent")) {
  const event = new ICAL.Event(item);
  const starts = [];
  const it = event.iterator();
  for (let next = it.next(); next; next = it.next()) {
    starts.push(next.toJSDate().toISOString());
  }
  out[event.uid] = starts;
}
console.log(JSON.stringify(out));
"""


@pytest.mark.skipif(
    NODE is None or not ICAL_JS.is_dir(),
    reason=f"needs node, and ical.js at {ICAL_JS} (set KPICTL_ICAL_JS)",
)
def test_ical_js_places_summer_events_at_the_right_instant(run: Run, tmp_path: Path) -> None:
    root = example_in(tmp_path, "America/New_York")
    out = export(run, root, tmp_path, "2026-01-01", "2026-07-31")
    script = tmp_path / "read.cjs"
    script.write_text(ICAL_JS_SCRIPT, encoding="utf-8")
    assert NODE is not None
    done = subprocess.run(
        [NODE, str(script), str(ICAL_JS / "dist" / "ical.es5.cjs"), str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    starts = json.loads(done.stdout)[HEALTH_CHECK]
    assert starts[0] == "2026-01-05T14:30:00.000Z"
    assert starts[9] == "2026-03-09T13:30:00.000Z"
    assert next(s for s in starts if s.startswith("2026-07")) == "2026-07-06T13:30:00.000Z"
    assert len(starts) == 30

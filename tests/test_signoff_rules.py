"""Sign-off before work starts (issue 14, item 5): rules C005 and C006.

One line per case: the charter's status, start and sign-off dates, and "today" (pinned
as every check test pins it, through `check(today=...)` or `--as-of`) → the findings.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tests.helpers import Finding3, Patch, Run, findings, make, messages

C = "campaign.yaml"
TODAY = date(2026, 11, 20)


def status(value: str) -> Patch:
    return (C, "status: active\n", f"status: {value}\n")


def start(value: str) -> Patch:
    return (C, "start: 2026-10-01\n", f"start: {value}\n")


def signed(value: str) -> Patch:
    return (C, "{by: bob, date: 2026-09-24}", f"{{by: bob, date: {value}}}")


CASES: list[tuple[list[Patch], date, list[Finding3]]] = [
    # C005 signoff-after-start: line 15 is the sign-off entry
    ([], TODAY, []),
    ([signed("2026-10-01")], TODAY, []),  # on the start day is still before work
    ([signed("2026-10-02")], TODAY, [("C005", C, 15)]),
    ([signed("2026-12-01")], TODAY, [("C005", C, 15)]),
    (
        [
            (
                C,
                "  - {by: bob, date: 2026-09-24}\n",
                "  - {by: bob, date: 2026-09-24}\n  - {by: ann, date: 2026-10-05}\n",
            )
        ],
        TODAY,
        [("C005", C, 16)],
    ),
    ([status("draft"), signed("2026-10-02")], TODAY, [("C005", C, 15), ("C006", C, 4)]),
    # C006 start-passed-unsigned: line 4 is the status
    ([status("draft")], TODAY, [("C006", C, 4)]),
    ([status("approved")], TODAY, [("C006", C, 4)]),
    ([status("draft")], date(2026, 10, 1), [("C006", C, 4)]),  # the start day itself
    ([status("draft")], date(2026, 9, 30), []),  # the day before
    ([status("approved")], date(2026, 9, 30), []),
    ([status("draft"), start("2027-01-11")], TODAY, []),
    ([status("draft")], date(2027, 6, 1), [("C006", C, 4)]),  # after the end: still unsigned
    ([status("complete")], TODAY, []),
    ([status("cancelled")], TODAY, []),
    ([], TODAY, []),  # active
]


@pytest.mark.parametrize(("patches", "today", "expected"), CASES)
def test_signoff_rule(
    tmp_path: Path, patches: list[Patch], today: date, expected: list[Finding3]
) -> None:
    make(tmp_path, *patches)
    # Only these rules: a different "today" makes T001 (no target) speak up as well.
    found = [item for item in findings(tmp_path, today=today) if item[0] in ("C005", "C006")]
    assert found == expected


def test_c005_message(tmp_path: Path) -> None:
    make(tmp_path, signed("2026-10-02"))
    assert messages(tmp_path, "C005") == [
        "bob (Bob Ray) signed off on 2026-10-02, after the campaign started on 2026-10-01: "
        "sign-off comes before work starts; correct the date if it is wrong, else agree the "
        "charter earlier next time"
    ]


def test_c006_messages(tmp_path: Path) -> None:
    make(tmp_path, status("draft"))
    assert messages(tmp_path, "C006") == [
        "the campaign is still a draft although it was due to start on 2026-10-01: get "
        "bob (Bob Ray) to sign it off and set status: active, move timeline.start, or set "
        "status: cancelled"
    ]
    make(tmp_path, status("approved"))
    assert messages(tmp_path, "C006") == [
        "the campaign is approved but not active although it was due to start on 2026-10-01: "
        "set status: active (and send the kickoff), or move timeline.start"
    ]


def test_c006_follows_as_of_on_the_command_line(tmp_path: Path, run: Run) -> None:
    make(tmp_path, status("draft"))
    before = run("check", str(tmp_path), "--as-of", "2026-09-30", "--select", "C006")
    assert (before.code, before.out) == (0, "No findings in 8 files.\n")
    after = run("check", str(tmp_path), "--as-of", "2026-10-01", "--select", "C006")
    assert after.code == 0  # a warning: the check still passes
    assert after.out.splitlines()[0].startswith(
        f"{tmp_path / C}:4:9: C006 [warning] the campaign is still a draft"
    )


def test_new_rules_are_warnings_so_a_valid_registry_still_passes(tmp_path: Path, run: Run) -> None:
    make(tmp_path, status("draft"), signed("2026-10-02"))
    result = run("check", str(tmp_path), "--as-of", "2026-11-20")
    assert result.code == 0
    assert result.out.splitlines()[-1] == (
        "Found 0 errors, 2 warnings, 0 info in 8 files (check passed, failing on error)."
    )


def test_rules_can_be_turned_off_by_name(tmp_path: Path) -> None:
    make(tmp_path, status("draft"), settings="version: 1\nrules:\n  start-passed-unsigned: off\n")
    assert findings(tmp_path) == []


# --- the kickoff: every signer named, RACI doers reached, a late kickoff warned about ---

KICKOFF_SETTINGS = (
    'version: 1\ntimezone: Europe/Berlin\nemail:\n  from: "KPI Desk <kpi@acme.example>"\n'
)
CARL = """\
kind: person
id: carl
name: Carl Doe
email: carl@acme.example
team: demand-gen
"""


def kickoff(run: Run, tmp_path: Path, patches: list[Patch], as_of: str) -> tuple[int, str, str]:
    from tests.helpers import patched, write_registry

    root = write_registry(tmp_path / "reg", patched(*patches), KICKOFF_SETTINGS)
    result = run("kickoff", "spring-push", str(root), "--as-of", as_of)
    return result.code, result.out, result.err


def test_kickoff_names_every_signer(run: Run, tmp_path: Path) -> None:
    cosign = (
        C,
        "  - {by: bob, date: 2026-09-24}\n",
        "  - {by: bob, date: 2026-09-24}\n  - {by: ann, date: 2026-09-25}\n",
    )
    code, out, err = kickoff(run, tmp_path, [cosign], "2026-09-28")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    at = lines.index("SIGNED OFF BY")
    assert lines[at : at + 4] == [
        "SIGNED OFF BY",
        "  - Bob Ray on Thu 24 Sep 2026",
        "  - Ann Lee on Fri 25 Sep 2026",
        "",
    ]


def test_kickoff_after_the_start_warns_on_one_line(run: Run, tmp_path: Path) -> None:
    code, _, err = kickoff(run, tmp_path, [], "2026-10-02")
    assert code == 0
    assert err == (
        "kpictl: warning: 'spring-push' started on 2026-10-01, 1 day ago: this kickoff goes "
        "out after work started; send it before timeline.start next time\n"
    )
    assert kickoff(run, tmp_path / "on-time", [], "2026-10-01")[2] == ""


def test_raci_responsible_and_accountable_get_kickoff_and_readouts(
    run: Run, tmp_path: Path
) -> None:
    raci = (
        C,
        "timeline:\n",
        "raci:\n"
        "  - {activity: Ads, responsible: [carl, ann], accountable: bob, consulted: [demand-gen]}\n"
        "timeline:\n",
    )
    code, out, err = kickoff(run, tmp_path, [("carl.yaml", None, CARL), raci], "2026-09-28")
    assert (code, err) == (0, "")
    # Ann drives and Bob approves (To); Carl is only responsible: Cc, once. Consulted
    # people are not added.
    assert "To: Ann Lee <ann@acme.example>, Bob Ray <bob@acme.example>" in out.splitlines()
    assert "Cc: Carl Doe <carl@acme.example>" in out.splitlines()
    root = tmp_path / "reg"
    csv = tmp_path / "actuals.csv"
    csv.write_text("kpi,period,value,as_of\nmql,spring-push,40,2026-10-30\n")
    readout = run("readout", "spring-push", str(root), "-a", str(csv), "--as-of", "2026-11-02")
    assert readout.code == 0, readout.err
    assert "Cc: Carl Doe <carl@acme.example>" in readout.out.splitlines()

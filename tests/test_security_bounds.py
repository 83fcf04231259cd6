"""Absurd values from a pull request end in a finding or a one-line error, never a crash.

Time zones that are folders or paths, `.nan` and `.inf`, dates and durations past what
date arithmetic can hold, and oversized actuals files: each case is one line, the YAML
(or option) in and the exact finding or error out.
"""

from __future__ import annotations

import io
import json
import tracemalloc
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from kpictl.check.check import check
from kpictl.numbers.actuals import MAX_PROBLEMS, ActualsError, read_actuals
from kpictl.numbers.evaluate import deviation
from tests.conftest import AS_OF, EXAMPLE
from tests.helpers import POLICY, TODAY, Patch, Run, deadline, make

Finding4 = tuple[str, str, int, str]

ZONE_HELP = "is not a known time zone: use an IANA name such as Europe/Berlin or America/New_York"
OUT_OF_RANGE = "is out of range: use a date from 1900-01-01 to 9000-12-31"


def schema_findings(root: Path) -> list[Finding4]:
    """Every finding of the registry at `root` as (code, path, line, message)."""
    result = check(root, today=TODAY, cwd=root)
    return sorted(
        (item.code, item.location.path.as_posix(), item.location.line, item.message)
        for item in result.findings
    )


# --- kpictl.yaml: the time zone -------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "shown"),
    [
        ("Europe", "Europe"),  # a folder of the tz database: IsADirectoryError
        ("America", "America"),
        ("A" * 300, "A" * 40 + "…"),  # longer than a file name may be
        ("../../../../etc/passwd", "../../../../etc/passwd"),
        ("/etc/localtime", "/etc/localtime"),
        ("Europe/../Europe/Berlin", "Europe/../Europe/Berlin"),
        ("zone1970.tab", "zone1970.tab"),  # a data file beside the zones
        ("Mars/Base", "Mars/Base"),
    ],
)
def test_bad_time_zone_is_a_finding(tmp_path: Path, zone: str, shown: str) -> None:
    make(tmp_path, settings=f"version: 1\ntimezone: '{zone}'\n")
    assert schema_findings(tmp_path) == [
        ("S001", "kpictl.yaml", 2, f"timezone: '{shown}' {ZONE_HELP}")
    ]


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/Argentina/Buenos_Aires", "Etc/GMT+5"])
def test_real_time_zones_still_load(tmp_path: Path, zone: str) -> None:
    make(tmp_path, settings=f"version: 1\ntimezone: {zone}\n")
    assert schema_findings(tmp_path) == []


@pytest.mark.parametrize(
    "command",
    [
        ["status", "--actuals", "actuals.csv", "--as-of", AS_OF],
        ["escalate", "--actuals", "actuals.csv", "--as-of", AS_OF],
        ["kickoff", "spring-push", "--as-of", AS_OF],
        ["readout", "spring-push", "--day", "30", "--actuals", "actuals.csv", "--as-of", AS_OF],
        ["calendar", "--from", "2026-10-01", "--to", "2026-10-31"],
        ["drill", "mql", "--deviation", "20", "--at", AS_OF],
    ],
)
def test_every_command_runs_with_a_folder_as_time_zone(
    tmp_path: Path, run: Run, command: list[str]
) -> None:
    root = make(
        tmp_path,
        ("actuals.csv", None, "kpi,period,value,as_of\nmql,2026-Q4,50,2026-11-20\n"),
        settings="version: 1\ntimezone: Europe\n",
    )
    result = run(*command, cwd=root)
    # The registry runs with UTC, as it does whenever kpictl.yaml is broken.
    assert "internal error" not in result.err
    assert result.code == 0, result.err


@pytest.mark.parametrize("zone", ["Europe", "A" * 300, "../../etc/passwd", "/etc/localtime"])
def test_init_refuses_a_bad_time_zone(tmp_path: Path, run: Run, zone: str) -> None:
    result = run("init", str(tmp_path / "reg"), "--timezone", zone)
    shown = f"{zone[:40]}…" if len(zone) > 40 else zone
    assert (result.code, result.err.splitlines()[-1]) == (
        2,
        f"Error: Invalid value for --timezone: '{shown}' {ZONE_HELP}",
    )
    assert not (tmp_path / "reg").exists()


# --- entities: non-finite and out-of-range values --------------------------------------------

SECONDARY = ("campaign.yaml", "daci:", "secondary_kpis:\n  - {kpi: mql, target: 1}\ndaci:")


@pytest.mark.parametrize(
    ("patches", "expected"),
    [
        # KPI targets: line 21 is `value: 100`.
        (
            [("kpi.yaml", "value: 100", "value: .nan")],
            ("kpi.yaml", 21, "targets[0].value must be a finite number, not '.nan'"),
        ),
        (
            [("kpi.yaml", "value: 100", "value: .inf")],
            ("kpi.yaml", 21, "targets[0].value must be a finite number, not '.inf'"),
        ),
        (
            [("kpi.yaml", "value: 100", "value: -.Inf")],
            ("kpi.yaml", 21, "targets[0].value must be a finite number, not '-.Inf'"),
        ),
        (
            [("kpi.yaml", "value: 100", "value: -1e308")],
            (
                "kpi.yaml",
                21,
                "targets[0].value: -1e+308 is too large: values are at most 10^15 (1e15) in size",
            ),
        ),
        # Campaign charters: line 7 is primary_kpi, 8 the secondary KPI added here.
        (
            [("campaign.yaml", "target: 150", "target: .nan")],
            ("campaign.yaml", 7, "primary_kpi.target must be a finite number, not '.nan'"),
        ),
        (
            [SECONDARY, ("campaign.yaml", "target: 1}", "target: .inf}")],
            ("campaign.yaml", 9, "secondary_kpis[0].target must be a finite number, not '.inf'"),
        ),
        # Policies: line 8 is respond_within.
        (
            [("policy.yaml", "respond_within: 24h", "respond_within: 99999999999h")],
            (
                "policy.yaml",
                8,
                "tiers[0].respond_within: '99999999999h' is longer than a year: "
                "write at most 365d (8760h)",
            ),
        ),
        (
            [("policy.yaml", "respond_within: 24h", "respond_within: 366d")],
            (
                "policy.yaml",
                8,
                "tiers[0].respond_within: '366d' is longer than a year: write at most 365d (8760h)",
            ),
        ),
        (
            [("policy.yaml", "deviation_pct: 5", "deviation_pct: .nan")],
            ("policy.yaml", 7, "tiers[0].deviation_pct must be a finite number, not '.nan'"),
        ),
        # Timelines: 12 start, 13 end, 14 the readouts added here, 16 the sign-off.
        (
            [("campaign.yaml", "end: 2026-12-31", "end: 9999-12-31")],
            ("campaign.yaml", 13, f"timeline.end: 9999-12-31 {OUT_OF_RANGE}"),
        ),
        (
            [("campaign.yaml", "start: 2026-10-01", "start: 0001-01-01")],
            ("campaign.yaml", 12, f"timeline.start: 0001-01-01 {OUT_OF_RANGE}"),
        ),
        (
            [
                (
                    "campaign.yaml",
                    "end: 2026-12-31\n",
                    "end: 2026-12-31\n  readouts: [30, 99999999999]\n",
                )
            ],
            ("campaign.yaml", 14, "timeline.readouts[1] must be at most 3660, not '99999999999'"),
        ),
        (
            [("campaign.yaml", "date: 2026-09-24", "date: 9999-09-24")],
            ("campaign.yaml", 15, f"sign_off[0].date: 9999-09-24 {OUT_OF_RANGE}"),
        ),
    ],
)
def test_absurd_value_is_a_schema_finding(
    tmp_path: Path, patches: list[Patch], expected: tuple[str, int, str]
) -> None:
    make(tmp_path, *patches)
    assert [f for f in schema_findings(tmp_path) if f[0] == "S001"] == [("S001", *expected)]


def test_smtp_timeout_must_be_finite(tmp_path: Path) -> None:
    settings = "version: 1\nemail:\n  from: a@acme.example\n  smtp: {host: x, timeout: .inf}\n"
    make(tmp_path, settings=settings)
    assert schema_findings(tmp_path) == [
        ("S001", "kpictl.yaml", 4, "email.smtp.timeout must be a finite number, not '.inf'")
    ]


def test_the_bounds_accept_every_realistic_value(tmp_path: Path) -> None:
    make(
        tmp_path,
        ("kpi.yaml", "value: 100", "value: 1e15"),
        ("policy.yaml", "respond_within: 24h", "respond_within: 365d"),
        ("campaign.yaml", "target: 150", "target: -1000000000000000"),
        ("campaign.yaml", "start: 2026-10-01", "start: 1900-01-01"),
        ("campaign.yaml", "end: 2026-12-31\n", "end: 9000-12-31\n  readouts: [1, 3660]\n"),
    )
    assert [f for f in schema_findings(tmp_path) if f[0] == "S001"] == []


def test_the_example_registry_is_within_the_bounds() -> None:
    assert [f for f in schema_findings(EXAMPLE) if f[0] == "S001"] == []


# --- date options ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "option", "day"),
    [
        (["drill", "mql", "--deviation", "20", "--at", "9999-12-31"], "--at", "9999-12-31"),
        (["drill", "mql", "--outage", "--at", "9999-12-31T23:00+01:00"], "--at", "9999-12-31"),
        (["drill", "mql", "--outage", "--at", "0001-01-01T00:30+01:00"], "--at", "0001-01-01"),
        (["status", "--actuals", "a.csv", "--as-of", "9999-12-31"], "--as-of", "9999-12-31"),
        (
            ["escalate", "--actuals", "a.csv", "--as-of", "9999-12-31T23:59"],
            "--as-of",
            "9999-12-31",
        ),
        (
            ["readout", "spring-push", "-a", "a.csv", "--as-of", "1899-12-31"],
            "--as-of",
            "1899-12-31",
        ),
        (["calendar", "--from", "9999-12-01"], "--from", "9999-12-01"),
        (["calendar", "--to", "9999-12-31"], "--to", "9999-12-31"),
        (["check", "--as-of", "9999-12-31"], "--as-of", "9999-12-31"),
        (["map", "--as-of", "9999-12-31"], "--as-of", "9999-12-31"),
    ],
)
def test_date_option_out_of_range_is_a_usage_error(
    tmp_path: Path, run: Run, command: list[str], option: str, day: str
) -> None:
    root = make(tmp_path)
    result = run(*command, cwd=root)
    assert (result.code, result.err.splitlines()[-1]) == (
        2,
        f"Error: Invalid value for {option}: {day} {OUT_OF_RANGE}",
    )


@pytest.mark.parametrize("value", ["inf", "nan", "-inf"])
def test_drill_deviation_must_be_finite(tmp_path: Path, run: Run, value: str) -> None:
    root = make(tmp_path)
    result = run("drill", "mql", "--deviation", value, "--at", AS_OF, "-f", "json", cwd=root)
    assert (result.code, result.err.splitlines()[-1]) == (
        2,
        f"Error: Invalid value for --deviation: '{value}' is not a finite number: "
        "give the percentage behind target, like 18",
    )


def test_drill_ladder_past_year_9999_is_not_a_crash(tmp_path: Path, run: Run) -> None:
    tier = (
        "  - level: {n}\n    name: Tier {n}\n    deviation_pct: {n}\n"
        "    respond_within: 365d\n    notify: [$owner]\n    approver: $owner\n"
    )
    policy = "kind: escalation_policy\nid: standard\nname: Long\ntiers:\n"
    policy += "".join(tier.format(n=n) for n in range(1, 1201))
    root = make(tmp_path, ("policy.yaml", POLICY, policy))
    command = ("drill", "mql", "--deviation", "1", "--at", "9000-12-31T23:59", "-f", "json")
    result = run(*command, cwd=root)
    assert result.code == 0, result.err
    steps = json.loads(result.out)["steps"]
    # 1,200 years of respond-by from 9000 pass year 9999: the ladder stays at its end.
    assert (len(steps), steps[-1]["respond_by"]) == (1200, "9999-12-30T00:00:00+00:00")


# --- actual values from CSV ------------------------------------------------------------------

HEADER = "kpi,period,value,as_of\n"
NOT_A_NUMBER = (
    "is not a number: write digits with a dot for decimals and no thousands separators or "
    "units (1225, 36.6); row skipped"
)


def csv_problems(data: bytes) -> list[tuple[int, str]]:
    actuals = read_actuals(io.BytesIO(data), "actuals.csv", ("mql", "sql"), ("q4-push",))
    return [(p.row, p.message) for p in actuals.problems]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            "mql,2026-Q4,-1e308,2026-11-20",
            (2, "value -1e+308 is too large: values are at most 10^15 (1e15) in size; row skipped"),
        ),
        (
            "mql,2026-Q4,1000000000000001,2026-11-20",
            (2, "value 1e+15 is too large: values are at most 10^15 (1e15) in size; row skipped"),
        ),
        ("mql,2026-Q4,1e999,2026-11-20", (2, f"value '1e999' {NOT_A_NUMBER}")),
        ("mql,2026-Q4,inf,2026-11-20", (2, f"value 'inf' {NOT_A_NUMBER}")),
        (
            "mql,2026-Q4,1,9999-12-31",
            (2, f"as_of 9999-12-31 {OUT_OF_RANGE}; row skipped"),
        ),
        (
            "mql,2026-Q4,1,0001-01-01T00:00",
            (2, f"as_of 0001-01-01 {OUT_OF_RANGE}; row skipped"),
        ),
        # A field over csv's own limit (128 KiB) was `_csv.Error: field larger than field limit`.
        (
            "mql,2026-Q4," + "1" * 200_000 + ",2026-11-20",
            (2, "the line is longer than 65,536 bytes; row skipped"),
        ),
        (
            'mql,2026-Q4,"' + ("x" * 60_000 + "\n") * 2 + "x" * 60_000 + '",2026-11-20',
            (
                4,
                "the line cannot be read as CSV (field larger than field limit (131072)); "
                "row skipped",
            ),
        ),
        (
            "mql,2026-Q4," + "9" * 70 + "x,2026-11-20",
            (2, f"value '{'9' * 60}…' {NOT_A_NUMBER}"),
        ),
        # Control characters are never echoed (a terminal escape, a workflow command):
        # they are spelled out, so the message names the cell as it is.
        (
            "mq\x1b]0;x\x07l,2026-Q4,1,2026-11-20",
            (2, "unknown KPI 'mq\\x1b]0;x\\x07l': row skipped"),
        ),
    ],
)
def test_absurd_actuals_row_is_a_row_problem(row: str, expected: tuple[int, str]) -> None:
    data = (HEADER + row + "\nsql,2026-Q4,10,2026-11-20\n").encode()
    assert csv_problems(data)[:1] == [expected]


def test_the_second_row_of_a_problem_still_counts() -> None:
    data = (HEADER + "mql,2026-Q4,1e999,2026-11-20\nsql,2026-Q4,10,2026-11-20\n").encode()
    actuals = read_actuals(io.BytesIO(data), "actuals.csv", ("mql", "sql"))
    assert actuals.latest("sql", "2026-Q4") is not None


@pytest.mark.parametrize(
    ("data", "row", "message"),
    [
        (
            b"kpi,period,value,as_of" * 4000 + b"\n",
            1,
            "the header line is longer than 65,536 bytes: "
            "start the file with the header kpi,period,value,as_of",
        ),
        (
            HEADER.encode() + b"mql,2026-Q4,1,2026-11-20\nmql,2026-Q4,\xff,2026-11-20\n",
            3,
            "the file is not UTF-8 text: export it as CSV UTF-8 (comma-separated)",
        ),
    ],
)
def test_unusable_actuals_file(data: bytes, row: int, message: str) -> None:
    with pytest.raises(ActualsError) as caught:
        csv_problems(data)
    assert (caught.value.row, caught.value.message) == (row, message)


def test_lone_carriage_returns_still_end_lines() -> None:
    data = b"kpi,period,value,as_of\rmql,2026-Q4,1,2026-11-20\rmql,2026-Q4,x,2026-11-20\r"
    assert csv_problems(data) == [(3, f"value 'x' {NOT_A_NUMBER}")]


def test_problems_beyond_a_thousand_are_counted_not_kept() -> None:
    data = (HEADER + "mqls,2026-Q4,1,2026-11-20\n" * (MAX_PROBLEMS + 500)).encode()
    actuals = read_actuals(io.BytesIO(data), "actuals.csv", ("mql",))
    assert (len(actuals.problems), actuals.more_problems) == (1000, 500)
    assert actuals.problems[0] == (actuals.problems[0].__class__)(
        2, "unknown KPI 'mqls' (did you mean 'mql'?): row skipped"
    )


class _Rows(io.RawIOBase):
    """A large CSV produced line by line, never whole: `count` rows from `row(i)`."""

    def __init__(self, count: int, row: Iterator[bytes]) -> None:
        self.rows = iter([HEADER.encode()])
        self.more = row
        self.left = count

    def readline(self, size: int | None = -1) -> bytes:
        for line in self.rows:
            return line
        if self.left == 0:
            return b""
        self.left -= 1
        return next(self.more)


def _repeat(line: bytes) -> Iterator[bytes]:
    while True:
        yield line


def test_a_large_actuals_file_is_read_in_constant_memory() -> None:
    # 20,000 repeated rows: 540 KB of CSV, and a peak below that means it was never
    # held whole (read whole, it cost several times its size). The peak is constant:
    # the first thousand problems, kept to show.
    rows = _Rows(20_000, _repeat(b"mql,2026-Q4,610,2026-11-20\n"))
    tracemalloc.start()
    try:
        actuals = read_actuals(rows, "big.csv", ("mql",))  # type: ignore[arg-type]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (len(actuals), len(actuals.problems), actuals.more_problems) == (1, 1000, 18_999)
    assert peak < 400_000, peak


def test_corrections_of_many_days_take_linear_time() -> None:
    # Each later row corrects an earlier day, newest first: finding the value it
    # replaces in a list was quadratic (5,000 days took 9 s, 20,000 about 150 s).
    days = [date(1950, 1, 1) + timedelta(days=n) for n in range(20_000)]
    lines = [f"mql,2026-Q4,1,{day}\n".encode() for day in days]
    lines += [f"mql,2026-Q4,2,{day}\n".encode() for day in reversed(days)]
    with deadline(60):
        actuals = read_actuals(_Rows(len(lines), iter(lines)), "x.csv", ("mql",))  # type: ignore[arg-type]
    assert (len(actuals), actuals.more_problems) == (20_000, 20_000 - MAX_PROBLEMS)
    latest = actuals.latest("mql", "2026-Q4")
    assert latest is not None and (latest.value, latest.as_of) == (2, days[-1])


@pytest.mark.parametrize("command", ["status", "escalate", "readout"])
@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "mql,2026-Q4,-1e308,2026-11-20",
            "value -1e+308 is too large: values are at most 10^15 (1e15) in size; row skipped",
        ),
        (
            "mql,2026-Q4," + "1" * 200_000 + ",2026-11-20",
            "the line is longer than 65,536 bytes; row skipped",
        ),
    ],
)
def test_cli_reports_an_absurd_actual_and_carries_on(
    run: Run, tmp_path: Path, command: str, row: str, message: str
) -> None:
    csv = tmp_path / "actuals.csv"
    good = (EXAMPLE / "actuals" / "2026-11-20.csv").read_text(encoding="utf-8")
    csv.write_text(good + row + "\n", encoding="utf-8")
    args = [command, str(EXAMPLE), "--actuals", str(csv), "--as-of", AS_OF]
    if command == "readout":
        args[1:1] = ["q4-legacy-bi-displacement"]
    result = run(*args)
    assert (result.code, result.err) == (0, f"{csv}:{len(good.splitlines()) + 1}: {message}\n")


def test_cli_says_how_many_problems_it_does_not_show(run: Run, tmp_path: Path) -> None:
    csv = tmp_path / "actuals.csv"
    good = (EXAMPLE / "actuals" / "2026-11-20.csv").read_text(encoding="utf-8")
    csv.write_text(good + "mqls,2026-Q4,1,2026-11-20\n" * 1002, encoding="utf-8")
    result = run("status", str(EXAMPLE), "--actuals", str(csv), "--as-of", AS_OF, "-f", "csv")
    lines = result.err.splitlines()
    assert (result.code, len(lines), lines[-1]) == (
        0,
        1001,
        f"{csv}: 2 more rows with problems not shown: fix the rows above and run again",
    )


# --- kpictl new --field ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        # Growing the list to a hundred million items took minutes and gigabytes.
        (
            ["targets.99999999.period=2026-Q4"],
            "'targets.99999999.period': targets has 0 items so far; number them from 0 "
            "without gaps: the next is targets.0",
        ),
        (
            ["targets.0.period=2026-Q4", "targets.2.value=5"],
            "'targets.2.value': targets has 1 item so far; number them from 0 "
            "without gaps: the next is targets.1",
        ),
        # '²' passes str.isdigit but not int(): it was an internal error.
        (
            ["targets.².period=2026-Q4"],
            "'targets.².period': targets is a list; pick an item by number, like targets.0.²",
        ),
        (
            ["targets.9999999999.period=2026-Q4"],
            "'targets.9999999999.period': targets is a list; pick an item by number, "
            "like targets.0.9999999999",
        ),
    ],
)
def test_new_field_index_is_bounded(
    tmp_path: Path, run: Run, fields: list[str], message: str
) -> None:
    root = make(tmp_path)
    args = [arg for field in fields for arg in ("--field", field)]
    result = run("new", "kpi", "win-rate", str(root), *args, cwd=root)
    assert (result.code, result.err) == (2, f"kpictl: {message}\n")
    assert not (root / "kpis").exists()


# --- evaluation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expected", "actual", "direction", "result"),
    [
        (5e-324, 1e15, "increase", None),  # was -inf: `-Infinity` in status --format json
        (5e-324, 1e15, "decrease", None),
        (1e-300, -1e15, "increase", None),
        (100.0, 90.0, "increase", 10.0),
    ],
)
def test_deviation_is_finite_or_none(
    expected: float, actual: float, direction: str, result: float | None
) -> None:
    assert deviation(expected, actual, direction) == result


def test_status_json_stays_json_with_a_minute_target(run: Run, tmp_path: Path) -> None:
    root = make(
        tmp_path,
        ("kpi.yaml", "value: 100", "value: 5e-324"),
        ("actuals.csv", None, "kpi,period,value,as_of\nmql,2026-Q4,1e15,2026-11-20\n"),
    )
    result = run("status", "--actuals", "actuals.csv", "--as-of", AS_OF, "-f", "json", cwd=root)
    assert result.code == 0, result.err
    (mql,) = json.loads(result.out, parse_constant=pytest.fail)["kpis"]
    assert (mql["deviation_pct"], mql["state"]) == (None, "on-track")

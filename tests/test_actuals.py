"""Actual values from CSV: every bad row is reported with its row number, good rows are used."""

from __future__ import annotations

import io
import sys
from datetime import date
from pathlib import Path

import pytest

from kpictl.numbers.actuals import Actuals, ActualsError, parse_actuals
from tests.conftest import AS_OF, EXAMPLE, Run

KPIS = ("mql", "sql", "nrr")
CAMPAIGNS = ("q4-push",)
HEADER = "kpi,period,value,as_of\n"


def parse(text: str) -> Actuals:
    return parse_actuals(text, "actuals.csv", KPIS, CAMPAIGNS)


def problems(text: str) -> list[tuple[int, str]]:
    return [(p.row, p.message) for p in parse(text).problems]


def test_good_rows_are_read() -> None:
    actuals = parse(HEADER + "mql,2026-Q4,610,2026-11-20\nsql,2026-11,12.5,2026-11-19\n")
    assert actuals.problems == []
    mql = actuals.latest("mql", "2026-Q4")
    assert mql is not None and (mql.value, mql.as_of, mql.row) == (610, date(2026, 11, 20), 2)
    assert actuals.latest("sql", "2026-11") is not None


def test_latest_as_of_wins_whatever_the_row_order() -> None:
    actuals = parse(HEADER + "mql,2026-Q4,700,2026-11-20\nmql,2026-Q4,600,2026-11-13\n")
    latest = actuals.latest("mql", "2026-Q4")
    assert latest is not None and latest.value == 700
    earlier = actuals.latest("mql", "2026-Q4", on=date(2026, 11, 15))
    assert earlier is not None and earlier.value == 600
    assert actuals.latest("mql", "2026-Q4", on=date(2026, 11, 1)) is None


def test_campaign_id_is_a_period() -> None:
    actuals = parse(HEADER + "mql,q4-push,90,2026-11-20\n")
    assert actuals.problems == [] and actuals.latest("mql", "q4-push") is not None


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("mqls,2026-Q4,1,2026-11-20", "unknown KPI 'mqls' (did you mean 'mql'?): row skipped"),
        (",2026-Q4,1,2026-11-20", "no KPI id: row skipped"),
        ("mql,2026-Q5,1,2026-11-20", "'2026-Q5' is not a period or a campaign id"),
        ("mql,q4-psh,1,2026-11-20", "(did you mean 'q4-push'?)"),
        ("mql,2026-Q4,lots,2026-11-20", "value 'lots' is not a number"),
        ('mql,2026-Q4,"1,225",2026-11-20', "value '1,225' is not a number"),
        ("mql,2026-Q4,nan,2026-11-20", "value 'nan' is not a number"),
        ("mql,2026-Q4,1,20/11/2026", "as_of '20/11/2026' is not a date: use YYYY-MM-DD"),
        ("mql,2026-Q4,1,2026-02-30", "as_of '2026-02-30' is not a date"),
        ("mql,2026-Q4", "has 2 values where the header has 4 columns"),
    ],
)
def test_bad_row_is_reported_with_its_row_and_good_rows_kept(row: str, expected: str) -> None:
    actuals = parse(HEADER + "sql,2026-Q4,10,2026-11-20\n" + row + "\nnrr,2026-Q4,112,2026-11-20\n")
    assert [(p.row, expected in p.message) for p in actuals.problems] == [(3, True)], (
        actuals.problems
    )
    assert actuals.latest("sql", "2026-Q4") is not None
    assert actuals.latest("nrr", "2026-Q4") is not None


def test_duplicate_rows() -> None:
    text = HEADER + "mql,2026-Q4,610,2026-11-20\nmql,2026-Q4,610,2026-11-20\n"
    text += "mql,2026-Q4,620,2026-11-20\n"
    assert problems(text) == [
        (3, "repeats row 2 (mql 2026-Q4 as of 2026-11-20): ignored"),
        (
            4,
            "gives 620 where row 2 gives 610 for mql 2026-Q4 as of 2026-11-20: "
            "using this later row",
        ),
    ]
    latest = parse(text).latest("mql", "2026-Q4")
    assert latest is not None and latest.value == 620


def test_bom_crlf_spaces_and_column_order() -> None:
    text = "\ufeffAs_Of , KPI,value,period\r\n2026-11-20, mql ,610,2026-Q4\r\n\r\n"
    actuals = parse(text)
    assert actuals.problems == []
    assert actuals.latest("mql", "2026-Q4") is not None


def test_row_numbers_count_lines_after_blank_lines() -> None:
    assert problems(HEADER + "\nmql,2026-Q4,x,2026-11-20\n")[0][0] == 3


@pytest.mark.parametrize(
    ("text", "row", "message"),
    [
        ("", 1, "the file is empty"),
        ("\n\n", 1, "the file is empty"),
        ("kpi,period,value\nmql,2026-Q4,1\n", 1, "missing column as_of"),
        ("kpi;period;value;as_of\n", 1, "looks semicolon-separated"),
        (HEADER, 1, "the file has a header but no rows"),
    ],
)
def test_unusable_file_is_an_error(text: str, row: int, message: str) -> None:
    with pytest.raises(ActualsError) as caught:
        parse(text)
    assert caught.value.row == row
    assert message in caught.value.message


def test_cli_reports_problems_as_file_row_lines(run: Run, tmp_path: Path) -> None:
    csv = tmp_path / "actuals.csv"
    csv.write_bytes(
        b"\xef\xbb\xbfkpi,period,value,as_of\r\nmql,2026-Q4,1225,2026-11-20\r\n"
        b"mqls,2026-Q4,1,2026-11-20\r\nsql,2026-Q4,n/a,2026-11-20\r\n"
    )
    result = run("status", str(EXAMPLE), "--actuals", str(csv), "--as-of", AS_OF, "-f", "csv")
    assert result.code == 0
    assert result.err.splitlines() == [
        f"{csv}:3: unknown KPI 'mqls' (did you mean 'mql'?): row skipped",
        f"{csv}:4: value 'n/a' is not a number: write digits with a dot for decimals and no "
        "thousands separators or units (1225, 36.6); row skipped",
    ]
    mql = next(line for line in result.out.splitlines() if line.startswith("mql,"))
    assert ",tier," in mql  # the good row was used


def test_cli_empty_file_cannot_run(run: Run, tmp_path: Path) -> None:
    csv = tmp_path / "empty.csv"
    csv.write_text("")
    result = run("escalate", str(EXAMPLE), "--actuals", str(csv), "--as-of", AS_OF)
    assert result.code == 2
    assert result.err == (
        f"kpictl: {csv}:1: the file is empty: start it with the header kpi,period,value,as_of\n"
    )
    assert result.out == ""


def test_cli_reads_stdin(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    data = (EXAMPLE / "actuals" / "2026-11-20.csv").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    result = run("status", str(EXAMPLE), "--actuals", "-", "--as-of", AS_OF, "-f", "json")
    assert result.code == 0, result.err
    assert '"kpi": "mql"' in result.out


def test_cli_ignores_rows_measured_after_the_evaluation_date(run: Run) -> None:
    csv = str(EXAMPLE / "actuals" / "2026-11-20.csv")
    result = run("status", str(EXAMPLE), "--actuals", csv, "--as-of", "2026-11-18", "-f", "csv")
    assert result.code == 0
    assert f"{csv}:2: measured 2026-11-20, after the evaluation date 2026-11-18: not used" in (
        result.err.splitlines()
    )

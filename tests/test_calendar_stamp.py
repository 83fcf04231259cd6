"""`kpictl calendar`'s DTSTAMP: the moment the file is made, or SOURCE_DATE_EPOCH's.

With the reproducible-builds variable set, the same registry and options give the
same bytes, whenever they run; a value that is not a moment is a one-line error.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import EXAMPLE, Run

CALENDAR = ("calendar", str(EXAMPLE), "--from", "2026-11-20", "--to", "2026-12-31")
STAMPS = re.compile(r"^DTSTAMP:(.*)\r$", re.MULTILINE)


def test_source_date_epoch_makes_the_file_reproducible(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1795766400")
    first = run(*CALENDAR)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    epoch = run(*CALENDAR)
    assert (first.code, first.err, epoch.code, epoch.err) == (0, "", 0, "")
    assert STAMPS.findall(first.out) == ["20261127T080000Z"] * 12
    assert STAMPS.findall(epoch.out) == ["19700101T000000Z"] * 12
    assert first.out.replace("20261127T080000Z", "19700101T000000Z") == epoch.out


def test_without_source_date_epoch_the_stamp_is_now_in_utc(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    result = run(*CALENDAR)
    assert result.code == 0
    stamps = set(STAMPS.findall(result.out))
    assert len(stamps) == 1
    assert re.fullmatch(r"\d{8}T\d{6}Z", stamps.pop())


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("soon", "soon"),
        ("-1", "-1"),
        ("1.5", "1.5"),
        ("", ""),
        ("\u0661\u0662", "\u0661\u0662"),  # Arabic-Indic digits: isdigit, not ASCII
        ("1\n2", "1\\n2"),
        ("9" * 13, "9" * 13),
        ("221876928000", "221876928000"),  # 9000-12-31T23:59:60: a second too late
    ],
)
def test_a_source_date_epoch_that_is_not_a_moment_is_one_line(
    run: Run, monkeypatch: pytest.MonkeyPatch, value: str, shown: str
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    result = run(*CALENDAR)
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"kpictl: SOURCE_DATE_EPOCH={shown} is not a moment: set it to the whole seconds "
        "since 1970-01-01 UTC (at most 221876927999), or unset it\n"
    )


def test_the_last_moment_is_accepted(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "221876927999")
    result = run(*CALENDAR)
    assert result.code == 0, result.err
    assert set(STAMPS.findall(result.out)) == {"90001231T235959Z"}

"""The shipped example registry is the demo data for every command: it must check clean."""

from __future__ import annotations

import os

from tests.conftest import AS_OF, EXAMPLE, Run


def test_example_registry_checks_clean(run: Run) -> None:
    result = run("check", str(EXAMPLE), "--as-of", AS_OF, "--fail-on", "info")
    assert result.code == 0, result.out
    assert result.out == "No findings in 30 files.\n"
    assert result.err == ""


def test_example_registry_checks_clean_a_year_on(run: Run) -> None:
    # Targets run to the end of 2027 so the demo stays clean for a year. The one
    # exception is the point of C006: a year on, the Q1 2027 draft charter was due to
    # start long ago and nobody signed it; the demo shows that finding, and only it.
    result = run("check", str(EXAMPLE), "--as-of", "2027-12-31", "--fail-on", "info")
    assert result.code == 1, result.out
    draft = os.path.relpath(EXAMPLE / "campaigns" / "q1-2027-analytics-plus-upsell.yaml")
    assert result.out.splitlines() == [
        f"{draft}:5:9: C006 [warning] the campaign is still a draft although it was due to "
        "start on 2027-01-11: get jonas-keller (Jonas Keller) to sign it off and set status: "
        "active, move timeline.start, or set status: cancelled",
        "Found 0 errors, 1 warning, 0 info in 30 files (check failed, failing on info).",
    ]

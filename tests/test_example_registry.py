"""The shipped example registry is the demo data for every command: it must check clean."""

from __future__ import annotations

from tests.conftest import AS_OF, EXAMPLE, Run


def test_example_registry_checks_clean(run: Run) -> None:
    result = run("check", str(EXAMPLE), "--as-of", AS_OF, "--fail-on", "info")
    assert result.code == 0, result.out
    assert result.out == "No findings in 30 files.\n"
    assert result.err == ""


def test_example_registry_checks_clean_a_year_on(run: Run) -> None:
    # Targets run to the end of 2027 so the demo stays clean for a year.
    result = run("check", str(EXAMPLE), "--as-of", "2027-12-31", "--fail-on", "info")
    assert result.code == 0, result.out

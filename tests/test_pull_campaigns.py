"""`kpictl pull` records what a campaign produced, not everything in its dates (issue 12).

A campaign run binds `:campaign` to the campaign id (NULL for target periods) and runs
only for KPIs whose SQL uses it; readout dates and the day after the end are recorded
as campaign checkpoints, so `readout` and `recap` from the store have values. The
example registry is copied to a temporary folder first: nothing here writes into the
repository's registry/.kpictl.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from kpictl.numbers.queries import uses_campaign
from kpictl.registry.registry import load_registry
from tests.conftest import EXAMPLE, Run
from tests.test_pull import COUNT, NOT_FOR_CAMPAIGN, registry

AS_OF = "2026-11-20"
WEBINARS = "data-leaders-webinars-2026"
LEGACY = "q4-legacy-bi-displacement"

# What the pull of the example as of 2026-11-20 records for its campaigns: the webinar
# series' readouts (days 30, 60 and 90) and its close (1 September, the day after its
# end); the Q4 campaign's day-30 readout and its value to date. Cost per opportunity
# is dated by its stalest source (finance's weekly spend, 16 November).
CAMPAIGN_ROWS = [
    "branded-search-clicks,data-leaders-webinars-2026,1947,2026-07-01",
    "branded-search-clicks,data-leaders-webinars-2026,4071,2026-07-31",
    "branded-search-clicks,data-leaders-webinars-2026,6258,2026-08-30",
    "branded-search-clicks,data-leaders-webinars-2026,6350,2026-09-01",
    "cost-per-opportunity,q4-legacy-bi-displacement,2480,2026-10-31",
    "cost-per-opportunity,q4-legacy-bi-displacement,2540,2026-11-16",
    "mql,data-leaders-webinars-2026,301,2026-07-01",
    "mql,data-leaders-webinars-2026,632,2026-07-31",
    "mql,data-leaders-webinars-2026,944,2026-08-30",
    "mql,data-leaders-webinars-2026,962,2026-09-01",
    "pipeline-sourced,q4-legacy-bi-displacement,520000,2026-10-31",
    "pipeline-sourced,q4-legacy-bi-displacement,1010000,2026-11-20",
    "sql,data-leaders-webinars-2026,73,2026-07-01",
    "sql,data-leaders-webinars-2026,159,2026-07-31",
    "sql,data-leaders-webinars-2026,261,2026-08-30",
    "sql,data-leaders-webinars-2026,271,2026-09-01",
    "sql,q4-legacy-bi-displacement,58,2026-10-31",
    "sql,q4-legacy-bi-displacement,101,2026-11-20",
]


@pytest.fixture(scope="module")
def pulled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the example registry after `kpictl pull --as-of 2026-11-20`."""
    from kpictl.__main__ import main

    root = tmp_path_factory.mktemp("example") / "registry"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".kpictl"))
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("KPICTL_STORE", raising=False)  # the copy's own .kpictl/store.db
        assert main(["pull", str(root), "--as-of", AS_OF]) == 0
    return root


def campaign_rows(export: str) -> list[str]:
    campaigns = (WEBINARS, LEGACY)
    return [line for line in export.splitlines()[1:] if line.split(",")[1] in campaigns]


def test_the_example_records_what_each_campaign_produced(pulled: Path, run: Run) -> None:
    exported = run("actuals", "export", str(pulled))
    assert exported.code == 0
    assert campaign_rows(exported.out) == CAMPAIGN_ROWS


def test_a_second_pull_asks_for_no_campaign_checkpoint_again(pulled: Path, run: Run) -> None:
    before = run("actuals", "export", str(pulled)).out
    again = run("pull", str(pulled), "--as-of", AS_OF, "--format", "json")
    data = json.loads(again.out)
    assert (again.code, data["failures"], data["notes"]) == (0, [], [])
    kinds = [(o["kpi"], o["period"], o["kind"]) for o in data["observations"]]
    assert [k for k in kinds if k[2] in ("campaign", "readout")] == [
        ("cost-per-opportunity", LEGACY, "campaign"),
        ("pipeline-sourced", LEGACY, "campaign"),
        ("sql", LEGACY, "campaign"),
    ]
    assert run("actuals", "export", str(pulled)).out == before


def test_the_example_charter_kpis_bind_campaign_and_no_other_kpi_does() -> None:
    registry, findings = load_registry(EXAMPLE)
    assert findings == []
    using = sorted(k.id for k in registry.kpis if k.actual and uses_campaign(k.actual.sql))
    assert using == [
        "branded-search-clicks",
        "cost-per-opportunity",
        "mql",
        "pipeline-sourced",
        "sql",
    ]


@pytest.mark.parametrize(
    ("sql", "used"),
    [
        ("select 1 as value where :campaign is null", True),
        ("select 1 as value where (cast(:campaign as varchar) is null)", True),
        ("select 1 as value where x = :campaigns", False),
        ("select 1 as value where x = ::campaign", False),
        ("select 1 as value where x = :as_of", False),
    ],
)
def test_uses_campaign_finds_the_bind_parameter_as_text_would(sql: str, used: bool) -> None:
    assert uses_campaign(sql) is used


# --- a small DuckDB registry -----------------------------------------------------------------

# `:campaign` must be NULL for the target period: this SQL counts 1000 then, and only
# the campaign's leads (every lead of the test warehouse) in a campaign run.
TELLS = "select case when :campaign is null then 1000 else 1 end as value"


def test_a_small_registry_records_its_campaign_rows(tmp_path: Path, run: Run) -> None:
    root = registry(tmp_path / "reg", COUNT)
    assert run("pull", str(root), "--as-of", AS_OF, "--no-backfill").code == 0
    result = run("actuals", "export", str(root))
    assert result.out == (
        "kpi,period,value,as_of\nmql,2026-Q4,104,2026-11-20\nmql,spring-push,104,2026-11-20\n"
    )


def test_campaign_is_null_for_the_target_period_and_the_id_for_the_campaign(
    tmp_path: Path, run: Run
) -> None:
    root = registry(tmp_path / "reg", TELLS)
    code, out, err = _dry_json(run, root)
    assert (code, err) == (0, "")
    assert [(o["period"], o["value"], o["kind"]) for o in out["observations"]] == [
        ("2026-Q4", 1000.0, "current"),
        ("spring-push", 1.0, "campaign"),
    ]


def test_a_sql_without_campaign_records_no_campaign_row(tmp_path: Path, run: Run) -> None:
    root = registry(tmp_path / "reg", "select 7 as value")
    code, out, err = _dry_json(run, root)
    assert (code, err) == (0, f"kpictl: note: {NOT_FOR_CAMPAIGN}\n")
    assert [(o["period"], o["kind"]) for o in out["observations"]] == [("2026-Q4", "current")]
    assert out["notes"] == [NOT_FOR_CAMPAIGN]
    assert run("pull", str(root), "--as-of", AS_OF, "--no-backfill").code == 0
    assert run("actuals", "export", str(root)).out == (
        "kpi,period,value,as_of\nmql,2026-Q4,7,2026-11-20\n"
    )


def test_readout_checkpoints_come_with_backfill_only(tmp_path: Path, run: Run) -> None:
    root = registry(tmp_path / "reg", COUNT)
    result = run("pull", str(root), "--as-of", AS_OF, "--dry-run", "-f", "json")
    kinds = [(o["period"], o["as_of"], o["kind"]) for o in json.loads(result.out)["observations"]]
    assert [k for k in kinds if k[0] == "spring-push"] == [
        ("spring-push", "2026-10-31", "readout"),  # day 30
        ("spring-push", AS_OF, "campaign"),
    ]
    code, out, _ = _dry_json(run, root)
    assert code == 0
    assert [o["kind"] for o in out["observations"]] == ["current", "campaign"]


def _dry_json(run: Run, root: Path) -> tuple[int, dict[str, Any], str]:
    result = run("pull", str(root), "--as-of", AS_OF, "--dry-run", "--no-backfill", "-f", "json")
    return result.code, json.loads(result.out), result.err


# --- readout and recap from the store ----------------------------------------------------------


def numbers(out: str) -> list[str]:
    """The lines stating a campaign KPI's numbers, up to the date they were measured.

    The actuals file dates the day-30 values Friday 30 October; pull records them at
    the readout date, Saturday 31 October (nothing was attributed to the Friday, so the
    numbers are the same).
    """
    lines = []
    for line in out.splitlines():
        if " against " in line:
            lines.append(line.split(" Measured ")[0].strip())
    return lines


@pytest.mark.parametrize(
    "command",
    [("readout", LEGACY), ("recap", WEBINARS)],
    ids=["readout", "recap"],
)
def test_readout_and_recap_from_the_store_state_the_actuals_files_numbers(
    pulled: Path, run: Run, command: tuple[str, str]
) -> None:
    actuals = str(pulled / "actuals" / "2026-11-20.csv")
    from_store = run(*command, str(pulled), "--as-of", AS_OF)
    from_file = run(*command, str(pulled), "--actuals", actuals, "--as-of", AS_OF)
    assert (from_store.code, from_file.code) == (0, 0)
    assert numbers(from_store.out) == numbers(from_file.out)
    # Readout: three KPIs. Recap: the bottom line, three results and the bottom line
    # again in the email to the driver.
    assert len(numbers(from_store.out)) == (3 if command[0] == "readout" else 6)
    if command[0] == "readout":
        assert numbers(from_store.out)[0] == (
            "EUR 520,000 against EUR 606,522 expected by now (campaign target EUR 1,800,000): "
            "14% behind pace."
        )
        assert from_store.out.count("Measured Sat 31 Oct 2026.") == 3
    else:
        assert (
            "Miss  Sales Qualified Leads: 271 against a target of 300 (9.7% behind target, "
            "29 short)."
        ) in numbers(from_store.out)

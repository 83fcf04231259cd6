"""The recap opens with the bottom line (issue 14, item 4).

The primary KPI's verdict comes first, and in the subject too; while a campaign runs it
is "on pace" / "behind pace" against the target to date (prorated like linear pacing),
never "hit" against the full target; with a budget it states the cost per result; and
what only the driver can fill in goes to the driver in an email of its own, never into
the executives' recap. Each case renders the real `kpictl recap --out` and compares the
subject exactly and the text and HTML parts with golden files under tests/golden/recap/.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tests.conftest import Run, assert_golden
from tests.helpers import SECOND_KPI, Patch, patched, write_registry
from tests.test_emails import check_message, parts, read_eml, readable

SQL = SECOND_KPI.replace("name: MQLs", "name: SQLs")
SETTINGS = 'version: 1\ntimezone: Europe/Berlin\nemail:\n  from: "KPI Desk <kpi@acme.example>"\n'
C = "campaign.yaml"
AFTER_OBJECTIVE = "objective: Add MQLs.\n"
BUDGET: Patch = (C, AFTER_OBJECTIVE, AFTER_OBJECTIVE + "budget: {amount: 6000, currency: EUR}\n")
COMPLETE: Patch = (C, "status: active\n", "status: complete\n")
RETRO = (
    "retrospective:\n"
    "  why: Co-hosts made the sessions credible.\n"
    "  worked: [Customer co-hosts]\n"
    "  did_not_work: [August sessions]\n"
    "  recommendations: [Run June and July only]\n"
    "  decisions: [Fund the 2027 series]\n"
    "  next_steps:\n"
    "    - {action: Book co-hosts, owner: ann, due: 2027-02-26}\n"
)
WITH_RETRO: Patch = (
    C,
    "  - {by: bob, date: 2026-09-24}\n",
    "  - {by: bob, date: 2026-09-24}\n" + RETRO,
)
SQL_SECONDARY: Patch = (
    C,
    "primary_kpi: {kpi: mql, target: 150}\n",
    "primary_kpi: {kpi: mql, target: 150}\nsecondary_kpis: [{kpi: sql, target: 40}]\n"
    "commitments:\n  - {team: demand-gen, kpi: mql, target: 150}\n",
)


def recap(
    run: Run, tmp_path: Path, patches: list[Patch], rows: list[str], as_of: date
) -> tuple[Path, str]:
    root = write_registry(tmp_path / "reg", patched(("sql.yaml", None, SQL), *patches), SETTINGS)
    csv = tmp_path / "actuals.csv"
    csv.write_text("kpi,period,value,as_of\n" + "".join(f"{r}\n" for r in rows))
    out = tmp_path / "out"
    args = ("recap", "spring-push", str(root), "-a", str(csv), "--as-of", as_of.isoformat())
    result = run(*args, "--out", str(out))
    assert result.code == 0, result.err
    return out, result.err


CASES = [
    pytest.param(
        [COMPLETE, WITH_RETRO],
        ["mql,spring-push,162,2026-12-31", "sql,spring-push,31,2026-12-31"],
        date(2027, 1, 8),
        "Recap: Spring push · MQLs hit: 162 vs 150 target · 1 of 2 targets hit",
        id="complete-hit-no-budget",
    ),
    pytest.param(
        [COMPLETE, WITH_RETRO, BUDGET],
        ["mql,spring-push,162,2026-12-31", "sql,spring-push,31,2026-12-31"],
        date(2027, 1, 8),
        "Recap: Spring push · MQLs hit: 162 vs 150 target · 1 of 2 targets hit",
        id="complete-hit-budget",
    ),
    pytest.param(
        [COMPLETE, WITH_RETRO, BUDGET],
        ["mql,spring-push,120,2026-12-31", "sql,spring-push,44,2026-12-31"],
        date(2027, 1, 8),
        "Recap: Spring push · MQLs missed: 120 vs 150 target · 1 of 2 targets hit",
        id="complete-miss-budget",
    ),
    pytest.param(
        [],
        ["mql,spring-push,60,2026-11-20", "sql,spring-push,25,2026-11-20"],
        date(2026, 11, 20),
        "Recap to date: Spring push · MQLs behind pace: 60 vs 83 expected by now",
        id="running-behind-no-budget",
    ),
    pytest.param(
        [BUDGET],
        ["mql,spring-push,90,2026-11-20", "sql,spring-push,25,2026-11-20"],
        date(2026, 11, 20),
        "Recap to date: Spring push · MQLs on pace: 90 vs 83 expected by now",
        id="running-on-pace-budget",
    ),
]


@pytest.mark.parametrize(("patches", "rows", "as_of", "subject"), CASES)
def test_recap_opens_with_the_bottom_line(
    run: Run,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    patches: list[Patch],
    rows: list[str],
    as_of: date,
    subject: str,
) -> None:
    out, _ = recap(run, tmp_path, [SQL_SECONDARY, *patches], rows, as_of)
    message = read_eml(out / "spring-push-recap.eml")
    check_message(message)
    assert message["Subject"] == subject
    name = request.node.callspec.id
    assert_golden(f"recap/{name}.txt", readable(message))
    assert_golden(f"recap/{name}.html", parts(message)[1])


def test_a_running_campaign_is_never_hit_against_the_full_target(run: Run, tmp_path: Path) -> None:
    # 90 of 150 on 20 Nov is ahead of the 83 due by then, but far from the full target.
    out, err = recap(
        run, tmp_path, [SQL_SECONDARY], ["mql,spring-push,90,2026-11-20"], date(2026, 11, 20)
    )
    text, html = parts(read_eml(out / "spring-push-recap.eml"))
    assert "Hit" not in text and ">Hit<" not in html
    assert (
        "  MQLs: on pace, 90 so far against 83 expected by now (target 150 by Thu 31 Dec 2026).\n"
        in text
    )
    assert err == "kpictl: warning: 'spring-push' is active: the recap shows results to date\n"


def test_the_drivers_requests_go_to_the_driver_alone(run: Run, tmp_path: Path) -> None:
    # Complete, no retrospective, no SQL value, a next step without an owner.
    out, _ = recap(
        run,
        tmp_path,
        [SQL_SECONDARY, COMPLETE, BUDGET],
        ["mql,spring-push,162,2026-12-31"],
        date(2027, 1, 8),
    )
    assert sorted(path.name for path in out.iterdir()) == [
        "index.md",
        "spring-push-recap-requests.eml",
        "spring-push-recap.eml",
    ]
    executives = read_eml(out / "spring-push-recap.eml")
    text = parts(executives)[0]
    assert "please add" not in text.lower() and "Report the campaign" not in text
    assert (
        "WHY, AND WHAT WE LEARNED\n  The retrospective is still being written; Ann Lee will "
        "share why, what worked and what we recommend.\n" in text
    )
    driver = read_eml(out / "spring-push-recap-requests.eml")
    check_message(driver)
    assert_golden("recap/requests-to-the-driver.txt", readable(driver))
    assert_golden("recap/requests-to-the-driver.html", parts(driver)[1])


def test_no_requests_no_drivers_email(run: Run, tmp_path: Path) -> None:
    out, _ = recap(
        run,
        tmp_path,
        [SQL_SECONDARY, COMPLETE, WITH_RETRO],
        ["mql,spring-push,162,2026-12-31", "sql,spring-push,31,2026-12-31"],
        date(2027, 1, 8),
    )
    assert sorted(path.name for path in out.iterdir()) == ["index.md", "spring-push-recap.eml"]


def test_cost_per_result_for_a_money_kpi(run: Run, tmp_path: Path) -> None:
    # A currency primary KPI: budget per unit of money produced, and the return per unit.
    money = (
        SQL.replace("id: sql", "id: pipeline")
        .replace("name: SQLs", "name: Pipeline")
        .replace("unit: count", "unit: currency\ncurrency: EUR")
    )
    patches: list[Patch] = [
        ("pipeline.yaml", None, money),
        (C, "primary_kpi: {kpi: mql, target: 150}", "primary_kpi: {kpi: pipeline, target: 90000}"),
        COMPLETE,
        WITH_RETRO,
        BUDGET,
    ]
    out, _ = recap(
        run, tmp_path, patches, ["pipeline,spring-push,96000,2026-12-31"], date(2027, 1, 8)
    )
    text = parts(read_eml(out / "spring-push-recap.eml"))[0]
    assert (
        "  Cost per result: EUR 0.06 per EUR 1 of Pipeline (EUR 6,000 budget for EUR 96,000: "
        "EUR 16.00 per EUR 1 spent).\n" in text
    )


def test_no_cost_per_result_across_currencies(run: Run, tmp_path: Path) -> None:
    money = (
        SQL.replace("id: sql", "id: pipeline")
        .replace("name: SQLs", "name: Pipeline")
        .replace("unit: count", "unit: currency\ncurrency: USD")
    )
    patches: list[Patch] = [
        ("pipeline.yaml", None, money),
        (C, "primary_kpi: {kpi: mql, target: 150}", "primary_kpi: {kpi: pipeline, target: 90000}"),
        COMPLETE,
        WITH_RETRO,
        BUDGET,
    ]
    out, _ = recap(
        run, tmp_path, patches, ["pipeline,spring-push,96000,2026-12-31"], date(2027, 1, 8)
    )
    text = parts(read_eml(out / "spring-push-recap.eml"))[0]
    assert "Cost per result" not in text


# A KPI to keep down (flat pacing: the target holds all along): "behind" means above it.
COST = (
    SQL.replace("id: sql", "id: cost")
    .replace("name: SQLs", "name: Cost per lead")
    .replace("unit: count", "unit: currency\ncurrency: EUR")
    .replace("direction: increase", "direction: decrease\npacing: flat")
)
COST_PRIMARY: list[Patch] = [
    ("cost.yaml", None, COST),
    (C, "primary_kpi: {kpi: mql, target: 150}", "primary_kpi: {kpi: cost, target: 40}"),
]


@pytest.mark.parametrize(
    ("status", "value", "as_of", "subject", "line"),
    [
        (
            [],
            "44",
            date(2026, 11, 20),
            "Recap to date: Spring push · Cost per lead behind pace: EUR 44 vs EUR 40 target",
            "  Cost per lead: behind pace, EUR 44 against a target of EUR 40 (10% above target).",
        ),
        (
            [COMPLETE, WITH_RETRO],
            "38",
            date(2027, 1, 8),
            "Recap: Spring push · Cost per lead hit: EUR 38 vs EUR 40 target",
            "  Cost per lead: target hit, EUR 38 against EUR 40 (5% below target).",
        ),
        (
            [COMPLETE, WITH_RETRO],
            "46",
            date(2027, 1, 8),
            "Recap: Spring push · Cost per lead missed: EUR 46 vs EUR 40 target",
            "  Cost per lead: target missed, EUR 46 against EUR 40 (15% above target, EUR 6 over).",
        ),
    ],
)
def test_a_kpi_to_keep_down(
    run: Run,
    tmp_path: Path,
    status: list[Patch],
    value: str,
    as_of: date,
    subject: str,
    line: str,
) -> None:
    day = "2026-11-20" if as_of.year == 2026 else "2026-12-31"
    out, _ = recap(
        run, tmp_path, [*COST_PRIMARY, *status], [f"cost,spring-push,{value},{day}"], as_of
    )
    message = read_eml(out / "spring-push-recap.eml")
    assert message["Subject"] == subject
    text = parts(message)[0]
    assert line in text.splitlines()
    assert "Cost per result" not in text  # no budget

"""Wording on a registry of one: every email kind and every view says "1 day", "1 KPI",
"1 file", never "1 days" or "1 KPIs", and never shows a role such as `$owner` where a
person's name belongs.

One table, one line per output: the command run on tests.helpers' BASE (one KPI, one
campaign, one of everything), the phrases it must contain, and the same two checks on
all of it. `kpictl drill` is left out on purpose: it quotes the policy's own entries
(`via $owner`) so that a broken ladder can be found in the YAML.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import Run
from tests.gitrepo import Repo, git_env, requires_git  # noqa: F401 - git_env is a fixture
from tests.helpers import make

# A count of one followed by a plural noun, and a role where prose should name someone.
ONE_MANY = re.compile(
    r"(?<![\d.,])1 (days|KPIs|targets|files|changes|commits|hours|people|sources|tiers|"
    r"errors|warnings|findings|schemas|weeks|readouts|campaigns|terms|persons)\b"
)
ROLE = re.compile(r"\$(owner|backup|source)")

# The KPI's value is 10 against a Q4 target of 100, measured the day before the email.
ACTUALS = "kpi,period,value,as_of\nmql,2026-Q4,10,2026-11-19\nmql,spring-push,10,2026-11-19\n"
# Measured three days before: older than twice a daily refresh, a data outage.
STALE = "kpi,period,value,as_of\nmql,2026-Q4,10,2026-11-17\n"
ONE_DAY_CAMPAIGN = ("campaign.yaml", "  end: 2026-12-31\n", "  end: 2026-10-01\n  readouts: []\n")

CASES = [
    pytest.param(
        ("escalate", "{reg}", "--actuals", "{actuals}", "--as-of", "2026-11-20"),
        (),
        ["The value is 1 day old.", "Approves the corrective action:  Ann Lee"],
        id="escalation-email",
    ),
    pytest.param(
        ("escalate", "{reg}", "--actuals", "{stale}", "--as-of", "2026-11-20"),
        (
            (
                "policy.yaml",
                "    approver: $owner\n",
                "    approver: $owner\n    on_data_outage: true\n",
            ),
        ),
        ["(3 days old; the limit is 2 days)"],
        id="outage-email",
    ),
    pytest.param(
        ("kickoff", "spring-push", "{reg}", "--as-of", "2026-09-25"),
        (ONE_DAY_CAMPAIGN,),
        ["Starts Thu 1 Oct 2026, ends Thu 1 Oct 2026 (1 day)."],
        id="kickoff-email",
    ),
    pytest.param(
        ("readout", "spring-push", "{reg}", "--actuals", "{actuals}", "--as-of", "2026-12-30"),
        (),
        [
            "Day 90 readout: Spring push · 1 of 1 KPI behind pace",
            "99% of the campaign is behind us and 1 day is left.",
            "1 of 1 KPI is behind pace: MQLs.",
            "needs 140 more in 1 day,",
        ],
        id="readout-email",
    ),
    pytest.param(
        ("recap", "spring-push", "{reg}", "--actuals", "{actuals}", "--as-of", "2027-01-02"),
        (),
        ["Recap: Spring push · MQLs missed: 10 vs 150 target"],
        id="recap-email",
    ),
    pytest.param(
        ("status", "{reg}", "--actuals", "{actuals}", "--as-of", "2026-11-20"),
        (),
        ["1 KPI: 0 on track, 1 escalated, 0 in a data outage, 0 without a target."],
        id="status-text",
    ),
    pytest.param(
        ("status", "{reg}", "--actuals", "{actuals}", "--as-of", "2026-11-20", "-f", "markdown"),
        (),
        ["1 KPI: 0 on track, 1 escalated"],
        id="status-markdown",
    ),
    pytest.param(
        ("map", "{reg}", "--as-of", "2026-11-20"),
        (),
        ["1 KPI, 2 people, 1 data source; grouped by KPI", "= 1 primary + 0 backup + 1 source\n"],
        id="map-text",
    ),
    pytest.param(
        ("map", "{reg}", "--as-of", "2026-11-20", "-f", "markdown"),
        (),
        ["1 KPI, 2 people and 1 data source, grouped by KPI."],
        id="map-markdown",
    ),
    pytest.param(
        ("map", "{reg}", "--as-of", "2026-11-20", "-f", "html"),
        (),
        ["1 KPI"],
        id="map-html",
    ),
    pytest.param(
        ("who", "bob", "{reg}", "--as-of", "2026-11-20"),
        (),
        ["Backup owner of 1 KPI"],
        id="who-text",
    ),
    pytest.param(
        ("who", "demand-gen", "{reg}", "--as-of", "2026-11-20", "-f", "markdown"),
        (),
        [],
        id="who-markdown",
    ),
    pytest.param(
        ("check", "{reg}", "--as-of", "2027-02-01"),
        (),
        ["Found 0 errors, 1 warning, 0 info in 8 files"],
        id="check-summary",
    ),
    pytest.param(
        ("calendar", "{reg}", "--from", "2026-11-01", "--to", "2026-11-30"),
        (),
        ["SUMMARY:Data health check: Ann Lee (1 KPI)"],
        id="calendar",
    ),
]


@pytest.mark.parametrize(("args", "patches", "phrases"), CASES)
def test_one_of_everything_reads_right(
    tmp_path: Path,
    run: Run,
    args: tuple[str, ...],
    patches: tuple[tuple[str, str | None, str], ...],
    phrases: list[str],
) -> None:
    reg = make(tmp_path / "reg", *patches)
    actuals, stale = tmp_path / "actuals.csv", tmp_path / "stale.csv"
    actuals.write_text(ACTUALS, encoding="utf-8")
    stale.write_text(STALE, encoding="utf-8")
    filled = [a.format(reg=reg, actuals=actuals, stale=stale) for a in args]
    result = run(*filled)
    assert result.code in (0, 1), result.err
    out = result.out + result.err
    for phrase in phrases:
        assert phrase in out, f"{phrase!r} not in:\n{out}"
    assert ONE_MANY.findall(out) == [], out
    assert ROLE.findall(out) == [], out


@requires_git
@pytest.mark.usefixtures("git_env")
def test_changelog_and_codeowners_count_one(tmp_path: Path, run: Run) -> None:
    repo = Repo.init(tmp_path / "repo")
    people = make(repo.path / "registry").joinpath("people.yaml")
    people.write_text(
        people.read_text(encoding="utf-8").replace(
            "team: demand-gen\n---", "team: demand-gen\ngithub: ann-lee\n---"
        ),
        encoding="utf-8",
    )
    repo.commit("Add the registry")
    for output_format in ("text", "markdown"):
        result = run("changelog", "mql", "registry", "-f", output_format, cwd=repo.path)
        assert "1 change in 1 commit touching" in result.out, result.out
    result = run("codeowners", "registry", "-o", "CODEOWNERS", cwd=repo.path)
    assert result.code == 0, result.err
    assert re.search(r"owners for \d+ files?\.", result.out), result.out
    assert ONE_MANY.findall(result.out) == []


def test_the_plural_helper_is_the_templates_plural() -> None:
    from kpictl.display import plural
    from kpictl.templating.render import environment

    env = environment()
    assert env.globals["plural"] is plural
    words = env.from_string('{% import "map/_words.j2" as w %}{{ w.plural(1, "KPI", "KPIs") }}')
    mail = env.from_string('{% from "email/_macros.j2" import plural %}{{ plural(2, "day") }}')
    assert (words.render(), mail.render()) == ("1 KPI", "2 days")

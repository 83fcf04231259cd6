"""`kpictl who` lists the experiments a person or team owns."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import AS_OF, EXAMPLE, Run

EXPERIMENT = "webinar-next-day-followup"
EXPERIMENT_NAME = "Next-day SDR follow-up for live webinar questions"


def who(run: Run, subject: str, output_format: str, root: Path = EXAMPLE) -> str:
    result = run("who", subject, str(root), "-f", output_format, "--as-of", AS_OF)
    assert (result.code, result.err) == (0, "")
    return result.out


def section_of(text: str, start: str, end: str) -> list[str]:
    """The lines of `text` from the line `start` up to the line `end` (not included)."""
    lines = text.splitlines()
    begin = lines.index(start)
    return lines[begin : lines.index(end, begin)]


def test_who_text_lists_the_experiments_a_person_owns(run: Run) -> None:
    out = who(run, "rachel-adeyemi", "text")
    assert section_of(out, "Experiments owned (1)", "Glossary terms owned (1)") == [
        "Experiments owned (1)",
        f"  {EXPERIMENT}: {EXPERIMENT_NAME} (concluded, adopted); moves mql-to-sql-rate",
        "",
    ]
    # Someone who owns none says so, as the other sections do.
    out = who(run, "aisha-okafor", "text")
    assert section_of(out, "Experiments owned (0)", "Glossary terms owned (0)") == [
        "Experiments owned (0)",
        "  none",
        "",
    ]


def test_who_markdown_lists_the_experiments_of_a_team_member(run: Run) -> None:
    out = who(run, "sales-development", "markdown")
    assert section_of(out, "## Experiments", "## Glossary terms") == [
        "## Experiments",
        "",
        f"- `{EXPERIMENT}` {EXPERIMENT_NAME}: concluded, adopted; moves `mql-to-sql-rate` "
        "(Rachel Adeyemi)",
        "",
    ]


def test_who_json_lists_the_experiments_and_their_owner(run: Run) -> None:
    data = json.loads(who(run, "rachel-adeyemi", "json"))
    assert data["experiments"] == [
        {
            "experiment": EXPERIMENT,
            "status": "concluded",
            "kpi": "mql-to-sql-rate",
            "decision": "adopt",
            "person": "rachel-adeyemi",
            "via_team": None,
        }
    ]
    assert "rachel-adeyemi" in data["people"]


def test_who_lists_experiments_in_life_cycle_order_with_names_escaped(
    run: Run, tmp_path: Path
) -> None:
    root = tmp_path / "registry"
    shutil.copytree(EXAMPLE, root)
    (root / "experiments" / "more.yaml").write_text(
        "kind: experiment\n"
        "id: subject-line-test\n"
        "name: 'Subject *lines* <b>x</b> | [a](b) `c`'\n"
        "status: running\n"
        "hypothesis: Shorter subject lines are opened more.\n"
        "kpi: mql\n"
        "owner: rachel-adeyemi\n"
        "control: The usual subject lines\n"
        "decision_rule: Adopt if opens rise 2 points after 5,000 sends per arm.\n"
        "timeline: {start: 2026-11-01}\n",
        encoding="utf-8",
    )
    text = who(run, "rachel-adeyemi", "text", root)
    assert section_of(text, "Experiments owned (2)", "Glossary terms owned (1)")[1:3] == [
        "  subject-line-test: Subject *lines* <b>x</b> | [a](b) `c` (running); moves mql",
        f"  {EXPERIMENT}: {EXPERIMENT_NAME} (concluded, adopted); moves mql-to-sql-rate",
    ]
    markdown = who(run, "rachel-adeyemi", "markdown", root)
    assert section_of(markdown, "## Experiments", "## Glossary terms")[2] == (
        r"- `subject-line-test` Subject \*lines\* &lt;b&gt;x&lt;/b&gt; \| \[a\](b) \`c\`: "
        "running; moves `mql`"
    )


TEAM_EXPERIMENT = """\
kind: experiment
id: pricing-page-chat
name: Chat on the pricing page
status: planned
hypothesis: A chat on the pricing page turns more visits into demo requests.
kpi: demo-requests-gone
owner: demand-gen
control: The pricing page without chat
decision_rule: Adopt if demo requests rise 10% over four weeks.
timeline: {start: 2026-12-01}
"""


def test_a_team_owned_experiment_on_an_unknown_kpi_reads_for_the_team_and_a_member(
    run: Run, tmp_path: Path
) -> None:
    root = tmp_path / "registry"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".kpictl"))
    (root / "experiments" / "team.yaml").write_text(TEAM_EXPERIMENT, encoding="utf-8")
    chat = "pricing-page-chat: Chat on the pricing page (planned); moves demo-requests-gone"
    founder = (
        "  branded-search-founder-videos: Founder videos on LinkedIn to lift branded search "
        "(planned); moves branded-search-clicks"
    )
    migration = (
        "  migration-assessment-offer: Free migration assessment instead of a demo (running); "
        "moves sql"
    )
    text = who(run, "demand-gen", "text", root)
    assert section_of(text, "Experiments owned (3)", "Glossary terms owned (2)") == [
        "Experiments owned (3)",
        f"  {chat} [not in the registry] (the team)",
        f"{founder} (Tom Brennan)",
        f"{migration} (Tom Brennan)",
        "",
    ]
    text = who(run, "tom-brennan", "text", root)
    assert section_of(text, "Experiments owned (3)", "Glossary terms owned (0)") == [
        "Experiments owned (3)",
        f"  {chat} [not in the registry] (through Demand Generation)",
        founder,
        migration,
        "",
    ]
    markdown = who(run, "tom-brennan", "markdown", root)
    assert section_of(markdown, "## Experiments", "## Glossary terms")[2] == (
        "- `pricing-page-chat` Chat on the pricing page: planned; moves `demo-requests-gone` "
        "(not in the registry) (through Demand Generation)"
    )
    data = json.loads(who(run, "demand-gen", "json", root))
    assert data["experiments"][0] == {
        "experiment": "pricing-page-chat",
        "status": "planned",
        "kpi": "demo-requests-gone",
        "decision": None,
        "person": None,
        "via_team": None,
    }


def test_who_holds_each_experiment_as_kpictl_experiments_shows_it() -> None:
    from kpictl.check.check import check
    from kpictl.views.experiments import experiment_views
    from kpictl.views.who import ExperimentDuty, build_who

    registry = check(EXAMPLE).registry
    view = build_who(registry, "rachel-adeyemi")
    [shown] = experiment_views(registry, [e for e in registry.experiments if e.id == EXPERIMENT])
    assert shown.owner.id == "rachel-adeyemi" and shown.kpi_name == "MQL to SQL conversion rate"
    assert view.experiments == (ExperimentDuty(shown, shown.owner, None),)

"""Governed definitions on real git repositories: rule D001 with `--base`, how `kpictl
diff` flags a changed definition or formula, and how `kpictl changelog` shows it.

The registry is tests.helpers' BASE plus a sales team (Sam), a revops team whose
function is analytics (Rita), Carl as Ann's manager and Ivy, an inactive seller. The
glossary term mql-term (definition on line 4) is agreed by marketing and sales; the
KPI mql (definition on line 5, formula on line 6) points at it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import AS_OF, Result, Run
from tests.gitrepo import Repo, git_env, requires_git  # noqa: F401 - git_env is a fixture
from tests.helpers import SECOND_KPI, patched, write_registry

pytestmark = [requires_git, pytest.mark.usefixtures("git_env")]

REG = "registry"

TEAMS = """\
kind: team
id: sales
name: Sales
function: sales
lead: sam
---
kind: team
id: revops
name: Revenue Operations
function: analytics
lead: rita
"""

MORE_PEOPLE = """\
kind: person
id: carl
name: Carl Doe
email: carl@acme.example
team: demand-gen
---
kind: person
id: sam
name: Sam Chen
email: sam@acme.example
team: sales
---
kind: person
id: rita
name: Rita Gomez
email: rita@acme.example
team: revops
---
kind: person
id: ivy
name: Ivy Stone
email: ivy@acme.example
team: sales
active: false
"""

ORG = (
    ("people.yaml", "team: demand-gen\n---", "team: demand-gen\nmanager: carl\n---"),
    ("people2.yaml", None, MORE_PEOPLE),
    ("teams2.yaml", None, TEAMS),
    ("glossary.yaml", "owner: ann\n", "owner: ann\nagreed_by: [marketing, sales]\n"),
)

NEW_DEFINITION = "definition: A lead with a fit score of 70 or more.\n"
OLD_DEFINITION = "definition: A lead with a fit score of 60 or more.\n"
NEEDS = "(it needs approval for each of marketing, sales)"


def make_repo(tmp_path: Path, *extra: tuple[str, str | None, str]) -> Repo:
    repo = Repo.init(tmp_path / "repo")
    write_registry(repo.path / REG, patched(*ORG, *extra))
    repo.commit("Add the registry")
    return repo


def check_base(repo: Repo, run: Run) -> Result:
    return run("check", REG, "--base", "HEAD", "--as-of", AS_OF, cwd=repo.path)


def found(result: Result) -> list[tuple[str, str, int, str]]:
    """(code, path, line, message) of each finding line of a text report."""
    out = []
    for line in result.out.splitlines():
        if ": D001 " not in line and ": R002 " not in line:
            continue
        where, rest = line.split(": ", 1)
        path, line_no, _ = where.rsplit(":", 2)
        code, _, message = rest.split(" ", 2)
        out.append((code, path, int(line_no), message))
    return out


def approval(rationale: str | None, *people: str) -> str:
    lines = ["change:\n"]
    if rationale:
        lines.append(f"  rationale: {rationale}\n")
    if people:
        lines.append(f"  approved_by: [{', '.join(people)}]\n")
    return "".join(lines)


# --------------------------------------------------------------------------------------
# D001 on glossary terms: one line per case, (file, old, new) -> findings
# --------------------------------------------------------------------------------------

G = "registry/glossary.yaml"
TERM_CASES = [
    pytest.param(
        [("glossary.yaml", OLD_DEFINITION, NEW_DEFINITION)],
        [
            (
                "D001",
                G,
                4,
                "the definition of glossary term mql-term changed without change.rationale "
                f"and change.approved_by: say why, and name who approved it {NEEDS}",
            )
        ],
        id="definition-changed-without-approval",
    ),
    pytest.param(
        [("glossary.yaml", OLD_DEFINITION, NEW_DEFINITION + approval(None, "bob", "sam"))],
        [
            (
                "D001",
                G,
                4,
                "the definition of glossary term mql-term changed without change.rationale: "
                f"say why it changed {NEEDS}",
            )
        ],
        id="approvals-without-rationale",
    ),
    pytest.param(
        [("glossary.yaml", OLD_DEFINITION, NEW_DEFINITION + approval("Scoring v2"))],
        [
            (
                "D001",
                G,
                4,
                "the definition of glossary term mql-term changed without "
                f"change.approved_by: name who approved it {NEEDS}",
            )
        ],
        id="rationale-without-approvals",
    ),
    pytest.param(
        [("glossary.yaml", OLD_DEFINITION, NEW_DEFINITION + approval("Scoring v2", "bob"))],
        [
            (
                "D001",
                G,
                4,
                "the definition of glossary term mql-term changed but no one in "
                "change.approved_by approves for sales: name a member of that team or "
                "function (agreed_by: marketing, sales)",
            )
        ],
        id="only-marketing-approved",
    ),
    pytest.param(
        [("glossary.yaml", OLD_DEFINITION, NEW_DEFINITION + approval("Scoring v2", "bob", "sam"))],
        [],
        id="marketing-and-sales-approved",
    ),
    pytest.param(
        [("glossary.yaml", OLD_DEFINITION, NEW_DEFINITION + approval("Scoring v2", "ann", "sam"))],
        [],
        id="the-owner-approves-for-her-team",
    ),
    pytest.param(
        [("glossary.yaml", OLD_DEFINITION, NEW_DEFINITION + approval("Scoring v2", "bob", "ivy"))],
        [
            (
                "D001",
                G,
                4,
                "the definition of glossary term mql-term changed but no one in "
                "change.approved_by approves for sales: name a member of that team or "
                "function (agreed_by: marketing, sales)",
            )
        ],
        id="an-inactive-seller-does-not-count",
    ),
    pytest.param(
        [("glossary.yaml", OLD_DEFINITION, NEW_DEFINITION + approval("Scoring v2", "bob", "rita"))],
        [
            (
                "D001",
                G,
                4,
                "the definition of glossary term mql-term changed but no one in "
                "change.approved_by approves for sales: name a member of that team or "
                "function (agreed_by: marketing, sales)",
            )
        ],
        id="analytics-does-not-approve-for-sales",
    ),
    pytest.param(
        [
            (
                "glossary.yaml",
                OLD_DEFINITION,
                "definition: >-\n  A lead with a fit score\n  of 60 or more.\n",
            )
        ],
        [],
        id="rewrapped-is-no-change",
    ),
    pytest.param(
        [
            ("glossary.yaml", "agreed_by: [marketing, sales]", "agreed_by: [marketing]"),
            ("glossary.yaml", "owner: ann\n", "owner: ann\n" + approval("Sales left", "bob")),
        ],
        [
            (
                "D001",
                G,
                9,
                "agreed_by of glossary term mql-term changed (- sales) but no one in "
                "change.approved_by approves for sales: name a member of that team or "
                "function (agreed_by: marketing, sales)",
            )
        ],
        id="dropping-a-team-needs-its-approval",
    ),
    pytest.param(
        [
            ("glossary.yaml", "agreed_by: [marketing, sales]", "agreed_by: [marketing, revops]"),
            (
                "glossary.yaml",
                "owner: ann\n",
                "owner: ann\n" + approval("RevOps owns scoring", "bob", "sam", "rita"),
            ),
        ],
        [],
        id="a-team-id-is-approved-by-its-member",
    ),
    pytest.param(
        [
            ("glossary.yaml", OLD_DEFINITION, NEW_DEFINITION + approval("Scoring v2", "zed")),
        ],
        [
            (
                "D001",
                G,
                4,
                "the definition of glossary term mql-term changed but no one in "
                "change.approved_by approves for marketing, sales: name a member of each "
                "(agreed_by: marketing, sales)",
            ),
            ("R002", G, 7, "change.approved_by[0] names 'zed', which is not a person"),
        ],
        id="unknown-approver",
    ),
]


@pytest.mark.parametrize(("patches", "expected"), TERM_CASES)
def test_term_definition_changes(
    tmp_path: Path, run: Run, patches: list[tuple[str, str, str]], expected: list[object]
) -> None:
    repo = make_repo(tmp_path)
    for rel, old, new in patches:
        repo.replace(f"{REG}/{rel}", old, new)
    result = check_base(repo, run)
    assert [f[:3] for f in found(result)] == [e[:3] for e in expected], result.out  # type: ignore[index]
    for item, want in zip(found(result), expected, strict=True):
        assert item[3].startswith(want[3]), item[3]  # type: ignore[index]
    assert result.code == (1 if expected else 0)


def test_a_term_nobody_agreed_to_needs_its_owner(tmp_path: Path, run: Run) -> None:
    repo = make_repo(tmp_path)
    repo.replace(f"{REG}/glossary.yaml", "agreed_by: [marketing, sales]\n", "")
    repo.commit("Nobody agreed")
    repo.replace(f"{REG}/glossary.yaml", OLD_DEFINITION, NEW_DEFINITION)
    repo.replace(f"{REG}/glossary.yaml", "owner: ann\n", "owner: ann\n" + approval("v2", "bob"))
    result = check_base(repo, run)
    assert found(result) == [
        (
            "D001",
            G,
            4,
            "the definition of glossary term mql-term changed but "
            "change.approved_by: bob may not approve it (who may approve: the term's owner "
            "ann: ann)",
        )
    ]
    repo.replace(f"{REG}/glossary.yaml", "[bob]", "[ann]")
    assert check_base(repo, run).code == 0


def test_an_old_change_block_does_not_approve_a_new_change(tmp_path: Path, run: Run) -> None:
    repo = make_repo(tmp_path)
    repo.replace(
        f"{REG}/glossary.yaml", OLD_DEFINITION, NEW_DEFINITION + approval("v2", "bob", "sam")
    )
    repo.commit("Scoring v2, approved")
    repo.replace(f"{REG}/glossary.yaml", "70 or more", "80 or more")
    result = check_base(repo, run)
    assert found(result) == [
        (
            "D001",
            G,
            4,
            "the definition of glossary term mql-term changed under the change "
            "block of an earlier change (the same rationale and approvers as at the base): "
            f"write why this change was made and who approved it {NEEDS}",
        )
    ]


def test_approvers_teams_come_from_the_base(tmp_path: Path, run: Run) -> None:
    # The same pull request moves Rita to sales and has her approve for sales: not valid.
    repo = make_repo(tmp_path)
    repo.replace(f"{REG}/people2.yaml", "team: revops", "team: sales")
    repo.replace(
        f"{REG}/glossary.yaml", OLD_DEFINITION, NEW_DEFINITION + approval("v2", "bob", "rita")
    )
    result = check_base(repo, run)
    assert [item[:3] for item in found(result)] == [("D001", G, 4)]
    assert "approves for sales" in result.out


# --------------------------------------------------------------------------------------
# D001 on KPIs
# --------------------------------------------------------------------------------------

K = "registry/kpi.yaml"
OLD_FORMULA = "formula: count(leads)\n"
NEW_FORMULA = "formula: count(leads where score >= 70)\n"
KPI_CASES = [
    pytest.param(
        [("kpi.yaml", OLD_FORMULA, NEW_FORMULA)],
        [
            (
                "D001",
                K,
                6,
                "the formula of KPI mql changed without change.rationale and "
                f"change.approved_by: say why, and name who approved it {NEEDS}",
            )
        ],
        id="formula-changed-without-approval",
    ),
    pytest.param(
        [("kpi.yaml", OLD_FORMULA, NEW_FORMULA + approval("Scoring v2", "bob", "sam"))],
        [],
        id="formula-approved-by-both-teams",
    ),
    pytest.param(
        [("kpi.yaml", "formula: count(leads)", "formula: count( leads )")],
        [
            (
                "D001",
                K,
                6,
                "the formula of KPI mql changed without change.rationale and change.approved_by",
            )
        ],
        id="formula-spacing-inside-is-a-change",
    ),
    pytest.param(
        [
            ("kpi.yaml", "definition: mql-term\n", "definition: sql-term\n"),
            (
                "glossary2.yaml",
                None,
                "kind: glossary_term\nid: sql-term\nterm: SQL\n"
                "definition: Accepted by sales.\nowner: sam\nagreed_by: [sales, revops]\n",
            ),
        ],
        [
            (
                "D001",
                K,
                5,
                "the definition of KPI mql changed from term mql-term to sql-term without "
                "change.rationale and change.approved_by: say why, and name who approved it "
                "(it needs approval for each of marketing, sales, revops)",
            ),
        ],
        id="pointed-at-another-term",
    ),
    pytest.param(
        [("kpi.yaml", "definition: mql-term\n", "")],
        [
            (
                "D001",
                K,
                1,
                "KPI mql is no longer defined by glossary term mql-term without change.rationale",
            ),
        ],
        id="term-removed-reported-at-the-kpi",
    ),
]


@pytest.mark.parametrize(("patches", "expected"), KPI_CASES)
def test_kpi_formula_and_definition_changes(
    tmp_path: Path, run: Run, patches: list[tuple[str, str | None, str]], expected: list[object]
) -> None:
    repo = make_repo(tmp_path)
    for rel, old, new in patches:
        if old is None:
            repo.write(f"{REG}/{rel}", new)
        else:
            repo.replace(f"{REG}/{rel}", old, new)
    result = check_base(repo, run)
    got = [item for item in found(result) if item[0] == "D001"]
    assert [f[:3] for f in got] == [e[:3] for e in expected], result.out  # type: ignore[index]
    for item, want in zip(got, expected, strict=True):
        assert want[3] in item[3], item[3]  # type: ignore[index]


def test_a_kpi_without_a_term_needs_whoever_approves_its_targets(tmp_path: Path, run: Run) -> None:
    repo = make_repo(tmp_path, ("sql.yaml", None, SECOND_KPI))
    repo.replace(f"{REG}/sql.yaml", OLD_FORMULA, NEW_FORMULA + approval("v2", "ann"))
    result = check_base(repo, run)
    assert found(result) == [
        (
            "D001",
            "registry/sql.yaml",
            5,
            "the formula of KPI sql changed but change.approved_by: ann may not "
            "approve it (who may approve: the owner's manager or an approver in escalation "
            "policy standard: carl)",
        )
    ]
    repo.replace(f"{REG}/sql.yaml", "[ann]", "[carl]")
    assert check_base(repo, run).code == 0


def test_a_kpi_nobody_may_approve_says_what_to_fix(tmp_path: Path, run: Run) -> None:
    repo = make_repo(
        tmp_path,
        ("sql.yaml", None, SECOND_KPI),
        ("people.yaml", "manager: carl\n", ""),
    )
    repo.replace(f"{REG}/sql.yaml", OLD_FORMULA, NEW_FORMULA)
    assert found(check_base(repo, run)) == [
        (
            "D001",
            "registry/sql.yaml",
            5,
            "the formula of KPI sql changed without change.rationale and change.approved_by: "
            "say why, and name who approved it (nobody may approve it: give the owner an "
            "active manager, or the escalation policy an approver)",
        )
    ]


def test_new_entities_and_no_base_are_not_d001(tmp_path: Path, run: Run) -> None:
    repo = make_repo(tmp_path)
    repo.write(f"{REG}/sql.yaml", SECOND_KPI)
    repo.replace(f"{REG}/kpi.yaml", OLD_FORMULA, NEW_FORMULA)
    assert run("check", REG, "--as-of", AS_OF, cwd=repo.path).code == 0
    result = check_base(repo, run)
    assert [item[:3] for item in found(result)] == [("D001", K, 6)]


def test_d001_can_be_turned_off_by_name(tmp_path: Path, run: Run) -> None:
    repo = make_repo(tmp_path)
    repo.replace(f"{REG}/kpi.yaml", OLD_FORMULA, NEW_FORMULA)
    args = ("--ignore", "definition-change-without-approval")
    result = run("check", REG, "--base", "HEAD", "--as-of", AS_OF, *args, cwd=repo.path)
    assert result.code == 0, result.out


# --------------------------------------------------------------------------------------
# kpictl diff and kpictl changelog
# --------------------------------------------------------------------------------------


def _approved_change(repo: Repo) -> None:
    repo.replace(f"{REG}/kpi.yaml", OLD_FORMULA, NEW_FORMULA + approval("Scoring v2", "bob", "sam"))
    repo.replace(f"{REG}/glossary.yaml", OLD_DEFINITION, NEW_DEFINITION)


def test_diff_flags_definition_changes_as_breaking(tmp_path: Path, run: Run) -> None:
    repo = make_repo(tmp_path)
    _approved_change(repo)
    result = run("diff", "HEAD", "--format", "json", REG, cwd=repo.path)
    data = json.loads(result.out)
    assert data["counts"]["definition_changes"] == 2
    assert data["summary"] == (
        "1 KPI, 1 glossary term changed (2 definition changes, 2 breaking changes)."
    )
    assert data["breaking"] == [
        {
            "code": "definition-changed",
            "kind": "kpi",
            "entity": "mql",
            "message": "KPI mql: formula changed; its actuals are now computed another way "
            "than its history (approved by bob, sam; rationale: Scoring v2)",
        },
        {
            "code": "definition-changed",
            "kind": "glossary_term",
            "entity": "mql-term",
            "message": "glossary term mql-term: definition changed; every KPI defined by it "
            "now means something else (no approval recorded: kpictl check --base asks for "
            "one)",
        },
    ]
    [kpi] = [e for e in data["entities"] if e["id"] == "mql"]
    assert [(f["field"], f["category"], f["detail"]) for f in kpi["fields"]] == [
        ("formula", "definition", "approved by bob, sam; rationale: Scoring v2")
    ]
    text = run("diff", "HEAD", REG, cwd=repo.path)
    assert (
        "      formula: count(leads) -> count(leads where score >= 70); approved by bob, sam; "
        "rationale: Scoring v2\n" in text.out
    )
    assert "Breaking changes\n  ! KPI mql: formula changed;" in text.out
    assert run("diff", "HEAD", REG, "--fail-on-breaking", cwd=repo.path).code == 1


def test_diff_rewrapped_definition_is_not_breaking(tmp_path: Path, run: Run) -> None:
    repo = make_repo(tmp_path)
    repo.replace(
        f"{REG}/glossary.yaml",
        OLD_DEFINITION,
        'definition: "A lead with a fit score  of 60 or more."\n',
    )
    result = run("diff", "HEAD", REG, "--fail-on-breaking", "--format", "json", cwd=repo.path)
    assert json.loads(result.out)["breaking"] == []
    assert result.code == 0


def test_changelog_shows_formula_changes_with_their_approval(tmp_path: Path, run: Run) -> None:
    repo = make_repo(tmp_path)
    _approved_change(repo)
    repo.commit("MQL scoring v2")
    result = run("changelog", "mql", REG, cwd=repo.path)
    assert result.code == 0, result.err
    assert result.out == (
        "KPI mql: MQLs\n"
        "2 changes in 2 commits touching registry up to HEAD, newest first.\n"
        "\n"
        "2026-01-02  " + repo.git("rev-parse", "--short", "HEAD") + "  Ann Lee <ann@acme.example>\n"
        "    MQL scoring v2\n"
        "    * formula: count(leads) -> count(leads where score >= 70); approved by bob, sam; "
        "rationale: Scoring v2\n"
        "    * definition (mql-term): A lead with a fit score of 60 or more. -> A lead "
        "with a fit score of 70 or more.\n"
        "\n"
        "2026-01-01  "
        + repo.git("rev-parse", "--short", "HEAD~1")
        + "  Ann Lee <ann@acme.example>\n"
        "    Add the registry\n"
        "    * created in registry/kpi.yaml\n"
        "    * definition: mql-term\n"
        "    * formula: count(leads)\n"
        "    * primary owner: ann\n"
        "    * backup owner: bob\n"
        "    * target 2026-Q4: 100\n"
        "    * escalation policy: standard\n"
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param("count(leads)", "count(mqls)", ("count(leads)", "count(mqls)"), id="short"),
        pytest.param(
            "count(contacts where lifecycle_stage reached 'MQL' and became_mql_date in period)",
            "count(contacts where lifecycle_stage reached 'MQL' and became_mql_date in period "
            "and not is_student)",
            (
                "… and became_mql_date in period)",
                "… and became_mql_date in period and not is_student)",
            ),
            id="changed-at-the-end",
        ),
        pytest.param(
            "A contact whose fit score is at least 60 and who has taken one high-intent action "
            "in the last 30 days. Students and competitors are excluded.",
            "A contact whose fit score is at least 60 and who has taken one high-intent action "
            "in the last 14 days. Students and competitors are excluded.",
            (
                "… in the last 30 days. Students and …",
                "… in the last 14 days. Students and …",
            ),
            id="changed-in-the-middle",
        ),
    ],
)
def test_long_definitions_show_the_words_that_changed(
    old: str, new: str, expected: tuple[str, str]
) -> None:
    from kpictl.history.compare import changed_words

    assert changed_words(old, new) == expected


def test_changelog_follows_the_term_that_defines_the_kpi(tmp_path: Path, run: Run) -> None:
    repo = make_repo(
        tmp_path,
        (
            "glossary2.yaml",
            None,
            "kind: glossary_term\nid: sql-term\n"
            "term: SQL\ndefinition: Accepted by sales.\nowner: sam\n",
        ),
    )
    repo.replace(
        f"{REG}/glossary.yaml",
        OLD_DEFINITION,
        NEW_DEFINITION + approval("Scoring v2", "bob", "sam"),
    )
    repo.commit("MQL scoring v2")
    repo.replace(f"{REG}/kpi.yaml", "definition: mql-term", "definition: sql-term")
    repo.commit("MQLs count SQLs now")
    repo.replace(f"{REG}/glossary.yaml", "70 or more", "80 or more")  # no longer the KPI's term
    repo.replace(f"{REG}/glossary2.yaml", "Accepted by sales.", "Accepted by an SDR.")
    repo.commit("Both terms reworded")
    result = run("changelog", "mql", REG, "-f", "json", cwd=repo.path)
    data = json.loads(result.out)
    assert [
        (e["commit"]["subject"], [(f["field"], f["label"], f["detail"]) for f in e["fields"]])
        for e in data["entries"][:3]
    ] == [
        (
            "Both terms reworded",
            [("term.definition", "definition (sql-term)", None)],
        ),
        ("MQLs count SQLs now", [("definition", "definition", None)]),
        (
            "MQL scoring v2",
            [
                (
                    "term.definition",
                    "definition (mql-term)",
                    "approved by bob, sam; rationale: Scoring v2",
                )
            ],
        ),
    ]
    assert data["entries"][0]["path"] == "registry/kpi.yaml"
    text = run("changelog", "mql", REG, cwd=repo.path).out
    assert (
        "    * definition (mql-term): A lead with a fit score of 60 or more. -> A lead with a fit "
        "score of 70 or more.; approved by bob, sam; rationale: Scoring v2\n" in text
    )

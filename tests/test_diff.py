"""`kpictl diff` on real git repositories: text, markdown (golden files) and json.

The scenario is a pull request on a small registry: a target recalibrated and one
added, the primary owner handed over, a KPI added, a glossary term renamed, a data
source removed while a KPI still reads it, an escalation tier tightened and one
added, a campaign completed and signed.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Run, assert_golden
from tests.gitrepo import Repo, git_env, requires_git  # noqa: F401 - git_env is a fixture
from tests.helpers import BASE, SECOND_KPI, patched, write_registry

pytestmark = [requires_git, pytest.mark.usefixtures("git_env")]

REG = "registry"

EVE = (
    "kind: person\nid: eve\nname: Eve Park\nemail: eve@acme.example\nteam: demand-gen\n"
    "manager: ann\n"
)
WEB = "kind: data_source\nid: web\nname: Web analytics\nsystem: GA4\nowner: ann\nrefresh: daily\n"
VISITS = (
    SECOND_KPI.replace("id: sql", "id: visits")
    .replace("name: MQLs", "name: Website visits")
    .replace("sources: [crm]", "sources: [web]")
)


def scenario(tmp_path: Path) -> Repo:
    """main: the base registry; feature (checked out): the pull request, committed."""
    repo = Repo.init(tmp_path / "repo")
    write_registry(
        repo.path / REG,
        patched(
            ("eve.yaml", None, EVE),
            ("web.yaml", None, WEB),
            ("visits.yaml", None, VISITS),
        ),
    )
    repo.commit("Add the registry")
    repo.git("checkout", "-q", "-b", "feature")
    kpi = f"{REG}/kpi.yaml"
    repo.replace(
        kpi,
        "    value: 100\n",
        "    value: 130\n    rationale: Webinar series added\n    approved_by: ann\n"
        "  - period: 2027-Q1\n    value: 140\n",
    )
    repo.replace(
        kpi,
        "  primary: ann\n",
        "  primary: eve\n  rationale: Eve runs demand gen now\n  approved_by: ann\n",
    )
    repo.replace(kpi, "definition: mql-term", "definition: mql-definition")
    repo.replace(f"{REG}/glossary.yaml", "id: mql-term", "id: mql-definition")
    repo.write(f"{REG}/kpis/sql.yaml", SECOND_KPI)
    (repo.path / REG / "web.yaml").unlink()
    repo.replace(f"{REG}/policy.yaml", "deviation_pct: 5", "deviation_pct: 3")
    repo.replace(
        f"{REG}/policy.yaml",
        "    approver: $owner\n",
        "    approver: $owner\n  - level: 2\n    name: Leadership\n    deviation_pct: 20\n"
        "    respond_within: 3d\n    notify: [$owner.manager, demand-gen]\n    approver: ann\n",
    )
    repo.replace(f"{REG}/campaign.yaml", "status: active", "status: complete")
    repo.replace(
        f"{REG}/campaign.yaml",
        "  - {by: bob, date: 2026-09-24}\n",
        "  - {by: bob, date: 2026-09-24}\n  - {by: ann, date: 2026-12-20}\n",
    )
    repo.commit("Q4 recalibration and hand-over")
    return repo


def test_markdown_diff_for_a_pull_request(tmp_path: Path, run: Run) -> None:
    repo = scenario(tmp_path)
    result = run("diff", "main", "HEAD", "--registry", REG, "--format", "markdown", cwd=repo.path)
    assert result.code == 0, result.err
    assert result.err == ""
    assert_golden("diff/pull-request.md", result.out)


def test_text_diff_for_a_pull_request(tmp_path: Path, run: Run) -> None:
    repo = scenario(tmp_path)
    result = run("diff", "main", "HEAD", "--registry", REG, cwd=repo.path)
    assert result.code == 0, result.err
    assert_golden("diff/pull-request.txt", result.out)


def test_json_diff_for_a_pull_request(tmp_path: Path, run: Run) -> None:
    repo = scenario(tmp_path)
    result = run("diff", "main", "HEAD", "--registry", REG, "--format", "json", cwd=repo.path)
    data = json.loads(result.out)
    assert data["version"] == 1
    assert data["registry"] == "registry"
    assert data["base"]["ref"] == "main"
    assert data["head"]["ref"] == "HEAD"
    assert data["counts"] == {
        "added": 1,
        "removed": 1,
        "renamed": 1,
        "changed": 3,
        "not_compared": 0,
        "target_changes": 2,
        "owner_changes": 1,
        "definition_changes": 1,  # mql follows its renamed term: not breaking
        "breaking": 1,
    }
    by_id = {item["id"]: item for item in data["entities"]}
    assert [(e["kind"], e["id"], e["change"]) for e in data["entities"]] == [
        ("kpi", "mql", "changed"),
        ("kpi", "sql", "added"),
        ("escalation_policy", "standard", "changed"),
        ("campaign", "spring-push", "changed"),
        ("data_source", "web", "removed"),
        ("glossary_term", "mql-definition", "renamed"),
    ]
    assert by_id["mql-definition"]["old_id"] == "mql-term"
    target = next(f for f in by_id["mql"]["fields"] if f["field"] == "targets[2026-Q4]")
    assert target["old"] == {"period": "2026-Q4", "value": 100}
    assert target["new"]["value"] == 130
    assert target["percent"] == "+30.0%"
    owner = next(f for f in by_id["mql"]["fields"] if f["field"] == "owners.primary")
    assert (owner["old"], owner["new"], owner["category"]) == ("ann", "eve", "owner")
    assert data["breaking"] == [
        {
            "code": "removed-still-referenced",
            "kind": "data_source",
            "entity": "web",
            "message": "data source web was removed but is still named by KPI visits (sources[0])",
        }
    ]


def test_fail_on_breaking(tmp_path: Path, run: Run) -> None:
    repo = scenario(tmp_path)
    result = run("diff", "main", "HEAD", "--registry", REG, "--fail-on-breaking", cwd=repo.path)
    assert result.code == 1
    repo.write(f"{REG}/web.yaml", WEB)  # put the source back (uncommitted)
    result = run("diff", "main", "--registry", REG, "--fail-on-breaking", cwd=repo.path)
    assert result.code == 0
    assert "no breaking changes" in result.out


def test_unit_change_is_breaking(tmp_path: Path, run: Run) -> None:
    repo = Repo.init(tmp_path / "repo")
    write_registry(repo.path / REG, BASE)
    repo.commit("Registry")
    repo.replace(f"{REG}/kpi.yaml", "unit: count", "unit: percent")
    result = run("diff", "HEAD", "--registry", REG, "--fail-on-breaking", cwd=repo.path)
    assert result.code == 1
    assert "KPI mql: unit changed from count to percent" in result.out


def test_default_base_is_where_the_branch_left_main(tmp_path: Path, run: Run) -> None:
    repo = Repo.init(tmp_path / "repo")
    write_registry(repo.path / REG, BASE)
    repo.commit("Registry")
    repo.git("checkout", "-q", "-b", "feature")
    repo.replace(f"{REG}/kpi.yaml", "value: 100", "value: 110")
    repo.commit("Raise the target")
    repo.git("checkout", "-q", "main")
    repo.replace(f"{REG}/team.yaml", "name: Demand Generation", "name: Demand Gen")
    repo.commit("Rename the team on main")
    repo.git("checkout", "-q", "feature")
    repo.write(f"{REG}/extra.yaml", "kind: team\nid: ops\nname: Ops\nfunction: other\n")
    result = run("diff", "--registry", REG, cwd=repo.path)
    assert result.code == 0
    first = result.out.splitlines()[0]
    assert first.startswith("Registry registry: main (") and first.endswith(") -> working tree")
    assert "target 2026-Q4: 100 -> 110 (+10.0%)" in result.out  # committed on the branch
    assert "+ ops" in result.out  # untracked
    assert "Demand Gen" not in result.out  # changed on main after the branch left it


def test_default_base_in_github_actions(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = Repo.init(tmp_path / "repo", branch="develop")
    write_registry(repo.path / REG, BASE)
    repo.commit("Registry")
    repo.git("checkout", "-q", "-b", "feature")
    repo.replace(f"{REG}/kpi.yaml", "value: 100", "value: 90")
    monkeypatch.setenv("GITHUB_BASE_REF", "develop")
    result = run("diff", "--registry", REG, cwd=repo.path)
    assert result.out.startswith("Registry registry: develop (")
    assert "-10.0%" in result.out


def test_no_default_branch(tmp_path: Path, run: Run) -> None:
    repo = Repo.init(tmp_path / "repo", branch="trunk")
    write_registry(repo.path / REG, BASE)
    repo.commit("Registry")
    result = run("diff", "--registry", REG, cwd=repo.path)
    assert result.code == 2
    assert "cannot tell the default branch" in result.err


def test_file_that_does_not_parse_at_base(tmp_path: Path, run: Run) -> None:
    repo = Repo.init(tmp_path / "repo")
    write_registry(repo.path / REG, patched(("source.yaml", "refresh: daily", "refresh: [daily")))
    repo.commit("Broken source")
    repo.replace(f"{REG}/source.yaml", "refresh: [daily", "refresh: daily")
    repo.replace(f"{REG}/kpi.yaml", "value: 100", "value: 120")
    result = run("diff", "HEAD", "--registry", REG, cwd=repo.path)
    assert result.code == 0
    assert "target 2026-Q4: 100 -> 120 (+20.0%)" in result.out
    assert "? crm  CRM contacts: not compared, registry/source.yaml does not parse at" in result.out
    assert "registry/source.yaml does not parse at HEAD (" in result.out
    markdown = run("diff", "HEAD", "--registry", REG, "-f", "markdown", cwd=repo.path).out
    assert "- **not compared** `crm`: CRM contacts: registry/source.yaml does not parse" in markdown


def test_rename_and_move_between_files(tmp_path: Path, run: Run) -> None:
    repo = Repo.init(tmp_path / "repo")
    write_registry(repo.path / REG, BASE)
    repo.commit("Registry")
    (repo.path / REG / "kpis").mkdir()
    repo.git("mv", f"{REG}/kpi.yaml", f"{REG}/kpis/mql.yaml")
    repo.commit("Move the KPI into kpis/")
    result = run("diff", "HEAD~1", "HEAD", "--registry", REG, "-f", "json", cwd=repo.path)
    data = json.loads(result.out)
    assert [(e["id"], e["change"], e["old_path"], e["path"]) for e in data["entities"]] == [
        ("mql", "changed", "registry/kpi.yaml", "registry/kpis/mql.yaml")
    ]
    assert [f["field"] for f in data["entities"][0]["fields"]] == ["file"]


def test_removed_entity_still_defined_elsewhere_is_not_removed(tmp_path: Path, run: Run) -> None:
    repo = Repo.init(tmp_path / "repo")
    write_registry(repo.path / REG, patched(("team2.yaml", None, BASE["team.yaml"])))
    repo.commit("Two definitions of one team")
    (repo.path / REG / "team.yaml").unlink()
    result = run("diff", "HEAD", "--registry", REG, "-f", "json", cwd=repo.path)
    assert json.loads(result.out)["entities"] == []


def test_no_changes(tmp_path: Path, run: Run) -> None:
    repo = Repo.init(tmp_path / "repo")
    write_registry(repo.path / REG, BASE)
    repo.commit("Registry")
    result = run("diff", "HEAD", "--registry", REG, cwd=repo.path)
    assert result.out.splitlines()[1] == "No changes to the registry."
    markdown = run("diff", "HEAD", "--registry", REG, "-f", "markdown", cwd=repo.path).out
    assert markdown.startswith("**KPI registry:** No changes to the registry.\n")


def test_no_registry_at_base(tmp_path: Path, run: Run) -> None:
    repo = Repo.init(tmp_path / "repo")
    repo.write("README.md", "Soon a registry.\n")
    repo.commit("Start")
    write_registry(repo.path / REG, BASE)
    result = run("diff", "HEAD", "--registry", REG, "-f", "json", cwd=repo.path)
    data = json.loads(result.out)
    assert data["counts"]["added"] == 8
    assert data["notes"][0].startswith("There is no registry at ")


def test_bad_refs_and_places(tmp_path: Path, run: Run) -> None:
    repo = Repo.init(tmp_path / "repo")
    write_registry(repo.path / REG, BASE)
    first = repo.commit("Registry")
    result = run("diff", "nope", "--registry", REG, cwd=repo.path)
    assert (result.code, result.err.split(":")[1].strip()) == (2, "unknown base ref 'nope'")
    result = run("diff", "HEAD", "nope", "--registry", REG, cwd=repo.path)
    assert "unknown head ref 'nope'" in result.err
    result = run("diff", "HEAD", "--registry", REG, "--format", "yaml", cwd=repo.path)
    assert result.code == 2
    write_registry(tmp_path / "plain", BASE)
    result = run("diff", "--registry", str(tmp_path / "plain"))
    assert (result.code, "is not in a git repository" in result.err) == (2, True)

    repo.replace(f"{REG}/kpi.yaml", "value: 100", "value: 110")
    repo.commit("Second")
    repo.git("checkout", "-q", "-b", "feature")
    repo.replace(f"{REG}/kpi.yaml", "value: 110", "value: 120")
    repo.commit("Third")
    repo.git("checkout", "-q", "main")
    clone = tmp_path / "clone"
    subprocess.run(
        [
            "git",
            "clone",
            "-q",
            "--depth",
            "1",
            "--no-single-branch",
            f"file://{repo.path}",
            str(clone),
        ],
        check=True,
    )
    result = run("diff", first, "--registry", REG, cwd=clone)
    assert result.code == 2
    assert "shallow" in result.err and "fetch-depth: 0" in result.err
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", "feature"], check=True)
    result = run("diff", "--registry", REG, cwd=clone)  # merge-base with origin/main
    assert result.code == 2
    assert "shallow" in result.err and "git fetch --deepen" in result.err


def test_markdown_escapes_what_people_wrote(tmp_path: Path, run: Run) -> None:
    repo = Repo.init(tmp_path / "repo")
    write_registry(repo.path / REG, BASE)
    repo.commit("Registry")
    repo.replace(f"{REG}/kpi.yaml", "name: MQLs", 'name: "MQLs | *all* <script>x</script>"')
    repo.write(f"{REG}/odd.yaml", 'kind: team\nid: "odd`id"\nname: Odd\nfunction: other\n')
    result = run("diff", "HEAD", "--registry", REG, "-f", "markdown", cwd=repo.path)
    assert "MQLs \\| \\*all\\* &lt;script&gt;x&lt;/script&gt;" in result.out
    assert "<script>" not in result.out
    assert "- **added** `odd'id`: Odd" in result.out


def test_a_new_value_under_an_old_approval_is_pointed_out(tmp_path: Path, run: Run) -> None:
    repo = Repo.init(tmp_path / "repo")
    write_registry(
        repo.path / REG,
        patched(
            ("kpi.yaml", "value: 100\n", "value: 100\n    rationale: Plan\n    approved_by: bob\n")
        ),
    )
    repo.commit("Registry")
    repo.replace(f"{REG}/kpi.yaml", "value: 100", "value: 90")
    result = run("diff", "HEAD", "--registry", REG, cwd=repo.path)
    assert (
        "target 2026-Q4: 100 -> 90 (-10.0%); approved by bob; rationale: Plan "
        "(rationale and approval unchanged)"
    ) in result.out

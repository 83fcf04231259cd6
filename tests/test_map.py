"""`kpictl map` and `kpictl who`: golden files, filters, bad input, escaping, templates."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from kpictl.check.check import check
from kpictl.views.accountability import UnknownId, build_map
from kpictl.views.who import build_who
from tests.conftest import AS_OF, EXAMPLE, Run, assert_golden, write_registry

MAP_FORMATS = {
    "text": "txt",
    "markdown": "md",
    "mermaid": "mmd",
    "dot": "dot",
    "json": "json",
    "html": "html",
}


# --------------------------------------------------------------------------------------
# Golden files on the example registry
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("output_format", MAP_FORMATS)
def test_map_golden(run: Run, output_format: str) -> None:
    result = run("map", str(EXAMPLE), "--format", output_format, "--as-of", AS_OF)
    assert result.code == 0, result.err
    assert result.err == ""
    assert_golden(f"map/example.{MAP_FORMATS[output_format]}", result.out)


@pytest.mark.parametrize(
    ("by", "output_format"), [("owner", "text"), ("team", "markdown"), ("stage", "text")]
)
def test_map_grouped_golden(run: Run, by: str, output_format: str) -> None:
    result = run("map", str(EXAMPLE), "--by", by, "-f", output_format, "--as-of", AS_OF)
    assert result.code == 0, result.err
    assert_golden(f"map/by-{by}.{MAP_FORMATS[output_format]}", result.out)


@pytest.mark.parametrize(
    ("subject", "output_format"),
    [
        ("aisha-okafor", "text"),
        ("aisha-okafor", "markdown"),
        ("aisha-okafor", "json"),
        ("revops", "text"),
        ("revops", "markdown"),
    ],
)
def test_who_golden(run: Run, subject: str, output_format: str) -> None:
    result = run("who", subject, str(EXAMPLE), "-f", output_format, "--as-of", AS_OF)
    assert result.code == 0, result.err
    assert_golden(f"map/who-{subject}.{MAP_FORMATS[output_format]}", result.out)


def test_map_json_shape(run: Run) -> None:
    result = run("map", str(EXAMPLE), "-f", "json", "--as-of", AS_OF)
    data = json.loads(result.out)
    assert data["kpictl_map"] == 1
    assert data["check"] == {"errors": 0, "warnings": 0, "infos": 0}
    mql = next(kpi for kpi in data["kpis"] if kpi["id"] == "mql")
    assert mql["owners"] == {"primary": "aisha-okafor", "backup": "sofia-lindqvist"}
    assert [node["source"] for node in mql["lineage"]] == ["wh-lead-funnel"]
    assert mql["capture"] == ["hubspot-crm", "salesforce-crm"]
    tier2 = mql["escalation"]["tiers"][1]
    assert tier2["approvers"] == ["jonas-keller"]
    assert tier2["respond_hours"] == 72
    # Every id a KPI names is described once at the top level.
    for kpi in data["kpis"]:
        assert kpi["owners"]["primary"] in data["people"]
        assert set(kpi["capture"]) <= set(data["sources"])
    assert data["health"]["same_team"] == [{"kpi": "branded-search-clicks", "team": "demand-gen"}]


# --------------------------------------------------------------------------------------
# Filters, grouping and output files
# --------------------------------------------------------------------------------------


def test_filters(run: Run) -> None:
    result = run("map", str(EXAMPLE), "-f", "json", "--kpi", "mql", "--kpi", "nrr")
    assert [kpi["id"] for kpi in json.loads(result.out)["kpis"]] == ["mql", "nrr"]

    result = run("map", str(EXAMPLE), "-f", "json", "--owner", "omar-haddad")
    ids = [kpi["id"] for kpi in json.loads(result.out)["kpis"]]
    assert ids == ["pipeline-coverage", "pipeline-sourced", "sales-cycle-length"]

    # A team means KPIs any member owns, as primary or backup.
    result = run("map", str(EXAMPLE), "-f", "json", "--owner", "finance")
    ids = [kpi["id"] for kpi in json.loads(result.out)["kpis"]]
    assert ids == ["cost-per-opportunity", "nrr"]

    result = run("map", str(EXAMPLE), "--owner", "omar-haddad", "--kpi", "mql")
    assert "No KPIs to show." in result.out


def test_groups_follow_the_funnel(run: Run) -> None:
    result = run("map", str(EXAMPLE), "-f", "json", "--by", "stage")
    groups = [group["key"] for group in json.loads(result.out)["groups"]]
    assert groups == ["awareness", "consideration", "conversion", "retention", "expansion"]


def test_output_file_is_written_whole(run: Run, tmp_path: Path) -> None:
    target = tmp_path / "ACCOUNTABILITY.md"
    target.write_text("old\n", encoding="utf-8")
    result = run("map", str(EXAMPLE), "-f", "markdown", "-o", str(target))
    assert result.code == 0 and result.out == ""
    assert target.read_text(encoding="utf-8").startswith("# Accountability map: Northwind")
    assert [p.name for p in tmp_path.iterdir()] == ["ACCOUNTABILITY.md"]  # no temp file left


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("map", "--kpi", "nr"), "no KPI has the id 'nr'; did you mean 'nrr'?"),
        (("map", "--owner", "omar"), "no person or team has the id 'omar'; did you mean"),
        (("map", "--owner", "revop"), "did you mean 'revops'?"),
        (("who", "aisha"), "no person or team has the id 'aisha'; did you mean 'aisha-okafor'?"),
        (("who", "mql"), "no person or team has the id 'mql'"),
    ],
)
def test_unknown_ids_exit_2_with_a_suggestion(
    run: Run, args: tuple[str, ...], message: str
) -> None:
    command, *rest = args
    if command == "who":
        result = run("who", rest[0], str(EXAMPLE))
    else:
        result = run("map", str(EXAMPLE), *rest)
    assert result.code == 2
    assert message in result.err
    assert result.out == ""


@pytest.mark.parametrize(("option", "value"), [("--format", "pdf"), ("--by", "person")])
def test_bad_options_exit_2(run: Run, option: str, value: str) -> None:
    result = run("map", str(EXAMPLE), option, value)
    assert result.code == 2
    assert value in result.err


# --------------------------------------------------------------------------------------
# Registries with check errors, cycles and missing entities
# --------------------------------------------------------------------------------------

PERSON = """
kind: person
id: {id}
name: {name}
email: {id}@example.com
team: {team}
"""
KPI = """
kind: kpi
id: {id}
name: {name}
description: A KPI.
formula: count(x)
unit: count
direction: increase
stage: {stage}
indicator: leading
audience: {audience}
owners: {{primary: {primary}, backup: {backup}}}
sources: [{sources}]
cadence: {{refresh: daily, review: weekly}}
escalation: {policy}
"""
SOURCE = """
kind: data_source
id: {id}
name: {name}
system: {system}
owner: {owner}
refresh: daily
upstream: [{upstream}]
"""
POLICY = """
kind: escalation_policy
id: {id}
name: Policy
tiers:
  - level: 1
    name: Review
    deviation_pct: 5
    respond_within: 24h
    notify: [$owner, $backup]
    approver: {approver}
"""


def _broken_registry(root: Path) -> Path:
    return write_registry(
        root,
        {
            "people.yaml": PERSON.format(id="ana", name="Ana", team="data")
            + "---\n"
            + PERSON.format(id="bo", name="Bo", team="data"),
            "teams.yaml": "kind: team\nid: data\nname: Data\nfunction: analytics\nlead: ana\n",
            "sources.yaml": SOURCE.format(
                id="loop-a", name="Loop A", system="Warehouse", owner="ana", upstream="loop-b"
            )
            + "---\n"
            + SOURCE.format(
                id="loop-b", name="Loop B", system="CRM", owner="ghost", upstream="loop-a"
            ),
            "kpis.yaml": KPI.format(
                id="k1",
                name="First",
                stage="conversion",
                audience="business",
                primary="ana",
                backup="bo",
                sources="loop-a",
                policy="pol",
            )
            + "---\n"
            + KPI.format(
                id="k2",
                name="Second",
                stage="awareness",
                audience="internal",
                primary="bo",
                backup="nobody",
                sources="no-such-source",
                policy="no-such-policy",
            ),
            "policy.yaml": POLICY.format(id="pol", approver="$owner"),
        },
    )


@pytest.mark.parametrize(
    ("output_format", "banner"),
    [
        ("text", "!! `kpictl check` reports 5 errors in this registry."),
        ("markdown", "> `kpictl check` reports 5 errors in this registry."),
        ("html", "`kpictl check` reports 5 errors in this registry."),
        ("json", '"errors": 5'),
    ],
)
def test_registry_with_errors_still_maps(
    run: Run, tmp_path: Path, output_format: str, banner: str
) -> None:
    root = _broken_registry(tmp_path / "reg")
    assert run("check", str(root)).code == 1
    result = run("map", str(root), "-f", output_format)
    assert result.code == 0, result.err
    assert banner in result.out
    for kpi in ("k1", "k2"):
        assert kpi in result.out
    if output_format in ("text", "markdown", "json"):
        who = run("who", "bo", str(root), "-f", output_format)
        assert who.code == 0 and banner in who.out


def test_missing_entities_and_cycles_are_marked(tmp_path: Path) -> None:
    registry = check(_broken_registry(tmp_path / "reg")).registry
    view = build_map(registry)
    k1, k2 = view.kpis
    # The cycle is cut where it closes: loop-a ← loop-b ← loop-a (marked).
    (root,) = k1.lineage
    assert root.source.id == "loop-a"
    (child,) = root.upstream
    assert child.source.id == "loop-b" and child.source.owner is not None
    assert not child.source.owner.known
    (again,) = child.upstream
    assert again.source.id == "loop-a" and again.cycle and again.upstream == ()
    assert not k2.backup.known
    assert not k2.lineage[0].source.known
    assert not k2.escalation.known and k2.escalation.tiers == ()


def test_health(tmp_path: Path) -> None:
    registry = check(_broken_registry(tmp_path / "reg")).registry
    health = build_map(registry).health
    assert [(item.kpi.id, item.team.id) for item in health.same_team] == [("k1", "data")]
    # Ana owns k1, its only source and is its only approver.
    (spof,) = health.single_points
    assert (spof.person.id, spof.kpi.id, spof.reasons) == ("ana", "k1", ("sources", "approver"))
    # k1 is reported to the business but both owners sit in an analytics team.
    assert [kpi.id for kpi in health.no_business_owner] == ["k1"]
    assert [(load.person.id, load.total) for load in health.top_owners] == [("ana", 2), ("bo", 2)]


def test_who_for_a_team_lists_members_and_what_names_the_team(tmp_path: Path) -> None:
    registry = check(EXAMPLE).registry
    view = build_who(registry, "revops")
    assert [m.id for m in view.members] == ["hannah-schulz", "omar-haddad"]
    assert view.lead is not None and view.lead.id == "omar-haddad"
    named = [(r.campaign_id, r.role) for r in view.campaigns if r.person is None]
    assert ("q4-legacy-bi-displacement", "contributor") in named
    via_team = [d for d in view.escalations if "revops" in d.via]
    assert via_team and all(d.person.id == "omar-haddad" for d in via_team)
    with pytest.raises(UnknownId):
        build_who(registry, "nobody")


# --------------------------------------------------------------------------------------
# Escaping: names people type end up in six languages
# --------------------------------------------------------------------------------------

EVIL = '<script>alert(1)</script> "Q" | [x](y) --> #1 *b* `c` & %% [bold]x[/bold]'


def _evil_registry(root: Path) -> Path:
    person = PERSON.format(id="evil", name=json.dumps(EVIL), team="ops")
    return write_registry(
        root,
        {
            "people.yaml": person + "---\n" + PERSON.format(id="ok", name="Ok", team="ops"),
            "teams.yaml": 'kind: team\nid: ops\nname: "# Ops | <b>\\\\ \\"T\\""\n'
            "function: marketing\nlead: ok\n",
            "sources.yaml": SOURCE.format(
                id="src",
                name=json.dumps('Source ]] "A" <img src=x onerror=alert(1)>'),
                system=json.dumps("Sys|tem `x`"),
                owner="evil",
                upstream="",
            ),
            "kpis.yaml": KPI.format(
                id="k1",
                name=json.dumps("KPI `one` <script>x</script> | end"),
                stage="conversion",
                audience="business",
                primary="evil",
                backup="ok",
                sources="src",
                policy="pol",
            ),
            "policy.yaml": POLICY.format(id="pol", approver="$owner"),
        },
        settings='version: 1\norganization: "Org <b>&</b> \\"Co\\""\n',
    )


@pytest.fixture
def evil(tmp_path: Path) -> Path:
    return _evil_registry(tmp_path / "evil")


def test_escaping_text(run: Run, evil: Path) -> None:
    out = run("map", str(evil)).out
    assert f"Primary owner  {EVIL}" in out  # printed as written, on one line
    assert "\x1b" not in out


def test_escaping_markdown(run: Run, evil: Path) -> None:
    out = run("map", str(evil), "-f", "markdown").out
    assert "<script" not in out and "<img" not in out and "<b>" not in out
    escaped = (
        r'&lt;script&gt;alert(1)&lt;/script&gt; "Q" \| \[x\](y) --&gt; #1 \*b\* \`c\` & %% '
        r"\[bold\]x\[/bold\]"
    )
    assert f"**Primary owner:** {escaped}" in out
    assert r"KPI \`one\` &lt;script&gt;x&lt;/script&gt; \| end" in out
    # Every table row still has exactly its cells: no unescaped pipe splits one.
    for line in out.splitlines():
        if line.startswith("| [KPI"):
            assert line.replace(r"\|", "").count("|") == 9


def test_escaping_mermaid(run: Run, evil: Path) -> None:
    out = run("map", str(evil), "-f", "mermaid").out
    assert "<script" not in out and '"Q"' not in out and "%%" not in out.split("\n", 1)[1]
    assert "#lt;script#gt;alert(1)#lt;/script#gt; #quot;Q#quot;" in out
    assert "#96;one#96;" in out
    # A label is one quoted string: exactly two quotes per node line.
    for line in out.splitlines():
        if line.startswith("    person_evil"):
            assert line.count('"') == 2


def test_escaping_dot(run: Run, evil: Path) -> None:
    out = run("map", str(evil), "-f", "dot").out
    assert r"\"Q\"" in out
    assert r'label="# Ops | <b>\\ \"T\""' not in out  # team names only appear in details
    assert r"Org <b>&</b> \"Co\"" in out
    if shutil.which("dot"):
        done = subprocess.run(["dot", "-Tsvg"], input=out, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in done.stdout


def test_escaping_json(run: Run, evil: Path) -> None:
    data = json.loads(run("map", str(evil), "-f", "json").out)
    assert data["people"]["evil"]["name"] == EVIL
    assert data["organization"] == 'Org <b>&</b> "Co"'


def test_escaping_html(run: Run, evil: Path) -> None:
    out = run("map", str(evil), "-f", "html").out
    assert out.count("<script") == 1  # the page's own script, nothing from the registry
    assert "<img" not in out and "<b>" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &#34;Q&#34;" in out
    assert "Org &lt;b&gt;&amp;&lt;/b&gt; &#34;Co&#34;" in out


@pytest.mark.parametrize("output_format", ["text", "markdown", "json"])
def test_escaping_who(run: Run, evil: Path, output_format: str) -> None:
    out = run("who", "evil", str(evil), "-f", output_format).out
    if output_format == "json":
        assert json.loads(out)["name"] == EVIL
    elif output_format == "markdown":
        assert "<script" not in out and r"\[x\](y)" in out
    else:
        assert out.startswith(f"{EVIL} (evil)\n")


def test_escaping_rich_terminal(evil: Path) -> None:
    from rich.console import Console

    from kpictl.views.terminal import print_map

    console = Console(record=True, width=400, force_terminal=True)
    print_map(build_map(check(evil).registry), console)
    text = console.export_text()
    assert EVIL in text  # rich markup in a name is shown, not obeyed


# --------------------------------------------------------------------------------------
# Templates a registry overrides
# --------------------------------------------------------------------------------------


def test_registry_templates_override_the_shipped_ones(run: Run, tmp_path: Path) -> None:
    root = tmp_path / "reg"
    shutil.copytree(EXAMPLE, root)
    settings = (root / "kpictl.yaml").read_text(encoding="utf-8")
    (root / "kpictl.yaml").write_text(settings + "templates: templates/\n", encoding="utf-8")
    (root / "templates" / "map").mkdir(parents=True)
    (root / "templates" / "map" / "text.txt.j2").write_text(
        "{% for kpi in view.kpis %}{{ kpi.id }} -> {{ kpi.primary.name|plain }}\n{% endfor %}",
        encoding="utf-8",
    )
    result = run("map", str(root), "--kpi", "mql", "--kpi", "nrr")
    assert result.out == "mql -> Aisha Okafor\nnrr -> Grace Liu\n"
    # Formats the registry does not override keep the shipped wording.
    assert run("map", str(root), "-f", "markdown").out.startswith("# Accountability map")

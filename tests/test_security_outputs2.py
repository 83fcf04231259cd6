"""Security of what kpictl writes, round two: what a security tester found in the fixes.

No line of any text output may start a GitHub workflow command (`##[` anywhere, `::`
at the start after white space); a file name that is not UTF-8 is written as escapes
or percent-encoded bytes, never raw and never a crash; CODEOWNERS holds no pattern a
file name widened; no output shows a control or bidirectional character raw.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from kpictl.templating.escaping import defuse
from tests.gitrepo import Repo, git_env, requires_git  # noqa: F401 - git_env is a fixture
from tests.helpers import BASE, Run, write_registry

FORGED_TEAM = "kind: team\nid: t1\nname: T\nfunction: marketing\nbogus: 1\n"


def _commands(text: str) -> list[str]:
    """Lines of `text` that GitHub's runner would obey as a workflow command."""
    lines = text.replace("\r", "\n").split("\n")
    return [line for line in lines if "##[" in line or line.lstrip().startswith("::")]


# --- 1. no text output starts a workflow command -------------------------------------


@pytest.mark.parametrize(
    ("text", "defused"),
    [
        ("##[error]x", "#\\#[error]x"),
        ("a ###[warning]b", "a ##\\#[warning]b"),
        ("::error::x", ":\\:error::x"),
        ("ok\n  ::error::x\r\u00a0::warning::y", "ok\n  :\\:error::x\r\u00a0:\\:warning::y"),
        ("a::b\n:c", "a::b\n:c"),
    ],
)
def test_defuse_leaves_no_workflow_command(text: str, defused: str) -> None:
    assert defuse(text) == defused
    assert _commands(defuse(text)) == []


def test_check_text_report_never_starts_a_line_with_a_command(tmp_path: Path, run: Run) -> None:
    root = write_registry(tmp_path / "reg", dict(BASE))
    (root / "##[error]forged by the pull request.yaml").write_text(FORGED_TEAM, encoding="utf-8")
    result = run("check", str(root))
    assert result.code == 1
    first = result.out.split("\n")[0]
    assert first.startswith(f"{root.as_posix()}/#\\#[error]forged by the pull request.yaml:5:1: ")
    assert _commands(result.out) == []


def test_github_report_keeps_its_annotation_and_defuses_the_text(tmp_path: Path, run: Run) -> None:
    root = write_registry(tmp_path / "reg", dict(BASE))
    (root / "##[error]x.yaml").write_text(FORGED_TEAM, encoding="utf-8")
    result = run("check", ".", "-f", "github", cwd=root)
    assert result.code == 1
    lines = result.out.split("\n")
    assert lines[0].startswith("::error file=##[error]x.yaml,line=5,col=1,title=S001 schema::")
    assert lines[1].startswith("#\\#[error]x.yaml:5:1: S001 [error] unknown field 'bogus'")
    assert _commands("\n".join(lines[1:])) == []


@pytest.mark.parametrize("output_format", ["text", "markdown", "mermaid"])
def test_map_and_who_never_start_a_command_from_a_name(
    tmp_path: Path, run: Run, output_format: str
) -> None:
    files = dict(BASE)
    files["people.yaml"] = BASE["people.yaml"].replace(
        "name: Ann Lee", 'name: "::error::forged ##[warning]x"'
    )
    root = write_registry(tmp_path / "reg", files)
    result = run("map", str(root), "-f", output_format)
    assert result.code == 0, result.err
    assert "forged" in result.out
    assert _commands(result.out) == []
    if output_format != "mermaid":
        result = run("who", "ann", str(root), "-f", output_format)
        assert result.code == 0, result.err
        if output_format == "text":
            assert result.out.split("\n")[0] == ":\\:error::forged #\\#[warning]x (ann)"
        assert _commands(result.out) == []


# --- 2. a file name that is not UTF-8 -----------------------------------------------

BAD_NAME = os.fsdecode(b"teams/bad\xff.yaml")


def _with_bad_name(root: Path) -> None:
    (root / "teams").mkdir()
    (root / BAD_NAME).write_text(FORGED_TEAM.replace("t1", "t-bad"), encoding="utf-8")


@pytest.mark.parametrize(
    ("output_format", "shown"),
    [
        ("text", "teams/bad\\xff.yaml:5:1: S001 [error]"),
        ("github", "::error file=teams/bad\\xff.yaml,line=5,col=1,"),
        ("json", '"path": "teams/bad\\udcff.yaml"'),
        ("sarif", '"uri": "teams/bad%FF.yaml"'),
        ("junit", 'classname="teams/bad\\xff.yaml"'),
    ],
)
def test_every_check_format_writes_a_name_that_is_not_utf8(
    tmp_path: Path, run: Run, output_format: str, shown: str
) -> None:
    root = write_registry(tmp_path / "reg", dict(BASE))
    _with_bad_name(root)
    result = run("check", ".", "-f", output_format, cwd=root)
    assert (result.code, result.err) == (1, "")
    result.out.encode("utf-8")  # strict: nothing raw that is not UTF-8
    assert shown in result.out
    if output_format in ("json", "sarif"):
        json.loads(result.out)
    if output_format == "junit":
        ET.fromstring(result.out)


@requires_git
@pytest.mark.usefixtures("git_env")
@pytest.mark.parametrize(
    ("output_format", "shown"),
    [
        ("text", "  + t-bad  T (registry/teams/bad\\xff\\xfe.yaml)\n"),
        ("json", '"path": "registry/teams/bad\\udcff\\udcfe.yaml"'),
        ("markdown", "- **added** `t-bad`: T\n"),
    ],
)
def test_diff_writes_a_name_that_is_not_utf8_escaped(
    tmp_path: Path, run: Run, output_format: str, shown: str
) -> None:
    repo = Repo.init(tmp_path / "repo")
    write_registry(repo.path / "registry", dict(BASE))
    repo.commit("Registry")
    team = "kind: team\nid: t-bad\nname: T\nfunction: marketing\n"
    (repo.path / "registry" / os.fsdecode(b"teams/bad\xff\xfe.yaml")).parent.mkdir()
    (repo.path / "registry" / os.fsdecode(b"teams/bad\xff\xfe.yaml")).write_text(team)
    repo.commit("A team")
    result = run(
        "diff", "main~1", "HEAD", "--registry", "registry", "-f", output_format, cwd=repo.path
    )
    assert (result.code, result.err) == (0, "")
    result.out.encode("utf-8")
    assert shown in result.out


# --- 3. CODEOWNERS holds no pattern a file name widened -----------------------------


@requires_git
@pytest.mark.usefixtures("git_env")
def test_codeowners_leaves_out_a_name_with_glob_characters(tmp_path: Path, run: Run) -> None:
    repo = Repo.init(tmp_path / "repo")
    files = dict(BASE)
    files["people.yaml"] = BASE["people.yaml"].replace("id: bob\n", "id: bob\ngithub: attacker\n")
    files["kpi.yaml"] = BASE["kpi.yaml"].replace("primary: ann", "primary: bob")
    source = "kind: data_source\nid: {id}\nname: S\nsystem: X\nowner: bob\nrefresh: daily\n"
    for n, name in enumerate(["*.yaml", "s?.yaml", "[a-z].yaml", "!x.yaml", "a\\b.yaml"]):
        files[name] = source.format(id=f"s{n}")
    files["with space #1.yaml"] = source.format(id="spaced")
    write_registry(repo.path / "registry", files)
    repo.commit("Registry")
    result = run("codeowners", "registry", cwd=repo.path)
    assert result.code == 0
    assert result.err.split("\n")[-2] == (
        "kpictl: warning: 5 files left out of CODEOWNERS because the name holds a control "
        "character or one of * ? [ ] ! \\: registry/!x.yaml, registry/*.yaml, "
        "registry/[a-z].yaml, registry/a\\b.yaml, registry/s?.yaml (rename the file)"
    )
    text = (repo.path / ".github/CODEOWNERS").read_text(encoding="utf-8")
    rules = [line.split(" @") for line in text.split("\n") if line.startswith("/")]
    assert [(path.rstrip(), owner) for path, owner in rules] == [
        ("/registry/campaign.yaml", "attacker"),
        ("/registry/kpi.yaml", "attacker"),
        ("/registry/with\\ space\\ \\#1.yaml", "attacker"),
    ]


# --- 4. no control, bidi or invisible character left raw -----------------------------

HIDDEN = "\x1b\x00\x07\r\x9b\u202e\u2066\u200f\u200e\u061c\u2060\u200b"


def test_html_map_shows_no_control_character_from_a_description(tmp_path: Path, run: Run) -> None:
    files = dict(BASE)
    files["kpi.yaml"] = BASE["kpi.yaml"].replace(
        "description: Leads that meet the MQL definition.",
        'description: "Leads\\e[2J\\0\\a\\r\\x9b\\u202e\\u2066\\u200f\\u200e\\u061c\\u2060\\u200b'
        ' <b>qualified</b>"',
    )
    root = write_registry(tmp_path / "reg", files)
    result = run("map", str(root), "-f", "html")
    assert result.code == 0, result.err
    assert '<p class="description">Leads[2J &lt;b&gt;qualified&lt;/b&gt;</p>' in result.out
    assert not set(HIDDEN) & set(result.out)


def test_fmt_diff_spells_out_bidi_characters_and_starts_no_command(
    tmp_path: Path, run: Run
) -> None:
    root = write_registry(tmp_path / "reg", {})
    (root / "t.yaml").write_text(
        "kind: team\nname: |\n  ::error::forged\n"
        "id:    t  # \u202eevil\u2066 \u200fmark\n# ##[error]forged\n",
        encoding="utf-8",
    )
    result = run("fmt", "--check", "--diff", cwd=root)
    assert result.code == 1
    assert result.out.split("\n")[3:10] == [
        "@@ -1,5 +1,5 @@",
        " kind: team",
        "+id: t     # \\u202eevil\\u2066 \\u200fmark",
        " name: |",
        "   :\\:error::forged",
        "-id:    t  # \\u202eevil\\u2066 \\u200fmark",
        " # #\\#[error]forged",
    ]
    assert _commands(result.out) == []
    assert result.out.replace("\n", "").isprintable()


def test_show_source_spells_out_bidi_marks(tmp_path: Path, run: Run) -> None:
    root = write_registry(tmp_path / "reg", {})
    (root / "t.yaml").write_text(
        "kind: team\nid: t\nname: T\nfunction: marketing\n"
        "bogus: a\u200fb\u200ec\u061cd\u202ee\u2060f\n",
        encoding="utf-8",
    )
    result = run("check", ".", "--show-source", cwd=root)
    assert result.code == 1
    assert result.out.split("\n")[1:3] == [
        "    5 | bogus: a\\u200fb\\u200ec\\u061cd\\u202ee\\u2060f",
        "      | ^^^^^^",
    ]


def test_calendar_folds_no_line_into_a_workflow_command(tmp_path: Path, run: Run) -> None:
    from icalendar import Calendar

    forged = "::error file=x::forged ##[error]y"
    # Each padding moves the fold to another character of the forged command.
    for pad in range(50, 80, 3):
        name = "M" * pad + " " + forged
        files = dict(BASE)
        files["kpi.yaml"] = BASE["kpi.yaml"].replace("name: MQLs", f'name: "{name}"')
        root = write_registry(tmp_path / f"reg{pad}", files)
        result = run("calendar", str(root), "--from", "2026-10-01", "--to", "2026-10-31")
        assert result.code == 0, result.err
        assert _commands(result.out) == [], pad
        assert all(len(line.encode()) <= 75 for line in result.out.split("\r\n"))
        # Folding is lossless: the value reads back whole.
        events = Calendar.from_ical(result.out).walk("VEVENT")
        descriptions = [str(event["description"]) for event in events]
        assert any(f"- mql: {name}" in text for text in descriptions), pad


@pytest.mark.parametrize("output_format", ["json", "sarif", "junit"])
def test_machine_formats_say_the_same_without_a_command(
    tmp_path: Path, run: Run, output_format: str
) -> None:
    root = write_registry(tmp_path / "reg", dict(BASE))
    (root / "##[error]x.yaml").write_text(FORGED_TEAM, encoding="utf-8")
    result = run("check", ".", "-f", output_format, cwd=root)
    assert result.code == 1
    assert _commands(result.out) == []
    if output_format == "junit":
        case = ET.fromstring(result.out).find("testsuite/testcase")
        assert case is not None
        assert case.get("classname") == "##[error]x.yaml"
    else:
        found = json.loads(result.out)
        if output_format == "sarif":
            location = found["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
            assert location["artifactLocation"]["uri"] == "%23%23%5Berror%5Dx.yaml"
            assert found["runs"][0]["results"][0]["message"]["text"].startswith("unknown field")
        else:
            assert found[0]["path"] == "##[error]x.yaml"


def test_map_json_says_the_same_without_a_command(tmp_path: Path, run: Run) -> None:
    files = dict(BASE)
    files["people.yaml"] = BASE["people.yaml"].replace("name: Ann Lee", 'name: "##[error]x"')
    root = write_registry(tmp_path / "reg", files)
    result = run("map", str(root), "-f", "json")
    assert result.code == 0, result.err
    assert _commands(result.out) == []
    assert '"name": "#\\u0023[error]x"' in result.out
    assert json.loads(result.out)["people"]["ann"]["name"] == "##[error]x"

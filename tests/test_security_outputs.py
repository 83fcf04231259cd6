"""Security of what kpictl writes: where files go, and what other programs read.

CI runs kpictl on pull requests whose files an attacker controls. These tests plant
links, FIFOs and devices where kpictl writes, feed hostile names and values into
every output format, and check that nothing is written through a link, no file of
the registry is overwritten, and no workflow command, terminal escape, formula or
malformed XML comes out.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from kpictl.fileio import NotRegularFileError, read_regular_text, write_atomic
from tests.conftest import AS_OF, EXAMPLE
from tests.gitrepo import Repo, git_env, requires_git  # noqa: F401 - git_env is a fixture
from tests.helpers import BASE, Patch, Run, make, write_registry

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")


# --- 1. writes: never through a link, never over the registry -----------------------


def test_write_atomic_refuses_a_symlink_and_leaves_its_target_alone(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n", encoding="utf-8")
    link = tmp_path / "report.txt"
    link.symlink_to(victim)
    with pytest.raises(NotRegularFileError) as caught:
        write_atomic(link, "report\n")
    assert caught.value.strerror == (
        "it is a symbolic link, not a regular file: remove it, or choose another path"
    )
    assert link.is_symlink()
    assert victim.read_text(encoding="utf-8") == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.txt", "victim.txt"]


def test_write_atomic_refuses_a_dangling_symlink(tmp_path: Path) -> None:
    link = tmp_path / "report.txt"
    link.symlink_to(tmp_path / "nowhere")
    with pytest.raises(NotRegularFileError):
        write_atomic(link, "report\n")
    assert not (tmp_path / "nowhere").exists()
    assert link.is_symlink()


@needs_fifo
def test_write_atomic_refuses_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "report.txt"
    os.mkfifo(fifo)
    with pytest.raises(NotRegularFileError, match="it is a named pipe \\(FIFO\\)"):
        write_atomic(fifo, "report\n")
    assert fifo.is_fifo()


def test_write_atomic_refuses_a_folder(tmp_path: Path) -> None:
    with pytest.raises(NotRegularFileError, match="it is a folder, not a regular file"):
        write_atomic(tmp_path, "report\n")


def test_write_atomic_still_replaces_a_regular_file_keeping_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "report.txt"
    target.write_text("old\n", encoding="utf-8")
    target.chmod(0o640)
    write_atomic(target, "new\n")
    assert target.read_text(encoding="utf-8") == "new\n"
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["report.txt"]


@needs_fifo
def test_output_option_refuses_a_fifo(tmp_path: Path, run: Run) -> None:
    os.mkfifo(tmp_path / "report.txt")
    result = run("check", str(EXAMPLE), "-o", "report.txt", cwd=tmp_path)
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        "kpictl: cannot write report.txt: it is a named pipe (FIFO), not a regular "
        "file: remove it, or choose another path\n"
    )
    assert (tmp_path / "report.txt").is_fifo()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="mknod needs root")
def test_output_option_refuses_a_device(tmp_path: Path, run: Run) -> None:
    # As root this used to replace the device node (/dev/full, /dev/null) itself with
    # a regular file; the test makes its own node, never touching /dev.
    device = tmp_path / "full"
    os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
    result = run("check", str(EXAMPLE), "-o", str(device))
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"kpictl: cannot write {device}: it is a character device, not a regular "
        "file: remove it, or choose another path\n"
    )
    assert stat.S_ISCHR(device.lstat().st_mode)


def test_output_option_refuses_a_symlink(tmp_path: Path, run: Run) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n", encoding="utf-8")
    (tmp_path / "report.json").symlink_to(victim)
    result = run("check", str(EXAMPLE), "--format", "json", "-o", "report.json", cwd=tmp_path)
    assert result.code == 2
    assert result.err == (
        "kpictl: cannot write report.json: it is a symbolic link, not a regular file: "
        "remove it, or choose another path\n"
    )
    assert victim.read_text(encoding="utf-8") == "precious\n"


@pytest.mark.parametrize("name", ["kpis/kpi.yaml", "kpictl.yaml", "kpis/new.yml"])
def test_output_option_refuses_a_file_of_the_registry(tmp_path: Path, run: Run, name: str) -> None:
    root = write_registry(tmp_path / "reg", {"kpis/kpi.yaml": "kind: team\n"})
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    result = run("check", "reg", "-o", f"reg/{name}", cwd=tmp_path)
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"kpictl: not writing reg/{name}: it is a file of the registry in {root.resolve()} "
        f"({name}); write the output outside the registry, or to a file whose name does "
        "not end in .yaml or .yml\n"
    )
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


def test_output_option_refuses_a_registry_file_reached_through_a_linked_folder(
    tmp_path: Path, run: Run
) -> None:
    root = write_registry(tmp_path / "reg", {"kpis/kpi.yaml": "kind: team\n"})
    (tmp_path / "elsewhere").symlink_to(root / "kpis")
    result = run("check", "reg", "-o", "elsewhere/kpi.yaml", cwd=tmp_path)
    assert result.code == 2
    assert result.err.startswith("kpictl: not writing elsewhere/kpi.yaml: it is a file of")
    assert (root / "kpis/kpi.yaml").read_text(encoding="utf-8") == "kind: team\n"


def test_output_option_may_write_a_report_beside_the_registry_files(
    tmp_path: Path, run: Run
) -> None:
    root = write_registry(tmp_path / "reg", {})
    hidden = run("check", "reg", "-o", "reg/.reports/check.yaml", cwd=tmp_path)
    assert hidden.code == 2  # the folder does not exist: write_atomic's own error
    (root / ".reports").mkdir()
    for name in (".reports/check.yaml", "report.txt"):
        result = run("check", "reg", "-o", f"reg/{name}", cwd=tmp_path)
        assert (result.code, result.err) == (0, "")
        assert (root / name).read_text(encoding="utf-8") == "No findings in 1 file.\n"


def test_calendar_out_refuses_a_symlink(tmp_path: Path, run: Run) -> None:
    victim = tmp_path / "victim.ics"
    victim.write_text("precious\n", encoding="utf-8")
    (tmp_path / "cadence.ics").symlink_to(victim)
    result = run(
        "calendar", str(EXAMPLE), "--from", "2026-10-01", "--to", "2026-10-31",
        "--out", "cadence.ics", cwd=tmp_path,
    )  # fmt: skip
    assert (result.code, result.out) == (2, "")
    assert result.err.startswith("kpictl: cannot write cadence.ics: it is a symbolic link")
    assert victim.read_text(encoding="utf-8") == "precious\n"


def test_calendar_out_refuses_a_file_of_the_registry(tmp_path: Path, run: Run) -> None:
    root = write_registry(tmp_path / "reg", {})
    result = run("calendar", "reg", "--out", "reg/cadence.yaml", cwd=tmp_path)
    assert result.code == 2
    assert result.err.startswith("kpictl: not writing reg/cadence.yaml: it is a file of")
    assert not (root / "cadence.yaml").exists()


def test_schema_out_refuses_a_planted_symlink(tmp_path: Path, run: Run) -> None:
    out = tmp_path / "schemas"
    out.mkdir()
    victim = tmp_path / "victim.json"
    victim.write_text("precious\n", encoding="utf-8")
    (out / "kpi.schema.json").symlink_to(victim)
    result = run("schema", "--out", str(out))
    assert result.code == 2
    assert result.err == (
        f"kpictl: cannot write into {out}: it is a symbolic link, not a regular file: "
        "remove it, or choose another path\n"
    )
    assert victim.read_text(encoding="utf-8") == "precious\n"


def test_fmt_never_writes_through_a_link(tmp_path: Path, run: Run) -> None:
    root = write_registry(tmp_path / "reg", {})
    outside = tmp_path / "outside.yaml"
    outside.write_text("kind:    team\n", encoding="utf-8")
    (root / "team.yaml").symlink_to(outside)
    result = run("fmt", str(root / "team.yaml"), cwd=tmp_path)
    assert result.code == 1
    assert outside.read_text(encoding="utf-8") == "kind:    team\n"
    assert (root / "team.yaml").is_symlink()


def test_read_regular_text_refuses_links_and_fifos(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to(tmp_path / "file")
    (tmp_path / "file").write_text("text\n", encoding="utf-8")
    assert read_regular_text(tmp_path / "file") == "text\n"
    assert read_regular_text(tmp_path / "missing") is None
    with pytest.raises(NotRegularFileError, match="it is a symbolic link"):
        read_regular_text(tmp_path / "link")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo")
        with pytest.raises(NotRegularFileError, match="it is a named pipe"):
            read_regular_text(tmp_path / "fifo")


# --- 4. a closed standard output -----------------------------------------------------


@pytest.mark.parametrize(
    ("stdout", "message"),
    [
        ("closed", "standard output is closed; redirect it to a file or /dev/null"),
        ("read-only", "Bad file descriptor"),
    ],
)
def test_closed_stdout_is_one_line_and_exit_2(tmp_path: Path, stdout: str, message: str) -> None:
    script = (
        "import os, sys\n"
        "if sys.argv[1] == 'closed':\n"
        "    os.close(1)\n"
        "else:\n"
        "    fd = os.open(os.devnull, os.O_RDONLY)\n"
        "    os.dup2(fd, 1)\n"
        "os.execv(sys.executable, [sys.executable, '-c', "
        "'from kpictl.__main__ import run; run()', 'check', sys.argv[2]])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, stdout, str(EXAMPLE)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr == f"kpictl: cannot write the output: {message}\n"


# --- 5. codeowners markers -----------------------------------------------------------

USER_LINES = "* @acme/marketing-ops\n"
BEGIN = "# BEGIN kpictl codeowners\n"
END = "# END kpictl codeowners\n"


@requires_git
@pytest.mark.usefixtures("git_env")
@pytest.mark.parametrize(
    ("existing", "problem"),
    [
        (
            USER_LINES + BEGIN + "/a @x\n" + END + "/docs/ @acme/writers\n" + BEGIN + END,
            "more than one kpictl block (line 2: BEGIN, line 4: END, line 6: BEGIN, line 7: END)",
        ),
        (
            USER_LINES + BEGIN + "/docs/ @acme/writers\n",
            "'# BEGIN kpictl codeowners' without '# END kpictl codeowners' after it "
            "(line 2: BEGIN)",
        ),
        (
            USER_LINES + END + "/docs/ @acme/writers\n",
            "'# END kpictl codeowners' without '# BEGIN kpictl codeowners' before it (line 2: END)",
        ),
        (
            END + USER_LINES + BEGIN,
            "'# END kpictl codeowners' before '# BEGIN kpictl codeowners' "
            "(line 1: END, line 3: BEGIN)",
        ),
    ],
)
def test_codeowners_refuses_markers_that_are_not_one_block(
    tmp_path: Path, run: Run, existing: str, problem: str
) -> None:
    repo = Repo.init(tmp_path / "repo")
    write_registry(repo.path / "registry", BASE)
    repo.commit("Registry")
    target = repo.path / "CODEOWNERS"
    target.write_text(existing, encoding="utf-8")
    for extra in ((), ("--check",)):
        result = run("codeowners", "registry", "-o", "CODEOWNERS", *extra, cwd=repo.path)
        assert (result.code, result.out) == (2, "")
        assert result.err == (
            f"kpictl: CODEOWNERS: {problem}; leave exactly one BEGIN/END pair around "
            "kpictl's lines and run again (nothing was changed)\n"
        )
        assert target.read_text(encoding="utf-8") == existing


@requires_git
@pytest.mark.usefixtures("git_env")
def test_codeowners_never_reads_or_writes_through_a_planted_link(tmp_path: Path, run: Run) -> None:
    repo = Repo.init(tmp_path / "repo")
    write_registry(repo.path / "registry", BASE)
    secret = tmp_path / "secret.txt"
    secret.write_text("password=hunter2\n", encoding="utf-8")
    (repo.path / ".github").mkdir()
    (repo.path / ".github/CODEOWNERS").symlink_to(secret)
    repo.commit("Registry")
    for extra in ((), ("--check",)):
        result = run("codeowners", "registry", *extra, cwd=repo.path)
        assert (result.code, result.out) == (2, "")
        assert result.err == (
            "kpictl: cannot read .github/CODEOWNERS: it is a symbolic link, not a regular "
            "file: remove it, or choose another path\n"
        )
    assert secret.read_text(encoding="utf-8") == "password=hunter2\n"


@requires_git
@pytest.mark.usefixtures("git_env")
def test_codeowners_refuses_a_github_folder_linked_out_of_the_repository(
    tmp_path: Path, run: Run
) -> None:
    repo = Repo.init(tmp_path / "repo")
    write_registry(repo.path / "registry", BASE)
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo.path / ".github").symlink_to(outside)
    repo.commit("Registry")
    result = run("codeowners", "registry", cwd=repo.path)
    assert result.code == 2
    assert result.err == (
        f"kpictl: {repo.path / '.github'} leads outside the repository (a symbolic link?); "
        "pass --output FILE to say where CODEOWNERS goes\n"
    )
    assert list(outside.iterdir()) == []


# --- 2. hostile names and values in every output format ------------------------------

NEWLINE_FILE = "evil\n::error::pwned.yaml"
ESCAPE_FILE = "::notice::bell\x07\x1b[2J.yaml"
HOSTILE_FILES = {
    NEWLINE_FILE: "kind: team\nid: evil\nname: x\nfunction: marketing\nlead: nobody\n",
    ESCAPE_FILE: (
        "kind: team\nid: bell\nname: x\nfunction: marketing\nlead: ann\n---\n"
        'kind: team\nid: "ctl\\e[31m\\a\\r\\0x"\nname: y\nfunction: marketing\n'
    ),
}
HOSTILE_PATCHES: tuple[Patch, ...] = (
    *((name, None, text) for name, text in HOSTILE_FILES.items()),
    ("source.yaml", "owner: ann", 'owner: "=HYPERLINK(\\"x\\")"'),
)
ID_RULE = (
    "is not a valid id: use lowercase letters, digits and hyphens, starting with a letter "
    "or digit, at most 63 characters"
)
CTL_MESSAGE = f"id: 'ctl\\x1b[31m\\x07\\r\\x00x' {ID_RULE} (e.g. 'ctl-31m-x')"
R002_MESSAGE = "lead names 'nobody', which is not a person in this registry"
FORMULA_MESSAGE = f"owner: '=HYPERLINK(\"x\")' {ID_RULE} (e.g. 'hyperlink-x')"
TEXT_LINES = [
    f"./::notice::bell\\x07\\x1b[2J.yaml:8:5: S001 [error] {CTL_MESSAGE}",
    f"evil\\n::error::pwned.yaml:5:7: R002 [error] {R002_MESSAGE}",
    f"source.yaml:5:8: S001 [error] {FORMULA_MESSAGE}",
    "Found 3 errors, 0 warnings, 0 info in 10 files (check failed, failing on error).",
]
SARIF_SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    return make(tmp_path / "reg", *HOSTILE_PATCHES)


def hostile_check(run: Run, root: Path, *options: str) -> str:
    result = run("check", "--as-of", AS_OF, *options, cwd=root)
    assert (result.code, result.err) == (1, "")
    return str(result.out)


def test_text_spells_out_control_characters(run: Run, hostile: Path) -> None:
    out = hostile_check(run, hostile)
    assert out.split("\n") == [*TEXT_LINES, ""]
    assert out.isprintable() is False  # only the line ends
    assert out.replace("\n", "").isprintable()


def test_text_show_source_keeps_the_caret_under_the_value(tmp_path: Path, run: Run) -> None:
    root = write_registry(tmp_path / "reg", {})
    (root / "x.yaml").write_bytes(b'kind: "\x1b[2J"\nid: x\n')
    out = run("check", "--as-of", AS_OF, "--show-source", cwd=root).out
    assert out.split("\n") == [
        "x.yaml:1:8: Y001 [error] invalid YAML, control characters are not allowed",
        '    1 | kind: "\\x1b[2J"',
        "      |        ^^^^^^^^",
        "Found 1 error, 0 warnings, 0 info in 2 files (check failed, failing on error).",
        "",
    ]


def test_github_annotations_follow_actions_core_and_the_report_obeys_no_command(
    run: Run, hostile: Path
) -> None:
    out = hostile_check(run, hostile, "--format", "github")
    assert out.split("\n") == [
        "::error file=%3A%3Anotice%3A%3Abell\\x07\\x1b[2J.yaml,line=8,col=5,"
        f"title=S001 schema::{CTL_MESSAGE}",
        "::error file=evil%0A%3A%3Aerror%3A%3Apwned.yaml,line=5,col=7,"
        f"title=R002 unknown-reference::{R002_MESSAGE}",
        f"::error file=source.yaml,line=5,col=8,title=S001 schema::{FORMULA_MESSAGE}",
        *TEXT_LINES,
        "",
    ]
    # The runner trims leading white space, then obeys `::`; only the annotations may.
    commands = [line for line in out.split("\n") if line.lstrip().startswith("::")]
    assert len(commands) == 3


def test_github_report_spells_out_old_style_commands(tmp_path: Path, run: Run) -> None:
    root = write_registry(tmp_path / "reg", {"##[error]x %.yaml": "kind: team\nid: t\n"})
    out = run("check", "--as-of", AS_OF, "--format", "github", cwd=root).out
    # The runner also obeys `##[command]` anywhere in a line, unless the line is a
    # `::` command already (the annotations).
    assert out.split("\n") == [
        "::error file=##[error]x %25.yaml,line=1,col=1,title=S001 schema::"
        "missing required field 'function'",
        "::error file=##[error]x %25.yaml,line=1,col=1,title=S001 schema::"
        "missing required field 'name'",
        "#\\#[error]x %.yaml:1:1: S001 [error] missing required field 'function'",
        "#\\#[error]x %.yaml:1:1: S001 [error] missing required field 'name'",
        "Found 2 errors, 0 warnings, 0 info in 2 files (check failed, failing on error).",
        "",
    ]


def test_json_keeps_names_exact_and_escaped(run: Run, hostile: Path) -> None:
    out = hostile_check(run, hostile, "--format", "json")
    assert out.isascii() and "\x1b" not in out
    items = json.loads(out)
    assert [(i["path"], i["entity"]) for i in items] == [
        (ESCAPE_FILE, "ctl\x1b[31m\x07\r\x00x"),
        (NEWLINE_FILE, "evil"),
        ("source.yaml", "crm"),
    ]


def test_junit_is_well_formed_xml_without_control_characters(run: Run, hostile: Path) -> None:
    out = hostile_check(run, hostile, "--format", "junit")
    assert not any(ord(char) < 32 and char != "\n" for char in out)
    cases = ET.fromstring(out).findall("testsuite/testcase")
    assert [(case.get("classname"), case.get("name")) for case in cases] == [
        (
            "::notice::bell\\x07\\x1b[2J.yaml",
            "S001 schema: ::notice::bell\\x07\\x1b[2J.yaml (ctl\\x1b[31m\\x07\\r\\x00x)",
        ),
        ("evil\\n::error::pwned.yaml", "R002 unknown-reference: evil\\n::error::pwned.yaml (evil)"),
        ("source.yaml", "S001 schema: source.yaml (crm)"),
    ]
    failures = [case.find("failure") for case in cases]
    assert [f.get("message") for f in failures if f is not None] == [
        CTL_MESSAGE,
        R002_MESSAGE,
        FORMULA_MESSAGE,
    ]
    assert [f.text for f in failures if f is not None] == [
        line.removeprefix("./") for line in TEXT_LINES[:3]
    ]


def test_junit_names_do_not_move_with_lines(tmp_path: Path, run: Run) -> None:
    names = []
    for blank in ("", "\n\n"):
        root = make(
            tmp_path / f"reg{len(blank)}",
            ("team.yaml", "kind: team\n", f"{blank}kind: team\n"),
            ("team.yaml", "lead: ann", "lead: ann\ncolour: red"),
            ("team.yaml", "function: marketing", "function: sorcery"),
        )
        out = run("check", "--as-of", AS_OF, "--format", "junit", cwd=root).out
        names.append([case.get("name") for case in ET.fromstring(out).iter("testcase")])
    # Two findings of one rule on one entity are numbered, in report order.
    assert (
        names[0]
        == names[1]
        == [
            "S001 schema: team.yaml (demand-gen)",
            "S001 schema: team.yaml (demand-gen) #2",
        ]
    )


def test_sarif_is_valid_and_neutral(run: Run, hostile: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    out = hostile_check(run, hostile, "--format", "sarif")
    log = json.loads(out)
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema).validate(log)
    (sarif_run,) = log["runs"]
    assert list(sarif_run["originalUriBaseIds"]) == ["%SRCROOT%"]
    results = sarif_run["results"]
    assert [r["locations"][0]["physicalLocation"]["artifactLocation"] for r in results] == [
        {"uri": "%3A%3Anotice%3A%3Abell%07%1B%5B2J.yaml", "uriBaseId": "%SRCROOT%"},
        {"uri": "evil%0A%3A%3Aerror%3A%3Apwned.yaml", "uriBaseId": "%SRCROOT%"},
        {"uri": "source.yaml", "uriBaseId": "%SRCROOT%"},
    ]
    assert [r["message"]["text"] for r in results] == [
        CTL_MESSAGE,
        R002_MESSAGE,
        FORMULA_MESSAGE,
    ]


def test_sarif_uris_and_fingerprints_are_stable(tmp_path: Path, run: Run) -> None:
    """Same findings from another folder, after lines moved and a message changed."""
    repo = tmp_path / "repo"
    logs = []
    for blank, near in (("", "zed"), ("\n\n", "zeb")):
        registry = make(
            repo / "registry",
            ("team.yaml", "kind: team\n", f"{blank}kind: team\n"),
            ("team.yaml", "lead: ann", f"lead: {near}"),
        )
        (repo / ".git").mkdir(exist_ok=True)
        for cwd in (registry, repo, tmp_path):
            out = run("check", "--as-of", AS_OF, "--format", "sarif", str(registry), cwd=cwd).out
            logs.append(json.loads(out)["runs"][0]["results"])
    located = {
        json.dumps(
            [
                (
                    r["locations"][0]["physicalLocation"]["artifactLocation"],
                    r["partialFingerprints"],
                )
                for r in results
            ]
        )
        for results in logs
    }
    assert len(located) == 1
    (result,) = logs[0]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "registry/team.yaml",
        "uriBaseId": "%SRCROOT%",
    }
    expected = hashlib.sha256(b"R002\0registry/team.yaml\0demand-gen").hexdigest()
    assert result["partialFingerprints"] == {"kpictlFinding/v2": f"{expected}:1"}
    assert logs[0][0]["message"] != logs[-1][0]["message"]


def test_sarif_two_findings_on_one_entity_keep_two_fingerprints(tmp_path: Path, run: Run) -> None:
    root = write_registry(tmp_path / "reg", {"t.yaml": "kind: team\nid: t\n"})
    out = run("check", "--as-of", AS_OF, "--format", "sarif", cwd=root).out
    results = json.loads(out)["runs"][0]["results"]
    digest = hashlib.sha256(b"S001\0t.yaml\0t").hexdigest()
    assert [r["partialFingerprints"] for r in results] == [
        {"kpictlFinding/v2": f"{digest}:1"},
        {"kpictlFinding/v2": f"{digest}:2"},
    ]


# Names must be one line without control characters (S001), so the control characters
# ride in the description, which is free text; the names start spreadsheet formulas.
STATUS_PATCHES: tuple[Patch, ...] = (
    ("kpi.yaml", "name: MQLs", 'name: "=HYPERLINK(\\"http://evil.example\\")"'),
    (
        "kpi.yaml",
        "description: Leads that meet the MQL definition.",
        'description: "Leads\\e[2J\\a\\r\\0 that\\x9b31m\\u202e meet it."',
    ),
    ("people.yaml", "name: Ann Lee", "name: '+Ann Lee'"),
    ("policy.yaml", "name: Owner review", "name: '-1+2 review'"),
)


@pytest.fixture
def scorecard(tmp_path: Path) -> tuple[Path, str]:
    root = make(tmp_path / "reg", *STATUS_PATCHES)
    actuals = tmp_path / "actuals.csv"
    actuals.write_text("kpi,period,value,as_of\nmql,2026-Q4,10,2026-11-20\n", encoding="utf-8")
    return root, str(actuals)


def test_status_csv_cells_never_start_a_formula(run: Run, scorecard: tuple[Path, str]) -> None:
    root, actuals = scorecard
    result = run("status", str(root), "-a", actuals, "--as-of", AS_OF, "-f", "csv")
    assert result.code == 0
    header, row, end = result.out.split("\n")
    assert end == ""
    assert header.startswith("kpi,name,unit,direction,pacing,period,")
    assert row == (
        'mql,"\'=HYPERLINK(""http://evil.example"")",count,increase,linear,2026-Q4,'
        "Q4 2026,100.0,55.43,10.0,2026-11-20,81.96,tier,,1,'-1+2 review,standard,ann,"
        "'+Ann Lee,ann@acme.example,2026-11-21T09:00:00+00:00,,,2026-11-20"
    )


def test_spreadsheet_cells() -> None:
    from kpictl.templating.escaping import spreadsheet

    assert [spreadsheet(v) for v in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1")] == [
        "'=1+1",
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "'\t=1",
        "'\r=1",
    ]
    assert [spreadsheet(v) for v in (-5.0, -3, None, "a=b", "")] == [-5.0, -3, None, "a=b", ""]


@pytest.mark.parametrize("output_format", ["text", "markdown", "json"])
def test_status_other_formats_carry_no_control_characters(
    run: Run, scorecard: tuple[Path, str], output_format: str
) -> None:
    root, actuals = scorecard
    result = run("status", str(root), "-a", actuals, "--as-of", AS_OF, "-f", output_format)
    assert result.code == 0
    assert result.out.replace("\n", "").isprintable()
    assert "\u202e" not in result.out and "\x9b" not in result.out


@pytest.mark.parametrize(
    "args",
    [
        ("map",),
        ("map", "-f", "markdown"),
        ("map", "-f", "json"),
        ("who", "ann"),
        ("who", "ann", "-f", "json"),
        ("drill", "mql", "--deviation", "50", "--at", "2026-11-20T09:00"),
        ("drill", "mql", "--deviation", "50", "--at", "2026-11-20T09:00", "-f", "json"),
    ],
)
def test_views_and_drill_carry_no_control_characters(
    run: Run, scorecard: tuple[Path, str], args: tuple[str, ...]
) -> None:
    root, _ = scorecard
    result = (
        run(*args[:2], str(root), *args[2:])
        if args[0] != "map"
        else run("map", str(root), *args[1:])
    )
    assert result.code == 0, result.err
    assert result.out.replace("\n", "").isprintable(), repr(result.out)
    if args[0] == "map" and "json" in args:  # the description is the one field with them
        assert "\\u202e" in result.out or "\\u001b" in result.out


@requires_git
@pytest.mark.usefixtures("git_env")
@pytest.mark.parametrize("output_format", ["text", "markdown", "json"])
def test_diff_carries_no_control_characters(tmp_path: Path, run: Run, output_format: str) -> None:
    repo = Repo.init(tmp_path / "repo")
    write_registry(repo.path / "registry", BASE)
    repo.commit("Registry")
    repo.write(
        "registry/evil\n::error::x\x1b[2J.yaml",
        'kind: "gadget\\e[2J\\u202e"\nid: odd\nname: "\\a=Odd\\r::error::y"\n',
    )
    repo.replace("registry/kpi.yaml", "name: MQLs", 'name: "MQLs\\e]8;;x\\a\\x9b"')
    result = run("diff", "HEAD", "--registry", "registry", "-f", output_format, cwd=repo.path)
    assert result.code == 0, result.err
    assert result.out.replace("\n", "").isprintable(), repr(result.out)
    assert not [line for line in result.out.split("\n") if line.lstrip().startswith("::")]


@requires_git
@pytest.mark.usefixtures("git_env")
def test_codeowners_never_writes_a_rule_from_a_file_name(tmp_path: Path, run: Run) -> None:
    repo = Repo.init(tmp_path / "repo")
    files = dict(BASE)
    # (A name with control characters is an S001 finding, so only the file name is hostile.)
    files["people.yaml"] = BASE["people.yaml"].replace("id: ann\n", "id: ann\ngithub: ann-lee\n")
    files["evil\n* @attacker.yaml"] = (
        "kind: data_source\nid: evil\nname: Evil\nsystem: X\nowner: ann\nrefresh: daily\n"
    )
    write_registry(repo.path / "registry", files)
    repo.commit("Registry")
    result = run("codeowners", "registry", cwd=repo.path)
    assert result.code == 0
    assert result.err == (
        "kpictl: warning: 1 owner without a github handle, left out of CODEOWNERS: bob "
        "(add `github: <handle>` to their person entry)\n"
        "kpictl: warning: 1 file left out of CODEOWNERS because the name holds a control "
        "character or one of * ? [ ] ! \\: registry/evil\\n* @attacker.yaml (rename the file)\n"
    )
    text = (repo.path / ".github/CODEOWNERS").read_text(encoding="utf-8")
    assert "@attacker" not in text
    assert "#   bob (Bob Ray)\n" in text
    assert text.replace("\n", "").isprintable()


def test_fmt_spells_out_control_characters_in_names(tmp_path: Path, run: Run) -> None:
    root = write_registry(tmp_path / "reg", {})
    (root / "a\x1b[2Jb.yaml").write_text("kind:    team\nid: t\n", encoding="utf-8")
    result = run("fmt", "--check", "--diff", cwd=root)
    assert result.code == 1
    assert result.out.split("\n")[:3] == [
        "would reformat a\\x1b[2Jb.yaml",
        "--- a/a\\x1b[2Jb.yaml",
        "+++ b/a\\x1b[2Jb.yaml",
    ]
    assert result.out.replace("\n", "").isprintable()

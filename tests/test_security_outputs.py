"""Security of what kpictl writes: where files go, and what other programs read.

CI runs kpictl on pull requests whose files an attacker controls. These tests plant
links, FIFOs and devices where kpictl writes, feed hostile names and values into
every output format, and check that nothing is written through a link, no file of
the registry is overwritten, and no workflow command, terminal escape, formula or
malformed XML comes out.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kpictl.fileio import NotRegularFileError, read_regular_text, write_atomic
from tests.conftest import EXAMPLE
from tests.gitrepo import Repo, git_env, requires_git  # noqa: F401 - git_env is a fixture
from tests.helpers import BASE, Run, write_registry

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

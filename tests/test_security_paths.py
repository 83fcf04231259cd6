"""Security of the paths kpictl reads and writes: no link, FIFO or device in the way.

A pull request can commit `actuals/latest.csv -> /proc/self/environ`, or `docs ->
/home/ci` so that `-o docs/map.html` writes outside the checkout. These tests plant
such links in a registry and check that kpictl refuses them with one line, exit 2,
reads nothing behind them and writes nothing through them, while links above any
repository (`/tmp -> /private/tmp` on macOS, a linked home) still work.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from kpictl.emails.sentlog import SentLog, SentLogError
from kpictl.fileio import (
    LinkedFolderError,
    NotRegularFileError,
    make_folder,
    open_regular,
    refuse_linked_folder,
    write_atomic,
)
from kpictl.numbers.actuals import ActualsError, parse_actuals
from tests.conftest import AS_OF, EXAMPLE
from tests.helpers import deadline

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")

SECRET = "KPICTL_SMTP_PASSWORD=TOPSECRET123"
LINK_TAIL = (
    "is a symbolic link inside the repository, where a pull request can plant one; "
    "kpictl does not write or read through it: name a real folder"
)
NOT_REGULAR_TAIL = (
    "not a regular file; kpictl does not follow links or wait on pipes: name the CSV "
    "file itself (or pipe it to --actuals -)"
)


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    """A copy of the example registry, and a folder outside it holding a secret."""
    root = tmp_path / "registry"
    shutil.copytree(EXAMPLE, root)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "index.md").write_text("user's own file\n", encoding="utf-8")
    (outside / "secret.csv").write_text(f"{SECRET}\n", encoding="utf-8")
    return root


def outside_of(root: Path) -> Path:
    return root.parent / "outside"


def untouched(outside: Path) -> None:
    assert sorted(p.name for p in outside.iterdir()) == ["index.md", "secret.csv"]
    assert (outside / "index.md").read_text(encoding="utf-8") == "user's own file\n"


# --- 1. --actuals: only a regular file, never through a link, never a FIFO -----------


@pytest.mark.parametrize("command", ["status", "escalate", "recap"])
def test_linked_actuals_file_is_refused_and_nothing_of_it_shown(  # type: ignore[no-untyped-def]
    run, registry: Path, command: str
) -> None:
    planted = registry / "actuals" / "2026-11-20.csv"
    planted.unlink()
    planted.symlink_to(outside_of(registry) / "secret.csv")
    campaign = ["data-leaders-webinars-2026"] if command == "recap" else []
    args = [*campaign, ".", "--actuals", "actuals/2026-11-20.csv", "--as-of", AS_OF]
    result = run(command, *args, cwd=registry)
    assert result.code == 2
    assert result.err.splitlines()[-1] == (
        f"kpictl: cannot read actuals actuals/2026-11-20.csv: it is a symbolic link, "
        f"{NOT_REGULAR_TAIL}"
    )
    assert "TOPSECRET" not in result.out + result.err
    assert "topsecret" not in result.out + result.err


def test_readout_refuses_a_linked_actuals_file(run, registry: Path) -> None:  # type: ignore[no-untyped-def]
    link = registry / "latest.csv"
    link.symlink_to(outside_of(registry) / "secret.csv")
    result = run(
        "readout",
        "q4-legacy-bi-displacement",
        ".",
        "--actuals",
        "latest.csv",
        "--as-of",
        AS_OF,
        cwd=registry,
    )
    assert result.code == 2
    assert result.err.splitlines()[-1] == (
        f"kpictl: cannot read actuals latest.csv: it is a symbolic link, {NOT_REGULAR_TAIL}"
    )
    assert "TOPSECRET" not in result.out + result.err


def test_actuals_in_a_linked_folder_of_the_registry_is_refused(run, registry: Path) -> None:  # type: ignore[no-untyped-def]
    (registry / "linked").symlink_to(outside_of(registry))
    result = run("status", ".", "--actuals", "linked/secret.csv", "--as-of", AS_OF, cwd=registry)
    assert result.code == 2
    assert result.err.splitlines()[-1] == (
        f"kpictl: cannot read actuals linked/secret.csv: linked {LINK_TAIL}"
    )
    assert "TOPSECRET" not in result.out + result.err


@needs_fifo
def test_a_fifo_as_actuals_is_refused_without_waiting(run, registry: Path) -> None:  # type: ignore[no-untyped-def]
    os.mkfifo(registry.parent / "pipe.csv")
    with deadline(20):
        result = run("status", str(registry), "--actuals", str(registry.parent / "pipe.csv"))
    assert result.code == 2
    assert result.err.splitlines()[-1] == (
        f"kpictl: cannot read actuals {registry.parent / 'pipe.csv'}: it is a named pipe "
        f"(FIFO), {NOT_REGULAR_TAIL}"
    )


def test_a_header_error_does_not_quote_the_file() -> None:
    with pytest.raises(ActualsError) as caught:
        parse_actuals(f"{SECRET},kpi\nmql,2026-Q4,1,2026-11-20\n", "a.csv", ["mql"])
    assert (caught.value.row, caught.value.message) == (
        1,
        "missing columns period, value, as_of: the header must name kpi,period,value,as_of "
        "(it names kpi, in 2 columns)",
    )


def test_a_semicolon_header_still_gets_its_hint_unquoted() -> None:
    with pytest.raises(ActualsError) as caught:
        parse_actuals("kpi;period;value;as_of\n", "a.csv", ["mql"])
    assert caught.value.message == (
        "missing columns kpi, period, value, as_of: the header must name kpi,period,value,"
        "as_of (it names none of them, in 1 column); the file looks semicolon-separated: "
        "export it with commas"
    )


def test_open_regular_streams_a_regular_file(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b"kpi,period\nmql,2026-Q4\n")
    with open_regular(path) as stream:
        assert stream.readline() == b"kpi,period\n"
        assert stream.read() == b"mql,2026-Q4\n"


def test_open_regular_refuses_a_link(tmp_path: Path) -> None:
    (tmp_path / "target.csv").write_text("x\n", encoding="utf-8")
    (tmp_path / "a.csv").symlink_to(tmp_path / "target.csv")
    with pytest.raises(NotRegularFileError, match="it is a symbolic link"):
        open_regular(tmp_path / "a.csv")


def test_actuals_from_stdin_still_work(run, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import io
    import sys

    text = (EXAMPLE / "actuals" / "2026-11-20.csv").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text)))
    result = run("status", str(EXAMPLE), "--actuals", "-", "--as-of", AS_OF, "-f", "csv")
    assert result.code == 0, result.err


# --- 2. writes: never through a linked folder of the repository ----------------------


def test_escalate_out_refuses_a_linked_folder(run, registry: Path) -> None:  # type: ignore[no-untyped-def]
    (registry / "outbox").symlink_to(outside_of(registry))
    args = ("--actuals", "actuals/2026-11-20.csv", "--as-of", AS_OF, "--out", "outbox/")
    result = run("escalate", ".", *args, cwd=registry)
    assert result.code == 2
    assert result.err.splitlines()[-1] == f"kpictl: cannot write to outbox: outbox {LINK_TAIL}"
    untouched(outside_of(registry))


def test_out_refuses_a_link_above_a_folder_it_would_create(run, registry: Path) -> None:  # type: ignore[no-untyped-def]
    (registry / "outbox").symlink_to(outside_of(registry))
    args = ("--actuals", "actuals/2026-11-20.csv", "--as-of", AS_OF, "--out", "outbox/new/deeper")
    result = run("escalate", ".", *args, cwd=registry)
    assert result.code == 2
    assert result.err.splitlines()[-1] == (
        f"kpictl: cannot write to outbox/new/deeper: outbox {LINK_TAIL}"
    )
    untouched(outside_of(registry))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("map", ".", "-f", "html", "-o", "docs/map.html"), "cannot write docs/map.html"),
        (("schema", "--out", "docs/schema"), "cannot write into docs/schema"),
        (
            ("calendar", ".", "--from", "2026-10-01", "--to", "2026-12-31", "--out", "docs/c.ics"),
            "cannot write docs/c.ics",
        ),
        (("check", ".", "-f", "json", "-o", "docs/../r.json"), "cannot write docs/../r.json"),
        (("init", "docs/new"), "cannot write into docs/new"),
    ],
)
def test_every_writer_refuses_a_linked_folder(  # type: ignore[no-untyped-def]
    run, registry: Path, args: tuple[str, ...], message: str
) -> None:
    (registry / "docs").symlink_to(outside_of(registry))
    result = run(*args, cwd=registry)
    assert result.code == 2
    assert result.err.splitlines()[-1] == f"kpictl: {message}: docs {LINK_TAIL}"
    untouched(outside_of(registry))
    assert not (outside_of(registry).parent / "r.json").exists()


def test_new_refuses_a_linked_kind_folder(run, registry: Path) -> None:  # type: ignore[no-untyped-def]
    shutil.rmtree(registry / "glossary")
    (registry / "glossary").symlink_to(outside_of(registry))
    fields = ("term=Churn", "definition=Lost customers.", "owner=sofia-lindqvist")
    result = run(
        "new", "glossary_term", "churn", ".", *(f"-F{field}" for field in fields), cwd=registry
    )
    assert result.code == 2
    assert result.err.splitlines()[-1] == (
        f"kpictl: cannot write {registry / 'glossary' / 'churn.yaml'}: "
        f"{registry / 'glossary'} {LINK_TAIL}"
    )
    untouched(outside_of(registry))


def test_sent_log_refuses_a_linked_folder(registry: Path) -> None:
    (registry / "logs").symlink_to(outside_of(registry))
    with pytest.raises(SentLogError) as caught:
        SentLog.open(registry / "logs" / "sent.jsonl")
    assert str(caught.value) == (
        f"cannot use {registry / 'logs' / 'sent.jsonl'} as the sent log: "
        f"{registry / 'logs'} {LINK_TAIL}"
    )


def test_a_link_in_a_git_checkout_without_a_registry_is_refused(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    (checkout / ".git").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (checkout / "out").symlink_to(tmp_path / "outside")
    with pytest.raises(LinkedFolderError) as caught:
        write_atomic(checkout / "out" / "report.txt", "x\n")
    assert caught.value.link == checkout / "out"
    assert list((tmp_path / "outside").iterdir()) == []


def test_a_worktree_git_file_marks_a_checkout_too(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / ".git").write_text("gitdir: /elsewhere\n", encoding="utf-8")
    (checkout / "sub").mkdir()
    (checkout / "sub" / "out").symlink_to(tmp_path)
    with pytest.raises(LinkedFolderError):
        make_folder(checkout / "sub" / "out" / "new")
    assert not (tmp_path / "new").exists()


def test_links_above_the_repository_are_the_users_and_are_followed(tmp_path: Path) -> None:
    # /tmp -> /private/tmp on macOS, a linked home folder: not planted by a pull request.
    real = tmp_path / "private"
    (real / "registry").mkdir(parents=True)
    (real / "registry" / "kpictl.yaml").write_text("version: 1\n", encoding="utf-8")
    (tmp_path / "alias").symlink_to(real)
    target = tmp_path / "alias" / "registry" / "out" / "map.html"
    make_folder(target.parent)
    write_atomic(target, "map\n")
    assert (real / "registry" / "out" / "map.html").read_text(encoding="utf-8") == "map\n"


def test_a_relative_path_names_the_link_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "kpictl.yaml").write_text("version: 1\n", encoding="utf-8")
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "link").symlink_to(tmp_path / "real")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LinkedFolderError) as caught:
        refuse_linked_folder(Path("./real/link/x"))
    assert caught.value.link == Path("real/link")


def test_dot_dot_after_a_link_is_refused_not_normalized_away(tmp_path: Path) -> None:
    # `link/..` is the parent of the link's target for the OS, not the link's folder.
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (tmp_path / "far" / "away").mkdir(parents=True)
    (repo / "link").symlink_to(tmp_path / "far" / "away")
    with pytest.raises(LinkedFolderError):
        write_atomic(repo / "link" / ".." / "x.txt", "x\n")
    assert not (tmp_path / "far" / "x.txt").exists()


def test_real_folders_of_the_repository_are_written(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    make_folder(repo / "out" / "deep")
    write_atomic(repo / "out" / "deep" / ".." / "r.txt", "r\n")
    assert (repo / "out" / "r.txt").read_text(encoding="utf-8") == "r\n"


# --- 3. fmt: a file named through a linked folder is neither shown nor rewritten -----


@pytest.mark.parametrize("args", [("--diff", "linked/x.yaml"), ("linked/x.yaml",), ("linked",)])
def test_fmt_refuses_a_file_in_a_linked_folder(  # type: ignore[no-untyped-def]
    run, registry: Path, args: tuple[str, ...]
) -> None:
    text = 'kind:   team\nid: t9\nname:   "SECRET NAME"\nfunction: marketing\n'
    (outside_of(registry) / "x.yaml").write_text(text, encoding="utf-8")
    (registry / "linked").symlink_to(outside_of(registry))
    result = run("fmt", *args, cwd=registry)
    assert result.code == 1
    assert result.out.splitlines() == [
        f"linked/x.yaml:1:1: cannot format (left untouched): not read: linked {LINK_TAIL}",
        "0 files reformatted, 0 already formatted, 1 left untouched because of errors.",
    ]
    assert (outside_of(registry) / "x.yaml").read_text(encoding="utf-8") == text

"""The one module that runs git: refs, changed files, file contents at a commit, history.

Everything goes through the real `git` executable with an argument list (never a
shell), as `git -C <repository> ...`. Failures the user can fix (not a repository,
an unknown ref, a shallow clone that lacks the commit, git not installed) become a
`KpictlError` with one clear line; anything else git says is passed on verbatim.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from kpictl.errors import KpictlError
from kpictl.templating.escaping import visible

# Text git prints is parsed in a few places: keep it in English and never page it.
_ENV = {
    "LC_ALL": "C",
    "LANGUAGE": "C",
    "GIT_PAGER": "cat",
    "PAGER": "cat",
    "GIT_TERMINAL_PROMPT": "0",
    # `git diff` and `git status` may refresh the index; a read-only tool must not
    # take the index lock away from the user's own git commands.
    "GIT_OPTIONAL_LOCKS": "0",
}
FETCH_HINT = (
    "fetch more history: `git fetch --deepen=100` (or `git fetch --unshallow`), or in "
    "GitHub Actions use actions/checkout with `fetch-depth: 0`"
)
WORKING_TREE = "working tree"


class GitFailed(KpictlError):
    """git ran and failed in a way not recognised as a user error."""


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update(_ENV)
    return env


def run_git(repo: Path, *args: str, input_bytes: bytes | None = None, check: bool = True) -> bytes:
    """Run `git -C repo ARGS...` and return its stdout; a failure raises GitFailed."""
    argv = ["git", "-C", str(repo), *args]
    try:
        proc = subprocess.run(
            argv,
            input=input_bytes,
            capture_output=True,
            env=_environment(),
            check=False,
        )
    except FileNotFoundError:
        raise KpictlError(
            "git is not installed (or not on PATH): install git to use this command"
        ) from None
    if check and proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = message[-1] if message else f"exit code {proc.returncode}"
        raise GitFailed(f"git {args[0]} failed: {detail.removeprefix('fatal: ')}")
    return proc.stdout


def tracked_below(folder: Path, name: str) -> list[str] | None:
    """The files called `name` that git tracks at or below `folder`, relative to it.

    None when `folder` is in no repository or git is missing: the caller then simply
    has nothing to go on, which is not an error of its own.
    """
    argv = ["git", "-C", str(folder), "ls-files", "-z", "--", name, f":(glob)**/{name}"]
    try:
        proc = subprocess.run(argv, capture_output=True, env=_environment(), check=False)
    except OSError:
        return None
    if proc.returncode != 0:
        return None
    return sorted({_decode_path(raw) for raw in proc.stdout.split(b"\0") if raw})


@dataclass(frozen=True, slots=True)
class Commit:
    """One commit as `kpictl changelog` shows it."""

    sha: str
    parents: tuple[str, ...]
    author: str
    email: str
    date: str  # ISO 8601 with the author's offset
    subject: str
    body: str
    files: tuple[str, ...]  # paths changed against the first parent, relative to the repo

    @property
    def short(self) -> str:
        return self.sha[:7]


class Repository:
    """A git repository on disk, addressed through its top-level folder."""

    def __init__(self, top: Path) -> None:
        self.top = top

    @classmethod
    def containing(cls, path: Path) -> Repository:
        """The repository `path` lies in, or a KpictlError saying it is in none."""
        folder = path if path.is_dir() else path.parent
        argv = ["git", "-C", str(folder), "rev-parse", "--show-toplevel"]
        try:
            proc = subprocess.run(argv, capture_output=True, env=_environment(), check=False)
        except FileNotFoundError:
            raise KpictlError(
                "git is not installed (or not on PATH): install git to use this command"
            ) from None
        if proc.returncode != 0:
            said = proc.stderr.decode("utf-8", "replace")
            if "dubious ownership" in said:
                # Common in containers (CI): the clone belongs to another user.
                raise KpictlError(
                    f"git refuses to read the repository at {folder}: it belongs to another "
                    "user; if you trust it, run `git config --global --add safe.directory "
                    f"{folder}`"
                )
            raise KpictlError(
                f"{folder} is not in a git repository: run this inside a clone of the "
                "registry's repository (or `git init` one)"
            )
        top = proc.stdout.decode("utf-8", "surrogateescape").strip()
        return cls(Path(top))

    def git(self, *args: str, input_bytes: bytes | None = None) -> bytes:
        return run_git(self.top, *args, input_bytes=input_bytes)

    def relative(self, path: Path) -> str:
        """`path` as a repository path (posix, no leading slash); '' for the top."""
        absolute = Path(os.path.realpath(path))
        top = Path(os.path.realpath(self.top))
        try:
            rel = absolute.relative_to(top)
        except ValueError:
            raise KpictlError(f"{path} is not inside the git repository at {self.top}") from None
        text = rel.as_posix()
        return "" if text == "." else text

    # -- refs ---------------------------------------------------------------------------

    def is_shallow(self) -> bool:
        out = run_git(self.top, "rev-parse", "--is-shallow-repository", check=False)
        return out.strip() == b"true"

    def resolve(self, ref: str, what: str = "ref") -> str:
        """The commit id `ref` names; a clear error when it names none."""
        shown = visible(ref)  # the argument as typed: it may hold control characters
        if not ref or ref.startswith("-"):
            raise KpictlError(f"'{shown}' is not a git ref: name a branch, tag or commit")
        sha = self.commit_of(ref)
        if sha:
            return sha
        if self.is_shallow():
            raise KpictlError(
                f"{what} '{shown}' is not in this clone, which is shallow (it holds only the "
                f"latest commits): {FETCH_HINT}"
            )
        raise KpictlError(
            f"unknown {what} '{shown}': no branch, tag or commit of that name in {self.top} "
            "(for a remote branch, fetch it first and write it as origin/NAME)"
        )

    def commit_of(self, name: str) -> str | None:
        """The commit id `name` resolves to, or None when it names no commit."""
        out = run_git(
            self.top, "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}", check=False
        )
        return out.decode("ascii", "replace").strip() or None

    def head(self) -> str | None:
        """The current commit, or None in a repository without commits."""
        return self.commit_of("HEAD")

    def default_branch(self) -> str:
        """The branch pull requests target: the PR's base in GitHub Actions, else origin's
        HEAD, else main or master (remote first)."""
        candidates: list[str] = []
        base_ref = os.environ.get("GITHUB_BASE_REF")
        if base_ref:
            candidates += [f"origin/{base_ref}", base_ref]
        out = run_git(
            self.top, "symbolic-ref", "--quiet", "refs/remotes/origin/HEAD", check=False
        ).decode("utf-8", "replace")
        if out.strip():
            candidates.append(out.strip().removeprefix("refs/remotes/"))
        candidates += ["origin/main", "origin/master", "main", "master"]
        for name in candidates:
            if self.commit_of(name):
                return name
        raise KpictlError(
            "cannot tell the default branch (no origin/HEAD, main or master): "
            "name the base explicitly, e.g. `kpictl diff origin/develop`"
        )

    def merge_base(self, one: str, two: str) -> str:
        proc_out = run_git(self.top, "merge-base", one, two, check=False)
        sha = proc_out.decode("ascii", "replace").strip()
        if sha:
            return sha
        if self.is_shallow():
            raise KpictlError(
                f"cannot find where {two} branched off {one}: this clone is shallow and "
                f"lacks the common commit; {FETCH_HINT}"
            )
        raise KpictlError(f"{one} and {two} have no common history: name the base explicitly")

    # -- files --------------------------------------------------------------------------

    def changed_since(self, commit: str) -> set[str]:
        """Paths changed between `commit` and the working tree: committed, staged, unstaged
        and untracked (not ignored). A rename counts as both of its paths."""
        diff = self.git("diff", "--name-only", "--no-relative", "--no-renames", "-z", commit, "--")
        untracked = self.git("ls-files", "--others", "--exclude-standard", "-z", "--full-name")
        return {_decode_path(p) for p in (diff + untracked).split(b"\0") if p}

    def tree(self, commit: str, prefix: str) -> list[tuple[str, str]]:
        """(path, blob id) of every file below `prefix` at `commit`; symlinks and
        submodules are left out, as the loader leaves out what is not a file."""
        args = ["ls-tree", "-r", "-z", "--full-tree", commit]
        if prefix:
            args += ["--", prefix]
        out = self.git(*args)
        found = []
        for entry in out.split(b"\0"):
            if not entry:
                continue
            meta, _, name = entry.partition(b"\t")
            mode, kind, oid = meta.split(b" ")
            if kind == b"blob" and mode in (b"100644", b"100755"):
                found.append((_decode_path(name), oid.decode("ascii")))
        return found

    def read_blobs(self, oids: Iterable[str]) -> dict[str, bytes]:
        """The content of many blobs, through one `git cat-file --batch` process."""
        wanted = list(dict.fromkeys(oids))
        if not wanted:
            return {}
        out = self.git("cat-file", "--batch", input_bytes="\n".join(wanted).encode() + b"\n")
        blobs: dict[str, bytes] = {}
        for name, content in _batch_objects(out):
            if content is not None:
                blobs[name] = content
        return blobs

    def commits(self, rev: str, prefix: str) -> list[Commit]:
        """Commits on the first-parent line of `rev` that change files below `prefix`,
        oldest first, each with the paths it changed (merges: against the first parent)."""
        fmt = "%x1e%H%x1f%P%x1f%an%x1f%ae%x1f%aI%x1f%s%x1f%b%x1f"
        args = [
            "-c",
            "core.quotePath=false",
            "log",
            "--first-parent",
            "--diff-merges=first-parent",
            "--no-renames",
            "--reverse",
            "--name-only",
            f"--format={fmt}",
            rev,
            "--",
        ]
        if prefix:
            args.append(prefix)
        out = self.git(*args).decode("utf-8", "replace")
        found = []
        for record in out.split("\x1e"):
            if not record.strip():
                continue
            sha, parents, author, email, when, subject, body, names = record.split("\x1f", 7)
            found.append(
                Commit(
                    sha,
                    tuple(parents.split()),
                    author,
                    email,
                    when,
                    subject,
                    body.strip(),
                    tuple(line for line in names.splitlines() if line.strip()),
                )
            )
        return found

    def branch_commits(self, merge: Commit, path: str) -> list[Commit]:
        """For a merge: the commits it brought in that changed `path`, newest first."""
        if len(merge.parents) < 2:
            return []
        fmt = "%x1e%H%x1f%P%x1f%an%x1f%ae%x1f%aI%x1f%s%x1f%b%x1f"
        out = self.git(
            "log", "--no-merges", f"--format={fmt}", f"{merge.parents[0]}..{merge.sha}", "--", path
        ).decode("utf-8", "replace")
        found = []
        for record in out.split("\x1e"):
            if not record.strip():
                continue
            sha, parents, author, email, when, subject, body, _ = record.split("\x1f", 7)
            found.append(
                Commit(sha, tuple(parents.split()), author, email, when, subject, body.strip(), ())
            )
        return found


class BlobReader:
    """A long-running `git cat-file --batch`: ask for `commit:path` one at a time.

    Used by the history walk, which asks for a few files at each of hundreds of
    commits: one process for all of them instead of one per question.
    """

    def __init__(self, repo: Repository) -> None:
        try:
            self._proc = subprocess.Popen(
                ["git", "-C", str(repo.top), "cat-file", "--batch"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=_environment(),
            )
        except FileNotFoundError:
            raise KpictlError(
                "git is not installed (or not on PATH): install git to use this command"
            ) from None

    def read(self, commit: str, path: str) -> tuple[str, bytes] | None:
        """(blob id, content) of `path` at `commit`, or None when there is no such file."""
        stdin, stdout = self._proc.stdin, self._proc.stdout
        assert stdin is not None and stdout is not None
        if "\n" in path:
            return None
        stdin.write(f"{commit}:{path}\n".encode())
        stdin.flush()
        header = stdout.readline()
        parts = header.split()
        if len(parts) != 3:  # "<name> missing" / "ambiguous"
            return None
        oid, kind, size = parts
        content = stdout.read(int(size))
        stdout.read(1)  # the newline after the content
        if kind != b"blob":
            return None
        return oid.decode("ascii"), content

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._proc.wait()

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _batch_objects(out: bytes) -> Iterator[tuple[str, bytes | None]]:
    """Split `git cat-file --batch` output into (requested name, content or None)."""
    pos = 0
    end = len(out)
    while pos < end:
        newline = out.index(b"\n", pos)
        header = out[pos:newline].split()
        pos = newline + 1
        if len(header) != 3:
            yield header[0].decode("utf-8", "replace"), None
            continue
        size = int(header[2])
        yield header[0].decode("ascii"), out[pos : pos + size]
        pos += size + 1


def _decode_path(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")

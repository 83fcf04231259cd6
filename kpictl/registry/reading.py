"""Registry files to parsed files: read only regular files, never through a link, within limits.

A pull request controls the registry's files, and a link to a secret or to /dev/zero must
end in a finding, not in a message quoting the secret or a process filling the memory:
a file is read only when it is a regular file and only up to MAX_FILE_BYTES, and a
registry up to MAX_REGISTRY_DOCUMENTS documents, MAX_REGISTRY_VALUES values and
MAX_REGISTRY_BYTES bytes in all
(`read_files`). Parsing itself is registry/loader.py's."""

from __future__ import annotations

import os
from collections.abc import MutableSequence, Sequence
from pathlib import Path

from kpictl.check.catalog import finding
from kpictl.check.findings import Finding, Location
from kpictl.registry.loader import (
    EXCLUDE_FIX,
    SourceFile,
    parsed_file,
)
from kpictl.registry.membership import Members

# Files above this size are reported and not parsed: parsing costs about a hundred
# times a file's size in memory, and its findings would fill any log.
MAX_FILE_BYTES = 8 * 1024 * 1024
# What one file and the whole registry may cost. Every document costs its entity, its
# findings and, in `check`, about 4 KB of memory and 0.1 ms, however small it is: a
# file of 8 MB holds 145,000 tiny documents (20 s, 600 MB), and two such files double
# that. A registry file holds a few entities; the largest registries we know (20,000
# KPIs: 25,000 files, 25,000 documents, 17 MB) stay far below these. Past a limit the
# rest is reported (Y004) and not parsed, so a hostile registry costs at most about
# what the limits (and loader.MAX_FILE_DOCUMENTS) allow: 100,000 documents, some 15 s
# and 500 MB.
MAX_REGISTRY_DOCUMENTS = 100_000
# A value costs about 3 us and 50 bytes in `check`: 32 files of few documents but many
# values each (42 documents of 20,000 labels in 7.6 MB) stayed under every other limit
# and took 90 s and 1.4 GB. That registry of 20,000 KPIs holds 890,000 values and
# 17 MB; with the file that goes over, a hostile registry now costs some 10 s and 200 MB.
MAX_REGISTRY_VALUES = 2_000_000
MAX_REGISTRY_BYTES = 64 * 1024 * 1024


class Unreadable(Exception):
    """A registry file that is not read: `reason` says why, `fix` what to do."""

    def __init__(self, reason: str, fix: str) -> None:
        super().__init__(f"{reason}: {fix}")
        self.reason = reason
        self.fix = fix


def _cannot_read(exc: OSError) -> Unreadable:
    reason = (exc.strerror or exc.__class__.__name__).lower()
    return Unreadable(f"cannot read this file ({reason})", f"fix its permissions or {EXCLUDE_FIX}")


def _not_regular(what: str) -> Unreadable:
    return Unreadable(
        f"this file is {what}",
        f"kpictl reads only regular files; replace it with the file itself, or {EXCLUDE_FIX}",
    )


def _too_large(limit: int) -> Unreadable:
    return Unreadable(
        f"this file is over {limit // 1024 // 1024} MB and is not read",
        f"registry files are a few KB; split it, or {EXCLUDE_FIX} if it is data",
    )


def _link(path: Path, root: Path | None) -> str:
    """What a symbolic link at `path` points to, said without quoting its target."""
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):  # dangling, or a loop of links
        return "a symbolic link that points to nothing"
    if root is not None and not target.is_relative_to(root.resolve()):
        return "a symbolic link to a file outside the registry"
    return "a symbolic link to another file in the registry"


def read_bytes(path: Path, root: Path | None = None, limit: int = MAX_FILE_BYTES) -> bytes:
    """The content of the regular file `path`; links, pipes, devices and huge files raise.

    Raises Unreadable, worded for a finding (fileio.read_regular does the reading).
    `root` (the registry) only sharpens the message about a link.
    """
    from kpictl.fileio import FileTooLargeError, NotRegularFileError, read_regular

    try:
        return read_regular(path, limit)
    except NotRegularFileError as exc:
        raise _not_regular(
            _link(path, root) if exc.kind == "a symbolic link" else exc.kind
        ) from None
    except FileTooLargeError:
        raise _too_large(limit) from None
    except OSError as exc:
        raise _cannot_read(exc) from None


def unreadable(display: Path, problem: Unreadable, settings: bool = False) -> Finding:
    """The Y004 finding for a file that is not read (`settings`: it is kpictl.yaml)."""
    fix = "kpictl.yaml must be a regular file of settings" if settings else problem.fix
    return finding("Y004", f"{problem.reason}: {fix}", Location(display, 1, 1))


def read_file(
    path: Path, display: Path, root: Path | None = None, settings: bool = False
) -> SourceFile:
    """Read and parse one registry file. `display` is the path findings show.

    `root` is the registry folder the file belongs to (it names where a link points);
    `settings` says that the file is kpictl.yaml (which cannot be excluded).
    """
    try:
        raw = read_bytes(path, root)
    except Unreadable as refused:
        return SourceFile(display, "", [], [unreadable(display, refused, settings)])
    return parsed_file(display, raw, large=True)


class Spent:
    """What the files read so far cost, per share of the files (see `read_files`).

    Share `k` may stop as soon as shares 0..k together are over a limit: whatever
    the others still read, the registry's cut then lies at or before its next file.
    """

    def __init__(
        self,
        documents: MutableSequence[int],
        size: MutableSequence[int],
        values: MutableSequence[int],
    ) -> None:
        self.documents = documents
        self.size = size
        self.values = values

    @classmethod
    def local(cls, shares: int = 1) -> Spent:
        return cls([0] * shares, [0] * shares, [0] * shares)

    def add(self, share: int, source: SourceFile) -> None:
        self.documents[share] += source.parsed
        self.size[share] += source.size
        self.values[share] += source.values

    def over(self, share: int) -> bool:
        """Whether the files of shares 0..`share` read so far are over a registry limit."""
        upto = share + 1
        return over_limits(
            sum(self.documents[:upto]), sum(self.size[:upto]), sum(self.values[:upto])
        )


def over_limits(documents: int, size: int, values: int) -> bool:
    """Whether files of `documents` documents, `size` bytes and `values` values in all are
    too many to read."""
    return (
        documents > MAX_REGISTRY_DOCUMENTS
        or size > MAX_REGISTRY_BYTES
        or values > MAX_REGISTRY_VALUES
    )


def not_read(display: Path, left: int) -> SourceFile:
    """In place of the first file past the registry's limits: a Y004 finding on it.

    `left` counts the files not read, this one included.
    """
    others = f" and the {left - 1:,} after it are" if left > 1 else " is"
    return SourceFile(
        display,
        "",
        [],
        [
            finding(
                "Y004",
                f"with this file the registry holds more than {MAX_REGISTRY_DOCUMENTS:,} "
                f"documents, {MAX_REGISTRY_VALUES:,} values or "
                f"{MAX_REGISTRY_BYTES // 1024 // 1024} MB: this file{others} left "
                "out; registry files hold a few entities each: remove what was generated, or "
                f"{EXCLUDE_FIX} if it is data",
                Location(display, 1, 1),
            )
        ],
    )


def within_limits(
    items: Sequence[tuple[Path, Path]], sources: list[SourceFile]
) -> list[SourceFile]:
    """`sources` (read from the first of `items`, in order) up to the registry's limits;
    the file that goes over them is replaced by `not_read`, the rest dropped."""
    documents = size = values = 0
    for index, source in enumerate(sources):
        documents += source.parsed
        size += source.size
        values += source.values
        if over_limits(documents, size, values):
            return [*sources[:index], not_read(items[index][1], len(items) - index)]
    return sources


# Below this many files, starting a second process costs more than it saves.
PARALLEL_MIN_FILES = 400


def read_files(items: list[tuple[Path, Path]], root: Path | None = None) -> list[SourceFile]:
    """`read_file` for many (path, display) pairs of the registry at `root`, in order,
    up to the registry's limits (`within_limits`); on several cores, in parallel.

    Parsing is CPU-bound Python, so a large registry is split into contiguous shares
    parsed in forked worker processes; results come back in order. What each share has
    spent sits in shared memory the workers inherit, so that past a limit no share
    reads on.
    """
    if len(items) < PARALLEL_MIN_FILES:  # the usual registry: the pool helper stays unloaded
        return within_limits(items, _read_share(items, root, Spent.local(), 0))
    import multiprocessing

    from kpictl.parallel import map_in_workers, usable_cpus

    workers = min(usable_cpus(), 4)
    size = -(-len(items) // workers)
    shares = [items[i : i + size] for i in range(0, len(items), size)]
    context = multiprocessing.get_context("fork")
    # Created before the fork, so every worker shares it; never pickled.
    spent = Spent(*(context.RawArray("q", len(shares)) for _ in range(3)))

    def read_item(share: int) -> list[SourceFile]:
        return _read_share(shares[share], root, spent, share)

    out: list[SourceFile] = []
    parts = map_in_workers(read_item, range(len(shares)), workers, 2)
    for done, share in zip(parts, shares, strict=True):
        out.extend(done)
        if len(done) < len(share):  # a share that stopped short: the cut lies before
            break
    return within_limits(items, out)


def _read_share(
    items: list[tuple[Path, Path]], root: Path | None, spent: Spent, share: int
) -> list[SourceFile]:
    out = []
    for path, display in items:
        if spent.over(share):
            break  # the cut lies before this file (see Spent)
        source = read_file(path, display, root)
        spent.add(share, source)
        out.append(source)
    return out


def discover(root: Path, exclude: Sequence[str]) -> list[Path]:
    """Every file under `root` that belongs to the registry (`Members`), sorted."""
    return scan(root, exclude)[0]


def scan(root: Path, exclude: Sequence[str]) -> tuple[list[Path], list[tuple[Path, Unreadable]]]:
    """`discover`, plus the folders it could not read or would not enter, and why.

    Linked folders are never entered: one could lead out of the registry, or into a
    loop. Files that are links are listed like the others; reading refuses them.
    """
    members = Members(exclude)
    found: list[Path] = []
    refused: list[tuple[Path, Unreadable]] = []

    def cannot_list(exc: OSError) -> None:
        reason = (exc.strerror or exc.__class__.__name__).lower()
        folder = Path(exc.filename) if exc.filename else root
        refused.append(
            (
                folder,
                Unreadable(
                    f"cannot read this folder ({reason})", f"fix its permissions or {EXCLUDE_FIX}"
                ),
            )
        )

    for folder, dirs, files in os.walk(root, onerror=cannot_list):
        rel_folder = os.path.relpath(folder, root)
        rel_folder = "" if rel_folder == "." else rel_folder.replace(os.sep, "/") + "/"
        wanted = sorted(d for d in dirs if members.enters(rel_folder + d))
        dirs[:] = []
        for name in wanted:
            path = Path(folder, name)
            if path.is_symlink():
                refused.append(
                    (
                        path,
                        Unreadable(
                            "this folder is a symbolic link",
                            "kpictl does not follow linked folders; replace it with the "
                            f"folder itself, or {EXCLUDE_FIX}",
                        ),
                    )
                )
            else:
                dirs.append(name)
        found.extend(Path(folder, name) for name in files if members.belongs(rel_folder + name))
    found.sort()
    refused.sort(key=lambda item: item[0])
    return found, refused


def parse_bytes(display: Path, raw: bytes) -> SourceFile:
    """Parse a file's content that did not come from disk (e.g. from git at a commit)."""
    if len(raw) > MAX_FILE_BYTES:  # a commit can hold a huge file as well as a folder can
        return SourceFile(display, "", [], [unreadable(display, _too_large(MAX_FILE_BYTES))])
    return parsed_file(display, raw, large=False)

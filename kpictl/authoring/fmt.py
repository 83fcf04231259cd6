"""`kpictl fmt` over files: collect them, format each (in workers when there are many),
write back whole, or show the diff. One text is formatted in authoring/yamlfmt.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kpictl.authoring.yamlfmt import FormatError, format_text
from kpictl.registry.config import ROOT_FILE
from kpictl.registry.loader import LARGE_FILE_BYTES
from kpictl.registry.reading import parse_bytes

# From this many files on, formatting is spread over worker processes: ruamel's
# round-trip loader is pure Python and the files are independent.
PARALLEL_THRESHOLD = 200
# --------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------

Status = Literal["unchanged", "changed", "error"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What fmt did (or would do) to one file."""

    path: Path
    display: Path
    status: Status
    line: int = 0
    column: int = 0
    message: str = ""
    diff: str = ""


def format_file(path: Path, display: Path, write: bool, diff: bool = False) -> Outcome:
    """Format one file; with `write`, replace it (whole) when it changes.

    Only a regular file is read or replaced: a link is neither followed (it may point
    out of the registry, or at itself) nor replaced by a file, and a FIFO is never
    waited on. A file over LARGE_FILE_BYTES (which `check` reports, Y005) is left
    untouched: round-trip formatting costs about 8 s and 90 MB per MB, and `fmt --check`
    runs in CI on files a pull request controls.
    """
    from kpictl.fileio import (
        FileTooLargeError,
        LinkedFolderError,
        NotRegularFileError,
        read_regular,
        refuse_linked_folder,
    )

    try:
        # `fmt linked/x.yaml` names a file through a linked folder: read_regular's
        # O_NOFOLLOW guards only the file itself, so the folders are checked first.
        refuse_linked_folder(path.parent)
        raw = read_regular(path, LARGE_FILE_BYTES)
    except LinkedFolderError as exc:
        return Outcome(path, display, "error", 1, 1, f"not read: {exc.strerror}")
    except NotRegularFileError as exc:
        return Outcome(
            path,
            display,
            "error",
            1,
            1,
            f"this is {exc.kind}, not a regular file: fmt reads and rewrites regular files "
            "only; put the file itself here, or add it to `exclude` in kpictl.yaml",
        )
    except FileTooLargeError:
        return Outcome(
            path,
            display,
            "error",
            1,
            1,
            f"this file is over {LARGE_FILE_BYTES // 1024 // 1024} MB; registry files are a few "
            "KB: split it, or add it to `exclude` in kpictl.yaml",
        )
    except OSError as exc:
        reason = (exc.strerror or type(exc).__name__).lower()
        return Outcome(
            path,
            display,
            "error",
            1,
            1,
            f"cannot read this file ({reason}): fix its permissions or add it to `exclude` "
            "in kpictl.yaml",
        )
    source = parse_bytes(display, raw)
    if source.findings:
        first = source.findings[0]
        return Outcome(
            path, display, "error", first.location.line, first.location.column, first.message
        )
    try:
        before = [doc.data for doc in source.documents if doc.data is not None]
        result = format_text(source.text, root_file=path.name == ROOT_FILE, before=before)
    except FormatError as exc:
        return Outcome(path, display, "error", exc.line, exc.column, exc.message)
    if result.encode("utf-8") == raw:
        return Outcome(path, display, "unchanged")
    patch = ""
    if diff:
        import difflib

        from kpictl.templating.escaping import defuse, visible

        lines = difflib.unified_diff(
            source.text.splitlines(keepends=True),
            result.splitlines(keepends=True),
            f"a/{visible(display.as_posix())}",
            f"b/{visible(display.as_posix())}",
        )
        # The file's own lines go to a terminal or a CI log: bidi and other invisible
        # characters of a comment are spelled out, and no line can start a command.
        patch = defuse("".join(visible(line.removesuffix("\n")) + "\n" for line in lines))
    if write:
        from kpictl.fileio import write_atomic

        try:
            write_atomic(path, result)
        except OSError as exc:
            return Outcome(path, display, "error", 1, 1, f"cannot write: {exc.strerror or exc}")
    return Outcome(path, display, "changed", diff=patch)


def _format_job(job: tuple[Path, Path, bool, bool]) -> Outcome:
    return format_file(*job)


def format_files(
    files: Sequence[tuple[Path, Path]], write: bool, diff: bool = False, jobs: int | None = None
) -> list[Outcome]:
    """Format many (path, display) files, in worker processes when there are many."""
    work = [(path, display, write, diff) for path, display in files]
    from kpictl.parallel import map_in_workers, usable_cpus

    workers = jobs if jobs is not None else min(usable_cpus(), 8)
    return map_in_workers(_format_job, work, workers, PARALLEL_THRESHOLD)


def collect(paths: Sequence[Path], cwd: Path) -> list[tuple[Path, Path]]:
    """The files to format for PATH arguments, as (path, path to show) pairs.

    A file is taken as named. A folder inside a registry means the registry's YAML
    files below it (kpictl.yaml included, `exclude` and hidden entries left out); a
    folder outside any registry, every YAML file below it but hidden ones. Raises
    FileNotFoundError for a path that does not exist.
    """
    from kpictl.registry.config import find_root
    from kpictl.registry.membership import exclude_of
    from kpictl.registry.reading import discover
    from kpictl.registry.registry import display_path

    found: dict[Path, None] = {}
    for given in paths:
        if not given.exists():
            raise FileNotFoundError(str(given))
        if given.is_file():
            found[given] = None
            continue
        root = find_root(given)
        if root is None:
            for path in discover(given, []):
                found[path] = None
            continue
        folder = given.resolve()
        root_file = root / ROOT_FILE
        candidates = [root_file, *discover(root, exclude_of(_settings_raw(root_file)))]
        for path in candidates:
            # `root` is resolved and `discover` follows no folder link, so the paths
            # compare as written. Resolving them would follow a file's link, and
            # raise on a link loop.
            if path.is_relative_to(folder):
                found[given / path.relative_to(folder)] = None
    return [(path, display_path(path, cwd)) for path in found]


def _settings_raw(root_file: Path) -> bytes | None:
    """kpictl.yaml's content; None when it is not a regular file (fmt reports it with
    the other files, and nothing is excluded)."""
    from kpictl.fileio import read_regular

    try:
        return read_regular(root_file)
    except OSError:
        return None

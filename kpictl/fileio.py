"""Writing files whole (a temp file beside the target, then an atomic rename), and
reading a file only when it is a regular file, never through a link: neither the
file itself nor a folder on the way that a repository holds."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

# What a path that is not a regular file holds, in the words of the error message.
_KINDS = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    return next((word for test, word in _KINDS if test(mode)), "not a regular file")


class NotRegularFileError(OSError):
    """The target exists and is not a regular file, so kpictl will not replace it."""

    def __init__(self, path: Path, kind: str) -> None:
        self.kind = kind
        super().__init__(
            errno.EEXIST,
            f"it is {kind}, not a regular file: remove it, or choose another path",
            str(path),
        )


def refuse_unless_regular(path: Path) -> os.stat_result | None:
    """The target's own status (links not followed), or None when it does not exist.

    The rename below would replace a symlink, FIFO or device node with a regular
    file (as root, `/dev/full` itself); a pull request can plant any of them where
    CI writes a report, so anything but a regular file is refused.
    """
    try:
        status = path.lstat()
    except FileNotFoundError:
        return None
    if stat.S_ISREG(status.st_mode):
        return status
    raise NotRegularFileError(path, _kind(status.st_mode))


# What marks a folder as a checkout or a registry: links below one may have come
# with a pull request. `.git` is a folder in a clone and a file in a worktree.
_REPOSITORY_MARKS = (".git", "kpictl.yaml")


class LinkedFolderError(OSError):
    """A folder on the way to a path is a symbolic link inside a repository."""

    def __init__(self, path: Path, link: Path) -> None:
        self.link = link
        super().__init__(
            errno.ELOOP,
            f"{link} is a symbolic link inside the repository, where a pull request can "
            "plant one; kpictl does not write or read through it: name a real folder",
            str(path),
        )


def refuse_linked_folder(folder: Path) -> None:
    """Raise LinkedFolderError when `folder`, or a folder above it, is a link in a repository.

    A pull request can commit `outbox -> /home/ci` or `docs -> /etc`: writing
    `docs/map.html` would then write outside the checkout. So the path is walked from
    the file system's root down, each step lstat'ed, and a link in a folder that is
    inside a git checkout or a registry (it or a folder above holds `.git` or
    kpictl.yaml) is refused. A link above any repository is the user's own system
    (`/tmp -> /private/tmp` on macOS, a linked home folder) and is followed. Folders
    that do not exist yet end the walk: whoever creates them creates real folders.
    """
    # Not os.path.abspath(folder): it removes `link/..` as text, where the OS would
    # go up from the link's target. Strings, not Paths: writing thousands of emails
    # walks this once per file.
    parts = folder.parts if folder.is_absolute() else (*Path.cwd().parts, *folder.parts)
    given = len(parts) - len(folder.parts)
    real = parts[0]
    for number, part in enumerate(parts[1:], start=1):
        if part in ("", "."):
            continue
        if part == "..":
            real = os.path.dirname(real)  # noqa: PTH120
            continue
        step = os.path.join(real, part)  # noqa: PTH118
        try:
            status = os.lstat(step)
        except (FileNotFoundError, NotADirectoryError):
            return
        if not stat.S_ISLNK(status.st_mode):
            real = step
            continue
        if _in_repository(Path(real)):
            # The link as the user wrote it, when it is in the part they wrote.
            shown = Path(*folder.parts[: number - given + 1]) if number >= given else Path(step)
            raise LinkedFolderError(folder, shown)
        real = os.path.realpath(step)


def _in_repository(real: Path) -> bool:
    """Whether the real folder `real`, or one above it, is a checkout or a registry."""
    return any(
        os.path.lexists(place / mark)  # a link named .git marks a checkout too
        for place in (real, *real.parents)
        for mark in _REPOSITORY_MARKS
    )


def make_folder(folder: Path) -> None:
    """Create `folder` and the folders above it that are missing, never through a link.

    Raises LinkedFolderError (see `refuse_linked_folder`) or the OSError of mkdir.
    """
    refuse_linked_folder(folder)
    folder.mkdir(parents=True, exist_ok=True)


class FileTooLargeError(OSError):
    """The file holds more than the reader's limit, so it is not read."""

    def __init__(self, path: Path, limit: int) -> None:
        self.limit = limit
        super().__init__(errno.EFBIG, f"it is over {limit:,} bytes", str(path))


def _open_regular(path: Path) -> tuple[int, os.stat_result]:
    """A descriptor open for reading on `path`, and its status, if it is a regular file.

    A registry comes from whoever opened the pull request: a file in it may be a
    symbolic link (to a secret outside the registry, or to itself), a FIFO (whose
    open() would wait forever for a writer) or a device (whose open() alone can have
    effects, and whose reads may never end). lstat refuses all but a regular file
    before anything is opened; O_NOFOLLOW and O_NONBLOCK keep a file swapped in since
    from being followed or waited on, and fstat checks what was actually opened.
    """
    status = path.lstat()  # FileNotFoundError and PermissionError go to the caller
    if not stat.S_ISREG(status.st_mode):
        raise NotRegularFileError(path, _kind(status.st_mode))
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        handle = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        # Linux says ELOOP for a link under O_NOFOLLOW, the BSDs EMLINK.
        if exc.errno in (errno.ELOOP, errno.EMLINK):
            raise NotRegularFileError(path, "a symbolic link") from None
        raise
    try:
        opened = os.fstat(handle)
        if not stat.S_ISREG(opened.st_mode):
            raise NotRegularFileError(path, _kind(opened.st_mode))
    except BaseException:
        os.close(handle)
        raise
    return handle, opened


def open_regular(path: Path) -> BinaryIO:
    """`path` open for reading as a stream, with `read_regular`'s checks and the folders'.

    For a file named on the command line (`--actuals`), read row by row: besides the
    file itself, no folder on its way inside a repository may be a link
    (`refuse_linked_folder`). Raises NotRegularFileError or LinkedFolderError (both
    OSError) when refused.
    """
    refuse_linked_folder(path.parent)
    handle, _ = _open_regular(path)
    return os.fdopen(handle, "rb")


def read_regular(path: Path, limit: int | None = None) -> bytes:
    """The bytes of `path` if it is a regular file; NotRegularFileError otherwise.

    See `_open_regular` for why only a regular file is opened, and how.
    With `limit`, at most `limit` + 1 bytes are read and FileTooLargeError says so.
    """
    handle, opened = _open_regular(path)
    try:
        if limit is not None and opened.st_size > limit:
            raise FileTooLargeError(path, limit)
        cap = limit + 1 if limit is not None else None
        chunks: list[bytes] = []
        size = 0
        # Ask for what fstat promised (plus one byte, to notice growth): asking for
        # the limit each time would allocate megabytes for every few-KB file.
        want = opened.st_size + 1
        while cap is None or size < cap:
            chunk = os.read(handle, want if cap is None else min(want, cap - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            want = 64 * 1024
        if limit is not None and size > limit:  # it grew since fstat
            raise FileTooLargeError(path, limit)
        return b"".join(chunks)
    finally:
        os.close(handle)


def read_regular_text(path: Path) -> str | None:
    """The text of `path` (UTF-8) as `read_regular` reads it, or None when it does not exist."""
    try:
        return read_regular(path).decode("utf-8")
    except FileNotFoundError:
        return None


def write_atomic(path: Path, text: str | bytes, *, sync: bool = True) -> None:
    """Write `path` so that readers see the old content or the new, never a part.

    Raises NotRegularFileError (an OSError) when `path` exists and is not a regular
    file: a symlink is never written through or replaced. Raises LinkedFolderError
    (an OSError) when a folder on the way is a link inside a repository. `sync=False` skips the
    fsync, for batches of files (thousands of .eml files, each fsynced, take
    seconds) that a rerun simply writes again after a crash.
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    folder = path.parent if str(path.parent) else Path()
    refuse_linked_folder(folder)
    existing = refuse_unless_regular(path)
    # mkstemp creates the temp file with O_CREAT | O_EXCL under a random name, so a
    # name planted in advance (a link, a FIFO) can never be opened in its place.
    import tempfile  # only writers need it; `kpictl check` reads and prints

    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            if sync:
                os.fsync(stream.fileno())
        if existing is not None:
            Path(temp).chmod(existing.st_mode & 0o777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            Path(temp).chmod(0o666 & ~umask)
        # Checked again just before the rename: the window left is the rename itself,
        # and a rename replaces a link that appears there, it never writes through it.
        refuse_unless_regular(path)
        Path(temp).replace(path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise

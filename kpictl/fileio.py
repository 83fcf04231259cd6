"""Writing files whole (a temp file beside the target, then an atomic rename), and
reading a file only when it is a regular file, never through a link."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write `path` so that readers see the old content or the new, never a part."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    folder = path.parent if str(path.parent) else Path()
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        if path.exists():
            Path(temp).chmod(path.stat().st_mode & 0o777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            Path(temp).chmod(0o666 & ~umask)
        Path(temp).replace(path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


class NotRegularFile(OSError):
    """A path that is a symbolic link, a FIFO, a folder or a device, not a file."""

    def __init__(self, path: Path, what: str) -> None:
        super().__init__(errno.EINVAL, f"not a regular file ({what})", str(path))
        self.what = what


def read_regular(path: Path) -> bytes:
    """The bytes of `path` if it is a regular file; raises OSError otherwise.

    A registry comes from whoever opened the pull request: a file in it may be a
    symbolic link (to a secret outside the registry, or to itself) or a FIFO
    (whose open() would wait forever for a writer). O_NOFOLLOW refuses the link,
    O_NONBLOCK returns at once on a FIFO, and fstat checks what was actually
    opened, so a file swapped after a check cannot slip through.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        handle = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        # Linux says ELOOP for a link under O_NOFOLLOW, the BSDs EMLINK.
        if exc.errno in (errno.ELOOP, errno.EMLINK) and path.is_symlink():
            raise NotRegularFile(path, "a symbolic link") from None
        raise
    with os.fdopen(handle, "rb") as stream:
        mode = os.fstat(handle).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(path, _file_kind(mode))
        return stream.read()


def _file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device"

"""Writing files whole: a temp file beside the target, then an atomic rename."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, text: str | bytes, *, sync: bool = True) -> None:
    """Write `path` so that readers see the old content or the new, never a part.

    `sync=False` skips the fsync, for batches of files (thousands of .eml files, each
    fsynced, take seconds) that a rerun simply writes again after a crash.
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    folder = path.parent if str(path.parent) else Path()
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            if sync:
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

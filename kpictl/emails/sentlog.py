"""The sent log: a record of which emails the SMTP server accepted, for whom.

`--send --sent-log FILE` reads FILE before sending and leaves out every recipient it
already records for the same email, then appends one line per email as soon as the
server accepts it. Rerunning the same command after a dropped connection therefore
sends only what had not gone out.

The file is JSON lines, one per accepted email:

    {"email": "escalation/mql/2026-11-20", "to": ["aisha@example.com"],
     "message_id": "<...>", "sent_at": "2026-11-20T09:00:03+01:00"}

`email` is the kind, the email's key and the evaluation date: the same escalation
evaluated on another day is a new email. Lines are only ever appended (one write and
an fsync each), so a crash loses at most the line being written; rewriting the whole
file per email, as write_atomic would, costs time quadratic in the batch.

`DeliveryRecord` is what the sending code needs from it, so that a store holding
escalation state can take its place.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Protocol

# Never follow a link at the named path; never block on a FIFO while checking what it is.
_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class SentLogError(Exception):
    """The sent log cannot be read or written; the message says which file and why."""


class DeliveryRecord(Protocol):
    """What went out before: the sent log now, the escalation store later."""

    def delivered(self, email: str) -> frozenset[str]:
        """The addresses `email` was already accepted for."""
        ...

    def record(self, email: str, message_id: str, addresses: Sequence[str]) -> None:
        """Remember that the server accepted `email` for `addresses`."""
        ...


def email_id(kind: str, key: str, day: date) -> str:
    """How the record names one email: `escalation/mql/2026-11-20`."""
    return f"{kind}/{key}/{day.isoformat()}"


@dataclass
class SentLog:
    """A sent log file, read once; `record` appends to it."""

    path: Path
    done: dict[str, set[str]] = field(default_factory=dict)
    torn: bool = False  # the file ends in a partial line (a crash while writing it)

    @classmethod
    def open(cls, path: Path) -> SentLog:
        """Read `path` (missing is fine: it is created on the first record)."""
        from kpictl.fileio import LinkedFolderError, refuse_linked_folder

        try:
            # Appending opens the file itself without following a link (O_NOFOLLOW),
            # but the folders on the way are followed: refuse a link among them.
            refuse_linked_folder(path.parent)
        except LinkedFolderError as exc:
            raise SentLogError(f"cannot use {path} as the sent log: {exc.strerror}") from None
        if not path.parent.is_dir():
            raise SentLogError(f"cannot use {path} as the sent log: {path.parent} is not a folder")
        log = cls(path)
        data = _read(path)
        if data is None:
            return log
        lines = data.split(b"\n")
        log.torn = lines[-1] != b""
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                email, addresses = entry["email"], entry["to"]
                if not isinstance(email, str) or not isinstance(addresses, list):
                    raise TypeError
                log.done.setdefault(email, set()).update(str(a) for a in addresses)
            # A deeply nested line exhausts the parser: foreign too, not a crash.
            except (ValueError, KeyError, TypeError, RecursionError, MemoryError):
                if number == len(lines):
                    break  # the partial last line of an interrupted run: not sent for sure
                raise SentLogError(
                    f"{path}:{number}: not a line kpictl wrote to a sent log; fix or remove "
                    "it (each line records one email that went out)"
                ) from None
        return log

    def delivered(self, email: str) -> frozenset[str]:
        return frozenset(self.done.get(email, ()))

    def record(self, email: str, message_id: str, addresses: Sequence[str]) -> None:
        entry = {
            "email": email,
            "to": list(addresses),
            "message_id": message_id,
            "sent_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        }
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        if self.torn:
            line = "\n" + line
        try:
            handle = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _FLAGS, 0o644)
        except OSError as exc:
            raise SentLogError(_open_error(self.path, exc)) from None
        try:
            _refuse_odd(self.path, handle)
            os.write(handle, line.encode("utf-8"))
            os.fsync(handle)
        except OSError as exc:
            raise SentLogError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        finally:
            os.close(handle)
        self.torn = False
        self.done.setdefault(email, set()).update(addresses)


def _read(path: Path) -> bytes | None:
    from kpictl.fileio import NotRegularFileError, read_regular

    try:
        return read_regular(path)
    except FileNotFoundError:
        return None
    except NotRegularFileError as exc:
        if exc.kind == "a symbolic link":
            raise SentLogError(_open_error(path, exc)) from None
        raise SentLogError(f"cannot use {path} as the sent log: it is not a regular file") from None
    except OSError as exc:
        raise SentLogError(f"cannot read {path}: {exc.strerror or exc}") from None


def _refuse_odd(path: Path, handle: int) -> None:
    if not stat.S_ISREG(os.fstat(handle).st_mode):
        raise SentLogError(f"cannot use {path} as the sent log: it is not a regular file")


def _open_error(path: Path, exc: OSError) -> str:
    if path.is_symlink():
        return f"cannot use {path} as the sent log: it is a symbolic link; name the file itself"
    return f"cannot open {path}: {exc.strerror or exc}"

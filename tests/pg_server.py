"""A throw-away PostgreSQL server for tests: initdb into a temp folder, 127.0.0.1, a free port.

PostgreSQL refuses to run as root, so as root the server runs as `nobody` (through
`runuser`) in a folder it owns. Password authentication (scram-sha-256) on TCP, so a
wrong password is refused as it would be in production. Without PostgreSQL's binaries
(`apt-get install postgresql`) the tests that need it are skipped, saying why.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "postgres"
SUPERUSER_PASSWORD = "pg-super-9f3k"


@dataclass(frozen=True)
class Server:
    host: str
    port: int

    def url(self, user: str, password: str, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{user}:{password}@{self.host}:{self.port}/{database}"

    def admin(self, database: str = "postgres") -> str:
        """A psycopg connection string for the superuser."""
        return (
            f"host={self.host} port={self.port} user={SUPERUSER} "
            f"password={SUPERUSER_PASSWORD} dbname={database}"
        )


def binaries() -> Path | None:
    """The newest installed PostgreSQL's bin folder, or None."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: p.parent.parent.name
    )
    return found[-1].parent if found else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def postgres_server() -> Iterator[Server]:
    """Start a server for the duration of the block; stop it and delete its files after."""
    bin_dir = binaries()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="kpictl-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "nobody", "--"]
        shutil.chown(folder, "nobody")
    folder.chmod(0o700)
    data, log, pwfile = folder / "data", folder / "server.log", folder / "pw"
    pwfile.write_text(SUPERUSER_PASSWORD + "\n", encoding="utf-8")
    if as_user:
        shutil.chown(pwfile, "nobody")
    port = free_port()

    def run(*args: str) -> None:
        subprocess.run([*as_user, *args], check=True, capture_output=True, cwd=folder)

    run(
        str(bin_dir / "initdb"),
        "-D",
        str(data),
        "-U",
        SUPERUSER,
        f"--pwfile={pwfile}",
        "--auth-host=scram-sha-256",
        "--auth-local=scram-sha-256",
        "--encoding=UTF8",
        "--no-sync",
    )
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start")
    try:
        yield Server("127.0.0.1", port)
    finally:
        subprocess.run(
            [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            check=False,
            capture_output=True,
            cwd=folder,
        )
        shutil.rmtree(folder, ignore_errors=True)

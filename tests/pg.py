"""A throw-away PostgreSQL server for the tests, started once per session.

initdb into a temp folder, listen on 127.0.0.1 on a free port (and a socket in the
folder), stop and delete it at the end. PostgreSQL refuses to run as root, so as
root the server runs as `nobody`. Where PostgreSQL is not installed (.ci/run installs
it with apt) the tests that need it are skipped, with the reason.
"""

from __future__ import annotations

import itertools
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import psycopg

# A user name that no test's other strings contain, so a leak would be the password's.
PG_USER = "kpictl"
_DATABASES = itertools.count(1)


@dataclass(frozen=True)
class PgServer:
    host: str
    port: int
    user: str
    password: str

    def url(self, database: str, password: str | None = None) -> str:
        secret = self.password if password is None else password
        return f"postgresql+psycopg://{self.user}:{secret}@{self.host}:{self.port}/{database}"

    def connect(self, database: str) -> psycopg.Connection[tuple[Any, ...]]:
        """A psycopg connection (autocommit) to `database`, to look behind kpictl's back."""
        import psycopg

        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=database,
            autocommit=True,
        )

    def create_database(self) -> str:
        """A new, empty database for one test; its name."""
        name = f"kpictl_test_{os.getpid()}_{next(_DATABASES)}"
        with self.connect("postgres") as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return name


def _binaries() -> Path | None:
    """The folder holding initdb and pg_ctl: Debian's, else the PATH's."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (yet)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _as_server_user() -> dict[str, Any]:
    """subprocess arguments running a command as nobody when the tests run as root."""
    if os.geteuid() != 0:
        return {}
    nobody = pwd.getpwnam("nobody")
    return {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}


def _unavailable(reason: str) -> None:
    """Skip with the reason, or fail where PostgreSQL must run (.ci/run sets the variable)."""
    if os.environ.get("KPICTL_REQUIRE_POSTGRES"):
        pytest.fail(f"KPICTL_REQUIRE_POSTGRES is set but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PgServer]:
    """A running PostgreSQL server; skipped (with the reason) where none is installed."""
    bin_dir = _binaries()
    if bin_dir is None:
        _unavailable(
            "PostgreSQL is not installed (no initdb under /usr/lib/postgresql/*/bin or on "
            "PATH): `apt-get install postgresql`, as .ci/run does"
        )
        return
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg 3 is not installed: pip install -e '.[dev]'")
    folder = Path(tempfile.mkdtemp(prefix="kpictl-pg-"))
    run_as = _as_server_user()
    if run_as:
        os.chown(folder, run_as["user"], run_as["group"])
    password = secrets.token_hex(16)
    password_file = folder / "password"
    password_file.write_text(password + "\n", encoding="utf-8")
    if run_as:
        os.chown(password_file, run_as["user"], run_as["group"])
    data = folder / "data"
    log = folder / "server.log"
    port = free_port()
    quiet: dict[str, Any] = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "check": True}
    try:
        subprocess.run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                PG_USER,
                f"--pwfile={password_file}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            cwd=folder,
            **quiet,
            **run_as,
        )
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        start = ["-D", str(data), "-o", options, "-l", str(log), "-w", "start"]
        subprocess.run(
            [str(bin_dir / "pg_ctl"), *start],
            cwd=folder,
            **quiet,
            **run_as,
        )
    except subprocess.CalledProcessError as exc:
        shown = exc.stdout.decode(errors="replace") if exc.stdout else ""
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {shown[-2000:]}")
    try:
        yield PgServer("127.0.0.1", port, PG_USER, password)
    finally:
        subprocess.run(
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
            **run_as,
        )
        shutil.rmtree(folder, ignore_errors=True)

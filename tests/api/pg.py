"""A real PostgreSQL for the tests: Debian's server binaries, a cluster in a temporary folder, a loopback port.

PostgreSQL refuses to run as root; when the tests run as root (CI, ``make test``) the cluster belongs to the
unprivileged ``postgres`` user that Debian's package creates, and ``initdb``/``pg_ctl`` run through ``runuser``.
The server is stopped with ``pg_ctl stop`` (which signals the postmaster whose pid the cluster recorded) and its
folder removed.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.processes import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")


class Postgres:
    """A PostgreSQL 15 server started in a temporary folder (see the module docstring)."""

    def __init__(self) -> None:
        if not (PG_BIN / "pg_ctl").exists():
            raise RuntimeError(f"{PG_BIN}/pg_ctl not found: run scripts/install_postgresql.sh (make test does)")
        self.root = Path(tempfile.mkdtemp(prefix="wattbit-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        subprocess.run([*self.prefix, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> Postgres:
        """initdb (trust on loopback, user ``wattbit``) and start on :attr:`port`; returns self."""
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "wattbit", "--auth=trust", "-E", "UTF8")
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories='' -c fsync=on"
        log = self.root / "server.log"
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(log), "-o", opts, "-w", "-t", "60", "start")
        return self

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of ``database``."""
        return f"postgresql+psycopg://wattbit@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create an empty database; returns its URL."""
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=wattbit dbname=postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        try:
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

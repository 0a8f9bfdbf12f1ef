"""Fixtures of the service's tests: a service on a database (SQLite file or a real PostgreSQL), tokens of each role,
a TestClient, and a real ``wattbit serve`` process on a loopback port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.pg import Postgres
from tests.processes import free_port
from wattbit.api.app import create_app
from wattbit.api.auth import create_token
from wattbit.api.db import make_engine, migrate, sessions
from wattbit.api.service import ServiceConfig

REPO = Path(__file__).resolve().parents[2]
ROLES = ("viewer", "operator", "admin")


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One PostgreSQL 15 server for the session (each test gets its own database)."""
    pg = Postgres().start()
    try:
        yield pg
    finally:
        pg.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database: a SQLite file, or a new database on the session's PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'wattbit.sqlite'}"
    pg: Postgres = request.getfixturevalue("postgres")
    return pg.create_database("t_" + uuid.uuid4().hex[:12])


@dataclass
class Api:
    """A running service under test: its client, tokens by role, and the service object."""

    client: TestClient
    tokens: dict[str, str]
    config: ServiceConfig
    extra: dict[str, Any] = field(default_factory=dict)

    def auth(self, role: str) -> dict[str, str]:
        """The Authorization header of ``role``'s token."""
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    @property
    def service(self) -> Any:
        return self.client.app.state.service  # type: ignore[attr-defined]

    def wait_run(self, run_id: str, states: tuple[str, ...] = ("succeeded", "failed", "cancelled"),
                 timeout_s: float = 120.0) -> dict[str, Any]:  # fmt: skip
        """Poll a run until it reaches one of ``states``."""
        deadline = time.monotonic() + timeout_s
        while True:
            run: dict[str, Any] = self.client.get(f"/api/v1/runs/{run_id}", headers=self.auth("viewer")).json()
            if run["state"] in states or time.monotonic() > deadline:
                return run
            time.sleep(0.3)


def make_tokens(db_url: str) -> dict[str, str]:
    """One token per role, named after it (``ann-viewer``, ...), in one migrated database."""
    engine = make_engine(db_url)
    try:
        migrate(engine)
        with sessions(engine)() as db:
            out = {role: create_token(db, f"ann-{role}", role)[1] for role in ROLES}
            db.commit()
    finally:
        engine.dispose()
    return out


@contextmanager
def service(tmp_path: Path, db_url: str | None = None, tokens_made: bool = False, **config: Any) -> Iterator[Api]:
    """A service on ``db_url`` (a SQLite file in ``tmp_path`` by default), without a live fleet unless asked; with
    ``tokens_made`` the tokens exist already (the caller fills :attr:`Api.tokens`)."""
    url = db_url or f"sqlite:///{tmp_path / 'wattbit.sqlite'}"
    tokens = {} if tokens_made else make_tokens(url)
    cfg = ServiceConfig(db_url=url, data_dir=tmp_path / "data", **{"fleet": "none", **config})
    with TestClient(create_app(cfg)) as client:
        yield Api(client, tokens, cfg)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    """A service on a SQLite file without a live fleet."""
    with service(tmp_path) as a:
        yield a


@dataclass
class Server:
    """A real ``wattbit serve`` process: its URL, pid, tokens and folder."""

    url: str
    proc: subprocess.Popen[bytes]
    tokens: dict[str, str]
    data_dir: Path
    log: Path

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def start_server(data_dir: Path, *args: str, db_url: str | None = None, port: int | None = None,
                 tokens: dict[str, str] | None = None, timeout_s: float = 120.0) -> Server:  # fmt: skip
    """Start ``wattbit serve`` on a free loopback port and wait until it is ready."""
    data_dir.mkdir(parents=True, exist_ok=True)
    url_db = db_url or f"sqlite:///{data_dir / 'wattbit.sqlite'}"
    tokens = tokens or make_tokens(url_db)
    port = port or free_port()
    log = data_dir / f"server-{port}.log"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, "-m", "wattbit.cli", "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data_dir),
           "--db", url_db, *args]  # fmt: skip
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=data_dir)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"wattbit serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/readyz", timeout=2.0).status_code == 200:
                return Server(url, proc, tokens, data_dir, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    stop_server(Server(url, proc, tokens, data_dir, log))
    raise RuntimeError(f"wattbit serve was not ready within {timeout_s} s:\n{log.read_text()[-3000:]}")


def stop_server(server: Server, kill: bool = False) -> None:
    """Stop the server by its pid (SIGTERM, or SIGKILL with ``kill``)."""
    if server.proc.poll() is None:
        if kill:
            server.proc.kill()
        else:
            server.proc.terminate()
        try:
            server.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait(timeout=10)

"""The same storage tests on both databases: a SQLite file (WAL) and a real PostgreSQL 15 started by the tests."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text

from tests.api.conftest import service
from wattbit.api.db import current_revision, make_engine, migrate

TABLES = {"tokens", "sessions", "scenarios", "runs", "audit", "settings", "alembic_version"}


def test_migrations_create_the_schema_once_and_are_idempotent(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) is None
        assert migrate(engine) == "0001"
        assert migrate(engine) == "0001"
        assert set(inspect(engine).get_table_names()) == TABLES
        if db_url.startswith("sqlite"):
            with engine.connect() as conn:
                assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
                assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    finally:
        engine.dispose()


def test_tokens_runs_settings_and_audit_persist_across_a_restart(db_url: str, tmp_path: Path) -> None:
    body = {"kind": "simulate", "scenario_id": "builtin-japan-2022", "start": "2022-04-10", "end": "2022-04-10T06:00"}
    with service(tmp_path, db_url) as api:
        c = api.client
        run = c.post("/api/v1/runs", json=body, headers=api.auth("operator")).json()
        done = api.wait_run(run["id"])
        assert done["state"] == "succeeded", done
        assert done["result"]["pue"] > 1.0
        assert c.put("/api/v1/ops/mode", json={"mode": "auto"}, headers=api.auth("admin")).status_code == 200
        made = c.post("/api/v1/tokens", json={"name": "lee", "role": "viewer"}, headers=api.auth("admin")).json()
        tokens = api.tokens
    with service(tmp_path, db_url, tokens_made=True) as api:
        c = api.client
        api.tokens.update(tokens)
        assert c.get("/api/v1/whoami", headers={"Authorization": f"Bearer {made['token']}"}).json()["name"] == "lee"
        again = c.get(f"/api/v1/runs/{run['id']}", headers=api.auth("viewer")).json()
        assert again["state"] == "succeeded" and again["result"] == done["result"]
        assert c.get("/api/v1/ops/mode", headers=api.auth("viewer")).json()["mode"] == "auto"
        log = c.get("/api/v1/ops/audit?source=service", headers=api.auth("viewer")).json()
        assert [e["action"] for e in log][:3] == ["token.create", "loop.mode", "run.start"]
        assert {e["actor"] for e in log[:3]} == {"ann-admin", "ann-operator"}

"""Tokens, roles and the audit log: stored hashed, printed once, checked on every endpoint, never logged."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.conftest import REPO, Api

WRITE_AS_OPERATOR = [
    ("post", "/api/v1/runs", {"kind": "simulate", "scenario_id": "builtin-japan-2022"}),
    ("post", "/api/v1/ops/actions", {"kind": "drain", "target": "n1"}),
]


def test_token_create_prints_the_token_alone_and_stores_only_its_hash(tmp_path: Path) -> None:
    db = tmp_path / "w.sqlite"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, "-m", "wattbit.cli", "token", "create", "--role", "operator", "--name", "kai",
           "--db", f"sqlite:///{db}"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=True)
    token = done.stdout.strip()
    assert done.stdout == token + "\n" and token.startswith("wbt_") and len(token) == 47
    assert token not in done.stderr
    with sqlite3.connect(db) as c:
        rows = c.execute("SELECT name, role, token_hash, prefix FROM tokens").fetchall()
        dump = "\n".join(c.iterdump())
    assert rows[0][:2] == ("kai", "operator") and len(rows[0][2]) == 64
    assert token not in dump and token[8:] not in dump  # only the hash and the first 8 characters
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 2 and "exists already" in again.stderr and again.stdout == ""
    bad = subprocess.run([*cmd[:5], "--role", "root", "--name", "x", *cmd[-2:]], capture_output=True, text=True,
                         env=env, timeout=120)  # fmt: skip
    assert bad.returncode == 2 and "unknown role 'root'; expected one of viewer, operator, admin" in bad.stderr


def test_every_api_endpoint_needs_a_token(api: Api) -> None:
    schema = api.client.get("/api/v1/openapi.json").json()
    public = {"/api/v1/session"}
    for path, ops in schema["paths"].items():
        if not path.startswith("/api/v1") or path in public:
            continue
        for method in ops:
            url = path.replace("{", "").replace("}", "")
            r = api.client.request(method, url)
            assert r.status_code == 401, (method, path, r.status_code)
            assert r.headers["www-authenticate"] == "Bearer"
            assert r.json()["error"] == "unauthenticated"


@pytest.mark.parametrize(
    "header",
    ["Bearer wbt_notatoken", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 5000, "Bearer wbt_\u00e9\u00e9"],
)
def test_bad_tokens_get_a_clear_401(api: Api, header: str) -> None:
    r = api.client.get("/api/v1/runs", headers={"Authorization": header.encode("utf-8")})
    assert r.status_code == 401
    assert r.json()["error"] in ("bad_token", "unauthenticated")


def test_roles_viewer_reads_operator_acts_admin_administers(api: Api) -> None:
    for role in ("viewer", "operator", "admin"):
        assert api.client.get("/api/v1/runs", headers=api.auth(role)).status_code == 200
    for method, path, body in WRITE_AS_OPERATOR:
        r = api.client.request(method, path, json=body, headers=api.auth("viewer"))
        assert r.status_code == 403, path
        assert r.json()["message"] == "this needs the operator role; the token 'ann-viewer' is viewer"
    r = api.client.put("/api/v1/ops/mode", json={"mode": "approve"}, headers=api.auth("operator"))
    assert r.status_code == 403 and r.json()["expected"] == "admin"
    assert api.client.get("/api/v1/tokens", headers=api.auth("operator")).status_code == 403
    r = api.client.put("/api/v1/ops/mode", json={"mode": "approve"}, headers=api.auth("admin"))
    assert r.status_code == 200 and r.json()["mode"] == "approve" and r.json()["updated_by"] == "ann-admin"


def test_admin_creates_and_revokes_tokens_and_the_audit_log_names_them(api: Api) -> None:
    r = api.client.post("/api/v1/tokens", json={"name": "bo", "role": "viewer"}, headers=api.auth("admin"))
    assert r.status_code == 201 and r.headers["cache-control"] == "no-store"
    token, token_id = r.json()["token"], r.json()["id"]
    assert api.client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"}).json() == {
        "name": "bo",
        "role": "viewer",
    }
    listed = api.client.get("/api/v1/tokens", headers=api.auth("admin")).json()
    assert {t["name"] for t in listed} == {"ann-viewer", "ann-operator", "ann-admin", "bo"}
    assert all("token" not in t and "token_hash" not in t for t in listed)
    assert api.client.post("/api/v1/tokens", json={"name": "bo", "role": "viewer"},
                           headers=api.auth("admin")).status_code == 409  # fmt: skip
    assert api.client.delete(f"/api/v1/tokens/{token_id}", headers=api.auth("admin")).status_code == 200
    assert api.client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    audit = api.client.get("/api/v1/ops/audit", headers=api.auth("viewer")).json()
    made = [(e["actor"], e["action"], e["target"]) for e in audit]
    assert ("ann-admin", "token.revoke", "bo") in made and ("ann-admin", "token.create", "bo") in made
    assert token not in str(audit)


def test_browser_session_cookie_and_csrf_header(api: Api) -> None:
    c = api.client
    assert c.post("/api/v1/session", json={"token": "wbt_wrong"}).status_code == 401
    r = c.post("/api/v1/session", json={"token": api.tokens["operator"]})
    assert r.status_code == 200 and r.json() == {"name": "ann-operator", "role": "operator"}
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and api.tokens["operator"] not in cookie
    assert c.get("/api/v1/whoami").json()["name"] == "ann-operator"
    body = {"kind": "drain", "target": "n1"}
    refused = c.post("/api/v1/ops/actions", json=body)
    assert refused.status_code == 403 and refused.json()["error"] == "csrf"
    assert c.post("/api/v1/ops/actions", json=body, headers={"X-Wattbit-CSRF": "1"}).status_code == 201
    assert c.delete("/api/v1/session").status_code == 403  # a write with the cookie, without the header
    assert c.delete("/api/v1/session", headers={"X-Wattbit-CSRF": "1"}).status_code == 204
    assert c.get("/api/v1/whoami").status_code == 401


def test_tokens_never_reach_the_log(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for role, token in api.tokens.items():
        api.client.get("/api/v1/runs", headers=api.auth(role))
        api.client.post("/api/v1/session", json={"token": token})
    api.client.get("/api/v1/runs", headers={"Authorization": "Bearer wbt_leaked-secret-value"})
    text = caplog.text
    assert all(t not in text for t in api.tokens.values()) and "leaked-secret-value" not in text


def test_cors_is_closed_by_default(api: Api) -> None:
    r = api.client.options("/api/v1/runs", headers={"Origin": "https://evil.example",
                                                    "Access-Control-Request-Method": "POST"})  # fmt: skip
    assert "access-control-allow-origin" not in r.headers
    r = api.client.get("/api/v1/runs", headers={"Origin": "https://evil.example", **api.auth("viewer")})
    assert "access-control-allow-origin" not in r.headers


def test_health_readiness_metrics_and_openapi_need_no_token(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    assert api.client.get("/readyz").json() == {"status": "ready", "fleet": "none"}
    api.client.get("/api/v1/runs", headers=api.auth("viewer"))
    metrics = api.client.get("/metrics").text
    assert 'wattbit_api_requests_total{method="GET",route="/api/v1/runs",status="200"} 1.0' in metrics
    assert "wattbit_api_request_duration_seconds_bucket" in metrics and "wattbit_api_ready 1.0" in metrics
    spec = api.client.get("/api/v1/openapi.json").json()
    assert {"/api/v1/runs", "/api/v1/scenarios", "/api/v1/ops/actions/{action_id}/approve"} <= set(spec["paths"])
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    page = api.client.get("/")
    assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    assert api.client.get("/static/plotly.min.js").status_code == 200
    assert api.client.get("/static/..%2Fapp.py").status_code == 404

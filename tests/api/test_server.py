"""A real ``wattbit serve`` on a loopback port: killed with SIGKILL during a run and right after an approval, it
loses nothing it acknowledged; the run's worker goes on, and the restarted server sees it finish."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.api.conftest import start_server, stop_server

DRAIN = {"kind": "drain", "site": "ishikari", "target": "ishikari-n0005", "reason": "GPU 2 overheating",
         "evidence": {"gpu_temp_c": 91.0}, "episode": "kill-test"}  # fmt: skip


def test_kill_9_during_a_run_and_an_approval_loses_nothing_acknowledged(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--fleet", "none")
    try:
        c = httpx.Client(base_url=server.url, timeout=30)
        assert c.put("/api/v1/ops/mode", json={"mode": "approve"}, headers=server.auth("admin")).status_code == 200
        action = c.post("/api/v1/ops/actions", json=DRAIN, headers=server.auth("admin")).json()
        body = {"kind": "bench", "scenario_id": "builtin-japan-2022", "start": "2022-04-10", "end": "2022-04-13",
                "policies": ["baseline", "greedy"]}  # fmt: skip
        run = c.post("/api/v1/runs", json=body, headers=server.auth("operator")).json()
        deadline = time.monotonic() + 90
        while c.get(f"/api/v1/runs/{run['id']}", headers=server.auth("viewer")).json()["state"] != "running":
            assert time.monotonic() < deadline, "the run did not start"
            time.sleep(0.3)
        r = c.post(f"/api/v1/ops/actions/{action['id']}/approve", headers=server.auth("operator"))
        assert r.status_code == 200  # acknowledged ...
        stop_server(server, kill=True)  # ... and the server is killed at once
        assert server.proc.returncode == -9
    finally:
        stop_server(server)
    again = start_server(tmp_path, "--fleet", "none", tokens=server.tokens)
    try:
        c = httpx.Client(base_url=again.url, timeout=30)
        approved = c.get("/api/v1/ops/actions?state=approved", headers=again.auth("viewer")).json()
        assert [(a["id"], a["decided_by"]) for a in approved] == [(action["id"], "ann-operator")]
        log = c.get("/api/v1/ops/audit?source=service", headers=again.auth("viewer")).json()
        assert (log[0]["action"], log[0]["actor"], log[0]["target"]) == ("action.approve", "ann-operator", action["id"])
        deadline = time.monotonic() + 180
        while (now := c.get(f"/api/v1/runs/{run['id']}", headers=again.auth("viewer")).json())["state"] in (
            "queued", "starting", "running"
        ):  # fmt: skip
            assert time.monotonic() < deadline, now
            time.sleep(0.5)
        assert now["state"] == "succeeded", now  # the worker outlived the server that started it
        assert set(now["result"]["policies"]) == {"baseline", "greedy"}
        writes = [("post", "/api/v1/runs"), ("post", "/api/v1/ops/actions"), ("put", "/api/v1/ops/mode"),
                  ("post", "/api/v1/tokens"), ("post", f"/api/v1/ops/actions/{action['id']}/reject")]  # fmt: skip
        for method, path in writes:
            assert c.request(method, path, json={}).status_code == 401, path
    finally:
        stop_server(again)

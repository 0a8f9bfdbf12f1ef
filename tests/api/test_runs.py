"""Background runs: a short simulation from queued to succeeded with its files and report; cancel; a worker killed
with SIGKILL is marked failed and restarts; bad requests get 422 naming the field."""

from __future__ import annotations

import io
import json
import os
import signal
import time

import pandas as pd

from tests.api.conftest import Api

DAY = {"kind": "simulate", "scenario_id": "builtin-japan-2022", "start": "2022-04-10", "end": "2022-04-11"}


def start(api: Api, body: dict) -> dict:
    r = api.client.post("/api/v1/runs", json=body, headers=api.auth("operator"))
    assert r.status_code == 202, r.text
    return r.json()


def test_a_simulation_runs_in_the_background_with_progress_files_and_report(api: Api) -> None:
    run = start(api, {**DAY, "seed": 7})
    assert run["state"] == "queued" and run["created_by"] == "ann-operator"
    seen = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        now = api.client.get(f"/api/v1/runs/{run['id']}", headers=api.auth("viewer")).json()
        seen.add((now["state"], round(now["progress"], 2)))
        if now["state"] in ("succeeded", "failed"):
            break
        time.sleep(0.2)
    assert now["state"] == "succeeded", now
    assert {s for s, _ in seen} >= {"running", "succeeded"}
    assert now["progress"] == 1.0 and now["result"]["policy"] == "baseline" and now["result"]["seed"] == 7
    assert 1.0 < now["result"]["pue"] < 1.6 and now["result"]["carbon_t"] > 0
    files = {f["name"]: f for f in api.client.get(f"/api/v1/runs/{run['id']}/files", headers=api.auth("viewer")).json()}
    assert {"summary.json", "timeseries.parquet", "report.html"} <= set(files)
    ts = api.client.get(files["timeseries.parquet"]["url"], headers=api.auth("viewer"))
    frame = pd.read_parquet(io.BytesIO(ts.content))
    assert len(frame) == 3 * 96 and frame["site"].nunique() == 3  # one day of 15-minute steps at three sites
    summary = json.loads(api.client.get(files["summary.json"]["url"], headers=api.auth("viewer")).content)
    assert summary["pue"] == now["result"]["pue"]
    report = api.client.get(f"/api/v1/runs/{run['id']}/report", headers=api.auth("viewer"))
    assert report.status_code == 200 and "<html" in report.text[:500].lower()
    assert "connect-src 'none'" in report.headers["content-security-policy"]
    for trick in ("..%2Fwattbit.sqlite", "%2Fetc%2Fpasswd", ".hidden.json", "worker.exe"):
        r = api.client.get(f"/api/v1/runs/{run['id']}/files/{trick}", headers=api.auth("viewer"))
        assert r.status_code == 404, trick


def test_cancel_a_queued_run_and_refuse_to_cancel_it_twice(api: Api) -> None:
    api.service.supervisor.close()  # nothing starts: the run stays queued
    run = start(api, DAY)
    r = api.client.post(f"/api/v1/runs/{run['id']}/cancel", headers=api.auth("operator"))
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    again = api.client.post(f"/api/v1/runs/{run['id']}/cancel", headers=api.auth("operator"))
    assert again.status_code == 409 and again.json()["value"] == "cancelled"
    assert api.client.post(f"/api/v1/runs/{run['id']}/cancel", headers=api.auth("viewer")).status_code == 403


def test_a_killed_worker_marks_the_run_failed_and_it_can_be_started_again(api: Api) -> None:
    week = {**DAY, "kind": "bench", "end": "2022-04-17", "policies": ["baseline", "greedy"]}
    run = start(api, week)
    running = api.wait_run(run["id"], states=("running",))
    assert running["state"] == "running"
    with api.service.sessions() as db:
        from wattbit.api.db import Run

        pid = db.get(Run, run["id"]).worker_pid
    os.kill(pid, signal.SIGKILL)
    failed = api.wait_run(run["id"], states=("failed",), timeout_s=60)
    assert failed["state"] == "failed" and "before finishing" in failed["error"]
    r = api.client.post(f"/api/v1/runs/{run['id']}/restart", headers=api.auth("operator"))
    assert r.status_code == 200 and r.json()["attempt"] == 2 and r.json()["state"] == "queued"
    running = api.wait_run(run["id"], states=("running", "succeeded", "failed"))
    r = api.client.post(f"/api/v1/runs/{run['id']}/cancel", headers=api.auth("operator"))
    assert r.status_code == 200
    cancelled = api.wait_run(run["id"], timeout_s=60)
    assert cancelled["state"] == "cancelled", cancelled
    actions = [e["action"] for e in api.client.get("/api/v1/ops/audit", headers=api.auth("viewer")).json()]
    assert actions[:3] == ["run.cancel", "run.restart", "run.start"]


def test_bad_run_requests_name_the_field(api: Api) -> None:
    cases = [
        ({**DAY, "kind": "train"}, "kind"),
        ({**DAY, "start": "10/04/2022"}, "start"),
        ({**DAY, "policy": "magic"}, "policy"),
        ({**DAY, "extra": 1}, "extra"),
        ({**DAY, "start": "2030-01-01", "end": "2030-01-02"}, None),
    ]
    for body, field in cases:
        r = api.client.post("/api/v1/runs", json=body, headers=api.auth("operator"))
        assert r.status_code == 422, body
        if field is not None:
            assert r.json()["field"] == field, r.json()
        else:
            assert "period" in r.json()["message"] or "2030" in r.json()["message"]
    r = api.client.post("/api/v1/runs", json={**DAY, "scenario_id": "s-none"}, headers=api.auth("operator"))
    assert r.status_code == 404
    r = api.client.post("/api/v1/runs", json={**DAY, "kind": "plan"}, headers=api.auth("operator"))
    assert r.status_code == 422 and "[plan]" in r.json()["message"]


def test_report_tables_scroll_show_dashes_for_missing_numbers_and_bench_carbon_is_a_change() -> None:
    from wattbit.report.bench_report import carbon_change_figure
    from wattbit.report.html import table_html

    html = table_html(["a", "b"], [["x", float("nan")], ["y", None], ["z", 1234.5]], 1)
    assert html.startswith('<div class="wide"><table>') and "nan" not in html.lower()
    assert html.count(">—<") == 2 and "1,234.5" in html
    bench = {"policies": {"baseline": {"carbon_t": 100.0}, "greedy": {"carbon_t": 95.0}}}
    bars = carbon_change_figure(bench, ["baseline", "greedy"]).data[0]
    assert list(bars.y) == [0.0, -5.0] and "100.0 t" in bars.text[0] and "-5.0 %" in bars.text[1]

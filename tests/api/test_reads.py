"""The shared answers of the dashboard's reads (``wattbit.api.reads``): served again without a recomputation, never
to a caller without a valid token, and dropped as soon as a change through the service makes them stale."""

from __future__ import annotations

from tests.api.conftest import Api

DRAIN = {"kind": "drain", "site": "inzai", "target": "inzai-n0003", "reason": "test", "episode": "reads"}


def test_a_read_is_computed_once_and_shared(api: Api) -> None:
    reads = api.service.reads
    first = api.client.get("/api/v1/runs?limit=5", headers=api.auth("viewer"))
    misses = reads.misses
    again = api.client.get("/api/v1/runs?limit=5", headers=api.auth("operator"))
    assert first.status_code == again.status_code == 200 and first.content == again.content
    assert reads.misses == misses and reads.hits >= 1
    assert again.headers["cache-control"] == "no-store" and again.headers["x-content-type-options"] == "nosniff"
    # counted in the service's metrics under its route, like any other answer
    metrics = api.client.get("/metrics").text
    assert 'wattbit_api_requests_total{method="GET",route="/api/v1/runs",status="200"} 2.0' in metrics


def test_a_cached_answer_needs_a_valid_token(api: Api) -> None:
    assert api.client.get("/api/v1/ops/actions", headers=api.auth("viewer")).status_code == 200
    assert api.client.get("/api/v1/ops/actions").status_code == 401
    bad = {"Authorization": "Bearer wbt_" + "x" * 43}
    assert api.client.get("/api/v1/ops/actions", headers=bad).status_code == 401
    tokens = api.client.get("/api/v1/tokens", headers=api.auth("admin")).json()
    viewer_id = next(t["id"] for t in tokens if t["name"] == "ann-viewer")
    assert api.client.delete(f"/api/v1/tokens/{viewer_id}", headers=api.auth("admin")).status_code == 200
    assert api.client.get("/api/v1/ops/actions", headers=api.auth("operator")).status_code == 200
    revoked = api.client.get("/api/v1/ops/actions", headers=api.auth("viewer"))
    assert revoked.status_code == 401 and revoked.json()["error"] == "bad_token"


def test_a_change_through_the_service_shows_at_once(api: Api) -> None:
    assert api.client.get("/api/v1/ops/actions", headers=api.auth("viewer")).json() == []
    assert api.client.get("/api/v1/ops/mode", headers=api.auth("viewer")).json()["mode"] == "shadow"
    assert api.client.put("/api/v1/ops/mode", json={"mode": "approve"}, headers=api.auth("admin")).status_code == 200
    made = api.client.post("/api/v1/ops/actions", json=DRAIN, headers=api.auth("admin")).json()
    listed = api.client.get("/api/v1/ops/actions", headers=api.auth("viewer")).json()
    assert [(a["id"], a["state"]) for a in listed] == [(made["id"], "pending_approval")]
    assert api.client.post(f"/api/v1/ops/actions/{made['id']}/approve", headers=api.auth("operator")).status_code == 200
    listed = api.client.get("/api/v1/ops/actions", headers=api.auth("viewer")).json()
    assert [(a["id"], a["state"], a["decided_by"]) for a in listed] == [(made["id"], "approved", "ann-operator")]
    # an event published by the service's own threads (here: a run's change) drops the answers it covers
    runs = api.client.get("/api/v1/runs", headers=api.auth("viewer")).content
    stale = (1e18, b'["stale"]', None)  # an answer that would otherwise live forever
    api.service.reads.entries["/api/v1/runs"] = api.service.reads.entries["/api/v1/ops/alerts"] = stale
    assert api.client.get("/api/v1/runs", headers=api.auth("viewer")).content == b'["stale"]'
    api.service.hub.publish("run", {"id": "r-x"})
    assert api.client.get("/api/v1/runs", headers=api.auth("viewer")).content == runs
    assert api.client.get("/api/v1/ops/alerts", headers=api.auth("viewer")).content == b'["stale"]'  # not a run's

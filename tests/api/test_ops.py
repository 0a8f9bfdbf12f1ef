"""Operations through the API, backed by the control loop's audit store: proposals get the status the mode gives
them, operators approve or reject, viewers cannot, and every decision is in both audit logs with the token's name."""

from __future__ import annotations

from pathlib import Path

from tests.api.conftest import Api, service
from wattbit.ops.heal.audit import AuditStore

DRAIN = {"kind": "drain", "site": "inzai", "target": "inzai-n0007", "reason": "XID 79 on GPU 3",
         "evidence": {"alert_id": "abc", "xid": 79}, "episode": "abc"}  # fmt: skip


def test_a_drain_waits_for_a_person_in_approve_mode_and_the_loop_sees_the_decision(tmp_path: Path) -> None:
    with service(tmp_path) as api:
        c = api.client
        assert c.get("/api/v1/ops/mode", headers=api.auth("viewer")).json()["mode"] == "shadow"
        shadow = c.post("/api/v1/ops/actions", json={**DRAIN, "episode": "e0"}, headers=api.auth("operator")).json()
        assert shadow["state"] == "recommended"
        assert c.put("/api/v1/ops/mode", json={"mode": "approve"}, headers=api.auth("admin")).status_code == 200
        r = c.post("/api/v1/ops/actions", json=DRAIN, headers=api.auth("admin"))  # the loop's token
        assert r.status_code == 201 and r.json()["state"] == "pending_approval" and r.json()["destructive"]
        action_id = r.json()["id"]
        assert action_id == "drain:inzai-n0007:abc"
        again = c.post("/api/v1/ops/actions", json=DRAIN, headers=api.auth("admin"))
        assert again.status_code == 200 and again.json()["id"] == action_id  # idempotent by key
        listed = c.get("/api/v1/ops/actions?state=pending_approval", headers=api.auth("viewer")).json()
        assert [a["id"] for a in listed] == [action_id]
        denied = c.post(f"/api/v1/ops/actions/{action_id}/approve", headers=api.auth("viewer"))
        assert denied.status_code == 403
        ok = c.post(f"/api/v1/ops/actions/{action_id}/approve", json={"comment": "GPU 3 is gone"},
                    headers=api.auth("operator"))  # fmt: skip
        assert ok.status_code == 200 and ok.json()["state"] == "approved" and ok.json()["decided_by"] == "ann-operator"
        late = c.post(f"/api/v1/ops/actions/{action_id}/reject", headers=api.auth("operator"))
        assert late.status_code == 409 and "approved" in late.json()["message"]
        assert c.post("/api/v1/ops/actions/nope/approve", headers=api.auth("operator")).status_code == 404
        log = c.get("/api/v1/ops/audit", headers=api.auth("viewer")).json()
        mine = [(e["source"], e["actor"], e["action"], e["target"]) for e in log]
        assert ("service", "ann-operator", "action.approve", action_id) in mine
        assert ("loop", "ann-operator", "action.approved", action_id) in mine
        assert ("service", "ann-admin", "loop.mode", "loop") in mine
        loop_only = c.get("/api/v1/ops/audit?source=loop", headers=api.auth("viewer")).json()
        assert {e["source"] for e in loop_only} == {"loop"}
        nodes_state = api.service.ops.actions("approved")
        assert nodes_state[0]["target"] == "inzai-n0007"
    with AuditStore(tmp_path / "data" / "audit.sqlite") as store:  # what the loop reads on its next cycle
        rec = store.get("drain:inzai-n0007:abc")
        assert rec.status == "approved" and rec.approved_by == "ann-operator"
        assert store.load_state("mode")["mode"] == "approve"


def test_bad_proposals_and_modes_are_422(api: Api) -> None:
    c = api.client
    r = c.post("/api/v1/ops/actions", json={**DRAIN, "kind": "reboot"}, headers=api.auth("operator"))
    assert r.status_code == 422 and r.json()["field"] == "kind"
    r = c.post("/api/v1/ops/actions", json={**DRAIN, "target": ""}, headers=api.auth("operator"))
    assert r.status_code == 422 and r.json()["field"] == "target"
    r = c.put("/api/v1/ops/mode", json={"mode": "yolo"}, headers=api.auth("admin"))
    assert r.status_code == 422 and r.json()["field"] == "mode"

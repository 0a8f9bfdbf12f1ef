"""The audit store: idempotent proposals, approval by a person, checked transitions, the log, WAL, two writers."""

from __future__ import annotations

from pathlib import Path

import pytest

from wattbit.errors import WattbitInputError
from wattbit.ops.heal.actions import Action
from wattbit.ops.heal.audit import ActionStateError, AuditStore, UnknownAction


def _drain(episode: str = "inc-1") -> Action:
    return Action(
        "drain", "fukushima-n0003", "fukushima", params={"reason": "wattbit: xid 79 predicted"},
        reason="xid 79 predicted", evidence={"alert": "a1", "probability": 0.8}, episode=episode,
    )  # fmt: skip


def test_modes_idempotency_and_approval(tmp_path: Path) -> None:
    with AuditStore(tmp_path / "audit.sqlite") as store:
        assert store.journal_mode == "wal"
        shadow, new = store.propose(_drain("s"), "shadow")
        assert new and shadow.status == "recommended" and shadow.destructive
        weight, _ = store.propose(Action("node_weight", "inzai-n0001", "inzai", {"weight": 5}, episode="p"), "approve")
        assert weight.status == "approved"  # not destructive: no person needed
        rec, new = store.propose(_drain(), "approve")
        again, new_again = store.propose(_drain(), "approve")
        assert new and not new_again and again == rec and rec.status == "pending_approval"
        assert [r.action_id for r in store.awaiting_approval()] == [rec.action_id]
        with pytest.raises(WattbitInputError, match="name of who"):
            store.approve(rec.action_id, " ")
        ok = store.approve(rec.action_id, "alice", note="checked the node")
        assert ok.status == "approved" and ok.approved_by == "alice"
        with pytest.raises(ActionStateError, match="approved; it cannot become rejected"):
            store.reject(rec.action_id, "bob")
        with pytest.raises(UnknownAction):
            store.approve("drain:nope:x", "alice")
        d = store.transition(rec.action_id, "decided", "wattbit", command="scontrol update NodeName=… State=DRAIN")
        assert d.attempts == 1
        f = store.transition(rec.action_id, "failed", "wattbit", error="Unable to contact slurm controller")
        assert f.error.startswith("Unable") and f.status == "failed"
        store.transition(rec.action_id, "decided", "wattbit")
        done = store.transition(rec.action_id, "applied", "wattbit", result="drained")
        assert done.attempts == 2 and done.result == "drained" and done.command.startswith("scontrol")
        with pytest.raises(ActionStateError):
            store.transition(rec.action_id, "decided", "wattbit")
        events = [e.event for e in store.log(rec.action_id)]
        assert events == ["applied", "decided", "failed", "decided", "approved", "pending_approval"]
        assert store.log(rec.action_id)[4].actor == "alice"
        store.note("slurmctld did not answer in 10 s", command="sinfo --json")
        assert store.log(limit=1)[0].detail["message"].startswith("slurmctld")
        assert store.counts() == {"recommended": 1, "approved": 1, "applied": 1}
        with pytest.raises(WattbitInputError, match="unknown status"):
            store.actions("done")
        store.save_state("lemons", {"fukushima-n0003": 2})
        assert store.load_state("lemons") == {"fukushima-n0003": 2} and store.load_state("x", 0) == 0


def test_a_person_and_the_loop_on_two_connections(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    loop, service = AuditStore(path), AuditStore(path)
    rec, _ = loop.propose(_drain(), "approve")
    service.reject(rec.action_id, "carol", note="node under maintenance already")
    with pytest.raises(ActionStateError, match="rejected"):
        loop.transition(rec.action_id, "decided", "wattbit")
    assert loop.get(rec.action_id).status == "rejected" and loop.get(rec.action_id).approved_by == "carol"
    loop.close()
    service.close()
    with AuditStore(path) as reopened:  # survives a reopen (a restart)
        assert reopened.get(rec.action_id).status == "rejected"


def test_the_person_who_decides_is_recorded_even_when_they_proposed_it(tmp_path: Path) -> None:
    with AuditStore(tmp_path / "a.sqlite") as store:
        rec, _ = store.propose(_drain(), "approve", actor="ann-operator")
        ok = store.approve(rec.action_id, "ann-operator")
        assert ok.approved_by == "ann-operator"
        assert [e.actor for e in store.log(rec.action_id, 10)][:2] == ["ann-operator", "ann-operator"]

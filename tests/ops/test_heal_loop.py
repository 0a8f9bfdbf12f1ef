"""The control loop over the twin's scheduler: modes, healing, safety rules, idempotency, reconciliation after a crash
between "decided" and "applied", and failures of the parts. Alerts come from a stub watcher here (the real
Prometheus and Slurm are in test_closed_loop.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wattbit.ops.adapters.scheduler import JobSpec, SchedulerUnavailable
from wattbit.ops.adapters.twin_scheduler import TwinScheduler
from wattbit.ops.detect.alerts import Alert
from wattbit.ops.heal.audit import AuditStore
from wattbit.ops.heal.loop import ControlLoop
from wattbit.ops.heal.safety import Rules

T0 = 1_650_000_000.0
H = 3600.0
RULES = Rules(burn_in_s=2 * H, min_drain_s=H, flap_s=6 * H)


class StubWatcher:
    """The watcher's surface the loop reads: ``step()``, ``keys``, ``manager.open``, ``last_t``."""

    def __init__(self, nodes: list[str]) -> None:
        self.keys = [(n, g) for n in nodes for g in range(8)]
        self.manager = type("M", (), {"open": {}})()
        self.last_t = T0

    def step(self) -> list[Alert]:
        return []

    def alert(self, node: str, kind: str, severity: str, t: float) -> Alert:
        a = Alert(t, node.split("-n")[0], node, 0, kind, severity, {"x": 1.0}, 0.7 if severity == "warning" else None)
        a.last_s = t
        self.manager.open[a.key] = a
        return a


def _twin() -> TwinScheduler:
    parts = {"a": ["a-n0001", "a-n0002"], "b": ["b-n0001", "b-n0002"]}
    return TwinScheduler(parts, {"a": 8, "b": 8}, T0)


def _loop(tw: TwinScheduler, store: AuditStore, w: StubWatcher, mode: str, **kw) -> ControlLoop:  # type: ignore[no-untyped-def]
    return ControlLoop(tw, store, watcher=w, mode=mode, rules=RULES, **kw)


def _at(tw: TwinScheduler, w: StubWatcher, t: float) -> None:
    tw.advance(t)
    w.last_t = t


def test_shadow_recommends_and_changes_nothing(tmp_path: Path) -> None:
    tw, w = _twin(), StubWatcher(_twin().node_names)
    job = tw.submit(JobSpec("j", "a", "train", comment="wattbit:work_h=50"))
    node = tw.job(job).nodes[0]
    store = AuditStore(tmp_path / "a.sqlite")
    w.alert(node, "row_remap", "warning", T0)
    report = _loop(tw, store, w, "shadow").cycle()
    assert sorted(r.kind for r in report.proposed) == ["drain", "requeue"]
    assert all(r.status == "recommended" for r in report.proposed)
    assert not any(n.drained for n in tw.nodes()) and tw.job(job).running
    assert _loop(tw, store, w, "shadow").cycle().proposed == []  # the same decision is not stored twice


def test_auto_heals_drain_requeue_resume(tmp_path: Path) -> None:
    tw, w = _twin(), StubWatcher(_twin().node_names)
    job = tw.submit(JobSpec("j", "a", "train", comment="wattbit:work_h=50"))
    node = tw.job(job).nodes[0]
    store = AuditStore(tmp_path / "a.sqlite")
    loop = _loop(tw, store, w, "auto")
    w.alert(node, "row_remap", "warning", T0)
    loop.cycle()
    info = {n.name: n for n in tw.nodes()}[node]
    assert info.drained and info.reason.startswith("wattbit: row_remap predicted [")
    assert tw.job(job).pending and tw.job(job).restart_count == 1
    _at(tw, w, T0 + 60)
    loop.cycle()  # start time lifted: the job restarts on the other node of its site
    _at(tw, w, T0 + 120)
    assert tw.job(job).running and tw.job(job).nodes == ("a-n0002",)
    _at(tw, w, T0 + 2 * H)
    w.alert(node, "failure", "critical", T0 + 2 * H)  # the predicted failure comes, on a drained node
    loop.cycle()
    assert {n.name: n for n in tw.nodes()}[node].drained  # not resumed during the burn-in
    w.manager.open.clear()
    _at(tw, w, T0 + 4.5 * H)
    loop.cycle()
    assert not {n.name: n for n in tw.nodes()}[node].drained
    kinds = [(r.kind, r.status) for r in store.actions()]
    assert ("resume", "applied") in kinds and ("start_time", "applied") in kinds and ("requeue", "applied") in kinds
    assert tw.totals()["jobs_lost"] == 0 and tw.job(job).restart_count == 1
    log = store.log()
    assert {e.event for e in log} >= {"approved", "decided", "applied"}


def test_approve_mode_waits_for_a_person(tmp_path: Path) -> None:
    tw, w = _twin(), StubWatcher(_twin().node_names)
    job = tw.submit(JobSpec("j", "a", "train", comment="wattbit:work_h=50"))
    node = tw.job(job).nodes[0]
    store = AuditStore(tmp_path / "a.sqlite")
    loop = _loop(tw, store, w, "approve")
    w.alert(node, "nvlink_crc_rate", "warning", T0)
    loop.cycle()
    waiting = store.awaiting_approval()
    assert [r.kind for r in waiting] == ["drain", "requeue"] and not any(n.drained for n in tw.nodes())
    loop.cycle()
    assert len(store.awaiting_approval()) == 2  # nothing proposed twice, nothing applied
    store.approve(waiting[0].action_id, "alice")
    store.reject(waiting[1].action_id, "alice", note="let it finish")
    loop.cycle()
    assert {n.name: n for n in tw.nodes()}[node].drained and tw.job(job).running
    assert store.get(waiting[0].action_id).status == "applied"


def test_rate_limit_share_and_unknown_nodes(tmp_path: Path) -> None:
    tw, w = _twin(), StubWatcher(_twin().node_names + ["ghost-n0001"])
    store = AuditStore(tmp_path / "a.sqlite")
    loop = _loop(tw, store, w, "auto")
    w.alert("a-n0001", "thermal", "warning", T0)
    w.alert("a-n0002", "thermal", "warning", T0 + 1)
    w.alert("ghost-n0001", "thermal", "warning", T0 + 2)
    report = loop.cycle()
    drains = {r.target: r for r in store.actions() if r.kind == "drain"}
    assert drains["a-n0001"].status == "applied"
    assert drains["a-n0002"].status == "blocked" and "ghost-n0001" not in drains
    assert any("share of site" in str(e.detail) for e in store.log(drains["a-n0002"].action_id))
    assert any("ghost-n0001" in n and "unknown to the scheduler" in n for n in report.notes)
    w.alert("b-n0001", "failure", "critical", T0 + 3)
    w.alert("b-n0002", "failure", "critical", T0 + 4)
    loop.cycle()  # failures seen are not rate limited: both nodes drained
    assert sum(1 for n in tw.nodes() if n.drained and n.partitions == ("b",)) == 2


class Crash(BaseException):
    """Stands for kill -9 between "decided" and "applied" (the process stops; nothing after runs)."""


@pytest.mark.parametrize("ran", [False, True])
def test_crash_between_decided_and_applied_is_reconciled_once(tmp_path: Path, ran: bool) -> None:
    tw, w = _twin(), StubWatcher(_twin().node_names)
    job = tw.submit(JobSpec("j", "a", "train", comment="wattbit:work_h=50"))
    node = tw.job(job).nodes[0]
    store = AuditStore(tmp_path / "a.sqlite")
    loop = _loop(tw, store, w, "auto")

    def crash(rec):  # type: ignore[no-untyped-def]
        if rec.kind == "requeue":
            if ran:  # the command reached the scheduler, then the process died before recording it
                tw.requeue(rec.target)
            raise Crash

    loop.executor.after_decided = crash
    w.alert(node, "row_remap", "warning", T0)
    with pytest.raises(Crash):
        loop.cycle()
    rec = next(r for r in store.actions() if r.kind == "requeue")
    assert rec.status == "decided"
    restarted = _loop(tw, AuditStore(tmp_path / "a.sqlite"), w, "auto")
    restarted.cycle()
    assert restarted.store.get(rec.action_id).status == "applied"
    assert tw.job(job).restart_count == 1  # applied exactly once, whether or not it ran before the crash
    assert any("reconciling" in str(e.detail) for e in restarted.store.log(rec.action_id))


class FlakyScheduler(TwinScheduler):
    down = False

    def nodes(self):  # type: ignore[no-untyped-def]
        if self.down:
            raise SchedulerUnavailable("Unable to contact slurm controller (connect failure)", "sinfo --json")
        return super().nodes()


def test_scheduler_down_and_vanished_job(tmp_path: Path) -> None:
    tw = FlakyScheduler({"a": ["a-n0001", "a-n0002"], "b": ["b-n0001"]}, {"a": 8, "b": 8}, T0)
    w = StubWatcher(tw.node_names)
    store = AuditStore(tmp_path / "a.sqlite")
    loop = _loop(tw, store, w, "auto")
    tw.down = True
    w.alert("a-n0001", "thermal", "warning", T0)
    report = loop.cycle()
    assert report.skipped.startswith("scheduler unavailable") and store.actions() == []
    assert "sinfo --json" in str(store.log(limit=1)[0].detail)
    tw.down = False
    job = tw.submit(JobSpec("j", "a", "train", comment="wattbit:work_h=50"))
    node = tw.job(job).nodes[0]
    w.manager.open.clear()
    loop.executor.after_decided = lambda rec: tw.cancel(rec.target) if rec.kind == "requeue" else None
    tw.advance(T0 + 1)
    w.alert(node, "row_remap", "warning", T0 + 1)
    loop.cycle()
    requeue = next(r for r in store.actions() if r.kind == "requeue")
    assert requeue.status == "failed" and requeue.error and requeue.next_try_s is not None  # retried later
    tw.advance(T0 + 1000)  # the cancelled job is purged: it vanished
    loop.executor.wall_clock = lambda: requeue.next_try_s + 1  # type: ignore[operator]
    loop.cycle()
    gone = store.get(requeue.action_id)
    assert gone.status == "abandoned" and "Invalid job id" in gone.error
    assert any(e.event == "note" and "back after" in str(e.detail) for e in store.log())


def test_lemon_is_quarantined(tmp_path: Path) -> None:
    tw, w = _twin(), StubWatcher(_twin().node_names)
    store = AuditStore(tmp_path / "a.sqlite")
    loop = _loop(tw, store, w, "auto")
    for k in range(3):
        t = T0 + k * 10 * H
        _at(tw, w, t)
        w.manager.open.clear()
        w.alert("b-n0002", "failure", "critical", t)
        loop.cycle()
        w.manager.open.clear()
        _at(tw, w, t + 5 * H)
        loop.cycle()
    info = {n.name: n for n in tw.nodes()}["b-n0002"]
    assert info.drained and "quarantined (lemon: 3 failures" in info.reason
    _at(tw, w, T0 + 60 * H)
    loop.cycle()
    assert {n.name: n for n in tw.nodes()}["b-n0002"].drained  # never resumed by wattbit


def test_plan_rules_from_signals(tmp_path: Path) -> None:
    from wattbit.ops.adapters.power import SiteLimits, TwinPowerControl
    from wattbit.ops.heal.plan import plan_actions

    tw = _twin()
    tw.submit(JobSpec("big", "a", "train", nodes=2, comment="wattbit:work_h=50"))
    wait = tw.submit(JobSpec("later", "a", "train", comment="wattbit:deferrable=1,movable=1,work_h=5"))
    power = TwinPowerControl({"a": SiteLimits(200.0, 700.0), "b": SiteLimits(200.0, 700.0)})
    memory: dict = {}
    for k in range(8):  # a history of prices, one per hour
        sig = {"a": {"carbon_g_per_kwh": 500.0, "price_jpy_per_mwh": 10_000.0}, "b": {"carbon_g_per_kwh": 30.0,
               "price_jpy_per_mwh": 10_000.0}}  # fmt: skip
        plan_actions(sig, tw.nodes(), tw.jobs(), memory, T0 + k * H, power=power)
    sig["a"]["price_jpy_per_mwh"] = 30_000.0  # a price spike at a, b stays clean and free
    acts = plan_actions(sig, tw.nodes(), tw.jobs(), memory, T0 + 8 * H, power=power)
    kinds = {(a.kind, a.target): a for a in acts}
    assert ("node_weight", "b-n0001") not in kinds  # the cleanest site keeps weight 1: nothing to change
    assert kinds[("node_weight", "a-n0001")].params == {"weight": 11}
    assert ("hold", wait) in kinds and kinds[("move", wait)].params == {"partition": "b"}
    assert kinds[("power_cap", "a")].params == {"watts": 200.0} and ("power_cap", "b") not in kinds
    assert all(a.source == "plan" and a.episode == f"plan@{int((T0 + 8 * H) // 3600)}" for a in acts)


def test_burn_in_command_decides_the_resume(tmp_path: Path) -> None:
    from wattbit.ops.heal.run import command_burn_in

    assert command_burn_in("true {node}")("a-n0001") is True
    assert command_burn_in("false {node}")("a-n0001") is False
    assert command_burn_in("/nonexistent/diag {node}")("a-n0001") is None
    tw, w = _twin(), StubWatcher(_twin().node_names)
    store = AuditStore(tmp_path / "a.sqlite")
    loop = _loop(tw, store, w, "auto", burn_in=command_burn_in("false {node}"))
    w.alert("b-n0001", "failure", "critical", T0)
    loop.cycle()
    w.manager.open.clear()
    _at(tw, w, T0 + 10 * H)
    report = loop.cycle()
    assert {n.name: n for n in tw.nodes()}["b-n0001"].drained  # burn-in failed: stays drained
    assert any("failed its burn-in" in n for n in report.notes)


def test_mode_follows_the_service_and_the_change_is_audited(tmp_path: Path) -> None:
    tw, w = _twin(), StubWatcher(_twin().node_names)
    job = tw.submit(JobSpec("j", "a", "train", comment="wattbit:work_h=50"))
    node = tw.job(job).nodes[0]
    store = AuditStore(tmp_path / "a.sqlite")
    loop = _loop(tw, store, w, "shadow")
    store.save_state("mode", {"mode": "sideways", "by": "bob", "time_s": T0})
    loop.cycle()
    loop.cycle()
    notes = [e.detail["message"] for e in store.log() if e.event == "note"]
    assert notes == ["stored mode 'sideways' is not one of shadow, approve, auto; staying in shadow"]  # once
    store.save_state("mode", {"mode": "auto", "by": "alice", "time_s": T0})
    w.alert(node, "row_remap", "warning", T0)
    loop.cycle()
    assert loop.mode == "auto" and {n.name: n for n in tw.nodes()}[node].drained
    change = next(e for e in store.log() if e.event == "note" and e.detail.get("mode") == "auto")
    assert change.detail["message"] == "mode changed from shadow to auto by alice"
    assert change.detail["previous"] == "shadow" and change.detail["by"] == "alice"
    assert all(r.mode == "auto" for r in store.actions() if r.kind == "drain")

"""``ops run --plan mpc``: the mpc policy decides the plan from the live scheduler and signals; its actions respect
what each job allows, go through the mode and the audit store, and a failing planner never stops the loop."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ops.conftest import short_scenario
from wattbit.ops.adapters.power import twin_power_control
from wattbit.ops.adapters.scheduler import JobSpec
from wattbit.ops.heal.audit import AuditStore
from wattbit.ops.heal.loop import ControlLoop
from wattbit.ops.heal.mpc_live import MpcPlanner
from wattbit.ops.heal.plan import CARBON, PRICE
from wattbit.ops.heal.run import make_scheduler


class StubSignals:
    """The Prometheus client's ``query`` for the site signals."""

    def __init__(self, values: dict[str, tuple[float, float]]) -> None:
        self.values = values

    def query(self, name: str) -> list[tuple[dict[str, str], float, float]]:
        k = {CARBON: 0, PRICE: 1}.get(name)
        return [] if k is None else [({"site": s}, 0.0, v[k]) for s, v in self.values.items()]


@pytest.fixture(scope="module")
def planner() -> MpcPlanner:
    return MpcPlanner(short_scenario(days=2))


def _setup(sc, planner: MpcPlanner, db: Path, mode: str):  # type: ignore[no-untyped-def]
    tw = make_scheduler("twin", sc, nodes_per_site=2, start_s=sc.period.start.timestamp())
    sites = [s.name for s in sc.sites]
    jobs = {
        "urgent": tw.submit(JobSpec("urgent", sites[0], "train", comment="wattbit:work_h=2")),
        "flex": tw.submit(JobSpec("flex", sites[0], "train", nodes=2,
                                  comment="wattbit:deferrable=1,movable=1,work_h=3,checkpoint_signal=USR1")),
        "big": tw.submit(JobSpec("big", sites[1], "train", nodes=2, comment="wattbit:work_h=40")),
        "more": tw.submit(JobSpec("more", sites[1], "train", nodes=2, comment="wattbit:deferrable=1,work_h=4")),
    }  # fmt: skip
    signals = StubSignals({s: (500.0 - 200.0 * i, 20_000.0 + 5_000.0 * i) for i, s in enumerate(sites)})
    store = AuditStore(db)
    loop = ControlLoop(tw, store, signals=signals, power=twin_power_control(sc), mode=mode, planner=planner)
    return tw, jobs, store, loop


def test_mpc_plan_respects_the_jobs_and_the_mode(planner: MpcPlanner, tmp_path: Path) -> None:
    sc = short_scenario(days=2)
    tw, jobs, store, loop = _setup(sc, planner, tmp_path / "a.sqlite", "auto")
    for k in range(3):
        tw.advance(sc.period.start.timestamp() + k * 900.0)
        loop.cycle()
    plan = [r for r in store.actions(limit=10_000) if r.source == "plan"]
    kinds = {r.kind for r in plan}
    assert "node_weight" in kinds and kinds <= {"node_weight", "hold", "release", "move", "power_cap", "supply_temp",
                                               "requeue"}  # fmt: skip
    allowed = {"hold": {jobs["flex"], jobs["more"]}, "move": {jobs["flex"]}, "requeue": {jobs["flex"]}}
    for r in plan:
        if r.kind in allowed:
            assert r.target in allowed[r.kind], (r.kind, r.target)  # only what the job's comment allows
    assert all(r.status == "applied" for r in plan if r.kind in ("node_weight", "hold", "move", "release"))
    assert tw.job(jobs["urgent"]).running  # mpc starts what cannot wait; the scheduler runs it
    _, _, s_store, s_loop = _setup(sc, planner, tmp_path / "s.sqlite", "shadow")
    s_loop.cycle()
    assert {r.status for r in s_store.actions(limit=10_000) if r.source == "plan"} == {"recommended"}


def test_a_failing_planner_is_noted_and_the_loop_goes_on(tmp_path: Path) -> None:
    sc = short_scenario(days=2)

    class Broken:
        names = ("x",)

        def actions(self, *a: object) -> list[object]:
            raise RuntimeError("solver exploded")

    tw, _, store, loop = _setup(sc, Broken(), tmp_path / "b.sqlite", "auto")  # type: ignore[arg-type]
    report = loop.cycle()
    assert report.skipped == ""
    assert any("mpc plan failed: solver exploded" in e.detail.get("message", "") for e in store.log())

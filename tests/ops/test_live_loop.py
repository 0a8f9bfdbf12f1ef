"""The live watt-bit loop with mpc deciding: its decisions in scheduler words, and the engine following only what the
loop applied (shadow: exactly the first-come-first-served baseline; approve: requeues wait; auto: mpc's plan)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sim.test_engine import _scenario
from wattbit.control import make_policy
from wattbit.control.bench import due_in_period
from wattbit.ops.heal.audit import AuditStore
from wattbit.ops.heal.live_loop import LiveLoopPolicy
from wattbit.ops.heal.mpc_plan import PlanDecision, SchedulerView, decision_actions
from wattbit.sim.run import SimInputs, collect, make_engine, prepare


def test_decision_in_scheduler_words() -> None:
    view = SchedulerView(held={"3", "5"}, partition={"4": "a"}, cap_w={"a": None, "b": 500.0})
    d = PlanDecision(start={"3": "b", "4": "a"}, wait=["5", "6"], pause=["7"], migrate={"8": "a"},
                     cap_w={"a": 400.0, "b": 500.0}, supply_c={"a": None, "b": 30.0})  # fmt: skip
    acts = decision_actions(d, view, 1e9, "plan@7")
    got = [(a.kind, a.target, a.params) for a in acts]
    assert got == [
        ("move", "3", {"partition": "b"}), ("release", "3", {}),  # held, elsewhere: moved and released
        ("hold", "6", {}),  # 5 is held already; 4 starts where it is: nothing to say
        ("requeue", "7", {"checkpoint": True, "hold": True}),
        ("requeue", "8", {"checkpoint": True, "then_move_to": "a"}),
        ("power_cap", "a", {"watts": 400.0}),  # b's cap is unchanged
        ("supply_temp", "b", {"celsius": 30.0}),
    ]  # fmt: skip
    assert all(a.source == "plan" and a.action_id.endswith(":plan@7") for a in acts)


@pytest.fixture(scope="module")
def day() -> SimInputs:
    inputs, _ = due_in_period(prepare(_scenario(days=1, step="1h")))
    return inputs


def _run(inputs: SimInputs, db: Path, mode: str) -> tuple[dict, LiveLoopPolicy, AuditStore]:  # type: ignore[type-arg]
    store = AuditStore(db)
    policy = LiveLoopPolicy(inputs, store, mode)
    engine = make_engine(inputs, policy)
    engine.run()
    return collect(inputs, engine, policy.name).summary, policy, store


def test_shadow_is_the_baseline_and_auto_applies_through_the_audit(day: SimInputs, tmp_path: Path) -> None:
    engine = make_engine(day, make_policy("baseline"))
    engine.run()
    base = collect(day, engine, "baseline").summary
    shadow, _, s_store = _run(day, tmp_path / "s.sqlite", "shadow")
    assert shadow["carbon_t"] == base["carbon_t"] and shadow["energy_cost"] == base["energy_cost"]
    recs = s_store.actions(limit=100_000)
    assert recs and {r.status for r in recs} == {"recommended"}
    auto, policy, a_store = _run(day, tmp_path / "a.sqlite", "auto")
    applied = a_store.actions("applied", limit=100_000)
    assert {r.kind for r in applied} >= {"move"} and not a_store.actions(["approved", "decided"], limit=10)
    one = applied[0]
    assert [e.event for e in reversed(a_store.log(one.action_id))] == ["approved", "decided", "applied"]
    assert auto["jobs_completed"] == base["jobs_completed"] and auto["deadline_misses"] == 0
    assert auto["carbon_t"] != base["carbon_t"]  # the engine followed the loop
    _, _, p_store = _run(day, tmp_path / "p.sqlite", "approve")
    waiting = p_store.actions("pending_approval", limit=100_000)
    assert all(r.kind == "requeue" for r in waiting)
    assert not [r for r in p_store.actions("applied", limit=100_000) if r.kind == "requeue"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--plan-start", "2022-03-01", "--plan-end", "2022-03-02", "--plan-modes", "auto,yolo"], "--plan-modes"),
        (["--plan-start", "2022-03-01"], "--plan-start and --plan-end go together"),
    ],
)
def test_heal_evaluate_plan_options_are_checked(tmp_path: Path, extra: list[str], message: str) -> None:
    from typer.testing import CliRunner

    from wattbit.cli import app

    result = CliRunner().invoke(app, ["ops", "heal-evaluate", "japan-2022", "--out", str(tmp_path), *extra])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "healing.json").exists()

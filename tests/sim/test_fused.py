"""Engine.run for a first-fit policy in compiled stretches (wattbit.sim.fused) gives what stepping it one step at a
time gives: every record, the running set's order, the queue, the random generator's state and the callbacks."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np

from wattbit.control import make_policy
from wattbit.control.baseline import BaselinePolicy
from wattbit.scenario import load_scenario, with_period
from wattbit.sim.engine import Engine
from wattbit.sim.faults import FailureRates
from wattbit.sim.faults.rates import LLAMA3_PER_GPU_DAY
from wattbit.sim.policy import FIRST_FIT_RULE, Actions, Observation, engine_rule
from wattbit.sim.run import make_engine, prepare


def _run(inputs: Any, fused: bool) -> tuple[Engine, list[int]]:
    engine = make_engine(inputs, make_policy("baseline"))
    engine.fused = fused
    calls: list[int] = []
    engine.run(progress=calls.append, checkpoint=lambda e: calls.append(-e.step), checkpoint_every=50)
    return engine, calls


def test_fused_run_equals_the_step_by_step_run() -> None:
    sc = with_period(load_scenario("japan-2022"), "2022-07-20", "2022-08-03")
    # failures 40 times as often as the default, so that many steps stop the compiled stretch
    inputs = prepare(sc, failure_rates=FailureRates(unplanned_per_gpu_day=40 * LLAMA3_PER_GPU_DAY))
    fused, fused_calls = _run(inputs, fused=True)
    stepped, stepped_calls = _run(inputs, fused=False)
    assert stepped.jobs_rec.interruptions.sum() > 100 and stepped.jobs_rec.evictions.sum() > 0
    for a, b in ((fused.jobs_rec, stepped.jobs_rec), (fused.rec, stepped.rec)):
        for f in fields(a):
            x, y = getattr(a, f.name), getattr(b, f.name)
            assert np.array_equal(x, y, equal_nan=True) if isinstance(x, np.ndarray) else x == y, f.name
    assert list(fused.running) == list(stepped.running)  # same members in the same iteration order
    assert fused.queue == stepped.queue
    assert fused.rng.bit_generator.state == stepped.rng.bit_generator.state
    assert fused_calls == stepped_calls


def test_the_rule_holds_only_for_the_class_that_declares_it() -> None:
    class Cautious(BaselinePolicy):
        def decide(self, obs: Observation) -> Actions:
            return Actions()

    class Renamed(BaselinePolicy):
        name = "renamed"

    assert engine_rule(BaselinePolicy()) == FIRST_FIT_RULE
    assert engine_rule(Renamed()) == FIRST_FIT_RULE  # decide inherited with its rule
    assert engine_rule(Cautious()) is None  # a decide of its own: no rule
    assert engine_rule(object()) is None

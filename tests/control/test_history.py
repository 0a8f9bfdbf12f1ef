"""The signals before a window: the longer run's own past, never the window, and what mpc forecasts from."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.sim.test_engine import NO_FAULTS, T0, _scenario
from wattbit.control import make_policy
from wattbit.control.history import HISTORY_FIELDS, signals_before
from wattbit.errors import WattbitInputError
from wattbit.scenario.model import with_period
from wattbit.sim.fleet import build_fleet
from wattbit.sim.run import make_engine, prepare


def test_history_is_the_longer_runs_past_up_to_the_window() -> None:
    whole = _scenario(days=3)
    fleet = build_fleet(whole)
    window = with_period(whole, (T0 + pd.Timedelta(days=2)).isoformat())  # the third day
    history = signals_before(window, 5, earliest=whole.period.start)  # clipped to the two days the data cover
    assert history.steps == 48
    assert set(history.signals) == set(HISTORY_FIELDS)
    for name in ("carbon_g_per_kwh", "price_jpy_per_mwh", "wind_w", "pv_w", "temp_wb_c"):
        np.testing.assert_array_equal(history.signals[name], getattr(fleet, name)[:48], err_msg=name)
    assert signals_before(window, 0).steps == 0
    with pytest.raises(WattbitInputError, match="history of -1"):
        signals_before(window, -1)


def test_mpc_forecasts_from_the_history_in_front_of_its_observations() -> None:
    whole = _scenario(days=3)
    window = with_period(whole, (T0 + pd.Timedelta(days=2)).isoformat())
    inputs = prepare(window, failure_rates=NO_FAULTS)
    history = signals_before(window, 2, earliest=whole.period.start)
    policy = make_policy("mpc", inputs, history=history)
    engine = make_engine(inputs, policy)
    obs = engine.observe()
    past = policy._past(obs, "carbon_g_per_kwh")  # type: ignore[attr-defined]
    assert past.shape[0] == history.steps + 1
    np.testing.assert_array_equal(past[:-1], history.signals["carbon_g_per_kwh"])
    np.testing.assert_array_equal(past[-1], obs.carbon_g_per_kwh[-1])
    with_past, _ = policy.plan_inputs(obs)  # type: ignore[attr-defined]
    without, _ = make_policy("mpc", inputs).plan_inputs(obs)  # type: ignore[attr-defined]
    np.testing.assert_array_equal(with_past.carbon_g_per_kwh[0], without.carbon_g_per_kwh[0])  # now is now
    assert not np.allclose(with_past.carbon_g_per_kwh[1:], without.carbon_g_per_kwh[1:])  # the rest is forecast


def test_jobs_ending_within_the_slot_do_not_make_a_site_pause() -> None:
    from tests.sim.test_engine import _jobs
    from wattbit.control.dispatch import DispatchRules, dispatch_jobs
    from wattbit.sim.policy import Actions

    sc = _scenario(days=1, step="15min", inference=False)
    jobs = _jobs([16, 16], [0.5, 10.0], [0, 0], [12.0, 20.0])  # one ends 15 minutes into the next hour
    engine = make_engine(prepare(sc, jobs=jobs, failure_rates=NO_FAULTS))
    engine.observe()
    engine.advance(Actions(start_job=np.array([0, 1]), start_site=np.array([0, 0])))
    obs = engine.observe()
    run = obs.running
    assert len(run) == 2 and run.remaining_h.min() < 0.5
    # the plan's slot average at site 0: the long job all hour, the short one for the part of it still to run
    left_h = run.remaining_h / (run.work_rate * np.array([p.gpu.training_speed for p in obs.plants])[run.site])
    target = np.zeros(len(obs.site_names))
    target[0] = float((run.gpus * np.minimum(1.0, left_h)).sum())
    rules = DispatchRules(urgent_steps=1)
    whole = dispatch_jobs(obs, target, rules)
    assert len(whole.pause_job) + len(whole.migrate_job) == 1  # counted whole, the site looks 12 GPUs too busy
    averaged = dispatch_jobs(obs, target, rules, slot_left_h=1.0)
    assert len(averaged.pause_job) + len(averaged.migrate_job) == 0


def test_bench_gives_mpc_the_signals_before_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    import wattbit.control.bench as bench_module
    from wattbit.control.bench import compare_policies
    from wattbit.control.history import window_history

    whole = _scenario(days=3)
    window = with_period(whole, (T0 + pd.Timedelta(days=2)).isoformat())
    assert window_history(whole, whole) is None  # a run from the data's first step has nothing before it
    history = window_history(whole, window)
    assert history is not None and history.steps == 48  # 28 days asked for, clipped to the two the data cover
    given: dict[str, object] = {}

    def spy(name: str, inputs: object = None, **options: object) -> object:
        given[name] = options.get("history")
        return make_policy(name, inputs, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(bench_module, "make_policy", spy)
    bench, _ = compare_policies(window, ("baseline", "mpc"), history=history)
    assert given == {"baseline": None, "mpc": history}  # only mpc forecasts from the past
    assert bench["history_steps"] == 48
    assert bench["policies"]["mpc"]["gpu_hours_served"] == pytest.approx(
        bench["policies"]["baseline"]["gpu_hours_served"]
    )

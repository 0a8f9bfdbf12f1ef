"""The Gymnasium environment: API conformance, seeds, episode length, the baseline relation, deadline guards."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from gymnasium.utils.env_checker import check_env

from tests.sim.test_engine import NO_FAULTS, T0, _jobs, _scenario
from wattbit.control import make_policy
from wattbit.errors import WattbitInputError
from wattbit.physics.gpu_load import class_throughput_factor
from wattbit.rl import (
    EnvPolicy,
    ObservationScales,
    RewardWeights,
    WattbitEnv,
    as_policy,
    neutral_action,
)
from wattbit.rl.encoding import SITE_FEATURES
from wattbit.sim.faults import FailureRates
from wattbit.sim.run import simulate

MANY_FAULTS = FailureRates.from_dict({"unplanned_per_gpu_day": 0.02})  # ~40x real: interruptions in two days
SITES = 3
ZERO = np.tile([0.0, 1.0, 0.0], SITES).astype(np.float32)  # admit nothing that is not urgent, no cap, battery idle


@pytest.fixture(scope="module")
def two_days():
    return _scenario(days=2, step="1h")


def _episode(env: WattbitEnv, actions, seed: int | None = None):
    """Run an episode; ``actions`` is a fixed vector or a function of the step index."""
    obs, _ = env.reset(seed=seed)
    out = {"obs": [obs], "reward": [], "info": []}
    for i in range(10_000):
        action = actions(i) if callable(actions) else actions
        obs, reward, terminated, truncated, info = env.step(action)
        out["obs"].append(obs)
        out["reward"].append(reward)
        out["info"].append(info)
        assert not truncated
        if terminated:
            return out
    raise AssertionError("episode did not terminate")


def _kpis(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in ("wall_seconds", "policy")}


def test_check_env_passes() -> None:
    env = WattbitEnv(_scenario(days=1, step="1h"), control_interval_steps=3)
    check_env(env, skip_render_check=True)


def test_same_seed_same_trajectory_and_seeds_change_failures(two_days) -> None:
    env = WattbitEnv(two_days, failure_rates=MANY_FAULTS, control_interval_steps=4)
    plan = np.random.default_rng(0).uniform(env.action_space.low, env.action_space.high, (20, 3 * SITES))
    a = _episode(env, lambda i: plan[i], seed=11)
    b = _episode(env, lambda i: plan[i], seed=11)
    np.testing.assert_array_equal(np.array(a["obs"]), np.array(b["obs"]))
    assert a["reward"] == b["reward"]
    assert a["info"][-1]["summary"]["failure_events"] > 0
    assert _kpis(a["info"][-1]["summary"]) == _kpis(b["info"][-1]["summary"])
    c = _episode(env, lambda i: plan[i], seed=12)
    assert _kpis(c["info"][-1]["summary"]) != _kpis(a["info"][-1]["summary"])
    # without a seed, the first reset uses the constructor's seed, later ones a sequence drawn from it
    first = WattbitEnv(_scenario(days=1, step="1h"), seed=5, failure_rates=MANY_FAULTS)
    assert first.reset()[1]["seed"] == 5
    assert first.reset()[1]["seed"] != 5


def test_episode_length_and_termination(two_days) -> None:
    env = WattbitEnv(two_days, control_interval_steps=5)  # 48 hourly steps: 9 intervals of 5, then one of 3
    assert env.episode_steps == 10
    run = _episode(env, neutral_action(SITES))
    assert len(run["reward"]) == 10
    assert [i["step"] for i in run["info"]] == [5, 10, 15, 20, 25, 30, 35, 40, 45, 48]
    assert all("summary" not in i for i in run["info"][:-1]) and "summary" in run["info"][-1]
    assert all(env.observation_space.contains(o) for o in run["obs"])
    with pytest.raises(RuntimeError, match="reset"):
        env.step(neutral_action(SITES))


def test_neutral_action_reproduces_the_baseline_and_intervals_add_up(two_days) -> None:
    env = WattbitEnv(two_days, failure_rates=MANY_FAULTS, control_interval_steps=3)
    run = _episode(env, neutral_action(SITES), seed=3)
    base = simulate(two_days, make_policy("baseline"), failure_rates=MANY_FAULTS, seed=3).summary
    assert base["job_interruptions"] > 0 and base["gpu_hours_served"] > 0
    assert _kpis(run["info"][-1]["summary"]) == _kpis(base)
    for key in ("carbon_t", "energy_cost", "energy_grid_mwh"):
        assert sum(i[key] for i in run["info"]) == pytest.approx(base[key], rel=1e-9)


def test_interval_outcomes_add_up_to_the_kpis_under_battery_and_caps() -> None:
    sc = _scenario(days=1, step="1h", inference=False)
    # deadlines the fleet cannot all meet: three 4,096-GPU jobs due 2 h after they arrive, and only two sites
    # have 4,096 GPUs, so at least one is late whatever the agent does
    jobs = _jobs([4096, 4096, 4096, 1024, 256], [2.0, 2.0, 2.0, 30.0, 6.0], [0, 0, 0, 0, 2], [2.0, 2.0, 2.0, None, 9])
    weights = RewardWeights(carbon_per_t=0.3, cost_per_currency=2e-5, deadline_miss=7.0, waiting_per_gpu_h=1e-3)
    env = WattbitEnv(sc, jobs=jobs, failure_rates=NO_FAULTS, control_interval_steps=2, reward=weights)
    plan = np.random.default_rng(1).uniform(env.action_space.low, env.action_space.high, (12, 3 * SITES))
    run = _episode(env, lambda i: plan[i], seed=0)
    summary, infos = run["info"][-1]["summary"], run["info"]
    assert summary["deadline_misses"] >= 1
    assert sum(i["deadline_misses"] for i in infos) == summary["deadline_misses"]
    for key in ("carbon_t", "energy_cost", "energy_grid_mwh"):
        assert sum(i[key] for i in infos) == pytest.approx(summary[key], rel=1e-9)
    assert [i["unfinished_gpu_h"] for i in infos[:-1]] == [0.0] * (len(infos) - 1)
    assert infos[-1]["unfinished_gpu_h"] == summary["gpu_hours_unfinished"] > 0  # job 3 cannot finish in a day
    for r, i in zip(run["reward"], infos, strict=True):
        expected = -(
            0.3 * i["carbon_t"]
            + 2e-5 * i["energy_cost"]
            + 7.0 * i["deadline_misses"]
            + 1e-3 * i["waiting_gpu_h"]
            + 1e-3 * i["unfinished_gpu_h"]
        )
        assert r == pytest.approx(expected, rel=1e-12)


def test_zero_admission_delays_work_to_the_urgency_point() -> None:
    sc = _scenario(days=1, step="1h", inference=False)
    jobs = _jobs([512], [3.0], [0], [10.0])
    env = WattbitEnv(sc, jobs=jobs, failure_rates=NO_FAULTS, control_interval_steps=1)
    run = _episode(env, ZERO)
    assert sum(i["waiting_gpu_h"] for i in run["info"]) == pytest.approx(5 * 512)
    job = env.result().jobs.iloc[0]
    # urgent once (10 - k - 2) h < 3 h / 0.95 = 3.16 h, i.e. from step 5: starts at 5 h, done at 8 h (baseline: 3 h)
    assert (job["first_start_utc"] - T0) / pd.Timedelta("1h") == pytest.approx(5.0)
    assert (job["finish_utc"] - T0) / pd.Timedelta("1h") == pytest.approx(8.0)


def test_worst_levers_miss_no_more_deadlines_than_the_baseline(two_days) -> None:
    base = simulate(two_days, make_policy("baseline"), failure_rates=NO_FAULTS, seed=1).summary
    worst = np.zeros(3 * SITES, dtype=np.float32)  # admit nothing, lowest cap everywhere, battery idle
    env = WattbitEnv(two_days, failure_rates=NO_FAULTS, control_interval_steps=4)
    summary = _episode(env, worst, seed=1)["info"][-1]["summary"]
    assert summary["jobs_submitted"] > 100
    assert summary["deadline_misses"] <= base["deadline_misses"]
    assert summary["gpu_hours_served"] < base["gpu_hours_served"]  # the levers did hold work back


def test_cap_is_lifted_when_a_running_job_cannot_afford_it() -> None:
    sc = _scenario(days=1, step="1h", inference=False)
    jobs = _jobs([512], [4.0], [0], [6.0])
    action = np.tile([1.0, 0.0, 0.0], SITES).astype(np.float32)  # admit all, lowest cap (200 W)
    env = WattbitEnv(sc, jobs=jobs, failure_rates=NO_FAULTS, control_interval_steps=1)
    _episode(env, action)
    # step 0: 4/0.95 + (1 - slow) <= 5 h left, capped; step 1: 3.77/0.95 + (1 - slow) > 4 h left, cap lifted; the
    # capped step slows the job by its power class (its compute phase's draw against the cap)
    job = env.result().jobs.iloc[0]
    slow = float(class_throughput_factor(env._inputs.fleet.plants[0].gpu, 200.0, job["power_class"]))
    assert (job["finish_utc"] - T0) / pd.Timedelta("1h") == pytest.approx(1.0 + 4.0 - slow)


def test_env_policy_runs_the_agent_through_simulate_as_the_env_does(two_days) -> None:
    calls = []

    def agent(obs: np.ndarray) -> np.ndarray:
        calls.append(obs)
        carbon = obs[0 : len(SITE_FEATURES) * SITES : len(SITE_FEATURES)]
        return np.column_stack([carbon < 0.55, 0.5 + 0.5 * (carbon < 0.6), np.where(carbon > 0.6, 1.0, -1.0)]).ravel()

    env = WattbitEnv(two_days, failure_rates=MANY_FAULTS, control_interval_steps=3)
    obs, _ = env.reset(seed=4)
    while True:
        obs, _, terminated, _, info = env.step(agent(obs))
        if terminated:
            break
    seen_by_env = calls[:]
    calls.clear()
    policy = as_policy(agent, control_interval_steps=3, name="carbon-rule")
    sim = simulate(two_days, policy, failure_rates=MANY_FAULTS, seed=4).summary
    assert sim["policy"] == "carbon-rule"
    assert len(calls) == 16  # asked once per 3-step interval of 48 steps, with the environment's observations
    np.testing.assert_array_equal(np.array(calls), np.array(seen_by_env))
    assert _kpis(sim) == _kpis(info["summary"])
    assert sim["job_pauses"] == 0 and sim["energy_grid_mwh"] > 0


def test_observation_reports_the_present_and_the_battery() -> None:
    sc = _scenario(days=1, step="1h")
    env = WattbitEnv(sc, control_interval_steps=2, failure_rates=NO_FAULTS)
    obs, _ = env.reset()
    fleet, n = env._inputs.fleet, len(SITE_FEATURES)
    soc_at = [i * n + SITE_FEATURES.index("battery_soc") for i in range(SITES)]
    carbon_at = [i * n + SITE_FEATURES.index("carbon") for i in range(SITES)]
    np.testing.assert_allclose(obs[carbon_at], fleet.carbon_g_per_kwh[0] / 1000.0, rtol=1e-6)
    assert obs[soc_at].tolist() == pytest.approx([0.0, 0.5, 0.0])  # only ishikari has a battery, half full
    charge = np.tile([1.0, 1.0, -1.0], SITES).astype(np.float32)
    obs, *_ = env.step(charge)
    np.testing.assert_allclose(obs[carbon_at], fleet.carbon_g_per_kwh[2] / 1000.0, rtol=1e-6)
    assert obs[soc_at[1]] > 0.5 and obs[soc_at[0]] == 0.0
    assert env.feature_names[soc_at[1]] == "ishikari:battery_soc"


def test_bad_actions_and_settings_raise_clear_errors() -> None:
    sc = _scenario(days=1, step="1h")
    env = WattbitEnv(sc, clip_actions=False, failure_rates=NO_FAULTS)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(neutral_action(SITES))
    env.reset()
    with pytest.raises(WattbitInputError, match=r"shape \(8,\); expected \(9,\)") as err:
        env.step(np.ones(8, dtype=np.float32))
    assert err.value.field == "action"
    nan = neutral_action(SITES)
    nan[4] = np.nan
    with pytest.raises(WattbitInputError, match=r"entries \[4\] are NaN"):
        env.step(nan)
    high = neutral_action(SITES)
    high[2] = 1.5
    with pytest.raises(WattbitInputError, match=r"battery of site 0\) is 1.5; expected \[-1.0, 1.0\]"):
        env.step(high)
    env.clip_actions = True
    env.step(high)  # clipped to 1: fine
    for bad in (0, 2.5, True):
        with pytest.raises(WattbitInputError, match="control_interval_steps"):
            WattbitEnv(sc, control_interval_steps=bad)  # type: ignore[arg-type]
    with pytest.raises(WattbitInputError, match="carbon_per_t"):
        RewardWeights(carbon_per_t=-1.0)
    with pytest.raises(WattbitInputError, match="price_jpy_per_mwh"):
        ObservationScales(price_jpy_per_mwh=0.0)
    with pytest.raises(WattbitInputError, match="agent must be callable"):
        EnvPolicy("not a function")  # type: ignore[arg-type]


def test_wattbit_imports_without_gymnasium() -> None:
    code = (
        "import sys; sys.modules['gymnasium'] = None\n"
        "import wattbit.sim.run, wattbit.control, wattbit.rl\n"
        "from wattbit.rl import EnvPolicy\n"
        "try:\n    wattbit.rl.WattbitEnv\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'wattbit[rl]'" in out.stdout

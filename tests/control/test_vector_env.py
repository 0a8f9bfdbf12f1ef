"""The batched and lean environments: the same episodes as WattbitEnv, the baseline exactly, shapes, autoreset."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from tests.control.test_gym_env import MANY_FAULTS, SITES, _episode, _kpis
from tests.sim.test_engine import NO_FAULTS, _jobs, _scenario
from wattbit.control import make_policy
from wattbit.errors import WattbitInputError
from wattbit.rl import WattbitEnv, neutral_action
from wattbit.rl.encoding import observation_size
from wattbit.rl.vector import LeanWattbitEnv, WattbitVectorEnv
from wattbit.sim.run import simulate


@pytest.fixture(scope="module")
def two_days():
    return _scenario(days=2, step="1h")


def _plan(space, steps: int, seed: int) -> np.ndarray:
    """Random actions in ``space``, every third one neutral so the baseline path and the levered path alternate."""
    plan = np.random.default_rng(seed).uniform(space.low, space.high, (steps, 3 * SITES))
    plan[::3] = neutral_action(SITES)
    return plan


def _same_episode(reference: dict, lean: dict) -> None:
    assert len(lean["obs"]) == len(reference["obs"])
    np.testing.assert_allclose(np.array(lean["obs"]), np.array(reference["obs"]), rtol=0, atol=1e-6)
    np.testing.assert_allclose(lean["reward"], reference["reward"], rtol=1e-9)
    for a, b in zip(lean["info"], reference["info"], strict=True):
        assert a["deadline_misses"] == b["deadline_misses"] and a["step"] == b["step"]
        assert a["waiting_gpu_h"] == b["waiting_gpu_h"]
    assert _kpis(lean["info"][-1]["summary"]) == _kpis(reference["info"][-1]["summary"])


def test_lean_env_is_wattbit_env_step_for_step_under_random_levers(two_days) -> None:
    kwargs = {"failure_rates": MANY_FAULTS, "control_interval_steps": 5}  # 48 steps: the last interval is short
    reference, lean = WattbitEnv(two_days, **kwargs), LeanWattbitEnv(two_days, **kwargs)
    plan = _plan(reference.action_space, 10, seed=5)
    ref_run, lean_run = _episode(reference, lambda i: plan[i], seed=3), _episode(lean, lambda i: plan[i], seed=3)
    _same_episode(ref_run, lean_run)
    assert lean_run["info"][-1]["summary"]["job_interruptions"] > 0


def test_lean_env_keeps_the_deadline_guards_of_wattbit_env() -> None:
    sc = _scenario(days=1, step="1h", inference=False)
    jobs = _jobs([4096, 4096, 4096, 1024, 256], [2.0, 2.0, 2.0, 30.0, 6.0], [0, 0, 0, 0, 2], [2.0, 2.0, 2.0, None, 9])
    kwargs = {"jobs": jobs, "failure_rates": NO_FAULTS, "control_interval_steps": 2}
    reference, lean = WattbitEnv(sc, **kwargs), LeanWattbitEnv(sc, **kwargs)
    plan = np.tile([0.0, 0.1, -0.5], (12, SITES))  # admit nothing that is not urgent, deep caps, charge
    ref_run, lean_run = _episode(reference, lambda i: plan[i], seed=0), _episode(lean, lambda i: plan[i], seed=0)
    _same_episode(ref_run, lean_run)
    assert lean_run["info"][-1]["summary"]["deadline_misses"] >= 1


def test_neutral_action_reproduces_the_baseline_exactly_in_every_run(two_days) -> None:
    env = WattbitVectorEnv(two_days, num_envs=2, failure_rates=MANY_FAULTS, control_interval_steps=4)
    obs, info = env.reset(seed=[3, 8])
    assert info["seed"].tolist() == [3, 8]
    action = np.tile(neutral_action(SITES), (2, 1))
    sums = np.zeros((2, 3))
    for _ in range(env.episode_steps):
        obs, rewards, terminated, truncated, info = env.step(action)
        sums += np.column_stack([info["carbon_t"], info["energy_cost"], info["energy_grid_mwh"]])
    assert terminated.all() and not truncated.any()
    for run, seed in enumerate((3, 8)):
        base = simulate(two_days, make_policy("baseline"), failure_rates=MANY_FAULTS, seed=seed).summary
        assert base["job_interruptions"] > 0
        assert _kpis(info["summary"][run]) == _kpis(base)
        expected = [base["carbon_t"], base["energy_cost"], base["energy_grid_mwh"]]
        np.testing.assert_allclose(sums[run], expected, rtol=1e-9)


def test_a_batch_steps_each_run_as_the_single_lean_env_does(two_days) -> None:
    kwargs = {"failure_rates": MANY_FAULTS, "control_interval_steps": 4}
    vec = WattbitVectorEnv(two_days, num_envs=3, **kwargs)
    plans = [_plan(vec.single_action_space, 12, seed=s) for s in (1, 2, 3)]
    obs, _ = vec.reset(seed=[4, 5, 6])
    batch = {"obs": [obs], "reward": [], "info": []}
    for i in range(12):
        obs, rewards, terminated, _, info = vec.step(np.stack([p[i] for p in plans]))
        batch["obs"].append(obs)
        batch["reward"].append(rewards)
        batch["info"].append(info)
    assert terminated.all()
    for run, seed in enumerate((4, 5, 6)):
        single = _episode(LeanWattbitEnv(two_days, **kwargs), lambda i, p=plans[run]: p[i], seed=seed)
        np.testing.assert_allclose(np.array(single["obs"]), np.array(batch["obs"])[:, run], rtol=0, atol=1e-6)
        np.testing.assert_allclose(single["reward"], np.array(batch["reward"])[:, run], rtol=1e-9)
        assert _kpis(single["info"][-1]["summary"]) == _kpis(batch["info"][-1]["summary"][run])


def test_shapes_dtypes_spaces_and_next_step_autoreset(two_days) -> None:
    env = WattbitVectorEnv(two_days, num_envs=2, failure_rates=NO_FAULTS, control_interval_steps=12)
    size = observation_size(SITES)
    assert env.observation_space.shape == (2, size) and env.action_space.shape == (2, 3 * SITES)
    obs, info = env.reset(seed=7)
    assert obs.shape == (2, size) and obs.dtype == np.float32 and obs in env.observation_space
    assert info["seed"].tolist() == [7, 8]
    for _ in range(env.episode_steps):
        obs, rewards, terminated, truncated, info = env.step(env.action_space.sample())
        assert obs.dtype == np.float32 and obs in env.observation_space
        assert rewards.shape == (2,) and rewards.dtype == np.float64 and (rewards <= 0).all()
        assert terminated.dtype == truncated.dtype == np.bool_
    assert terminated.all() and len(info["summary"]) == 2
    obs, rewards, terminated, _, info = env.step(env.action_space.sample())  # starts the next episodes
    assert info["seed"].tolist() == [9, 10] and (info["step"] == 0).all()
    assert not terminated.any() and (rewards == 0).all()
    check_env(LeanWattbitEnv(two_days, failure_rates=NO_FAULTS), skip_render_check=True)


def test_bad_batch_settings_and_actions_raise_clear_errors(two_days) -> None:
    with pytest.raises(WattbitInputError, match="num_envs is 0; expected an integer >= 1"):
        WattbitVectorEnv(two_days, num_envs=0)
    env = WattbitVectorEnv(two_days, num_envs=2, failure_rates=NO_FAULTS)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros((2, 3 * SITES)))
    with pytest.raises(WattbitInputError, match="3 seeds for 2 environments"):
        env.reset(seed=[1, 2, 3])
    env.reset()
    with pytest.raises(WattbitInputError, match=r"shape \(3, 9\); expected \(2, 9\)"):
        env.step(np.zeros((3, 3 * SITES)))
    bad = np.tile(neutral_action(SITES), (2, 1))
    bad[1, 4] = np.nan
    with pytest.raises(WattbitInputError, match="NaN or infinite"):
        env.step(bad)

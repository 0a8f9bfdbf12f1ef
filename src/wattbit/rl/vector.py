"""Batched and lean Gymnasium environments: many runs of one scenario stepped together, arrays in and out.

:class:`WattbitVectorEnv` is a :class:`gymnasium.vector.VectorEnv`: ``num_envs`` runs of one scenario (a seed
each: failures and the engine's random choices differ) step together through the same control intervals; actions
come in as a (runs, 3 sites) array, observations go out as (runs, features) float32 and rewards, terminations and
truncations as (runs,) arrays. Per engine step nothing is built but the engine's own actions: jobs start from the
engine's queue by the environment's rule (:mod:`wattbit.rl.lean`), observation vectors are encoded for the whole
batch at once and the interval's energy is measured for the whole batch with one pass of the site physics
(:mod:`wattbit.rl.batch_reward`). :class:`LeanWattbitEnv` is the same for one run, as a :class:`gymnasium.Env`.

Both give, run for run and step for step, the observations, rewards and final ``summary`` of
:class:`~wattbit.rl.env.WattbitEnv` (tested); with the neutral action the summary is the baseline's. All runs of a
batch end together (same period and interval) and are reset on the next call to :meth:`step` (Gymnasium's
next-step autoreset), each with the next seed of its own sequence. Needs the ``rl`` extra (Gymnasium >= 1.0).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

try:
    import gymnasium as gym
    from gymnasium import spaces
    from gymnasium.vector import AutoresetMode, VectorEnv
    from gymnasium.vector.utils import batch_space
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "wattbit.rl.vector needs Gymnasium; install the reinforcement-learning extra: pip install 'wattbit[rl]'"
    ) from exc

from wattbit.errors import WattbitInputError
from wattbit.rl.batch_reward import IntervalPhysics, measure_batch
from wattbit.rl.dispatch import LeverDecoder, action_bounds, check_interval_steps
from wattbit.rl.encoding import ObservationScales, feature_names, observation_bounds
from wattbit.rl.lean import BatchEncoder, LeanRun
from wattbit.rl.reward import IntervalAccountant, RewardWeights
from wattbit.scenario import Scenario
from wattbit.sim.engine import Engine
from wattbit.sim.faults import FailureRates
from wattbit.sim.run import SimInputs, SimResult, collect, fleet_failures, make_engine, prepare
from wattbit.units import Float32Array
from wattbit.workload.jobs import TrainingJobs


class _Batch:
    """The runs of a batch: inputs, engines, lean drivers and accountants; stepping and encoding for all."""

    def __init__(self, inputs: SimInputs, rates: FailureRates, interval_steps: int, weights: RewardWeights) -> None:
        self.inputs, self.rates, self.interval_steps, self.weights = inputs, rates, interval_steps, weights
        self.fleet = inputs.fleet
        self.runs: list[SimInputs] = []
        self.lean: list[LeanRun] = []
        self.engines: list[Engine] = []
        self.decoder = LeverDecoder(self.fleet.plants, self.fleet.batteries)
        self.accountant: IntervalAccountant | None = None
        self.encoder: BatchEncoder | None = None
        self.physics = IntervalPhysics(self.fleet)

    def start(self, seeds: Sequence[int], scales: ObservationScales) -> Float32Array:
        """New runs with ``seeds`` at step 0; returns their first observations."""
        self.runs = [
            self.inputs
            if s == self.inputs.seed
            else dataclasses.replace(
                self.inputs, events=fleet_failures(self.fleet, self.inputs.scenario.period, self.rates, s), seed=s
            )
            for s in seeds
        ]
        self.lean = [LeanRun(make_engine(run)) for run in self.runs]
        self.engines = [lean.engine for lean in self.lean]
        if self.accountant is None:  # the runs share their jobs, so their deadlines: one accountant serves all
            self.accountant = IntervalAccountant(self.engines[0])
        if self.encoder is None:
            self.encoder = BatchEncoder(self.fleet, scales)
        for lean in self.lean:
            lean.engine.begin()
        return self.encoder([lean.engine for lean in self.lean])

    def step(self, actions: np.ndarray, clip: bool) -> tuple[Float32Array, np.ndarray, bool, dict[str, Any]]:
        """One control interval for every run; returns observations, rewards, whether the runs ended, and ``info``
        (an array over the runs per key; ``summary``, one KPI dict per run, when they ended)."""
        assert self.encoder is not None and self.accountant is not None
        engines, steps_total = self.engines, self.fleet.steps
        start = engines[0].step
        soc = np.array([eng.soc_mwh for eng in engines])
        levers = self.decoder(actions, clip=clip)
        last = start + self.interval_steps >= steps_total
        steps = steps_total - 1 - start if last else self.interval_steps
        waiting = np.array([lean.interval(lv, steps) for lean, lv in zip(self.lean, levers, strict=True)])
        final_obs = None
        if last:  # the final step's view is the last observation a run shows
            for eng in engines:
                eng.begin()
            final_obs = self.encoder(engines)
            waiting += [lean.interval(lv, 1) for lean, lv in zip(self.lean, levers, strict=True)]
        outcome = measure_batch(self.physics, engines, self.accountant, start, engines[0].step, soc, waiting)
        info: dict[str, Any] = {"step": np.array([eng.step for eng in engines]), **outcome}
        if last:
            summaries = [collect(run, eng, "rl-agent").summary for run, eng in zip(self.runs, engines, strict=True)]
            outcome["unfinished_gpu_h"][:] = [summary["gpu_hours_unfinished"] for summary in summaries]
            info["summary"] = summaries
        rewards = self.weights.rewards(outcome)
        if last:
            assert final_obs is not None
            return final_obs, rewards, True, info
        for eng in engines:
            eng.begin()
        return self.encoder(engines), rewards, False, info


def _seed_list(seed: int | Sequence[int] | None, default: int, n: int) -> list[int]:
    if seed is None:
        return [default + i for i in range(n)]
    if isinstance(seed, int | np.integer):
        return [int(seed) + i for i in range(n)]
    seeds = [int(s) for s in seed]
    if len(seeds) != n:
        raise WattbitInputError(f"reset got {len(seeds)} seeds for {n} environments; expected {n}", field="seed")
    return seeds


class WattbitVectorEnv(VectorEnv):
    """``num_envs`` runs of ``scenario`` stepped together (module docstring).

    Parameters
    ----------
    scenario
        The fleet, period and workload every run simulates.
    num_envs
        Runs in the batch (>= 1).
    seed
        Seed of the first run (default the workload seed); run ``i`` uses ``seed + i``. ``reset(seed=s)`` does the
        same from ``s`` (or takes one seed per run); a later episode of run ``i`` uses its last seed + ``num_envs``.
    jobs, inference_gpus_needed, failure_rates, control_interval_steps, reward, scales, clip_actions
        As for :class:`~wattbit.rl.env.WattbitEnv`.
    """

    metadata: dict[str, Any] = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        scenario: Scenario,
        num_envs: int = 8,
        *,
        seed: int | None = None,
        jobs: TrainingJobs | None = None,
        inference_gpus_needed: np.ndarray | None = None,
        failure_rates: FailureRates | None = None,
        control_interval_steps: int = 4,
        reward: RewardWeights | None = None,
        scales: ObservationScales | None = None,
        clip_actions: bool = True,
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int | np.integer) or num_envs < 1:
            raise WattbitInputError(f"num_envs is {num_envs!r}; expected an integer >= 1", field="num_envs")
        self.num_envs = int(num_envs)
        self.interval_steps = check_interval_steps(control_interval_steps)
        self.scales = scales or ObservationScales()
        self.clip_actions = clip_actions
        rates = failure_rates or FailureRates()
        inputs = prepare(
            scenario, seed=seed, jobs=jobs, inference_gpus_needed=inference_gpus_needed, failure_rates=rates
        )
        self._batch = _Batch(inputs, rates, self.interval_steps, reward or RewardWeights())
        sites = len(inputs.fleet.names)
        low, high = action_bounds(sites)
        self.single_action_space = spaces.Box(low.astype(np.float32), high.astype(np.float32), dtype=np.float32)
        obs_low, obs_high = observation_bounds(sites)
        self.single_observation_space = spaces.Box(obs_low, obs_high, dtype=np.float32)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.feature_names = feature_names(inputs.fleet.names)
        self._seeds: list[int] = []
        self._needs_reset = True

    @property
    def episode_steps(self) -> int:
        """Environment steps in an episode."""
        return -(-self._batch.fleet.steps // self.interval_steps)

    def reset(
        self, *, seed: int | Sequence[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Float32Array, dict[str, Any]]:
        """Start every run at the beginning of the period; returns (runs, features) observations and ``info``."""
        if seed is None and self._seeds:
            self._seeds = [s + self.num_envs for s in self._seeds]
        else:
            self._seeds = _seed_list(seed, self._batch.inputs.seed, self.num_envs)
        obs = self._batch.start(self._seeds, self.scales)
        self._needs_reset = False
        return obs, {"seed": np.array(self._seeds), "step": np.zeros(self.num_envs, dtype=np.int64)}

    def step(self, actions: np.ndarray) -> tuple[Float32Array, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """One control interval of every run; ``actions`` is (runs, 3 sites). Returns Gymnasium's 5 arrays."""
        if not self._seeds:
            raise RuntimeError("call reset() before step()")
        n = self.num_envs
        if self._needs_reset:  # next-step autoreset: this call starts the next episodes, the actions are ignored
            obs, first = self.reset()
            return obs, np.zeros(n), np.zeros(n, dtype=bool), np.zeros(n, dtype=bool), first
        actions = np.asarray(actions, dtype=float)
        expected = (n, 3 * len(self._batch.fleet.names))
        if actions.shape != expected:
            raise WattbitInputError(f"actions have shape {actions.shape}; expected {expected}", field="action")
        obs, rewards, ended, info = self._batch.step(actions, self.clip_actions)
        self._needs_reset = ended
        return obs, rewards, np.full(n, ended), np.zeros(n, dtype=bool), info

    def result(self, run: int = 0, policy_name: str = "rl-agent") -> SimResult:
        """KPIs, time series and job table of run ``run``'s episode so far."""
        batch = self._batch
        if not batch.lean:
            raise RuntimeError("call reset() before result()")
        return collect(batch.runs[run], batch.lean[run].engine, policy_name)


class LeanWattbitEnv(gym.Env[Float32Array, Float32Array]):
    """One run as a :class:`gymnasium.Env` on the lean hot path (module docstring); arguments as
    :class:`WattbitVectorEnv` with one run, and ``reset(seed=s)`` as :class:`~wattbit.rl.env.WattbitEnv`."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, scenario: Scenario, **kwargs: Any) -> None:
        self._vec = WattbitVectorEnv(scenario, 1, **kwargs)
        self.action_space = self._vec.single_action_space
        self.observation_space = self._vec.single_observation_space
        self.feature_names = self._vec.feature_names
        self._seeded = False

    @property
    def episode_steps(self) -> int:
        """Environment steps in an episode."""
        return self._vec.episode_steps

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Float32Array, dict]:
        """Start an episode; seeds as :meth:`wattbit.rl.env.WattbitEnv.reset`."""
        if seed is None and not self._seeded:
            seed = self._vec._batch.inputs.seed
        super().reset(seed=seed)
        self._seeded = True
        run_seed = int(seed) if seed is not None else int(self.np_random.integers(2**31 - 1))
        obs, _ = self._vec.reset(seed=[run_seed])
        return obs[0], {"seed": run_seed, "step": 0}

    def step(self, action: Float32Array) -> tuple[Float32Array, float, bool, bool, dict[str, Any]]:
        """One control interval under ``action``; returns ``(obs, reward, terminated, truncated, info)``."""
        vec = self._vec
        if vec._needs_reset:
            raise RuntimeError("the episode has terminated; call reset() to start another")
        obs, rewards, ended, _, info = vec.step(np.asarray(action, dtype=float)[None, :])
        single = {k: v[0] for k, v in info.items()}
        return obs[0], float(rewards[0]), bool(ended[0]), False, single

    def result(self, policy_name: str = "rl-agent") -> SimResult:
        """KPIs, time series and job table of the episode so far."""
        return self._vec.result(0, policy_name)

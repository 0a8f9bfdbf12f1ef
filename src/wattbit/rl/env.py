"""A Gymnasium environment over the simulation engine, for training and comparing reinforcement-learning control.

One environment step is one control interval of ``control_interval_steps`` engine steps: the action sets the
watt-bit levers of every site for the interval (:mod:`wattbit.rl.dispatch`), jobs start by a fixed first-come,
first-served rule within them, and the reward prices the interval's grid carbon, energy cost, deadline misses,
unserved inference and waiting work (:mod:`wattbit.rl.reward`). The observation is a fixed-size vector of the
present and the past (:mod:`wattbit.rl.encoding`). At the end of the period the episode terminates and ``info``
carries the run's KPI summary, the same dict as ``simulate`` and ``wattbit bench`` report. See ``docs/rl.md``.

Needs the ``rl`` extra (``pip install 'wattbit[rl]'``, Gymnasium >= 1.0).
"""

from __future__ import annotations

import dataclasses
from typing import Any, SupportsFloat

import numpy as np

try:
    import gymnasium as gym
    from gymnasium import spaces
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "wattbit.rl.env needs Gymnasium; install the reinforcement-learning extra: pip install 'wattbit[rl]'"
    ) from exc

from wattbit.rl.dispatch import action_bounds, check_interval_steps, decode_action, dispatch
from wattbit.rl.encoding import ObservationEncoder, ObservationScales, feature_names, observation_bounds
from wattbit.rl.reward import IntervalAccountant, IntervalOutcome, RewardWeights
from wattbit.scenario import Scenario
from wattbit.sim.engine import Engine
from wattbit.sim.faults import FailureRates
from wattbit.sim.run import SimInputs, SimResult, collect, fleet_failures, make_engine, prepare
from wattbit.units import Float32Array
from wattbit.workload.jobs import TrainingJobs


def _reseeded(inputs: SimInputs, rates: FailureRates, seed: int) -> SimInputs:
    """``inputs`` with failures sampled, and the engine seeded, from ``seed`` (as :func:`prepare` does)."""
    events = fleet_failures(inputs.fleet, inputs.scenario.period, rates, seed)
    return dataclasses.replace(inputs, events=events, seed=seed)


class WattbitEnv(gym.Env[Float32Array, Float32Array]):
    """The engine as a Gymnasium environment: one step per control interval.

    Parameters
    ----------
    scenario
        The fleet, period and workload to run.
    seed
        Seed of failures and of the engine's random choices for the first episode; default the workload seed.
        ``reset(seed=s)`` runs with ``s``; a later ``reset()`` without a seed draws the next one from the
        environment's random generator (reproducible from the first).
    jobs, inference_gpus_needed, failure_rates
        Override the scenario's workload and fault model, as for :func:`wattbit.sim.run.simulate`.
    control_interval_steps
        Engine steps per environment step (an int >= 1); the last interval is shorter when the period does not
        divide evenly.
    reward
        Weights of the reward (:class:`~wattbit.rl.reward.RewardWeights`).
    scales
        Divisors of the observation (:class:`~wattbit.rl.encoding.ObservationScales`).
    clip_actions
        Clip action levels outside their bounds (default, as agents with Gaussian policies need), or refuse them.

    Raises
    ------
    WattbitInputError
        On a bad ``control_interval_steps``; a bad action in :meth:`step`.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        scenario: Scenario,
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
        self.interval_steps = check_interval_steps(control_interval_steps)
        self.weights = reward or RewardWeights()
        self.scales = scales or ObservationScales()
        self._encode = ObservationEncoder(self.scales)
        self.clip_actions = clip_actions
        self._rates = failure_rates or FailureRates()
        self._inputs = prepare(
            scenario, seed=seed, jobs=jobs, inference_gpus_needed=inference_gpus_needed, failure_rates=self._rates
        )
        sites = len(self._inputs.fleet.names)
        low, high = action_bounds(sites)
        self.action_space = spaces.Box(low.astype(np.float32), high.astype(np.float32), dtype=np.float32)
        obs_low, obs_high = observation_bounds(sites)
        self.observation_space = spaces.Box(obs_low, obs_high, dtype=np.float32)
        self.feature_names = feature_names(self._inputs.fleet.names)
        self._run: SimInputs | None = None
        self._engine: Engine | None = None
        self._accountant: IntervalAccountant | None = None
        self._seeded = False

    @property
    def episode_steps(self) -> int:
        """Environment steps in an episode."""
        return -(-self._inputs.fleet.steps // self.interval_steps)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Float32Array, dict]:
        """Start an episode at the beginning of the period; returns the first observation and ``info``."""
        if seed is None and not self._seeded:
            seed = self._inputs.seed
        super().reset(seed=seed)
        self._seeded = True
        run_seed = int(seed) if seed is not None else int(self.np_random.integers(2**31 - 1))
        run = self._inputs if run_seed == self._inputs.seed else _reseeded(self._inputs, self._rates, run_seed)
        self._run = run
        self._engine = make_engine(run)
        self._accountant = IntervalAccountant(self._engine)
        observation = self._engine.observe()
        info = {"seed": run_seed, "step": 0, "time_utc": observation.time_utc}
        return self._encode(observation), info

    def step(self, action: Float32Array) -> tuple[Float32Array, SupportsFloat, bool, bool, dict[str, Any]]:
        """Run one control interval under ``action``; returns ``(obs, reward, terminated, truncated, info)``."""
        engine, accountant = self._engine, self._accountant
        if engine is None or accountant is None:
            raise RuntimeError("call reset() before step()")
        if engine.done:
            raise RuntimeError("the episode has terminated; call reset() to start another")
        fleet = engine.fleet
        levers = decode_action(action, fleet.plants, fleet.batteries, clip=self.clip_actions)
        start, soc_start = engine.step, engine.soc_mwh.copy()
        gangs = engine.jobs.gpus
        waiting_gpu_h = 0.0
        last: Float32Array | None = None
        for _ in range(self.interval_steps):
            observation = engine.observe()
            actions = dispatch(observation, levers)
            queued = int(observation.queue.gpus.sum()) - int(gangs[actions.start_job].sum())
            waiting_gpu_h += queued * fleet.step_h
            if engine.step == fleet.steps - 1:  # nothing follows: the last step's view is the final observation
                last = self._encode(observation)
            engine.advance(actions)
            if engine.done:
                break
        outcome = accountant.measure(start, engine.step, soc_start, waiting_gpu_h)
        if engine.done:
            assert last is not None
            summary = self.result().summary
            outcome = outcome._replace(unfinished_gpu_h=summary["gpu_hours_unfinished"])
            info = {**self._info(outcome), "summary": summary}
            return last, self.weights.reward(outcome), True, False, info
        info = self._info(outcome)
        observation = engine.observe()
        info["time_utc"] = observation.time_utc
        return self._encode(observation), self.weights.reward(outcome), False, False, info

    def _info(self, outcome: IntervalOutcome) -> dict[str, Any]:
        assert self._engine is not None
        return {"step": self._engine.step, **outcome._asdict()}

    def result(self, policy_name: str = "rl-agent") -> SimResult:
        """KPIs, time series and job table of the episode so far (complete once it has terminated)."""
        if self._run is None or self._engine is None:
            raise RuntimeError("call reset() before result()")
        return collect(self._run, self._engine, policy_name)

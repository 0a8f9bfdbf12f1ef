"""The environment's hot path without per-step objects: dispatch, observation and reward from the engine's arrays.

:class:`LeanRun` drives one engine run a control interval at a time as :class:`~wattbit.rl.env.WattbitEnv` does,
with the same levers (:mod:`wattbit.rl.dispatch`), the same job rule and the same observation vector
(:mod:`wattbit.rl.encoding`), but reads the engine's queue, running set and capacity directly instead of building an
:class:`~wattbit.sim.policy.Observation` each engine step; with every admission level at 1 the start rule is the
baseline's first come, first served loop and nothing else. :func:`encode_batch` builds the observation vectors of
many runs of one scenario at one step as one array; the energy of their intervals is measured together by
:func:`wattbit.rl.batch_reward.measure_batch`. Used by :class:`wattbit.rl.vector.WattbitVectorEnv` and
:class:`wattbit.rl.vector.LeanWattbitEnv` (tested equal to :class:`~wattbit.rl.env.WattbitEnv` step for step).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from wattbit.jit import njit
from wattbit.rl.dispatch import URGENCY_WORK_RATE, SiteLevers, first_come_first_served
from wattbit.rl.encoding import _FLEET_BOUNDS, ObservationScales, observation_bounds
from wattbit.sim.engine import Engine
from wattbit.sim.fleet import Fleet
from wattbit.sim.kernels import first_fit
from wattbit.sim.policy import Actions
from wattbit.sim.running import JOB, REM, SITE
from wattbit.units import Float32Array

_NONE = np.empty(0, dtype=np.int64)
_NONE.flags.writeable = False  # the engine only reads an action's job lists


def time_features(index: pd.DatetimeIndex) -> NDArray[np.float64]:
    """Time of day, day of year and day of week as sine and cosine per step (steps, 6), as the encoder has them."""
    day = (index.hour + index.minute / 60.0) / 24.0
    year: NDArray[np.float64] = (index.day_of_year - 1 + day) / np.where(index.is_leap_year, 366.0, 365.0)
    week = (index.day_of_week + day) / 7.0
    angles = 2.0 * np.pi * np.column_stack([day, year, week])
    return np.stack([np.sin(angles), np.cos(angles)], axis=2).reshape(len(index), 6)


class LeanRun:
    """One engine run, stepped by control interval under decoded levers (module docstring).

    Parameters
    ----------
    engine
        A fresh engine (no policy) at step 0.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._deadline = engine.deadline_step
        self._remaining = engine._jrec.remaining_h  # queued jobs' work left (running jobs' is in the block)
        self._gangs = engine._gangs
        self._gang_list: list[int] | None = None

    def _fcfs(
        self, free: list[int], rooms: list[int], pick: list[int], urgent: list[bool]
    ) -> tuple[list[int], list[int]]:
        """Positions in the queue started and their sites (the rule of :func:`wattbit.rl.dispatch.dispatch`)."""
        queue = self.engine.queue
        gangs = self._gangs[np.asarray(queue, dtype=np.int64)[pick]].tolist() if pick else []
        return first_come_first_served(free, rooms, pick, gangs, urgent)

    def _baseline(self, free: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64], int]:
        """First come, first served on the first site where the gang fits (every admission level at 1)."""
        queue = np.asarray(self.engine.queue, dtype=np.int64)
        gangs = self._gangs[queue]
        picked, sites = first_fit(gangs, free.copy())
        return queue[picked], sites, int(gangs.sum()) - int(gangs[picked].sum())

    def _levered(self, free_arr: NDArray[np.int64], levers: SiteLevers) -> tuple[list[int], list[int], int]:
        """Starts under admission budgets, urgent jobs on every free GPU (:func:`wattbit.rl.dispatch._starts`)."""
        eng = self.engine
        free = free_arr.tolist()
        busy = eng.busy.astype(float)
        target = np.floor(levers.admission * (busy + free_arr) + 1e-9)
        rooms = np.clip(target - busy, 0, free_arr).astype(np.int64).tolist()
        queue = np.asarray(eng.queue, dtype=np.int64)
        gangs = self._gangs[queue]
        chosen: list[int] = []
        sites: list[int] = []
        if queue.size and max(free) > 0:
            latest_h = (self._deadline[queue] - eng.step - 2).astype(float) * eng.fleet.step_h
            urgent = latest_h < self._remaining[queue] / URGENCY_WORK_RATE
            pick = np.arange(queue.size) if max(rooms) > 0 else np.flatnonzero(urgent)
            chosen, sites = self._fcfs(free, rooms, pick.tolist(), urgent[pick].tolist())
        jobs = queue[chosen].tolist()
        return jobs, sites, int(gangs.sum()) - int(gangs[chosen].sum())

    def _caps(
        self, levers: SiteLevers, jobs: list[int] | NDArray[np.int64], sites: list[int] | NDArray[np.int64]
    ) -> NDArray[np.float64] | None:
        """The sites' caps, lifted where a job cannot afford a capped step (as ``dispatch._guarded_caps``)."""
        caps = levers.gpu_cap_w
        if np.isnan(caps).all():
            return None
        caps = caps.copy()
        eng = self.engine
        d, n = eng._slots.data, eng._slots.n
        if not n and not len(jobs):
            return caps
        started = np.asarray(jobs, dtype=np.int64)
        site = np.concatenate([d[SITE, :n].astype(np.int64), np.asarray(sites, dtype=np.int64)])
        deadline_step = np.concatenate([self._deadline[d[JOB, :n].astype(np.int64)], self._deadline[started]])
        remaining_h = np.concatenate([d[REM, :n], self._remaining[started]])
        slowdown = 1.0 - levers.throughput[site]
        left_h = (deadline_step - 1 - eng.step).astype(float) * eng.fleet.step_h
        need_h = remaining_h / URGENCY_WORK_RATE
        at_risk = (slowdown > 0) & (need_h <= left_h) & (need_h + eng.fleet.step_h * slowdown > left_h)
        caps[site[at_risk]] = np.nan
        return caps

    def interval(self, levers: SiteLevers, steps: int) -> float:
        """Run up to ``steps`` engine steps under ``levers``; returns the GPU-hours left waiting in the queue."""
        eng = self.engine
        neutral = bool((levers.admission >= 1.0).all())
        commanded = levers.battery_mw != 0.0
        battery = np.where(commanded, levers.battery_mw, np.nan) if commanded.any() else None
        uncapped = bool(np.isnan(levers.gpu_cap_w).all())
        step_h = eng.fleet.step_h
        waiting_gpu_h = 0.0
        for _ in range(steps):
            free_arr = eng.begin()
            jobs: list[int] | NDArray[np.int64] = _NONE
            sites: list[int] | NDArray[np.int64] = _NONE
            if not eng.queue:
                queued = 0
            elif free_arr.max() <= 0:
                queued = int(self._gangs[np.asarray(eng.queue, dtype=np.int64)].sum())
            elif neutral:
                jobs, sites, queued = self._baseline(free_arr)
            else:
                jobs, sites, queued = self._levered(free_arr, levers)
            waiting_gpu_h += queued * step_h
            eng.advance(
                Actions(
                    start_job=np.asarray(jobs, dtype=np.int64),
                    start_site=np.asarray(sites, dtype=np.int64),
                    pause_job=_NONE,
                    migrate_job=_NONE,
                    migrate_site=_NONE,
                    gpu_cap_w=None if uncapped else self._caps(levers, jobs, sites),
                    uncapped_job=_NONE,
                    battery_mw=battery,
                    battery_rule="self_consumption",
                )
            )
            if eng.done:
                break
        return waiting_gpu_h


class BatchEncoder:
    """Observation vectors of runs of one fleet at one step, as one (runs, features) float32 array.

    The same vector as :class:`wattbit.rl.encoding.ObservationEncoder` builds from an observation of that step.

    Parameters
    ----------
    fleet
        The fleet every run simulates.
    scales
        Divisors of the observed quantities.
    """

    def __init__(self, fleet: Fleet, scales: ObservationScales) -> None:
        self.fleet, self.scales = fleet, scales
        n = len(fleet.names)
        rated_w = np.array([plant.rated_it_dc_w for plant in fleet.plants])
        energy_mwh = np.array([0.0 if b is None else b.energy_mwh for b in fleet.batteries])
        self._has_battery = (energy_mwh > 0).astype(float)
        self._battery_mwh = np.where(energy_mwh > 0, energy_mwh, 1.0)
        self._total = np.maximum(fleet.gpus_total.astype(float), 1.0)
        self._low, self._high = observation_bounds(n)
        # the signal features of every step (steps, sites, 5): the same for every run
        self._signals = np.stack(
            [
                fleet.carbon_g_per_kwh / scales.carbon_g_per_kwh,
                fleet.price_jpy_per_mwh / scales.price_jpy_per_mwh,
                fleet.curtailed_mwh / scales.curtailed_mwh,
                (fleet.pv_w + fleet.wind_w) / rated_w,
                fleet.temp_db_c / scales.temp_c,
            ],
            axis=2,
        )
        self._time = time_features(fleet.index)
        self._gpu_scale = float(fleet.gpus_total.sum()) * scales.queue_horizon_h

    def __call__(self, engines: list[Engine]) -> Float32Array:
        """Vectors of ``engines`` (begun at one common step), shape (runs, features)."""
        k = engines[0].step
        runs, sites = len(engines), len(self.fleet.names)
        vector = np.empty((runs, sites * 10 + 9))
        site = vector[:, : sites * 10].reshape(runs, sites, 10)
        site[:, :, :5] = self._signals[k]
        # (runs, 5, sites): available, free, training, inference GPUs and stored energy
        state = np.array(
            [(e.rec.available_gpus[k], e._free, e.busy, e.rec.inference_gpus[k], e.soc_mwh) for e in engines]
        )
        site[:, :, 5:9] = (state[:, :4] / self._total).transpose(0, 2, 1)
        site[:, :, 9] = state[:, 4] / self._battery_mwh * self._has_battery
        vector[:, sites * 10 : sites * 10 + 3] = [self._queue_features(eng, k) for eng in engines]
        vector[:, sites * 10 + 3 :] = self._time[k]
        out = vector.astype(np.float32)
        np.maximum(out, self._low, out=out)
        return np.minimum(out, self._high, out=out)

    def _queue_features(self, eng: Engine, k: int) -> tuple[float, float, float]:
        scales, queue = self.scales, eng.queue
        queued_gpu_h, slack = 0.0, _FLEET_BOUNDS["min_slack"][1]
        if queue:
            job = np.asarray(queue, dtype=np.int64)
            queued_gpu_h, slack_h = queue_totals(
                job, eng._jrec.remaining_h, eng._gangs, eng.deadline_step, k, self.fleet.step_h
            )
            slack = min(slack, slack_h / scales.slack_h)
        return queued_gpu_h / self._gpu_scale, slack, len(queue) / scales.queued_jobs


@njit
def queue_totals(
    job: NDArray[np.int64],
    remaining_h: NDArray[np.float64],
    gangs: NDArray[np.int64],
    deadline_step: NDArray[np.int64],
    k: int,
    step_h: float,
) -> tuple[float, float]:  # pragma: no cover - compiled
    """Queued work [GPU-h] and the tightest deadline slack [h] of the queued jobs ``job`` at step ``k``."""
    gpu_h, slack_h = 0.0, np.inf
    for j in job:
        gpu_h += float(gangs[j]) * remaining_h[j]
        slack_h = min(slack_h, (deadline_step[j] - 1 - k) * step_h - remaining_h[j])
    return gpu_h, slack_h

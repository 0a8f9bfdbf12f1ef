"""What one control interval cost: grid energy, carbon and money, deadline misses, unserved inference, waiting work.

The energy of an interval comes from :func:`wattbit.sim.accounting.site_series` run on the interval's rows of the
fleet and the engine's step record, the battery starting from its stored energy at the start of the interval; so
the intervals of an episode add up to the run's ``carbon_t``, ``energy_cost`` and ``energy_grid_mwh`` KPIs, and a
deadline miss is counted in the interval its deadline falls in, so they add up to ``deadline_misses`` (tested).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from wattbit.sim.accounting import site_series
from wattbit.sim.engine import Engine, StepRecord
from wattbit.sim.fleet import Fleet
from wattbit.units import check_number


@dataclass(frozen=True)
class RewardWeights:
    """Weights of the reward of an interval (all >= 0); defaults put carbon and cost near 1 per hour on japan-2022.

    ``reward = -(carbon_per_t carbon_t + cost_per_currency energy_cost + deadline_miss misses
    + unserved_inference_per_gpu_h unserved_gpu_h + waiting_per_gpu_h waiting_gpu_h
    + unfinished_per_gpu_h unfinished_gpu_h)``, the last term only in the final interval.

    Attributes
    ----------
    carbon_per_t
        Per tonne of CO2 from grid imports.
    cost_per_currency
        Per unit of currency paid for grid imports (day-ahead price).
    deadline_miss
        Per training job whose deadline passed in the interval without it finishing.
    unserved_inference_per_gpu_h
        Per GPU-hour online inference needed but could not get.
    waiting_per_gpu_h
        Per GPU-hour of training work held waiting in the queue (gang size x time waited), so that jobs without a
        deadline are not put off for ever.
    unfinished_per_gpu_h
        Per GPU-hour of work still to do at the end of the episode (``gpu_hours_unfinished``), so that pushing work
        past the end does not pay: about three times the energy and carbon terms of a GPU-hour of work on
        japan-2022 (a GPU-hour takes about 1 kWh of facility energy there).
    """

    carbon_per_t: float = 0.2
    cost_per_currency: float = 1e-5
    deadline_miss: float = 10.0
    unserved_inference_per_gpu_h: float = 1e-3
    waiting_per_gpu_h: float = 1e-5
    unfinished_per_gpu_h: float = 1e-3

    def __post_init__(self) -> None:
        for f in fields(self):
            check_number(getattr(self, f.name), f"reward.{f.name}", 0.0, what="reward weight")

    def rewards(self, outcome: Mapping[str, NDArray[Any]]) -> NDArray[np.float64]:
        """The rewards of many intervals, from one array per field of :class:`IntervalOutcome` (the same
        arithmetic as :meth:`reward`, entry by entry)."""
        return -(
            self.carbon_per_t * outcome["carbon_t"]
            + self.cost_per_currency * outcome["energy_cost"]
            + self.deadline_miss * outcome["deadline_misses"]
            + self.unserved_inference_per_gpu_h * outcome["unserved_inference_gpu_h"]
            + self.waiting_per_gpu_h * outcome["waiting_gpu_h"]
            + self.unfinished_per_gpu_h * outcome["unfinished_gpu_h"]
        )

    def reward(self, outcome: IntervalOutcome) -> float:
        """The reward of an interval with ``outcome``."""
        return -(
            self.carbon_per_t * outcome.carbon_t
            + self.cost_per_currency * outcome.energy_cost
            + self.deadline_miss * outcome.deadline_misses
            + self.unserved_inference_per_gpu_h * outcome.unserved_inference_gpu_h
            + self.waiting_per_gpu_h * outcome.waiting_gpu_h
            + self.unfinished_per_gpu_h * outcome.unfinished_gpu_h
        )


class IntervalOutcome(NamedTuple):
    """What happened in one control interval (the environment's ``info`` carries it).

    Attributes
    ----------
    energy_grid_mwh, carbon_t, energy_cost
        Grid import, its carbon [t] and its cost [currency].
    deadline_misses
        Jobs whose deadline passed in the interval without them finishing.
    unserved_inference_gpu_h
        GPU-hours online inference needed but could not get (GPUs out of service; the agent cannot change it in
        the present engine, which reserves inference first).
    waiting_gpu_h
        GPU-hours of training work left waiting in the queue.
    unfinished_gpu_h
        At the end of the episode, GPU-hours of work still to do; 0 before.
    """

    energy_grid_mwh: float
    carbon_t: float
    energy_cost: float
    deadline_misses: int
    unserved_inference_gpu_h: float
    waiting_gpu_h: float
    unfinished_gpu_h: float = 0.0


def _rows(obj: object, start: int, end: int, steps: int) -> object:
    """``obj`` with every per-step array (first axis of length ``steps``) cut to rows ``start:end``."""
    cut = {
        f.name: value[start:end]
        for f in fields(obj)  # type: ignore[arg-type]
        if isinstance(value := getattr(obj, f.name), np.ndarray) and value.ndim >= 2 and value.shape[0] == steps
    }
    return dataclasses.replace(obj, **cut)  # type: ignore[type-var]


class IntervalAccountant:
    """Measures control intervals of one engine run, in order.

    Parameters
    ----------
    engine
        The engine being driven (its fleet, jobs and records are read, never changed).
    """

    def __init__(self, engine: Engine) -> None:
        fleet, jobs = engine.fleet, engine.jobs
        self._engine = engine
        start = fleet.index[0].tz_convert("UTC").tz_localize(None).to_datetime64()
        deadline = (jobs.deadline_utc - start) / np.timedelta64(1, "s") / (fleet.step_h * 3600.0)  # as kpis()
        # jobs with a deadline in the period, that the engine will have queued by its end, by deadline
        counted = ~np.isnat(jobs.deadline_utc) & (deadline <= fleet.steps) & (engine.ready_step < fleet.steps)
        self._job = np.flatnonzero(counted)
        order = np.argsort(deadline[self._job], kind="stable")
        self._job = self._job[order]
        self._deadline = deadline[self._job]
        # how many of them are due by each step (deadline <= step)
        self._upto: list[int] = np.searchsorted(self._deadline, np.arange(fleet.steps + 1), side="right").tolist()

    def measure(
        self, start: int, end: int, soc_start_mwh: NDArray[np.float64], waiting_gpu_h: float
    ) -> IntervalOutcome:
        """Outcome of engine steps ``start..end-1`` (already advanced).

        Parameters
        ----------
        start, end
            First and one-past-last step of the interval.
        soc_start_mwh
            Battery stored energy per site at the start of step ``start`` [MWh].
        waiting_gpu_h
            GPU-hours of queued work left waiting over the interval (the caller counts them as it dispatches).
        """
        engine = self._engine
        fleet = engine.fleet
        series = site_series(interval_fleet(fleet, start, end, soc_start_mwh), interval_record(engine.rec, start, end))
        grid_mwh = series["grid"] * fleet.step_h / 1e6
        rec = engine.rec
        needed = np.ceil(rec.inference_needed[start:end] - 1e-9)
        unserved = np.maximum(needed - rec.inference_gpus[start:end], 0.0).sum() * fleet.step_h
        return IntervalOutcome(
            energy_grid_mwh=float(grid_mwh.sum()),
            carbon_t=float((grid_mwh * fleet.carbon_g_per_kwh[start:end]).sum()) / 1000.0,
            energy_cost=float((grid_mwh * fleet.price_jpy_per_mwh[start:end]).sum()),
            deadline_misses=self._misses(start, end),
            unserved_inference_gpu_h=float(unserved),
            waiting_gpu_h=float(waiting_gpu_h),
        )

    def due(self, start: int, end: int) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Jobs counted for a miss with a deadline in ``(start, end]`` steps (the first interval: up to ``end``),
        and their deadlines [fractional steps]."""
        a, b = (0 if start == 0 else self._upto[start]), self._upto[end]
        return self._job[a:b], self._deadline[a:b]

    def _misses(self, start: int, end: int) -> int:
        """Jobs with a deadline in ``(start, end]`` steps (the first interval: up to ``end``), not done by it."""
        job, deadline = self.due(start, end)
        finish = self._engine.jobs_rec.finish_step[job]
        return int(np.sum(np.isnan(finish) | (finish > deadline + 1e-9)))


def interval_fleet(fleet: Fleet, start: int, end: int, soc_start_mwh: NDArray[np.float64]) -> Fleet:
    """``fleet`` cut to steps ``start..end-1``, each battery starting from its stored energy ``soc_start_mwh``
    (per site [MWh], clipped to its operating window): the fleet :func:`site_series` measures an interval on."""
    part: Fleet = _rows(fleet, start, end, fleet.steps)  # type: ignore[assignment]
    batteries = tuple(
        None
        if spec is None
        else dataclasses.replace(spec, initial_soc=float(np.clip(soc / spec.energy_mwh, spec.soc_min, spec.soc_max)))
        for spec, soc in zip(fleet.batteries, soc_start_mwh.tolist(), strict=True)
    )
    return dataclasses.replace(part, index=fleet.index[start:end], batteries=batteries)


def interval_record(rec: StepRecord, start: int, end: int) -> StepRecord:
    """The step record's rows ``start..end-1``."""
    return _rows(rec, start, end, len(rec.busy_gpus))  # type: ignore[return-value]

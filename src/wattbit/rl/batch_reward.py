"""The outcome of one control interval for many runs of one fleet (the lean and vectorised environments' reward).

:class:`~wattbit.rl.reward.IntervalAccountant` runs the numpy site physics (:func:`wattbit.sim.accounting.
site_series`) on each interval's rows; here each run's interval is one call of the compiled site physics
(:func:`wattbit.physics.site_kernel.interval_grid`: IT power, power chain, cooling, battery, grid import, per step
and site) on the run's step record, with the fleet's plants and weather packed once (:class:`IntervalPhysics`), and
the carbon and cost of the batch's grid import are summed as one array. The result equals
:meth:`IntervalAccountant.measure <wattbit.rl.reward.IntervalAccountant.measure>` run by run (tested, to 1e-12).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from wattbit.physics.site_kernel import interval_grid, pack_plants
from wattbit.rl.reward import IntervalAccountant, IntervalOutcome
from wattbit.sim.accounting import inference_gpu_w
from wattbit.sim.engine import Engine, StepRecord
from wattbit.sim.fleet import Fleet


def site_weather(fleet: Fleet) -> NDArray[np.float64]:
    """Per step and site, what the interval kernel reads of the fleet (steps, sites, 5): dry bulb and wet bulb [°C],
    PV and wind [W], and the power of one GPU held for inference [W] (:func:`wattbit.sim.accounting.
    inference_gpu_w`)."""
    out = np.empty((fleet.steps, len(fleet.names), 5))
    out[:, :, 0], out[:, :, 1] = fleet.temp_db_c, fleet.temp_wb_c
    out[:, :, 2], out[:, :, 3] = fleet.pv_w, fleet.wind_w
    for i in range(len(fleet.names)):
        out[:, i, 4] = inference_gpu_w(fleet, i)
    return out


class IntervalPhysics:
    """Grid import of a run's steps by the compiled site physics (:func:`wattbit.physics.site_kernel.
    interval_grid`), with the fleet's plants and weather packed once.

    Parameters
    ----------
    fleet
        The fleet the runs simulate.
    """

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.tables = pack_plants(fleet.plants, fleet.batteries)
        self.weather = site_weather(fleet)
        self._buffers: dict[int, tuple[NDArray[np.float64], NDArray[np.float64]]] = {}

    def buffers(self, rows: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Arrays for the grid import (rows, sites) and facility power (rows, sites) of an interval of ``rows``
        steps, kept between intervals of the same size (the caller reads them before the next interval)."""
        if rows not in self._buffers:
            sites = len(self.fleet.names)
            self._buffers[rows] = (np.empty((rows, sites)), np.empty((rows, sites)))
        return self._buffers[rows]

    def measure(
        self,
        rec: StepRecord,
        start: int,
        end: int,
        soc_start_mwh: NDArray[np.float64],
        totals: NDArray[np.float64],
        grid_w: NDArray[np.float64] | None = None,
        facility_w: NDArray[np.float64] | None = None,
    ) -> None:
        """The totals of steps ``start..end-1`` of the run with record ``rec`` into ``totals`` (4,): grid energy
        [MWh], carbon [t], cost and unserved inference [GPU-h] (:func:`interval_grid`); its grid import and
        facility power per step and site [W] into ``grid_w`` and ``facility_w`` (rows, sites) if given. The
        batteries start from their stored energy ``soc_start_mwh`` (per site [MWh])."""
        interval_grid(*self.arguments(rec, start, end, soc_start_mwh, totals, grid_w, facility_w))

    def arguments(
        self,
        rec: StepRecord,
        start: int,
        end: int,
        soc_start_mwh: NDArray[np.float64],
        totals: NDArray[np.float64],
        grid_w: NDArray[np.float64] | None = None,
        facility_w: NDArray[np.float64] | None = None,
    ) -> tuple[Any, ...]:
        """The arguments of :func:`interval_grid` for :meth:`measure` (its parameters)."""
        t, fleet = self.tables, self.fleet
        grid, facility = self.buffers(end - start)
        return (
            t.params,
            t.stages,
            t.class_w,
            rec.busy_gpus,
            rec.inference_gpus,
            rec.available_gpus,
            rec.busy_by_class,
            rec.uncapped_by_class,
            rec.gpu_cap_w,
            rec.supply_temp_c,
            rec.battery_self_consumption,
            rec.battery_mw,
            rec.inference_needed,
            self.weather,
            fleet.carbon_g_per_kwh,
            fleet.price_jpy_per_mwh,
            start,
            end,
            soc_start_mwh,
            fleet.step_h,
            facility if facility_w is None else facility_w,
            grid if grid_w is None else grid_w,
            totals,
        )


#: The fields of an interval's outcome, as arrays over the runs of a batch (:func:`measure_batch`).
OUTCOME_FIELDS = IntervalOutcome._fields


def measure_batch(
    physics: IntervalPhysics,
    engines: list[Engine],
    accountant: IntervalAccountant,
    start: int,
    end: int,
    soc_start_mwh: NDArray[np.float64],
    waiting_gpu_h: NDArray[np.float64],
) -> dict[str, NDArray[Any]]:
    """Outcomes of engine steps ``start..end-1`` of every run (each already advanced through them), as arrays.

    Parameters
    ----------
    physics
        The compiled site physics of the fleet all runs simulate.
    engines
        The runs (they share their jobs).
    accountant
        The interval accountant of one of them: which jobs fall due when (deadline misses).
    start, end
        First and one-past-last step of the interval, common to all runs.
    soc_start_mwh
        Battery stored energy per run and site at the start of the interval (runs, sites) [MWh].
    waiting_gpu_h
        GPU-hours of queued work left waiting per run over the interval.

    Returns
    -------
    dict
        One array over the runs per field of :class:`IntervalOutcome`, each entry what
        :meth:`IntervalAccountant.measure` gives that run (``unfinished_gpu_h`` 0).
    """
    runs = len(engines)
    totals = np.empty((runs, 4))
    for r, eng in enumerate(engines):
        physics.measure(eng.rec, start, end, soc_start_mwh[r], totals[r])
    return {
        "energy_grid_mwh": totals[:, 0],
        "carbon_t": totals[:, 1],
        "energy_cost": totals[:, 2],
        "deadline_misses": _misses(engines, accountant, start, end),
        "unserved_inference_gpu_h": totals[:, 3],
        "waiting_gpu_h": np.asarray(waiting_gpu_h, dtype=float),
        "unfinished_gpu_h": np.zeros(runs),
    }


def _misses(engines: list[Engine], accountant: IntervalAccountant, start: int, end: int) -> NDArray[np.int64]:
    """Per run, jobs with a deadline in the interval not done by it (:meth:`IntervalAccountant._misses`; the runs
    share their jobs, so one accountant's deadlines serve all)."""
    job, deadline = accountant.due(start, end)
    if not len(job):
        return np.zeros(len(engines), dtype=np.int64)
    finish = np.array([eng._jrec.finish_step[job] for eng in engines])  # written as jobs finish: no write-back
    return np.sum(np.isnan(finish) | (finish > deadline + 1e-9), axis=1)

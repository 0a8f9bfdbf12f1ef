"""The outcome of one control interval for many runs of one fleet (the lean and vectorised environments' reward).

:class:`~wattbit.rl.reward.IntervalAccountant` runs the numpy site physics (:func:`wattbit.sim.accounting.
site_series`) on each interval's rows; here each run's interval is one call of the compiled site physics
(:func:`wattbit.physics.site_kernel.interval_grid`: IT power, power chain, cooling, battery, grid import, per step
and site) on the run's step record, with the fleet's plants and weather packed once (:class:`IntervalPhysics`), and
the carbon and cost of the batch's grid import are summed as one array. The result equals
:meth:`IntervalAccountant.measure <wattbit.rl.reward.IntervalAccountant.measure>` run by run (tested, to 1e-12).
"""

from __future__ import annotations

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

    def grid_w(
        self,
        rec: StepRecord,
        start: int,
        end: int,
        soc_start_mwh: NDArray[np.float64],
        grid_w: NDArray[np.float64],
        facility_w: NDArray[np.float64] | None = None,
    ) -> None:
        """Grid import [W] of steps ``start..end-1`` of the run with record ``rec`` into ``grid_w`` (rows, sites)
        (and facility power into ``facility_w``), batteries starting from ``soc_start_mwh``."""
        t = self.tables
        interval_grid(
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
            self.weather,
            start,
            end,
            soc_start_mwh,
            self.fleet.step_h,
            np.empty_like(grid_w) if facility_w is None else facility_w,
            grid_w,
        )


def measure_batch(
    physics: IntervalPhysics,
    engines: list[Engine],
    accountants: list[IntervalAccountant],
    start: int,
    end: int,
    soc_start_mwh: NDArray[np.float64],
    waiting_gpu_h: NDArray[np.float64],
) -> list[IntervalOutcome]:
    """Outcomes of engine steps ``start..end-1`` of every run (each already advanced through them).

    Parameters
    ----------
    physics
        The compiled site physics of the fleet all runs simulate.
    engines, accountants
        The runs and their interval accountants (deadline misses).
    start, end
        First and one-past-last step of the interval, common to all runs.
    soc_start_mwh
        Battery stored energy per run and site at the start of the interval (runs, sites) [MWh].
    waiting_gpu_h
        GPU-hours of queued work left waiting per run over the interval.

    Returns
    -------
    list of IntervalOutcome
        One per run, as :meth:`IntervalAccountant.measure` gives it.
    """
    fleet = physics.fleet
    runs, rows, sites = len(engines), end - start, len(fleet.names)
    grid = np.empty((runs, rows, sites))
    facility = np.empty((rows, sites))
    for r, eng in enumerate(engines):
        physics.grid_w(eng.rec, start, end, soc_start_mwh[r], grid[r], facility)
    grid_mwh = grid * fleet.step_h / 1e6
    energy = grid_mwh.sum(axis=(1, 2))
    carbon = (grid_mwh * fleet.carbon_g_per_kwh[start:end]).sum(axis=(1, 2)) / 1000.0
    cost = (grid_mwh * fleet.price_jpy_per_mwh[start:end]).sum(axis=(1, 2))
    out = []
    for r, (eng, acc) in enumerate(zip(engines, accountants, strict=True)):
        rec = eng.rec
        needed = np.ceil(rec.inference_needed[start:end] - 1e-9)
        unserved = np.maximum(needed - rec.inference_gpus[start:end], 0.0).sum() * fleet.step_h
        out.append(
            IntervalOutcome(
                energy_grid_mwh=float(energy[r]),
                carbon_t=float(carbon[r]),
                energy_cost=float(cost[r]),
                deadline_misses=acc._misses(start, end),
                unserved_inference_gpu_h=float(unserved),
                waiting_gpu_h=float(waiting_gpu_h[r]),
            )
        )
    return out

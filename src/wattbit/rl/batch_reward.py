"""The outcome of one control interval for many runs of one fleet at once (the vectorised environment's reward).

:class:`~wattbit.rl.reward.IntervalAccountant` runs the site physics (:func:`wattbit.sim.accounting.site_series`)
once per run and interval; here the interval's rows of every run are stacked into one tall step record over a
fleet whose rows repeat once per run, so the physics runs once per interval for the whole batch. Batteries carry
their stored energy from step to step, so they are settled per run and site afterwards, on that run's rows, by the
same rule as ``site_series`` (a policy's request, or the self-consumption rule). The result equals
:meth:`IntervalAccountant.measure <wattbit.rl.reward.IntervalAccountant.measure>` run by run (tested, to rounding).
"""

from __future__ import annotations

import dataclasses
from dataclasses import fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wattbit.physics.battery import self_consumption_request_mw, simulate_battery
from wattbit.rl.reward import IntervalAccountant, IntervalOutcome
from wattbit.sim.accounting import site_series
from wattbit.sim.engine import Engine, StepRecord
from wattbit.sim.fleet import Fleet
from wattbit.units import trusted_arrays


def _tall_fleet(fleet: Fleet, start: int, end: int, runs: int) -> Fleet:
    """``fleet`` cut to rows ``start:end``, repeated ``runs`` times along the steps, without batteries."""
    rows = np.tile(np.arange(start, end), runs) if runs > 1 else slice(start, end)  # one run: views, no copies
    tall: dict[str, Any] = {
        f.name: value[rows]
        for f in fields(fleet)
        if isinstance(value := getattr(fleet, f.name), np.ndarray) and value.ndim >= 2 and value.shape[0] == fleet.steps
    }
    return dataclasses.replace(fleet, index=fleet.index[rows], batteries=(None,) * len(fleet.names), **tall)


def _tall_record(records: list[StepRecord], start: int, end: int) -> StepRecord:
    """The rows ``start:end`` of every run's step record, run after run."""
    first = records[0]
    steps = len(first.busy_gpus)
    tall = {
        f.name: getattr(first, f.name)[start:end]  # one run: a view of its rows
        if len(records) == 1
        else np.concatenate([getattr(rec, f.name)[start:end] for rec in records])
        for f in fields(first)
        if isinstance(getattr(first, f.name), np.ndarray) and getattr(first, f.name).shape[0] == steps
    }
    return dataclasses.replace(first, **tall)


def _battery_w(
    fleet: Fleet, rec: StepRecord, site: int, start: int, end: int, soc_mwh: float, net_w: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Battery power [W] of ``site`` over rows ``start:end`` of one run, from stored energy ``soc_mwh``."""
    spec = fleet.batteries[site]
    assert spec is not None
    spec = dataclasses.replace(spec, initial_soc=float(np.clip(soc_mwh / spec.energy_mwh, spec.soc_min, spec.soc_max)))
    rule = rec.battery_self_consumption[start:end, site]
    request = np.where(rule, self_consumption_request_mw(net_w / 1e6), rec.battery_mw[start:end, site])
    return simulate_battery(spec, request, fleet.step_h).power_mw * 1e6


def measure_batch(
    fleet: Fleet,
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
    fleet
        The fleet all runs simulate.
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
    runs, rows = len(engines), end - start
    # the engine's own records and the fleet's prepared signals, in range by construction: the physics' input
    # checks are skipped here (the run's KPIs are computed apart, checked)
    with trusted_arrays():
        tall_fleet = _tall_fleet(fleet, start, end, runs)
        series = site_series(tall_fleet, _tall_record([e.rec for e in engines], start, end))
        facility = series["facility"].reshape(runs, rows, -1)
        grid = series["grid"].reshape(runs, rows, -1).copy()
        for site in (i for i, spec in enumerate(fleet.batteries) if spec is not None):
            for r, eng in enumerate(engines):
                net = facility[r, :, site] - fleet.pv_w[start:end, site] - fleet.wind_w[start:end, site]
                battery = _battery_w(fleet, eng.rec, site, start, end, float(soc_start_mwh[r, site]), net)
                grid[r, :, site] = np.maximum(net - battery, 0.0)
    grid_mwh = grid * fleet.step_h / 1e6
    carbon, price = fleet.carbon_g_per_kwh[start:end], fleet.price_jpy_per_mwh[start:end]
    out = []
    for r, (eng, acc) in enumerate(zip(engines, accountants, strict=True)):
        rec = eng.rec
        needed = np.ceil(rec.inference_needed[start:end] - 1e-9)
        unserved = np.maximum(needed - rec.inference_gpus[start:end], 0.0).sum() * fleet.step_h
        out.append(
            IntervalOutcome(
                energy_grid_mwh=float(grid_mwh[r].sum()),
                carbon_t=float((grid_mwh[r] * carbon).sum()) / 1000.0,
                energy_cost=float((grid_mwh[r] * price).sum()),
                deadline_misses=acc._misses(start, end),
                unserved_inference_gpu_h=float(unserved),
                waiting_gpu_h=float(waiting_gpu_h[r]),
            )
        )
    return out

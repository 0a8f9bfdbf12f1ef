"""From what ran where to power, water, carbon, cost and the KPIs of a run.

IT power per site and step: GPUs running jobs at full load (under the step's power cap, if any), GPUs held for
inference at ``INFERENCE_UTILIZATION`` (assumption U: replicas are sized for their service level, so they run
below saturation), the other available GPUs idle, GPUs out for repair switched off. The site roll-up
(:func:`wattbit.physics.site.site_power`) turns that into facility power, cooling, losses and water; on-site PV and
wind, then the battery, supply the facility before the grid; what they produce beyond the load is spilled
(not exported, not credited).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from wattbit.physics.battery import simulate_battery
from wattbit.physics.gpu import it_power_w
from wattbit.physics.site import site_power
from wattbit.sim.engine import DONE, JobRecord, StepRecord
from wattbit.sim.fleet import Fleet
from wattbit.workload.jobs import TrainingJobs

INFERENCE_UTILIZATION = 0.6
FloatArray = NDArray[np.float64]


def site_series(fleet: Fleet, rec: StepRecord) -> dict[str, FloatArray]:
    """Per step and site, arrays (steps, sites): IT, cooling, losses, misc, facility [W], water [L/h], battery, grid
    import and spilled on-site generation [W]."""
    t, s = fleet.steps, len(fleet.names)
    out = {
        k: np.zeros((t, s))
        for k in ("it", "cooling", "losses", "misc", "facility", "water", "battery", "grid", "spill")
    }
    for i, plant in enumerate(fleet.plants):
        busy = rec.busy_gpus[:, i]
        inference = rec.inference_gpus[:, i]
        idle = np.maximum(rec.available_gpus[:, i] - busy - inference, 0)
        cap = np.where(np.isnan(rec.gpu_cap_w[:, i]), plant.gpu.tdp_w, rec.gpu_cap_w[:, i])
        it_dc = (
            it_power_w(plant.gpu, busy, 1.0, cap)
            + it_power_w(plant.gpu, inference, INFERENCE_UTILIZATION)
            + it_power_w(plant.gpu, idle, 0.0)
        )
        supply = np.where(np.isnan(rec.supply_temp_c[:, i]), plant.cooling.supply_temp_c, rec.supply_temp_c[:, i])
        p = site_power(
            plant, np.minimum(it_dc, plant.rated_it_dc_w), fleet.temp_db_c[:, i], fleet.temp_wb_c[:, i], supply
        )
        out["it"][:, i], out["cooling"][:, i] = p.it_w, p.cooling_w
        out["losses"][:, i], out["misc"][:, i] = p.chain_losses_w, p.misc_w
        out["facility"][:, i], out["water"][:, i] = p.facility_w, p.water_l_per_h
        net = p.facility_w - fleet.pv_w[:, i] - fleet.wind_w[:, i]
        spec = fleet.batteries[i]
        if spec is not None:
            out["battery"][:, i] = simulate_battery(spec, rec.battery_mw[:, i], fleet.step_h).power_mw * 1e6
        net = net - out["battery"][:, i]
        out["grid"][:, i] = np.maximum(net, 0.0)
        out["spill"][:, i] = np.maximum(-net, 0.0)
    return out


def _curtailment_absorbed_mwh(fleet: Fleet, grid_mwh: FloatArray, areas: tuple[str, ...]) -> float:
    """Energy drawn in each grid area during its curtailment, capped per step by what the area curtailed."""
    total = 0.0
    for area in sorted(set(areas)):
        cols = [i for i, a in enumerate(areas) if a == area]
        curtailed = fleet.curtailed_mwh[:, cols[0]]
        total += float(np.minimum(grid_mwh[:, cols].sum(axis=1), curtailed).sum())
    return total


def kpis(
    fleet: Fleet,
    jobs: TrainingJobs,
    jrec: JobRecord,
    rec: StepRecord,
    series: dict[str, FloatArray],
    areas: tuple[str, ...],
    currency: str,
) -> dict[str, Any]:
    """The summary of a run (the keys of ``summary.json``)."""
    h = fleet.step_h
    mwh = {k: float(v.sum()) * h / 1e6 for k, v in series.items() if k != "water"}
    grid_mwh = series["grid"] * h / 1e6
    gpus = jobs.gpus.astype(float)
    in_period = jrec.state > 0
    start = fleet.index[0].tz_convert("UTC").tz_localize(None).to_datetime64()
    deadline = (jobs.deadline_utc - start) / np.timedelta64(1, "s") / (fleet.step_h * 3600.0)  # fractional steps
    deadline_in = in_period & ~np.isnat(jobs.deadline_utc) & (deadline <= fleet.steps)
    finish = np.where(np.isnan(jrec.finish_step), np.inf, jrec.finish_step)
    misses = int(np.sum(deadline_in & (finish > deadline + 1e-9)))
    needed = rec.inference_needed.sum()
    served = np.minimum(rec.inference_gpus, np.ceil(rec.inference_needed - 1e-9)).sum()
    installed = fleet.gpus_total.sum() * fleet.steps
    done_h = jobs.duration_h + jrec.lost_h - jrec.remaining_h
    return {
        "energy_it_mwh": mwh["it"],
        "energy_cooling_mwh": mwh["cooling"],
        "energy_losses_mwh": mwh["losses"],
        "energy_misc_mwh": mwh["misc"],
        "energy_facility_mwh": mwh["facility"],
        "energy_grid_mwh": mwh["grid"],
        "energy_onsite_renewable_mwh": float((fleet.pv_w + fleet.wind_w).sum()) * h / 1e6 - mwh["spill"],
        "energy_spilled_mwh": mwh["spill"],
        "pue": mwh["facility"] / mwh["it"],
        "wue_l_per_kwh": float(series["water"].sum()) * h / (mwh["it"] * 1000.0),
        "carbon_t": float((grid_mwh * fleet.carbon_g_per_kwh).sum()) / 1000.0,
        "energy_cost": float((grid_mwh * fleet.price_per_mwh).sum()),
        "currency": currency,
        "curtailment_absorbed_mwh": _curtailment_absorbed_mwh(fleet, grid_mwh, areas),
        "gpu_utilization": float((rec.busy_gpus + rec.inference_gpus).sum()) / installed,
        "jobs_submitted": int(in_period.sum()),
        "jobs_completed": int(np.sum(jrec.state == DONE)),
        "deadline_misses": misses,
        "slo_attainment": float(served / needed) if needed > 0 else 1.0,
        "gpu_hours_demanded": float((gpus * jobs.duration_h)[in_period].sum()),
        "gpu_hours_served": float((gpus * (done_h - jrec.lost_h))[in_period].sum()),
        "gpu_hours_unfinished": float((gpus * jrec.remaining_h)[in_period].sum()),
        "gpu_hours_lost": float((gpus * jrec.lost_h).sum()),
        "job_interruptions": int(jrec.interruptions.sum()),
        "refused_starts": jrec.refused_starts,
    }


def timeseries_frame(fleet: Fleet, rec: StepRecord, series: dict[str, FloatArray]) -> pd.DataFrame:
    """Long table, one row per step and site: power [W] by use, water, GPUs and signals."""
    t, s = fleet.steps, len(fleet.names)
    frame = pd.DataFrame(
        {
            "time_utc": np.repeat(fleet.index.to_numpy(), s),
            "site": np.tile(np.array(fleet.names), t),
            **{f"{k}_w" if k != "water" else "water_l_per_h": v.ravel() for k, v in series.items()},
            "pv_w": fleet.pv_w.ravel(),
            "wind_w": fleet.wind_w.ravel(),
            "busy_gpus": rec.busy_gpus.ravel(),
            "inference_gpus": rec.inference_gpus.ravel(),
            "available_gpus": rec.available_gpus.ravel(),
            "carbon_g_per_kwh": fleet.carbon_g_per_kwh.ravel(),
            "price_per_mwh": fleet.price_per_mwh.ravel(),
            "curtailed_mwh": fleet.curtailed_mwh.ravel(),
        }
    )
    frame["site"] = frame["site"].astype("category")
    return frame

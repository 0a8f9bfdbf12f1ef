"""From what ran where to power, water, carbon, cost and the KPIs of a run.

IT power per site and step: GPUs running jobs at full load (under the step's power cap, if any), GPUs held for
inference at ``INFERENCE_UTILIZATION`` (assumption U: replicas are sized for their service level, so they run
below saturation), the other available GPUs idle, GPUs out for repair switched off. The site roll-up
(:func:`wattbit.physics.site.site_power`) turns that into facility power, cooling, losses and water; on-site PV and
wind, then the battery, supply the facility before the grid; what they produce beyond the load is spilled
(not exported, not credited).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from wattbit.errors import WattbitInputError
from wattbit.physics.battery import BatterySpec, simulate_battery
from wattbit.physics.gpu import it_power_w
from wattbit.physics.site import site_power
from wattbit.sim.engine import DONE, JobRecord, StepRecord
from wattbit.sim.fleet import Fleet
from wattbit.units import FloatArray
from wattbit.workload.jobs import TrainingJobs

INFERENCE_UTILIZATION = 0.6


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
        uncapped = np.minimum(rec.uncapped_gpus[:, i], busy)
        it_dc = (
            it_power_w(plant.gpu, busy - uncapped, 1.0, cap)
            + it_power_w(plant.gpu, uncapped, 1.0)
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
    served = np.minimum(rec.inference_gpus, rec.inference_needed).sum()
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
        "energy_cost": float((grid_mwh * fleet.price_jpy_per_mwh).sum()),
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
        "gpu_hours_overhead": float((gpus * jrec.overhead_h).sum()),
        "job_pauses": int(jrec.pauses.sum()),
        "job_evictions": int(jrec.evictions.sum()),
        "job_migrations": int(jrec.migrations.sum()),
        "refused_starts": jrec.refused_starts,
        "refused_pauses": jrec.refused_pauses,
        "refused_migrations": jrec.refused_migrations,
        **clean_energy_kpis(fleet, series),
    }


class CleanEnergyMatch(NamedTuple):
    """Per-site totals of hourly (24/7) clean-energy matching; see :func:`clean_energy_match`.

    Attributes
    ----------
    load_mwh
        Energy consumed by each site over the period (sites,) [MWh].
    hourly_clean_mwh
        Consumption matched by carbon-free supply in its own step (sites,) [MWh]; NaN where the grid's
        carbon-free share is unknown.
    annual_clean_mwh
        Carbon-free supply netted over the period, capped at the consumption (sites,) [MWh]; NaN likewise.
    """

    load_mwh: FloatArray
    hourly_clean_mwh: FloatArray
    annual_clean_mwh: FloatArray


def clean_energy_match(
    load_mwh: FloatArray,
    onsite_mwh: FloatArray,
    battery_mwh: FloatArray,
    cfe_fraction: FloatArray,
    batteries: Sequence[BatterySpec | None],
) -> CleanEnergyMatch:
    """Clean part of each site's consumption, matched step by step and netted over the period.

    Per step (at most an hour) and site, the load ``L`` is served first by on-site generation ``G``, then by the
    battery's discharge ``D``, then by the grid; a charge ``C`` takes on-site surplus first, then grid energy::

        clean_t = min(G, L) + D_used k_t + (L - min(G, L) - D_used) cfe_t

    where ``k_t`` is the carbon-free fraction of the energy stored in the battery (a well-mixed store: charges from
    on-site surplus count as clean, charges from the grid at that step's ``cfe_t``, losses take both in proportion;
    the initial content counts as not clean). On-site surplus that is neither used nor stored is spilled and never
    counts for another step. Annual netting instead credits all on-site generation and every grid import at its
    step's ``cfe_t`` against the consumption of the whole period: ``min(sum G + sum grid cfe, sum L)``. The hourly
    figure is never above the annual one, and equal to it when clean supply covers the load in every step.

    Parameters
    ----------
    load_mwh
        Facility energy per step (steps, sites) [MWh], >= 0.
    onsite_mwh
        On-site renewable generation per step, including what is spilled (steps, sites) [MWh], >= 0.
    battery_mwh
        Battery AC energy per step (steps, sites) [MWh]: > 0 discharge to the site, < 0 charge (as delivered,
        within the battery's limits).
    cfe_fraction
        Carbon-free share of the grid's supply per step (steps, sites), in [0, 1] or NaN (unknown).
    batteries
        Battery per site (efficiencies and initial stored energy), or None.

    Returns
    -------
    CleanEnergyMatch
        Per-site consumption, hourly-matched and annually netted clean energy [MWh].

    Raises
    ------
    WattbitInputError
        If the arrays differ in shape, ``batteries`` has the wrong length, a load or generation is negative, or a
        carbon-free share lies outside [0, 1].
    """
    arrays = {"load_mwh": load_mwh, "onsite_mwh": onsite_mwh, "battery_mwh": battery_mwh, "cfe_fraction": cfe_fraction}
    shapes = {k: np.shape(v) for k, v in arrays.items()}
    if len(set(shapes.values())) != 1 or len(shapes["load_mwh"]) != 2 or len(batteries) != shapes["load_mwh"][1]:
        raise WattbitInputError(
            f"expected arrays of one shape (steps, sites) and one battery entry per site; got shapes {shapes} and "
            f"{len(batteries)} battery entries",
            field="load_mwh",
        )
    for name in ("load_mwh", "onsite_mwh"):
        if np.any(~(arrays[name] >= 0)):
            raise WattbitInputError(f"{name} has negative or NaN values (expected energies >= 0)", field=name)
    if np.any((cfe_fraction < 0) | (cfe_fraction > 1 + 1e-12)):
        raise WattbitInputError("cfe_fraction outside [0, 1] (expected a share, or NaN where unknown)", field="cfe")
    onsite_used = np.minimum(onsite_mwh, load_mwh)
    discharge = np.maximum(battery_mwh, 0.0)
    charge = np.maximum(-battery_mwh, 0.0)
    discharge_used = np.minimum(discharge, load_mwh - onsite_used)
    grid_served = load_mwh - onsite_used - discharge_used
    charge_from_grid = charge - np.minimum(charge, onsite_mwh - onsite_used)
    clean_mwh = onsite_used + grid_served * cfe_fraction
    for i, spec in enumerate(batteries):
        if spec is not None:
            stored_clean = _stored_clean_fraction(
                spec, charge[:, i], charge_from_grid[:, i], discharge[:, i], cfe_fraction[:, i]
            )
            clean_mwh[:, i] += discharge_used[:, i] * stored_clean
    load = load_mwh.sum(axis=0)
    netted = onsite_mwh.sum(axis=0) + ((grid_served + charge_from_grid) * cfe_fraction).sum(axis=0)
    return CleanEnergyMatch(load, clean_mwh.sum(axis=0), np.minimum(netted, load))


def _stored_clean_fraction(
    spec: BatterySpec, charge: FloatArray, charge_from_grid: FloatArray, discharge: FloatArray, cfe: FloatArray
) -> FloatArray:
    """Carbon-free fraction of a battery's stored energy at the start of each step (well-mixed store).

    Stored energy follows the AC flows: ``+eta_c C`` per charge, ``-D / eta_d`` per discharge (the battery model's
    own bookkeeping); clean content gains ``eta_c (C - C_grid + C_grid cfe)`` and loses its share of each draw.
    """
    stored, clean = spec.initial_soc_mwh, 0.0
    fraction = np.empty(len(charge))
    eta_c, eta_d = spec.charge_efficiency, spec.discharge_efficiency
    rows = zip(charge.tolist(), charge_from_grid.tolist(), discharge.tolist(), cfe.tolist(), strict=True)
    for t, (c, c_grid, d, share) in enumerate(rows):
        k = clean / stored if stored > 1e-12 else 0.0
        fraction[t] = k
        if c > 0.0:
            clean += eta_c * (c - c_grid + c_grid * share)
            stored += eta_c * c
        elif d > 0.0:
            drawn = min(d / eta_d, stored)
            clean -= k * drawn
            stored -= drawn
    return fraction


def clean_energy_kpis(fleet: Fleet, series: dict[str, FloatArray]) -> dict[str, Any]:
    """Hourly (24/7) clean-energy matching and the annual-netting figure beside it, fleet-wide and per site.

    Follows the hourly accounting of Google's 24/7 carbon-free energy methodology (Google, "24/7 Carbon-Free
    Energy: Methodologies and Metrics", 2021) and the EnergyTag Granular Certificate Scheme Standard (hourly or
    finer matching; stored energy keeps the attributes of what charged it, less losses): see
    :func:`clean_energy_match`. A site whose grid carbon-free share is unknown gets NaN, and so do the fleet
    figures; ``clean_energy_note`` says which site and why.

    Returns
    -------
    dict
        ``clean_energy_share_hourly``, ``clean_energy_share_annual`` (fleet, 0-1), the same ``..._by_site``
        (site -> 0-1) and ``clean_energy_note``.
    """
    h = fleet.step_h
    match = clean_energy_match(
        series["facility"] * h / 1e6,
        (fleet.pv_w + fleet.wind_w) * h / 1e6,
        series["battery"] * h / 1e6,
        fleet.cfe_fraction,
        fleet.batteries,
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        hourly = match.hourly_clean_mwh / match.load_mwh
        annual = match.annual_clean_mwh / match.load_mwh
        fleet_hourly = match.hourly_clean_mwh.sum() / match.load_mwh.sum()
        fleet_annual = match.annual_clean_mwh.sum() / match.load_mwh.sum()
    notes = [
        f"matched per {h * 60:g}-min step (within the hour) against the grid's carbon-free share; battery energy "
        "carries the share of what charged it; on-site surplus is spilled and never counts for another step"
        if h <= 1.0
        else f"matched per {h:g}-h step: coarser than the hourly matching of the 24/7 definition"
    ]
    notes += [f"unavailable for {name}: {why}" for name, why in fleet.cfe_unavailable.items()]
    return {
        "clean_energy_share_hourly": float(fleet_hourly),
        "clean_energy_share_annual": float(fleet_annual),
        "clean_energy_share_hourly_by_site": dict(zip(fleet.names, hourly.tolist(), strict=True)),
        "clean_energy_share_annual_by_site": dict(zip(fleet.names, annual.tolist(), strict=True)),
        "clean_energy_note": "; ".join(notes),
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
            "price_jpy_per_mwh": fleet.price_jpy_per_mwh.ravel(),
            "curtailed_mwh": fleet.curtailed_mwh.ravel(),
        }
    )
    frame["site"] = frame["site"].astype("category")
    return frame

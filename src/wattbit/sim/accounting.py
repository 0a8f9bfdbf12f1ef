"""From what ran where to power, water, carbon, cost and the KPIs of a run.

IT power per site and step (:mod:`wattbit.physics.gpu_load`): GPUs running jobs at the mean power of their job's
power class (phases of compute and of communication or checkpointing, each clipped at the step's power cap, if
any), GPUs held for online inference at the mean power of prefill, decode and waiting at the replicas' operating
point, the other available GPUs idle, GPUs out for repair switched off; node overhead follows each group's mean GPU
load, server fans are removed by the site's liquid share. The site roll-up
(:func:`wattbit.physics.site.site_power`) turns that into facility power, cooling, losses and water. On-site PV
and wind supply the facility first, then the battery (its policy's commands, or the self-consumption rule); what is
left over is exported up to the site's export limit and paid at its export price, and only the rest is spilled.
Carbon is location-based: grid import times the area's average intensity; exports earn no avoided-emission credit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from wattbit.errors import WattbitInputError
from wattbit.physics.battery import BatterySpec, self_consumption_request_mw, simulate_battery
from wattbit.physics.gpu import GpuModel, it_power_from_gpu_w
from wattbit.physics.gpu_load import class_gpu_power_w, online_inference_gpu_power_w
from wattbit.physics.renewables import capacity_factor_flag
from wattbit.physics.site import site_power
from wattbit.sim.engine import DONE, JobRecord, StepRecord
from wattbit.sim.fleet import Fleet
from wattbit.units import FloatArray
from wattbit.workload.jobs import TrainingJobs


class InferencePoint(NamedTuple):
    """Operating point of an online-inference replica: share of the time serving, share of that in prefill, and
    the decode batch (sequences in flight)."""

    busy_share: float
    prefill_share: float
    decode_batch: float


#: Used where a run has no serving model of its own (U): replicas sized at 80 % utilisation serving 75 % of the
#: time, a fifth of it prefilling, 64 sequences decoding.
DEFAULT_INFERENCE_POINT = InferencePoint(0.6, 0.2, 64.0)

CARBON_BASIS = (
    "location-based: grid import x the grid area's average intensity of each step; exported energy earns no "
    "avoided-emission credit (reported apart as energy_exported_mwh)"
)


def _busy_gpu_w(gpu: GpuModel, busy_by_class: FloatArray, uncapped: FloatArray, cap_w: FloatArray) -> FloatArray:
    """Total GPU power of the GPUs running jobs per step [W]: classes at their phase mix, capped phases clipped."""
    free = class_gpu_power_w(gpu)
    if np.isnan(cap_w).all():
        return busy_by_class @ free
    capped = class_gpu_power_w(gpu, np.where(np.isnan(cap_w), gpu.tdp_w, cap_w))  # (steps, classes)
    return ((busy_by_class - uncapped) * capped).sum(axis=1) + uncapped @ free


def _inference_point(fleet: Fleet, i: int) -> tuple[FloatArray | float, float, float]:
    if fleet.inference_busy_share is None or fleet.inference_prefill_share is None:
        return DEFAULT_INFERENCE_POINT
    batch = (
        DEFAULT_INFERENCE_POINT.decode_batch
        if fleet.inference_decode_batch is None
        else fleet.inference_decode_batch[i]
    )
    return fleet.inference_busy_share[:, i], float(fleet.inference_prefill_share[i]), float(batch)


def inference_gpu_w(fleet: Fleet, i: int) -> FloatArray:
    """Mean power of one GPU held for online inference at site ``i`` [W]: a scalar, or per step where the fleet's
    replicas have a busy share per step."""
    share, prefill, batch = _inference_point(fleet, i)
    return online_inference_gpu_power_w(fleet.plants[i].gpu, share, prefill, batch)


def it_dc_power_w(fleet: Fleet, rec: StepRecord, i: int) -> FloatArray:
    """IT power at the DC bus of site ``i`` per step [W]: jobs by power class, inference, idle (module docstring)."""
    plant = fleet.plants[i]
    gpu, liquid = plant.gpu, plant.liquid_share
    busy = rec.busy_gpus[:, i]
    inference = rec.inference_gpus[:, i]
    idle = np.maximum(rec.available_gpus[:, i] - busy - inference, 0)
    classes = rec.busy_by_class[:, i, :].astype(float)
    uncapped = np.minimum(rec.uncapped_by_class[:, i, :], rec.busy_by_class[:, i, :]).astype(float)
    busy_w = _busy_gpu_w(gpu, classes, uncapped, rec.gpu_cap_w[:, i])
    inference_w = inference * inference_gpu_w(fleet, i)
    return (
        it_power_from_gpu_w(gpu, busy, busy_w, liquid_share=liquid)
        + it_power_from_gpu_w(gpu, inference, inference_w, liquid_share=liquid)
        + it_power_from_gpu_w(gpu, idle, idle * gpu.idle_w, liquid_share=liquid)
    )


def site_series(fleet: Fleet, rec: StepRecord) -> dict[str, FloatArray]:
    """Per step and site, arrays (steps, sites): IT, cooling, losses, misc, facility [W], water [L/h], battery, grid
    import, export and spilled on-site generation [W], and the GPUs' own power [W] (``gpu``)."""
    t, s = fleet.steps, len(fleet.names)
    out = {
        k: np.zeros((t, s))
        for k in ("it", "cooling", "losses", "misc", "facility", "water", "battery", "grid", "export", "spill")
    }
    limit = np.zeros(s) if fleet.export_limit_w is None else fleet.export_limit_w
    for i, plant in enumerate(fleet.plants):
        it_dc = it_dc_power_w(fleet, rec, i)
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
            request = np.where(
                rec.battery_self_consumption[:, i], self_consumption_request_mw(net / 1e6), rec.battery_mw[:, i]
            )
            out["battery"][:, i] = simulate_battery(spec, request, fleet.step_h).power_mw * 1e6
        net = net - out["battery"][:, i]
        out["grid"][:, i] = np.maximum(net, 0.0)
        surplus = np.maximum(-net, 0.0)
        out["export"][:, i] = np.minimum(surplus, limit[i])
        out["spill"][:, i] = surplus - out["export"][:, i]
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
    export_mwh = series["export"] * h / 1e6
    export_price = (
        np.zeros_like(export_mwh) if fleet.export_price_jpy_per_mwh is None else fleet.export_price_jpy_per_mwh
    )
    generated = float((fleet.pv_w + fleet.wind_w).sum()) * h / 1e6
    export_revenue = float((export_mwh * export_price).sum())
    energy_cost = float((grid_mwh * fleet.price_jpy_per_mwh).sum())
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
        "energy_onsite_generation_mwh": generated,
        "energy_onsite_renewable_mwh": generated - mwh["spill"] - mwh["export"],
        "energy_exported_mwh": mwh["export"],
        "energy_spilled_mwh": mwh["spill"],
        "energy_exported_mwh_by_site": dict(zip(fleet.names, (export_mwh.sum(axis=0)).tolist(), strict=True)),
        "pue": mwh["facility"] / mwh["it"],
        "pue_by_site": dict(
            zip(fleet.names, (series["facility"].sum(axis=0) / series["it"].sum(axis=0)).tolist(), strict=True)
        ),
        "wue_l_per_kwh": float(series["water"].sum()) * h / (mwh["it"] * 1000.0),
        "carbon_t": float((grid_mwh * fleet.carbon_g_per_kwh).sum()) / 1000.0,
        "carbon_basis": CARBON_BASIS,
        "energy_cost": energy_cost,
        "export_revenue": export_revenue,
        "energy_cost_net": energy_cost - export_revenue,
        "export_price_basis": dict(fleet.export_basis),
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
        **generation_kpis(fleet),
        "gpu_power": gpu_power_summary(fleet, rec),
    }


def gpu_power_summary(fleet: Fleet, rec: StepRecord) -> dict[str, dict[str, Any]]:
    """Per site, what the GPUs did over the run, for their power distribution (:func:`wattbit.physics.gpu_load.
    power_mixture`): GPU-hours idle, running jobs per power class, held for inference, the inference operating
    point, and the mean GPU power as a share of TDP (caps included)."""
    h = fleet.step_h
    out = {}
    for i, (name, plant) in enumerate(zip(fleet.names, fleet.plants, strict=True)):
        gpu = plant.gpu
        busy, inference = rec.busy_gpus[:, i], rec.inference_gpus[:, i]
        idle = np.maximum(rec.available_gpus[:, i] - busy - inference, 0)
        share, prefill, batch = _inference_point(fleet, i)
        classes = rec.busy_by_class[:, i, :].astype(float)
        uncapped = np.minimum(rec.uncapped_by_class[:, i, :], rec.busy_by_class[:, i, :]).astype(float)
        gpu_w = (
            _busy_gpu_w(gpu, classes, uncapped, rec.gpu_cap_w[:, i]).sum()
            + (inference * online_inference_gpu_power_w(gpu, share, prefill, batch)).sum()
            + idle.sum() * gpu.idle_w
        )
        powered = float((busy + inference + idle).sum())
        out[name] = {
            "gpu_model": gpu.name,
            "gpu_hours_idle": float(idle.sum()) * h,
            "gpu_hours_by_power_class": (classes.sum(axis=0) * h).tolist(),
            "gpu_hours_inference": float(inference.sum()) * h,
            "inference_busy_share": float(np.average(np.broadcast_to(share, inference.shape), weights=inference))
            if inference.sum() > 0
            else float(np.mean(share)),
            "inference_prefill_share": float(prefill),
            "inference_decode_batch": float(batch),
            "mean_gpu_power_share_of_tdp": float(gpu_w / powered / gpu.tdp_w) if powered else float("nan"),
            "capped_gpu_hours": float((busy * ~np.isnan(rec.gpu_cap_w[:, i])).sum()) * h,
        }
    return out


def generation_kpis(fleet: Fleet) -> dict[str, Any]:
    """Per site: where the on-site PV and wind profiles come from, their capacity factors over the period on the
    installed capacity, and a warning where a factor lies outside the published range."""
    out: dict[str, Any] = {"generation_source": dict(fleet.generation_source), "capacity_factor_by_site": {}}
    flags: list[str] = []
    whole_year = fleet.steps * fleet.step_h >= 365 * 24 - 1e-9  # the published ranges are annual
    if not whole_year:
        flags.append("period shorter than a year: capacity factors not compared with the (annual) published ranges")
    for i, name in enumerate(fleet.names):
        caps = fleet.installed_generation_w[i] if fleet.installed_generation_w is not None else (0.0, 0.0)
        cfs: dict[str, float | None] = {}
        for tech, series, cap in (("pv", fleet.pv_w[:, i], caps[0]), ("wind", fleet.wind_w[:, i], caps[1])):
            cf = float(series.mean() / cap) if cap > 0 else None
            cfs[tech] = cf
            flag = capacity_factor_flag(tech, cf) if cf is not None and whole_year else None
            if flag:
                flags.append(f"{name}: {flag}")
        out["capacity_factor_by_site"][name] = cfs
    out["capacity_factor_flags"] = flags
    return out


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
        np.maximum(fleet.pv_w + fleet.wind_w - series.get("export", 0.0), 0.0) * h / 1e6,
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
        "carries the share of what charged it; exported surplus leaves with its attributes and spilled surplus never "
        "counts for another step"
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

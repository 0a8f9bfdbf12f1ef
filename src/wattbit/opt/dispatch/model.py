"""The watt-bit dispatch programme as a linopy model: when and where training runs, under which caps, with which
battery dispatch and inference routing, so that a weighted sum of carbon and energy cost is least.

One model serves the model-predictive controller (a rolling 24-48 h window from forecasts) and the offline optimum
(the whole period with the observed signals). Per slot ``t`` and site ``s`` (one ``define_*`` function per family):

* :func:`define_gpu_capacity` — ``busy[t,s,l]`` GPUs run training under cap level ``l``; ``share[t,s]`` of the
  inference demand is served at ``s`` (when routing is on, only at sites within the latency limit), which needs
  ``share * full[t,s]`` GPUs; together they fit the GPUs in service; the rest idle;
* :func:`define_site_power` — IT power is linear in those counts; facility power is at least every line of the
  lower bound of :class:`~wattbit.opt.dispatch.inputs.SiteEnergyModel`, and IT power within the rating;
* :func:`define_supply` — facility power plus battery charging equals grid import plus on-site generation plus
  battery discharge, less spilled generation; grid import is within the connection; the battery's energy follows
  its charge and discharge with their efficiencies, within its energy and power limits (``docs/models/battery.md``).
  The programme does **not** plan export: surplus is its slack. The engine exports whatever a plan leaves over, up
  to the connection, and books the revenue apart from the energy cost; carbon is location-based and exports earn no
  credit, so the carbon the programme minimises (and the oracle's bound on it) is unaffected;
* :func:`define_work` — in the *class* form (MPC) each group of jobs sharing a deadline slot receives its remaining
  GPU-hours by then, at most its gang sizes per slot; in the *cumulative* form (the offline optimum, with every job
  known) cumulative work served is at least the work due and at most the work released at every slot, and at most
  the gangs of the jobs then active; *windowed* classes add short-window jobs. Both relax gang scheduling (a job
  may run on part of its gang), so with the lower bound on facility power the offline optimum is a bound on what any
  policy can achieve;
* :func:`define_churn` — when the inputs give the GPUs running now and a cost per GPU stopped, ``stop[s] >=
  running[s] - sum_l busy[0,s,l]`` counts the GPUs the first slot pauses or moves away, each paying its cost (so a
  pause that does not pay for itself is not planned);
* :func:`define_objective` — ``carbon_per_t * t CO2 + cost_per_million * energy cost / 1e6 - curtailment_per_mwh *
  MWh absorbed + miss_per_gpu_h * GPU-h late - value of optional work``, where curtailed energy absorbed per grid
  area is at most what the area curtailed and what its sites import. A late GPU-hour costs ``miss_per_gpu_h``
  (default: 100 t per GPU-hour), so deadlines are met whenever the capacity allows.

:func:`build_dispatch_model` calls them in order, :func:`solve_built` runs HiGHS, :func:`read_plan` reads the
solution back. :mod:`wattbit.opt.dispatch.direct` assembles the same programme straight into HiGHS.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import linopy
import numpy as np
import pandas as pd
import xarray as xr

from wattbit.opt.dispatch.inputs import DispatchInputs, DispatchPlan, DispatchWeights, WorkClasses
from wattbit.opt.errors import SolveError
from wattbit.opt.highs import linopy_options
from wattbit.units import FloatArray

W_PER_MW = 1e6

logging.getLogger("linopy").setLevel(logging.WARNING)


@dataclass
class DispatchModel:
    """A built linopy model with the variables and expressions the read-back needs.

    ``inference`` is a constant array (routing off) or the expression ``full * share``; ``served`` collects the
    work variables (class, cumulative flow, windowed) that must add up to the throughput of the busy GPUs.
    """

    model: linopy.Model
    coords: dict[str, Any]
    busy: linopy.Variable
    share: linopy.Variable | None = None
    inference: Any = None
    facility: linopy.Variable | None = None
    grid: linopy.Variable | None = None
    charge: linopy.Variable | None = None
    discharge: linopy.Variable | None = None
    battery_sites: list[int] = field(default_factory=list)
    class_gpus: linopy.Variable | None = None
    late: linopy.Variable | None = None
    absorbed: linopy.Variable | None = None
    work_parts: list[Any] = field(default_factory=list)
    work_objective: Any = 0
    churn_objective: Any = 0


def _da(values: Any, dims: tuple[str, ...], coords: Mapping[str, Any]) -> xr.DataArray:
    return xr.DataArray(np.asarray(values, dtype=float), dims=dims, coords={d: coords[d] for d in dims})


def _coords(inputs: DispatchInputs) -> dict[str, Any]:
    n_t, n_s = inputs.gpus_available.shape
    energy = inputs.energy
    return {
        "t": pd.RangeIndex(n_t, name="t"),
        "s": pd.RangeIndex(n_s, name="s"),
        "l": pd.RangeIndex(energy.busy_w_per_gpu.shape[1], name="l"),
        "k": pd.RangeIndex(energy.line_b.shape[2], name="k"),
    }


def _pinned(inputs: DispatchInputs) -> FloatArray:
    n_t, n_s = inputs.gpus_available.shape
    return np.zeros((n_t, n_s)) if inputs.pinned_gpus is None else np.asarray(inputs.pinned_gpus, dtype=float)


def define_gpu_capacity(model: linopy.Model, inputs: DispatchInputs, coords: dict[str, Any]) -> DispatchModel:
    """Training GPUs per cap level, the inference share (routing) and the GPUs in service they share."""
    n_t, n_s = inputs.gpus_available.shape
    avail = _da(inputs.gpus_available, ("t", "s"), coords)
    pinned = _da(_pinned(inputs), ("t", "s"), coords)
    busy = model.add_variables(lower=0, coords=[coords["t"], coords["s"], coords["l"]], name="busy")
    built = DispatchModel(model, coords, busy)
    if inputs.inference_full_gpus is not None:
        allowed = np.ones(n_s, bool) if inputs.routable is None else np.asarray(inputs.routable, bool)
        upper = np.broadcast_to(allowed.astype(float), (n_t, n_s))
        built.share = model.add_variables(lower=0, upper=_da(upper, ("t", "s"), coords), name="share")
        model.add_constraints(built.share.sum("s") == 1.0, name="share_sum")
        built.inference = _da(inputs.inference_full_gpus, ("t", "s"), coords) * built.share
    else:
        built.inference = _da(inputs.inference_gpus, ("t", "s"), coords)
    model.add_constraints(busy.sum("l") + built.inference <= avail - pinned, name="capacity")
    return built


def define_site_power(built: DispatchModel, inputs: DispatchInputs) -> Any:
    """IT power [MW], linear in the GPU counts; facility power above every lower-bound line; IT within its rating.

    Returns the IT power expression.
    """
    model, coords, energy = built.model, built.coords, inputs.energy
    avail = _da(inputs.gpus_available, ("t", "s"), coords)
    pinned = _da(_pinned(inputs), ("t", "s"), coords)
    idle = _da(energy.idle_w_per_gpu / W_PER_MW, ("s",), coords)
    extra = _da((energy.busy_w_per_gpu - energy.idle_w_per_gpu[:, None]) / W_PER_MW, ("s", "l"), coords)
    inf_extra = _da((energy.inference_w_per_gpu - energy.idle_w_per_gpu) / W_PER_MW, ("s",), coords)
    pinned_extra = _da((energy.busy_w_per_gpu[:, 0] - energy.idle_w_per_gpu) / W_PER_MW, ("s",), coords)
    it_mw = (extra * built.busy).sum("l") + inf_extra * built.inference + idle * avail + pinned_extra * pinned
    built.facility = model.add_variables(lower=0, coords=[coords["t"], coords["s"]], name="facility")
    line_a = _da(energy.line_a_w / W_PER_MW, ("t", "s", "k"), coords)
    line_b = _da(energy.line_b, ("t", "s", "k"), coords)
    model.add_constraints(built.facility - line_b * it_mw >= line_a, name="facility_lines")
    model.add_constraints(it_mw <= _da(energy.rated_it_dc_w / W_PER_MW, ("s",), coords), name="it_rating")
    return it_mw


def define_supply(built: DispatchModel, inputs: DispatchInputs) -> None:
    """Grid import within the connection, the battery's state of charge, and the supply balance of every site."""
    model, coords = built.model, built.coords
    n_s = inputs.gpus_available.shape[1]
    avail = _da(inputs.gpus_available, ("t", "s"), coords)
    limit = _da(np.asarray(inputs.grid_limit_w) / W_PER_MW, ("s",), coords)
    grid = built.grid = model.add_variables(lower=0, upper=limit.broadcast_like(avail), name="grid")
    facility = built.facility
    assert facility is not None
    onsite = _da(inputs.onsite_w / W_PER_MW, ("t", "s"), coords)
    has_batt = built.battery_sites = [i for i, b in enumerate(inputs.batteries) if b is not None]
    others = [i for i in range(n_s) if i not in has_batt]
    if has_batt:
        bc = pd.Index(has_batt, name="s")
        charge, discharge = _define_battery(built, inputs, bc, avail.sel(s=bc))
        model.add_constraints(
            facility.sel(s=bc) + charge - grid.sel(s=bc) - discharge <= onsite.sel(s=bc), name="balance_battery"
        )
    if others:
        oc = pd.Index(others, name="s")
        model.add_constraints(facility.sel(s=oc) - grid.sel(s=oc) <= onsite.sel(s=oc), name="balance")


def _define_battery(
    built: DispatchModel, inputs: DispatchInputs, sites: pd.Index, like: xr.DataArray
) -> tuple[linopy.Variable, linopy.Variable]:
    """Charge, discharge and state of charge (at the end of each slot) of the sites with a battery."""
    model, coords, h = built.model, built.coords, inputs.slot_h
    specs = [b for b in inputs.batteries if b is not None]

    def per_battery(values: list[float] | FloatArray) -> xr.DataArray:
        return xr.DataArray(np.asarray(values, dtype=float), dims=("s",), coords={"s": sites})

    pmax = per_battery([b.power_mw for b in specs]).broadcast_like(like)
    charge = built.charge = model.add_variables(lower=0, upper=pmax, name="charge")
    discharge = built.discharge = model.add_variables(lower=0, upper=pmax, name="discharge")
    soc = model.add_variables(
        lower=per_battery([b.soc_min_mwh for b in specs]).broadcast_like(like),
        upper=per_battery([b.soc_max_mwh for b in specs]).broadcast_like(like),
        name="soc",
    )
    eta_c = per_battery([b.charge_efficiency for b in specs])
    eta_d = per_battery([b.discharge_efficiency for b in specs])
    change = eta_c * h * charge - (h / eta_d) * discharge
    first = coords["t"][:1]
    start = per_battery(np.asarray(inputs.soc_mwh)[built.battery_sites])
    model.add_constraints(soc.sel(t=first) - change.sel(t=first) == start, name="soc_start")
    if len(coords["t"]) > 1:
        rest = coords["t"][1:]
        model.add_constraints(soc.sel(t=rest) - soc.shift(t=1).sel(t=rest) - change.sel(t=rest) == 0, name="soc_step")
    if inputs.end_soc_mwh is not None:
        end = per_battery(np.asarray(inputs.end_soc_mwh)[built.battery_sites])
        model.add_constraints(soc.sel(t=coords["t"][-1:]) >= end, name="soc_end")
    return charge, discharge


def define_work(built: DispatchModel, inputs: DispatchInputs, weights: DispatchWeights) -> None:
    """Training work in its form (classes or cumulative), windowed classes, and every GPU of work served."""
    if isinstance(inputs.work, WorkClasses):
        _define_work_classes(built, inputs, weights)
    else:
        _define_cumulative_work(built, inputs, weights)
    _define_windowed_work(built, inputs, weights)
    served = (built.busy * _da(inputs.energy.throughput, ("s", "l"), built.coords)).sum(["s", "l"])
    total: Any = built.work_parts[0]
    for part in built.work_parts[1:]:
        total = total + part
    built.model.add_constraints(total - served == 0, name="work_served")


def _define_work_classes(built: DispatchModel, inputs: DispatchInputs, weights: DispatchWeights) -> None:
    model, coords, h = built.model, built.coords, inputs.slot_h
    work = inputs.work
    assert isinstance(work, WorkClasses)
    n_t = inputs.gpus_available.shape[0]
    coords["c"] = pd.RangeIndex(len(work.work_gpu_h), name="c")
    slot = np.arange(n_t)
    window = (slot[None, :] >= work.first_slot[:, None]) & (slot[None, :] < work.end_slot[:, None])
    cap = np.where(window, work.max_gpus[:, None], 0.0)
    class_var = built.class_gpus = model.add_variables(lower=0, upper=_da(cap, ("c", "t"), coords), name="class_gpus")
    built.work_parts.append(class_var.sum("c"))
    need = _da(work.work_gpu_h, ("c",), coords)
    required, optional = np.flatnonzero(work.required), np.flatnonzero(~work.required)
    if required.size:
        rc = pd.Index(required, name="c")
        late = built.late = model.add_variables(lower=0, coords=[rc], name="late")
        model.add_constraints(class_var.sel(c=rc).sum("t") * h + late >= need.sel(c=rc), name="deadline")
        built.work_objective = weights.miss_per_gpu_h * late.sum()
    if optional.size:
        oc = pd.Index(optional, name="c")
        model.add_constraints(class_var.sel(c=oc).sum("t") * h <= need.sel(c=oc), name="optional")
        value = _da(work.value_per_gpu_h, ("c",), coords).sel(c=oc)
        built.work_objective = built.work_objective - (value * class_var.sel(c=oc) * h).sum()


def _define_cumulative_work(built: DispatchModel, inputs: DispatchInputs, weights: DispatchWeights) -> None:
    model, coords, h = built.model, built.coords, inputs.slot_h
    work = inputs.work
    assert not isinstance(work, WorkClasses)
    flow = model.add_variables(lower=0, upper=_da(work.max_gpus, ("t",), coords), name="flexible_gpus")
    built.work_parts.append(flow)
    cum = model.add_variables(lower=0, coords=[coords["t"]], name="cumulative_gpu_h")
    first = coords["t"][:1]
    model.add_constraints(cum.sel(t=first) - flow.sel(t=first) * h == 0, name="cum_start")
    if len(coords["t"]) > 1:
        rest = coords["t"][1:]
        model.add_constraints(cum.sel(t=rest) - cum.shift(t=1).sel(t=rest) - flow.sel(t=rest) * h == 0, name="cum_step")
    late = built.late = model.add_variables(lower=0, coords=[coords["t"]], name="late")
    model.add_constraints(cum + late >= _da(work.due_gpu_h, ("t",), coords), name="due")
    model.add_constraints(cum <= _da(work.released_gpu_h, ("t",), coords), name="released")
    built.work_objective = weights.miss_per_gpu_h * late.sum()


def _define_windowed_work(built: DispatchModel, inputs: DispatchInputs, weights: DispatchWeights) -> None:
    """Many small classes with their own windows, one column per (class, slot) of its window, stored sparsely."""
    windowed = inputs.windowed
    if windowed is None or not len(windowed.work_gpu_h):
        return
    model, h = built.model, inputs.slot_h
    n_t = inputs.gpus_available.shape[0]
    span = windowed.end_slot - windowed.first_slot
    cls = np.concatenate([np.repeat(np.arange(len(span)), span), np.full(n_t, -1)])
    slots = [np.arange(a, b) for a, b in zip(windowed.first_slot, windowed.end_slot, strict=True)]
    slot_of = np.concatenate([np.concatenate(slots), np.arange(n_t)])
    upper = np.concatenate([windowed.max_gpus[cls[:-n_t]], np.zeros(n_t)])  # a zero entry per slot: all slots
    ct = pd.RangeIndex(len(cls), name="ct")
    x = model.add_variables(
        lower=0, upper=xr.DataArray(upper, dims="ct", coords={"ct": ct}), coords=[ct], name="windowed"
    )
    by_t = xr.DataArray(slot_of, dims="ct", coords={"ct": ct}, name="t")
    built.work_parts.append((1.0 * x).groupby(by_t).sum())
    real = cls >= 0
    by_c = xr.DataArray(cls[real], dims="ct", coords={"ct": ct[real]}, name="w")
    per_class = (h * x.sel(ct=ct[real])).groupby(by_c).sum()
    wc = pd.RangeIndex(len(span), name="w")
    late_w = model.add_variables(lower=0, coords=[wc], name="late_windowed")
    need = xr.DataArray(windowed.work_gpu_h, dims="w", coords={"w": wc})
    model.add_constraints(per_class + late_w >= need, name="windowed_due")
    built.work_objective = built.work_objective + weights.miss_per_gpu_h * late_w.sum()


def define_churn(built: DispatchModel, inputs: DispatchInputs) -> None:
    """GPUs of running training the first slot stops (pauses or moves away), at their cost."""
    if inputs.running_gpus is None or inputs.stop_cost_per_gpu is None:
        return
    model, coords = built.model, built.coords
    stop = model.add_variables(lower=0, coords=[coords["s"]], name="stop")
    first = built.busy.sel(t=0).sum("l")
    model.add_constraints(stop + first >= _da(inputs.running_gpus, ("s",), coords), name="stop_first")
    built.churn_objective = (_da(inputs.stop_cost_per_gpu, ("s",), coords) * stop).sum()


def define_objective(built: DispatchModel, inputs: DispatchInputs, weights: DispatchWeights) -> None:
    """Carbon and energy cost of grid import, curtailed energy absorbed per grid area, and the work terms."""
    model, coords, h, grid = built.model, built.coords, inputs.slot_h, built.grid
    assert grid is not None
    n_s = inputs.gpus_available.shape[1]
    intensity = _da(inputs.carbon_g_per_kwh, ("t", "s"), coords)  # g/kWh = kg/MWh
    price = _da(inputs.price_per_mwh, ("t", "s"), coords)
    carbon_t = (grid * intensity * h / 1000.0).sum()
    cost = (grid * price * h).sum()
    objective = weights.carbon_per_t * carbon_t + (weights.cost_per_million / 1e6) * cost + built.work_objective
    objective = objective + built.churn_objective
    if weights.curtailment_per_mwh > 0 and np.any(inputs.curtailed_mwh > 0):
        area_names = sorted(set(inputs.areas))
        coords["a"] = pd.Index(area_names, name="a")
        member = np.array([[1.0 if inputs.areas[s] == a else 0.0 for s in range(n_s)] for a in area_names])
        curtailed = np.stack([inputs.curtailed_mwh[:, inputs.areas.index(a)] for a in area_names], axis=1)
        absorbed = model.add_variables(lower=0, upper=_da(curtailed, ("t", "a"), coords), name="absorbed")
        in_area = (grid * _da(member, ("a", "s"), coords)).sum("s") * h
        model.add_constraints(absorbed - in_area <= 0, name="absorbed_import")
        objective = objective - weights.curtailment_per_mwh * absorbed.sum()
        built.absorbed = absorbed
    model.add_objective(objective)


def build_dispatch_model(inputs: DispatchInputs, weights: DispatchWeights) -> DispatchModel:
    """The linopy model of ``inputs``: every family of constraints, in a fixed order, and the objective."""
    model = linopy.Model()
    built = define_gpu_capacity(model, inputs, _coords(inputs))
    define_site_power(built, inputs)
    define_supply(built, inputs)
    define_work(built, inputs, weights)
    define_churn(built, inputs)
    define_objective(built, inputs, weights)
    return built


def solve_built(built: DispatchModel, time_limit_s: float | None = None) -> None:
    """Run HiGHS on the built model.

    Raises
    ------
    SolveError
        If HiGHS ends without an optimal solution.
    """
    status, condition = built.model.solve(
        solver_name="highs", io_api="direct", progress=False, **linopy_options(time_limit=time_limit_s)
    )
    if status != "ok":
        raise SolveError(f"the dispatch programme could not be solved: HiGHS reports {condition}")


def _solution(variable: linopy.Variable | None, *dims: str) -> FloatArray:
    assert variable is not None
    values = variable.solution.transpose(*dims) if dims else variable.solution
    return np.asarray(values.values, dtype=float)


def read_plan(built: DispatchModel, inputs: DispatchInputs) -> DispatchPlan:
    """The solved model as a :class:`DispatchPlan` (timings left at zero)."""
    n_t, n_s = inputs.gpus_available.shape
    h = inputs.slot_h
    battery = np.zeros((n_t, n_s))
    if built.battery_sites:
        battery[:, built.battery_sites] = _solution(built.discharge, "t", "s") - _solution(built.charge, "t", "s")
    share = _solution(built.share, "t", "s") if built.share is not None else None
    if share is not None and inputs.inference_full_gpus is not None:
        inference_gpus = np.asarray(inputs.inference_full_gpus) * share
    else:
        inference_gpus = np.asarray(inputs.inference_gpus, dtype=float)
    grid_mw = _solution(built.grid, "t", "s")
    return DispatchPlan(
        busy_gpus=_solution(built.busy, "t", "s", "l"),
        inference_share=share,
        inference_gpus=inference_gpus,
        battery_mw=battery,
        grid_mw=grid_mw,
        facility_mw=_solution(built.facility, "t", "s"),
        class_gpus=_solution(built.class_gpus, "c", "t") if built.class_gpus is not None else None,
        late_gpu_h=_solution(built.late) if built.late is not None else np.zeros(0),
        objective=float(built.model.objective.value or 0.0),
        carbon_t=float((grid_mw * inputs.carbon_g_per_kwh).sum() * h / 1000.0),
        cost=float((grid_mw * inputs.price_per_mwh).sum() * h),
        curtailment_absorbed_mwh=float(_solution(built.absorbed).sum()) if built.absorbed is not None else 0.0,
        stats={"variables": float(built.model.nvars), "constraints": float(built.model.ncons)},
    )


def solve_linopy(inputs: DispatchInputs, weights: DispatchWeights, time_limit_s: float | None = None) -> DispatchPlan:
    """Build, solve and read back the linopy model (hard limits are checked by the caller)."""
    t0 = time.perf_counter()
    built = build_dispatch_model(inputs, weights)
    t1 = time.perf_counter()
    solve_built(built, time_limit_s)
    plan = read_plan(built, inputs)
    plan.build_seconds, plan.solve_seconds = t1 - t0, time.perf_counter() - t1
    return plan

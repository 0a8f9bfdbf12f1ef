"""The watt-bit linear programme: when and where training runs, under which caps, with which battery dispatch and
inference routing, so that a weighted sum of carbon and energy cost is least (linopy model, HiGHS solver).

One model serves the model-predictive controller (a rolling 24-48 h window from forecasts) and the offline optimum
(the whole period with the observed signals). Per slot ``t`` and site ``s``:

* ``busy[t,s,l]`` GPUs run training under cap level ``l``; ``share[t,s]`` of the inference demand is served at
  ``s`` (when routing is on, only at sites within the latency limit), which needs ``share * full[t,s]`` GPUs;
  together they fit the GPUs in service; the rest idle;
* IT power is linear in those counts; facility power is at least every line of the lower bound of
  :mod:`wattbit.control.site_energy`; facility power plus battery charging equals grid import plus on-site
  generation plus battery discharge, less spilled generation; grid import is within the connection;
* the battery's energy follows its charge and discharge with their efficiencies, within its energy and power
  limits (``docs/models/battery.md``);
* work: in the *class* form (MPC) each group of jobs sharing a deadline slot receives its remaining GPU-hours by
  then, at most its gang sizes per slot; in the *cumulative* form (the offline optimum, with every job known)
  cumulative work served is at least the work due and at most the work released at every slot, and at most the
  gangs of the jobs then active. Both relax gang scheduling (a job may run on part of its gang), so with the lower
  bound on facility power the offline optimum is a bound on what any policy can achieve;
* curtailed energy absorbed per grid area: at most what the area curtailed and what its sites import.

Objective: ``carbon_weight * t CO2 + cost_weight * energy cost / 1e6 - curtailment_weight * MWh absorbed +
miss_penalty * GPU-h late - value of optional work``. A late GPU-hour costs ``miss_penalty`` (default: 100 t per
GPU-hour), so deadlines are met whenever the capacity allows; when it does not, the plan says which constraint
binds (:class:`PlanInfeasible`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import linopy
import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import NDArray

from wattbit.control.site_energy import SiteEnergyModel
from wattbit.physics.battery import BatterySpec

FloatArray = NDArray[np.float64]
_W_PER_MW = 1e6

logging.getLogger("linopy").setLevel(logging.WARNING)


class PlanInfeasible(RuntimeError):
    """The plan cannot meet what was asked; the message names the binding constraint and the numbers."""


@dataclass(frozen=True)
class Weights:
    """Weights of the objective.

    Attributes
    ----------
    carbon_per_t
        Weight of one tonne of CO2 (location-based, grid import x intensity).
    cost_per_million
        Weight of one million currency units of energy cost.
    curtailment_per_mwh
        Reward per MWh drawn in a grid area while it curtails (at most what it curtails), in the same units.
    miss_per_gpu_h
        Penalty per GPU-hour of work past its deadline (per slot late in the cumulative form).
    """

    carbon_per_t: float = 1.0
    cost_per_million: float = 0.0
    curtailment_per_mwh: float = 0.1
    miss_per_gpu_h: float = 100.0

    def __post_init__(self) -> None:
        for name in ("carbon_per_t", "cost_per_million", "curtailment_per_mwh", "miss_per_gpu_h"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"objective weight {name} must be >= 0, got {getattr(self, name)}")


@dataclass
class WorkClasses:
    """Training work as groups of jobs (class form).

    Attributes
    ----------
    work_gpu_h
        GPU-hours at full throughput each class needs (classes,).
    max_gpus
        GPUs each class can use at once: the sum of its gang sizes (classes,).
    first_slot, end_slot
        Slots ``[first, end)`` in which a class may run; a required class is due by the end of ``end - 1``.
    required
        Whether the class must be served by its end (else optional: served if it pays, valued at ``value``).
    value_per_gpu_h
        Objective value of a GPU-hour of optional work (classes,).
    """

    work_gpu_h: FloatArray
    max_gpus: FloatArray
    first_slot: NDArray[np.int64]
    end_slot: NDArray[np.int64]
    required: NDArray[np.bool_]
    value_per_gpu_h: FloatArray


@dataclass
class CumulativeWork:
    """Training work as cumulative curves over slots (cumulative form), GPU-hours at full throughput.

    Attributes
    ----------
    due_gpu_h
        Work whose deadline falls at or before the end of each slot (T,), non-decreasing.
    released_gpu_h
        Work released at or before the start of each slot (T,), non-decreasing, >= due.
    max_gpus
        Sum of the gangs of jobs released and not yet past their deadline in each slot (T,).
    """

    due_gpu_h: FloatArray
    released_gpu_h: FloatArray
    max_gpus: FloatArray


@dataclass
class WindowedWork:
    """Training work as many small classes with their own windows, stored sparsely (offline optimum).

    Attributes
    ----------
    work_gpu_h, max_gpus
        Work (GPU-hours at full throughput) and most GPUs at once of each class (classes,).
    first_slot, end_slot
        Slots ``[first, end)`` in which a class may run (and by whose end it is due).
    """

    work_gpu_h: FloatArray
    max_gpus: FloatArray
    first_slot: NDArray[np.int64]
    end_slot: NDArray[np.int64]


@dataclass
class PlanInputs:
    """Everything the programme needs for slots ``0..T-1`` (arrays (T, sites) unless noted).

    Attributes
    ----------
    slot_h
        Slot length [h].
    energy
        Site power coefficients (:func:`wattbit.control.site_energy.site_energy_model`) for the slots.
    gpus_available
        GPUs in service.
    inference_gpus
        GPUs held for inference when each site serves its own share (routing off).
    inference_full_gpus
        GPUs each site would need to serve the whole demand (routing on); None turns routing off.
    routable
        Sites allowed to serve inference (latency limit) (sites,); with routing.
    onsite_w, grid_limit_w
        On-site generation [W]; grid connection (sites,) [W].
    carbon_g_per_kwh, price_per_mwh, curtailed_mwh
        Signals; curtailment in MWh per slot of the site's grid area.
    areas
        Grid area of each site (sites,): curtailment is shared by the sites of an area.
    batteries, soc_mwh
        Battery per site (None: none) and its energy at the start.
    pinned_gpus
        GPUs running jobs that cannot be moved or paused, (T, sites), included in the capacity and the power.
    work
        :class:`WorkClasses` or :class:`CumulativeWork`.
    windowed
        More work as :class:`WindowedWork`, served besides ``work`` (the offline optimum's short-window jobs).
    """

    slot_h: float
    energy: SiteEnergyModel
    gpus_available: FloatArray
    inference_gpus: FloatArray
    onsite_w: FloatArray
    grid_limit_w: FloatArray
    carbon_g_per_kwh: FloatArray
    price_per_mwh: FloatArray
    curtailed_mwh: FloatArray
    areas: tuple[str, ...]
    batteries: tuple[BatterySpec | None, ...]
    soc_mwh: FloatArray
    work: WorkClasses | CumulativeWork
    inference_full_gpus: FloatArray | None = None
    routable: NDArray[np.bool_] | None = None
    pinned_gpus: FloatArray | None = None
    end_soc_mwh: FloatArray | None = None
    windowed: WindowedWork | None = None


@dataclass
class Plan:
    """A solved programme: what to do in every slot, and its objective terms.

    Attributes
    ----------
    busy_gpus
        Training GPUs per slot, site and cap level (T, sites, levels).
    inference_share
        Share of the inference demand per site (T, sites) (None without routing).
    inference_gpus
        GPUs held for inference (T, sites).
    battery_mw
        Battery power (T, sites), + discharge.
    grid_mw, facility_mw
        Grid import and facility power (lower bound) (T, sites) [MW].
    class_gpus
        Class form: GPUs (work rate) per class and slot (classes, T); None in the cumulative form.
    late_gpu_h
        Work left undone at its deadline, per class (class form) or per slot (cumulative).
    objective, carbon_t, cost, curtailment_absorbed_mwh
        Objective value and its terms.
    solve_seconds, build_seconds
        Time spent solving and building.
    """

    busy_gpus: FloatArray
    inference_share: FloatArray | None
    inference_gpus: FloatArray
    battery_mw: FloatArray
    grid_mw: FloatArray
    facility_mw: FloatArray
    class_gpus: FloatArray | None
    late_gpu_h: FloatArray
    objective: float
    carbon_t: float
    cost: float
    curtailment_absorbed_mwh: float
    build_seconds: float = 0.0
    solve_seconds: float = 0.0
    stats: dict[str, float] = field(default_factory=dict)


def _da(values: Any, dims: tuple[str, ...], coords: Mapping[str, Any]) -> xr.DataArray:
    return xr.DataArray(np.asarray(values, dtype=float), dims=dims, coords={d: coords[d] for d in dims})


def solve_plan(inputs: PlanInputs, weights: Weights | None = None, time_limit_s: float | None = None) -> Plan:
    """Build and solve the programme for ``inputs``.

    Raises
    ------
    PlanInfeasible
        When no plan meets the hard limits (capacity for inference, grid connection for the inference and
        pinned load); the message names the site, slot and the numbers.
    """
    import time

    w = weights or Weights()
    t0 = time.perf_counter()
    _check_hard_limits(inputs)
    e = inputs.energy
    n_t, n_s = inputs.gpus_available.shape
    n_l = e.busy_w_per_gpu.shape[1]
    coords: dict[str, Any] = {
        "t": pd.RangeIndex(n_t, name="t"),
        "s": pd.RangeIndex(n_s, name="s"),
        "l": pd.RangeIndex(n_l, name="l"),
        "k": pd.RangeIndex(e.line_b.shape[2], name="k"),
    }
    h = inputs.slot_h
    m = linopy.Model()
    avail = _da(inputs.gpus_available, ("t", "s"), coords)
    pinned = _da(np.zeros((n_t, n_s)) if inputs.pinned_gpus is None else inputs.pinned_gpus, ("t", "s"), coords)
    busy = m.add_variables(lower=0, coords=[coords["t"], coords["s"], coords["l"]], name="busy")

    # inference: fixed per site, or routed within the latency limit
    routing = inputs.inference_full_gpus is not None
    share = None
    if routing:
        assert inputs.inference_full_gpus is not None
        allowed = np.ones(n_s, bool) if inputs.routable is None else np.asarray(inputs.routable, bool)
        upper = np.broadcast_to(allowed.astype(float), (n_t, n_s))
        share = m.add_variables(lower=0, upper=_da(upper, ("t", "s"), coords), name="share")
        m.add_constraints(share.sum("s") == 1.0, name="share_sum")
        full = _da(inputs.inference_full_gpus, ("t", "s"), coords)
        inference: Any = full * share
    else:
        inference = _da(inputs.inference_gpus, ("t", "s"), coords)

    m.add_constraints(busy.sum("l") + inference <= avail - pinned, name="capacity")

    # IT power [MW] (linear in counts) and facility power above every lower-bound line
    idle = _da(e.idle_w_per_gpu / _W_PER_MW, ("s",), coords)
    extra = _da((e.busy_w_per_gpu - e.idle_w_per_gpu[:, None]) / _W_PER_MW, ("s", "l"), coords)
    inf_extra = _da((e.inference_w_per_gpu - e.idle_w_per_gpu) / _W_PER_MW, ("s",), coords)
    pinned_extra = _da((e.busy_w_per_gpu[:, 0] - e.idle_w_per_gpu) / _W_PER_MW, ("s",), coords)
    it_mw = (extra * busy).sum("l") + inf_extra * inference + idle * avail + pinned_extra * pinned
    facility = m.add_variables(lower=0, coords=[coords["t"], coords["s"]], name="facility")
    line_a = _da(e.line_a_w / _W_PER_MW, ("t", "s", "k"), coords)
    line_b = _da(e.line_b, ("t", "s", "k"), coords)
    m.add_constraints(facility - line_b * it_mw >= line_a, name="facility_lines")
    m.add_constraints(it_mw <= _da(e.rated_it_dc_w / _W_PER_MW, ("s",), coords), name="it_rating")

    # supply balance: facility + charge <= grid + on-site + discharge (the rest of on-site output is spilled)
    limit = _da(np.asarray(inputs.grid_limit_w) / _W_PER_MW, ("s",), coords)
    grid = m.add_variables(lower=0, upper=limit.broadcast_like(avail), name="grid")
    onsite = _da(inputs.onsite_w / _W_PER_MW, ("t", "s"), coords)
    has_batt = [i for i, b in enumerate(inputs.batteries) if b is not None]
    others = [i for i in range(n_s) if i not in has_batt]
    ch = dis = None
    if has_batt:
        bc = pd.Index(has_batt, name="s")
        specs = [b for b in inputs.batteries if b is not None]

        def per_battery(values: list[float] | FloatArray) -> xr.DataArray:
            return xr.DataArray(np.asarray(values, dtype=float), dims=("s",), coords={"s": bc})

        like = avail.sel(s=bc)
        pmax = per_battery([b.power_mw for b in specs]).broadcast_like(like)
        ch = m.add_variables(lower=0, upper=pmax, name="charge")
        dis = m.add_variables(lower=0, upper=pmax, name="discharge")
        soc = m.add_variables(
            lower=per_battery([b.soc_min_mwh for b in specs]).broadcast_like(like),
            upper=per_battery([b.soc_max_mwh for b in specs]).broadcast_like(like),
            name="soc",
        )  # at the end of each slot
        eta_c = per_battery([b.charge_efficiency for b in specs])
        eta_d = per_battery([b.discharge_efficiency for b in specs])
        change = eta_c * h * ch - (h / eta_d) * dis
        first = coords["t"][:1]
        m.add_constraints(
            soc.sel(t=first) - change.sel(t=first) == per_battery(np.asarray(inputs.soc_mwh)[has_batt]),
            name="soc_start",
        )
        if n_t > 1:
            rest = coords["t"][1:]
            m.add_constraints(soc.sel(t=rest) - soc.shift(t=1).sel(t=rest) - change.sel(t=rest) == 0, name="soc_step")
        if inputs.end_soc_mwh is not None:
            end = per_battery(np.asarray(inputs.end_soc_mwh)[has_batt])
            m.add_constraints(soc.sel(t=coords["t"][-1:]) >= end, name="soc_end")
        m.add_constraints(facility.sel(s=bc) + ch - grid.sel(s=bc) - dis <= onsite.sel(s=bc), name="balance_battery")
    if others:
        oc = pd.Index(others, name="s")
        m.add_constraints(facility.sel(s=oc) - grid.sel(s=oc) <= onsite.sel(s=oc), name="balance")

    # work: every GPU of full-throughput work served goes to a class, a windowed class or the cumulative flow
    work = inputs.work
    objective_work: Any = 0
    served = (busy * _da(e.throughput, ("s", "l"), coords)).sum(["s", "l"])  # GPUs of full-throughput work
    class_var = None
    late: Any = None
    parts: list[Any] = []
    if isinstance(work, WorkClasses):
        n_c = len(work.work_gpu_h)
        coords["c"] = pd.RangeIndex(n_c, name="c")
        slot = np.arange(n_t)
        window = (slot[None, :] >= work.first_slot[:, None]) & (slot[None, :] < work.end_slot[:, None])
        cap = np.where(window, work.max_gpus[:, None], 0.0)
        class_var = m.add_variables(lower=0, upper=_da(cap, ("c", "t"), coords), name="class_gpus")
        parts.append(class_var.sum("c"))
        req = np.flatnonzero(work.required)
        opt = np.flatnonzero(~work.required)
        if req.size:
            rc = pd.Index(req, name="c")
            late = m.add_variables(lower=0, coords=[rc], name="late")
            m.add_constraints(
                class_var.sel(c=rc).sum("t") * h + late >= _da(work.work_gpu_h, ("c",), coords).sel(c=rc),
                name="deadline",
            )
            objective_work = w.miss_per_gpu_h * late.sum()
        if opt.size:
            oc = pd.Index(opt, name="c")
            m.add_constraints(
                class_var.sel(c=oc).sum("t") * h <= _da(work.work_gpu_h, ("c",), coords).sel(c=oc), name="optional"
            )
            value = _da(work.value_per_gpu_h, ("c",), coords).sel(c=oc)
            objective_work = objective_work - (value * class_var.sel(c=oc) * h).sum()
    else:
        flow = m.add_variables(lower=0, upper=_da(work.max_gpus, ("t",), coords), name="flexible_gpus")
        parts.append(flow)
        cum = m.add_variables(lower=0, coords=[coords["t"]], name="cumulative_gpu_h")
        first = coords["t"][:1]
        m.add_constraints(cum.sel(t=first) - flow.sel(t=first) * h == 0, name="cum_start")
        if n_t > 1:
            rest = coords["t"][1:]
            m.add_constraints(cum.sel(t=rest) - cum.shift(t=1).sel(t=rest) - flow.sel(t=rest) * h == 0, name="cum_step")
        late = m.add_variables(lower=0, coords=[coords["t"]], name="late")
        m.add_constraints(cum + late >= _da(work.due_gpu_h, ("t",), coords), name="due")
        m.add_constraints(cum <= _da(work.released_gpu_h, ("t",), coords), name="released")
        objective_work = w.miss_per_gpu_h * late.sum()
    windowed = inputs.windowed
    if windowed is not None and len(windowed.work_gpu_h):
        span = windowed.end_slot - windowed.first_slot
        cls = np.concatenate([np.repeat(np.arange(len(span)), span), np.full(n_t, -1)])
        slot_of = np.concatenate(
            [
                np.concatenate([np.arange(a, b) for a, b in zip(windowed.first_slot, windowed.end_slot, strict=True)]),
                np.arange(n_t),
            ]
        )
        upper = np.concatenate([windowed.max_gpus[cls[:-n_t]], np.zeros(n_t)])  # a zero entry per slot: all slots
        ct = pd.RangeIndex(len(cls), name="ct")
        x = m.add_variables(
            lower=0, upper=xr.DataArray(upper, dims="ct", coords={"ct": ct}), coords=[ct], name="windowed"
        )
        by_t = xr.DataArray(slot_of, dims="ct", coords={"ct": ct}, name="t")
        parts.append((1.0 * x).groupby(by_t).sum())
        real = cls >= 0
        by_c = xr.DataArray(cls[real], dims="ct", coords={"ct": ct[real]}, name="w")
        per_class = (h * x.sel(ct=ct[real])).groupby(by_c).sum()
        wc = pd.RangeIndex(len(span), name="w")
        late_w = m.add_variables(lower=0, coords=[wc], name="late_windowed")
        need = xr.DataArray(windowed.work_gpu_h, dims="w", coords={"w": wc})
        m.add_constraints(per_class + late_w >= need, name="windowed_due")
        objective_work = objective_work + w.miss_per_gpu_h * late_w.sum()
    total: Any = parts[0]
    for extra_part in parts[1:]:
        total = total + extra_part
    m.add_constraints(total - served == 0, name="work_served")

    # carbon, cost, curtailment
    ci = _da(inputs.carbon_g_per_kwh, ("t", "s"), coords)  # g/kWh = kg/MWh
    price = _da(inputs.price_per_mwh, ("t", "s"), coords)
    carbon_t = (grid * ci * h / 1000.0).sum()
    cost = (grid * price * h).sum()
    objective = w.carbon_per_t * carbon_t + (w.cost_per_million / 1e6) * cost + objective_work
    absorbed = None
    if w.curtailment_per_mwh > 0 and np.any(inputs.curtailed_mwh > 0):
        area_names = sorted(set(inputs.areas))
        coords["a"] = pd.Index(area_names, name="a")
        member = np.array([[1.0 if inputs.areas[s] == a else 0.0 for s in range(n_s)] for a in area_names])
        curt = np.stack(
            [inputs.curtailed_mwh[:, [s for s in range(n_s) if inputs.areas[s] == a][0]] for a in area_names], axis=1
        )
        absorbed = m.add_variables(lower=0, upper=_da(curt, ("t", "a"), coords), name="absorbed")
        m.add_constraints(absorbed - (grid * _da(member, ("a", "s"), coords)).sum("s") * h <= 0, name="absorbed_import")
        objective = objective - w.curtailment_per_mwh * absorbed.sum()
    m.add_objective(objective)
    build_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    options: dict[str, Any] = {"output_flag": False}
    if time_limit_s is not None:
        options["time_limit"] = float(time_limit_s)
    status, condition = m.solve(solver_name="highs", io_api="direct", progress=False, **options)
    solve_s = time.perf_counter() - t1
    if status != "ok":
        raise PlanInfeasible(f"the plan could not be solved: HiGHS reports {condition}")

    def sol(v: linopy.Variable, *dims: str) -> FloatArray:
        values = v.solution.transpose(*dims) if dims else v.solution
        return np.asarray(values.values, dtype=float)

    battery = np.zeros((n_t, n_s))
    if has_batt and ch is not None and dis is not None:
        battery[:, has_batt] = sol(dis, "t", "s") - sol(ch, "t", "s")
    if share is not None and inputs.inference_full_gpus is not None:
        inf_gpus = np.asarray(inputs.inference_full_gpus) * sol(share, "t", "s")
    else:
        inf_gpus = np.asarray(inputs.inference_gpus, dtype=float)
    grid_mw = sol(grid, "t", "s")
    carbon = float((grid_mw * inputs.carbon_g_per_kwh).sum() * h / 1000.0)
    return Plan(
        busy_gpus=sol(busy, "t", "s", "l"),
        inference_share=sol(share, "t", "s") if share is not None else None,
        inference_gpus=inf_gpus,
        battery_mw=battery,
        grid_mw=grid_mw,
        facility_mw=sol(facility, "t", "s"),
        class_gpus=sol(class_var, "c", "t") if class_var is not None else None,
        late_gpu_h=sol(late) if late is not None else np.zeros(0),
        objective=float(m.objective.value or 0.0),
        carbon_t=carbon,
        cost=float((grid_mw * inputs.price_per_mwh).sum() * h),
        curtailment_absorbed_mwh=float(sol(absorbed).sum()) if absorbed is not None else 0.0,
        build_seconds=build_s,
        solve_seconds=solve_s,
        stats={"variables": float(m.nvars), "constraints": float(m.ncons)},
    )


def _check_hard_limits(inputs: PlanInputs) -> None:
    """Explain the limits no plan can get around, before the solver would report a bare 'infeasible'."""
    avail = inputs.gpus_available
    pinned = np.zeros_like(avail) if inputs.pinned_gpus is None else inputs.pinned_gpus
    if inputs.inference_full_gpus is None:
        short = inputs.inference_gpus + pinned - avail
        if np.any(short > 1e-6):
            t, s = np.unravel_index(int(np.argmax(short)), short.shape)
            raise PlanInfeasible(
                f"binding constraint: GPU capacity at site {s}, slot {t}: inference needs "
                f"{inputs.inference_gpus[t, s]:.0f} GPUs and fixed jobs {pinned[t, s]:.0f}, but only "
                f"{avail[t, s]:.0f} are in service"
            )
    else:
        allowed = np.ones(avail.shape[1], bool) if inputs.routable is None else np.asarray(inputs.routable, bool)
        if not allowed.any():
            raise PlanInfeasible("binding constraint: latency limit: no site is close enough to serve inference")
        # the best case: all inference where it needs the fewest GPUs relative to the room left
        room = np.where(allowed, (avail - pinned) / np.maximum(inputs.inference_full_gpus, 1e-9), 0.0)
        worst = room.sum(axis=1)
        if np.any(worst < 1.0 - 1e-9):
            slot = int(np.argmin(worst))
            raise PlanInfeasible(
                f"binding constraint: GPU capacity for inference in slot {slot}: the sites within the latency limit "
                f"can serve at most {worst[slot]:.1%} of the demand"
            )
    e = inputs.energy
    it_min = e.idle_w_per_gpu * avail + (e.busy_w_per_gpu[:, 0] - e.idle_w_per_gpu) * pinned
    if inputs.inference_full_gpus is None:
        it_min = it_min + (e.inference_w_per_gpu - e.idle_w_per_gpu) * inputs.inference_gpus
    facility_min = e.facility_lower_w(it_min)
    batt = np.array([0.0 if b is None else b.power_mw * 1e6 for b in inputs.batteries])
    supply_max = np.asarray(inputs.grid_limit_w)[None, :] + inputs.onsite_w + batt[None, :]
    over = facility_min - supply_max
    if np.any(over > 1.0):
        t, s = np.unravel_index(int(np.argmax(over)), over.shape)
        raise PlanInfeasible(
            f"binding constraint: grid connection at site {s}, slot {t}: the site needs at least "
            f"{facility_min[t, s] / 1e6:.2f} MW with no training running, but the connection, on-site generation "
            f"and battery give at most {supply_max[t, s] / 1e6:.2f} MW"
        )

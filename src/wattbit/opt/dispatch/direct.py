"""The class form of the watt-bit dispatch programme (:mod:`wattbit.opt.dispatch.model`) assembled straight into
HiGHS.

linopy builds the readable model (and the offline optimum) through xarray, which costs a few hundred milliseconds
per model whatever its size; a controller that re-plans every hour of a simulated year needs a decision in tens
of milliseconds. This module writes the same variables, rows and objective as sparse triplets
(:class:`~wattbit.opt.highs.Assembler`), family by family under the same ``define_*`` names as the linopy model,
and passes them to ``highspy`` directly. ``tests/opt/test_dispatch.py`` checks that both give the same optimum on
random instances, so the two stay one model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np

from wattbit.opt.dispatch.inputs import DispatchInputs, DispatchPlan, DispatchWeights, WorkClasses
from wattbit.opt.errors import SolveError
from wattbit.opt.highs import INF, Assembler, new_highs
from wattbit.units import FloatArray, IntArray

W_PER_MW = 1e6


@dataclass
class DirectModel:
    """Column and row indices of a programme assembled for HiGHS, and the IT power terms they share.

    ``const_it_mw`` is the IT power that does not depend on the decisions (idle GPUs, pinned jobs and, without
    routing, inference) (T, S); ``extra_mw`` the extra power of a busy GPU per cap level (S, L) and
    ``inference_extra_mw`` of an inference GPU (S,).
    """

    lp: Assembler
    busy: IntArray
    share: IntArray | None
    full_gpus: FloatArray | None
    const_it_mw: FloatArray
    extra_mw: FloatArray
    inference_extra_mw: FloatArray
    facility: IntArray | None = None
    grid: IntArray | None = None
    charge: IntArray | None = None
    discharge: IntArray | None = None
    battery_sites: tuple[int, ...] = ()
    class_gpus: IntArray | None = None
    late: IntArray | None = None
    absorbed: IntArray | None = None


def define_gpu_capacity(inputs: DispatchInputs) -> DirectModel:
    """Training GPUs per cap level, the inference share (routing) and the GPUs in service they share."""
    energy = inputs.energy
    n_t, n_s = inputs.gpus_available.shape
    lp = Assembler()
    avail = np.asarray(inputs.gpus_available, dtype=float)
    pinned = np.zeros((n_t, n_s)) if inputs.pinned_gpus is None else np.asarray(inputs.pinned_gpus, dtype=float)
    busy = lp.cols((n_t, n_s, energy.busy_w_per_gpu.shape[1]))
    extra = (energy.busy_w_per_gpu - energy.idle_w_per_gpu[:, None]) / W_PER_MW  # (s, l)
    inf_extra = (energy.inference_w_per_gpu - energy.idle_w_per_gpu) / W_PER_MW  # (s,)
    pinned_extra = energy.busy_w_per_gpu[:, 0] - energy.idle_w_per_gpu
    const_it = (energy.idle_w_per_gpu * avail + pinned_extra * pinned) / W_PER_MW
    share, full = None, None
    if inputs.inference_full_gpus is not None:
        full = np.asarray(inputs.inference_full_gpus, dtype=float)
        allowed = np.ones(n_s, bool) if inputs.routable is None else np.asarray(inputs.routable, bool)
        share = lp.cols((n_t, n_s), 0.0, np.broadcast_to(allowed.astype(float), (n_t, n_s)))
        lp.add(lp.rows((n_t,), 1.0, 1.0)[:, None], share, 1.0)
    else:
        const_it = const_it + inf_extra * np.asarray(inputs.inference_gpus)
    fixed_inference = 0.0 if share is not None else inputs.inference_gpus
    capacity = lp.rows((n_t, n_s), -INF, avail - pinned - fixed_inference)
    lp.add(capacity[:, :, None], busy, 1.0)
    if share is not None and full is not None:
        lp.add(capacity, share, full)
    return DirectModel(lp, busy, share, full, const_it, extra, inf_extra)


def define_site_power(built: DirectModel, inputs: DispatchInputs) -> None:
    """Facility power above every lower-bound line, ``facility - b * IT(decisions) >= a + b * IT(constant)``, and IT
    power within the rating."""
    lp, energy = built.lp, inputs.energy
    n_t, n_s = inputs.gpus_available.shape
    n_l, n_k = energy.busy_w_per_gpu.shape[1], energy.line_b.shape[2]
    facility = built.facility = lp.cols((n_t, n_s))
    a_mw, b = energy.line_a_w / W_PER_MW, energy.line_b
    lines = lp.rows((n_t, n_s, n_k), a_mw + b * built.const_it_mw[:, :, None], INF)
    lp.add(lines, facility[:, :, None], 1.0)
    lp.add(lines[:, :, :, None], built.busy[:, :, None, :], -b[:, :, :, None] * built.extra_mw[None, :, None, :])
    inference_mw = None
    if built.share is not None and built.full_gpus is not None:
        inference_mw = built.inference_extra_mw[None, :] * built.full_gpus  # MW per unit of share (T, S)
        lp.add(lines, built.share[:, :, None], -b * inference_mw[:, :, None])
    rating = lp.rows((n_t, n_s), -INF, energy.rated_it_dc_w / W_PER_MW - built.const_it_mw)
    lp.add(rating[:, :, None], built.busy, np.broadcast_to(built.extra_mw, (n_t, n_s, n_l)))
    if built.share is not None and inference_mw is not None:
        lp.add(rating, built.share, inference_mw)


def define_supply(built: DirectModel, inputs: DispatchInputs) -> None:
    """Grid import within the connection, the supply balance of every site, and the batteries."""
    lp, h = built.lp, inputs.slot_h
    n_t, n_s = inputs.gpus_available.shape
    grid_limit = np.broadcast_to(np.asarray(inputs.grid_limit_w) / W_PER_MW, (n_t, n_s))
    grid = built.grid = lp.cols((n_t, n_s), 0.0, grid_limit)
    balance = lp.rows((n_t, n_s), -INF, inputs.onsite_w / W_PER_MW)
    assert built.facility is not None
    lp.add(balance, built.facility, 1.0)
    lp.add(balance, grid, -1.0)
    sites = [i for i, battery in enumerate(inputs.batteries) if battery is not None]
    if not sites:
        return
    built.battery_sites = tuple(sites)
    specs = [battery for battery in inputs.batteries if battery is not None]
    n_b = len(sites)
    power = np.broadcast_to(np.array([spec.power_mw for spec in specs]), (n_t, n_b))
    charge = built.charge = lp.cols((n_t, n_b), 0.0, power)
    discharge = built.discharge = lp.cols((n_t, n_b), 0.0, power)
    soc = lp.cols(
        (n_t, n_b),
        np.broadcast_to([spec.soc_min_mwh for spec in specs], (n_t, n_b)),
        np.broadcast_to([spec.soc_max_mwh for spec in specs], (n_t, n_b)),
    )
    lp.add(balance[:, sites], charge, 1.0)
    lp.add(balance[:, sites], discharge, -1.0)
    rhs = np.zeros((n_t, n_b))
    rhs[0] = np.asarray(inputs.soc_mwh, dtype=float)[sites]
    dynamics = lp.rows((n_t, n_b), rhs, rhs)
    lp.add(dynamics, soc, 1.0)
    lp.add(dynamics[1:], soc[:-1], -1.0)
    lp.add(dynamics, charge, -np.array([spec.charge_efficiency for spec in specs]) * h)
    lp.add(dynamics, discharge, h / np.array([spec.discharge_efficiency for spec in specs]))
    if inputs.end_soc_mwh is not None:
        end = lp.rows((n_b,), np.asarray(inputs.end_soc_mwh, dtype=float)[sites], INF)
        lp.add(end, soc[-1], 1.0)


def define_work(built: DirectModel, inputs: DispatchInputs, weights: DispatchWeights) -> None:
    """Work classes within their windows and gangs, every GPU of work served, deadlines and optional work."""
    lp, h, work = built.lp, inputs.slot_h, inputs.work
    if not isinstance(work, WorkClasses) or inputs.windowed is not None:
        raise TypeError("the direct assembly handles the class form (WorkClasses) without windowed work")
    n_t, n_s = inputs.gpus_available.shape
    n_l = inputs.energy.busy_w_per_gpu.shape[1]
    slot = np.arange(n_t)
    window = (slot[None, :] >= work.first_slot[:, None]) & (slot[None, :] < work.end_slot[:, None])
    classes = built.class_gpus = lp.cols(
        (len(work.work_gpu_h), n_t), 0.0, np.where(window, work.max_gpus[:, None], 0.0)
    )
    served = lp.rows((n_t,), 0.0, 0.0)
    lp.add(served[None, :], classes, 1.0)
    lp.add(served[:, None, None], built.busy, -np.broadcast_to(inputs.energy.throughput, (n_t, n_s, n_l)))
    required, optional = np.flatnonzero(work.required), np.flatnonzero(~work.required)
    if required.size:
        late = built.late = lp.cols((required.size,))
        due = lp.rows((required.size,), work.work_gpu_h[required], INF)
        lp.add(due[:, None], classes[required], h)
        lp.add(due, late, 1.0)
        lp.set_cost(late, weights.miss_per_gpu_h)
    if optional.size:
        at_most = lp.rows((optional.size,), -INF, work.work_gpu_h[optional])
        lp.add(at_most[:, None], classes[optional], h)
        lp.set_cost(classes[optional], -(work.value_per_gpu_h[optional] * h)[:, None])


def define_churn(built: DirectModel, inputs: DispatchInputs) -> None:
    """GPUs of running training the first slot stops, ``stop + sum_l busy[0] >= running``, at their cost."""
    if inputs.running_gpus is None or inputs.stop_cost_per_gpu is None:
        return
    lp = built.lp
    n_s = inputs.gpus_available.shape[1]
    stop = lp.cols((n_s,))
    rows = lp.rows((n_s,), np.asarray(inputs.running_gpus, dtype=float), INF)
    lp.add(rows, stop, 1.0)
    lp.add(rows[:, None], built.busy[0], 1.0)
    lp.set_cost(stop, np.asarray(inputs.stop_cost_per_gpu, dtype=float))


def define_objective(built: DirectModel, inputs: DispatchInputs, weights: DispatchWeights) -> None:
    """Carbon and energy cost of grid import, and curtailed energy absorbed per grid area."""
    lp, h, grid = built.lp, inputs.slot_h, built.grid
    assert grid is not None
    carbon = weights.carbon_per_t * inputs.carbon_g_per_kwh * h / 1000.0
    lp.set_cost(grid, carbon + weights.cost_per_million / 1e6 * inputs.price_per_mwh * h)
    if not (weights.curtailment_per_mwh > 0 and np.any(inputs.curtailed_mwh > 0)):
        return
    n_t, n_s = inputs.gpus_available.shape
    area_names = sorted(set(inputs.areas))
    first_site = [inputs.areas.index(a) for a in area_names]
    absorbed = built.absorbed = lp.cols((n_t, len(area_names)), 0.0, inputs.curtailed_mwh[:, first_site])
    rows = lp.rows((n_t, len(area_names)), -INF, 0.0)
    lp.add(rows, absorbed, 1.0)
    for i, area in enumerate(area_names):
        members = [s for s in range(n_s) if inputs.areas[s] == area]
        lp.add(rows[:, i, None], grid[:, members], -h)
    lp.set_cost(absorbed, -weights.curtailment_per_mwh)


def build_direct_model(inputs: DispatchInputs, weights: DispatchWeights) -> DirectModel:
    """The programme of ``inputs`` as columns, rows and triplets, family by family in a fixed order."""
    built = define_gpu_capacity(inputs)
    define_site_power(built, inputs)
    define_supply(built, inputs)
    define_work(built, inputs, weights)
    define_churn(built, inputs)
    define_objective(built, inputs, weights)
    return built


def solve_built(built: DirectModel, time_limit_s: float | None = None) -> tuple[FloatArray, float]:
    """Solve with HiGHS; returns the column values and the objective.

    Raises
    ------
    SolveError
        If HiGHS ends without an optimal solution.
    """
    highs = new_highs(time_limit=None if time_limit_s is None else float(time_limit_s))
    highs.passModel(built.lp.to_lp())
    highs.run()
    status = highs.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        reason = highs.modelStatusToString(status)
        raise SolveError(f"the dispatch programme could not be solved: HiGHS reports {reason}")
    return np.asarray(highs.getSolution().col_value), float(highs.getInfo().objective_function_value)


def read_plan(built: DirectModel, inputs: DispatchInputs, x: FloatArray, objective: float) -> DispatchPlan:
    """The solution ``x`` as a :class:`DispatchPlan` (timings left at zero)."""
    n_t, n_s = inputs.gpus_available.shape
    h = inputs.slot_h
    battery = np.zeros((n_t, n_s))
    if built.charge is not None and built.discharge is not None:
        battery[:, list(built.battery_sites)] = x[built.discharge] - x[built.charge]
    share = x[built.share] if built.share is not None else None
    if share is not None and built.full_gpus is not None:
        inference_gpus = built.full_gpus * share
    else:
        inference_gpus = np.asarray(inputs.inference_gpus, dtype=float)
    assert built.grid is not None and built.facility is not None and built.class_gpus is not None
    grid_mw = x[built.grid]
    return DispatchPlan(
        busy_gpus=x[built.busy],
        inference_share=share,
        inference_gpus=inference_gpus,
        battery_mw=battery,
        grid_mw=grid_mw,
        facility_mw=x[built.facility],
        class_gpus=x[built.class_gpus],
        late_gpu_h=x[built.late] if built.late is not None else np.zeros(0),
        objective=objective,
        carbon_t=float((grid_mw * inputs.carbon_g_per_kwh).sum() * h / 1000.0),
        cost=float((grid_mw * inputs.price_per_mwh).sum() * h),
        curtailment_absorbed_mwh=float(x[built.absorbed].sum()) if built.absorbed is not None else 0.0,
        stats={"variables": float(built.lp.n_cols), "constraints": float(built.lp.n_rows)},
    )


def solve_direct(inputs: DispatchInputs, weights: DispatchWeights, time_limit_s: float | None = None) -> DispatchPlan:
    """Assemble, solve and read back the class form (hard limits are checked by the caller)."""
    t0 = time.perf_counter()
    built = build_direct_model(inputs, weights)
    t1 = time.perf_counter()
    x, objective = solve_built(built, time_limit_s)
    plan = read_plan(built, inputs, x, objective)
    plan.build_seconds, plan.solve_seconds = t1 - t0, time.perf_counter() - t1
    return plan

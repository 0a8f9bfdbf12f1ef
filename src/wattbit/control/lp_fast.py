"""The class form of the watt-bit programme (:mod:`wattbit.control.lp`) assembled straight into HiGHS.

linopy builds the readable model (and the offline optimum) through xarray, which costs a few hundred milliseconds
per model whatever its size; a controller that re-plans every hour of a simulated year needs a decision in tens
of milliseconds. This module writes the same variables, rows and objective as sparse triplets and passes them to
``highspy`` directly. ``tests/control/test_lp.py`` checks that both give the same optimum on random instances, so
the two stay one model.
"""

from __future__ import annotations

import time

import highspy
import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix

from wattbit.control.lp import Plan, PlanInfeasible, PlanInputs, Weights, WorkClasses, _check_hard_limits

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
_W_PER_MW = 1e6
INF = highspy.kHighsInf


class _Assembler:
    """Columns with bounds and costs, rows with bounds, and the coefficients between them as triplets."""

    def __init__(self) -> None:
        self.lb: list[FloatArray] = []
        self.ub: list[FloatArray] = []
        self.cost: list[FloatArray] = []
        self.n_cols = 0
        self.row_lo: list[FloatArray] = []
        self.row_hi: list[FloatArray] = []
        self.n_rows = 0
        self.r: list[IntArray] = []
        self.c: list[IntArray] = []
        self.v: list[FloatArray] = []

    def cols(self, shape: tuple[int, ...], lb: float | FloatArray = 0.0, ub: float | FloatArray = INF) -> IntArray:
        n = int(np.prod(shape))
        idx = np.arange(self.n_cols, self.n_cols + n).reshape(shape)
        self.lb.append(np.broadcast_to(np.asarray(lb, dtype=float), shape).ravel().copy())
        self.ub.append(np.broadcast_to(np.asarray(ub, dtype=float), shape).ravel().copy())
        self.cost.append(np.zeros(n))
        self.n_cols += n
        return idx

    def set_cost(self, idx: IntArray, values: float | FloatArray) -> None:
        flat = np.concatenate(self.cost)
        flat[np.asarray(idx).ravel()] += np.broadcast_to(np.asarray(values, dtype=float), np.shape(idx)).ravel()
        self.cost = [flat]

    def rows(self, shape: tuple[int, ...], lo: float | FloatArray, hi: float | FloatArray) -> IntArray:
        n = int(np.prod(shape))
        idx = np.arange(self.n_rows, self.n_rows + n).reshape(shape)
        self.row_lo.append(np.broadcast_to(np.asarray(lo, dtype=float), shape).ravel().copy())
        self.row_hi.append(np.broadcast_to(np.asarray(hi, dtype=float), shape).ravel().copy())
        self.n_rows += n
        return idx

    def add(self, rows: IntArray, cols: IntArray, values: float | FloatArray) -> None:
        rows, cols = np.broadcast_arrays(np.asarray(rows), np.asarray(cols))
        vals = np.broadcast_to(np.asarray(values, dtype=float), rows.shape)
        self.r.append(rows.ravel())
        self.c.append(cols.ravel())
        self.v.append(vals.ravel().astype(float))

    def solve(self, time_limit_s: float | None) -> tuple[highspy.Highs, FloatArray, float]:
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = self.n_cols, self.n_rows
        lp.col_cost_ = np.concatenate(self.cost)
        lp.col_lower_, lp.col_upper_ = np.concatenate(self.lb), np.concatenate(self.ub)
        lp.row_lower_, lp.row_upper_ = np.concatenate(self.row_lo), np.concatenate(self.row_hi)
        a = coo_matrix(
            (np.concatenate(self.v), (np.concatenate(self.r), np.concatenate(self.c))),
            shape=(self.n_rows, self.n_cols),
        ).tocsc()
        a.sum_duplicates()
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a.indptr
        lp.a_matrix_.index_ = a.indices
        lp.a_matrix_.value_ = a.data
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        if time_limit_s is not None:
            h.setOptionValue("time_limit", float(time_limit_s))
        h.passModel(lp)
        h.run()
        status = h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            raise PlanInfeasible(f"the plan could not be solved: HiGHS reports {h.modelStatusToString(status)}")
        return h, np.asarray(h.getSolution().col_value), float(h.getInfo().objective_function_value)


def solve_plan_fast(inputs: PlanInputs, weights: Weights | None = None, time_limit_s: float | None = None) -> Plan:
    """Solve the class form of the programme (same model as :func:`wattbit.control.lp.solve_plan`)."""
    if not isinstance(inputs.work, WorkClasses):
        raise TypeError("solve_plan_fast handles the class form (WorkClasses); use solve_plan for cumulative work")
    w = weights or Weights()
    t0 = time.perf_counter()
    _check_hard_limits(inputs)
    e, work, h = inputs.energy, inputs.work, inputs.slot_h
    n_t, n_s = inputs.gpus_available.shape
    n_l, n_k = e.busy_w_per_gpu.shape[1], e.line_b.shape[2]
    m = _Assembler()
    avail = np.asarray(inputs.gpus_available, dtype=float)
    pinned = np.zeros((n_t, n_s)) if inputs.pinned_gpus is None else np.asarray(inputs.pinned_gpus, dtype=float)
    busy = m.cols((n_t, n_s, n_l))
    routing = inputs.inference_full_gpus is not None
    extra = (e.busy_w_per_gpu - e.idle_w_per_gpu[:, None]) / _W_PER_MW  # (s, l)
    inf_extra = (e.inference_w_per_gpu - e.idle_w_per_gpu) / _W_PER_MW  # (s,)
    const_it = (e.idle_w_per_gpu * avail + (e.busy_w_per_gpu[:, 0] - e.idle_w_per_gpu) * pinned) / _W_PER_MW
    share = None
    if routing:
        assert inputs.inference_full_gpus is not None
        full = np.asarray(inputs.inference_full_gpus, dtype=float)
        allowed = np.ones(n_s, bool) if inputs.routable is None else np.asarray(inputs.routable, bool)
        share = m.cols((n_t, n_s), 0.0, np.broadcast_to(allowed.astype(float), (n_t, n_s)))
        r = m.rows((n_t,), 1.0, 1.0)
        m.add(r[:, None], share, 1.0)
    else:
        const_it = const_it + inf_extra * np.asarray(inputs.inference_gpus)
    # capacity
    cap_rows = m.rows((n_t, n_s), -INF, avail - pinned - (0.0 if routing else inputs.inference_gpus))
    m.add(cap_rows[:, :, None], busy, 1.0)
    if share is not None:
        m.add(cap_rows, share, full)
    # facility lines: facility - b * (extra . busy + inf_extra * full * share) >= a + b * const_it
    facility = m.cols((n_t, n_s))
    a_mw, b = e.line_a_w / _W_PER_MW, e.line_b
    lines = m.rows((n_t, n_s, n_k), a_mw + b * const_it[:, :, None], INF)
    m.add(lines, facility[:, :, None], 1.0)
    m.add(lines[:, :, :, None], busy[:, :, None, :], -b[:, :, :, None] * extra[None, :, None, :])
    if share is not None:
        m.add(lines, share[:, :, None], -b * (inf_extra[None, :] * full)[:, :, None])
    rating = m.rows((n_t, n_s), -INF, e.rated_it_dc_w / _W_PER_MW - const_it)
    m.add(rating[:, :, None], busy, np.broadcast_to(extra, (n_t, n_s, n_l)))
    if share is not None:
        m.add(rating, share, inf_extra[None, :] * full)
    # supply balance
    grid = m.cols((n_t, n_s), 0.0, np.broadcast_to(np.asarray(inputs.grid_limit_w) / _W_PER_MW, (n_t, n_s)))
    balance = m.rows((n_t, n_s), -INF, inputs.onsite_w / _W_PER_MW)
    m.add(balance, facility, 1.0)
    m.add(balance, grid, -1.0)
    has_batt = [i for i, bat in enumerate(inputs.batteries) if bat is not None]
    ch = dis = None
    if has_batt:
        specs = [bat for bat in inputs.batteries if bat is not None]
        nb = len(has_batt)
        pmax = np.array([bat.power_mw for bat in specs])
        ch = m.cols((n_t, nb), 0.0, np.broadcast_to(pmax, (n_t, nb)))
        dis = m.cols((n_t, nb), 0.0, np.broadcast_to(pmax, (n_t, nb)))
        soc = m.cols(
            (n_t, nb),
            np.broadcast_to([bat.soc_min_mwh for bat in specs], (n_t, nb)),
            np.broadcast_to([bat.soc_max_mwh for bat in specs], (n_t, nb)),
        )
        m.add(balance[:, has_batt], ch, 1.0)
        m.add(balance[:, has_batt], dis, -1.0)
        eta_c = np.array([bat.charge_efficiency for bat in specs])
        eta_d = np.array([bat.discharge_efficiency for bat in specs])
        soc0 = np.asarray(inputs.soc_mwh, dtype=float)[has_batt]
        rhs = np.zeros((n_t, nb))
        rhs[0] = soc0
        dyn = m.rows((n_t, nb), rhs, rhs)
        m.add(dyn, soc, 1.0)
        m.add(dyn[1:], soc[:-1], -1.0)
        m.add(dyn, ch, -eta_c * h)
        m.add(dyn, dis, h / eta_d)
        if inputs.end_soc_mwh is not None:
            end = m.rows((nb,), np.asarray(inputs.end_soc_mwh, dtype=float)[has_batt], INF)
            m.add(end, soc[-1], 1.0)
    # work classes
    n_c = len(work.work_gpu_h)
    slot = np.arange(n_t)
    window = (slot[None, :] >= work.first_slot[:, None]) & (slot[None, :] < work.end_slot[:, None])
    cls = m.cols((n_c, n_t), 0.0, np.where(window, work.max_gpus[:, None], 0.0))
    served = m.rows((n_t,), 0.0, 0.0)
    m.add(served[None, :], cls, 1.0)
    m.add(served[:, None, None], busy, -np.broadcast_to(e.throughput, (n_t, n_s, n_l)))
    req = np.flatnonzero(work.required)
    opt = np.flatnonzero(~work.required)
    late = None
    if req.size:
        late = m.cols((req.size,))
        due = m.rows((req.size,), work.work_gpu_h[req], INF)
        m.add(due[:, None], cls[req], h)
        m.add(due, late, 1.0)
        m.set_cost(late, w.miss_per_gpu_h)
    if opt.size:
        cap_opt = m.rows((opt.size,), -INF, work.work_gpu_h[opt])
        m.add(cap_opt[:, None], cls[opt], h)
        m.set_cost(cls[opt], -(work.value_per_gpu_h[opt] * h)[:, None])
    # objective on grid import
    m.set_cost(
        grid,
        w.carbon_per_t * inputs.carbon_g_per_kwh * h / 1000.0 + w.cost_per_million / 1e6 * inputs.price_per_mwh * h,
    )
    absorbed = None
    if w.curtailment_per_mwh > 0 and np.any(inputs.curtailed_mwh > 0):
        area_names = sorted(set(inputs.areas))
        first_site = [inputs.areas.index(a) for a in area_names]
        absorbed = m.cols((n_t, len(area_names)), 0.0, inputs.curtailed_mwh[:, first_site])
        rows = m.rows((n_t, len(area_names)), -INF, 0.0)
        m.add(rows, absorbed, 1.0)
        for ai, a in enumerate(area_names):
            members = [s for s in range(n_s) if inputs.areas[s] == a]
            m.add(rows[:, ai, None], grid[:, members], -h)
        m.set_cost(absorbed, -w.curtailment_per_mwh)
    build_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    _, x, objective = m.solve(time_limit_s)
    solve_s = time.perf_counter() - t1
    battery = np.zeros((n_t, n_s))
    if ch is not None and dis is not None:
        battery[:, has_batt] = x[dis] - x[ch]
    share_val = x[share] if share is not None else None
    inf_gpus = full * share_val if share_val is not None else np.asarray(inputs.inference_gpus, dtype=float)
    grid_mw = x[grid]
    return Plan(
        busy_gpus=x[busy],
        inference_share=share_val,
        inference_gpus=inf_gpus,
        battery_mw=battery,
        grid_mw=grid_mw,
        facility_mw=x[facility],
        class_gpus=x[cls],
        late_gpu_h=x[late] if late is not None else np.zeros(0),
        objective=objective,
        carbon_t=float((grid_mw * inputs.carbon_g_per_kwh).sum() * h / 1000.0),
        cost=float((grid_mw * inputs.price_per_mwh).sum() * h),
        curtailment_absorbed_mwh=float(x[absorbed].sum()) if absorbed is not None else 0.0,
        build_seconds=build_s,
        solve_seconds=solve_s,
        stats={"variables": float(m.n_cols), "constraints": float(m.n_rows)},
    )

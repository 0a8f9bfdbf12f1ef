"""The planning optimisation: which sites to build and how much IT, PV, wind, battery and grid connection at each,
with an hourly dispatch over a representative period (linopy model, HiGHS solver).

Build, solve and read back are separate steps (:func:`build_model`, :func:`solve_plan`); each family of constraints
has its own ``define_*`` function, named ``<family>-<kind>`` in the model. The formulation (``docs/planner.md``):

* **Capacities** per site ``s``: ``build_s`` (binary, or in [0, 1] with ``integer_build = false``), IT per design
  option ``it_so`` (MW at the IT input, full load), ``pv_s``, ``wind_s``, battery energy ``E_s`` and power ``P_s``,
  grid connection ``G_s``. ``sum_o it_so <= max_it_s build_s``, ``G_s <= max_connection_s build_s``; PV, wind and
  battery within their land limits.
* **Hourly dispatch** ``t``: grid import ``g_st <= G_s``, charge ``c_st <= P_s``, discharge ``d_st <= P_s``,
  state of charge ``soc_min E_s <= e_st <= E_s``, ``e_st = e_s,t-1 + eta_c c_st - d_st / eta_d`` (cyclic over the
  period), and the balance ``cf_pv pv_s + cf_wind wind_s + d_st + g_st - c_st >= sum_o f_sot it_so``, where ``f`` is
  the facility power per MW of IT from the site physics at the target utilisation. What is left over is spilled
  (no export).
* **Target** per stage ``k``: ``sum_{s ready by k, o} a_so it_so >= size_k`` (``a`` = 1 for MW, GPUs/MW for GPUs).
* **Optional**: carbon ``w sum_st k_st g_st <= cap``; hourly clean-energy share
  ``w sum_st (1 - cfe_st) g_st <= (1 - share) w sum_st facility_st``; site share
  ``sum_o n_so it_so <= share sum_so n_so it_so`` (GPUs ``n``); ``w = 8,760 / T``.
* **Objective** (per year): equivalent annual cost of all capacities + ``w sum_st price_st g_st`` (``tco``), or that
  less the GPUs' revenue (``npv``).

If HiGHS finds no plan, :func:`diagnose_infeasible` solves the *elastic* model — slack on the targets, connection
limits, carbon cap, clean-energy share and site share, minimising their sum relative to each limit — and
:class:`PlanInfeasibleError` names every constraint that had to give and by how much.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import linopy
import numpy as np
import pandas as pd
import xarray as xr

from wattbit.errors import WattbitInputError
from wattbit.plan.infeasible import TARGET_SLACK_WEIGHT, PlanInfeasibleError, PlanSolveError, describe, field_of
from wattbit.plan.problem import MONEY_SCALE, YEAR_H, FloatArray, PlanProblem, PlanSolution


@dataclass
class _Vars:
    build: linopy.Variable
    it: linopy.Variable
    pv: linopy.Variable
    wind: linopy.Variable
    bat_e: linopy.Variable
    bat_p: linopy.Variable
    conn: linopy.Variable
    grid: linopy.Variable
    charge: linopy.Variable
    discharge: linopy.Variable
    soc: linopy.Variable


@dataclass
class _Slack:
    """One elastic slack: its variable and the size it is measured against."""

    var: linopy.Variable
    scale: Any


def _coords(p: PlanProblem) -> dict[str, pd.Index]:
    return {
        "s": pd.Index(list(p.sites), name="s"),
        "o": pd.Index(list(p.options), name="o"),
        "t": pd.RangeIndex(p.hours, name="t"),
    }


def _da(values: Any, dims: tuple[str, ...], c: dict[str, pd.Index]) -> xr.DataArray:
    return xr.DataArray(np.asarray(values, dtype=float), coords={d: c[d] for d in dims}, dims=dims)


def define_capacity_variables(m: linopy.Model, p: PlanProblem, c: dict[str, pd.Index]) -> _Vars:
    """Capacities per site and the hourly dispatch variables."""
    s, st = [c["s"]], [c["s"], c["t"]]
    if p.integer_build:
        build = m.add_variables(coords=s, name="Site-build", binary=True)
    else:
        build = m.add_variables(lower=0.0, upper=1.0, coords=s, name="Site-build")
    it_upper = np.where(p.allowed, p.max_it_mw[:, None], 0.0)
    it = m.add_variables(lower=0.0, upper=_da(it_upper, ("s", "o"), c), name="IT-capacity")
    pv = m.add_variables(lower=0.0, upper=_da(p.max_pv_mw, ("s",), c), name="PV-capacity")
    wind = m.add_variables(lower=0.0, upper=_da(p.max_wind_mw, ("s",), c), name="Wind-capacity")
    bat_e = m.add_variables(lower=0.0, upper=_da(p.max_battery_mwh, ("s",), c), name="Battery-energy")
    no_battery = _da(np.where(p.max_battery_mwh > 0.0, np.inf, 0.0), ("s",), c)
    bat_p = m.add_variables(lower=0.0, upper=no_battery, coords=s, name="Battery-power")
    conn = m.add_variables(lower=0.0, coords=s, name="Grid-connection")
    grid = m.add_variables(lower=0.0, coords=st, name="Grid-import")
    charge = m.add_variables(lower=0.0, coords=st, name="Battery-charge")
    discharge = m.add_variables(lower=0.0, coords=st, name="Battery-discharge")
    soc = m.add_variables(lower=0.0, coords=st, name="Battery-soc")
    return _Vars(build, it, pv, wind, bat_e, bat_p, conn, grid, charge, discharge, soc)


def define_build_constraints(
    m: linopy.Model, p: PlanProblem, v: _Vars, c: dict[str, pd.Index], slacks: dict[str, _Slack] | None
) -> None:
    """Nothing is built at a site that is not built; the connection within the utility's offer."""
    m.add_constraints(v.it.sum("o") - _da(p.max_it_mw, ("s",), c) * v.build <= 0, name="Site-it-build")
    m.add_constraints(v.pv - _da(p.max_pv_mw, ("s",), c) * v.build <= 0, name="Site-pv-build")
    m.add_constraints(v.wind - _da(p.max_wind_mw, ("s",), c) * v.build <= 0, name="Site-wind-build")
    lhs = v.conn - _da(p.max_connection_mw, ("s",), c) * v.build
    if slacks is not None:
        extra = m.add_variables(lower=0.0, coords=[c["s"]], name="Slack-connection")
        slacks["connection"] = _Slack(extra, _da(p.max_connection_mw, ("s",), c))
        lhs = lhs - extra
    m.add_constraints(lhs <= 0, name="Grid-connection-limit")


def define_dispatch_constraints(m: linopy.Model, p: PlanProblem, v: _Vars, c: dict[str, pd.Index]) -> None:
    """Hourly grid, battery and energy balance."""
    b = p.battery
    m.add_constraints(v.grid - v.conn <= 0, name="Grid-import-limit")
    m.add_constraints(v.charge - v.bat_p <= 0, name="Battery-charge-limit")
    m.add_constraints(v.discharge - v.bat_p <= 0, name="Battery-discharge-limit")
    m.add_constraints(v.soc - v.bat_e <= 0, name="Battery-soc-max")
    m.add_constraints(v.soc - b.soc_min * v.bat_e >= 0, name="Battery-soc-min")
    m.add_constraints(
        v.soc - v.soc.roll(t=1) - b.charge_efficiency * v.charge + (1.0 / b.discharge_efficiency) * v.discharge == 0,
        name="Battery-soc-balance",
    )
    facility = (_da(p.facility_mw_per_it_mw, ("s", "o", "t"), c) * v.it).sum("o")
    supply = (
        _da(p.pv_mw_per_mw, ("s", "t"), c) * v.pv
        + _da(p.wind_mw_per_mw, ("s", "t"), c) * v.wind
        + v.discharge
        + v.grid
        - v.charge
    )
    m.add_constraints(supply - facility >= 0, name="Site-energy-balance")


def define_target_constraints(
    m: linopy.Model, p: PlanProblem, v: _Vars, c: dict[str, pd.Index], slacks: dict[str, _Slack] | None
) -> None:
    """Each stage's compute from the sites ready by then."""
    coef = _da(p.target_coefficient(), ("s", "o"), c)
    for k, stage in enumerate(p.stages):
        ready = _da(np.asarray(stage.available, dtype=float), ("s",), c)
        lhs = (coef * ready * v.it).sum()
        if slacks is not None:
            extra = m.add_variables(lower=0.0, name=f"Slack-target-{k}")
            # the target is what the user asks for: relax the limits first, the target only if nothing else helps
            slacks[f"target-{k}"] = _Slack(extra, stage.size / TARGET_SLACK_WEIGHT)
            lhs = lhs + extra
        m.add_constraints(lhs >= stage.size, name=f"Target-compute-{k}")


def _facility_energy_mwh(p: PlanProblem, v: _Vars, c: dict[str, pd.Index]) -> linopy.LinearExpression:
    """Facility energy per year as a linear expression of IT capacity [MWh/yr]."""
    per_mw = p.facility_mw_per_it_mw.sum(axis=2) * p.year_weight
    return (_da(per_mw, ("s", "o"), c) * v.it).sum()


def define_optional_constraints(
    m: linopy.Model, p: PlanProblem, v: _Vars, c: dict[str, pd.Index], slacks: dict[str, _Slack] | None
) -> None:
    """Carbon cap, hourly clean-energy share and the largest share of GPUs at one site, where asked for."""
    w = p.year_weight
    if p.carbon_cap_t_per_year is not None:
        lhs = (_da(p.carbon_t_per_mwh * w, ("s", "t"), c) * v.grid).sum()
        if slacks is not None:
            extra = m.add_variables(lower=0.0, name="Slack-carbon")
            slacks["carbon"] = _Slack(extra, max(p.carbon_cap_t_per_year, 1.0))
            lhs = lhs - extra
        m.add_constraints(lhs <= p.carbon_cap_t_per_year, name="Carbon-cap")
    if p.min_clean_energy_share is not None:
        if np.isnan(p.cfe_fraction).any():
            bad = [p.sites[i] for i in np.flatnonzero(np.isnan(p.cfe_fraction).any(axis=1))]
            raise WattbitInputError(
                f"min_clean_energy_share needs the grid's carbon-free share every hour, but it is unknown at {bad} "
                "(their carbon data give only an intensity); use carbon data with a generation mix or a CFE column",
                field="plan.constraints.min_clean_energy_share",
            )
        dirty = (_da((1.0 - p.cfe_fraction) * w, ("s", "t"), c) * v.grid).sum()
        lhs = dirty - (1.0 - p.min_clean_energy_share) * _facility_energy_mwh(p, v, c)
        if slacks is not None:
            extra = m.add_variables(lower=0.0, name="Slack-clean")
            slacks["clean"] = _Slack(extra, _nominal_energy_mwh(p))
            lhs = lhs - extra
        m.add_constraints(lhs <= 0, name="Clean-energy-share")
    if p.max_site_share is not None:
        gpus = (_da(p.gpus_per_it_mw, ("s", "o"), c) * v.it).sum("o")
        lhs = gpus - p.max_site_share * gpus.sum("s")
        if slacks is not None:
            extra = m.add_variables(lower=0.0, coords=[c["s"]], name="Slack-site-share")
            slacks["share"] = _Slack(extra, _nominal_gpus(p))
            lhs = lhs - extra
        m.add_constraints(lhs <= 0, name="Site-share")


def _final_it_mw(p: PlanProblem) -> float:
    size = max(stage.size for stage in p.stages) if p.stages else 1.0
    if p.target_unit == "gpus":
        return size / float(np.mean(p.gpus_per_it_mw[p.allowed]))
    return size


def _nominal_energy_mwh(p: PlanProblem) -> float:
    return max(1.0, _final_it_mw(p) * YEAR_H)


def _nominal_gpus(p: PlanProblem) -> float:
    return max(1.0, _final_it_mw(p) * float(np.mean(p.gpus_per_it_mw[p.allowed])))


def cost_objective(p: PlanProblem, v: _Vars, c: dict[str, pd.Index]) -> linopy.LinearExpression:
    """Equivalent annual cost of the plan [currency / MONEY_SCALE per year], less GPU revenue for ``npv``."""
    k = 1.0 / MONEY_SCALE
    it_cost = p.it_cost_per_mw
    if p.objective == "npv":
        it_cost = it_cost - p.revenue_per_gpu * p.gpus_per_it_mw
    expr = (_da(it_cost * k, ("s", "o"), c) * v.it).sum()
    for arr, var in (
        (p.pv_cost_per_mw, v.pv),
        (p.wind_cost_per_mw, v.wind),
        (p.battery_cost_per_mwh, v.bat_e),
        (p.battery_cost_per_mw, v.bat_p),
        (p.connection_cost_per_mw, v.conn),
        (p.site_cost, v.build),
    ):
        expr = expr + (_da(arr * k, ("s",), c) * var).sum()
    return expr + (_da(p.price_per_mwh * p.year_weight * k, ("s", "t"), c) * v.grid).sum()


def build_model(p: PlanProblem, *, elastic: bool = False) -> tuple[linopy.Model, _Vars, dict[str, _Slack]]:
    """The linopy model of ``p``; with ``elastic`` the optional limits get slacks and the objective is their sum.

    Returns
    -------
    model, variables, slacks
        ``slacks`` is empty unless ``elastic``.
    """
    m = linopy.Model()
    c = _coords(p)
    slacks: dict[str, _Slack] | None = {} if elastic else None
    v = define_capacity_variables(m, p, c)
    define_build_constraints(m, p, v, c, slacks)
    define_dispatch_constraints(m, p, v, c)
    define_target_constraints(m, p, v, c, slacks)
    define_optional_constraints(m, p, v, c, slacks)
    if slacks is None:
        m.add_objective(cost_objective(p, v, c))
        return m, v, {}
    total: Any = 0
    for slack in slacks.values():
        total = total + (slack.var / slack.scale).sum()
    m.add_objective(total)
    return m, v, slacks


def _run_highs(m: linopy.Model, p: PlanProblem) -> tuple[str, str]:
    options: dict[str, Any] = {"output_flag": False, "mip_rel_gap": p.mip_rel_gap}
    if p.time_limit_s is not None:
        options["time_limit"] = float(p.time_limit_s)
    logger = logging.getLogger("linopy")
    level = logger.level
    logger.setLevel(logging.ERROR)  # an infeasible model is diagnosed here, not announced as a linopy warning
    try:
        status, condition = m.solve(solver_name="highs", io_api="direct", progress=False, **options)
    finally:
        logger.setLevel(level)
    return str(status), str(condition)


def _mip_gap(m: linopy.Model) -> float:
    highs = getattr(m, "solver_model", None)
    try:
        gap = float(highs.getInfo().mip_gap) if highs is not None else 0.0
    except AttributeError:
        return 0.0
    return gap if np.isfinite(gap) and gap < 1e20 else 0.0


def _values(var: linopy.Variable, *dims: str) -> FloatArray:
    """The solution, with the solver's tolerance-sized negatives set to zero (every variable is >= 0)."""
    return np.maximum(np.asarray(var.solution.transpose(*dims).values, dtype=float), 0.0)


def solve_plan(p: PlanProblem) -> PlanSolution:
    """Build and solve the plan.

    Raises
    ------
    PlanInfeasibleError
        If no plan meets every constraint; the message names those that bind (:func:`diagnose_infeasible`).
    PlanSolveError
        If HiGHS stops for another reason without a plan.
    """
    t0 = time.perf_counter()
    m, v, _ = build_model(p)
    t1 = time.perf_counter()
    status, condition = _run_highs(m, p)
    t2 = time.perf_counter()
    if "infeasible" in condition:
        raise diagnose_infeasible(p)
    if v.it.solution.isnull().any():
        raise PlanSolveError(f"HiGHS stopped without a plan: status {status}, {condition}")
    return _read_solution(p, m, v, f"{status}: {condition}", t1 - t0, t2 - t1)


def _read_solution(
    p: PlanProblem, m: linopy.Model, v: _Vars, status: str, build_s: float, solve_s: float
) -> PlanSolution:
    it = _values(v.it, "s", "o")
    pv, wind = _values(v.pv, "s"), _values(v.wind, "s")
    grid, charge, discharge = (_values(x, "s", "t") for x in (v.grid, v.charge, v.discharge))
    facility = np.einsum("sot,so->st", p.facility_mw_per_it_mw, it)
    pv_out = p.pv_mw_per_mw * pv[:, None]
    wind_out = p.wind_mw_per_mw * wind[:, None]
    spill = np.maximum(pv_out + wind_out + discharge + grid - charge - facility, 0.0)
    return PlanSolution(
        build=np.round(_values(v.build, "s"), 9),
        it_mw=it,
        pv_mw=pv,
        wind_mw=wind,
        battery_mwh=_values(v.bat_e, "s"),
        battery_mw=_values(v.bat_p, "s"),
        connection_mw=_values(v.conn, "s"),
        grid_mw=grid,
        charge_mw=charge,
        discharge_mw=discharge,
        soc_mwh=_values(v.soc, "s", "t"),
        facility_mw=facility,
        pv_out_mw=pv_out,
        wind_out_mw=wind_out,
        spill_mw=spill,
        objective_per_year=float(m.objective.value or 0.0) * MONEY_SCALE,
        status=status,
        mip_gap=_mip_gap(m),
        build_s=build_s,
        solve_s=solve_s,
    )


def elastic_violations(p: PlanProblem) -> dict[str, FloatArray]:
    """Least violation of each limit: the elastic model's slacks (``target-k``, ``connection``, ``carbon``, ...).

    Raises
    ------
    PlanSolveError
        If even the elastic model has no solution.
    """
    m, _, slacks = build_model(p, elastic=True)
    status, condition = _run_highs(m, p)
    if status != "ok":
        raise PlanSolveError(f"no plan meets the constraints, and the elastic re-solve failed too (HiGHS: {condition})")
    names = {"share": "share", "clean": "clean", "carbon": "carbon", "connection": "connection"}
    return {names.get(k, k): np.asarray(v.var.solution.values, dtype=float) for k, v in slacks.items()}


def diagnose_infeasible(p: PlanProblem) -> PlanInfeasibleError:
    """The error for an infeasible ``p``, naming the constraints that bind (:func:`elastic_violations`)."""
    violations = elastic_violations(p)
    return PlanInfeasibleError(describe(p, violations), field=field_of(violations))


def site_gpus(p: PlanProblem, solution: PlanSolution) -> FloatArray:
    """GPUs installed per site ``(S,)``."""
    return np.asarray((solution.it_mw * p.gpus_per_it_mw).sum(axis=1), dtype=float)

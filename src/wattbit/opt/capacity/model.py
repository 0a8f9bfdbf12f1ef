"""The planning optimisation: which sites to build and how much IT, PV, wind, battery and grid connection at each,
with an hourly dispatch over a representative period (linopy model, HiGHS solver).

Build, solve and read back are separate steps (:func:`build_model`, :func:`solve_monolithic`); each family of
constraints has its own ``define_*`` function, named ``<family>-<kind>`` in the model. The formulation
(``docs/planner.md``):
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
:class:`InfeasibleError` names every constraint that had to give and by how much.
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
from wattbit.opt.capacity.diagnose import TARGET_SLACK_WEIGHT, infeasible_error
from wattbit.opt.capacity.problem import (
    MONEY_SCALE,
    YEAR_H,
    CapacityProblem,
    CapacitySolution,
    solution_from,
    unit_costs,
)
from wattbit.opt.errors import InfeasibleError, SolveError
from wattbit.opt.highs import linopy_options
from wattbit.units import FloatArray


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


def _coords(problem: CapacityProblem) -> dict[str, pd.Index]:
    return {
        "s": pd.Index(list(problem.sites), name="s"),
        "o": pd.Index(list(problem.options), name="o"),
        "t": pd.RangeIndex(problem.hours, name="t"),
    }


def _da(values: Any, dims: tuple[str, ...], coords: dict[str, pd.Index]) -> xr.DataArray:
    return xr.DataArray(np.asarray(values, dtype=float), coords={d: coords[d] for d in dims}, dims=dims)


def define_capacity_variables(model: linopy.Model, problem: CapacityProblem, coords: dict[str, pd.Index]) -> _Vars:
    """Capacities per site and the hourly dispatch variables."""
    s, st = [coords["s"]], [coords["s"], coords["t"]]
    if problem.integer_build:
        build = model.add_variables(coords=s, name="Site-build", binary=True)
    else:
        build = model.add_variables(lower=0.0, upper=1.0, coords=s, name="Site-build")
    it_upper = np.where(problem.allowed, problem.max_it_mw[:, None], 0.0)
    it = model.add_variables(lower=0.0, upper=_da(it_upper, ("s", "o"), coords), name="IT-capacity")
    pv = model.add_variables(lower=0.0, upper=_da(problem.max_pv_mw, ("s",), coords), name="PV-capacity")
    wind = model.add_variables(lower=0.0, upper=_da(problem.max_wind_mw, ("s",), coords), name="Wind-capacity")
    bat_e = model.add_variables(lower=0.0, upper=_da(problem.max_battery_mwh, ("s",), coords), name="Battery-energy")
    no_battery = _da(np.where(problem.max_battery_mwh > 0.0, np.inf, 0.0), ("s",), coords)
    bat_p = model.add_variables(lower=0.0, upper=no_battery, coords=s, name="Battery-power")
    conn = model.add_variables(lower=0.0, coords=s, name="Grid-connection")
    grid = model.add_variables(lower=0.0, coords=st, name="Grid-import")
    charge = model.add_variables(lower=0.0, coords=st, name="Battery-charge")
    discharge = model.add_variables(lower=0.0, coords=st, name="Battery-discharge")
    soc = model.add_variables(lower=0.0, coords=st, name="Battery-soc")
    return _Vars(build, it, pv, wind, bat_e, bat_p, conn, grid, charge, discharge, soc)


def define_build_constraints(
    model: linopy.Model,
    problem: CapacityProblem,
    variables: _Vars,
    coords: dict[str, pd.Index],
    slacks: dict[str, _Slack] | None,
) -> None:
    """Nothing is built at a site that is not built; the connection within the utility's offer."""
    model.add_constraints(
        variables.it.sum("o") - _da(problem.max_it_mw, ("s",), coords) * variables.build <= 0, name="Site-it-build"
    )
    model.add_constraints(
        variables.pv - _da(problem.max_pv_mw, ("s",), coords) * variables.build <= 0, name="Site-pv-build"
    )
    model.add_constraints(
        variables.wind - _da(problem.max_wind_mw, ("s",), coords) * variables.build <= 0, name="Site-wind-build"
    )
    lhs = variables.conn - _da(problem.max_connection_mw, ("s",), coords) * variables.build
    if slacks is not None:
        extra = model.add_variables(lower=0.0, coords=[coords["s"]], name="Slack-connection")
        slacks["connection"] = _Slack(extra, _da(problem.max_connection_mw, ("s",), coords))
        lhs = lhs - extra
    model.add_constraints(lhs <= 0, name="Grid-connection-limit")


def define_dispatch_constraints(
    model: linopy.Model, problem: CapacityProblem, variables: _Vars, coords: dict[str, pd.Index]
) -> None:
    """Hourly grid, battery and energy balance."""
    b = problem.battery
    model.add_constraints(variables.grid - variables.conn <= 0, name="Grid-import-limit")
    model.add_constraints(variables.charge - variables.bat_p <= 0, name="Battery-charge-limit")
    model.add_constraints(variables.discharge - variables.bat_p <= 0, name="Battery-discharge-limit")
    model.add_constraints(variables.soc - variables.bat_e <= 0, name="Battery-soc-max")
    model.add_constraints(variables.soc - b.soc_min * variables.bat_e >= 0, name="Battery-soc-min")
    model.add_constraints(
        variables.soc
        - variables.soc.roll(t=1)
        - b.charge_efficiency * variables.charge
        + (1.0 / b.discharge_efficiency) * variables.discharge
        == 0,
        name="Battery-soc-balance",
    )
    facility = (_da(problem.facility_mw_per_it_mw, ("s", "o", "t"), coords) * variables.it).sum("o")
    supply = (
        _da(problem.pv_mw_per_mw, ("s", "t"), coords) * variables.pv
        + _da(problem.wind_mw_per_mw, ("s", "t"), coords) * variables.wind
        + variables.discharge
        + variables.grid
        - variables.charge
    )
    model.add_constraints(supply - facility >= 0, name="Site-energy-balance")


def define_target_constraints(
    model: linopy.Model,
    problem: CapacityProblem,
    variables: _Vars,
    coords: dict[str, pd.Index],
    slacks: dict[str, _Slack] | None,
) -> None:
    """Each stage's compute from the sites ready by then."""
    coef = _da(problem.target_coefficient(), ("s", "o"), coords)
    for k, stage in enumerate(problem.stages):
        ready = _da(np.asarray(stage.available, dtype=float), ("s",), coords)
        lhs = (coef * ready * variables.it).sum()
        if slacks is not None:
            extra = model.add_variables(lower=0.0, name=f"Slack-target-{k}")
            # the target is what the user asks for: relax the limits first, the target only if nothing else helps
            slacks[f"target-{k}"] = _Slack(extra, stage.size / TARGET_SLACK_WEIGHT)
            lhs = lhs + extra
        model.add_constraints(lhs >= stage.size, name=f"Target-compute-{k}")


def _facility_energy_mwh(
    problem: CapacityProblem, variables: _Vars, coords: dict[str, pd.Index]
) -> linopy.LinearExpression:
    """Facility energy per year as a linear expression of IT capacity [MWh/yr]."""
    per_mw = problem.facility_mw_per_it_mw.sum(axis=2) * problem.year_weight
    return (_da(per_mw, ("s", "o"), coords) * variables.it).sum()


def define_optional_constraints(
    model: linopy.Model,
    problem: CapacityProblem,
    variables: _Vars,
    coords: dict[str, pd.Index],
    slacks: dict[str, _Slack] | None,
) -> None:
    """Carbon cap, hourly clean-energy share and the largest share of GPUs at one site, where asked for."""
    w = problem.year_weight
    if problem.carbon_cap_t_per_year is not None:
        lhs = (_da(problem.carbon_t_per_mwh * w, ("s", "t"), coords) * variables.grid).sum()
        if slacks is not None:
            extra = model.add_variables(lower=0.0, name="Slack-carbon")
            slacks["carbon"] = _Slack(extra, max(problem.carbon_cap_t_per_year, 1.0))
            lhs = lhs - extra
        model.add_constraints(lhs <= problem.carbon_cap_t_per_year, name="Carbon-cap")
    if problem.min_clean_energy_share is not None:
        if np.isnan(problem.cfe_fraction).any():
            bad = [problem.sites[i] for i in np.flatnonzero(np.isnan(problem.cfe_fraction).any(axis=1))]
            raise WattbitInputError(
                f"min_clean_energy_share needs the grid's carbon-free share every hour, but it is unknown at {bad} "
                "(their carbon data give only an intensity); use carbon data with a generation mix or a CFE column",
                field="plan.constraints.min_clean_energy_share",
            )
        dirty = (_da((1.0 - problem.cfe_fraction) * w, ("s", "t"), coords) * variables.grid).sum()
        lhs = dirty - (1.0 - problem.min_clean_energy_share) * _facility_energy_mwh(problem, variables, coords)
        if slacks is not None:
            extra = model.add_variables(lower=0.0, name="Slack-clean")
            slacks["clean"] = _Slack(extra, _nominal_energy_mwh(problem))
            lhs = lhs - extra
        model.add_constraints(lhs <= 0, name="Clean-energy-share")
    if problem.max_site_share is not None:
        gpus = (_da(problem.gpus_per_it_mw, ("s", "o"), coords) * variables.it).sum("o")
        lhs = gpus - problem.max_site_share * gpus.sum("s")
        if slacks is not None:
            extra = model.add_variables(lower=0.0, coords=[coords["s"]], name="Slack-site-share")
            slacks["share"] = _Slack(extra, _nominal_gpus(problem))
            lhs = lhs - extra
        model.add_constraints(lhs <= 0, name="Site-share")


def _final_it_mw(problem: CapacityProblem) -> float:
    size = max(stage.size for stage in problem.stages) if problem.stages else 1.0
    if problem.target_unit == "gpus":
        return size / float(np.mean(problem.gpus_per_it_mw[problem.allowed]))
    return size


def _nominal_energy_mwh(problem: CapacityProblem) -> float:
    return max(1.0, _final_it_mw(problem) * YEAR_H)


def _nominal_gpus(problem: CapacityProblem) -> float:
    return max(1.0, _final_it_mw(problem) * float(np.mean(problem.gpus_per_it_mw[problem.allowed])))


def cost_objective(problem: CapacityProblem, variables: _Vars, coords: dict[str, pd.Index]) -> linopy.LinearExpression:
    """Equivalent annual cost of the plan [currency / MONEY_SCALE per year], less GPU revenue for ``npv``."""
    k = 1.0 / MONEY_SCALE
    costs = unit_costs(problem, with_revenue=True)
    expr = (_da(costs.it_per_mw * k, ("s", "o"), coords) * variables.it).sum()
    capacities = (variables.pv, variables.wind, variables.bat_e, variables.bat_p, variables.conn, variables.build)
    for arr, var in zip(costs.per_site(), capacities, strict=True):
        expr = expr + (_da(arr * k, ("s",), coords) * var).sum()
    return expr + (_da(problem.price_per_mwh * problem.year_weight * k, ("s", "t"), coords) * variables.grid).sum()


def build_model(problem: CapacityProblem, *, elastic: bool = False) -> tuple[linopy.Model, _Vars, dict[str, _Slack]]:
    """The linopy model of ``problem``; with ``elastic`` the optional limits get slacks and the objective is their sum.

    Returns
    -------
    model, variables, slacks
        ``slacks`` is empty unless ``elastic``.
    """
    model = linopy.Model()
    coords = _coords(problem)
    slacks: dict[str, _Slack] | None = {} if elastic else None
    variables = define_capacity_variables(model, problem, coords)
    define_build_constraints(model, problem, variables, coords, slacks)
    define_dispatch_constraints(model, problem, variables, coords)
    define_target_constraints(model, problem, variables, coords, slacks)
    define_optional_constraints(model, problem, variables, coords, slacks)
    if slacks is None:
        model.add_objective(cost_objective(problem, variables, coords))
        return model, variables, {}
    total: Any = 0
    for slack in slacks.values():
        total = total + (slack.var / slack.scale).sum()
    model.add_objective(total)
    return model, variables, slacks


def _run_highs(model: linopy.Model, problem: CapacityProblem) -> tuple[str, str]:
    time_limit = None if problem.time_limit_s is None else float(problem.time_limit_s)
    options = linopy_options(mip_rel_gap=problem.mip_rel_gap, time_limit=time_limit)
    logger = logging.getLogger("linopy")
    level = logger.level
    logger.setLevel(logging.ERROR)  # an infeasible model is diagnosed here, not announced as a linopy warning
    try:
        status, condition = model.solve(solver_name="highs", io_api="direct", progress=False, **options)
    finally:
        logger.setLevel(level)
    return str(status), str(condition)


def _mip_gap(model: linopy.Model) -> float:
    highs = getattr(model, "solver_model", None)
    try:
        gap = float(highs.getInfo().mip_gap) if highs is not None else 0.0
    except AttributeError:
        return 0.0
    return gap if np.isfinite(gap) and gap < 1e20 else 0.0


def _values(var: linopy.Variable, *dims: str) -> FloatArray:
    """The solution, with the solver's tolerance-sized negatives set to zero (every variable is >= 0)."""
    return np.maximum(np.asarray(var.solution.transpose(*dims).values, dtype=float), 0.0)


def solve_monolithic(problem: CapacityProblem) -> CapacitySolution:
    """Build and solve the plan.

    Raises
    ------
    InfeasibleError
        If no plan meets every constraint; the message names those that bind (:func:`diagnose_infeasible`).
    SolveError
        If HiGHS stops for another reason without a plan.
    """
    t0 = time.perf_counter()
    model, variables, _ = build_model(problem)
    t1 = time.perf_counter()
    status, condition = _run_highs(model, problem)
    t2 = time.perf_counter()
    if "infeasible" in condition:
        raise diagnose_infeasible(problem)
    if variables.it.solution.isnull().any():
        raise SolveError(f"HiGHS stopped without a plan: status {status}, {condition}")
    return _read_solution(problem, model, variables, f"{status}: {condition}", t1 - t0, t2 - t1)


def _read_solution(
    problem: CapacityProblem, model: linopy.Model, variables: _Vars, status: str, build_s: float, solve_s: float
) -> CapacitySolution:
    capacities = {
        "build": np.round(_values(variables.build, "s"), 9),
        "it_mw": _values(variables.it, "s", "o"),
        "pv_mw": _values(variables.pv, "s"),
        "wind_mw": _values(variables.wind, "s"),
        "battery_mwh": _values(variables.bat_e, "s"),
        "battery_mw": _values(variables.bat_p, "s"),
        "connection_mw": _values(variables.conn, "s"),
    }
    dispatch = {
        "grid_mw": _values(variables.grid, "s", "t"),
        "charge_mw": _values(variables.charge, "s", "t"),
        "discharge_mw": _values(variables.discharge, "s", "t"),
        "soc_mwh": _values(variables.soc, "s", "t"),
    }
    objective = float(model.objective.value or 0.0) * MONEY_SCALE
    return solution_from(
        problem, capacities, dispatch, objective, status, mip_gap=_mip_gap(model), build_s=build_s, solve_s=solve_s
    )


def elastic_violations(problem: CapacityProblem) -> dict[str, FloatArray]:
    """Least violation of each limit: the elastic model's slacks (``target-k``, ``connection``, ``carbon``, ...).

    Raises
    ------
    SolveError
        If even the elastic model has no solution.
    """
    model, _, slacks = build_model(problem, elastic=True)
    status, condition = _run_highs(model, problem)
    if status != "ok":
        raise SolveError(f"no plan meets the constraints, and the elastic re-solve failed too (HiGHS: {condition})")
    names = {"share": "share", "clean": "clean", "carbon": "carbon", "connection": "connection"}
    return {names.get(k, k): np.asarray(variables.var.solution.values, dtype=float) for k, variables in slacks.items()}


def diagnose_infeasible(problem: CapacityProblem) -> InfeasibleError:
    """The error for an infeasible ``problem``, naming the constraints that bind (:func:`elastic_violations`)."""
    violations = elastic_violations(problem)
    return infeasible_error(problem, violations)

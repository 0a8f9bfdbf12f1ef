"""Monte Carlo that re-optimises the capacities per draw, and the plan that holds up best across the draws.

:mod:`wattbit.plan.uncertainty` keeps the chosen capacities and re-evaluates them under each draw. Here each draw
first changes what the optimiser sees — grid prices (``energy_price_multiplier``), grid carbon
(``grid_carbon_multiplier``, which binds through a carbon cap) and the capacity costs (``capex_it_multiplier`` on
the GPUs and servers, ``capex_facility_multiplier`` on the building and the site's fixed cost, their mean on the IT
cost per MW, which holds both; ``capex_energy_multiplier`` on PV, wind, battery and connection; U: the groups of
:class:`~wattbit.montecarlo.engine.UncertaintySpec` mapped onto the planner's cost terms) — and solves the planning
problem again (:func:`wattbit.opt.capacity.solve_capacity`). Its plan is then evaluated under that draw exactly as
:class:`~wattbit.plan.uncertainty.PlanDraw` evaluates the deterministic plan, so the two NPVs of a row compare:
``regret`` is what the deterministic plan loses in that draw against the plan made for it.

A plan made for one draw must also live with the others: each task evaluates its own plan under every draw of the
run (the draws are sampled from the run's seed, so every worker knows them) and reports the mean and the P10 of its
NPV across them. The **robust plan** is the draw's plan with the largest mean NPV across all draws (a sample
average over candidate plans; ties to the lower draw). Uniform price multipliers leave each plan's hourly dispatch
optimal (the dispatch LP's objective only scales), so this cross-evaluation is exact within the model.

Every task runs through the executor interface (:mod:`wattbit.parallel`: local processes by default, a Dask
cluster when configured); the same seed gives the same table on any executor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from wattbit.montecarlo.engine import MonteCarloResult, UncertaintySpec, run_monte_carlo, sample_draws
from wattbit.opt.capacity import CapacityProblem, CapacitySolution, site_gpus, solve_capacity
from wattbit.parallel import Executor
from wattbit.plan.evaluate import annual_figures
from wattbit.plan.inputs import PlanContext
from wattbit.plan.uncertainty import PlanDraw

#: Per-site capacities each row reports, ``<name>_<site>``.
CAPACITY_COLUMNS = ("it_mw", "pv_mw", "wind_mw", "battery_mwh", "connection_mw")


def perturbed_problem(problem: CapacityProblem, draw: Mapping[str, float]) -> CapacityProblem:
    """``problem`` as the optimiser sees it under ``draw``'s multipliers (absent ones are 1)."""
    price = float(draw.get("energy_price_multiplier", 1.0))
    carbon = float(draw.get("grid_carbon_multiplier", 1.0))
    it_group = float(draw.get("capex_it_multiplier", 1.0))
    facility = float(draw.get("capex_facility_multiplier", 1.0))
    energy = float(draw.get("capex_energy_multiplier", 1.0))
    it_cost = problem.it_cost_per_mw * (0.5 * (it_group + facility))
    return replace(
        problem,
        price_per_mwh=problem.price_per_mwh * price,
        carbon_t_per_mwh=problem.carbon_t_per_mwh * carbon,
        it_cost_per_mw=it_cost,
        pv_cost_per_mw=problem.pv_cost_per_mw * energy,
        wind_cost_per_mw=problem.wind_cost_per_mw * energy,
        battery_cost_per_mwh=problem.battery_cost_per_mwh * energy,
        battery_cost_per_mw=problem.battery_cost_per_mw * energy,
        connection_cost_per_mw=problem.connection_cost_per_mw * energy,
        site_cost=problem.site_cost * facility,
    )


@dataclass(frozen=True, eq=False)
class ReoptimisedDraw:
    """One draw: re-optimise, evaluate the new plan under this draw and under every draw of the run.

    Attributes
    ----------
    context, problem
        The planning inputs as solved for the deterministic plan.
    deterministic
        The deterministic plan (every multiplier 1), evaluated beside for ``regret``.
    carbon_t_per_year
        The deterministic plan's yearly carbon.
    draws
        Every draw of the run (for the cross-evaluation); empty: none.
    """

    context: PlanContext
    problem: CapacityProblem
    deterministic: CapacitySolution
    carbon_t_per_year: float
    draws: tuple[Mapping[str, float], ...] = ()

    def __call__(self, draw: Mapping[str, float]) -> dict[str, float]:
        """Outputs of one draw: ``npv``, ``carbon_t_per_year``, ``cost_per_gpu_hour`` of the re-optimised plan,
        ``npv_fixed`` of the deterministic plan, ``regret``, the cross-evaluation and the capacities."""
        p = self.problem
        solution = solve_capacity(perturbed_problem(p, draw))
        mine = PlanDraw(self.context, p, solution, annual_figures(self.context, p, solution)["carbon_t_per_year"])
        fixed = PlanDraw(self.context, p, self.deterministic, self.carbon_t_per_year)
        here, base = mine(draw), fixed(draw)
        across = np.array([mine(d)["npv"] for d in self.draws]) if self.draws else np.array([here["npv"]])
        out = {
            **here,
            "npv_fixed": base["npv"],
            "regret": here["npv"] - base["npv"],
            "npv_mean_across_draws": float(across.mean()),
            "npv_p10_across_draws": float(np.quantile(across, 0.1)),
            "gpus": float(site_gpus(p, solution).sum()),
            "sites_built": float((solution.it_mw.sum(axis=1) > 1e-6).sum()),
        }
        per_site = {
            "it_mw": solution.it_mw.sum(axis=1),
            "pv_mw": solution.pv_mw,
            "wind_mw": solution.wind_mw,
            "battery_mwh": solution.battery_mwh,
            "connection_mw": solution.connection_mw,
        }
        for name in CAPACITY_COLUMNS:
            for site, value in zip(p.sites, per_site[name], strict=True):
                out[f"{name}_{site}"] = float(value)
        return out


def reoptimised_monte_carlo(
    result: Any,
    n_draws: int,
    seed: int = 0,
    executor: str | Mapping[str, Any] | Executor | None = None,
    spec: UncertaintySpec | None = None,
    cross_evaluate: bool = True,
) -> MonteCarloResult:
    """Monte Carlo of ``result`` (a :class:`wattbit.plan.planner.PlanResult`) with the capacities re-optimised in
    every draw.

    Parameters
    ----------
    result
        The deterministic plan.
    n_draws, seed, executor, spec
        As :func:`wattbit.plan.uncertainty.plan_monte_carlo`.
    cross_evaluate
        Evaluate every draw's plan under every draw (``n_draws`` squared finance evaluations, spread over the
        tasks) for :func:`robust_plan`.

    Returns
    -------
    MonteCarloResult
        One row per draw: the multipliers, the outputs of :class:`ReoptimisedDraw`.
    """
    spec = spec or UncertaintySpec()
    draws: tuple[Mapping[str, float], ...] = ()
    if cross_evaluate:
        table = sample_draws(spec, n_draws, seed)
        names = [str(c) for c in table.columns if c != "seed"]
        draws = tuple(dict(zip(names, row, strict=True)) for row in table[names].to_numpy(dtype=float).tolist())
    model = ReoptimisedDraw(
        result.context, result.problem, result.solution, float(result.figures["carbon_t_per_year"]), draws
    )
    return run_monte_carlo(model, spec, n_draws, seed, executor)


def robust_plan(mc: MonteCarloResult, result: Any) -> dict[str, Any]:
    """The draw's plan with the largest mean NPV across the draws, beside the deterministic plan's.

    Returns
    -------
    dict
        ``draw`` (its row), ``npv_mean_across_draws`` and ``npv_p10_across_draws`` for it and for the deterministic
        plan (``deterministic_npv_mean``, ``deterministic_npv_p10``: its NPV in the same draws), ``sites`` (the robust
        plan's capacities per site), ``build_frequency`` (share of draws whose plan builds each site), ``regret``
        quantiles of the deterministic plan.
    """
    t = mc.table
    best = int(t["npv_mean_across_draws"].to_numpy().argmax())
    row = t.iloc[best]
    sites = result.problem.sites
    fixed = t["npv_fixed"].to_numpy(dtype=float)
    regret = t["regret"].to_numpy(dtype=float)
    return {
        "draw": int(t.index[best]),
        "npv_mean_across_draws": float(row["npv_mean_across_draws"]),
        "npv_p10_across_draws": float(row["npv_p10_across_draws"]),
        "deterministic_npv_mean": float(fixed.mean()),
        "deterministic_npv_p10": float(np.quantile(fixed, 0.1)),
        "sites": {s: {c: float(row[f"{c}_{s}"]) for c in CAPACITY_COLUMNS} for s in sites},
        "build_frequency": {s: float((t[f"it_mw_{s}"] > 1e-6).mean()) for s in sites},
        "regret": {k: float(np.quantile(regret, q)) for k, q in (("p10", 0.1), ("p50", 0.5), ("p90", 0.9))},
        "note": "each draw re-optimises the capacities; regret = the re-optimised plan's NPV less the deterministic "
        "plan's in the same draw (>= 0 up to the solver's gap); the robust plan has the largest mean NPV over all "
        "draws",
    }

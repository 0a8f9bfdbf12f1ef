"""Monte Carlo over a chosen plan: NPV and carbon when prices, grid carbon, capex, demand and failures differ.

The capacities stay as planned; each draw re-evaluates the plan's finance (:func:`wattbit.plan.evaluate.evaluate_plan`
with its multipliers) and scales its carbon. Draws run through the executor interface (:mod:`wattbit.parallel`:
local processes by default, a Dask cluster when configured) with :func:`wattbit.montecarlo.engine.run_monte_carlo`, so
the same seed gives the same table on any executor. How each drawn multiplier enters:

* ``energy_price_multiplier`` -> the energy-price lever (hourly import costs);
* ``capex_<group>_multiplier`` -> one capex lever, their mean (the plan's finance has a single capex lever; the
  groups of :class:`~wattbit.montecarlo.engine.UncertaintySpec` are drawn independently and averaged, U);
* ``demand_multiplier`` and ``failure_rate_multiplier`` -> the demand lever (GPU-hours sold and energy drawn):
  demand x (1 - ``FAILURE_LOSS_SHARE`` x (failure multiplier - 1)): failures at the base rate cost
  ``FAILURE_LOSS_SHARE`` of the GPU-hours, more or less in proportion to the rate (U);
* ``grid_carbon_multiplier`` -> carbon; carbon also scales with the demand lever (energy drawn).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from wattbit.montecarlo.engine import MonteCarloResult, UncertaintySpec, run_monte_carlo
from wattbit.opt.capacity import CapacityProblem, CapacitySolution
from wattbit.parallel import Executor
from wattbit.plan.evaluate import Levers, evaluate_plan
from wattbit.plan.inputs import PlanContext

#: Share of GPU-hours lost to failures at the base failure rate (U): Llama 3 405B's 419 unplanned interruptions in
#: 54 days on 16,384 GPUs, each costing the work since the last checkpoint and a restart, came to a few per cent of
#: the training time (REFERENCE.md §7; "more than 90 % effective training time" overall).
FAILURE_LOSS_SHARE = 0.03


@dataclass(frozen=True, eq=False)
class PlanDraw:
    """One draw's NPV and carbon for a fixed plan; picklable, so that workers can run it."""

    context: PlanContext
    problem: CapacityProblem
    solution: CapacitySolution
    carbon_t_per_year: float

    def __call__(self, draw: Mapping[str, float]) -> dict[str, float]:
        """Evaluate the plan under ``draw``'s multipliers (absent ones are 1)."""
        capex = [v for k, v in draw.items() if k.startswith("capex_") and k.endswith("_multiplier")]
        failure = float(draw.get("failure_rate_multiplier", 1.0))
        demand = float(draw.get("demand_multiplier", 1.0)) * max(1.0 - FAILURE_LOSS_SHARE * (failure - 1.0), 0.0)
        levers = Levers(
            capex=float(np.mean(capex)) if capex else 1.0,
            energy_price=float(draw.get("energy_price_multiplier", 1.0)),
            demand=demand,
        )
        fin = evaluate_plan(self.context, self.problem, self.solution, levers)
        carbon = self.carbon_t_per_year * float(draw.get("grid_carbon_multiplier", 1.0)) * demand
        return {"npv": fin.npv, "carbon_t_per_year": carbon, "cost_per_gpu_hour": fin.cost_per_gpu_hour}


def plan_monte_carlo(
    result: Any,
    n_draws: int,
    seed: int = 0,
    executor: str | Mapping[str, Any] | Executor | None = None,
    spec: UncertaintySpec | None = None,
) -> MonteCarloResult:
    """Monte Carlo of ``result`` (a :class:`wattbit.plan.planner.PlanResult`) over ``spec`` (default: the
    documented default distributions)."""
    model = PlanDraw(result.context, result.problem, result.solution, float(result.figures["carbon_t_per_year"]))
    return run_monte_carlo(model, spec or UncertaintySpec(), n_draws, seed, executor)


def uncertainty_summary(mc: MonteCarloResult) -> dict[str, Any]:
    """P10/P50/P90 (and mean) of the outputs, for ``plan.json``."""
    table = mc.summary()
    out: dict[str, Any] = {"draws": int(len(mc.table)), "seed": mc.seed}
    values = table.to_dict(orient="index")
    for name in mc.outputs:
        row: dict[Any, Any] = values[name]
        out[name] = {k: float(row[k]) for k in ("p10", "p50", "p90", "mean") if k in row}
    return out

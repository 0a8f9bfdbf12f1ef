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

:func:`uncertainty_summary` puts beside the P10/P50/P90 what a reader needs to judge them: each distribution with its
source, the deterministic plan (every multiplier 1) and the plan at the inputs' medians (the default distributions
are skewed on purpose, so the median draw is not the deterministic case), and the Monte Carlo's own tornado — how
much each drawn input moves the NPV across the draws (:func:`draw_tornado`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from wattbit.montecarlo.chunks import CHUNK_DRAWS, ChunkStore
from wattbit.montecarlo.distributions import Distribution
from wattbit.montecarlo.engine import MonteCarloResult, UncertaintySpec, run_monte_carlo
from wattbit.opt.capacity import CapacityProblem, CapacitySolution
from wattbit.parallel import Executor
from wattbit.plan.evaluate import Levers, evaluate_plan
from wattbit.plan.inputs import PlanContext

#: Share of GPU-hours lost to failures at the base failure rate (U): Llama 3 405B's 419 unplanned interruptions in
#: 54 days on 16,384 GPUs, each costing the work since the last checkpoint and a restart, came to a few per cent of
#: the training time (REFERENCE.md §7; "more than 90 % effective training time" overall).
FAILURE_LOSS_SHARE = 0.03

#: Where each default distribution of :class:`~wattbit.montecarlo.engine.UncertaintySpec` comes from
#: (docs/uncertainty.md; status as in REFERENCE.md).
DISTRIBUTION_SOURCES: dict[str, str] = {
    "energy_price_multiplier": "S/U: spread of JEPX fiscal-year average system prices FY2013-FY2020 (sd of log 0.257, "
    "REFERENCE.md §5) taken as the 20-year price level's",
    "grid_carbon_multiplier": "U: mostly lower as reactors restart and renewables grow (Kyushu 2024 mix about 0.56 x "
    "Tohoku 2022), a little higher if restarts stall",
    "capex_it_multiplier": "U: GPU prices unverified, -20 % / +25 %",
    "capex_facility_multiplier": "S: Cushman & Wakefield APAC 2025, Tokyo/Osaka 10.45-16.02 USD/W around 13.24",
    "capex_energy_multiplier": "U: overruns likelier than savings",
    "demand_multiplier": "U: ramp-up and demand risk below plan, little room above",
    "failure_rate_multiplier": "S/U: Meta RSC 6.50 vs 2.34 failures per 1,000 node-days read as P90/P10",
}


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
    store: ChunkStore | None = None,
    chunk_draws: int = CHUNK_DRAWS,
) -> MonteCarloResult:
    """Monte Carlo of ``result`` (a :class:`wattbit.plan.planner.PlanResult`) over ``spec`` (default: the
    documented default distributions); with ``store`` (a :class:`wattbit.durable.Checkpoint`) each chunk of draws
    (``chunk_draws``) is checkpointed and a resumed run evaluates only the rest."""
    model = PlanDraw(result.context, result.problem, result.solution, float(result.figures["carbon_t_per_year"]))
    return run_monte_carlo(model, spec or UncertaintySpec(), n_draws, seed, executor, store, chunk_draws)


def describe(dist: Distribution) -> str:
    """A distribution in words: ``Triangular(low=0.75, mode=1, high=1.1)``."""
    params = ", ".join(f"{f.name}={getattr(dist, f.name):g}" for f in fields(dist))  # type: ignore[arg-type]
    return f"{type(dist).__name__}({params})"


def distributions(spec: UncertaintySpec) -> list[dict[str, Any]]:
    """Each drawn input: its distribution, P10/median/P90, mean and source."""
    rows = []
    for name, dist in spec.parameters().items():
        p10, p50, p90 = (float(x) for x in dist.ppf([0.1, 0.5, 0.9]))
        rows.append(
            {
                "input": name,
                "distribution": describe(dist),
                "p10": p10,
                "p50": p50,
                "p90": p90,
                "mean": float(dist.mean),
                "source": DISTRIBUTION_SOURCES.get(name, "given by the caller"),
            }
        )
    return rows


def draw_tornado(mc: MonteCarloResult, spec: UncertaintySpec, output: str = "npv") -> list[dict[str, Any]]:
    """Which drawn inputs move ``output`` most across the draws, widest first.

    For each input: the Spearman rank correlation with the output, and the output's change when the input goes from
    its P10 to its P90 with the others held — the slope of a least-squares fit of the output on all inputs (with an
    intercept; each input alone when there are too few draws for the joint fit) times ``P90 - P10``.

    Returns
    -------
    list of dict
        ``input``, ``rank_correlation``, ``swing_p10_to_p90`` [output units], ``p10``, ``p90``.
    """
    params = [p for p in mc.parameters if mc.table[p].std() > 0]
    y = mc.table[output].to_numpy(dtype=float)
    ok = np.isfinite(y)
    x = mc.table.loc[ok, params].to_numpy(dtype=float)
    y = y[ok]
    dists = spec.parameters()
    if x.shape[0] > x.shape[1] + 1:
        design = np.column_stack([np.ones(x.shape[0]), x])
        slopes = np.linalg.lstsq(design, y, rcond=None)[0][1:]
    else:
        slopes = np.array([np.polyfit(x[:, j], y, 1)[0] for j in range(x.shape[1])])
    rows = []
    for j, name in enumerate(params):
        p10, p90 = (
            (float(v) for v in dists[name].ppf([0.1, 0.9])) if name in dists else np.quantile(x[:, j], [0.1, 0.9])
        )
        rho = float(spearmanr(x[:, j], y)[0]) if len(y) > 2 else float("nan")
        rows.append(
            {"input": name, "rank_correlation": rho, "swing_p10_to_p90": float(slopes[j] * (p90 - p10)),
             "p10": p10, "p90": p90}
        )  # fmt: skip
    return sorted(rows, key=lambda r: -abs(r["swing_p10_to_p90"]))


def uncertainty_summary(
    mc: MonteCarloResult, result: Any | None = None, spec: UncertaintySpec | None = None
) -> dict[str, Any]:
    """P10/P50/P90 (and mean) of the outputs, for ``plan.json``; with ``result`` (the plan), also the deterministic
    case, the case at the inputs' medians, each distribution with its source and the draws' tornado of the NPV."""
    spec = spec or UncertaintySpec()
    table = mc.summary()
    out: dict[str, Any] = {"draws": int(len(mc.table)), "seed": mc.seed}
    values = table.to_dict(orient="index")
    for name in mc.outputs:
        row: dict[Any, Any] = values[name]
        out[name] = {k: float(row[k]) for k in ("p10", "p50", "p90", "mean") if k in row}
    out["distributions"] = distributions(spec)
    out["tornado"] = draw_tornado(mc, spec) if len(mc.table) > 2 else []
    if result is not None:
        model = PlanDraw(result.context, result.problem, result.solution, float(result.figures["carbon_t_per_year"]))
        out["deterministic"] = model({})
        out["at_input_medians"] = model(spec.medians())
        out["note"] = (
            "deterministic: every multiplier 1 (the plan as evaluated); at_input_medians: every input at its median. "
            "The default distributions are skewed (demand and grid carbon mostly below plan), so P50 differs from "
            "the deterministic case."
        )
    return out

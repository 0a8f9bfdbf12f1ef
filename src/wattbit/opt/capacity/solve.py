"""``solve_capacity``: a :class:`~wattbit.opt.capacity.problem.CapacityProblem` by the monolithic linopy model for small
problems, Benders decomposition for large ones (the same optimisation; see :mod:`wattbit.opt.capacity.benders` for why).

Either way the result is a :class:`~wattbit.opt.capacity.problem.CapacitySolution`, or a
:class:`~wattbit.opt.errors.InfeasibleError` naming the limits that bind.
"""

from __future__ import annotations

import time
from typing import Literal

import numpy as np

from wattbit.opt.capacity.benders import BendersResult, master_violations, solve_benders
from wattbit.opt.capacity.diagnose import infeasible_error
from wattbit.opt.capacity.model import solve_monolithic
from wattbit.opt.capacity.problem import MONEY_SCALE, CapacityProblem, CapacitySolution, solution_from
from wattbit.units import FloatArray

Method = Literal["auto", "monolithic", "decomposed"]
#: Largest ``sites x hours`` solved as one linopy model by ``method="auto"``.
MONOLITHIC_MAX_SITE_HOURS = 4_000


def choose_method(problem: CapacityProblem, method: Method = "auto") -> Literal["monolithic", "decomposed"]:
    """The method ``auto`` picks: monolithic up to :data:`MONOLITHIC_MAX_SITE_HOURS` site-hours."""
    if method != "auto":
        return method
    return "monolithic" if len(problem.sites) * problem.hours <= MONOLITHIC_MAX_SITE_HOURS else "decomposed"


def solve_capacity(problem: CapacityProblem, method: Method = "auto", rel_gap: float = 1e-4) -> CapacitySolution:
    """The least-cost (or largest-NPV) plan of ``problem``.

    Parameters
    ----------
    problem
        The problem.
    method
        ``"monolithic"`` (one linopy model, HiGHS), ``"decomposed"`` (Benders) or ``"auto"``.
    rel_gap
        Relative optimality gap of the Benders loop (the monolithic model uses ``problem.mip_rel_gap``).

    Raises
    ------
    InfeasibleError
        If no plan meets every limit.
    """
    if choose_method(problem, method) == "monolithic":
        return solve_monolithic(problem)
    t0 = time.perf_counter()
    result = solve_benders(problem, rel_gap=rel_gap, time_limit_s=problem.time_limit_s)
    violations: dict[str, FloatArray | float]
    if not result.master_feasible:
        violations = dict(master_violations(problem))
        raise infeasible_error(problem, violations)
    if result.violated:
        violations = _dispatch_violations(result)
        raise infeasible_error(problem, violations)
    return _solution(problem, result, time.perf_counter() - t0)


def _dispatch_violations(result: BendersResult) -> dict[str, FloatArray | float]:
    return {
        "unserved": np.array([r.unserved_mwh for r in result.results]),
        "carbon": float(sum(r.excess_carbon_t for r in result.results)),
        "clean": float(sum(r.excess_dirty_mwh for r in result.results)),
    }


def _solution(problem: CapacityProblem, result: BendersResult, wall_s: float) -> CapacitySolution:
    lay = result.sites[0].layout
    k = result.capacities
    flows = [lp.dispatch() for lp in result.sites]
    grid, charge, discharge, soc = (np.maximum(np.stack([d[i] for d in flows]), 0.0) for i in range(4))
    capacities = {
        "build": result.build,
        "it_mw": k[:, : lay.n_options],
        "pv_mw": k[:, lay.pv],
        "wind_mw": k[:, lay.wind],
        "battery_mwh": k[:, lay.energy],
        "battery_mw": k[:, lay.power],
        "connection_mw": k[:, lay.grid],
    }
    dispatch = {"grid_mw": grid, "charge_mw": charge, "discharge_mw": discharge, "soc_mwh": soc}
    stats = result.stats
    status = f"benders: gap {max(stats.gap, 0.0):.1e} after {stats.iterations} iterations"
    return solution_from(
        problem,
        capacities,
        dispatch,
        stats.upper_bound * MONEY_SCALE,
        status,
        mip_gap=max(stats.gap, 0.0),
        build_s=0.0,
        solve_s=wall_s,
    )

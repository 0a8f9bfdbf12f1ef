"""The capacity programme: which candidate sites to build and how much IT, PV, wind, battery and grid connection at
each, with an hourly dispatch over a representative period.

``problem`` (the problem as arrays, its unit costs and solution), ``model`` (the monolithic linopy model, one
``define_*`` per family of constraints, for small problems), ``site_dispatch`` and ``benders`` (the same
optimisation by Benders decomposition, a HiGHS MILP master and one warm-started LP per site, for full years),
``diagnose`` (why no plan exists) and ``solve`` (:func:`solve_capacity`). Formulation: ``docs/planner.md``.
"""

from wattbit.opt.capacity.problem import (
    Battery,
    CapacityProblem,
    CapacitySolution,
    TargetStage,
    UnitCosts,
    capacity_cost_per_year,
    site_gpus,
    unit_costs,
)
from wattbit.opt.capacity.solve import Method, choose_method, solve_capacity

__all__ = [
    "Battery",
    "CapacityProblem",
    "CapacitySolution",
    "Method",
    "TargetStage",
    "UnitCosts",
    "capacity_cost_per_year",
    "choose_method",
    "site_gpus",
    "solve_capacity",
    "unit_costs",
]

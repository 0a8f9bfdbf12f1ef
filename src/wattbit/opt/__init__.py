"""The optimisation models, one home: the watt-bit dispatch programme (:mod:`wattbit.opt.dispatch`, used by the
``mpc`` and ``oracle`` policies) and the capacity programme (:mod:`wattbit.opt.capacity`, used by the planner), each
written once as ``define_*`` functions per family of constraints, with build, solve and read-back apart.

Entry points: :func:`solve_dispatch` and :func:`solve_capacity`. Either raises :class:`InfeasibleError` (a
:class:`~wattbit.errors.WattbitInputError`) naming the binding constraint when no solution meets the limits, or
:class:`SolveError` when HiGHS stops for another reason. :mod:`wattbit.opt.highs` keeps the solver quiet unless the
``wattbit.opt`` logger is enabled for DEBUG (``wattbit --verbose``).
"""

from wattbit.opt.capacity import CapacityProblem, CapacitySolution, TargetStage, solve_capacity
from wattbit.opt.dispatch import (
    CumulativeWork,
    DispatchInputs,
    DispatchPlan,
    DispatchWeights,
    SiteEnergyModel,
    WindowedWork,
    WorkClasses,
    solve_dispatch,
)
from wattbit.opt.errors import InfeasibleError, SolveError

__all__ = [
    "CapacityProblem",
    "CapacitySolution",
    "CumulativeWork",
    "DispatchInputs",
    "DispatchPlan",
    "DispatchWeights",
    "InfeasibleError",
    "SiteEnergyModel",
    "SolveError",
    "TargetStage",
    "WindowedWork",
    "WorkClasses",
    "solve_capacity",
    "solve_dispatch",
]

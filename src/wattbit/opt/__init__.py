"""The optimisation models, one home: the watt-bit dispatch programme (:mod:`wattbit.opt.dispatch`, used by the
``mpc`` and ``oracle`` policies) and the capacity programme (:mod:`wattbit.opt.capacity`, used by the planner), each
written once as ``define_*`` functions per family of constraints, with build, solve and read-back apart.

Entry points: :func:`solve_dispatch` and :func:`solve_capacity`. Either raises :class:`InfeasibleError` (a
:class:`~wattbit.errors.WattbitInputError`) naming the binding constraint when no solution meets the limits, or
:class:`SolveError` when HiGHS stops for another reason. :mod:`wattbit.opt.highs` keeps the solver quiet unless the
``wattbit.opt`` logger is enabled for DEBUG (``wattbit --verbose``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from wattbit.opt.dispatch.inputs import (
    CumulativeWork,
    DispatchInputs,
    DispatchPlan,
    DispatchWeights,
    SiteEnergyModel,
    WindowedWork,
    WorkClasses,
)
from wattbit.opt.errors import InfeasibleError, SolveError

if TYPE_CHECKING:
    from wattbit.opt.capacity import CapacityProblem, CapacitySolution, TargetStage, solve_capacity
    from wattbit.opt.dispatch import solve_dispatch

#: Names whose modules import linopy and the solver: loaded on first use, so that a process that only needs the
#: models' inputs (the greedy policy's site energy model) does not import them (2 s, and polars' threads).
_LAZY = {
    "CapacityProblem": "wattbit.opt.capacity",
    "CapacitySolution": "wattbit.opt.capacity",
    "TargetStage": "wattbit.opt.capacity",
    "solve_capacity": "wattbit.opt.capacity",
    "solve_dispatch": "wattbit.opt.dispatch.solve",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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

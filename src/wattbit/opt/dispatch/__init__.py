"""The watt-bit dispatch programme: training GPUs per site and cap level, inference routing, battery dispatch and
facility power over a window of slots, least weighted carbon and energy cost.

``inputs`` (what it takes and gives), ``model`` (linopy, one ``define_*`` per family of constraints), ``direct`` (the
same families assembled straight into HiGHS, for the controllers' re-plans), ``limits`` (infeasibility explained
before solving) and ``solve`` (:func:`solve_dispatch`). Formulation: ``docs/control.md``.
"""

from wattbit.opt.dispatch.inputs import (
    CumulativeWork,
    DispatchInputs,
    DispatchPlan,
    DispatchWeights,
    SiteEnergyModel,
    WindowedWork,
    WorkClasses,
)
from wattbit.opt.dispatch.solve import choose_backend, solve_dispatch

__all__ = [
    "CumulativeWork",
    "DispatchInputs",
    "DispatchPlan",
    "DispatchWeights",
    "SiteEnergyModel",
    "WindowedWork",
    "WorkClasses",
    "choose_backend",
    "solve_dispatch",
]

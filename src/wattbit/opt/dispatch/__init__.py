"""The watt-bit dispatch programme: training GPUs per site and cap level, inference routing, battery dispatch and
facility power over a window of slots, least weighted carbon and energy cost.

``inputs`` (what it takes and gives), ``model`` (linopy, one ``define_*`` per family of constraints), ``direct`` (the
same families assembled straight into HiGHS, for the controllers' re-plans), ``limits`` (infeasibility explained
before solving) and ``solve`` (:func:`solve_dispatch`). Formulation: ``docs/control.md``.
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

if TYPE_CHECKING:
    from wattbit.opt.dispatch.solve import choose_backend, solve_dispatch

#: Loaded on first use: the solve module imports linopy and the solver (see :mod:`wattbit.opt`).
_LAZY = {"choose_backend": "wattbit.opt.dispatch.solve", "solve_dispatch": "wattbit.opt.dispatch.solve"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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

"""``solve_dispatch``: the watt-bit dispatch programme of a window of slots, by the backend that fits it."""

from __future__ import annotations

import time
from typing import Literal

from wattbit.opt.dispatch.direct import solve_direct
from wattbit.opt.dispatch.inputs import DispatchInputs, DispatchPlan, DispatchWeights, WorkClasses
from wattbit.opt.dispatch.limits import check_hard_limits
from wattbit.opt.dispatch.model import solve_linopy

Backend = Literal["auto", "linopy", "highs"]


def choose_backend(inputs: DispatchInputs, backend: Backend = "auto") -> Literal["linopy", "highs"]:
    """``auto``: the direct HiGHS assembly for the class form without windowed work (the controllers' re-plans),
    linopy otherwise (the cumulative and windowed forms of the offline optimum)."""
    if backend != "auto":
        return backend
    return "highs" if isinstance(inputs.work, WorkClasses) and inputs.windowed is None else "linopy"


def solve_dispatch(
    inputs: DispatchInputs,
    weights: DispatchWeights | None = None,
    *,
    backend: Backend = "auto",
    time_limit_s: float | None = None,
) -> DispatchPlan:
    """The least-weighted-cost dispatch of ``inputs``.

    Parameters
    ----------
    inputs
        Sites, signals and work of the window.
    weights
        Objective weights (default :class:`DispatchWeights`).
    backend
        ``"linopy"`` (readable; every work form), ``"highs"`` (direct assembly, fast; the class form) or
        ``"auto"`` (:func:`choose_backend`). Both give the same optimum (tested).
    time_limit_s
        HiGHS time limit.

    Raises
    ------
    InfeasibleError
        When no plan meets the hard limits (capacity for inference, grid connection for the inference and pinned
        load, latency); the message names the site, slot and the numbers.
    SolveError
        When HiGHS stops without an optimal solution.
    """
    weights = weights or DispatchWeights()
    t0 = time.perf_counter()
    check_hard_limits(inputs)
    checks_s = time.perf_counter() - t0
    if choose_backend(inputs, backend) == "highs":
        plan = solve_direct(inputs, weights, time_limit_s)
    else:
        plan = solve_linopy(inputs, weights, time_limit_s)
    plan.build_seconds += checks_s
    return plan

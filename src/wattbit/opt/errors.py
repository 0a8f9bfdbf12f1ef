"""The two ways an optimisation can end without a solution.

:class:`InfeasibleError` is the user's to act on: no solution meets the limits asked for, and the message names the
binding constraint (a site's GPU capacity or grid connection, the latency limit, a plan's target, carbon cap or site
share) with the numbers that show why. :class:`SolveError` is the solver's: HiGHS stopped for another reason (a time
limit, numerical trouble).
"""

from __future__ import annotations

from wattbit.errors import WattbitInputError


class InfeasibleError(WattbitInputError):
    """No solution meets every hard constraint; the message names the binding one and by how much.

    Parameters
    ----------
    message
        What binds, with the numbers.
    constraint
        Short name of the binding constraint (``"GPU capacity"``, ``"grid connection"``, ``"latency limit"``,
        ``"plan.target"``, ...), for programs that react to it.
    field
        The scenario field to change, where there is one (``plan.constraints.carbon_cap_t_per_year``).
    """

    def __init__(self, message: str, *, constraint: str = "", field: str | None = None) -> None:
        self.constraint = constraint
        super().__init__(message, field=field)


class SolveError(RuntimeError):
    """HiGHS stopped without a solution for a reason other than infeasibility (time limit, numerical trouble)."""

"""One site's hourly dispatch for given capacities, as a HiGHS LP whose value and subgradient feed the Benders master.

For fixed capacities ``K = (it_o, pv, wind, E, P, G, carbon budget, dirty budget)`` the dispatch of a site is the
LP (columns ``g`` grid import, ``c`` charge, ``d`` discharge, ``e`` state of charge, ``u`` unserved energy, ``xc``
and ``xd`` excess carbon and excess grid energy that is not carbon-free, per year)::

    min   w sum_t price_t g_t + w pi_u sum_t u_t + pi_c xc + pi_d xd
    s.t.  g_t - c_t + d_t + u_t >= sum_o f_ot it_o - cf_t pv - cw_t wind        balance
          e_t - e_(t-1) - eta_c c_t + d_t / eta_d = 0                             cyclic state of charge
          w sum_t k_t g_t - xc <= carbon budget,   w sum_t (1 - cfe_t) g_t - xd <= dirty budget
          0 <= g <= G,  0 <= c, d <= P,  soc_min E <= e <= E,  u, xc, xd >= 0

The penalties ``pi`` make the LP feasible for any ``K``. They are exact penalties: once they exceed the limits'
shadow prices, ``u``, ``xc`` and ``xd`` are zero at the optimum wherever a feasible plan exists
(:mod:`wattbit.opt.capacity.benders` raises them if not). Capacities appear only in bounds and right-hand sides, so the
LP is sparse (two rows per hour) and re-solves warm in milliseconds when they change. Its optimal value ``V(K)`` is
convex and piecewise linear in ``K``; a subgradient comes from the duals: the balance row duals ``y_t`` give ``dV/dit_o
=
sum_t y_t f_ot`` and ``dV/dpv = -sum_t y_t cf_t``, and each column's reduced cost ``r_j`` is the sensitivity to the
bound it sits at (``r_j <= 0`` at the upper bound, ``>= 0`` at the lower), e.g. ``dV/dG = sum_t min(r_gt, 0)`` and
``dV/dE = sum_t min(r_et, 0) + soc_min max(r_et, 0)`` (LP duality; the tests check each component against finite
differences).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import highspy
import numpy as np
from scipy.sparse import coo_matrix

from wattbit.opt.capacity.problem import MONEY_SCALE, YEAR_H, CapacityProblem
from wattbit.opt.highs import INF, new_highs
from wattbit.units import FloatArray


@dataclass(frozen=True)
class CapacityLayout:
    """Positions of one site's capacities in its vector ``K`` (length ``O + 7``)."""

    n_options: int

    @property
    def pv(self) -> int:
        """Index of PV [MW]."""
        return self.n_options

    @property
    def wind(self) -> int:
        """Index of wind [MW]."""
        return self.n_options + 1

    @property
    def energy(self) -> int:
        """Index of battery energy [MWh]."""
        return self.n_options + 2

    @property
    def power(self) -> int:
        """Index of battery power [MW]."""
        return self.n_options + 3

    @property
    def grid(self) -> int:
        """Index of the grid connection [MW]."""
        return self.n_options + 4

    @property
    def carbon(self) -> int:
        """Index of the site's carbon budget [t/yr]."""
        return self.n_options + 5

    @property
    def dirty(self) -> int:
        """Index of the site's budget of grid energy that is not carbon-free [MWh/yr]."""
        return self.n_options + 6

    @property
    def size(self) -> int:
        """Length of ``K``."""
        return self.n_options + 7


@dataclass(frozen=True)
class Penalties:
    """Costs of the elastic columns [currency / MONEY_SCALE per unit]: per MWh unserved, t of excess carbon, MWh of
    excess not-carbon-free grid energy."""

    unserved_per_mwh: float
    carbon_per_t: float
    dirty_per_mwh: float

    def scaled(self, unserved: float, carbon: float, dirty: float) -> Penalties:
        """The penalties multiplied by the factors given."""
        return Penalties(self.unserved_per_mwh * unserved, self.carbon_per_t * carbon, self.dirty_per_mwh * dirty)


def penalties(problem: CapacityProblem) -> Penalties:
    """Starting penalties, from the costliest yearly capacity cost ``C`` (per MW): ``10 C`` per MWh unserved,
    ``10 C`` per the carbon of 1 MW-year at the lowest grid intensity, ``10 C`` per MW-year of dirty energy.

    One MWh short in one hour can always be avoided by moving ``1 / f`` MW of IT to another site, or by a MW of
    battery or connection, each cheaper than ``10 C``; carbon and dirty energy likewise.
    """
    costs = [
        np.abs(problem.it_cost_per_mw).max(initial=0.0),
        problem.connection_cost_per_mw.max(initial=0.0),
        problem.battery_cost_per_mw.max(initial=0.0),
        np.abs(problem.price_per_mwh).max(initial=0.0) * YEAR_H,
        1.0,
    ]
    c_ref = 10.0 * max(costs) / MONEY_SCALE
    positive = problem.carbon_t_per_mwh[problem.carbon_t_per_mwh > 0]
    intensity = float(positive.min()) if positive.size else 1.0
    return Penalties(c_ref, c_ref / (YEAR_H * intensity), c_ref / YEAR_H)


@dataclass(frozen=True)
class DispatchResult:
    """Value of a site's dispatch LP and a subgradient with respect to its capacities.

    Attributes
    ----------
    value
        Optimal value, penalties included [currency / MONEY_SCALE per year].
    gradient
        Subgradient with respect to ``K`` (see :class:`CapacityLayout`).
    unserved_mwh, excess_carbon_t, excess_dirty_mwh
        The elastic columns at the optimum, per year.
    balance_dual
        Duals of the hourly balance rows ``(T,)`` (what a twin site's cut needs: :func:`twin_cut`).
    """

    value: float
    gradient: FloatArray
    unserved_mwh: float
    excess_carbon_t: float
    excess_dirty_mwh: float
    balance_dual: FloatArray | None = None


class SiteDispatchLP:
    """The dispatch LP of site ``s`` of ``problem``, kept in one HiGHS instance and re-solved warm.

    Parameters
    ----------
    problem
        The planning problem.
    s
        Index of the site.
    penalties
        Costs of the elastic columns.
    """

    def __init__(self, problem: CapacityProblem, s: int, penalties: Penalties) -> None:
        problem = problem
        self.problem, self.s = problem, s
        self.layout = CapacityLayout(len(problem.options))
        self.t_n = problem.hours
        self.has_carbon = problem.carbon_cap_t_per_year is not None
        self.has_dirty = problem.min_clean_energy_share is not None
        self.highs = new_highs()
        self.highs.passModel(self._lp())
        self._last: tuple[FloatArray, DispatchResult] | None = None
        self._zero: DispatchResult | None = None
        self._holds_zero = False
        self.set_penalties(penalties)

    # columns: g [0, T), c [T, 2T), d [2T, 3T), e [3T, 4T), u [4T, 5T), xc 5T, xd 5T + 1
    def _lp(self) -> highspy.HighsLp:
        problem, s, t_n = self.problem, self.s, self.t_n
        w = problem.year_weight
        b = problem.battery
        t = np.arange(t_n)
        ones = np.ones(t_n)
        rows = [t, t, t, t, t_n + t, t_n + t, t_n + t, t_n + t]
        cols = [t, t_n + t, 2 * t_n + t, 4 * t_n + t, 3 * t_n + t, 3 * t_n + (t - 1) % t_n, t_n + t, 2 * t_n + t]
        vals = [ones, -ones, ones, ones, ones, -ones, -b.charge_efficiency * ones, ones / b.discharge_efficiency]
        n_rows, n_cols = 2 * t_n + 2, 5 * t_n + 2
        rows += [np.full(t_n, 2 * t_n), np.array([2 * t_n]), np.full(t_n, 2 * t_n + 1), np.array([2 * t_n + 1])]
        cols += [t, np.array([5 * t_n]), t, np.array([5 * t_n + 1])]
        vals += [
            w * problem.carbon_t_per_mwh[s],
            -np.ones(1),
            w * (1.0 - np.nan_to_num(problem.cfe_fraction[s])),
            -np.ones(1),
        ]
        a = coo_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_rows, n_cols)
        ).tocsc()
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = n_cols, n_rows
        lp.col_cost_ = np.concatenate([problem.price_per_mwh[s] * w / MONEY_SCALE, np.zeros(4 * t_n + 2)])
        lp.col_lower_ = np.zeros(n_cols)
        upper = np.full(n_cols, INF)
        upper[5 * t_n] = INF if self.has_carbon else 0.0
        upper[5 * t_n + 1] = INF if self.has_dirty else 0.0
        lp.col_upper_ = upper
        lp.row_lower_ = np.concatenate([np.zeros(t_n), np.zeros(t_n), [-INF, -INF]])
        lp.row_upper_ = np.concatenate([np.full(t_n, INF), np.zeros(t_n), [INF, INF]])
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a.indptr
        lp.a_matrix_.index_ = a.indices
        lp.a_matrix_.value_ = a.data
        return lp

    def set_penalties(self, penalties: Penalties) -> None:
        """Set the costs of the elastic columns (the basis is kept)."""
        t_n = self.t_n
        idx = np.arange(4 * t_n, 5 * t_n + 2, dtype=np.int32)
        cost = np.concatenate(
            [
                np.full(t_n, penalties.unserved_per_mwh * self.problem.year_weight),
                [penalties.carbon_per_t],
                [penalties.dirty_per_mwh],
            ]
        )
        self.highs.changeColsCost(idx.size, idx, cost)
        self._penalty_cost = cost
        self._last, self._zero = None, None

    def _set_capacities(self, highs: highspy.Highs, k: FloatArray) -> None:
        problem, s, t_n, lay = self.problem, self.s, self.t_n, self.layout
        demand = problem.facility_mw_per_it_mw[s].T @ k[: lay.n_options]
        net = demand - problem.pv_mw_per_mw[s] * k[lay.pv] - problem.wind_mw_per_mw[s] * k[lay.wind]
        e_max, power, grid = max(k[lay.energy], 0.0), max(k[lay.power], 0.0), max(k[lay.grid], 0.0)
        lower = np.concatenate([np.zeros(3 * t_n), np.full(t_n, problem.battery.soc_min * e_max)])
        upper = np.concatenate([np.full(t_n, grid), np.full(2 * t_n, power), np.full(t_n, e_max)])
        idx = np.arange(4 * t_n, dtype=np.int32)
        highs.changeColsBounds(idx.size, idx, lower, upper)
        ridx = np.arange(t_n, dtype=np.int32)
        highs.changeRowsBounds(t_n, ridx, net, np.full(t_n, INF))  # type: ignore[attr-defined]
        budgets = [k[lay.carbon] if self.has_carbon else INF, k[lay.dirty] if self.has_dirty else INF]
        bidx = np.array([2 * t_n, 2 * t_n + 1], dtype=np.int32)
        highs.changeRowsBounds(2, bidx, np.full(2, -INF), np.asarray(budgets, dtype=float))  # type: ignore[attr-defined]

    def start_from(self, other: SiteDispatchLP) -> None:
        """Take the basis of ``other`` (another site of the same problem: the same rows and columns) as this LP's
        starting basis. At the same kind of capacities the sites' optimal bases barely differ: from another site's,
        the first solve takes a handful of simplex iterations instead of one per hour."""
        self.highs.setBasis(other.highs.getBasis())
        self._last = None  # the solution held is no longer this basis's: the next solve runs

    def holds(self, k: FloatArray) -> bool:
        """Whether the last solve was at capacities ``k`` (so :meth:`solve` would return it again)."""
        return self._last is not None and np.array_equal(self._last[0], np.asarray(k, dtype=float))

    def solve(self, k: FloatArray) -> DispatchResult:
        """Value and subgradient of the dispatch at capacities ``k``.

        When ``k`` equals the capacities of the last solve, that solve's result is returned without running HiGHS
        (its solution is still the one held, so :meth:`dispatch` is unchanged). A site with nothing built (``k``
        all zero, as the master leaves every site it does not build) is solved once, in an instance of its own, so
        that the warm basis of the last plan with something built is kept for the next one.

        Raises
        ------
        RuntimeError
            If HiGHS ends without an optimal solution (it always has one: the LP is elastic and bounded).
        """
        k = np.array(k, dtype=float)
        if self._last is not None and np.array_equal(self._last[0], k):
            return self._last[1]
        if not k.any():
            if self._zero is None:
                self._zero = self._solve_zero(k)
            result, self._holds_zero = self._zero, True
        else:
            self._set_capacities(self.highs, k)
            result, self._holds_zero = _run(self.highs, self._gradient, self.t_n, self.problem.year_weight), False
        self._last = (k, result)
        return result

    def _solve_zero(self, k: FloatArray) -> DispatchResult:
        highs = new_highs()
        highs.passModel(self._lp())
        idx = np.arange(4 * self.t_n, 5 * self.t_n + 2, dtype=np.int32)
        highs.changeColsCost(idx.size, idx, self._penalty_cost)
        self._set_capacities(highs, k)
        return _run(highs, self._gradient, self.t_n, self.problem.year_weight)

    def _gradient(self, sol: highspy.HighsSolution) -> FloatArray:
        problem, s, t_n, lay = self.problem, self.s, self.t_n, self.layout
        row_dual = np.asarray(sol.row_dual, dtype=float)
        col_dual = np.asarray(sol.col_dual, dtype=float)
        y = row_dual[:t_n]
        grad = np.zeros(lay.size)
        grad[: lay.n_options] = problem.facility_mw_per_it_mw[s] @ y
        grad[lay.pv] = -float(problem.pv_mw_per_mw[s] @ y)
        grad[lay.wind] = -float(problem.wind_mw_per_mw[s] @ y)
        at_upper = np.minimum(col_dual, 0.0)
        at_lower = np.maximum(col_dual, 0.0)
        grad[lay.grid] = at_upper[:t_n].sum()
        grad[lay.power] = at_upper[t_n : 3 * t_n].sum()
        grad[lay.energy] = (
            at_upper[3 * t_n : 4 * t_n].sum() + problem.battery.soc_min * at_lower[3 * t_n : 4 * t_n].sum()
        )
        grad[lay.carbon] = row_dual[2 * t_n] if self.has_carbon else 0.0
        grad[lay.dirty] = row_dual[2 * t_n + 1] if self.has_dirty else 0.0
        return grad

    def dispatch(self) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
        """Hourly ``grid, charge, discharge, soc, unserved`` [MW, MWh] of the last solve."""
        t_n = self.t_n
        if self._holds_zero:  # nothing built: every flow is zero
            return tuple(np.zeros(t_n) for _ in range(5))  # type: ignore[return-value]
        x = np.asarray(self.highs.getSolution().col_value, dtype=float)
        return x[:t_n], x[t_n : 2 * t_n], x[2 * t_n : 3 * t_n], x[3 * t_n : 4 * t_n], x[4 * t_n : 5 * t_n]


def _run(
    highs: highspy.Highs, gradient: Callable[[highspy.HighsSolution], FloatArray], t_n: int, weight: float
) -> DispatchResult:
    """Solve ``highs`` (from its basis; once more from scratch if that fails) and read the result."""
    highs.run()
    status = highs.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        highs.clearSolver()  # start afresh once: a warm start can stall on a degenerate basis
        highs.run()
        status = highs.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError(f"site dispatch LP: HiGHS ended with {highs.modelStatusToString(status)}")
    sol = highs.getSolution()
    x = np.asarray(sol.col_value, dtype=float)
    return DispatchResult(
        value=float(highs.getInfo().objective_function_value),
        gradient=gradient(sol),
        unserved_mwh=float(x[4 * t_n : 5 * t_n].sum()) * weight,
        excess_carbon_t=float(x[5 * t_n]),
        excess_dirty_mwh=float(x[5 * t_n + 1]),
        balance_dual=np.asarray(sol.row_dual, dtype=float)[:t_n],
    )


def twin_cut(
    problem: CapacityProblem, result: DispatchResult, s: int, r: int, at: FloatArray
) -> tuple[float, FloatArray]:
    """A cut for site ``r`` from site ``s``'s dispatch at ``at``, when the two LPs differ only in PV output per MW.

    The LPs then have the same matrix and costs, so ``s``'s optimal duals are feasible duals of ``r``'s LP, and by
    weak duality their objective, linear in the capacities, bounds ``V_r`` from below everywhere. It differs from
    ``s``'s cut only through the balance rows' right-hand side ``-cf_t pv``: the value at ``at`` moves by
    ``pv sum_t y_t (cf_st - cf_rt)`` and the PV component of the gradient is ``-sum_t y_t cf_rt``. Where ``at`` has
    no PV the two LPs are the same and the cut is as tight for ``r`` as for ``s``.

    Returns
    -------
    tuple
        ``(value, gradient)`` at ``at`` for site ``r``.
    """
    if result.balance_dual is None:
        raise ValueError("the dispatch result carries no balance duals")
    lay = CapacityLayout(len(problem.options))
    y = result.balance_dual
    cf_s, cf_r = problem.pv_mw_per_mw[s], problem.pv_mw_per_mw[r]
    gradient = result.gradient.copy()
    gradient[lay.pv] = -float(cf_r @ y)
    return result.value + float(at[lay.pv]) * float((cf_s - cf_r) @ y), gradient

"""The planning problem solved by Benders decomposition: capacities in a small HiGHS MILP (the master), each site's
hourly dispatch in its own LP (:class:`~wattbit.opt.capacity.site_dispatch.SiteDispatchLP`).

Why: the model of :mod:`wattbit.opt.capacity.model` over 8,760 hours has capacity columns in every hour's rows, which
makes each simplex iteration (and each interior-point iteration) expensive — three sites took HiGHS over two minutes.
With capacities fixed, a site's dispatch is a sparse LP that re-solves warm in milliseconds, and its value ``V_s(K)`` is
convex in the capacities ``K``. The master holds the capacities, the build decisions, the targets, the site share
and the carbon and clean-energy limits (split into per-site budgets ``cb_s``, ``db_s`` that the dispatch LPs must
respect), and one variable ``theta_s`` per site bounded below by cuts::

    theta_s >= V_s(K^k) + g^k (K_s - K_s^k)              one cut per site and point K^k

The dispatch LPs are elastic — unserved energy, carbon above the site's budget and grid energy that is not
carbon-free above its budget are allowed at a high price (:func:`penalties`: ten times the costliest capacity's
yearly cost per MWh short, or per a MW-year's carbon) — so every ``K`` gives a cut and no feasibility cuts are needed.
The master's optimum is a lower bound and every evaluated ``K`` an upper bound; the loop stops when they are within
``rel_gap``. The penalties are far above the shadow price of any limit a real plan can meet (a MWh short in one hour
is always cheaper to avoid by moving ``1 / f`` MW of IT, or by a MW of battery or connection), so when the best plan
still pays them, no plan meets the limits and the elastic amounts say by how much. (Raising them further to make
sure would put coefficients of 1e10 next to 1 in the master, where HiGHS's MILP then reports a feasible model
infeasible.) It is the same optimisation as the monolithic model (``tests/plan`` compare both), solved up to the gap.
Targets and site share live in the master alone: if it is infeasible, :func:`master_violations` names them.

The first cuts are taken at five spread-out points (no renewables, full renewables with 4- and 8-hour batteries, ...):
this cut the iterations on the 2022 Japan sites from about 80 to about 10.

To damp the first iterations' swings, each iteration evaluates the sites at a point between the master's solution
and the best plan so far (the "in-out" stabilisation of Ben-Ameur and Neto, 2007); the cut is valid wherever it is
taken. While the best plan still pays for unserved energy or excess carbon (a centre that would keep a share of
that penalty for many iterations) the point is the master's solution made serviceable
(:func:`~wattbit.opt.capacity.points.serviceable`: connection up to the peak load, battery power down to it), every
other iteration its own; and it is the master's own solution when the bound rises by less than :data:`STALL_SHARE`
of the gap (near the optimum the bound is found long before the damped points reach it).

Twin sites — candidates of one grid area with one weather station: the same prices, carbon and facility power, only
their PV output differs — have dispatch LPs with the same matrix and costs, so each site's solve also gives a cut to
each of its twins (:func:`~wattbit.opt.capacity.site_dispatch.twin_cut`), and at the first spread-out points only one
site per group is solved. At 20 sites in five areas these changes took the loop from 83 iterations to 15.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import highspy
import numpy as np

from wattbit.opt.capacity.diagnose import TARGET_SLACK_WEIGHT
from wattbit.opt.capacity.points import cheapest_build, initial_point, initial_points, serviceable
from wattbit.opt.capacity.problem import MONEY_SCALE, YEAR_H, CapacityProblem, unit_costs
from wattbit.opt.capacity.site_dispatch import (
    CapacityLayout,
    DispatchResult,
    SiteDispatchLP,
    penalties,
    twin_cut,
)
from wattbit.opt.capacity.site_pool import SitePool, idle_to_zero
from wattbit.opt.errors import SolveError
from wattbit.opt.highs import INF, new_highs
from wattbit.units import FloatArray

#: The master is solved as an LP (build decisions in [0, 1]) until the bounds are this close (or its bound stops
#: rising), then as a MILP.
RELAXED_GAP = 1e-2
#: The in-out point moves to the master's own point when the lower bound rises by less than this share of the gap
#: (near the optimum the bound is found long before the damped points reach it).
STALL_SHARE = 0.01
#: HiGHS options of the master MILP: its sub-MIP and rounding heuristics took two thirds of each solve.
MASTER_OPTIONS = {
    "mip_heuristic_effort": 0.0,
    **dict.fromkeys(("mip_heuristic_run_rins", "mip_heuristic_run_rens", "mip_heuristic_run_root_reduced_cost"), False),
}
#: Master capacities below this [MW, MWh, t] are read as zero (a site with nothing built is solved once).
ZERO_CAPACITY = 1e-9
#: Elastic amounts below this share of their scale (the target's yearly energy, the carbon cap) are rounding.
VIOLATION_TOLERANCE = 1e-7


@dataclass
class BendersStats:
    """How the loop went."""

    iterations: int = 0
    lower_bound: float = -np.inf
    upper_bound: float = np.inf
    cuts: int = 0
    master_s: float = 0.0
    dispatch_s: float = 0.0
    history: list[tuple[float, float]] = field(default_factory=list)

    @property
    def gap(self) -> float:
        """Relative gap between the bounds."""
        if not np.isfinite(self.upper_bound):
            return np.inf
        return (self.upper_bound - self.lower_bound) / max(abs(self.upper_bound), 1e-9)


@dataclass(frozen=True)
class BendersResult:
    """The best capacities found and the loop's statistics.

    Attributes
    ----------
    capacities
        ``(S, O + 7)``: per site the layout of :class:`~wattbit.opt.capacity.site_dispatch.CapacityLayout`.
    build
        ``(S,)`` build decisions.
    master_feasible
        False if the targets and site share cannot be met by any capacities (see :func:`master_violations`).
    sites
        The dispatch LPs, holding the dispatch of ``capacities``.
    results
        Their results at ``capacities`` (elastic amounts: ``unserved_mwh``, ``excess_carbon_t``, ...).
    stats
        Bounds, iterations and times.
    """

    capacities: FloatArray
    build: FloatArray
    master_feasible: bool
    sites: list[SiteDispatchLP]
    results: list[DispatchResult]
    stats: BendersStats

    violated: bool = False


class _Master:
    """The capacity MILP with its cuts, in one HiGHS instance; ``elastic``: slack on targets and share, no costs."""

    def __init__(self, problem: CapacityProblem, elastic: bool = False) -> None:
        self.problem, self.elastic = problem, elastic
        self.lay = CapacityLayout(len(problem.options))
        self.width = self.lay.size + 2  # K, build, theta
        self.n_site_cols = len(problem.sites) * self.width
        self.slack_cols: dict[str, np.ndarray] = {}
        self.highs = new_highs(mip_rel_gap=min(problem.mip_rel_gap, 1e-6), **MASTER_OPTIONS)
        self._columns()
        self._rows()

    def set_integer(self, integer: bool) -> None:
        """Solve the build decisions as binaries (if the problem asks for them) or relaxed to [0, 1]."""
        self.integer = integer and self.problem.integer_build and not self.elastic
        idx = np.array([self.col(s, self.lay.size) for s in range(len(self.problem.sites))], dtype=np.int32)
        kind = np.full(idx.size, 1 if self.integer else 0, dtype=np.uint8)
        self.highs.changeColsIntegrality(idx.size, idx, kind)

    def col(self, s: int, j: int) -> int:
        """Column of entry ``j`` of site ``s``'s block (``j = lay.size`` is build, ``lay.size + 1`` theta)."""
        return s * self.width + j

    def _columns(self) -> None:
        problem, lay, h = self.problem, self.lay, self.highs
        lo, hi, cost = [], [], []
        battery_power = np.where(problem.max_battery_mwh > 0.0, INF, 0.0)
        for s in range(len(problem.sites)):
            it_hi = np.where(problem.allowed[s], problem.max_it_mw[s], 0.0)
            his = [
                *it_hi,
                problem.max_pv_mw[s],
                problem.max_wind_mw[s],
                min(problem.max_battery_mwh[s], INF),
                battery_power[s],
                INF,
            ]
            his += [INF if problem.carbon_cap_t_per_year is not None else 0.0]
            his += [INF if problem.min_clean_energy_share is not None else 0.0]
            theta = (0.0, 0.0) if self.elastic else (_theta_floor(problem, s), INF)
            lo += [0.0] * lay.size + [0.0, theta[0]]
            hi += [*his, 1.0, theta[1]]
            cost += [*self.capacity_cost(s), 1.0]
        n = len(lo)
        h.addVars(n, np.asarray(lo), np.asarray(hi))
        h.changeColsCost(n, np.arange(n, dtype=np.int32), np.asarray(cost))
        self.set_integer(True)
        if self.elastic:
            scales = violation_scales(problem)
            target = scales["target"] / TARGET_SLACK_WEIGHT
            for name, m, scale in [(f"target-{k}", 1, target) for k in range(len(problem.stages))] + [
                ("share", len(problem.sites), scales["share"])
            ]:
                start = h.getNumCol()
                h.addVars(m, np.zeros(m), np.full(m, INF))
                idx = np.arange(start, start + m, dtype=np.int32)
                h.changeColsCost(m, idx, np.full(m, 1.0 / scale))
                self.slack_cols[name] = idx

    def capacity_cost(self, s: int) -> FloatArray:
        """Objective coefficients of site ``s``'s K and build [currency / MONEY_SCALE per year]."""
        lay = self.lay
        cost = np.zeros(lay.size + 1)
        if self.elastic:
            return cost
        units = unit_costs(self.problem, with_revenue=True)
        cost[: lay.n_options] = units.it_per_mw[s]
        for j, unit in zip(
            (lay.pv, lay.wind, lay.energy, lay.power, lay.grid, lay.size), units.per_site(), strict=True
        ):
            cost[j] = unit[s]
        return cost / MONEY_SCALE

    def _add_row(self, lo: float, hi: float, cols: list[int], vals: list[float]) -> None:
        idx = np.asarray(cols, dtype=np.int32)
        self.highs.addRow(lo, hi, idx.size, idx, np.asarray(vals, dtype=float))

    def _slack(
        self, name: str, i: int, sign: float, cols: list[int], vals: list[float]
    ) -> tuple[list[int], list[float]]:
        if name not in self.slack_cols:
            return cols, vals
        return [*cols, int(self.slack_cols[name][i])], [*vals, sign]

    def _rows(self) -> None:
        problem, lay = self.problem, self.lay
        for s in range(len(problem.sites)):
            build = self.col(s, lay.size)
            its = [self.col(s, o) for o in range(lay.n_options)]
            self._add_row(-INF, 0.0, [*its, build], [1.0] * len(its) + [-problem.max_it_mw[s]])
            for j, limit in (
                (lay.pv, problem.max_pv_mw[s]),
                (lay.wind, problem.max_wind_mw[s]),
                (lay.grid, problem.max_connection_mw[s]),
            ):
                self._add_row(-INF, 0.0, [self.col(s, j), build], [1.0, -limit])
        self._useful_connection_rows()
        coef = problem.target_coefficient()
        for k, stage in enumerate(problem.stages):
            cols, vals = self._it_terms(coef * np.asarray(stage.available, dtype=float)[:, None])
            self._add_row(stage.size, INF, *self._slack(f"target-{k}", 0, 1.0, cols, vals))
        if problem.max_site_share is not None:
            g = problem.gpus_per_it_mw
            for s in range(len(problem.sites)):
                share = -problem.max_site_share * g
                share[s] += g[s]
                self._add_row(-INF, 0.0, *self._slack("share", s, -1.0, *self._it_terms(share)))
        if problem.carbon_cap_t_per_year is not None:
            cols = [self.col(s, lay.carbon) for s in range(len(problem.sites))]
            self._add_row(-INF, problem.carbon_cap_t_per_year, cols, [1.0] * len(cols))
        if problem.min_clean_energy_share is not None:
            energy = problem.facility_mw_per_it_mw.sum(axis=2) * problem.year_weight
            cols, vals = self._it_terms(-(1.0 - problem.min_clean_energy_share) * energy)
            cols += [self.col(s, lay.dirty) for s in range(len(problem.sites))]
            self._add_row(-INF, 0.0, cols, vals + [1.0] * len(problem.sites))

    def _useful_connection_rows(self) -> None:
        """Connection at most the site's peak facility load plus the battery's power (its charge).

        No dispatch imports more (nothing is exported), so where the site's grid prices and connection cost are not
        negative these rows keep every optimum (at a negative price, importing more than the load could pay: such a
        site gets no row); the peak is bounded by the sum over options of each option's highest hourly factor. They
        keep the master's early points, whose cuts are linear extrapolations, from connections no dispatch can use.
        (Battery power gets no such row: charging at more than the peak load can pay.)
        """
        problem, lay = self.problem, self.lay
        if self.elastic:
            return
        peak = problem.facility_mw_per_it_mw.max(axis=2)  # (S, O)
        for s in range(len(problem.sites)):
            if problem.price_per_mwh[s].min(initial=0.0) < 0.0 or problem.connection_cost_per_mw[s] < 0.0:
                continue
            its = [self.col(s, o) for o in range(lay.n_options) if problem.allowed[s, o]]
            loads = [-float(peak[s, o]) for o in range(lay.n_options) if problem.allowed[s, o]]
            self._add_row(-INF, 0.0, [self.col(s, lay.grid), self.col(s, lay.power), *its], [1.0, -1.0, *loads])

    def _it_terms(self, coef: FloatArray) -> tuple[list[int], list[float]]:
        cols, vals = [], []
        for s in range(len(self.problem.sites)):
            for o in range(self.lay.n_options):
                if self.problem.allowed[s, o] and coef[s, o] != 0.0:
                    cols.append(self.col(s, o))
                    vals.append(float(coef[s, o]))
        return cols, vals

    def add_cut(self, s: int, value: float, grad: FloatArray, at: FloatArray) -> None:
        """``theta_s >= value + grad (K_s - at)``."""
        keep = np.flatnonzero(np.abs(grad) > 1e-12)
        cols = [self.col(s, int(j)) for j in keep] + [self.col(s, self.lay.size + 1)]
        rhs = value - float(grad @ at)
        if abs(rhs) <= 1e-9 * max(abs(value), float(np.abs(grad) @ np.abs(at)), 1.0):
            rhs = 0.0  # cancellation noise
        self._add_row(rhs, INF, cols, [*(-grad[keep]), 1.0])

    def solve(self) -> tuple[bool, FloatArray, FloatArray, float]:
        """Capacities ``(S, O + 7)``, build and the lower bound; ``False`` first if infeasible."""
        h = self.highs
        h.run()
        status = h.getModelStatus()
        if status == highspy.HighsModelStatus.kInfeasible:
            return False, np.zeros(0), np.zeros(0), np.nan
        if status != highspy.HighsModelStatus.kOptimal:
            raise SolveError(f"the Benders master stopped: HiGHS reports {h.modelStatusToString(status)}")
        x = np.asarray(h.getSolution().col_value, dtype=float)
        block = x[: self.n_site_cols].reshape(len(self.problem.sites), self.width)
        info = h.getInfo()
        bound = float(info.mip_dual_bound) if self.integer else float(info.objective_function_value)
        k = block[:, : self.lay.size]
        k = np.where(k > ZERO_CAPACITY, k, 0.0)  # HiGHS's 1e-13 at an unbuilt site is nothing built
        return True, k, block[:, self.lay.size], bound

    def slack_values(self) -> dict[str, FloatArray]:
        """Slack values of the last solve (elastic master)."""
        x = np.asarray(self.highs.getSolution().col_value, dtype=float)
        return {name: x[idx] for name, idx in self.slack_cols.items()}


def _theta_floor(problem: CapacityProblem, s: int) -> float:
    """Lowest possible dispatch cost of site ``s`` (negative only if prices are)."""
    cheapest = (
        np.minimum(problem.price_per_mwh[s], 0.0).sum() * problem.year_weight * min(problem.max_connection_mw[s], 1e6)
    )
    return float(cheapest) / MONEY_SCALE


def violation_scales(problem: CapacityProblem) -> dict[str, float]:
    """What each master violation is measured against: the target and the nominal GPUs."""
    size = max((stage.size for stage in problem.stages), default=1.0)
    per_mw = float(np.mean(problem.gpus_per_it_mw[problem.allowed])) if problem.allowed.any() else 1.0
    it_mw = size / per_mw if problem.target_unit == "gpus" else size
    return {"target": max(size, 1e-9), "share": max(it_mw * per_mw, 1.0), "energy": max(it_mw * YEAR_H, 1.0)}


def master_violations(problem: CapacityProblem) -> dict[str, FloatArray]:
    """Least slack on each target stage (``target-k``) and site share (``share``, per site) to meet the limits."""
    master = _Master(problem, elastic=True)
    ok, *_ = master.solve()
    if not ok:
        raise RuntimeError("the elastic master has no solution (a bug: its slacks make it always feasible)")
    return master.slack_values()


def solve_benders(
    problem: CapacityProblem,
    *,
    rel_gap: float = 1e-4,
    max_iterations: int = 300,
    time_limit_s: float | None = None,
    alpha: float = 0.3,
    workers: int | None = None,
) -> BendersResult:
    """Run the Benders loop on ``problem``.

    Parameters
    ----------
    problem
        The problem.
    rel_gap
        Stop when the bounds are this close (relative).
    max_iterations, time_limit_s
        Stop there with the best plan so far (``stats.gap`` says how good it is).
    alpha
        In-out stabilisation: the cuts are taken at ``alpha x master + (1 - alpha) x best`` (1: plain Benders).
    workers
        Threads solving the sites' dispatch LPs side by side (default: the machine's cores, at most one per site).
        The result does not depend on it.

    Returns
    -------
    BendersResult
        ``master_feasible`` False when no capacities meet the targets and site share; ``violated`` when the best plan
        still needs unserved energy, excess carbon or excess dirty energy (no plan meets the limits).
    """
    t0 = time.perf_counter()
    master = _Master(problem)
    base = penalties(problem)
    n_workers = min(workers or os.cpu_count() or 1, len(problem.sites))
    sites = SitePool([SiteDispatchLP(problem, s, base) for s in range(len(problem.sites))], n_workers)
    try:
        stats = BendersStats()
        cost = np.stack([master.capacity_cost(s) for s in range(len(problem.sites))])
        best_k = initial_point(problem)
        sites.start(best_k)
        for start in initial_points(problem, best_k, master.lay):
            _evaluate_groups(master, sites, start, stats)  # cuts at spread-out points (not candidate plans)
        sites.start_followers()
        ok, best_k, _ = _loop(
            problem, master, sites, cost, best_k, stats, rel_gap, max_iterations, alpha, t0, time_limit_s
        )
        if not ok:
            return BendersResult(best_k, np.zeros(len(problem.sites)), False, sites.lps, [], stats)
        results = sites.solve(best_k)  # leaves each LP holding the plan's dispatch
    finally:
        sites.close()
    violated = bool(_violated_kinds(problem, results).any())
    build = cheapest_build(problem, best_k, master.lay)
    return BendersResult(best_k, build, True, sites.lps, results, stats, violated)


def _violated_kinds(problem: CapacityProblem, results: list[DispatchResult]) -> np.ndarray:
    """Which elastic kinds (unserved, carbon, dirty) the results use beyond rounding (relative to their scale)."""
    energy = max(violation_scales(problem)["energy"], 1.0)
    carbon = max(problem.carbon_cap_t_per_year or 0.0, 1.0)
    return np.array(
        [
            sum(r.unserved_mwh for r in results) > VIOLATION_TOLERANCE * energy,
            sum(r.excess_carbon_t for r in results) > VIOLATION_TOLERANCE * carbon,
            sum(r.excess_dirty_mwh for r in results) > VIOLATION_TOLERANCE * energy,
        ]
    )


def _loop(
    problem: CapacityProblem,
    master: _Master,
    sites: SitePool,
    cost: FloatArray,
    best_k: FloatArray,
    stats: BendersStats,
    rel_gap: float,
    max_iterations: int,
    alpha: float,
    t0: float,
    time_limit_s: float | None,
) -> tuple[bool, FloatArray, list[DispatchResult]]:
    """Iterate until the bounds meet; returns (master feasible, best capacities, their dispatch results)."""
    best_results: list[DispatchResult] = []
    serviced = False
    master.set_integer(False)
    for _ in range(max_iterations):
        stats.iterations += 1
        t1 = time.perf_counter()
        ok, k, _, lower = master.solve()
        stats.master_s += time.perf_counter() - t1
        if not ok:
            return False, best_k, []
        rise = lower - stats.lower_bound
        stalled = rise <= 1e-7 * max(abs(lower), 1.0)
        creeping = stalled or rise <= STALL_SHARE * (stats.upper_bound - lower)
        stats.lower_bound = max(stats.lower_bound, lower)
        # in-out: between the master's point and the best plan, or the master's own point when the bound creeps;
        # while no plan so far serves the load within the limits, the master's point made serviceable (every other
        # iteration)
        inside = bool(best_results) and not _violated_kinds(problem, best_results).any()
        if inside:
            point = k if creeping else best_k + alpha * (k - best_k)
        else:  # every other iteration the master's own point, so that the loop still converges
            point = k if serviced else serviceable(problem, k, master.lay)
        serviced = not inside and not serviced
        point = idle_to_zero(point, master.lay)
        results = _evaluate(master, sites, point, stats)
        build = cheapest_build(problem, point, master.lay)
        value = float(np.sum(cost[:, :-1] * point) + cost[:, -1] @ build) + sum(r.value for r in results)
        if value < stats.upper_bound:
            stats.upper_bound, best_k, best_results = value, point, results
        stats.history.append((stats.lower_bound, stats.upper_bound))
        if not master.integer and problem.integer_build and (stats.gap <= RELAXED_GAP or stalled):
            # the LP relaxation's bound is close or stuck (fractional builds): finish with the binary decisions
            master.set_integer(True)
            stats.lower_bound = -np.inf
            continue
        done = stats.gap <= rel_gap and (master.integer or not problem.integer_build)
        if done or (time_limit_s is not None and time.perf_counter() - t0 > time_limit_s):
            break
    return True, best_k, best_results


def _evaluate(master: _Master, sites: SitePool, k: FloatArray, stats: BendersStats) -> list[DispatchResult]:
    """Solve every site's dispatch at ``k`` and add its cut (sites whose capacities did not move since their last
    solve are not solved again, and their cut is already in the master), and each new cut's twins."""
    t1 = time.perf_counter()
    results = sites.solve(k)
    for s, result in enumerate(results):
        last = sites.cut_at[s]
        if last is None or not np.array_equal(last, k[s]):
            _add_cuts(master, sites, s, result, k[s], stats)
            sites.cut_at[s] = k[s].copy()
    stats.dispatch_s += time.perf_counter() - t1
    return results


def _evaluate_groups(master: _Master, sites: SitePool, k: FloatArray, stats: BendersStats) -> None:
    """Cuts at ``k`` from one site of each group of twins (the others get theirs from it), for the first points."""
    t1 = time.perf_counter()
    which = sites.group_firsts
    for s, result in zip(which, sites.solve_led(k, which), strict=True):
        _add_cuts(master, sites, s, result, k[s], stats)
        sites.cut_at[s] = k[s].copy()
    stats.dispatch_s += time.perf_counter() - t1


def _add_cuts(
    master: _Master, sites: SitePool, s: int, result: DispatchResult, at: FloatArray, stats: BendersStats
) -> None:
    """Site ``s``'s cut at ``at`` and the cut it gives each of its twins (:func:`twin_cut`)."""
    master.add_cut(s, result.value, result.gradient, at)
    for r in sites.twins[s]:
        master.add_cut(r, *twin_cut(master.problem, result, s, r, at), at)
    stats.cuts += 1 + len(sites.twins[s])

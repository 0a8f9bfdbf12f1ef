"""Points of the Benders loop (:mod:`wattbit.opt.capacity.benders`) other than the master's own: the first points
that cuts are taken at, the master's capacities made serviceable, and the least build decisions capacities need."""

from __future__ import annotations

import numpy as np

from wattbit.opt.capacity.problem import YEAR_H, CapacityProblem
from wattbit.opt.capacity.site_dispatch import CapacityLayout
from wattbit.units import FloatArray


def cheapest_build(problem: CapacityProblem, k: FloatArray, lay: CapacityLayout) -> FloatArray:
    """The least build decision that the capacities ``k`` need (1 where anything is built, or the largest ratio)."""
    ratios = [k[:, : lay.n_options].sum(axis=1) / problem.max_it_mw]
    for j, limit in (
        (lay.pv, problem.max_pv_mw),
        (lay.wind, problem.max_wind_mw),
        (lay.grid, problem.max_connection_mw),
    ):
        ratios.append(np.divide(k[:, j], limit, out=np.zeros(limit.size), where=limit > 0))
    need = np.clip(np.max(np.stack(ratios), axis=0), 0.0, 1.0)
    return np.where(need > 1e-9, 1.0, 0.0) if problem.integer_build else need


def initial_point(problem: CapacityProblem) -> FloatArray:
    """A first point to take cuts at: each site at its cheapest option up to the final target, grid at its limit."""
    lay = CapacityLayout(len(problem.options))
    size = max((stage.size for stage in problem.stages), default=0.0)
    k = np.zeros((len(problem.sites), lay.size))
    coef = problem.target_coefficient()
    for s in range(len(problem.sites)):
        options = np.flatnonzero(problem.allowed[s])
        if options.size == 0:
            continue
        best = options[np.argmin(problem.it_cost_per_mw[s, options])]
        k[s, best] = min(problem.max_it_mw[s], size / max(coef[s, best], 1e-12))
        k[s, lay.pv], k[s, lay.wind] = 0.5 * problem.max_pv_mw[s], 0.5 * problem.max_wind_mw[s]
        k[s, lay.grid] = problem.max_connection_mw[s]
        if problem.carbon_cap_t_per_year is not None:
            k[s, lay.carbon] = problem.carbon_cap_t_per_year / len(problem.sites)
        if problem.min_clean_energy_share is not None:
            k[s, lay.dirty] = (1.0 - problem.min_clean_energy_share) * YEAR_H * k[s, : lay.n_options].sum()
    return k


def initial_points(problem: CapacityProblem, k0: FloatArray, lay: CapacityLayout) -> list[FloatArray]:
    """``k0`` and variants with no, half and full renewables and 2- to 8-hour batteries, to cut in every direction."""
    points = [k0]
    peak = np.einsum("sot,so->st", problem.facility_mw_per_it_mw, k0[:, : lay.n_options]).max(axis=1)
    for share_re, battery_h, grid_share in ((0.0, 0.0, 1.0), (1.0, 4.0, 1.0), (0.5, 2.0, 0.7), (1.0, 8.0, 0.5)):
        k = k0.copy()
        k[:, lay.pv], k[:, lay.wind] = share_re * problem.max_pv_mw, share_re * problem.max_wind_mw
        power = np.where(problem.max_battery_mwh > 0, 0.5 * peak, 0.0)
        k[:, lay.power] = power
        k[:, lay.energy] = np.minimum(battery_h * power, problem.max_battery_mwh)
        k[:, lay.grid] = grid_share * problem.max_connection_mw
        points.append(k)
    return points


def serviceable(problem: CapacityProblem, k: FloatArray, lay: CapacityLayout) -> FloatArray:
    """``k`` with each site's connection raised to its peak facility load (up to its limit) and its battery power
    cut to that load, the battery's energy to 4 hours of it.

    The master's first points extrapolate linear cuts: they may leave the connection short and put hundreds of MW
    of battery in its place, a plan that pays for unserved energy and whose dispatch LP takes tens of thousands of
    simplex iterations. Evaluated here instead (a cut is valid wherever it is taken, and the point is a plan, so its
    value is an upper bound), the loop finds a plan that serves the load at once, and the in-out centre with it.
    """
    out = k.copy()
    peak = np.einsum("so,so->s", problem.facility_mw_per_it_mw.max(axis=2), k[:, : lay.n_options])
    out[:, lay.grid] = np.minimum(np.maximum(k[:, lay.grid], peak), problem.max_connection_mw)
    out[:, lay.power] = np.minimum(k[:, lay.power], peak)
    out[:, lay.energy] = np.minimum(k[:, lay.energy], 4.0 * out[:, lay.power])
    return out

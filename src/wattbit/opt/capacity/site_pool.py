"""The sites' dispatch LPs of the Benders loop (:mod:`wattbit.opt.capacity.benders`), solved side by side.

Each site keeps one :class:`~wattbit.opt.capacity.site_dispatch.SiteDispatchLP` (one HiGHS instance and its basis)
for the whole loop, so the pool is of threads: HiGHS releases the GIL while it solves, and a process pool (the
executor interface of :mod:`wattbit.parallel`) would have to rebuild or ship the LPs every iteration and lose their
warm bases. The result does not depend on the number of threads: every site's LP is solved by itself, and the cuts
are added in site order.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from wattbit.opt.capacity.problem import CapacityProblem
from wattbit.opt.capacity.site_dispatch import CapacityLayout, DispatchResult, SiteDispatchLP
from wattbit.units import FloatArray


class SitePool:
    """The sites' dispatch LPs, solved side by side in ``workers`` threads (one: in the calling thread).

    Parameters
    ----------
    lps
        One LP per site, in site order.
    workers
        Threads.
    """

    def __init__(self, lps: list[SiteDispatchLP], workers: int) -> None:
        self.lps = lps
        self.cut_at: list[FloatArray | None] = [None] * len(lps)  # where each site's last cut was taken
        self.leader = [leader(lps[0].problem, s) for s in range(len(lps))]
        self.twins = twins(lps[0].problem)
        self.pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 else None

    def solve(self, k: FloatArray) -> list[DispatchResult]:
        """Every site's dispatch at its row of ``k``, in site order."""
        return self._map(k, list(range(len(self.lps))))

    @property
    def group_firsts(self) -> list[int]:
        """The first site of each group of twins (:func:`twins`), in site order."""
        return [s for s in range(len(self.lps)) if all(r > s for r in self.twins[s])]

    def solve_led(self, k: FloatArray, which: list[int]) -> list[DispatchResult]:
        """The dispatch of the sites ``which`` at their rows of ``k``, in that order: first those that lead a group
        with the same hourly prices and carbon (the same grid area), then the others, each from its leader's new
        basis. At a new kind of capacities (the first cuts' spread-out points) a neighbour's basis is far closer
        than the site's own; a site whose leader is not in ``which`` leads itself."""
        lead = {s: self.leader[s] if self.leader[s] in which else s for s in which}
        leaders = sorted(set(lead.values()))
        results: dict[int, DispatchResult] = dict(zip(leaders, self._map(k, leaders), strict=True))
        followers = [s for s in which if s not in results]
        for s in followers:
            self.lps[s].start_from(self.lps[lead[s]])
        results.update(zip(followers, self._map(k, followers), strict=True))
        return [results[s] for s in which]

    def start_followers(self) -> None:
        """Start every site that has not been solved from the basis of the first of its twins."""
        for s, lp in enumerate(self.lps):
            if self.cut_at[s] is None and self.twins[s] and min(self.twins[s]) < s:
                lp.start_from(self.lps[min(self.twins[s])])

    def _map(self, k: FloatArray, which: list[int]) -> list[DispatchResult]:
        if self.pool is None:
            return [self.lps[s].solve(k[s]) for s in which]
        return list(self.pool.map(lambda s: self.lps[s].solve(k[s]), which))

    def start(self, k: FloatArray) -> None:
        """Solve the first site at its row of ``k`` from scratch and start every other site from its basis."""
        first, *others = self.lps
        first.solve(k[0])
        for lp in others:
            lp.start_from(first)

    def close(self) -> None:
        """Stop the threads."""
        if self.pool is not None:
            self.pool.shutdown()


def leader(problem: CapacityProblem, s: int) -> int:
    """The first site with the same hourly prices and carbon intensities as site ``s``."""
    for r in range(s):
        same_price = np.array_equal(problem.price_per_mwh[r], problem.price_per_mwh[s])
        if same_price and np.array_equal(problem.carbon_t_per_mwh[r], problem.carbon_t_per_mwh[s]):
            return r
    return s


def twins(problem: CapacityProblem) -> list[list[int]]:
    """For each site, the other sites whose dispatch LP differs from its own only in PV output per MW.

    Candidate sites of one grid area with the same weather station share hourly prices, carbon, carbon-free share,
    facility power and wind output: each solve of one of them gives a cut for every other
    (:func:`~wattbit.opt.capacity.site_dispatch.twin_cut`).
    """
    arrays = (
        problem.price_per_mwh,
        problem.carbon_t_per_mwh,
        problem.cfe_fraction,
        problem.facility_mw_per_it_mw,
        problem.wind_mw_per_mw,
    )
    n = len(problem.sites)
    first = list(range(n))
    for s in range(n):
        for r in range(s):
            if first[r] == r and all(np.array_equal(a[r], a[s], equal_nan=True) for a in arrays):
                first[s] = r
                break
    return [[r for r in range(n) if r != s and first[r] == first[s]] for s in range(n)]


def idle_to_zero(k: FloatArray, lay: CapacityLayout) -> FloatArray:
    """``k`` with every site that has no IT, PV, wind or grid connection set to nothing at all.

    Nothing can flow at such a site, so a battery or a carbon budget there (which the master may leave where a cut
    taken elsewhere makes them look useful) changes neither its dispatch value nor the limits: the plan without them
    is as good and cheaper, and its cut (at zero) is the one that tells the master so. At zero the site's LP is
    solved once (:meth:`SiteDispatchLP.solve`).
    """
    sources = np.concatenate([k[:, : lay.n_options], k[:, [lay.pv, lay.wind, lay.grid]]], axis=1)
    idle = ~sources.any(axis=1)
    if not idle.any():
        return k
    out = k.copy()
    out[idle] = 0.0
    return out

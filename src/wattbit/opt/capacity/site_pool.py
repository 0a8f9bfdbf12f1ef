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
        self.pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 else None

    def solve(self, k: FloatArray) -> list[DispatchResult]:
        """Every site's dispatch at its row of ``k``, in site order."""
        return self._map(k, list(range(len(self.lps))))

    def solve_led(self, k: FloatArray) -> list[DispatchResult]:
        """As :meth:`solve`, but first the sites that lead a group with the same hourly prices and carbon (the
        same grid area), then the others, each from its leader's new basis: at a new kind of capacities (the first
        cuts' spread-out points) a neighbour's basis is far closer than the site's own."""
        leaders = sorted(set(self.leader))
        results: dict[int, DispatchResult] = dict(zip(leaders, self._map(k, leaders), strict=True))
        followers = [s for s in range(len(self.lps)) if s not in results]
        for s in followers:
            self.lps[s].start_from(self.lps[self.leader[s]])
        results.update(zip(followers, self._map(k, followers), strict=True))
        return [results[s] for s in range(len(self.lps))]

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

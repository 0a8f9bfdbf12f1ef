"""The carbon-agnostic baseline that other policies are measured against.

First come, first served: jobs are taken in submit order and each is started on the first site (in scenario
order) that has enough free GPUs for its whole gang; a job that fits nowhere waits while later, smaller jobs may
start (greedy backfilling, as a plain batch scheduler does). No shifting in time or space, no GPU power caps, design
cooling setpoints. The battery runs in self-consumption, as any operator runs one at least: it charges from on-site
surplus and discharges against grid import (``Actions.battery_rule``; the site controller settles it on the meter,
:func:`wattbit.physics.battery.self_consumption_request_mw`).
"""

from __future__ import annotations

import numpy as np

from wattbit.sim.policy import Actions, Observation


class BaselinePolicy:
    """First come, first served on the first site with free GPUs."""

    name = "baseline"

    def decide(self, obs: Observation) -> Actions:
        """Start every queued job, in submit order, on the first site where its gang fits."""
        free = obs.gpus_free.tolist()  # a handful of sites: plain integers are faster than numpy here
        room = max(free, default=0)
        jobs, sites = [], []
        for job, gpus in zip(obs.queue.job.tolist(), obs.queue.gpus.tolist(), strict=True):
            if gpus > room:
                continue
            for site, available in enumerate(free):
                if available >= gpus:
                    free[site] -= gpus
                    jobs.append(job)
                    sites.append(site)
                    room = max(free)
                    break
            if room == 0:
                break
        return Actions(
            start_job=np.asarray(jobs, dtype=np.int64),
            start_site=np.asarray(sites, dtype=np.int64),
            battery_rule="self_consumption",
        )

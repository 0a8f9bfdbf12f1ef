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

from wattbit.sim.kernels import first_fit
from wattbit.sim.policy import FIRST_FIT_RULE, Actions, Observation


class BaselinePolicy:
    """First come, first served on the first site with free GPUs."""

    name = "baseline"
    #: what decide does, so that Engine.run may take stretches of steps compiled (wattbit.sim.fused)
    engine_rule = FIRST_FIT_RULE

    def decide(self, obs: Observation) -> Actions:
        """Start every queued job, in submit order, on the first site where its gang fits."""
        free = np.array(obs.gpus_free, dtype=np.int64)  # the policy's own copy
        queue = obs.queue
        picked, sites = first_fit(np.asarray(queue.gpus, dtype=np.int64), free)
        jobs = np.asarray(queue.job, dtype=np.int64)[picked]
        return Actions(
            start_job=jobs,
            start_site=sites,
            battery_rule="self_consumption",
        )

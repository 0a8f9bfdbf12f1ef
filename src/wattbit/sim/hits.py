"""A step's failure events on the running jobs, in one compiled call (:func:`wattbit.sim.kernels.fail_jobs`).

Each event that is not a site event hits a running job at its site with probability busy / installed GPUs, and then
one in proportion to its gang, drawn in the running set's iteration order (kept for reproducibility: the order
decides the draw); the job hit loses the work since its checkpoint plus its restart and goes back to the queue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from wattbit.sim import kernels

if TYPE_CHECKING:
    from wattbit.sim.engine import Engine


def apply_failures(eng: Engine, k: int) -> None:
    """Apply step ``k``'s failure events to ``eng`` (site events act through the capacity they remove)."""
    lo, hi = eng._event_bounds[k], eng._event_bounds[k + 1]
    if lo == hi or not eng._hits_jobs[k]:
        return  # none, or site events only: they act through the capacity they remove (see _fit_capacity)
    # the running set in its own order: the order decides the draws (kept for reproducibility)
    running = np.fromiter(eng.running, dtype=np.int64, count=len(eng.running))
    # at most two uniforms per event, drawn ahead; the generator is then left as if only those used were drawn
    saved = eng.rng.bit_generator.state
    draws = eng.rng.random(2 * (hi - lo))
    slots, rec = eng._slots, eng._jrec
    queue = np.empty(len(eng.queue) + hi - lo, dtype=np.int64)
    queue[: len(eng.queue)] = eng.queue
    table = (
        rec.site,
        rec.data_site,
        rec.state,
        rec.remaining_h,
        rec.pending_overhead_h,
        rec.since_checkpoint_h,
        rec.lost_h,
        rec.interruptions,
        eng._restart_h,
        eng._gangs_f,
        eng.power_class,
        eng.ready_step,
    )
    hit, used, slots.n, slots.pending, qn = kernels.fail_jobs(
        eng._event_site[lo:hi],
        eng._event_scope[lo:hi],
        running,
        draws,
        eng.fleet.gpus_total,
        table,
        slots.data,
        slots.n,
        slots.pending,
        eng.busy_class,
        eng.busy,
        queue,
        len(eng.queue),
    )
    eng.rng.bit_generator.state = saved
    if used:
        eng.rng.random(used)
    if hit.size:
        discard = eng.running.discard  # one by one: difference_update may resize the set, and so reorder it
        for j in hit.tolist():
            discard(j)
        eng.queue = queue[:qn].tolist()

""":meth:`Engine.run <wattbit.sim.engine.Engine.run>` for a first-come-first-served policy: stretches of steps in
one compiled call (:func:`wattbit.sim.kernels.run_first_fit`) instead of an observation, a decision and the
actions' checks per step.

A policy whose ``decide`` is exactly :func:`wattbit.sim.kernels.first_fit` over the queue with the batteries on
their self-consumption rule and nothing else declares it (:data:`wattbit.sim.policy.FIRST_FIT_RULE`); the engine
then runs it here. Steps the kernel does not take go through the engine's own step: failure events that hit jobs
(the victim is drawn from the running set in its iteration order, which stays a Python set) and capacity below the
GPUs in use (evictions). The kernel records which jobs started and finished in each step, and the running set is
brought up to date with the same set operations, in the same order, as the engine's own step makes, so every
draw, and so every result, is the same as stepping the policy one step at a time (``tests/sim/test_fused.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from wattbit.sim import kernels

if TYPE_CHECKING:
    from wattbit.sim.engine import Engine

#: Most steps in one compiled call: the ``progress`` callback hears of the steps when the call returns.
MAX_STRETCH = 672


def run_fused(
    eng: Engine,
    progress: Callable[[int], None] | None,
    checkpoint: Callable[[Engine], None] | None,
    every: int,
) -> None:
    """Step ``eng`` to the end of its period with its first-fit policy; ``progress`` and ``checkpoint`` are called
    as :meth:`Engine.run <wattbit.sim.engine.Engine.run>` calls them."""
    steps = eng.fleet.steps
    started_end = np.zeros(steps, dtype=np.int64)
    finished_end = np.zeros(steps, dtype=np.int64)
    mid = False  # the current step's arrivals and failures are done
    while not eng.done:
        k0 = eng.step
        if eng._free is not None or eng._capped or eng.inference_share is not None:
            _engine_step(eng, progress, checkpoint, every)  # a step begun outside, or one the kernel does not take
            mid = False
            continue
        # the call stops at the next step whose failures hit jobs (after its arrivals): no room needed beyond it
        k_end = min(steps, k0 + MAX_STRETCH, int(eng._next_hit[k0 + 1 if mid else k0]) + 1)
        if k0 == 0:
            k_end = 1  # the first step alone: it loads the compiled kernel (progress(0) marks the set-up's end)
        elif checkpoint is not None:
            k_end = min(k_end, (k0 // every + 1) * every)  # a checkpoint falls between two calls
        k, reason = _stretch(eng, k0, k_end, mid, started_end, finished_end)
        for done_k in range(k0, k):
            if progress is not None:
                progress(done_k)
        mid = False
        if reason == kernels.FAILURES:
            eng._apply_failures(k)
            mid = True
        elif reason == kernels.EVICT:
            eng._free = eng._fit_capacity(k)  # evicts; then the rest of the step as the engine's own
            _engine_step(eng, progress, checkpoint, every)
        elif checkpoint is not None and eng.step % every == 0 and not eng.done:
            checkpoint(eng)


def _engine_step(
    eng: Engine, progress: Callable[[int], None] | None, checkpoint: Callable[[Engine], None] | None, every: int
) -> None:
    """One step as :meth:`Engine.run` takes it."""
    assert eng.policy is not None
    k = eng.step
    eng.advance(eng.policy.decide(eng.observe()))
    if progress is not None:
        progress(k)
    if checkpoint is not None and eng.step % every == 0 and not eng.done:
        checkpoint(eng)


def _stretch(
    eng: Engine,
    k0: int,
    k_end: int,
    mid: bool,
    started_end: np.ndarray,
    finished_end: np.ndarray,
) -> tuple[int, int]:
    """One compiled call from step ``k0`` (``mid``: its arrivals and failures done); the engine's Python state
    brought up to date after it. Returns the first step not completed and why the call stopped."""
    rec, jrec, slots = eng.rec, eng._jrec, eng._slots
    arriving = max(eng._arrived[k_end - 1] - eng._next_arrival, 0)
    qn = len(eng.queue)
    queue = _buffer(eng, "queue", qn + arriving)
    queue[:qn] = eng.queue
    slots.reserve(qn + arriving)  # every job queued or arriving may start
    started = _buffer(eng, "started", qn + arriving)
    finished = _buffer(eng, "finished", slots.n + qn + arriving)
    table = (
        jrec.state,
        jrec.data_site,
        eng.jobs.migratable,
        eng._gangs,
        jrec.site,
        jrec.first_start_step,
        jrec.migrations,
        jrec.remaining_h,
        jrec.pending_overhead_h,
        jrec.since_checkpoint_h,
        eng.transfer_h,
        jrec.overhead_h,
        jrec.finish_step,
        eng._static,
        eng._site_speed,
    )
    k, reason, qn, n, pending, next_arrival, refused, ls, lf = kernels.run_first_fit(
        k0,
        k_end,
        mid,
        eng.order,
        eng._arrived_array,
        eng._next_arrival,
        eng._hits_jobs,
        eng._capacity[2],
        queue,
        qn,
        table,
        slots.data,
        slots.n,
        eng.fleet.step_h,
        eng.busy_class,
        eng.busy,
        rec.busy_gpus,
        rec.busy_by_class,
        (started, started_end, finished, finished_end),
    )
    eng.queue = queue[:qn].tolist()
    eng._next_arrival = int(next_arrival)
    slots.n, slots.pending = int(n), int(pending)
    jrec.refused_starts += int(refused)
    # the running set, changed as the engine's own steps change it: a step's starts added (as a set), its
    # finished jobs taken out
    starts, stops = started[:ls].tolist(), finished[:lf].tolist()
    s0 = f0 = 0
    running = eng.running
    for s1, f1 in zip(started_end[k0:k].tolist(), finished_end[k0:k].tolist(), strict=True):
        if s1 > s0:
            running.update(set(starts[s0:s1]))
        if f1 > f0:
            running.difference_update(stops[f0:f1])
        s0, f0 = s1, f1
    if k > k0:  # what the engine's own steps record from its per-step tables and the policy's battery rule
        available, inference, _ = eng._capacity
        done = slice(k0, k)
        rec.available_gpus[done] = available[done]
        rec.inference_gpus[done] = inference[done]
        rec.inference_needed[done] = eng.inference_needed[done]
        rec.battery_self_consumption[done] = eng._battery_rule_sites
        eng._uncapped = np.empty(0, dtype=np.int64)
    eng.step = int(k)
    return int(k), int(reason)


def _buffer(eng: Engine, name: str, size: int) -> np.ndarray:
    """The engine's scratch array ``name`` with room for at least ``size`` values (it doubles when short)."""
    buffers: dict[str, np.ndarray] = eng.__dict__.setdefault("_fused_buffers", {})
    array = buffers.get(name)
    if array is None or array.size < size:
        array = np.empty(max(size, 2 * (0 if array is None else array.size), 1024), dtype=np.int64)
        buffers[name] = array
    return array

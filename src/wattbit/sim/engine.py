"""The time-stepped engine: queue, placement, progress, failures, and the record of what ran where.

Each step (15 minutes by default) the engine

1. queues the jobs submitted by then, applies the failure events of the step (GPUs out for repair, site derates and
   outages; the jobs hit lose the work since their last checkpoint and go back to the queue);
2. holds GPUs for online inference at each site, and shrinks the running set if failures or the grid connection
   leave less capacity than is in use;
3. asks the policy, with an :class:`~wattbit.sim.policy.Observation` of the present and the past only, and applies
   its :class:`~wattbit.sim.policy.Actions` (pauses, migrations, starts, power caps, setpoints, battery);
4. advances every running job by the step at its throughput (power cap) less the checkpointing overhead, after
   it has paid any pending overhead (checkpoint written on pause, state transfer and restart on resume).

Costs of pausing, resuming and migrating (``docs/simulation.md``): pausing writes a checkpoint
(``checkpoint_cost_h`` of the gang's time) and keeps the work done; a job whose state sits at another site moves
``data_size_gb`` over the inter-site link before it resumes (``data_size_gb * 8 / link_gbps`` seconds), and every
resume reloads its checkpoint (``restart_cost_h``). Those overheads hold the job's GPUs at full power without
progress, and are recorded per job.

It records per step and site the GPUs running jobs, those held for inference and the actions; the power, cooling,
water, battery, carbon and cost follow from those records through :mod:`wattbit.physics` after the loop
(:mod:`wattbit.sim.accounting`), since no decision in the loop depends on them beyond the grid-limited capacity
precomputed in :class:`~wattbit.sim.fleet.Fleet`.

The loop can be driven from outside one step at a time (:meth:`Engine.observe` then :meth:`Engine.advance`), as a
reinforcement-learning environment does; :meth:`Engine.run` does the same with a policy.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import fields, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wattbit.physics.gpu_load import POWER_CLASSES, draw_power_classes
from wattbit.sim import kernels
from wattbit.sim.actions import apply_actions, capped_rate, observation
from wattbit.sim.faults import FailureEvents
from wattbit.sim.fleet import Fleet
from wattbit.sim.fused import run_fused
from wattbit.sim.hits import apply_failures
from wattbit.sim.policy import FIRST_FIT_RULE, Actions, Observation, Policy, engine_rule, read_only
from wattbit.sim.records import (  # noqa: F401 - re-exported: the engine's records and constants live there
    DONE,
    MIGRATION_LINK_GBPS,
    NO_DEADLINE,
    QUEUED,
    RUNNING,
    WAITING,
    JobRecord,
    StepRecord,
    gpus_out_per_step,
    steps_of,
)
from wattbit.sim.running import (
    JOB,
    PEND,
    RATE,
    REM,
    SINCE,
    SITE,
    STATIC_ROWS,
    RunningSlots,
    RunningSource,
)
from wattbit.workload.jobs import KIND_NAMES, TrainingJobs

#: Former private name, still imported by :mod:`wattbit.control.oracle`.
_gpus_out = gpus_out_per_step


class Engine:
    """One simulation run: a fleet, a workload, failure events and (for :meth:`run`) a policy.

    Parameters
    ----------
    fleet, jobs, events
        What is simulated.
    inference_gpus_needed
        GPUs online inference needs per step, fleet-wide (steps,) or per site (steps, sites).
    policy
        Who decides in :meth:`run`; None when the loop is driven with :meth:`observe` / :meth:`advance`.
    seed
        Seed of the engine's own random choices (which job a failed GPU hits).
    migration_link_gbps
        Effective inter-site bandwidth for moving a job's state.
    inference_full_gpus
        GPUs each site would need to serve the whole inference demand (steps, sites); lets a policy route
        inference with ``Actions.inference_share`` (None: each site serves its own share, no routing).
    power_class
        Each job's power class (index into :data:`wattbit.physics.gpu_load.POWER_CLASSES`); None draws them from
        the jobs' kinds with a generator of its own seeded by ``seed`` (the engine's other draws are unchanged).
    """

    def __init__(
        self,
        fleet: Fleet,
        jobs: TrainingJobs,
        inference_gpus_needed: NDArray[np.float64],
        events: FailureEvents,
        policy: Policy | None = None,
        seed: int = 0,
        migration_link_gbps: float = MIGRATION_LINK_GBPS,
        inference_full_gpus: NDArray[np.float64] | None = None,
        power_class: NDArray[np.int16] | None = None,
    ) -> None:
        if not migration_link_gbps > 0:
            raise ValueError(f"migration_link_gbps must be > 0, got {migration_link_gbps}")
        self.fleet, self.jobs, self.events, self.policy = fleet, jobs, events, policy
        self.rng = np.random.default_rng(seed)
        self.link_gbps = float(migration_link_gbps)
        n, s, t = len(jobs), len(fleet.names), fleet.steps
        submit = steps_of(jobs.submit_utc, fleet)
        earliest = steps_of(jobs.earliest_start_utc, fleet)
        self.ready_step = np.where(np.isnat(jobs.earliest_start_utc), submit, np.maximum(submit, earliest))
        self.deadline_step = steps_of(jobs.deadline_utc, fleet)
        self.order = np.argsort(self.ready_step, kind="stable")
        self._ready_sorted = self.ready_step[self.order]
        self._interval_h = np.maximum(jobs.checkpoint_interval_h, 1e-9)
        # throughput left after periodic checkpoints (capped at 90 % overhead)
        self._work_rate = 1.0 - np.clip(jobs.checkpoint_cost_h / self._interval_h, 0, 0.9)
        self._gangs = jobs.gpus.astype(np.int64)
        if power_class is None:
            power_class = draw_power_classes(jobs.kind, KIND_NAMES, np.random.default_rng([int(seed) % 2**32, 1]))
        self.power_class = np.asarray(power_class, dtype=np.int16)
        if (
            self.power_class.shape != (n,)
            or n
            and not (0 <= self.power_class.min() and self.power_class.max() < len(POWER_CLASSES))
        ):
            raise ValueError(f"power_class must give one class in 0..{len(POWER_CLASSES) - 1} per job")
        self._site_speed = np.array([p.gpu.training_speed for p in fleet.plants])
        self.transfer_h = jobs.data_size_gb * 8.0 / self.link_gbps / 3600.0
        self._restart_h = np.asarray(jobs.restart_cost_h, dtype=float)
        self._gangs_f = jobs.gpus.astype(float)
        self._jrec = JobRecord(
            state=np.full(n, WAITING, dtype=np.int8),
            site=np.full(n, -1, dtype=np.int16),
            data_site=jobs.home_site.astype(np.int16).copy(),
            remaining_h=jobs.duration_h.astype(float).copy(),
            pending_overhead_h=np.zeros(n),
            since_checkpoint_h=np.zeros(n),
            first_start_step=np.full(n, -1, dtype=np.int64),
            finish_step=np.full(n, np.nan),
            interruptions=np.zeros(n, dtype=np.int32),
            pauses=np.zeros(n, dtype=np.int32),
            evictions=np.zeros(n, dtype=np.int32),
            migrations=np.zeros(n, dtype=np.int32),
            lost_h=np.zeros(n),
            overhead_h=np.zeros(n),
        )
        self.rec = StepRecord(
            busy_gpus=np.zeros((t, s), dtype=np.int64),
            inference_gpus=np.zeros((t, s), dtype=np.int64),
            inference_needed=np.zeros((t, s)),
            available_gpus=np.zeros((t, s), dtype=np.int64),
            gpu_cap_w=np.full((t, s), np.nan),
            uncapped_gpus=np.zeros((t, s), dtype=np.int64),
            supply_temp_c=np.full((t, s), np.nan),
            battery_mw=np.zeros((t, s)),
            busy_by_class=np.zeros((t, s, len(POWER_CLASSES)), dtype=np.int32),
            uncapped_by_class=np.zeros((t, s, len(POWER_CLASSES)), dtype=np.int32),
            battery_self_consumption=np.zeros((t, s), dtype=bool),
        )
        needed = np.asarray(inference_gpus_needed, dtype=float)
        if needed.ndim == 1:  # fleet-wide: split in proportion to installed GPUs
            needed = np.outer(needed, fleet.gpus_total / fleet.gpus_total.sum())
        self.inference_needed = needed
        self.inference_full = None if inference_full_gpus is None else np.asarray(inference_full_gpus, dtype=float)
        self.inference_share: NDArray[np.float64] | None = None
        self.gpus_out = gpus_out_per_step(events, fleet)
        self._times = list(fleet.index)
        gangs = jobs.gpus.astype(np.int64)
        self._job_source = {
            "gpus": gangs,
            "remaining_h": self._jrec.remaining_h,
            "work_rate": self._work_rate,
            "failure_loss_h": jobs.checkpoint_interval_h + jobs.restart_cost_h,
            "pause_cost_h": jobs.checkpoint_cost_h + jobs.restart_cost_h,
            "deadline_step": self.deadline_step,
            "submit_step": self.ready_step,
            "pausable": jobs.pausable,
            "migratable": jobs.migratable,
            "data_size_gb": jobs.data_size_gb,
            "data_site": self._jrec.data_site,
            "site": self._jrec.site,
        }
        self._running_source = RunningSource(self._job_source, self._write_back)
        # what a starting job brings to its slot (wattbit.sim.running): index, gang, class, checkpoint interval and
        # rate; its rate is multiplied by the site's speed on start
        self._static = np.stack([np.arange(n, dtype=float), gangs, self.power_class, self._interval_h, self._work_rate])
        assert self._static.shape[0] == STATIC_ROWS
        self._n_classes = len(POWER_CLASSES)
        self._has_battery = np.array([b is not None for b in fleet.batteries])
        self.soc_mwh = np.array([0.0 if b is None else b.initial_soc_mwh for b in fleet.batteries])
        # queued jobs, always in (ready step, index) order: arrivals come in that order, stopped jobs are inserted
        self.queue: list[int] = []
        # the running jobs; the set's iteration order (kept as before) decides which job a failed GPU hits
        self.running: set[int] = set()
        self._slots = RunningSlots()
        self.busy = np.zeros(s, dtype=np.int64)
        self.busy_class = np.zeros((s, len(POWER_CLASSES)), dtype=np.int64)
        self.step = 0
        self._free: NDArray[np.int64] | None = None
        self._uncapped = np.empty(0, dtype=np.int64)
        self._next_arrival = 0
        self._arrived_array = np.searchsorted(self._ready_sorted, np.arange(t), side="right")
        self._arrived = self._arrived_array.tolist()
        #: whether :meth:`run` may take stretches of steps in one compiled call for a first-fit policy
        #: (:mod:`wattbit.sim.fused`); False steps it one step at a time (the same results, slower)
        self.fused = True
        self._capped = False  # whether this step's caps limit any site
        self._read_only_signals()
        self._step_tables()

    def _read_only_signals(self) -> None:
        """Read-only views of the whole period's signals, sliced to the past for each observation."""
        f = self.fleet
        self._signals = {
            name: read_only(getattr(f, name))
            for name in ("carbon_g_per_kwh", "price_jpy_per_mwh", "curtailed_mwh", "temp_db_c", "temp_wb_c", "pv_w")
        }
        self._signals["wind_w"] = read_only(f.wind_w)
        self._signals["inference_gpus_needed"] = read_only(self.inference_needed)
        self._static_view = {
            "grid_limit_w": read_only(f.grid_limit_w),
            "gpus_total": read_only(f.gpus_total),
        }
        self._full_view = None if self.inference_full is None else read_only(self.inference_full)
        self._battery_rule_sites = self._has_battery.copy()

    def _step_tables(self) -> None:
        """Per-step tables of what no decision changes: the events of each step, and while inference is not routed,
        the GPUs available, held for inference and free for jobs at each site (rebuilt when failures are added)."""
        steps = np.arange(self.fleet.steps + 1)
        self._event_bounds = np.searchsorted(self.events.step, steps, side="left").tolist()
        self._event_site = self.events.site.astype(np.int64)
        self._event_scope = self.events.scope.astype(np.int64)
        # steps with an event that may hit a job (site events act through capacity only)
        hits = self.events.step[(self.events.scope != 4) & (self.events.step < self.fleet.steps)]
        self._hits_jobs = np.bincount(hits.astype(np.int64), minlength=self.fleet.steps) > 0
        # for each step, the first step from it on with such an event (the period's length where none)
        at = np.flatnonzero(self._hits_jobs)
        self._next_hit = np.append(at, self.fleet.steps)[np.searchsorted(at, np.arange(self.fleet.steps + 1))]
        available = self.fleet.gpus_total - self.gpus_out
        inference = np.minimum(np.ceil(self.inference_needed - 1e-9).astype(np.int64), available)
        self._capacity = (available, inference, np.minimum(available - inference, self.fleet.max_busy_gpus))

    @property
    def jobs_rec(self) -> JobRecord:
        """What happened to every job so far (the running jobs' progress written back first)."""
        self._write_back()
        return self._jrec

    def _write_back(self) -> None:
        rec = self._jrec
        self._slots.write_back(rec.remaining_h, rec.pending_overhead_h, rec.since_checkpoint_h)

    @property
    def done(self) -> bool:
        """Whether every step has been simulated."""
        return self.step >= self.fleet.steps

    # --------------------------------------------------------------------------------------------- step pieces
    def _admit(self, k: int) -> None:
        end = self._arrived[k]
        if end > self._next_arrival:
            new = self.order[self._next_arrival : end]
            self._jrec.state[new] = QUEUED
            self.queue.extend(new.tolist())
            self._next_arrival = end

    def _unslot(self, j: int) -> None:
        """Write running job ``j``'s progress back to the job table and free its slot."""
        slots, rec = self._slots, self._jrec
        i = slots.column_of(j)
        rec.remaining_h[j] = slots.data[REM, i]
        rec.pending_overhead_h[j] = slots.data[PEND, i]
        rec.since_checkpoint_h[j] = slots.data[SINCE, i]
        slots.remove_one(i)

    def _stop(self, j: int) -> int:
        """Take running job ``j`` (already out of its slot) off its site and back into the queue; returns the site."""
        rec = self._jrec
        site = int(rec.site[j])
        self.busy[site] -= int(self.jobs.gpus[j])
        self.busy_class[site, self.power_class[j]] -= int(self.jobs.gpus[j])
        self.running.discard(j)
        rec.state[j] = QUEUED
        rec.site[j] = -1
        rec.data_site[j] = site  # its checkpoint stays where it ran
        rec.since_checkpoint_h[j] = 0.0
        return site

    def _requeue(self, j: int) -> None:
        # the queue is sorted by (ready step, index), so an insertion gives what appending and sorting gave
        ready = self.ready_step
        bisect.insort(self.queue, j, key=lambda x: (int(ready[x]), x))

    def _interrupt(self, j: int) -> None:
        """A failure or a capacity loss: the work since the last checkpoint is lost, the job restarts later."""
        self._unslot(j)
        rec = self._jrec
        lost = float(rec.since_checkpoint_h[j]) + float(self.jobs.restart_cost_h[j])
        rec.remaining_h[j] += lost
        rec.lost_h[j] += lost
        rec.interruptions[j] += 1
        self._stop(j)
        self._requeue(j)

    def _pause(self, j: int) -> int:
        """A policy's pause: checkpoint now (kept), reload on resume; both paid as overhead on the next run."""
        self._unslot(j)
        rec = self._jrec
        rec.pending_overhead_h[j] += float(self.jobs.checkpoint_cost_h[j]) + float(self.jobs.restart_cost_h[j])
        rec.pauses[j] += 1
        return self._stop(j)

    def _apply_failures(self, k: int) -> None:
        """Step ``k``'s failure events: the jobs hit lose the work since their checkpoint and go back to the queue
        (:func:`wattbit.sim.hits.apply_failures`)."""
        apply_failures(self, k)

    def _limit(self, k: int) -> NDArray[np.int64]:
        """GPUs that may run jobs at each site this step (after repairs, inference and the grid connection)."""
        return np.minimum(self.rec.available_gpus[k] - self.rec.inference_gpus[k], self.fleet.max_busy_gpus[k])

    def _fit_capacity(self, k: int) -> NDArray[np.int64]:
        if self.inference_share is None or self.inference_full is None:
            available, inference, limits = self._capacity
            available, limit = available[k], limits[k]
            self.rec.inference_gpus[k] = inference[k]
            self.rec.inference_needed[k] = self.inference_needed[k]
        else:
            available = self.fleet.gpus_total - self.gpus_out[k]
            needed = self.inference_share * self.inference_full[k]
            self.rec.inference_gpus[k] = np.minimum(np.ceil(needed - 1e-9).astype(np.int64), available)
            self.rec.inference_needed[k] = needed
            limit = np.minimum(available - self.rec.inference_gpus[k], self.fleet.max_busy_gpus[k])
        self.rec.available_gpus[k] = available
        free = limit - self.busy
        if free.min() < 0:
            self._evict(available, limit)
            free = limit - self.busy
        return np.maximum(free, 0)

    def _evict(self, available: NDArray[np.int64], limit: NDArray[np.int64]) -> None:
        """Bring every site's busy GPUs within ``limit``: GPUs taken out by failures and derates take their jobs
        down at once (work since the checkpoint lost); capacity that inference or the grid connection claims back
        is foreseen a step ahead, so the youngest jobs over it are checkpointed and paused (no work lost), or lose
        their work if they cannot pause."""
        for site in np.flatnonzero(self.busy > limit):
            slots = self._slots.data[:, : self._slots.n]
            on_site = sorted(slots[JOB, slots[SITE] == site].astype(np.int64).tolist(), reverse=True)
            for j in on_site:  # youngest first
                if self.busy[site] <= limit[site]:
                    break
                if self.busy[site] > available[site] or not self.jobs.pausable[j]:
                    self._interrupt(j)
                else:
                    self._pause(j)
                    self._jrec.evictions[j] += 1
                    self._requeue(j)

    def _apply(self, k: int, actions: Actions, free: NDArray[np.int64]) -> None:
        apply_actions(self, k, actions, free)

    def _progress(self, k: int) -> None:
        """Advance the running jobs through step ``k``; record and take out those that finish
        (:func:`wattbit.sim.kernels.progress`)."""
        slots = self._slots
        n = slots.n
        if n == 0:
            return
        rec, d = self._jrec, slots.data
        rate = capped_rate(self, k, d[RATE, :n]) if self._capped else d[RATE, :n]
        slots.n, slots.pending, finished = kernels.progress(
            d,
            n,
            rate,
            self.fleet.step_h,
            k,
            rec.overhead_h,
            rec.finish_step,
            rec.remaining_h,
            rec.pending_overhead_h,
            rec.since_checkpoint_h,
            rec.state,
            self.busy_class,
            self.busy,
        )
        if finished.size:
            self.running.difference_update(finished.tolist())

    # ------------------------------------------------------------------------------------------ stepping API
    def observe(self) -> Observation:
        """Begin the current step (arrivals, failures, capacity) if not yet begun, and return what a policy sees."""
        return observation(self, self.step, self.begin().copy())

    def begin(self) -> NDArray[np.int64]:
        """Begin the current step (arrivals, failures, capacity) if not yet begun; returns the GPUs free for jobs
        per site (the engine's own array: read it, do not write it). For callers that decide from the engine's
        state without an :class:`Observation` (:mod:`wattbit.rl.lean`)."""
        if self.done:
            raise RuntimeError("the simulation has ended; no step left to observe")
        if self._free is None:
            k = self.step
            self._admit(k)
            self._apply_failures(k)
            self._free = self._fit_capacity(k)
        return self._free

    def advance(self, actions: Actions) -> None:
        """Apply ``actions`` to the current step, advance the jobs through it, and move to the next step."""
        if self._free is None:
            self.observe()
        assert self._free is not None
        k = self.step
        self._apply(k, actions, self._free)
        self.rec.busy_gpus[k] = self.busy
        self.rec.busy_by_class[k] = self.busy_class
        self._progress(k)
        self._free = None
        self.step += 1

    def add_failures(self, extra: FailureEvents) -> None:
        """Add failure events to the run from the current step on (an operator's injected fault in the live twin).

        ``extra`` must use this run's time grid; an event before the current step is refused with ``ValueError``.
        """
        if len(extra) == 0:
            return
        if extra.step_s != self.events.step_s or extra.period_start_utc != self.events.period_start_utc:
            raise ValueError("injected failure events must use the run's period start and step")
        if int(extra.step.min()) < self.step:
            raise ValueError(f"injected failure at step {int(extra.step.min())} is before the current step {self.step}")
        ev = self.events
        arrays: dict[str, Any] = {
            f.name: np.concatenate([getattr(ev, f.name), getattr(extra, f.name)])
            for f in fields(ev)
            if isinstance(getattr(ev, f.name), np.ndarray) and f.name != "period_start_utc"
        }
        order = np.lexsort((arrays["cause"], arrays["site"], arrays["time_utc"]))
        self.events = replace(ev, **{k: v[order] for k, v in arrays.items()})
        self.gpus_out = gpus_out_per_step(self.events, self.fleet)
        self._step_tables()

    def run(
        self,
        progress: Callable[[int], None] | None = None,
        checkpoint: Callable[[Engine], None] | None = None,
        checkpoint_every: int = 1,
    ) -> tuple[JobRecord, StepRecord]:
        """Step through the rest of the period with the policy; ``progress(k)`` is called after each step.

        ``checkpoint(engine)`` is called after every ``checkpoint_every``-th step (counted from the period's start)
        but the last, between two steps, where the engine and its policy pickle to a state that continues exactly
        (:mod:`wattbit.sim.run`'s ``--resume``).
        """
        if self.policy is None:
            raise RuntimeError("Engine.run needs a policy; drive the loop with observe()/advance() otherwise")
        every = max(int(checkpoint_every), 1)
        if self.fused and engine_rule(self.policy) == FIRST_FIT_RULE:
            run_fused(self, progress, checkpoint, every)
            return self._jrec, self.rec
        while not self.done:
            k = self.step
            self.advance(self.policy.decide(self.observe()))
            if progress is not None:
                progress(k)
            if checkpoint is not None and self.step % every == 0 and not self.done:
                checkpoint(self)
        return self._jrec, self.rec

"""The time-stepped engine: queue, placement, progress, failures, and the record of what ran where.

Each step (15 minutes by default) the engine

1. queues the jobs submitted by then, applies the failure events of the step (GPUs out for repair, site derates and
   outages; the jobs hit lose the work since their last checkpoint and go back to the queue);
2. holds GPUs for online inference at each site, and shrinks the running set if failures or the grid connection
   leave less capacity than is in use;
3. asks the policy, with an :class:`~wattbit.sim.policy.Observation` of the present and the past only, and applies
   its :class:`~wattbit.sim.policy.Actions`;
4. advances every running job by the step at its throughput (power cap) less the checkpointing overhead.

It records per step and site the GPUs running jobs, those held for inference and the actions; the power, cooling,
water, battery, carbon and cost follow from those records through :mod:`wattbit.physics` after the loop
(:mod:`wattbit.sim.accounting`), since no decision in the loop depends on them beyond the grid-limited capacity
precomputed in :class:`~wattbit.sim.fleet.Fleet`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from wattbit.physics.gpu import throughput_factor
from wattbit.sim.faults import FailureEvents
from wattbit.sim.fleet import Fleet
from wattbit.sim.policy import Actions, Observation, Policy, QueueView, read_only
from wattbit.workload.jobs import TrainingJobs

WAITING, QUEUED, RUNNING, DONE = 0, 1, 2, 3
NO_DEADLINE = np.iinfo(np.int64).max // 2


@dataclass
class JobRecord:
    """What happened to every job (arrays over jobs)."""

    state: NDArray[np.int8]
    site: NDArray[np.int16]
    remaining_h: NDArray[np.float64]
    since_checkpoint_h: NDArray[np.float64]
    first_start_step: NDArray[np.int64]
    finish_step: NDArray[np.float64]
    interruptions: NDArray[np.int32]
    lost_h: NDArray[np.float64]
    refused_starts: int = 0


@dataclass
class StepRecord:
    """Per step and site (steps, sites): GPUs running jobs, held for inference, available, and the actions."""

    busy_gpus: NDArray[np.int64]
    inference_gpus: NDArray[np.int64]
    inference_needed: NDArray[np.float64]
    available_gpus: NDArray[np.int64]
    gpu_cap_w: NDArray[np.float64]
    supply_temp_c: NDArray[np.float64]
    battery_mw: NDArray[np.float64]


def steps_of(times: NDArray[np.datetime64], fleet: Fleet) -> NDArray[np.int64]:
    """First step starting at or after each time (naive UTC datetime64); NaT gives :data:`NO_DEADLINE`."""
    start = fleet.index[0].tz_convert("UTC").tz_localize(None).to_datetime64()
    step_ns = int(fleet.step_h * 3600 * 1e9)
    out = np.full(times.shape, NO_DEADLINE, dtype=np.int64)
    ok = ~np.isnat(times)
    delta = (times[ok] - start).astype("timedelta64[ns]").astype(np.int64)
    out[ok] = np.where(delta <= 0, 0, -(-delta // step_ns))  # ceil: a job may start at the first step at/after it
    return out


def _gpus_out(events: FailureEvents, fleet: Fleet) -> NDArray[np.int64]:
    """GPUs out of service per step and site, from repairs and site derates (difference arrays)."""
    t, s = fleet.steps, len(fleet.names)
    diff = np.zeros((t + 1, s), dtype=np.float64)
    amount = np.where(events.scope == 4, events.derate_fraction * fleet.gpus_total[events.site], events.gpus_affected)
    has_outage = events.repair_steps > 0
    start = np.minimum(events.step[has_outage], t)
    end = np.minimum(events.step[has_outage] + events.repair_steps[has_outage], t)
    np.add.at(diff, (start, events.site[has_outage]), amount[has_outage])
    np.add.at(diff, (end, events.site[has_outage]), -amount[has_outage])
    out = np.ceil(np.cumsum(diff, axis=0)[:t] - 1e-9).astype(np.int64)
    return np.minimum(out, fleet.gpus_total)


class Engine:
    """One simulation run: a fleet, a workload, failure events and a policy."""

    def __init__(
        self,
        fleet: Fleet,
        jobs: TrainingJobs,
        inference_gpus_needed: NDArray[np.float64],
        events: FailureEvents,
        policy: Policy,
        seed: int = 0,
    ) -> None:
        self.fleet, self.jobs, self.events, self.policy = fleet, jobs, events, policy
        self.rng = np.random.default_rng(seed)
        n, s, t = len(jobs), len(fleet.names), fleet.steps
        self.ready_step = np.maximum(steps_of(jobs.submit_utc, fleet), steps_of(jobs.earliest_start_utc, fleet))
        self.ready_step[np.isnat(jobs.earliest_start_utc)] = steps_of(jobs.submit_utc, fleet)[
            np.isnat(jobs.earliest_start_utc)
        ]
        self.deadline_step = steps_of(jobs.deadline_utc, fleet)
        self.order = np.argsort(self.ready_step, kind="stable")
        self.jobs_rec = JobRecord(
            state=np.full(n, WAITING, dtype=np.int8),
            site=np.full(n, -1, dtype=np.int16),
            remaining_h=jobs.duration_h.astype(float).copy(),
            since_checkpoint_h=np.zeros(n),
            first_start_step=np.full(n, -1, dtype=np.int64),
            finish_step=np.full(n, np.nan),
            interruptions=np.zeros(n, dtype=np.int32),
            lost_h=np.zeros(n),
        )
        self.rec = StepRecord(
            busy_gpus=np.zeros((t, s), dtype=np.int64),
            inference_gpus=np.zeros((t, s), dtype=np.int64),
            inference_needed=np.zeros((t, s)),
            available_gpus=np.zeros((t, s), dtype=np.int64),
            gpu_cap_w=np.full((t, s), np.nan),
            supply_temp_c=np.full((t, s), np.nan),
            battery_mw=np.zeros((t, s)),
        )
        needed = np.asarray(inference_gpus_needed, dtype=float)
        if needed.ndim == 1:  # fleet-wide: split in proportion to installed GPUs
            needed = np.outer(needed, fleet.gpus_total / fleet.gpus_total.sum())
        self.inference_needed = needed
        self.gpus_out = _gpus_out(events, fleet)
        self._times = list(fleet.index)
        self.queue: list[int] = []
        self.running: set[int] = set()
        self.busy = np.zeros(s, dtype=np.int64)
        self._next_arrival = 0

    # --------------------------------------------------------------------------------------------- step pieces
    def _admit(self, k: int) -> None:
        order, ready = self.order, self.ready_step
        i = self._next_arrival
        while i < len(order) and ready[order[i]] <= k:
            j = int(order[i])
            self.jobs_rec.state[j] = QUEUED
            self.queue.append(j)
            i += 1
        self._next_arrival = i

    def _interrupt(self, j: int, lose: bool) -> None:
        rec = self.jobs_rec
        site = int(rec.site[j])
        self.busy[site] -= int(self.jobs.gpus[j])
        self.running.discard(j)
        if lose:
            lost = float(rec.since_checkpoint_h[j]) + float(self.jobs.restart_cost_h[j])
            rec.remaining_h[j] += lost
            rec.lost_h[j] += lost
            rec.interruptions[j] += 1
        rec.since_checkpoint_h[j] = 0.0
        rec.state[j] = QUEUED
        rec.site[j] = -1
        self.queue.append(j)
        self.queue.sort(key=lambda x: (self.ready_step[x], x))

    def _victim(self, site: int) -> int | None:
        on_site = [j for j in self.running if self.jobs_rec.site[j] == site]
        if not on_site:
            return None
        gangs = self.jobs.gpus[on_site].astype(float)
        # the failed GPU is a random one of the site's: it runs a job with probability busy / total
        if self.rng.random() >= gangs.sum() / self.fleet.gpus_total[site]:
            return None
        return int(on_site[self.rng.choice(len(on_site), p=gangs / gangs.sum())])

    def _apply_failures(self, k: int) -> None:
        sl = self.events.in_steps(k, k + 1)
        for site, scope in zip(self.events.site[sl].tolist(), self.events.scope[sl].tolist(), strict=True):
            if scope == 4:
                continue  # site events act through the capacity they remove (see _fit_capacity)
            victim = self._victim(site)
            if victim is not None:
                self._interrupt(victim, lose=True)

    def _fit_capacity(self, k: int) -> NDArray[np.int64]:
        available = self.fleet.gpus_total - self.gpus_out[k]
        needed = self.inference_needed[k]
        inference = np.minimum(np.ceil(needed - 1e-9).astype(np.int64), available)
        limit = np.minimum(available - inference, self.fleet.max_busy_gpus[k])
        for site in np.flatnonzero(self.busy > limit):
            on_site = sorted((j for j in self.running if self.jobs_rec.site[j] == site), reverse=True)
            for j in on_site:  # youngest first
                if self.busy[site] <= limit[site]:
                    break
                self._interrupt(j, lose=True)
        self.rec.available_gpus[k] = available
        self.rec.inference_gpus[k] = inference
        self.rec.inference_needed[k] = needed
        return np.maximum(limit - self.busy, 0)

    def _observe(self, k: int, free: NDArray[np.int64]) -> Observation:
        q = np.asarray(self.queue, dtype=np.int64)
        running = np.fromiter(self.running, dtype=np.int64, count=len(self.running))
        f = self.fleet
        return Observation(
            step=k,
            time_utc=self._times[k],
            step_h=f.step_h,
            site_names=f.names,
            gpus_total=read_only(f.gpus_total),  # type: ignore[arg-type]
            gpus_available=read_only(self.rec.available_gpus[k]),  # type: ignore[arg-type]
            gpus_free=free,
            inference_gpus=read_only(self.rec.inference_gpus[k]),  # type: ignore[arg-type]
            queue=QueueView(
                job=q,
                gpus=self.jobs.gpus[q].astype(np.int64),
                remaining_h=self.jobs_rec.remaining_h[q],
                deadline_step=self.deadline_step[q],
                submit_step=self.ready_step[q],
            ),
            running_job=running,
            running_site=self.jobs_rec.site[running].astype(np.int64),
            carbon_g_per_kwh=read_only(f.carbon_g_per_kwh[: k + 1]),  # type: ignore[arg-type]
            price_per_mwh=read_only(f.price_per_mwh[: k + 1]),  # type: ignore[arg-type]
            curtailed_mwh=read_only(f.curtailed_mwh[: k + 1]),  # type: ignore[arg-type]
        )

    def _apply(self, k: int, actions: Actions, free: NDArray[np.int64]) -> None:
        rec = self.jobs_rec
        for j in actions.pause_job.tolist():
            if j in self.running:
                self._interrupt(int(j), lose=False)
        started = set()
        for j, site in zip(actions.start_job.tolist(), actions.start_site.tolist(), strict=True):
            gang = int(self.jobs.gpus[j])
            if rec.state[j] != QUEUED or not 0 <= site < len(free) or free[site] < gang:
                rec.refused_starts += 1
                continue
            free[site] -= gang
            self.busy[site] += gang
            rec.state[j], rec.site[j] = RUNNING, site
            if rec.first_start_step[j] < 0:
                rec.first_start_step[j] = k
            self.running.add(j)
            started.add(j)
        if started:
            self.queue = [j for j in self.queue if j not in started]
        s = len(self.fleet.names)
        self.rec.gpu_cap_w[k] = np.full(s, np.nan) if actions.gpu_cap_w is None else actions.gpu_cap_w
        if actions.supply_temp_c is not None:
            self.rec.supply_temp_c[k] = actions.supply_temp_c
        if actions.battery_mw is not None:
            self.rec.battery_mw[k] = actions.battery_mw

    def _progress(self, k: int) -> None:
        if not self.running:
            return
        rec, jobs, step_h = self.jobs_rec, self.jobs, self.fleet.step_h
        run = np.fromiter(self.running, dtype=np.int64, count=len(self.running))
        caps = self.rec.gpu_cap_w[k][rec.site[run]]
        rate = np.ones(run.size)
        capped = ~np.isnan(caps)
        if capped.any():
            for site in np.unique(rec.site[run][capped]):
                sel = capped & (rec.site[run] == site)
                plant_gpu = self.fleet.plants[int(site)].gpu
                rate[sel] = throughput_factor(plant_gpu, caps[sel][0], "training")
        overhead = np.clip(jobs.checkpoint_cost_h[run] / np.maximum(jobs.checkpoint_interval_h[run], 1e-9), 0, 0.9)
        work = step_h * rate * (1.0 - overhead)
        before = rec.remaining_h[run]
        rec.remaining_h[run] = before - work
        since = rec.since_checkpoint_h[run] + step_h
        rec.since_checkpoint_h[run] = np.mod(since, np.maximum(jobs.checkpoint_interval_h[run], 1e-9))
        done = rec.remaining_h[run] <= 1e-9
        for j, b, w in zip(run[done].tolist(), before[done].tolist(), work[done].tolist(), strict=True):
            rec.finish_step[j] = k + max(b, 0.0) / w if w > 0 else k + 1
            rec.remaining_h[j] = 0.0
            rec.state[j] = DONE
            self.busy[int(rec.site[j])] -= int(jobs.gpus[j])
            self.running.discard(j)

    # ---------------------------------------------------------------------------------------------------- run
    def run(self, progress: Callable[[int], None] | None = None) -> tuple[JobRecord, StepRecord]:
        """Step through the whole period; ``progress(k)`` is called after each step."""
        for k in range(self.fleet.steps):
            self._admit(k)
            self._apply_failures(k)
            free = self._fit_capacity(k)
            actions = self.policy.decide(self._observe(k, free.copy()))
            self._apply(k, actions, free)
            self.rec.busy_gpus[k] = self.busy
            self._progress(k)
            if progress is not None:
                progress(k)
        return self.jobs_rec, self.rec

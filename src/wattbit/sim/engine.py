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

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wattbit.physics.battery import battery_step
from wattbit.physics.gpu_load import POWER_CLASSES, class_throughput_factor, draw_power_classes
from wattbit.sim.faults import FailureEvents
from wattbit.sim.fleet import Fleet
from wattbit.sim.policy import Actions, JobView, Observation, Policy, read_only
from wattbit.workload.jobs import KIND_NAMES, TrainingJobs

WAITING, QUEUED, RUNNING, DONE = 0, 1, 2, 3
NO_DEADLINE = np.iinfo(np.int64).max // 2

#: Effective bandwidth between sites for moving a job's state [Gbit/s]. Assumption (U): one dedicated 100 GbE
#: wavelength between regions (e.g. a leased 100G line or an IOWN APN path), shared by nothing else.
MIGRATION_LINK_GBPS = 100.0


@dataclass
class JobRecord:
    """What happened to every job (arrays over jobs).

    ``remaining_h`` is work still to do; ``lost_h`` work redone after failures (added to remaining when lost);
    ``overhead_h`` time its gang spent on pause checkpoints, state transfers and restarts after pauses or migrations;
    ``evictions`` the pauses the engine made itself because inference or the grid connection claimed GPUs back
    (counted in ``pauses`` too).
    """

    state: NDArray[np.int8]
    site: NDArray[np.int16]
    data_site: NDArray[np.int16]
    remaining_h: NDArray[np.float64]
    pending_overhead_h: NDArray[np.float64]
    since_checkpoint_h: NDArray[np.float64]
    first_start_step: NDArray[np.int64]
    finish_step: NDArray[np.float64]
    interruptions: NDArray[np.int32]
    pauses: NDArray[np.int32]
    evictions: NDArray[np.int32]
    migrations: NDArray[np.int32]
    lost_h: NDArray[np.float64]
    overhead_h: NDArray[np.float64]
    refused_starts: int = 0
    refused_pauses: int = 0
    refused_migrations: int = 0


@dataclass
class StepRecord:
    """Per step and site (steps, sites): GPUs running jobs, held for inference, available, and the actions
    (``uncapped_gpus``: busy GPUs of jobs exempt from the site's cap that step; ``battery_self_consumption``: steps
    where the policy left the battery to its self-consumption rule, :attr:`Actions.battery_rule`). Per step, site
    and power class of :data:`wattbit.physics.gpu_load.POWER_CLASSES` (steps, sites, classes): ``busy_by_class``
    and ``uncapped_by_class``."""

    busy_gpus: NDArray[np.int64]
    inference_gpus: NDArray[np.int64]
    inference_needed: NDArray[np.float64]
    available_gpus: NDArray[np.int64]
    gpu_cap_w: NDArray[np.float64]
    uncapped_gpus: NDArray[np.int64]
    supply_temp_c: NDArray[np.float64]
    battery_mw: NDArray[np.float64]
    busy_by_class: NDArray[np.int32]
    uncapped_by_class: NDArray[np.int32]
    battery_self_consumption: NDArray[np.bool_]


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
        self.jobs_rec = JobRecord(
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
        self.gpus_out = _gpus_out(events, fleet)
        self._times = list(fleet.index)
        self._job_source = {
            "gpus": jobs.gpus.astype(np.int64),
            "remaining_h": self.jobs_rec.remaining_h,
            "work_rate": self._work_rate,
            "failure_loss_h": jobs.checkpoint_interval_h + jobs.restart_cost_h,
            "pause_cost_h": jobs.checkpoint_cost_h + jobs.restart_cost_h,
            "deadline_step": self.deadline_step,
            "submit_step": self.ready_step,
            "pausable": jobs.pausable,
            "migratable": jobs.migratable,
            "data_size_gb": jobs.data_size_gb,
            "data_site": self.jobs_rec.data_site,
            "site": self.jobs_rec.site,
        }
        self._has_battery = np.array([b is not None for b in fleet.batteries])
        self.soc_mwh = np.array([0.0 if b is None else b.initial_soc_mwh for b in fleet.batteries])
        self.queue: list[int] = []
        self.running: set[int] = set()
        self.busy = np.zeros(s, dtype=np.int64)
        self.busy_class = np.zeros((s, len(POWER_CLASSES)), dtype=np.int64)
        self.step = 0
        self._free: NDArray[np.int64] | None = None
        self._uncapped = np.empty(0, dtype=np.int64)
        self._next_arrival = 0

    @property
    def done(self) -> bool:
        """Whether every step has been simulated."""
        return self.step >= self.fleet.steps

    # --------------------------------------------------------------------------------------------- step pieces
    def _admit(self, k: int) -> None:
        end = int(np.searchsorted(self._ready_sorted, k, side="right"))
        if end > self._next_arrival:
            new = self.order[self._next_arrival : end]
            self.jobs_rec.state[new] = QUEUED
            self.queue.extend(new.tolist())
            self._next_arrival = end

    def _stop(self, j: int) -> int:
        """Take running job ``j`` off its site and back into the queue; returns the site."""
        rec = self.jobs_rec
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
        self.queue.append(j)
        self.queue.sort(key=lambda x: (self.ready_step[x], x))

    def _interrupt(self, j: int) -> None:
        """A failure or a capacity loss: the work since the last checkpoint is lost, the job restarts later."""
        rec = self.jobs_rec
        lost = float(rec.since_checkpoint_h[j]) + float(self.jobs.restart_cost_h[j])
        rec.remaining_h[j] += lost
        rec.lost_h[j] += lost
        rec.interruptions[j] += 1
        self._stop(j)
        self._requeue(j)

    def _pause(self, j: int) -> int:
        """A policy's pause: checkpoint now (kept), reload on resume; both paid as overhead on the next run."""
        rec = self.jobs_rec
        rec.pending_overhead_h[j] += float(self.jobs.checkpoint_cost_h[j]) + float(self.jobs.restart_cost_h[j])
        rec.pauses[j] += 1
        return self._stop(j)

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
                self._interrupt(victim)

    def _limit(self, k: int) -> NDArray[np.int64]:
        """GPUs that may run jobs at each site this step (after repairs, inference and the grid connection)."""
        return np.minimum(self.rec.available_gpus[k] - self.rec.inference_gpus[k], self.fleet.max_busy_gpus[k])

    def _fit_capacity(self, k: int) -> NDArray[np.int64]:
        available = self.fleet.gpus_total - self.gpus_out[k]
        if self.inference_share is None or self.inference_full is None:
            needed = self.inference_needed[k]
        else:
            needed = self.inference_share * self.inference_full[k]
        self.rec.available_gpus[k] = available
        self.rec.inference_gpus[k] = np.minimum(np.ceil(needed - 1e-9).astype(np.int64), available)
        self.rec.inference_needed[k] = needed
        limit = self._limit(k)
        # GPUs taken out by failures and derates take their jobs down at once (work since the checkpoint lost);
        # capacity that inference or the grid connection claims back is foreseen a step ahead, so the youngest
        # jobs over it are checkpointed and paused (no work lost), or lose their work if they cannot pause
        for site in np.flatnonzero(self.busy > limit):
            on_site = sorted((j for j in self.running if self.jobs_rec.site[j] == site), reverse=True)
            for j in on_site:  # youngest first
                if self.busy[site] <= limit[site]:
                    break
                if self.busy[site] > available[site] or not self.jobs.pausable[j]:
                    self._interrupt(j)
                else:
                    self._pause(j)
                    self.jobs_rec.evictions[j] += 1
                    self._requeue(j)
        return np.maximum(limit - self.busy, 0)

    def _view(self, job: NDArray[np.int64]) -> JobView:
        k = self.step
        return JobView(job, self._job_source, lambda: self.step == k and self._free is not None)

    def _observe(self, k: int, free: NDArray[np.int64]) -> Observation:
        f = self.fleet
        running = np.fromiter(self.running, dtype=np.int64, count=len(self.running))
        running.sort()
        past = slice(0, k + 1)
        return Observation(
            step=k,
            time_utc=self._times[k],
            step_h=f.step_h,
            site_names=f.names,
            plants=f.plants,
            batteries=f.batteries,
            grid_limit_w=read_only(f.grid_limit_w),  # type: ignore[arg-type]
            gpus_total=read_only(f.gpus_total),  # type: ignore[arg-type]
            gpus_available=read_only(self.rec.available_gpus[k]),  # type: ignore[arg-type]
            gpus_free=free,
            inference_gpus=read_only(self.rec.inference_gpus[k]),  # type: ignore[arg-type]
            queue=self._view(np.asarray(self.queue, dtype=np.int64)),
            running=self._view(running),
            battery_soc_mwh=self.soc_mwh.copy(),
            migration_link_gbps=self.link_gbps,
            carbon_g_per_kwh=read_only(f.carbon_g_per_kwh[past]),  # type: ignore[arg-type]
            price_jpy_per_mwh=read_only(f.price_jpy_per_mwh[past]),  # type: ignore[arg-type]
            curtailed_mwh=read_only(f.curtailed_mwh[past]),  # type: ignore[arg-type]
            temp_db_c=read_only(f.temp_db_c[past]),  # type: ignore[arg-type]
            temp_wb_c=read_only(f.temp_wb_c[past]),  # type: ignore[arg-type]
            pv_w=read_only(f.pv_w[past]),  # type: ignore[arg-type]
            wind_w=read_only(f.wind_w[past]),  # type: ignore[arg-type]
            inference_gpus_needed=read_only(self.inference_needed[past]),  # type: ignore[arg-type]
            inference_full_gpus=None if self.inference_full is None else read_only(self.inference_full[past]),  # type: ignore[arg-type]
            inference_share=None if self.inference_share is None else self.inference_share.copy(),
        )

    def _start_many(self, k: int, job: NDArray[np.int64], site: NDArray[np.int64], free: NDArray[np.int64]) -> int:
        """Start the listed queued jobs in order where each fits and may run (a job whose state sits at another
        site moves it there, if it is migratable); returns how many were refused."""
        rec = self.jobs_rec
        job = np.asarray(job, dtype=np.int64)
        site = np.asarray(site, dtype=np.int64)
        if job.shape != site.shape:
            raise ValueError(f"start_job and start_site differ in length ({job.size} vs {site.size})")
        ok = (site >= 0) & (site < len(free)) & (job >= 0) & (job < len(self.jobs))
        ok[ok] &= rec.state[job[ok]] == QUEUED
        home = np.full(job.size, -1, dtype=np.int64)
        home[ok] = rec.data_site[job[ok]]
        away = ok & (home >= 0) & (home != site)
        ok[away] &= self.jobs.migratable[job[away]]
        cand = np.flatnonzero(ok)
        room = free.tolist()
        taken: set[int] = set()
        accepted = []
        cand_job, cand_site = job[cand], site[cand]
        for i, j, st, g in zip(
            cand.tolist(), cand_job.tolist(), cand_site.tolist(), self._gangs[cand_job].tolist(), strict=True
        ):
            if room[st] >= g and j not in taken:
                room[st] -= g
                taken.add(j)
                accepted.append(i)
        free[:] = room
        acc = np.asarray(accepted, dtype=np.int64)
        js, ss = job[acc], site[acc]
        moved = js[away[acc]]
        rec.pending_overhead_h[moved] += self.transfer_h[moved]
        rec.migrations[moved] += 1
        self.busy += np.bincount(ss, weights=self._gangs[js], minlength=len(free)).astype(np.int64)
        np.add.at(self.busy_class, (ss, self.power_class[js]), self._gangs[js])
        rec.state[js] = RUNNING
        rec.site[js] = ss
        rec.data_site[js] = ss
        first = js[rec.first_start_step[js] < 0]
        rec.first_start_step[first] = k
        self.running.update(taken)
        if taken:
            self.queue = [j for j in self.queue if j not in taken]
        return int(job.size - acc.size)

    def _apply(self, k: int, actions: Actions, free: NDArray[np.int64]) -> None:
        rec = self.jobs_rec
        limit = self._limit(k)
        for j in actions.pause_job.tolist():
            if j not in self.running or not self.jobs.pausable[j]:
                rec.refused_pauses += 1
                continue
            site = self._pause(j)
            free[site] = max(min(limit[site] - self.busy[site], free[site] + int(self.jobs.gpus[j])), 0)
            self._requeue(j)
        for j, dest in zip(actions.migrate_job.tolist(), actions.migrate_site.tolist(), strict=True):
            gang = int(self.jobs.gpus[j])
            ok = j in self.running and self.jobs.migratable[j] and 0 <= dest < len(free)
            if not ok or dest == rec.site[j] or free[dest] < gang:
                rec.refused_migrations += 1
                continue
            site = self._pause(j)
            rec.pauses[j] -= 1  # a migration, counted as such by _start
            free[site] = max(min(limit[site] - self.busy[site], free[site] + gang), 0)
            self._start_many(k, np.array([j]), np.array([dest]), free)
        if len(actions.start_job) or len(actions.start_site):
            rec.refused_starts += self._start_many(k, actions.start_job, actions.start_site, free)
        s = len(self.fleet.names)
        self.rec.gpu_cap_w[k] = np.full(s, np.nan) if actions.gpu_cap_w is None else actions.gpu_cap_w
        self._uncapped = np.asarray(actions.uncapped_job, dtype=np.int64)
        if actions.supply_temp_c is not None:
            self.rec.supply_temp_c[k] = actions.supply_temp_c
        if actions.inference_share is not None:
            self._route(actions.inference_share)
        if actions.battery_rule not in (None, "self_consumption"):
            raise ValueError(f"unknown battery_rule {actions.battery_rule!r}; expected None or 'self_consumption'")
        commanded = (
            np.zeros(s, dtype=bool)
            if actions.battery_mw is None
            else np.isfinite(np.asarray(actions.battery_mw, float))
        )
        if actions.battery_rule == "self_consumption":  # the rule where no command is given (None or NaN)
            self.rec.battery_self_consumption[k] = self._has_battery & ~commanded
        if actions.battery_mw is not None:
            request = np.where(self._has_battery & commanded, np.asarray(actions.battery_mw, dtype=float), 0.0)
            self.rec.battery_mw[k] = request
            for i in np.flatnonzero(request != 0.0):
                spec = self.fleet.batteries[i]
                assert spec is not None
                _, soc = battery_step(spec, self.soc_mwh[i], request[i], self.fleet.step_h)
                self.soc_mwh[i] = float(soc)

    def _route(self, share: NDArray[np.float64]) -> None:
        """Shares of the inference demand per site, from the next step on."""
        if self.inference_full is None:
            raise ValueError("this run has no per-site inference capacities to route with (inference_full_gpus)")
        share = np.asarray(share, dtype=float)
        if share.shape != (len(self.fleet.names),) or not np.all(np.isfinite(share)) or np.any(share < 0):
            raise ValueError(f"inference_share must be {len(self.fleet.names)} finite shares >= 0, got {share}")
        if abs(share.sum() - 1.0) > 1e-6:
            raise ValueError(f"inference_share must sum to 1, got {share.sum():.6f}")
        self.inference_share = share

    def _progress(self, k: int) -> None:
        if not self.running:
            return
        rec, step_h = self.jobs_rec, self.fleet.step_h
        run = np.fromiter(self.running, dtype=np.int64, count=len(self.running))
        sites = rec.site[run]
        rate = self._work_rate[run] * self._site_speed[sites]  # H100-hours of work per hour on the site's GPUs
        caps = self.rec.gpu_cap_w[k]
        if not np.isnan(caps).all():
            exempt = np.isin(run, self._uncapped) if self._uncapped.size else np.zeros(run.size, dtype=bool)
            for site in np.flatnonzero(~np.isnan(caps)):
                sel = (sites == site) & ~exempt
                gpu = self.fleet.plants[int(site)].gpu
                rate[sel] *= class_throughput_factor(gpu, caps[site], self.power_class[run[sel]])
            if exempt.any():
                self.rec.uncapped_gpus[k] = np.bincount(
                    sites[exempt], weights=self._gangs[run[exempt]], minlength=len(caps)
                ).astype(np.int64)
                np.add.at(
                    self.rec.uncapped_by_class[k],
                    (sites[exempt], self.power_class[run[exempt]]),
                    self._gangs[run[exempt]].astype(np.int32),
                )
        pending = rec.pending_overhead_h[run]
        paid = np.minimum(pending, step_h)
        working_h = step_h - paid
        if paid.any():
            rec.pending_overhead_h[run] = pending - paid
            rec.overhead_h[run] += paid
        before = rec.remaining_h[run]
        after = before - working_h * rate
        rec.remaining_h[run] = after
        rec.since_checkpoint_h[run] = np.mod(rec.since_checkpoint_h[run] + working_h, self._interval_h[run])
        done = after <= 1e-9
        if not done.any():
            return
        jd = run[done]
        frac = (paid[done] + np.maximum(before[done], 0.0) / rate[done]) / step_h
        rec.finish_step[jd] = k + np.minimum(frac, 1.0)
        rec.remaining_h[jd] = 0.0
        rec.state[jd] = DONE
        self.busy -= np.bincount(sites[done], weights=self._gangs[jd], minlength=len(self.busy)).astype(np.int64)
        np.add.at(self.busy_class, (sites[done], self.power_class[jd]), -self._gangs[jd])
        self.running.difference_update(jd.tolist())

    # ------------------------------------------------------------------------------------------ stepping API
    def observe(self) -> Observation:
        """Begin the current step (arrivals, failures, capacity) if not yet begun, and return what a policy sees."""
        if self.done:
            raise RuntimeError("the simulation has ended; no step left to observe")
        k = self.step
        if self._free is None:
            self._admit(k)
            self._apply_failures(k)
            self._free = self._fit_capacity(k)
        return self._observe(k, self._free.copy())

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
        self.gpus_out = _gpus_out(self.events, self.fleet)

    def run(self, progress: Callable[[int], None] | None = None) -> tuple[JobRecord, StepRecord]:
        """Step through the rest of the period with the policy; ``progress(k)`` is called after each step."""
        if self.policy is None:
            raise RuntimeError("Engine.run needs a policy; drive the loop with observe()/advance() otherwise")
        while not self.done:
            k = self.step
            self.advance(self.policy.decide(self.observe()))
            if progress is not None:
                progress(k)
        return self.jobs_rec, self.rec

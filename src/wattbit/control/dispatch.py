"""From a plan's GPUs per site to individual jobs: which to start, pause or move, and where.

The planning models (:mod:`wattbit.opt.dispatch`) decide how many GPUs run training at each site in each slot, not
which job; this module turns such per-site targets into job actions, the same way for every planning policy:

1. **Urgent jobs first.** A queued job whose slack (steps to its deadline less the steps of work it still needs at
   the slowest progress a cap may leave it, with one failure's work in hand) is at most ``urgent_steps`` starts now
   wherever its gang fits, whatever the plan says: a plan built on forecasts must not cost a deadline. Where it fits
   nowhere, running jobs that can still wait (slack above twice ``urgent_steps``) are paused to make room.
2. **Above target, pause or move.** Where a site runs more training GPUs than its target, running jobs that may be
   paused and still have ``min_remaining_h`` of work are moved (when migratable, to a site below its target, if the
   state transfer costs less than ``max_transfer_share`` of the work left) or paused (the latest deadline first),
   as long as that brings the site closer to its target.
3. **Below target, start.** Queued jobs in earliest-deadline-first order start at the site with room (target less
   running) for their gang, preferring the site holding their state, then the site with the most room; a job that
   fits nowhere is skipped and the next one tried (backfilling).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wattbit.sim.engine import NO_DEADLINE
from wattbit.sim.policy import Actions, JobView, Observation
from wattbit.units import FloatArray, IntArray


@dataclass(frozen=True)
class DispatchRules:
    """Parameters of :func:`dispatch_jobs` (see the module text).

    Attributes
    ----------
    urgent_steps
        A queued job with at most this many steps of slack starts now.
    pause
        Whether running jobs may be paused or moved to follow the targets.
    min_remaining_h
        Only jobs with at least this much work left are paused or moved.
    max_transfer_share
        Largest state-transfer time, as a share of the work left, for which a job is moved rather than paused.
    fill
        A job starts where the room is at least ``fill`` times its gang (1: never beyond the target).
    protect_against_failure
        Count a job as urgent early enough that one failure (the work since a checkpoint and the restart) still
        leaves time to finish by its deadline.
    urgent_by_room
        Start an urgent job at the site with the most room left under the plan's target (False: any site with
        room for ``fill`` of its gang first, then the order of the sites, by current grid carbon intensity).
    uncap_steps
        Jobs with at most this much slack run uncapped (their slack is already computed at the lowest cap's
        throughput with one failure's work in hand); None: twice ``urgent_steps``.
    """

    urgent_steps: int = 8
    pause: bool = True
    min_remaining_h: float = 1.0
    max_transfer_share: float = 0.05
    fill: float = 0.5
    protect_against_failure: bool = True
    urgent_by_room: bool = False
    uncap_steps: int | None = None


#: Slowest throughput a power cap may leave a job: the lowest default cap, 70 % of TDP (0.865, docs/models/gpu.md).
WORST_CAP_THROUGHPUT = 0.86


def slack_steps(
    obs: Observation,
    remaining_h: FloatArray,
    deadline_step: IntArray,
    work_rate: FloatArray | float = 1.0,
    reserve_h: FloatArray | float = 0.0,
    speed: FloatArray | float = 1.0,
) -> FloatArray:
    """Steps a job can still wait and finish by its deadline at the slowest progress it may see (its checkpoint
    rate under the lowest cap, :data:`WORST_CAP_THROUGHPUT`) with ``reserve_h`` of work to spare (e.g. what one
    failure can cost), plus one step of margin, on GPUs of training ``speed`` (H100 = 1); inf without a deadline."""
    work_h = np.asarray(remaining_h) + np.asarray(reserve_h)
    rate = obs.step_h * WORST_CAP_THROUGHPUT * np.asarray(work_rate) * np.asarray(speed)
    need = np.ceil(work_h / rate - 1e-9) + 1
    slack = deadline_step.astype(float) - obs.step - need
    return np.where(deadline_step >= NO_DEADLINE, np.inf, slack)


def _make_room(
    run: JobView,
    run_slack: FloatArray,
    stopped: set[int],
    free: list[int],
    sites: list[int],
    gang: int,
    min_slack: float,
) -> int:
    """Pause running jobs that can wait (slack above ``min_slack``) at the first of ``sites`` where that frees
    ``gang`` GPUs for an urgent job; adds them to ``stopped`` and their GPUs to ``free``. Returns the site or -1."""
    if not len(run):
        return -1
    jobs, site_of, gpus = run.job.tolist(), run.site.tolist(), run.gpus.tolist()
    can = run.pausable & (np.asarray(run_slack) > min_slack)
    by_slack = np.argsort(-np.asarray(run_slack, dtype=float), kind="stable").tolist()
    for s in sites:
        chosen, room = [], free[s]
        for i in by_slack:
            if room >= gang:
                break
            if site_of[i] == s and can[i] and jobs[i] not in stopped:
                chosen.append(i)
                room += gpus[i]
        if room >= gang:
            for i in chosen:
                stopped.add(jobs[i])
            free[s] = room
            return s
    return -1


def site_speed(obs: Observation) -> FloatArray:
    """Training speed of each site's GPUs relative to an H100 (``GpuModel.training_speed``)."""
    return np.array([p.gpu.training_speed for p in obs.plants])


def running_slack(obs: Observation, rules: DispatchRules | None = None, with_reserve: bool = True) -> FloatArray:
    """Slack of every running job at its own site's speed (see :func:`slack_steps`)."""
    run = obs.running
    if not len(run):
        return np.zeros(0)
    extra = reserve(run, rules) if with_reserve else 0.0
    return slack_steps(obs, run.remaining_h, run.deadline_step, run.work_rate, extra, site_speed(obs)[run.site])


def slack_at_sites(obs: Observation, jobs: JobView, reserve_h: FloatArray | float) -> FloatArray:
    """Slack of each of ``jobs`` on each site's GPUs, (jobs, sites) (see :func:`slack_steps`)."""
    columns = [
        slack_steps(obs, jobs.remaining_h, jobs.deadline_step, jobs.work_rate, reserve_h, v)
        for v in site_speed(obs).tolist()
    ]
    return np.stack(columns, axis=1) if columns else np.zeros((len(jobs), 0))


def queued_slack(obs: Observation, rules: DispatchRules | None = None) -> FloatArray:
    """Slack of every queued job at every site, (jobs, sites), with one failure's work in hand."""
    return slack_at_sites(obs, obs.queue, reserve(obs.queue, rules))


def in_time_sites(slack: FloatArray, allowed: list[int], margin: float) -> list[int]:
    """Of ``allowed`` sites, those where a job keeps more than ``margin`` steps of slack; else those where it still
    finishes; else those where it is least late (the fastest)."""
    for bound in (margin, 0.0):
        sites = [s for s in allowed if slack[s] > bound or (bound == 0.0 and slack[s] >= 0)]
        if sites:
            return sites
    best = max((slack[s] for s in allowed), default=0.0)
    return [s for s in allowed if slack[s] >= best - 1e-9]


def reserve(jobs: JobView, rules: DispatchRules | None = None) -> FloatArray:
    """Work to keep in hand for a job's deadline: what one failure can cost it, if the rules protect against one."""
    protect = (rules or DispatchRules()).protect_against_failure
    return np.asarray(jobs.failure_loss_h, dtype=float) if protect else np.zeros(len(jobs))


def dispatch_jobs(
    obs: Observation,
    target_gpus: FloatArray,
    rules: DispatchRules | None = None,
    site_order: IntArray | None = None,
    slot_left_h: float | None = None,
) -> Actions:
    """Job starts, pauses and moves that bring each site's training GPUs towards ``target_gpus`` (sites,).

    Parameters
    ----------
    obs
        The present.
    target_gpus
        Training GPUs the plan wants at each site now.
    rules
        Dispatch parameters.
    site_order
        Sites from most to least preferred for urgent jobs and ties (default: by current carbon intensity).
    slot_left_h
        Time left in the plan's slot [h] when ``target_gpus`` is the slot's average (a plan's GPUs per slot are
        GPU-hours over the slot): a running job that ends within it counts toward the site's training GPUs only
        for the share of that time it still runs when deciding pauses, so that jobs about to end do not make the
        site look above its target and cause pauses the plan did not ask for. None: count every running gang whole.
    """
    r = rules or DispatchRules()
    n_s = len(obs.site_names)
    free = obs.gpus_free.astype(np.int64).tolist()
    target = np.asarray(target_gpus, dtype=float)
    run = obs.running
    run_gpus, run_site = run.gpus.tolist(), run.site.tolist()
    busy = np.bincount(np.asarray(run_site, dtype=np.int64), weights=run.gpus, minlength=n_s).astype(float)
    over = busy.copy()  # what the site is about to average over the slot, for the pause rule
    if slot_left_h is not None and slot_left_h > 0 and len(run):
        left_h = run.remaining_h / np.maximum(run.work_rate * site_speed(obs)[run.site], 1e-9)
        stay = np.minimum(1.0, left_h / slot_left_h)
        over = np.bincount(np.asarray(run_site, dtype=np.int64), weights=run.gpus * stay, minlength=n_s)
    order = np.argsort(obs.carbon_g_per_kwh[-1], kind="stable").tolist() if site_order is None else list(site_order)
    pause_job: list[int] = []
    migrate_job: list[int] = []
    migrate_site: list[int] = []
    # 2. above target: move or pause (not urgent, long enough to be worth it), the latest deadline first
    if r.pause and len(run):
        slack = running_slack(obs, r)
        movable = run.pausable & (run.remaining_h >= r.min_remaining_h) & (slack > 2 * r.urgent_steps)
        transfer_h = run.data_size_gb * 8.0 / obs.migration_link_gbps / 3600.0
        # its slack on each site's GPUs, the transfer included: a job only moves where it still finishes in time
        slack_at = slack_at_sites(obs, run, reserve(run, r) + transfer_h)
        for i in np.argsort(-run.deadline_step.astype(float), kind="stable").tolist():
            s, g = run_site[i], run_gpus[i]
            if not movable[i] or over[s] - target[s] < g / 2:
                continue
            dest = -1
            if run.migratable[i] and transfer_h[i] <= r.max_transfer_share * run.remaining_h[i]:
                rooms = [
                    (target[d] - busy[d], d)
                    for d in range(n_s)
                    if d != s and free[d] >= g and slack_at[i, d] > 2 * r.urgent_steps
                ]
                rooms = [x for x in rooms if x[0] >= g * r.fill]
                if rooms:
                    dest = max(rooms)[1]
            busy[s] -= g
            over[s] -= g
            if dest >= 0:
                migrate_job.append(int(run.job[i]))
                migrate_site.append(dest)
                free[dest] -= g
                busy[dest] += g
                over[dest] += g
            else:
                pause_job.append(int(run.job[i]))
                # the engine frees a paused gang at once, but only up to the grid-limited capacity: keep it unused
    # 1 + 3. starts: urgent wherever they fit; others where the plan has room, earliest deadline first
    q = obs.queue
    start_job: list[int] = []
    start_site: list[int] = []
    stopped = set(pause_job) | set(migrate_job)
    run_slack = running_slack(obs, r)
    if len(q):
        slack_q = queued_slack(obs, r)  # (jobs, sites): a job only goes where it can still finish in time
        best_slack = slack_q.max(axis=1) if slack_q.size else np.zeros(len(q))
        edf = np.lexsort((q.submit_step, q.deadline_step))
        gangs, home = q.gpus.tolist(), q.data_site.tolist()
        migratable = q.migratable.tolist()
        max_free = max(free)
        for i in edf.tolist():
            g = gangs[i]
            urgent = best_slack[i] <= r.urgent_steps
            if g > max_free and not urgent:
                continue
            h = home[i]
            allowed = [h] if (h >= 0 and not migratable[i]) else order
            if urgent:
                # where it still finishes (the fastest GPUs if nowhere), where the plan has room first
                in_time = [s for s in allowed if slack_q[i, s] >= 0] or sorted(allowed, key=lambda s: -slack_q[i, s])[
                    :1
                ]
                fits = [s for s in in_time if free[s] >= g]
                if r.urgent_by_room:  # where the plan has the most room left (least over it), home first on ties
                    cands = sorted(fits, key=lambda s: (-(target[s] - busy[s]), s != h))
                else:
                    cands = sorted(fits, key=lambda s: (target[s] - busy[s] < g * r.fill, s != h))
                if not cands and r.pause:
                    site = _make_room(run, run_slack, stopped, free, in_time, g, 2 * r.urgent_steps)
                    if site >= 0:
                        pause_job.extend(j for j in stopped if j not in pause_job and j not in migrate_job)
                        cands = [site]
            else:
                cands = [
                    s
                    for s in allowed
                    if free[s] >= g and target[s] - busy[s] >= g * r.fill and slack_q[i, s] > r.urgent_steps
                ]
                if h >= 0 and h in cands:
                    cands = [h]
                elif cands:
                    cands = [max(cands, key=lambda s: target[s] - busy[s])]
            if not cands:
                continue
            s = cands[0]
            free[s] -= g
            busy[s] += g
            start_job.append(int(q.job[i]))
            start_site.append(s)
            max_free = max(free)
    as_int = lambda x: np.asarray(x, dtype=np.int64)  # noqa: E731
    return Actions(
        start_job=as_int(start_job),
        start_site=as_int(start_site),
        pause_job=as_int(pause_job),
        migrate_job=as_int(migrate_job),
        migrate_site=as_int(migrate_site),
    )

"""What the engine shows a policy at a step (its :class:`~wattbit.sim.policy.Observation`), and how it applies
the policy's :class:`~wattbit.sim.policy.Actions` to a step: pauses and migrations, starts,
power caps (the work rates under them), cooling setpoints, inference routing and battery requests.

Functions of the engine's state (:class:`wattbit.sim.engine.Engine` calls them); the running jobs' columns are
described in :mod:`wattbit.sim.running`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from wattbit.physics.battery import battery_step
from wattbit.physics.gpu_load import class_throughput_factor
from wattbit.sim import kernels
from wattbit.sim.policy import Actions, JobView, Observation, read_only
from wattbit.sim.running import CLASS, GANG, JOB, SITE

if TYPE_CHECKING:
    from collections.abc import Mapping

    from wattbit.sim.engine import Engine


def _view(eng: Engine, job: NDArray[np.int64], source: Mapping[str, NDArray[np.generic]]) -> JobView:
    k = eng.step
    return JobView(job, source, lambda: eng.step == k and eng._free is not None)


def observation(eng: Engine, k: int, free: NDArray[np.int64]) -> Observation:
    """What a policy sees at step ``k`` of ``eng`` (``free``: GPUs free for jobs per site, the policy's copy)."""
    f, sig = eng.fleet, eng._signals
    running = eng._slots.jobs()
    running.sort()
    past = slice(0, k + 1)
    fields = {
        "step": k,
        "time_utc": eng._times[k],
        "step_h": f.step_h,
        "site_names": f.names,
        "plants": f.plants,
        "batteries": f.batteries,
        "gpus_available": read_only(eng.rec.available_gpus[k]),
        "gpus_free": free,
        "inference_gpus": read_only(eng.rec.inference_gpus[k]),
        "queue": _view(eng, np.asarray(eng.queue, dtype=np.int64), eng._job_source),
        "running": _view(eng, running, eng._running_source),
        "battery_soc_mwh": eng.soc_mwh.copy(),
        "migration_link_gbps": eng.link_gbps,
        "inference_full_gpus": None if eng._full_view is None else eng._full_view[past],
        "inference_share": None if eng.inference_share is None else eng.inference_share.copy(),
    }
    fields.update(eng._static_view)
    for name, view in sig.items():
        fields[name] = view[past]
    # every field given, as the constructor would take them (a frozen dataclass's __init__ costs more than
    # the rest of the observation)
    obs: Observation = object.__new__(Observation)
    obs.__dict__.update(fields)
    return obs


def start_jobs(eng: Engine, k: int, job: NDArray[np.int64], site: NDArray[np.int64], free: NDArray[np.int64]) -> int:
    """Start the listed queued jobs in order where each fits and may run (a job whose state sits at another
    site moves it there, if it is migratable); returns how many were refused."""
    rec = eng._jrec
    job = np.asarray(job, dtype=np.int64)
    site = np.asarray(site, dtype=np.int64)
    if job.shape != site.shape:
        raise ValueError(f"start_job and start_site differ in length ({job.size} vs {site.size})")
    if not job.size:
        return 0
    if not len(eng.jobs):
        return int(job.size)
    acc, away = kernels.accept_starts(
        job.ravel(), site.ravel(), free, rec.state, rec.data_site, eng.jobs.migratable, eng._gangs
    )
    if not acc.size:
        return int(job.size)
    js, ss = job.ravel()[acc], site.ravel()[acc]
    slots = eng._slots
    slots.reserve(js.size)
    slots.pending = kernels.slot_starts(
        js,
        ss,
        away,
        k,
        rec.site,
        rec.data_site,
        rec.first_start_step,
        rec.migrations,
        rec.remaining_h,
        rec.pending_overhead_h,
        rec.since_checkpoint_h,
        eng.transfer_h,
        eng._static,
        eng._site_speed,
        slots.data,
        slots.n,
        eng.busy_class,
        eng.busy,
    )
    slots.n += js.size
    taken = set(js.tolist())
    eng.running.update(taken)
    eng.queue = [j for j in eng.queue if j not in taken]
    return int(job.size - acc.size)


def apply_actions(eng: Engine, k: int, actions: Actions, free: NDArray[np.int64]) -> None:
    rec = eng._jrec
    if actions.pause_job.size or actions.migrate_job.size:
        stop_jobs(eng, k, actions, free)
    if len(actions.start_job) or len(actions.start_site):
        rec.refused_starts += start_jobs(eng, k, actions.start_job, actions.start_site, free)
    eng._capped = actions.gpu_cap_w is not None
    if eng._capped:  # rows start at NaN (no cap)
        eng.rec.gpu_cap_w[k] = actions.gpu_cap_w
        eng._capped = not np.isnan(eng.rec.gpu_cap_w[k]).all()
    eng._uncapped = np.asarray(actions.uncapped_job, dtype=np.int64)
    if actions.supply_temp_c is not None:
        eng.rec.supply_temp_c[k] = actions.supply_temp_c
    if actions.inference_share is not None:
        route(eng, actions.inference_share)
    if actions.battery_rule not in (None, "self_consumption"):
        raise ValueError(f"unknown battery_rule {actions.battery_rule!r}; expected None or 'self_consumption'")
    if actions.battery_mw is None:
        if actions.battery_rule == "self_consumption":  # the rule where no command is given
            eng.rec.battery_self_consumption[k] = eng._battery_rule_sites
        return
    commanded = np.isfinite(np.asarray(actions.battery_mw, float))
    if actions.battery_rule == "self_consumption":  # the rule where no command is given (None or NaN)
        eng.rec.battery_self_consumption[k] = eng._has_battery & ~commanded
    request = np.where(eng._has_battery & commanded, np.asarray(actions.battery_mw, dtype=float), 0.0)
    eng.rec.battery_mw[k] = request
    for i in np.flatnonzero(request != 0.0):
        spec = eng.fleet.batteries[i]
        assert spec is not None
        _, soc = battery_step(spec, eng.soc_mwh[i], request[i], eng.fleet.step_h)
        eng.soc_mwh[i] = float(soc)


def stop_jobs(eng: Engine, k: int, actions: Actions, free: NDArray[np.int64]) -> None:
    """Apply a policy's pauses, then its migrations."""
    rec = eng._jrec
    limit = eng._limit(k)
    for j in actions.pause_job.tolist():
        if j not in eng.running or not eng.jobs.pausable[j]:
            rec.refused_pauses += 1
            continue
        site = eng._pause(j)
        free[site] = max(min(limit[site] - eng.busy[site], free[site] + int(eng.jobs.gpus[j])), 0)
        eng._requeue(j)
    for j, dest in zip(actions.migrate_job.tolist(), actions.migrate_site.tolist(), strict=True):
        gang = int(eng.jobs.gpus[j])
        ok = j in eng.running and eng.jobs.migratable[j] and 0 <= dest < len(free)
        if not ok or dest == rec.site[j] or free[dest] < gang:
            rec.refused_migrations += 1
            continue
        site = eng._pause(j)
        rec.pauses[j] -= 1  # a migration, counted as such by _start
        free[site] = max(min(limit[site] - eng.busy[site], free[site] + gang), 0)
        # paused (queued state), not in the queue: it resumes at once at the destination
        start_jobs(eng, k, np.array([j]), np.array([dest]), free)


def route(eng: Engine, share: NDArray[np.float64]) -> None:
    """Shares of the inference demand per site, from the next step on."""
    if eng.inference_full is None:
        raise ValueError("this run has no per-site inference capacities to route with (inference_full_gpus)")
    share = np.asarray(share, dtype=float)
    if share.shape != (len(eng.fleet.names),) or not np.all(np.isfinite(share)) or np.any(share < 0):
        raise ValueError(f"inference_share must be {len(eng.fleet.names)} finite shares >= 0, got {share}")
    if abs(share.sum() - 1.0) > 1e-6:
        raise ValueError(f"inference_share must sum to 1, got {share.sum():.6f}")
    eng.inference_share = share


def capped_rate(eng: Engine, k: int, rate: NDArray[np.float64]) -> NDArray[np.float64]:
    """Work rates of the slots under this step's caps; records the GPUs of jobs exempt from them."""
    d, n = eng._slots.data, eng._slots.n
    caps = eng.rec.gpu_cap_w[k]
    run, sites = d[JOB, :n].astype(np.int64), d[SITE, :n].astype(np.int64)
    classes = d[CLASS, :n].astype(np.int64)
    rate = rate.copy()
    exempt = np.isin(run, eng._uncapped) if eng._uncapped.size else np.zeros(n, dtype=bool)
    for site in np.flatnonzero(~np.isnan(caps)):
        sel = (sites == site) & ~exempt
        gpu = eng.fleet.plants[int(site)].gpu
        rate[sel] *= class_throughput_factor(gpu, caps[site], classes[sel])
    if exempt.any():
        gangs = d[GANG, :n][exempt]
        eng.rec.uncapped_gpus[k] = np.bincount(sites[exempt], weights=gangs, minlength=len(caps)).astype(np.int64)
        np.add.at(eng.rec.uncapped_by_class[k], (sites[exempt], classes[exempt]), gangs.astype(np.int32))
    return rate

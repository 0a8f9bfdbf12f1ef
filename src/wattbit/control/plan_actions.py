"""A dispatch plan's slot as the engine's actions: jobs toward the plan's GPUs per site, power caps (uncapped for
jobs short of time), cooling setpoints, battery power and inference routing that fits next to the training that
keeps running. Shared by ``mpc`` and the ``oracle``, which differ in how they make the plan, not in how they act on
it."""

from __future__ import annotations

import numpy as np

from wattbit.control.dispatch import DispatchRules, dispatch_jobs, queued_slack, running_slack
from wattbit.opt import DispatchPlan, SiteEnergyModel
from wattbit.sim.policy import Actions, Observation
from wattbit.units import FloatArray


def act_on_plan(
    obs: Observation,
    plan: DispatchPlan,
    energy: SiteEnergyModel,
    slot: int,
    rules: DispatchRules,
    slot_left_h: float | None = None,
) -> Actions:
    """The actions of slot ``slot`` of ``plan``: jobs toward its GPUs per site, caps, setpoints, battery, routing.

    ``slot_left_h``: time left in the slot [h], for the pause rule of :func:`~wattbit.control.dispatch.dispatch_jobs`
    (jobs ending within it count for the share they still run; None: whole).
    """
    slot = min(slot, plan.busy_gpus.shape[0] - 1)
    busy = plan.busy_gpus[slot]  # (sites, levels)
    target = busy.sum(axis=1)
    actions = dispatch_jobs(obs, target, rules, slot_left_h=slot_left_h)
    level = np.argmax(busy, axis=1)
    caps = energy.cap_w[np.arange(len(level)), level]
    actions.gpu_cap_w = np.where((target > 0.5) & (level > 0), caps, np.nan)
    # jobs short of time run uncapped (caps are set per GPU), keeping one failure's work in hand
    run = obs.running
    margin = 2 * rules.urgent_steps if rules.uncap_steps is None else rules.uncap_steps
    short = [run.job[running_slack(obs, rules) <= margin]] if len(run) else []
    if len(actions.start_job):  # jobs starting now, on the GPUs they were given
        q = obs.queue
        row = {int(j): i for i, j in enumerate(q.job.tolist())}
        idx = np.array([row[int(j)] for j in actions.start_job], dtype=np.int64)
        slack = queued_slack(obs, rules)[idx, actions.start_site]
        short.append(actions.start_job[slack <= margin])
    if short:
        actions.uncapped_job = np.concatenate(short).astype(np.int64)
    actions.supply_temp_c = energy.supply_temp_c[min(slot, energy.supply_temp_c.shape[0] - 1)].copy()
    actions.battery_mw = plan.battery_mw[slot].copy()
    if plan.inference_share is not None and obs.inference_full_gpus is not None:
        nxt = min(slot + 1, plan.inference_share.shape[0] - 1)
        actions.inference_share = safe_share(obs, plan.inference_share[nxt], actions)
    return actions


def safe_share(obs: Observation, wanted: FloatArray, actions: Actions) -> FloatArray | None:
    """Routing shares near ``wanted`` that fit next to the training that keeps running (None: keep the routing).

    Routing inference onto GPUs busy with training would make the engine evict jobs (losing their work since the
    last checkpoint), so a site's share is capped by its room: available GPUs less those still running jobs.
    """
    assert obs.inference_full_gpus is not None
    full = np.maximum(obs.inference_full_gpus[-1] * 1.05, 1e-9)
    run = obs.running
    stopping = set(actions.pause_job.tolist()) | set(actions.migrate_job.tolist())
    keep = np.array([j not in stopping for j in run.job.tolist()], dtype=bool)
    busy = np.bincount(run.site[keep], weights=run.gpus[keep], minlength=len(full)).astype(float)
    if len(actions.start_job):
        gang = dict(zip(obs.queue.job.tolist(), obs.queue.gpus.tolist(), strict=True))
        starts = np.array([gang.get(j, 0) for j in actions.start_job.tolist()], dtype=float)
        busy += np.bincount(actions.start_site, weights=starts, minlength=len(full))
    if len(actions.migrate_job):
        gang = dict(zip(run.job.tolist(), run.gpus.tolist(), strict=True))
        moved = np.array([gang.get(j, 0) for j in actions.migrate_job.tolist()], dtype=float)
        busy += np.bincount(actions.migrate_site, weights=moved, minlength=len(full))
    room = np.maximum(obs.gpus_available - busy, 0.0) / full
    share = np.minimum(np.clip(wanted, 0.0, None), room)
    short = 1.0 - share.sum()
    if short > 1e-9:
        spare = room - share
        if spare.sum() < short:
            return None
        share = share + spare * (short / spare.sum())
    return share / share.sum()

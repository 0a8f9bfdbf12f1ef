"""The watt-bit plan from the mpc policy's decisions, as scheduler and power actions.

The mpc policy (:mod:`wattbit.control.mpc`) decides, each step, which queued jobs start now and where, which running
jobs pause or move, the GPU power cap and the cooling setpoint of each site. A batch scheduler does not take such
orders directly; :func:`decision_actions` says the same thing in the scheduler's words:

- a queued job mpc starts now at a site: ``move`` it to that site's partition (when it is not already there) and
  ``release`` it when it was held — the scheduler then starts it there;
- a queued job mpc leaves waiting and that may wait (``wattbit:deferrable=1``; in the twin, a job with slack before
  its deadline): ``hold`` it, so that the scheduler does not start it on its own;
- a running job mpc pauses: ``requeue`` it after a checkpoint and hold it (Slurm's ``requeuehold``);
- a running job mpc moves: ``requeue`` it after a checkpoint, then ``move`` it (only once the requeue is approved);
- a site's GPU cap and cooling setpoint: ``power_cap`` and ``supply_temp`` through the power port, when they change.

Node weights stay the carbon ranking of :mod:`wattbit.ops.heal.plan`. What mpc decides and a scheduler plus a power
port cannot carry is left out, and said: per-job exemptions from a site's cap, battery dispatch, inference routing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wattbit.ops.heal.actions import Action
from wattbit.sim.policy import Actions, Observation


@dataclass
class PlanDecision:
    """One mpc decision in scheduler terms (jobs and sites by name)."""

    start: dict[str, str] = field(default_factory=dict)
    wait: list[str] = field(default_factory=list)
    pause: list[str] = field(default_factory=list)
    migrate: dict[str, str] = field(default_factory=dict)
    cap_w: dict[str, float | None] = field(default_factory=dict)
    supply_c: dict[str, float | None] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class SchedulerView:
    """What the plan needs to know of the scheduler and power port: held jobs, each job's partition (absent: any),
    each site's cap and setpoint now (None: none / design)."""

    held: set[str] = field(default_factory=set)
    partition: dict[str, str] = field(default_factory=dict)
    cap_w: dict[str, float | None] = field(default_factory=dict)
    supply_c: dict[str, float | None] = field(default_factory=dict)


def _changed(new: float | None, old: float | None) -> bool:
    if new is None or old is None:
        return (new is None) != (old is None)
    return abs(new - old) > 1e-6


def decision_actions(d: PlanDecision, view: SchedulerView, now_s: float, episode: str) -> list[Action]:
    """The scheduler and power actions that carry out ``d`` from the state ``view`` (see the module docstring);
    every action has ``source="plan"`` and the ``episode`` in its key."""
    out: list[Action] = []

    def add(kind: str, target: str, site: str, params: dict[str, Any], why: str) -> None:
        out.append(Action(kind, target, site, params, why, d.evidence, source="plan", episode=episode,
                          data_time_s=now_s))  # fmt: skip

    for job, site in d.start.items():
        if view.partition.get(job) != site:
            add("move", job, site, {"partition": site}, f"mpc starts it now at {site}")
        if job in view.held:
            add("release", job, site, {}, f"mpc starts it now at {site}")
    for job in d.wait:
        if job not in view.held:
            add("hold", job, view.partition.get(job, ""), {}, "mpc defers it (it has slack before its deadline)")
    for job in d.pause:
        add("requeue", job, view.partition.get(job, ""), {"checkpoint": True, "hold": True}, "mpc pauses it")
    for job, site in d.migrate.items():
        add("requeue", job, view.partition.get(job, ""), {"checkpoint": True, "then_move_to": site},
            f"mpc moves it to {site}")  # fmt: skip
    for site, w in d.cap_w.items():
        if _changed(w, view.cap_w.get(site)):
            add("power_cap", site, site, {"watts": w}, "mpc's GPU cap" if w is not None else "mpc lifts the cap")
    for site, c in d.supply_c.items():
        if _changed(c, view.supply_c.get(site)):
            add("supply_temp", site, site, {"celsius": c}, "mpc's setpoint" if c is not None else "design setpoint")
    return out


def deferrable(obs: Observation) -> np.ndarray:
    """Which queued jobs may wait a step: their deadline leaves more than a step beyond the time their work needs."""
    q = obs.queue
    if not len(q):
        return np.zeros(0, dtype=bool)
    need = np.ceil(np.asarray(q.remaining_h) / np.maximum(np.asarray(q.work_rate), 1e-9) / obs.step_h)
    return np.asarray(q.deadline_step) - obs.step > need + 1


def _per_site(values: Any, names: tuple[str, ...]) -> dict[str, float | None]:
    if values is None:
        return dict.fromkeys(names)
    return {n: (None if math.isnan(float(v)) else float(v)) for n, v in zip(names, np.asarray(values), strict=True)}


def decision_of(obs: Observation, plan: Actions) -> PlanDecision:
    """mpc's engine actions ``plan`` at ``obs`` as a :class:`PlanDecision` (jobs by their index, sites by name)."""
    names = obs.site_names
    start = {str(j): names[s] for j, s in zip(plan.start_job.tolist(), plan.start_site.tolist(), strict=True)}
    may_wait = deferrable(obs)
    wait = [str(j) for j, ok in zip(obs.queue.job.tolist(), may_wait.tolist(), strict=True) if ok]
    wait = [j for j in wait if j not in start]
    migrate = {str(j): names[s] for j, s in zip(plan.migrate_job.tolist(), plan.migrate_site.tolist(), strict=True)}
    ev = {
        "carbon_g_per_kwh": [round(float(x), 1) for x in obs.carbon_g_per_kwh[-1]],
        "price_jpy_per_mwh": [round(float(x), 1) for x in obs.price_jpy_per_mwh[-1]],
    }
    return PlanDecision(
        start=start,
        wait=wait,
        pause=[str(j) for j in plan.pause_job.tolist()],
        migrate=migrate,
        cap_w=_per_site(plan.gpu_cap_w, names),
        supply_c=_per_site(plan.supply_temp_c, names),
        evidence=ev,
    )

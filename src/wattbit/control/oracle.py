"""``oracle``: the watt-bit programme over the whole period with perfect knowledge — the bound.

The oracle is given, before the run, everything the engine will see: every job's arrival, size and deadline, the
observed signals, the weather and the GPUs failures take out. It solves the cumulative form of the programme
(:mod:`wattbit.opt.dispatch`, linopy + HiGHS) once, on slots of ``slot_steps`` engine steps, and then follows the plan
like ``mpc`` does (:func:`wattbit.control.plan_actions.act_on_plan`).

Its *plan* is a bound: a relaxation of what any policy can do in the engine, so no policy's carbon (or weighted
objective) on the same run can be lower. Each relaxation is on the optimistic side:

* gang scheduling is relaxed: work is fluid, at most the gangs of the jobs that may run per slot. Jobs whose
  window (ready to due) spans at most ``window_slots`` slots are grouped by exact (ready, due) slot pair, each
  group served inside its own window; longer-window jobs share cumulative curves (served by each slot at least what
  is due, at most what is released);
* per slot, the lowest carbon intensity and price of its steps, the highest on-site generation and GPUs in
  service, the lowest inference need, and facility power from the slot's coolest weather and the lower bound of
  :mod:`wattbit.control.site_energy` (facility power rises with outdoor temperature in every cooling model);
* no work is lost to failures, no overhead is paid for pausing or moving; work is released at the start of the
  slot it becomes ready in and due at the end of the slot its deadline falls in; jobs due after the period need
  the straight-line share of their work by its end (the rule ``mpc`` follows).

What the engine then measures when the plan is followed (``oracle`` in ``wattbit bench``) is an achievable result
with perfect knowledge; the bound is reported beside it as ``oracle_bound``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wattbit.control.dispatch import WORST_CAP_THROUGHPUT, DispatchRules
from wattbit.control.mpc import rtt_ms
from wattbit.control.plan_actions import act_on_plan
from wattbit.control.site_energy import DEFAULT_CAP_FRACTIONS, site_energy_model
from wattbit.opt import (
    CumulativeWork,
    DispatchInputs,
    DispatchPlan,
    DispatchWeights,
    SiteEnergyModel,
    WindowedWork,
    solve_dispatch,
)
from wattbit.sim.engine import NO_DEADLINE, _gpus_out, steps_of
from wattbit.sim.policy import Actions, Observation
from wattbit.units import FloatArray


@dataclass(frozen=True)
class OracleConfig:
    """Settings of the offline optimum (see :class:`wattbit.control.mpc.MPCConfig` for the shared ones).

    ``gang_ramps``: the cumulative curves count each job's gang rate (:func:`gang_ramps`), so the plan cannot
    serve a job's work faster than its gang runs (False: work due at its deadline slot, released at its ready slot,
    as before: a looser bound whose plan the engine cannot follow). ``follow_plan``: solve a second programme, the
    plan to act on, with the dispatch's own margins (:func:`oracle_inputs` with ``follow``); the bound stays the
    first programme's.
    """

    slot_steps: int = 4
    weights: DispatchWeights = field(default_factory=DispatchWeights)
    cap_fractions: tuple[float, ...] = DEFAULT_CAP_FRACTIONS
    routing: bool = True
    max_rtt_ms: float = 20.0
    # the plan's caps on every job whose slack (at the lowest cap, one failure in hand) is positive: 1.8-9.7 t less
    # carbon per two-week window than uncapping those within 4 h of their slack, no more deadline misses
    dispatch: DispatchRules = field(default_factory=lambda: DispatchRules(uncap_steps=0))
    time_limit_s: float | None = None
    window_slots: int = 4
    slot_average: bool = True
    gang_ramps: bool = False
    follow_plan: bool = False


def _slots(a: FloatArray, n: int, how: str) -> FloatArray:
    """Aggregate (steps, ...) to (slots, ...) of ``n`` steps; a short last slot is padded with its own values."""
    steps = a.shape[0]
    pad = (-steps) % n
    if pad:
        a = np.concatenate([a, np.repeat(a[-1:], pad, axis=0)])
    r = a.reshape(-1, n, *a.shape[1:])
    return {"min": r.min(axis=1), "max": r.max(axis=1), "sum": r.sum(axis=1), "mean": r.mean(axis=1)}[how]


def gang_ramps(
    work: FloatArray,
    rate: FloatArray,
    ready: NDArray[np.int64],
    due: NDArray[np.int64],
    has_due: NDArray[np.bool_],
    n_slots: int,
) -> tuple[FloatArray, FloatArray]:
    """Per slot, the least work jobs must have done by its end and the most they can have, (n_slots,) each.

    A job with ``work`` [GPU-h], doing at most ``rate`` per slot from the start of slot ``ready``, has done by the
    end of slot ``t`` at most ``min(work, rate (t - ready + 1))`` and, to finish by the end of slot ``due``, at
    least ``work - rate (due - t)`` (never more than it can have done: a job that cannot finish in time owes the
    rest at its due slot). Any schedule of whole gangs stays between the sums, so the curves keep the plan a bound
    while forbidding it to serve a job faster than its gang runs. Returned as per-slot increments (cumulate them);
    jobs without a due slot in the period (``has_due`` False) add no lower curve.
    """
    work, rate = np.asarray(work, dtype=float), np.maximum(np.asarray(rate, dtype=float), 1e-12)
    inc_low, inc_up = np.zeros(n_slots + 2), np.zeros(n_slots + 2)
    slope_low, slope_up = np.zeros(n_slots + 2), np.zeros(n_slots + 2)
    cap = lambda k: np.clip(k, 0, n_slots + 1)  # noqa: E731
    # upper: full slots of ``rate`` from ``ready``, the rest of the work in the slot after them
    full = np.floor(work / rate).astype(np.int64)
    np.add.at(slope_up, cap(ready), rate)
    np.add.at(slope_up, cap(ready + full), -rate)
    np.add.at(inc_up, cap(ready + full), work - full * rate)
    # lower: zero until ``start`` (not before the job is ready), then ``rate`` per slot, the rest at ``due``
    d = due[has_due]
    w, r = work[has_due], rate[has_due]
    start = np.maximum(d - w / r, ready[has_due] - 1.0)
    k = np.floor(start).astype(np.int64) + 1
    first = np.minimum(r * (k - start), w)
    np.add.at(inc_low, cap(k), first)
    np.add.at(slope_low, cap(k + 1), r)
    np.add.at(slope_low, cap(d + 1), -r)
    np.add.at(inc_low, cap(d), w - first - r * np.maximum(d - k, 0))
    low = np.cumsum(inc_low + np.cumsum(slope_low))[:n_slots]
    up = np.cumsum(inc_up + np.cumsum(slope_up))[:n_slots]
    return np.diff(low, prepend=0.0), np.diff(np.maximum(up, low), prepend=0.0)


def oracle_inputs(inputs: Any, config: OracleConfig, follow: bool = False) -> tuple[DispatchInputs, SiteEnergyModel]:
    """The cumulative programme of a whole run (``inputs``: :class:`wattbit.sim.run.SimInputs`).

    ``follow``: the plan to act on rather than the bound: jobs progress at the slowest rate the dispatch assumes
    (the lowest cap's throughput on the fleet's slowest GPUs) and are due when the dispatch would call them
    urgent (one failure's work and the urgency margin before the deadline), with gang ramps, so that the jobs the
    plan defers do not turn urgent and start wherever there is room.
    """
    fleet, jobs, n = inputs.fleet, inputs.jobs, config.slot_steps
    n_steps, n_slots = fleet.steps, -(-fleet.steps // n)
    energy = site_energy_model(
        fleet.plants,
        _slots(fleet.temp_db_c, n, "min"),
        _slots(fleet.temp_wb_c, n, "min"),
        cap_fractions=config.cap_fractions,
    )
    out = _gpus_out(inputs.events, fleet)
    available = _slots((fleet.gpus_total - out).astype(float), n, "max")
    # GPU-hours of running time at full power each job needs: its work over the share of time it progresses
    interval = np.maximum(jobs.checkpoint_interval_h, 1e-9)
    work_rate = 1.0 - np.clip(jobs.checkpoint_cost_h / interval, 0, 0.9)  # as the engine computes it
    work = jobs.gpus.astype(float) * jobs.duration_h / work_rate  # H100-hours of running time
    # gangs bound the work rate in H100-equivalents: at most on the fleet's fastest GPUs
    fastest = max(p.gpu.training_speed for p in fleet.plants)
    submit = steps_of(jobs.submit_utc, fleet)
    earliest = steps_of(jobs.earliest_start_utc, fleet)
    ready = np.where(np.isnat(jobs.earliest_start_utc), submit, np.maximum(submit, earliest))
    deadline = steps_of(jobs.deadline_utc, fleet)
    rate = jobs.gpus * fastest * n * fleet.step_h  # most work a gang does in a slot, on the fastest GPUs
    if follow:
        slowest = min(p.gpu.training_speed for p in fleet.plants)
        rate = jobs.gpus * slowest * WORST_CAP_THROUGHPUT * n * fleet.step_h
        rules = config.dispatch
        early = rules.urgent_steps + 1
        if rules.protect_against_failure:
            early = early + np.ceil((jobs.checkpoint_interval_h + jobs.restart_cost_h) / fleet.step_h).astype(int)
        deadline = np.where(deadline < NO_DEADLINE, np.maximum(deadline - early, ready + 1), deadline)
    in_period = ready < n_steps
    ready_slot = ready // n
    due_inside = in_period & (deadline <= n_steps)
    due_slot = np.maximum(-(-deadline // n) - 1, ready_slot)
    # jobs with a short window (at most ``window_slots``) as exact classes; the rest as cumulative curves
    short = due_inside & (due_slot - ready_slot < config.window_slots)
    pairs, inverse = np.unique(np.c_[ready_slot[short], due_slot[short]], axis=0, return_inverse=True)
    inverse = inverse.ravel()
    windowed = WindowedWork(
        work_gpu_h=np.bincount(inverse, weights=work[short], minlength=len(pairs)).astype(float),
        max_gpus=np.bincount(inverse, weights=jobs.gpus[short] * fastest, minlength=len(pairs)).astype(float),
        first_slot=pairs[:, 0].astype(np.int64),
        end_slot=(pairs[:, 1] + 1).astype(np.int64),
    )
    flex = in_period & ~short
    flex_due = due_inside & flex
    later = in_period & ~due_inside
    span = np.maximum(deadline[later] - ready[later], 1).astype(float)
    share = np.where(deadline[later] >= NO_DEADLINE, 0.0, np.minimum(1.0, (n_steps - ready[later]) / span))
    if config.gang_ramps or follow:
        due, released = gang_ramps(work[flex], rate[flex], ready_slot[flex], due_slot[flex], flex_due[flex], n_slots)
    else:
        due = np.bincount(due_slot[flex_due], weights=work[flex_due], minlength=n_slots)[:n_slots].astype(float)
        released = np.bincount(ready_slot[flex], weights=work[flex], minlength=n_slots)[:n_slots].astype(float)
    due[-1] += float((work[later] * share).sum())
    last_slot = np.where(flex_due, due_slot, n_slots - 1)
    gangs = np.zeros(n_slots + 1)
    np.add.at(gangs, ready_slot[flex], jobs.gpus[flex] * fastest)
    np.add.at(gangs, last_slot[flex] + 1, -jobs.gpus[flex] * fastest)
    cumulative = CumulativeWork(
        due_gpu_h=np.cumsum(due), released_gpu_h=np.cumsum(released), max_gpus=np.cumsum(gangs)[:n_slots]
    )
    routing = config.routing and inputs.inference_full_gpus is not None
    coords = [(s.latitude_deg, s.longitude_deg) for s in inputs.scenario.sites]
    plan_inputs = DispatchInputs(
        slot_h=n * fleet.step_h,
        energy=energy,
        gpus_available=available,
        inference_gpus=np.minimum(_slots(inputs.inference_gpus_needed, n, "min"), available),
        onsite_w=_slots(fleet.pv_w + fleet.wind_w, n, "max"),
        grid_limit_w=fleet.grid_limit_w,
        carbon_g_per_kwh=_slots(fleet.carbon_g_per_kwh, n, "min"),
        price_per_mwh=_slots(fleet.price_jpy_per_mwh, n, "min"),
        curtailed_mwh=_slots(fleet.curtailed_mwh, n, "sum"),
        areas=tuple(s.grid_area for s in inputs.scenario.sites),
        batteries=fleet.batteries,
        soc_mwh=np.array([0.0 if b is None else b.initial_soc_mwh for b in fleet.batteries]),
        work=cumulative,
        inference_full_gpus=_slots(inputs.inference_full_gpus, n, "min") if routing else None,
        routable=np.array([rtt_ms(*xy) <= config.max_rtt_ms for xy in coords]) if routing else None,
        windowed=windowed,
    )
    return plan_inputs, energy


class OraclePolicy:
    """Follows the offline optimum of the whole run; ``bound`` holds the plan's own (optimistic) figures."""

    name = "oracle"

    def __init__(self, inputs: Any, config: OracleConfig | None = None) -> None:
        self.config = config or OracleConfig()
        t0 = time.perf_counter()
        plan_inputs, self.energy = oracle_inputs(inputs, self.config)
        self.plan: DispatchPlan = solve_dispatch(
            plan_inputs, self.config.weights, backend="linopy", time_limit_s=self.config.time_limit_s
        )
        bound_plan = self.plan
        if self.config.follow_plan:
            follow_inputs, self.energy = oracle_inputs(inputs, self.config, follow=True)
            self.plan = solve_dispatch(
                follow_inputs, self.config.weights, backend="linopy", time_limit_s=self.config.time_limit_s
            )
        solve_s = bound_plan.solve_seconds + (self.plan.solve_seconds if self.plan is not bound_plan else 0.0)
        self.bound = {
            "carbon_t": bound_plan.carbon_t,
            "energy_cost": bound_plan.cost,
            "curtailment_absorbed_mwh": bound_plan.curtailment_absorbed_mwh,
            "objective": bound_plan.objective,
            "late_gpu_h": float(np.sum(bound_plan.late_gpu_h)),
            "energy_grid_mwh": float(bound_plan.grid_mw.sum() * plan_inputs.slot_h),
            "solve_seconds": solve_s,
            "build_seconds": time.perf_counter() - t0 - solve_s,
            "variables": bound_plan.stats.get("variables", 0.0),
        }

    def decide(self, obs: Observation) -> Actions:
        """Act on the plan's slot of this step."""
        c = self.config
        slot, into = divmod(obs.step, c.slot_steps)
        left_h = (c.slot_steps - into) * obs.step_h if c.slot_average else None
        return act_on_plan(obs, self.plan, self.energy, slot, c.dispatch, left_h)

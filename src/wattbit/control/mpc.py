"""``mpc``: model-predictive watt-bit control on forecasts.

Every ``interval_steps`` (an hour by default) the policy forecasts each site's carbon intensity, price,
curtailment, on-site generation, weather and inference demand over the horizon (``wattbit.forecast``, from the
past only), builds the class form of the watt-bit programme (:mod:`wattbit.opt.dispatch`) on hourly slots and solves
it with HiGHS. The plan's first slot sets, per site, the training GPUs (turned into job starts, pauses and moves by
:mod:`wattbit.control.dispatch`), the GPU power cap, the cooling setpoint, the battery power and the inference
routing shares; between re-plans the policy follows the plan's current slot.

Jobs enter the programme as classes by deadline slot. A job due within the horizon needs all its work by then. Work
due later is valued by the look-ahead (:mod:`wattbit.control.lookahead`, ``lookahead_days`` > 0): a forecast of
the days after the horizon, from each area's own daily pattern, prices a unit of work left undone at the cost of
the future hour it would take, so the plan defers it only when later hours are cleaner; what a job's gang could not
finish after the horizon is required now. With ``lookahead_days = 0`` (the earlier rule) a job due later needs the
share of its work that keeps it on a straight line to its deadline (``horizon / time to deadline``), and the rest
is optional work valued at the horizon's median marginal carbon. Jobs that cannot pause are pinned where they run.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from wattbit.control.dispatch import DispatchRules, dispatch_jobs, queued_slack, site_speed
from wattbit.control.history import SignalHistory
from wattbit.control.lookahead import ArrivalLog, DeferredWork, FutureSupply, deferred_work, profile_ahead
from wattbit.control.plan_actions import act_on_plan
from wattbit.control.signals_ahead import ahead
from wattbit.control.site_energy import DEFAULT_CAP_FRACTIONS, site_energy_model
from wattbit.forecast.clearsky import clear_sky_forecast, clear_sky_reference
from wattbit.opt import (
    DispatchInputs,
    DispatchPlan,
    DispatchWeights,
    InfeasibleError,
    SiteEnergyModel,
    SolveError,
    WorkClasses,
    solve_dispatch,
)
from wattbit.sim.engine import NO_DEADLINE
from wattbit.sim.policy import Actions, Observation
from wattbit.units import FloatArray

#: Where online inference demand is taken to come from: central Tokyo (35.68 N, 139.77 E), assumption U.
DEMAND_CENTRE_DEG = (35.681, 139.767)
#: Round-trip fibre latency per km of great-circle distance [ms]: light in fibre ~200 km/ms, a route 1.5x the
#: great-circle distance, there and back (U; typical of terrestrial routes).
RTT_MS_PER_KM = 2 * 1.5 / 200.0


def rtt_ms(lat_deg: float, lon_deg: float, centre: tuple[float, float] = DEMAND_CENTRE_DEG) -> float:
    """Round-trip network latency from a site to the demand centre [ms] (great circle x route factor)."""
    p1, p2 = math.radians(lat_deg), math.radians(centre[0])
    dl = math.radians(lon_deg - centre[1])
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    km = 2 * 6371.0 * math.asin(math.sqrt(min(a, 1.0)))
    return km * RTT_MS_PER_KM


@dataclass(frozen=True)
class MPCConfig:
    """Settings of the model-predictive controller.

    Attributes
    ----------
    horizon_h, slot_h
        Planning horizon and slot length [h].
    interval_steps
        Engine steps between re-plans.
    weights
        Objective weights (carbon, cost, curtailment, lateness).
    cap_fractions
        GPU power-cap levels the plan chooses from (fractions of TDP).
    routing, max_rtt_ms
        Whether inference is routed across sites, and the latency limit of a site that serves it.
    site_rtt_ms
        Round-trip latency of each site to the demand centre [ms]; None: from coordinates (:func:`rtt_ms`), which
        needs ``site_coords``.
    inference_margin
        Inference capacity is planned for the upper end of the forecast's 80 % interval times this factor.
    dispatch
        How the plan's GPUs become job actions.
    time_limit_s
        Solver time limit per plan.
    churn_cost
        Weight of the churn term: a GPU the first slot pauses or moves away costs ``churn_cost`` x its jobs' pause
        overhead (checkpoint plus restart, GPU-hours at full power) x the marginal carbon of a GPU-hour at the
        horizon's median intensity (0: pauses and moves are free, as before).
    pv_forecast
        ``"clear_sky"`` (clear-sky index persistence and its daily profile at the site,
        :func:`wattbit.forecast.clearsky.clear_sky_forecast`; it needs ``site_coords``, which
        :func:`wattbit.control.make_policy` takes from the scenario: without them the generic method is used) or
        ``"profile"`` (the generic method of :func:`wattbit.forecast.forecast`).
    short_history
        While the history is too short for the ``profile`` forecast (about two weeks), forecast carbon, price and
        weather from the known days' daily profile and wind from its recent level, each with the present anomaly
        decaying (:func:`wattbit.control.signals_ahead.recent_ahead`), instead of yesterday's values.
    lookahead_days, defer_fill, tranches
        Look-ahead for work due after the horizon (:func:`wattbit.control.lookahead.deferred_work`): how far past
        now the future is forecast [days] (0: the straight-line rule), the share of its time after the horizon a
        job may count on, and the optional tranches per deadline day.
    slot_average
        Read the plan's GPUs per site as the slot's average when pausing: a running job ending within the slot
        counts for the share of it that it still runs (:func:`wattbit.control.dispatch.dispatch_jobs`'s
        ``slot_left_h``), so that jobs about to finish do not trigger pauses (False: count every gang whole).
    arrivals
        Plan for the work expected to arrive within the horizon: per slot, the work logged at the same time of day
        over the past week (:meth:`wattbit.control.lookahead.ArrivalLog.ahead_gpu_h`) as a class to be served in
        that slot, so the plan's site targets keep room (and count the energy) for jobs that start as they arrive.
        ``"urgent"``: only the work of jobs that arrive urgent (slack at most twice the urgency margin, which start
        at once); True: all arriving work; False: none (the plan sees only the jobs already there).
    """

    horizon_h: float = 36.0
    slot_h: float = 1.0
    interval_steps: int = 4
    weights: DispatchWeights = field(default_factory=DispatchWeights)
    cap_fractions: tuple[float, ...] = DEFAULT_CAP_FRACTIONS
    routing: bool = True
    max_rtt_ms: float = 20.0
    site_rtt_ms: tuple[float, ...] | None = None
    site_coords: tuple[tuple[float, float], ...] | None = None
    inference_margin: float = 1.05
    # the plan's caps on every job whose slack (at the lowest cap, one failure in hand) is positive (fourth pass:
    # 1.4-5.9 t less carbon per two-week window than uncapping jobs within 4 h of their slack, misses <= baseline)
    dispatch: DispatchRules = field(default_factory=lambda: DispatchRules(uncap_steps=0))
    time_limit_s: float = 10.0
    pv_forecast: str = "clear_sky"
    churn_cost: float = 1.0
    short_history: bool = True
    lookahead_days: float = 7.0
    defer_fill: float = 0.75
    tranches: int = 4
    slot_average: bool = True
    arrivals: bool | str = False


@dataclass
class Decision:
    """What the last plan decided, for reports and tests."""

    step: int
    plan: DispatchPlan
    energy: SiteEnergyModel
    slot_steps: int
    seconds: float


class MPCPolicy:
    """Rolling-horizon optimisation of when and where training runs, caps, setpoints, battery and routing."""

    name = "mpc"

    def __init__(
        self,
        config: MPCConfig | None = None,
        areas: tuple[str, ...] | None = None,
        history: SignalHistory | None = None,
    ) -> None:
        self.config = config or MPCConfig()
        self.areas = areas
        self.history = history if history is not None and history.steps > 0 else None
        self.last: Decision | None = None
        self.decision_seconds: list[float] = []
        self.failed_plans = 0
        self._clear: tuple[pd.Timestamp, FloatArray] | None = None
        self._churn: tuple[FloatArray, FloatArray] = (np.zeros(0), np.zeros(0))
        self._arrivals = ArrivalLog()
        self._incoming = ArrivalLog()  # every step, for ``arrivals``

    # ----------------------------------------------------------------------------------------------- inputs
    def _past(self, obs: Observation, name: str) -> FloatArray:
        """Observation field ``name`` from the run's first step to now, after the history before the run."""
        observed = np.asarray(getattr(obs, name), dtype=float)
        return observed if self.history is None else self.history.before(name, observed)

    def _forecast(
        self, history: FloatArray, steps: int, per_day: int, upper: bool = False, short: str = "daily"
    ) -> FloatArray:
        """Now plus ``steps - 1`` forecast steps, (steps, sites)."""
        return ahead(history, steps, per_day, upper=upper, short=short if self.config.short_history else None)

    def _ahead(
        self, obs: Observation, name: str, steps: int, per_day: int, upper: bool = False, short: str = "daily"
    ) -> FloatArray:
        """Observation field ``name`` now plus ``steps - 1`` forecast steps, (steps, sites), from the past only."""
        return self._forecast(self._past(obs, name), steps, per_day, upper, short)

    def _beyond(self, obs: Observation, name: str, first: int, count: int, per_day: int) -> FloatArray:
        """Field ``name`` at steps ``now + first .. now + first + count - 1`` for the look-ahead, (count, sites)."""
        return profile_ahead(self._past(obs, name), first, count, per_day)

    def _pv_ahead(self, obs: Observation, steps: int, per_day: int) -> FloatArray:
        """PV output now and ``steps - 1`` forecast steps, (steps, sites)."""
        history = self._past(obs, "pv_w")
        c = self.config
        if c.pv_forecast != "clear_sky" or c.site_coords is None or history.shape[0] <= steps + per_day:
            return self._ahead(obs, "pv_w", steps, per_day)
        early = 0 if self.history is None else self.history.steps
        clear = self._clear_sky(obs, history.shape[0] + steps - 1, early)
        fc = clear_sky_forecast(history, clear, steps - 1, per_day)
        return np.vstack([history[-1], fc.mean])

    def _clear_sky(self, obs: Observation, rows: int, early: int = 0) -> FloatArray:
        """Clear-sky output per W of ``rows`` steps from ``early`` steps before the run's first, (rows, sites);
        computed a year at a time."""
        assert self.config.site_coords is not None
        step = pd.Timedelta(hours=obs.step_h)
        start = obs.time_utc - (obs.step + early) * step
        if self._clear is None or self._clear[0] != start or self._clear[1].shape[0] < rows:
            n = max(rows, round(366 * 24 / obs.step_h))
            lat, lon = (np.array([c[i] for c in self.config.site_coords]) for i in (0, 1))
            times = pd.date_range(start, periods=n, freq=step)
            self._clear = (start, clear_sky_reference(times, lat, lon))
        return self._clear[1][:rows]

    def plan_inputs(self, obs: Observation) -> tuple[DispatchInputs, int]:
        """The programme for the horizon from ``obs``; returns the inputs and the engine steps per slot."""
        c = self.config
        slot_steps = max(1, round(c.slot_h / obs.step_h))
        n_slots = max(1, round(c.horizon_h / (slot_steps * obs.step_h)))
        steps = n_slots * slot_steps
        per_day = round(24 / obs.step_h)
        n_s = len(obs.site_names)

        def slots(a: FloatArray, how: str = "mean") -> FloatArray:
            r = a.reshape(n_slots, slot_steps, n_s)
            return {"mean": r.mean(axis=1), "sum": r.sum(axis=1), "max": r.max(axis=1)}[how]

        fc = lambda name, up=False: self._ahead(obs, name, steps, per_day, up)  # noqa: E731
        carbon = slots(fc("carbon_g_per_kwh"))
        price = slots(fc("price_jpy_per_mwh"))
        curtailed = slots(fc("curtailed_mwh"), "sum")
        wind = self._ahead(obs, "wind_w", steps, per_day, short="level")
        onsite = slots(self._pv_ahead(obs, steps, per_day) + wind)
        tdb, twb = slots(fc("temp_db_c")), slots(fc("temp_wb_c"))
        energy = site_energy_model(obs.plants, tdb, twb, cap_fractions=c.cap_fractions)
        available = np.tile(obs.gpus_available.astype(float), (n_slots, 1))
        routing = c.routing and obs.inference_full_gpus is not None
        full = None
        routable = None
        if routing:
            assert obs.inference_full_gpus is not None
            full = slots(fc("inference_full_gpus", True), "max") * c.inference_margin
            full[0] = np.maximum(full[0], obs.inference_full_gpus[-1])
            routable = self._routable(n_s)
            inference = np.zeros((n_slots, n_s))
        else:
            inference = slots(fc("inference_gpus_needed", True), "max") * c.inference_margin
            inference[0] = np.maximum(inference[0], obs.inference_gpus)
            inference = np.minimum(inference, available)
        work, pinned = self._work(obs, n_slots, slot_steps, energy, carbon)
        inputs = DispatchInputs(
            slot_h=slot_steps * obs.step_h,
            energy=energy,
            gpus_available=available,
            inference_gpus=inference,
            onsite_w=onsite,
            grid_limit_w=np.asarray(obs.grid_limit_w, dtype=float),
            carbon_g_per_kwh=carbon,
            price_per_mwh=price,
            curtailed_mwh=curtailed,
            areas=self.areas or tuple(obs.site_names),
            batteries=obs.batteries,
            soc_mwh=obs.battery_soc_mwh,
            work=work,
            inference_full_gpus=full,
            routable=routable,
            pinned_gpus=pinned,
        )
        if self.config.churn_cost > 0:
            inputs = replace(inputs, running_gpus=self._churn[0], stop_cost_per_gpu=self._churn[1])
        return inputs, slot_steps

    def _routable(self, n_s: int) -> NDArray[np.bool_]:
        c = self.config
        if c.site_rtt_ms is not None:
            return np.asarray(c.site_rtt_ms) <= c.max_rtt_ms
        if c.site_coords is not None:
            return np.array([rtt_ms(*xy) <= c.max_rtt_ms for xy in c.site_coords])
        return np.ones(n_s, bool)

    def _work(
        self, obs: Observation, n_slots: int, slot_steps: int, energy: SiteEnergyModel, carbon: FloatArray
    ) -> tuple[WorkClasses, FloatArray]:
        """Work classes by deadline slot, plus GPUs pinned by running jobs that cannot pause."""
        n_s = len(obs.site_names)
        q, run = obs.queue, obs.running
        flexible_run = run.pausable
        # a class's GPUs bound its work rate in H100-equivalents: at most its gangs on the fastest GPUs
        gpus = np.concatenate([q.gpus, run.gpus[flexible_run]]).astype(float)
        gangs = gpus * float(site_speed(obs).max())
        # running time needed at full power: work over the share of time a job progresses (checkpoints)
        remaining = np.concatenate(
            [q.remaining_h / q.work_rate, run.remaining_h[flexible_run] / run.work_rate[flexible_run]]
        )
        deadline = np.concatenate([q.deadline_step, run.deadline_step[flexible_run]])
        if self.config.dispatch.protect_against_failure:  # plan to finish one failure's worth of work early
            loss = np.concatenate([q.failure_loss_h, run.failure_loss_h[flexible_run]])
            early = np.ceil(loss / obs.step_h).astype(np.int64)
            deadline = np.where(deadline < NO_DEADLINE, deadline - early, deadline)
        pinned = np.zeros((n_slots, n_s))
        for g, s, rem in zip(
            run.gpus[~flexible_run].tolist(),
            run.site[~flexible_run].tolist(),
            run.remaining_h[~flexible_run].tolist(),
            strict=True,
        ):
            last = min(n_slots, math.ceil(rem / (slot_steps * obs.step_h)))
            pinned[:last, s] += g
        horizon_steps = n_slots * slot_steps
        to_deadline = (deadline - obs.step).astype(float)
        has_deadline = deadline < NO_DEADLINE
        slot_of = np.floor(to_deadline / slot_steps).astype(np.int64)
        inside = has_deadline & (slot_of < n_slots)
        work = gpus * remaining  # H100-hours (the plan serves busy GPUs x their throughput, speed included)
        # a class per deadline slot inside the horizon (a slot <= 0: overdue, do what it can in slot 0)
        end = np.clip(slot_of, 1, n_slots)
        w_in = np.bincount(end[inside], weights=work[inside], minlength=n_slots + 1)
        g_in = np.bincount(end[inside], weights=gangs[inside], minlength=n_slots + 1)
        # the value of a GPU-hour of optional work: its marginal carbon at the horizon's median intensity
        marginal_mwh = (
            (energy.busy_w_per_gpu[:, 0] - energy.idle_w_per_gpu) * np.median(energy.line_b, axis=(0, 2)) / 1e6
        )
        value = self.config.weights.carbon_per_t * float(np.median(carbon / 1000.0 * marginal_mwh[None, :]))
        self._arrivals.record(obs)  # at re-plans: the look-ahead's rate of arriving work
        if self.config.lookahead_days > 0:
            after_h = np.where(has_deadline, to_deadline - horizon_steps, np.inf)[~inside] * obs.step_h
            later = self._lookahead(obs, energy, horizon_steps, marginal_mwh, work[~inside], gangs[~inside], after_h)
        else:
            later = self._straight_line(work, gangs, to_deadline, has_deadline, inside, horizon_steps, value)
        ends = np.arange(1, n_slots + 1)
        n_opt = len(later.work_gpu_h)
        work_gpu_h = np.concatenate([w_in[1:], [later.required_gpu_h], later.work_gpu_h])
        max_gpus = np.concatenate([g_in[1:], [later.required_gpus], later.max_gpus])
        first = np.zeros(len(work_gpu_h), dtype=np.int64)
        end = np.concatenate([ends, [n_slots], np.full(n_opt, n_slots)]).astype(np.int64)
        required = np.concatenate([np.ones(n_slots + 1, bool), np.zeros(n_opt, bool)])
        value_gpu_h = np.concatenate([np.zeros(n_slots + 1), later.value_per_gpu_h])
        if self.config.arrivals:  # the work expected to arrive, served in its slot (most arrives with little slack)
            per_day = round(24 / obs.step_h)
            arriving = self._incoming.ahead_gpu_h(obs.step, n_slots, slot_steps, per_day)
            arriving[0] *= 0.5  # half of the first slot is still to come, on average
            slot_h = slot_steps * obs.step_h
            work_gpu_h = np.concatenate([work_gpu_h, arriving])
            max_gpus = np.concatenate([max_gpus, arriving / slot_h])
            first = np.concatenate([first, np.arange(n_slots)])
            end = np.concatenate([end, np.arange(1, n_slots + 1)])
            required = np.concatenate([required, np.ones(n_slots, bool)])
            value_gpu_h = np.concatenate([value_gpu_h, np.zeros(n_slots)])
        keep = work_gpu_h > 1e-9  # classes with no work left out
        classes = WorkClasses(
            work_gpu_h=work_gpu_h[keep],
            max_gpus=max_gpus[keep],
            first_slot=first[keep],
            end_slot=end[keep],
            required=required[keep],
            value_per_gpu_h=value_gpu_h[keep],
        )
        self._churn = self._churn_inputs(obs, slot_steps, value)
        return classes, pinned

    @staticmethod
    def _straight_line(
        work: FloatArray,
        gangs: FloatArray,
        to_deadline: FloatArray,
        has_deadline: NDArray[np.bool_],
        inside: NDArray[np.bool_],
        horizon_steps: int,
        value: float,
    ) -> DeferredWork:
        """The rule without look-ahead: the straight-line share required, the rest optional at ``value``."""
        later = has_deadline & ~inside
        share = np.zeros_like(work)
        share[later] = np.minimum(1.0, horizon_steps / np.maximum(to_deadline[later], 1.0))
        g_out = float(gangs[~inside].sum())
        w_opt = float((work * (1 - share))[~inside].sum())
        return DeferredWork(
            float((work * share)[later].sum()), g_out, np.array([w_opt]), np.array([g_out]), np.array([value])
        )

    def _lookahead(
        self,
        obs: Observation,
        energy: SiteEnergyModel,
        horizon_steps: int,
        marginal_mwh: FloatArray,
        work: FloatArray,
        gangs: FloatArray,
        after_h: FloatArray,
    ) -> DeferredWork:
        """Work due after the horizon, valued at the forecast cost of the hours after it (the terminal value)."""
        c = self.config
        per_day = round(24 / obs.step_h)
        per_h = max(1, round(1 / obs.step_h))
        total_steps = max(per_h, round(c.lookahead_days * per_day) - horizon_steps)
        total_steps -= total_steps % per_h
        w = c.weights

        def hourly(name: str) -> FloatArray:
            fc = self._beyond(obs, name, horizon_steps, total_steps, per_day)
            return fc.reshape(-1, per_h, fc.shape[1]).mean(axis=1)

        per_mwh = w.carbon_per_t * hourly("carbon_g_per_kwh") / 1000.0
        if w.cost_per_million > 0:
            per_mwh = per_mwh + w.cost_per_million / 1e6 * hourly("price_jpy_per_mwh")
        speed = np.maximum(energy.throughput[:, 0], 1e-9)
        room = np.maximum(obs.gpus_available - obs.inference_gpus, 0).astype(float)
        supply = FutureSupply(per_mwh * (marginal_mwh / speed)[None, :], room * speed, self._arrivals.rate_gpu_h())
        return deferred_work(work, gangs, after_h, supply, fill=c.defer_fill, tranches=c.tranches)

    def _churn_inputs(self, obs: Observation, slot_steps: int, value_per_gpu_h: float) -> tuple[FloatArray, FloatArray]:
        """GPUs of pausable training running beyond the first slot per site, and the cost of stopping one there."""
        run, n_s = obs.running, len(obs.site_names)
        flexible = run.pausable & (run.remaining_h / run.work_rate > slot_steps * obs.step_h)
        gpus = run.gpus[flexible].astype(float)
        site = run.site[flexible]
        running = np.bincount(site, weights=gpus, minlength=n_s).astype(float)
        overhead = np.bincount(site, weights=gpus * run.pause_cost_h[flexible], minlength=n_s)
        per_gpu_h = overhead / np.maximum(running, 1e-9)
        return running, self.config.churn_cost * per_gpu_h * value_per_gpu_h

    # --------------------------------------------------------------------------------------------- decision
    def decide(self, obs: Observation) -> Actions:
        """Re-plan when due, then act on the current slot of the plan."""
        t0 = time.perf_counter()
        last = self.last
        # every step: jobs shorter than a re-plan interval arrive and end between two re-plans
        if self.config.arrivals == "urgent":  # the work that has to start as it arrives
            slack = queued_slack(obs, self.config.dispatch).max(axis=1) if len(obs.queue) else np.zeros(0)
            self._incoming.record(obs, slack <= 2 * self.config.dispatch.urgent_steps)
        elif self.config.arrivals:
            self._incoming.record(obs)
        if last is None or obs.step - last.step >= self.config.interval_steps:
            inputs, slot_steps = self.plan_inputs(obs)
            try:
                plan = solve_dispatch(inputs, self.config.weights, time_limit_s=self.config.time_limit_s)
            except (InfeasibleError, SolveError):
                self.failed_plans += 1
                plan = None
            if plan is not None:
                last = self.last = Decision(obs.step, plan, inputs.energy, slot_steps, 0.0)
        if last is None:  # no plan at all yet: behave like the baseline this step
            actions = dispatch_jobs(obs, obs.gpus_available.astype(float), self.config.dispatch)
        else:
            actions = self._act(obs, last)
        elapsed = time.perf_counter() - t0
        self.decision_seconds.append(elapsed)
        return actions

    def _act(self, obs: Observation, decision: Decision) -> Actions:
        slot, into = divmod(obs.step - decision.step, decision.slot_steps)
        left_h = (decision.slot_steps - into) * obs.step_h if self.config.slot_average else None
        return act_on_plan(obs, decision.plan, decision.energy, slot, self.config.dispatch, left_h)

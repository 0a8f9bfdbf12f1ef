"""Look-ahead for deferrable work beyond the MPC horizon: what a GPU-hour of work left undone will cost later.

The programme plans the horizon (36 h by default) hourly; training due days later may wait for cleaner hours after
it. Without a view past the horizon the controller either forces such work onto a straight line to its deadline
or values it at the horizon's own median, and so never moves work across days. This module gives the programme a
*terminal value*: for the days after the horizon up to each job's deadline (at most ``days`` ahead), it forecasts
the marginal carbon (and price, by the objective's weights) of a unit of work at every site and hour from the area's
own recent pattern (the mean of the past days at the same time of day, with the last day's level decaying toward
it — the past only), and the fleet's capacity left for deferred work after the inference it holds and the work
expected to arrive (the recent arrival rate). Sorting those cells by cost gives a supply curve of the future; the
work of each deadline group, split into tranches, is then offered to the programme as optional work whose value
per unit is the future cost of the cell it would otherwise take. Work is deferred only when hours in the
horizon cost more than what the forecast future offers; work the future cannot hold (or that a job's gang cannot
finish in ``fill`` of its time after the horizon) stays required.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from wattbit.sim.policy import Observation
from wattbit.units import FloatArray

#: Time constant over which the last day's departure from the daily profile fades [days] (assumption U).
LEVEL_DECAY_DAYS = 1.5


def profile_ahead(history: FloatArray, first: int, count: int, per_day: int, days: int = 7) -> FloatArray:
    """Forecast of steps ``now + first .. now + first + count - 1`` from the daily profile, (count, sites).

    The profile is the mean of the last ``days`` whole days (fewer at the start of a run) at each time of day; the
    last day's mean departure from it is added, fading with :data:`LEVEL_DECAY_DAYS`. ``history`` ends with now.
    """
    x = np.asarray(history, dtype=float)
    n_days = min(days, x.shape[0] // per_day)
    ahead = np.arange(first, first + count)
    if n_days == 0:  # less than a day seen: the mean so far
        return np.repeat(x.mean(axis=0, keepdims=True), count, axis=0)
    recent = x[-n_days * per_day :].reshape(n_days, per_day, -1)
    profile = recent.mean(axis=0)  # row per_day - 1 is the time of day of now
    level = recent[-1].mean(axis=0) - profile.mean(axis=0)
    fade = np.exp(-ahead / (LEVEL_DECAY_DAYS * per_day))
    return profile[(per_day - 1 + ahead) % per_day] + fade[:, None] * level[None, :]


@dataclass
class ArrivalLog:
    """Work that became ready at each re-plan over the last ``window_h`` hours, for the expected arrival rate."""

    window_h: float = 7 * 24.0
    least_h: float = 6.0
    _seen_step: int = -1
    _first_step: int = 0
    _step_h: float = 1.0
    _log: deque[tuple[int, float]] = field(default_factory=deque)

    def record(self, obs: Observation, queued: NDArray[np.bool_] | None = None) -> None:
        """Log the work of jobs (queued or running) ready since the last call, in H100-hours of running time.

        ``queued``: which queued jobs count (None: all); given, running jobs do not count (a log of the work that
        must start as it arrives, called every step before any new job can start)."""
        if self._seen_step < 0:
            self._first_step, self._step_h = obs.step, obs.step_h
        work = 0.0
        for jobs, only in ((obs.queue, queued), (obs.running, None if queued is None else False)):
            if len(jobs) and only is not False:
                new = jobs.submit_step > self._seen_step
                if only is not None:
                    new = new & only
                work += float((jobs.gpus[new] * jobs.remaining_h[new] / jobs.work_rate[new]).sum())
        self._log.append((obs.step, work))
        self._seen_step = obs.step
        oldest = obs.step - self.window_h / obs.step_h
        while self._log and self._log[0][0] <= oldest:
            self._log.popleft()

    def ahead_gpu_h(self, step: int, n_slots: int, slot_steps: int, per_day: int) -> FloatArray:
        """Work expected to arrive in each of the next ``n_slots`` slots of ``slot_steps`` steps from ``step``
        (n_slots,): the logged arrivals at the same time of day (the mean over all until a whole day is logged)."""
        if len(self._log) < 2:
            return np.full(n_slots, self.rate_gpu_h() * slot_steps * self._step_h)
        steps = np.array([s for s, _ in self._log], dtype=np.int64)
        work = np.array([w for _, w in self._log], dtype=float)
        span = np.diff(steps, prepend=steps[0] - 1).astype(float)  # the steps each entry's arrivals came in
        per_day_slots = max(1, per_day // slot_steps)
        bucket = (steps // slot_steps) % per_day_slots
        total = np.bincount(bucket, weights=work, minlength=per_day_slots)
        seen = np.bincount(bucket, weights=span, minlength=per_day_slots)
        flat = work.sum() / max(span.sum(), 1.0) * slot_steps
        if (steps[-1] - self._first_step) < per_day or (seen == 0).any():
            return np.full(n_slots, flat)
        by_bucket = total / seen * slot_steps
        ahead = (step // slot_steps + np.arange(n_slots)) % per_day_slots
        return np.asarray(by_bucket[ahead], dtype=float)

    def rate_gpu_h(self) -> float:
        """Work arriving per hour, averaged over the window (at least ``least_h`` hours)."""
        if not self._log:
            return 0.0
        start = max(self._first_step, self._seen_step - self.window_h / self._step_h)
        span_h = (self._seen_step - start) * self._step_h
        return sum(w for _, w in self._log) / max(span_h, self.least_h)


@dataclass
class DeferredWork:
    """Jobs due after the horizon: work they must do in it, and optional tranches valued at the future's cost.

    Attributes
    ----------
    required_gpu_h, required_gpus
        Work that must be done within the horizon, and the gangs of the jobs that need it.
    work_gpu_h, max_gpus, value_per_gpu_h
        Optional tranches: work, gangs of their deadline group and value per unit (tranches,).
    """

    required_gpu_h: float
    required_gpus: float
    work_gpu_h: FloatArray
    max_gpus: FloatArray
    value_per_gpu_h: FloatArray


@dataclass(frozen=True)
class FutureSupply:
    """The fleet after the horizon: cost of a unit of work per hour and site, and capacity left for deferred work.

    Attributes
    ----------
    cost_per_gpu_h
        Objective cost of one unit of work at each hour after the horizon and site (hours, sites).
    capacity_gpu_h
        Work each site can do in an hour (sites,).
    arrivals_gpu_h
        Work expected to arrive per hour (it takes capacity, from the cheapest cells first: a cautious view).
    """

    cost_per_gpu_h: FloatArray
    capacity_gpu_h: FloatArray
    arrivals_gpu_h: float

    def marginal_cost(self, hours: int, demand_gpu_h: FloatArray) -> FloatArray:
        """Cost of the last unit when ``demand_gpu_h`` units fill the cheapest cells of the first ``hours`` hours
        (``inf`` where the demand exceeds them)."""
        cost = self.cost_per_gpu_h[:hours].ravel()
        cap = np.broadcast_to(self.capacity_gpu_h, self.cost_per_gpu_h[:hours].shape).ravel()
        order = np.argsort(cost, kind="stable")
        filled = np.cumsum(cap[order])
        at = np.searchsorted(filled, demand_gpu_h, side="left")
        sorted_cost = np.append(cost[order], np.inf)
        return np.asarray(sorted_cost[np.minimum(at, len(cost))], dtype=float)


def deferred_work(
    work_gpu_h: FloatArray,
    gangs: FloatArray,
    after_h: FloatArray,
    supply: FloatArray | FutureSupply,
    *,
    fill: float = 0.75,
    tranches: int = 4,
) -> DeferredWork:
    """Split the work of jobs due after the horizon into required work and valued optional tranches.

    Parameters
    ----------
    work_gpu_h, gangs
        Work left and gang (most work per hour) of each job due after the horizon (jobs,).
    after_h
        Hours from the end of the horizon to each job's deadline (jobs,); ``inf`` for jobs without one.
    supply
        The fleet after the horizon (:class:`FutureSupply`).
    fill
        Share of its time after the horizon a job may count on to run (the rest is margin for contention and
        failures): a job whose gang needs more than that has the excess required now.
    tranches
        Optional tranches per deadline group (a finer terminal value for a larger programme).
    """
    assert isinstance(supply, FutureSupply)
    n_hours = supply.cost_per_gpu_h.shape[0]
    gangs = np.maximum(np.asarray(gangs, dtype=float), 1e-9)
    usable_h = fill * np.minimum(after_h, n_hours)
    need = np.minimum(work_gpu_h, gangs * np.maximum(work_gpu_h / gangs - usable_h, 0.0))
    required = float(need.sum())
    required_gpus = float(gangs[need > 1e-9].sum())
    free = np.asarray(work_gpu_h, dtype=float) - need
    n_days = max(1, -(-n_hours // 24))
    day = np.clip(np.ceil(np.minimum(after_h, n_hours) / 24.0).astype(np.int64), 1, n_days)
    works, caps, values = [], [], []
    ahead_gpu_h = 0.0  # deferred work of earlier deadline groups, which takes the same hours first
    for d in range(1, n_days + 1):
        members = day == d
        total = float(free[members].sum())
        if total <= 1e-9:
            continue
        hours = min(24 * d, n_hours)
        base = supply.arrivals_gpu_h * hours + ahead_gpu_h
        done_now = (np.arange(tranches) + 0.5) / tranches * total
        value = supply.marginal_cost(hours, base + total - done_now)
        over = ~np.isfinite(value)  # the future cannot hold this tranche: do it now
        required += float(over.sum()) * total / tranches
        if over.any():
            required_gpus += float(gangs[members].sum())
        keep = ~over
        works.append(np.full(int(keep.sum()), total / tranches))
        caps.append(np.full(int(keep.sum()), float(gangs[members].sum())))
        values.append(value[keep])
        ahead_gpu_h += total
    cat = lambda parts: np.concatenate(parts) if parts else np.zeros(0)  # noqa: E731
    return DeferredWork(required, required_gpus, cat(works), cat(caps), cat(values))

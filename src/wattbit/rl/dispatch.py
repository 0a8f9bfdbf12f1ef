"""From an agent's action vector to the engine's :class:`Actions`: watt-bit levers per site, jobs by a fixed rule.

An action holds three levels per site, site after site in scenario order (``ACTION_LEVELS``):

* ``admission`` in [0, 1]: the share of the site's job capacity (GPUs running training plus GPUs free for it) that
  training may occupy through new starts. Running jobs are never stopped by it;
* ``gpu_cap`` in [0, 1]: the power cap of the site's GPUs, ``cap_min_w + level (tdp_w - cap_min_w)``; 1 is no cap;
* ``battery`` in [-1, 1]: battery power as a share of its rating, > 0 discharge to the site, < 0 charge (ignored
  at a site without a battery); exactly 0 leaves the battery to the baseline's self-consumption rule.

Jobs are then started every engine step by first come, first served on the first site where the gang fits
(the baseline's rule), within each site's admission budget. Two guards keep an agent from starving deadlines:

* an *urgent* queued job may use every free GPU: one that waiting one more step could make late at full speed,
  ``(deadline_step - step - 2) step_h < remaining_h / URGENCY_WORK_RATE`` (its deadline lies within the step
  before ``deadline_step``);
* a site's cap is lifted for a step when a running job there could still meet its deadline at full speed but not
  after one more capped step, ``remaining_h / URGENCY_WORK_RATE + step_h (1 - throughput(cap)) > time left``.

Deadlines can still be missed through failures (work lost since the last checkpoint), or when urgent jobs find no
free GPUs. With every admission level at 1, no cap and battery 0, the actions are exactly the baseline's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from wattbit.errors import WattbitInputError
from wattbit.physics.battery import BatterySpec
from wattbit.physics.gpu import throughput_factor
from wattbit.physics.site import SitePlant
from wattbit.sim.policy import Actions, Observation
from wattbit.units import FloatArray, check_int

#: Levels per site, in order, with their bounds.
ACTION_LEVELS = (("admission", 0.0, 1.0), ("gpu_cap", 0.0, 1.0), ("battery", -1.0, 1.0))
#: Work done per hour of a running job, assumed when judging urgency: covers periodic checkpoint overhead up to
#: 5 % (the synthetic workload's is below 0.3 %, docs/workload.md) (U).
URGENCY_WORK_RATE = 0.95


def action_bounds(n_sites: int) -> tuple[FloatArray, FloatArray]:
    """Lower and upper bound of every entry of the action vector."""
    low = np.tile([lo for _, lo, _ in ACTION_LEVELS], n_sites).astype(float)
    high = np.tile([hi for _, _, hi in ACTION_LEVELS], n_sites).astype(float)
    return low, high


def neutral_action(n_sites: int) -> FloatArray:
    """The action that reproduces the baseline: admit everything, no cap, battery on the self-consumption rule."""
    return np.tile([1.0, 1.0, 0.0], n_sites)


@dataclass(frozen=True)
class SiteLevers:
    """A decoded action: what it means at each site for a whole control interval.

    Attributes
    ----------
    admission
        Share of each site's job capacity training may occupy through new starts (sites,).
    gpu_cap_w
        Power cap per site [W], NaN for none (sites,).
    battery_mw
        Battery power request per site [MW], > 0 discharge (sites,).
    throughput
        Training throughput under each site's cap relative to uncapped (1 with no cap) (sites,).
    """

    admission: FloatArray
    gpu_cap_w: FloatArray
    battery_mw: FloatArray
    throughput: FloatArray


def check_interval_steps(value: object) -> int:
    """Validate ``control_interval_steps``: an int >= 1 (engine steps per decision).

    Raises
    ------
    WattbitInputError
        If ``value`` is not an integer (a bool is not) or is below 1.
    """
    return check_int(value, "control_interval_steps", 1, what="engine steps per decision")


def check_action(action: ArrayLike, n_sites: int, *, clip: bool = True) -> FloatArray:
    """Validate an action vector: shape ``(3 n_sites,)``, finite; out-of-bound values clipped or refused.

    Raises
    ------
    WattbitInputError
        If the shape is wrong, a value is NaN or infinite, or (``clip=False``) a value lies outside its bounds.
    """
    values = np.asarray(action, dtype=float)
    expected = len(ACTION_LEVELS) * n_sites
    if values.shape != (expected,):
        raise WattbitInputError(
            f"action has shape {values.shape}; expected ({expected},): "
            f"{', '.join(name for name, _, _ in ACTION_LEVELS)} for each of {n_sites} sites",
            field="action",
        )
    if not np.isfinite(values).all():
        bad = np.flatnonzero(~np.isfinite(values)).tolist()
        raise WattbitInputError(f"action entries {bad} are NaN or infinite; expected finite levels", field="action")
    low, high = action_bounds(n_sites)
    outside = (values < low) | (values > high)
    if outside.any() and not clip:
        i = int(np.flatnonzero(outside)[0])
        name, lo, hi = ACTION_LEVELS[i % len(ACTION_LEVELS)]
        raise WattbitInputError(
            f"action entry {i} ({name} of site {i // len(ACTION_LEVELS)}) is {values[i]}; expected [{lo}, {hi}]",
            field="action",
        )
    return np.clip(values, low, high)


def decode_action(
    action: ArrayLike,
    plants: tuple[SitePlant, ...],
    batteries: tuple[BatterySpec | None, ...],
    *,
    clip: bool = True,
) -> SiteLevers:
    """The levers an action vector sets at each site (see the module docstring).

    Parameters
    ----------
    action
        Three levels per site (``ACTION_LEVELS``), site after site.
    plants, batteries
        The fleet's plants (GPU model per site) and batteries (None where a site has none).
    clip
        Clip levels outside their bounds (True), or refuse them.

    Returns
    -------
    SiteLevers
        Admission share, power cap [W], training throughput under it and battery request [MW] per site.
    """
    levels = check_action(action, len(plants), clip=clip).reshape(len(plants), len(ACTION_LEVELS))
    cap_w = np.full(len(plants), np.nan)
    throughput = np.ones(len(plants))
    for i, plant in enumerate(plants):
        if levels[i, 1] < 1.0:
            gpu = plant.gpu
            cap_w[i] = gpu.cap_min_w + levels[i, 1] * (gpu.tdp_w - gpu.cap_min_w)
            throughput[i] = float(throughput_factor(gpu, cap_w[i], "training"))
    rating_mw = np.array([0.0 if b is None else b.power_mw for b in batteries])
    return SiteLevers(levels[:, 0].copy(), cap_w, levels[:, 2] * rating_mw, throughput)


class LeverDecoder:
    """:func:`decode_action` for many actions at once, with the fleet's constants prepared once.

    Parameters
    ----------
    plants, batteries
        The fleet's plants and batteries.
    """

    def __init__(self, plants: tuple[SitePlant, ...], batteries: tuple[BatterySpec | None, ...]) -> None:
        self.plants, self.n_sites = plants, len(plants)
        self.low, self.high = action_bounds(self.n_sites)
        self.cap_min_w = np.array([p.gpu.cap_min_w for p in plants])
        self.cap_span_w = np.array([p.gpu.tdp_w - p.gpu.cap_min_w for p in plants])
        self.rating_mw = np.array([0.0 if b is None else b.power_mw for b in batteries])

    def __call__(self, actions: ArrayLike, *, clip: bool = True) -> list[SiteLevers]:
        """The levers of each row of ``actions`` (runs, 3 sites), as :func:`decode_action` gives them.

        Raises
        ------
        WattbitInputError
            As :func:`check_action`, for the first row at fault.
        """
        values = np.asarray(actions, dtype=float)
        ok = bool(np.isfinite(values).all())
        if ok and not clip:
            ok = not bool(((values < self.low) | (values > self.high)).any())
        if not ok:
            for row in values:
                check_action(row, self.n_sites, clip=clip)
        levels = np.minimum(np.maximum(values, self.low), self.high)  # np.clip, without its overhead
        levels = levels.reshape(len(values), self.n_sites, len(ACTION_LEVELS))
        capped = levels[:, :, 1] < 1.0
        throughput = np.ones(capped.shape)
        if capped.any():
            cap_w = np.where(capped, self.cap_min_w + levels[:, :, 1] * self.cap_span_w, np.nan)
            for i in np.flatnonzero(capped.any(axis=0)).tolist():
                rows = capped[:, i]
                throughput[rows, i] = throughput_factor(self.plants[i].gpu, cap_w[rows, i], "training")
        else:
            cap_w = np.full(capped.shape, np.nan)
        battery_mw = levels[:, :, 2] * self.rating_mw
        admission = levels[:, :, 0].copy()
        return [SiteLevers(admission[r], cap_w[r], battery_mw[r], throughput[r]) for r in range(len(values))]


def _urgent(obs: Observation) -> NDArray[np.bool_]:
    """Queued jobs that must start now to meet their deadline (see the module docstring)."""
    queue = obs.queue
    latest_h = (queue.deadline_step - obs.step - 2).astype(float) * obs.step_h
    return latest_h < queue.remaining_h / URGENCY_WORK_RATE


def _guarded_caps(
    obs: Observation, levers: SiteLevers, started: NDArray[np.int64], started_site: NDArray[np.int64]
) -> FloatArray | None:
    """The sites' caps, lifted where a job running this step cannot afford a capped step (module docstring).

    ``started`` are the positions in the queue of the jobs starting now, at ``started_site``.
    """
    caps = levers.gpu_cap_w
    if np.isnan(caps).all():
        return None
    caps = caps.copy()
    running, queue = obs.running, obs.queue
    if not len(running) and not len(started):
        return caps
    site = np.concatenate([running.site.astype(np.int64), started_site])
    deadline_step = np.concatenate([running.deadline_step, queue.deadline_step[started]])
    remaining_h = np.concatenate([running.remaining_h, queue.remaining_h[started]])
    slowdown = 1.0 - levers.throughput[site]
    left_h = (deadline_step - 1 - obs.step).astype(float) * obs.step_h
    need_h = remaining_h / URGENCY_WORK_RATE
    at_risk = (slowdown > 0) & (need_h <= left_h) & (need_h + obs.step_h * slowdown > left_h)
    caps[site[at_risk]] = np.nan
    return caps


def _budgets(obs: Observation, admission: FloatArray) -> list[int]:
    """GPUs per site that non-urgent starts may still take this step."""
    running = obs.running
    busy = np.bincount(running.site.astype(np.int64), weights=running.gpus, minlength=len(admission))
    free = obs.gpus_free
    target = np.floor(admission * (busy + free) + 1e-9)
    return np.clip(target - busy, 0, free).astype(np.int64).tolist()


def _starts(obs: Observation, levers: SiteLevers) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Positions in the queue of the jobs to start now, and their sites (first come, first served, module doc)."""
    free = obs.gpus_free.tolist()
    budget = _budgets(obs, levers.admission)
    queue = obs.queue
    chosen: list[int] = []
    sites: list[int] = []
    if len(queue) and max(free) > 0:
        urgent = _urgent(obs)
        pick = np.arange(len(queue)) if max(budget) > 0 else np.flatnonzero(urgent)
        gangs, flags = queue.gpus[pick].tolist(), urgent[pick].tolist()
        chosen, sites = first_come_first_served(free, budget, pick.tolist(), gangs, flags)
    return np.asarray(chosen, dtype=np.int64), np.asarray(sites, dtype=np.int64)


def first_come_first_served(
    free: list[int], budget: list[int], positions: list[int], gangs: list[int], urgent: list[bool]
) -> tuple[list[int], list[int]]:
    """Place jobs in queue order: each at the first site with room for its gang — free GPUs for an urgent job, the
    admission budget otherwise — skipping a job that fits nowhere. ``free`` and ``budget`` (GPUs per site) are
    updated in place; returns the positions started and their sites."""
    chosen: list[int] = []
    sites: list[int] = []
    room_free, room_budget = max(free), max(budget)
    for position, gang, is_urgent in zip(positions, gangs, urgent, strict=True):
        rooms = free if is_urgent else budget
        if gang > (room_free if is_urgent else room_budget):
            continue
        site = next(i for i, room in enumerate(rooms) if room >= gang)
        free[site] -= gang
        budget[site] = max(0, min(budget[site] - gang, free[site]))
        chosen.append(position)
        sites.append(site)
        room_free, room_budget = max(free), max(budget)
        if room_free == 0:
            break
    return chosen, sites


def dispatch(obs: Observation, levers: SiteLevers) -> Actions:
    """This step's starts, power caps and battery request under ``levers`` (read while deciding: ``obs`` is current).

    Queued jobs are taken in submit order; each starts on the first site (scenario order) with room for its whole
    gang: every free GPU for an urgent job, the site's admission budget for the others (a job that fits nowhere
    waits while later ones may start). Every start, urgent or not, uses up budget.
    """
    started, sites = _starts(obs, levers)
    commanded = levers.battery_mw != 0.0
    battery = np.where(commanded, levers.battery_mw, np.nan) if commanded.any() else None
    return Actions(
        start_job=obs.queue.job[started],
        start_site=sites,
        gpu_cap_w=_guarded_caps(obs, levers, started, sites),
        battery_mw=battery,
        battery_rule="self_consumption",
    )

"""``greedy``: defer flexible training to clean hours within its slack, and place it at the cleanest site.

Once an hour the policy forecasts every site's carbon intensity for the next ``horizon_h`` (``wattbit.forecast``,
from the past only) and weighs it by the site's marginal facility power per GPU at that hour's weather, the
marginal carbon of a GPU-hour. Each step, queued jobs are taken earliest deadline first:

* a job whose slack (time to its deadline less the work it needs) is at most ``urgent_steps`` starts now at the
  site with the lowest marginal carbon that has room for its gang (on-site PV or wind output beyond the site's
  present load counts as carbon-free and is used first);
* any other job starts now only if the lowest marginal carbon among the sites with room is within the cleanest
  ``quantile`` of the forecast over the window it may still wait (its slack, at most the horizon); else it waits.

No pausing or moving of running jobs, no power caps, design setpoints, the baseline's self-consumption battery
rule, no inference routing: the simplest carbon-aware scheduler, in the spirit of "Let's Wait Awhile" (Wiesner et
al., Middleware 2021).
"""

from __future__ import annotations

import numpy as np

from wattbit.control.dispatch import in_time_sites, queued_slack
from wattbit.control.signals_ahead import ahead
from wattbit.control.site_energy import site_energy_model
from wattbit.sim.policy import Actions, Observation
from wattbit.units import FloatArray


def prefix_quantiles(values: FloatArray, q: float) -> FloatArray:
    """``np.quantile(values[:w], q)`` (linear interpolation) for every ``w`` from 1 to ``len(values)``, bit for bit.

    One sort of a triangular table instead of one quantile call per prefix: the lower and upper order statistics of
    each prefix are interpolated as NumPy's ``linear`` method does (its two-sided form for weights from 0.5).
    """
    n = len(values)
    table = np.where(np.tri(n, dtype=bool), values[None, :], np.inf)  # row w - 1: the first w values, then +inf
    table.sort(axis=1)
    virtual = np.arange(n) * q  # (w - 1) * q
    below = np.floor(virtual).astype(np.int64)
    above = np.minimum(below + 1, np.arange(n))
    gamma = virtual - below
    rows = np.arange(n)
    lo, hi = table[rows, below], table[rows, above]
    step = hi - lo
    return np.where(gamma >= 0.5, hi - step * (1 - gamma), lo + step * gamma)


class GreedyPolicy:
    """Start a job when now is among the cleanest hours it could still wait for, at the cleanest site."""

    name = "greedy"

    def __init__(
        self, horizon_h: float = 24.0, quantile: float = 0.3, urgent_steps: int = 8, refresh_steps: int = 4
    ) -> None:
        if not 0 < quantile <= 1:
            raise ValueError(f"quantile must be in (0, 1], got {quantile}")
        self.horizon_h, self.quantile = horizon_h, quantile
        self.urgent_steps, self.refresh_steps = urgent_steps, refresh_steps
        self._made_at = -(10**9)
        self._threshold: FloatArray = np.zeros(0)
        self._marginal_kw: FloatArray = np.zeros(0)
        self._speed: FloatArray = np.ones(0)

    def _refresh(self, obs: Observation) -> None:
        """Forecast marginal carbon per GPU and the threshold for every waiting window."""
        steps = max(1, round(self.horizon_h / obs.step_h))
        per_day = round(24 / obs.step_h)
        ci = ahead(obs.carbon_g_per_kwh, steps + 1, per_day)[1:]  # (steps, sites)
        energy = site_energy_model(
            obs.plants, ahead(obs.temp_db_c, steps + 1, per_day), ahead(obs.temp_wb_c, steps + 1, per_day)
        )
        # marginal facility kW of one busy GPU: its extra IT power times the facility slope near half load
        slope = energy.line_b[:, :, energy.line_b.shape[2] // 2]
        extra_kw = (energy.busy_w_per_gpu[:, 0] - energy.idle_w_per_gpu) / 1000.0
        self._speed = np.array([p.gpu.training_speed for p in obs.plants])
        marginal = slope * extra_kw[None, :]  # kW per busy GPU, (steps + 1, sites)
        self._marginal_kw = marginal[0]
        self._energy = energy
        # the cleanest site each future step [g per H100-hour of work]
        best = (ci * marginal[1:] / self._speed[None, :]).min(axis=1)
        # threshold[w]: the quantile of the best marginal carbon over the next w steps (w = 1..steps)
        self._threshold = prefix_quantiles(best, self.quantile)
        self._made_at = obs.step

    def _onsite_surplus_kw(self, obs: Observation) -> list[float]:
        """On-site generation now beyond the site's facility power at its present load [kW] (0 where none)."""
        e = self._energy
        busy = np.bincount(obs.running.site, weights=obs.running.gpus, minlength=len(obs.site_names))
        it_w = (
            e.idle_w_per_gpu * obs.gpus_available
            + (e.busy_w_per_gpu[:, 0] - e.idle_w_per_gpu) * busy
            + (e.inference_w_per_gpu - e.idle_w_per_gpu) * obs.inference_gpus
        )
        facility_w = np.max(e.line_a_w[0] + e.line_b[0] * it_w[:, None], axis=1)
        onsite_w = obs.pv_w[-1] + obs.wind_w[-1]
        return list(np.maximum(onsite_w - facility_w, 0.0) / 1000.0)

    def decide(self, obs: Observation) -> Actions:
        """Start the jobs for which now is clean enough, or which cannot wait."""
        if obs.step - self._made_at >= self.refresh_steps:
            self._refresh(obs)
        q = obs.queue
        if not len(q):
            return Actions(battery_rule="self_consumption")
        free = obs.gpus_free.astype(np.int64).tolist()
        surplus_kw = self._onsite_surplus_kw(obs)
        ci_now = obs.carbon_g_per_kwh[-1]

        def grams_per_gpu_h(site: int, gang: int) -> float:
            """Marginal carbon of an H100-hour of work of a ``gang`` started at ``site``: on-site surplus first."""
            need_kw = gang * self._marginal_kw[site]
            return float(ci_now[site] * max(need_kw - surplus_kw[site], 0.0) / (gang * self._speed[site]))

        now = [grams_per_gpu_h(s, 1) for s in range(len(free))]
        by_clean = sorted(range(len(free)), key=lambda s: now[s])
        slack = queued_slack(obs)  # (jobs, sites)
        gangs, home, migratable = q.gpus.tolist(), q.data_site.tolist(), q.migratable.tolist()
        horizon = len(self._threshold)
        jobs, sites = [], []
        for i in np.lexsort((q.submit_step, q.deadline_step)).tolist():
            g = gangs[i]
            allowed = [home[i]] if home[i] >= 0 and not migratable[i] else by_clean
            # sites where it fits and can still finish in time with margin (the fastest if none can)
            fits = [s for s in in_time_sites(slack[i], allowed, self.urgent_steps) if free[s] >= g]
            if not fits:
                continue
            site = min(fits, key=lambda s: grams_per_gpu_h(s, g))
            wait = slack[i, site] - self.urgent_steps
            if wait > 0:
                window = int(min(wait, horizon))
                if grams_per_gpu_h(site, g) > self._threshold[window - 1]:
                    continue
            free[site] -= g
            surplus_kw[site] = max(surplus_kw[site] - g * self._marginal_kw[site], 0.0)
            jobs.append(int(q.job[i]))
            sites.append(site)
            if max(free) <= 0:
                break
        return Actions(
            start_job=np.asarray(jobs, dtype=np.int64),
            start_site=np.asarray(sites, dtype=np.int64),
            battery_rule="self_consumption",
        )

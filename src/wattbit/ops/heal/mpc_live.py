"""The mpc policy deciding the plan of ``wattbit ops run`` (``--plan mpc``), from the live scheduler and signals.

Each cycle :class:`MpcPlanner` builds the observation mpc decides on (:class:`~wattbit.sim.policy.Observation`):

- the scenario's static site facts (plants, batteries, grid connections) and its signal history up to now (weather,
  PV, wind: the twin's own series), with the live carbon intensity, price and curtailment read from Prometheus in
  place of the scenario's at the current step;
- GPUs per site from the scheduler's nodes (installed, in service, free);
- the queue and the running jobs from the scheduler, with what the jobs say of themselves in their comment
  (``wattbit:work_h=`` hours of work, ``deadline`` as the scheduler's deadline, ``deferrable=1``, ``movable=1``,
  ``checkpoint_signal=``).

Its decision becomes actions by :func:`~wattbit.ops.heal.mpc_plan.decision_actions`, limited to what each job
allows: only jobs marked deferrable are held, only movable ones move to another site's partition, only requeueable
jobs with a checkpoint signal are requeued (the next cycle holds or moves them, as mpc then decides).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from wattbit.ops.adapters.scheduler import JobInfo, NodeInfo
from wattbit.ops.heal.actions import Action
from wattbit.ops.heal.mpc_plan import PlanDecision, SchedulerView, decision_actions, decision_of
from wattbit.scenario import Scenario
from wattbit.sim.policy import JobView, Observation

NO_DEADLINE = 10**9
_LIVE = {"carbon_g_per_kwh": "carbon_g_per_kwh", "price_jpy_per_mwh": "price_jpy_per_mwh"}


class MpcPlanner:
    """mpc over the live scheduler (see the module docstring)."""

    def __init__(self, scenario: Scenario, seed: int | None = None) -> None:
        from wattbit.control import make_policy
        from wattbit.sim.run import make_engine, prepare

        inputs = prepare(scenario, seed=seed)
        inputs = replace(inputs, jobs=inputs.jobs.select(np.zeros(0, dtype=np.int64)))
        self.fleet = inputs.fleet
        self.policy = make_policy("mpc", inputs)
        engine = make_engine(inputs, None)  # the read-only signal views and static facts the engine shows a policy
        self.signals = {k: np.array(v) for k, v in engine._signals.items()}
        self.static = dict(engine._static_view)
        self.link_gbps = engine.link_gbps
        self.t0_s = float(self.fleet.index[0].timestamp())
        self.step_s = self.fleet.step_h * 3600.0
        self.names = tuple(self.fleet.names)
        self.ids: dict[str, int] = {}  # scheduler job id -> the integer mpc knows it by, kept across cycles

    def step_of(self, now_s: float) -> int | None:
        """The scenario's step at ``now_s`` (None outside its period)."""
        k = int((now_s - self.t0_s) // self.step_s)
        return k if 0 <= k < self.fleet.steps else None

    def _gpus(self, nodes: list[NodeInfo]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        total, avail, free = (np.zeros(len(self.names), dtype=np.int64) for _ in range(3))
        for n in nodes:
            for i, s in enumerate(self.names):
                if s in n.partitions:
                    total[i] += n.gpus
                    if n.available:
                        avail[i] += n.gpus
                        free[i] += max(n.gpus - n.gpus_used, 0)
                    break
        return total, avail, free

    def _view(self, jobs: list[JobInfo], ids: dict[str, int], running: bool) -> JobView:
        rows = [j for j in jobs if (j.running if running else j.pending)]
        for j in rows:
            ids.setdefault(j.job_id, len(ids))
        idx = {s: i for i, s in enumerate(self.names)}

        def step(t: float | None, default: int) -> int:
            return default if t is None else int((t - self.t0_s) // self.step_s)

        def work_h(j: JobInfo) -> float:
            h = j.hints.get("work_h")
            return float(h) if h else (j.time_limit_s or 3600.0) / 3600.0

        return JobView.from_arrays(
            job=[ids[j.job_id] for j in rows],
            gpus=[j.gpus for j in rows],
            work_rate=[1.0] * len(rows),
            failure_loss_h=[1.0] * len(rows),
            pause_cost_h=[0.1] * len(rows),
            remaining_h=[work_h(j) for j in rows],
            deadline_step=[step(j.deadline_s, NO_DEADLINE) for j in rows],
            submit_step=[step(j.submit_time_s, 0) for j in rows],
            pausable=[bool(j.requeue and j.hints.get("checkpoint_signal")) for j in rows],
            migratable=[j.hints.get("movable") == "1" for j in rows],
            data_size_gb=[0.0] * len(rows),
            data_site=[-1] * len(rows),
            site=[idx.get(j.partition.split(",")[0], -1) if running else -1 for j in rows],
        )

    def observation(
        self, k: int, nodes: list[NodeInfo], jobs: list[JobInfo], live: dict[str, dict[str, float]], ids: dict[str, int]
    ) -> Observation:
        """What mpc sees at step ``k`` (``ids``: scheduler job id -> the integer mpc knows it by, filled here)."""
        for site, sig in live.items():
            if site in self.names:
                for key, name in _LIVE.items():
                    if key in sig:
                        self.signals[name][k, self.names.index(site)] = sig[key]
        total, avail, free = self._gpus(nodes)
        f = self.fleet
        past = {name: v[: k + 1] for name, v in self.signals.items()}
        return Observation(
            step=k, time_utc=f.index[k], step_h=f.step_h, site_names=self.names, plants=f.plants,
            batteries=f.batteries, grid_limit_w=np.asarray(self.static["grid_limit_w"], dtype=float),
            gpus_total=total, gpus_available=avail,
            gpus_free=free, inference_gpus=np.zeros(len(self.names), dtype=np.int64),
            queue=self._view(jobs, ids, False), running=self._view(jobs, ids, True),
            battery_soc_mwh=np.zeros(len(self.names)), migration_link_gbps=self.link_gbps, **past,
        )  # fmt: skip

    def actions(
        self,
        now_s: float,
        nodes: list[NodeInfo],
        jobs: list[JobInfo],
        live: dict[str, dict[str, float]],
        power: Any | None,
        episode: str,
    ) -> list[Action]:
        """This cycle's plan actions (empty outside the scenario's period)."""
        k = self.step_of(now_s)
        if k is None:
            return []
        ids = self.ids
        obs = self.observation(k, nodes, jobs, live, ids)
        d = decision_of(obs, self.policy.decide(obs))
        back = {str(v): key for key, v in ids.items()}
        by_id = {j.job_id: j for j in jobs}
        d = _allowed(_renamed(d, back), by_id)
        view = SchedulerView(
            held={j.job_id for j in jobs if j.held},  # a job held by its user is never started (see _allowed)
            partition={j.job_id: j.partition for j in jobs if "," not in j.partition},
        )
        limits = getattr(power, "limits", None) or {}
        for site in self.names:
            try:
                view.cap_w[site] = power.power_cap_w(site) if power is not None else None
                view.supply_c[site] = power.supply_temp_c(site) if power is not None else None
            except Exception:  # a site the power port does not know: leave it alone
                d.cap_w.pop(site, None)
                d.supply_c.pop(site, None)
        d.cap_w = {s: (limits[s].max_cap_w if w is None and s in limits else w) for s, w in d.cap_w.items()}
        d.cap_w = {s: w for s, w in d.cap_w.items() if w is not None and power is not None}
        d.supply_c = {s: c for s, c in d.supply_c.items() if c is not None and power is not None}
        return decision_actions(d, view, now_s, episode)


def _renamed(d: PlanDecision, back: dict[str, str]) -> PlanDecision:
    return replace(
        d,
        start={back[j]: s for j, s in d.start.items()},
        wait=[back[j] for j in d.wait],
        pause=[back[j] for j in d.pause],
        migrate={back[j]: s for j, s in d.migrate.items()},
    )


def _allowed(d: PlanDecision, jobs: dict[str, JobInfo]) -> PlanDecision:
    """Only what each job allows: holds of deferrable jobs, moves of movable ones, requeues of requeueable jobs with a
    checkpoint signal (a job mpc starts in its own partition needs no action)."""

    def hint(j: str, key: str) -> str:
        return jobs[j].hints.get(key, "") if j in jobs else ""

    def own(j: str, site: str) -> bool:
        return j in jobs and site in jobs[j].partition.split(",")

    def requeueable(j: str) -> bool:
        return j in jobs and jobs[j].requeue and bool(hint(j, "checkpoint_signal"))

    return replace(
        d,
        start={
            j: s
            for j, s in d.start.items()
            if (hint(j, "movable") == "1" or own(j, s)) and not (jobs[j].held and jobs[j].reason != "JobHeldAdmin")
        },
        wait=[j for j in d.wait if hint(j, "deferrable") == "1"],
        pause=[j for j in d.pause if requeueable(j)],
        migrate={j: s for j, s in d.migrate.items() if requeueable(j) and hint(j, "movable") == "1"},
    )

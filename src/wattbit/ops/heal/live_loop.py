"""The live watt-bit loop inside the engine: what its carbon and cost are against ``wattbit bench``.

:class:`LiveLoopPolicy` is an engine policy that does what ``ops run`` does with the twin: each step it asks the mpc
policy for its decision, turns it into scheduler and power actions (:mod:`wattbit.ops.heal.mpc_plan`), stores them in
the audit store with the status the mode gives them (``shadow``: recommended only; ``approve``: requeues wait for a
person, who never comes in a simulation; ``auto``: applied), records ``decided`` and ``applied`` for what is applied,
and hands the engine only what was applied — as a scheduler would carry it out:

- the scheduler starts queued jobs first come, first served with backfilling (as ``baseline`` does), skipping held
  jobs and keeping each job to its partition (a job moved to a site's partition starts only there; one never moved
  may start at any site, the first with room);
- a requeue with a hold pauses the job (checkpoint, back to the queue, held); a requeue then a move migrates it;
- the power port sets each site's GPU cap and cooling setpoint.

Batteries run in self-consumption (as in ``baseline``; the power port has no battery) and inference keeps its
routing. :func:`live_vs_bench` runs the loop in the given modes on the inputs ``wattbit bench`` uses (same
scenario, window, seed, jobs due in the period) beside bench's ``baseline`` and ``mpc``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wattbit.control import make_policy
from wattbit.ops.heal.audit import AuditStore
from wattbit.ops.heal.mpc_plan import SchedulerView, decision_actions, decision_of
from wattbit.sim.policy import Actions, Observation
from wattbit.sim.run import SimInputs

#: Figures of a run compared side by side.
KEYS = ("carbon_t", "energy_cost", "energy_cost_net", "energy_grid_mwh", "energy_facility_mwh", "deadline_misses",
        "jobs_completed", "gpu_utilization")  # fmt: skip


class LiveLoopPolicy:
    """The live loop's plan half, with the mpc policy deciding, as an engine policy (see the module docstring)."""

    def __init__(self, inputs: SimInputs, store: AuditStore, mode: str = "auto", actor: str = "wattbit-plan") -> None:
        self.name = f"live-{mode}"
        self.mpc = make_policy("mpc", inputs)
        self.store, self.mode, self.actor = store, mode, actor
        self.view = SchedulerView()
        self.counts: Counter[str] = Counter()
        self.site_index = {n: i for i, n in enumerate(inputs.fleet.names)}

    def decide(self, obs: Observation) -> Actions:
        """mpc's decision through the audit store; the engine gets what was applied."""
        plan = self.mpc.decide(obs)
        now_s = obs.time_utc.timestamp()
        applied = []
        for a in decision_actions(decision_of(obs, plan), self.view, now_s, f"plan@{obs.step}"):
            rec, new = self.store.propose(a, self.mode, self.actor)
            self.counts[f"{rec.status}:{a.kind}"] += 1
            if rec.status != "approved":
                continue
            self.store.transition(rec.action_id, "decided", self.actor)
            self.store.transition(rec.action_id, "applied", self.actor, result="twin engine")
            applied.append(a)
        return self._carry_out(obs, applied)

    def _carry_out(self, obs: Observation, applied: list[Any]) -> Actions:
        v, idx = self.view, self.site_index
        pause, migrate, migrate_site = [], [], []
        for a in applied:
            if a.kind == "hold":
                v.held.add(a.target)
            elif a.kind == "release":
                v.held.discard(a.target)
            elif a.kind == "move":
                v.partition[a.target] = a.params["partition"]
            elif a.kind == "requeue" and a.params.get("hold"):
                pause.append(int(a.target))
                v.held.add(a.target)
            elif a.kind == "requeue":
                dest = a.params["then_move_to"]
                migrate.append(int(a.target))
                migrate_site.append(idx[dest])
                v.partition[a.target] = dest
            elif a.kind == "power_cap":
                v.cap_w[a.target] = a.params["watts"]
            elif a.kind == "supply_temp":
                v.supply_c[a.target] = a.params["celsius"]
        free = obs.gpus_free.tolist()
        if migrate:
            running = dict(zip(obs.running.job.tolist(), obs.running.gpus.tolist(), strict=True))
            for j, s in zip(migrate, migrate_site, strict=True):
                free[s] -= running.get(j, 0)
        starts, sites = self._starts(obs, free)
        names = obs.site_names
        caps = [v.cap_w.get(n) for n in names]
        temps = [v.supply_c.get(n) for n in names]
        return Actions(
            start_job=np.asarray(starts, dtype=np.int64),
            start_site=np.asarray(sites, dtype=np.int64),
            pause_job=np.asarray(pause, dtype=np.int64),
            migrate_job=np.asarray(migrate, dtype=np.int64),
            migrate_site=np.asarray(migrate_site, dtype=np.int64),
            gpu_cap_w=None if all(c is None for c in caps) else np.array([np.nan if c is None else c for c in caps]),
            supply_temp_c=None if all(t is None for t in temps) else self._temps(obs, temps),
            battery_rule="self_consumption",
        )

    @staticmethod
    def _temps(obs: Observation, temps: list[float | None]) -> np.ndarray:
        design = [float(p.cooling.supply_temp_c) for p in obs.plants]
        return np.array([d if t is None else t for t, d in zip(temps, design, strict=True)])

    def _starts(self, obs: Observation, free: list[int]) -> tuple[list[int], list[int]]:
        """The scheduler's own starts: first come, first served with backfilling, held jobs skipped, each job kept
        to its partition (or, for one never moved, the site holding its state when it cannot migrate)."""
        q, v, idx = obs.queue, self.view, self.site_index
        jobs, sites = [], []
        data_site, migratable = q.data_site.tolist(), q.migratable.tolist()
        for k, (job, gpus) in enumerate(zip(q.job.tolist(), q.gpus.tolist(), strict=True)):
            key = str(job)
            if key in v.held:
                continue
            part = v.partition.get(key)
            if part is not None:
                allowed: Sequence[int] = (idx[part],)
            elif data_site[k] >= 0 and not migratable[k]:
                allowed = (data_site[k],)
            else:
                allowed = range(len(free))
            for s in allowed:
                if free[s] >= gpus:
                    free[s] -= gpus
                    jobs.append(job)
                    sites.append(s)
                    break
        return jobs, sites


def _figures(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: summary[k] for k in KEYS if k in summary}


def live_vs_bench(
    scenario: Any,
    out: Path,
    *,
    seed: int | None = None,
    modes: Sequence[str] = ("auto",),
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Carbon and cost of the live loop (each of ``modes``) beside ``wattbit bench``'s ``baseline`` and ``mpc`` on
    the same scenario, window, seed and jobs; the loop's audit store of each mode is ``out/plan-<mode>.sqlite``."""
    from wattbit.control.bench import compare_policies, due_in_period
    from wattbit.sim.run import collect, make_engine, prepare

    t0 = time.perf_counter()
    bench, _ = compare_policies(scenario, ("baseline", "mpc"), seed=seed)
    log(f"bench baseline and mpc in {time.perf_counter() - t0:.0f} s")
    inputs, _ = due_in_period(prepare(scenario, seed=seed))
    block: dict[str, Any] = {
        "period": bench["period"],
        "seed": bench["seed"],
        "jobs": bench["jobs"],
        "bench": {name: _figures(s) for name, s in bench["policies"].items()},
    }
    for mode in modes:
        t1 = time.perf_counter()
        db = out / f"plan-{mode}.sqlite"
        db.unlink(missing_ok=True)
        with AuditStore(db) as store:
            policy = LiveLoopPolicy(inputs, store, mode)
            engine = make_engine(inputs, policy)
            engine.run()
            result = collect(inputs, engine, policy.name)
            block[f"live_loop_{mode}"] = {
                **_figures(result.summary),
                "actions": dict(sorted(policy.counts.items())),
                "wall_s": round(time.perf_counter() - t1, 1),
            }
        log(f"live loop ({mode}): {block[f'live_loop_{mode}']}")
    base = block["bench"].get("baseline", {}).get("carbon_t")
    if base:
        live = [v for k, v in block.items() if k.startswith("live_loop")]
        for fig in [*block["bench"].values(), *live]:
            fig["carbon_cut_vs_baseline"] = round(1 - fig["carbon_t"] / base, 4)
    return block

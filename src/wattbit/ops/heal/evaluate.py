"""``wattbit ops heal-evaluate``: what healing is worth, on the fast path (no servers).

One simulated run of the scenario (its engine, its injected faults with their signatures, the telemetry model) is
replayed through the detectors once (:func:`wattbit.ops.detect.evaluate.replay`); the alerts then drive the real
control loop (:class:`~wattbit.ops.heal.loop.ControlLoop`, auto mode, default safety rules) over the twin's scheduler
(:class:`~wattbit.ops.adapters.twin_scheduler.TwinScheduler`: the run's training jobs as node gangs, the run's faults
failing nodes or GPUs), twice:

- ``reactive`` — the loop sees only failures (``critical`` alerts): it drains a node after it failed, requeues what
  runs there, and resumes it after repair and burn-in;
- ``predictive`` — the loop also sees the predictions (``warning`` alerts with the calibrated probability), drains
  before the failure and requeues the job with a checkpoint first.

Both policies have the black-hole rule (:mod:`wattbit.ops.heal.black_hole`; ``Rules.black_hole_failures`` 0 turns
it off): it reacts to jobs failing, which an operator who reacts after failures does too. Both see the applications'
XIDs (``app_xid``, info) that the rule uses to tell the nodes of a gang apart; info alerts wake nothing else.

Per block: ``gpu_hours_lost`` (work redone: since the last checkpoint plus restarts, at the job's GPUs),
``jobs_interrupted``, ``jobs_lost`` (failed and not requeueable), ``mttr_h`` (failure to the node back in service,
burn-in included), ``false_drains_per_1000_node_days`` (drains on a prediction with no failure of that node within
``Rules.hold_predicted_s``, and black-hole drains of a node with no fault under repair), ``black_hole_drains``,
drains and the actions applied, and ``loss``: the GPU-hours lost split into failures,
black holes and wattbit's requeues, with what a hang until PyTorch's default NCCL timeout would add per failure kill
(the twin ends a job at its GPU's failure, so that hang is not in ``gpu_hours_lost``). The fleet is scaled to
``nodes_per_site`` nodes per site (the faults and the workload with it) to keep the replay short; jobs larger than a
site are left out.

The detectors see the year a block of times at a time (:meth:`~wattbit.ops.detect.detectors.Detectors.step_block`,
the same alerts as time after time), and the loop jumps over quiet stretches, so a year takes minutes: it runs
every 15-minute step while a warning or failure is open, a node is drained or wattbit requeued a job, and from each
fault until its repair (jobs fail — the black-hole rule's evidence — only then), and wakes at the next alert or
fault otherwise.

``plan`` (optional, over a window of the whole fleet): carbon and cost of the live watt-bit loop, with the mpc policy
deciding and the engine following only the actions the loop applied, against ``wattbit bench`` (see
:mod:`wattbit.ops.heal.live_loop`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wattbit.ops.adapters.twin_scheduler import TwinScheduler
from wattbit.ops.detect.alerts import Alert
from wattbit.ops.heal.audit import AuditStore
from wattbit.ops.heal.loop import ControlLoop
from wattbit.ops.heal.safety import Rules
from wattbit.ops.telemetry.build import TelemetrySetup
from wattbit.scenario import Scenario

Log = Callable[[str], None]
STEP_S = 900.0
#: PyTorch's default NCCL timeout (``kProcessGroupNCCLDefaultTimeout``, 10 min): how long the other ranks of a job
#: whose GPU failed wait in a collective before the watchdog ends the job, when nothing else notices [s].
NCCL_TIMEOUT_S = 600.0


class ReplayWatcher:
    """The watcher's surface over a list of alerts: at each time, the alerts opened so far and still active."""

    def __init__(self, alerts: list[Alert], keys: list[tuple[str, int]], cooldown_s: float = 6 * 3600.0) -> None:
        self.alerts = sorted(alerts, key=lambda a: a.time_s)
        self.keys = keys
        self.cooldown_s = cooldown_s
        self.next = 0
        self.active: list[Alert] = []
        self.manager = type("Open", (), {"open": {}})()
        self.last_t: float | None = None

    def next_time(self) -> float:
        """When the next warning or failure opens (inf when none is left; info alerts wake nothing)."""
        return next((a.time_s for a in self.alerts[self.next :] if a.severity != "info"), float("inf"))

    def at(self, t: float) -> None:
        """Move to time ``t``."""
        while self.next < len(self.alerts) and self.alerts[self.next].time_s <= t:
            self.active.append(self.alerts[self.next])
            self.next += 1
        self.active = [a for a in self.active if a.last_s + self.cooldown_s >= t]
        self.manager.open = {a.key: replace(a, last_s=min(a.last_s, t)) for a in self.active}
        self.last_t = t

    def step(self) -> list[Alert]:
        """Nothing to poll: :meth:`at` moves the clock."""
        return []


def simulate(scenario: Scenario, seed: int | None, nodes_per_site: int, log: Log) -> tuple[TelemetrySetup, list[Alert]]:
    """The run and its alerts from the detectors (default parameters, the watcher's calibration)."""
    from wattbit.control import make_policy
    from wattbit.ops.detect.alerts import PREDICTIVE
    from wattbit.ops.detect.detectors import Detectors
    from wattbit.ops.detect.evaluate import replay, topology_of
    from wattbit.ops.telemetry.build import build_telemetry
    from wattbit.ops.watch import DEFAULT_CALIBRATION
    from wattbit.sim.run import make_engine

    t0 = time.perf_counter()
    setup = build_telemetry(scenario, seed=seed, nodes_per_site=nodes_per_site)
    engine = make_engine(setup.inputs, make_policy("baseline"))
    engine.run()
    log(f"simulated {setup.inventory.n_gpus} GPUs x {setup.fleet.steps} steps, {len(setup.plan)} faults")
    r = replay(setup, engine.rec, {"wattbit": Detectors(topology_of(setup.inventory))})
    alerts = r.alerts["wattbit"]
    for a in alerts:
        if a.kind in PREDICTIVE and a.kind in DEFAULT_CALIBRATION:
            a.probability, a.horizon_h = DEFAULT_CALIBRATION[a.kind]
    log(f"replayed the detectors: {len(alerts)} alerts in {time.perf_counter() - t0:.0f} s")
    return setup, alerts


def _scheduler(setup: TelemetrySetup) -> tuple[TwinScheduler, int]:
    inv = setup.inventory
    parts: dict[str, list[str]] = {s: [] for s in inv.site_names}
    for name, site in zip(inv.hostnames.tolist(), inv.node_site.tolist(), strict=True):
        parts[inv.site_names[site]].append(str(name))
    per_node = {s: m.gpus_per_node for s, m in zip(inv.site_names, inv.models, strict=True)}
    speed = {s: float(m.training_speed) for s, m in zip(inv.site_names, inv.models, strict=True)}
    start_s = pd.Timestamp(setup.fleet.index[0]).timestamp()
    tw = TwinScheduler(parts, per_node, start_s, speed=speed)
    jobs = setup.inputs.jobs
    fits = np.asarray(jobs.gpus) <= min(len(v) for v in parts.values()) * min(per_node.values())
    submit = pd.DatetimeIndex(jobs.submit_utc[fits]).asi8 / 1e9
    tw.load_jobs(
        np.asarray(jobs.gpus)[fits], np.asarray(jobs.duration_h)[fits], submit,
        np.asarray(jobs.checkpoint_interval_h)[fits], np.asarray(jobs.checkpoint_cost_h)[fits],
        np.asarray(jobs.restart_cost_h)[fits],
    )  # fmt: skip
    return tw, int((~fits).sum())


def _faults(setup: TelemetrySetup, tw: TwinScheduler) -> list[tuple[float, list[str], float, bool]]:
    """(failure time, nodes, repair [h], node down) of every fault, in time order; failures are scheduled in ``tw``."""
    inv, labels = setup.inventory, setup.labels_frame()
    out = []
    first_gpu, n_gpus = labels["first_gpu"].to_numpy(int), labels["n_gpus"].to_numpy(int)
    fail_s = pd.DatetimeIndex(labels["failure_utc"]).asi8 / 1e9
    repair_h = labels["repair_h"].to_numpy(float)
    for first, n, t, rep in zip(first_gpu.tolist(), n_gpus.tolist(), fail_s.tolist(), repair_h.tolist(), strict=True):
        nodes = sorted({str(inv.hostnames[k]) for k in inv.node[first : first + n]})
        node_down = n > 1
        for node in nodes:
            tw.fail_node(node, rep, node_down=node_down, at_s=max(t, tw.now_s))
        out.append((t, nodes, rep, node_down))
    return sorted(out, key=lambda f: f[0])


def run_policy(
    setup: TelemetrySetup,
    alerts: list[Alert],
    policy: str,
    db: Path,
    rules: Rules,
    inspect: Callable[[TwinScheduler, AuditStore], None] | None = None,
) -> dict[str, Any]:
    """Drive the loop over the twin's scheduler with ``alerts`` (``reactive``: failures only); its block of results.
    ``inspect`` is called with the twin's scheduler and the audit store at the end (for breakdowns)."""
    t0 = time.perf_counter()
    tw, left_out = _scheduler(setup)
    faults = _faults(setup, tw)
    seen = [a for a in alerts if a.severity == "critical" or (policy == "predictive" and a.severity == "warning")]
    seen += [a for a in alerts if a.kind == "app_xid"]  # info, but evidence for the black-hole rule (both policies)
    keys = [(str(h), g) for h in setup.inventory.hostnames.tolist() for g in range(8)]
    watcher = ReplayWatcher(seen, keys)
    db.unlink(missing_ok=True)
    store = AuditStore(db)
    loop = ControlLoop(tw, store, watcher=watcher, mode="auto", rules=rules)
    end_s = pd.Timestamp(setup.fleet.index[-1]).timestamp() + STEP_S
    t, cycles = tw.now_s, 0
    fault_s = np.array(sorted(f[0] for f in faults))
    while t < end_s:
        busy = any(
            m.get("drained_s") is not None and not m.get("quarantined") for m in loop.memory.get("nodes", {}).values()
        )
        busy = busy or bool(loop.memory.get("requeued")) or any(a.severity != "info" for a in watcher.active)
        # jobs fail (the black-hole rule's evidence) only at a fault and while a node is broken or down: the loop
        # wakes at each fault and runs every step until the repair, as it would if it never slept
        busy = busy or bool((tw.broken_until > t).any() or (tw.down_until > t).any())
        k = int(np.searchsorted(fault_s, t, side="right"))
        wake = min(watcher.next_time(), float(fault_s[k]) if k < len(fault_s) else end_s, end_s)
        t = t + STEP_S if busy else max(t + STEP_S, np.ceil(wake / STEP_S) * STEP_S)
        t = min(t, end_s)
        tw.advance(t)
        watcher.at(t)
        loop.cycle()
        cycles += 1
    block = _block(tw, store, faults, setup, rules)
    block.update(cycles=cycles, jobs_left_out=left_out, wall_s=round(time.perf_counter() - t0, 1))
    if inspect is not None:
        inspect(tw, store)
    store.close()
    return block


def repair_times_s(
    faults: list[Any], drains: dict[str, list[float]], resumes: dict[str, list[float]], rules: Rules
) -> list[float]:
    """Failure to the node back in service, per fault and node [s]. A fault is covered by a drain of its node from
    ``rules.hold_predicted_s`` before it (a prediction) to an hour after it (a failure seen); the node is back at the
    first resume after that drain and the failure, and never before its repair ends. A fault no drain covers (a node
    down that the scheduler returns by itself) counts its repair time."""
    out = []
    for t, nodes, repair_h, _ in faults:
        for node in nodes:
            cover = [d for d in drains.get(node, []) if t - rules.hold_predicted_s <= d <= t + 3600.0]
            back = [x for x in resumes.get(node, []) if cover and x >= max(max(cover), t)]
            end = t + repair_h * 3600.0
            out.append((max(min(back), end) if back else end) - t)
    return out


def _block(
    tw: TwinScheduler, store: AuditStore, faults: list[Any], setup: TelemetrySetup, rules: Rules
) -> dict[str, Any]:
    applied = [r for r in store.actions("applied", limit=1_000_000)]
    drains = [r for r in applied if r.kind in ("drain", "quarantine")]
    drained: dict[str, list[float]] = {}
    resumes: dict[str, list[float]] = {}
    for r in applied:
        if r.data_time_s is not None and r.kind in ("resume", "drain", "quarantine"):
            (resumes if r.kind == "resume" else drained).setdefault(r.target, []).append(r.data_time_s)
    fail_times: dict[str, list[float]] = {}
    for t, nodes, _, _ in faults:
        for node in nodes:
            fail_times.setdefault(node, []).append(t)
    repair_ends = repair_times_s(faults, drained, resumes, rules)
    false = false_black_holes = 0
    for r in drains:
        if r.data_time_s is None:
            continue
        if r.params.get("cause") == "black_hole":  # false unless the node had a fault not yet repaired
            if not any(
                t - 3600 <= r.data_time_s <= t + rep * 3600 + 3600 for t, ns, rep, _ in faults if r.target in ns
            ):
                false += 1
                false_black_holes += 1
            continue
        ts = fail_times.get(r.target, [])
        if r.params.get("cause") == "predicted":
            if not any(r.data_time_s - 3600 <= x <= r.data_time_s + rules.hold_predicted_s for x in ts):
                false += 1
    totals = tw.totals()
    fail = [k for k in tw.kills if k[1].startswith("failure on")]
    hole = [k for k in tw.kills if k[1].startswith("black hole")]
    failure_h, hole_h = sum(k[4] for k in fail), sum(k[4] for k in hole)
    loss = {  # where gpu_hours_lost comes from; the hang is not in it (the twin ends a job at its GPU's failure)
        "failure_kills": len(fail),
        "failure_gpu_hours": round(failure_h, 1),
        "black_hole_gpu_hours": round(hole_h, 1),
        "requeue_gpu_hours": round(totals["gpu_hours_lost"] - failure_h - hole_h, 1),
        "hang_gpu_hours_at_nccl_timeout": round(sum(k[3] for k in fail) * NCCL_TIMEOUT_S / 3600.0, 1),
    }
    node_days = len(tw.node_names) * setup.fleet.steps * setup.fleet.step_h / 24.0
    return {
        "gpu_hours_lost": round(totals["gpu_hours_lost"], 1),
        "gpu_hours_overhead": round(totals["gpu_hours_overhead"], 1),
        "jobs_interrupted": totals["jobs_interrupted"],
        "jobs_lost": totals["jobs_lost"],
        "jobs_completed": totals["jobs_completed"],
        "mttr_h": round(float(np.mean(repair_ends)) / 3600.0, 2) if repair_ends else None,
        "mttr_median_h": round(float(np.median(repair_ends)) / 3600.0, 2) if repair_ends else None,
        "false_drains": false,
        "false_drains_per_1000_node_days": round(1000.0 * false / node_days, 3),
        "drains": len(drains),
        "black_hole_drains": sum(1 for r in drains if r.params.get("cause") == "black_hole"),
        "false_black_hole_drains": false_black_holes,
        "actions_applied": {k: sum(1 for r in applied if r.kind == k) for k in sorted({r.kind for r in applied})},
        "black_hole_kills": tw.stats["black_hole_kills"],
        "loss": loss,
        "node_days": round(node_days, 1),
    }


def heal_evaluate(
    scenario: Scenario,
    out: Path,
    *,
    seed: int | None = None,
    nodes_per_site: int = 42,
    rules: Rules | None = None,
    plan_window: tuple[str, str] | None = None,
    plan_modes: Sequence[str] = ("shadow", "auto"),
    log: Log = print,
) -> dict[str, Any]:
    """Both policies on one run of ``scenario``; writes ``out/healing.json`` and returns it.

    With ``plan_window`` (start, end; ISO), ``healing.json`` also has a ``plan`` block: carbon and cost of the live
    watt-bit loop in ``plan_modes`` against ``wattbit bench``'s baseline and mpc over that window, same seed
    (:func:`wattbit.ops.heal.live_loop.live_vs_bench`)."""
    rules = rules or Rules()
    out.mkdir(parents=True, exist_ok=True)
    setup, alerts = simulate(scenario, seed, nodes_per_site, log)
    result: dict[str, Any] = {
        "scenario": scenario.name,
        "period": [str(setup.fleet.index[0]), str(setup.fleet.index[-1])],
        "gpus": int(setup.inventory.n_gpus),
        "nodes": int(len(setup.inventory.hostnames)),
        "faults": int(len(setup.plan)),
        "alerts": len(alerts),
        "rules": rules.__dict__,
    }
    for policy in ("reactive", "predictive"):
        result[policy] = run_policy(setup, alerts, policy, out / f"{policy}.sqlite", rules)
        log(f"{policy}: {result[policy]}")
    r, p = result["reactive"], result["predictive"]
    cut = 1 - p["gpu_hours_lost"] / r["gpu_hours_lost"] if r["gpu_hours_lost"] else None
    result["targets"] = {
        "gpu_hours_lost_cut": None if cut is None else round(cut, 3),
        "cut_at_least_30pct": cut is not None and cut >= 0.30,
        "false_drains_at_most_1_per_1000_node_days": p["false_drains_per_1000_node_days"] <= 1.0,
        "no_job_lost": p["jobs_lost"] == 0,
    }
    if plan_window is not None:
        from wattbit.ops.heal.live_loop import live_vs_bench
        from wattbit.scenario import with_period

        window = with_period(scenario, *plan_window)
        result["plan"] = live_vs_bench(window, out, seed=seed, modes=plan_modes, log=log)
    (out / "healing.json").write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    return result

"""The healing playbook: from alerts and the scheduler's state to proposed actions.

One call of :func:`decide` per cycle, on what the loop observed (:class:`Observation`) and the playbook's memory
(a JSON-ready dict kept in the audit store, so that it survives restarts). It never acts; it proposes
:class:`~wattbit.ops.heal.actions.Action` objects whose keys make a repeated decision the same action:

1. **Drain** a node when a failure is predicted (a ``warning`` alert with enough probability) or seen (a
   ``critical`` alert other than missing telemetry), with a reason Slurm shows (``wattbit: row_remap predicted
   [alert id]``), and **requeue** the jobs running on it; on a prediction, a job that asks for it
   (``wattbit:checkpoint_signal=USR1`` in its comment) is first sent the **checkpoint** signal and requeued
   ``Rules.checkpoint_wait_s`` later, so that it restarts from a fresh checkpoint. Only nodes the scheduler knows
   are touched; a node drained by someone else is left alone.
2. A job wattbit requeued gets its **start time** set to now (Slurm 22.05 queues a requeued job two minutes ahead),
   and is **moved** to another site's partition when its own has no free node and another has.
3. **Resume** a node wattbit drained once it is repaired and passed the burn-in: either a failure was seen since
   the drain (it happened) or ``Rules.hold_predicted_s`` passed without one (a false drain); telemetry present; no
   alert for ``Rules.min_quiet_s``; and the burn-in check passes (:attr:`Observation.burn_in`: the twin's, or an
   operator's command such as ``dcgmi diag``) or, without one, no alert for ``Rules.burn_in_s``.
4. **Quarantine** a node with ``Rules.lemon_failures`` failures within ``Rules.lemon_window_s`` (a lemon): drained
   with a reason saying so, never resumed by wattbit.
5. **Drain a black hole**: a node on which jobs keep failing minutes after they start (:mod:`wattbit.ops.heal.
   black_hole`, from the scheduler's job ends), with a reason naming the jobs, and requeue what is starting there (a
   job that has run there longer than ``Rules.black_hole_run_s`` is not dying: it may finish); it is a failure seen
   (resumed after repair and burn-in, counted towards a lemon) drained under the safety rules of a prediction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wattbit.ops.adapters.scheduler import JobEnd, JobInfo, NodeInfo
from wattbit.ops.detect.alerts import Alert
from wattbit.ops.heal.actions import Action
from wattbit.ops.heal.black_hole import black_holes
from wattbit.ops.heal.safety import Rules

#: Alert kinds that say telemetry is missing, not that the node failed: noted, never acted on.
TELEMETRY_GAPS = frozenset({"gpu_vanished", "node_vanished"})
#: Prefix of every reason wattbit gives Slurm (how it recognises its own drains).
REASON_PREFIX = "wattbit:"


@dataclass
class Observation:
    """What one cycle saw.

    Attributes
    ----------
    now_s
        The data's clock (the twin's simulated time, or the newest sample's time).
    sched_now_s
        The scheduler's clock (wall time for Slurm, simulated for the twin), for begin times.
    nodes, jobs
        The scheduler's nodes and jobs.
    alerts
        Open alerts (node- and GPU-level ones are used).
    telemetry_nodes
        Nodes present in the last telemetry poll (None: unknown, e.g. no telemetry source).
    burn_in
        The burn-in check of a drained node (True passed, False failed, None not available: then the node must
        have been quiet for ``Rules.burn_in_s``).
    job_ends
        Runs that ended in failure within the black-hole window (None: not read; the black-hole rule is off).
    """

    now_s: float
    sched_now_s: float
    nodes: list[NodeInfo]
    jobs: list[JobInfo]
    alerts: list[Alert]
    telemetry_nodes: set[str] | None = None
    burn_in: Callable[[str], bool | None] | None = None
    job_ends: list[JobEnd] | None = None


@dataclass
class Decision:
    """Proposals of one cycle and notes for the audit log."""

    actions: list[Action] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _site(node: NodeInfo) -> str:
    return node.partitions[0] if node.partitions else ""


def ours(node: NodeInfo) -> bool:
    """Whether ``node`` is drained by wattbit."""
    return node.drained and node.reason.startswith(REASON_PREFIX)


def _note_once(memory: dict[str, Any], d: Decision, key: str, text: str) -> None:
    noted = memory.setdefault("noted", [])
    if key not in noted:
        noted.append(key)
        d.notes.append(text)


def _jobs_on(jobs: list[JobInfo], node: str) -> list[JobInfo]:
    return [j for j in jobs if j.running and node in j.nodes]


def _drain_actions(
    a: Alert, node: NodeInfo, jobs: list[JobInfo], cause: str, quarantine: str = "", ckpt_until_s: float = 0.0
) -> list[Action]:
    what = "quarantined (lemon: " + quarantine + ")" if quarantine else f"{a.kind} {cause}"
    reason = f"{REASON_PREFIX} {what} [{a.alert_id}]"
    episode = f"lemon-{a.alert_id}" if quarantine else a.alert_id
    evidence = {"alert": a.to_dict()}
    kind = "quarantine" if quarantine else "drain"
    out = [
        Action(kind, node.name, _site(node), {"reason": reason, "cause": cause}, reason, evidence, episode=episode,
               data_time_s=a.time_s)
    ]  # fmt: skip
    for j in _jobs_on(jobs, node.name):
        if not j.requeue:
            continue
        why = f"its node {node.name} is drained ({what})"
        params: dict[str, Any] = {"node": node.name, "restart_count": j.restart_count}
        if j.hints.get("checkpoint_signal") and cause == "predicted":
            out.append(
                Action("checkpoint", j.job_id, _site(node), {"signal": j.hints["checkpoint_signal"], "node": node.name},
                       why, evidence, episode=episode, data_time_s=a.time_s)
            )  # fmt: skip
            params["not_before_s"] = ckpt_until_s  # requeued once the checkpoint is written
        out.append(
            Action("requeue", j.job_id, _site(node), params, why, evidence, episode=episode, data_time_s=a.time_s)
        )
    return out


def _heal_alerts(obs: Observation, memory: dict[str, Any], rules: Rules, open_keys: set[str], d: Decision) -> None:
    nodes = {n.name: n for n in obs.nodes}
    mem_nodes = memory.setdefault("nodes", {})
    by_node: dict[str, list[Alert]] = {}
    for a in obs.alerts:
        if a.kind in TELEMETRY_GAPS and a.node:
            text = f"telemetry of {a.node} missing ({a.kind}): no action on a guess"
            _note_once(memory, d, f"gap:{a.alert_id}", text)
        elif a.node and a.severity in ("critical", "warning"):
            by_node.setdefault(a.node, []).append(a)
    for name, alerts in sorted(by_node.items()):
        node = nodes.get(name)
        if node is None:
            _note_once(
                memory, d, f"unknown:{name}", f"telemetry names node {name}, unknown to the scheduler: no action"
            )
            continue
        m = mem_nodes.setdefault(name, {})
        m["last_alert_s"] = max([float(m.get("last_alert_s", -1e300))] + [a.last_s or a.time_s for a in alerts])
        failures = m.setdefault("failures", [])
        counted = m.setdefault("failure_alerts", [])
        for a in alerts:
            if a.severity == "critical" and a.alert_id not in counted:
                counted.append(a.alert_id)
                failures.append(a.time_s)
        recent = [t for t in failures if obs.now_s - t <= rules.lemon_window_s]
        resumed = m.get("resumed_s")
        alerts = [a for a in alerts if resumed is None or a.time_s > float(resumed)]  # known when it was resumed
        if not alerts or m.get("quarantined"):
            continue
        first = min(alerts, key=lambda a: (a.severity != "critical", a.time_s))
        if m.get("quarantined"):
            continue
        if len(recent) >= rules.lemon_failures:
            q = _drain_actions(
                first, node, obs.jobs, "seen", f"{len(recent)} failures in {rules.lemon_window_s / 86400:g} d"
            )
            if q[0].action_id not in open_keys:
                d.actions += q
            continue
        if node.drained and not ours(node):
            _note_once(
                memory,
                d,
                f"foreign:{name}:{node.reason}",
                f"{name} is drained by someone else ({node.reason}): left alone",
            )
            continue
        cause = "seen" if first.severity == "critical" else "predicted"
        if ours(node) or (cause == "predicted" and any(k.startswith(f"drain:{name}:") for k in open_keys)):
            continue  # a failure seen is drained even while a drain on its prediction waits (blocked, approval)
        if cause == "predicted" and first.probability is not None and first.probability < rules.min_probability:
            continue
        d.actions += _drain_actions(first, node, obs.jobs, cause, ckpt_until_s=obs.now_s + rules.checkpoint_wait_s)


def _past_start_up(job: JobInfo, obs: Observation, rules: Rules) -> bool:
    """Whether ``job`` has run longer than a black hole lets a job live: it is not dying there, so a black-hole
    drain lets it finish (requeueing it would only cost the work since its checkpoint)."""
    return job.start_time_s is not None and obs.sched_now_s - job.start_time_s > rules.black_hole_run_s


def _hhmm(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(t))


def _heal_black_holes(obs: Observation, memory: dict[str, Any], rules: Rules, open_keys: set[str], d: Decision) -> None:
    if obs.job_ends is None:
        return
    mem_nodes = memory.setdefault("nodes", {})
    clean = {
        n: max(float(m.get("resumed_s") or -1e300), float(m.get("drained_s") or -1e300)) for n, m in mem_nodes.items()
    }
    verdict = black_holes(obs.job_ends, obs.now_s, rules, clean, obs.alerts)
    for members, ends in verdict.ambiguous:
        ids = ",".join(sorted({e.job_id for e in ends}))
        text = (f"jobs {ids} failed fast {len(ends)} times on {','.join(members)} together: no node stands out; "
                "none drained (run a diagnostic)")  # fmt: skip
        _note_once(memory, d, f"bh-ambiguous:{','.join(members)}:{int(ends[0].end_s)}", text)
    nodes = {n.name: n for n in obs.nodes}
    pending = {a.target for a in d.actions if a.kind in ("drain", "quarantine")}
    for name, ends in sorted(verdict.drain.items()):
        node = nodes.get(name)
        if node is None or node.drained or node.down or name in pending:
            continue
        if any(k.startswith((f"drain:{name}:", f"quarantine:{name}:")) for k in open_keys):
            continue
        m = mem_nodes.setdefault(name, {})
        if m.get("quarantined"):
            continue
        ids = ",".join(dict.fromkeys(e.job_id for e in ends))
        minutes, hours = rules.black_hole_run_s / 60, rules.black_hole_window_s / 3600
        episode = f"bh-{name}-{int(ends[0].end_s)}"
        last = ends[-1]
        reason = (
            f"{REASON_PREFIX} black_hole seen ({len(ends)} runs failed <={minutes:g} min after start in {hours:g} h: "
            f"jobs {ids}; last {last.state} {last.cause} {_hhmm(last.end_s)}) [{episode}]"
        )
        failures = [
            {"job": e.job_id, "state": e.state, "cause": e.cause, "nodes": list(e.nodes), "start_utc": _hhmm(e.start_s),
             "end_utc": _hhmm(e.end_s), "run_min": round(e.run_s / 60, 1)} for e in ends
        ]  # fmt: skip
        rule = {"failures": rules.black_hole_failures, "run_s": rules.black_hole_run_s,
                "window_s": rules.black_hole_window_s}  # fmt: skip
        evidence = {"black_hole": {"rule": rule, "failures": failures}}
        d.actions.append(Action("drain", name, _site(node), {"reason": reason, "cause": "black_hole"}, reason,
                                evidence, episode=episode, data_time_s=obs.now_s))  # fmt: skip
        for j in _jobs_on(obs.jobs, name):
            if j.requeue and not _past_start_up(j, obs, rules):
                params = {"node": name, "restart_count": j.restart_count}
                d.actions.append(Action("requeue", j.job_id, _site(node), params, f"its node {name} is drained "
                                        "(black hole)", evidence, episode=episode, data_time_s=obs.now_s))  # fmt: skip
        m["last_alert_s"] = max(float(m.get("last_alert_s", -1e300)), ends[-1].end_s)
        if episode not in m.setdefault("failure_alerts", []):
            m["failure_alerts"].append(episode)
            m.setdefault("failures", []).append(obs.now_s)


def _heal_drained(obs: Observation, memory: dict[str, Any], rules: Rules, d: Decision) -> None:
    mem_nodes = memory.setdefault("nodes", {})
    last_by_node: dict[str, float] = {}
    for a in obs.alerts:
        if a.node and a.severity != "info":  # quiet: no warning or failure (applications' XIDs, data events are info)
            last_by_node[a.node] = max(last_by_node.get(a.node, -1e300), a.last_s or a.time_s)
    for node in obs.nodes:
        m = mem_nodes.setdefault(node.name, {}) if ours(node) or node.name in mem_nodes else None
        if m is None:
            continue
        if not ours(node):
            if m.get("drained_s") is not None:  # resumed (by wattbit or a person)
                m["resumed_s"] = obs.now_s
                m["drained_s"] = None
            continue
        if m.get("drained_s") is None:
            m["drained_s"] = obs.now_s
            m["episode"] = node.reason.rsplit("[", 1)[-1].rstrip("]") if "[" in node.reason else node.reason
            m["cause"] = "seen" if " seen " in node.reason + " " else "predicted"
            m["quarantined"] = "quarantined" in node.reason
            m["black_hole"] = "black_hole seen" in node.reason
        episode = str(m["episode"])
        for j in _jobs_on(obs.jobs, node.name):  # drained nodes let jobs run: requeue them
            if j.requeue and not (m.get("black_hole") and _past_start_up(j, obs, rules)):
                why = f"its node {node.name} is drained ({node.reason})"
                params = {"node": node.name, "restart_count": j.restart_count}
                d.actions.append(
                    Action("requeue", j.job_id, _site(node), params, why, episode=episode, data_time_s=obs.now_s)
                )
        if m.get("quarantined"):
            continue
        last = max(float(m.get("last_alert_s", -1e300)), last_by_node.get(node.name, -1e300))
        quiet_s = obs.now_s - last
        failed_since = any(t >= float(m["drained_s"]) - rules.burn_in_s for t in m.get("failures", []))
        done = m.get("cause") == "seen" or failed_since or obs.now_s - float(m["drained_s"]) >= rules.hold_predicted_s
        if obs.telemetry_nodes is not None and node.name not in obs.telemetry_nodes:
            _note_once(memory, d, f"notelemetry:{node.name}:{episode}", f"no telemetry for {node.name}: not resumed")
            continue
        if not done or quiet_s < rules.min_quiet_s:
            continue
        check = obs.burn_in(node.name) if obs.burn_in is not None else None
        if check is False:
            _note_once(
                memory, d, f"burnin:{node.name}:{episode}:{int(obs.now_s // 86400)}", f"{node.name} failed its burn-in"
            )
            continue
        if check is None and quiet_s < rules.burn_in_s:
            continue
        why = "repaired: burn-in passed" if check else f"repaired and burned in: no alert for {quiet_s / 3600:.1f} h"
        if not failed_since and m.get("cause") != "seen":
            why = f"predicted failure did not come within {rules.hold_predicted_s / 3600:g} h (false drain); " + why
        evidence = {"quiet_h": round(quiet_s / 3600, 2), "burn_in": check, "failure_seen": bool(failed_since)}
        d.actions.append(
            Action("resume", node.name, _site(node), {}, why, evidence, episode=episode, data_time_s=obs.now_s)
        )


def _free_nodes(nodes: list[NodeInfo], partition: str) -> int:
    return sum(1 for n in nodes if partition in n.partitions and n.available and n.gpus_used == 0)


def _heal_requeued(obs: Observation, memory: dict[str, Any], d: Decision) -> None:
    requeued: dict[str, str] = memory.setdefault("requeued", {})
    jobs = {j.job_id: j for j in obs.jobs}
    for job_id, episode in list(requeued.items()):
        j = jobs.get(job_id)
        if j is None or not j.pending:
            if j is None or j.running or j.state not in ("PENDING", "COMPLETING", "REQUEUED"):
                requeued.pop(job_id)
            continue
        site = j.partition.split(",")[0]
        if j.begin_time_s is not None and j.begin_time_s > obs.sched_now_s + 5:
            d.actions.append(Action("start_time", job_id, site, {"when": "now"}, "requeued by wattbit: start it now",
                                    episode=episode, data_time_s=obs.now_s))  # fmt: skip
        per_node = max((n.gpus for n in obs.nodes if site in n.partitions), default=8) or 8
        need = max(1, -(-j.gpus // per_node))
        if _free_nodes(obs.nodes, site) >= need:
            continue
        others = sorted({p for n in obs.nodes for p in n.partitions} - {site}, key=lambda p: -_free_nodes(obs.nodes, p))
        if others and _free_nodes(obs.nodes, others[0]) >= need:
            why = f"{site} has no free node; {others[0]} has {_free_nodes(obs.nodes, others[0])}"
            d.actions.append(Action("move", job_id, site, {"partition": others[0]}, why, episode=episode,
                                    data_time_s=obs.now_s))  # fmt: skip


def decide(obs: Observation, memory: dict[str, Any], rules: Rules, open_keys: set[str]) -> Decision:
    """The healing proposals of one cycle (see the module docstring); updates ``memory`` in place.

    Parameters
    ----------
    obs
        What the cycle saw.
    memory
        The playbook's memory (JSON-ready; stored by the loop between cycles).
    rules
        Settings of the playbook and the safety rules.
    open_keys
        Keys of actions still open in the audit store (so that a drain waiting for approval is not proposed again
        under another alert).
    """
    d = Decision()
    _heal_alerts(obs, memory, rules, open_keys, d)
    _heal_black_holes(obs, memory, rules, open_keys, d)
    _heal_drained(obs, memory, rules, d)
    _heal_requeued(obs, memory, d)
    return d


def remember_requeue(memory: dict[str, Any], job_id: str, episode: str) -> None:
    """Record that wattbit requeued ``job_id`` (its start time and partition are then looked after)."""
    memory.setdefault("requeued", {})[job_id] = episode

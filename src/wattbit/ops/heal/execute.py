"""Applying actions once, through the scheduler and power ports, and reconciling after a crash.

The path of an action to the scheduler is always ``approved -> decided -> applied`` in the audit store
(:mod:`wattbit.ops.heal.audit`), each step committed before the next: ``decided`` is written, then the command is
run, then ``applied`` (or ``failed``) is written. A process killed between the two (``kill -9``) leaves the action
``decided``; on restart :meth:`Executor.reconcile` asks the scheduler whether the action is in effect
(:meth:`Executor.in_effect`: the node drained with wattbit's reason, the job's restart count above the one recorded
when it was proposed, the job in the new partition …) and marks it ``applied`` if it is, or runs it again if it is not
and still makes sense — never twice, because ``requeue``, the one write that is not idempotent in Slurm, is checked
against the job's restart count before it is run.

Failures of the parts are rules, not crashes:

- the scheduler down or slow (:class:`~wattbit.ops.adapters.scheduler.SchedulerUnavailable`), or a command refused
  (:class:`~wattbit.ops.adapters.scheduler.CommandFailed`): ``failed`` with the error and the command, retried after
  ``Rules.retry_s`` (doubling), ``abandoned`` after ``Rules.max_attempts``;
- a node or job that does not exist or vanished (:class:`~wattbit.ops.adapters.scheduler.UnknownNode`,
  :class:`~wattbit.ops.adapters.scheduler.UnknownJob`), or an action that no longer makes sense (the job finished):
  ``abandoned`` at once, with the reason;
- a safety rule (:mod:`wattbit.ops.heal.safety`): ``blocked`` with the rule's words, tried again each cycle.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from wattbit.ops.adapters.power import PowerControl, PowerControlError
from wattbit.ops.adapters.scheduler import (
    NodeInfo,
    Scheduler,
    SchedulerError,
    UnknownJob,
    UnknownNode,
    scheduler_now_s,
)
from wattbit.ops.heal.audit import ActionRecord, AuditStore, UnknownAction
from wattbit.ops.heal.playbooks import REASON_PREFIX, remember_requeue
from wattbit.ops.heal.safety import LIMITED_CAUSES, Rules, check

log = logging.getLogger(__name__)


class Moot(Exception):
    """The action no longer makes sense (the reason is the message): abandon it."""


class Executor:
    """Applies open actions from the audit store (see the module docstring).

    Parameters
    ----------
    scheduler
        The scheduler port.
    store
        The audit store.
    rules
        Safety rules and retry settings.
    power
        The power port (power caps and set-points); None: those actions fail with a clear error.
    actor
        Name written as the actor of what it does.
    wall_clock
        Wall time [Unix s] for retries.
    after_decided
        Called with each action just marked ``decided``, before its command runs (fault injection in tests: a
        process killed here is what :meth:`reconcile` repairs).
    """

    def __init__(
        self,
        scheduler: Scheduler,
        store: AuditStore,
        rules: Rules,
        power: PowerControl | None = None,
        actor: str = "wattbit",
        wall_clock: Callable[[], float] = time.time,
        after_decided: Callable[[ActionRecord], None] | None = None,
    ) -> None:
        self.scheduler, self.store, self.rules, self.power = scheduler, store, rules, power
        self.actor = actor
        self.wall_clock = wall_clock
        self.after_decided = after_decided

    # ------------------------------------------------------------------------------------------- checking
    def _node(self, name: str) -> NodeInfo:
        for n in self.scheduler.nodes():
            if n.name == name:
                return n
        raise UnknownNode(f"Invalid node name specified: {name}", f"node {name}")

    def in_effect(self, rec: ActionRecord) -> bool:
        """Whether ``rec`` is already in effect in the scheduler (or power port); raises :class:`Moot` when it
        can no longer be applied, and the scheduler's errors when the state cannot be read."""
        k, p = rec.kind, rec.params
        if k in ("drain", "quarantine"):
            node = self._node(rec.target)
            if node.drained and not node.reason.startswith(REASON_PREFIX):
                raise Moot(f"{rec.target} is drained by someone else ({node.reason})")
            if k == "quarantine":
                return node.drained and node.reason == p.get("reason")
            return node.drained  # drained by wattbit already (on another alert of the same node)
        if k == "resume":
            return not self._node(rec.target).drained
        if k == "node_weight":
            return self._node(rec.target).weight == int(p["weight"])
        if k in ("power_cap", "supply_temp"):
            if self.power is None:
                return False
            read = self.power.power_cap_w if k == "power_cap" else self.power.supply_temp_c
            return abs(read(rec.target) - float(p["watts" if k == "power_cap" else "celsius"])) < 1e-6
        job = self.scheduler.job(rec.target)
        if k == "requeue":
            if job.restart_count > int(p.get("restart_count", 0)):
                return True
            if not job.running or (p.get("node") and p["node"] not in job.nodes):
                raise Moot(f"job {rec.target} no longer runs on {p.get('node')} (state {job.state})")
            return False
        if k == "checkpoint":
            if not job.running:
                raise Moot(f"job {rec.target} is not running (state {job.state})")
            return False
        if k == "cancel":
            return job.state in ("CANCELLED", "COMPLETED", "FAILED")
        if not job.pending:
            raise Moot(f"job {rec.target} is no longer pending (state {job.state})")
        if k == "move":
            return job.partition == p["partition"]
        if k == "hold":
            return job.held
        if k == "release":
            return not job.held
        if k == "start_time":
            return job.begin_time_s is not None and job.begin_time_s <= scheduler_now_s(self.scheduler) + 5
        raise Moot(f"unknown kind {k}")

    def _run(self, rec: ActionRecord) -> str:
        """Run ``rec``'s command; returns what was done."""
        s, k, p, t = self.scheduler, rec.kind, rec.params, rec.target
        if k in ("drain", "quarantine"):
            s.drain(t, str(p["reason"]))
        elif k == "resume":
            s.resume(t)
        elif k == "requeue":
            s.requeue(t)
        elif k == "checkpoint":
            s.signal(t, str(p.get("signal", "USR1")))
        elif k == "move":
            s.move(t, str(p["partition"]))
        elif k == "start_time":
            s.set_start_time(t, str(p.get("when", "now")))
        elif k == "hold":
            s.hold(t)
        elif k == "release":
            s.release(t)
        elif k == "node_weight":
            s.set_node_weight(t, int(p["weight"]))
        elif k == "cancel":
            s.cancel(t)
        elif k in ("power_cap", "supply_temp"):
            if self.power is None:
                raise PowerControlError("no power control connected", f"{k} {t}")
            if k == "power_cap":
                self.power.set_power_cap_w(t, float(p["watts"]))
            else:
                self.power.set_supply_temp_c(t, float(p["celsius"]))
        return f"{k} {t} done"

    def _command(self, rec: ActionRecord) -> str:
        cmd = getattr(self.scheduler, "last_command", "")
        return (
            str(cmd)
            if cmd and rec.kind not in ("power_cap", "supply_temp")
            else f"{self.scheduler.name}: {rec.kind} {rec.target} {rec.params}"
        )

    # -------------------------------------------------------------------------------------------- applying
    def _safety(self, rec: ActionRecord, nodes: list[NodeInfo], memory: dict[str, Any], now_s: float) -> str | None:
        if rec.kind not in ("drain", "quarantine", "resume"):
            return None
        recent = 0
        if rec.kind != "resume":
            rows = self.store.actions(
                ["applied", "decided"],
                10_000,
                kinds=("drain", "quarantine"),
                site=rec.site,
                data_since_s=now_s - 3600.0,
            )
            recent = sum(1 for r in rows if r.params.get("cause") in LIMITED_CAUSES and (r.data_time_s or 0) <= now_s)
        node_mem = memory.get("nodes", {}).get(rec.target, {})
        return check(rec.kind, rec.site, rec.params, nodes, recent, node_mem, now_s, self.rules)

    def _waits_for_drain(self, rec: ActionRecord, nodes: list[NodeInfo]) -> bool:
        """A requeue or checkpoint runs only once its node is drained (so the job does not restart there)."""
        node = rec.params.get("node")
        if rec.kind not in ("requeue", "checkpoint") or not node:
            return False
        return not any(n.name == node and n.drained for n in nodes)

    def apply_open(self, nodes: list[NodeInfo], memory: dict[str, Any], now_s: float) -> list[ActionRecord]:
        """Apply every approved action (and retry failed and blocked ones whose time has come), oldest first.

        Returns the actions whose status changed.
        """
        changed: list[ActionRecord] = []
        todo = self.store.actions(["approved", "blocked", "failed"], limit=10_000)
        for rec in sorted(todo, key=lambda r: r.created_s):
            if rec.status == "failed" and (rec.next_try_s or 0) > self.wall_clock():
                continue
            if self._superseded(rec):
                changed.append(
                    self.store.transition(
                        rec.action_id, "superseded", self.actor, detail={"why": "its drain was rejected or abandoned"}
                    )
                )
                continue
            if self._waits_for_drain(rec, nodes) or now_s < float(rec.params.get("not_before_s", -1e300)):
                continue
            why = self._safety(rec, nodes, memory, now_s)
            if why is not None:
                if rec.status != "blocked":
                    changed.append(self.store.transition(rec.action_id, "blocked", self.actor, detail={"rule": why}))
                continue
            if rec.status == "blocked":
                rec = self.store.transition(
                    rec.action_id, "approved", self.actor, detail={"why": "the safety rule no longer holds"}
                )
            changed.append(self._apply(rec, memory))
            if changed[-1].status == "applied" and changed[-1].kind in ("drain", "quarantine", "resume"):
                nodes = self.scheduler.nodes()
        return changed

    def _superseded(self, rec: ActionRecord) -> bool:
        if rec.kind not in ("requeue", "checkpoint") or not rec.params.get("node"):
            return False
        for kind in ("drain", "quarantine"):
            try:
                drain = self.store.get(f"{kind}:{rec.params['node']}:{rec.episode}")
            except UnknownAction:
                continue
            return drain.status in ("rejected", "abandoned", "superseded")
        return False

    def _apply(self, rec: ActionRecord, memory: dict[str, Any]) -> ActionRecord:
        """Check, mark decided, run, mark applied/failed/abandoned."""
        try:
            if self.in_effect(rec):
                rec = self.store.transition(rec.action_id, "decided", self.actor, detail={"already_in_effect": True})
                return self._done(rec, "already in effect; nothing run", memory)
        except Moot as exc:
            return self.store.transition(rec.action_id, "abandoned", self.actor, error=str(exc))
        except (UnknownJob, UnknownNode) as exc:
            return self.store.transition(rec.action_id, "abandoned", self.actor, error=str(exc), command=exc.command)
        except SchedulerError as exc:
            return self._failed_before(rec, exc)
        rec = self.store.transition(rec.action_id, "decided", self.actor)
        if self.after_decided is not None:
            self.after_decided(rec)
        try:
            result = self._run(rec)
        except (UnknownJob, UnknownNode) as exc:
            return self.store.transition(rec.action_id, "abandoned", self.actor, error=str(exc), command=exc.command)
        except (SchedulerError, PowerControlError) as exc:
            return self._failed(rec, str(exc), exc.command)
        return self._done(rec, result, memory)

    def _done(self, rec: ActionRecord, result: str, memory: dict[str, Any]) -> ActionRecord:
        if rec.kind == "requeue":
            remember_requeue(memory, rec.target, rec.episode)
        log.info("applied %s", rec.action_id)
        return self.store.transition(rec.action_id, "applied", self.actor, result=result, command=self._command(rec))

    def _failed_before(self, rec: ActionRecord, exc: SchedulerError) -> ActionRecord:
        """The state could not be read: nothing was run; retried later (the action stays where it was)."""
        self.store.note(
            f"not applied: the scheduler's state could not be read ({exc.message})",
            self.actor,
            rec.action_id,
            command=exc.command,
        )
        return rec

    def _failed(self, rec: ActionRecord, error: str, command: str) -> ActionRecord:
        """Record a failed attempt: retried after a back-off, abandoned after ``Rules.max_attempts``."""
        wait_s = self.rules.retry_s * 2 ** max(0, rec.attempts - 1)
        failed = self.store.transition(
            rec.action_id, "failed", self.actor, error=error, command=command, next_try_s=self.wall_clock() + wait_s
        )
        if failed.attempts < self.rules.max_attempts:
            return failed
        why = f"{failed.attempts} attempts failed"
        return self.store.transition(rec.action_id, "abandoned", self.actor, detail={"why": why})

    # ---------------------------------------------------------------------------------------- reconciling
    def reconcile(self, memory: dict[str, Any]) -> list[ActionRecord]:
        """After a restart: settle every action left ``decided`` against the scheduler's real state."""
        out = []
        for rec in self.store.actions("decided", limit=10_000):
            self.store.note("reconciling an action left decided by a previous run", self.actor, rec.action_id)
            try:
                effect = self.in_effect(rec)
            except Moot as exc:
                out.append(self.store.transition(rec.action_id, "abandoned", self.actor, error=str(exc)))
                continue
            except SchedulerError as exc:
                out.append(self._failed(rec, f"reconciliation could not read the state: {exc.message}", exc.command))
                continue
            if effect:
                out.append(self._done(rec, "found in effect after a restart", memory))
                continue
            try:
                out.append(self._done(rec, self._run(rec), memory))
            except (UnknownJob, UnknownNode) as exc:
                out.append(self.store.transition(rec.action_id, "abandoned", self.actor, error=str(exc)))
            except (SchedulerError, PowerControlError) as exc:
                out.append(self._failed(rec, str(exc), exc.command))
        return out

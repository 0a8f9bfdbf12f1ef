"""``wattbit ops run``: the control loop — telemetry, scheduler state and signals in; healing and plan actions out.

Each :meth:`ControlLoop.cycle`:

1. polls the watcher (:class:`~wattbit.ops.watch.Watcher`: DCGM telemetry from Prometheus, the detectors, alerts in
   SQLite) and reads the site signals (carbon intensity, price, curtailment) from the same Prometheus;
2. reads the scheduler's nodes and jobs — if the scheduler is down or slow, the cycle notes it in the audit log and
   does nothing else (no decision is made on a state it could not read);
3. runs the healing playbook (:mod:`wattbit.ops.heal.playbooks`, with the scheduler's failed job runs for the
   black-hole rule) and the plan (:mod:`wattbit.ops.heal.plan`) and
   stores each proposal in the audit store under its idempotency key, with the status the mode gives it;
4. unless in ``shadow`` mode, applies what is approved (:mod:`wattbit.ops.heal.execute`), under the safety rules.

Modes: the mode the service stored (state ``mode`` of the audit store, set by an admin through the API) when there
is one, else the one given; a change is written to the audit log. ``shadow`` (default) records recommendations and
applies nothing; ``approve`` applies non-destructive actions and queues drains, requeues, quarantines and
cancellations for a person (``wattbit ops actions approve`` or the service); ``auto`` applies everything the safety
rules allow. On start, and when leaving shadow, the loop reconciles actions a previous run left ``decided`` (killed
between deciding and applying) against the scheduler's real state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wattbit.errors import WattbitInputError
from wattbit.ops.adapters.power import PowerControl
from wattbit.ops.adapters.scheduler import JobEnd, Scheduler, SchedulerError, scheduler_now_s
from wattbit.ops.detect.alerts import Alert
from wattbit.ops.heal.actions import MODES
from wattbit.ops.heal.audit import OPEN, ActionRecord, AuditStore
from wattbit.ops.heal.execute import Executor
from wattbit.ops.heal.plan import PlanRules, carbon_weights, plan_actions, read_signals
from wattbit.ops.heal.playbooks import Observation, decide
from wattbit.ops.heal.safety import Rules

log = logging.getLogger(__name__)


@dataclass
class CycleReport:
    """What one cycle did."""

    now_s: float | None
    proposed: list[ActionRecord] = field(default_factory=list)
    changed: list[ActionRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str = ""


class ControlLoop:
    """The loop of ``wattbit ops run`` (see the module docstring).

    Parameters
    ----------
    scheduler
        The scheduler port (Slurm or the twin's).
    store
        The audit store (actions, audit log, the loop's memory).
    watcher
        The telemetry watcher (None: no telemetry; only the plan and already stored actions run).
    power
        The power port (None: power actions cannot be applied).
    signals
        A Prometheus client to read site signals from (None: no plan actions).
    mode
        ``shadow``, ``approve`` or ``auto``.
    rules, plan_rules
        Safety and healing settings; plan settings.
    actor
        Who the loop is in the audit log.
    on_action
        Called with each newly stored proposal and each action whose status changed.
    planner
        The plan's decider: None for the rules of :mod:`wattbit.ops.heal.plan`, or an
        :class:`~wattbit.ops.heal.mpc_live.MpcPlanner` (the mpc policy).
    burn_in
        Burn-in check of a drained node (True passed, False failed, None unknown); default: the scheduler's own
        ``burn_in`` if it has one (the twin's), else none.
    """

    def __init__(
        self,
        scheduler: Scheduler,
        store: AuditStore,
        *,
        watcher: Any | None = None,
        power: PowerControl | None = None,
        signals: Any | None = None,
        mode: str = "shadow",
        rules: Rules | None = None,
        plan_rules: PlanRules | None = None,
        actor: str = "wattbit",
        on_action: Callable[[ActionRecord], None] | None = None,
        burn_in: Callable[[str], bool | None] | None = None,
        planner: Any | None = None,
    ) -> None:
        if mode not in MODES:
            raise WattbitInputError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}", field="mode")
        self.scheduler, self.store, self.watcher, self.power, self.signals = scheduler, store, watcher, power, signals
        self.mode = mode
        self.rules = rules or Rules()
        self.plan_rules = plan_rules or PlanRules()
        self.actor = actor
        self.on_action = on_action
        self.burn_in = burn_in
        self.planner = planner
        self.memory: dict[str, Any] = store.load_state("heal", {}) or {}
        self.executor = Executor(scheduler, store, self.rules, power, actor)
        self.reconciled = False
        self.scheduler_down_since: float | None = None
        self.bad_stored_mode: Any = None
        self.job_ends_error: str | None = None

    def _emit(self, recs: list[ActionRecord]) -> None:
        if self.on_action is not None:
            for r in recs:
                self.on_action(r)

    def _alerts(self) -> tuple[list[Alert], float | None, set[str] | None]:
        if self.watcher is None:
            return [], None, None
        try:
            self.watcher.step()
        except Exception as exc:  # a watcher failure must not stop healing of what is known
            self.store.note(f"telemetry poll failed: {exc}", self.actor)
            log.warning("telemetry poll failed: %s", exc)
        nodes = {k[0] for k in self.watcher.keys} if self.watcher.keys else None
        return list(self.watcher.manager.open.values()), self.watcher.last_t, nodes

    def _job_ends(self, now_s: float) -> list[JobEnd] | None:
        """Failed runs of the black-hole window (None: rule off, a scheduler without the query, or it failed — noted
        when it starts and stops failing; the rest of the cycle goes on)."""
        read = getattr(self.scheduler, "job_ends", None)
        if self.rules.black_hole_failures <= 0 or not callable(read):
            return None
        try:
            ends = list(read(now_s - self.rules.black_hole_window_s))
        except SchedulerError as exc:
            if self.job_ends_error is None:
                self.store.note(f"job ends unavailable: {exc.message}; black-hole rule skipped", self.actor,
                                command=exc.command)  # fmt: skip
            self.job_ends_error = exc.message
            return None
        if self.job_ends_error is not None:
            self.store.note("job ends readable again; black-hole rule back", self.actor)
            self.job_ends_error = None
        return ends

    def _read_signals(self) -> dict[str, dict[str, float]]:
        if self.signals is None:
            return {}
        try:
            return read_signals(self.signals)
        except Exception as exc:
            self.store.note(f"signals unavailable: {exc}", self.actor)
            return {}

    def _follow_stored_mode(self) -> None:
        """Take the mode the service stored (the audit store's state ``mode``: ``{"mode", "by", "time_s"}``) when
        there is one; a change is written to the audit log, a stored mode that is not one of :data:`MODES` is noted
        once and ignored (the loop keeps its mode)."""
        stored = self.store.load_state("mode")
        if stored is None:
            return
        mode = stored.get("mode") if isinstance(stored, dict) else stored
        if mode not in MODES:
            if stored != self.bad_stored_mode:
                self.bad_stored_mode = stored
                self.store.note(f"stored mode {mode!r} is not one of {', '.join(MODES)}; staying in {self.mode}")
            return
        if mode == self.mode:
            return
        by = stored.get("by") if isinstance(stored, dict) else None
        self.store.note(
            f"mode changed from {self.mode} to {mode}" + (f" by {by}" if by else ""),
            self.actor,
            previous=self.mode, mode=mode, by=by,
        )  # fmt: skip
        log.info("mode changed from %s to %s", self.mode, mode)
        if self.mode == "shadow":
            self.reconciled = False  # leaving shadow: reconcile what an earlier run left decided before applying
        self.mode = mode

    def _mpc_plan(
        self, signals: dict[str, dict[str, float]], nodes: list[Any], jobs: list[Any], now_s: float
    ) -> list[Any]:
        """The mpc policy's plan (:mod:`wattbit.ops.heal.mpc_live`) and the carbon node weights; a planner that fails
        is noted in the audit log and the cycle goes on without a plan."""
        assert self.planner is not None
        try:
            acts = self.planner.actions(now_s, nodes, jobs, signals, self.power, f"plan@{int(now_s // 900)}")
        except Exception as exc:
            self.store.note(f"mpc plan failed: {exc}; no plan this cycle", self.actor)
            log.warning("mpc plan failed: %s", exc)
            return []
        return carbon_weights(signals, nodes, now_s) + list(acts)

    def cycle(self) -> CycleReport:
        """One cycle (see the module docstring)."""
        self._follow_stored_mode()
        alerts, data_t, telemetry_nodes = self._alerts()
        advance = getattr(self.scheduler, "advance", None)  # the twin's scheduler follows the data's clock
        if callable(advance) and data_t is not None and data_t > scheduler_now_s(self.scheduler):
            advance(data_t)
        try:
            if not self.reconciled and self.mode != "shadow":
                self._emit(self.executor.reconcile(self.memory))
            self.reconciled = True
            nodes, jobs = self.scheduler.nodes(), self.scheduler.jobs()
        except SchedulerError as exc:
            if self.scheduler_down_since is None:
                self.scheduler_down_since = time.time()
                self.store.note(
                    f"scheduler unavailable: {exc.message}; no decision this cycle", self.actor, command=exc.command
                )
            return CycleReport(data_t, skipped=f"scheduler unavailable: {exc.message}")
        if self.scheduler_down_since is not None:
            self.store.note(f"scheduler back after {time.time() - self.scheduler_down_since:.0f} s", self.actor)
            self.scheduler_down_since = None
        sched_now = scheduler_now_s(self.scheduler)
        now_s = data_t if data_t is not None else sched_now
        burn_in = self.burn_in or getattr(self.scheduler, "burn_in", None)
        obs = Observation(now_s, sched_now, nodes, jobs, alerts, telemetry_nodes, burn_in, self._job_ends(now_s))
        open_keys = {r.action_id for r in self.store.actions(sorted(OPEN), limit=10_000)}
        decision = decide(obs, self.memory, self.rules, open_keys)
        actions = decision.actions
        signals = self._read_signals()
        if signals and self.planner is not None:
            actions += self._mpc_plan(signals, nodes, jobs, now_s)
        elif signals:
            actions += plan_actions(
                signals, nodes, jobs, self.memory.setdefault("plan", {}), now_s, self.plan_rules, self.power
            )
        report = CycleReport(now_s, notes=decision.notes)
        for note in decision.notes:
            self.store.note(note, self.actor)
        for a in actions:
            rec, new = self.store.propose(a, self.mode, self.actor)
            if new:
                report.proposed.append(rec)
        self._emit(report.proposed)
        if self.mode != "shadow":
            try:
                report.changed = self.executor.apply_open(nodes, self.memory, now_s)
            except SchedulerError as exc:
                self.store.note(f"applying stopped: {exc.message}", self.actor, command=exc.command)
            self._emit(report.changed)
        self.store.save_state("heal", self.memory)
        return report


def run_loop(
    loop: ControlLoop, interval_s: float, cycles: int | None = None, stop: Callable[[], bool] | None = None
) -> int:
    """Run ``loop`` every ``interval_s`` seconds, ``cycles`` times (None: until ``stop()`` or Ctrl-C); returns the
    number of cycles run."""
    done = 0
    while cycles is None or done < cycles:
        t0 = time.monotonic()
        loop.cycle()
        done += 1
        if stop is not None and stop():
            break
        if cycles is not None and done >= cycles:
            break
        time.sleep(max(0.0, interval_s - (time.monotonic() - t0)))
    return done

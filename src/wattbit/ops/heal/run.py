"""Building the control loop of ``wattbit ops run`` from its options, and the ``ops actions`` listing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from wattbit.errors import WattbitInputError
from wattbit.ops.adapters.power import PowerControl, twin_power_control
from wattbit.ops.adapters.scheduler import Scheduler
from wattbit.ops.heal.audit import ActionRecord, AuditStore
from wattbit.ops.heal.loop import ControlLoop
from wattbit.ops.heal.safety import Rules
from wattbit.scenario import Scenario

SCHEDULERS = ("slurm", "twin")
PLANS = ("rules", "mpc")


def mpc_planner(scenario: Scenario) -> Any:
    """The mpc policy as the loop's planner (its setup reads the scenario's data: seconds)."""
    from wattbit.ops.heal.mpc_live import MpcPlanner

    return MpcPlanner(scenario)


def make_scheduler(
    kind: str,
    scenario: Scenario,
    *,
    slurm_dir: Path | None = None,
    slurm_conf: Path | None = None,
    nodes_per_site: int = 2,
    start_s: float = 0.0,
    timeout_s: float = 10.0,
) -> Scheduler:
    """The scheduler port: ``slurm`` (a cluster of ``wattbit ops slurm up --dir``, or an operator's own through
    ``slurm_conf``, or the system's Slurm when neither is given) or ``twin`` (the scenario's sites at
    ``nodes_per_site`` nodes, following the data's clock)."""
    from wattbit.ops.adapters.slurm import SlurmCli
    from wattbit.ops.adapters.slurm_cluster import cluster_layout, load_cluster
    from wattbit.ops.adapters.twin_scheduler import TwinScheduler

    if kind == "slurm":
        if slurm_dir is not None:
            return load_cluster(slurm_dir).cli(timeout_s=timeout_s)
        return SlurmCli(slurm_conf, timeout_s=timeout_s)
    if kind == "twin":
        layout = cluster_layout(scenario, nodes_per_site)
        return TwinScheduler(layout.partitions, layout.gpus_per_node, start_s)
    raise WattbitInputError(f"unknown scheduler {kind!r}; expected one of {', '.join(SCHEDULERS)}", field="scheduler")


def build_loop(
    scenario: Scenario,
    scheduler: Scheduler,
    prometheus: str | None,
    db: Path,
    mode: str,
    *,
    rules: Rules | None = None,
    calibration: Path | None = None,
    on_action: Callable[[ActionRecord], None] | None = None,
    power: PowerControl | None = None,
    burn_in_cmd: str | None = None,
    plan: str = "rules",
) -> tuple[ControlLoop, Any]:
    """The loop over ``scheduler`` with the watcher and signals of the Prometheus at ``prometheus`` (None: no
    telemetry), its actions and alerts in ``db``; the plan decided by ``plan`` (``rules`` or ``mpc``: the mpc policy
    over the scenario, :class:`~wattbit.ops.heal.mpc_live.MpcPlanner`); returns (loop, the alert store to close)."""
    if plan not in PLANS:
        raise WattbitInputError(f"unknown plan {plan!r}; expected one of {', '.join(PLANS)}", field="plan")
    from wattbit.ops.adapters.prometheus import PrometheusClient
    from wattbit.ops.store import AlertStore
    from wattbit.ops.watch import Watcher, load_calibration

    alerts = AlertStore(db)  # alerts and actions in one SQLite file (two connections, WAL)
    watcher = client = None
    if prometheus:
        client = PrometheusClient(prometheus, timeout_s=10.0)
        watcher = Watcher(client, alerts, calibration=load_calibration(calibration))
    if power is None and scheduler.name == "twin":
        power = twin_power_control(scenario)
    store = AuditStore(db)
    loop = ControlLoop(
        scheduler,
        store,
        watcher=watcher,
        power=power,
        signals=client,
        mode=mode,
        rules=rules,
        on_action=on_action,
        burn_in=command_burn_in(burn_in_cmd) if burn_in_cmd else None,
        planner=mpc_planner(scenario) if plan == "mpc" else None,
    )
    return loop, alerts


def command_burn_in(template: str, timeout_s: float = 600.0) -> Callable[[str], bool | None]:
    """A burn-in check that runs ``template`` with ``{node}`` replaced (e.g. ``ssh {node} dcgmi diag -r 2``): exit
    status 0 passes, another fails, a command that cannot run or times out gives None (unknown)."""
    import shlex
    import subprocess

    def check(node: str) -> bool | None:
        try:
            proc = subprocess.run(shlex.split(template.format(node=node)), capture_output=True, timeout=timeout_s)
        except (OSError, subprocess.TimeoutExpired, ValueError, KeyError):
            return None
        return proc.returncode == 0

    return check


def describe(rec: ActionRecord) -> str:
    """One line for a person: status, kind, target, why."""
    who = f" by {rec.approved_by}" if rec.approved_by else ""
    err = f" — {rec.error}" if rec.error else ""
    return f"[{rec.status}{who}] {rec.kind} {rec.target} ({rec.site}): {rec.reason}{err}  id={rec.action_id}"

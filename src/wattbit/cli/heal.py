"""``wattbit ops slurm``, ``ops run``, ``ops heal-evaluate`` and ``ops actions``: self-healing and the live loop."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from wattbit.cli.base import OutOption, ScenarioArg, SeedOption, StartOption, user_errors
from wattbit.cli.ops import ops_app

slurm_app = typer.Typer(
    help="A real Slurm cluster (one slurmd per node) on this machine, for the twin.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
ops_app.add_typer(slurm_app, name="slurm")
actions_app = typer.Typer(
    help="Actions of `wattbit ops run`: list, approve, reject, audit log.", no_args_is_help=True, rich_markup_mode=None
)
ops_app.add_typer(actions_app, name="actions")


SlurmDirOption = Annotated[Path, typer.Option("--dir", help="Folder of the cluster's configuration, state and logs.")]
#: ``--black-hole`` of ``ops run`` and ``ops heal-evaluate``.
BlackHoleOption = Annotated[
    str,
    typer.Option(
        "--black-hole",
        help="Black-hole rule: K,MINUTES,HOURS (K runs failed <= MINUTES after start within HOURS drain the node) "
        "or off.",
    ),
]


@slurm_app.command("up")
@user_errors
def slurm_up_cmd(
    directory: SlurmDirOption,
    scenario: Annotated[str, typer.Option("--scenario", help="Scenario whose sites become partitions.")] = (
        "japan-2022"
    ),
    nodes_per_site: Annotated[int, typer.Option("--nodes-per-site", help="Nodes per site (partition).", min=1)] = 2,
    rest: Annotated[bool, typer.Option("--rest", help="Also start slurmrestd on DIR/slurmrestd.sock.")] = False,
) -> None:
    """Write DIR/slurm.conf and DIR/gres.conf (one partition per site, the twin's node names, GPUs as GRES) and start
    slurmctld and one slurmd per node on 127.0.0.1; DIR/slurm.json records the pids for `wattbit ops slurm down`."""
    from wattbit.ops.adapters.slurm_cluster import SlurmClusterError, slurm_up
    from wattbit.scenario import load_scenario

    try:
        cluster = slurm_up(directory, load_scenario(scenario), nodes_per_site, rest=rest)
    except SlurmClusterError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(f"slurm up: {len(cluster.layout.nodes)} nodes in {len(cluster.layout.partitions)} partitions")
    typer.echo(f"export SLURM_CONF={cluster.conf}")


@slurm_app.command("down")
@user_errors
def slurm_down_cmd(directory: SlurmDirOption) -> None:
    """Stop the cluster that `wattbit ops slurm up --dir DIR` started (exactly its recorded processes)."""
    from wattbit.ops.adapters.slurm_cluster import slurm_down

    typer.echo("stopped" if slurm_down(directory) else f"no cluster started in {directory} is running")


OpsDbOption = Annotated[Path, typer.Option("--db", help="SQLite file of actions, audit log and alerts (WAL).")]


@ops_app.command("run")
@user_errors
def ops_run(
    scenario: Annotated[str, typer.Option("--scenario", help="Scenario of the sites (partitions).")] = "japan-2022",
    scheduler: Annotated[str, typer.Option("--scheduler", help="slurm or twin.")] = "slurm",
    prometheus: Annotated[
        str | None, typer.Option("--prometheus", help="Base URL of the Prometheus with DCGM telemetry and signals.")
    ] = None,
    mode: Annotated[str, typer.Option("--mode", help="shadow (recommend only), approve or auto.")] = "shadow",
    db: OpsDbOption = Path("out/ops-run/ops.sqlite"),
    slurm_dir: Annotated[
        Path | None, typer.Option("--slurm-dir", help="A cluster started by `wattbit ops slurm up --dir`.")
    ] = None,
    slurm_conf: Annotated[
        Path | None, typer.Option("--slurm-conf", help="slurm.conf of an operator's own Slurm (default: the system's).")
    ] = None,
    nodes_per_site: Annotated[int, typer.Option("--nodes-per-site", help="Twin scheduler: nodes per site.", min=1)] = 2,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between cycles.", min=0.05)] = 15.0,
    cycles: Annotated[int | None, typer.Option("--cycles", help="Stop after N cycles (default: until Ctrl-C).")] = None,
    calibration: Annotated[
        Path | None, typer.Option("--calibration", help="evaluation.json of `wattbit ops evaluate`.")
    ] = None,
    burn_in_cmd: Annotated[
        str | None,
        typer.Option("--burn-in-cmd", help="Burn-in check before a resume, {node} replaced; exit 0 passes."),
    ] = None,
    plan: Annotated[str, typer.Option("--plan", help="Who decides the watt-bit plan: mpc or rules.")] = "rules",
    black_hole: BlackHoleOption = "3,15,6",
) -> None:
    """Each cycle: read telemetry, scheduler state and site signals, run the detectors, heal (drain, requeue, resume,
    quarantine) and run the watt-bit plan (weights, hold/release, moves, power caps; decided by the mpc policy with
    --plan mpc). The mode is the one the service stored, when an admin set one, else --mode. Prints each action as it
    is recommended, queued or applied; everything is in the audit log of DB."""
    from wattbit.ops.heal.loop import run_loop
    from wattbit.ops.heal.run import build_loop, describe, make_scheduler
    from wattbit.ops.heal.safety import Rules, with_black_hole
    from wattbit.scenario import load_scenario

    sc = load_scenario(scenario)
    sched = make_scheduler(
        scheduler, sc, slurm_dir=slurm_dir, slurm_conf=slurm_conf, nodes_per_site=nodes_per_site,
        start_s=sc.period.start.timestamp(),
    )  # fmt: skip
    loop, alerts = build_loop(
        sc, sched, prometheus, db, mode, calibration=calibration, on_action=lambda r: typer.echo(describe(r)),
        burn_in_cmd=burn_in_cmd, plan=plan, rules=with_black_hole(Rules(), black_hole),
    )  # fmt: skip
    typer.echo(f"wattbit ops run: {scheduler} scheduler, mode {mode}, audit log {db}", err=True)
    try:
        run_loop(loop, interval, cycles)
    except KeyboardInterrupt:
        pass
    finally:
        loop.store.close()
        alerts.close()


@ops_app.command("heal-evaluate")
@user_errors
def ops_heal_evaluate(
    scenario: ScenarioArg,
    out: OutOption = Path("out/heal-evaluate"),
    seed: SeedOption = None,
    nodes_per_site: Annotated[int, typer.Option("--nodes-per-site", help="Scale sites to K nodes.", min=1)] = 16,
    start: StartOption = None,
    end: Annotated[str | None, typer.Option("--end", help="End of the period (ISO), default the scenario's.")] = None,
    plan_start: Annotated[
        str | None, typer.Option("--plan-start", help="Also compare the live watt-bit loop with bench from here (ISO).")
    ] = None,
    plan_end: Annotated[str | None, typer.Option("--plan-end", help="End of that window (ISO).")] = None,
    plan_modes: Annotated[str, typer.Option("--plan-modes", help="Loop modes to run there, comma-separated.")] = (
        "shadow,auto"
    ),
    black_hole: BlackHoleOption = "3,15,6",
) -> None:
    """Healing on the fast path: one run's faults and replayed detector alerts drive the control loop over the twin's
    scheduler, reacting to failures only and with predictions; writes DIR/healing.json. With --plan-start/--plan-end,
    also the live watt-bit loop's carbon and cost against `wattbit bench` (baseline, mpc) over that window."""
    from wattbit.errors import WattbitInputError
    from wattbit.ops.heal.actions import MODES
    from wattbit.ops.heal.evaluate import heal_evaluate
    from wattbit.ops.heal.safety import Rules, with_black_hole
    from wattbit.scenario import load_scenario, with_period

    sc = load_scenario(scenario)
    if start or end:
        sc = with_period(sc, start, end)
    modes = [m.strip() for m in plan_modes.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise WattbitInputError(f"--plan-modes {plan_modes!r}: expected some of {', '.join(MODES)}", field="plan_modes")
    if (plan_start is None) != (plan_end is None):
        raise WattbitInputError("--plan-start and --plan-end go together", field="plan_start")
    window = (plan_start, plan_end) if plan_start is not None and plan_end is not None else None
    r = heal_evaluate(
        sc, out, seed=seed, nodes_per_site=nodes_per_site, plan_window=window, plan_modes=modes,
        rules=with_black_hole(Rules(), black_hole), log=lambda m: typer.echo(m, err=True),
    )  # fmt: skip
    for policy in ("reactive", "predictive"):
        b = r[policy]
        typer.echo(
            f"{policy:10s} GPU-h lost {b['gpu_hours_lost']:,.1f}, jobs interrupted {b['jobs_interrupted']}, lost "
            f"{b['jobs_lost']}, MTTR {b['mttr_h']} h, false drains {b['false_drains_per_1000_node_days']} per 1000"
        )
    for name, fig in {**r.get("plan", {}).get("bench", {}), **{k: v for k, v in r.get("plan", {}).items()
                                                               if k.startswith("live_loop")}}.items():  # fmt: skip
        typer.echo(
            f"{name:16s} carbon {fig['carbon_t']:,.1f} t ({fig['carbon_cut_vs_baseline']:+.1%} cut), energy cost "
            f"{fig['energy_cost']:,.0f}, deadline misses {fig['deadline_misses']}"
        )
    typer.echo(f"results: {out / 'healing.json'}")


@actions_app.command("list")
@user_errors
def actions_list(
    db: OpsDbOption = Path("out/ops-run/ops.sqlite"),
    status: Annotated[list[str] | None, typer.Option("--status", help="Only these statuses (repeat).")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most N actions.", min=1)] = 50,
) -> None:
    """Actions, newest first (pending_approval ones are waiting for `wattbit ops actions approve`)."""
    from wattbit.ops.heal.audit import AuditStore
    from wattbit.ops.heal.run import describe

    with AuditStore(db) as store:
        for rec in store.actions(status or None, limit=limit):
            typer.echo(describe(rec))


@actions_app.command("approve")
@user_errors
def actions_approve(
    action_id: Annotated[str, typer.Argument(help="The action's id (from `wattbit ops actions list`).")],
    who: Annotated[str, typer.Option("--who", help="Your name, for the audit log.")],
    db: OpsDbOption = Path("out/ops-run/ops.sqlite"),
    note: Annotated[str, typer.Option("--note", help="Why, for the audit log.")] = "",
) -> None:
    """Approve an action waiting for a person; the loop applies it on its next cycle."""
    from wattbit.ops.heal.audit import AuditStore
    from wattbit.ops.heal.run import describe

    with AuditStore(db) as store:
        typer.echo(describe(store.approve(action_id, who, note)))


@actions_app.command("reject")
@user_errors
def actions_reject(
    action_id: Annotated[str, typer.Argument(help="The action's id.")],
    who: Annotated[str, typer.Option("--who", help="Your name, for the audit log.")],
    db: OpsDbOption = Path("out/ops-run/ops.sqlite"),
    note: Annotated[str, typer.Option("--note", help="Why, for the audit log.")] = "",
) -> None:
    """Reject an action waiting for a person; it is never applied."""
    from wattbit.ops.heal.audit import AuditStore
    from wattbit.ops.heal.run import describe

    with AuditStore(db) as store:
        typer.echo(describe(store.reject(action_id, who, note)))


@actions_app.command("log")
@user_errors
def actions_log(
    db: OpsDbOption = Path("out/ops-run/ops.sqlite"),
    action_id: Annotated[str | None, typer.Option("--action", help="Only this action's entries.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most N entries.", min=1)] = 100,
) -> None:
    """The audit log, newest first, one JSON line per entry."""
    from wattbit.ops.heal.audit import AuditStore

    with AuditStore(db) as store:
        for e in store.log(action_id, limit):
            typer.echo(json.dumps(e.to_dict(), default=str, sort_keys=True))

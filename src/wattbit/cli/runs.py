"""The main jobs: ``wattbit demo``, ``site-report``, ``simulate``, ``bench``, ``plan`` and ``sweep``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from wattbit.cli.base import (
    CheckpointEveryOption,
    EndOption,
    OutOption,
    PolicyOption,
    ResumeOption,
    ScenarioArg,
    SeedOption,
    StartOption,
    app,
    print_summary,
    progress_bars,
    user_errors,
)
from wattbit.errors import WattbitInputError


@app.command()
@user_errors
def demo(out: OutOption = Path("out/demo")) -> None:
    """Run the main job on the built-in japan-2022 scenario: its data, and a year simulated under the baseline
    policy. Writes DIR/report.html, the data files and DIR/simulate/ (time series, jobs, summary)."""
    from wattbit.report.bench_report import TABLE
    from wattbit.report.demo_report import run_demo

    with progress_bars() as progress:
        run = run_demo(out, progress)
    print_summary(run.sites)
    s = run.simulation.summary
    typer.echo(
        f"simulation ({s['policy']}): PUE {s['pue']:.3f}, carbon {s['carbon_t']:,.0f} t, "
        f"GPU utilisation {s['gpu_utilization']:.1%}, deadline misses {s['deadline_misses']}"
    )
    _print_bench(run.bench, TABLE)
    typer.echo(f"report: {run.report}")


@app.command("site-report")
@user_errors
def site_report(scenario: ScenarioArg, out: OutOption = Path("out/site-report")) -> None:
    """Per site at full IT load over the scenario's weather: PUE, WUE, cooling and loss shares, free-cooling
    hours, PV and wind capacity factors. Writes DIR/sites.json and DIR/site-report.html."""
    from wattbit.report.site_report import TABLE, build_site_report
    from wattbit.scenario import load_scenario

    metrics = build_site_report(load_scenario(scenario), out)
    for name, m in metrics.items():
        typer.echo(f"{name}: " + ", ".join(f"{key}={m[key]:,.{digits}f}" for key, _, digits in TABLE))
    typer.echo(f"report: {out / 'site-report.html'}")


@app.command()
@user_errors
def simulate(
    scenario: ScenarioArg,
    policy: PolicyOption = "baseline",
    out: OutOption = Path("out/simulate"),
    seed: SeedOption = None,
    start: StartOption = None,
    end: EndOption = None,
    resume: ResumeOption = False,
    checkpoint_every: CheckpointEveryOption = 672,
) -> None:
    """Simulate SCENARIO under a policy; writes DIR/timeseries.parquet, DIR/jobs.parquet and DIR/summary.json
    (summary.json last: its presence means the result is complete). Checkpoints go to DIR/.checkpoint."""
    from rich.progress import Progress

    from wattbit.control.bench import simulate_to
    from wattbit.control.history import window_history
    from wattbit.scenario import load_scenario, with_period

    whole = load_scenario(scenario)
    sc = with_period(whole, start, end)
    with Progress(transient=True) as bar:
        task = bar.add_task(f"simulating {sc.name} ({policy})", total=len(sc.period.index_utc()))
        result, resumed = simulate_to(
            sc,
            policy,
            out,
            seed=seed,
            resume=resume,
            checkpoint_every=checkpoint_every,
            progress=lambda k: bar.update(task, completed=k + 1),
            history=window_history(whole, sc) if policy == "mpc" else None,
        )
    if resume:
        typer.echo("resumed from the checkpoint" if resumed else f"no checkpoint in {out}: ran from the beginning")
    for line in summary_lines(result.summary):
        typer.echo(line)
    typer.echo(f"results: {out}")


#: Summary keys that are amounts of money, in the summary's ``currency``.
MONEY_KEYS = frozenset({"energy_cost", "export_revenue", "energy_cost_net"})


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """A simulation summary as terminal lines: numbers with thousands separators, a flat per-site table on one line
    (``site value, ...``), a list of notes joined by "; ", and deeper tables (GPU power, generation sources) left to
    summary.json."""

    def cell(value: Any) -> str:
        return f"{value:,.3f}" if isinstance(value, float) else str(value)

    lines = []
    currency = summary.get("currency", "")
    for key, value in summary.items():
        if key in MONEY_KEYS and isinstance(value, float):
            lines.append(f"{key}: {value:,.0f} {currency}".rstrip())
            continue
        items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        if any(isinstance(v, dict | list) for v in items):
            lines.append(f"{key}: (a table per site: see summary.json)")
        elif isinstance(value, dict):
            lines.append(f"{key}: " + ", ".join(f"{k} {cell(v)}" for k, v in value.items()))
        elif isinstance(value, list):
            lines.append(f"{key}: " + "; ".join(map(cell, value)))
        else:
            lines.append(f"{key}: {cell(value)}")
    return lines


@app.command()
@user_errors
def bench(
    scenario: ScenarioArg,
    out: OutOption = Path("out/bench"),
    policies: Annotated[
        str, typer.Option("--policies", help="Comma-separated policies to compare.")
    ] = "baseline,greedy,mpc,oracle",
    seed: SeedOption = None,
    start: StartOption = None,
    end: EndOption = None,
    resume: ResumeOption = False,
    checkpoint_every: CheckpointEveryOption = 672,
) -> None:
    """Run baseline, greedy, mpc and oracle on SCENARIO (same workload, failures and seed); writes DIR/bench.json
    and DIR/bench.html. Checkpoints go to DIR/.checkpoint."""
    from rich.progress import Progress

    from wattbit.control.history import window_history
    from wattbit.report.bench_report import TABLE, run_bench
    from wattbit.scenario import load_scenario, with_period

    whole = load_scenario(scenario)
    sc = with_period(whole, start, end)
    names = [p.strip() for p in policies.split(",") if p.strip()]
    steps = len(sc.period.index_utc())
    with Progress(transient=True) as bar:
        tasks = {n: bar.add_task(f"{sc.name}: {n}", total=steps) for n in names}
        result = run_bench(
            sc,
            out,
            names,
            seed,
            progress=lambda n, k: bar.update(tasks[n], completed=k + 1),
            resume=resume,
            checkpoint_every=checkpoint_every,
            history=window_history(whole, sc) if "mpc" in names else None,
        )
    _print_bench(result, TABLE)
    typer.echo(f"results: {out / 'bench.json'}, {out / 'bench.html'}")


def _print_bench(result: dict[str, Any], table: Any) -> None:
    keys = ("carbon_t", "energy_cost", "curtailment_absorbed_mwh", "deadline_misses", "slo_attainment", "wall_seconds")
    labels = {k: label for k, label, _ in table}
    typer.echo("policy      " + "  ".join(f"{labels.get(k, k):>16s}" for k in keys))
    rows = list(result["policies"].items())
    if "oracle_bound" in result:
        rows.append(("oracle_bound", result["oracle_bound"]))
    for name, s in rows:
        cells = []
        for k in keys:
            v = s.get(k)
            if k == "energy_cost" and v is not None:
                v = v / 1e6
            cells.append(f"{'':>16s}" if v is None else f"{v:16,.3f}" if isinstance(v, float) else f"{v:>16}")
        typer.echo(f"{name:12s}" + "  ".join(cells))
    for key in ("mpc_share_of_oracle_bound_reduction", "mpc_share_of_oracle_reduction"):
        if key in result:
            typer.echo(f"{key}: {result[key]:.3f}")


@app.command()
@user_errors
def plan(
    scenario: ScenarioArg,
    out: OutOption = Path("out/plan"),
    draws: Annotated[
        int, typer.Option("--draws", help="Monte Carlo draws of the chosen plan's NPV and carbon (0: none).", min=0)
    ] = 0,
    executor: Annotated[
        str,
        typer.Option(
            "--executor", help="Where draws run: 'local' (a process per CPU), 'serial', 'dask' or tcp://host:port."
        ),
    ] = "local",
    seed: SeedOption = None,
    reoptimise: Annotated[
        bool,
        typer.Option(
            "--reoptimise",
            help="With --draws, also re-optimise the capacities in every draw: regret of the plan, the robust plan.",
        ),
    ] = False,
    resume: ResumeOption = False,
    checkpoint_every: Annotated[
        int, typer.Option("--checkpoint-every", help="Monte Carlo draws between two checkpoints.", min=1)
    ] = 64,
) -> None:
    """Choose sites and IT, PV, wind, battery and grid capacities for SCENARIO's [plan] (hourly linopy + HiGHS
    optimisation), then its finances. Writes DIR/plan.json, DIR/report.html, DIR/cash_flows.csv and
    DIR/dispatch.parquet; with --draws, P10/P50/P90 of NPV and carbon in plan.json and DIR/montecarlo.csv; with
    --reoptimise too, a plan re-optimised per draw (DIR/montecarlo_reoptimised.csv) and the robust plan in plan.json.
    The solved plan and each chunk of draws are checkpointed in DIR/.checkpoint (--resume continues)."""
    from wattbit.plan.planner import plan_summary, summary_lines
    from wattbit.plan.robust import robust_plan
    from wattbit.plan.uncertainty import uncertainty_summary
    from wattbit.report.plan_report import run_plan_to
    from wattbit.scenario import load_scenario

    if reoptimise and not draws:
        raise WattbitInputError("--reoptimise re-optimises the plan in each Monte Carlo draw: give --draws N (N >= 1)")
    result, mc, again, resumed = run_plan_to(
        load_scenario(scenario), out, draws, seed or 0, executor, resume, checkpoint_every, reoptimise
    )
    if resume:
        typer.echo("resumed from the checkpoint" if resumed else f"no checkpoint in {out}: ran from the beginning")
    if mc is not None:
        spread = uncertainty_summary(mc, result)
        for name in ("npv", "carbon_t_per_year"):
            q, base = spread[name], spread["deterministic"][name]
            typer.echo(
                f"{name}: P10 {q['p10']:,.0f}  P50 {q['p50']:,.0f}  P90 {q['p90']:,.0f}  ({draws} draws; "
                f"deterministic {base:,.0f})"
            )
    if again is not None:
        robust = robust_plan(again, result)
        typer.echo(
            f"re-optimised per draw: regret of the plan P50 {robust['regret']['p50']:,.0f}, P90 "
            f"{robust['regret']['p90']:,.0f}; robust plan (draw {robust['draw']}) mean NPV "
            f"{robust['npv_mean_across_draws']:,.0f} vs the plan's {robust['deterministic_npv_mean']:,.0f}"
        )
    for line in summary_lines(plan_summary(result)):
        typer.echo(line)
    typer.echo(f"results: {out / 'plan.json'}, {out / 'report.html'}")


@app.command()
@user_errors
def sweep(
    args: Annotated[list[str], typer.Argument(help='SWEEP.toml to run it, or: query DIR "SQL".', show_default=False)],
    out: OutOption = Path("out/sweep"),
    executor: Annotated[
        str | None,
        typer.Option("--executor", help="'local' (default: a process per CPU), 'serial', 'dask' or tcp://host:port."),
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the sweep in --out DIR: skip runs done.")] = False,
) -> None:
    """Run every combination of SWEEP.toml (simulate, bench or plan over scenarios, policies, seeds, sites and any
    scenario field); writes one row per run to DIR/runs/*.parquet, DIR/sweep.json and DIR/report.html.
    'wattbit sweep query DIR "SQL"' runs SQL (DuckDB) on a sweep's rows, the table 'runs'."""
    if args[0] == "query":
        if len(args) != 3:
            raise WattbitInputError('usage: wattbit sweep query DIR "SQL" (the table is named runs)')
        from wattbit.sweep.store import query

        typer.echo(query(Path(args[1]), args[2]).to_string(index=False))
        return
    if len(args) != 1:
        raise WattbitInputError(f'expected one sweep file, got {len(args)} arguments (or: query DIR "SQL")')
    from rich.progress import Progress

    from wattbit.parallel import TaskError, available_cpus
    from wattbit.parallel.local import start_fork_server
    from wattbit.sweep import LOCAL_START_METHOD, WORKER_MODULES

    if executor in (None, "local") and LOCAL_START_METHOD == "forkserver" and available_cpus() > 1:
        start_fork_server(WORKER_MODULES)  # the workers' imports overlap this process's own, next line
    from wattbit.sweep.execute import run_sweep

    try:
        with Progress(transient=True) as bar:
            task = bar.add_task(f"sweep {args[0]}", total=None)
            outcome = run_sweep(args[0], out, executor, resume, lambda k, n: bar.update(task, completed=k, total=n))
    except TaskError as exc:  # a worker died (a run's own failure is its row's error)
        typer.echo(f"error: {exc}; the rows received are kept in {out / 'runs'}: add --resume to go on", err=True)
        raise typer.Exit(1) from exc
    ok = int((outcome.runs["status"] == "ok").sum())
    typer.echo(f"{len(outcome.runs)} runs ({outcome.ran} now, {outcome.skipped} done before): {ok} ok, "
               f"{len(outcome.runs) - ok} failed; {outcome.wall_s:.1f} s")  # fmt: skip
    typer.echo(f'results: {out / "runs"} (wattbit sweep query {out} "SELECT ... FROM runs"), {outcome.report}')

"""The ``wattbit`` command line: a thin layer over the public functions."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from wattbit import __version__
from wattbit.errors import WattbitInputError

# rich_markup_mode=None: help text is shown as written (plain click help), so that "[plan]" in a docstring is not taken
# for rich console markup and dropped.
app = typer.Typer(
    help="wattbit: plan, simulate and operate renewable-powered AI datacenters.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
data_app = typer.Typer(help="Read and check data files.", no_args_is_help=True, rich_markup_mode=None)
scenario_app = typer.Typer(help="Check and report scenarios.", no_args_is_help=True, rich_markup_mode=None)
twin_app = typer.Typer(help="Run the twin as a live site.", no_args_is_help=True, rich_markup_mode=None)
ops_app = typer.Typer(
    help="Operations: Prometheus, the watcher, detection and its evaluation.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(data_app, name="data")
app.add_typer(scenario_app, name="scenario")
prometheus_app = typer.Typer(
    help="A real Prometheus started and stopped by wattbit.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(twin_app, name="twin")
app.add_typer(ops_app, name="ops")
ops_app.add_typer(prometheus_app, name="prometheus")
token_app = typer.Typer(
    help="Bearer tokens of the service (wattbit serve).", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(token_app, name="token")
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

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger("wattbit.cli")  # not __name__, which is __main__ under python -m wattbit.cli
#: Name of the stderr handler ``--verbose`` puts on the ``wattbit`` logger (so that a second run replaces it).
LOG_HANDLER = "wattbit-cli-stderr"

ScenarioArg = Annotated[str, typer.Argument(help="A scenario TOML file, or a built-in scenario name (japan-2022).")]
OutOption = Annotated[Path, typer.Option("--out", help="Folder to write the results to.")]


def user_errors(func: F) -> F:
    """Print a :class:`WattbitInputError` without a traceback and exit with status 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except WattbitInputError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


@app.callback()
def options(
    ctx: typer.Context,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Log at DEBUG level to stderr, the solver's banner and log included (quiet by default). "
            "Give it before the command: wattbit --verbose plan ...",
        ),
    ] = False,
) -> None:
    """Options for every command."""
    configure_logging(verbose)
    log.debug("wattbit %s: %s", __version__, ctx.invoked_subcommand)


def configure_logging(verbose: bool) -> None:
    """Send the ``wattbit`` loggers' records at DEBUG level and above to stderr if ``verbose``, else keep them quiet.

    Quiet means WARNING and above, through Python's last-resort handler. ``wattbit.opt`` shows the HiGHS banner and
    the solver's log only where ``logging.getLogger("wattbit.opt").isEnabledFor(logging.DEBUG)``.
    """
    logger = logging.getLogger("wattbit")
    for handler in [h for h in logger.handlers if h.get_name() == LOG_HANDLER]:
        logger.removeHandler(handler)
    if not verbose:
        logger.setLevel(logging.WARNING)
        return
    handler = logging.StreamHandler()  # sys.stderr as it is now
    handler.set_name(LOG_HANDLER)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


@app.command()
@user_errors
def demo(out: OutOption = Path("out/demo")) -> None:
    """Run the main job on the built-in japan-2022 scenario: its data, and a year simulated under the baseline
    policy. Writes DIR/report.html, the data files and DIR/simulate/ (time series, jobs, summary)."""
    from wattbit.report.bench_report import TABLE
    from wattbit.report.demo_report import run_demo

    with _progress_bars() as progress:
        run = run_demo(out, progress)
    _print_summary(run.sites)
    s = run.simulation.summary
    typer.echo(
        f"simulation ({s['policy']}): PUE {s['pue']:.3f}, carbon {s['carbon_t']:,.0f} t, "
        f"GPU utilisation {s['gpu_utilization']:.1%}, deadline misses {s['deadline_misses']}"
    )
    _print_bench(run.bench, TABLE)
    typer.echo(f"report: {run.report}")


@contextmanager
def _progress_bars() -> Iterator[Callable[[str, int, int], None]]:
    """A transient rich progress display, and the ``progress(task, steps_done, steps)`` that draws a bar per task."""
    from rich.progress import Progress, TaskID

    with Progress(transient=True) as bars:
        tasks: dict[str, TaskID] = {}

        def progress(task: str, done: int, steps: int) -> None:
            if task not in tasks:
                tasks[task] = bars.add_task(task, total=steps)
            bars.update(tasks[task], completed=done)

        yield progress


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


PolicyOption = Annotated[
    str, typer.Option("--policy", help="Control policy: baseline, greedy, mpc or oracle (the offline bound).")
]
StartOption = Annotated[
    str | None, typer.Option("--start", help="Simulate from this date (ISO, scenario time zone) instead.")
]
EndOption = Annotated[str | None, typer.Option("--end", help="Simulate until this date (exclusive) instead.")]
SeedOption = Annotated[int | None, typer.Option("--seed", help="Seed of failures and random choices.")]
ResumeOption = Annotated[
    bool,
    typer.Option(
        "--resume",
        help="Continue the run checkpointed in --out DIR (after a crash or kill), with the same command and options; "
        "the result is identical to an uninterrupted run's.",
    ),
]
CheckpointEveryOption = Annotated[
    int, typer.Option("--checkpoint-every", help="Steps between two checkpoints of the engine.", min=1)
]


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
    from wattbit.scenario import load_scenario, with_period

    sc = with_period(load_scenario(scenario), start, end)
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
        )
    if resume:
        typer.echo("resumed from the checkpoint" if resumed else f"no checkpoint in {out}: ran from the beginning")
    for key, value in result.summary.items():
        typer.echo(f"{key}: {value:,.3f}" if isinstance(value, float) else f"{key}: {value}")
    typer.echo(f"results: {out}")


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

    from wattbit.report.bench_report import TABLE, run_bench
    from wattbit.scenario import load_scenario, with_period

    sc = with_period(load_scenario(scenario), start, end)
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


@scenario_app.command("validate")
@user_errors
def scenario_validate(scenario: ScenarioArg) -> None:
    """Validate a scenario file and print what it contains."""
    from wattbit.scenario import load_scenario

    sc = load_scenario(scenario)
    p = sc.period
    typer.echo(f"scenario {sc.name}: valid")
    typer.echo(f"period {p.start.isoformat()} .. {p.end.isoformat()}, step {p.step} ({len(p.index_utc())} steps)")
    for s in sc.sites:
        typer.echo(f"  site {s.name}: {s.grid_area}, {s.it.gpu_count} x {s.it.gpu_model}, {s.cooling}")


@scenario_app.command("report")
@user_errors
def scenario_report(scenario: ScenarioArg, out: OutOption) -> None:
    """Load every site's signals of SCENARIO and write the data report to DIR."""
    from wattbit.report.signals_report import build_data_report
    from wattbit.scenario import load_scenario

    summary = build_data_report(load_scenario(scenario), out)
    _print_summary(summary)
    typer.echo(f"report: {out / 'report.html'}")


@data_app.command("inspect")
@user_errors
def data_inspect(
    path: Annotated[Path, typer.Argument(help="A data file (or a folder of one kind of file).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the metadata as JSON.")] = False,
) -> None:
    """Say which reader fits PATH, its span, gaps and units."""
    from wattbit.data.registry import inspect_file

    _, meta = inspect_file(path)
    typer.echo(json.dumps(meta.to_dict(), indent=2, ensure_ascii=False) if as_json else meta.summary())


@twin_app.command("serve")
@user_errors
def twin_serve(
    scenario: ScenarioArg,
    speed: Annotated[
        float, typer.Option("--speed", help="Simulated seconds per wall second (1800: a 15-minute step every 0.5 s).")
    ] = 1800.0,
    start: StartOption = None,
    listen: Annotated[str, typer.Option("--listen", help="HOST:PORT to serve on (port 0: a free port).")] = (
        "127.0.0.1:9400"
    ),
    nodes_per_site: Annotated[
        int | None, typer.Option("--nodes-per-site", help="Scale every site to K nodes (8 GPUs each).", min=1)
    ] = None,
    seed: SeedOption = None,
    policy: PolicyOption = "baseline",
    out: Annotated[
        Path | None, typer.Option("--out", help="Write DIR/labels.csv (ground truth) and DIR/twin.json (url, pid).")
    ] = None,
) -> None:
    """Step SCENARIO in wall-clock time x SPEED and serve /metrics as dcgm-exporter does, plus per-site metrics.
    Also /status, /labels.csv and POST /inject (a fault with a precursor). Stops on Ctrl-C or SIGTERM."""
    from wattbit.ops.serve import serve_twin
    from wattbit.scenario import load_scenario

    serve_twin(
        load_scenario(scenario),
        listen=listen,
        speed=speed,
        start=start,
        nodes_per_site=nodes_per_site,
        seed=seed,
        policy=policy,
        out=out,
        ready=lambda url: typer.echo(f"serving {url}/metrics", err=False),
    )


DirOption = Annotated[Path, typer.Option("--dir", help="Folder of the Prometheus configuration, data and log.")]


@prometheus_app.command("up")
@user_errors
def prometheus_up(
    directory: DirOption,
    target: Annotated[
        list[str], typer.Option("--target", help="HOST:PORT to scrape (repeat for several), e.g. the twin's.")
    ],
    listen: Annotated[str, typer.Option("--listen", help="HOST:PORT Prometheus serves on.")] = "127.0.0.1:9090",
    scrape_interval: Annotated[float, typer.Option("--scrape-interval", help="Seconds between scrapes.")] = 15.0,
) -> None:
    """Write DIR/prometheus.yml and start Prometheus in the background (Debian's prometheus); DIR/prometheus.json
    records what was started, for `wattbit ops prometheus down`."""
    from wattbit.ops.adapters.prometheus import PrometheusError
    from wattbit.ops.adapters.prometheus import prometheus_up as up

    try:
        proc = up(directory, target, listen=listen, scrape_interval_s=scrape_interval)
    except PrometheusError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(f"prometheus {proc.url} (pid {proc.pid}), config {proc.config}")


@prometheus_app.command("down")
@user_errors
def prometheus_down(directory: DirOption) -> None:
    """Stop the Prometheus that `wattbit ops prometheus up --dir DIR` started (and nothing else)."""
    from wattbit.ops.adapters.prometheus import prometheus_down as down

    typer.echo("stopped" if down(directory) else f"no Prometheus started in {directory} is running")


def _seeds(text: str, name: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise WattbitInputError(f"expected comma-separated integers, got {text!r}", field=name) from None


@ops_app.command("evaluate")
@user_errors
def ops_evaluate(
    scenario: ScenarioArg,
    out: OutOption = Path("out/ops-evaluate"),
    tune_seeds: Annotated[str, typer.Option("--tune-seeds", help="Seeds the thresholds are tuned on.")] = "101,102",
    test_seeds: Annotated[str, typer.Option("--test-seeds", help="Held-out seeds scored.")] = "201,202,203",
    tune_days: Annotated[int, typer.Option("--tune-days", help="Days of each tuning run.", min=1)] = 30,
    test_days: Annotated[
        int | None, typer.Option("--test-days", help="Days of each scored run (default: the whole period).", min=1)
    ] = None,
    untuned: Annotated[
        list[str] | None, typer.Option("--untuned", help="Another scenario scored with the same thresholds (repeat).")
    ] = None,
    nodes_per_site: Annotated[
        int | None, typer.Option("--nodes-per-site", help="Scale sites to K nodes.", min=1)
    ] = None,
) -> None:
    """Replay SCENARIO's year with injected faults on the fast path (no servers), tune the detectors on some seeds,
    score them on others and on --untuned scenarios, beside a threshold floor. Writes DIR/evaluation.json and
    DIR/evaluation.html, labels and alerts per run."""
    from wattbit.ops.detect.campaign import Campaign, evaluate_campaign
    from wattbit.scenario import load_scenario

    c = Campaign(
        tune_seeds=_seeds(tune_seeds, "tune-seeds"),
        test_seeds=_seeds(test_seeds, "test-seeds"),
        tune_days=tune_days,
        test_days=test_days,
        nodes_per_site=nodes_per_site,
    )
    extra = [load_scenario(u) for u in untuned or []]
    result = evaluate_campaign(load_scenario(scenario), out, c, extra, log=lambda m: typer.echo(m, err=True))
    o = result["overall"]
    typer.echo(
        f"held-out: precision {o['precision']}, recall {o['recall']}, predictive recall "
        f"{o['recall_predicted_with_precursor']}, lead median {o['lead_time_median_min']} min, false alarms "
        f"{o['false_alarms_per_1000_gpu_days']} per 1,000 GPU-days"
    )
    typer.echo(f"results: {out / 'evaluation.json'}, {out / 'evaluation.html'}")


@ops_app.command("watch")
@user_errors
def ops_watch(
    prometheus: Annotated[str, typer.Option("--prometheus", help="Base URL of the Prometheus to read.")],
    db: Annotated[Path, typer.Option("--db", help="SQLite file of alerts and state (WAL).")] = Path(
        "out/ops-watch/alerts.sqlite"
    ),
    interval: Annotated[float, typer.Option("--interval", help="Seconds between polls.", min=0.05)] = 15.0,
    polls: Annotated[
        int | None, typer.Option("--polls", help="Stop after N polls (default: run until Ctrl-C).")
    ] = None,
    metrics_listen: Annotated[
        str | None, typer.Option("--metrics-listen", help="HOST:PORT to serve the watcher's own metrics on.")
    ] = None,
    calibration: Annotated[
        Path | None,
        typer.Option("--calibration", help="evaluation.json of `wattbit ops evaluate` (probabilities, horizons)."),
    ] = None,
) -> None:
    """Read DCGM telemetry from a Prometheus (the twin's, or an operator's scraping real dcgm-exporters), run the
    detectors, store alerts in DB and print each as a JSON line. Resumes from DB's state after a restart."""
    from wattbit.ops.adapters.prometheus import PrometheusClient
    from wattbit.ops.store import AlertStore
    from wattbit.ops.watch import Watcher, load_calibration, run_watch, serve_metrics

    store = AlertStore(db)
    watcher = Watcher(
        PrometheusClient(prometheus, timeout_s=max(5.0, interval)),
        store,
        calibration=load_calibration(calibration),
        on_alert=lambda a: typer.echo(a.to_json()),
    )
    if metrics_listen:
        serve_metrics(watcher, metrics_listen)
    try:
        run_watch(watcher, interval, polls)
    except KeyboardInterrupt:
        pass
    finally:
        store.close()


@ops_app.command("nab")
@user_errors
def ops_nab(
    data: Annotated[Path, typer.Option("--data", help="NAB realKnownCause folder (files, windows, profiles).")] = Path(
        "../shared/data/anomaly/nab-realknowncause"
    ),
    out: OutOption = Path("out/ops-nab"),
) -> None:
    """Score wattbit's detector and NAB's windowed-Gaussian baseline on NAB's realKnownCause files with NAB's
    scoring (each detector's best single threshold); writes DIR/nab.json."""
    from wattbit.ops.detect.nab import evaluate_nab

    result = evaluate_nab(data)
    out.mkdir(parents=True, exist_ok=True)
    (out / "nab.json").write_text(json.dumps(result, indent=2, default=float) + "\n", encoding="utf-8")
    for name in ("wattbit_ewma", "windowed_gaussian"):
        for profile, r in result[name].items():
            typer.echo(
                f"{name:18s} {profile:20s} score {r['score']:6.1f}  windows {r['windows_detected']}/{r['windows']}"
                f"  false positives {r['false_positives']}"
            )
    typer.echo(f"results: {out / 'nab.json'}")


SlurmDirOption = Annotated[Path, typer.Option("--dir", help="Folder of the cluster's configuration, state and logs.")]


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
) -> None:
    """Each cycle: read telemetry, scheduler state and site signals, run the detectors, heal (drain, requeue, resume,
    quarantine) and run the watt-bit plan (weights, hold/release, moves, power caps). Prints each action as it is
    recommended, queued or applied; everything is in the audit log of DB."""
    from wattbit.ops.heal.loop import run_loop
    from wattbit.ops.heal.run import build_loop, describe, make_scheduler
    from wattbit.scenario import load_scenario

    sc = load_scenario(scenario)
    sched = make_scheduler(
        scheduler, sc, slurm_dir=slurm_dir, slurm_conf=slurm_conf, nodes_per_site=nodes_per_site,
        start_s=sc.period.start.timestamp(),
    )  # fmt: skip
    loop, alerts = build_loop(
        sc, sched, prometheus, db, mode, calibration=calibration, on_action=lambda r: typer.echo(describe(r)),
        burn_in_cmd=burn_in_cmd,
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
) -> None:
    """Healing on the fast path: one run's faults and replayed detector alerts drive the control loop over the twin's
    scheduler, reacting to failures only and with predictions; writes DIR/healing.json."""
    from wattbit.ops.heal.evaluate import heal_evaluate
    from wattbit.scenario import load_scenario, with_period

    sc = load_scenario(scenario)
    if start or end:
        sc = with_period(sc, start, end)
    r = heal_evaluate(sc, out, seed=seed, nodes_per_site=nodes_per_site, log=lambda m: typer.echo(m, err=True))
    for policy in ("reactive", "predictive"):
        b = r[policy]
        typer.echo(
            f"{policy:10s} GPU-h lost {b['gpu_hours_lost']:,.1f}, jobs interrupted {b['jobs_interrupted']}, lost "
            f"{b['jobs_lost']}, MTTR {b['mttr_h']} h, false drains {b['false_drains_per_1000_node_days']} per 1000"
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


def _print_summary(summary: dict[str, dict[str, float]]) -> None:
    for site, figures in summary.items():
        parts = ", ".join(f"{k}={v:,.1f}" for k, v in figures.items())
        typer.echo(f"{site}: {parts}")


DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL: sqlite:///PATH (default DATA_DIR/wattbit.sqlite) or postgresql://..."),
]
DataDirOption = Annotated[
    Path, typer.Option("--data-dir", help="Folder of the runs' output, the alert store and the default database.")
]


@app.command()
@user_errors
def serve(
    db: DbOption = None,
    listen: Annotated[str, typer.Option("--listen", help="HOST:PORT (loopback by default; port 0: a free port).")] = (
        "127.0.0.1:8000"
    ),
    data_dir: DataDirOption = Path("out/service"),
    fleet: Annotated[
        str, typer.Option("--fleet", help="Live view: twin (embedded demo), prometheus (--prometheus-url) or none.")
    ] = "twin",
    prometheus_url: Annotated[str | None, typer.Option("--prometheus-url", help="Prometheus to read.")] = None,
    scenario: Annotated[str, typer.Option("--scenario", help="Scenario of the live fleet.")] = "japan-2022",
    speed: Annotated[float, typer.Option("--speed", help="The embedded twin's simulated seconds per second.")] = 1800.0,
    data_root: Annotated[
        list[Path] | None, typer.Option("--data-root", help="Folder uploaded scenarios may read data from (repeat).")
    ] = None,
    cors_origin: Annotated[
        list[str] | None, typer.Option("--cors-origin", help="Browser origin allowed to call the API (repeat).")
    ] = None,
    audit_db: Annotated[
        Path | None, typer.Option("--audit-db", help="The control loop's audit store (default DATA_DIR/audit.sqlite).")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", help="Runs executed at once.", min=1)] = 1,
    secure_cookies: Annotated[
        bool, typer.Option("--secure-cookies", help="Mark the session cookie Secure (behind HTTPS).")
    ] = False,
) -> None:
    """Serve the REST API (/api/v1, OpenAPI at /api/v1/openapi.json) and the live dashboard until Ctrl-C."""
    from wattbit.api.server import default_db_url
    from wattbit.api.server import serve as serve_api
    from wattbit.api.service import ServiceConfig

    if fleet not in ("twin", "prometheus", "none"):
        raise WattbitInputError(f"--fleet: expected twin, prometheus or none, got {fleet!r}", field="fleet")
    if fleet == "prometheus" and not prometheus_url:
        raise WattbitInputError("--fleet prometheus needs --prometheus-url URL", field="prometheus_url")
    config = ServiceConfig(
        db_url=db or default_db_url(data_dir),
        data_dir=data_dir,
        fleet=fleet,  # type: ignore[arg-type]
        scenario=scenario,
        prometheus_url=prometheus_url,
        twin_speed=speed,
        max_workers=workers,
        audit_db=audit_db,
        cors_origins=list(cors_origin or []),
        data_roots=list(data_root or []),
        secure_cookies=secure_cookies,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve_api(config, listen, ready=lambda url: typer.echo(f"serving {url}/ (API docs {url}/api/docs)", err=True))


@token_app.command("create")
@user_errors
def token_create(
    role: Annotated[str, typer.Option("--role", help="viewer, operator or admin.")],
    name: Annotated[str, typer.Option("--name", help="Who holds it (shown in the audit log).")],
    db: DbOption = None,
    data_dir: DataDirOption = Path("out/service"),
) -> None:
    """Create a token and print it alone on stdout (it is stored hashed and shown only this once)."""
    from wattbit.api.server import create_token_at, default_db_url

    typer.echo(create_token_at(db or default_db_url(data_dir), name, role))


def main() -> None:
    """Entry point of the ``wattbit`` script."""
    app(prog_name="wattbit")


if __name__ == "__main__":
    main()

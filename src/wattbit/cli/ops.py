"""``wattbit twin`` and ``wattbit ops`` (Prometheus, the watcher, detection and its evaluation)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from wattbit.cli.base import OutOption, PolicyOption, ScenarioArg, SeedOption, StartOption, seeds, user_errors

twin_app = typer.Typer(help="Run the twin as a live site.", no_args_is_help=True, rich_markup_mode=None)
ops_app = typer.Typer(
    help="Operations: Prometheus, the watcher, detection and its evaluation.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
prometheus_app = typer.Typer(
    help="A real Prometheus started and stopped by wattbit.", no_args_is_help=True, rich_markup_mode=None
)
ops_app.add_typer(prometheus_app, name="prometheus")


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
        tune_seeds=seeds(tune_seeds, "tune-seeds"),
        test_seeds=seeds(test_seeds, "test-seeds"),
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

"""The ``wattbit`` command line: a thin layer over the public functions."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from wattbit.errors import WattbitInputError

app = typer.Typer(help="wattbit: plan, simulate and operate renewable-powered AI datacenters.", no_args_is_help=True)
data_app = typer.Typer(help="Read and check data files.", no_args_is_help=True)
scenario_app = typer.Typer(help="Check and report scenarios.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(scenario_app, name="scenario")

F = TypeVar("F", bound=Callable[..., Any])

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


@app.command()
@user_errors
def demo(out: OutOption = Path("out/demo")) -> None:
    """Run the main job on the built-in japan-2022 scenario: its data, and a year simulated under the baseline
    policy. Writes DIR/report.html, the data files and DIR/simulate/ (time series, jobs, summary)."""
    from rich.progress import Progress

    from wattbit.control import make_policy
    from wattbit.report.signals_report import build_data_report
    from wattbit.report.sim_report import simulation_sections
    from wattbit.scenario import load_scenario
    from wattbit.sim.run import simulate as run_simulation
    from wattbit.sim.run import write_result

    scenario = load_scenario("japan-2022")
    policy = make_policy(scenario.policy.name)
    with Progress(transient=True) as bar:
        task = bar.add_task(f"simulating {scenario.name} ({policy.name})", total=len(scenario.period.index_utc()))
        result = run_simulation(scenario, policy, progress=lambda k: bar.update(task, completed=k + 1))
    write_result(result, out / "simulate")
    step_h = scenario.period.step_timedelta.total_seconds() / 3600
    sections = simulation_sections(result, step_h, scenario.period.timezone)
    summary = build_data_report(scenario, out, sections)
    _print_summary(summary)
    typer.echo(
        f"simulation ({policy.name}): PUE {result.summary['pue']:.3f}, carbon {result.summary['carbon_t']:,.0f} t, "
        f"GPU utilisation {result.summary['gpu_utilization']:.1%}, deadline misses {result.summary['deadline_misses']}"
    )
    typer.echo(f"report: {out / 'report.html'}")


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
    policy: Annotated[str, typer.Option("--policy", help="Control policy (baseline).")] = "baseline",
    out: OutOption = Path("out/simulate"),
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of failures and random choices.")] = None,
) -> None:
    """Simulate SCENARIO under a policy; writes DIR/timeseries.parquet, DIR/jobs.parquet and DIR/summary.json."""
    from rich.progress import Progress

    from wattbit.control import make_policy
    from wattbit.scenario import load_scenario
    from wattbit.sim.run import simulate as run_simulation
    from wattbit.sim.run import write_result

    sc = load_scenario(scenario)
    chosen = make_policy(policy)
    with Progress(transient=True) as bar:
        task = bar.add_task(f"simulating {sc.name} ({policy})", total=len(sc.period.index_utc()))
        result = run_simulation(sc, chosen, seed=seed, progress=lambda k: bar.update(task, completed=k + 1))
    write_result(result, out)
    for key, value in result.summary.items():
        typer.echo(f"{key}: {value:,.3f}" if isinstance(value, float) else f"{key}: {value}")
    typer.echo(f"results: {out}")


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


def _print_summary(summary: dict[str, dict[str, float]]) -> None:
    for site, figures in summary.items():
        parts = ", ".join(f"{k}={v:,.1f}" for k, v in figures.items())
        typer.echo(f"{site}: {parts}")


def main() -> None:
    """Entry point of the ``wattbit`` script."""
    app(prog_name="wattbit")


if __name__ == "__main__":
    main()

"""``wattbit data`` and ``wattbit scenario``: read and check data files and scenarios."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from wattbit.cli.base import OutOption, ScenarioArg, print_summary, user_errors

data_app = typer.Typer(help="Read and check data files.", no_args_is_help=True, rich_markup_mode=None)
scenario_app = typer.Typer(help="Check and report scenarios.", no_args_is_help=True, rich_markup_mode=None)


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
    print_summary(summary)
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

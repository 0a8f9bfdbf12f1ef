"""The ``wattbit bench`` outputs: ``bench.json`` and ``bench.html`` (comparison table, carbon bars, daily grid
import per policy) of :func:`wattbit.control.bench.compare_policies`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from wattbit.control import POLICY_NAMES
from wattbit.control.bench import CHECKPOINT_EVERY, compare_policies
from wattbit.control.history import SignalHistory
from wattbit.durable import Checkpoint, atomic_write_json
from wattbit.report.html import Section, figure_html, table_html, write_page
from wattbit.scenario import Scenario
from wattbit.sim.run import SimResult, json_safe, run_identity

#: Summary keys shown in the comparison table, with their labels and decimals.
TABLE = (
    ("carbon_t", "carbon [t]", 1),
    ("energy_cost", "energy cost [M]", 2),
    ("energy_grid_mwh", "grid [MWh]", 0),
    ("curtailment_absorbed_mwh", "curtailment absorbed [MWh]", 1),
    ("clean_energy_share_hourly", "hourly CFE share", 3),
    ("pue", "PUE", 3),
    ("gpu_hours_served", "GPU-h served", 0),
    ("gpu_hours_unfinished", "GPU-h unfinished", 0),
    ("deadline_misses", "deadline misses", 0),
    ("slo_attainment", "inference SLO", 4),
    ("job_pauses", "pauses", 0),
    ("job_migrations", "migrations", 0),
    ("wall_seconds", "wall [s]", 1),
)


def run_bench(
    scenario: Scenario,
    out: Path,
    policies: Sequence[str] = POLICY_NAMES,
    seed: int | None = None,
    progress: Callable[[str, int], None] | None = None,
    resume: bool = False,
    checkpoint_every: int = CHECKPOINT_EVERY,
    history: SignalHistory | None = None,
) -> dict[str, Any]:
    """Run ``policies`` on ``scenario`` (:func:`~wattbit.control.bench.compare_policies`); writes
    ``out/bench.json`` and ``out/bench.html`` (atomically) and returns the comparison.

    The run is checkpointed in ``out/.checkpoint`` (each finished policy, and the running one's engine every
    ``checkpoint_every`` steps); ``resume`` continues from there after a crash, with the same result.
    ``history``: the signals observed before the period, for ``mpc``'s forecasts.
    """
    seed = scenario.workload.seed if seed is None else seed
    store = Checkpoint(out, run_identity("bench", scenario, policies=list(policies), seed=seed))
    store.start(resume)
    bench, results = compare_policies(scenario, policies, seed, progress, store, checkpoint_every, history)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").unlink(missing_ok=True)  # written last: its presence means the whole result is there
    write_page(
        out / "bench.html",
        f"wattbit bench: {scenario.name}",
        f"{len(bench['policies'])} policies, same workload, failures and seed ({bench['seed']})",
        bench_sections(bench, results, scenario.period.timezone),
    )
    atomic_write_json(out / "bench.json", json_safe(bench))
    store.clear()
    return bench


def comparison_table(bench: dict[str, Any]) -> str:
    """The per-policy table (and the oracle's bound) as HTML."""
    rows: list[list[object]] = []
    for name, s in bench["policies"].items():
        rows.append([name] + [_cell(s.get(key), key) for key, _, _ in TABLE])
    if "oracle_bound" in bench:
        b = bench["oracle_bound"]
        rows.append(
            ["oracle_bound (plan, a bound)"] + [_cell(b.get(key), key) if key in b else "" for key, _, _ in TABLE]
        )
    return table_html(["policy"] + [label for _, label, _ in TABLE], rows, 2)


def _cell(value: Any, key: str) -> object:
    if value is None:
        return ""
    if key == "energy_cost":
        return float(value) / 1e6
    return value


def carbon_change_figure(bench: dict[str, Any], names: list[str]) -> go.Figure:
    """Carbon of each policy as its change against baseline [%] (bars from zero would hide a 5 % difference), with
    the absolute figure [t CO2-eq] on each bar."""
    totals = {n: bench["policies"][n]["carbon_t"] for n in names}
    if "oracle_bound" in bench:
        totals["oracle_bound"] = bench["oracle_bound"]["carbon_t"]
    base = totals.get("baseline")
    if not base:
        fig = go.Figure(go.Bar(x=list(totals), y=list(totals.values()), text=[f"{v:,.1f} t" for v in totals.values()]))
        fig.update_layout(title="Carbon of grid imports, location-based [t CO2-eq]", showlegend=False, height=320)
        return fig
    change = {n: 100.0 * (v - base) / base for n, v in totals.items()}
    colours = ["#2e9d5b" if c < 0 else "#c8323c" if c > 0 else "#888" for c in change.values()]
    fig = go.Figure(
        go.Bar(
            x=list(change),
            y=list(change.values()),
            marker_color=colours,
            text=[f"{c:+.1f} %<br>{totals[n]:,.1f} t" for n, c in change.items()],
            textposition="outside",
            hovertemplate="%{x}: %{y:+.2f} % against baseline<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"Carbon of grid imports against baseline ({base:,.1f} t CO2-eq, location-based) [%]",
        yaxis={"title": "change against baseline [%]", "zeroline": True, "zerolinecolor": "#444"},
        showlegend=False,
        height=340,
    )
    return fig


def bench_sections(bench: dict[str, Any], results: dict[str, SimResult], tz: str) -> list[Section]:
    """Report sections: the comparison table, carbon and cost bars, and daily grid import per policy."""
    names = list(bench["policies"])
    notes = (
        f'<p class="note">Workload: {bench["jobs"]:,} jobs due inside the period '
        f"({bench['jobs_due_after_period_left_out']:,} due later left out, so every policy does the same work). "
        "<b>oracle</b> follows the offline optimum with perfect knowledge; <b>oracle_bound</b> is that optimum's own "
        "plan, a relaxation (fluid gangs, no failures or overheads, each slot's best signals), so no policy can beat "
        "it. Energy cost in millions of the scenario's currency. Carbon is grid imports times the grid's average "
        "intensity (location-based), on each site's basis: life-cycle by default (scope 2 plus upstream scope 3.3, "
        "t CO2-eq), combustion only for direct data (scope 2).</p>"
    )
    if "mpc_share_of_oracle_bound_reduction" in bench:
        notes += (
            f'<p class="note">mpc achieves {bench["mpc_share_of_oracle_bound_reduction"]:.1%} of the bound\'s carbon '
            "reduction relative to baseline"
            + (
                f" and {bench['mpc_share_of_oracle_reduction']:.1%} of the oracle's achieved reduction."
                if "mpc_share_of_oracle_reduction" in bench
                else "."
            )
            + "</p>"
        )
    carbon = carbon_change_figure(bench, names)
    daily = go.Figure()
    for name, result in results.items():
        ts = result.timeseries
        total = ts.groupby("time_utc", observed=True)["grid_w"].sum()
        idx = pd.DatetimeIndex(total.index).tz_convert(tz) if pd.DatetimeIndex(total.index).tz else total.index
        by_day = pd.Series(total.to_numpy() / 1e6, index=idx).resample("1D").mean()
        daily.add_trace(go.Scatter(x=by_day.index, y=by_day.to_numpy(), name=name, mode="lines"))
    daily.update_layout(title="Daily mean grid import [MW]", height=360)
    return [
        Section("Policy comparison", comparison_table(bench) + notes, id="bench"),
        Section("Carbon by policy", figure_html(carbon) + figure_html(daily), id="bench-plots"),
    ]

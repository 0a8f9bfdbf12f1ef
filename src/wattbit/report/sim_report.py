"""Report sections for a simulation run: headline KPIs, a per-site table, time series and job statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from wattbit.report.html import Section, figure_html, table_html
from wattbit.sim.run import SimResult

HEADLINE = [
    ("energy_facility_mwh", "facility energy [MWh]"),
    ("energy_grid_mwh", "grid energy [MWh]"),
    ("pue", "PUE"),
    ("wue_l_per_kwh", "WUE [L/kWh]"),
    ("carbon_t", "carbon, grid imports, location-based [t CO2-eq]"),
    ("energy_cost", "energy cost"),
    ("curtailment_absorbed_mwh", "curtailment absorbed [MWh]"),
    ("gpu_utilization", "GPU utilisation"),
    ("deadline_misses", "deadline misses"),
    ("slo_attainment", "inference SLO attainment"),
    ("gpu_hours_lost", "GPU-hours lost to failures"),
    ("wall_seconds", "wall time [s]"),
]


def _per_site(result: SimResult, step_h: float) -> list[list[object]]:
    ts = result.timeseries
    rows = []
    for site, g in ts.groupby("site", observed=True):
        mwh = {c: float(g[f"{c}_w"].sum()) * step_h / 1e6 for c in ("it", "facility", "grid", "cooling")}
        grid_mwh = g["grid_w"].to_numpy() * step_h / 1e6
        rows.append(
            [
                str(site),
                mwh["it"],
                mwh["facility"],
                mwh["facility"] / mwh["it"],
                mwh["grid"],
                float((grid_mwh * g["carbon_g_per_kwh"].to_numpy()).sum()) / 1000.0,
                float((grid_mwh * g["price_jpy_per_mwh"].to_numpy()).sum()) / 1e6,
                float(g["busy_gpus"].mean()),
            ]
        )
    return rows


def _daily_figure(result: SimResult, column: str, title: str, unit: str, tz: str, scale: float = 1.0) -> go.Figure:
    ts = result.timeseries
    fig = go.Figure()
    for site, g in ts.groupby("site", observed=True):
        daily = pd.Series(g[column].to_numpy() * scale, index=pd.DatetimeIndex(g["time_utc"]).tz_convert(tz))
        daily = daily.resample("1D").mean()
        fig.add_scatter(x=daily.index, y=daily.to_numpy(), name=str(site), mode="lines")
    fig.update_layout(title=title, yaxis_title=unit, height=340, margin={"t": 50, "b": 30})
    return fig


def _job_stats(result: SimResult) -> str:
    j = result.jobs
    submit = pd.to_datetime(j["submit_utc"], utc=True)
    wait_h = (pd.to_datetime(j["first_start_utc"], utc=True) - submit).dt.total_seconds() / 3600
    rows = []
    for kind, g in j.groupby("kind_name", observed=True):
        w = wait_h[g.index].dropna()
        rows.append(
            [
                str(kind),
                len(g),
                int((g["state"] == "done").sum()),
                float(np.median(g["gpus"])),
                float((g["gpus"] * g["duration_h"]).sum()),
                float(w.median()) if len(w) else float("nan"),
                float(w.quantile(0.95)) if len(w) else float("nan"),
                int(g["interruptions"].sum()),
            ]
        )
    headers = ["kind", "jobs", "done", "median GPUs", "GPU-hours", "median wait [h]", "p95 wait [h]", "interruptions"]
    return table_html(headers, rows, 2)


def simulation_sections(
    result: SimResult, step_h: float, tz: str, carbon_accounting: str | None = None
) -> list[Section]:
    """Sections to add to a report for one simulation run; ``carbon_accounting`` says how grid carbon was counted
    (:func:`wattbit.physics.carbon.carbon_accounting_label`)."""
    s = result.summary
    headline = table_html(
        ["KPI", "value"],
        [[label, s[key]] for key, label in HEADLINE]
        + [["policy", s["policy"]], ["currency", s["currency"]], ["seed", s["seed"]]],
        3,
    )
    site_table = table_html(
        [
            "site",
            "IT [MWh]",
            "facility [MWh]",
            "PUE",
            "grid [MWh]",
            "carbon [t CO2-eq]",
            f"cost [M{s['currency']}]",
            "mean busy GPUs",
        ],
        _per_site(result, step_h),
        2,
    )
    note = (
        '<p class="note">Simulated with the policy named above over the scenario period; failures sampled from the '
        "Llama 3 interruption rates (see docs/faults.md). Carbon and cost count grid imports only; on-site PV and "
        "wind supply the load first. "
        + (
            f"Carbon: {carbon_accounting}."
            if carbon_accounting
            else "Carbon is location-based: grid imports times the grid's average intensity, on the basis of each "
            "site's carbon data (life-cycle by default: scope 2 plus upstream scope 3.3)."
        )
        + "</p>"
    )
    return [
        Section(f"Simulation ({s['policy']})", headline + note, id="simulation"),
        Section("Simulation by site", site_table, id="simulation-sites"),
        Section(
            "Simulated power",
            figure_html(_daily_figure(result, "facility_w", "Daily mean facility power", "MW", tz, 1e-6))
            + figure_html(_daily_figure(result, "grid_w", "Daily mean grid import", "MW", tz, 1e-6))
            + figure_html(_daily_figure(result, "busy_gpus", "Daily mean GPUs running jobs", "GPUs", tz)),
            id="simulation-power",
        ),
        Section("Jobs", _job_stats(result), id="simulation-jobs"),
    ]

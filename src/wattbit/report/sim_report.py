"""Report sections for a simulation run: headline KPIs, a per-site table, time series, the GPUs' power against
measured distributions, on-site generation and export, and job statistics."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from wattbit.data.acmetrace import CITATION, CLUSTERS, builtin_acmetrace_power_cdfs
from wattbit.physics.gpu import get_gpu
from wattbit.physics.gpu_load import (
    PowerMixture,
    ks_distance,
    measured_busy_load_cdf,
    mixture_load_cdf,
    online_inference_phases,
    power_mixture,
)
from wattbit.report.html import Section, figure_html, table_html
from wattbit.sim.run import SimResult

HEADLINE = [
    ("energy_it_mwh", "IT energy [MWh]"),
    ("energy_facility_mwh", "facility energy [MWh]"),
    ("energy_grid_mwh", "grid energy [MWh]"),
    ("energy_exported_mwh", "exported [MWh]"),
    ("energy_spilled_mwh", "spilled [MWh]"),
    ("pue", "PUE"),
    ("wue_l_per_kwh", "WUE [L/kWh]"),
    ("carbon_t", "carbon, grid imports, location-based [t CO2-eq]"),
    ("energy_cost", "energy cost (imports)"),
    ("export_revenue", "export revenue"),
    ("energy_cost_net", "energy cost net of exports"),
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
        mwh = {c: float(g[f"{c}_w"].sum()) * step_h / 1e6 for c in ("it", "facility", "grid", "cooling", "export")}
        grid_mwh = g["grid_w"].to_numpy() * step_h / 1e6
        rows.append(
            [
                str(site),
                mwh["it"],
                mwh["facility"],
                mwh["facility"] / mwh["it"],
                mwh["grid"],
                mwh["export"],
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
            "exported [MWh]",
            "carbon [t CO2-eq]",
            f"cost [M{s['currency']}]",
            "mean busy GPUs",
        ],
        _per_site(result, step_h),
        2,
    )
    note = (
        '<p class="note">Simulated with the policy named above over the scenario period; failures sampled from the '
        "Llama 3 interruption rates (see docs/faults.md). On-site PV and wind supply the load first, then the "
        "battery; surplus is exported up to the grid connection and spilled only beyond it. Carbon and energy cost "
        "count grid imports only; exports earn no avoided-emission credit, and export revenue is shown apart. "
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
        Section("GPU power against measurements", gpu_power_section(s), id="simulation-gpu-power"),
        Section("On-site generation and export", generation_section(s), id="simulation-generation"),
        Section("Jobs", _job_stats(result), id="simulation-jobs"),
    ]


def _site_mixtures(summary: dict[str, Any], busy_only: bool = False) -> list[tuple[str, PowerMixture, float]]:
    """Per site: GPU model, the mixture of its GPU-samples (busy ones only if asked) and its GPU-hours."""
    out = []
    for site in summary.get("gpu_power", {}).values():
        model = get_gpu(site["gpu_model"])
        phases = tuple(
            (float(share), load)
            for share, load in online_inference_phases(
                site["inference_busy_share"], site["inference_prefill_share"], site["inference_decode_batch"]
            )
        )
        classes = np.asarray(site["gpu_hours_by_power_class"], dtype=float)
        idle = 0.0 if busy_only else site["gpu_hours_idle"]
        hours = idle + classes.sum() + site["gpu_hours_inference"]
        if hours > 0:
            mix = power_mixture(model, idle, classes, phases, site["gpu_hours_inference"])
            out.append((site["gpu_model"], mix, hours))
    return out


def gpu_power_comparison(summary: dict[str, Any], references: dict[str, pd.DataFrame] | None = None) -> dict[str, Any]:
    """The simulated fleet's per-GPU power distribution against the AcmeTrace measured CDFs.

    Returns
    -------
    dict
        ``share_of_tdp`` (grid), ``cdf_sim`` (all GPU-samples of the fleet, as a share of TDP), ``cdf_<cluster>``,
        ``mean_share_of_tdp`` (simulated fleet and each cluster), ``idle_share`` and the Kolmogorov-Smirnov distance
        between busy GPUs' load distributions (``ks_busy_<cluster>``; loads ``(P - P_idle) / (P_TDP - P_idle)`` so
        that A100 and H100 compare).
    """
    refs = references if references is not None else builtin_acmetrace_power_cdfs()
    share = np.linspace(0.0, 1.3, 261)
    load = np.linspace(0.0, 1.3, 261)
    mixtures, busy = _site_mixtures(summary), _site_mixtures(summary, busy_only=True)
    total = sum(h for _, _, h in mixtures)
    out: dict[str, Any] = {"share_of_tdp": share}
    if not total:
        return out
    out["cdf_sim"] = sum(h * m.cdf(share * get_gpu(g).tdp_w) for g, m, h in mixtures) / total
    out["mean_share_of_tdp"] = {"simulated": sum(h * m.mean_power_w / get_gpu(g).tdp_w for g, m, h in mixtures) / total}
    busy_total = sum(h for _, _, h in busy)
    sim_busy = sum(h * mixture_load_cdf(get_gpu(g), m, load) for g, m, h in busy) / busy_total if busy_total else None
    out["idle_share"] = {"simulated": 1.0 - busy_total / total}
    a100 = get_gpu("A100-SXM")
    for cluster, frame in refs.items():
        x, f = frame["power_w"].to_numpy(), frame["cdf"].to_numpy()
        out[f"cdf_{cluster}"] = np.interp(share * a100.tdp_w, x, f)
        out["mean_share_of_tdp"][cluster] = float(np.trapezoid(x, f)) / a100.tdp_w
        ref_busy, idle = measured_busy_load_cdf(x, f, a100, load)
        out["idle_share"][cluster] = idle
        if sim_busy is not None:
            out[f"ks_busy_{cluster}"] = ks_distance(sim_busy, ref_busy)
    return out


def gpu_power_section(summary: dict[str, Any]) -> str:
    """Figure and table: the simulated per-GPU power distribution beside the AcmeTrace measured CDFs."""
    cmp = gpu_power_comparison(summary)
    if "cdf_sim" not in cmp:
        return '<p class="note">No GPU power summary in this run.</p>'
    fig = go.Figure()
    fig.add_scatter(x=cmp["share_of_tdp"], y=cmp["cdf_sim"], name="simulated fleet (all GPUs)", mode="lines")
    for cluster in CLUSTERS:
        if f"cdf_{cluster}" in cmp:
            fig.add_scatter(
                x=cmp["share_of_tdp"], y=cmp[f"cdf_{cluster}"], name=f"AcmeTrace {CLUSTERS[cluster]}", mode="lines"
            )
    fig.update_layout(
        title="Per-GPU power: simulated fleet and measured LLM clusters",
        xaxis_title="GPU power / TDP",
        yaxis_title="share of GPU-samples at or below",
        height=380,
        margin={"t": 50, "b": 40},
    )
    rows = [
        [
            name,
            cmp["mean_share_of_tdp"][name],
            cmp["idle_share"][name],
            cmp.get(f"ks_busy_{name}", float("nan")) if name != "simulated" else float("nan"),
        ]
        for name in cmp["mean_share_of_tdp"]
    ]
    table = table_html(["fleet", "mean power / TDP", "idle share", "KS distance, busy GPUs (sim vs)"], rows, 3)
    note = (
        '<p class="note">Each job runs at the power of a class drawn from its kind (phases of compute and of '
        "communication or checkpointing), fitted to the AcmeTrace CDFs of two LLM clusters of A100s "
        f"({CITATION}); online inference at its prefill, decode and waiting shares (docs/models/gpu.md). The "
        "idle shares differ with the fleets' utilisation; the Kolmogorov-Smirnov distance compares the busy GPUs' "
        "loads. Capped steps are drawn uncapped.</p>"
    )
    return figure_html(fig) + table + note


def generation_section(summary: dict[str, Any]) -> str:
    """Where each site's PV and wind profile comes from, their capacity factors and warnings; exports by site."""
    sources = summary.get("generation_source", {})
    cfs = summary.get("capacity_factor_by_site", {})
    exported = summary.get("energy_exported_mwh_by_site", {})
    rows = [
        [
            name,
            src.get("pv", ""),
            "—" if cfs.get(name, {}).get("pv") is None else f"{cfs[name]['pv']:.1%}",
            src.get("wind", ""),
            "—" if cfs.get(name, {}).get("wind") is None else f"{cfs[name]['wind']:.1%}",
            float(exported.get(name, 0.0)),
            summary.get("export_price_basis", {}).get(name, ""),
        ]
        for name, src in sources.items()
    ]
    table = table_html(
        ["site", "PV profile", "PV CF", "wind profile", "wind CF", "exported [MWh]", "export price"], rows, 0
    )
    flags = summary.get("capacity_factor_flags", [])
    warn = "".join(f"<li>{f}</li>" for f in flags) or "<li>none</li>"
    return table + f'<p class="note">Capacity-factor warnings:</p><ul>{warn}</ul>'

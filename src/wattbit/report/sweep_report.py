"""``wattbit sweep`` report: how the KPIs move across the sweep's axes (box plots of every run, grouped by one axis
and coloured by another), the carbon/cost trade-off of every run, the table of runs and the runs that failed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from wattbit.report.html import Section, figure_html, table_html, write_page

#: KPI columns shown, in order, where a sweep has them (``simulate`` and ``plan``; ``bench`` prefixes each policy).
KPIS = (
    ("carbon_t", "carbon [t CO2]"),
    ("energy_cost_net", "net energy cost"),
    ("energy_facility_mwh", "facility energy [MWh]"),
    ("pue", "PUE"),
    ("gpu_utilization", "GPU utilisation"),
    ("slo_attainment", "inference SLO attainment"),
    ("deadline_misses", "deadline misses"),
    ("gpu_hours_lost", "GPU-hours lost to failures"),
    ("npv", "NPV"),
    ("lcoe_per_mwh", "LCOE per MWh"),
    ("cost_per_gpu_hour", "cost per GPU-hour"),
    ("carbon_t_per_year", "carbon [t CO2 / year]"),
    ("clean_energy_share", "clean-energy share"),
)
_TRADE_OFF = (("energy_cost_net", "carbon_t"), ("npv", "carbon_t_per_year"))
_ROWS_SHOWN = 500


def kpi_columns(runs: pd.DataFrame) -> list[tuple[str, str]]:
    """The KPI columns of ``runs`` to plot, with labels: the known ones, each policy's for a ``bench`` sweep."""
    out = []
    for key, label in KPIS:
        if key in runs and pd.api.types.is_numeric_dtype(runs[key]):
            out.append((key, label))
        for col in runs.columns:
            if col.endswith(f"__{key}") and col.count("__") == 1 and pd.api.types.is_numeric_dtype(runs[col]):
                out.append((col, f"{label} ({col.split('__')[0]})"))
    return out


def varying(runs: pd.DataFrame, axes: Sequence[str]) -> list[str]:
    """The axes (columns) that take more than one value among the runs."""
    return [a for a in axes if a in runs and runs[a].astype(str).nunique() > 1]


def _box(runs: pd.DataFrame, kpi: str, label: str, x: str, colour: str | None) -> go.Figure:
    fig = go.Figure()
    groups = [(None, runs)] if colour is None else list(runs.groupby(runs[colour].astype(str), sort=True))
    for name, part in groups:
        fig.add_trace(go.Box(x=part[x].astype(str), y=part[kpi], name=str(name or label), boxpoints="all", pointpos=0))
    fig.update_layout(
        title=f"{label} by {x}" + (f", coloured by {colour}" if colour else ""),
        xaxis_title=x,
        yaxis_title=label,
        boxmode="group",
        height=380,
        showlegend=colour is not None,
    )
    return fig


def _trade_off(runs: pd.DataFrame, colour: str | None) -> go.Figure | None:
    for x, y in _TRADE_OFF:
        if x in runs and y in runs:
            fig = go.Figure()
            groups = [("runs", runs)] if colour is None else list(runs.groupby(runs[colour].astype(str)))
            for name, part in groups:
                fig.add_trace(go.Scatter(x=part[x], y=part[y], mode="markers", name=str(name), text=part["run_id"]))
            fig.update_layout(title=f"{y} against {x}, every run", xaxis_title=x, yaxis_title=y, height=420)
            return fig
    return None


def _table(runs: pd.DataFrame, axes: Sequence[str], kpis: Sequence[tuple[str, str]]) -> str:
    cols = ["run_id", "scenario", *[a for a in axes if a in runs], "status", *[k for k, _ in kpis], "run_seconds"]
    cols = list(dict.fromkeys(c for c in cols if c in runs))
    shown = runs[cols].head(_ROWS_SHOWN)
    rows = [[None if pd.isna(v) else v for v in r] for r in shown.itertuples(index=False)]
    note = "" if len(runs) <= _ROWS_SHOWN else f'<p class="note">first {_ROWS_SHOWN} of {len(runs)} runs</p>'
    return table_html(cols, rows, digits=3) + note


def build_sweep_report(
    runs: pd.DataFrame, axes: Sequence[str], path: Path, name: str, manifest: Mapping[str, Any]
) -> Path:
    """Write the sweep's report to ``path`` and return it.

    Parameters
    ----------
    runs
        One row per run (:func:`wattbit.sweep.store.read_runs`).
    axes
        The columns that hold the sweep's axes (``policy``, ``seed``, ``axis_<name>``, ...).
    path, name
        The page and the sweep's name.
    manifest
        ``sweep.json``'s content (counts, executor, wall time).
    """
    ok = runs[runs["status"] == "ok"]
    kpis = kpi_columns(ok)
    moving = varying(ok, axes)
    sections = []
    if moving and kpis:
        x, colour = moving[0], (moving[1] if len(moving) > 1 else None)
        figs = [figure_html(_box(ok, k, label, x, colour)) for k, label in kpis]
        for other in moving[2:]:
            figs += [figure_html(_box(ok, k, label, other, None)) for k, label in kpis[:2]]
        sections.append(Section("KPIs across the axes", "".join(figs), id="kpis"))
    trade = _trade_off(ok, moving[0] if moving else None)
    if trade is not None:
        sections.append(Section("Trade-off", figure_html(trade), id="trade-off"))
    sections.append(Section("Runs", _table(runs, axes, kpis), id="runs"))
    failed = runs[runs["status"] != "ok"]
    if len(failed):
        rows = [[r.run_id, r.scenario, r.error] for r in failed.itertuples(index=False)]
        sections.append(Section("Runs that failed", table_html(["run_id", "scenario", "error"], rows), id="failed"))
    subtitle = (
        f"{manifest.get('runs')} runs of {manifest.get('command')}: {manifest.get('ok')} ok, "
        f"{manifest.get('errors')} failed; executor {manifest.get('executor')}; {manifest.get('wall_s', 0):.1f} s "
        'wall time for this invocation. Every row is in runs/*.parquet (wattbit sweep query DIR "SQL").'
    )
    return write_page(path, f"wattbit sweep: {name}", subtitle, sections)

"""The data report: each site's weather, grid carbon intensity, prices and curtailment over the scenario period."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from wattbit.data.signals import annual_summary, load_scenario_signals
from wattbit.report.html import Section, figure_html, table_html, write_page
from wattbit.scenario import Scenario

SUMMARY_COLUMNS = [
    ("carbon_g_per_kwh_mean", "mean carbon intensity [g/kWh]"),
    ("price_jpy_per_mwh_mean", "mean price [JPY/MWh]"),
    ("curtailed_mwh", "area curtailment [MWh]"),
    ("curtailment_hours", "hours with curtailment"),
    ("temp_air_c_mean", "mean temperature [°C]"),
    ("temp_wetbulb_c_max", "max wet-bulb [°C]"),
    ("ghi_kwh_m2", "irradiation [kWh/m²]"),
]


def _local_daily(series: pd.Series, tz: str, how: str) -> pd.Series:
    local = series.tz_convert(tz)
    return local.resample("1D").sum() if how == "sum" else local.resample("1D").mean()


def _per_site_figure(signals: dict[str, pd.DataFrame], column: str, title: str, unit: str, tz: str) -> go.Figure:
    fig = go.Figure()
    how = "sum" if column == "curtailed_mwh" else "mean"
    for name, frame in signals.items():
        daily = _local_daily(frame[column], tz, how)
        if how == "sum":
            fig.add_bar(x=daily.index, y=daily.to_numpy(), name=name)
        else:
            fig.add_scatter(x=daily.index, y=daily.to_numpy(), name=name, mode="lines")
    fig.update_layout(title=title, yaxis_title=unit, height=360, margin={"t": 50, "b": 30}, barmode="stack", bargap=0)
    return fig


def _weather_figure(name: str, frame: pd.DataFrame, tz: str) -> go.Figure:
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for col, label in (("temp_air_c", "dry-bulb"), ("temp_wetbulb_c", "wet-bulb")):
        daily = _local_daily(frame[col], tz, "mean")
        fig.add_scatter(x=daily.index, y=daily.to_numpy(), name=f"{label} [°C]", mode="lines")
    ghi = _local_daily(frame["ghi_w_m2"], tz, "mean")
    fig.add_scatter(x=ghi.index, y=ghi.to_numpy(), name="GHI [W/m²]", mode="lines", secondary_y=True, opacity=0.5)
    fig.update_layout(title=f"{name}: daily mean weather", height=340, margin={"t": 50, "b": 30})
    fig.update_yaxes(title_text="°C", secondary_y=False)
    fig.update_yaxes(title_text="W/m²", secondary_y=True)
    return fig


def write_signals_report(
    scenario: Scenario,
    signals: dict[str, pd.DataFrame],
    summary: dict[str, dict[str, float]],
    path: Path,
    extra_sections: list[Section] | None = None,
) -> Path:
    """Write the data report of a scenario to ``path`` (HTML) and return the path."""
    tz = scenario.period.timezone
    rows = [[name, *(summary[name][key] for key, _ in SUMMARY_COLUMNS)] for name in signals]
    sites = scenario.sites
    site_rows = [
        [s.name, s.grid_area, s.it.gpu_model, s.it.gpu_count, s.cooling, s.power_architecture, s.grid_connection_mw]
        for s in sites
    ]
    sections = [
        Section(
            "Summary",
            table_html(["site", *(label for _, label in SUMMARY_COLUMNS)], rows)
            + '<p class="note">Carbon: hourly average intensity of grid electricity (life-cycle unless the scenario '
            "says otherwise). Price: JEPX day-ahead area price. Curtailment: renewable energy curtailed in the whole "
            "grid area, the spare clean power a flexible datacenter could absorb.</p>",
        ),
        Section(
            "Sites",
            table_html(["site", "grid area", "GPU", "GPUs", "cooling", "power", "grid connection [MW]"], site_rows, 0),
        ),
        Section(
            "Carbon intensity",
            figure_html(
                _per_site_figure(signals, "carbon_g_per_kwh", "Daily mean grid carbon intensity", "g CO2-eq/kWh", tz)
            ),
        ),
        Section(
            "Prices",
            figure_html(_per_site_figure(signals, "price_jpy_per_mwh", "Daily mean day-ahead price", "JPY/MWh", tz)),
        ),
        Section(
            "Curtailment",
            figure_html(
                _per_site_figure(
                    signals, "curtailed_mwh", "Daily renewable curtailment in the grid area", "MWh/day", tz
                )
            ),
        ),
        Section("Weather", "".join(figure_html(_weather_figure(n, f, tz)) for n, f in signals.items())),
    ]
    sections.extend(extra_sections or [])
    start, end = scenario.period.start, scenario.period.end
    span = f"{start:%Y-%m-%d %H:%M %z} to {end:%Y-%m-%d %H:%M %z}"
    subtitle = f"{scenario.scenario.description} Period {span}, step {scenario.period.step}."
    return write_page(path, f"wattbit — {scenario.name}", subtitle, sections)


def build_data_report(
    scenario: Scenario, out_dir: Path, extra_sections: list[Section] | None = None
) -> dict[str, dict[str, float]]:
    """Load every site's signals and write ``report.html``, ``summary.json``, ``signals.parquet`` and
    ``provenance.json`` to ``out_dir``; return the per-site summary. ``extra_sections`` go at the end of the page."""
    signals, provenance = load_scenario_signals(scenario)
    summary = {name: annual_summary(frame) for name, frame in signals.items()}
    out_dir.mkdir(parents=True, exist_ok=True)
    long = pd.concat({name: frame for name, frame in signals.items()}, names=["site", "time_utc"]).reset_index()
    long.to_parquet(out_dir / "signals.parquet", index=False)
    doc = {"scenario": scenario.name, "period": _period_dict(scenario), "sites": summary}
    (out_dir / "summary.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    prov = {name: p.to_dict() for name, p in provenance.items()}
    (out_dir / "provenance.json").write_text(json.dumps(prov, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    extra = [s for s in (workload_section(scenario),) if s is not None] + list(extra_sections or [])
    write_signals_report(scenario, signals, summary, out_dir / "report.html", extra)
    return summary


def _period_dict(scenario: Scenario) -> dict[str, str]:
    p = scenario.period
    return {"start": p.start.isoformat(), "end": p.end.isoformat(), "step": p.step, "timezone": p.timezone}


def workload_section(scenario: Scenario) -> Section | None:
    """A table of the scenario's workload traces: what each is, how many records, over what span."""
    from wattbit.data.registry import read_trace

    rows = []
    for trace in scenario.workload.traces:
        frame, meta = read_trace(trace.reader, trace.path, trace.builtin)
        gpu_hours = float(frame["gpu_hours"].sum()) if "gpu_hours" in frame.columns else float("nan")
        start, end = meta.start_utc, meta.end_utc
        span_h = (end - start) / pd.Timedelta("1h") if start is not None and end is not None else float("nan")
        rows.append([meta.reader, meta.description, meta.rows, span_h, gpu_hours])
    if not rows:
        return None
    table = table_html(["reader", "trace", "records", "span [h]", "GPU-hours"], rows, 1)
    note = (
        '<p class="note">Workload traces of the scenario as read (times anchored as documented by each reader). '
        "The simulation that replays them on the fleet comes with the digital-twin engine.</p>"
    )
    return Section("Workload traces", table + note)

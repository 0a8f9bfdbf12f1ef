"""``wattbit plan`` report: the chosen sites and capacities, a sample week of hourly dispatch, cash flows, tornado."""

from __future__ import annotations

import html
import math
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from wattbit.plan.evaluate import tco_per_year
from wattbit.plan.planner import PlanResult, site_rows
from wattbit.report.html import Section, figure_html, table_html, write_page

_WEEK_H = 168


def _money(value: float, currency: str) -> str:
    if not math.isfinite(value):
        return "n/a"
    for size, unit in ((1e12, "tn"), (1e9, "bn"), (1e6, "M")):
        if abs(value) >= size:
            return f"{value / size:,.2f} {unit} {currency}"
    return f"{value:,.0f} {currency}"


def _headline(result: PlanResult) -> str:
    fin, fig, cur = result.finance, result.figures, result.context.currency
    sol = result.solution
    rows: list[list[object]] = [
        ["objective", result.context.spec.objective],
        ["NPV (after tax, at the discount rate)", _money(fin.npv, cur)],
        ["IRR", "n/a" if math.isnan(fin.irr) else f"{fin.irr:.2%}"],
        ["payback [years]", "never" if math.isnan(fin.payback_years) else f"{fin.payback_years:.1f}"],
        ["LCOE of the power supply [per MWh]", _money(fin.lcoe_per_mwh, cur)],
        ["cost per GPU-hour", f"{fin.cost_per_gpu_hour:,.1f} {cur}"],
        ["equivalent annual cost (TCO)", _money(tco_per_year(result.problem, sol), cur)],
        ["GPUs", f"{fig['gpus']:,.0f}"],
        ["PUE (facility / IT energy)", f"{fig['pue']:.3f}"],
        ["carbon [t CO2/yr]", f"{fig['carbon_t_per_year']:,.0f}"],
        ["hourly clean-energy share", f"{fig['clean_energy_share']:.1%}"],
        ["solver", f"{result.method}: {sol.status}; {result.timings_s['solve']:.1f} s"],
    ]
    return table_html(["", "value"], rows)


def _sites_table(result: PlanResult) -> str:
    headers = [
        "site", "area", "built", "IT [MW]", "GPUs", "design", "PV [MW]", "wind [MW]", "battery [MWh]",
        "battery [MW]", "grid [MW]", "ready", "PUE", "grid import [MWh/yr]", "carbon [t/yr]",
    ]  # fmt: skip
    rows = []
    for r in site_rows(result):
        design = ", ".join(f"{k} {v:,.1f} MW" for k, v in r["designs"].items()) or "-"
        rows.append(
            [
                r["site"], r["grid_area"], "yes" if r["build"] else "no", r["it_mw"], int(round(r["gpus"])), design,
                r["pv_mw"], r["wind_mw"], r["battery_mwh"], r["battery_mw"], r["connection_mw"],
                r["ready_year"] if r["ready_year"] is not None else "-",
                "-" if r["pue"] is None else f"{r['pue']:.3f}", r["grid_import_mwh_per_year"], r["carbon_t_per_year"],
            ]
        )  # fmt: skip
    body = table_html(headers, rows)
    excluded = result.context.excluded
    if excluded:
        items = "".join(f"<li>{html.escape(k)}: {html.escape(v)}</li>" for k, v in excluded.items())
        body += f'<p class="note">Left out by the constraints:</p><ul class="note">{items}</ul>'
    return body


def sample_week_start(result: PlanResult) -> int:
    """First hour of the sample week: ``options.report_week_start`` if given, else the 7 days (from local midnight)
    with the most on-site renewable output, which show PV, wind and the battery at work."""
    index = result.context.index_utc
    tz = result.context.scenario.period.timezone
    local = index.tz_convert(tz)
    wanted = result.context.spec.options.report_week_start
    n = len(index)
    if n <= _WEEK_H:
        return 0
    if wanted is not None:
        hits = np.flatnonzero(local.normalize().date == wanted)
        if hits.size:
            return int(min(hits[0], n - _WEEK_H))
    sol = result.solution
    renewable = (sol.pv_out_mw + sol.wind_out_mw).sum(axis=0)
    window = np.convolve(renewable, np.ones(_WEEK_H), mode="valid")
    midnights = np.flatnonzero(local.hour[: window.size] == 0)
    if midnights.size == 0:
        return int(np.argmax(window))
    return int(midnights[np.argmax(window[midnights])])


def _week_figure(result: PlanResult) -> go.Figure:
    sol = result.solution
    start = sample_week_start(result)
    sl = slice(start, start + _WEEK_H)
    x = result.context.index_utc[sl].tz_convert(result.context.scenario.period.timezone)
    fig = go.Figure()
    supply = (
        ("PV used", sol.pv_out_mw - sol.spill_mw * _share(sol.pv_out_mw, sol.wind_out_mw)),
        ("wind used", sol.wind_out_mw - sol.spill_mw * _share(sol.wind_out_mw, sol.pv_out_mw)),
        ("battery discharge", sol.discharge_mw),
        ("grid import", sol.grid_mw),
    )
    for name, values in supply:
        fig.add_scatter(x=x, y=np.maximum(values.sum(axis=0)[sl], 0.0), name=name, mode="lines", stackgroup="supply")
    fig.add_scatter(x=x, y=sol.facility_mw.sum(axis=0)[sl], name="facility load", mode="lines", line={"color": "black"})
    fig.add_scatter(
        x=x, y=(sol.facility_mw + sol.charge_mw).sum(axis=0)[sl], name="load + battery charge", mode="lines",
        line={"color": "black", "dash": "dot"},
    )  # fmt: skip
    fig.add_scatter(x=x, y=sol.spill_mw.sum(axis=0)[sl], name="spilled", mode="lines", line={"color": "grey"})
    fig.update_layout(
        title="All sites, one week of hourly dispatch (supply stacked)", yaxis_title="MW", height=420,
        margin={"t": 50, "b": 30},
    )  # fmt: skip
    return fig


def _share(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    total = a + b
    return np.divide(a, total, out=np.zeros_like(a), where=total > 0)


def _cash_flow_figure(result: PlanResult) -> go.Figure:
    table = result.finance.table
    cur = result.context.currency.lower()
    x = table["calendar_year"] if "calendar_year" in table else table.index
    fig = go.Figure()
    fig.add_bar(x=x, y=table[f"project_cash_flow_{cur}"] / 1e9, name="project cash flow")
    fig.add_scatter(x=x, y=table[f"cumulative_project_cash_flow_{cur}"] / 1e9, name="cumulative", mode="lines+markers")
    fig.add_bar(x=x, y=-table[f"capex_{cur}"] / 1e9, name="capex", opacity=0.4)
    fig.update_layout(
        title="Project cash flow after tax", yaxis_title=f"bn {result.context.currency}", height=380, barmode="overlay",
        margin={"t": 50, "b": 30},
    )  # fmt: skip
    return fig


def _tornado_figure(result: PlanResult) -> go.Figure:
    base = result.finance.npv / 1e9
    bars = list(reversed(result.tornado))
    names = [b.name for b in bars]
    fig = go.Figure()
    fig.add_bar(
        y=names, x=[b.npv_low / 1e9 - base for b in bars], base=base, orientation="h", name="input -20 %",
    )  # fmt: skip
    fig.add_bar(y=names, x=[b.npv_high / 1e9 - base for b in bars], base=base, orientation="h", name="input +20 %")
    fig.update_layout(
        title=f"NPV sensitivity, plan held fixed (base {base:,.1f} bn {result.context.currency})",
        xaxis_title=f"NPV [bn {result.context.currency}]", barmode="overlay", height=60 + 45 * max(len(bars), 1),
        margin={"t": 50, "b": 30, "l": 220},
    )  # fmt: skip
    return fig


def _cash_flow_table(result: PlanResult) -> str:
    table = result.finance.table
    cur = result.context.currency.lower()
    cols = ["revenue", "energy_cost", "fixed_opex", "capex", "tax", "project_cash_flow"]
    headers = ["year", *(f"{c.replace('_', ' ')} [M {cur.upper()}]" for c in cols)]
    year = table["calendar_year"] if "calendar_year" in table else pd.Series(table.index, index=table.index)
    rows = [[int(year.loc[i]), *(float(table.loc[i, f"{c}_{cur}"]) / 1e6 for c in cols)] for i in table.index]
    return table_html(headers, rows, 0)


def _sources(result: PlanResult) -> str:
    items = []
    for site, prov in result.context.provenance.items():
        parts = [f"{kind}: {src.get('reader') or 'builtin'}" for kind, src in prov.sources.items()]
        items.append(f"<li>{html.escape(site)} — {html.escape('; '.join(parts))}</li>")
    return (
        '<p class="note">Facility power per MW of IT comes from the site physics at the target utilisation (hourly '
        "PUE from the power chain and cooling models), PV and wind per MW from pvlib and windpowerlib, prices are "
        "JEPX area prices plus the grid adder. Every cost and its source (V/S/U) is listed in docs/planner.md; the "
        "tornado re-evaluates the finances of this plan, it does not re-optimise.</p>"
        f'<ul class="note">{"".join(items)}</ul>'
    )


def plan_sections(result: PlanResult) -> list[Section]:
    """The report's sections."""
    return [
        Section("Plan", _headline(result), id="plan"),
        Section("Sites and capacities", _sites_table(result), id="sites"),
        Section("A sample week of hourly dispatch", figure_html(_week_figure(result)), id="dispatch"),
        Section("Cash flows", figure_html(_cash_flow_figure(result)) + _cash_flow_table(result), id="cash-flows"),
        Section("Sensitivity (tornado)", figure_html(_tornado_figure(result)), id="tornado"),
        Section("Data and assumptions", _sources(result), id="sources"),
    ]


def build_plan_report(result: PlanResult, out_dir: Path) -> Path:
    """Write ``out_dir/report.html``; return its path."""
    ctx = result.context
    p = ctx.scenario.period
    subtitle = (
        f"{ctx.scenario.scenario.description} Planned over the hourly signals of {p.start:%Y-%m-%d} to "
        f"{p.end:%Y-%m-%d} ({result.problem.hours:,} h), {len(ctx.sites)} candidate sites; money in {ctx.currency}."
    )
    return write_page(out_dir / "report.html", f"wattbit plan — {ctx.scenario.name}", subtitle, plan_sections(result))

"""``wattbit plan`` report: the headline figures with what they include, the sites and capacities, a sample week of
hourly dispatch, the cash flows (a table that adds up as printed), the tornado, every finance input with its source,
and with ``--draws`` the Monte Carlo with its distributions, the deterministic case and its own tornado."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go

from wattbit.durable import Checkpoint
from wattbit.montecarlo.chunks import CHUNK_DRAWS
from wattbit.montecarlo.engine import MonteCarloResult
from wattbit.parallel import Executor
from wattbit.physics.carbon import carbon_accounting_label
from wattbit.plan.evaluate import tco_per_year
from wattbit.plan.planner import PlanResult, plan, site_rows, write_plan
from wattbit.plan.record import finance_inputs
from wattbit.plan.robust import reoptimised_monte_carlo
from wattbit.plan.uncertainty import plan_monte_carlo, uncertainty_summary
from wattbit.report.html import Section, figure_html, table_html, write_page
from wattbit.scenario import Scenario
from wattbit.sim.run import run_identity

_WEEK_H = 168
#: The cash-flow table's items, each with its sign, so that every row adds up to the project cash flow.
CASH_FLOW_ITEMS = (
    ("revenue", 1.0, "revenue"),
    ("export_revenue", 1.0, "export revenue"),
    ("production_incentive", 1.0, "production incentive"),
    ("energy_cost", -1.0, "grid energy"),
    ("fixed_opex", -1.0, "O&M (fixed)"),
    ("variable_opex", -1.0, "O&M (variable)"),
    ("fixed_asset_tax", -1.0, "fixed-asset tax"),
    ("capex", -1.0, "capex"),
    ("residual_value", 1.0, "residual value"),
    ("capacity_grant", 1.0, "capital grant"),
    ("itc", 1.0, "tax credit paid out"),
    ("tax", -1.0, "corporate tax"),
)


def _money(value: float, currency: str) -> str:
    if not math.isfinite(value):
        return "n/a"
    for size, unit in ((1e12, "tn"), (1e9, "bn"), (1e6, "M")):
        if abs(value) >= size:
            return f"{value / size:,.2f} {unit} {currency}"
    return f"{value:,.0f} {currency}"


def _payback(years: float, start: int | None) -> str:
    if math.isnan(years):
        return "never (the cumulative cash flow ends below zero)"
    when = "" if start is None else f", i.e. during {start + math.ceil(years)}"
    return f"{years:.1f} years from year 0{when}"


def _per_gpu_hour(value: float, currency: str, jpy_per_usd: float | None) -> str:
    """A GPU-hour amount, with its USD equivalent when the money is yen and a rate is stated."""
    shown = f"{value:,.1f} {currency}"
    if jpy_per_usd is not None and currency == "JPY" and math.isfinite(value):
        shown += f" ({value / jpy_per_usd:,.2f} USD at {jpy_per_usd:g} JPY/USD)"
    return shown


def _headline(result: PlanResult) -> str:
    fin, fig, cur = result.finance, result.figures, result.context.currency
    res, sol, ctx = fin.result, result.solution, result.context
    start = ctx.spec.start_year
    n = ctx.scenario.finance.project_years
    residual_n = float(res.columns["residual_value"][n])
    rate = ctx.scenario.finance.jpy_per_usd
    year0 = "year 0" if start is None else f"year 0 = {start}"
    rows: list[list[object]] = [
        ["objective", ctx.spec.objective],
        ["NPV (after corporate and fixed-asset tax, project cash flows)", _money(fin.npv, cur)],
        ["discount rate", f"{fin.discount_rate:.2%}"],
        ["IRR (after tax)", "n/a" if math.isnan(fin.irr) else f"{fin.irr:.2%}"],
        [f"payback, residual value included (counted from {year0})", _payback(fin.payback_years, start)],
        [f"payback without the residual value (from {year0})", _payback(res.payback_years_without_residual, start)],
        [
            f"residual value at the end ({ctx.spec.finance.residual_method.replace('_', ' ')}), present value",
            f"{_money(residual_n, cur)} in year {n}; {_money(res.residual_present_value, cur)} today",
        ],
        ["NPV without the residual value", _money(res.npv_without_residual, cur)],
        ["GPU-hour price (revenue, project year 1)", _per_gpu_hour(fin.price_per_gpu_hour, cur, rate)],
        ["break-even GPU-hour price (after tax, NPV = 0)", _per_gpu_hour(fin.breakeven_price_per_gpu_hour, cur, rate)],
        ["cost per GPU-hour (pre-tax, pre-financing, levelised)", _per_gpu_hour(fin.cost_per_gpu_hour, cur, rate)],
        ["LCOE of the power supply (pre-tax) [per MWh]", _money(fin.lcoe_per_mwh, cur)],
        ["equivalent annual cost (TCO, pre-tax)", _money(tco_per_year(result.problem, sol), cur)],
        ["exchange rate", "not needed" if rate is None else f"{rate:g} JPY/USD"],
        ["GPUs", f"{fig['gpus']:,.0f}"],
        ["PUE (facility / IT energy)", f"{fig['pue']:.3f}"],
        [
            f"carbon a year [{carbon_accounting_label(s.data.carbon.basis for s in ctx.sites)}]",
            f"{fig['carbon_t_per_year']:,.0f}",
        ],
        ["hourly clean-energy share", f"{fig['clean_energy_share']:.1%}"],
        ["solver", f"{result.method}: {sol.status}; {result.timings_s['solve']:.1f} s"],
    ]
    note = (
        '<p class="note">Corporate tax is computed once for the whole project (all build stages, losses carried '
        "forward across them). The residual value is what the equipment is worth at the end of the last year; "
        "payback and NPV are shown with and without it. Cost per GPU-hour and LCOE are before tax; the break-even "
        "price is the GPU-hour price at which the after-tax NPV is zero.</p>"
    )
    return table_html(["", "value"], rows) + note


_SITE_SUMS = ("it_mw", "gpus", "pv_mw", "wind_mw", "battery_mwh", "battery_mw", "connection_mw",
              "grid_import_mwh_per_year", "carbon_t_per_year")  # fmt: skip


def _sites_table(result: PlanResult) -> str:
    headers = [
        "site", "area", "built", "IT [MW]", "GPUs", "design", "PV [MW]", "wind [MW]", "battery [MWh]",
        "battery [MW]", "grid [MW]", "ready", "PUE", "grid import [MWh/yr]", "carbon [t CO2-eq/yr]",
    ]  # fmt: skip
    rows: list[list[object]] = []
    sites = site_rows(result)
    for r in sites:
        design = ", ".join(f"{k} {v:,.1f} MW" for k, v in r["designs"].items()) or "-"
        rows.append(
            [
                r["site"], r["grid_area"], "yes" if r["build"] else "no", r["it_mw"], int(round(r["gpus"])), design,
                r["pv_mw"], r["wind_mw"], r["battery_mwh"], r["battery_mw"], r["connection_mw"],
                str(r["ready_year"]) if r["ready_year"] is not None else "-",
                "-" if r["pue"] is None else f"{r['pue']:.3f}", r["grid_import_mwh_per_year"], r["carbon_t_per_year"],
            ]
        )  # fmt: skip
    total = {k: sum(round(float(r[k]), 1) for r in sites) for k in _SITE_SUMS}  # adds the figures as printed
    rows.append(
        [
            "total", "", "", total["it_mw"], sum(int(round(r["gpus"])) for r in sites), "", total["pv_mw"],
            total["wind_mw"], total["battery_mwh"], total["battery_mw"], total["connection_mw"], "", "",
            total["grid_import_mwh_per_year"], total["carbon_t_per_year"],
        ]
    )  # fmt: skip
    body = table_html(headers, rows) + '<p class="note">The total row adds the figures as printed.</p>'
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


def rounded_to_total(items: list[float], total: float) -> tuple[list[int], int]:
    """``items`` rounded to whole units so that they add up to ``total`` rounded (largest-remainder rounding: the
    rounding gap goes to the items whose remainders are largest, so that each stays within one unit of its value).

    ``items`` must add up to ``total`` (to rounding); returns the rounded items and the rounded total.
    """
    target = round(total)
    floors = [math.floor(x) for x in items]
    gap = target - sum(floors)
    order = sorted(range(len(items)), key=lambda i: items[i] - floors[i], reverse=True)
    out = list(floors)
    for k in range(min(max(gap, 0), len(items))):
        out[order[k]] += 1
    for k in range(min(max(-gap, 0), len(items))):  # only if the items add to less than their floors' sum
        out[order[-1 - k]] -= 1
    return out, target


def cash_flow_rows(result: PlanResult) -> tuple[list[str], list[list[object]]]:
    """The cash-flow table: per year, each item with its sign and the project cash flow they add to, in whole
    millions rounded so that every row adds up as printed (:func:`rounded_to_total`).

    Items that are zero in every year are left out (they add nothing).
    """
    cols = result.finance.result.columns
    cur = result.context.currency
    start = result.context.spec.start_year
    items = [(name, sign, label) for name, sign, label in CASH_FLOW_ITEMS if np.any(cols[name] != 0.0)]
    headers = ["year", *(f"{label} [M {cur}]" for _, _, label in items), f"project cash flow [M {cur}]"]
    rows: list[list[object]] = []
    for t in range(cols["capex"].size):
        year = str(t if start is None else start + t)
        values = [sign * float(cols[name][t]) / 1e6 for name, sign, _ in items]
        rounded, total = rounded_to_total(values, float(cols["project_cash_flow"][t]) / 1e6)
        rows.append([year, *rounded, total])
    return headers, rows


def _cash_flow_table(result: PlanResult) -> str:
    headers, rows = cash_flow_rows(result)
    note = (
        '<p class="note">Costs are negative; each row adds up to the project cash flow (whole millions, rounded so '
        "that the row adds up as printed; each figure is within 1 of its exact value). The corporate tax is "
        "computed on the whole project, after loss carry-forward and tax credits. All columns, with depreciation, "
        "taxable income, losses, the loan and the equity view, are in cash_flows.csv at full precision.</p>"
    )
    return table_html(headers, rows, 0) + note


def _inputs_table(result: PlanResult) -> str:
    rows = []
    for r in finance_inputs(result.context):
        value = r["value"]
        shown = ", ".join(f"{v:g}" for v in value) if isinstance(value, list) else value
        if isinstance(value, float):
            shown = f"{value:,.6g}"
        rows.append([r["name"], "-" if shown is None else str(shown), r["unit"], r["source"], r["reference"]])
    note = (
        '<p class="note">Every input of the finances, with where it came from: the scenario file, the documented '
        "default (with its source; V primary, S secondary, U assumption) or a candidate's own override. The same "
        "list is in plan.json under <code>inputs</code>.</p>"
    )
    return table_html(["input", "value", "unit", "source", "reference"], rows) + note


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


def _uncertainty(result: PlanResult, mc: MonteCarloResult) -> str:
    doc = uncertainty_summary(mc, result)
    cur = result.context.currency
    dist_rows = [
        [d["input"], d["distribution"], f"{d['p10']:.3f}", f"{d['p50']:.3f}", f"{d['p90']:.3f}", d["source"]]
        for d in doc["distributions"]
    ]
    dists = table_html(["input (multiplier)", "distribution", "P10", "median", "P90", "source"], dist_rows)
    out_rows = []
    for name, unit, scale in (("npv", f"bn {cur}", 1e9), ("carbon_t_per_year", "t CO2-eq/yr", 1.0),
                              ("cost_per_gpu_hour", f"{cur}/GPU-h", 1.0)):  # fmt: skip
        q = doc[name]
        out_rows.append(
            [f"{name} [{unit}]", *(f"{v / scale:,.1f}" for v in (doc["deterministic"][name],
             doc["at_input_medians"][name], q["p10"], q["p50"], q["p90"], q["mean"]))]
        )  # fmt: skip
    outputs = table_html(["output", "deterministic", "inputs at medians", "P10", "P50", "P90", "mean"], out_rows)
    bars = doc["tornado"]
    fig = go.Figure(
        go.Bar(
            y=[b["input"] for b in reversed(bars)], x=[b["swing_p10_to_p90"] / 1e9 for b in reversed(bars)],
            orientation="h",
        )
    )  # fmt: skip
    fig.update_layout(
        title=f"Monte Carlo tornado: NPV change from each input's P10 to its P90 ({doc['draws']} draws)",
        xaxis_title=f"bn {cur}", height=60 + 45 * max(len(bars), 1), margin={"t": 50, "b": 30, "l": 220},
    )  # fmt: skip
    tornado_rows = [[b["input"], f"{b['swing_p10_to_p90'] / 1e9:,.1f}", f"{b['rank_correlation']:.2f}"] for b in bars]
    tornado = table_html(["input", f"NPV swing P10 to P90 [bn {cur}]", "rank correlation with NPV"], tornado_rows)
    note = (
        f'<p class="note">{html.escape(doc["note"])} The tornado is a least-squares fit of the NPV on the drawn inputs '
        "across the draws (slope times the input's P10-P90 range); seed "
        f"{doc['seed']}. The plan is held fixed.</p>"
    )
    return dists + outputs + note + figure_html(fig) + tornado


def plan_sections(result: PlanResult, monte_carlo: MonteCarloResult | None = None) -> list[Section]:
    """The report's sections (with the Monte Carlo's when it is given)."""
    sections = [
        Section("Plan", _headline(result), id="plan"),
        Section("Sites and capacities", _sites_table(result), id="sites"),
        Section("A sample week of hourly dispatch", figure_html(_week_figure(result)), id="dispatch"),
        Section("Cash flows", figure_html(_cash_flow_figure(result)) + _cash_flow_table(result), id="cash-flows"),
        Section("Sensitivity (tornado)", figure_html(_tornado_figure(result)), id="tornado"),
    ]
    if monte_carlo is not None:
        sections.append(Section("Uncertainty (Monte Carlo)", _uncertainty(result, monte_carlo), id="uncertainty"))
    sections += [
        Section("Finance inputs and their sources", _inputs_table(result), id="inputs"),
        Section("Data and assumptions", _sources(result), id="sources"),
    ]
    return sections


def build_plan_report(result: PlanResult, out_dir: Path, monte_carlo: MonteCarloResult | None = None) -> Path:
    """Write ``out_dir/report.html``; return its path."""
    ctx = result.context
    p = ctx.scenario.period
    subtitle = (
        f"{ctx.scenario.scenario.description} Planned over the hourly signals of {p.start:%Y-%m-%d} to "
        f"{p.end:%Y-%m-%d} ({result.problem.hours:,} h), {len(ctx.sites)} candidate sites; money in {ctx.currency}."
    )
    sections = plan_sections(result, monte_carlo)
    return write_page(out_dir / "report.html", f"wattbit plan — {ctx.scenario.name}", subtitle, sections)


def run_plan_to(
    scenario: Scenario,
    out_dir: Path,
    draws: int = 0,
    seed: int = 0,
    executor: str | Mapping[str, Any] | Executor | None = "local",
    resume: bool = False,
    checkpoint_every: int = CHUNK_DRAWS,
    reoptimise: bool = False,
) -> tuple[PlanResult, MonteCarloResult | None, MonteCarloResult | None, bool]:
    """``wattbit plan``: plan ``scenario``, run ``draws`` Monte Carlo draws of it, write the plan's files and report.

    The run is checkpointed in ``out_dir/.checkpoint`` (the solved plan, then every ``checkpoint_every`` draws);
    ``resume`` continues after a crash or ``kill -9`` with the same result, evaluating only what was not saved. The
    checkpoint is removed once ``plan.json`` (written last of the result files) and ``report.html`` are in place.

    Returns
    -------
    result, monte_carlo, reoptimised, resumed
        The plan, its Monte Carlo (None without draws), the Monte Carlo that re-optimises the capacities in every
        draw (None unless ``reoptimise``; not checkpointed), and whether a checkpoint was found.

    Raises
    ------
    WattbitInputError
        With ``resume``, for a checkpoint of another run (another scenario, draw count or seed).
    """
    store = Checkpoint(out_dir, run_identity("plan", scenario, draws=draws, seed=seed))
    resumed = store.start(resume)
    result = store.load("plan")
    if not isinstance(result, PlanResult):
        result = plan(scenario)
        store.save("plan", result)
    mc = plan_monte_carlo(result, draws, seed, executor, store=store, chunk_draws=checkpoint_every) if draws else None
    again = reoptimised_monte_carlo(result, draws, seed, executor) if draws and reoptimise else None
    write_plan(result, out_dir, mc, again)
    build_plan_report(result, out_dir, mc)
    store.clear()
    return result, mc, again, resumed

"""``wattbit plan``: choose sites and capacities for a scenario's ``[plan]``, then evaluate the plan's finances.

:func:`plan` runs the whole chain — inputs (:mod:`wattbit.plan.inputs`), optimisation
(:func:`wattbit.opt.solve_capacity`), finance and tornado (:mod:`wattbit.plan.evaluate`) — and :func:`write_plan` writes
``plan.json``, ``cash_flows.csv`` and ``dispatch.parquet``; the HTML report is :mod:`wattbit.report.plan_report`.
Formulation, parameters and sources: ``docs/planner.md``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wattbit.durable import atomic_write_csv, atomic_write_json, atomic_write_parquet
from wattbit.montecarlo.engine import MonteCarloResult
from wattbit.opt.capacity import CapacityProblem, CapacitySolution, Method, choose_method, site_gpus, solve_capacity
from wattbit.physics.carbon import carbon_accounting_label
from wattbit.plan.evaluate import PlanFinance, TornadoBar, annual_figures, evaluate_plan, tco_per_year, tornado
from wattbit.plan.inputs import PlanContext, build_problem
from wattbit.plan.record import finance_inputs
from wattbit.plan.robust import robust_plan
from wattbit.plan.uncertainty import uncertainty_summary
from wattbit.scenario import Scenario

#: Keys every plan.json has at its top level (the issue's list).
REQUIRED_KEYS = (
    "sites",
    "npv",
    "irr",
    "payback_years",
    "lcoe_per_mwh",
    "cost_per_gpu_hour",
    "carbon_t_per_year",
    "clean_energy_share",
)
_ZERO = 1e-6


@dataclass(frozen=True, eq=False)
class PlanResult:
    """A solved plan with its finances.

    Attributes
    ----------
    problem, context, solution
        What was optimised, with what, and the optimum.
    finance
        NPV, IRR, payback, LCOE, cost per GPU-hour and cash flows (:class:`~wattbit.plan.evaluate.PlanFinance`).
    tornado
        NPV sensitivities, widest first.
    figures
        Yearly energy, carbon and clean-energy figures.
    method
        ``"monolithic"`` or ``"decomposed"``.
    timings_s
        Wall time of each step [s].
    """

    problem: CapacityProblem
    context: PlanContext
    solution: CapacitySolution
    finance: PlanFinance
    tornado: list[TornadoBar]
    figures: dict[str, float]
    method: str
    timings_s: dict[str, float]


def plan(scenario: Scenario, method: Method = "auto") -> PlanResult:
    """Plan ``scenario`` (which must have a ``[plan]`` section).

    Raises
    ------
    ScenarioError
        For a missing or inconsistent ``[plan]``.
    InfeasibleError
        If no plan meets the constraints; the message names those that bind.
    """
    t0 = time.perf_counter()
    problem, context = build_problem(scenario)
    t1 = time.perf_counter()
    chosen = choose_method(problem, method)
    solution = solve_capacity(problem, chosen)
    t2 = time.perf_counter()
    finance = evaluate_plan(context, problem, solution, breakeven=True)
    bars = tornado(context, problem, solution)
    t3 = time.perf_counter()
    return PlanResult(
        problem=problem,
        context=context,
        solution=solution,
        finance=finance,
        tornado=bars,
        figures=annual_figures(context, problem, solution),
        method=chosen,
        timings_s={"inputs": t1 - t0, "solve": t2 - t1, "finance": t3 - t2, "total": t3 - t0},
    )


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities to None, numpy scalars to Python, tiny negatives of rounding to 0."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return 0.0 if abs(value) < 1e-9 else value
    return value


def site_rows(result: PlanResult) -> list[dict[str, Any]]:
    """One dict per candidate: build decision, capacities, design mix and yearly energy."""
    p, ctx, sol = result.problem, result.context, result.solution
    gpus = site_gpus(p, sol)
    w = p.year_weight
    rows = []
    for i, site in enumerate(ctx.sites):
        it = sol.it_mw[i]
        facility = float(sol.facility_mw[i].sum()) * w
        it_energy = float(it @ ctx.it_mw_per_it_mw[i]) * 8760.0
        rows.append(
            {
                "site": site.name,
                "grid_area": site.grid_area,
                "gpu_model": site.it.gpu_model,
                "build": bool(sol.build[i] > 0.5) or bool(it.sum() > _ZERO),
                "it_mw": float(it.sum()),
                "gpus": float(gpus[i]),
                "designs": {p.options[j]: float(it[j]) for j in range(len(p.options)) if it[j] > _ZERO},
                "pv_mw": float(sol.pv_mw[i]),
                "wind_mw": float(sol.wind_mw[i]),
                "battery_mwh": float(sol.battery_mwh[i]),
                "battery_mw": float(sol.battery_mw[i]),
                "connection_mw": float(sol.connection_mw[i]),
                "ready_year": ctx.ready_year[i],
                "pue": facility / it_energy if it_energy > 0 else None,
                "facility_energy_mwh_per_year": facility,
                "grid_import_mwh_per_year": float(sol.grid_mw[i].sum()) * w,
                "carbon_t_per_year": float((sol.grid_mw[i] * p.carbon_t_per_mwh[i]).sum()) * w,
            }
        )
    return rows


def plan_summary(result: PlanResult) -> dict[str, Any]:
    """The content of ``plan.json``."""
    p, ctx, fin, sol = result.problem, result.context, result.finance, result.solution
    spec, period = ctx.spec, ctx.scenario.period
    notes = []
    unknown = [ctx.sites[i].name for i in np.flatnonzero(np.isnan(p.cfe_fraction).any(axis=1))]
    if unknown:
        notes.append(f"grid carbon-free share unknown at {unknown}: counted as 0 % clean in clean_energy_share")
    if p.hours != 8760:
        notes.append(f"the period has {p.hours} hours; each stands for {p.year_weight:.4g} h of a year")
    if math.isnan(fin.breakeven_price_per_gpu_hour):
        notes.append("no break-even GPU-hour price: the plan sells no GPU-hours at the price given")
    doc = {
        "scenario": ctx.scenario.name,
        "objective": spec.objective,
        "currency": ctx.currency,
        "period": {"start": period.start.isoformat(), "end": period.end.isoformat(), "hours": p.hours},
        "sites": site_rows(result),
        "excluded": ctx.excluded,
        "npv": fin.npv,
        "irr": fin.irr,
        "irr_note": fin.irr_note,
        "payback_years": fin.payback_years,
        "discounted_payback_years": fin.discounted_payback_years,
        "lcoe_per_mwh": fin.lcoe_per_mwh,
        "cost_per_gpu_hour": fin.cost_per_gpu_hour,
        "equity_npv": fin.equity_npv,
        "discount_rate": fin.discount_rate,
        "carbon_t_per_year": result.figures["carbon_t_per_year"],
        "carbon_accounting": carbon_accounting_label(s.data.carbon.basis for s in ctx.sites),
        "clean_energy_share": result.figures["clean_energy_share"],
        **finance_extras(result),
        "tco_per_year": tco_per_year(p, sol),
        "energy": result.figures,
        "target": spec.target.model_dump(mode="json"),
        "constraints": spec.constraints.model_dump(mode="json"),
        "stages": [
            {"build_year_offset": o, "site_shares": {ctx.sites[i].name: float(x) for i, x in enumerate(s) if x > 0}}
            for o, s in fin.stages
        ],
        "tornado": [
            {"input": b.name, "low": b.low, "high": b.high, "npv_low": b.npv_low, "npv_high": b.npv_high}
            for b in result.tornado
        ],
        "solver": {
            "method": result.method,
            "status": sol.status,
            "gap": sol.mip_gap,
            "timings_s": result.timings_s,
        },
        "notes": notes,
    }
    return dict(_clean(doc))


def finance_extras(result: PlanResult) -> dict[str, Any]:
    """The keys ``plan.json`` has beside the headline metrics: payback without the residual and from when it counts,
    the residual value, the break-even price, the exchange rate, every finance input with its source, and the
    definitions of the metrics."""
    ctx, fin = result.context, result.finance
    res = fin.result
    table = res.columns
    n = ctx.scenario.finance.project_years
    start = ctx.spec.start_year
    cur = ctx.currency
    last_cf = float(table["project_cash_flow"][n])
    residual_n = float(table["residual_value"][n])
    first_capex = int(np.flatnonzero(table["capex"] > 0)[0]) if (table["capex"] > 0).any() else 0
    return {
        "payback_years_without_residual": res.payback_years_without_residual,
        "payback_counted_from": {
            "project_year": 0,
            "calendar_year": start,
            "first_capex_project_year": first_capex,
            "note": "years from year 0 (the start of construction of the first stage), linear within the crossing year",
        },
        "npv_without_residual": res.npv_without_residual,
        "residual_value": {
            "method": ctx.spec.finance.residual_method,
            "final_year": residual_n,
            "present_value": res.residual_present_value,
            "share_of_final_year_cash_flow": residual_n / last_cf if last_cf > 0 else None,
        },
        "price_per_gpu_hour": fin.price_per_gpu_hour,
        "breakeven_price_per_gpu_hour": fin.breakeven_price_per_gpu_hour,
        "cost_per_gpu_hour_pre_tax": res.cost_per_gpu_hour,
        "exchange_rate_jpy_per_usd": ctx.scenario.finance.jpy_per_usd,
        "inputs": finance_inputs(ctx),
        "definitions": {
            "npv": f"after corporate and fixed-asset tax, project (unlevered) cash flows at discount_rate [{cur}]",
            "irr": "after tax, project cash flows [1/yr]",
            "payback_years": "years from year 0 until the cumulative after-tax cash flow stays >= 0, residual included",
            "payback_years_without_residual": "the same with no residual value (tax recomputed)",
            "lcoe_per_mwh": f"levelised cost of the power supply per MWh delivered, pre-tax [{cur}/MWh]",
            "cost_per_gpu_hour": f"levelised total cost per GPU-hour, pre-tax and pre-financing [{cur}/GPU-h]",
            "breakeven_price_per_gpu_hour": f"project-year-1 GPU-hour price with after-tax NPV = 0 [{cur}/GPU-h]",
            "carbon_t_per_year": "grid imports x the grid's average intensity; basis and scope in carbon_accounting",
        },
    }


def summary_lines(doc: dict[str, Any]) -> list[str]:
    """Short text lines of a :func:`plan_summary`: each built site, then the headline figures."""
    lines = []
    for site in doc["sites"]:
        if site["build"]:
            lines.append(
                f"  {site['site']}: {site['it_mw']:,.1f} MW IT ({site['gpus']:,.0f} GPUs), PV {site['pv_mw']:,.1f} MW, "
                f"wind {site['wind_mw']:,.1f} MW, battery {site['battery_mwh']:,.1f} MWh / {site['battery_mw']:,.1f} "
                f"MW, grid {site['connection_mw']:,.1f} MW"
            )
    cur = doc["currency"]
    labels = {
        "npv": ("npv (after tax)", cur),
        "irr": ("irr (after tax)", ""),
        "payback_years": ("payback_years (from year 0, with residual)", "years"),
        "payback_years_without_residual": ("payback_years without residual", "years"),
        "lcoe_per_mwh": ("lcoe_per_mwh (pre-tax)", f"{cur}/MWh"),
        "cost_per_gpu_hour": ("cost_per_gpu_hour (pre-tax)", f"{cur}/GPU-h"),
        "breakeven_price_per_gpu_hour": ("breakeven_price_per_gpu_hour (after tax)", f"{cur}/GPU-h"),
        "carbon_t_per_year": ("carbon_t_per_year", doc.get("carbon_accounting", "")),
    }
    for key, (label, unit) in labels.items():
        value = doc.get(key)
        if value is None:
            shown = "never (the cumulative cash flow ends below zero)" if key.startswith("payback") else "n/a"
            lines.append(f"{label}: {shown}")
        else:
            lines.append(f"{label}: {value:,.4g} {unit}".rstrip())
    share = doc["clean_energy_share"]
    lines.append(f"clean_energy_share: {'n/a' if share is None else f'{share:.1%}'}")
    return lines


def dispatch_frame(result: PlanResult) -> pd.DataFrame:
    """Hourly dispatch of every built site, long format (time_utc, site, columns in MW / MWh)."""
    p, sol = result.problem, result.solution
    index = result.context.index_utc
    frames = []
    for i, name in enumerate(p.sites):
        frames.append(
            pd.DataFrame(
                {
                    "site": name,
                    "facility_mw": sol.facility_mw[i],
                    "pv_mw": sol.pv_out_mw[i],
                    "wind_mw": sol.wind_out_mw[i],
                    "grid_mw": sol.grid_mw[i],
                    "battery_charge_mw": sol.charge_mw[i],
                    "battery_discharge_mw": sol.discharge_mw[i],
                    "battery_soc_mwh": sol.soc_mwh[i],
                    "spill_mw": sol.spill_mw[i],
                },
                index=index,
            )
        )
    return pd.concat(frames).rename_axis("time_utc").reset_index()


def write_plan(
    result: PlanResult,
    out_dir: Path,
    monte_carlo: MonteCarloResult | None = None,
    reoptimised: MonteCarloResult | None = None,
) -> dict[str, Path]:
    """Write ``plan.json``, ``cash_flows.csv`` and ``dispatch.parquet`` to ``out_dir``; return their paths.

    Parameters
    ----------
    result
        The plan.
    out_dir
        Folder to write to (made if missing).
    monte_carlo
        The plan's Monte Carlo (:func:`wattbit.plan.uncertainty.plan_monte_carlo`), if any: its P10/P50/P90 go into
        ``plan.json`` under ``uncertainty`` (:func:`~wattbit.plan.uncertainty.uncertainty_summary`) and its draws
        to ``montecarlo.csv``.
    reoptimised
        The Monte Carlo that re-optimises the capacities per draw (:func:`wattbit.plan.robust.reoptimised_monte_carlo`),
        if any: its rows go to ``montecarlo_reoptimised.csv`` and the robust plan
        (:func:`~wattbit.plan.robust.robust_plan`) into ``plan.json`` under ``robust``.

    Returns
    -------
    dict of str to Path
        ``plan``, ``cash_flows``, ``dispatch`` and, with ``monte_carlo``, ``montecarlo``; with ``reoptimised``,
        ``montecarlo_reoptimised``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "plan.json").unlink(missing_ok=True)  # written last, atomically: its presence means a whole result
    paths = {
        "plan": out_dir / "plan.json",
        "cash_flows": out_dir / "cash_flows.csv",
        "dispatch": out_dir / "dispatch.parquet",
    }
    doc = plan_summary(result)
    if monte_carlo is not None:
        paths["montecarlo"] = out_dir / "montecarlo.csv"
        atomic_write_csv(paths["montecarlo"], monte_carlo.table)
        doc["uncertainty"] = _clean(uncertainty_summary(monte_carlo, result))  # JSON-safe like the rest of plan.json
    if reoptimised is not None:
        paths["montecarlo_reoptimised"] = out_dir / "montecarlo_reoptimised.csv"
        atomic_write_csv(paths["montecarlo_reoptimised"], reoptimised.table)
        doc["robust"] = _clean(robust_plan(reoptimised, result))
    atomic_write_csv(paths["cash_flows"], result.finance.table)
    atomic_write_parquet(paths["dispatch"], dispatch_frame(result), index=False)
    atomic_write_json(paths["plan"], doc, allow_nan=False)
    return paths

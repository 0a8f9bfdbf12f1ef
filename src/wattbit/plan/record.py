"""Every input the plan's finances rest on, with its value, unit and source, for ``plan.json`` and the report.

Each row says where the value came from: ``scenario`` (given in the file), ``default`` (the documented default, with
its source and status V/S/U) or ``override`` (a candidate's own value in place of the plan-wide one). Money is
shown in the currency it was given in and in the finance currency.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from wattbit.plan.inputs import PlanContext, building_cost_factor
from wattbit.plan.kinds import TAX_LIFE_YEARS, kind_terms
from wattbit.scenario.money import MoneyModel, money_fields
from wattbit.scenario.plan import PLAN_KINDS

#: Sources of the non-money defaults (status as in REFERENCE.md); money defaults carry theirs in
#: :data:`wattbit.scenario.plan_costs.COST_DEFAULTS`.
DEFAULT_SOURCES: dict[str, str] = {
    "finance.discount_rate": "U: REFERENCE.md §6, datacenter WACC 7-10 %",
    "finance.project_years": "U",
    "finance.currency": "JPY by default",
    "plan.target.utilization": "U: average GPU load",
    "plan.costs.building_share": "S: Cushman & Wakefield US 2025 breakdown, shell 21 % + back of house 4 % + "
    "office 2 %",
    "plan.costs.building_life_years": "U: reinforced-concrete structure",
    "plan.costs.mep_life_years": "S: planning lives of chillers 15 y, switchboards 20 y (BELCA via sk-designing.com)",
    "plan.costs.facility_opex_fraction": "U",
    "plan.costs.dc800_capex_factor": "U",
    "plan.costs.it_life_years": "U: server life 5-6 y",
    "plan.costs.it_opex_fraction": "U",
    "plan.costs.pv_life_years": "U",
    "plan.costs.wind_life_years": "U",
    "plan.costs.battery_life_years": "V: REopt replacement year",
    "plan.costs.connection_life_years": "U",
    "plan.costs.risk_premium_fraction": "U",
    "plan.finance.tax_rate": "S: MOF, 法人実効税率 from FY2018",
    "plan.finance.loss_treatment": "S: Japan, losses carried forward",
    "plan.finance.loss_carryforward_years": "S: losses from FY2018, 10 years",
    "plan.finance.loss_offset_limit": "S: large corporations 50 %",
    "plan.finance.loss_full_offset_years": "U: the project company is a subsidiary of a large corporation",
    "plan.finance.fixed_asset_tax_rate": "S: Local Tax Act standard rate 1.4 % (municipal guides)",
    "plan.finance.residual_method": "U: market value at the end (GPU resale curve, else linear)",
    "plan.finance.gpu_resale_fraction_by_age": "U: GPU Lease Rate Index midpoints (secondary market, unaudited)",
    "plan.finance.energy_price_escalation": "U: none",
    "plan.finance.revenue_escalation": "U: none",
    "plan.finance.capex_escalation": "U: none",
    "plan.finance.opex_escalation": "U: none",
}
_SKIP = {"building_cost_factor_by_area", "tax_life_years", "gpu_resale_fraction_by_age"}


def _row(name: str, value: Any, unit: str, source: str, reference: str = "") -> dict[str, Any]:
    return {"name": name, "value": value, "unit": unit, "source": source, "reference": reference}


def _plain_fields(model: BaseModel, prefix: str) -> list[dict[str, Any]]:
    """Rows of the non-money, non-table fields of ``model`` (scalars and lists)."""
    rows = []
    money_names: set[str] = set()
    if isinstance(model, MoneyModel):
        for prefix, tail in model.MONEY.values():
            money_names |= set(money_fields(prefix, tail).values())
    for name in type(model).model_fields:
        value = getattr(model, name)
        if name in money_names or name in _SKIP or isinstance(value, BaseModel | dict) or value is None:
            continue
        path = f"{prefix}.{name}"
        origin = "scenario" if name in model.model_fields_set else "default"
        unit = "years" if name.endswith("_years") else ""
        rows.append(_row(path, value, unit, origin, "" if origin == "scenario" else DEFAULT_SOURCES.get(path, "")))
    return rows


def finance_inputs(ctx: PlanContext) -> list[dict[str, Any]]:
    """Every finance input of the plan, one row each: ``name``, ``value``, ``unit``, ``source``, ``reference``."""
    spec, scen = ctx.spec, ctx.scenario.finance
    fin = spec.finance
    rows = _plain_fields(scen, "finance")
    if scen.jpy_per_usd is None:
        note = f"not stated: every amount is in {scen.currency}"
        rows.append(_row("finance.jpy_per_usd", None, "JPY/USD", "scenario", note))
    rows.append(_row("plan.target.utilization", spec.target.utilization, "", _origin(spec.target, "utilization"),
                     DEFAULT_SOURCES["plan.target.utilization"]))  # fmt: skip
    assert ctx.money is not None
    for amount in ctx.amounts:
        row = _row(amount.field, amount.value, amount.currency, amount.origin, amount.source)
        row["value_in_finance_currency"] = amount.value * ctx.money.factor(amount.currency)
        rows.append(row)
    rows += _plain_fields(spec.costs, "plan.costs")
    for cand, site, factor in zip(ctx.candidates, ctx.sites, ctx.units.building_cost_factor, strict=True):
        own = cand.building_cost_factor is not None
        rows.append(
            _row(f"plan.candidates[{site.name}].building_cost_factor", float(factor), "x Tokyo",
                 "override" if own else "default",
                 "" if own else f"S: MLIT 2018 RC cost per m², grid area {site.grid_area}")
        )  # fmt: skip
    rows += _plain_fields(fin, "plan.finance")
    rows.append(_row("plan.finance.gpu_resale_fraction_by_age", list(fin.gpu_resale_fraction_by_age), "share of price",
                     _origin(fin, "gpu_resale_fraction_by_age"),
                     DEFAULT_SOURCES["plan.finance.gpu_resale_fraction_by_age"]))  # fmt: skip
    if fin.cost_of_equity is None:
        rows.append(_row("plan.finance.cost_of_equity", scen.discount_rate, "", "default", "= finance.discount_rate"))
    terms = kind_terms(spec)
    for kind in PLAN_KINDS:
        own = kind in fin.tax_life_years
        rows.append(
            _row(f"plan.finance.tax_life_years.{kind}", terms[kind].tax_life_years, "years",
                 "scenario" if own else "default",
                 "" if own else f"S: 耐用年数省令 ({TAX_LIFE_YEARS[kind]} y, docs/planner.md)")
        )  # fmt: skip
    for name in ("special_depreciation", "loan", "grant", "itc", "production_incentive"):
        model = getattr(fin, name)
        if model is not None:
            rows += _plain_fields(model, f"plan.finance.{name}")
    return rows


def _origin(model: BaseModel, name: str) -> str:
    return "scenario" if name in model.model_fields_set else "default"


def building_factors(ctx: PlanContext) -> dict[str, float]:
    """Each candidate's building cost factor relative to Tokyo."""
    return {s.name: building_cost_factor(ctx.spec, c, s) for c, s in zip(ctx.candidates, ctx.sites, strict=True)}

"""From a project's pre-tax yearly flows to its taxes, cash flows and metrics (one computation for the whole project).

:mod:`wattbit.finance.project` adds up the pre-tax flows of every stage of a project (:func:`finish` sees only the
sums), so that corporate tax, loss carry-forward and tax credits are computed once, on the project's taxable income,
as a project company files them. Formulas: ``docs/finance.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from wattbit.finance.incentives import Incentives
from wattbit.finance.metrics import discount_factors, irr, mirr, payback_years
from wattbit.finance.tax import TaxSpec, corporate_tax, use_tax_credits
from wattbit.units import FloatArray

#: Pre-tax columns every stage contributes (summed year by year); those starting with ``_`` stay out of the table.
PRE_TAX_COLUMNS = (
    "revenue",
    "export_revenue",
    "production_incentive",
    "energy_cost",
    "fixed_opex",
    "variable_opex",
    "fixed_asset_tax",
    "ebitda",
    "capex",
    "residual_value",
    "capacity_grant",
    "itc",
    "depreciation",
    "debt_drawdown",
    "interest",
    "principal_repayment",
    "debt_balance",
    "supply_cost",
    "total_cost",
    "gpu_hours",
    "facility_energy_mwh",
    "_itc_credit",
    "_grant_taxable",
    "_untaxed_incentive",
    "_residual_supply",
)
_NON_MONEY = frozenset({"gpu_hours", "facility_energy_mwh", "discount_factor"})
#: Column order of the cash-flow table.
TABLE_COLUMNS = (
    "revenue",
    "export_revenue",
    "production_incentive",
    "energy_cost",
    "fixed_opex",
    "variable_opex",
    "fixed_asset_tax",
    "ebitda",
    "capex",
    "residual_value",
    "capacity_grant",
    "itc",
    "depreciation",
    "taxable_income",
    "loss_used",
    "loss_carried_forward",
    "corporate_tax_before_credits",
    "tax_credit_used",
    "tax_credit_carried_forward",
    "tax",
    "project_cash_flow",
    "discount_factor",
    "discounted_project_cash_flow",
    "cumulative_project_cash_flow",
    "debt_drawdown",
    "interest",
    "principal_repayment",
    "debt_balance",
    "equity_tax",
    "equity_cash_flow",
    "supply_cost",
    "total_cost",
    "gpu_hours",
    "facility_energy_mwh",
)


@dataclass(frozen=True, eq=False)
class FinanceResult:
    """Headline metrics of a project and its yearly cash flows.

    Attributes
    ----------
    npv
        Net present value of the project cash flows at ``discount_rate`` [currency], after tax.
    irr
        Project IRR per year; NaN when there is none or it is not unique (see ``irr_note``).
    irr_note
        Why ``irr`` is NaN (empty when it is not).
    irr_candidates
        All rates with zero NPV.
    mirr
        Modified IRR, finance and reinvestment rate = ``discount_rate``.
    equity_npv
        NPV of the equity cash flows at ``cost_of_equity`` [currency].
    equity_irr
        Equity IRR per year, NaN with ``equity_irr_note`` when there is no unique one.
    equity_irr_note
        Why ``equity_irr`` is NaN.
    payback_years
        Simple payback of the project cash flows, counted from year 0 [years]; NaN if never.
    discounted_payback_years
        Payback of the discounted project cash flows [years]; NaN if never.
    npv_without_residual, payback_years_without_residual
        The same with no residual value at the end (tax recomputed) [currency, years].
    residual_present_value
        Residual value in year N discounted to year 0, before tax [currency].
    lcoe_per_mwh
        Levelised cost of the power supply per MWh delivered to the facility [currency/MWh], before tax.
    cost_per_gpu_hour
        Levelised cost per GPU-hour delivered [currency/GPU-h], before tax and financing.
    discount_rate
        The project rate used (WACC unless given).
    cost_of_equity
        The equity rate used.
    currency
        The currency label.
    """

    npv: float
    irr: float
    irr_note: str
    irr_candidates: tuple[float, ...]
    mirr: float
    equity_npv: float
    equity_irr: float
    equity_irr_note: str
    payback_years: float
    discounted_payback_years: float
    npv_without_residual: float
    payback_years_without_residual: float
    residual_present_value: float
    lcoe_per_mwh: float
    cost_per_gpu_hour: float
    discount_rate: float
    cost_of_equity: float
    currency: str
    columns: dict[str, FloatArray] = field(repr=False)
    start_year: int | None = field(default=None, repr=False)

    @property
    def table(self) -> pd.DataFrame:
        """Cash-flow table: one row per project year, money columns suffixed with the currency (``_jpy``)."""
        suffix = self.currency.lower()
        years = np.arange(self.columns["capex"].size)
        data: dict[str, object] = {"year": years}
        if self.start_year is not None:
            data["calendar_year"] = years + self.start_year
        for name in TABLE_COLUMNS:
            data[name if name in _NON_MONEY else f"{name}_{suffix}"] = self.columns[name]
        return pd.DataFrame(data).set_index("year")


@dataclass(frozen=True)
class Rules:
    """What :func:`finish` needs besides the flows: tax rules, credit rules, rates, currency."""

    tax: TaxSpec
    incentives: Incentives
    discount_rate: float
    cost_of_equity: float
    currency: str
    start_year: int | None


@dataclass
class _Taxed:
    taxable: FloatArray
    before_credits: FloatArray
    loss_used: FloatArray
    loss_balance: FloatArray
    credit_used: FloatArray
    credit_balance: FloatArray
    tax: FloatArray


def taxable_income(cols: dict[str, FloatArray], with_residual: bool = True) -> FloatArray:
    """``EBITDA - depreciation + residual + taxable grant - untaxed production incentive`` per year."""
    taxable = cols["ebitda"] - cols["depreciation"] + cols["_grant_taxable"] - cols["_untaxed_incentive"]
    return taxable + cols["residual_value"] if with_residual else taxable


def _tax(taxable: FloatArray, credits: FloatArray, rules: Rules) -> _Taxed:
    inc = rules.incentives
    result = corporate_tax(taxable, rules.tax)
    if credits.any():
        used, balance = use_tax_credits(result.tax, credits, inc.itc_tax_limit_share, inc.itc_carryforward_years)
    else:
        used, balance = np.zeros(taxable.size), np.zeros(taxable.size)
    return _Taxed(taxable, result.tax, result.loss_used, result.loss_balance, used, balance, result.tax - used)


def project_cash_flow(cols: dict[str, FloatArray], tax: FloatArray, with_residual: bool = True) -> FloatArray:
    """``EBITDA - capex + residual + grant + ITC (cash) - tax`` per year."""
    cf = cols["ebitda"] - cols["capex"] + cols["capacity_grant"] + cols["itc"] - tax
    return cf + cols["residual_value"] if with_residual else cf


def npv_after_tax(cols: dict[str, FloatArray], rules: Rules, df: FloatArray) -> float:
    """The project NPV of ``cols`` (tax computed here) at discount factors ``df``."""
    taxed = _tax(taxable_income(cols), cols["_itc_credit"], rules)
    return float(project_cash_flow(cols, taxed.tax) @ df)


def finish(cols: dict[str, FloatArray], rules: Rules) -> FinanceResult:
    """Tax, cash flows and metrics of a project from its summed pre-tax flows ``cols`` (:data:`PRE_TAX_COLUMNS`)."""
    size = cols["capex"].size
    df = discount_factors(rules.discount_rate, size)
    credits = cols["_itc_credit"]
    taxed = _tax(taxable_income(cols), credits, rules)
    cf = project_cash_flow(cols, taxed.tax)
    bare = _tax(taxable_income(cols, with_residual=False), credits, rules)
    cf_bare = project_cash_flow(cols, bare.tax, with_residual=False)
    interest = cols["interest"]
    levered = _tax(taxed.taxable - interest, credits, rules) if interest.any() else taxed
    equity_cf = cf + taxed.tax - levered.tax + cols["debt_drawdown"] - interest - cols["principal_repayment"]
    discounted = cf * df
    out = dict(cols)
    out.update(
        taxable_income=taxed.taxable,
        loss_used=taxed.loss_used,
        loss_carried_forward=taxed.loss_balance,
        corporate_tax_before_credits=taxed.before_credits,
        tax_credit_used=taxed.credit_used,
        tax_credit_carried_forward=taxed.credit_balance,
        tax=taxed.tax,
        project_cash_flow=cf,
        discount_factor=df,
        discounted_project_cash_flow=discounted,
        cumulative_project_cash_flow=np.cumsum(cf),
        equity_tax=levered.tax,
        equity_cash_flow=equity_cf,
    )
    project_irr, equity_irr = irr(cf), irr(equity_cf)
    return FinanceResult(
        npv=float(discounted.sum()),
        irr=project_irr.value,
        irr_note=project_irr.reason,
        irr_candidates=project_irr.candidates,
        mirr=mirr(cf, rules.discount_rate, rules.discount_rate),
        equity_npv=float(equity_cf @ discount_factors(rules.cost_of_equity, size)),
        equity_irr=equity_irr.value,
        equity_irr_note=equity_irr.reason,
        payback_years=payback_years(cf),
        discounted_payback_years=payback_years(discounted),
        npv_without_residual=float(cf_bare @ df),
        payback_years_without_residual=payback_years(cf_bare),
        residual_present_value=float(cols["residual_value"] @ df),
        lcoe_per_mwh=levelised(cols["supply_cost"], cols["facility_energy_mwh"], df),
        cost_per_gpu_hour=levelised(cols["total_cost"], cols["gpu_hours"], df),
        discount_rate=rules.discount_rate,
        cost_of_equity=rules.cost_of_equity,
        currency=rules.currency,
        columns=out,
        start_year=rules.start_year,
    )


def levelised(cost: FloatArray, quantity: FloatArray, df: FloatArray) -> float:
    """``sum_t cost_t d_t / sum_t quantity_t d_t``; NaN without quantity."""
    denominator = float(quantity @ df)
    return float(cost @ df) / denominator if denominator > 0.0 else math.nan

"""Project finance for an AI datacenter with its power supply: cash flows, NPV, IRR, payback, LCOE, cost per GPU-hour.

Build a :class:`Project` from :class:`~wattbit.finance.components.Component` s, one year of
:class:`~wattbit.finance.components.Operations`, :class:`~wattbit.finance.tax.TaxSpec`,
:class:`~wattbit.finance.financing.Financing` and :class:`~wattbit.finance.incentives.Incentives`, then call
:func:`evaluate`. Every formula, default and source is in ``docs/finance.md``.

Two views are computed. The **project** (unlevered) cash flow ``EBITDA - capex + residual + grant + ITC - tax``
(tax on income before interest) is discounted at the project rate (the WACC unless given). The **equity** cash flow
adds the loan (drawdown, interest, repayment) and pays tax on income after interest; it is discounted at the cost
of equity.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from wattbit.errors import WattbitInputError
from wattbit.finance.capital import CapitalFlows, capital_flows
from wattbit.finance.components import Component, Operations
from wattbit.finance.financing import Financing, loan_schedule, wacc
from wattbit.finance.incentives import Incentives
from wattbit.finance.metrics import discount_factors, irr, mirr, payback_years
from wattbit.finance.tax import TaxSpec, corporate_tax
from wattbit.units import FloatArray, check_int

_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True, eq=False)
class Project:
    """Everything needed to evaluate one investment.

    Attributes
    ----------
    components
        Capital components, at least one, unique names.
    operations
        One representative operating year, repeated for every year with escalation.
    project_years
        Operating years ``N``, 1..60 (construction is year 0).
    tax
        Corporate tax rules (default: Japan, see :mod:`wattbit.finance.tax`).
    financing
        Cost of equity, loan and discount rate.
    incentives
        ITC, production incentive, capacity grant (none by default).
    currency
        ISO 4217 code used as a label (default ``"JPY"``); no conversion is done.
    start_year
        Calendar year of year 0, 1900..2200, for the table; None leaves it out.
    residual_value
        Credit each component's unused life at the end (default True).
    """

    components: tuple[Component, ...]
    operations: Operations
    project_years: int = 20
    tax: TaxSpec = field(default_factory=TaxSpec)
    financing: Financing = field(default_factory=Financing)
    incentives: Incentives = field(default_factory=Incentives)
    currency: str = "JPY"
    start_year: int | None = None
    residual_value: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "components", tuple(self.components))
        n = check_int(self.project_years, "project_years", 1, 60)
        object.__setattr__(self, "project_years", n)
        if not self.components:
            raise WattbitInputError("a project needs at least one component", field="components")
        names = [c.name for c in self.components]
        repeated = sorted({x for x in names if names.count(x) > 1})
        if repeated:
            raise WattbitInputError(f"component names must be unique; repeated: {repeated}", field="components")
        for i, c in enumerate(self.components):
            late = [y for y in c.replacement_years or () if y >= n]
            if late:
                raise WattbitInputError(
                    f"component {c.name!r}: replacement_years {late} must be before the last project year "
                    f"(project_years={n}, so 1..{n - 1})",
                    field=f"components[{i}].replacement_years",
                )
        self._check_years(n)
        if not isinstance(self.currency, str) or not _CURRENCY.match(self.currency):
            raise WattbitInputError(
                f"currency={self.currency!r} must be a three-letter ISO 4217 code such as 'JPY'", field="currency"
            )
        if self.start_year is not None:
            check_int(self.start_year, "start_year", 1900, 2200)

    def _check_years(self, n: int) -> None:
        loan = self.financing.loan
        if loan is not None and loan.tenor_years > n:
            raise WattbitInputError(
                f"loan tenor_years={loan.tenor_years} is longer than the project (project_years={n})",
                field="financing.loan.tenor_years",
            )
        pbi = self.incentives.production
        if pbi is not None and pbi.term_years > n:
            raise WattbitInputError(
                f"production incentive term_years={pbi.term_years} is longer than the project (project_years={n})",
                field="incentives.production.term_years",
            )
        grant = self.incentives.grant
        if grant is not None and grant.payment_year > n:
            raise WattbitInputError(
                f"grant payment_year={grant.payment_year} is after the project's last year {n}",
                field="incentives.grant.payment_year",
            )


@dataclass(frozen=True, eq=False)
class FinanceResult:
    """Headline metrics of a project and its yearly cash flows.

    Attributes
    ----------
    npv
        Net present value of the project cash flows at ``discount_rate`` [currency].
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
        Simple payback of the project cash flows [years from year 0]; NaN if never.
    discounted_payback_years
        Payback of the discounted project cash flows [years]; NaN if never.
    lcoe_per_mwh
        Levelised cost of the power supply per MWh delivered to the facility [currency/MWh].
    cost_per_gpu_hour
        Levelised cost per GPU-hour delivered [currency/GPU-h], before tax.
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
        for name, values in self.columns.items():
            data[name if name in _NON_MONEY else f"{name}_{suffix}"] = values
        return pd.DataFrame(data).set_index("year")


_NON_MONEY = frozenset({"gpu_hours", "facility_energy_mwh", "discount_factor"})


@dataclass
class _Operating:
    revenue: FloatArray
    export_revenue: FloatArray
    production_incentive: FloatArray
    energy_cost: FloatArray
    ebitda: FloatArray
    taxable_income: FloatArray


def _operating(project: Project, cap: CapitalFlows, price_per_gpu_hour: float) -> _Operating:
    ops = project.operations
    n = project.project_years
    t = np.arange(n, dtype=np.float64)
    revenue = np.zeros(n + 1)
    revenue[1:] = (price_per_gpu_hour * ops.gpu_hours_per_year) * (1.0 + ops.revenue_escalation) ** t
    energy_factor = (1.0 + ops.energy_price_escalation) ** t
    energy_cost = np.zeros(n + 1)
    energy_cost[1:] = ops.energy_cost_per_year * energy_factor
    export_revenue = np.zeros(n + 1)
    export_revenue[1:] = ops.export_revenue_per_year * energy_factor
    pbi_spec = project.incentives.production
    pbi = np.zeros(n + 1) if pbi_spec is None else pbi_spec.payments(ops.renewable_generation_mwh_per_year, n)
    ebitda = revenue + export_revenue + pbi - energy_cost - cap.fixed_opex - cap.variable_opex
    taxable = ebitda - cap.depreciation + cap.residual + cap.grant_taxable
    if pbi_spec is not None and not pbi_spec.taxable:
        taxable = taxable - pbi
    return _Operating(revenue, export_revenue, pbi, energy_cost, ebitda, taxable)


def _project_cash_flow(cap: CapitalFlows, op: _Operating, tax: FloatArray) -> FloatArray:
    return op.ebitda - cap.capex + cap.residual + cap.grant + cap.itc - tax


def _rates(project: Project, cap: CapitalFlows) -> tuple[float, float]:
    """Loan principal and the project discount rate."""
    fin = project.financing
    net_initial = float(cap.capex[0]) - cap.grant_total
    principal = 0.0 if fin.loan is None else fin.loan.amount(net_initial)
    if principal > 0.0 and principal > net_initial * (1.0 + 1e-12):
        raise WattbitInputError(
            f"loan principal {principal:,.0f} exceeds the net initial investment {net_initial:,.0f} "
            "(initial capex less capacity grant)",
            field="financing.loan.principal",
        )
    if fin.discount_rate is not None:
        return principal, fin.discount_rate
    if fin.loan is None or principal == 0.0:
        return principal, fin.cost_of_equity
    return principal, wacc(fin.cost_of_equity, principal / net_initial, fin.loan.rate, project.tax.rate)


def evaluate(project: Project) -> FinanceResult:
    """Cash flows and metrics of ``project``.

    Parameters
    ----------
    project
        The project.

    Returns
    -------
    FinanceResult
        NPV, IRR, MIRR, equity NPV/IRR, payback, LCOE of the power supply, cost per GPU-hour and the cash-flow
        table (``result.table``).

    Raises
    ------
    WattbitInputError
        If the loan is larger than the net initial investment.
    """
    n = project.project_years
    cap = capital_flows(project.components, project.incentives, n, project.residual_value)
    op = _operating(project, cap, project.operations.price_per_gpu_hour)
    principal, rate = _rates(project, cap)
    tax_u = corporate_tax(op.taxable_income, project.tax)
    project_cf = _project_cash_flow(cap, op, tax_u.tax)
    df = discount_factors(rate, n + 1)
    discounted = project_cf * df

    loan = project.financing.loan
    zeros = np.zeros(n + 1)
    sched = loan_schedule(loan, principal, n) if loan is not None else None
    drawdown, interest, repaid, balance = sched if sched is not None else (zeros, zeros, zeros, zeros)
    tax_l = corporate_tax(op.taxable_income - interest, project.tax) if sched is not None else tax_u
    equity_cf = project_cf + tax_u.tax - tax_l.tax + drawdown - interest - repaid
    ke = project.financing.cost_of_equity

    ops = project.operations
    gpu_hours = np.zeros(n + 1)
    gpu_hours[1:] = ops.gpu_hours_per_year
    mwh = np.zeros(n + 1)
    mwh[1:] = ops.facility_energy_mwh_per_year
    net_energy = op.energy_cost - op.export_revenue - op.production_incentive
    supply_cost = (
        cap.capex_supply - cap.residual_supply + cap.opex_supply + net_energy - cap.itc_supply - cap.grant_supply
    )
    total_cost = cap.capex - cap.residual + cap.fixed_opex + cap.variable_opex + net_energy - cap.itc - cap.grant
    project_irr = irr(project_cf)
    equity_irr = irr(equity_cf)
    columns = {
        "revenue": op.revenue,
        "export_revenue": op.export_revenue,
        "production_incentive": op.production_incentive,
        "energy_cost": op.energy_cost,
        "fixed_opex": cap.fixed_opex,
        "variable_opex": cap.variable_opex,
        "ebitda": op.ebitda,
        "capex": cap.capex,
        "residual_value": cap.residual,
        "capacity_grant": cap.grant,
        "itc": cap.itc,
        "depreciation": cap.depreciation,
        "taxable_income": op.taxable_income,
        "loss_used": tax_u.loss_used,
        "loss_carried_forward": tax_u.loss_balance,
        "tax": tax_u.tax,
        "project_cash_flow": project_cf,
        "discount_factor": df,
        "discounted_project_cash_flow": discounted,
        "cumulative_project_cash_flow": np.cumsum(project_cf),
        "debt_drawdown": drawdown,
        "interest": interest,
        "principal_repayment": repaid,
        "debt_balance": balance,
        "equity_tax": tax_l.tax,
        "equity_cash_flow": equity_cf,
        "supply_cost": supply_cost,
        "total_cost": total_cost,
        "gpu_hours": gpu_hours,
        "facility_energy_mwh": mwh,
    }
    return FinanceResult(
        npv=float(discounted.sum()),
        irr=project_irr.value,
        irr_note=project_irr.reason,
        irr_candidates=project_irr.candidates,
        mirr=mirr(project_cf, rate, rate),
        equity_npv=float(equity_cf @ discount_factors(ke, n + 1)),
        equity_irr=equity_irr.value,
        equity_irr_note=equity_irr.reason,
        payback_years=payback_years(project_cf),
        discounted_payback_years=payback_years(discounted),
        lcoe_per_mwh=_levelised(supply_cost, mwh, df),
        cost_per_gpu_hour=_levelised(total_cost, gpu_hours, df),
        discount_rate=rate,
        cost_of_equity=ke,
        currency=project.currency,
        columns=columns,
        start_year=project.start_year,
    )


def _levelised(cost: FloatArray, quantity: FloatArray, df: FloatArray) -> float:
    denominator = float(quantity @ df)
    return float(cost @ df) / denominator if denominator > 0.0 else math.nan


def breakeven_price_per_gpu_hour(project: Project, target_npv: float = 0.0) -> float:
    """The year-1 price per GPU-hour at which the project NPV (after tax) equals ``target_npv``.

    The NPV rises with the price with a slope between ``(1 - tax rate) S`` and ``S``, where ``S`` is the discounted,
    escalated GPU-hours; the root is bracketed with those bounds and found by regula falsi (Illinois variant). The
    result may be negative when the project pays back without selling GPU-hours.

    Parameters
    ----------
    project
        The project (its ``operations.price_per_gpu_hour`` is ignored).
    target_npv
        NPV to reach [currency].

    Returns
    -------
    float
        Price [currency/GPU-h]; NaN if the project delivers no GPU-hours.
    """
    n = project.project_years
    ops = project.operations
    cap = capital_flows(project.components, project.incentives, n, project.residual_value)
    _, rate = _rates(project, cap)
    df = discount_factors(rate, n + 1)
    slope = float(ops.gpu_hours_per_year * (1.0 + ops.revenue_escalation) ** np.arange(n, dtype=np.float64) @ df[1:])
    if slope <= 0.0:
        return math.nan

    def gap(price: float) -> float:
        op = _operating(project, cap, price)
        tax = corporate_tax(op.taxable_income, project.tax).tax
        return float(_project_cash_flow(cap, op, tax) @ df) - target_npv

    f0 = gap(0.0)
    if f0 == 0.0:
        return 0.0
    far = -f0 / ((1.0 - project.tax.rate) * slope)
    lo, hi = (0.0, far) if f0 < 0.0 else (far, 0.0)
    f_lo, f_hi = (f0, gap(far)) if f0 < 0.0 else (gap(far), f0)
    side = 0
    tol = 1e-12 * max(abs(far), 1e-9)
    for _ in range(100):
        x = hi - f_hi * (hi - lo) / (f_hi - f_lo) if f_hi != f_lo else 0.5 * (lo + hi)
        fx = gap(x)
        if fx == 0.0 or hi - lo <= tol:
            return x
        if fx < 0.0:
            lo, f_lo = x, fx
            f_hi = f_hi * 0.5 if side == -1 else f_hi
            side = -1
        else:
            hi, f_hi = x, fx
            f_lo = f_lo * 0.5 if side == 1 else f_lo
            side = 1
    return 0.5 * (lo + hi)


def with_price_per_gpu_hour(project: Project, price_per_gpu_hour: float) -> Project:
    """A copy of ``project`` selling GPU-hours at ``price_per_gpu_hour`` (year 1)."""
    return replace(project, operations=replace(project.operations, price_per_gpu_hour=price_per_gpu_hour))

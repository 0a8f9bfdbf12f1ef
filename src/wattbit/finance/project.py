"""Project finance for an AI datacenter with its power supply: cash flows, NPV, IRR, payback, LCOE, cost per GPU-hour.

Build a :class:`Project` from :class:`~wattbit.finance.components.Component` s, one year of
:class:`~wattbit.finance.components.Operations`, :class:`~wattbit.finance.tax.TaxSpec`,
:class:`~wattbit.finance.financing.Financing` and :class:`~wattbit.finance.incentives.Incentives`, then call
:func:`evaluate`. Every formula, default and source is in ``docs/finance.md``.

Two views are computed. The **project** (unlevered) cash flow ``EBITDA - capex + residual + grant + ITC - tax``
(tax on income before interest) is discounted at the project rate (the WACC unless given). The **equity** cash flow
adds the loan (drawdown, interest, repayment) and pays tax on income after interest; it is discounted at the cost
of equity.

A project built in stages is a :class:`StagedProject`: each stage is a :class:`Project` whose year 0 falls in a
given year of the whole; the stages' pre-tax flows are added year by year and taxed once, as one company
(:mod:`wattbit.finance.result`), so a loss of one stage offsets the income of another.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from wattbit.errors import WattbitInputError
from wattbit.finance.capital import CapitalFlows, capital_flows
from wattbit.finance.components import Component, Operations
from wattbit.finance.financing import Financing, loan_schedule, wacc
from wattbit.finance.incentives import Incentives
from wattbit.finance.metrics import discount_factors
from wattbit.finance.residual import RESIDUAL_METHODS, ResidualMethod
from wattbit.finance.result import PRE_TAX_COLUMNS, FinanceResult, Rules, finish, npv_after_tax
from wattbit.finance.tax import FixedAssetTax, TaxSpec
from wattbit.units import FloatArray, check_int, check_number

__all__ = [
    "FinanceResult",
    "Project",
    "StagedProject",
    "breakeven_price_per_gpu_hour",
    "breakeven_revenue_scale",
    "evaluate",
    "with_price_per_gpu_hour",
]

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
    residual
        How each component's last purchase is valued at the end: ``"market_value"`` (default), ``"book_value"`` or
        ``"none"`` (:mod:`wattbit.finance.residual`).
    residual_scale
        Multiplier on every residual value, >= 0 (1: as valued; a sensitivity lever).
    fixed_asset_tax
        Japan's fixed-asset tax (:class:`~wattbit.finance.tax.FixedAssetTax`), or None (default) for none.
    """

    components: tuple[Component, ...]
    operations: Operations
    project_years: int = 20
    tax: TaxSpec = field(default_factory=TaxSpec)
    financing: Financing = field(default_factory=Financing)
    incentives: Incentives = field(default_factory=Incentives)
    currency: str = "JPY"
    start_year: int | None = None
    residual: ResidualMethod = "market_value"
    residual_scale: float = 1.0
    fixed_asset_tax: FixedAssetTax | None = None

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
        if self.residual not in RESIDUAL_METHODS:
            raise WattbitInputError(
                f"residual={self.residual!r} must be one of {list(RESIDUAL_METHODS)}", field="residual"
            )
        check_number(self.residual_scale, "residual_scale", 0.0, 10.0)

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
class StagedProject:
    """A project built in stages and taxed as one company.

    Attributes
    ----------
    stages
        ``(build_year, project)`` pairs: the stage's year 0 (its construction) is year ``build_year`` of the whole,
        and its ``project_years`` is ``project_years - build_year``. All stages share the tax rules, the financing
        rates, the tax-credit rules and the currency; each has its own components, operations, loan and grant.
    project_years
        Operating years ``N`` of the whole (its construction is year 0).
    start_year
        Calendar year of the whole's year 0, or None.
    """

    stages: tuple[tuple[int, Project], ...]
    project_years: int
    start_year: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "stages", tuple(self.stages))
        n = check_int(self.project_years, "project_years", 1, 60)
        if not self.stages:
            raise WattbitInputError("a staged project needs at least one stage", field="stages")
        first = self.stages[0][1]
        for i, (offset, stage) in enumerate(self.stages):
            check_int(offset, f"stages[{i}].build_year", 0, n - 1)
            if stage.project_years != n - offset:
                raise WattbitInputError(
                    f"stage {i} is built in year {offset} of a {n}-year project, so it runs {n - offset} years; "
                    f"its project_years is {stage.project_years}",
                    field=f"stages[{i}].project_years",
                )
            for name, mine, theirs in _shared(stage, first):
                if mine != theirs:
                    raise WattbitInputError(
                        f"stage {i}: {name} = {mine!r} differs from stage 0's {theirs!r}; the stages are taxed and "
                        "discounted as one project, so it must be the same",
                        field=f"stages[{i}].{name}",
                    )


def _shared(a: Project, b: Project) -> list[tuple[str, object, object]]:
    """The settings every stage must share, as ``(name, a's, b's)``."""
    ia, ib = a.incentives, b.incentives
    return [
        ("tax", a.tax, b.tax),
        ("currency", a.currency, b.currency),
        ("financing.cost_of_equity", a.financing.cost_of_equity, b.financing.cost_of_equity),
        ("financing.discount_rate", a.financing.discount_rate, b.financing.discount_rate),
        ("incentives.itc_use", ia.itc_use, ib.itc_use),
        ("incentives.itc_tax_limit_share", ia.itc_tax_limit_share, ib.itc_tax_limit_share),
        ("incentives.itc_carryforward_years", ia.itc_carryforward_years, ib.itc_carryforward_years),
    ]


@dataclass
class _StageFlows:
    cols: dict[str, FloatArray]
    principal: float
    net_initial: float


def _operating(project: Project, cap: CapitalFlows, price_per_gpu_hour: float) -> dict[str, FloatArray]:
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
    untaxed = pbi if pbi_spec is not None and not pbi_spec.taxable else np.zeros(n + 1)
    ebitda = revenue + export_revenue + pbi - energy_cost - cap.fixed_opex - cap.variable_opex - cap.fixed_asset_tax
    return {
        "revenue": revenue,
        "export_revenue": export_revenue,
        "production_incentive": pbi,
        "energy_cost": energy_cost,
        "ebitda": ebitda,
        "_untaxed_incentive": untaxed,
    }


def _principal(project: Project, cap: CapitalFlows) -> tuple[float, float]:
    """Loan principal and the net initial investment (initial capex less capacity grant)."""
    fin = project.financing
    net_initial = float(cap.capex[0]) - cap.grant_total
    principal = 0.0 if fin.loan is None else fin.loan.amount(net_initial)
    if principal > 0.0 and principal > net_initial * (1.0 + 1e-12):
        raise WattbitInputError(
            f"loan principal {principal:,.0f} exceeds the net initial investment {net_initial:,.0f} "
            "(initial capex less capacity grant)",
            field="financing.loan.principal",
        )
    return principal, net_initial


def _stage_flows(project: Project, price_per_gpu_hour: float | None = None) -> _StageFlows:
    """Pre-tax flows of one project over its own years ``0 .. N`` (:data:`~wattbit.finance.result.PRE_TAX_COLUMNS`)."""
    n = project.project_years
    price = project.operations.price_per_gpu_hour if price_per_gpu_hour is None else price_per_gpu_hour
    cap = capital_flows(
        project.components, project.incentives, n, project.residual, project.fixed_asset_tax, project.residual_scale
    )
    cols = _operating(project, cap, price)
    principal, net_initial = _principal(project, cap)
    zeros = np.zeros(n + 1)
    loan = project.financing.loan
    drawdown, interest, repaid, balance = (
        loan_schedule(loan, principal, n) if loan is not None else (zeros, zeros, zeros, zeros)
    )
    ops = project.operations
    gpu_hours, mwh = np.zeros(n + 1), np.zeros(n + 1)
    gpu_hours[1:] = ops.gpu_hours_per_year
    mwh[1:] = ops.facility_energy_mwh_per_year
    net_energy = cols["energy_cost"] - cols["export_revenue"] - cols["production_incentive"]
    cols.update(
        fixed_opex=cap.fixed_opex,
        variable_opex=cap.variable_opex,
        fixed_asset_tax=cap.fixed_asset_tax,
        capex=cap.capex,
        residual_value=cap.residual,
        capacity_grant=cap.grant,
        itc=cap.itc,
        depreciation=cap.depreciation,
        debt_drawdown=drawdown,
        interest=interest,
        principal_repayment=repaid,
        debt_balance=balance,
        supply_cost=cap.capex_supply - cap.residual_supply + cap.opex_supply + cap.fixed_asset_tax_supply
        + net_energy - cap.itc_supply - cap.grant_supply,
        total_cost=cap.capex - cap.residual + cap.fixed_opex + cap.variable_opex + cap.fixed_asset_tax + net_energy
        - cap.itc - cap.grant,
        gpu_hours=gpu_hours,
        facility_energy_mwh=mwh,
        _itc_credit=cap.itc_credit,
        _grant_taxable=cap.grant_taxable,
        _residual_supply=cap.residual_supply,
    )  # fmt: skip
    return _StageFlows(cols, principal, net_initial)


def _as_staged(project: Project | StagedProject) -> StagedProject:
    if isinstance(project, StagedProject):
        return project
    return StagedProject(((0, project),), project.project_years, project.start_year)


def _summed(staged: StagedProject, prices: Sequence[float | None] | None = None) -> tuple[dict[str, FloatArray], Rules]:
    """The stages' pre-tax flows added year by year, and the rules to finish them with."""
    size = staged.project_years + 1
    total = {name: np.zeros(size) for name in PRE_TAX_COLUMNS}
    principal = net_initial = 0.0
    for k, (offset, stage) in enumerate(staged.stages):
        flows = _stage_flows(stage, None if prices is None else prices[k])
        for name in PRE_TAX_COLUMNS:
            total[name][offset:] += flows.cols[name]
        principal += flows.principal
        net_initial += flows.net_initial
    first = staged.stages[0][1]
    fin = first.financing
    loans = [stage.financing.loan for _, stage in staged.stages if stage.financing.loan is not None]
    if fin.discount_rate is not None:
        rate = fin.discount_rate
    elif not loans or principal == 0.0:
        rate = fin.cost_of_equity
    else:
        loan_rate = float(np.average([loan.rate for loan in loans]))
        rate = wacc(fin.cost_of_equity, principal / net_initial, loan_rate, first.tax.rate)
    rules = Rules(first.tax, first.incentives, rate, fin.cost_of_equity, first.currency, staged.start_year)
    return total, rules


def evaluate(project: Project | StagedProject) -> FinanceResult:
    """Cash flows and metrics of ``project`` (one project, or one built in stages and taxed as one).

    Parameters
    ----------
    project
        The project.

    Returns
    -------
    FinanceResult
        NPV, IRR, MIRR, equity NPV/IRR, payback (with and without the residual value), LCOE of the power supply,
        cost per GPU-hour and the cash-flow table (``result.table``).

    Raises
    ------
    WattbitInputError
        If a loan is larger than its stage's net initial investment.
    """
    cols, rules = _summed(_as_staged(project))
    return finish(cols, rules)


def breakeven_revenue_scale(project: Project | StagedProject, target_npv: float = 0.0) -> float:
    """The factor on every GPU-hour price at which the project NPV (after tax) equals ``target_npv``.

    The NPV rises with the factor ``m`` with a slope between ``(1 - t) S`` and ``S`` (``t`` the tax rate, ``S`` the
    discounted revenue at the prices given) while taxes follow the income; the root is bracketed from those bounds
    (widened if need be) and found by regula falsi (Illinois variant).

    Returns
    -------
    float
        The factor (may be negative when the project pays back without selling GPU-hours); NaN if the project has
        no revenue to scale.
    """
    cols, rules = _summed(_as_staged(project))
    unit = cols["revenue"].copy()
    df = discount_factors(rules.discount_rate, unit.size)
    slope = float(unit @ df)
    if slope <= 0.0:
        return math.nan
    base = dict(cols)
    base["revenue"] = cols["revenue"] - unit
    base["ebitda"] = cols["ebitda"] - unit

    def gap(scale: float) -> float:
        shifted = dict(base)
        shifted["revenue"] = base["revenue"] + scale * unit
        shifted["ebitda"] = base["ebitda"] + scale * unit
        return npv_after_tax(shifted, rules, df) - target_npv

    return _regula_falsi(gap, slope * (1.0 - rules.tax.rate))


def _regula_falsi(f: Callable[[float], float], min_slope: float) -> float:
    """Root of the increasing function ``f`` near 0, bracketed with the slope bound ``min_slope`` (Illinois)."""
    f0 = float(f(0.0))
    if f0 == 0.0:
        return 0.0
    step = -f0 / max(min_slope, 1e-300)
    far, f_far = step, float(f(step))
    for _ in range(60):  # widen until the sign changes (the slope bound holds without tax credits)
        if (f_far > 0.0) != (f0 > 0.0) or f_far == 0.0:
            break
        far, f_far = 2.0 * far, float(f(2.0 * far))
    lo, hi = (0.0, far) if f0 < 0.0 else (far, 0.0)
    f_lo, f_hi = (f0, f_far) if f0 < 0.0 else (f_far, f0)
    side = 0
    tol = 1e-12 * max(abs(far), 1e-9)
    for _ in range(200):
        x = hi - f_hi * (hi - lo) / (f_hi - f_lo) if f_hi != f_lo else 0.5 * (lo + hi)
        fx = float(f(x))
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


def breakeven_price_per_gpu_hour(project: Project, target_npv: float = 0.0) -> float:
    """The year-1 price per GPU-hour at which the project NPV (after tax) equals ``target_npv``.

    Parameters
    ----------
    project
        The project (its ``operations.price_per_gpu_hour`` is ignored).
    target_npv
        NPV to reach [currency].

    Returns
    -------
    float
        Price [currency/GPU-h]; NaN if the project delivers no GPU-hours. May be negative when the project pays
        back without selling GPU-hours.
    """
    return breakeven_revenue_scale(with_price_per_gpu_hour(project, 1.0), target_npv)


def with_price_per_gpu_hour(project: Project, price_per_gpu_hour: float) -> Project:
    """A copy of ``project`` selling GPU-hours at ``price_per_gpu_hour`` (year 1)."""
    return replace(project, operations=replace(project.operations, price_per_gpu_hour=price_per_gpu_hour))

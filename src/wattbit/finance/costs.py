"""Unit costs of a plan: currency conversion and equivalent annual costs that match :mod:`wattbit.finance.project`.

The optimisation compares a year of energy with capital that lasts decades, so each capital item enters it as its
*equivalent annual cost* over the project: the present value of buying it at year 0, replacing it every
``life_years`` while the project runs, less its residual value at the end (the same timeline and linear residual as
:func:`wattbit.finance.capital.capital_flows`), spread evenly over the ``N`` operating years by the capital recovery
factor ``CRF(r, N) = r / (1 - (1 + r)^-N)`` (``1 / N`` at ``r = 0``). Before tax and without escalation: the reported
NPV and IRR come from the full after-tax evaluation of the chosen plan.

:func:`component_annual_cost` does the same for a :class:`~wattbit.finance.components.Component` with the finance
module's own capital flows (:func:`~wattbit.finance.capital.capital_flows`), so that the residual method, a resale
curve and the fixed-asset tax enter the optimisation exactly as they enter the evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass

from wattbit.errors import WattbitInputError
from wattbit.finance.capital import capital_flows
from wattbit.finance.components import Component
from wattbit.finance.incentives import Incentives
from wattbit.finance.metrics import discount_factors
from wattbit.finance.residual import ResidualMethod
from wattbit.finance.tax import FixedAssetTax


def capital_recovery_factor(rate: float, years: int) -> float:
    """``r / (1 - (1 + r)^-N)``: the level yearly payment (years ``1 .. N``) worth 1 today.

    Parameters
    ----------
    rate
        Discount rate per year, >= 0.
    years
        ``N``, >= 1.

    Returns
    -------
    float
        The factor [1/yr].
    """
    if years < 1 or not rate >= 0.0:
        raise WattbitInputError(f"capital recovery needs rate >= 0 and years >= 1 (got {rate}, {years})")
    if rate == 0.0:
        return 1.0 / years
    return rate / (1.0 - (1.0 + rate) ** -years)


def lifecycle_present_value(
    capex: float, life_years: int, project_years: int, rate: float, replacement_capex: float | None = None
) -> float:
    """Present value of buying an item at year 0 and every ``life_years`` before ``project_years``, less residual.

    The last purchase ``p`` is credited ``cost x (p + life - N) / life`` at year ``N`` (linear economic depreciation),
    as :func:`wattbit.finance.capital.capital_flows` does.

    Parameters
    ----------
    capex
        First purchase [currency].
    life_years
        Economic life [years], >= 1.
    project_years
        ``N`` operating years, >= 1.
    rate
        Discount rate per year.
    replacement_capex
        Cost of each replacement [currency]; None means ``capex``.

    Returns
    -------
    float
        Present value at year 0 [currency].
    """
    again = capex if replacement_capex is None else replacement_capex
    pv = 0.0
    cost = capex
    last = 0
    for year in range(0, project_years, life_years):
        cost = capex if year == 0 else again
        pv += cost / (1.0 + rate) ** year
        last = year
    left = last + life_years - project_years
    if left > 0:
        pv -= cost * left / life_years / (1.0 + rate) ** project_years
    return pv


def equivalent_annual_cost(
    capex: float,
    life_years: int,
    project_years: int,
    rate: float,
    replacement_capex: float | None = None,
    opex_per_year: float = 0.0,
) -> float:
    """Level yearly cost of an item over the project: ``CRF(r, N) x lifecycle PV + opex`` [currency/yr]."""
    pv = lifecycle_present_value(capex, life_years, project_years, rate, replacement_capex)
    return capital_recovery_factor(rate, project_years) * pv + opex_per_year


def component_annual_cost(
    component: Component,
    project_years: int,
    rate: float,
    residual: ResidualMethod = "market_value",
    fixed_asset_tax: FixedAssetTax | None = None,
) -> float:
    """Level yearly pre-tax cost of ``component`` over the project [currency/yr].

    ``CRF(r, N) x PV(capex - residual + fixed-asset tax + O&M)`` with the flows of
    :func:`~wattbit.finance.capital.capital_flows` (replacements, escalation, the residual method and resale curve,
    the fixed-asset tax), no incentives and no income tax.

    Parameters
    ----------
    component
        The item.
    project_years
        ``N``, >= 1.
    rate
        Discount rate per year, >= 0.
    residual
        Residual method (:mod:`wattbit.finance.residual`).
    fixed_asset_tax
        The fixed-asset tax, or None.

    Returns
    -------
    float
        The equivalent annual cost [currency/yr].
    """
    flows = capital_flows([component], Incentives(), project_years, residual, fixed_asset_tax)
    cost = flows.capex - flows.residual + flows.fixed_asset_tax + flows.fixed_opex + flows.variable_opex
    return capital_recovery_factor(rate, project_years) * float(cost @ discount_factors(rate, project_years + 1))


@dataclass(frozen=True)
class Money:
    """Converts amounts between JPY and USD at one rate.

    Attributes
    ----------
    target
        The currency amounts are converted into (the scenario's finance currency).
    jpy_per_usd
        Exchange rate [JPY/USD], or None when every amount is in ``target`` already.
    """

    target: str
    jpy_per_usd: float | None

    def factor(self, source: str) -> float:
        """Multiplier from ``source`` to :attr:`target`."""
        if source == self.target:
            return 1.0
        if self.jpy_per_usd is None:
            raise WattbitInputError(
                f"an amount in {source} needs an exchange rate to {self.target}: state [finance].jpy_per_usd",
                field="finance.jpy_per_usd",
            )
        if (source, self.target) == ("USD", "JPY"):
            return self.jpy_per_usd
        if (source, self.target) == ("JPY", "USD"):
            return 1.0 / self.jpy_per_usd
        raise WattbitInputError(f"cannot convert {source} to {self.target}: only JPY and USD are known")

"""Yearly capital flows of a project's components: purchases, residual values, depreciation, O&M, fixed-asset tax,
ITC and grant.

See ``docs/finance.md`` for the formulas. Internal to :mod:`wattbit.finance.project`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from wattbit.finance.components import Component
from wattbit.finance.depreciation import DepreciationMethod, depreciation_fractions
from wattbit.finance.incentives import Incentives
from wattbit.finance.residual import ResidualMethod, book_share, market_share
from wattbit.finance.tax import FixedAssetTax, assessed_value_shares
from wattbit.units import FloatArray


@dataclass
class CapitalFlows:
    """Arrays per project year ``0 .. N`` [currency]; ``*_supply`` are the power-supply components' share."""

    capex: FloatArray
    capex_supply: FloatArray
    residual: FloatArray
    residual_supply: FloatArray
    depreciation: FloatArray
    fixed_opex: FloatArray
    variable_opex: FloatArray
    opex_supply: FloatArray
    itc: FloatArray
    itc_supply: FloatArray
    itc_credit: FloatArray
    fixed_asset_tax: FloatArray
    fixed_asset_tax_supply: FloatArray
    grant: FloatArray
    grant_supply: FloatArray
    grant_taxable: FloatArray
    grant_total: float


_ARRAYS = (
    "capex",
    "capex_supply",
    "residual",
    "residual_supply",
    "depreciation",
    "fixed_opex",
    "variable_opex",
    "opex_supply",
    "itc",
    "itc_supply",
    "itc_credit",
    "fixed_asset_tax",
    "fixed_asset_tax_supply",
    "grant",
    "grant_supply",
    "grant_taxable",
)


def _spread_depreciation(out: FloatArray, amounts: FloatArray, purchase_year: int) -> None:
    """Add ``amounts`` from year ``purchase_year + 1`` on; whatever falls after the last year is written off in it."""
    n = out.size - 1
    first = purchase_year + 1
    inside = min(amounts.size, n - purchase_year)
    out[first : first + inside] += amounts[:inside]
    if inside < amounts.size:
        out[n] += amounts[inside:].sum()


def capital_flows(
    components: Sequence[Component],
    incentives: Incentives,
    n_years: int,
    residual: ResidualMethod = "market_value",
    fixed_asset_tax: FixedAssetTax | None = None,
    residual_scale: float = 1.0,
) -> CapitalFlows:
    """Capital, O&M, depreciation, fixed-asset tax and capital incentives of all components over years ``0 .. N``.

    Parameters
    ----------
    components
        The project's components.
    incentives
        ITC and capacity grant (the production incentive is an operating flow, not handled here).
    n_years
        Operating years ``N``.
    residual
        How the last purchase of each component is valued in year ``N``: ``"none"``, ``"book_value"`` or
        ``"market_value"`` (:mod:`wattbit.finance.residual`).
    fixed_asset_tax
        Japan's fixed-asset tax on the components that bear it, or None for none.
    residual_scale
        Multiplier on every residual value (1: as valued; a sensitivity lever).

    Returns
    -------
    CapitalFlows
        The yearly arrays.
    """
    size = n_years + 1
    flows = CapitalFlows(**{name: np.zeros(size) for name in _ARRAYS}, grant_total=0.0)
    grant = incentives.grant
    grant_base = sum(c.capex for c in components if c.grant_eligible)
    grant_total = grant.amount(grant_base) if grant is not None else 0.0
    flows.grant_total = grant_total
    # scalars grouped by escalation / depreciation schedule, so that each group costs one array operation
    fixed: dict[float, float] = defaultdict(float)
    variable: dict[float, float] = defaultdict(float)
    supply_opex: dict[float, float] = defaultdict(float)
    bases: dict[tuple[str, int, float, int], float] = defaultdict(float)
    itc_out = flows.itc_credit if incentives.itc_use == "against_tax" else flows.itc
    for c in components:
        grant_c = grant_total * c.capex / grant_base if c.grant_eligible and grant_base > 0.0 else 0.0
        itc_c = incentives.itc_fraction * c.capex if c.is_itc_eligible else 0.0
        basis_cut = incentives.itc_basis_reduction * itc_c
        if grant is not None and grant.reduces_tax_basis:
            basis_cut += grant_c
        supply = c.is_power_supply
        purchases = c.purchase_years(n_years)
        cost = basis = 0.0
        for k, year in enumerate(purchases):
            base = c.capex if k == 0 or c.replacement_capex is None else c.replacement_capex
            cost = base * (1.0 + c.capex_escalation) ** year
            flows.capex[year] += cost
            if supply:
                flows.capex_supply[year] += cost
            basis = max(cost - basis_cut, 0.0) if k == 0 else cost
            bases[(c.depreciation, c.tax_life, c.bonus_depreciation_fraction, year)] += basis
            if fixed_asset_tax is not None and c.is_fixed_asset_taxable:
                held_until = purchases[k + 1] if k + 1 < len(purchases) else n_years
                _add_fixed_asset_tax(flows, fixed_asset_tax, cost, c.tax_life, year, held_until, supply)
        value = residual_scale * _residual(c, residual, n_years - purchases[-1], cost, basis)
        flows.residual[n_years] += value
        if supply:
            flows.residual_supply[n_years] += value
        fixed[c.opex_escalation] += c.fixed_opex_per_year
        variable[c.opex_escalation] += c.variable_opex_per_mwh * c.throughput_mwh_per_year
        itc_out[1] += itc_c
        if supply:
            supply_opex[c.opex_escalation] += (
                c.fixed_opex_per_year + c.variable_opex_per_mwh * c.throughput_mwh_per_year
            )
            if incentives.itc_use == "cash":
                flows.itc_supply[1] += itc_c
            if grant is not None:
                flows.grant_supply[grant.payment_year] += grant_c
    for (method, life, bonus, year), basis in bases.items():
        if basis > 0.0:
            amounts = _fractions(method, life) * (basis * (1.0 - bonus))
            amounts[0] += basis * bonus
            _spread_depreciation(flows.depreciation, amounts, year)
    _add_escalated(flows.fixed_opex, fixed)
    _add_escalated(flows.variable_opex, variable)
    _add_escalated(flows.opex_supply, supply_opex)
    if grant is not None:
        flows.grant[grant.payment_year] = grant_total
        if not grant.reduces_tax_basis:
            flows.grant_taxable[grant.payment_year] = grant_total
    return flows


def _residual(c: Component, method: ResidualMethod, age: int, cost: float, basis: float) -> float:
    """Value in year ``N`` of ``c``'s last purchase (``cost`` paid, ``basis`` depreciable), ``age`` years old."""
    if method == "none":
        return 0.0
    if method == "book_value":
        return basis * book_share(age, _fractions(c.depreciation, c.tax_life), c.bonus_depreciation_fraction)
    return cost * market_share(age, c.life_years, c.resale_fraction_by_age)


def _add_fixed_asset_tax(
    flows: CapitalFlows, spec: FixedAssetTax, cost: float, tax_life: int, bought: int, held_until: int, supply: bool
) -> None:
    """Tax on a purchase at the end of year ``bought``, assessed every 1 January until it is sold or replaced at the
    end of ``held_until``: years ``bought + 1 .. held_until``."""
    years = held_until - bought
    if years <= 0 or cost <= 0.0:
        return
    tax = spec.rate * cost * assessed_value_shares(tax_life, years, spec.floor_share)
    flows.fixed_asset_tax[bought + 1 : held_until + 1] += tax
    if supply:
        flows.fixed_asset_tax_supply[bought + 1 : held_until + 1] += tax


@lru_cache(maxsize=256)
def _fractions(method: DepreciationMethod, life_years: int) -> FloatArray:
    out = np.asarray(depreciation_fractions(method, life_years))
    out.flags.writeable = False
    return out


def _add_escalated(out: FloatArray, year1_by_escalation: dict[float, float]) -> None:
    """Add ``sum_g amount_g (1 + g)^(t - 1)`` to years ``t = 1 .. N`` of ``out``."""
    for escalation, amount in year1_by_escalation.items():
        if amount == 0.0:
            continue
        if escalation == 0.0:
            out[1:] += amount
        else:
            out[1:] += amount * (1.0 + escalation) ** np.arange(out.size - 1, dtype=np.float64)

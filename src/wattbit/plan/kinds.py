"""What each kind of a plan's components is for the finances: economic and statutory lives, depreciation method,
special depreciation, resale curve, incentive eligibility — read from the ``[plan]`` section with the documented
defaults (``docs/planner.md``). Shared by the optimisation's yearly costs (:mod:`wattbit.plan.inputs`) and the
evaluation (:mod:`wattbit.plan.evaluate`), so that both see the same components.
"""

from __future__ import annotations

from dataclasses import dataclass

from wattbit.finance.components import Component, ComponentKind
from wattbit.finance.depreciation import DepreciationMethod
from wattbit.finance.residual import ResidualMethod
from wattbit.finance.tax import FixedAssetTax
from wattbit.scenario.plan import PLAN_KINDS, PlanKind, PlanSpec

#: Statutory useful lives (耐用年数省令, S; docs/planner.md): servers (電子計算機) 5; a reinforced-concrete building for
#: a factory, warehouse or transmitting station 38 (別表第一; 50 if classed as "other"); building fixtures
#: (electrical, air conditioning over 22 kW) 15; PV and wind generation (別表第二 31 電気業用設備) 17; battery
#: power-supply fixtures 6; a connection contribution, as a right to use the utility's facilities
#: (電気ガス供給施設利用権, 別表第三) 15.
TAX_LIFE_YEARS: dict[PlanKind, int] = {
    "it": 5,
    "building": 38,
    "mep": 15,
    "pv": 17,
    "wind": 17,
    "battery": 6,
    "grid_connection": 15,
}
#: Depreciation method: buildings and building fixtures straight-line by law (from 1998 / 2016); machinery and
#: equipment take the statutory default, the 200 % declining balance (法人税法施行令 53条, S).
DEPRECIATION: dict[PlanKind, DepreciationMethod] = {
    "it": "declining_balance",
    "building": "straight_line",
    "mep": "straight_line",
    "pv": "declining_balance",
    "wind": "declining_balance",
    "battery": "straight_line",
    "grid_connection": "straight_line",
}
#: The finance module's kind of each (it decides the LCOE's power supply; the planner sets the rest explicitly).
FINANCE_KIND: dict[PlanKind, ComponentKind] = {
    "it": "it",
    "building": "building",
    "mep": "other",
    "pv": "pv",
    "wind": "wind",
    "battery": "battery",
    "grid_connection": "grid_connection",
}


@dataclass(frozen=True)
class KindTerms:
    """The finance terms of one kind of component."""

    kind: PlanKind
    life_years: int
    tax_life_years: int
    depreciation: DepreciationMethod
    bonus_fraction: float
    resale_fraction_by_age: tuple[float, ...] | None
    itc_eligible: bool
    grant_eligible: bool


def kind_terms(spec: PlanSpec) -> dict[PlanKind, KindTerms]:
    """The terms of every kind under ``spec`` (its lives, tax lives, special depreciation, incentives)."""
    c, fin = spec.costs, spec.finance
    lives: dict[PlanKind, int] = {
        "it": c.it_life_years,
        "building": c.building_life_years,
        "mep": c.mep_life_years,
        "pv": c.pv_life_years,
        "wind": c.wind_life_years,
        "battery": c.battery_life_years,
        "grid_connection": c.connection_life_years,
    }
    special = fin.special_depreciation
    out = {}
    for kind in PLAN_KINDS:
        bonus = special.fraction if special is not None and kind in special.kinds else 0.0
        out[kind] = KindTerms(
            kind=kind,
            life_years=lives[kind],
            tax_life_years=fin.tax_life_years.get(kind, TAX_LIFE_YEARS[kind]),
            depreciation=DEPRECIATION[kind],
            bonus_fraction=bonus,
            resale_fraction_by_age=tuple(fin.gpu_resale_fraction_by_age) if kind == "it" else None,
            itc_eligible=fin.itc is not None and kind in fin.itc.eligible,
            grant_eligible=fin.grant is not None and kind in fin.grant.eligible,
        )
    return out


def residual_method(spec: PlanSpec) -> ResidualMethod:
    """The plan's residual method."""
    return spec.finance.residual_method


def fixed_asset_tax(spec: PlanSpec) -> FixedAssetTax | None:
    """The fixed-asset tax of ``spec``, or None at a zero rate."""
    rate = spec.finance.fixed_asset_tax_rate
    return FixedAssetTax(rate=rate) if rate > 0.0 else None


def component(
    name: str,
    terms: KindTerms,
    capex: float,
    opex_per_year: float = 0.0,
    replacement_capex: float | None = None,
    capex_escalation: float = 0.0,
    opex_escalation: float = 0.0,
) -> Component:
    """A finance component of kind ``terms`` [capex and O&M in the finance currency]."""
    return Component(
        name=name,
        kind=FINANCE_KIND[terms.kind],
        capex=capex,
        life_years=terms.life_years,
        replacement_capex=replacement_capex,
        fixed_opex_per_year=opex_per_year,
        capex_escalation=capex_escalation,
        opex_escalation=opex_escalation,
        depreciation=terms.depreciation,
        tax_life_years=terms.tax_life_years,
        bonus_depreciation_fraction=terms.bonus_fraction,
        itc_eligible=terms.itc_eligible,
        grant_eligible=terms.grant_eligible,
        resale_fraction_by_age=terms.resale_fraction_by_age,
    )

"""The money amounts a plan uses, each with its currency and origin, and their conversion to the finance currency.

Every amount of ``[plan]`` names its currency (:mod:`wattbit.scenario.money`); a candidate's own connection or site
cost overrides the plan-wide one. :func:`plan_amounts` lists every amount the plan will use (the scenario's, the
defaults, the overrides); :func:`check_currencies` refuses amounts in a currency other than ``[finance].currency``
unless ``[finance].jpy_per_usd`` is stated.
"""

from __future__ import annotations

from wattbit.errors import ScenarioError
from wattbit.finance.costs import Money
from wattbit.scenario import Scenario, Site
from wattbit.scenario.money import Amount, MoneyModel
from wattbit.scenario.plan import COST_DEFAULTS, Candidate, PlanSpec

#: Scalar money quantities of ``plan.costs`` (tables are read per entry).
SCALAR_COSTS = tuple(q for q, d in COST_DEFAULTS.items() if not isinstance(d.value, dict))


def candidate_amount(spec: PlanSpec, index: int, candidate: Candidate, quantity: str) -> Amount:
    """A candidate's connection or site cost: its own (an override) or the plan-wide one."""
    own = candidate.given(quantity)
    if own is not None:
        value, currency, name = own
        return Amount(float(value), currency, "override", f"plan.candidates[{index}].{name}")
    return spec.costs.amount(quantity)


def _finance_amounts(spec: PlanSpec) -> list[Amount]:
    fin = spec.finance
    parts: list[tuple[MoneyModel | None, str, str]] = [
        (fin.loan, "principal", "plan.finance.loan"),
        (fin.grant, "cap", "plan.finance.grant"),
        (fin.production_incentive, "rate_per_mwh", "plan.finance.production_incentive"),
        (fin.production_incentive, "annual_cap", "plan.finance.production_incentive"),
    ]
    out = []
    for model, quantity, where in parts:
        given = None if model is None else model.given(quantity)
        if given is not None:
            value, currency, name = given
            out.append(Amount(float(value), currency, "scenario", f"{where}.{name}"))
    return out


def plan_amounts(spec: PlanSpec, candidates: tuple[Candidate, ...], sites: tuple[Site, ...]) -> list[Amount]:
    """Every money amount the plan uses: costs (given or default), table entries for the sites' GPU models and the
    cooling types allowed, candidates' overrides, and finance amounts."""
    costs = spec.costs
    out = [costs.amount(q) for q in SCALAR_COSTS if q not in ("connection_capex_per_mw", "site_capex")]
    for i, cand in enumerate(spec.candidates):
        if any(cand is c for c in candidates):
            out += [candidate_amount(spec, i, cand, q) for q in ("connection_capex_per_mw", "site_capex")]
    for model in sorted({s.it.gpu_model for s in sites}):
        entry = costs.table_entry("gpu_capex", model)
        if entry is not None:
            out.append(entry)
    coolings = {c for cand in candidates for c in (cand.cooling or spec.options.cooling)}
    for cooling in sorted(coolings):
        entry = costs.table_entry("facility_capex_per_mw", cooling)
        if entry is not None:
            out.append(entry)
    return out + _finance_amounts(spec)


def check_currencies(scenario: Scenario, amounts: list[Amount]) -> Money:
    """The converter to the finance currency, after checking that an exchange rate is stated where one is needed.

    Raises
    ------
    ScenarioError
        Naming ``finance.jpy_per_usd`` and the amounts in the other currency, when it is not stated.
    """
    fin = scenario.finance
    foreign = [a for a in amounts if a.currency != fin.currency]
    if foreign and fin.jpy_per_usd is None:
        shown = ", ".join(f"{a.field} ({a.origin}: {a.value:,.6g} {a.currency})" for a in foreign[:6])
        more = f" and {len(foreign) - 6} more" if len(foreign) > 6 else ""
        raise ScenarioError(
            f"{len(foreign)} amount(s) are in {foreign[0].currency} but [finance].currency is {fin.currency}: "
            f"{shown}{more}. State the exchange rate as [finance].jpy_per_usd (JPY per USD, e.g. 151.4, the 2024 "
            "average), or give those amounts in the finance currency",
            path=scenario.source_path,
            field="finance.jpy_per_usd",
        )
    return Money(fin.currency, fin.jpy_per_usd)


def converted(amount: Amount, money: Money) -> float:
    """``amount`` in the finance currency."""
    return amount.value * money.factor(amount.currency)

"""The chosen plan's finances, with :mod:`wattbit.finance.project`: NPV, IRR, payback (with and without the residual
value), LCOE, cost per GPU-hour, the after-tax break-even GPU-hour price, cash flows, and a tornado of the NPV.

Each built site becomes finance components (GPUs and servers, the building shell with the site cost, the electrical
and mechanical plant, PV, wind, battery, grid connection — lives, statutory lives and methods in
:mod:`wattbit.plan.kinds` and ``docs/planner.md``); the representative year's dispatch becomes the
:class:`~wattbit.finance.components.Operations`. A target that grows over years is built in stages: stage ``k`` builds
the increment ``size_k - size_(k-1)`` in the year before its target year and runs to the end of the project. The
increment is taken from the sites ready by that year, earliest-ready first (:func:`stage_shares`: a site's capacities
are split across stages in proportion to the compute it gives each). The stages form one
:class:`~wattbit.finance.project.StagedProject`: their pre-tax flows are added year by year and taxed once, with the
losses of one stage carried against the income of another, as one project company. Prices, capex and O&M of a stage
built in year ``k`` carry ``k`` years of their escalation; the capital grant's cap applies to the whole plan, shared
among the stages in proportion to their eligible capex.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from wattbit.finance.components import Component, Operations
from wattbit.finance.financing import DevelopmentBankLoan, Financing
from wattbit.finance.incentives import CapacityGrant, Incentives, ProductionIncentive
from wattbit.finance.project import FinanceResult, Project, StagedProject, breakeven_revenue_scale, evaluate
from wattbit.finance.tax import TaxSpec
from wattbit.montecarlo.engine import sensitivity
from wattbit.opt.capacity import CapacityProblem, CapacitySolution, capacity_cost_per_year, site_gpus
from wattbit.opt.capacity.problem import YEAR_H
from wattbit.plan.inputs import PlanContext
from wattbit.plan.kinds import component, fixed_asset_tax, kind_terms, residual_method
from wattbit.scenario.money import MoneyModel
from wattbit.scenario.plan import PlanKind
from wattbit.units import FloatArray

_TINY = 1e-6


@dataclass(frozen=True)
class Levers:
    """Multipliers on the inputs, for sensitivities (all 1: the plan as solved)."""

    capex: float = 1.0
    opex: float = 1.0
    energy_price: float = 1.0
    carbon_price: float = 1.0
    gpu_hour_price: float = 1.0
    demand: float = 1.0
    discount_rate: float = 1.0
    residual: float = 1.0


@dataclass(frozen=True, eq=False)
class PlanFinance:
    """Headline metrics and yearly cash flows of the plan (all stages, taxed as one project).

    Attributes
    ----------
    result
        The evaluation (:class:`~wattbit.finance.result.FinanceResult`): NPV, IRR, payback with and without the
        residual, LCOE, cost per GPU-hour (pre-tax), equity NPV, the cash-flow table.
    stages
        ``(construction year offset, share of each site's capacities)`` per stage.
    price_per_gpu_hour
        The GPU-hour price of project year 1 [currency/GPU-h].
    breakeven_price_per_gpu_hour
        The project-year-1 GPU-hour price at which the after-tax NPV is zero [currency/GPU-h]; NaN if not computed.
    """

    result: FinanceResult
    stages: tuple[tuple[int, FloatArray], ...]
    price_per_gpu_hour: float
    breakeven_price_per_gpu_hour: float = math.nan

    @property
    def npv(self) -> float:
        """NPV after tax [currency]."""
        return self.result.npv

    @property
    def irr(self) -> float:
        """Project IRR (NaN with :attr:`irr_note`)."""
        return self.result.irr

    @property
    def irr_note(self) -> str:
        """Why the IRR is NaN."""
        return self.result.irr_note

    @property
    def payback_years(self) -> float:
        """Payback counted from year 0 [years]."""
        return self.result.payback_years

    @property
    def discounted_payback_years(self) -> float:
        """Discounted payback from year 0 [years]."""
        return self.result.discounted_payback_years

    @property
    def lcoe_per_mwh(self) -> float:
        """Levelised cost of the power supply, pre-tax [currency/MWh]."""
        return self.result.lcoe_per_mwh

    @property
    def cost_per_gpu_hour(self) -> float:
        """Levelised cost per GPU-hour, pre-tax and pre-financing [currency/GPU-h]."""
        return self.result.cost_per_gpu_hour

    @property
    def equity_npv(self) -> float:
        """Equity NPV at the cost of equity [currency]."""
        return self.result.equity_npv

    @property
    def discount_rate(self) -> float:
        """The project discount rate."""
        return self.result.discount_rate

    @property
    def table(self) -> pd.DataFrame:
        """Cash flows per project year (money suffixed with the currency)."""
        return self.result.table


def stage_shares(
    ctx: PlanContext, problem: CapacityProblem, sol: CapacitySolution
) -> tuple[tuple[int, FloatArray], ...]:
    """``(offset, share per site)`` per build stage: built at the end of year ``offset``, running from ``offset + 1``.

    Stage ``k``'s increment of the target is filled from the sites ready by its year, earliest ready first, with
    compute not yet given to an earlier stage; compute beyond the last target (an ``npv`` plan may build more) goes
    with the last stage. Each site's shares over the stages sum to 1.
    """
    spec = ctx.spec
    units = (sol.it_mw * problem.target_coefficient()).sum(axis=1)
    left = units.copy()
    order = sorted(range(len(ctx.sites)), key=lambda i: (ctx.ready_year[i] or 0, i))
    steps = spec.target.steps()
    out: list[tuple[int, FloatArray]] = []
    before = 0.0
    for k, ((year, size), stage) in enumerate(zip(steps, problem.stages, strict=True)):
        offset = 0 if year is None or spec.start_year is None else year - spec.start_year - 1
        taken = np.zeros(len(ctx.sites))
        need = size - before
        for i in order:
            if stage.available[i] and need > 0:
                taken[i] = min(left[i], need)
                need -= taken[i]
        if k == len(steps) - 1:
            taken += left - taken  # the rest
        left -= taken
        shares = np.divide(taken, units, out=np.zeros_like(units), where=units > 0)
        if shares.any():
            out.append((offset, shares))
        before = size
    if not out:  # nothing built with compute (cannot happen with a positive target): one stage of everything
        out.append((0, np.ones(len(ctx.sites))))
    return tuple(out)


def _site_items(
    ctx: PlanContext, sol: CapacitySolution, gpus: float, i: int
) -> list[tuple[str, PlanKind, float, float, float | None]]:
    """``(name, kind, capex, O&M per year, replacement capex)`` of site ``i``'s components (finance currency)."""
    c, u = ctx.spec.costs, ctx.units
    building = float(sol.it_mw[i] @ u.building_capex_per_mw[i])
    mep = float(sol.it_mw[i] @ u.mep_capex_per_mw[i])
    it_capex = gpus * u.gpu_capex[i]
    battery = sol.battery_mwh[i] * u.battery_capex_per_mwh + sol.battery_mw[i] * u.battery_capex_per_mw
    battery_again = (
        sol.battery_mwh[i] * u.battery_replacement_per_mwh + sol.battery_mw[i] * u.battery_replacement_per_mw
    )
    site_capex = u.site_capex[i] * sol.build[i]
    return [
        ("gpus", "it", it_capex, c.it_opex_fraction * it_capex, None),
        ("building", "building", building + site_capex, c.facility_opex_fraction * building, None),
        ("mep", "mep", mep, c.facility_opex_fraction * mep, None),
        ("pv", "pv", sol.pv_mw[i] * u.pv_capex_per_mw, sol.pv_mw[i] * u.pv_opex_per_mw_year, None),
        ("wind", "wind", sol.wind_mw[i] * u.wind_capex_per_mw, sol.wind_mw[i] * u.wind_opex_per_mw_year, None),
        ("battery", "battery", battery, 0.0, battery_again),
        ("connection", "grid_connection", sol.connection_mw[i] * u.connection_capex_per_mw[i], 0.0, None),
    ]


def components(
    ctx: PlanContext,
    problem: CapacityProblem,
    sol: CapacitySolution,
    shares: FloatArray,
    levers: Levers,
    offset: int = 0,
) -> tuple[Component, ...]:
    """Finance components of ``shares`` (per site) of the plan, built in year ``offset``: GPUs, building, MEP, PV,
    wind, battery, connection.

    Each component's O&M includes the site's risk premium ``disaster_risk x risk_premium_fraction x capex``; capex
    and O&M carry ``offset`` years of their escalation.
    """
    fin = ctx.spec.finance
    terms = kind_terms(ctx.spec)
    up_capex = (1.0 + fin.capex_escalation) ** offset * levers.capex
    up_opex = (1.0 + fin.opex_escalation) ** offset
    gpus = site_gpus(problem, sol)
    out: list[Component] = []
    for i, site in enumerate(ctx.sites):
        if sol.build[i] < _TINY and sol.it_mw[i].sum() < _TINY:
            continue
        share = float(shares[i])
        for name, kind, capex, opex, again in _site_items(ctx, sol, float(gpus[i]), i):
            if capex * share < _TINY:
                continue
            risk = ctx.units.risk[i] * capex * levers.capex
            out.append(
                component(
                    f"{site.name}-{name}",
                    terms[kind],
                    capex * share * up_capex,
                    (opex * levers.opex + risk) * share * up_opex,
                    None if again is None else again * share * up_capex,
                    capex_escalation=fin.capex_escalation,
                    opex_escalation=fin.opex_escalation,
                )
            )
    return tuple(out)


def annual_figures(ctx: PlanContext, problem: CapacityProblem, sol: CapacitySolution) -> dict[str, float]:
    """Yearly energy, carbon and clean-energy figures of the plan (the representative period scaled to a year)."""
    w = problem.year_weight
    facility = float(sol.facility_mw.sum()) * w
    grid = float(sol.grid_mw.sum()) * w
    it = float(np.einsum("so,so->", sol.it_mw, ctx.it_mw_per_it_mw)) * YEAR_H
    renewable = float((sol.pv_out_mw + sol.wind_out_mw - sol.spill_mw).sum()) * w
    dirty = float((sol.grid_mw * (1.0 - np.nan_to_num(problem.cfe_fraction))).sum()) * w
    return {
        "facility_energy_mwh_per_year": facility,
        "it_energy_mwh_per_year": it,
        "grid_import_mwh_per_year": grid,
        "onsite_renewable_used_mwh_per_year": max(renewable, 0.0),
        "spilled_mwh_per_year": float(sol.spill_mw.sum()) * w,
        "carbon_t_per_year": float((sol.grid_mw * problem.carbon_t_per_mwh).sum()) * w,
        "clean_energy_share": 1.0 - dirty / facility if facility > 0 else math.nan,
        "pue": facility / it if it > 0 else math.nan,
        "gpus": float(site_gpus(problem, sol).sum()),
    }


def tco_per_year(problem: CapacityProblem, sol: CapacitySolution) -> float:
    """Equivalent annual cost of the plan: capacities (with O&M and risk premium) and a year of grid energy
    (with the carbon price) [currency/yr], revenue not counted — the ``tco`` objective."""
    return (
        capacity_cost_per_year(problem, sol) + float((problem.price_per_mwh * sol.grid_mw).sum()) * problem.year_weight
    )


def operations(
    ctx: PlanContext,
    problem: CapacityProblem,
    sol: CapacitySolution,
    shares: FloatArray,
    levers: Levers,
    offset: int = 0,
) -> Operations:
    """One operating year of ``shares`` (per site) of the plan, prices escalated to the stage's first year."""
    fin = ctx.spec.finance
    w = problem.year_weight
    energy_up = (1.0 + fin.energy_price_escalation) ** offset
    price = (ctx.energy_price_per_mwh * levers.energy_price + ctx.carbon_cost_per_mwh * levers.carbon_price) * energy_up
    grid = sol.grid_mw * shares[:, None] * levers.demand
    if problem.hours == int(YEAR_H):
        total_h = grid.sum(axis=0)
        imports, prices = total_h, (grid * price).sum(axis=0) / np.maximum(total_h, 1e-300)
    else:  # a period that is not one 8,760-h year: its yearly total at its volume-weighted price
        total = float(grid.sum()) * w
        cost = float((grid * price).sum()) * w
        imports = np.full(int(YEAR_H), total / YEAR_H)
        prices = np.full(int(YEAR_H), cost / total if total > 0 else 0.0)
    gpus = float(site_gpus(problem, sol) @ shares)
    renewable = float(((sol.pv_out_mw + sol.wind_out_mw - sol.spill_mw) * shares[:, None]).sum()) * w
    return Operations(
        gpu_hours_per_year=gpus * YEAR_H * ctx.spec.target.utilization * levers.demand,
        facility_energy_mwh_per_year=float((sol.facility_mw * shares[:, None]).sum()) * w * levers.demand,
        grid_import_mwh=np.maximum(imports, 0.0),
        price_per_mwh=prices,
        price_per_gpu_hour=ctx.units.price_per_gpu_hour * levers.gpu_hour_price
        * (1.0 + fin.revenue_escalation) ** offset,
        revenue_escalation=fin.revenue_escalation,
        energy_price_escalation=fin.energy_price_escalation,
        renewable_generation_mwh_per_year=max(renewable, 0.0),
    )  # fmt: skip


def _money(ctx: PlanContext, model: MoneyModel, quantity: str) -> float | None:
    """A finance amount of ``model`` in the finance currency, or None if not given."""
    given = model.given(quantity)
    if given is None:
        return None
    assert ctx.money is not None
    value, currency, _ = given
    return float(value) * ctx.money.factor(currency)


def _incentives(ctx: PlanContext, grant_cap: float | None) -> Incentives:
    fin = ctx.spec.finance
    grant = None
    if fin.grant is not None:
        grant = CapacityGrant(
            share=fin.grant.share, cap=grant_cap, payment_year=fin.grant.payment_year,
            reduces_tax_basis=not fin.grant.taxable,
        )  # fmt: skip
    production = None
    pbi = fin.production_incentive
    if pbi is not None:
        production = ProductionIncentive(
            rate_per_mwh=_money(ctx, pbi, "rate_per_mwh") or 0.0, term_years=pbi.term_years,
            annual_cap=_money(ctx, pbi, "annual_cap"), taxable=pbi.taxable,
        )  # fmt: skip
    itc = fin.itc
    if itc is None:
        return Incentives(production=production, grant=grant)
    return Incentives(
        itc_fraction=itc.fraction, itc_basis_reduction=itc.basis_reduction, production=production, grant=grant,
        itc_use=itc.use, itc_tax_limit_share=itc.tax_limit_share, itc_carryforward_years=itc.carryforward_years,
    )  # fmt: skip


def _loan(ctx: PlanContext) -> DevelopmentBankLoan | None:
    loan = ctx.spec.finance.loan
    if loan is None:
        return None
    return DevelopmentBankLoan(
        rate=loan.rate, tenor_years=loan.tenor_years, grace_years=loan.grace_years, debt_share=loan.debt_share,
        principal=_money(ctx, loan, "principal"),
    )  # fmt: skip


def _grant_caps(ctx: PlanContext, parts: list[tuple[Component, ...]]) -> list[float | None]:
    """Each stage's share of the plan's grant cap, in proportion to its eligible initial capex."""
    grant = ctx.spec.finance.grant
    cap = None if grant is None else _money(ctx, grant, "cap")
    if grant is None or cap is None:
        return [None] * len(parts)
    eligible = np.array([sum(c.capex for c in comps if c.grant_eligible) for comps in parts])
    total = float(eligible.sum())
    amount = min(grant.share * total, cap)
    return [amount * float(e) / total if total > 0 else 0.0 for e in eligible]


def staged_project(
    ctx: PlanContext, problem: CapacityProblem, sol: CapacitySolution, levers: Levers = Levers()
) -> StagedProject:
    """The plan as a :class:`~wattbit.finance.project.StagedProject`, one stage per build year."""
    fin, scen = ctx.spec.finance, ctx.scenario.finance
    n = scen.project_years
    rate = scen.discount_rate * levers.discount_rate
    ke = (fin.cost_of_equity if fin.cost_of_equity is not None else scen.discount_rate) * levers.discount_rate
    tax = TaxSpec(
        rate=fin.tax_rate, loss_treatment=fin.loss_treatment, loss_carryforward_years=fin.loss_carryforward_years,
        loss_offset_limit=fin.loss_offset_limit, loss_full_offset_years=fin.loss_full_offset_years,
    )  # fmt: skip
    shares_by_stage = stage_shares(ctx, problem, sol)
    parts = [components(ctx, problem, sol, shares, levers, offset) for offset, shares in shares_by_stage]
    caps = _grant_caps(ctx, parts)
    start = ctx.spec.start_year
    stages = []
    for (offset, shares), comps, cap in zip(shares_by_stage, parts, caps, strict=True):
        stages.append(
            (
                offset,
                Project(
                    components=comps,
                    operations=operations(ctx, problem, sol, shares, levers, offset),
                    project_years=n - offset,
                    tax=tax,
                    financing=Financing(
                        cost_of_equity=ke,
                        loan=_loan(ctx),
                        discount_rate=rate if fin.project_discount_rate == "scenario" else None,
                    ),  # fmt: skip
                    incentives=_incentives(ctx, cap),
                    currency=ctx.currency,
                    start_year=None if start is None else start + offset,
                    residual=residual_method(ctx.spec),
                    residual_scale=levers.residual,
                    fixed_asset_tax=fixed_asset_tax(ctx.spec),
                ),
            )
        )
    return StagedProject(tuple(stages), n, start)


def evaluate_plan(
    ctx: PlanContext,
    problem: CapacityProblem,
    sol: CapacitySolution,
    levers: Levers = Levers(),
    breakeven: bool = False,
) -> PlanFinance:
    """Finances of the plan over the whole project, its stages taxed as one project.

    Parameters
    ----------
    ctx, problem, sol
        The plan.
    levers
        Multipliers on the inputs (sensitivities).
    breakeven
        Also find the after-tax break-even GPU-hour price (a few dozen evaluations).
    """
    staged = staged_project(ctx, problem, sol, levers)
    price = ctx.units.price_per_gpu_hour * levers.gpu_hour_price
    be = price * breakeven_revenue_scale(staged) if breakeven else math.nan
    return PlanFinance(evaluate(staged), stage_shares(ctx, problem, sol), price, be)


@dataclass(frozen=True)
class TornadoBar:
    """NPV with one input at ``low`` and at ``high`` times its value, all else as planned."""

    name: str
    low: float
    high: float
    npv_low: float
    npv_high: float

    @property
    def swing(self) -> float:
        """``|npv_high - npv_low|``."""
        return abs(self.npv_high - self.npv_low)


#: Inputs the tornado varies (name, Levers field).
TORNADO_INPUTS = (
    ("capex (all)", "capex"),
    ("O&M", "opex"),
    ("grid energy price", "energy_price"),
    ("carbon price", "carbon_price"),
    ("GPU-hour price", "gpu_hour_price"),
    ("demand (GPU-hours and energy)", "demand"),
    ("discount rate", "discount_rate"),
    ("residual value", "residual"),
)


def tornado(ctx: PlanContext, problem: CapacityProblem, sol: CapacitySolution, change: float = 0.2) -> list[TornadoBar]:
    """NPV for each input of :data:`TORNADO_INPUTS` at ``1 -/+ change`` with the plan held fixed, widest first.

    The one-at-a-time sensitivity of :func:`wattbit.montecarlo.engine.sensitivity` over the :class:`Levers`. The
    plan is not re-optimised for each case (a re-solve per bar would cost a full optimisation); the bars say how
    exposed the chosen plan is. Inputs that do not move the NPV (a zero carbon price) are left out.
    """
    labels = {lever: label for label, lever in TORNADO_INPUTS}
    frame = sensitivity(
        _PlanNpv(ctx, problem, sol),
        base={lever: 1.0 for lever in labels},
        spans={lever: (1.0 - change, 1.0 + change) for lever in labels},
    )
    bars = [
        TornadoBar(labels[str(lever)], float(row.low), float(row.high), float(row.npv_low), float(row.npv_high))
        for lever, row in frame.iterrows()
    ]
    return [bar for bar in bars if bar.swing > 1e-9 * max(abs(bar.npv_low), abs(bar.npv_high), 1.0)]


@dataclass(frozen=True)
class _PlanNpv:
    """The plan's NPV with the :class:`Levers` of a draw (the model :func:`tornado` hands to ``sensitivity``)."""

    ctx: PlanContext
    problem: CapacityProblem
    sol: CapacitySolution

    def __call__(self, draw: Mapping[str, float]) -> dict[str, float]:
        levers = Levers(**{name: value for name, value in draw.items() if name != "seed"})
        return {"npv": evaluate_plan(self.ctx, self.problem, self.sol, levers).npv}

"""The chosen plan's finances, with :mod:`wattbit.finance.project`: NPV, IRR, payback, LCOE, cost per GPU-hour,
cash flows, and a tornado of the NPV.

Each built site becomes finance components (GPUs and servers, the facility with its site cost, PV, wind, battery,
grid connection — lives, tax lives and O&M in ``docs/planner.md``); the representative year's dispatch becomes the
:class:`~wattbit.finance.components.Operations`. A target that grows over years is built in stages: stage ``k`` builds
the increment ``size_k - size_(k-1)`` in the year before its target year and runs to the end of the project. The
increment is taken from the sites ready by that year, earliest-ready first (:func:`stage_shares`: a site's capacities
are split across stages in proportion to the compute it gives each). Each stage is evaluated as its own project and
their cash flows are added year by year before the metrics are taken (:mod:`wattbit.finance.metrics`). Tax losses are
carried within a stage, not across stages, and the capacity grant's cap is shared among stages pro rata (both
simplifications).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from wattbit.finance.components import Component, Operations
from wattbit.finance.costs import Money
from wattbit.finance.financing import DevelopmentBankLoan, Financing
from wattbit.finance.incentives import CapacityGrant, Incentives
from wattbit.finance.metrics import discount_factors, irr, payback_years
from wattbit.finance.project import FinanceResult, Project, evaluate
from wattbit.finance.tax import TaxSpec
from wattbit.montecarlo.engine import sensitivity
from wattbit.opt.capacity import CapacityProblem, CapacitySolution, capacity_cost_per_year, site_gpus
from wattbit.opt.capacity.problem import YEAR_H
from wattbit.plan.inputs import PlanContext
from wattbit.units import FloatArray

#: Statutory (tax) lives used for depreciation [years] (docs/finance.md, S): servers 5, PV 17, battery fixtures 6,
#: building fixtures 15; wind 17 and the connection contribution 15 are assumptions (U).
TAX_LIFE = {"it": 5, "building": 15, "pv": 17, "wind": 17, "battery": 6, "grid_connection": 15}
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


@dataclass(frozen=True, eq=False)
class PlanFinance:
    """Headline metrics and yearly cash flows of the plan (all stages).

    Attributes
    ----------
    npv, irr, payback_years, discounted_payback_years, lcoe_per_mwh, cost_per_gpu_hour, equity_npv
        As in :class:`~wattbit.finance.project.FinanceResult`, over the whole project [currency, 1/yr, years,
        currency/MWh, currency/GPU-h].
    irr_note
        Why ``irr`` is NaN, if it is.
    discount_rate
        The project discount rate.
    table
        Cash flows per project year (columns as ``FinanceResult.table``, money suffixed with the currency).
    stages
        ``(construction year offset, share of each site's capacities)`` per stage.
    """

    npv: float
    irr: float
    irr_note: str
    payback_years: float
    discounted_payback_years: float
    lcoe_per_mwh: float
    cost_per_gpu_hour: float
    equity_npv: float
    discount_rate: float
    table: pd.DataFrame
    stages: tuple[tuple[int, FloatArray], ...]


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
) -> list[tuple[str, str, float, int, float, float | None]]:
    """``(name, kind, capex, life, O&M per year, replacement capex)`` of site ``i``'s components."""
    c, u = ctx.spec.costs, ctx.units
    facility = float(sol.it_mw[i] @ u.facility_capex_per_mw[i])
    it_capex = gpus * u.gpu_capex[i]
    battery = sol.battery_mwh[i] * u.battery_capex_per_mwh + sol.battery_mw[i] * u.battery_capex_per_mw
    battery_again = (
        sol.battery_mwh[i] * u.battery_replacement_per_mwh + sol.battery_mw[i] * u.battery_replacement_per_mw
    )
    site_capex = u.site_capex[i] * sol.build[i]
    return [
        ("gpus", "it", it_capex, c.it_life_years, c.it_opex_fraction * it_capex, None),
        ("facility", "building", facility + site_capex, c.facility_life_years,
         c.facility_opex_fraction * facility, None),
        ("pv", "pv", sol.pv_mw[i] * u.pv_capex_per_mw, c.pv_life_years, sol.pv_mw[i] * u.pv_opex_per_mw_year, None),
        ("wind", "wind", sol.wind_mw[i] * u.wind_capex_per_mw, c.wind_life_years,
         sol.wind_mw[i] * u.wind_opex_per_mw_year, None),
        ("battery", "battery", battery, c.battery_life_years, 0.0, battery_again),
        ("connection", "grid_connection", sol.connection_mw[i] * u.connection_capex_per_mw[i],
         c.connection_life_years, 0.0, None),
    ]  # fmt: skip


def components(
    ctx: PlanContext, problem: CapacityProblem, sol: CapacitySolution, shares: FloatArray, levers: Levers
) -> tuple[Component, ...]:
    """Finance components of ``shares`` (per site) of the plan: GPUs, facility, PV, wind, battery, connection.

    Each component's O&M includes the site's risk premium ``disaster_risk x risk_premium_fraction x capex``.
    """
    gpus = site_gpus(problem, sol)
    out: list[Component] = []
    for i, site in enumerate(ctx.sites):
        if sol.build[i] < _TINY and sol.it_mw[i].sum() < _TINY:
            continue
        share = float(shares[i])
        for name, kind, capex, life, opex, again in _site_items(ctx, sol, float(gpus[i]), i):
            if capex * share < _TINY:
                continue
            out.append(
                Component(
                    name=f"{site.name}-{name}",
                    kind=kind,  # type: ignore[arg-type]
                    capex=capex * share * levers.capex,
                    life_years=life,
                    replacement_capex=None if again is None else again * share * levers.capex,
                    fixed_opex_per_year=(opex * levers.opex + ctx.units.risk[i] * capex * levers.capex) * share,
                    depreciation="declining_balance" if kind == "it" else "straight_line",
                    tax_life_years=TAX_LIFE[kind],
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
    ctx: PlanContext, problem: CapacityProblem, sol: CapacitySolution, shares: FloatArray, levers: Levers
) -> Operations:
    """One operating year of ``shares`` (per site) of the plan."""
    fin = ctx.spec.finance
    w = problem.year_weight
    price = ctx.energy_price_per_mwh * levers.energy_price + ctx.carbon_cost_per_mwh * levers.carbon_price
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
        price_per_gpu_hour=ctx.units.price_per_gpu_hour * levers.gpu_hour_price,
        revenue_escalation=fin.revenue_escalation,
        energy_price_escalation=fin.energy_price_escalation,
        renewable_generation_mwh_per_year=max(renewable, 0.0),
    )


def _project(
    ctx: PlanContext, problem: CapacityProblem, sol: CapacitySolution, offset: int, shares: FloatArray, levers: Levers
) -> Project:
    fin, scen = ctx.spec.finance, ctx.scenario.finance
    rate = scen.discount_rate * levers.discount_rate
    loan = None
    if fin.loan is not None:
        loan = DevelopmentBankLoan(
            rate=fin.loan.rate, tenor_years=fin.loan.tenor_years, grace_years=fin.loan.grace_years,
            debt_share=fin.loan.debt_share,
        )  # fmt: skip
    grant = None
    if fin.grant is not None:
        part = float(site_gpus(problem, sol) @ shares) / max(float(site_gpus(problem, sol).sum()), 1e-300)
        cap = None if fin.grant.cap is None else fin.grant.cap * part * _money_factor(ctx)
        grant = CapacityGrant(share=fin.grant.share, cap=cap)
    start = None if ctx.spec.start_year is None else ctx.spec.start_year + offset
    return Project(
        components=components(ctx, problem, sol, shares, levers),
        operations=operations(ctx, problem, sol, shares, levers),
        project_years=scen.project_years - offset,
        tax=TaxSpec(rate=fin.tax_rate),
        financing=Financing(cost_of_equity=rate, loan=loan, discount_rate=rate),
        incentives=Incentives(grant=grant),
        currency=ctx.currency,
        start_year=start,
    )


def _money_factor(ctx: PlanContext) -> float:
    return Money(ctx.currency, ctx.scenario.finance.jpy_per_usd).factor(ctx.spec.costs.currency)


def evaluate_plan(
    ctx: PlanContext, problem: CapacityProblem, sol: CapacitySolution, levers: Levers = Levers()
) -> PlanFinance:
    """Finances of the plan over the whole project, stages added year by year."""
    n = ctx.scenario.finance.project_years
    stages = stage_shares(ctx, problem, sol)
    results = [(offset, evaluate(_project(ctx, problem, sol, offset, shares, levers))) for offset, shares in stages]
    if len(results) == 1 and results[0][0] == 0:
        return _single(results[0][1], stages)
    columns: dict[str, FloatArray] = {}
    for offset, result in results:
        for name, values in result.columns.items():
            columns.setdefault(name, np.zeros(n + 1))[offset:] += values
    rate = results[0][1].discount_rate
    df = discount_factors(rate, n + 1)
    cf = columns["project_cash_flow"]
    columns["discount_factor"] = df
    columns["discounted_project_cash_flow"] = cf * df
    columns["cumulative_project_cash_flow"] = np.cumsum(cf)
    result_irr = irr(cf)
    ke = results[0][1].cost_of_equity
    table = _table(columns, ctx)
    return PlanFinance(
        npv=float(cf @ df),
        irr=result_irr.value,
        irr_note=result_irr.reason,
        payback_years=payback_years(cf),
        discounted_payback_years=payback_years(cf * df),
        lcoe_per_mwh=_levelised(columns["supply_cost"], columns["facility_energy_mwh"], df),
        cost_per_gpu_hour=_levelised(columns["total_cost"], columns["gpu_hours"], df),
        equity_npv=float(columns["equity_cash_flow"] @ discount_factors(ke, n + 1)),
        discount_rate=rate,
        table=table,
        stages=stages,
    )


def _single(result: FinanceResult, stages: tuple[tuple[int, FloatArray], ...]) -> PlanFinance:
    return PlanFinance(
        npv=result.npv,
        irr=result.irr,
        irr_note=result.irr_note,
        payback_years=result.payback_years,
        discounted_payback_years=result.discounted_payback_years,
        lcoe_per_mwh=result.lcoe_per_mwh,
        cost_per_gpu_hour=result.cost_per_gpu_hour,
        equity_npv=result.equity_npv,
        discount_rate=result.discount_rate,
        table=result.table,
        stages=stages,
    )


def _table(columns: dict[str, FloatArray], ctx: PlanContext) -> pd.DataFrame:
    suffix = ctx.currency.lower()
    years = np.arange(columns["capex"].size)
    data: dict[str, object] = {"year": years}
    if ctx.spec.start_year is not None:
        data["calendar_year"] = years + ctx.spec.start_year
    for name, values in columns.items():
        money = name not in ("gpu_hours", "facility_energy_mwh", "discount_factor")
        data[f"{name}_{suffix}" if money else name] = values
    return pd.DataFrame(data).set_index("year")


def _levelised(cost: FloatArray, quantity: FloatArray, df: FloatArray) -> float:
    denominator = float(quantity @ df)
    return float(cost @ df) / denominator if denominator > 0.0 else math.nan


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

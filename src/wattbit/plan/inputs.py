"""From a scenario with a ``[plan]`` to a :class:`~wattbit.opt.capacity.CapacityProblem`: signals, physics and costs.

1. Checks (:mod:`wattbit.plan.checks`): candidates, years, GPU prices, what latency and hazard limits exclude.
2. The eligible candidates' signals over the scenario period **at 1-hour steps** (whatever the scenario's own step):
   the planner is hourly. A period shorter or longer than a year stands for an average year (each hour weighs
   ``8,760 / T``).
3. Physics per site and design option (:mod:`wattbit.plan.site_factors`): facility power per MW of IT at the target
   utilisation, GPUs per MW, PV and wind output per MW.
4. Money in the scenario's finance currency (every amount names its own, :mod:`wattbit.plan.money`): grid price =
   JEPX area price + the grid adder (+ carbon price x intensity), and each capacity's equivalent annual cost with the
   finance module's own capital flows — residual method, resale curve, fixed-asset tax
   (:func:`wattbit.finance.costs.component_annual_cost`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import ValidationError

from wattbit.data.signals import SignalProvenance, load_scenario_signals
from wattbit.errors import ScenarioError
from wattbit.finance.costs import Money, component_annual_cost
from wattbit.opt.capacity import Battery, CapacityProblem, TargetStage
from wattbit.physics.battery import BatterySpec
from wattbit.physics.gpu import get_gpu
from wattbit.plan import checks
from wattbit.plan.kinds import component, fixed_asset_tax, kind_terms, residual_method
from wattbit.plan.money import candidate_amount, check_currencies, converted, plan_amounts
from wattbit.plan.site_factors import design_factors, gpu_fits_cooling, gpus_per_it_mw, renewable_factors
from wattbit.scenario import Period, Scenario, Site
from wattbit.scenario.money import Amount
from wattbit.scenario.plan import COOLING_TYPES, POWER_ARCHITECTURES, Candidate, PlanKind, PlanSpec
from wattbit.units import FloatArray


@dataclass(frozen=True)
class UnitCosts:
    """Capital and operating costs per unit, in the finance currency, per site (what :mod:`wattbit.plan.evaluate`
    turns into finance components). Arrays ``(S,)`` unless noted."""

    building_capex_per_mw: FloatArray  # (S, O): the shell, at the site's building cost factor
    mep_capex_per_mw: FloatArray  # (S, O): electrical and mechanical plant, site works
    gpu_capex: FloatArray  # per GPU, incl. servers and network
    pv_capex_per_mw: float
    wind_capex_per_mw: float
    battery_capex_per_mwh: float
    battery_capex_per_mw: float
    battery_replacement_per_mwh: float
    battery_replacement_per_mw: float
    connection_capex_per_mw: FloatArray
    site_capex: FloatArray
    pv_opex_per_mw_year: float
    wind_opex_per_mw_year: float
    risk: FloatArray  # disaster_risk x risk_premium_fraction: yearly cost per unit of site capex
    price_per_gpu_hour: float
    carbon_price_per_t: float
    grid_adder_per_mwh: float
    building_cost_factor: FloatArray

    @property
    def facility_capex_per_mw(self) -> FloatArray:
        """Shell + MEP per MW of IT ``(S, O)``."""
        return self.building_capex_per_mw + self.mep_capex_per_mw


@dataclass(frozen=True, eq=False)
class PlanContext:
    """What the finance evaluation and the report need besides the problem.

    Attributes
    ----------
    scenario
        The scenario at hourly steps, with the eligible candidate sites only.
    spec
        Its ``[plan]``.
    candidates, sites
        The eligible candidates and their sites (problem order).
    excluded
        Candidates left out, with the reason.
    designs
        ``(cooling, architecture)`` per option.
    it_mw_per_it_mw
        IT power at the utilisation per MW of IT ``(S, O)``.
    energy_price_per_mwh, carbon_cost_per_mwh
        The grid price's market part (with adders) and its carbon-price part ``(S, T)`` [currency/MWh].
    units
        Unit costs.
    ready_year
        Calendar year each site can run from, or None without ``start_year``.
    provenance
        Where each site's signals came from.
    amounts
        Every money amount the plan uses, with its currency and origin.
    money
        The converter to the finance currency.
    """

    scenario: Scenario
    spec: PlanSpec
    candidates: tuple[Candidate, ...]
    sites: tuple[Site, ...]
    excluded: dict[str, str]
    designs: tuple[tuple[str, str], ...]
    it_mw_per_it_mw: FloatArray
    energy_price_per_mwh: FloatArray
    carbon_cost_per_mwh: FloatArray
    units: UnitCosts
    ready_year: tuple[int | None, ...]
    provenance: dict[str, SignalProvenance]
    amounts: tuple[Amount, ...] = ()
    money: Money | None = None

    @property
    def index_utc(self) -> pd.DatetimeIndex:
        """The hourly index of the representative period."""
        return self.scenario.period.index_utc()

    @property
    def currency(self) -> str:
        """The finance currency."""
        return self.scenario.finance.currency


def hourly_scenario(scenario: Scenario, sites: tuple[Site, ...]) -> Scenario:
    """``scenario`` at 1-hour steps with only ``sites``."""
    p = scenario.period
    try:
        period = Period(start=p.start, end=p.end, step="1h", timezone=p.timezone)
    except ValidationError as exc:
        raise ScenarioError(
            f"the planner works in whole hours; the period {p.start.isoformat()} .. {p.end.isoformat()} is not "
            f"({exc.errors()[0]['msg']})",
            path=scenario.source_path,
            field="period",
        ) from exc
    return scenario.model_copy(update={"period": period, "sites": list(sites)})


def _designs(
    spec: PlanSpec, eligible: checks.Eligible
) -> tuple[tuple[tuple[str, str], ...], list[list[str]], np.ndarray]:
    """All (cooling, architecture) options in use, each site's allowed coolings and the ``(S, O)`` mask."""
    allowed_sets: list[set[tuple[str, str]]] = []
    coolings: list[list[str]] = []
    for cand, site in zip(eligible.candidates, eligible.sites, strict=True):
        cool: list[str] = [c for c in (cand.cooling or spec.options.cooling) if gpu_fits_cooling(site, c)]
        arch: list[str] = list(cand.power_architectures or spec.options.power_architectures)
        if not cool:
            raise ScenarioError(
                f"no allowed cooling suits the {site.it.gpu_model} GPUs of {site.name} "
                f"({get_gpu(site.it.gpu_model).cooling}-cooled only)",
                field="plan.options.cooling",
            )
        coolings.append(cool)
        allowed_sets.append({(c, a) for c in cool for a in arch})
    designs = tuple(
        (c, a) for c in COOLING_TYPES for a in POWER_ARCHITECTURES if any((c, a) in x for x in allowed_sets)
    )
    mask = np.array([[d in x for d in designs] for x in allowed_sets], dtype=bool)
    return designs, coolings, mask


def building_cost_factor(spec: PlanSpec, candidate: Candidate, site: Site) -> float:
    """The candidate's building cost relative to Tokyo: its own, else its grid area's (``costs`` table), else 1."""
    if candidate.building_cost_factor is not None:
        return candidate.building_cost_factor
    return spec.costs.building_cost_factor_by_area.get(site.grid_area, 1.0)


def unit_costs(
    spec: PlanSpec, eligible: checks.Eligible, designs: tuple[tuple[str, str], ...], money: Money
) -> UnitCosts:
    """Unit costs per site in the finance currency."""
    c = spec.costs
    n_s, n_o = len(eligible.sites), len(designs)
    building, mep = np.zeros((n_s, n_o)), np.zeros((n_s, n_o))
    factors = np.ones(n_s)
    for i, (cand, site) in enumerate(zip(eligible.candidates, eligible.sites, strict=True)):
        factors[i] = building_cost_factor(spec, cand, site)
        for j, (cooling, arch) in enumerate(designs):
            entry = c.table_entry("facility_capex_per_mw", cooling)
            if entry is not None:
                base = converted(entry, money) * cand.capex_factor
                building[i, j] = base * c.building_share * factors[i]
                mep[i, j] = base * (1.0 - c.building_share) * (c.dc800_capex_factor if arch == "dc800" else 1.0)
    gpu = np.array([_entry(c.table_entry("gpu_capex", s.it.gpu_model), money) for s in eligible.sites])

    def cost(quantity: str) -> float:
        return converted(c.amount(quantity), money)

    index = {id(cand): i for i, cand in enumerate(spec.candidates)}

    def per_site(quantity: str) -> FloatArray:
        return np.array(
            [converted(candidate_amount(spec, index[id(x)], x, quantity), money) for x in eligible.candidates]
        )

    return UnitCosts(
        building_capex_per_mw=building,
        mep_capex_per_mw=mep,
        gpu_capex=gpu + cost("it_other_capex_per_gpu"),
        pv_capex_per_mw=cost("pv_capex_per_mw"),
        wind_capex_per_mw=cost("wind_capex_per_mw"),
        battery_capex_per_mwh=cost("battery_capex_per_mwh"),
        battery_capex_per_mw=cost("battery_capex_per_mw"),
        battery_replacement_per_mwh=cost("battery_replacement_per_mwh"),
        battery_replacement_per_mw=cost("battery_replacement_per_mw"),
        connection_capex_per_mw=per_site("connection_capex_per_mw"),
        site_capex=per_site("site_capex"),
        pv_opex_per_mw_year=cost("pv_opex_per_mw_year"),
        wind_opex_per_mw_year=cost("wind_opex_per_mw_year"),
        risk=np.array([x.disaster_risk * c.risk_premium_fraction for x in eligible.candidates]),
        price_per_gpu_hour=cost("price_per_gpu_hour"),
        carbon_price_per_t=cost("carbon_price_per_t"),
        grid_adder_per_mwh=cost("grid_adder_per_mwh"),
        building_cost_factor=factors,
    )


def _entry(amount: Amount | None, money: Money) -> float:
    return float("nan") if amount is None else converted(amount, money)


def _eac(spec: PlanSpec, kind: PlanKind, capex: float | FloatArray, years: int, rate: float) -> FloatArray:
    """Equivalent annual cost of ``capex`` of ``kind`` (element-wise; it is linear in the capex), capital and
    fixed-asset tax, no O&M."""
    unit = component("unit", kind_terms(spec)[kind], 1.0)
    per_unit = component_annual_cost(unit, years, rate, residual_method(spec), fixed_asset_tax(spec))
    return np.asarray(capex, dtype=float) * per_unit


def _annual_costs(
    spec: PlanSpec, costs: UnitCosts, gpus_per_mw: FloatArray, rate: float, years: int
) -> dict[str, FloatArray]:
    """Equivalent annual cost per unit of each capacity, O&M and risk premium included [currency/yr]."""
    c = spec.costs
    risk = costs.risk
    facility = _eac(spec, "building", costs.building_capex_per_mw, years, rate)
    facility = facility + _eac(spec, "mep", costs.mep_capex_per_mw, years, rate)
    facility = facility + c.facility_opex_fraction * costs.facility_capex_per_mw
    gpu = _eac(spec, "it", costs.gpu_capex, years, rate) + c.it_opex_fraction * costs.gpu_capex
    it_capex = costs.facility_capex_per_mw + gpus_per_mw * costs.gpu_capex[:, None]
    battery_e = _battery_eac(spec, costs.battery_capex_per_mwh, costs.battery_replacement_per_mwh, years, rate)
    battery_p = _battery_eac(spec, costs.battery_capex_per_mw, costs.battery_replacement_per_mw, years, rate)
    pv = _eac(spec, "pv", costs.pv_capex_per_mw, years, rate) + costs.pv_opex_per_mw_year
    wind = _eac(spec, "wind", costs.wind_capex_per_mw, years, rate) + costs.wind_opex_per_mw_year
    return {
        "it": facility + gpus_per_mw * gpu[:, None] + risk[:, None] * it_capex,
        "pv": pv + risk * costs.pv_capex_per_mw,
        "wind": wind + risk * costs.wind_capex_per_mw,
        "battery_mwh": battery_e + risk * costs.battery_capex_per_mwh,
        "battery_mw": battery_p + risk * costs.battery_capex_per_mw,
        "connection": _eac(spec, "grid_connection", costs.connection_capex_per_mw, years, rate)
        + risk * costs.connection_capex_per_mw,
        "site": _eac(spec, "building", costs.site_capex, years, rate) + risk * costs.site_capex,
    }


def _battery_eac(spec: PlanSpec, capex: float, again: float, years: int, rate: float) -> FloatArray:
    """A battery's yearly cost per unit: first purchase ``capex``, replacements at ``again``."""
    if capex <= 0.0:
        return np.asarray(0.0)
    terms = kind_terms(spec)["battery"]
    unit = component("unit", terms, 1.0, replacement_capex=again / capex)
    return np.asarray(capex * component_annual_cost(unit, years, rate, residual_method(spec), fixed_asset_tax(spec)))


def _stages(spec: PlanSpec, candidates: tuple[Candidate, ...]) -> tuple[TargetStage, ...]:
    ready = [checks.ready_year(spec, c) for c in candidates]
    out = []
    for year, size in spec.target.steps():
        available = np.array([year is None or (r or 0) <= year for r in ready], dtype=bool)
        out.append(TargetStage(size=size, available=available, label="target" if year is None else str(year)))
    return tuple(out)


def build_problem(scenario: Scenario) -> tuple[CapacityProblem, PlanContext]:
    """The planning problem of ``scenario`` and its context.

    Raises
    ------
    ScenarioError
        For a missing or inconsistent ``[plan]`` (unknown site, years outside the project, a target no candidate
        set can host, a GPU model without a price, ...).
    """
    spec = checks.require_plan(scenario)
    eligible = checks.eligible_candidates(scenario, spec)
    checks.check_years(scenario, spec)
    designs, coolings, allowed = _designs(spec, eligible)
    checks.check_costs(scenario, spec, eligible, coolings)
    if spec.target.unit == "gpus":
        units_per_mw = [
            max(gpus_per_it_mw(site, c, a) for (c, a), ok in zip(designs, allowed[i], strict=True) if ok)
            for i, site in enumerate(eligible.sites)
        ]
    else:
        units_per_mw = [1.0] * len(eligible.sites)
    checks.check_capacity(scenario, spec, eligible, units_per_mw)
    hourly = hourly_scenario(scenario, eligible.sites)
    signals, provenance = load_scenario_signals(hourly)
    u = spec.target.utilization
    n_s, n_o = len(eligible.sites), len(designs)
    n_t = len(hourly.period.index_utc())
    facility = np.zeros((n_s, n_o, n_t))
    it_share = np.zeros((n_s, n_o))
    gpus_per_mw = np.ones((n_s, n_o))
    pv, wind = np.zeros((n_s, n_t)), np.zeros((n_s, n_t))
    for i, site in enumerate(eligible.sites):
        frame = signals[site.name]
        for j, (cooling, arch) in enumerate(designs):
            f = design_factors(site, cooling, arch, u, frame)
            facility[i, j], it_share[i, j], gpus_per_mw[i, j] = f
        pv[i], wind[i] = renewable_factors(site, frame)
    fin = scenario.finance
    amounts = plan_amounts(spec, eligible.candidates, eligible.sites)
    money = check_currencies(scenario, amounts)
    units = unit_costs(spec, eligible, designs, money)
    annual = _annual_costs(spec, units, gpus_per_mw, fin.discount_rate, fin.project_years)
    names = [s.name for s in eligible.sites]
    jpy = money.factor("JPY")  # JEPX prices are in JPY
    market = np.stack([signals[n]["price_jpy_per_mwh"].to_numpy(dtype=float) for n in names])
    energy_price = market * jpy + units.grid_adder_per_mwh
    carbon_t = np.stack([signals[n]["carbon_g_per_kwh"].to_numpy(dtype=float) for n in names]) / 1000.0
    cfe = np.stack([signals[n]["cfe_pct"].to_numpy(dtype=float) for n in names]) / 100.0
    carbon_cost = units.carbon_price_per_t * carbon_t
    limits = spec.constraints
    battery = BatterySpec(energy_mwh=1.0, power_mw=1.0)
    problem = CapacityProblem(
        sites=tuple(names),
        options=tuple(f"{c}/{a}" for c, a in designs),
        facility_mw_per_it_mw=facility,
        allowed=allowed,
        gpus_per_it_mw=gpus_per_mw,
        pv_mw_per_mw=pv,
        wind_mw_per_mw=wind,
        price_per_mwh=energy_price + carbon_cost,
        carbon_t_per_mwh=carbon_t,
        cfe_fraction=cfe,
        max_it_mw=np.array([c.max_it_mw for c in eligible.candidates]),
        max_pv_mw=np.array([c.max_pv_mw for c in eligible.candidates]),
        max_wind_mw=np.array([c.max_wind_mw for c in eligible.candidates]),
        max_battery_mwh=np.array(
            [np.inf if c.max_battery_mwh is None else c.max_battery_mwh for c in eligible.candidates]
        ),
        max_connection_mw=np.array([c.max_connection_mw for c in eligible.candidates]),
        it_cost_per_mw=annual["it"],
        pv_cost_per_mw=annual["pv"],
        wind_cost_per_mw=annual["wind"],
        battery_cost_per_mwh=np.broadcast_to(annual["battery_mwh"], (n_s,)).astype(float),
        battery_cost_per_mw=np.broadcast_to(annual["battery_mw"], (n_s,)).astype(float),
        connection_cost_per_mw=annual["connection"],
        site_cost=annual["site"],
        stages=_stages(spec, eligible.candidates),
        target_unit=spec.target.unit,
        revenue_per_gpu=units.price_per_gpu_hour * u * 8760.0,
        objective=spec.objective,
        battery=Battery(battery.charge_efficiency, battery.discharge_efficiency, battery.soc_min),
        carbon_cap_t_per_year=limits.carbon_cap_t_per_year,
        min_clean_energy_share=limits.min_clean_energy_share,
        max_site_share=limits.max_site_share,
        integer_build=spec.options.integer_build,
        mip_rel_gap=spec.options.mip_rel_gap,
        time_limit_s=spec.options.time_limit_s,
    )
    context = PlanContext(
        scenario=hourly,
        spec=spec,
        candidates=eligible.candidates,
        sites=eligible.sites,
        excluded=eligible.excluded,
        designs=designs,
        it_mw_per_it_mw=it_share,
        energy_price_per_mwh=energy_price,
        carbon_cost_per_mwh=carbon_cost,
        units=units,
        ready_year=tuple(checks.ready_year(spec, c) for c in eligible.candidates),
        provenance=provenance,
        amounts=tuple(amounts),
        money=money,
    )
    return problem, context

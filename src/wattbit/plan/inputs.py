"""From a scenario with a ``[plan]`` to a :class:`~wattbit.opt.capacity.CapacityProblem`: signals, physics and costs.

1. Checks (:mod:`wattbit.plan.checks`): candidates, years, GPU prices, what latency and hazard limits exclude.
2. The eligible candidates' signals over the scenario period **at 1-hour steps** (whatever the scenario's own step):
   the planner is hourly. A period shorter or longer than a year stands for an average year (each hour weighs
   ``8,760 / T``).
3. Physics per site and design option (:mod:`wattbit.plan.site_factors`): facility power per MW of IT at the target
   utilisation, GPUs per MW, PV and wind output per MW.
4. Money in the scenario's finance currency: grid price = JEPX area price + ``grid_adder_jpy_per_mwh`` (+ carbon
   price x intensity), and each capacity's equivalent annual cost (:mod:`wattbit.finance.costs`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import ValidationError

from wattbit.data.signals import SignalProvenance, load_scenario_signals
from wattbit.errors import ScenarioError
from wattbit.finance.costs import Money, equivalent_annual_cost
from wattbit.opt.capacity import Battery, CapacityProblem, TargetStage
from wattbit.physics.battery import BatterySpec
from wattbit.physics.gpu import get_gpu
from wattbit.plan import checks
from wattbit.plan.site_factors import design_factors, gpu_fits_cooling, gpus_per_it_mw, renewable_factors
from wattbit.scenario import Period, Scenario, Site
from wattbit.scenario.plan import COOLING_TYPES, POWER_ARCHITECTURES, Candidate, PlanCosts, PlanSpec, cost_entry
from wattbit.units import FloatArray


@dataclass(frozen=True)
class UnitCosts:
    """Capital and operating costs per unit, in the finance currency, per site (what :mod:`wattbit.plan.evaluate`
    turns into finance components). Arrays ``(S,)`` unless noted."""

    facility_capex_per_mw: FloatArray  # (S, O)
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


def _cost(costs: PlanCosts, name: str, money: Money) -> float:
    """A cost field in the finance currency: given values are in ``costs.currency``, defaults in USD."""
    source = costs.currency if name in costs.model_fields_set else "USD"
    return float(getattr(costs, name)) * money.factor(source)


def _dict_cost(costs: PlanCosts, name: str, key: str, money: Money) -> float:
    """An entry of a cost table in the finance currency: given entries in ``costs.currency``, defaults in USD."""
    value, currency = cost_entry(costs, name, key) or (float("nan"), "USD")
    return value * money.factor(currency)


def unit_costs(
    spec: PlanSpec, eligible: checks.Eligible, designs: tuple[tuple[str, str], ...], money: Money
) -> UnitCosts:
    """Unit costs per site in the finance currency."""
    c = spec.costs
    facility = np.zeros((len(eligible.sites), len(designs)))
    for i, cand in enumerate(eligible.candidates):
        for j, (cooling, arch) in enumerate(designs):
            if cost_entry(c, "facility_capex_per_mw", cooling) is not None:
                factor = c.dc800_capex_factor if arch == "dc800" else 1.0
                base = _dict_cost(c, "facility_capex_per_mw", cooling, money)
                facility[i, j] = base * factor * cand.capex_factor
    gpu = np.array([_dict_cost(c, "gpu_capex", s.it.gpu_model, money) for s in eligible.sites])
    gpu = gpu + _cost(c, "it_other_capex_per_gpu", money)
    conn_default = _cost(c, "connection_capex_per_mw", money)
    site_default = _cost(c, "site_capex", money)
    fx = money.factor(c.currency)
    return UnitCosts(
        facility_capex_per_mw=facility,
        gpu_capex=gpu,
        pv_capex_per_mw=_cost(c, "pv_capex_per_mw", money),
        wind_capex_per_mw=_cost(c, "wind_capex_per_mw", money),
        battery_capex_per_mwh=_cost(c, "battery_capex_per_mwh", money),
        battery_capex_per_mw=_cost(c, "battery_capex_per_mw", money),
        battery_replacement_per_mwh=_cost(c, "battery_replacement_per_mwh", money),
        battery_replacement_per_mw=_cost(c, "battery_replacement_per_mw", money),
        connection_capex_per_mw=np.array(
            [
                conn_default if x.connection_capex_per_mw is None else x.connection_capex_per_mw * fx
                for x in eligible.candidates
            ]
        ),
        site_capex=np.array([site_default if x.site_capex is None else x.site_capex * fx for x in eligible.candidates]),
        pv_opex_per_mw_year=_cost(c, "pv_opex_per_mw_year", money),
        wind_opex_per_mw_year=_cost(c, "wind_opex_per_mw_year", money),
        risk=np.array([x.disaster_risk * c.risk_premium_fraction for x in eligible.candidates]),
        price_per_gpu_hour=_cost(c, "price_per_gpu_hour", money),
        carbon_price_per_t=_cost(c, "carbon_price_per_t", money),
    )


def _eac(capex: float | FloatArray, life: int, years: int, rate: float, again: float | None = None) -> FloatArray:
    """:func:`~wattbit.finance.costs.equivalent_annual_cost` element-wise (capital only)."""
    arr = np.asarray(capex, dtype=float)
    flat = [equivalent_annual_cost(float(x), life, years, rate, again) for x in arr.ravel()]
    return np.asarray(flat, dtype=float).reshape(arr.shape)


def _annual_costs(
    spec: PlanSpec, costs: UnitCosts, gpus_per_mw: FloatArray, rate: float, years: int
) -> dict[str, FloatArray]:
    """Equivalent annual cost per unit of each capacity, O&M and risk premium included [currency/yr]."""
    c = spec.costs
    risk = costs.risk
    facility = _eac(costs.facility_capex_per_mw, c.facility_life_years, years, rate)
    facility = facility + c.facility_opex_fraction * costs.facility_capex_per_mw
    gpu = _eac(costs.gpu_capex, c.it_life_years, years, rate) + c.it_opex_fraction * costs.gpu_capex
    it_capex = costs.facility_capex_per_mw + gpus_per_mw * costs.gpu_capex[:, None]
    battery_e = _eac(costs.battery_capex_per_mwh, c.battery_life_years, years, rate, costs.battery_replacement_per_mwh)
    battery_p = _eac(costs.battery_capex_per_mw, c.battery_life_years, years, rate, costs.battery_replacement_per_mw)
    pv = _eac(costs.pv_capex_per_mw, c.pv_life_years, years, rate) + costs.pv_opex_per_mw_year
    wind = _eac(costs.wind_capex_per_mw, c.wind_life_years, years, rate) + costs.wind_opex_per_mw_year
    return {
        "it": facility + gpus_per_mw * gpu[:, None] + risk[:, None] * it_capex,
        "pv": pv + risk * costs.pv_capex_per_mw,
        "wind": wind + risk * costs.wind_capex_per_mw,
        "battery_mwh": battery_e + risk * costs.battery_capex_per_mwh,
        "battery_mw": battery_p + risk * costs.battery_capex_per_mw,
        "connection": _eac(costs.connection_capex_per_mw, c.connection_life_years, years, rate)
        + risk * costs.connection_capex_per_mw,
        "site": _eac(costs.site_capex, c.facility_life_years, years, rate) + risk * costs.site_capex,
    }


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
    money = Money(fin.currency, fin.jpy_per_usd)
    units = unit_costs(spec, eligible, designs, money)
    annual = _annual_costs(spec, units, gpus_per_mw, fin.discount_rate, fin.project_years)
    names = [s.name for s in eligible.sites]
    jpy = money.factor("JPY")
    market = np.stack([signals[n]["price_jpy_per_mwh"].to_numpy(dtype=float) for n in names])
    energy_price = (market + spec.costs.grid_adder_jpy_per_mwh) * jpy
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
    )
    return problem, context

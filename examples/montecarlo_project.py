"""A ready-made Monte Carlo model: a 20-year AI datacenter project on a japan-2022 site, evaluated with
:mod:`wattbit.finance.project` after re-dispatching its battery for each draw.

:class:`ExampleProject` is a picklable callable ``draw -> outputs`` for
:func:`wattbit.montecarlo.engine.run_monte_carlo` and :func:`~wattbit.montecarlo.engine.sensitivity`;
:func:`example_project_draw` is the default instance as a plain function. For one draw it

1. takes the site's real base year (built-in japan-2022 signals: JEPX prices, grid carbon, weather; averaged to
   hours) and its PV output (:func:`wattbit.physics.renewables.site_generation_w`), loaded once per process;
2. runs the GPUs at ``base_utilisation x demand_multiplier`` (at most 1) and turns that into facility power per
   hour with the site physics (power chain, cooling from the hour's temperatures);
3. solves the battery dispatch for the year as a linear programme with HiGHS (``scipy.optimize.linprog``):
   minimise ``sum_h g_h (price_h m_price + shadow carbon price x carbon_h m_carbon)`` over grid import ``g``,
   charge, discharge and stored energy, with the hourly balance ``g + PV + discharge - charge >= load`` (surplus
   PV is spilled), ``g <= grid connection``, the battery's power, energy and efficiency limits and the year ending
   with at least its initial charge — 35,040 variables, nearly all of a draw's 0.22 s of CPU;
4. bills the grid import at the drawn prices, counts carbon as ``sum_h g_h carbon_h m_carbon``, loses GPU-hours to
   failures at the drawn rate, scales each component group's capex, and evaluates NPV, IRR, LCOE and cost per
   GPU-hour with :func:`wattbit.finance.project.evaluate`.

Every assumption and its status (V/S/U as in REFERENCE.md) is in the constants below and in
``docs/uncertainty.md``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import linprog

from wattbit.data.signals import load_site_signals
from wattbit.errors import WattbitInputError
from wattbit.finance.components import Component, ComponentKind, Operations
from wattbit.finance.financing import Financing
from wattbit.finance.project import Project, evaluate
from wattbit.physics.battery import BatterySpec
from wattbit.physics.gpu import it_power_w
from wattbit.physics.renewables import site_generation_w
from wattbit.physics.site import SitePlant, plant_from_site, site_power
from wattbit.scenario import Site, load_scenario
from wattbit.units import FloatArray, check_int, check_number

#: Exchange rate used to convert USD cost data [JPY/USD] (U).
JPY_PER_USD = 150.0
#: IT capex per GPU including its share of server, network and storage [USD] (U; an H100 alone ~30k, REFERENCE §6).
IT_CAPEX_USD_PER_GPU = 40_000.0
#: Shell + MEP capex per W of IT [USD/W]: Tokyo/Osaka mid 13.24 (Cushman & Wakefield APAC 2025, S), split into
#: building 40 %, power chain 35 %, cooling 25 % (U).
FACILITY_USD_PER_W = 13.24
FACILITY_SPLIT: dict[ComponentKind, float] = {"building": 0.40, "power_chain": 0.35, "cooling": 0.25}
#: PV capex [JPY/kW]: Japan utility PV, FIT 2015 (V, outdated); O&M 18 USD/kW-yr (REopt pv.jl, V).
PV_JPY_PER_KW = 290_000.0
PV_OPEX_USD_PER_KW_YEAR = 18.0
#: Battery capex (REopt electric_storage.jl, V): 455 USD/kWh + 910 USD/kW new, 318 USD/kWh + 715 USD/kW at year 10.
BATTERY_USD = (455.0, 910.0)
BATTERY_REPLACEMENT_USD = (318.0, 715.0)
#: Grid connection works and contribution [JPY/MW] (U: no published figure found).
GRID_JPY_PER_MW = 50e6
#: Fixed O&M as a share of capex per year: IT support 4 %, facility 2 % (U).
IT_OPEX_SHARE, FACILITY_OPEX_SHARE = 0.04, 0.02
#: Unplanned interruptions per GPU-day, Llama 3 405B on 16,384 H100 (419 in 54 days; REFERENCE §7, S, derived).
FAILURES_PER_GPU_DAY = 4.7e-4
#: Capex groups of :class:`~wattbit.montecarlo.engine.UncertaintySpec` by component kind.
CAPEX_GROUPS = {
    "it": "it",
    "building": "facility",
    "power_chain": "facility",
    "cooling": "facility",
    "pv": "energy",
    "battery": "energy",
    "grid_connection": "energy",
}
#: Discharge cost that breaks ties between equally cheap dispatches [JPY/MWh].
_TIE_BREAK_PER_MWH = 1.0


@dataclass(frozen=True)
class SiteYear:
    """A site's base year at hourly resolution: what every draw starts from."""

    price_per_mwh: FloatArray
    carbon_g_per_kwh: FloatArray
    temp_db_c: FloatArray
    temp_wb_c: FloatArray
    pv_mw: FloatArray


@functools.lru_cache(maxsize=4)
def load_site_year(scenario: str, site: str) -> tuple[SiteYear, Site]:
    """Hourly base year and the scenario entry of ``site`` in ``scenario`` (built-in name or TOML path); cached.

    Raises
    ------
    WattbitInputError
        If the scenario has no such site.
    """
    sc = load_scenario(scenario)
    match = [s for s in sc.sites if s.name == site]
    if not match:
        names = [s.name for s in sc.sites]
        raise WattbitInputError(f"site={site!r} is not in scenario {scenario!r}; sites: {names}", field="site")
    st = match[0]
    signals, _ = load_site_signals(st, sc.period)
    # PV only (wind capacity 0): the example nets PV against the load and models no wind, whatever the site has
    signals["pv_mw"] = site_generation_w(st, signals, wind_capacity_w=0.0).pv_w / 1e6
    hourly = signals.resample(pd.Timedelta("1h")).mean()
    year = SiteYear(
        price_per_mwh=hourly["price_jpy_per_mwh"].to_numpy(dtype=float),
        carbon_g_per_kwh=hourly["carbon_g_per_kwh"].to_numpy(dtype=float),
        temp_db_c=hourly["temp_air_c"].to_numpy(dtype=float),
        temp_wb_c=hourly["temp_wetbulb_c"].to_numpy(dtype=float),
        pv_mw=hourly["pv_mw"].to_numpy(dtype=float),
    )
    return year, st


@dataclass(frozen=True)
class ExampleProject:
    """A 20-year AI datacenter project at one japan-2022 site; call it with a draw to get its outputs.

    Attributes
    ----------
    scenario, site
        Where the base year and the plant (GPUs, cooling, power architecture, PV, grid connection) come from.
    base_utilisation
        Planned GPU load fraction, (0, 1] (U: 0.8).
    battery_mwh, battery_mw
        Battery added to the site [MWh, MW], >= 0 (8 MWh / 2 MW as at japan-2022's Ishikari site); 0 skips the LP.
    price_per_gpu_hour
        GPU-hour price in year 1 [JPY] (U: 350, about 2.3 USD).
    carbon_shadow_price_per_t
        Internal carbon price the dispatch weighs against energy cost [JPY/t CO2] (U: 5,000; not a cash flow —
        Japan's GX-ETS price is not yet set).
    project_years
        Operating years, 1..60.
    discount_rate
        Project discount rate (0.07 as the japan-2022 scenario's finance section).
    job_gpus, checkpoint_interval_h, restart_h
        Failure loss model: an interruption of a job of ``job_gpus`` GPUs loses on average half a checkpoint
        interval plus the restart time (U: 1,024 GPUs, 1 h, 0.25 h).
    """

    scenario: str = "japan-2022"
    site: str = "fukushima"
    base_utilisation: float = 0.8
    battery_mwh: float = 8.0
    battery_mw: float = 2.0
    price_per_gpu_hour: float = 350.0
    carbon_shadow_price_per_t: float = 5_000.0
    project_years: int = 20
    discount_rate: float = 0.07
    job_gpus: int = 1024
    checkpoint_interval_h: float = 1.0
    restart_h: float = 0.25

    def __post_init__(self) -> None:
        check_number(self.base_utilisation, "base_utilisation", 0.0, 1.0, lo_open=True)
        for name in ("battery_mwh", "battery_mw", "price_per_gpu_hour", "carbon_shadow_price_per_t", "restart_h"):
            check_number(getattr(self, name), name, 0.0)
        check_number(self.checkpoint_interval_h, "checkpoint_interval_h", 0.0, lo_open=True)
        check_number(self.discount_rate, "discount_rate", 0.0, 0.5)
        check_int(self.project_years, "project_years", 1, 60)
        check_int(self.job_gpus, "job_gpus", 1, 10_000_000)

    def __call__(self, draw: Mapping[str, float]) -> dict[str, float]:
        """Outputs of one draw; a multiplier missing from ``draw`` is 1 (held at its base value).

        Returns
        -------
        dict
            ``npv_jpy``, ``irr``, ``lcoe_jpy_per_mwh``, ``cost_jpy_per_gpu_hour``, ``carbon_t_per_year``,
            ``grid_import_mwh_per_year``, ``energy_cost_jpy_per_year``, ``gpu_hours_per_year``.
        """
        year, st = load_site_year(self.scenario, self.site)
        plant = plant_from_site(st)
        m = {k: _multiplier(draw, k) for k in _MULTIPLIERS}
        util = min(self.base_utilisation * m["demand"], 1.0)
        it_dc = float(it_power_w(plant.gpu, plant.gpu_count, util))
        load_mw = site_power(plant, np.full(year.temp_db_c.size, it_dc), year.temp_db_c, year.temp_wb_c).facility_w
        load_mw = load_mw / 1e6
        price = year.price_per_mwh * m["energy_price"]
        carbon = year.carbon_g_per_kwh * m["grid_carbon"]
        dispatch_cost = price + self.carbon_shadow_price_per_t * carbon / 1000.0  # g/kWh = kg/MWh -> t/MWh
        grid_mw = st.grid_connection_mw
        battery = BatterySpec(self.battery_mwh, self.battery_mw) if self.battery_mwh and self.battery_mw else None
        imports = dispatch_grid_import(dispatch_cost, load_mw - year.pv_mw, grid_mw, battery)
        lost = min(self._failure_loss_fraction(m["failure_rate"]), 1.0)
        ops = Operations(
            gpu_hours_per_year=plant.gpu_count * util * (1.0 - lost) * imports.size,
            facility_energy_mwh_per_year=float(load_mw.sum()),
            grid_import_mwh=imports,
            price_per_mwh=price,
            step_h=1.0,
            price_per_gpu_hour=self.price_per_gpu_hour,
        )
        components = self.components(plant, st.pv_mw, grid_mw, draw)
        result = evaluate(
            Project(components, ops, self.project_years, financing=Financing(discount_rate=self.discount_rate))
        )
        return {
            "npv_jpy": result.npv,
            "irr": result.irr,
            "lcoe_jpy_per_mwh": result.lcoe_per_mwh,
            "cost_jpy_per_gpu_hour": result.cost_per_gpu_hour,
            "carbon_t_per_year": float(imports @ carbon) / 1000.0,
            "grid_import_mwh_per_year": float(imports.sum()),
            "energy_cost_jpy_per_year": ops.energy_cost_per_year,
            "gpu_hours_per_year": ops.gpu_hours_per_year,
        }

    def _failure_loss_fraction(self, multiplier: float) -> float:
        """Share of GPU-hours lost: failures per job-hour x (checkpoint interval / 2 + restart time)."""
        per_job_hour = FAILURES_PER_GPU_DAY / 24.0 * multiplier * self.job_gpus
        return per_job_hour * (0.5 * self.checkpoint_interval_h + self.restart_h)

    def components(
        self, plant: SitePlant, pv_mw: float, grid_mw: float, draw: Mapping[str, float]
    ) -> tuple[Component, ...]:
        """The capital components [JPY], each group's capex multiplied by the draw's ``capex_<group>_multiplier``.

        GPUs (5-year life, Japan declining balance), building / power chain / cooling (38 / 15 / 15 years) sized
        on the rated IT power, the grid connection, PV if the site has it, and the battery with its REopt
        replacement in year 10.
        """
        usd = JPY_PER_USD
        it_capex = IT_CAPEX_USD_PER_GPU * usd * plant.gpu_count
        facility = FACILITY_USD_PER_W * usd * plant.rated_it_dc_w
        e_kwh, p_kw = self.battery_mwh * 1000.0, self.battery_mw * 1000.0
        base = [
            Component(
                "gpus",
                "it",
                it_capex,
                5,
                fixed_opex_per_year=IT_OPEX_SHARE * it_capex,
                depreciation="declining_balance",
            ),
            *(
                Component(
                    kind, kind, facility * share, life, fixed_opex_per_year=FACILITY_OPEX_SHARE * facility * share
                )
                for (kind, share), life in zip(FACILITY_SPLIT.items(), (38, 15, 15), strict=True)
            ),
            Component("grid", "grid_connection", GRID_JPY_PER_MW * grid_mw, 40),
        ]
        if pv_mw:
            base.append(
                Component(
                    "pv",
                    "pv",
                    PV_JPY_PER_KW * pv_mw * 1000.0,
                    25,
                    tax_life_years=17,
                    fixed_opex_per_year=PV_OPEX_USD_PER_KW_YEAR * usd * pv_mw * 1000.0,
                )
            )
        if e_kwh and p_kw:
            new = (BATTERY_USD[0] * e_kwh + BATTERY_USD[1] * p_kw) * usd
            again = (BATTERY_REPLACEMENT_USD[0] * e_kwh + BATTERY_REPLACEMENT_USD[1] * p_kw) * usd
            years = (10,) if self.project_years > 10 else ()
            base.append(Component("battery", "battery", new, 10, replacement_capex=again, replacement_years=years))
        return tuple(_scaled(c, _multiplier(draw, f"capex_{CAPEX_GROUPS[c.kind]}")) for c in base)


_MULTIPLIERS = ("energy_price", "grid_carbon", "demand", "failure_rate")


def _multiplier(draw: Mapping[str, float], name: str) -> float:
    value = draw.get(f"{name}_multiplier", 1.0)
    return check_number(value, f"{name}_multiplier", 0.0)


def _scaled(component: Component, factor: float) -> Component:
    if factor == 1.0:
        return component
    again = component.replacement_capex
    return replace(
        component, capex=component.capex * factor, replacement_capex=None if again is None else again * factor
    )


@functools.lru_cache(maxsize=4)
def _lp_matrices(steps: int, eta_c: float, eta_d: float) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Constraint matrices over ``x = [charge, discharge, stored, grid]`` (each ``steps`` long)."""
    eye = sp.identity(steps, format="csr")
    zero = sp.csr_matrix((steps, steps))
    diff = (eye - sp.eye(steps, k=-1, format="csr")).tocsr()
    soc = sp.hstack([-eta_c * eye, eye / eta_d, diff, zero]).tocsr()  # s_t - s_{t-1} - eta_c c_t + d_t / eta_d = 0
    last = sp.csr_matrix(([-1.0], ([0], [3 * steps - 1])), shape=(1, 4 * steps))  # -s_{T-1} <= -s_init
    balance = sp.hstack([eye, -eye, zero, -eye])  # c - d - g <= pv - load
    return soc, sp.vstack([balance, last]).tocsr()


def dispatch_grid_import(
    cost_per_mwh: FloatArray, net_load_mw: FloatArray, grid_mw: float, battery: BatterySpec | None
) -> FloatArray:
    """Hourly grid import [MWh] that minimises ``sum(cost x import)`` with the battery (HiGHS LP), or without one.

    Parameters
    ----------
    cost_per_mwh
        Cost of importing in each hour [JPY/MWh].
    net_load_mw
        Facility load minus PV per hour [MW]; negative hours have surplus PV, which is spilled if not stored.
    grid_mw
        Grid connection limit [MW].
    battery
        The battery (efficiencies and state-of-charge window as REopt's defaults), or None.

    Raises
    ------
    WattbitInputError
        If the load cannot be met within the grid connection (the LP is infeasible).
    """
    need = np.maximum(net_load_mw, 0.0)
    if battery is None:
        if need.max() > grid_mw * (1 + 1e-9):
            raise WattbitInputError(
                f"net load peaks at {need.max():.3f} MW, above the grid connection of {grid_mw:g} MW",
                field="grid_connection_mw",
            )
        return need
    b = battery
    steps = cost_per_mwh.size
    soc, ub = _lp_matrices(steps, b.charge_efficiency, b.discharge_efficiency)
    s0 = b.initial_soc_mwh
    b_eq = np.zeros(steps)
    b_eq[0] = s0
    b_ub = np.append(-net_load_mw, -s0)
    c = np.concatenate([np.zeros(steps), np.full(steps, _TIE_BREAK_PER_MWH), np.zeros(steps), cost_per_mwh])
    lo = np.repeat([0.0, 0.0, b.soc_min_mwh, 0.0], steps)
    hi = np.repeat([b.power_mw, b.power_mw, b.soc_max_mwh, grid_mw], steps)
    res = linprog(c, A_ub=ub, b_ub=b_ub, A_eq=soc, b_eq=b_eq, bounds=np.column_stack([lo, hi]), method="highs")
    if res.status != 0:
        raise WattbitInputError(
            f"battery dispatch found no solution ({res.message}); the load may exceed the grid connection of "
            f"{grid_mw:g} MW plus the battery",
            field="grid_connection_mw",
        )
    return np.maximum(np.asarray(res.x[3 * steps :], dtype=float), 0.0)


def example_project_draw(draw: Mapping[str, float]) -> dict[str, float]:
    """Outputs of the default :class:`ExampleProject` for one draw (see its ``__call__``)."""
    return ExampleProject()(draw)

"""The capacity problem as arrays: what :mod:`wattbit.opt.capacity` optimises, and what it returns.

:class:`CapacityProblem` holds everything the optimisation needs, already turned into numbers: hourly facility power per
MW of IT for each site and design option (from the site physics), PV and wind output per MW (pvlib, windpowerlib),
grid prices, carbon and carbon-free shares, limits, and costs as *equivalent annual costs* per unit. It is built from
a scenario by :func:`wattbit.plan.inputs.build_problem`, or by hand in tests. Index names: ``s`` site, ``o`` design
option (cooling x power architecture), ``t`` hour of the representative period.

Money is in the finance currency (a label); the model divides it by :data:`MONEY_SCALE` so that the objective is in
millions and HiGHS sees coefficients of similar size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from wattbit.errors import WattbitInputError
from wattbit.units import BoolArray, FloatArray

#: Money in the model is in units of 1e6 of the currency.
MONEY_SCALE = 1e6
#: Hours in a (non-leap) year: a representative period of ``T`` hours stands for ``8,760 / T`` of each hour.
YEAR_H = 8760.0


@dataclass(frozen=True)
class TargetStage:
    """Compute that must be in place by one stage of the build-out.

    Attributes
    ----------
    size
        Required IT [MW at the IT input, full load] or GPUs, as ``CapacityProblem.target_unit`` says.
    available
        Sites whose grid connection is energised by the stage's year, ``(S,)``.
    label
        How messages name the stage, e.g. ``"2028"`` or ``"target"``.
    """

    size: float
    available: BoolArray
    label: str


@dataclass(frozen=True)
class Battery:
    """Battery efficiencies and window (defaults: REopt.jl via :class:`wattbit.physics.battery.BatterySpec`, V)."""

    charge_efficiency: float
    discharge_efficiency: float
    soc_min: float


@dataclass(frozen=True, eq=False)
class CapacityProblem:
    """A capacity-planning problem over a representative period of ``T`` hours.

    Attributes
    ----------
    sites, options
        Names of the ``S`` candidate sites and ``O`` design options.
    facility_mw_per_it_mw
        Facility power per MW of installed IT at the target utilisation, ``(S, O, T)`` [MW/MW]: the site physics'
        hourly ``facility / rated IT`` (a PUE at the operating point, times the utilisation).
    allowed
        Options allowed at each site, ``(S, O)``.
    gpus_per_it_mw
        GPUs per MW of rated IT input, ``(S, O)``.
    pv_mw_per_mw, wind_mw_per_mw
        AC output per MW installed, ``(S, T)`` [MW/MW].
    price_per_mwh
        Cost of a MWh imported, ``(S, T)`` [currency/MWh]: market price, grid adders and the carbon price.
    carbon_t_per_mwh
        Grid carbon intensity ``(S, T)`` [t CO2/MWh].
    cfe_fraction
        Carbon-free share of the grid's supply ``(S, T)`` in [0, 1]; NaN where unknown.
    max_it_mw, max_pv_mw, max_wind_mw, max_battery_mwh, max_connection_mw
        Limits per site ``(S,)`` [MW, MWh]; ``max_battery_mwh`` may be ``inf``.
    it_cost_per_mw
        Equivalent annual cost of 1 MW of IT with option ``o`` (facility, GPUs and servers, their O&M and risk
        premium), ``(S, O)`` [currency/yr].
    pv_cost_per_mw, wind_cost_per_mw, battery_cost_per_mwh, battery_cost_per_mw, connection_cost_per_mw
        Equivalent annual costs per unit ``(S,)`` [currency/yr per MW or MWh].
    site_cost
        Equivalent annual fixed cost of building a site at all ``(S,)`` [currency/yr].
    revenue_per_gpu
        Revenue of one installed GPU per year (price x utilisation x 8,760 h) [currency/yr]; used by ``npv``.
    stages
        Compute targets; each stage's size must be met by its available sites.
    target_unit
        ``"it_mw"`` or ``"gpus"``.
    objective
        ``"tco"`` (least annual cost) or ``"npv"`` (largest revenue less annual cost; the target is a minimum).
    battery
        Battery efficiencies and lowest state of charge.
    carbon_cap_t_per_year, min_clean_energy_share, max_site_share
        Optional constraints (None: not imposed).
    integer_build
        Binary build decision per site (MILP) or a continuous one in [0, 1].
    mip_rel_gap, time_limit_s
        HiGHS settings.
    """

    sites: tuple[str, ...]
    options: tuple[str, ...]
    facility_mw_per_it_mw: FloatArray
    allowed: BoolArray
    gpus_per_it_mw: FloatArray
    pv_mw_per_mw: FloatArray
    wind_mw_per_mw: FloatArray
    price_per_mwh: FloatArray
    carbon_t_per_mwh: FloatArray
    cfe_fraction: FloatArray
    max_it_mw: FloatArray
    max_pv_mw: FloatArray
    max_wind_mw: FloatArray
    max_battery_mwh: FloatArray
    max_connection_mw: FloatArray
    it_cost_per_mw: FloatArray
    pv_cost_per_mw: FloatArray
    wind_cost_per_mw: FloatArray
    battery_cost_per_mwh: FloatArray
    battery_cost_per_mw: FloatArray
    connection_cost_per_mw: FloatArray
    site_cost: FloatArray
    stages: tuple[TargetStage, ...]
    target_unit: Literal["it_mw", "gpus"] = "it_mw"
    revenue_per_gpu: float = 0.0
    objective: Literal["tco", "npv"] = "tco"
    battery: Battery = field(default_factory=lambda: Battery(0.9479, 0.9479, 0.2))
    carbon_cap_t_per_year: float | None = None
    min_clean_energy_share: float | None = None
    max_site_share: float | None = None
    integer_build: bool = True
    mip_rel_gap: float = 1e-4
    time_limit_s: float | None = None

    def __post_init__(self) -> None:
        s, o = len(self.sites), len(self.options)
        t = self.facility_mw_per_it_mw.shape[-1] if self.facility_mw_per_it_mw.ndim == 3 else 0
        shapes = {
            "facility_mw_per_it_mw": (s, o, t),
            "allowed": (s, o),
            "gpus_per_it_mw": (s, o),
            "it_cost_per_mw": (s, o),
            **{k: (s, t) for k in ("pv_mw_per_mw", "wind_mw_per_mw", "price_per_mwh", "carbon_t_per_mwh")},
            "cfe_fraction": (s, t),
            **{
                k: (s,)
                for k in (
                    "max_it_mw",
                    "max_pv_mw",
                    "max_wind_mw",
                    "max_battery_mwh",
                    "max_connection_mw",
                    "pv_cost_per_mw",
                    "wind_cost_per_mw",
                    "battery_cost_per_mwh",
                    "battery_cost_per_mw",
                    "connection_cost_per_mw",
                    "site_cost",
                )
            },
        }
        if t == 0:
            raise WattbitInputError("a plan needs at least one hour", field="facility_mw_per_it_mw")
        for name, shape in shapes.items():
            arr = np.asarray(getattr(self, name))
            if arr.shape != shape:
                raise WattbitInputError(f"{name} has shape {arr.shape}, expected {shape}", field=name)
            if name != "cfe_fraction" and arr.dtype != bool and not np.all(np.isfinite(arr) | (arr == np.inf)):
                raise WattbitInputError(f"{name} contains NaN", field=name)
        for stage in self.stages:
            if np.asarray(stage.available).shape != (s,):
                raise WattbitInputError(f"stage {stage.label}: available must have shape ({s},)", field="stages")

    @property
    def hours(self) -> int:
        """``T``, the hours of the representative period."""
        return int(self.facility_mw_per_it_mw.shape[-1])

    @property
    def year_weight(self) -> float:
        """Hours of a year each modelled hour stands for, ``8,760 / T``."""
        return YEAR_H / self.hours

    def target_coefficient(self) -> FloatArray:
        """Target units per MW of IT, ``(S, O)``: 1 for an IT target, GPUs per MW for a GPU target."""
        if self.target_unit == "gpus":
            return np.asarray(self.gpus_per_it_mw, dtype=float)
        return np.ones_like(self.gpus_per_it_mw, dtype=float)


@dataclass(frozen=True, eq=False)
class CapacitySolution:
    """The optimal plan: capacities per site and the hourly dispatch of the representative period.

    Capacities ``(S,)`` [MW, MWh] (``it_mw`` per option ``(S, O)``); hourly arrays ``(S, T)`` [MW, or MWh for
    ``soc_mwh``]. ``spill_mw`` is on-site generation left unused (the plan does not export).
    """

    build: FloatArray
    it_mw: FloatArray
    pv_mw: FloatArray
    wind_mw: FloatArray
    battery_mwh: FloatArray
    battery_mw: FloatArray
    connection_mw: FloatArray
    grid_mw: FloatArray
    charge_mw: FloatArray
    discharge_mw: FloatArray
    soc_mwh: FloatArray
    facility_mw: FloatArray
    pv_out_mw: FloatArray
    wind_out_mw: FloatArray
    spill_mw: FloatArray
    objective_per_year: float
    status: str
    mip_gap: float
    build_s: float
    solve_s: float


def solution_from(
    problem: CapacityProblem,
    capacities: dict[str, FloatArray],
    dispatch: dict[str, FloatArray],
    objective_per_year: float,
    status: str,
    *,
    mip_gap: float,
    build_s: float,
    solve_s: float,
) -> CapacitySolution:
    """A :class:`CapacitySolution` from the solver's capacities and dispatch, with the flows they imply.

    Parameters
    ----------
    problem
        The problem.
    capacities
        ``build``, ``it_mw`` ``(S, O)``, ``pv_mw``, ``wind_mw``, ``battery_mwh``, ``battery_mw``, ``connection_mw``.
    dispatch
        ``grid_mw``, ``charge_mw``, ``discharge_mw``, ``soc_mwh`` ``(S, T)``.
    objective_per_year, status, mip_gap, build_s, solve_s
        As in :class:`CapacitySolution`.

    Returns
    -------
    CapacitySolution
        With facility power (the IT's facility factor), PV and wind output, and spilled generation (what the
        balance leaves over) computed here, the one place for both solution methods.
    """
    it = capacities["it_mw"]
    facility = np.einsum("sot,so->st", problem.facility_mw_per_it_mw, it)
    pv_out = problem.pv_mw_per_mw * capacities["pv_mw"][:, None]
    wind_out = problem.wind_mw_per_mw * capacities["wind_mw"][:, None]
    grid, charge, discharge = dispatch["grid_mw"], dispatch["charge_mw"], dispatch["discharge_mw"]
    spill = np.maximum(pv_out + wind_out + discharge + grid - charge - facility, 0.0)
    return CapacitySolution(
        **capacities,
        **dispatch,
        facility_mw=facility,
        pv_out_mw=pv_out,
        wind_out_mw=wind_out,
        spill_mw=spill,
        objective_per_year=objective_per_year,
        status=status,
        mip_gap=mip_gap,
        build_s=build_s,
        solve_s=solve_s,
    )


@dataclass(frozen=True)
class UnitCosts:
    """Equivalent annual cost of one unit of each capacity [currency/yr]: the objective's coefficients.

    Attributes
    ----------
    it_per_mw
        Per MW of IT with each option ``(S, O)``; for ``npv`` less the GPUs' yearly revenue where asked.
    pv_per_mw, wind_per_mw, battery_per_mwh, battery_per_mw, connection_per_mw
        Per unit of each capacity ``(S,)``.
    site
        Fixed cost of building each site at all ``(S,)``.
    """

    it_per_mw: FloatArray
    pv_per_mw: FloatArray
    wind_per_mw: FloatArray
    battery_per_mwh: FloatArray
    battery_per_mw: FloatArray
    connection_per_mw: FloatArray
    site: FloatArray

    def per_site(self) -> tuple[FloatArray, ...]:
        """The per-site arrays in the order of a site's capacity vector after IT: PV, wind, battery energy,
        battery power, connection, build."""
        return (
            self.pv_per_mw,
            self.wind_per_mw,
            self.battery_per_mwh,
            self.battery_per_mw,
            self.connection_per_mw,
            self.site,
        )


def unit_costs(problem: CapacityProblem, *, with_revenue: bool) -> UnitCosts:
    """The capacities' equivalent annual unit costs of ``problem``, the one place they are assembled.

    Parameters
    ----------
    problem
        The problem.
    with_revenue
        Subtract the GPUs' yearly revenue from the IT cost when the objective is ``npv`` (what the optimisation
        minimises); False gives the plain cost (the ``tco`` of a plan).
    """
    it_cost = problem.it_cost_per_mw
    if with_revenue and problem.objective == "npv":
        it_cost = it_cost - problem.revenue_per_gpu * problem.gpus_per_it_mw
    return UnitCosts(
        it_per_mw=it_cost,
        pv_per_mw=problem.pv_cost_per_mw,
        wind_per_mw=problem.wind_cost_per_mw,
        battery_per_mwh=problem.battery_cost_per_mwh,
        battery_per_mw=problem.battery_cost_per_mw,
        connection_per_mw=problem.connection_cost_per_mw,
        site=problem.site_cost,
    )


def capacity_cost_per_year(problem: CapacityProblem, solution: CapacitySolution) -> float:
    """Equivalent annual cost of the capacities of ``solution`` (with O&M and risk premium), revenue not counted
    [currency/yr]."""
    costs = unit_costs(problem, with_revenue=False)
    total = float(np.sum(costs.it_per_mw * solution.it_mw))
    amounts = (
        solution.pv_mw,
        solution.wind_mw,
        solution.battery_mwh,
        solution.battery_mw,
        solution.connection_mw,
        solution.build,
    )
    for unit, amount in zip(costs.per_site(), amounts, strict=True):
        total += float(unit @ amount)
    return total


def site_gpus(problem: CapacityProblem, solution: CapacitySolution) -> FloatArray:
    """GPUs installed per site ``(S,)``."""
    return np.asarray((solution.it_mw * problem.gpus_per_it_mw).sum(axis=1), dtype=float)

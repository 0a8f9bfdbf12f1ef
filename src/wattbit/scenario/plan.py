"""The ``[plan]`` section of a scenario: candidate sites, compute target, options, costs, finance, constraints.

A plan chooses which of the scenario's ``[[sites]]`` to build and how much IT, PV, wind, battery and grid connection
each gets (:mod:`wattbit.plan.planner`). Every candidate names a scenario site, whose location, grid area, GPU model,
design and data sources it uses; the site's own ``it.gpu_count``, ``cooling``, ``pv_mw``, ``wind_mw``, battery and
``grid_connection_mw`` are *not* used (the plan chooses them). Defaults and their sources are listed in
``docs/planner.md``: status **V** (primary source or model code), **S** (secondary) or **U** (assumption), as in
``shared/design/REFERENCE.md``.

This module holds only the schema (pydantic, frozen, unknown keys refused); checks that need the rest of the
scenario (site names, years against the project length) are in :mod:`wattbit.plan.checks`.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field, model_validator

from wattbit.scenario.money import MoneyModel
from wattbit.scenario.plan_costs import (
    BUILDING_COST_FACTOR_BY_AREA,
    COOLING_TYPES,
    COST_DEFAULTS,
    GPU_CAPEX_USD,
    CoolingType,
    PlanCosts,
)
from wattbit.scenario.plan_finance import PLAN_KINDS, PlanFinance, PlanKind

PowerArchitecture = Literal["ac415", "dc800"]
POWER_ARCHITECTURES: tuple[PowerArchitecture, ...] = ("ac415", "dc800")

__all__ = [
    "BUILDING_COST_FACTOR_BY_AREA",
    "COOLING_TYPES",
    "COST_DEFAULTS",
    "GPU_CAPEX_USD",
    "PLAN_KINDS",
    "POWER_ARCHITECTURES",
    "Candidate",
    "ComputeTarget",
    "CoolingType",
    "PlanConstraints",
    "PlanCosts",
    "PlanFinance",
    "PlanKind",
    "PlanOptions",
    "PlanSpec",
    "PowerArchitecture",
    "TargetStep",
]


class _Model(MoneyModel):
    """A closed, frozen schema model (money fields name their currency)."""


class Candidate(_Model):
    """A site that may be built, and its limits; its own costs, if given, override the plan-wide ones."""

    MONEY = {"connection_capex_per_mw": ("connection_capex", "_per_mw"), "site_capex": ("site_capex", "")}

    site: str = Field(description="name of a [[sites]] entry (location, grid area, GPU model, data)")
    max_it_mw: float = Field(gt=0, description="most IT power the site can host [MW at the IT input]")
    max_pv_mw: float = Field(default=0.0, ge=0, description="land limit for PV [MW DC]")
    max_wind_mw: float = Field(default=0.0, ge=0, description="land limit for wind [MW]")
    max_battery_mwh: float | None = Field(default=None, ge=0, description="battery energy limit [MWh]; none: free")
    max_connection_mw: float = Field(gt=0, description="largest grid connection the utility offers [MW]")
    connection_capex_jpy_per_mw: float | None = Field(default=None, ge=0, description="none: plan.costs")
    connection_capex_usd_per_mw: float | None = Field(default=None, ge=0, description="none: plan.costs")
    connection_lead_time_years: int = Field(
        default=0, ge=0, le=30, description="years from the start (year 0) until the connection is energised"
    )
    site_capex_jpy: float | None = Field(default=None, ge=0, description="none: plan.costs")
    site_capex_usd: float | None = Field(default=None, ge=0, description="none: plan.costs")
    capex_factor: float = Field(default=1.0, gt=0, le=5, description="site multiplier on the whole facility capex")
    building_cost_factor: float | None = Field(
        default=None, gt=0, le=5, description="building cost relative to Tokyo; none: by grid area (costs table)"
    )
    disaster_risk: float = Field(default=0.0, ge=0, le=1, description="hazard score 0 (none) .. 1 (highest)")
    latency_ms: dict[str, float] = Field(
        default_factory=dict, description="round-trip latency to each demand centre [ms], e.g. {tokyo = 5}"
    )
    cooling: list[CoolingType] | None = Field(default=None, description="allowed cooling; none: options.cooling")
    power_architectures: list[PowerArchitecture] | None = None

    @model_validator(mode="after")
    def _latencies(self) -> Candidate:
        bad = {k: v for k, v in self.latency_ms.items() if not v >= 0}
        if bad:
            raise ValueError(f"latency_ms must be >= 0 ms for every demand centre; got {bad}")
        return self


class TargetStep(_Model):
    """The compute that must run from a calendar year on."""

    year: int = Field(ge=1900, le=2200)
    it_mw: float | None = Field(default=None, gt=0)
    gpus: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_size(self) -> TargetStep:
        if (self.it_mw is None) == (self.gpus is None):
            raise ValueError("give exactly one of it_mw or gpus")
        return self


class ComputeTarget(_Model):
    """How much compute the fleet must host: a size (``it_mw`` or ``gpus``), or a ``schedule`` growing by year."""

    it_mw: float | None = Field(default=None, gt=0, description="IT power [MW at the IT input, full load]")
    gpus: int | None = Field(default=None, gt=0)
    year: int | None = Field(default=None, ge=1900, le=2200, description="calendar year it must run from")
    schedule: list[TargetStep] = Field(default_factory=list)
    utilization: float = Field(default=0.8, gt=0, le=1, description="average load of the installed GPUs (U)")

    @model_validator(mode="after")
    def _consistent(self) -> ComputeTarget:
        given = [k for k in ("it_mw", "gpus") if getattr(self, k) is not None]
        if self.schedule:
            if given or self.year is not None:
                raise ValueError("give either schedule or it_mw/gpus (with an optional year), not both")
            units = {"it_mw" if s.it_mw is not None else "gpus" for s in self.schedule}
            if len(units) > 1:
                raise ValueError("every schedule step must use the same unit (all it_mw or all gpus)")
            years = [s.year for s in self.schedule]
            if any(b <= a for a, b in zip(years, years[1:], strict=False)):
                raise ValueError(f"schedule years {years} must be strictly increasing")
            sizes = [s.it_mw if s.it_mw is not None else float(s.gpus or 0) for s in self.schedule]
            if any(b < a for a, b in zip(sizes, sizes[1:], strict=False)):
                raise ValueError(f"schedule sizes {sizes} must not shrink (the plan builds for growth)")
        elif len(given) != 1:
            raise ValueError("give exactly one of it_mw, gpus or schedule")
        return self

    @property
    def unit(self) -> Literal["it_mw", "gpus"]:
        """``"it_mw"`` or ``"gpus"``: what the sizes count."""
        first = self.schedule[0] if self.schedule else self
        return "it_mw" if first.it_mw is not None else "gpus"

    def steps(self) -> list[tuple[int | None, float]]:
        """``(year or None, size)`` pairs, in the unit :attr:`unit`, smallest first."""
        if self.schedule:
            return [(s.year, s.it_mw if s.it_mw is not None else float(s.gpus or 0)) for s in self.schedule]
        size = self.it_mw if self.it_mw is not None else float(self.gpus or 0)
        return [(self.year, size)]


class PlanOptions(_Model):
    """Design options and solver settings."""

    cooling: list[CoolingType] = Field(default_factory=lambda: list(COOLING_TYPES), min_length=1)
    power_architectures: list[PowerArchitecture] = Field(
        default_factory=lambda: list(POWER_ARCHITECTURES), min_length=1
    )
    integer_build: bool = Field(default=True, description="binary build decision per site (MILP) or continuous")
    mip_rel_gap: float = Field(default=1e-4, ge=0, le=0.5)
    time_limit_s: float | None = Field(default=None, gt=0)
    report_week_start: date | None = Field(default=None, description="first day of the report's sample week")


class PlanConstraints(_Model):
    """Optional constraints; each left out is not imposed."""

    carbon_cap_t_per_year: float | None = Field(default=None, ge=0)
    min_clean_energy_share: float | None = Field(default=None, ge=0, le=1, description="hourly-matched CFE share")
    max_site_share: float | None = Field(default=None, gt=0, le=1, description="most GPUs at one site / all GPUs")
    max_latency_ms: float | None = Field(default=None, gt=0, description="worst latency to any demand centre")
    max_disaster_risk: float | None = Field(default=None, ge=0, le=1)


class PlanSpec(_Model):
    """The ``[plan]`` section."""

    objective: Literal["tco", "npv"] = "tco"
    start_year: int | None = Field(default=None, ge=1900, le=2200, description="calendar year of year 0")
    candidates: list[Candidate] = Field(min_length=1)
    target: ComputeTarget
    options: PlanOptions = PlanOptions()
    costs: PlanCosts = PlanCosts()
    finance: PlanFinance = PlanFinance()
    constraints: PlanConstraints = PlanConstraints()

    @model_validator(mode="after")
    def _checks(self) -> PlanSpec:
        names = [c.site for c in self.candidates]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"each site may be a candidate once; repeated: {repeated}")
        dated = self.target.schedule or self.target.year is not None
        if dated and self.start_year is None:
            raise ValueError("a target with years needs plan.start_year (the calendar year of construction, year 0)")
        return self

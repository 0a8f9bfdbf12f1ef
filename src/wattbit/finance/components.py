"""What a project is made of (capital components) and what it does each year (operations).

Amounts are in the project's currency (a label, JPY by default); ``_per_mwh`` and ``_per_year`` say what they are
per. Timing: initial capex falls at the end of year 0 (construction), operations run in years ``1 .. N``, and every
yearly flow falls at the end of its year. Escalation is compound: a replacement bought in year ``t`` costs
``capex × (1 + capex_escalation)^t``; opex, revenue and energy prices in year ``t`` are their year-1 values times
``(1 + escalation)^(t - 1)``. Use nominal escalations with a nominal discount rate, or real ones with a real rate.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
from numpy.typing import ArrayLike, NDArray

from wattbit.errors import WattbitInputError
from wattbit.finance.depreciation import DEPRECIATION_METHODS, MACRS_FACTORS, DepreciationMethod
from wattbit.units import check_int, check_number

ComponentKind = Literal["it", "building", "cooling", "power_chain", "pv", "wind", "battery", "grid_connection", "other"]

_KINDS: tuple[str, ...] = get_args(ComponentKind)
#: Kinds whose cost is part of the *power supply* (for the LCOE) unless a component says otherwise.
POWER_SUPPLY_KINDS = frozenset({"pv", "wind", "battery", "grid_connection"})
#: Kinds eligible for an investment tax credit unless a component says otherwise (as US ITC for solar, wind, storage).
ITC_KINDS = frozenset({"pv", "wind", "battery"})
#: Kinds not subject to Japan's fixed-asset tax unless a component says otherwise: a grid-connection contribution
#: (工事費負担金) pays for the utility's assets, and the project holds only a right of use (an intangible).
NO_FIXED_ASSET_TAX_KINDS = frozenset({"grid_connection"})
#: Escalation rates accepted, per year.
ESCALATION_RANGE = (-0.5, 0.5)
#: Length of one year of hourly (or finer) data, in hours: 365 or 366 days.
YEAR_HOURS = (8760.0, 8784.0)


@dataclass(frozen=True)
class Component:
    """One capital component: its cost, life, replacements, operating costs and tax treatment.

    Attributes
    ----------
    name
        Unique name within the project.
    kind
        One of ``it, building, cooling, power_chain, pv, wind, battery, grid_connection, other``.
    capex
        Initial capital cost at year 0 [currency], >= 0.
    life_years
        Economic life [years], 1..100; the component is bought again every ``life_years`` while the project runs
        (unless ``replacement_years`` is given), and what is left of its life at the end is its residual value.
    capex_escalation
        Yearly escalation of the purchase price, in (-0.5, 0.5].
    replacement_capex
        Cost of a replacement in year-0 prices [currency], >= 0; None means ``capex`` (REopt, for example, prices a
        battery replacement below the first purchase).
    replacement_years
        Explicit replacement years, strictly increasing in ``1 .. N - 1``; None means every ``life_years``.
    fixed_opex_per_year
        Fixed operation and maintenance in year 1 [currency/year], >= 0.
    variable_opex_per_mwh
        Variable O&M [currency/MWh] on ``throughput_mwh_per_year``, >= 0.
    throughput_mwh_per_year
        Energy the component generates or passes in a year [MWh], >= 0.
    opex_escalation
        Yearly escalation of fixed and variable O&M, in (-0.5, 0.5].
    depreciation
        Tax depreciation method: ``straight_line``, ``declining_balance`` (Japan 200 %) or ``macrs``.
    tax_life_years
        Statutory life or MACRS recovery period [years], >= 1; None means ``life_years``.
    bonus_depreciation_fraction
        First-year extra depreciation as a share of the basis, in [0, 1].
    itc_eligible
        Eligible for the investment tax credit; None means by kind (PV, wind, battery).
    grant_eligible
        Counts toward the capacity grant's eligible capex (default True).
    power_supply
        Part of the power supply for the LCOE; None means by kind (PV, wind, battery, grid connection).
    resale_fraction_by_age
        Market value at the end of the project as a share of the purchase cost, at ages 1, 2, ... years (the last
        value holds for older ages), each in [0, 1]; None means linear in ``life_years`` (used by the
        ``market_value`` residual method).
    fixed_asset_taxable
        Subject to the fixed-asset tax; None means by kind (all but ``grid_connection``).
    """

    name: str
    kind: ComponentKind
    capex: float
    life_years: int
    capex_escalation: float = 0.0
    replacement_capex: float | None = None
    replacement_years: tuple[int, ...] | None = None
    fixed_opex_per_year: float = 0.0
    variable_opex_per_mwh: float = 0.0
    throughput_mwh_per_year: float = 0.0
    opex_escalation: float = 0.0
    depreciation: DepreciationMethod = "straight_line"
    tax_life_years: int | None = None
    bonus_depreciation_fraction: float = 0.0
    itc_eligible: bool | None = None
    grant_eligible: bool = True
    power_supply: bool | None = None
    resale_fraction_by_age: tuple[float, ...] | None = None
    fixed_asset_taxable: bool | None = None

    def __post_init__(self) -> None:
        what = f"component {self.name!r}"
        if not isinstance(self.name, str) or not self.name.strip():
            raise WattbitInputError(f"component name {self.name!r} must be a non-empty string", field="name")
        if self.kind not in _KINDS:
            raise WattbitInputError(f"{what}: kind={self.kind!r} must be one of {list(_KINDS)}", field="kind")
        for name in ("capex", "fixed_opex_per_year", "variable_opex_per_mwh", "throughput_mwh_per_year"):
            check_number(getattr(self, name), name, 0.0, what=what)
        if self.replacement_capex is not None:
            check_number(self.replacement_capex, "replacement_capex", 0.0, what=what)
        for name in ("capex_escalation", "opex_escalation"):
            check_number(getattr(self, name), name, *ESCALATION_RANGE, lo_open=True, what=what)
        object.__setattr__(self, "life_years", check_int(self.life_years, "life_years", 1, 100, what=what))
        self._check_tax(what)
        if self.resale_fraction_by_age is not None:
            curve = tuple(
                check_number(x, f"resale_fraction_by_age[{i}]", 0.0, 1.0, what=what)
                for i, x in enumerate(self.resale_fraction_by_age)
            )
            if not curve:
                raise WattbitInputError(
                    f"{what}: resale_fraction_by_age must hold at least one share (age 1)",
                    field="resale_fraction_by_age",
                )
            object.__setattr__(self, "resale_fraction_by_age", curve)
        if self.replacement_years is not None:
            years = tuple(
                check_int(year, f"replacement_years[{i}]", 1, 100, what=what)
                for i, year in enumerate(self.replacement_years)
            )
            object.__setattr__(self, "replacement_years", years)
            if any(b <= a for a, b in zip(years, years[1:], strict=False)):
                raise WattbitInputError(
                    f"{what}: replacement_years={list(years)} must be strictly increasing", field="replacement_years"
                )

    def _check_tax(self, what: str) -> None:
        if self.depreciation not in DEPRECIATION_METHODS:
            raise WattbitInputError(
                f"{what}: depreciation={self.depreciation!r} must be one of {list(DEPRECIATION_METHODS)}",
                field="depreciation",
            )
        life = self.tax_life_years if self.tax_life_years is not None else self.life_years
        if isinstance(life, bool) or not isinstance(life, numbers.Integral) or life < 1:
            raise WattbitInputError(
                f"{what}: tax_life_years={life!r} must be a whole number of years >= 1", field="tax_life_years"
            )
        if self.tax_life_years is not None:
            object.__setattr__(self, "tax_life_years", int(life))
        if self.depreciation == "macrs" and life not in MACRS_FACTORS:
            raise WattbitInputError(
                f"{what}: MACRS recovery period tax_life_years={life} must be one of {sorted(MACRS_FACTORS)} "
                "(IRS Pub 946 Table A-1)",
                field="tax_life_years",
            )
        check_number(self.bonus_depreciation_fraction, "bonus_depreciation_fraction", 0.0, 1.0, what=what)

    @property
    def tax_life(self) -> int:
        """Depreciation life or recovery period [years]."""
        return self.tax_life_years if self.tax_life_years is not None else self.life_years

    @property
    def is_power_supply(self) -> bool:
        """Whether its costs count toward the power supply's LCOE."""
        return self.kind in POWER_SUPPLY_KINDS if self.power_supply is None else self.power_supply

    @property
    def is_itc_eligible(self) -> bool:
        """Whether it earns the investment tax credit."""
        return self.kind in ITC_KINDS if self.itc_eligible is None else self.itc_eligible

    @property
    def is_fixed_asset_taxable(self) -> bool:
        """Whether the fixed-asset tax applies to it."""
        if self.fixed_asset_taxable is None:
            return self.kind not in NO_FIXED_ASSET_TAX_KINDS
        return self.fixed_asset_taxable

    def purchase_years(self, n_years: int) -> tuple[int, ...]:
        """Years it is bought in a project of ``n_years``: 0, then each replacement before year ``n_years``."""
        if self.replacement_years is not None:
            return (0, *self.replacement_years)
        return tuple(range(0, n_years, self.life_years))


def _year_array(values: ArrayLike, name: str, *, non_negative: bool) -> NDArray[np.float64]:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise WattbitInputError(f"operations.{name} must be an array of numbers ({exc})", field=name) from exc
    if arr.ndim != 1 or arr.size == 0:
        raise WattbitInputError(f"operations.{name} must be a non-empty 1-D array, got shape {arr.shape}", field=name)
    bad = ~np.isfinite(arr) | (arr < 0.0) if non_negative else ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        expected = "finite and >= 0" if non_negative else "finite"
        raise WattbitInputError(
            f"operations.{name}[{i}]={float(arr[i])!r} must be {expected} ({int(bad.sum())} bad values)", field=name
        )
    return arr


def _same_length(arr: NDArray[np.float64], imports: NDArray[np.float64], name: str) -> NDArray[np.float64]:
    if arr.size != imports.size:
        raise WattbitInputError(
            f"operations.{name} has {arr.size} steps but grid_import_mwh has {imports.size}; "
            "all step arrays must have the same length",
            field=name,
        )
    return arr


@dataclass(frozen=True, eq=False)
class Operations:
    """One representative operating year: GPU-hours, energy delivered, and hourly grid import and prices.

    Attributes
    ----------
    gpu_hours_per_year
        GPU-hours delivered (sold) per year [GPU-h], >= 0.
    facility_energy_mwh_per_year
        Energy delivered to the datacenter per year, all sources [MWh], >= 0: the LCOE's denominator.
    grid_import_mwh
        Energy bought from the grid in each step of one year [MWh per step], >= 0.
    price_per_mwh
        Energy price in each step [currency/MWh], finite (may be negative), same length as ``grid_import_mwh``.
    step_h
        Step length [h], > 0; the arrays must cover one year (8,760 or 8,784 h).
    grid_export_mwh
        Energy sold to the grid in each step [MWh per step], >= 0, or None.
    export_price_per_mwh
        Price received for exports [currency/MWh]; None means ``price_per_mwh``.
    price_per_gpu_hour
        Revenue per GPU-hour in year 1 [currency/GPU-h], >= 0 (0: a cost-only evaluation).
    revenue_escalation
        Yearly escalation of the GPU-hour price, in (-0.5, 0.5].
    energy_price_escalation
        Yearly escalation of import and export prices, in (-0.5, 0.5].
    renewable_generation_mwh_per_year
        Generation eligible for the production incentive [MWh/year], >= 0.
    """

    gpu_hours_per_year: float
    facility_energy_mwh_per_year: float
    grid_import_mwh: NDArray[np.float64]
    price_per_mwh: NDArray[np.float64]
    step_h: float = 1.0
    grid_export_mwh: NDArray[np.float64] | None = None
    export_price_per_mwh: NDArray[np.float64] | None = None
    price_per_gpu_hour: float = 0.0
    revenue_escalation: float = 0.0
    energy_price_escalation: float = 0.0
    renewable_generation_mwh_per_year: float = 0.0
    _energy: tuple[float, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        what = "operations"
        for name in ("gpu_hours_per_year", "facility_energy_mwh_per_year", "price_per_gpu_hour"):
            check_number(getattr(self, name), name, 0.0, what=what)
        check_number(self.renewable_generation_mwh_per_year, "renewable_generation_mwh_per_year", 0.0, what=what)
        for name in ("revenue_escalation", "energy_price_escalation"):
            check_number(getattr(self, name), name, *ESCALATION_RANGE, lo_open=True, what=what)
        check_number(self.step_h, "step_h", 0.0, 24.0, lo_open=True, what=what)
        imports = _year_array(self.grid_import_mwh, "grid_import_mwh", non_negative=True)
        prices = _same_length(
            _year_array(self.price_per_mwh, "price_per_mwh", non_negative=False), imports, "price_per_mwh"
        )
        object.__setattr__(self, "grid_import_mwh", imports)
        object.__setattr__(self, "price_per_mwh", prices)
        covered_h = imports.size * self.step_h
        if not YEAR_HOURS[0] - 1e-6 <= covered_h <= YEAR_HOURS[1] + 1e-6:
            raise WattbitInputError(
                f"operations: the step arrays must cover one year (8,760 or 8,784 h); got {imports.size} steps x "
                f"{self.step_h:g} h = {covered_h:g} h",
                field="grid_import_mwh",
            )
        cost = float(imports @ prices)
        revenue = 0.0
        if self.grid_export_mwh is not None:
            exports = _year_array(self.grid_export_mwh, "grid_export_mwh", non_negative=True)
            object.__setattr__(self, "grid_export_mwh", _same_length(exports, imports, "grid_export_mwh"))
            export_prices = prices
            if self.export_price_per_mwh is not None:
                export_prices = _year_array(self.export_price_per_mwh, "export_price_per_mwh", non_negative=False)
                export_prices = _same_length(export_prices, imports, "export_price_per_mwh")
                object.__setattr__(self, "export_price_per_mwh", export_prices)
            revenue = float(exports @ export_prices)
        elif self.export_price_per_mwh is not None:
            raise WattbitInputError(
                "operations: export_price_per_mwh is given but grid_export_mwh is not", field="grid_export_mwh"
            )
        object.__setattr__(self, "_energy", (cost, revenue))

    @property
    def energy_cost_per_year(self) -> float:
        """Year-1 cost of grid imports ``sum_h import_h × price_h`` [currency]."""
        return self._energy[0]

    @property
    def export_revenue_per_year(self) -> float:
        """Year-1 revenue from grid exports ``sum_h export_h × export_price_h`` [currency]."""
        return self._energy[1]

    @property
    def grid_import_mwh_per_year(self) -> float:
        """Energy imported in a year [MWh]."""
        return float(np.sum(self.grid_import_mwh))

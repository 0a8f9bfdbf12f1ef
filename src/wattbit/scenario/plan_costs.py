"""``[plan.costs]``: capital and operating costs of a plan, each amount with its currency in its name.

Defaults are Japanese figures in JPY where a Japanese source was found, each with its source and status (V primary,
S secondary, U assumption, as in ``shared/design/REFERENCE.md``); GPU prices and the GPU-hour price are set in USD
(the market's currency). Tables of every default: ``docs/planner.md``. The money convention:
:mod:`wattbit.scenario.money`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, model_validator

from wattbit.scenario.money import Amount, Currency, MoneyModel

CoolingType = Literal["air_chiller", "liquid_dry_cooler", "liquid_tower", "immersion"]
COOLING_TYPES: tuple[CoolingType, ...] = ("air_chiller", "liquid_dry_cooler", "liquid_tower", "immersion")

#: JPY per USD at which a USD survey figure of 2024 is turned into yen: the 2024 average (about 151.4, S: monthly
#: averages of the Federal Reserve H.10 series), rounded.
SURVEY_JPY_PER_USD = 151.4
#: Datacenter shell + MEP per MW of IT, Tokyo/Osaka: the mid 13.24 USD/W of Cushman & Wakefield's APAC 2025 range
#: 10.45-16.02 (S, REFERENCE.md §6) at :data:`SURVEY_JPY_PER_USD`.
FACILITY_TOKYO_JPY_PER_MW = 13.24e6 * SURVEY_JPY_PER_USD
#: Per cooling type: liquid cooling +7-10 % in the US (S) taken as +8.5 %; immersion +10 % (U).
FACILITY_CAPEX_JPY_PER_MW: dict[CoolingType, float] = {
    "air_chiller": FACILITY_TOKYO_JPY_PER_MW,
    "liquid_dry_cooler": FACILITY_TOKYO_JPY_PER_MW * 1.085,
    "liquid_tower": FACILITY_TOKYO_JPY_PER_MW * 1.085,
    "immersion": FACILITY_TOKYO_JPY_PER_MW * 1.10,
}
#: Price per GPU [USD]: H100 ~30k, H200 ~32k, MI300X ~15k (REFERENCE.md §6, U).
GPU_CAPEX_USD: dict[str, float] = {"H100-SXM": 30e3, "H200": 32e3, "MI300X": 15e3}
#: RC building cost per m² by grid area relative to Tokyo: MLIT 建築着工統計 2018, reinforced-concrete buildings,
#: construction cost planned / floor area of a representative prefecture (Tokyo 32.42, Hokkaido 21.70, Miyagi 28.15,
#: Ishikawa 31.83, Osaka 23.81, Hiroshima 23.92, Fukuoka 21.28, Okinawa 23.18, national 26.31 万円/m²; S, as
#: tabulated by tahara-kantei.com); Chubu and Shikoku take the national figure (U: their prefectures were not found).
BUILDING_COST_FACTOR_BY_AREA: dict[str, float] = {
    "hokkaido": 21.70 / 32.42,
    "tohoku": 28.15 / 32.42,
    "tokyo": 1.0,
    "chubu": 26.31 / 32.42,
    "hokuriku": 31.83 / 32.42,
    "kansai": 23.81 / 32.42,
    "chugoku": 23.92 / 32.42,
    "shikoku": 26.31 / 32.42,
    "kyushu": 21.28 / 32.42,
    "okinawa": 23.18 / 32.42,
}


@dataclass(frozen=True)
class Default:
    """A documented default amount: value (or table), currency and source with status."""

    value: float | Mapping[CoolingType, float] | Mapping[str, float]
    currency: Currency
    source: str


#: Default of every money quantity of :class:`PlanCosts` (see ``docs/planner.md``).
COST_DEFAULTS: dict[str, Default] = {
    "facility_capex_per_mw": Default(
        FACILITY_CAPEX_JPY_PER_MW,
        "JPY",
        "S: Cushman & Wakefield APAC 2025, Tokyo/Osaka mid 13.24 USD/W at 151.4 JPY/USD (2024 average); liquid "
        "+8.5 % (S), immersion +10 % (U)",
    ),
    "gpu_capex": Default(GPU_CAPEX_USD, "USD", "U: REFERENCE.md §6 (huggingface.co/hardware)"),
    "it_other_capex_per_gpu": Default(10e3, "USD", "U: servers, network, storage per GPU"),
    "pv_capex_per_mw": Default(
        166.5e6,
        "JPY",
        "S: 調達価格等算定委員会, ground-mounted PV installed in 2023, median 16.65万円/kW (ITmedia 2024-01-12)",
    ),
    "pv_opex_per_mw_year": Default(
        4.2e6,
        "JPY",
        "S: 調達価格等算定委員会, ground-mounted PV installed in 2024, median O&M 0.42万円/kW/yr (ITmedia 2025-01-07)",
    ),
    "wind_capex_per_mw": Default(
        354e6,
        "JPY",
        "S: 調達価格等算定委員会, onshore wind >= 50 kW, median capital cost of 210 plants 35.4万円/kW "
        "(ITmedia 2026-01-15)",
    ),
    "wind_opex_per_mw_year": Default(8.9e6, "JPY", "U: 2.5 % of the capex a year (no Japanese median found)"),
    "battery_capex_per_mwh": Default(
        62e6,
        "JPY",
        "S: METI 定置用蓄電システム普及拡大検討会 FY2024, grid-scale: cells 4.1 + other 0.7 + works 1.4万円/kWh",
    ),
    "battery_capex_per_mw": Default(
        18e6, "JPY", "S/U: same source, power conditioner 0.6万円/kWh, per kW for a 3-hour system (U)"
    ),
    "battery_replacement_per_mwh": Default(41e6, "JPY", "U: the cells again (4.1万円/kWh, same source)"),
    "battery_replacement_per_mw": Default(18e6, "JPY", "U: the power conditioner again"),
    "connection_capex_per_mw": Default(
        20e6,
        "JPY",
        "U: site-specific; ground-mounted PV's connection cost averages 2.15万円/kW (S, ITmedia 2026-01-14)",
    ),
    "site_capex": Default(3e9, "JPY", "U: land, permits, substation bay, fibre"),
    "grid_adder_per_mwh": Default(
        5_950.0, "JPY", "renewable-energy levy FY2022 3.45 JPY/kWh (S: METI) + network charge 2.5 JPY/kWh (U)"
    ),
    "carbon_price_per_t": Default(0.0, "JPY", "no carbon price"),
    "price_per_gpu_hour": Default(2.0, "USD", "U: revenue per GPU-hour sold"),
}


def _money(description: str) -> Any:
    return Field(default=None, ge=0, description=description)


def _table(description: str) -> Any:
    return Field(default=None, description=description)


class PlanCosts(MoneyModel):
    """Capital and operating costs; every amount names its currency (``pv_capex_jpy_per_mw``).

    An amount left out takes its documented default (:data:`COST_DEFAULTS`); use :meth:`amount` and
    :meth:`table_entry` to read one with its currency and origin.
    """

    MONEY = {
        "facility_capex_per_mw": ("facility_capex", "_per_mw"),
        "gpu_capex": ("gpu_capex", ""),
        "it_other_capex_per_gpu": ("it_other_capex", "_per_gpu"),
        "pv_capex_per_mw": ("pv_capex", "_per_mw"),
        "pv_opex_per_mw_year": ("pv_opex", "_per_mw_year"),
        "wind_capex_per_mw": ("wind_capex", "_per_mw"),
        "wind_opex_per_mw_year": ("wind_opex", "_per_mw_year"),
        "battery_capex_per_mwh": ("battery_capex", "_per_mwh"),
        "battery_capex_per_mw": ("battery_capex", "_per_mw"),
        "battery_replacement_per_mwh": ("battery_replacement", "_per_mwh"),
        "battery_replacement_per_mw": ("battery_replacement", "_per_mw"),
        "connection_capex_per_mw": ("connection_capex", "_per_mw"),
        "site_capex": ("site_capex", ""),
        "grid_adder_per_mwh": ("grid_adder", "_per_mwh"),
        "carbon_price_per_t": ("carbon_price", "_per_t"),
        "price_per_gpu_hour": ("price", "_per_gpu_hour"),
    }

    facility_capex_jpy_per_mw: dict[CoolingType, float] | None = _table("shell + MEP per MW of IT, by cooling")
    facility_capex_usd_per_mw: dict[CoolingType, float] | None = _table("shell + MEP per MW of IT, by cooling")
    dc800_capex_factor: float = Field(default=1.0, gt=0, le=3, description="800 V DC multiplier on the MEP (U)")
    building_share: float = Field(
        default=0.27, ge=0, le=1, description="share of the facility capex that is the building shell (S: C&W)"
    )
    building_life_years: int = Field(default=50, ge=1, le=100, description="economic life of the shell (U)")
    mep_life_years: int = Field(default=20, ge=1, le=100, description="economic life of the MEP (S: planning lives)")
    facility_opex_fraction: float = Field(default=0.02, ge=0, le=1, description="O&M per year / capex (U)")
    building_cost_factor_by_area: dict[str, float] = Field(
        default_factory=lambda: dict(BUILDING_COST_FACTOR_BY_AREA),
        description="building cost relative to Tokyo by grid area (S: MLIT 2018)",
    )
    gpu_capex_jpy: dict[str, float] | None = _table("price per GPU by model")
    gpu_capex_usd: dict[str, float] | None = _table("price per GPU by model")
    it_other_capex_jpy_per_gpu: float | None = _money("servers, network, storage per GPU")
    it_other_capex_usd_per_gpu: float | None = _money("servers, network, storage per GPU")
    it_life_years: int = Field(default=5, ge=1, le=30)
    it_opex_fraction: float = Field(default=0.03, ge=0, le=1, description="support contracts per year / capex (U)")
    pv_capex_jpy_per_mw: float | None = _money("PV per MW DC")
    pv_capex_usd_per_mw: float | None = _money("PV per MW DC")
    pv_opex_jpy_per_mw_year: float | None = _money("PV O&M per MW a year")
    pv_opex_usd_per_mw_year: float | None = _money("PV O&M per MW a year")
    pv_life_years: int = Field(default=25, ge=1, le=60)
    wind_capex_jpy_per_mw: float | None = _money("wind per MW")
    wind_capex_usd_per_mw: float | None = _money("wind per MW")
    wind_opex_jpy_per_mw_year: float | None = _money("wind O&M per MW a year")
    wind_opex_usd_per_mw_year: float | None = _money("wind O&M per MW a year")
    wind_life_years: int = Field(default=25, ge=1, le=60)
    battery_capex_jpy_per_mwh: float | None = _money("battery energy")
    battery_capex_usd_per_mwh: float | None = _money("battery energy")
    battery_capex_jpy_per_mw: float | None = _money("battery power")
    battery_capex_usd_per_mw: float | None = _money("battery power")
    battery_replacement_jpy_per_mwh: float | None = _money("battery energy, replaced")
    battery_replacement_usd_per_mwh: float | None = _money("battery energy, replaced")
    battery_replacement_jpy_per_mw: float | None = _money("battery power, replaced")
    battery_replacement_usd_per_mw: float | None = _money("battery power, replaced")
    battery_life_years: int = Field(default=10, ge=1, le=40)
    connection_capex_jpy_per_mw: float | None = _money("grid connection per MW")
    connection_capex_usd_per_mw: float | None = _money("grid connection per MW")
    connection_life_years: int = Field(default=40, ge=1, le=100)
    site_capex_jpy: float | None = _money("fixed cost of developing a site")
    site_capex_usd: float | None = _money("fixed cost of developing a site")
    risk_premium_fraction: float = Field(
        default=0.01, ge=0, le=1, description="yearly cost per unit disaster_risk, as a share of the site's capex (U)"
    )
    grid_adder_jpy_per_mwh: float | None = _money("per MWh on top of JEPX")
    grid_adder_usd_per_mwh: float | None = _money("per MWh on top of JEPX")
    carbon_price_jpy_per_t: float | None = _money("per t CO2-eq of grid carbon")
    carbon_price_usd_per_t: float | None = _money("per t CO2-eq of grid carbon")
    price_jpy_per_gpu_hour: float | None = _money("revenue per GPU-hour sold")
    price_usd_per_gpu_hour: float | None = _money("revenue per GPU-hour sold")

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            if "currency" in data:
                raise ValueError(
                    "`costs.currency` is gone: every amount names its currency in its field name instead "
                    "(pv_capex_usd_per_mw, site_capex_jpy, price_usd_per_gpu_hour, ...); remove `currency` and rename "
                    "the amounts"
                )
            if "facility_life_years" in data:
                raise ValueError(
                    "`facility_life_years` is now `building_life_years` (the shell) and `mep_life_years` (electrical "
                    "and mechanical plant)"
                )
        return data

    @model_validator(mode="after")
    def _tables(self) -> PlanCosts:
        for name in ("facility_capex_jpy_per_mw", "facility_capex_usd_per_mw", "gpu_capex_jpy", "gpu_capex_usd"):
            table = getattr(self, name) or {}
            bad = {k: v for k, v in table.items() if not v >= 0}
            if bad:
                raise ValueError(f"{name}: every amount must be >= 0; got {bad}")
        bad_areas = {k: v for k, v in self.building_cost_factor_by_area.items() if not 0 < v <= 5}
        if bad_areas:
            raise ValueError(f"building_cost_factor_by_area: every factor must be in (0, 5]; got {bad_areas}")
        return self

    def amount(self, quantity: str) -> Amount:
        """A scalar money quantity with its currency, from the scenario or its default."""
        given = self.given(quantity)
        if given is not None:
            value, currency, name = given
            return Amount(float(value), currency, "scenario", f"plan.costs.{name}")
        default = COST_DEFAULTS[quantity]
        prefix, tail = self.MONEY[quantity]
        name = f"{prefix}_{default.currency.lower()}{tail}"
        return Amount(float(default.value), default.currency, "default", f"plan.costs.{name}", default.source)  # type: ignore[arg-type]

    def table_entry(self, quantity: str, key: str) -> Amount | None:
        """An entry of a cost table (``gpu_capex``, ``facility_capex_per_mw``): the scenario's if it has ``key``,
        else the default's; None if neither has it."""
        prefix, tail = self.MONEY[quantity]
        given = self.given(quantity)
        if given is not None and key in given[0]:
            value, currency, name = given
            return Amount(float(value[key]), currency, "scenario", f"plan.costs.{name}[{key}]")
        default = COST_DEFAULTS[quantity]
        table: Mapping[str, float] = default.value  # type: ignore[assignment]
        if key not in table:
            return None
        name = f"{prefix}_{default.currency.lower()}{tail}"
        return Amount(float(table[key]), default.currency, "default", f"plan.costs.{name}[{key}]", default.source)

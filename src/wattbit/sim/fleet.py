"""The fleet the engine steps through: per-site plant, signals and on-site generation on the common index.

Everything here is computed once before time stepping: signals aligned on the scenario's step, PV and wind output,
and the IT power each site can draw without exceeding its grid connection (at full-load PUE of that step, a
slightly conservative bound; exact import is accounted after the run).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from wattbit.data.signals import SignalProvenance, load_scenario_signals
from wattbit.physics.battery import BatterySpec
from wattbit.physics.gpu import it_power_w
from wattbit.physics.renewables import generation_sources, site_generation_w
from wattbit.physics.site import SitePlant, plant_from_site, site_power
from wattbit.scenario import Scenario, Site
from wattbit.units import FloatArray


@dataclass
class Fleet:
    """Per-site inputs of a simulation; arrays are (steps, sites) unless noted.

    Attributes
    ----------
    index
        Period-beginning UTC of every step.
    step_h
        Step length [h].
    names, plants
        Site names and plants, in scenario order.
    gpus_total
        Installed GPUs per site (sites,).
    temp_db_c, temp_wb_c, carbon_g_per_kwh, price_jpy_per_mwh, curtailed_mwh
        Weather and grid signals.
    cfe_fraction
        Carbon-free share of the grid's supply, 0-1 (the ``cfe_pct`` signal / 100); NaN throughout for a site
        whose carbon data give no such share.
    pv_w, wind_w
        On-site generation [W].
    grid_limit_w
        Grid connection per site (sites,) [W].
    max_busy_gpus
        GPUs that may run at full power per step without the site's import exceeding its connection.
    batteries
        Battery per site, or None.
    cfe_unavailable
        Site name -> why its carbon-free share is unavailable (sites whose ``cfe_fraction`` is NaN).
    export_limit_w
        Export allowed per site (sites,) [W]: the scenario's ``export.limit_mw``, by default the grid connection.
    export_price_jpy_per_mwh
        What exported energy earns per step and site [JPY/MWh] (the area price, a FIT tariff, area price plus a FIP
        premium, or 0).
    export_basis
        Site name -> the export price basis in words.
    generation_source
        Site name -> {"pv": ..., "wind": ...}: which profile the on-site generation comes from.
    installed_generation_w
        Installed PV (DC nameplate) and wind per site (sites, 2) [W].
    inference_busy_share, inference_prefill_share, inference_decode_batch
        Operating point of the online-inference replicas: share of the time serving per step and site (steps,
        sites), share of it in prefill and the decode batch per site (sites,); None: the defaults of
        :data:`wattbit.sim.accounting.DEFAULT_INFERENCE_POINT`. Set by :func:`wattbit.sim.run.prepare`.
    inference_shape
        Which load shape online inference follows and why (``"daily (auto: ...)"``); empty without inference.
    """

    index: pd.DatetimeIndex
    step_h: float
    names: tuple[str, ...]
    plants: tuple[SitePlant, ...]
    gpus_total: NDArray[np.int64]
    temp_db_c: FloatArray
    temp_wb_c: FloatArray
    carbon_g_per_kwh: FloatArray
    price_jpy_per_mwh: FloatArray
    curtailed_mwh: FloatArray
    pv_w: FloatArray
    wind_w: FloatArray
    grid_limit_w: FloatArray
    max_busy_gpus: NDArray[np.int64]
    batteries: tuple[BatterySpec | None, ...]
    cfe_fraction: FloatArray
    cfe_unavailable: dict[str, str] = field(default_factory=dict)
    export_limit_w: FloatArray | None = None
    export_price_jpy_per_mwh: FloatArray | None = None
    export_basis: dict[str, str] = field(default_factory=dict)
    generation_source: dict[str, dict[str, str]] = field(default_factory=dict)
    installed_generation_w: FloatArray | None = None
    inference_busy_share: FloatArray | None = None
    inference_prefill_share: FloatArray | None = None
    inference_decode_batch: FloatArray | None = None
    inference_shape: str = ""

    @property
    def steps(self) -> int:
        """Number of time steps."""
        return len(self.index)


def build_fleet(scenario: Scenario) -> Fleet:
    """Load signals and precompute on-site generation and grid-limited capacity for every site."""
    signals, provenance = load_scenario_signals(scenario)
    index = scenario.period.index_utc()
    step_h = pd.Timedelta(scenario.period.step) / pd.Timedelta("1h")
    cols: dict[str, list[FloatArray]] = {
        k: [] for k in ("tdb", "twb", "ci", "cfe", "price", "curt", "pv", "wind", "busy", "export_price")
    }
    plants, batteries = [], []
    sources: dict[str, dict[str, str]] = {}
    bases: dict[str, str] = {}
    designs: dict[str, _SiteColumns] = {}
    for site in scenario.sites:
        # sites that differ only in name (same design, place and data) share one computation
        key = site.model_dump_json(exclude={"name", "description"})
        if key not in designs:
            designs[key] = _site_columns(site, signals[site.name], step_h)
        plant, arrays, source, basis = designs[key]
        plants.append(plant)
        sources[site.name], bases[site.name] = dict(source), basis
        for name, arr in zip(cols, arrays, strict=True):
            cols[name].append(arr)
        batteries.append(
            BatterySpec(energy_mwh=site.battery_mwh, power_mw=site.battery_mw)
            if site.battery_mwh and site.battery_mw
            else None
        )
    stack = {k: np.column_stack(v) for k, v in cols.items()}
    return Fleet(
        index=index,
        step_h=step_h,
        names=tuple(s.name for s in scenario.sites),
        plants=tuple(plants),
        gpus_total=np.array([s.it.gpu_count for s in scenario.sites], dtype=np.int64),
        temp_db_c=stack["tdb"],
        temp_wb_c=stack["twb"],
        carbon_g_per_kwh=stack["ci"],
        price_jpy_per_mwh=stack["price"],
        curtailed_mwh=stack["curt"],
        pv_w=stack["pv"],
        wind_w=stack["wind"],
        grid_limit_w=np.array([s.grid_connection_mw * 1e6 for s in scenario.sites]),
        max_busy_gpus=stack["busy"].astype(np.int64),
        batteries=tuple(batteries),
        cfe_fraction=stack["cfe"],
        cfe_unavailable=_cfe_unavailable(provenance),
        export_limit_w=np.array(
            [(s.grid_connection_mw if s.export.limit_mw is None else s.export.limit_mw) * 1e6 for s in scenario.sites]
        ),
        export_price_jpy_per_mwh=stack["export_price"],
        export_basis=bases,
        generation_source=sources,
        installed_generation_w=np.array([[s.pv_mw * 1e6, s.wind_mw * 1e6] for s in scenario.sites]),
    )


_SiteColumns = tuple[SitePlant, tuple[FloatArray, ...], dict[str, str], str]


def _site_columns(site: Site, sig: pd.DataFrame, step_h: float) -> _SiteColumns:
    """One site's plant, its per-step columns in :func:`build_fleet`'s order (dry and wet bulb, carbon, carbon-free
    share, price, curtailment, PV, wind, GPUs at full power, export price), generation sources and export basis."""
    plant = plant_from_site(site)
    tdb, twb = sig["temp_air_c"].to_numpy(), sig["temp_wetbulb_c"].to_numpy()
    pv, wind = site_generation_w(site, sig, period_s=step_h * 3600.0)
    busy = _max_busy_gpus(plant, tdb, twb, site.grid_connection_mw * 1e6 + pv + wind)
    export_price, basis = export_price_jpy_per_mwh(site, sig["price_jpy_per_mwh"].to_numpy())
    arrays = (
        tdb,
        twb,
        sig["carbon_g_per_kwh"].to_numpy(),
        sig["cfe_pct"].to_numpy() / 100.0,
        sig["price_jpy_per_mwh"].to_numpy(),
        sig["curtailed_mwh"].to_numpy(),
        pv,
        wind,
        busy,
        export_price,
    )
    return plant, tuple(np.asarray(a, dtype=float) for a in arrays), generation_sources(site, sig), basis


def export_price_jpy_per_mwh(site: Site, area_price_jpy_per_mwh: FloatArray) -> tuple[FloatArray, str]:
    """What a site's exported energy earns per step [JPY/MWh], and the basis in words (``site.export.price``).

    ``jepx``: the area's day-ahead price (sold through a retailer or aggregator; imbalance and fees not counted);
    ``fit``: the fixed tariff; ``fip``: the area price plus the premium (the FIP reference price is a monthly
    market average, approximated by the hourly price, U); ``none``: 0 (exported unpaid).
    """
    spec = site.export
    price = np.asarray(area_price_jpy_per_mwh, dtype=float)
    if spec.price == "fit":
        fixed = float(spec.fixed_price_jpy_per_mwh or 0.0)
        return np.full(price.shape, fixed), f"FIT: fixed {fixed:,.0f} JPY/MWh"
    if spec.price == "fip":
        return price + spec.premium_jpy_per_mwh, f"FIP: area day-ahead price + {spec.premium_jpy_per_mwh:,.0f} JPY/MWh"
    if spec.price == "none":
        return np.zeros(price.shape), "none: exported unpaid"
    return price.copy(), "JEPX: the area's day-ahead price"


def _cfe_unavailable(provenance: dict[str, SignalProvenance]) -> dict[str, str]:
    """Site -> the reason its carbon-free share is unavailable, from the carbon source's provenance."""
    out = {}
    for name, prov in provenance.items():
        origin = str(prov.sources.get("carbon", {}).get("cfe", "unavailable: no record"))
        if origin.startswith("unavailable"):
            out[name] = origin.removeprefix("unavailable: ")
    return out


def _max_busy_gpus(plant: SitePlant, tdb: FloatArray, twb: FloatArray, supply_w: FloatArray) -> FloatArray:
    """GPUs that can run at full power per step with facility power within ``supply_w`` (grid + on-site).

    Full power is the nameplate (every job could be a compute-bound one at TDP): a conservative bound, since busy
    GPUs draw less on average (:mod:`wattbit.physics.gpu_load`).
    """
    n = plant.gpu_count
    full = site_power(plant, np.full(tdb.shape, plant.rated_it_dc_w), tdb, twb)
    idle_dc = float(it_power_w(plant.gpu, n, 0.0, liquid_share=plant.liquid_share))
    per_gpu_dc = (plant.rated_it_dc_w - idle_dc) / n
    facility_per_dc = full.facility_w / plant.rated_it_dc_w  # full-load facility watts per IT DC watt
    allowed_dc = supply_w / facility_per_dc
    return np.clip(np.floor((allowed_dc - idle_dc) / per_gpu_dc), 0, n)

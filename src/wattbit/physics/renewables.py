"""On-site renewable output: photovoltaic (:mod:`wattbit.physics.pv`, through pvlib) and wind
(:mod:`wattbit.physics.wind`, through windpowerlib), both for a site of the scenario (:func:`site_generation_w`, the
one place a site's design is turned into PV and wind output), and the capacity factor of either.

The PV and wind names are re-exported here, so ``from wattbit.physics.renewables import pv_power_w`` keeps working.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from wattbit.errors import WattbitInputError
from wattbit.physics.pv import (
    GHI_MAX_W_M2,
    SAPM_OPEN_RACK_GLASS_POLYMER,
    default_tilt_deg,
    plane_of_array_w_m2,
    pv_power_w,
    solar_position_mid_period_deg,
)
from wattbit.physics.wind import (
    DEFAULT_TURBINE,
    STANDARD_AIR_DENSITY_KG_M3,
    WindProfile,
    known_turbine_types,
    turbine_power_curve,
    wind_power_w,
)
from wattbit.scenario import Site
from wattbit.units import FloatArray

__all__ = [
    "DEFAULT_TURBINE",
    "GHI_MAX_W_M2",
    "SAPM_OPEN_RACK_GLASS_POLYMER",
    "STANDARD_AIR_DENSITY_KG_M3",
    "CF_RANGES",
    "SiteGeneration",
    "WindProfile",
    "capacity_factor",
    "capacity_factor_flag",
    "generation_sources",
    "default_tilt_deg",
    "known_turbine_types",
    "plane_of_array_w_m2",
    "pv_power_w",
    "site_generation_w",
    "solar_position_mid_period_deg",
    "turbine_power_curve",
    "wind_power_w",
]


# ------------------------------------------------------------------------------------------------------------- site
class SiteGeneration(NamedTuple):
    """AC output of a site's PV and wind plant per step [W]."""

    pv_w: FloatArray
    wind_w: FloatArray


#: Published capacity-factor ranges [-] on the site's nameplate basis (PV: DC, wind: AC), with their sources.
#: Wind: the METI Hokkaido survey of 38 wind farms (FY2003, mean 21.5 %, subprefecture means up to 25.7 %;
#: safety-hokkaido.meti.go.jp, V), Aomori FY2022 1.48 TWh on 699 MW = 24.2 % (METI 電力調査統計 via Too Nippo, S) and
#: Hokkaido 2018 0.95 TWh (area results) on NEDO's 358.7 MW = 30.2 % (derived, S); applied to every area (U).
#: PV: Japanese prefecture yields 11-16 % on DC (docs/models/renewables.md), FIT-era planning 14 % (REFERENCE §4, V).
CF_RANGES: dict[str, tuple[float, float, str]] = {
    "wind": (
        0.20,
        0.31,
        "Japanese onshore wind farms: METI Hokkaido survey 21.5 %, Aomori FY2022 24.2 %, Hokkaido area 2018 30.2 %",
    ),
    "pv": (0.11, 0.16, "Japanese PV on DC nameplate: prefecture yields 11-16 %, FIT-era planning figure 14 %"),
}

_AREA_SOURCE = "the grid area's published hourly {what} output per installed MW (area supply-demand results)"
_PV_MODEL = "pvlib on the site's measured irradiance (no snow cover)"
_WIND_MODEL = "the weather station's wind through a turbine power curve (windpowerlib)"


def _area_profile(weather: pd.DataFrame, column: str) -> FloatArray | None:
    """The area's per-MW profile in ``weather``, or None when it is absent or incomplete."""
    if column not in weather.columns:
        return None
    values = weather[column].to_numpy(dtype=float)
    return values if values.size and np.all(np.isfinite(values)) else None


def generation_sources(site: Site, weather: pd.DataFrame) -> dict[str, str]:
    """Which profile :func:`site_generation_w` uses for the site's PV and wind, in words (``{"pv": .., "wind": ..}``).

    The setting (``site.design.pv_profile``, ``wind_profile``) is honoured where the signals carry the area's
    profile (``solar_cf_area``, ``wind_cf_area``); otherwise the model is used and the label says why.
    """
    design = site.design
    out = {}
    for tech, setting, column, model, what in (
        ("pv", design.pv_profile, "solar_cf_area", _PV_MODEL, "solar"),
        ("wind", design.wind_profile, "wind_cf_area", _WIND_MODEL, "wind"),
    ):
        if setting == "area" and _area_profile(weather, column) is not None:
            out[tech] = f"area: {_AREA_SOURCE.format(what=what)} ({site.grid_area})"
        elif setting == "area":
            out[tech] = f"{'pvlib' if tech == 'pv' else 'anemometer'}: {model} (no {site.grid_area} area profile "
            out[tech] += "in the signals for the whole period)"
        else:
            out[tech] = f"{setting}: {model}"
    return out


def capacity_factor_flag(technology: str, cf: float) -> str | None:
    """A warning if ``cf`` lies outside the published range of :data:`CF_RANGES` for ``"pv"`` or ``"wind"``."""
    lo, hi, source = CF_RANGES[technology]
    if lo <= cf <= hi:
        return None
    side = "below" if cf < lo else "above"
    return f"{technology} capacity factor {cf:.1%} is {side} the published range {lo:.0%}-{hi:.0%} ({source})"


def site_generation_w(
    site: Site,
    weather: pd.DataFrame,
    *,
    pv_capacity_dc_w: float | None = None,
    wind_capacity_w: float | None = None,
    period_s: float | None = None,
) -> SiteGeneration:
    """PV and wind AC output of ``site`` over its weather, with the site's position and design.

    Wind: by default (``site.design.wind_profile = "area"``) the grid area's published output per installed MW
    (``wind_cf_area`` in the signals, :mod:`wattbit.data.area_profiles`) times the capacity; with
    ``"anemometer"``, or where the signals carry no area profile, through :func:`~wattbit.physics.wind.wind_power_w`
    (windpowerlib; the site's turbine, hub and anemometer heights and roughness, with the air-density correction
    from temperature and pressure). PV: by default through :func:`~wattbit.physics.pv.pv_power_w` (pvlib; the
    site's latitude, longitude, altitude, panel tilt, azimuth and DC/AC ratio); with ``pv_profile = "area"`` the
    area's solar output per installed (AC) MW times the site's AC capacity (DC nameplate / DC-AC ratio).
    :func:`generation_sources` says which was used. Every other model parameter is the model's default.

    Parameters
    ----------
    site
        The site of the scenario.
    weather
        The site's signals, indexed by period-beginning UTC time of regular steps, with columns ``ghi_w_m2``
        [W/m²], ``temp_air_c`` [°C] and ``wind_speed_m_s`` [m/s] (PV), and ``wind_speed_m_s``, ``temp_air_c`` and
        ``pressure_pa`` [Pa] (wind).
    pv_capacity_dc_w, wind_capacity_w
        Capacity to model [W] (PV: DC nameplate), >= 0; default the site's installed ``pv_mw`` and ``wind_mw``.
        Callers that need output per unit of capacity pass a reference capacity (the planner's per-MW factors, a
        capacity factor for a site without the plant). A capacity of 0 gives zeros without running the model, so
        its columns are not read.
    period_s
        Length of each period [s]; needed when ``weather`` has a single row (a one-step scenario), otherwise
        inferred from the index.

    Returns
    -------
    SiteGeneration
        ``pv_w`` and ``wind_w``, each ``(len(weather),)`` [W].
    """
    pv_cap_w = site.pv_mw * 1e6 if pv_capacity_dc_w is None else pv_capacity_dc_w
    wind_cap_w = site.wind_mw * 1e6 if wind_capacity_w is None else wind_capacity_w
    design = site.design
    temp_air_c = weather["temp_air_c"].to_numpy(dtype=float)
    wind_speed_m_s = weather["wind_speed_m_s"].to_numpy(dtype=float)
    pv = np.zeros(len(weather))
    area_pv = _area_profile(weather, "solar_cf_area") if design.pv_profile == "area" else None
    area_wind = _area_profile(weather, "wind_cf_area") if design.wind_profile == "area" else None
    if pv_cap_w and area_pv is not None:
        pv = area_pv * (pv_cap_w / design.pv_dc_ac_ratio)
    elif pv_cap_w:
        pv = pv_power_w(
            pd.DatetimeIndex(weather.index),
            weather["ghi_w_m2"].to_numpy(dtype=float),
            temp_air_c,
            wind_speed_m_s,
            site.latitude_deg,
            site.longitude_deg,
            pv_cap_w,
            altitude_m=site.altitude_m,
            tilt_deg=design.pv_tilt_deg,
            azimuth_deg=design.pv_azimuth_deg,
            dc_ac_ratio=design.pv_dc_ac_ratio,
            period_s=period_s,
        )
    wind = np.zeros(len(weather))
    if wind_cap_w and area_wind is not None:
        wind = area_wind * wind_cap_w
    elif wind_cap_w:
        wind = wind_power_w(
            wind_speed_m_s,
            wind_cap_w,
            measurement_height_m=design.anemometer_height_m,
            hub_height_m=design.wind_hub_height_m,
            roughness_length_m=design.roughness_length_m,
            turbine_type=design.wind_turbine,
            temp_air_c=temp_air_c,
            pressure_pa=weather["pressure_pa"].to_numpy(dtype=float),
        )
    return SiteGeneration(pv_w=np.asarray(pv, dtype=float), wind_w=np.asarray(wind, dtype=float))


# ---------------------------------------------------------------------------------------------------------- summary
def capacity_factor(power_w: ArrayLike, capacity_w: ArrayLike) -> float:
    """Mean output over capacity, ``mean(P) / C`` (equal periods assumed).

    Parameters
    ----------
    power_w
        Output per period [W], any shape; over many sites, pass ``capacity_w`` per site to get the fleet value.
    capacity_w
        Capacity [W] on the basis wanted (DC nameplate for PV as usual in Japan, AC for an AC basis), > 0,
        broadcastable against ``power_w``.

    Returns
    -------
    float
        Capacity factor [-], ``sum(P) / sum(C)`` over all elements.
    """
    p = np.asarray(power_w, dtype=float)
    cap = np.asarray(capacity_w, dtype=float)
    if np.isnan(p).any():
        i = int(np.flatnonzero(np.isnan(p.ravel()))[0])
        raise WattbitInputError(f"power at position {i} is NaN", field="power_w")
    if not np.all(cap >= 0.0):  # NaN fails too
        raise WattbitInputError("capacity must be >= 0 (and not NaN)", field="capacity_w")
    total_cap = float(np.sum(np.broadcast_to(cap, p.shape)))
    if total_cap <= 0.0:
        raise WattbitInputError("capacity must be > 0 to compute a capacity factor", field="capacity_w")
    return float(np.sum(p) / total_cap)

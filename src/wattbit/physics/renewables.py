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
    "SiteGeneration",
    "WindProfile",
    "capacity_factor",
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


def site_generation_w(
    site: Site,
    weather: pd.DataFrame,
    *,
    pv_capacity_dc_w: float | None = None,
    wind_capacity_w: float | None = None,
) -> SiteGeneration:
    """PV and wind AC output of ``site`` over its weather, with the site's position and design.

    PV through :func:`~wattbit.physics.pv.pv_power_w` (pvlib; the site's latitude, longitude, altitude, panel tilt,
    azimuth and DC/AC ratio), wind through :func:`~wattbit.physics.wind.wind_power_w` (windpowerlib; the site's
    turbine, hub and anemometer heights and roughness, with the air-density correction from temperature and
    pressure). Every other model parameter is the model's default.

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
    if pv_cap_w:
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
        )
    wind = np.zeros(len(weather))
    if wind_cap_w:
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

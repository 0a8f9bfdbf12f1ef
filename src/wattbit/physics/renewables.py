"""On-site renewable output: photovoltaic (through pvlib) and wind (through windpowerlib).

PV chain (:func:`pv_power_w`), in the spirit of PVWatts v5 (Dobos 2014, NREL/TP-6A20-62641) with REopt's defaults:

1. **Sun position at the middle of each period.** Weather series give *period-mean* irradiance (JMA: hourly
   irradiation, labelled here by the period's beginning), so the sun is placed at ``t + period/2``. Evaluating it at
   the period's start instead shifts every hour by 30 minutes and badly mis-splits the sunrise and sunset hours.
   Declination, equation of time and hour angle follow Spencer (1971) through :mod:`pvlib.solarposition`; zenith
   and incidence angles the spherical trigonometry of Duffie & Beckman (2013), agreeing with NREL's SPA (Reda &
   Andreas 2004) to about 0.25° in zenith.
2. **Decomposition** of global horizontal irradiance into beam (DNI) and diffuse (DHI) with the Erbs, Klein and
   Duffie (1982) diffuse-fraction correlation in the continuous form of Driesse et al. (2024) (within 0.0005 of
   the original; :func:`pvlib.irradiance.erbs_driesse`). Chosen because it is pointwise (no neighbouring time
   steps, so it works on any time x site array), fast, and was fitted to *hourly* data, which is what JMA
   publishes; DIRINT/DISC give slightly better DNI but need each site's series in order.
3. **Transposition** to the plane of array with the Hay & Davies (1980) sky model (circumsolar + isotropic,
   :func:`pvlib.irradiance.haydavies`) and isotropic ground reflection (:func:`pvlib.irradiance.get_ground_diffuse`,
   albedo 0.2). Perez (1990) is a little more accurate in clear climates but needs air mass and more work.
4. **Incidence-angle loss** of the beam through the glass cover, :func:`pvlib.iam.physical`, as in PVWatts v5
   (tabulated once against cos AOI and interpolated).
5. **Cell temperature** from the Sandia array model (King et al. 2004, SAND2004-3535, open-rack glass/polymer,
   :func:`pvlib.temperature.sapm_cell`), with the wind speed as given (nominally at 10 m).
6. **DC power** from PVWatts (:func:`pvlib.pvsystem.pvwatts_dc`) with temperature coefficient ``gamma_pdc_per_k``,
   then the lumped system losses (REopt/PVWatts 14 %) and linear degradation with age (REopt 0.5 %/yr).
7. **Inverter** from PVWatts (:func:`pvlib.inverter.pvwatts`): part-load efficiency curve scaled to the nominal
   efficiency, clipping at the AC rating ``capacity_dc_w / dc_ac_ratio``.

Snow cover, horizon and row-to-row shading are not modelled (the 14 % lumps 3 % shading; snow is 0 in PVWatts'
default).

Wind (:func:`wind_power_w`): wind speed moved from the anemometer to hub height by the logarithmic profile (or
Hellman's power law), the manufacturer's power curve of a turbine from the OEDB turbine library that ships with
windpowerlib (optionally corrected for air density after Svenningsen 2010), times the (fractional) number of turbines
and one lumped loss factor for wakes, availability and electrical losses.

Parameter status (see docs/models/renewables.md): **V** seen in a primary source or model code, **S** secondary,
**U** an assumption to replace with site data.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from wattbit.errors import WattbitInputError

try:
    from pvlib import iam, inverter, irradiance, pvsystem, solarposition, temperature
    from windpowerlib import data as wpl_data
    from windpowerlib import density as wpl_density
    from windpowerlib import power_output as wpl_power
    from windpowerlib import temperature as wpl_temperature
    from windpowerlib import wind_speed as wpl_wind_speed
    from windpowerlib.wind_turbine import WindTurbine
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        "wattbit.physics.renewables needs pvlib and windpowerlib: pip install pvlib windpowerlib"
    ) from exc

FloatArray = NDArray[np.float64]
WindProfile = Literal["logarithmic", "hellman"]

#: Largest plausible hourly-mean global horizontal irradiance [W/m²] (the solar constant is 1361 W/m²).
GHI_MAX_W_M2 = 1500.0
#: Sandia array temperature model, open-rack glass/polymer module (King et al. 2004) — V, pvlib's table.
SAPM_OPEN_RACK_GLASS_POLYMER = temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"]["open_rack_glass_polymer"]
#: Default turbine: Enercon E-126 EP4, 4.2 MW, 127 m rotor (332 W/m²), a 4 MW-class onshore machine.
DEFAULT_TURBINE = "E-126/4200"
#: Standard air density of power curves [kg/m³] (IEC 61400-12-1).
STANDARD_AIR_DENSITY_KG_M3 = 1.225
#: Accepted ranges of the weather inputs (NaN is never accepted).
_WEATHER_RANGES = {"ghi_w_m2": (0.0, GHI_MAX_W_M2), "temp_air_c": (-90.0, 60.0), "wind_speed_m_s": (0.0, 100.0)}


# ---------------------------------------------------------------------------------------------- validation helpers
def _fail(name: str, values: FloatArray, bad: NDArray[np.bool_], expected: str) -> None:
    if np.any(bad):
        i = int(np.flatnonzero(np.ravel(bad))[0])
        raise WattbitInputError(f"value {np.ravel(values)[i]} at position {i} is {expected}", field=name)


def _check_range(name: str, values: ArrayLike, lo: float, hi: float) -> FloatArray:
    """Return ``values`` as a float array, or raise if any is NaN or outside ``lo..hi``."""
    arr = np.asarray(values, dtype=float)
    _fail(name, arr, ~((arr >= lo) & (arr <= hi)), f"NaN or outside the expected range {lo:g}..{hi:g}")
    return arr


def _check_scalar(name: str, value: float, lo: float, hi: float) -> float:
    return float(_check_range(name, value, lo, hi))


def _as_times(times_utc: pd.DatetimeIndex) -> pd.DatetimeIndex:
    times = pd.DatetimeIndex(times_utc)
    if times.tz is None:
        raise WattbitInputError("timestamps must be timezone-aware (UTC)", field="times_utc")
    return times.tz_convert("UTC")


def _period_s(times: pd.DatetimeIndex, period_s: float | None) -> float:
    if period_s is not None:
        return _check_scalar("period_s", period_s, 1.0, 86_400.0)
    if len(times) < 2:
        raise WattbitInputError(
            "cannot infer the period from fewer than two timestamps; give period_s", field="period_s"
        )
    steps = np.diff(times.as_unit("ns").asi8) / 1e9
    if np.any(steps <= 0):
        raise WattbitInputError("timestamps must be strictly increasing", field="times_utc")
    return float(np.median(steps))


# ----------------------------------------------------------------------------------------------------- sun position
def _sun_time_terms(times: pd.DatetimeIndex, period_s: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Site-independent terms at mid-period: fractional day of year, declination [rad], hour angle at 0° E [deg].

    Declination and equation of time are Spencer's (1971) series from :mod:`pvlib.solarposition`; the hour angle is
    ``15°/h x (UTC hour - 12) + EoT/4`` (what :func:`pvlib.solarposition.hour_angle` computes, without its loop over
    timestamps).
    """
    mid = times + pd.Timedelta(seconds=period_s / 2.0)
    hours_utc = np.asarray((mid - mid.normalize()) / pd.Timedelta(hours=1), dtype=float)
    day_of_year = mid.day_of_year.to_numpy() + hours_utc / 24.0  # fractional, 1-based
    declination = np.asarray(solarposition.declination_spencer71(day_of_year), dtype=float)
    eot_min = np.asarray(solarposition.equation_of_time_spencer71(day_of_year), dtype=float)
    return day_of_year, declination, 15.0 * (hours_utc - 12.0) + eot_min / 4.0


def _zenith_azimuth_deg(
    latitude_deg: FloatArray, hour_angle_deg: FloatArray, declination_rad: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Zenith and azimuth [deg] (Duffie & Beckman, via pvlib); the hour angle is wrapped to -180..180° first."""
    lat = np.deg2rad(latitude_deg)
    hour_angle = np.deg2rad((hour_angle_deg + 180.0) % 360.0 - 180.0)
    zenith = solarposition.solar_zenith_analytical(lat, hour_angle, declination_rad)
    azimuth = solarposition.solar_azimuth_analytical(lat, hour_angle, declination_rad, zenith)
    return np.rad2deg(zenith), np.rad2deg(azimuth)


def solar_position_mid_period_deg(
    times_utc: pd.DatetimeIndex,
    latitude_deg: ArrayLike,
    longitude_deg: ArrayLike,
    *,
    period_s: float | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Sun zenith and azimuth at the middle of each period (Spencer 1971; Duffie & Beckman 2013).

    Parameters
    ----------
    times_utc
        Period-beginning timestamps, tz-aware.
    latitude_deg, longitude_deg
        Site position [deg], north and east positive; scalars or arrays of shape ``(n_sites,)``.
    period_s
        Period length [s]; inferred from the median timestamp spacing when omitted.

    Returns
    -------
    zenith_deg, azimuth_deg : numpy.ndarray
        Geometric (unrefracted) zenith angle and azimuth clockwise from north [deg], shape ``(n_times,)`` for a
        scalar site or ``(n_times, n_sites)``.
    """
    times = _as_times(times_utc)
    lat = _check_range("latitude_deg", latitude_deg, -90.0, 90.0)
    lon = _check_range("longitude_deg", longitude_deg, -180.0, 180.0)
    _, decl, ha0 = _sun_time_terms(times, _period_s(times, period_s))
    if np.ndim(lat) == 0 and np.ndim(lon) == 0:
        return _zenith_azimuth_deg(lat, ha0 + lon, decl)
    lat, lon = np.broadcast_arrays(np.atleast_1d(lat), np.atleast_1d(lon))
    return _zenith_azimuth_deg(lat[None, :], ha0[:, None] + lon[None, :], decl[:, None])


def default_tilt_deg(latitude_deg: ArrayLike) -> FloatArray:
    """Annual-yield optimal fixed tilt [deg] from latitude, the cubic fit of Jacobson & Jadhav (2018).

    ``tilt = 1.3793 + |lat| (1.2011 + |lat| (-0.014404 + |lat| 0.000080509))`` — fitted to PVWatts optima in the
    northern hemisphere (Solar Energy 169, 55-66). About 30° for Tokyo, 31° for Sendai and 33° for Sapporo; the tests
    check it is within 1 % of the best tilt on real Sendai weather.
    """
    lat = np.abs(np.asarray(latitude_deg, dtype=float))
    return np.clip(1.3793 + lat * (1.2011 + lat * (-0.014404 + lat * 0.000080509)), 0.0, 90.0)


# -------------------------------------------------------------------------------------------------------------- PV
def _broadcast(name: str, value: ArrayLike, shape: tuple[int, ...]) -> FloatArray:
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 1 and len(shape) == 2:
        arr = arr[:, None]  # one weather series shared by all sites
    try:
        return np.broadcast_to(arr, shape)
    except ValueError:
        raise WattbitInputError(f"shape {np.shape(value)} does not match {shape}", field=name) from None


def _plane_geometry(
    declination_rad: FloatArray,
    hour_angle_deg: FloatArray,
    latitude_deg: FloatArray,
    longitude_deg: FloatArray,
    tilt_deg: FloatArray,
    azimuth_deg: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Cosines of the sun's zenith angle and of its incidence angle on the panels (Duffie & Beckman 2013, 1.6).

    The sun's direction (east, north, up) is linear in three functions of time alone — ``sin d``, ``cos d cos h0``
    and ``cos d sin h0`` (declination ``d``, hour angle ``h0`` at longitude 0) — with coefficients that depend on the
    site alone, so the whole time x site grid is one ``(T, 3) x (3, S)`` product and no trigonometric function is
    evaluated on it. Agrees with :func:`pvlib.solarposition.solar_zenith_analytical` and
    :func:`pvlib.irradiance.aoi_projection` to rounding (tested).

    Returns arrays of shape ``(T,)`` when every site argument is a scalar, else ``(T, S)``.
    """
    ha0 = np.deg2rad(hour_angle_deg)
    features = np.stack(
        [np.sin(declination_rad), np.cos(declination_rad) * np.cos(ha0), np.cos(declination_rad) * np.sin(ha0)], axis=-1
    )
    lat, lon, tilt, surf_az = np.broadcast_arrays(
        *(np.deg2rad(x) for x in (latitude_deg, longitude_deg, tilt_deg, azimuth_deg))
    )
    sin_lat, cos_lat, sin_lon, cos_lon = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    n_east, n_north, n_up = np.sin(tilt) * np.sin(surf_az), np.sin(tilt) * np.cos(surf_az), np.cos(tilt)
    # up (= cos zenith), east and north components of the sun, as coefficients of the three features
    up = np.stack([sin_lat, cos_lat * cos_lon, -cos_lat * sin_lon])
    east = np.stack([np.zeros_like(lat), -sin_lon, -cos_lon])
    north = np.stack([cos_lat, -sin_lat * cos_lon, sin_lat * sin_lon])
    to_panel = n_east * east + n_north * north + n_up * up
    return np.einsum("tk,k...->t...", features, up), np.einsum("tk,k...->t...", features, to_panel)


_IAM_TABLE_STEPS = 2000


@lru_cache(maxsize=1)
def _glass_transmittance_table() -> FloatArray:
    """:func:`pvlib.iam.physical` (Fresnel + absorption, glass n = 1.526) on a uniform grid of cos(AOI) in 0..1."""
    cos_aoi = np.linspace(0.0, 1.0, _IAM_TABLE_STEPS + 1)
    return np.asarray(iam.physical(np.rad2deg(np.arccos(cos_aoi))), dtype=float)


def _glass_transmittance(cos_aoi: FloatArray) -> FloatArray:
    """Linear interpolation in :func:`_glass_transmittance_table` (within 1e-6 of pvlib; 0 behind the panel)."""
    table = _glass_transmittance_table()
    x = np.clip(cos_aoi, 0.0, 1.0) * _IAM_TABLE_STEPS
    i = np.minimum(x.astype(np.intp), _IAM_TABLE_STEPS - 1)
    return table[i] + (x - i) * (table[i + 1] - table[i])


@dataclass(frozen=True)
class _LitSky:
    """The sky seen by each plant at the lit (GHI > 0) points of a (time x site) grid, flattened."""

    shape: tuple[int, ...]
    lit: NDArray[np.intp]
    site: NDArray[np.intp]
    dni: FloatArray
    dhi: FloatArray
    poa_direct: FloatArray
    poa_global: FloatArray
    cos_aoi: FloatArray

    def scatter(self, values: FloatArray) -> FloatArray:
        out = np.zeros(self.shape)
        out.flat[self.lit] = values
        return out

    def at_lit(self, value: FloatArray) -> FloatArray:
        """A weather grid, or a per-site / scalar parameter, at the lit points."""
        if np.ndim(value) == 0:
            return np.asarray(value, dtype=float)
        return np.ravel(value)[self.lit] if np.ndim(value) == len(self.shape) else value[self.site]


def _lit_sky(
    times_utc: pd.DatetimeIndex,
    weather: dict[str, ArrayLike],
    latitude_deg: ArrayLike,
    longitude_deg: ArrayLike,
    tilt_deg: ArrayLike | None,
    azimuth_deg: ArrayLike,
    albedo: float,
    period_s: float | None,
    per_site: dict[str, FloatArray],
) -> tuple[_LitSky, dict[str, FloatArray]]:
    """Check inputs, place the sun mid-period, split GHI (Erbs) and transpose it (Hay-Davies) where it is lit."""
    times = _as_times(times_utc)
    step_s = _period_s(times, period_s)
    lat = _check_range("latitude_deg", latitude_deg, -90.0, 90.0)
    lon = _check_range("longitude_deg", longitude_deg, -180.0, 180.0)
    tilt = default_tilt_deg(lat) if tilt_deg is None else _check_range("tilt_deg", tilt_deg, 0.0, 90.0)
    surf_az = _check_range("azimuth_deg", azimuth_deg, 0.0, 360.0)
    _check_scalar("albedo", albedo, 0.0, 1.0)
    site = {"latitude_deg": lat, "longitude_deg": lon, "tilt_deg": tilt, "azimuth_deg": surf_az, **per_site}
    n_sites = [np.shape(v)[1] for v in weather.values() if np.ndim(v) == 2]
    n_sites += [np.size(v) for v in site.values() if np.ndim(v) == 1]
    shape = (len(times), max(n_sites)) if n_sites else (len(times),)
    for name, value in site.items():
        if np.ndim(value) > 1 or (np.ndim(value) == 1 and np.size(value) != shape[-1]):
            raise WattbitInputError(f"shape {np.shape(value)} does not match {shape[-1]} sites", field=name)
    wx = {name: _broadcast(name, value, shape) for name, value in weather.items()}
    for name, (lo, hi) in _WEATHER_RANGES.items():
        if name in wx:
            _check_range(name, wx[name], lo, hi)

    day_of_year, decl, ha0 = _sun_time_terms(times, step_s)
    cos_zenith, cos_aoi = _plane_geometry(
        decl, ha0, *(np.broadcast_to(x, shape[1:]) for x in (lat, lon, tilt, surf_az))
    )
    lit = np.flatnonzero(wx["ghi_w_m2"] > 0.0)  # about half of all values: the rest stays zero
    n_cols = shape[1] if len(shape) == 2 else 1
    ghi, cos_zenith, cos_aoi = (np.ravel(x)[lit] for x in (wx["ghi_w_m2"], cos_zenith, cos_aoi))
    dni_extra = np.asarray(irradiance.get_extra_radiation(day_of_year), dtype=float)[lit // n_cols]
    site_of_lit = lit % n_cols
    tilt_lit = tilt if np.ndim(tilt) == 0 else tilt[site_of_lit]

    zenith = np.rad2deg(np.arccos(np.clip(cos_zenith, -1.0, 1.0)))
    split = irradiance.erbs_driesse(ghi, zenith, dni_extra=dni_extra)
    dni, dhi = np.asarray(split["dni"], dtype=float), np.asarray(split["dhi"], dtype=float)
    # beam projection ratio, bounded near the horizon as pvlib bounds it (its issues 432 and 526)
    projection = np.maximum(cos_aoi, 0.0) / np.maximum(cos_zenith, 0.01745)
    sky = irradiance.haydavies(tilt_lit, None, dhi, dni, dni_extra, projection_ratio=projection)
    ground = irradiance.get_ground_diffuse(tilt_lit, ghi, albedo=albedo)
    poa_direct = dni * np.maximum(cos_aoi, 0.0)
    return (
        _LitSky(shape, lit, site_of_lit, dni, dhi, poa_direct, poa_direct + sky + ground, cos_aoi),
        wx,
    )


def plane_of_array_w_m2(
    times_utc: pd.DatetimeIndex,
    ghi_w_m2: ArrayLike,
    latitude_deg: ArrayLike,
    longitude_deg: ArrayLike,
    *,
    tilt_deg: ArrayLike | None = None,
    azimuth_deg: ArrayLike = 180.0,
    albedo: float = 0.2,
    period_s: float | None = None,
) -> dict[str, FloatArray]:
    """Beam, diffuse and plane-of-array irradiance from period-mean GHI: steps 1-3 of :func:`pv_power_w`.

    Parameters are those of :func:`pv_power_w`.

    Returns
    -------
    dict of numpy.ndarray
        ``dni``, ``dhi`` (the Erbs split, ``ghi = dni cos(zenith) + dhi`` with the zenith of
        :func:`solar_position_mid_period_deg`), ``poa_direct`` and ``poa_global`` (on the panels) [W/m²], in the
        shape of the output of :func:`pv_power_w`; zero where GHI is zero.
    """
    sky, _ = _lit_sky(
        times_utc, {"ghi_w_m2": ghi_w_m2}, latitude_deg, longitude_deg, tilt_deg, azimuth_deg, albedo, period_s, {}
    )
    return {name: sky.scatter(getattr(sky, name)) for name in ("dni", "dhi", "poa_direct", "poa_global")}


def pv_power_w(
    times_utc: pd.DatetimeIndex,
    ghi_w_m2: ArrayLike,
    temp_air_c: ArrayLike,
    wind_speed_m_s: ArrayLike,
    latitude_deg: ArrayLike,
    longitude_deg: ArrayLike,
    capacity_dc_w: ArrayLike,
    *,
    altitude_m: ArrayLike = 0.0,
    tilt_deg: ArrayLike | None = None,
    azimuth_deg: ArrayLike = 180.0,
    dc_ac_ratio: float = 1.2,
    system_losses_pct: float = 14.0,
    gamma_pdc_per_k: float = -0.0037,
    inverter_efficiency: float = 0.96,
    albedo: float = 0.2,
    age_years: float = 0.0,
    degradation_pct_per_year: float = 0.5,
    period_s: float | None = None,
) -> FloatArray:
    """AC output of a fixed-tilt PV plant from period-mean global horizontal irradiance (PVWatts-style, via pvlib).

    Parameters
    ----------
    times_utc
        Period-**beginning** timestamps (tz-aware) of regular periods (hourly, 15-min, ...).
    ghi_w_m2
        Global horizontal irradiance, **mean over each period** [W/m²], 0..1500; the sun is placed at the middle of
        each period. Shape ``(n_times,)`` or ``(n_times, n_sites)`` (a 1-D series is shared by all sites).
    temp_air_c
        Air temperature [°C], same shape rules.
    wind_speed_m_s
        Wind speed [m/s] (the SAPM temperature model expects it at 10 m), same shape rules.
    latitude_deg, longitude_deg
        Site position [deg], north/east positive; scalar or ``(n_sites,)``.
    capacity_dc_w
        Nameplate DC capacity at STC [W], >= 0; scalar or ``(n_sites,)``.
    altitude_m
        Site altitude [m]; checked but unused (Hay-Davies and SAPM need no air mass or pressure).
    tilt_deg
        Panel tilt from horizontal [deg], scalar or ``(n_sites,)``; default :func:`default_tilt_deg`.
    azimuth_deg
        Direction the panels face, clockwise from north [deg]; 180 = south.
    dc_ac_ratio
        DC nameplate over inverter AC rating (REopt 1.2, V).
    system_losses_pct
        Lumped DC losses: soiling, shading, mismatch, wiring, LID, nameplate, availability [%] (REopt/PVWatts 14, V).
    gamma_pdc_per_k
        Power temperature coefficient [1/K] (-0.0037: PVWatts v8 "standard" module, S).
    inverter_efficiency
        Nominal inverter efficiency (REopt/PVWatts 0.96, V).
    albedo
        Ground reflectance (0.2, PVWatts default, S).
    age_years, degradation_pct_per_year
        Plant age [yr] and linear output degradation [%/yr] (REopt 0.5, V).
    period_s
        Period length [s]; inferred from the median timestamp spacing when omitted.

    Returns
    -------
    numpy.ndarray
        AC power [W], mean over each period: >= 0, <= the AC rating ``capacity_dc_w / dc_ac_ratio``, zero where
        GHI is zero. Shape ``(n_times,)`` for one site given 1-D weather, else ``(n_times, n_sites)``.

    Raises
    ------
    WattbitInputError
        Naming the field of a NaN or out-of-range input, or of mismatched shapes.
    """
    cap = _check_range("capacity_dc_w", capacity_dc_w, 0.0, np.inf)
    _check_range("altitude_m", altitude_m, -500.0, 9000.0)
    _check_scalar("dc_ac_ratio", dc_ac_ratio, 0.1, 10.0)
    losses = _check_scalar("system_losses_pct", system_losses_pct, 0.0, 100.0)
    _check_scalar("gamma_pdc_per_k", gamma_pdc_per_k, -0.02, 0.0)
    _check_scalar("inverter_efficiency", inverter_efficiency, 0.5, 1.0)
    age = _check_scalar("age_years", age_years, 0.0, 100.0)
    degr = _check_scalar("degradation_pct_per_year", degradation_pct_per_year, 0.0, 100.0)
    weather = {"ghi_w_m2": ghi_w_m2, "temp_air_c": temp_air_c, "wind_speed_m_s": wind_speed_m_s}
    sky, wx = _lit_sky(
        times_utc, weather, latitude_deg, longitude_deg, tilt_deg, azimuth_deg, albedo, period_s, {"capacity_dc_w": cap}
    )
    effective = sky.poa_global - (1.0 - _glass_transmittance(sky.cos_aoi)) * sky.poa_direct
    p = SAPM_OPEN_RACK_GLASS_POLYMER
    temp_cell = temperature.sapm_cell(
        sky.poa_global, sky.at_lit(wx["temp_air_c"]), sky.at_lit(wx["wind_speed_m_s"]), p["a"], p["b"], p["deltaT"]
    )
    cap_lit = sky.at_lit(cap)
    derate = (1.0 - losses / 100.0) * max(0.0, 1.0 - degr / 100.0 * age)
    dc = pvsystem.pvwatts_dc(effective, temp_cell, cap_lit, gamma_pdc_per_k) * derate
    with np.errstate(divide="ignore", invalid="ignore"):  # zero-capacity plants
        ac = inverter.pvwatts(dc, cap_lit / dc_ac_ratio / inverter_efficiency, eta_inv_nom=inverter_efficiency)
    return sky.scatter(np.nan_to_num(np.asarray(ac, dtype=float)))


# ------------------------------------------------------------------------------------------------------------ wind
@cache
def known_turbine_types() -> tuple[str, ...]:
    """Turbine types with a power curve in the OEDB library that ships inside windpowerlib (read offline)."""
    table = wpl_data.get_turbine_types(turbine_library="local", print_out=False)
    return tuple(sorted(table.loc[table["has_power_curve"].astype(bool), "turbine_type"]))


@lru_cache(maxsize=64)
def turbine_power_curve(turbine_type: str = DEFAULT_TURBINE) -> tuple[FloatArray, FloatArray, float]:
    """Manufacturer power curve of one turbine from windpowerlib's bundled OEDB library.

    Returns
    -------
    wind_speed_m_s, power_w : numpy.ndarray
        Curve points [m/s] and [W], sorted by wind speed.
    nominal_power_w : float
        Rated power [W].
    """
    known = known_turbine_types()
    if turbine_type not in known:
        raise WattbitInputError(
            f"unknown turbine {turbine_type!r}; known types include {', '.join(known[:4])}, "
            f"'E-126/4200', 'V112/3450', 'SWT130/3600' ({len(known)} in windpowerlib's OEDB library)",
            field="turbine_type",
        )
    with warnings.catch_warnings():  # windpowerlib 0.2.2 uses pandas' deprecated inplace=True
        warnings.filterwarnings("ignore", "The inplace keyword", DeprecationWarning)
        turbine = WindTurbine(hub_height=1000.0, turbine_type=turbine_type)  # any hub above the rotor: unused
    curve = turbine.power_curve.sort_values("wind_speed")
    speeds = curve["wind_speed"].to_numpy(dtype=float)
    power = curve["value"].to_numpy(dtype=float)
    speeds.flags.writeable = False
    power.flags.writeable = False
    return speeds, power, float(turbine.nominal_power)


def _density_corrected_power_curve(
    wind_speed: FloatArray, curve_speed: FloatArray, curve_power: FloatArray, density: FloatArray
) -> FloatArray:
    """Power curve shifted for air density (Svenningsen 2010), vectorised over time steps.

    The model of :func:`windpowerlib.power_output.power_curve_density_correction`: at density ``rho`` the curve's
    speeds become ``v_i (1.225/rho)^p_i`` with ``p_i`` rising linearly from 1/3 (<= 7.5 m/s) to 2/3 (>= 12.5 m/s),
    and the power is interpolated linearly on that curve (zero outside it). windpowerlib loops in Python over time
    steps; here each step's segment is found in log space, ``ln v_i + p_i ln(1.225/rho) <= ln v``, starting from the
    uncorrected segment and moving a few whole-array steps. Equal to windpowerlib to rounding (tested).
    """
    log_ratio = np.log(STANDARD_AIR_DENSITY_KG_M3 / density)
    exponent = np.interp(curve_speed, [7.5, 12.5], [1.0 / 3.0, 2.0 / 3.0])
    with np.errstate(divide="ignore"):
        log_curve, log_speed = np.log(curve_speed), np.log(wind_speed)
    last = len(curve_speed) - 1

    def below(i: NDArray[np.intp]) -> NDArray[np.bool_]:  # corrected curve speed i <= wind speed
        return log_curve[i] + exponent[i] * log_ratio <= log_speed

    j = np.clip(np.searchsorted(curve_speed, wind_speed, side="right") - 1, 0, last - 1)
    for _ in range(last):
        step = ((j < last - 1) & below(j + 1)).astype(np.intp) - ((j > 0) & ~below(j))
        if not step.any():
            break
        j += step
    lo = curve_speed[j] * np.exp(exponent[j] * log_ratio)
    hi = curve_speed[j + 1] * np.exp(exponent[j + 1] * log_ratio)
    power = curve_power[j] + (wind_speed - lo) / (hi - lo) * (curve_power[j + 1] - curve_power[j])
    return np.where((wind_speed < lo) | (wind_speed > hi), 0.0, power)


def wind_power_w(
    wind_speed_m_s: ArrayLike,
    capacity_w: ArrayLike,
    *,
    measurement_height_m: float = 10.0,
    hub_height_m: float = 100.0,
    roughness_length_m: ArrayLike = 0.1,
    turbine_type: str = DEFAULT_TURBINE,
    temp_air_c: ArrayLike | None = None,
    pressure_pa: ArrayLike | None = None,
    temperature_height_m: float = 1.5,
    pressure_height_m: float = 0.0,
    losses_pct: float = 10.0,
    wind_profile: WindProfile = "logarithmic",
    hellman_exponent: float | None = None,
) -> FloatArray:
    """Output of a wind farm of ``capacity_w`` from measured wind speed, through a turbine power curve.

    ``P = capacity_w / P_rated * P_curve(v_hub) * (1 - losses_pct/100)`` with
    ``v_hub = v ln(h_hub/z0) / ln(h_meas/z0)`` (:func:`windpowerlib.wind_speed.logarithmic_profile`) or Hellman's
    power law, and ``P_curve`` the manufacturer curve of ``turbine_type`` (:func:`windpowerlib.power_output.
    power_curve`; zero below cut-in and above cut-out). With both ``temp_air_c`` and ``pressure_pa`` the curve is
    corrected for air density at hub height (ideal gas, temperature lapse 6.5 K/km, pressure -1 hPa per 8 m, all
    windpowerlib's models).

    Parameters
    ----------
    wind_speed_m_s
        Mean wind speed over each period at ``measurement_height_m`` [m/s], >= 0; any shape, e.g.
        ``(n_times, n_sites)``.
    capacity_w
        Installed capacity [W], >= 0, broadcast against the wind speed (``(n_sites,)`` against ``(n_times,
        n_sites)``). The number of turbines ``capacity_w / rated power`` may be fractional.
    measurement_height_m
        Anemometer height above ground [m] (WMO standard 10 m; JMA observatories are often 35-60 m up).
    hub_height_m
        Turbine hub height [m].
    roughness_length_m
        Surface roughness length z0 [m] (0.1: farmland with hedges, U); scalar or broadcastable.
    turbine_type
        Name in windpowerlib's OEDB library, e.g. ``"E-126/4200"``, ``"V112/3450"``; see :func:`known_turbine_types`.
    temp_air_c, pressure_pa
        Air temperature [°C] at ``temperature_height_m`` and station pressure [Pa] at ``pressure_height_m``, for the
        density correction; give both or neither.
    losses_pct
        Wake, availability and electrical losses lumped [%] (10, U: wake 5, availability 3, electrical 2).
    wind_profile
        ``"logarithmic"`` (default) or ``"hellman"`` (exponent ``hellman_exponent`` or ``1/ln(h_hub/z0)``).

    Returns
    -------
    numpy.ndarray
        Farm AC output [W], the broadcast shape of ``wind_speed_m_s`` and ``capacity_w``.
    """
    v = _check_range("wind_speed_m_s", wind_speed_m_s, 0.0, 100.0)
    cap = _check_range("capacity_w", capacity_w, 0.0, np.inf)
    h_meas = _check_scalar("measurement_height_m", measurement_height_m, 0.5, 500.0)
    h_hub = _check_scalar("hub_height_m", hub_height_m, 1.0, 500.0)
    z0 = _check_range("roughness_length_m", roughness_length_m, 1e-5, 0.5 * min(h_meas, h_hub))
    losses = _check_scalar("losses_pct", losses_pct, 0.0, 100.0)
    others = {"capacity_w": cap, "temp_air_c": temp_air_c, "pressure_pa": pressure_pa}
    for name, value in others.items():
        shape = np.shape(np.asarray(value)) if value is not None else ()
        try:
            np.broadcast_shapes(v.shape, shape)
        except ValueError:
            raise WattbitInputError(f"shape {shape} does not match wind speed {v.shape}", field=name) from None
    speeds, power, rated_w = turbine_power_curve(turbine_type)
    if wind_profile == "logarithmic":
        v_hub = wpl_wind_speed.logarithmic_profile(v, h_meas, h_hub, z0)
    elif wind_profile == "hellman":
        v_hub = wpl_wind_speed.hellman(v, h_meas, h_hub, z0, hellman_exponent)
    else:
        raise WattbitInputError(
            f"unknown wind profile {wind_profile!r}; expected 'logarithmic' or 'hellman'", field="wind_profile"
        )
    if (temp_air_c is None) != (pressure_pa is None):
        raise WattbitInputError(
            "give both temp_air_c and pressure_pa for the density correction, or neither",
            field="temp_air_c" if temp_air_c is None else "pressure_pa",
        )
    if temp_air_c is None or pressure_pa is None:
        turbine_w = wpl_power.power_curve(v_hub, speeds, power)
    else:
        temp_k = _check_range("temp_air_c", temp_air_c, -90.0, 60.0) + 273.15
        pressure = _check_range("pressure_pa", pressure_pa, 30_000.0, 110_000.0)
        temp_hub_k = wpl_temperature.linear_gradient(temp_k, temperature_height_m, h_hub)
        density = wpl_density.ideal_gas(pressure, pressure_height_m, h_hub, temp_hub_k)
        v_hub, density = np.broadcast_arrays(np.asarray(v_hub, dtype=float), np.asarray(density, dtype=float))
        turbine_w = _density_corrected_power_curve(v_hub.ravel(), speeds, power, density.ravel()).reshape(v_hub.shape)
    # the curve's last point is the cut-out speed: stopped at and above it (windpowerlib keeps power *at* it)
    turbine_w = np.where(v_hub >= speeds[-1], 0.0, turbine_w)
    return np.asarray(turbine_w, dtype=float) * (cap / rated_w) * (1.0 - losses / 100.0)


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
    _fail("power_w", p, np.isnan(p), "NaN")
    cap = _check_range("capacity_w", capacity_w, 0.0, np.inf)
    total_cap = float(np.sum(np.broadcast_to(cap, p.shape)))
    if total_cap <= 0.0:
        raise WattbitInputError("capacity must be > 0 to compute a capacity factor", field="capacity_w")
    return float(np.sum(p) / total_cap)

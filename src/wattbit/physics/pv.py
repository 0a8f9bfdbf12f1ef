"""Photovoltaic output through pvlib, from period-mean global horizontal irradiance.

PV chain (:func:`pv_power_w`), in the spirit of PVWatts v5 (Dobos 2014, NREL/TP-6A20-62641) with REopt's defaults:

1. **Sun position at the middle of each period.** Weather series give *period-mean* irradiance (JMA: hourly
   irradiation, labelled here by the period's beginning), so the sun is placed at ``t + period/2``. Evaluating it at
   the period's start instead shifts every hour by 30 minutes and badly mis-splits the sunrise and sunset hours.
   Declination, equation of time and hour angle follow Spencer (1971) through :mod:`pvlib.solarposition`; zenith
   and incidence angles the spherical trigonometry of Duffie & Beckman (2013), agreeing with NREL's SPA (Reda &
   Andreas 2004) to about 0.25° in zenith.
2. **Decomposition** of global horizontal irradiance into beam (DNI) and diffuse (DHI) with the Erbs, Klein and
   Duffie (1982) diffuse-fraction correlation in the continuous form of Driesse et al. (2024) (within 0.0005 of
   the original; the model of :func:`pvlib.irradiance.erbs_driesse`, written here on the cosine of the zenith).
   Chosen because it is pointwise (no neighbouring time steps, so it works on any time x site array), fast, and was
   fitted to *hourly* data, which is what JMA publishes; DIRINT/DISC give slightly better DNI but need each site's
   series in order.
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

Parameter status (see docs/models/renewables.md): **V** seen in a primary source or model code, **S** secondary,
**U** an assumption to replace with site data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from wattbit.errors import WattbitInputError
from wattbit.units import FloatArray
from wattbit.units import check_range as _check_range
from wattbit.units import check_scalar as _check_scalar

try:
    from pvlib import iam, inverter, irradiance, pvsystem, solarposition, temperature
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError("wattbit.physics.pv needs pvlib: pip install pvlib") from exc

#: Largest plausible hourly-mean global horizontal irradiance [W/m²] (the solar constant is 1361 W/m²).
GHI_MAX_W_M2 = 1500.0
#: Sandia array temperature model, open-rack glass/polymer module (King et al. 2004) — V, pvlib's table.
SAPM_OPEN_RACK_GLASS_POLYMER = temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"]["open_rack_glass_polymer"]
#: Erbs diffuse fraction in the continuous form of Driesse et al. (2024): polynomial in the clearness index for
#: 0.216 < kt <= 0.792, highest power first (V, :func:`pvlib.irradiance.erbs_driesse`).
ERBS_DRIESSE_POLYNOMIAL = (
    12.26911439571261,
    -16.4705084246973,
    4.246926715218317,
    -0.11390583806313881,
    0.946296633571001,
)
#: Values per block: the chain runs on blocks of lit time steps of about this many values (time steps x sites), so
#: that its temporaries stay in cache.
BLOCK_ELEMENTS = 1 << 15
#: Accepted ranges of the weather inputs (NaN is never accepted).
_WEATHER_RANGES = {"ghi_w_m2": (0.0, GHI_MAX_W_M2), "temp_air_c": (-90.0, 60.0), "wind_speed_m_s": (0.0, 100.0)}
#: Beyond 87° zenith Erbs-Driesse puts all light into the diffuse part, as pvlib does.
_COS_87_DEG = float(np.cos(np.deg2rad(87.0)))


# ---------------------------------------------------------------------------------------------- validation helpers
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


def _erbs_driesse(ghi: FloatArray, cos_zenith: FloatArray, dni_extra: FloatArray) -> tuple[FloatArray, FloatArray]:
    """DNI and DHI [W/m²] from GHI by Erbs et al. (1982) in the continuous form of Driesse et al. (2024).

    The model and defaults of :func:`pvlib.irradiance.erbs_driesse` (clearness index with cos zenith >= 0.065 and
    kt <= 1; DNI = 0 and DHI = GHI beyond 87° zenith), written on the cosine of the zenith that
    :func:`_plane_geometry` gives: pvlib takes the angle and evaluates its cosine twice. Equal to pvlib to rounding.
    """
    kt = np.clip(ghi / (dni_extra * np.maximum(cos_zenith, 0.065)), 0.0, 1.0)
    diffuse_fraction = np.where(kt > 0.216, np.polyval(ERBS_DRIESSE_POLYNOMIAL, kt), 1.0 - 0.09 * kt)
    dhi = np.where(kt > 0.792, 0.165, diffuse_fraction) * ghi
    with np.errstate(divide="ignore", invalid="ignore"):  # sun on the horizon: set to zero below
        dni = (ghi - dhi) / cos_zenith
    beyond = (cos_zenith < _COS_87_DEG) | (dni < 0.0)
    return np.where(beyond, 0.0, dni), np.where(beyond, ghi, dhi)


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


class _Sky(NamedTuple):
    """Irradiance [W/m²] and the cosine of the incidence angle on the panels, for a block of time steps x sites."""

    dni: FloatArray
    dhi: FloatArray
    poa_direct: FloatArray
    poa_global: FloatArray
    cos_aoi: FloatArray


@dataclass(frozen=True)
class _Plants:
    """Checked inputs of PV plants on a (time x site) grid: weather as ``(T, S)``, site parameters scalar or
    ``(S,)`` (``S = 1`` for one site), the site-independent sun terms per time step, and the lit time steps.

    The chain runs on blocks of lit time steps (GHI > 0 at some site): per-site parameters then broadcast, and the
    temporaries stay in cache. Sites close together share their nights, so few unlit values are computed; those come
    out as exact zeros.
    """

    shape: tuple[int, ...]
    weather: dict[str, FloatArray]
    site: dict[str, FloatArray]
    albedo: float
    day_of_year: FloatArray
    declination_rad: FloatArray
    hour_angle_deg: FloatArray
    lit_rows: NDArray[np.intp]

    def row_blocks(self) -> Iterator[NDArray[np.intp]]:
        """The lit time steps, a block at a time."""
        step = max(1, BLOCK_ELEMENTS // max(1, self.weather["ghi_w_m2"].shape[1]))
        for start in range(0, len(self.lit_rows), step):
            yield self.lit_rows[start : start + step]

    def sky(self, rows: NDArray[np.intp]) -> _Sky:
        """Place the sun mid-period, split GHI (Erbs) and transpose it (Hay-Davies) at time steps ``rows``."""
        site, n_sites = self.site, self.weather["ghi_w_m2"].shape[1]
        cos_zenith, cos_aoi = _plane_geometry(
            self.declination_rad[rows],
            self.hour_angle_deg[rows],
            *(
                np.broadcast_to(site[name], n_sites)
                for name in ("latitude_deg", "longitude_deg", "tilt_deg", "azimuth_deg")
            ),
        )
        ghi = self.weather["ghi_w_m2"][rows]
        dni_extra = np.asarray(irradiance.get_extra_radiation(self.day_of_year[rows]), dtype=float)[:, None]
        dni, dhi = _erbs_driesse(ghi, cos_zenith, dni_extra)
        # beam projection ratio, bounded near the horizon as pvlib bounds it (its issues 432 and 526)
        projection = np.maximum(cos_aoi, 0.0) / np.maximum(cos_zenith, 0.01745)
        sky = irradiance.haydavies(site["tilt_deg"], None, dhi, dni, dni_extra, projection_ratio=projection)
        ground = irradiance.get_ground_diffuse(site["tilt_deg"], ghi, albedo=self.albedo)
        poa_direct = dni * np.maximum(cos_aoi, 0.0)
        return _Sky(dni, dhi, poa_direct, poa_direct + sky + ground, cos_aoi)


def _plants(
    times_utc: pd.DatetimeIndex,
    weather: dict[str, ArrayLike],
    latitude_deg: ArrayLike,
    longitude_deg: ArrayLike,
    tilt_deg: ArrayLike | None,
    azimuth_deg: ArrayLike,
    albedo: float,
    period_s: float | None,
    per_site: dict[str, FloatArray],
) -> _Plants:
    """Check the inputs, bring them onto one (time x site) grid and find the lit time steps."""
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
    grid = (len(times), shape[1] if len(shape) == 2 else 1)
    wx = {name: _broadcast(name, value, shape).reshape(grid) for name, value in weather.items()}
    for name, (lo, hi) in _WEATHER_RANGES.items():
        if name in wx:
            _check_range(name, wx[name], lo, hi)
    # about half of all steps are lit; the rest stays zero
    lit_rows = np.flatnonzero(np.max(wx["ghi_w_m2"], axis=1, initial=0.0) > 0.0)
    return _Plants(shape, wx, site, albedo, *_sun_time_terms(times, step_s), lit_rows)


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
    plants = _plants(
        times_utc, {"ghi_w_m2": ghi_w_m2}, latitude_deg, longitude_deg, tilt_deg, azimuth_deg, albedo, period_s, {}
    )
    grid = plants.weather["ghi_w_m2"].shape
    out = {name: np.zeros(grid) for name in ("dni", "dhi", "poa_direct", "poa_global")}
    for rows in plants.row_blocks():
        sky = plants.sky(rows)
        for name, values in out.items():
            values[rows] = getattr(sky, name)
    return {name: values.reshape(plants.shape) for name, values in out.items()}


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
    plants = _plants(
        times_utc, weather, latitude_deg, longitude_deg, tilt_deg, azimuth_deg, albedo, period_s, {"capacity_dc_w": cap}
    )
    derate = (1.0 - losses / 100.0) * max(0.0, 1.0 - degr / 100.0 * age)
    p = SAPM_OPEN_RACK_GLASS_POLYMER
    out = np.zeros(plants.weather["ghi_w_m2"].shape)
    for rows in plants.row_blocks():
        sky = plants.sky(rows)
        effective = sky.poa_global - (1.0 - _glass_transmittance(sky.cos_aoi)) * sky.poa_direct
        temp_air, wind_speed = plants.weather["temp_air_c"][rows], plants.weather["wind_speed_m_s"][rows]
        temp_cell = temperature.sapm_cell(sky.poa_global, temp_air, wind_speed, p["a"], p["b"], p["deltaT"])
        dc = pvsystem.pvwatts_dc(effective, temp_cell, cap, gamma_pdc_per_k) * derate
        with np.errstate(divide="ignore", invalid="ignore"):  # zero-capacity plants
            ac = inverter.pvwatts(dc, cap / dc_ac_ratio / inverter_efficiency, eta_inv_nom=inverter_efficiency)
        out[rows] = np.nan_to_num(np.asarray(ac, dtype=float))
    return out.reshape(plants.shape)

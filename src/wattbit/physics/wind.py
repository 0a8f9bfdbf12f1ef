"""Wind-farm output through windpowerlib: hub-height wind, a turbine power curve, air density and losses.

Wind speed is moved from the anemometer to hub height by the logarithmic profile (or Hellman's power law), then
through the manufacturer's power curve of a turbine from the OEDB turbine library that ships with windpowerlib
(optionally corrected for air density after Svenningsen 2010), times the (fractional) number of turbines and one
lumped loss factor for wakes, availability and electrical losses (:func:`wind_power_w`).

Parameter status (see docs/models/renewables.md): **V** seen in a primary source or model code, **S** secondary,
**U** an assumption to replace with site data.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from wattbit.errors import WattbitInputError
from wattbit.units import FloatArray
from wattbit.units import check_range as _check_range
from wattbit.units import check_scalar as _check_scalar

try:
    from windpowerlib import data as wpl_data
    from windpowerlib import density as wpl_density
    from windpowerlib import power_output as wpl_power
    from windpowerlib import temperature as wpl_temperature
    from windpowerlib import wind_speed as wpl_wind_speed
    from windpowerlib.wind_turbine import WindTurbine
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError("wattbit.physics.wind needs windpowerlib: pip install windpowerlib") from exc

WindProfile = Literal["logarithmic", "hellman"]

#: Default turbine: Enercon E-126 EP4, 4.2 MW, 127 m rotor (332 W/m²), a 4 MW-class onshore machine.
DEFAULT_TURBINE = "E-126/4200"
#: Standard air density of power curves [kg/m³] (IEC 61400-12-1).
STANDARD_AIR_DENSITY_KG_M3 = 1.225
#: Values per block: long series are evaluated in blocks of rows of about this many values, so that temporaries
#: stay in cache.
BLOCK_ELEMENTS = 1 << 15


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
    steps; here each value starts on its segment of the uncorrected curve, and the few values that the correction
    moves to a neighbouring segment are moved until their shifted segment holds them. Equal to windpowerlib to
    rounding (tested).
    """
    log_ratio = np.log(STANDARD_AIR_DENSITY_KG_M3 / density)
    exponent = np.interp(curve_speed, [7.5, 12.5], [1.0 / 3.0, 2.0 / 3.0])
    last = len(curve_speed) - 1

    def segment(j: NDArray[np.intp], log_ratio: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Shifted start and end speed of segment ``j``."""
        return (
            curve_speed[j] * np.exp(exponent[j] * log_ratio),
            curve_speed[j + 1] * np.exp(exponent[j + 1] * log_ratio),
        )

    def outside(v: FloatArray, j: NDArray[np.intp], lo: FloatArray, hi: FloatArray) -> NDArray[np.bool_]:
        """Where the value lies on another segment (beyond the first and last segment it stays: zero power)."""
        return ((v < lo) & (j > 0)) | ((v >= hi) & (j < last - 1))

    j = np.clip(np.searchsorted(curve_speed, wind_speed, side="right") - 1, 0, last - 1)
    lo, hi = segment(j, log_ratio)
    moving = np.flatnonzero(outside(wind_speed, j, lo, hi))
    for _ in range(last):  # one segment per pass; the correction moves values by one or two segments
        if not moving.size:
            break
        v = wind_speed[moving]
        j_moved = j[moving] + np.where(v < lo[moving], -1, 1)
        lo_moved, hi_moved = segment(j_moved, log_ratio[moving])
        j[moving], lo[moving], hi[moving] = j_moved, lo_moved, hi_moved
        moving = moving[outside(v, j_moved, lo_moved, hi_moved)]
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
    curve = turbine_power_curve(turbine_type)
    if wind_profile not in ("logarithmic", "hellman"):
        raise WattbitInputError(
            f"unknown wind profile {wind_profile!r}; expected 'logarithmic' or 'hellman'", field="wind_profile"
        )
    if (temp_air_c is None) != (pressure_pa is None):
        raise WattbitInputError(
            "give both temp_air_c and pressure_pa for the density correction, or neither",
            field="temp_air_c" if temp_air_c is None else "pressure_pa",
        )
    air: tuple[FloatArray, ...] = ()
    if temp_air_c is not None and pressure_pa is not None:
        air = (
            _check_range("temp_air_c", temp_air_c, -90.0, 60.0),
            _check_range("pressure_pa", pressure_pa, 30_000.0, 110_000.0),
        )
    farm = _Farm(*curve, h_meas, h_hub, wind_profile, hellman_exponent, temperature_height_m, pressure_height_m)
    # long series in blocks of rows, so that the temporaries stay in cache
    inputs = (v, z0, cap, *air)
    shape = np.broadcast_shapes(*(x.shape for x in inputs))
    full = shape or (1,)
    inputs = tuple(x.reshape((1,) * (len(full) - x.ndim) + x.shape) for x in inputs)
    out = np.empty(full)
    rows = max(1, BLOCK_ELEMENTS // max(1, math.prod(full[1:])))
    for start in range(0, full[0], rows):
        block = slice(start, start + rows)
        # rows of the inputs that vary along the first axis; the others broadcast as they are
        out[block] = farm.turbine_w(*(x[block] if x.shape[0] > 1 else x for x in inputs))
    out *= 1.0 - losses / 100.0
    return out.reshape(shape) if shape else out[0]  # a scalar for scalar inputs, as numpy gives


@dataclass(frozen=True)
class _Farm:
    """The checked settings of :func:`wind_power_w`, evaluated on one block of inputs by :meth:`turbine_w`."""

    curve_speed_m_s: FloatArray
    curve_power_w: FloatArray
    rated_w: float
    measurement_height_m: float
    hub_height_m: float
    wind_profile: WindProfile
    hellman_exponent: float | None
    temperature_height_m: float
    pressure_height_m: float

    def turbine_w(self, v: FloatArray, z0: FloatArray, cap: FloatArray, *air: FloatArray) -> FloatArray:
        """Output [W] of ``cap / rated`` turbines before losses, at measured wind ``v`` [m/s] and roughness ``z0``
        [m]; ``air`` is () or (temperature [°C], pressure [Pa]) for the density correction."""
        h_meas, h_hub, speeds = self.measurement_height_m, self.hub_height_m, self.curve_speed_m_s
        if self.wind_profile == "logarithmic":
            v_hub = wpl_wind_speed.logarithmic_profile(v, h_meas, h_hub, z0)
        else:
            v_hub = wpl_wind_speed.hellman(v, h_meas, h_hub, z0, self.hellman_exponent)
        if not air:
            turbine_w = wpl_power.power_curve(v_hub, speeds, self.curve_power_w)
        else:
            temp_c, pressure = air
            temp_hub_k = wpl_temperature.linear_gradient(temp_c + 273.15, self.temperature_height_m, h_hub)
            density = wpl_density.ideal_gas(pressure, self.pressure_height_m, h_hub, temp_hub_k)
            v_hub, density = np.broadcast_arrays(np.asarray(v_hub, dtype=float), np.asarray(density, dtype=float))
            turbine_w = _density_corrected_power_curve(
                v_hub.ravel(), speeds, self.curve_power_w, density.ravel()
            ).reshape(v_hub.shape)
        # the curve's last point is the cut-out speed: stopped at and above it (windpowerlib keeps power *at* it)
        turbine_w = np.where(v_hub >= speeds[-1], 0.0, turbine_w)
        return np.asarray(turbine_w, dtype=float) * (cap / self.rated_w)

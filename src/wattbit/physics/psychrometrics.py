"""Moist-air relations: saturation vapour pressure, dew point and wet-bulb temperature.

Two wet-bulb models are offered:

* :func:`wetbulb_psychrometric_c` solves the psychrometer equation of WMO-No. 8, *Guide to Instruments and Methods
  of Observation* (2018 edition), Vol. I, Annex 4.B, with the WMO saturation vapour pressure over water and its
  pressure enhancement factor. It uses station pressure and is the default wherever pressure is known.
* :func:`wetbulb_stull_c` is the empirical fit of Stull (2011), "Wet-Bulb Temperature from Relative Humidity and
  Air Temperature", J. Appl. Meteor. Climatol. 50, 2267-2269, valid at sea-level pressure for 5-99 % relative
  humidity and -20..50 °C (mean absolute error < 0.3 K). It needs no pressure and no iteration.

Both are vectorised over numpy arrays.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from wattbit.units import check_range

STANDARD_PRESSURE_PA = 101_325.0
TEMP_RANGE_C = (-90.0, 60.0)


def _as_array(x: ArrayLike) -> NDArray[np.float64]:
    return np.asarray(x, dtype=float)


def check_air_state(temp_air_c: ArrayLike, rel_humidity_pct: ArrayLike, pressure_pa: ArrayLike | None = None) -> None:
    """Raise :class:`WattbitInputError` if any value is NaN or outside its physical range.

    Ranges: temperature -90..60 °C, relative humidity 0..100 %, pressure 30,000..110,000 Pa.
    """
    check_range("temp_air_c", temp_air_c, *TEMP_RANGE_C)
    check_range("rel_humidity_pct", rel_humidity_pct, 0.0, 100.0)
    if pressure_pa is not None:
        check_range("pressure_pa", pressure_pa, 30_000.0, 110_000.0)


def saturation_vapour_pressure_pa(temp_c: ArrayLike, pressure_pa: ArrayLike | None = None) -> NDArray[np.float64]:
    """Saturation vapour pressure over liquid water (WMO-No. 8, 2018, Annex 4.B).

    ``e_w = 6.112 exp(17.62 t / (243.12 + t))`` hPa, times the enhancement factor
    ``f(p) = 1.0016 + 3.15e-6 p - 0.074 / p`` (p in hPa) when ``pressure_pa`` is given.

    Parameters
    ----------
    temp_c
        Temperature [°C].
    pressure_pa
        Air pressure [Pa]; omit for pure water vapour (f = 1).

    Returns
    -------
    numpy.ndarray
        Saturation vapour pressure [Pa].
    """
    t = _as_array(temp_c)
    e_hpa = 6.112 * np.exp(17.62 * t / (243.12 + t))
    if pressure_pa is not None:
        p_hpa = _as_array(pressure_pa) / 100.0
        e_hpa = e_hpa * (1.0016 + 3.15e-6 * p_hpa - 0.074 / p_hpa)
    return e_hpa * 100.0


def dewpoint_c(temp_air_c: ArrayLike, rel_humidity_pct: ArrayLike) -> NDArray[np.float64]:
    """Dew-point temperature [°C] from temperature [°C] and relative humidity [%] (inverse of the WMO formula)."""
    e_hpa = _as_array(rel_humidity_pct) / 100.0 * saturation_vapour_pressure_pa(temp_air_c) / 100.0
    ln = np.log(e_hpa / 6.112)
    return 243.12 * ln / (17.62 - ln)


def wetbulb_psychrometric_c(
    temp_air_c: ArrayLike,
    rel_humidity_pct: ArrayLike,
    pressure_pa: ArrayLike = STANDARD_PRESSURE_PA,
    *,
    tolerance_k: float = 1e-5,
) -> NDArray[np.float64]:
    """Thermodynamic (psychrometric) wet-bulb temperature, solving the WMO psychrometer equation.

    Finds ``t_w`` with ``e = e_w'(p, t_w) - A p (t - t_w)`` where ``e = RH/100 * e_w'(p, t)`` and
    ``A = 6.53e-4 (1 + 0.000944 t_w)`` K⁻¹ (WMO-No. 8, 2018, Annex 4.B, Assmann-type psychrometer, wet bulb not
    iced). Solved by Newton's method (3-5 iterations), to ``tolerance_k``.

    Parameters
    ----------
    temp_air_c
        Dry-bulb temperature [°C].
    rel_humidity_pct
        Relative humidity over water [%], 0..100.
    pressure_pa
        Station (not sea-level) pressure [Pa].
    tolerance_k
        Stop when the bracketing interval is narrower than this [K].

    Returns
    -------
    numpy.ndarray
        Wet-bulb temperature [°C].

    Raises
    ------
    WattbitInputError
        If an input is NaN or outside its physical range.
    """
    t, rh, p = np.broadcast_arrays(_as_array(temp_air_c), _as_array(rel_humidity_pct), _as_array(pressure_pa))
    check_air_state(t, rh, p)
    p_hpa = p / 100.0
    es0 = 611.2 * (1.0016 + 3.15e-6 * p_hpa - 0.074 / p_hpa)  # Pa, enhancement factor included
    e = rh / 100.0 * es0 * np.exp(17.62 * t / (243.12 + t))
    # F(x) = e_w'(x) - A(x) p (t - x) - e is increasing and convex in x, so Newton's method converges from any
    # start (after one step it approaches the root from above). The "one-third rule" t - (t - t_dew)/3 starts it
    # within about 1-2 K.
    ln_ratio = np.log(np.maximum(e, 1e-6) / es0)
    t_dew = 243.12 * ln_ratio / (17.62 - ln_ratio)
    x = t - (t - t_dew) / 3.0
    ap = 6.53e-4 * p
    bp = 6.53e-4 * 0.000944 * p
    for _ in range(50):
        u = 243.12 + x
        es = es0 * np.exp(17.62 * x / u)
        d = t - x
        a = ap + bp * x
        step = (es - a * d - e) / (es * (17.62 * 243.12) / (u * u) + a - bp * d)
        x -= step
        if np.max(np.abs(step), initial=0.0) < tolerance_k:
            break
    return x


def wetbulb_stull_c(temp_air_c: ArrayLike, rel_humidity_pct: ArrayLike) -> NDArray[np.float64]:
    """Wet-bulb temperature from Stull (2011), eq. 1, at sea-level pressure.

    Parameters
    ----------
    temp_air_c
        Dry-bulb temperature [°C]; the fit is valid for -20..50 °C.
    rel_humidity_pct
        Relative humidity [%]; the fit is valid for 5..99 %.

    Returns
    -------
    numpy.ndarray
        Wet-bulb temperature [°C].
    """
    t = _as_array(temp_air_c)
    rh = _as_array(rel_humidity_pct)
    check_air_state(t, rh)
    return _stull(t, rh)


def _stull(t: NDArray[np.float64], rh: NDArray[np.float64]) -> NDArray[np.float64]:
    return (
        t * np.arctan(0.151977 * np.sqrt(rh + 8.313659))
        + np.arctan(t + rh)
        - np.arctan(rh - 1.676331)
        + 0.00391838 * rh**1.5 * np.arctan(0.023101 * rh)
        - 4.686035
    )

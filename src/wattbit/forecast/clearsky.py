"""Solar output forecast by clear-sky index: persistence of the recent index, damped to its daily profile.

What a solar engineer starts from before numerical weather prediction: the output a plant would give under a clear
sky is known in advance from the sun's position and a clear-sky atmosphere (:func:`clear_sky_reference`: pvlib's
Ineichen-Perez model at the site, through the plant model :func:`wattbit.physics.pv.pv_power_w`); what is uncertain
is the clear-sky index ``k = output / clear-sky output``. The forecast for a target ``t + h`` is::

    k(t, h) = phi_h * k_recent(t) + (1 - phi_h) * k_day(t, h)      output = k(t, h) * clear(t + h)

* ``k_recent``: the mean index over the last :data:`RECENT_STEPS_H` hours of daylight before the origin (the index
  at night is undefined; after dark the last daylight hours of the day stand in);
* ``k_day``: the mean index at the target's time of day over the last :data:`PROFILE_DAYS` known days (its daily
  profile: geometry the reference leaves out — tilt, shading, a profile from an area series — shows up as a time-of-
  day pattern of ``k``);
* ``phi_h`` in [0, 1]: per lead and site, the least-squares weight of the recent index against the profile over the
  calibration origins (how long clouds persist), as :func:`wattbit.forecast.methods.profile_run` fits its decay.

Prediction intervals are split-conformal, from the same method's signed errors at the calibration origins
(:mod:`wattbit.forecast.conformal`). Night targets (no clear-sky output) are forecast as exactly zero.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from wattbit.errors import WattbitInputError
from wattbit.forecast._checks import as_history, check_finite, check_level
from wattbit.forecast.api import WINDOW_DAYS
from wattbit.forecast.conformal import calibration_origins, error_quantiles, window_rows
from wattbit.forecast.result import Forecast
from wattbit.units import FloatArray, IntArray, check_int

#: Hours of recent daylight averaged into the present clear-sky index (assumption; 1-3 h were alike on japan-2022).
RECENT_STEPS_H = 1.0
#: Days in the daily profile of the clear-sky index (assumption, as the profile method's 7).
PROFILE_DAYS = 7
#: A step is daylight when its clear-sky output exceeds this share of the site's largest (assumption).
DAYLIGHT_SHARE = 0.05
#: Largest clear-sky index kept (cloud enhancement can push it above 1 for minutes, not for an hour's mean).
MAX_INDEX = 1.5
#: Look-back of the method [days]: the profile's days plus one.
LOOKBACK_DAYS = PROFILE_DAYS + 1


def clear_sky_reference(
    times_utc: pd.DatetimeIndex,
    latitude_deg: FloatArray,
    longitude_deg: FloatArray,
    altitude_m: FloatArray | None = None,
) -> FloatArray:
    """AC output per W of DC capacity under a clear sky, (times, sites), for period-beginning ``times_utc``.

    Clear-sky GHI from pvlib's Ineichen-Perez model with the Linke turbidity climatology shipped with pvlib, at the
    middle of each period, through :func:`wattbit.physics.pv.pv_power_w` at 20 C and 1 m/s (default tilt).
    """
    from pvlib.location import Location

    from wattbit.physics.pv import pv_power_w

    lat = np.atleast_1d(np.asarray(latitude_deg, dtype=float))
    lon = np.atleast_1d(np.asarray(longitude_deg, dtype=float))
    alt = np.zeros_like(lat) if altitude_m is None else np.atleast_1d(np.asarray(altitude_m, dtype=float))
    step = (times_utc[1] - times_utc[0]) if len(times_utc) > 1 else pd.Timedelta(hours=1)
    mid = times_utc + step / 2
    ghi = np.column_stack(
        [
            Location(a, b, altitude=c).get_clearsky(mid, model="ineichen")["ghi"].to_numpy()
            for a, b, c in zip(lat, lon, alt, strict=True)
        ]
    )
    out = pv_power_w(times_utc, ghi, 20.0, 1.0, lat, lon, np.ones_like(lat))
    return np.asarray(out, dtype=float).reshape(len(times_utc), len(lat))


def _index(x: FloatArray, clear: FloatArray) -> FloatArray:
    """Clear-sky index (steps, sites); NaN where the reference is below the daylight threshold."""
    day = clear > DAYLIGHT_SHARE * np.maximum(clear.max(axis=0, keepdims=True), 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(day, x / np.where(day, clear, 1.0), np.nan)
    return np.clip(k, 0.0, MAX_INDEX)


def _recent(k: FloatArray, origins: IntArray, recent: int, per_day: int) -> FloatArray:
    """Mean index over the last ``recent`` daylight steps up to each origin (within the last day), (origins, sites)."""
    out = np.full((len(origins), k.shape[1]), np.nan)
    for i, o in enumerate(origins.tolist()):
        past = k[max(0, o - per_day + 1) : o + 1]
        for s in range(k.shape[1]):
            vals = past[:, s][~np.isnan(past[:, s])]
            if vals.size:
                out[i, s] = vals[-recent:].mean()
    return out


def _profile(k: FloatArray, origins: IntArray, leads: IntArray, per_day: int) -> FloatArray:
    """Mean index at each target's time of day over the last known days, (origins, leads, sites)."""
    target = origins[:, None] + leads[None, :]
    first = target - per_day * np.ceil((target - origins[:, None]) / per_day).astype(np.int64)  # latest known day
    rows = first[:, :, None] - per_day * np.arange(PROFILE_DAYS)[None, None, :]
    vals = k[np.clip(rows, 0, None)]  # (origins, leads, days, sites)
    vals[rows < 0] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: no daylight at that time of day
        mean: FloatArray = np.nanmean(vals, axis=2)
    return mean


def _blend(recent: FloatArray, profile: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Fill the gaps of each with the other (1 where both are unknown): the two predictors (origins, leads, sites)."""
    r = np.broadcast_to(recent[:, None, :], profile.shape)
    p = np.where(np.isnan(profile), r, profile)
    r = np.where(np.isnan(r), p, r)
    return np.nan_to_num(r, nan=1.0), np.nan_to_num(p, nan=1.0)


def clear_sky_forecast(
    history: FloatArray,
    clear: FloatArray,
    horizon_steps: int,
    steps_per_day: int,
    *,
    level: float = 0.8,
    window_days: int = WINDOW_DAYS,
) -> Forecast:
    """Forecast solar output by clear-sky index (module docstring), with conformal prediction intervals.

    Parameters
    ----------
    history
        Past output, (steps,) or (steps, sites); the last row is the present.
    clear
        Clear-sky output in the same unit or any multiple of it (it is scaled so that its peak over the rows read
        matches the history's: the clearest hour of the window counts as clear), for every row of ``history`` and the
        ``horizon_steps`` after it: (steps + horizon_steps, sites). Known in advance (sun and atmosphere only).
    horizon_steps, steps_per_day, level, window_days
        As :func:`wattbit.forecast.forecast`.

    Raises
    ------
    WattbitInputError
        For a reference of the wrong shape, NaN in the rows read, a bad horizon or level.
    """
    x_all, one_dim = as_history(history)
    horizon = check_int(horizon_steps, "horizon_steps", 1)
    per_day = check_int(steps_per_day, "steps_per_day", 1)
    level = check_level(level)
    c_all = np.asarray(clear, dtype=float).reshape(-1, x_all.shape[1])
    if c_all.shape[0] != x_all.shape[0] + horizon:
        raise WattbitInputError(
            f"clear-sky reference has {c_all.shape[0]} rows; expected the history's {x_all.shape[0]} plus the "
            f"horizon's {horizon}",
            field="clear",
        )
    rows = min(x_all.shape[0], window_rows(horizon, per_day, LOOKBACK_DAYS * per_day, window_days))
    x, c = x_all[-rows:], c_all[-(rows + horizon) :]
    check_finite(x, x_all.shape[0] - rows)
    # the reference may be per W of capacity: scale it to the history's clearest output in the rows read
    scale = x.max(axis=0) / np.maximum(c[:rows].max(axis=0), 1e-12)
    c = c * np.where(scale > 0, scale, 1.0)
    k = _index(x, c[:rows])
    now = rows - 1
    cal = calibration_origins(now, horizon, per_day, min(LOOKBACK_DAYS * per_day, now), window_days)
    leads = np.arange(1, horizon + 1)
    recent = max(1, round(RECENT_STEPS_H * per_day / 24))
    origins = np.append(cal, now)
    r, p = _blend(_recent(k, origins, recent, per_day), _profile(k, origins, leads, per_day))
    clear_t = c[origins[:, None] + leads[None, :]]  # (origins, leads, sites)
    phi = np.ones((horizon, x.shape[1]))
    if len(cal):
        truth = x[cal[:, None] + leads[None, :]]
        d = (r[:-1] - p[:-1]) * clear_t[:-1]
        e = truth - p[:-1] * clear_t[:-1]
        phi = np.clip((d * e).sum(axis=0) / ((d * d).sum(axis=0) + 1e-12), 0.0, 1.0)
    point_all = (phi[None] * r + (1 - phi[None]) * p) * clear_t
    point = point_all[-1]
    if len(cal):
        errors = np.transpose(x[cal[:, None] + leads[None, :]] - point_all[:-1], (2, 1, 0)).copy()
        low, high = error_quantiles(errors, level)
    else:
        low, high = np.full_like(point, -np.inf), np.full_like(point, np.inf)
    mean, lower, upper = (np.maximum(v, 0.0) for v in (point, point + low, point + high))
    night = clear_t[-1] <= 0.0
    mean, lower, upper = (np.where(night, 0.0, v) for v in (mean, lower, upper))
    if one_dim:
        mean, lower, upper = mean[:, 0], lower[:, 0], upper[:, 0]
    return Forecast(mean=mean, lower=lower, upper=upper, level=level, method="clear_sky", calibration_size=len(cal))

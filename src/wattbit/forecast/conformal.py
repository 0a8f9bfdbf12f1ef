"""Prediction intervals from a method's own past errors (split conformal, per lead time and time of day).

At each call the method is re-run from *calibration origins* in the recent past whose whole horizon has already
been observed; the errors it made there, lead by lead, give the interval now. The calibration origins are at the
same time of day as the present (give or take ``OFFSET_HOURS``, hourly) on each of the last ``window_days`` days
whose horizon is complete, so the errors come from the same part of the daily cycle as the targets (conditioning on
a category of the input, as Mondrian conformal predictors do, Vovk, Gammerman & Shafer 2005). With ``n`` signed
errors at a lead and nominal level ``1 - alpha``, the bounds are the ``floor((n + 1) alpha / 2)``-th smallest and
the ``ceil((n + 1)(1 - alpha / 2))``-th smallest error added to the point forecast, so each tail holds at most
``alpha / 2`` when errors are exchangeable (split conformal regression, Lei, G'Sell, Rinaldo, Tibshirani &
Wasserman 2018, with signed rather than absolute errors, Linusson, Johansson & Löfström 2014). Errors of a time
series are not exchangeable, so the coverage is approximate (Barber, Candès, Ramdas & Tibshirani 2023);
:func:`wattbit.forecast.evaluate` measures it.
"""

from __future__ import annotations

import math

import numpy as np

from wattbit.units import FloatArray, IntArray

OFFSET_HOURS = 1
"""Calibration origins lie within this many hours of the present's time of day (assumption)."""


def _geometry(horizon_steps: int, steps_per_day: int) -> tuple[IntArray, int]:
    """Offsets of the origins around the present's time of day [steps] and the most recent day that is complete."""
    spacing = max(1, steps_per_day // 24)
    offsets = spacing * np.arange(-OFFSET_HOURS, OFFSET_HOURS + 1)
    first_day = -(-(horizon_steps + int(offsets.max())) // steps_per_day)
    return offsets, first_day


def window_rows(horizon_steps: int, steps_per_day: int, lookback: int, window_days: int) -> int:
    """Rows of history at most read by one forecast: the calibration origins' span plus the method's look-back."""
    offsets, first_day = _geometry(horizon_steps, steps_per_day)
    return (first_day + window_days - 1) * steps_per_day - int(offsets.min()) + lookback + 1


def calibration_origins(now: int, horizon_steps: int, steps_per_day: int, lookback: int, window_days: int) -> IntArray:
    """Past origins, oldest first, whose horizon ends at or before ``now`` and that have ``lookback`` rows before them.

    Parameters
    ----------
    now
        Row of the present in the history.
    horizon_steps, steps_per_day
        Forecast horizon and steps per day.
    lookback
        Rows of history the method needs before an origin.
    window_days
        Most days of origins to use.
    """
    offsets, first_day = _geometry(horizon_steps, steps_per_day)
    days = np.arange(first_day + window_days - 1, first_day - 1, -1)
    origins = (now - days[:, None] * steps_per_day + offsets[None, :]).ravel()
    origins = np.unique(origins[(origins >= lookback) & (origins + horizon_steps <= now)])
    return origins.astype(np.int64)


def interval_ranks(n: int, level: float) -> tuple[int | None, int | None]:
    """0-based ranks of the lower and upper bound among ``n`` sorted errors; ``None`` where unbounded."""
    alpha = 1.0 - level
    eps = 1e-9  # 1 - 0.8 is 0.19999999999999996 in binary: do not let rounding move a rank
    low = math.floor((n + 1) * alpha / 2.0 + eps)
    high = math.ceil((n + 1) * (1.0 - alpha / 2.0) - eps)
    return (low - 1 if low >= 1 else None, high - 1 if high <= n else None)


def error_quantiles(errors: FloatArray, level: float) -> tuple[FloatArray, FloatArray]:
    """Lower and upper conformal error bounds (leads, sites) from errors (sites, leads, calibration origins).

    ``errors`` is sorted in place along its last axis.
    """
    n = errors.shape[2]
    shape = errors.shape[1::-1]
    low, high = interval_ranks(n, level)
    ordered = errors
    ordered.sort(axis=2)  # in place: a full sort of short rows beats a two-sided partition here
    lower = ordered[:, :, low].T if low is not None else np.full(shape, -np.inf)
    upper = ordered[:, :, high].T if high is not None else np.full(shape, np.inf)
    return lower, upper

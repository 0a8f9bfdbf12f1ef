"""One call to forecast any signal: :func:`forecast`."""

from __future__ import annotations

from typing import Any

import numpy as np

from wattbit.errors import WattbitInputError
from wattbit.forecast._checks import as_history, check_finite, check_level, check_method
from wattbit.forecast.conformal import calibration_origins, error_quantiles, window_rows
from wattbit.forecast.lags import expand_to_leads, lead_grid
from wattbit.forecast.methods import METHODS
from wattbit.forecast.result import Forecast
from wattbit.units import FloatArray, IntArray, check_int

WINDOW_DAYS = 28
"""Default number of past days whose forecast errors calibrate the intervals and fit the profile method."""
AUTO_CALIBRATION_DAYS = 7
"""``auto`` uses ``profile`` once this many days of calibration origins are available (assumption)."""

METHOD_NAMES: tuple[str, ...] = (*METHODS, "auto")
"""Names accepted by :func:`forecast`."""


def min_history_steps(method: str, horizon_steps: int, steps_per_day: int) -> int:
    """Fewest rows of history ``method`` needs for a point forecast (intervals need more; see :func:`forecast`)."""
    name = check_method(method, list(METHODS))
    return METHODS[name].lookback(horizon_steps, steps_per_day) + 1


def auto_method(history_steps: int, horizon_steps: int, steps_per_day: int) -> str:
    """The method ``auto`` uses with ``history_steps`` rows of history.

    ``profile`` once its look-back and :data:`AUTO_CALIBRATION_DAYS` days of calibration origins are available
    (16 days for a two-day horizon), else ``seasonal_naive`` from one day of history, else ``persistence``.
    """
    lookback = METHODS["profile"].lookback(horizon_steps, steps_per_day)
    if history_steps >= window_rows(horizon_steps, steps_per_day, lookback, AUTO_CALIBRATION_DAYS):
        return "profile"
    if history_steps >= min_history_steps("seasonal_naive", horizon_steps, steps_per_day):
        return "seasonal_naive"
    return "persistence"


def _to_leads(bound: FloatArray, grid: IntArray, leads: IntArray) -> FloatArray:
    """Error bound (grid leads, sites) interpolated to every lead; an unbounded side stays infinite."""
    if not np.isfinite(bound).all():  # too few past errors: the whole side is unbounded
        return np.full((len(leads), bound.shape[1]), bound.flat[0])
    return expand_to_leads(bound.T, grid, leads).T


def forecast(
    history: Any,
    horizon_steps: int,
    steps_per_day: int,
    *,
    method: str = "auto",
    level: float = 0.8,
    nonnegative: bool | None = None,
    window_days: int = WINDOW_DAYS,
) -> Forecast:
    """Forecast the next ``horizon_steps`` steps of a signal from its past, with prediction intervals.

    Reads only the last rows of ``history`` (the method's look-back plus ``window_days`` days, see
    :func:`wattbit.forecast.conformal.window_rows`), so a call costs the same after a day or a year.

    Parameters
    ----------
    history
        Past values, shape (steps,) or (steps, sites); the last row is the present. Regular steps, no gaps.
    horizon_steps
        Number of steps to forecast (lead times 1 .. ``horizon_steps``).
    steps_per_day
        Steps per day of the history (96 at 15 minutes, 24 hourly).
    method
        ``"persistence"``, ``"seasonal_naive"`` (same time of day, one day back), ``"seasonal_naive_weekly"``,
        ``"profile"`` (seasonal profile plus decaying anomaly, :func:`wattbit.forecast.methods.profile_predict`) or
        ``"auto"``: ``profile`` when enough history is there, else a baseline (:func:`auto_method`), so that a
        caller gets a forecast from the first step of a run.
    level
        Nominal coverage of the prediction interval, strictly between 0 and 1.
    nonnegative
        Clip forecasts and bounds at zero. ``None``: when every value of the rows read is >= 0.
    window_days
        Most days of past forecast errors that calibrate the intervals (and fit ``profile``).

    Returns
    -------
    Forecast
        Arrays (horizon, sites), or (horizon,) for a one-dimensional history. The interval is infinite where too few
        past errors exist for the level (early in a run).

    Raises
    ------
    WattbitInputError
        For a history that is not a 1-D or 2-D array of numbers, that has NaN or infinite values in the rows read,
        or that is shorter than the method needs; a non-positive horizon, steps per day or window; a level outside
        (0, 1); an unknown method.
    """
    x_all, one_dim = as_history(history)
    horizon = check_int(horizon_steps, "horizon_steps", 1)
    per_day = check_int(steps_per_day, "steps_per_day", 1)
    level = check_level(level)
    window_days = check_int(window_days, "window_days", 1)
    name = check_method(method, list(METHOD_NAMES))
    steps = x_all.shape[0]
    if name == "auto":
        name = auto_method(steps, horizon, per_day)
    chosen = METHODS[name]
    lookback = chosen.lookback(horizon, per_day)
    if steps < lookback + 1:
        raise WattbitInputError(
            f"method {name!r} needs at least {lookback + 1} steps of history for a {horizon}-step horizon at "
            f"{per_day} steps per day; got {steps} (method='auto' falls back to a baseline on a short history)",
            field="history",
        )
    x = x_all[-window_rows(horizon, per_day, lookback, window_days) :]
    check_finite(x, steps - x.shape[0])
    now = x.shape[0] - 1
    cal = calibration_origins(now, horizon, per_day, lookback, window_days)
    leads = np.arange(1, horizon + 1)
    grid = lead_grid(horizon, per_day)
    point, errors = chosen.run(x, cal, leads, grid, per_day)
    low, high = (_to_leads(q, grid, leads) for q in error_quantiles(errors, level))
    mean, lower, upper = point, point + low, point + high
    if nonnegative if nonnegative is not None else bool((x >= 0).all()):
        mean, lower, upper = np.maximum(mean, 0.0), np.maximum(lower, 0.0), np.maximum(upper, 0.0)
    if one_dim:
        mean, lower, upper = mean[:, 0], lower[:, 0], upper[:, 0]
    return Forecast(mean=mean, lower=lower, upper=upper, level=level, method=name, calibration_size=len(cal))

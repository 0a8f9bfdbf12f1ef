"""Vectorised look-ups of past values at seasonal lags, shared by the forecasting methods.

Two views of the same quantities:

* *at the present*: for each lead ``h`` (steps ahead), a value built only from rows ``<= now`` of the history;
  seasonal lags are rounded up to whole periods so that the lagged step is never after the present (for ``h``
  between one and two days ahead, "same time yesterday" is not known yet and the day before is used);
* *as series*: the same quantity with a fixed number of periods back, for every row of the history, so that the
  forecasts of many past origins can be read off by indexing (``series[:, origin + lead]``) instead of recomputed.

Series are stored transposed, (sites, steps), so that gathering (sites, leads, origins) is contiguous along origins.
"""

from __future__ import annotations

import numpy as np

from wattbit.units import FloatArray, IntArray


def periods_back(leads: IntArray, period_steps: int) -> IntArray:
    """Smallest whole number of periods (at least one) that puts ``now + lead`` back at or before now."""
    return np.maximum(1, -(-leads // period_steps))


def lagged(series_t: FloatArray, lag_steps: int) -> FloatArray:
    """``series_t`` (sites, steps) shifted ``lag_steps`` later; the first ``lag_steps`` columns are zero (unused)."""
    out = np.zeros_like(series_t)
    if lag_steps < series_t.shape[1]:
        out[:, lag_steps:] = series_t[:, : series_t.shape[1] - lag_steps]
    return out


def periodic_cumsum_t(series_t: FloatArray, period_steps: int) -> FloatArray:
    """Running sum over every ``period_steps``-th column: column ``i`` is ``x[i] + x[i - P] + x[i - 2P] + ...``."""
    sites, steps = series_t.shape
    pad = (-steps) % period_steps
    padded = np.concatenate([np.zeros((sites, pad)), series_t], axis=1)
    cum: FloatArray = padded.reshape(sites, -1, period_steps).cumsum(axis=1).reshape(sites, -1)[:, pad:]
    return cum


def seasonal_mean_t(cumsum_t: FloatArray, period_steps: int, first: int, periods: int) -> FloatArray:
    """Series of the mean of ``x[i - k * P]`` for ``k = first .. first + periods - 1``, from a periodic cumsum.

    Columns before ``(first + periods - 1) * P`` are incomplete means and must not be used.
    """
    newest = lagged(cumsum_t, first * period_steps)
    before_oldest = lagged(cumsum_t, (first + periods) * period_steps)
    mean: FloatArray = (newest - before_oldest) / periods
    return mean


def at_targets(series_t: FloatArray, origins: IntArray, leads: IntArray) -> FloatArray:
    """``series_t[:, origin + lead]`` for every lead and origin, shape (sites, leads, origins)."""
    out: FloatArray = series_t[:, leads[:, None] + origins[None, :]]
    return out


def at_targets_by_lead(stack_t: list[FloatArray], which: IntArray, origins: IntArray, leads: IntArray) -> FloatArray:
    """Like :func:`at_targets`, reading lead ``j`` from series ``stack_t[which[j]]``."""
    steps = stack_t[0].shape[1]
    flat = np.concatenate(stack_t, axis=1)
    out: FloatArray = flat[:, which[:, None] * steps + leads[:, None] + origins[None, :]]
    return out


def seasonal_value_now(x: FloatArray, leads: IntArray, period_steps: int) -> FloatArray:
    """``x[now + h - k * P]`` for each lead ``h`` with ``k`` from :func:`periods_back`: (leads, sites).

    With a period of one day this is the seasonal-naive forecast (Hyndman & Athanasopoulos 2021, section 5.2).
    """
    now = x.shape[0] - 1
    out: FloatArray = x[now + leads - periods_back(leads, period_steps) * period_steps]
    return out


def seasonal_mean_now(x: FloatArray, leads: IntArray, period_steps: int, periods: int) -> FloatArray:
    """Mean of the ``periods`` most recent known values at each lead's phase of the season: (leads, sites).

    For lead ``h`` the values ``x[now + h - k * P]``, ``k = k0 .. k0 + periods - 1``, ``k0`` from
    :func:`periods_back`.
    """
    now = x.shape[0] - 1
    k = periods_back(leads, period_steps)[:, None] + np.arange(periods)[None, :]
    out: FloatArray = x[now + leads[:, None] - k * period_steps].mean(axis=1)
    return out


def lead_grid(horizon_steps: int, steps_per_day: int) -> IntArray:
    """Lead times at which errors are computed: every step up to one hour, then hourly, and the last lead.

    Forecast errors change smoothly with lead time beyond the first hour, so the intervals (and the profile
    method's coefficients) are calibrated on this grid and interpolated between its points; at 15-minute steps and a
    48-hour horizon that is 51 leads instead of 192.
    """
    hour = max(1, steps_per_day // 24)
    grid = np.unique(
        np.concatenate([np.arange(1, hour + 1), np.arange(hour, horizon_steps + 1, hour), [horizon_steps]])
    )
    return grid[grid <= horizon_steps].astype(np.int64)


def expand_to_leads(values: FloatArray, grid: IntArray, leads: IntArray) -> FloatArray:
    """Linear interpolation in lead time of ``values`` (..., grid) to (..., leads); ``grid`` sorted, within leads."""
    if len(grid) == len(leads):
        return values
    upper = np.clip(np.searchsorted(grid, leads), 1, len(grid) - 1)
    lower = upper - 1
    frac = (leads - grid[lower]) / (grid[upper] - grid[lower])
    out: FloatArray = values[..., lower] * (1.0 - frac) + values[..., upper] * frac
    return out

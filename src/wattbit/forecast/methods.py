"""The forecasting methods: the two baselines and the seasonal-profile method.

Each method is a :class:`Method`: how many rows of history it needs before an origin (``lookback``) and a ``run``
function that returns, for a history whose last row is the present, the point forecast now (leads, sites) and the
errors it would have made from the calibration origins (sites, leads, origins): truth minus forecast, each forecast
made from rows ``<=`` its origin. A method with parameters fits them on the calibration origins, whose targets are
all in the past (split conformal: the same fitted method is then scored there, see
:mod:`wattbit.forecast.conformal`).

Methods
-------
``persistence``
    The last observed value for every lead ("naive", Hyndman & Athanasopoulos 2021, section 5.2).
``seasonal_naive``
    The value at the same time of day one day earlier (two days earlier beyond a one-day lead) (ibid.).
``seasonal_naive_weekly``
    The same with a one-week season.
``profile``
    wattbit's default, :func:`profile_run`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from wattbit.forecast.lags import (
    at_targets,
    at_targets_by_lead,
    expand_to_leads,
    lagged,
    periodic_cumsum_t,
    periods_back,
    seasonal_mean_now,
    seasonal_mean_t,
    seasonal_value_now,
)
from wattbit.units import FloatArray, IntArray

PROFILE_DAYS = 7
"""Days averaged into the daily profile (assumption: one week mixes weekdays and weekend, and stays recent)."""
WEEK_DAYS = 7
"""Length of the weekly season [days]."""
RIDGE = 1e-9
"""Added to least-squares denominators so that a signal with no variation (all zero) gets a zero coefficient."""

Run = Callable[[FloatArray, IntArray, IntArray, IntArray, int], tuple[FloatArray, FloatArray]]


@dataclass(frozen=True)
class Method:
    """A forecasting method.

    Attributes
    ----------
    name
        Name used in :func:`wattbit.forecast.forecast`.
    lookback
        ``lookback(horizon_steps, steps_per_day)``: rows of history needed before an origin.
    run
        ``run(x, calibration_origins, leads, error_leads, steps_per_day)`` -> (point (leads, sites), errors (sites,
        error_leads, origins)), for a history ``x`` (steps, sites) whose last row is the present; ``error_leads``
        is a sorted subset of ``leads`` (see :func:`wattbit.forecast.lags.lead_grid`).
    """

    name: str
    lookback: Callable[[int, int], int]
    run: Run


def persistence_run(
    x: FloatArray, cal: IntArray, leads: IntArray, grid: IntArray, steps_per_day: int
) -> tuple[FloatArray, FloatArray]:
    """Last value, repeated for every lead."""
    xt = np.ascontiguousarray(x.T)
    errors = at_targets(xt, cal, grid)
    errors -= xt[:, None, cal]
    return np.repeat(x[-1:], len(leads), axis=0), errors


def _seasonal_naive_run(
    x: FloatArray, cal: IntArray, leads: IntArray, grid: IntArray, period_steps: int
) -> tuple[FloatArray, FloatArray]:
    xt = np.ascontiguousarray(x.T)
    k = periods_back(grid, period_steps)
    diffs = [xt - lagged(xt, j * period_steps) for j in range(1, int(k.max()) + 1)]
    return seasonal_value_now(x, leads, period_steps), at_targets_by_lead(diffs, k - 1, cal, grid)


def seasonal_naive_run(
    x: FloatArray, cal: IntArray, leads: IntArray, grid: IntArray, steps_per_day: int
) -> tuple[FloatArray, FloatArray]:
    """Value at the same time of day on the most recent day known now."""
    return _seasonal_naive_run(x, cal, leads, grid, steps_per_day)


def weekly_naive_run(
    x: FloatArray, cal: IntArray, leads: IntArray, grid: IntArray, steps_per_day: int
) -> tuple[FloatArray, FloatArray]:
    """Value at the same time of week on the most recent week known now."""
    return _seasonal_naive_run(x, cal, leads, grid, WEEK_DAYS * steps_per_day)


def _profile_lookback(horizon_steps: int, steps_per_day: int) -> int:
    return max(PROFILE_DAYS, WEEK_DAYS) * steps_per_day


def _slope(target: FloatArray, feature: FloatArray, axis: int | tuple[int, ...]) -> FloatArray:
    """Least-squares slope of ``target`` on ``feature`` through the origin, clipped to [0, 1]."""
    slope = (target * feature).sum(axis=axis) / ((feature * feature).sum(axis=axis) + RIDGE)
    clipped: FloatArray = np.clip(slope, 0.0, 1.0)
    return clipped


def _weekly_weight(xt: FloatArray, daily: FloatArray, weekly: FloatArray, cal: IntArray) -> FloatArray:
    """Per site, weight in [0, 1] of last week's value against the daily profile, fitted one day ahead.

    Least squares of ``x - D`` on ``W - D`` over the steps from the first calibration origin to now (``D``: mean of
    the 7 previous days at that time of day, ``W``: the value one week earlier); all series (sites, steps).
    """
    if len(cal) == 0:
        return np.zeros(xt.shape[0])
    span = slice(int(cal[0]) + 1, None)
    return _slope(xt[:, span] - daily[:, span], weekly[:, span] - daily[:, span], axis=1)


def profile_run(
    x: FloatArray, cal: IntArray, leads: IntArray, grid: IntArray, steps_per_day: int
) -> tuple[FloatArray, FloatArray]:
    """Seasonal baseline plus the present anomaly, decaying with lead time at fitted rates.

    The forecast for lead ``h`` from origin ``t`` is ``B(t, h) + phi_h * a_t + psi_h * (B(t, 0) - B(t, h))``:

    * ``B = (1 - w) * D + w * W`` is the seasonal baseline: ``D`` the mean of the last 7 known days at the
      target's time of day (a daily profile), ``W`` the value at the same time of week one week earlier, and ``w``
      in [0, 1] a per-site weight fitted by least squares one day ahead over the calibration window (0 for a signal
      with no weekly pattern, 1 for one that repeats exactly every week);
    * ``a_t = x[t] - B(t, 0)`` is the anomaly at the origin (averaging it over the last hour was worse on the
      japan-2022 signals);
    * ``phi_h`` in [0, 1] is, per lead and site, the least-squares coefficient of the baseline's error
      ``x[t + h] - B(t, h)`` on ``a_t`` over the calibration origins: how much of the present deviation is still
      there ``h`` steps later (1: the anomaly persists, 0: the profile alone is best);
    * ``psi_h`` in [0, ``phi_h``] is then fitted on what remains against the profile's change ``B(t, 0) - B(t, h)``:
      at ``psi = phi`` the forecast is ``(1 - phi) B(t, h) + phi x[t]``, a blend of the profile and the present
      level, which suits signals whose daily profile is mostly noise (wind).

    The coefficients are fitted at the leads of ``grid`` and interpolated linearly between them. This is anomaly
    persistence damped towards a seasonal profile, a regression on lagged seasonal features in the sense of
    Hyndman & Athanasopoulos (2021), chapter 7, with coefficients per lead time (the "direct" multi-step
    strategy, Ben Taieb, Bontempi, Atiya & Sorjamaa 2012).
    """
    xt = np.ascontiguousarray(x.T)
    week = WEEK_DAYS * steps_per_day
    weight, errors_t, which = _baseline_errors(xt, cal, grid, steps_per_day)
    anomaly = errors_t[0][:, np.append(cal, x.shape[0] - 1)]  # a_t at the calibration origins and now
    past = np.ascontiguousarray(anomaly[:, :-1])
    base_errors = at_targets_by_lead(errors_t, which, cal, grid)  # x[t + h] - B(t, h) (sites, grid leads, cal)
    shift = at_targets(xt, cal, grid)
    np.subtract(shift, base_errors, out=shift)  # B(t, h)
    np.subtract((xt[:, cal] - past)[:, None, :], shift, out=shift)  # B(t, 0) - B(t, h)
    phi, psi, errors = _fit_decay(base_errors, past, shift)
    daily_now = seasonal_mean_now(x, leads, steps_per_day, PROFILE_DAYS)
    base_now = daily_now + weight.T * (seasonal_value_now(x, leads, week) - daily_now)  # B(now, h) (leads, sites)
    phi_now, psi_now = (expand_to_leads(c, grid, leads).T for c in (phi, psi))
    point = base_now + phi_now * anomaly[:, -1] + psi_now * (x[-1] - anomaly[:, -1] - base_now)
    return point, errors


def _baseline_errors(
    xt: FloatArray, cal: IntArray, grid: IntArray, steps_per_day: int
) -> tuple[FloatArray, list[FloatArray], IntArray]:
    """Weekly weight (sites, 1) and the series ``x - B`` (sites, steps) for each lag pair the leads need.

    The first series is the baseline at lead 0 (one day, one week back); ``which[j]`` is the series of
    ``grid[j]``.
    """
    cum = periodic_cumsum_t(xt, steps_per_day)
    week = WEEK_DAYS * steps_per_day
    day_k, week_k = periods_back(grid, steps_per_day).tolist(), periods_back(grid, week).tolist()
    pairs = list(zip(day_k, week_k, strict=True))
    keys = [(1, 1), *sorted(set(pairs) - {(1, 1)})]
    daily = {k: seasonal_mean_t(cum, steps_per_day, k, PROFILE_DAYS) for k in {1, *day_k}}
    weekly = {k: lagged(xt, k * week) for k in {1, *week_k}}
    weight = _weekly_weight(xt, daily[1], weekly[1], cal)[:, None]
    errors_t = [xt - daily[d] - weight * (weekly[w] - daily[d]) for d, w in keys]
    return weight, errors_t, np.array([keys.index(k) for k in pairs])


def _fit_decay(
    base_errors: FloatArray, anomaly: FloatArray, shift: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Fit ``phi`` then ``psi`` (sites, leads) by least squares; return them and the remaining errors.

    ``base_errors`` and ``shift`` are (sites, leads, origins), ``anomaly`` (sites, origins); ``shift`` is
    overwritten.
    """
    # a_t does not depend on the lead, so neither does the denominator of phi
    phi = np.matmul(base_errors, anomaly[:, :, None])[:, :, 0] / ((anomaly * anomaly).sum(axis=1)[:, None] + RIDGE)
    np.clip(phi, 0.0, 1.0, out=phi)
    errors = np.matmul(phi[:, :, None], anomaly[:, None, :])  # outer product per site, then in place (faster)
    np.subtract(base_errors, errors, out=errors)
    psi = np.einsum("sln,sln->sl", errors, shift) / (np.einsum("sln,sln->sl", shift, shift) + RIDGE)
    np.clip(psi, 0.0, phi, out=psi)
    shift *= psi[:, :, None]  # in place: ``shift`` is not needed after this
    errors -= shift
    return phi, psi, errors


METHODS: dict[str, Method] = {
    "persistence": Method("persistence", lambda h, p: 0, persistence_run),
    "seasonal_naive": Method("seasonal_naive", lambda h, p: p - 1, seasonal_naive_run),
    "seasonal_naive_weekly": Method("seasonal_naive_weekly", lambda h, p: WEEK_DAYS * p - 1, weekly_naive_run),
    "profile": Method("profile", _profile_lookback, profile_run),
}
"""The forecasting methods by name."""

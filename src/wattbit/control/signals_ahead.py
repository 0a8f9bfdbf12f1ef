"""The signals a controller plans with: now, then forecasts from the past only (``wattbit.forecast``)."""

from __future__ import annotations

import numpy as np

from wattbit.forecast import auto_method, forecast
from wattbit.units import FloatArray

#: Decay time of the present anomaly in the short-history forecasts [h] (fitted on japan-2022 windows, U): about
#: half a day for signals with a daily cycle (carbon, price, weather), a day and a half for wind.
ANOMALY_DECAY_H = {"daily": 12.0, "level": 36.0}
#: Days of history the ``level`` forecast takes its mean from.
LEVEL_DAYS = 2


def recent_ahead(history: FloatArray, steps: int, steps_per_day: int, how: str) -> FloatArray:
    """Now and ``steps - 1`` forecast steps from the last days only, (steps, sites); for a short history.

    ``how="daily"``: the mean of the known days (at most 7) at each time of day, plus the present departure from
    it decaying with :data:`ANOMALY_DECAY_H`; ``"level"``: the mean of the last :data:`LEVEL_DAYS` days plus the
    present departure from it, decaying (wind: its daily cycle is weak, its level persists for hours).
    """
    x = np.asarray(history, dtype=float)
    per_h = steps_per_day / 24.0
    lead = np.arange(steps)[:, None]
    fade = np.exp(-lead / (ANOMALY_DECAY_H[how] * per_h))
    n_days = min(7, x.shape[0] // steps_per_day)
    if how == "daily" and n_days >= 1:
        profile = x[-n_days * steps_per_day :].reshape(n_days, steps_per_day, -1).mean(axis=0)
        base = profile[(steps_per_day - 1 + lead[:, 0]) % steps_per_day]
        out = base + fade * (x[-1] - profile[-1])[None, :]
    else:
        mean = x[-LEVEL_DAYS * steps_per_day :].mean(axis=0)
        out = mean[None, :] + fade * (x[-1] - mean)[None, :]
    if (x >= 0).all():
        out = np.maximum(out, 0.0)
    out[0] = x[-1]
    return out


def ahead(
    history: FloatArray, steps: int, steps_per_day: int, *, upper: bool = False, short: str | None = None
) -> FloatArray:
    """Now (the last row of ``history``) and ``steps - 1`` forecast steps, shape (steps, sites).

    The forecast method is ``auto`` once the history holds the horizon plus a day (seasonal methods need it), and
    persistence before that, at the start of a run. ``upper`` takes the upper end of the 80 % prediction interval
    where one exists (for capacity that must be held, such as inference). ``short`` (``"daily"`` or ``"level"``,
    :func:`recent_ahead`) replaces the baselines ``auto`` falls back to while the history is too short for its
    ``profile`` method (the first two weeks or so of a run); point forecasts only.
    """
    x = np.asarray(history, dtype=float)
    now = x[-1]
    if steps <= 1:
        return now[None, :]
    if short is not None and not upper and auto_method(x.shape[0], steps - 1, steps_per_day) != "profile":
        return recent_ahead(x, steps, steps_per_day, short)
    method = "auto" if x.shape[0] > steps + steps_per_day else "persistence"
    fc = forecast(x, steps - 1, steps_per_day, method=method)
    rows = fc.upper if upper and fc.has_interval else fc.mean
    return np.vstack([now, rows])

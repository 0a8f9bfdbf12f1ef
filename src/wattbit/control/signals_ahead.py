"""The signals a controller plans with: now, then forecasts from the past only (``wattbit.forecast``)."""

from __future__ import annotations

import numpy as np

from wattbit.forecast import forecast
from wattbit.units import FloatArray


def ahead(history: FloatArray, steps: int, steps_per_day: int, *, upper: bool = False) -> FloatArray:
    """Now (the last row of ``history``) and ``steps - 1`` forecast steps, shape (steps, sites).

    The forecast method is ``auto`` once the history holds the horizon plus a day (seasonal methods need it), and
    persistence before that, at the start of a run. ``upper`` takes the upper end of the 80 % prediction interval
    where one exists (for capacity that must be held, such as inference).
    """
    x = np.asarray(history, dtype=float)
    now = x[-1]
    if steps <= 1:
        return now[None, :]
    method = "auto" if x.shape[0] > steps + steps_per_day else "persistence"
    fc = forecast(x, steps - 1, steps_per_day, method=method)
    rows = fc.upper if upper and fc.has_interval else fc.mean
    return np.vstack([now, rows])

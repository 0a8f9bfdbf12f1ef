"""Rolling-origin backtest of forecasting methods over a whole series: :func:`evaluate`.

From origins every ``origin_every`` steps, each method forecasts the next ``horizon_steps`` steps from the series
*up to and including the origin only* (the series is sliced before the call, so nothing later can leak in) and is
scored against what followed: mean absolute error (MAE), and the share of true values inside the prediction
interval (coverage) and the interval's mean width, per lead time and site ("evaluation on a rolling forecasting
origin", Hyndman & Athanasopoulos 2021, section 5.10).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from wattbit.errors import WattbitInputError
from wattbit.forecast._checks import as_history, check_level, check_method
from wattbit.forecast.api import METHOD_NAMES, WINDOW_DAYS, forecast
from wattbit.forecast.conformal import window_rows
from wattbit.forecast.methods import METHODS
from wattbit.forecast.result import Forecast
from wattbit.units import FloatArray, IntArray, check_int

DEFAULT_METHODS = ("persistence", "seasonal_naive", "profile")
TOLERANCE = 1e-9
"""Relative slack of the coverage test, so that a bound equal to the truth up to rounding counts as covering it."""


@dataclass(frozen=True)
class Backtest:
    """Scores of a rolling-origin backtest; arrays are (methods, leads, sites).

    Attributes
    ----------
    methods, site_names
        Order of the first and last axis.
    steps_per_day, level
        Steps per day of the series; nominal coverage of the intervals.
    origins
        Rows of the series the forecasts were made at.
    mae
        Mean absolute error of the point forecast, in the unit of the series.
    coverage
        Share of true values within ``[lower, upper]``.
    width
        Mean of ``upper - lower`` (infinite if any interval was).
    """

    methods: tuple[str, ...]
    site_names: tuple[str, ...]
    steps_per_day: int
    level: float
    origins: IntArray
    mae: FloatArray
    coverage: FloatArray
    width: FloatArray

    def at_leads(self, leads_h: Sequence[float] = (1, 6, 24)) -> pd.DataFrame:
        """Scores at the given lead times [h] (those within the horizon), per method and site.

        Returns
        -------
        pandas.DataFrame
            Columns ``method``, ``site``, ``lead_h``, ``mae``, ``coverage``, ``width``.
        """
        rows = []
        for lead_h in leads_h:
            step = round(lead_h * self.steps_per_day / 24)
            if not 1 <= step <= self.mae.shape[1]:
                continue
            for i, method in enumerate(self.methods):
                for j, site in enumerate(self.site_names):
                    score = (self.mae[i, step - 1, j], self.coverage[i, step - 1, j], self.width[i, step - 1, j])
                    rows.append(
                        dict(
                            zip(
                                ("method", "site", "lead_h", "mae", "coverage", "width"),
                                (method, site, lead_h, *score),
                                strict=True,
                            )
                        )
                    )
        return pd.DataFrame(rows)

    def table(self, edges_h: Sequence[float] = (0, 1, 6, 24, 48)) -> pd.DataFrame:
        """Scores averaged over lead-time buckets ``(edges_h[i], edges_h[i + 1]]`` [h], per method and site.

        Buckets that start beyond the horizon are left out; the last one is cut at the horizon.

        Returns
        -------
        pandas.DataFrame
            Columns ``method``, ``site``, ``leads_h`` (label ``"1-6"``), ``mae``, ``coverage``, ``width`` and, when
            seasonal naive was evaluated, ``mae_vs_seasonal_naive`` (MAE divided by seasonal naive's).
        """
        lead_h = np.arange(1, self.mae.shape[1] + 1) * 24.0 / self.steps_per_day
        rows = []
        for lo, hi in zip(edges_h[:-1], edges_h[1:], strict=False):
            sel = (lead_h > lo) & (lead_h <= hi + 1e-9)
            if not sel.any():
                continue
            for i, method in enumerate(self.methods):
                for j, site in enumerate(self.site_names):
                    rows.append(
                        {
                            "method": method,
                            "site": site,
                            "leads_h": f"{lo:g}-{hi:g}",
                            "mae": self.mae[i, sel, j].mean(),
                            "coverage": self.coverage[i, sel, j].mean(),
                            "width": self.width[i, sel, j].mean(),
                        }
                    )
        table = pd.DataFrame(rows)
        if "seasonal_naive" in self.methods and len(table):
            ref = table[table["method"] == "seasonal_naive"].set_index(["site", "leads_h"])["mae"]
            keys = pd.MultiIndex.from_frame(table[["site", "leads_h"]])
            table["mae_vs_seasonal_naive"] = table["mae"].to_numpy() / ref.reindex(keys).to_numpy()
        return table


def rolling_forecasts(
    x: FloatArray,
    origins: IntArray,
    horizon_steps: int,
    steps_per_day: int,
    methods: Sequence[str],
    *,
    level: float = 0.8,
    nonnegative: bool | None = None,
) -> Iterator[tuple[int, str, Forecast]]:
    """Forecasts of each method from each origin, made from ``x[: origin + 1]`` only.

    Yields
    ------
    origin, method, forecast
    """
    for t in origins:
        past = x[: int(t) + 1]  # the slice is the guarantee: nothing after the origin is passed on
        for method in methods:
            yield (
                int(t),
                method,
                forecast(past, horizon_steps, steps_per_day, method=method, level=level, nonnegative=nonnegative),
            )


def _origins(steps: int, horizon: int, per_day: int, every: int, start: int | None, methods: Sequence[str]) -> IntArray:
    if start is not None and (isinstance(start, bool) or not isinstance(start, int | np.integer) or start < 0):
        raise WattbitInputError(f"start must be a step index >= 0; got {start!r}", field="start")
    if start is None:
        start = max(window_rows(horizon, per_day, METHODS[m].lookback(horizon, per_day), WINDOW_DAYS) for m in methods)
        start -= 1
    last = steps - 1 - horizon
    if start > last:
        raise WattbitInputError(
            f"series of {steps} steps is too short to backtest a {horizon}-step horizon from step {start}; "
            f"it needs at least {start + horizon + 1} steps",
            field="series",
        )
    return np.arange(start, last + 1, every, dtype=np.int64)


def evaluate(
    series: Any,
    horizon_steps: int,
    steps_per_day: int,
    *,
    methods: Sequence[str] = DEFAULT_METHODS,
    origin_every: int | None = None,
    start: int | None = None,
    level: float = 0.8,
    nonnegative: bool | None = None,
    site_names: Sequence[str] | None = None,
) -> Backtest:
    """Backtest forecasting methods from rolling origins over ``series``.

    Parameters
    ----------
    series
        The whole signal, shape (steps,) or (steps, sites), regular steps, no gaps.
    horizon_steps, steps_per_day
        Forecast horizon [steps] and steps per day.
    methods
        Methods of :func:`wattbit.forecast.forecast` to compare (``auto`` is not accepted here: compare the methods
        it chooses between on the same origins).
    origin_every
        Steps between forecast origins; default: every 5 hours, so that the origins go round all hours of the day.
    start
        First origin; default: the first step at which every method has its full look-back and calibration
        window, so that all methods are scored on the same origins.
    level, nonnegative
        As in :func:`wattbit.forecast.forecast`.
    site_names
        Names for the columns of ``series``; default ``"0"``, ``"1"``, ...

    Returns
    -------
    Backtest

    Raises
    ------
    WattbitInputError
        For a series too short for one origin, an unknown method, bad step counts or level, or site names that do
        not match the columns.
    """
    x, _ = as_history(series, "series")
    horizon = check_int(horizon_steps, "horizon_steps", 1)
    per_day = check_int(steps_per_day, "steps_per_day", 1)
    level = check_level(level)
    names = tuple(check_method(m, [n for n in METHOD_NAMES if n != "auto"]) for m in methods)
    every = check_int(origin_every if origin_every is not None else 5 * max(1, per_day // 24), "origin_every", 1)
    if site_names is None:
        site_names = [str(j) for j in range(x.shape[1])]
    if len(site_names) != x.shape[1]:
        raise WattbitInputError(
            f"{len(site_names)} site names for {x.shape[1]} columns of the series", field="site_names"
        )
    origins = _origins(x.shape[0], horizon, per_day, every, start, names)
    shape = (len(names), horizon, x.shape[1])
    abs_err, inside, width = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    index = {m: i for i, m in enumerate(names)}
    for t, method, f in rolling_forecasts(x, origins, horizon, per_day, names, level=level, nonnegative=nonnegative):
        i = index[method]
        truth = x[t + 1 : t + 1 + horizon]
        abs_err[i] += np.abs(truth - f.mean)
        slack = TOLERANCE * np.maximum(1.0, np.abs(truth))  # rounding of exactly repeating signals
        inside[i] += (truth >= f.lower - slack) & (truth <= f.upper + slack)
        width[i] += f.upper - f.lower
    n = len(origins)
    return Backtest(names, tuple(site_names), per_day, level, origins, abs_err / n, inside / n, width / n)

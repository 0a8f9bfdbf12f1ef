"""Causal forecasts of a site's signals with prediction intervals.

:func:`forecast` turns the past of a signal — carbon intensity, price, curtailment, on-site renewable output,
inference demand — as a plain array (steps, sites) into a :class:`Forecast` of the next steps with a prediction
interval, reading only the past and a bounded window of it. :func:`evaluate` backtests methods over a whole series
from rolling origins. Methods, intervals and measured accuracy: docs/forecast.md.
"""

from wattbit.forecast.api import METHOD_NAMES, auto_method, forecast, min_history_steps
from wattbit.forecast.backtest import Backtest, evaluate, rolling_forecasts
from wattbit.forecast.result import Forecast

__all__ = [
    "METHOD_NAMES",
    "Backtest",
    "Forecast",
    "auto_method",
    "evaluate",
    "forecast",
    "min_history_steps",
    "rolling_forecasts",
]

"""The result of a forecast: a point forecast and a prediction interval per lead time and site."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wattbit.units import FloatArray


@dataclass(frozen=True)
class Forecast:
    """Forecast of a signal for the ``horizon`` steps after the last row of its history.

    Row ``i`` of every array is the step ``i + 1`` steps after the last observed one (lead ``i + 1``). Arrays are
    (horizon, sites), or (horizon,) when the history was one-dimensional; they are in the unit of the history.

    Attributes
    ----------
    mean
        Point forecast (least-squares fit for ``profile``; the naive value for the baselines).
    lower, upper
        Prediction interval: the method's own past errors at each lead time put the truth inside with probability
        about ``level`` (split conformal). ``-inf``/``+inf`` where too few past errors were available to bound it.
        Built from signed errors, it need not contain ``mean``: a method whose past errors at a lead were all
        positive gets an interval above its point forecast.
    level
        Nominal coverage of ``[lower, upper]`` (0.8 = 80 %).
    method
        The method that made the forecast (``auto`` names the one it chose).
    calibration_size
        Number of past forecast errors per lead time that calibrated the interval (0: no interval).
    """

    mean: FloatArray
    lower: FloatArray
    upper: FloatArray
    level: float
    method: str
    calibration_size: int

    @property
    def horizon_steps(self) -> int:
        """Number of lead times."""
        return int(self.mean.shape[0])

    @property
    def has_interval(self) -> bool:
        """Whether the interval is finite at every lead and site."""
        return bool(np.isfinite(self.lower).all() and np.isfinite(self.upper).all())

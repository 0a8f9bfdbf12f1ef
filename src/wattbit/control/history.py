"""The signals before a run starts: what a controller in service has already seen when a run begins mid-year.

A simulation of a window (``wattbit bench --start``) starts its observations at the window's first step, so a
forecaster that needs two weeks of history (``wattbit.forecast``'s ``profile`` method) would spend most of a
two-week window on yesterday's values. A controller that has been running has those weeks. :func:`signals_before`
builds them from the same scenario data over the days before the period (observed values only, never the period
itself or anything after it); :class:`~wattbit.control.mpc.MPCPolicy` puts them in front of its observations
when it forecasts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from wattbit.errors import WattbitInputError
from wattbit.scenario import Period, Scenario
from wattbit.units import FloatArray

#: Days of observed signals before a run's first step that ``wattbit bench``, ``wattbit simulate`` and the demo give
#: ``mpc`` (two weeks of look-back plus two of calibration for the ``profile`` forecast), clipped to the data.
HISTORY_DAYS = 28.0

#: The observation fields a history holds, (steps, sites) each.
HISTORY_FIELDS = (
    "carbon_g_per_kwh",
    "price_jpy_per_mwh",
    "curtailed_mwh",
    "temp_db_c",
    "temp_wb_c",
    "pv_w",
    "wind_w",
    "inference_gpus_needed",
    "inference_full_gpus",
)


@dataclass(frozen=True)
class SignalHistory:
    """Observed signals of the steps before a run's first step.

    Attributes
    ----------
    signals
        Observation field name (:data:`HISTORY_FIELDS`) -> values of the steps before the run, (steps, sites); the
        last row is the step just before the run's first.
    steps
        Number of steps it holds.
    """

    signals: dict[str, FloatArray]
    steps: int

    def before(self, name: str, observed: FloatArray) -> FloatArray:
        """``observed`` (a run's past, from its first step) with this history in front of it."""
        early = self.signals.get(name)
        if early is None or self.steps == 0:
            return np.asarray(observed, dtype=float)
        return np.concatenate([early, np.asarray(observed, dtype=float)])


def signals_before(scenario: Scenario, days: float, earliest: datetime | None = None) -> SignalHistory:
    """The scenario's signals over the ``days`` before its period starts (from ``earliest`` at the soonest).

    Parameters
    ----------
    scenario
        The run's scenario; its data sources must cover the days asked for.
    days
        Days of history wanted (0: none).
    earliest
        The first time the data cover (for a scenario cut out of a longer one with
        :func:`wattbit.scenario.model.with_period`: the longer one's start); None: ``days`` before the start.

    Returns
    -------
    SignalHistory
        Empty when no whole step lies between ``earliest`` and the start.

    Raises
    ------
    WattbitInputError
        When the data do not cover the days asked for (the message names the site and the first missing time).
    """
    if days < 0:
        raise WattbitInputError(f"history of {days} days (expected >= 0)", field="history_days")
    from wattbit.sim.fleet import build_fleet
    from wattbit.sim.run import inference_gpus_by_site

    p = scenario.period
    first = p.start - timedelta(days=days)
    if earliest is not None:
        first = max(first, earliest)
    step = timedelta(hours=_step_h(p))
    n = int((p.start - first) / step)
    if n <= 0:
        return SignalHistory({}, 0)
    period = Period(start=p.start - n * step, end=p.start, step=p.step, timezone=p.timezone)
    early = scenario.model_copy(update={"period": period})
    fleet = build_fleet(early)
    needed, full = inference_gpus_by_site(early, fleet)
    signals = {name: np.asarray(getattr(fleet, name), dtype=float) for name in HISTORY_FIELDS[:7]}
    signals["inference_gpus_needed"], signals["inference_full_gpus"] = needed, full
    return SignalHistory(signals, fleet.steps)


def window_history(whole: Scenario, window: Scenario, days: float = HISTORY_DAYS) -> SignalHistory | None:
    """The history a controller in service has at the start of ``window``, a sub-period of ``whole``.

    The signals of the ``days`` before the window's first step that lie inside ``whole``'s period (whose data the
    scenario covers); None when the window starts with ``whole`` (nothing before it).
    """
    history = signals_before(window, days, whole.period.start)
    return history if history.steps > 0 else None


def _step_h(period: Period) -> float:
    import pandas as pd

    return float(pd.Timedelta(period.step) / pd.Timedelta("1h"))

"""The signals before a window: the longer run's own past, never the window, and what mpc forecasts from."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.sim.test_engine import NO_FAULTS, T0, _scenario
from wattbit.control import make_policy
from wattbit.control.history import HISTORY_FIELDS, signals_before
from wattbit.errors import WattbitInputError
from wattbit.scenario.model import with_period
from wattbit.sim.fleet import build_fleet
from wattbit.sim.run import make_engine, prepare


def test_history_is_the_longer_runs_past_up_to_the_window() -> None:
    whole = _scenario(days=3)
    fleet = build_fleet(whole)
    window = with_period(whole, (T0 + pd.Timedelta(days=2)).isoformat())  # the third day
    history = signals_before(window, 5, earliest=whole.period.start)  # clipped to the two days the data cover
    assert history.steps == 48
    assert set(history.signals) == set(HISTORY_FIELDS)
    for name in ("carbon_g_per_kwh", "price_jpy_per_mwh", "wind_w", "pv_w", "temp_wb_c"):
        np.testing.assert_array_equal(history.signals[name], getattr(fleet, name)[:48], err_msg=name)
    assert signals_before(window, 0).steps == 0
    with pytest.raises(WattbitInputError, match="history of -1"):
        signals_before(window, -1)


def test_mpc_forecasts_from_the_history_in_front_of_its_observations() -> None:
    whole = _scenario(days=3)
    window = with_period(whole, (T0 + pd.Timedelta(days=2)).isoformat())
    inputs = prepare(window, failure_rates=NO_FAULTS)
    history = signals_before(window, 2, earliest=whole.period.start)
    policy = make_policy("mpc", inputs, history=history)
    engine = make_engine(inputs, policy)
    obs = engine.observe()
    past = policy._past(obs, "carbon_g_per_kwh")  # type: ignore[attr-defined]
    assert past.shape[0] == history.steps + 1
    np.testing.assert_array_equal(past[:-1], history.signals["carbon_g_per_kwh"])
    np.testing.assert_array_equal(past[-1], obs.carbon_g_per_kwh[-1])
    with_past, _ = policy.plan_inputs(obs)  # type: ignore[attr-defined]
    without, _ = make_policy("mpc", inputs).plan_inputs(obs)  # type: ignore[attr-defined]
    np.testing.assert_array_equal(with_past.carbon_g_per_kwh[0], without.carbon_g_per_kwh[0])  # now is now
    assert not np.allclose(with_past.carbon_g_per_kwh[1:], without.carbon_g_per_kwh[1:])  # the rest is forecast

"""Persistence and seasonal-naive forecasts against hand-computed values, and their intervals."""

from __future__ import annotations

import numpy as np
import pytest

from wattbit.forecast import forecast
from wattbit.forecast.conformal import interval_ranks


def test_persistence_repeats_last_value() -> None:
    history = np.array([[3.0, 10.0], [5.0, 7.0], [4.0, 9.0]])
    f = forecast(history, 3, 4, method="persistence")
    np.testing.assert_array_equal(f.mean, [[4.0, 9.0]] * 3)
    assert f.method == "persistence"


def test_seasonal_naive_hand_values() -> None:
    # 4 steps per day, history 0..11 (three days); the last row (11) is now.
    # lead 1 -> step 12 - 4 = 8; lead 4 -> step 15 - 4 = 11; lead 5 -> step 16 is not known a day back
    # (step 12 is after now), so two days back: 16 - 8 = 8.
    f = forecast(np.arange(12.0), 6, 4, method="seasonal_naive")
    np.testing.assert_array_equal(f.mean, [8.0, 9.0, 10.0, 11.0, 8.0, 9.0])
    assert f.mean.shape == (6,)  # a 1-D history gives 1-D arrays


def test_weekly_seasonal_naive_hand_values() -> None:
    # one step per day: lead 1 from step 9 -> step 10 - 7 = 3
    f = forecast(np.arange(10.0), 3, 1, method="seasonal_naive_weekly")
    np.testing.assert_array_equal(f.mean, [3.0, 4.0, 5.0])


def test_intervals_on_a_trend_are_the_exact_errors() -> None:
    # x = 2 t, hourly: persistence is always short by 2 h per lead, seasonal naive by 48 per day back.
    x = 2.0 * np.arange(24 * 40)
    p = forecast(x, 30, 24, method="persistence")
    leads = np.arange(1, 31)
    np.testing.assert_allclose(p.lower, x[-1] + 2.0 * leads)
    np.testing.assert_allclose(p.upper, x[-1] + 2.0 * leads)
    s = forecast(x, 30, 24, method="seasonal_naive")
    days_back = np.where(leads <= 24, 1, 2)
    np.testing.assert_allclose(s.mean, x[-1] + 2.0 * leads - 48.0 * days_back)
    np.testing.assert_allclose(s.upper, x[-1] + 2.0 * leads)  # mean + the error it always makes
    assert p.calibration_size == s.calibration_size == 3 * 28  # +-1 h hourly on 28 days


def test_calibration_errors_are_those_of_past_forecasts() -> None:
    """The errors behind the interval equal what the method forecast from each past origin (no misindexing)."""
    from wattbit.forecast.conformal import calibration_origins
    from wattbit.forecast.lags import lead_grid
    from wattbit.forecast.methods import METHODS

    rng = np.random.default_rng(3)
    x = rng.normal(size=(24 * 20, 2)).cumsum(axis=0)
    leads = np.arange(1, 37)
    grid = lead_grid(36, 24)
    for name in ("persistence", "seasonal_naive", "seasonal_naive_weekly"):
        method = METHODS[name]
        cal = calibration_origins(len(x) - 1, 36, 24, method.lookback(36, 24), 10)
        _, errors = method.run(x, cal, leads, grid, 24)
        for j in (0, len(cal) // 2, len(cal) - 1):
            o = int(cal[j])
            past_point, _ = method.run(x[: o + 1], cal[:0], leads, grid, 24)
            expected = x[o + grid] - past_point[grid - 1]
            np.testing.assert_allclose(errors[:, :, j].T, expected, err_msg=name)


@pytest.mark.parametrize(
    ("n", "level", "expected"),
    [(9, 0.8, (0, 8)), (19, 0.9, (0, 18)), (8, 0.8, (None, None)), (140, 0.8, (13, 126)), (0, 0.5, (None, None))],
)
def test_interval_ranks(n: int, level: float, expected: tuple[int | None, int | None]) -> None:
    # lower rank floor((n + 1) alpha / 2), upper ceil((n + 1)(1 - alpha / 2)), 1-based, as 0-based indices
    assert interval_ranks(n, level) == expected

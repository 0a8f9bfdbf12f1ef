"""The profile method: accuracy against seasonal naive, exact weekly signals, look-back and fallbacks."""

from __future__ import annotations

import numpy as np

from wattbit.forecast import auto_method, evaluate, forecast
from wattbit.forecast.conformal import window_rows
from wattbit.forecast.lags import periodic_cumsum_t, seasonal_mean_now, seasonal_mean_t
from wattbit.forecast.methods import METHODS

PER_DAY = 24


def daily_signal(days: int, noise: float, seed: int = 0) -> np.ndarray:
    """10 + 5 sin(2 pi t / day) plus independent Gaussian noise of standard deviation ``noise``."""
    t = np.arange(days * PER_DAY)
    rng = np.random.default_rng(seed)
    return 10.0 + 5.0 * np.sin(2 * np.pi * t / PER_DAY) + rng.normal(0.0, noise, size=len(t))


def test_beats_seasonal_naive_on_periodic_plus_noise() -> None:
    # with iid noise s, seasonal naive errs by the difference of two noises (sd s*sqrt(2)); the 7-day profile by
    # about s*sqrt(1 + 1/7): an MAE ratio near 0.76
    bt = evaluate(daily_signal(75, 1.0), 24, PER_DAY, methods=("seasonal_naive", "profile"), origin_every=7)
    ratio = bt.mae[1].mean() / bt.mae[0].mean()
    assert 0.65 < ratio < 0.85
    assert np.isfinite(bt.mae).all()
    np.testing.assert_allclose(bt.mae[0].mean(), np.sqrt(2) * np.sqrt(2 / np.pi), rtol=0.1)  # E|N(0, 2)|


def test_exact_weekly_signal_is_forecast_exactly() -> None:
    # a weekly shape (weekend lower) that a daily profile cannot follow: the fitted weekly weight goes to 1
    t = np.arange(40 * PER_DAY)
    weekday = (t // PER_DAY) % 7
    x = 50.0 + 20.0 * np.sin(2 * np.pi * t / PER_DAY) - 15.0 * (weekday >= 5)
    now = 35 * PER_DAY + 7
    f = forecast(x[: now + 1], 48, PER_DAY, method="profile")
    np.testing.assert_allclose(f.mean, x[now + 1 : now + 49], atol=1e-9)
    np.testing.assert_allclose(f.upper - f.lower, 0.0, atol=1e-9)


def test_series_and_present_profiles_agree() -> None:
    """The profile read off the series (used for past origins) equals the one computed at the present."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(24 * 12, 2))
    cum = periodic_cumsum_t(np.ascontiguousarray(x.T), PER_DAY)
    leads = np.arange(1, 49)
    for origin in (8 * 24 + 5, 9 * 24 + 10):
        now = seasonal_mean_now(x[: origin + 1], leads, PER_DAY, 7)
        for k in (1, 2):
            series = seasonal_mean_t(cum, PER_DAY, k, 7)
            sel = np.where(leads <= 24, 1, 2) == k
            np.testing.assert_allclose(series[:, origin + leads[sel]].T, now[sel])


def test_look_back_is_bounded() -> None:
    """A year of history gives the same forecast as its last window: the cost does not grow with the history."""
    x = daily_signal(365, 1.0, seed=2)
    rows = window_rows(48, PER_DAY, METHODS["profile"].lookback(48, PER_DAY), 28)
    full = forecast(x, 48, PER_DAY, method="profile")
    tail = forecast(x[-rows:], 48, PER_DAY, method="profile")
    np.testing.assert_array_equal(full.mean, tail.mean)
    np.testing.assert_array_equal(full.upper, tail.upper)
    assert rows < 40 * PER_DAY


def test_auto_falls_back_on_short_history() -> None:
    x = daily_signal(30, 1.0)
    first = forecast(x[:1], 48, PER_DAY)  # the first step of a run
    assert first.method == "persistence"
    np.testing.assert_array_equal(first.mean, np.full(48, x[0]))
    assert first.calibration_size == 0 and not first.has_interval
    assert np.all(first.lower == 0.0) and np.all(np.isinf(first.upper))  # a non-negative signal: lower bound 0
    assert forecast(x[: PER_DAY - 1], 48, PER_DAY).method == "persistence"
    assert forecast(x[: 3 * PER_DAY], 48, PER_DAY).method == "seasonal_naive"
    assert forecast(x, 48, PER_DAY).method == "profile"
    # profile from the first step with its look-back and a week of calibration origins
    switch = next(n for n in range(1, len(x)) if auto_method(n, 48, PER_DAY) == "profile")
    assert forecast(x[:switch], 48, PER_DAY).method == "profile"
    assert forecast(x[: switch - 1], 48, PER_DAY).method == "seasonal_naive"
    assert 16 * PER_DAY < switch < 18 * PER_DAY


def test_read_only_history_is_accepted_and_left_unchanged() -> None:
    # the engine hands policies read-only views of the past
    x = np.stack([daily_signal(40, 1.0, seed=s) for s in range(3)], axis=1)
    before = x.copy()
    x.flags.writeable = False
    for method in METHODS:
        forecast(x, 48, PER_DAY, method=method)
    np.testing.assert_array_equal(x, before)


def test_start_of_run_at_15_minutes_has_no_gaps_in_the_forecast() -> None:
    # 15-minute steps: bounds are interpolated between hourly leads, an unbounded side must stay infinite, not NaN
    x = np.repeat(daily_signal(20, 1.0), 4)
    for steps in (1, 2, 50, 96, 97, 300, 20 * 96):
        f = forecast(x[:steps], 192, 96)
        assert not np.isnan(f.mean).any() and not np.isnan(f.lower).any() and not np.isnan(f.upper).any(), steps
        assert np.all(f.lower <= f.mean) and np.all(f.mean <= f.upper), steps

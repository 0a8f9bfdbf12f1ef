"""Rolling-origin backtests are causal, and their scores are what the forecasts give."""

from __future__ import annotations

import numpy as np
import pytest

import wattbit.forecast.backtest as backtest
from wattbit.errors import WattbitInputError
from wattbit.forecast import evaluate, forecast, rolling_forecasts

PER_DAY = 24


def series(days: int = 45, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(days * PER_DAY)
    return 20.0 + 4.0 * np.cos(2 * np.pi * t / PER_DAY)[:, None] + rng.normal(0, 1, size=(len(t), 2)).cumsum(axis=0)


def test_changing_the_future_does_not_change_earlier_forecasts() -> None:
    x = series()
    cut = 40 * PER_DAY
    changed = x.copy()
    changed[cut + 1 :] = 1e6  # everything after the cut
    origins = np.arange(36 * PER_DAY, 44 * PER_DAY, 7)
    methods = ("persistence", "seasonal_naive", "profile")
    a = list(rolling_forecasts(x, origins, 24, PER_DAY, methods))
    b = list(rolling_forecasts(changed, origins, 24, PER_DAY, methods))
    for (t, m, fa), (_, _, fb) in zip(a, b, strict=True):
        same = np.array_equal(fa.mean, fb.mean) and np.array_equal(fa.upper, fb.upper)
        assert same == (t <= cut), (t, m)  # unchanged up to the cut, changed after (the test can fail)


def test_scores_are_those_of_the_forecasts(monkeypatch: pytest.MonkeyPatch) -> None:
    x = series(40, seed=1)
    seen: list[int] = []
    real = backtest.forecast

    def spy(history, *args, **kwargs):
        seen.append(len(history))
        return real(history, *args, **kwargs)

    monkeypatch.setattr(backtest, "forecast", spy)
    bt = evaluate(x, 12, PER_DAY, methods=("persistence", "profile"), origin_every=11, site_names=["a", "b"])
    assert seen == [t + 1 for t in bt.origins for _ in range(2)]  # each call saw the origin and its past only
    err = np.mean(
        [np.abs(x[t + 1 : t + 13] - forecast(x[: t + 1], 12, PER_DAY, method="profile").mean) for t in bt.origins],
        axis=0,
    )
    np.testing.assert_allclose(bt.mae[1], err)
    table = bt.table(edges_h=(0, 1, 6, 12))
    assert set(table["leads_h"]) == {"0-1", "1-6", "6-12"} and set(table["site"]) == {"a", "b"}
    assert not table[["mae", "coverage", "width"]].isna().any().any()


def test_default_start_gives_every_method_its_full_window() -> None:
    bt = evaluate(series(), 24, PER_DAY, methods=("persistence", "profile"))
    assert bt.origins[0] > 30 * PER_DAY
    assert np.all(np.diff(bt.origins) == 5)  # every 5 hours by default


def test_too_short_series_is_refused() -> None:
    with pytest.raises(WattbitInputError, match="too short to backtest a 24-step horizon"):
        evaluate(series(10), 24, PER_DAY)
    with pytest.raises(WattbitInputError, match="2 site names for 3 columns"):
        evaluate(np.zeros((2000, 3)), 24, PER_DAY, site_names=["a", "b"])
    with pytest.raises(WattbitInputError, match="unknown forecasting method 'auto'"):
        evaluate(series(), 24, PER_DAY, methods=("auto",))
    with pytest.raises(WattbitInputError, match="start must be a step index >= 0; got -5"):
        evaluate(series(), 24, PER_DAY, start=-5)


def test_scores_at_exact_leads() -> None:
    bt = evaluate(series(), 48, PER_DAY, methods=("persistence", "seasonal_naive"), origin_every=13)
    table = bt.at_leads((1, 24, 72))  # 72 h is beyond the horizon: left out
    assert sorted(set(table["lead_h"])) == [1, 24]
    at24 = table[table["lead_h"] == 24].set_index(["method", "site"])["mae"]
    # at exactly one day ahead seasonal naive forecasts the present value: the same as persistence
    np.testing.assert_allclose(at24.loc["persistence"].to_numpy(), at24.loc["seasonal_naive"].to_numpy())
    np.testing.assert_allclose(table.loc[table["lead_h"] == 1, "mae"].to_numpy(), bt.mae[:, 0, :].ravel())

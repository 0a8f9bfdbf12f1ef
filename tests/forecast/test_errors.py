"""Bad input is refused with a message that says what was expected."""

from __future__ import annotations

import numpy as np
import pytest

from wattbit.errors import WattbitInputError
from wattbit.forecast import forecast

X = np.ones((30 * 24, 2))


def test_nan_in_history_names_step_and_site() -> None:
    x = X.copy()
    x[-5, 1] = np.nan
    with pytest.raises(WattbitInputError, match=rf"first is at step {len(x) - 5}, site 1 \(nan\).*fill gaps") as info:
        forecast(x, 24, 24)
    assert info.value.field == "history"


def test_nan_outside_the_window_read_is_ignored() -> None:
    x = np.ones((200 * 24, 1))
    x[0, 0] = np.nan  # long before the look-back window
    assert np.all(forecast(x, 24, 24).mean == 1.0)


@pytest.mark.parametrize(
    ("kwargs", "message", "field"),
    [
        ({"horizon_steps": 0}, "horizon_steps=0 must be a whole number >= 1", "horizon_steps"),
        ({"horizon_steps": 2.5}, "horizon_steps=2.5 must be a whole number >= 1", "horizon_steps"),
        ({"steps_per_day": -4}, "steps_per_day=-4 must be a whole number >= 1", "steps_per_day"),
        ({"level": 1.2}, r"coverage probability: level=1.2 must be in \(0, 1\)", "level"),
        ({"method": "prophet"}, "unknown forecasting method 'prophet'; expected one of persistence", "method"),
        ({"window_days": 0}, "window_days=0 must be a whole number >= 1", "window_days"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], message: str, field: str) -> None:
    args = {"horizon_steps": 24, "steps_per_day": 24, **kwargs}
    with pytest.raises(WattbitInputError, match=message) as info:
        forecast(X, **args)  # type: ignore[arg-type]
    assert info.value.field == field


def test_history_too_short_for_the_method() -> None:
    with pytest.raises(WattbitInputError, match=r"'profile' needs at least 169 steps.*got 100.*method='auto'"):
        forecast(X[:100], 24, 24, method="profile")
    with pytest.raises(WattbitInputError, match=r"'seasonal_naive' needs at least 24 steps"):
        forecast(X[:10], 24, 24, method="seasonal_naive")


@pytest.mark.parametrize(
    ("history", "message"),
    [
        (np.ones((3, 2, 2)), r"shape \(steps,\) or \(steps, sites\); got shape \(3, 2, 2\)"),
        (np.ones((0, 2)), "is empty"),
        ([["a", "b"]], "must be an array of numbers"),
    ],
)
def test_bad_history(history: object, message: str) -> None:
    with pytest.raises(WattbitInputError, match=message):
        forecast(history, 24, 24)

"""The greedy policy's waiting thresholds: every prefix's quantile, as NumPy computes it one prefix at a time."""

from __future__ import annotations

import numpy as np
import pytest

from wattbit.control.greedy import prefix_quantiles


@pytest.mark.parametrize("q", [0.3, 0.5, 0.05, 0.73, 1.0])
def test_prefix_quantiles_equal_numpy_bit_for_bit(q: float) -> None:
    rng = np.random.default_rng(int(q * 100))
    for n in (1, 2, 3, 17, 96):
        values = rng.normal(400.0, 120.0, n)
        values[::5] = np.round(values[::5], -1)  # ties
        expected = np.array([np.quantile(values[:w], q) for w in range(1, n + 1)])
        assert np.array_equal(prefix_quantiles(values, q), expected)


def test_prefix_quantiles_grow_with_the_window_only_as_the_data_say() -> None:
    values = np.array([5.0, 1.0, 3.0, 2.0])
    assert prefix_quantiles(values, 0.0).tolist() == [5.0, 1.0, 1.0, 1.0]  # the running minimum
    assert prefix_quantiles(values, 1.0).tolist() == [5.0, 5.0, 5.0, 5.0]  # the running maximum

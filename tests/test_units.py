"""The shared range checks: each error names the field, the first bad value, where it is and what was expected."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wattbit.errors import WattbitInputError
from wattbit.units import check_finite, check_int, check_number, check_range


def test_check_range_names_the_first_bad_value_and_its_position() -> None:
    values = np.array([[1.0, 2.0], [3.0, np.nan]])
    with pytest.raises(WattbitInputError, match=r"value nan at position \(1, 1\) is NaN or outside .* \[0, 5\]") as e:
        check_range("temp_c", values, 0.0, 5.0)
    assert e.value.field == "temp_c"
    with pytest.raises(WattbitInputError, match=r"value 7.0 at position 2 .* \[0, 5\]"):
        check_range("temp_c", [1.0, 2.0, 7.0], 0.0, 5.0)
    assert check_range("temp_c", values[0], 0.0, 5.0).dtype == np.float64


def test_check_range_open_lower_end() -> None:
    assert float(check_range("capacity_w", 1e-9, 0.0, 1.0, lo_open=True)) == 1e-9
    with pytest.raises(WattbitInputError, match=r"value 0.0 at position 0 .* \(0, 1\]"):
        check_range("capacity_w", [0.0], 0.0, 1.0, lo_open=True)


def test_check_finite() -> None:
    assert check_finite("power_mw", [1.0, -2.0]).tolist() == [1.0, -2.0]
    with pytest.raises(WattbitInputError, match=r"value -inf at position 1 is not finite") as e:
        check_finite("power_mw", [1.0, -math.inf])
    assert e.value.field == "power_mw"


def test_check_int_without_an_upper_bound_and_bools() -> None:
    assert check_int(np.int64(7), "horizon_steps", 1) == 7
    with pytest.raises(WattbitInputError, match=r"horizon_steps=0 must be a whole number >= 1"):
        check_int(0, "horizon_steps", 1)
    with pytest.raises(WattbitInputError, match=r"workers=True must be a whole number in \[1, 8\]"):
        check_int(True, "workers", 1, 8)


def test_check_number_context() -> None:
    with pytest.raises(WattbitInputError, match=r"reward weight: reward.cost=-1.0 must be a finite number >= 0"):
        check_number(-1.0, "reward.cost", 0.0, what="reward weight")


def test_trusted_arrays_skips_range_checks_only_inside_the_block() -> None:
    from wattbit.units import checking, trusted_arrays

    bad = np.array([1.0, np.nan, -3.0])
    with trusted_arrays():
        assert not checking()
        out = check_range("x", bad, 0.0)
        assert out is bad  # converted, not checked
    assert checking()
    with pytest.raises(WattbitInputError, match="position"):
        check_range("x", bad, 0.0)

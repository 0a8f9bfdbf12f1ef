"""Wet-bulb temperature against published reference values."""

from __future__ import annotations

import numpy as np
import pytest

from wattbit.errors import WattbitInputError
from wattbit.physics.psychrometrics import (
    dewpoint_c,
    saturation_vapour_pressure_pa,
    wetbulb_psychrometric_c,
    wetbulb_stull_c,
)


def test_stull_paper_example() -> None:
    # Stull (2011): T = 20 °C, RH = 50 % gives Tw = 13.7 °C
    assert wetbulb_stull_c(20.0, 50.0) == pytest.approx(13.7, abs=0.05)


@pytest.mark.parametrize(
    ("temp_c", "rh_pct", "expected_c"),
    [
        # thermodynamic wet-bulb at 101.325 kPa, computed by hand with ASHRAE Handbook Fundamentals (2017),
        # ch. 1, eqs. 20, 33 and 35 (saturation pressure from its Table 3)
        (20.0, 50.0, 13.77),
        (30.0, 40.0, 20.08),
        (35.0, 60.0, 28.17),
    ],
)
def test_psychrometric_against_chart(temp_c: float, rh_pct: float, expected_c: float) -> None:
    # the WMO psychrometer coefficient puts the result within 0.1 K of the thermodynamic wet bulb
    assert wetbulb_psychrometric_c(temp_c, rh_pct) == pytest.approx(expected_c, abs=0.1)


def test_saturated_air_wetbulb_equals_drybulb() -> None:
    t = np.array([-5.0, 10.0, 25.0, 40.0])
    np.testing.assert_allclose(wetbulb_psychrometric_c(t, 100.0), t, atol=1e-4)


def test_wetbulb_between_dewpoint_and_drybulb() -> None:
    rng = np.random.default_rng(0)
    t = rng.uniform(-15, 40, 500)
    rh = rng.uniform(5, 99, 500)
    tw = wetbulb_psychrometric_c(t, rh, 95_000.0)
    assert np.all(tw <= t + 1e-9) and np.all(tw >= dewpoint_c(t, rh) - 1e-9)


def test_stull_agrees_with_psychrometric_in_its_range() -> None:
    # Stull states errors within -1..+0.65 K, and no validity for cold and dry air together
    t, rh = np.meshgrid(np.linspace(0, 45, 19), np.linspace(20, 95, 16))
    diff = wetbulb_stull_c(t, rh) - wetbulb_psychrometric_c(t, rh)
    assert np.abs(diff).mean() < 0.3 and -1.0 < diff.min() and diff.max() < 0.9


def test_lower_pressure_lowers_wetbulb() -> None:
    assert wetbulb_psychrometric_c(30.0, 40.0, 80_000.0) < wetbulb_psychrometric_c(30.0, 40.0, 101_325.0)


def test_saturation_pressure_reference() -> None:
    # ASHRAE table: 2.3389 kPa at 20 °C; the WMO Magnus form is within 0.3 %
    assert saturation_vapour_pressure_pa(20.0) == pytest.approx(2338.9, rel=3e-3)


@pytest.mark.parametrize(
    ("temp_c", "rh_pct", "field"),
    [(np.nan, 50.0, "temp_air_c"), (25.0, 120.0, "rel_humidity_pct"), (99.0, 50.0, "temp_air_c")],
)
def test_out_of_range_inputs_are_rejected(temp_c: float, rh_pct: float, field: str) -> None:
    with pytest.raises(WattbitInputError, match=f"field '{field}'"):
        wetbulb_psychrometric_c(temp_c, rh_pct)

"""Battery: REopt defaults, limits, clipping, energy conservation and bad input."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wattbit.errors import WattbitInputError
from wattbit.physics.battery import BatterySpec, battery_step, degradation_cost_per_mwh, simulate_battery

SPEC = BatterySpec(energy_mwh=100.0, power_mw=25.0)


def test_reopt_defaults() -> None:
    """REopt.jl ElectricStorage: rectifier = inverter = 0.96, internal 0.975 -> AC round trip 0.8986."""
    assert SPEC.charge_efficiency == pytest.approx(0.96 * math.sqrt(0.975))
    assert SPEC.round_trip_efficiency == pytest.approx(0.96 * 0.96 * 0.975)
    assert SPEC.round_trip_efficiency == pytest.approx(0.90, abs=0.005)
    assert (SPEC.soc_min, SPEC.soc_max, SPEC.initial_soc) == (0.2, 1.0, 0.5)
    assert (SPEC.soc_min_mwh, SPEC.soc_max_mwh, SPEC.initial_soc_mwh) == (20.0, 100.0, 50.0)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"energy_mwh": -1.0}, "energy_mwh"),
        ({"power_mw": math.nan}, "power_mw"),
        ({"charge_efficiency": 0.0}, "charge_efficiency"),
        ({"discharge_efficiency": 1.01}, "discharge_efficiency"),
        ({"soc_min": 0.6, "soc_max": 0.5, "initial_soc": 0.55}, "initial_soc"),
        ({"soc_min": 0.5, "soc_max": 0.5}, "soc_min"),
        ({"initial_soc": 0.1}, "initial_soc"),
        ({"degradation_cost_per_mwh": -3.0}, "degradation_cost_per_mwh"),
        ({"energy_mwh": math.inf}, "energy_mwh"),
    ],
)
def test_bad_spec_is_rejected(change: dict[str, float], field: str) -> None:
    with pytest.raises(WattbitInputError) as err:
        dataclasses.replace(SPEC, **change)
    assert err.value.field == field


def test_degradation_cost_formula() -> None:
    # c = C / (N DoD eta_RT): 300 $/kWh, 5,000 cycles at 80 % DoD, 0.9 round trip -> 83.3 $/MWh
    assert degradation_cost_per_mwh(300.0, 5000, 0.8, 0.9) == pytest.approx(300_000 / 3600)
    assert degradation_cost_per_mwh(0.0, 5000, 0.8, 0.9) == 0.0
    for bad in [(-1.0, 5000, 0.8, 0.9), (300.0, 0, 0.8, 0.9), (300.0, 5000, 1.2, 0.9), (300.0, 5000, 0.8, math.nan)]:
        with pytest.raises(WattbitInputError):
            degradation_cost_per_mwh(*bad)


def test_step_within_limits_delivers_the_request() -> None:
    p, soc = battery_step(SPEC, 50.0, 10.0, 0.5)
    assert p == 10.0
    assert soc == pytest.approx(50.0 - 10.0 * 0.5 / SPEC.discharge_efficiency)
    p, soc = battery_step(SPEC, 50.0, -10.0, 0.5)
    assert p == -10.0
    assert soc == pytest.approx(50.0 + 10.0 * 0.5 * SPEC.charge_efficiency)


def test_step_clips_at_power_and_energy_limits() -> None:
    p, _ = battery_step(SPEC, 50.0, 40.0, 0.25)
    assert p == 25.0  # power rating
    p, soc = battery_step(SPEC, 21.0, 25.0, 1.0)  # only 1 MWh above soc_min
    assert soc == 20.0
    assert p == pytest.approx(1.0 * SPEC.discharge_efficiency)
    p, soc = battery_step(SPEC, 99.0, -25.0, 1.0)
    assert soc == 100.0
    assert p == pytest.approx(-1.0 / SPEC.charge_efficiency)
    p, soc = battery_step(SPEC, 100.0, -5.0, 1.0)
    assert p == 0.0 and soc == 100.0


def test_step_is_vectorised_across_batteries_with_their_own_specs() -> None:
    specs = [SPEC, dataclasses.replace(SPEC, power_mw=5.0), BatterySpec(energy_mwh=0.0, power_mw=0.0)]
    p, soc = battery_step(specs, [50.0, 50.0, 0.0], [10.0, 10.0, 10.0], 1.0)
    np.testing.assert_allclose(p, [10.0, 5.0, 0.0])
    assert soc.shape == (3,)
    with pytest.raises(WattbitInputError) as err:
        battery_step(SPEC, [50.0, 10.0], 0.0, 1.0)  # 10 MWh is below soc_min
    assert err.value.field == "soc_mwh"


def _balance(result: object, spec: BatterySpec, step_h: float) -> tuple[np.ndarray, np.ndarray]:
    power = result.power_mw  # type: ignore[attr-defined]
    charge_in = np.maximum(-power, 0.0).sum(axis=0) * step_h
    discharge_out = np.maximum(power, 0.0).sum(axis=0) * step_h
    stored = charge_in * spec.charge_efficiency - discharge_out / spec.discharge_efficiency
    return stored, result.soc_mwh[-1] - result.initial_soc_mwh  # type: ignore[attr-defined]


@settings(max_examples=40, deadline=None)
@given(
    requests=st.lists(st.floats(-60.0, 60.0), min_size=1, max_size=200),
    step_h=st.sampled_from([0.25, 0.5, 1.0]),
    soc_min=st.floats(0.0, 0.5),
)
def test_energy_is_conserved_and_soc_stays_within_limits(requests: list[float], step_h: float, soc_min: float) -> None:
    spec = dataclasses.replace(SPEC, soc_min=soc_min)
    r = simulate_battery(spec, requests, step_h)
    stored, delta = _balance(r, spec, step_h)
    assert stored == pytest.approx(delta, abs=1e-9)
    assert np.all(r.soc_mwh >= spec.soc_min_mwh) and np.all(r.soc_mwh <= spec.soc_max_mwh)
    assert np.all(np.abs(r.power_mw) <= spec.power_mw + 1e-12)
    np.testing.assert_allclose(r.clipped_mw, np.asarray(requests) - r.power_mw, atol=0)
    assert np.all(np.sign(r.power_mw) * np.sign(requests) >= 0)  # never the opposite of what was asked
    # losses: AC energy in - AC energy out - stored change, per step
    change = np.diff(np.concatenate([[r.initial_soc_mwh], r.soc_mwh]))
    np.testing.assert_allclose(r.losses_mwh, -r.power_mw * step_h - change, atol=1e-9)
    assert np.all(r.losses_mwh >= 0)
    np.testing.assert_allclose(r.throughput_mwh, np.maximum(r.power_mw, 0) * step_h)


def test_year_of_quarter_hours_conserves_energy_to_1e_9() -> None:
    rng = np.random.default_rng(7)
    requests = rng.normal(0.0, 20.0, (35_040, 5))
    r = simulate_battery(SPEC, requests, 0.25)
    stored, delta = _balance(r, SPEC, 0.25)
    np.testing.assert_allclose(stored, delta, atol=1e-9 * SPEC.energy_mwh)
    one = simulate_battery(SPEC, requests[:, 2], 0.25)  # the 1-D path gives the same answer
    np.testing.assert_array_equal(one.power_mw, r.power_mw[:, 2])
    np.testing.assert_array_equal(one.soc_mwh, r.soc_mwh[:, 2])


def test_clipping_is_reported_not_hidden() -> None:
    r = simulate_battery(SPEC, [40.0, 25.0, 25.0, 25.0], 0.5)  # 30 MWh stored above soc_min
    np.testing.assert_allclose(r.clipped_mw[:2], [15.0, 0.0])  # power rating, then nothing
    assert 0 < r.clipped_mw[2] < 25.0 and r.clipped_mw[3] == 25.0  # energy limit: part, then all
    assert r.soc_mwh[-1] == SPEC.soc_min_mwh
    assert r.power_mw.sum() * 0.5 == pytest.approx(30.0 * SPEC.discharge_efficiency)


def test_round_trip_efficiency_of_a_full_cycle() -> None:
    spec = BatterySpec(energy_mwh=100.0, power_mw=100.0, soc_min=0.0, initial_soc=0.0)
    r = simulate_battery(spec, [-200.0, 200.0], 1.0)  # charge full, then empty
    energy_in, energy_out = -r.power_mw[0], r.power_mw[1]
    assert energy_out / energy_in == pytest.approx(spec.round_trip_efficiency)
    assert r.losses_mwh.sum() == pytest.approx(energy_in - energy_out)


def test_many_specs_and_a_zero_battery() -> None:
    specs = [SPEC, BatterySpec(energy_mwh=0.0, power_mw=0.0)]
    r = simulate_battery(specs, np.full((10, 2), 5.0), 1.0)
    assert np.all(r.power_mw[:, 1] == 0.0) and np.all(r.clipped_mw[:, 1] == 5.0)
    np.testing.assert_allclose(r.initial_soc_mwh, [50.0, 0.0])


def test_bad_simulation_input_is_rejected() -> None:
    with pytest.raises(WattbitInputError) as err:
        simulate_battery(SPEC, [1.0, math.nan], 1.0)
    assert err.value.field == "power_request_mw"
    with pytest.raises(WattbitInputError) as err:
        simulate_battery(SPEC, [1.0], 0.0)
    assert err.value.field == "step_h"
    with pytest.raises(WattbitInputError):
        simulate_battery([SPEC, SPEC], np.zeros((4, 3)), 1.0)
    with pytest.raises(WattbitInputError):
        simulate_battery(SPEC, np.zeros((2, 2, 2)), 1.0)
    with pytest.raises(WattbitInputError):
        simulate_battery([], [1.0], 1.0)

"""The baseline's battery rule: self-consumption (charge from on-site surplus, discharge against grid import)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from tests.sim.test_engine import NO_FAULTS, _scenario
from wattbit.control import make_policy
from wattbit.physics.battery import BatterySpec, self_consumption_request_mw, simulate_battery
from wattbit.sim.policy import Actions, Observation
from wattbit.sim.run import SimResult, simulate


class _BatteryIdle:
    """The baseline's starts without its battery rule (the old baseline)."""

    name = "baseline-battery-idle"

    def __init__(self) -> None:
        self._base = make_policy("baseline")

    def decide(self, obs: Observation) -> Actions:
        return dataclasses.replace(self._base.decide(obs), battery_rule=None)


@pytest.fixture(scope="module")
def runs() -> tuple[SimResult, SimResult]:
    sc = _scenario(days=7, step="15min")
    rule = simulate(sc, make_policy("baseline"), failure_rates=NO_FAULTS, seed=2)
    idle = simulate(sc, _BatteryIdle(), failure_rates=NO_FAULTS, seed=2)
    return rule, idle


def _site(result: SimResult, name: str) -> pd.DataFrame:
    return result.timeseries[result.timeseries["site"] == name].reset_index(drop=True)


def test_battery_moves_both_ways_with_the_right_sign(runs: tuple[SimResult, SimResult]) -> None:
    rule, idle = runs
    ts = _site(rule, "ishikari")  # 10 MW of Hokkaido wind, an 8 MWh / 2 MW battery
    battery, onsite = ts["battery_w"].to_numpy(), (ts["pv_w"] + ts["wind_w"]).to_numpy()
    facility, grid, export = ts["facility_w"].to_numpy(), ts["grid_w"].to_numpy(), ts["export_w"].to_numpy()
    charging, discharging = battery < -1.0, battery > 1.0
    assert charging.sum() > 10 and discharging.sum() > 10  # the battery moves, both ways
    assert np.abs(battery).max() <= 2e6 + 1e-6  # within its 2 MW rating
    # > 0 is discharge to the site: charging only from on-site surplus (no grid import while it charges) ...
    assert np.all(onsite[charging] - facility[charging] >= -battery[charging] - 1e-6)
    assert np.all(grid[charging] == 0.0)
    # ... discharging only against import (never more than the deficit, never exported)
    assert np.all(battery[discharging] <= facility[discharging] - onsite[discharging] + 1e-6)
    assert np.all(export[discharging] <= 1e-6)  # rounding of the battery model at its energy limit
    # the battery is the one that delivers what the rule asked of it, through the battery model
    spec = BatterySpec(energy_mwh=8.0, power_mw=2.0)
    expected = simulate_battery(spec, self_consumption_request_mw((facility - onsite) / 1e6), 0.25).power_mw * 1e6
    np.testing.assert_allclose(battery, expected, rtol=1e-9, atol=1e-6)
    # idle battery under the old rule, and less grid import with the new one
    assert np.all(_site(idle, "ishikari")["battery_w"] == 0.0)
    assert rule.summary["energy_grid_mwh"] < idle.summary["energy_grid_mwh"]
    assert rule.summary["carbon_t"] < idle.summary["carbon_t"]
    # sites without a battery are unaffected
    for name in ("fukushima", "inzai"):
        pd.testing.assert_series_equal(_site(rule, name)["grid_w"], _site(idle, name)["grid_w"])


def test_battery_rule_is_checked_and_commands_win(runs: tuple[SimResult, SimResult]) -> None:
    from wattbit.sim.run import make_engine, prepare

    inputs = prepare(_scenario(days=1, step="1h"), failure_rates=NO_FAULTS)
    engine = make_engine(inputs)
    engine.observe()
    with pytest.raises(ValueError, match="unknown battery_rule"):
        engine.advance(Actions(battery_rule="arbitrage"))
    engine = make_engine(inputs)
    engine.observe()
    # a command at ishikari (NaN elsewhere) is followed there; the rule applies only where no command is given
    engine.advance(Actions(battery_mw=np.array([np.nan, -1.0, np.nan]), battery_rule="self_consumption"))
    assert engine.rec.battery_mw[0, 1] == -1.0 and not engine.rec.battery_self_consumption[0, 1]
    assert not engine.rec.battery_self_consumption[0, [0, 2]].any()  # no battery there

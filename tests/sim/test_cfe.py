"""Hourly (24/7) clean-energy matching against annual netting, on hand-computed cases and invariants."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wattbit.control import make_policy
from wattbit.errors import WattbitInputError
from wattbit.physics.battery import BatterySpec
from wattbit.scenario import builtin_scenario_path, parse_scenario
from wattbit.sim.accounting import clean_energy_kpis, clean_energy_match
from wattbit.sim.fleet import Fleet
from wattbit.sim.run import simulate

# a lossless battery that starts empty, so the hand figures stay exact
LOSSLESS = BatterySpec(
    energy_mwh=10.0, power_mw=10.0, charge_efficiency=1.0, discharge_efficiency=1.0, soc_min=0.0, initial_soc=0.0
)

# Two sites, three hours (MWh per hour). Site a: on-site PV, no battery. Site b: on-site generation in hour 1
# only, 6 MWh of its surplus stored and 4 MWh discharged in hour 2.
LOAD = np.array([[10.0, 4.0], [10.0, 4.0], [10.0, 4.0]])
ONSITE = np.array([[15.0, 10.0], [5.0, 0.0], [0.0, 0.0]])
BATTERY = np.array([[0.0, -6.0], [0.0, 4.0], [0.0, 0.0]])
CFE = np.array([[0.5, 0.1], [0.2, 0.3], [0.4, 0.5]])
# a: hour 1 on-site 10 (5 spilled), hour 2 on-site 5 + grid 5 x 0.2, hour 3 grid 10 x 0.4  -> 10 + 6 + 4 = 20
#    annual: on-site 20 + grid (5 x 0.2 + 10 x 0.4) = 25
# b: hour 1 on-site 4, hour 2 battery 4 (all from on-site surplus), hour 3 grid 4 x 0.5  -> 4 + 4 + 2 = 10
#    annual: on-site 10 + grid 2 = 12 (capped at the load, 12)
HOURLY_MWH = [20.0, 10.0]
ANNUAL_MWH = [25.0, 12.0]


def test_two_sites_three_hours_by_hand() -> None:
    m = clean_energy_match(LOAD, ONSITE, BATTERY, CFE, [None, LOSSLESS])
    np.testing.assert_allclose(m.load_mwh, [30.0, 12.0])
    np.testing.assert_allclose(m.hourly_clean_mwh, HOURLY_MWH, rtol=1e-12)
    np.testing.assert_allclose(m.annual_clean_mwh, ANNUAL_MWH, rtol=1e-12)
    assert m.hourly_clean_mwh.sum() / m.load_mwh.sum() == pytest.approx(30 / 42)
    assert m.annual_clean_mwh.sum() / m.load_mwh.sum() == pytest.approx(37 / 42)


def test_surplus_in_one_hour_never_counts_for_another() -> None:
    # site a spills 5 MWh in hour 1 and imports in hours 2 and 3: removing that surplus changes nothing hourly,
    # while annual netting loses exactly those 5 MWh
    trimmed = ONSITE.copy()
    trimmed[0, 0] = LOAD[0, 0]
    before = clean_energy_match(LOAD, ONSITE, BATTERY, CFE, [None, LOSSLESS])
    after = clean_energy_match(LOAD, trimmed, BATTERY, CFE, [None, LOSSLESS])
    assert after.hourly_clean_mwh[0] == pytest.approx(before.hourly_clean_mwh[0])
    assert before.annual_clean_mwh[0] - after.annual_clean_mwh[0] == pytest.approx(5.0)
    # the same 5 MWh generated in hour 2 instead displace grid energy that was 20 % clean
    moved = ONSITE.copy()
    moved[:, 0] = [10.0, 10.0, 0.0]
    shifted = clean_energy_match(LOAD, moved, BATTERY, CFE, [None, LOSSLESS])
    assert shifted.hourly_clean_mwh[0] - before.hourly_clean_mwh[0] == pytest.approx(5 * (1 - 0.2))


def test_grid_charged_battery_carries_that_hours_share() -> None:
    # hour 1: load 2 + charge 4 from the grid at 25 %; hour 2: 2 MWh discharged at the stored 25 %
    load, onsite = np.array([[2.0], [2.0]]), np.zeros((2, 1))
    battery, cfe = np.array([[-4.0], [2.0]]), np.array([[0.25], [0.0]])
    m = clean_energy_match(load, onsite, battery, cfe, [LOSSLESS])
    assert m.hourly_clean_mwh[0] == pytest.approx(2 * 0.25 + 2 * 0.25)
    assert m.annual_clean_mwh[0] == pytest.approx(6 * 0.25)  # annual netting credits all grid energy drawn
    # losses take clean and other energy alike: the fraction is unchanged
    lossy = BatterySpec(10.0, 10.0, charge_efficiency=0.9, discharge_efficiency=0.8, soc_min=0.0, initial_soc=0.0)
    assert clean_energy_match(load, onsite, battery, cfe, [lossy]).hourly_clean_mwh[0] == pytest.approx(1.0)
    # energy stored at the start counts as not clean: 2 MWh + 4 MWh at 25 % -> 1/6 clean
    half = BatterySpec(4.0, 10.0, charge_efficiency=1.0, discharge_efficiency=1.0, soc_min=0.0, initial_soc=0.5)
    assert clean_energy_match(load, onsite, battery, cfe, [half]).hourly_clean_mwh[0] == pytest.approx(0.5 + 2 / 6)


def test_invariants_on_random_fleets() -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        steps, sites = 48, 3
        load = rng.uniform(0, 10, (steps, sites))
        onsite = rng.uniform(0, 12, (steps, sites)) * (rng.random((steps, sites)) < 0.6)
        cfe = rng.uniform(0, 1, (steps, sites))
        battery = np.zeros((steps, sites))
        battery[:, 1] = np.where(np.arange(steps) % 2 == 0, -1.0, 0.9)  # alternate charge and discharge
        spec = BatterySpec(energy_mwh=20.0, power_mw=2.0)
        m = clean_energy_match(load, onsite, battery, cfe, [None, spec, None])
        assert np.all(m.hourly_clean_mwh >= 0) and np.all(m.hourly_clean_mwh <= m.load_mwh + 1e-9)
        assert np.all(m.hourly_clean_mwh <= m.annual_clean_mwh + 1e-9)
        assert np.all(m.annual_clean_mwh <= m.load_mwh + 1e-9)
    # no on-site supply and no battery: hourly and annual agree, both the load-weighted grid share
    m = clean_energy_match(load, np.zeros_like(load), np.zeros_like(load), cfe, [None] * 3)
    np.testing.assert_allclose(m.hourly_clean_mwh, (load * cfe).sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(m.hourly_clean_mwh, m.annual_clean_mwh, rtol=1e-12)
    # clean supply above the load in every hour: both are 100 %
    m = clean_energy_match(load, load + 1.0, np.zeros_like(load), cfe, [None] * 3)
    np.testing.assert_allclose(m.hourly_clean_mwh, m.load_mwh)
    np.testing.assert_allclose(m.annual_clean_mwh, m.load_mwh)


def test_unknown_share_is_nan_for_that_site_only() -> None:
    cfe = CFE.copy()
    cfe[:, 1] = np.nan
    m = clean_energy_match(LOAD, ONSITE, BATTERY, cfe, [None, LOSSLESS])
    assert m.hourly_clean_mwh[0] == pytest.approx(20.0) and m.annual_clean_mwh[0] == pytest.approx(25.0)
    assert np.isnan(m.hourly_clean_mwh[1]) and np.isnan(m.annual_clean_mwh[1])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((LOAD, ONSITE[:2], BATTERY, CFE, [None, None]), "expected arrays of one shape"),
        ((LOAD, ONSITE, BATTERY, CFE, [None]), "one battery entry per site"),
        ((-LOAD, ONSITE, BATTERY, CFE, [None, None]), "load_mwh has negative or NaN values"),
        ((LOAD, ONSITE, BATTERY, CFE * 3, [None, None]), r"cfe_fraction outside \[0, 1\]"),
    ],
)
def test_bad_input_is_a_clear_error(args: tuple, message: str) -> None:
    with pytest.raises(WattbitInputError, match=message):
        clean_energy_match(*args)


def _fleet(cfe: np.ndarray, unavailable: dict[str, str]) -> Fleet:
    steps, sites = LOAD.shape
    zeros = np.zeros((steps, sites))
    return Fleet(
        index=pd.date_range("2022-01-01", periods=steps, freq="1h", tz="UTC"),
        step_h=1.0,
        names=("a", "b"),
        plants=(),
        gpus_total=np.zeros(sites, dtype=np.int64),
        temp_db_c=zeros,
        temp_wb_c=zeros,
        carbon_g_per_kwh=zeros,
        price_jpy_per_mwh=zeros,
        curtailed_mwh=zeros,
        pv_w=ONSITE * 1e6,
        wind_w=zeros,
        grid_limit_w=np.zeros(sites),
        max_busy_gpus=np.zeros((steps, sites), dtype=np.int64),
        batteries=(None, LOSSLESS),
        cfe_fraction=cfe,
        cfe_unavailable=unavailable,
    )


def test_summary_keys_and_the_note_for_an_unavailable_site() -> None:
    series = {"facility": LOAD * 1e6, "battery": BATTERY * 1e6}
    out = clean_energy_kpis(_fleet(CFE, {}), series)
    assert out["clean_energy_share_hourly"] == pytest.approx(30 / 42)
    assert out["clean_energy_share_annual"] == pytest.approx(37 / 42)
    assert out["clean_energy_share_hourly_by_site"] == pytest.approx({"a": 20 / 30, "b": 10 / 12})
    assert out["clean_energy_share_annual_by_site"] == pytest.approx({"a": 25 / 30, "b": 1.0})
    assert "60-min step" in out["clean_energy_note"] and "unavailable" not in out["clean_energy_note"]

    cfe = CFE.copy()
    cfe[:, 1] = np.nan
    out = clean_energy_kpis(_fleet(cfe, {"b": "the carbon data give an intensity but no carbon-free share"}), series)
    assert math.isnan(out["clean_energy_share_hourly"]) and math.isnan(out["clean_energy_share_annual"])
    assert out["clean_energy_share_hourly_by_site"]["a"] == pytest.approx(20 / 30)
    assert math.isnan(out["clean_energy_share_hourly_by_site"]["b"])
    assert "unavailable for b: the carbon data give an intensity" in out["clean_energy_note"]


def test_simulation_runs_without_a_share_and_says_so(tmp_path: Path) -> None:
    times = pd.date_range("2022-03-01T00:00+09:00", periods=24, freq="1h").tz_convert("UTC")
    path = tmp_path / "carbon.csv"
    pd.DataFrame({"time_utc": times.strftime("%Y-%m-%dT%H:%M:%SZ"), "carbon_g_per_kwh": 500.0}).to_csv(
        path, index=False
    )
    text = builtin_scenario_path("japan-2022").read_text(encoding="utf-8")
    text = text.replace("start = 2022-01-01T00:00:00+09:00", "start = 2022-03-01T00:00:00+09:00")
    text = text.replace("end = 2023-01-01T00:00:00+09:00", "end = 2022-03-02T00:00:00+09:00")
    text = text.replace('step = "15min"', 'step = "1h"').replace(
        'carbon = { builtin = "japan-2022:inzai" }', f'carbon = {{ reader = "wattbit_signals", path = "{path}" }}'
    )
    summary = simulate(
        parse_scenario(text, builtin_scenario_path("japan-2022")), make_policy("baseline"), seed=1
    ).summary
    assert summary["carbon_t"] > 0 and summary["energy_facility_mwh"] > 0
    assert math.isnan(summary["clean_energy_share_hourly"])
    by_site = summary["clean_energy_share_hourly_by_site"]
    assert 0 < by_site["fukushima"] <= summary["clean_energy_share_annual_by_site"]["fukushima"] <= 1
    assert math.isnan(by_site["inzai"])
    assert (
        "unavailable for inzai: the carbon data give an intensity but no carbon-free share"
        in (summary["clean_energy_note"])
    )

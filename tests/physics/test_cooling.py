"""Cooling plants: annual PUE/WUE on real Japanese weather against LBNL figures, physical invariants, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wattbit.data.jma import read_jma_hourly
from wattbit.errors import WattbitInputError
from wattbit.physics.cooling import (
    COOLING_TYPES,
    CoolingMode,
    CoolingResult,
    chiller_power_energyplus_w,
    cooling_power,
    crah_airflow_fraction,
    default_design,
    free_cooling_hours,
    tower_evaporation_fraction,
    tower_water_l_per_h,
)
from wattbit.physics.cooling.components import fan_power_affinity_w, fan_power_vav_w
from wattbit.physics.gpu import get_gpu
from wattbit.physics.psychrometrics import wetbulb_psychrometric_c
from wattbit.physics.site import SitePlant, site_power

#: Power-chain and lighting losses added to the mechanical PUE contribution, as a fixed share of IT power.
OTHER_LOSSES = 0.04
IT_W = 10e6


@pytest.fixture(scope="module")
def weather_2022(shared_data: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Hourly dry bulb and psychrometric wet bulb [°C] of calendar 2022 (JST) in Sapporo, Sendai and Tokyo."""
    out = {}
    hours = pd.date_range("2021-12-31 15:00", "2022-12-31 14:00", freq="h", tz="UTC")
    for station in ("sapporo", "sendai", "tokyo"):
        frame, _ = read_jma_hourly(shared_data / f"japan/weather-jma/{station}_hourly.csv.gz")
        cols = ["temp_air_c", "rel_humidity_pct", "pressure_pa"]
        year = frame[cols].reindex(hours).interpolate(limit_direction="both")  # a few missing hours
        assert year.notna().all().all() and len(year) == 8760
        wet = wetbulb_psychrometric_c(year.temp_air_c, year.rel_humidity_pct, year.pressure_pa)
        out[station] = (year.temp_air_c.to_numpy(), wet)
    return out


def annual(kind: str, weather: tuple[np.ndarray, np.ndarray], **overrides: object) -> tuple[float, float, float]:
    """(mechanical PUE contribution, WUE [L/kWh_IT], free-cooling hours) at full IT load for a year of hours."""
    db, wb = weather
    res = cooling_power(np.full(db.shape, IT_W), db, wb, default_design(kind, **overrides))
    it_kwh = IT_W * db.size / 1e3
    return res.power_w.sum() / 1e3 / it_kwh, res.water_l_per_h.sum() / it_kwh, float(free_cooling_hours(res, 1.0))


# --- annual figures on real weather ---------------------------------------------------------------------------


def test_liquid_dry_cooler_pue_sendai(weather_2022: dict) -> None:
    # LBNL (2024) Fig. 4.4: liquid-cooled IT + dry cooler with adiabatic assist, median PUE ≈ 1.09
    mech, wue, _ = annual("liquid_dry_cooler", weather_2022["sendai"])
    assert 1.05 <= 1 + mech + OTHER_LOSSES <= 1.20
    assert wue < 0.5


def test_air_chiller_pue_tokyo(weather_2022: dict) -> None:
    # LBNL: air-cooled IT + water-cooled chiller (midsize) ≈ 1.52, with a midsize UPS loss of 6-20 % included;
    # our full-load plant with 4 % other losses comes out at the low end of the 1.3-1.6 band.
    mech, wue, _ = annual("air_chiller", weather_2022["tokyo"])
    assert 1.27 <= 1 + mech + OTHER_LOSSES <= 1.60
    assert 1.0 <= wue <= 4.0  # LBNL ≈ 2.9 L/kWh


def test_liquid_beats_air_by_a_wide_margin(weather_2022: dict) -> None:
    for station in weather_2022:
        air, _, _ = annual("air_chiller", weather_2022[station])
        for kind in ("liquid_dry_cooler", "liquid_tower", "immersion"):
            assert annual(kind, weather_2022[station])[0] < air - 0.1


@pytest.mark.parametrize("kind", COOLING_TYPES)
def test_colder_climate_needs_less_cooling_energy(weather_2022: dict, kind: str) -> None:
    mech = {s: annual(kind, w)[0] for s, w in weather_2022.items()}
    assert mech["sapporo"] < mech["sendai"] < mech["tokyo"]


def test_tower_water_far_above_dry_cooler(weather_2022: dict) -> None:
    # LBNL: liquid + tower ≈ 1.96 L/kWh, liquid + dry cooler with adiabatic assist ≈ 0.13 L/kWh
    for station in weather_2022:
        _, wue_tower, _ = annual("liquid_tower", weather_2022[station])
        _, wue_dry, _ = annual("liquid_dry_cooler", weather_2022[station])
        assert 1.0 <= wue_tower <= 3.0
        assert 0.005 <= wue_dry <= 0.5
        assert wue_tower > 10 * wue_dry


def test_free_cooling_hours_plausible(weather_2022: dict) -> None:
    free = {(k, s): annual(k, w)[2] for k in ("air_chiller", "liquid_dry_cooler") for s, w in weather_2022.items()}
    for kind in ("air_chiller", "liquid_dry_cooler"):
        assert free[kind, "sapporo"] > free[kind, "sendai"] > free[kind, "tokyo"]
    for station in weather_2022:
        # W45 liquid: the liquid loop is free all year; the residual air loop (20 °C chilled water) sets the count
        assert free["liquid_dry_cooler", station] > 2 * free["air_chiller", station]
        assert 0 < free["air_chiller", station] < 4000
        assert 3000 < free["liquid_dry_cooler", station] <= 8760


def test_lower_w_class_costs_energy_and_water(weather_2022: dict) -> None:
    w45 = annual("liquid_dry_cooler", weather_2022["tokyo"])
    w32 = annual("liquid_dry_cooler", weather_2022["tokyo"], w_class="W32")
    assert w32[0] > w45[0] and w32[1] > w45[1] and w32[2] <= w45[2]


def test_time_by_sites_2d(weather_2022: dict) -> None:
    db = np.column_stack([w[0] for w in weather_2022.values()])
    wb = np.column_stack([w[1] for w in weather_2022.values()])
    capacity = np.array([[IT_W, 2 * IT_W, 0.5 * IT_W]])
    heat = capacity * np.linspace(0.3, 1.0, db.shape[0])[:, None]
    design = default_design("liquid_dry_cooler")
    res = cooling_power(heat, db, wb, design, capacity_w=capacity)
    assert res.power_w.shape == res.water_l_per_h.shape == res.mode.shape == res.free_cooling.shape == db.shape
    assert res.mode.dtype == np.int8 and res.free_cooling.dtype == np.bool_
    for j in range(3):
        single = cooling_power(heat[:, j], db[:, j], wb[:, j], design, capacity_w=capacity[0, j])
        np.testing.assert_allclose(res.power_w[:, j], single.power_w)
        np.testing.assert_array_equal(res.mode[:, j], single.mode)
    hours = free_cooling_hours(res, 1.0)
    assert isinstance(hours, np.ndarray) and hours.shape == (3,)


# --- physics on synthetic conditions --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", COOLING_TYPES)
def test_raising_supply_temperature_never_increases_power(kind: str) -> None:
    design = default_design(kind)
    lo, hi = (4.0, 25.0) if kind == "air_chiller" else (15.0, 45.0 if kind != "immersion" else 40.0)
    supply = np.linspace(lo, hi, 61)[None, :]
    wb = np.linspace(-10, 30, 41)
    db = wb + np.array([0.0, 3.0, 10.0])[:, None]
    db, wb = db.ravel()[:, None], np.broadcast_to(wb, (3, 41)).ravel()[:, None]
    for load in (0.2, 0.7, 1.0):
        res = cooling_power(load * IT_W, db, wb, design, supply, capacity_w=IT_W)
        assert np.all(np.diff(res.power_w, axis=1) <= 1e-9 * IT_W)
        assert np.all(np.diff(res.mode.astype(int), axis=1) <= 0)


@pytest.mark.parametrize("kind", COOLING_TYPES)
def test_monotonic_in_dry_bulb_at_fixed_wet_bulb(kind: str) -> None:
    design = default_design(kind, w_class="W32") if kind != "air_chiller" else default_design(kind)
    wb = np.array([[0.0], [12.0], [20.0], [26.0]])
    db = wb + np.linspace(0.0, 18.0, 73)[None, :]
    res = cooling_power(0.8 * IT_W, db, wb, design, capacity_w=IT_W)
    assert np.all(np.diff(res.power_w, axis=1) >= -1e-9 * IT_W)
    assert np.all(np.diff(res.water_l_per_h, axis=1) >= -1e-9)


@pytest.mark.parametrize("kind", COOLING_TYPES)
def test_power_rises_with_load_and_wet_bulb(kind: str) -> None:
    design = default_design(kind)
    load = np.linspace(0.0, 1.2, 25)[:, None] * IT_W
    wb = np.linspace(-5.0, 28.0, 34)[None, :]
    res = cooling_power(load, wb + 4.0, wb, design, capacity_w=IT_W)
    assert np.all(np.diff(res.power_w, axis=0) > 0)
    assert np.all(np.diff(res.power_w, axis=1) >= -1e-9 * IT_W)
    assert np.all(res.power_w[0] == 0) and np.all(res.water_l_per_h[0] == 0) and np.all(res.free_cooling[0])


def test_air_chiller_free_cooling_threshold() -> None:
    # full free cooling when T_wb + tower approach + HX approach <= chilled-water supply
    d = default_design("air_chiller", supply_temp_c=12.0)
    limit = 12.0 - d.tower_approach_k - d.hx_approach_k
    res = cooling_power(IT_W, [limit + 5, limit + 5.1, 35.0], [limit, limit + 0.1, 30.0], d)
    assert list(res.mode) == [CoolingMode.FREE_EVAPORATIVE, CoolingMode.PARTIAL, CoolingMode.MECHANICAL]
    assert list(res.free_cooling) == [True, False, False]


def test_dry_cooler_modes_and_water() -> None:
    d = default_design("immersion", supply_temp_c=35.0)  # no air share: the mode is the liquid loop's
    limit = 35.0 - d.dry_cooler_approach_k
    db = np.array([limit - 5, limit + 2, 40.0, 45.0])
    wb = np.array([limit - 8, limit - 4, 33.0, 38.0])
    res = cooling_power(IT_W, db, wb, d)
    expected = [CoolingMode.FREE_DRY, CoolingMode.FREE_EVAPORATIVE, CoolingMode.PARTIAL, CoolingMode.MECHANICAL]
    assert list(res.mode) == expected
    assert res.water_l_per_h[0] == 0 and np.all(res.water_l_per_h[1:] > 0)
    dry = cooling_power(IT_W, db, wb, default_design("immersion", supply_temp_c=35.0, adiabatic_effectiveness=0.0))
    assert np.all(dry.water_l_per_h == 0) and dry.mode[1] == CoolingMode.PARTIAL


def test_immersion_ppue_band() -> None:
    # pPUE 1.02-1.05 (U) for single-phase immersion on a mild day
    res = cooling_power(IT_W, 15.0, 10.0, default_design("immersion"))
    assert 1.01 <= 1 + float(res.power_w) / IT_W <= 1.05


def test_chiller_rated_point_and_lift() -> None:
    # at its design temperatures and full load the EnergyPlus curves give about the rated COP
    cop = 1e6 / chiller_power_energyplus_w(1e6, 6.67, 29.44, 1e6 / 0.944836, 6.0, 29.44)
    assert cop == pytest.approx(6.0, rel=0.02)
    cond = np.linspace(10.0, 45.0, 71)
    for load in (0.02, 0.3, 1.0, 1.5):
        power = chiller_power_energyplus_w(load * 1e6, 7.0, cond, 1e6, 6.0, 29.44)
        assert np.all(np.diff(power) >= 0)


def test_part_load_pue_does_not_fall_below_the_design_point() -> None:
    """Air (and liquid) plants get worse as load falls below design: CRAH fans follow the servers' airflow on the
    ASHRAE 90.1 VAV curve, condenser pumps run at constant flow, other pumps at their minimum flow, chillers are
    false-loaded below their turndown. Between 70 % and 100 % of design the plant is flat: the chiller's part-load
    curve and the tower fans' cube law gain at most what the fixed loads lose (< 1 % of the design PUE)."""
    loads = np.linspace(0.05, 1.0, 20)
    weathers = [(t + d, t) for t in np.linspace(-5.0, 27.0, 9) for d in (0.0, 3.0, 8.0)]
    for kind in ("air_chiller", "liquid_dry_cooler", "liquid_tower"):
        plant = SitePlant(get_gpu("H100-SXM"), 4096, "ac415", "double_conversion", default_design(kind))
        for tdb, twb in weathers:
            p = site_power(plant, loads * plant.rated_it_dc_w, tdb, twb)
            pue = p.facility_w / p.it_w
            below = loads <= 0.7 + 1e-9
            assert np.all(np.diff(pue[below]) <= 1e-9), (kind, tdb, twb, pue)  # falling load: PUE never falls
            assert pue.min() >= pue[-1] * (1 - 0.01), (kind, tdb, twb, pue)
            assert pue[0] > pue[-1] + 0.1  # at 5 % load the fixed floors dominate
    # the case: 11 °C wet bulb, air plant; the old model gave 1.465 / 1.280 / 1.268 / 1.338
    plant = SitePlant(get_gpu("H100-SXM"), 4096, "ac415", "double_conversion", default_design("air_chiller"))
    p = site_power(plant, np.array([0.1, 0.3, 0.6, 1.0]) * plant.rated_it_dc_w, 15.0, 11.0)
    pue = p.facility_w / p.it_w
    assert pue[0] > pue[1] > pue[2] >= pue[3] * 0.995


def test_part_load_components() -> None:
    # ASHRAE 90.1-2010 G3.1.3.15: 0.0013 + 0.1470 f + 0.9506 f^2 - 0.0998 f^3, above the cube law at part load
    assert float(fan_power_vav_w(1.0, 1.0)) == pytest.approx(1.0, abs=1e-3)
    assert float(fan_power_vav_w(0.5, 1.0)) == pytest.approx(0.30, abs=0.005)
    assert float(fan_power_vav_w(0.5, 1.0)) > float(fan_power_affinity_w(0.5, 1.0))
    assert float(fan_power_vav_w(0.0, 1.0)) == 0.0
    np.testing.assert_allclose(crah_airflow_fraction([0.0, 0.5, 1.0], 0.35), [0.0, 0.675, 1.0])
    # tower and dry-cooler fans cycle at minimum speed: power proportional to airflow below it, cube law above
    f = np.array([0.05, 0.1, 0.2, 0.5])
    np.testing.assert_allclose(fan_power_affinity_w(f, 1.0, 0.2), [0.002, 0.004, 0.008, 0.125])
    # hot-gas bypass: below the turndown the compressor draws what it draws at the turndown
    false = chiller_power_energyplus_w(
        [0.01e6, 0.05e6, 0.15e6], 7.0, 25.0, 1e6, 6.0, 29.44, 6.67, 0.15, false_load=True
    )
    cycling = chiller_power_energyplus_w([0.01e6, 0.05e6, 0.15e6], 7.0, 25.0, 1e6, 6.0, 29.44, 6.67, 0.15)
    assert false[0] == pytest.approx(false[2]) and false[1] == pytest.approx(false[2])
    assert cycling[0] < cycling[1] < cycling[2] == pytest.approx(false[2])
    assert float(chiller_power_energyplus_w(0.0, 7.0, 25.0, 1e6, 6.0, 29.44, 6.67, 0.15, false_load=True)) == 0.0
    # no turndown: still off at no load, so a step's power does not depend on the steps evaluated with it
    no_turndown = chiller_power_energyplus_w([0.0, 0.01e6], 7.0, 25.0, 1e6, 6.0, 29.44, 6.67, 0.0)
    assert no_turndown[0] == 0.0 < no_turndown[1]
    design = default_design("liquid_dry_cooler", chiller_min_part_load=0.0, adiabatic_effectiveness=0.0)
    alone = cooling_power(IT_W, -7.0, -11.0, design, capacity_w=IT_W).power_w
    beside_a_chiller_step = cooling_power(IT_W, -7.0, -11.0, design, [45.0, 5.0], capacity_w=IT_W).power_w
    assert beside_a_chiller_step[0] == float(alone)
    # zero heat: the plant is off, floors or not
    for kind in COOLING_TYPES:
        assert float(cooling_power(0.0, 20.0, 15.0, default_design(kind), capacity_w=IT_W).power_w) == 0.0


def test_tower_sensible_heat_rejection() -> None:
    """Share of tower heat leaving as latent heat: about 0.9 in a Japanese summer, well below 1 in winter."""
    summer = float(tower_evaporation_fraction(30.0, 24.0, 24.0 + 3.9 + 2.8))
    winter = float(tower_evaporation_fraction(2.0, -1.0, -1.0 + 3.9 + 2.8))
    assert 0.85 <= summer <= 1.0
    assert 0.4 <= winter <= 0.75
    # colder air at the same wet bulb takes more heat sensibly; hot dry air that the tower cools evaporates > Q/h_vap
    db = np.linspace(10.0, 20.0, 11)
    phi = tower_evaporation_fraction(db, 10.0, 10.0 + 6.7)
    assert np.all(np.diff(phi) > 0)
    assert float(tower_evaporation_fraction(40.0, 20.0, 26.0)) > 1.0
    water = tower_water_l_per_h(1e3, 5.0, 2e-5, 5.6, evaporation_fraction=winter)
    assert float(water) < float(tower_water_l_per_h(1e3, 5.0, 2e-5, 5.6))


def test_tower_water_lei_masanet() -> None:
    # 1 kWh rejected: 3.6 MJ / 2.43 MJ/kg evaporated, times CoC/(CoC - 1) with blowdown and drift
    per_kwh = float(tower_water_l_per_h(1e3, 5.0, 2e-5, 5.6))
    assert per_kwh == pytest.approx(3.6e6 / 2.43e6 * 5 / 4, rel=1e-9)


def test_result_fields_and_scalars() -> None:
    res = cooling_power(1e6, 10.0, 7.0, default_design("liquid_dry_cooler"))
    assert isinstance(res, CoolingResult) and res.power_w.shape == ()
    assert float(free_cooling_hours(res, 0.25)) == 0.25


def test_overrides_and_supply_default_from_w_class() -> None:
    d = default_design("liquid_tower", w_class="W32", air_share=0.2)
    assert d.supply_temp_c == 32.0 and d.air_share == 0.2
    assert default_design("immersion", heat_rejection="tower").chiller_rated_cop == 6.0


# --- bad input ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "overrides", "field", "message"),
    [
        ("evaporative", {}, "cooling_type", "unknown cooling type 'evaporative'"),
        ("liquid_tower", {"w_class": "W50"}, "w_class", "unknown ASHRAE liquid class 'W50'"),
        ("liquid_tower", {"supply_temp_c": 48.0}, "supply_temp_c", r"supply_temp_c=48.0 must be in \[2, 45\]"),
        ("air_chiller", {"supply_temp_c": 2.0}, "supply_temp_c", r"supply_temp_c=2.0 must be in \[4, 25\]"),
        ("air_chiller", {"air_share": 0.5}, "air_share", "carries all heat in air"),
        ("liquid_dry_cooler", {"heat_rejection": "tower"}, "heat_rejection", "rejects heat through 'dry_cooler'"),
        (
            "liquid_dry_cooler",
            {"chiller_rated_cop": -1.0},
            "chiller_rated_cop",
            r"chiller_rated_cop=-1.0 must be in \(0, 20\]",
        ),
        (
            "liquid_dry_cooler",
            {"cycles_of_concentration": 1.0},
            "cycles_of_concentration",
            r"=1.0 must be in \(1, 50\]",
        ),
        ("liquid_dry_cooler", {"tower_approach_k": float("nan")}, "tower_approach_k", "nan"),
        ("immersion", {"fan_speed": 3}, "fan_speed", "unknown cooling design parameter"),
    ],
)
def test_bad_design(kind: str, overrides: dict, field: str, message: str) -> None:
    with pytest.raises(WattbitInputError, match=message) as err:
        default_design(kind, **overrides)
    assert err.value.field == field


@pytest.mark.parametrize(
    ("args", "kwargs", "field"),
    [
        ((-1.0, 20.0, 15.0), {}, "heat_w"),
        ((1e6, [20.0, np.nan], 15.0), {}, "temp_db_c"),
        ((1e6, 20.0, np.nan), {}, "temp_wb_c"),
        ((1e6, 75.0, 15.0), {}, "temp_db_c"),
        ((1e6, -70.0, -70.0), {}, "temp_db_c"),
        ((1e6, [20.0, 15.0], [15.0, 17.0]), {}, "temp_wb_c"),
        ((1e6, 20.0, 15.0), {"supply_temp_c": 50.0}, "supply_temp_c"),
        ((1e6, 20.0, 15.0), {"capacity_w": 0.0}, "capacity_w"),
        ((np.inf, 20.0, 15.0), {}, "heat_w"),
    ],
)
def test_bad_inputs_name_the_field(args: tuple, kwargs: dict, field: str) -> None:
    with pytest.raises(WattbitInputError) as err:
        cooling_power(*args, default_design("liquid_dry_cooler"), **kwargs)
    assert err.value.field == field


def test_wet_bulb_above_dry_bulb_message() -> None:
    with pytest.raises(WattbitInputError, match=r"wet bulb exceeds dry bulb by 2.00 K at position \(1,\)"):
        cooling_power(1e6, [20.0, 15.0], [15.0, 17.0], default_design("air_chiller"))
    # a small excess from an empirical wet-bulb fit is accepted and clipped
    ok = cooling_power(1e6, 20.0, 20.3, default_design("air_chiller"))
    assert ok.power_w == cooling_power(1e6, 20.0, 20.0, default_design("air_chiller")).power_w


def test_bad_step() -> None:
    res = cooling_power(1e6, 10.0, 7.0, default_design("immersion"))
    with pytest.raises(WattbitInputError, match="step_h=0.0 must be a finite number > 0"):
        free_cooling_hours(res, 0.0)

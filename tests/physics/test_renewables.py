"""PV (pvlib) and wind (windpowerlib) output, checked on real JMA weather and against the libraries themselves."""

from __future__ import annotations

import filecmp
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import windpowerlib
from pvlib import iam, inverter, irradiance, pvsystem, solarposition, temperature
from windpowerlib import power_output

from wattbit.data.jma import STATIONS, read_jma_hourly
from wattbit.errors import WattbitInputError
from wattbit.physics.renewables import (
    DEFAULT_TURBINE,
    capacity_factor,
    default_tilt_deg,
    known_turbine_types,
    plane_of_array_w_m2,
    pv_power_w,
    site_generation_w,
    solar_position_mid_period_deg,
    turbine_power_curve,
    wind_power_w,
)
from wattbit.scenario import load_scenario

#: JMA anemometer heights above ground [m] (S: JMA station list as quoted by set333.net 2019 for Sendai and
#: Sapporo; Tokyo: Science Museum roof in Kitanomaru Park since 2007, about 35 m, as quoted by mai-b.co.jp 2012).
ANEMOMETER_HEIGHT_M = {"sendai": 52.6, "sapporo": 59.5, "tokyo": 35.3}
COLUMNS = ["ghi_w_m2", "temp_air_c", "wind_speed_m_s", "pressure_pa"]
CAP_W = 1.0e6


@pytest.fixture(scope="module")
def jma_2022(shared_data: Path) -> dict[str, pd.DataFrame]:
    """Calendar year 2022 (JST) at three JMA observatories, the few missing hours filled by interpolation."""
    out = {}
    for station in ANEMOMETER_HEIGHT_M:
        frame, _ = read_jma_hourly(shared_data / f"japan/weather-jma/{station}_hourly.csv.gz")
        year = frame.loc["2021-12-31 15:00":"2022-12-31 14:00", COLUMNS]
        assert year[COLUMNS].isna().sum().sum() < 20  # a handful: fill them here, as the reader never does
        out[station] = year.interpolate(limit_direction="both")
    return out


def _pv(frame: pd.DataFrame, station: str, **kwargs: float) -> np.ndarray:
    st = STATIONS[station]
    return pv_power_w(
        frame.index,
        frame["ghi_w_m2"],
        frame["temp_air_c"],
        frame["wind_speed_m_s"],
        st.latitude_deg,
        st.longitude_deg,
        CAP_W,
        **kwargs,
    )


# ------------------------------------------------------------------------------------------------------------- PV
@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("station", "lo", "hi"), [("sendai", 0.11, 0.16), ("sapporo", 0.10, 0.16), ("tokyo", 0.11, 0.16)]
)
def test_pv_capacity_factor_2022(jma_2022: dict[str, pd.DataFrame], station: str, lo: float, hi: float) -> None:
    # AC energy over DC nameplate, the usual basis in Japan (FIT-era utility PV: about 14 %)
    frame = jma_2022[station]
    assert len(frame) == 8759 or len(frame) == 8760
    cf = capacity_factor(_pv(frame, station), CAP_W)
    assert lo <= cf <= hi


@pytest.mark.shared_data
def test_pv_zero_at_night_and_never_above_ac_rating(jma_2022: dict[str, pd.DataFrame]) -> None:
    frame = jma_2022["sendai"]
    for ratio in (1.2, 1.6):
        power = _pv(frame, "sendai", dc_ac_ratio=ratio)
        assert np.all(power[frame["ghi_w_m2"].to_numpy() == 0.0] == 0.0)
        assert power.min() >= 0.0
        assert power.max() <= CAP_W / ratio * (1 + 1e-12)
    assert np.sum(power >= CAP_W / 1.6 * (1 - 1e-9)) > 50  # an oversized array does clip on clear days


@pytest.mark.shared_data
def test_south_facing_beats_flat_beats_north_facing(jma_2022: dict[str, pd.DataFrame]) -> None:
    frame = jma_2022["sendai"]
    south = _pv(frame, "sendai").sum()
    flat = _pv(frame, "sendai", tilt_deg=0.0).sum()
    north = _pv(frame, "sendai", azimuth_deg=0.0).sum()
    assert south > 1.1 * flat > 1.1 * north


@pytest.mark.shared_data
def test_default_tilt_is_near_the_best_on_sendai_weather(jma_2022: dict[str, pd.DataFrame]) -> None:
    frame, st = jma_2022["sendai"], STATIONS["sendai"]

    def insolation(tilt: float) -> float:
        poa = plane_of_array_w_m2(frame.index, frame["ghi_w_m2"], st.latitude_deg, st.longitude_deg, tilt_deg=tilt)
        return float(poa["poa_global"].sum())

    best = max(insolation(t) for t in range(10, 56, 5))
    assert 29.0 < default_tilt_deg(st.latitude_deg) < 33.0
    assert insolation(float(default_tilt_deg(st.latitude_deg))) > 0.99 * best


@pytest.mark.shared_data
def test_plane_of_array_closure_and_horizontal_plane(jma_2022: dict[str, pd.DataFrame]) -> None:
    frame, st = jma_2022["sendai"], STATIONS["sendai"]
    ghi = frame["ghi_w_m2"].to_numpy()
    poa = plane_of_array_w_m2(frame.index, ghi, st.latitude_deg, st.longitude_deg)
    zenith, _ = solar_position_mid_period_deg(frame.index, st.latitude_deg, st.longitude_deg)
    # Erbs closure, GHI = DNI cos(z) + DHI, with the mid-period zenith
    np.testing.assert_allclose(poa["dni"] * np.cos(np.deg2rad(zenith)) + poa["dhi"], ghi, atol=1e-6)
    assert poa["dni"].min() >= 0.0 and np.all(poa["dhi"] >= 0.0) and np.all(poa["dhi"] <= ghi + 1e-9)
    assert np.all(poa["dni"][zenith > 87.0] == 0.0)
    # on a horizontal plane Hay-Davies gives back GHI exactly (beam ratio 1, no ground view)
    flat = plane_of_array_w_m2(frame.index, ghi, st.latitude_deg, st.longitude_deg, tilt_deg=0.0)
    np.testing.assert_allclose(flat["poa_global"], ghi, atol=1e-6)


@pytest.mark.shared_data
def test_matches_the_plain_pvlib_chain_with_spa(jma_2022: dict[str, pd.DataFrame]) -> None:
    """The same models called one by one through pvlib's public API, with NREL SPA at mid-period."""
    frame, st = jma_2022["sendai"], STATIONS["sendai"]
    tilt = float(default_tilt_deg(st.latitude_deg))
    mid = frame.index + pd.Timedelta(minutes=30)
    sun = solarposition.get_solarposition(mid, st.latitude_deg, st.longitude_deg, method="nrel_numpy")
    zen, azi, ghi = sun["zenith"].to_numpy(), sun["azimuth"].to_numpy(), frame["ghi_w_m2"].to_numpy()
    doy = mid.day_of_year.to_numpy()
    split = irradiance.erbs(ghi, zen, doy)
    poa = irradiance.get_total_irradiance(
        tilt,
        180.0,
        zen,
        azi,
        split["dni"],
        ghi,
        split["dhi"],
        irradiance.get_extra_radiation(doy),
        albedo=0.2,
        model="haydavies",
    )
    effective = poa["poa_global"] - (1 - iam.physical(irradiance.aoi(tilt, 180.0, zen, azi))) * poa["poa_direct"]
    params = temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"]["open_rack_glass_polymer"]
    t_cell = temperature.sapm_cell(poa["poa_global"], frame["temp_air_c"], frame["wind_speed_m_s"], **params)
    dc = pvsystem.pvwatts_dc(effective, t_cell.to_numpy(), CAP_W, -0.0037) * 0.86
    reference = np.nan_to_num(inverter.pvwatts(dc, CAP_W / 1.2 / 0.96, 0.96))
    ours = _pv(frame, "sendai")
    assert ours.sum() == pytest.approx(reference.sum(), rel=0.005)
    assert np.sqrt(np.mean((ours - reference) ** 2)) < 0.005 * CAP_W


def test_mid_period_sun_matches_spa_within_a_quarter_degree() -> None:
    lat, lon = STATIONS["sendai"].latitude_deg, STATIONS["sendai"].longitude_deg
    starts = pd.DatetimeIndex(
        ["2022-03-21 00:00", "2022-06-21 03:00", "2022-09-23 06:00", "2022-12-21 02:00"], tz="UTC"
    )
    zen, azi = solar_position_mid_period_deg(starts, lat, lon, period_s=3600.0)
    spa = solarposition.get_solarposition(starts + pd.Timedelta(minutes=30), lat, lon, method="nrel_numpy")
    np.testing.assert_allclose(zen, spa["zenith"], atol=0.3)
    np.testing.assert_allclose(azi, spa["azimuth"], atol=0.5)
    # and not the sun at the period's start: that is 5-8 degrees away in these hours
    at_start = solarposition.get_solarposition(starts, lat, lon, method="nrel_numpy")
    assert np.all(np.abs(zen - at_start["zenith"].to_numpy()) + np.abs(azi - at_start["azimuth"].to_numpy()) > 3.0)
    # a whole year of hours, all daylight hours
    year = pd.date_range("2022-01-01", periods=8760, freq="1h", tz="UTC")
    zen, _ = solar_position_mid_period_deg(year, lat, lon)
    spa = solarposition.get_solarposition(year + pd.Timedelta(minutes=30), lat, lon, method="nrel_numpy")
    day = spa["zenith"].to_numpy() < 89.0
    assert np.abs(zen - spa["zenith"].to_numpy())[day].max() < 0.3


def test_many_sites_in_one_call_equal_single_site_calls() -> None:
    times = pd.date_range("2022-05-01", periods=96 * 4, freq="15min", tz="UTC")
    rng = np.random.default_rng(1)
    lat, lon = np.array([35.7, 38.3, 43.1]), np.array([139.8, 140.9, 141.3])
    cap, tilt = np.array([1e6, 5e6, 2e7]), np.array([10.0, 30.0, 45.0])
    elevation = np.maximum(0.0, 90.0 - solar_position_mid_period_deg(times, lat, lon)[0])
    ghi = np.minimum(1000.0, 12.0 * elevation) * rng.uniform(0.3, 1.0, (len(times), 3))
    temp, wind = rng.uniform(5, 30, (len(times), 3)), rng.uniform(0, 8, (len(times), 3))
    many = pv_power_w(times, ghi, temp, wind, lat, lon, cap, tilt_deg=tilt)
    assert many.shape == (len(times), 3)
    for s in range(3):
        one = pv_power_w(times, ghi[:, s], temp[:, s], wind[:, s], lat[s], lon[s], cap[s], tilt_deg=tilt[s])
        np.testing.assert_allclose(many[:, s], one, rtol=1e-12, atol=1e-6)
    # one weather series shared by all sites broadcasts too
    shared = pv_power_w(times, ghi[:, 0], temp[:, 0], wind[:, 0], lat, lon, cap)
    assert shared.shape == (len(times), 3)


@pytest.mark.shared_data
def test_quarter_hours_give_the_same_year_as_hours(jma_2022: dict[str, pd.DataFrame]) -> None:
    frame = jma_2022["tokyo"]
    quarter = (
        frame.resample("15min")
        .ffill()
        .reindex(pd.date_range(frame.index[0], periods=4 * len(frame), freq="15min"))
        .ffill()
    )  # each hour's mean held for its four quarters
    cf_hour = capacity_factor(_pv(frame, "tokyo"), CAP_W)
    cf_quarter = capacity_factor(_pv(quarter, "tokyo"), CAP_W)
    assert cf_quarter == pytest.approx(cf_hour, rel=0.02)


@pytest.mark.shared_data
def test_age_degrades_output(jma_2022: dict[str, pd.DataFrame]) -> None:
    frame = jma_2022["sendai"]
    new, old = _pv(frame, "sendai").sum(), _pv(frame, "sendai", age_years=10.0).sum()
    assert old / new == pytest.approx(0.95, abs=0.01)


# ----------------------------------------------------------------------------------------------------------- wind
def test_turbine_library_ships_with_windpowerlib_offline(shared_data: Path) -> None:
    bundled = Path(windpowerlib.__file__).parent / "oedb" / "power_curves.csv"
    assert filecmp.cmp(bundled, shared_data / "fixtures/windpowerlib-turbines/power_curves.csv", shallow=False)
    assert DEFAULT_TURBINE in known_turbine_types() and len(known_turbine_types()) > 50


@pytest.mark.parametrize("turbine", [DEFAULT_TURBINE, "V112/3450", "E-82/2300"])
def test_power_curve_points_reproduced(turbine: str) -> None:
    speeds, power, rated = turbine_power_curve(turbine)
    out = wind_power_w(
        speeds, rated, measurement_height_m=100.0, hub_height_m=100.0, turbine_type=turbine, losses_pct=0.0
    )
    np.testing.assert_allclose(out[:-1], power[:-1])  # the last point is cut-out: stopped there
    assert out[-1] == 0.0 and power.max() == pytest.approx(rated, rel=0.03)


def test_zero_below_cut_in_and_at_or_above_cut_out() -> None:
    speeds, power, rated = turbine_power_curve(DEFAULT_TURBINE)
    cut_in = speeds[np.flatnonzero(power > 0)[0] - 1]
    v = np.array([0.0, 0.5 * cut_in, cut_in, speeds[-1], speeds[-1] + 0.1, 40.0])
    out = wind_power_w(v, rated, measurement_height_m=100.0, hub_height_m=100.0, losses_pct=0.0)
    np.testing.assert_array_equal(out, 0.0)
    assert wind_power_w(speeds[-1] - 0.5, rated, measurement_height_m=100.0, losses_pct=0.0) == pytest.approx(rated)


def test_fractional_turbines_losses_and_log_law() -> None:
    _, _, rated = turbine_power_curve(DEFAULT_TURBINE)
    one = wind_power_w(9.0, rated, measurement_height_m=100.0, losses_pct=0.0)
    assert wind_power_w(9.0, 1.5 * rated, measurement_height_m=100.0, losses_pct=10.0) == pytest.approx(1.35 * one)
    # log law, z0 = 0.1 m: 10 m -> 100 m multiplies the speed by ln(1000)/ln(100) = 1.5
    assert wind_power_w(6.0, rated, losses_pct=0.0) == pytest.approx(one)
    hellman = wind_power_w(6.0, rated, losses_pct=0.0, wind_profile="hellman", hellman_exponent=1 / 7)
    assert hellman == pytest.approx(wind_power_w(6.0 * 10 ** (1 / 7), rated, measurement_height_m=100.0, losses_pct=0))


def test_density_correction_equals_windpowerlib() -> None:
    speeds, power, rated = turbine_power_curve(DEFAULT_TURBINE)
    rng = np.random.default_rng(7)
    v = np.concatenate([rng.uniform(0.0, 24.9, 3000), speeds[:-1] * 1.001])
    temp_c, pressure_pa = rng.uniform(-15, 35, v.size), rng.uniform(88_000, 103_000, v.size)
    ours = wind_power_w(
        v, rated, measurement_height_m=100.0, losses_pct=0.0, temp_air_c=temp_c, pressure_pa=pressure_pa
    )
    # windpowerlib itself: same hub temperature (-6.5 K/km from 1.5 m) and ideal-gas density (-1 hPa per 8 m)
    temp_hub_k = temp_c + 273.15 - 0.0065 * (100.0 - 1.5)
    density = (pressure_pa / 100 - 100.0 / 8) * 100 / (287.058 * temp_hub_k)
    reference = power_output.power_curve(v, speeds, power, density=density, density_correction=True)
    np.testing.assert_allclose(ours, reference, atol=1e-3)
    cold = wind_power_w(8.0, rated, losses_pct=0.0, measurement_height_m=100.0, temp_air_c=-10.0, pressure_pa=101_325)
    hot = wind_power_w(8.0, rated, losses_pct=0.0, measurement_height_m=100.0, temp_air_c=35.0, pressure_pa=101_325)
    assert cold > wind_power_w(8.0, rated, losses_pct=0.0, measurement_height_m=100.0) > hot


def test_capacity_factor_of_a_typical_onshore_site() -> None:
    # Rayleigh-distributed hub wind with a 6.0 m/s mean, about what Japanese wind farms are sited on
    q = (np.arange(20_000) + 0.5) / 20_000
    v_hub = 6.0 / np.sqrt(np.pi / 2) * np.sqrt(-2.0 * np.log(1.0 - q))
    cf = capacity_factor(wind_power_w(v_hub, CAP_W, measurement_height_m=100.0), CAP_W)
    assert 0.20 <= cf <= 0.27  # onshore Japan: about 20-25 %


@pytest.mark.shared_data
@pytest.mark.parametrize(("station", "lo", "hi"), [("sendai", 0.02, 0.12), ("sapporo", 0.04, 0.15)])
def test_wind_capacity_factor_from_jma_2022(
    jma_2022: dict[str, pd.DataFrame], station: str, lo: float, hi: float
) -> None:
    # city observatories sit among buildings and well below good wind sites: a low CF is the right answer here
    frame = jma_2022[station]
    power = wind_power_w(
        frame["wind_speed_m_s"],
        CAP_W,
        measurement_height_m=ANEMOMETER_HEIGHT_M[station],
        hub_height_m=100.0,
        temp_air_c=frame["temp_air_c"],
        pressure_pa=frame["pressure_pa"],
    )
    assert power.min() >= 0.0 and power.max() <= CAP_W * 0.9 + 1e-6
    assert lo <= capacity_factor(power, CAP_W) <= hi


# ------------------------------------------------------------------------------------------------- bad input, CF
def _good_pv(**change: object) -> dict[str, object]:
    times = pd.date_range("2022-06-01", periods=24, freq="1h", tz="UTC")
    args: dict[str, object] = {
        "times_utc": times,
        "ghi_w_m2": np.full(24, 300.0),
        "temp_air_c": np.full(24, 20.0),
        "wind_speed_m_s": np.full(24, 2.0),
        "latitude_deg": 38.0,
        "longitude_deg": 140.0,
        "capacity_dc_w": 1e6,
    }
    args.update(change)
    return args


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"capacity_dc_w": -1.0}, "capacity_dc_w"),
        ({"ghi_w_m2": np.r_[np.full(23, 300.0), np.nan]}, "ghi_w_m2"),
        ({"ghi_w_m2": np.full(24, -1.0)}, "ghi_w_m2"),
        ({"ghi_w_m2": np.full(24, 1600.0)}, "ghi_w_m2"),
        ({"temp_air_c": np.full(24, np.nan)}, "temp_air_c"),
        ({"wind_speed_m_s": np.r_[np.nan, np.full(23, 2.0)]}, "wind_speed_m_s"),
        ({"latitude_deg": 95.0}, "latitude_deg"),
        ({"ghi_w_m2": np.full(23, 300.0)}, "ghi_w_m2"),
        ({"capacity_dc_w": np.ones(3), "latitude_deg": np.ones(2)}, "latitude_deg"),
        ({"times_utc": pd.date_range("2022-06-01", periods=24, freq="1h")}, "times_utc"),
        ({"dc_ac_ratio": 0.0}, "dc_ac_ratio"),
    ],
)
def test_pv_bad_input_names_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(WattbitInputError) as err:
        pv_power_w(**_good_pv(**change))  # type: ignore[arg-type]
    assert err.value.field == field


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"wind_speed_m_s": 5.0, "capacity_w": -1.0}, "capacity_w"),
        ({"wind_speed_m_s": [5.0, np.nan], "capacity_w": 1e6}, "wind_speed_m_s"),
        ({"wind_speed_m_s": 5.0, "capacity_w": 1e6, "turbine_type": "Windy McWindface"}, "turbine_type"),
        ({"wind_speed_m_s": 5.0, "capacity_w": 1e6, "temp_air_c": 10.0}, "pressure_pa"),
        ({"wind_speed_m_s": 5.0, "capacity_w": 1e6, "temp_air_c": np.nan, "pressure_pa": 1e5}, "temp_air_c"),
    ],
)
def test_wind_bad_input_names_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(WattbitInputError) as err:
        wind_power_w(**kwargs)  # type: ignore[arg-type]
    assert err.value.field == field
    if field == "turbine_type":
        assert "E-126/4200" in str(err.value)


def test_capacity_factor() -> None:
    assert capacity_factor([0.0, 50.0, 100.0], 100.0) == pytest.approx(0.5)
    assert capacity_factor(np.array([[1.0, 10.0], [3.0, 30.0]]), np.array([4.0, 40.0])) == pytest.approx(0.5)
    with pytest.raises(WattbitInputError, match="capacity"):
        capacity_factor([1.0], 0.0)
    with pytest.raises(WattbitInputError) as err:
        capacity_factor([np.nan], 1.0)
    assert err.value.field == "power_w"


def test_wind_many_sites_and_shape_errors() -> None:
    v = np.tile(np.linspace(0, 30, 61)[:, None], (1, 3))
    cap = np.array([1e6, 2e6, 0.0])
    out = wind_power_w(v, cap)
    np.testing.assert_allclose(out[:, 1], 2 * out[:, 0])
    assert np.all(out[:, 2] == 0.0)
    with pytest.raises(WattbitInputError) as err:
        wind_power_w(np.ones(5), np.ones(3))
    assert err.value.field == "capacity_w"


# ----------------------------------------------------------------------------------------------------------- a site
def _week_of_weather() -> pd.DataFrame:
    index = pd.date_range("2022-06-01", periods=7 * 96, freq="15min", tz="UTC")
    hour = index.hour.to_numpy() + index.minute.to_numpy() / 60.0
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "ghi_w_m2": np.clip(900.0 * np.sin((hour - 21.0) / 14.0 * np.pi), 0.0, None),  # JST daylight
            "temp_air_c": 22.0 + 5.0 * np.sin(hour / 24.0 * 2 * np.pi),
            "wind_speed_m_s": rng.uniform(0.0, 15.0, index.size),
            "pressure_pa": np.full(index.size, 100_500.0),
        },
        index=index,
    )


def test_site_generation_uses_the_site_design_and_installed_capacity() -> None:
    sites = {s.name: s for s in load_scenario("japan-2022").sites}
    weather = _week_of_weather()
    pv_site, wind_site = sites["fukushima"], sites["ishikari"]  # 8 MW PV, no wind; 10 MW wind, no PV
    pv_only = site_generation_w(pv_site, weather)
    d = pv_site.design
    expected_pv = pv_power_w(
        weather.index,
        weather["ghi_w_m2"],
        weather["temp_air_c"],
        weather["wind_speed_m_s"],
        pv_site.latitude_deg,
        pv_site.longitude_deg,
        pv_site.pv_mw * 1e6,
        tilt_deg=d.pv_tilt_deg,
        azimuth_deg=d.pv_azimuth_deg,
        dc_ac_ratio=d.pv_dc_ac_ratio,
    )
    np.testing.assert_array_equal(pv_only.pv_w, expected_pv)
    assert pv_only.pv_w.max() > 0.0 and not pv_only.wind_w.any()
    wind_only = site_generation_w(wind_site, weather)
    d = wind_site.design
    expected_wind = wind_power_w(
        weather["wind_speed_m_s"],
        wind_site.wind_mw * 1e6,
        measurement_height_m=d.anemometer_height_m,
        hub_height_m=d.wind_hub_height_m,
        roughness_length_m=d.roughness_length_m,
        turbine_type=d.wind_turbine,
        temp_air_c=weather["temp_air_c"],
        pressure_pa=weather["pressure_pa"],
    )
    np.testing.assert_array_equal(wind_only.wind_w, expected_wind)
    assert wind_only.wind_w.max() > 0.0 and not wind_only.pv_w.any()


def test_site_generation_at_a_given_capacity_and_without_unused_columns() -> None:
    site = next(s for s in load_scenario("japan-2022").sites if s.name == "fukushima")
    weather = _week_of_weather()
    per_mw = site_generation_w(site, weather, pv_capacity_dc_w=1e6, wind_capacity_w=1e6)
    installed = site_generation_w(site, weather)
    np.testing.assert_allclose(per_mw.pv_w * site.pv_mw, installed.pv_w, rtol=1e-12)
    assert per_mw.wind_w.max() > 0.0  # a reference wind plant where the site has none
    pv_only = site_generation_w(site, weather.drop(columns="pressure_pa"), wind_capacity_w=0.0)
    np.testing.assert_array_equal(pv_only.pv_w, installed.pv_w)

"""The grid's carbon-free share ``cfe_pct``: from an area mix, from Electricity Maps, and when the data give none."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wattbit.data.area_supply_demand import read_tohoku_hourly
from wattbit.data.signals import load_site_signals
from wattbit.errors import WattbitInputError
from wattbit.physics.carbon import carbon_free_share_from_mix
from wattbit.scenario import Scenario, builtin_scenario_path, parse_scenario

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "japan-2022-from-files.toml"

# Tohoku 2022, hour-beginning JST rows of tohoku_hourly.csv, read by hand (MWh):
# hydro, thermal, nuclear, solar, wind, geothermal, biomass (pumped storage, interconnector and curtailment excluded)
HAND = {
    # sunny spring noon with 1,269 MWh of solar curtailed: (2232 + 4640 + 308 + 130 + 334) / (... + 2867)
    "2022-04-17T12:00": 100 * 7644 / 10511,
    # noon while pumping 446 MWh: (1797 + 5215 + 944 + 124 + 357) / (... + 2171)
    "2022-05-04T12:00": 100 * 8437 / 10608,
    # winter night, no solar: (986 + 1260 + 143 + 413) / (... + 11406)
    "2022-01-15T03:00": 100 * 2802 / 14208,
}


def _utc(jst: str) -> pd.Timestamp:
    return pd.Timestamp(jst, tz="Asia/Tokyo").tz_convert("UTC")


def _from_files(shared_data: Path) -> Scenario:
    text = EXAMPLE.read_text(encoding="utf-8").replace("../../shared/data", shared_data.resolve().as_posix())
    return parse_scenario(text, EXAMPLE)


def test_share_from_the_tohoku_mix_by_hand(shared_data: Path) -> None:
    mix, _ = read_tohoku_hourly(shared_data / "japan/area-supply-demand/tohoku_hourly.csv")
    cfe = carbon_free_share_from_mix(mix)
    for jst, expected in HAND.items():
        assert cfe[_utc(jst)] == pytest.approx(expected, rel=1e-12), jst
    assert cfe.name == "cfe_pct" and cfe.between(0, 100).all()


def test_site_signal_from_the_area_mix_and_electricity_maps(shared_data: Path) -> None:
    scenario = _from_files(shared_data)
    sig, prov = load_site_signals(scenario.site("fukushima"), scenario.period)
    assert sig["cfe_pct"].notna().all() and len(sig) == 8760
    for jst, expected in HAND.items():
        assert sig.loc[_utc(jst), "cfe_pct"] == pytest.approx(expected, rel=1e-12), jst
    assert "interconnectors" in prov.sources["carbon"]["cfe"]

    sig, prov = load_site_signals(scenario.site("inzai"), scenario.period)
    raw = pd.read_csv(shared_data / "world/electricitymaps-carbon/JP-TK/JP-TK_2022_hourly.csv.gz")
    rows = raw.iloc[[0, 2000, 5000]]
    for stamp, value in zip(rows["Datetime (UTC)"], rows["Low Carbon Percentage"], strict=True):
        assert sig.loc[pd.Timestamp(stamp, tz="UTC"), "cfe_pct"] == value
    assert "Electricity Maps" in prov.sources["carbon"]["cfe"]


def _csv_scenario(tmp_path: Path, cfe: list[float] | None) -> Scenario:
    """A one-day scenario whose fukushima carbon data are a user CSV: intensity, plus ``cfe`` if given."""
    times = pd.date_range("2022-03-01T00:00+09:00", periods=24, freq="1h").tz_convert("UTC")
    frame = pd.DataFrame({"time_utc": times.strftime("%Y-%m-%dT%H:%M:%SZ"), "carbon_g_per_kwh": 500.0})
    if cfe is not None:
        frame["cfe_pct"] = cfe
    path = tmp_path / "carbon.csv"
    frame.to_csv(path, index=False)
    text = builtin_scenario_path("japan-2022").read_text(encoding="utf-8")
    text = text.replace("start = 2022-01-01T00:00:00+09:00", "start = 2022-03-01T00:00:00+09:00")
    text = text.replace("end = 2023-01-01T00:00:00+09:00", "end = 2022-03-02T00:00:00+09:00")
    text = text.replace(
        'carbon = { builtin = "japan-2022:fukushima" }',
        f'carbon = {{ reader = "wattbit_signals", path = "{path.as_posix()}" }}',
    )
    return parse_scenario(text, builtin_scenario_path("japan-2022"))


def test_intensity_only_gives_nan_and_says_why(tmp_path: Path) -> None:
    scenario = _csv_scenario(tmp_path, None)
    sig, prov = load_site_signals(scenario.site("fukushima"), scenario.period)
    assert sig["cfe_pct"].isna().all()
    assert (sig["carbon_g_per_kwh"] == 500.0).all() and sig["temp_air_c"].notna().all()
    assert prov.sources["carbon"]["cfe"].startswith("unavailable: the carbon data give an intensity")


def test_user_share_is_read_and_a_gap_makes_it_unavailable(tmp_path: Path) -> None:
    values = [float(v) for v in np.linspace(10, 80, 24)]
    scenario = _csv_scenario(tmp_path, values)
    sig, prov = load_site_signals(scenario.site("fukushima"), scenario.period)
    for quarter in range(4):  # 15-min steps hold the hour's share
        np.testing.assert_allclose(sig["cfe_pct"].to_numpy()[quarter::4], values, rtol=1e-12)
    assert prov.sources["carbon"]["cfe"] == "cfe_pct column of the signals file"

    values[5] = float("nan")
    scenario = _csv_scenario(tmp_path, values)
    sig, prov = load_site_signals(scenario.site("fukushima"), scenario.period)
    assert sig["cfe_pct"].isna().all() and (sig["carbon_g_per_kwh"] == 500.0).all()
    assert "unavailable: " in prov.sources["carbon"]["cfe"] and "1 periods" in prov.sources["carbon"]["cfe"]


def test_share_outside_0_100_is_an_error(tmp_path: Path) -> None:
    scenario = _csv_scenario(tmp_path, [50.0] * 23 + [120.0])
    # the reader refuses it already, at its line (the file's header is line 1, 14:00 UTC the 24th row)
    with pytest.raises(WattbitInputError, match=r"value 120 for cfe_pct is not physically possible") as e:
        load_site_signals(scenario.site("fukushima"), scenario.period)
    assert (e.value.field, e.value.row) == ("cfe_pct", 25)


def test_mix_errors_are_clear() -> None:
    mix = pd.DataFrame({"thermal_mwh": [1.0], "solar_mwh": [1.0]})
    assert carbon_free_share_from_mix(mix).iloc[0] == 50.0
    assert carbon_free_share_from_mix(mix, carbon_free=("hydro",)).iloc[0] == 0.0
    assert np.isnan(carbon_free_share_from_mix(mix * 0).iloc[0])  # no generation: unknown, not 0 %
    with pytest.raises(WattbitInputError, match=r"unknown carbon-free source\(s\) \['coal'\]"):
        carbon_free_share_from_mix(mix, carbon_free=("coal",))
    with pytest.raises(WattbitInputError, match="negative generation -1.0"):
        carbon_free_share_from_mix(mix * -1)
    with pytest.raises(WattbitInputError, match="no generation columns"):
        carbon_free_share_from_mix(pd.DataFrame({"demand_mwh": [1.0]}))

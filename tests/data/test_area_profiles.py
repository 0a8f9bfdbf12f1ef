"""Area wind and solar output per installed MW: published capacities, the demo extract, published CF ranges."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wattbit.data.area_profiles import AREA_CAPACITY_MW, area_output_per_mw, capacity_for_year
from wattbit.data.area_supply_demand import read_area_supply_demand, read_tohoku_hourly
from wattbit.data.signals import load_scenario_signals
from wattbit.errors import WattbitInputError
from wattbit.physics.renewables import CF_RANGES, capacity_factor_flag
from wattbit.scenario import load_scenario

HOKKAIDO_FILES = [f"sup_dem_results_{q}.csv" for q in ("2021_4q", "2022_1q", "2022_2q", "2022_3q")]


def test_capacity_rule() -> None:
    both = capacity_for_year("tohoku", "wind", 2021)
    assert both is not None and both[0] == pytest.approx((1_600 + 1_770) / 2) and "mean of" in both[1]
    start = capacity_for_year("tohoku", "solar", 2022)
    assert start is not None and start[0] == 7_250 and "upper estimate" in start[1]
    stated = capacity_for_year("hokkaido", "wind", 2022)
    assert stated is not None and stated[0] == 577
    assert capacity_for_year("hokkaido", "wind", 2019) is None
    assert capacity_for_year("tokyo", "solar", 2022) is None
    for capacities in AREA_CAPACITY_MW.values():
        assert all(c.status in ("V", "S", "U") and c.source and c.mw > 0 for c in capacities)


def test_profile_of_a_frame() -> None:
    index = pd.date_range("2021-12-31 15:00", periods=48, freq="h", tz="UTC")  # JST 2022-01-01, two days
    frame = pd.DataFrame({"wind_mwh": 577.0 * 0.3, "wind_curtailed_mwh": 577.0 * 0.1, "solar_mwh": 0.0}, index=index)
    profiles, notes = area_output_per_mw(frame, "hokkaido")
    np.testing.assert_allclose(profiles["wind_cf_area"], 0.4)  # curtailed output is added back
    np.testing.assert_allclose(profiles["solar_cf_area"], 0.0)
    assert any("577 MW" in n for n in notes)
    old, notes = area_output_per_mw(frame.set_axis(index - pd.Timedelta(days=3 * 365)), "hokkaido")
    assert old.isna().all().all() and any("no published installed capacity" in n for n in notes)
    with pytest.raises(WattbitInputError, match="negative"):
        area_output_per_mw(frame.assign(wind_mwh=-1.0), "hokkaido")
    with pytest.raises(WattbitInputError, match="tz-aware"):
        area_output_per_mw(frame.tz_localize(None), "hokkaido")


@pytest.mark.shared_data
def test_hokkaido_and_tohoku_wind_in_the_published_range(shared_data: Path) -> None:
    """Hokkaido's wind farms: the METI survey of 38 farms averaged 21.5 % (subprefectures up to 25.7 %); the area's
    2022 output per installed MW is 27 %, inside the published 20-31 % (a city anemometer gave 8.4 %)."""
    folder = shared_data / "japan/area-supply-demand"
    hokkaido, _ = read_area_supply_demand([folder / "raw/hokkaido" / f for f in HOKKAIDO_FILES], "hokkaido")
    tohoku, _ = read_tohoku_hourly(folder / "tohoku_hourly.csv")
    lo, hi, _ = CF_RANGES["wind"]
    for area, frame in (("hokkaido", hokkaido), ("tohoku", tohoku)):
        profiles, _ = area_output_per_mw(frame, area)
        year = profiles[pd.DatetimeIndex(profiles.index).tz_convert("Asia/Tokyo").year == 2022]
        assert len(year) == 8760
        wind, solar = float(year["wind_cf_area"].mean()), float(year["solar_cf_area"].mean())
        assert lo <= wind <= hi, (area, wind)
        assert capacity_factor_flag("wind", wind) is None
        # solar per installed AC MW; on a 1.2 DC/AC plant's DC nameplate it lies in the PV range
        assert CF_RANGES["pv"][0] <= solar / 1.2 <= CF_RANGES["pv"][1], (area, solar)
        assert float(year["wind_cf_area"].max()) < 1.0 and float(year["solar_cf_area"].max()) < 1.0
    assert capacity_factor_flag("wind", 0.084) is not None  # the old anemometer figure is flagged


@pytest.mark.shared_data
def test_demo_extract_carries_the_profiles_of_the_source_files(shared_data: Path) -> None:
    signals, provenance = load_scenario_signals(load_scenario("japan-2022"))
    folder = shared_data / "japan/area-supply-demand"
    hokkaido, _ = read_area_supply_demand([folder / "raw/hokkaido" / f for f in HOKKAIDO_FILES], "hokkaido")
    profiles, _ = area_output_per_mw(hokkaido, "hokkaido")
    hourly = signals["ishikari"][["wind_cf_area"]].resample("1h").mean()
    source = profiles.reindex(hourly.index)["wind_cf_area"]
    np.testing.assert_allclose(hourly["wind_cf_area"], source, atol=5e-4 + 1e-9)  # 3 decimals in the extract
    assert "hokkaido" in provenance["ishikari"].sources["generation"]["notes"][0]
    assert signals["inzai"]["wind_cf_area"].isna().all()  # no Tokyo area file: the anemometer model, said so
    assert provenance["inzai"].sources["generation"]["origin"].startswith("unavailable")

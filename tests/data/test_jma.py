"""JMA hourly observations: real files, a checked-in excerpt and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wattbit.data.jma import MJ_PER_M2_HOUR_TO_W_PER_M2, read_jma_hourly
from wattbit.errors import DataFormatError


@pytest.fixture()
def excerpt(fixtures_dir: Path) -> Path:
    return fixtures_dir / "jma" / "sendai_2022-06-20_22.csv"


def test_excerpt_time_is_hour_ending_jst_to_period_beginning_utc(excerpt: Path) -> None:
    frame, meta = read_jma_hourly(excerpt)
    # first row: 2022-06-20 hour 1 JST ends at 01:00 JST -> begins 00:00 JST = 2022-06-19 15:00 UTC
    assert frame.index[0] == pd.Timestamp("2022-06-19T15:00", tz="UTC")
    assert str(frame.index.tz) == "UTC"
    assert len(frame) == 72 and meta.gaps == []
    assert frame["temp_air_c"].iloc[0] == pytest.approx(21.4)
    assert frame["pressure_pa"].iloc[0] == pytest.approx(99_890.0)
    assert frame["wind_direction_deg"].iloc[0] == pytest.approx(112.5)  # 東南東 = ESE


def test_excerpt_irradiance_units_and_night(excerpt: Path) -> None:
    frame, meta = read_jma_hourly(excerpt)
    raw = pd.read_csv(excerpt, dtype=str, keep_default_na=False)
    mj = pd.to_numeric(raw["global_irradiation_mj_m2"].str.rstrip(" )]"), errors="coerce").to_numpy()
    ghi = frame["ghi_w_m2"].to_numpy()
    day = ~np.isnan(mj)
    np.testing.assert_allclose(ghi[day], mj[day] * MJ_PER_M2_HOUR_TO_W_PER_M2)
    # blanks are night hours and become 0; nothing is left missing in this excerpt
    assert np.all(ghi[~day] == 0.0) and not np.isnan(ghi).any()
    assert any("night-time" in c for c in meta.conversions)


def test_real_sendai_2022(shared_data: Path) -> None:
    frame, meta = read_jma_hourly(shared_data / "japan/weather-jma/sendai_hourly.csv.gz")
    year = frame.tz_convert("Asia/Tokyo").loc["2022"]
    # JMA's last hour of 2022 (hour 24 of Dec 31) is absent from the shared extract: reported, not filled
    assert len(year) == 8759
    assert meta.end_utc == pd.Timestamp("2022-12-31T13:00", tz="UTC")
    assert 12.0 < year["temp_air_c"].mean() < 15.0  # Sendai normal annual mean 12.8 °C (JMA 1991-2020)
    ghi_kwh_m2 = year["ghi_w_m2"].sum() / 1000.0
    assert 1200 < ghi_kwh_m2 < 1500
    assert meta.missing_values["temp_air_c"] == 5


def test_missing_column(tmp_path: Path, excerpt: Path) -> None:
    bad = tmp_path / "sendai_bad.csv"
    df = pd.read_csv(excerpt, dtype=str, keep_default_na=False).drop(columns=["temp_c"])
    df.to_csv(bad, index=False)
    with pytest.raises(DataFormatError, match=r"sendai_bad.csv: missing column\(s\) \['temp_c'\]"):
        read_jma_hourly(bad)


def test_time_going_backwards_names_the_line(tmp_path: Path, excerpt: Path) -> None:
    lines = excerpt.read_text(encoding="utf-8").splitlines()
    lines[5], lines[6] = lines[6], lines[5]
    bad = tmp_path / "sendai_swapped.csv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"line 7: time goes backwards"):
        read_jma_hourly(bad)


def test_not_a_number_names_line_and_column(tmp_path: Path, excerpt: Path) -> None:
    lines = excerpt.read_text(encoding="utf-8").splitlines()
    cells = lines[3].split(",")
    cells[6] = "warm"  # temp_c
    lines[3] = ",".join(cells)
    bad = tmp_path / "sendai_text.csv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"line 4, field 'temp_c': value 'warm' is not a number"):
        read_jma_hourly(bad)


def test_empty_file_and_garbage(tmp_path: Path) -> None:
    empty = tmp_path / "sendai_empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(DataFormatError, match="file is empty"):
        read_jma_hourly(empty)
    garbage = tmp_path / "sendai_garbage.csv"
    garbage.write_bytes(bytes(range(128, 256)) * 20)
    with pytest.raises(DataFormatError, match="cannot decode|missing column"):
        read_jma_hourly(garbage)


def test_unknown_station_needs_position(tmp_path: Path, excerpt: Path) -> None:
    other = tmp_path / "naha_hourly.csv"
    other.write_bytes(excerpt.read_bytes())
    with pytest.raises(DataFormatError, match="unknown JMA station 'naha'"):
        read_jma_hourly(other)
    frame, meta = read_jma_hourly(other, latitude_deg=26.2, longitude_deg=127.7)
    assert meta.attrs["latitude_deg"] == 26.2 and len(frame) == 72


def test_cp932_encoded_copy_reads_the_same(tmp_path: Path, excerpt: Path) -> None:
    sjis = tmp_path / "sendai_sjis.csv"
    sjis.write_bytes(excerpt.read_text(encoding="utf-8").encode("cp932"))
    a, _ = read_jma_hourly(excerpt)
    b, meta = read_jma_hourly(sjis)
    pd.testing.assert_frame_equal(a, b)
    assert meta.attrs["encoding"] == "cp932"

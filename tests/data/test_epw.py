"""Tests of the EnergyPlus weather (EPW) reader."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wattbit.data.epw import READERS, SNIFFERS, read_epw, sniff_epw
from wattbit.errors import DataFormatError

COLUMNS = [
    "temp_air_c",
    "temp_dew_c",
    "rel_humidity_pct",
    "pressure_pa",
    "ghi_w_m2",
    "dni_w_m2",
    "dhi_w_m2",
    "wind_speed_m_s",
    "wind_direction_deg",
]
# our column -> pvlib's
PVLIB = {
    "temp_air_c": "temp_air",
    "temp_dew_c": "temp_dew",
    "rel_humidity_pct": "relative_humidity",
    "pressure_pa": "atmospheric_pressure",
    "ghi_w_m2": "ghi",
    "dni_w_m2": "dni",
    "dhi_w_m2": "dhi",
    "wind_speed_m_s": "wind_speed",
    "wind_direction_deg": "wind_direction",
}


@pytest.fixture
def phoenix(fixtures_dir: Path) -> Path:
    return fixtures_dir / "epw" / "USA_AZ_Phoenix_jan31_feb1.epw"


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="ascii").splitlines()


def _write(tmp_path: Path, lines: list[str], name: str = "w.epw") -> Path:
    out = tmp_path / name
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def _set(line: str, field: int, value: str) -> str:
    cells = line.split(",")
    cells[field] = value
    return ",".join(cells)


def _pvlib_read(path: Path, coerce_year: int | None = None) -> tuple[pd.DataFrame, dict]:
    """pvlib's own EPW reader, as an independent reference (pvlib is a test-only dependency)."""
    import pvlib

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        text = fh.read()
    return pvlib.iotools.read_epw(io.StringIO(text), coerce_year=coerce_year)


# ---------------------------------------------------------------- fixture: layout, header, time


def test_fixture_layout_and_location(phoenix: Path) -> None:
    frame, meta = read_epw(phoenix, year=2022)
    assert list(frame.columns) == COLUMNS
    assert frame.index.name == "time_utc" and str(frame.index.tz) == "UTC"
    assert len(frame) == 48
    assert meta.attrs["latitude"] == 33.428 and meta.attrs["longitude"] == -112.004
    assert meta.attrs["tz_offset_hours"] == -7.0 and meta.attrs["elevation_m"] == 337.4
    assert meta.attrs["city"] == "Phoenix-Sky.Harbor.Intl.AP"
    assert meta.attrs["country"] == "USA" and meta.attrs["wmo_station"] == "722780"
    assert meta.attrs["data_source"] == "SRC-TMYx"
    assert meta.units["ghi_w_m2"] == "W/m2" and meta.units["pressure_pa"] == "Pa"
    assert "hour-ending" in meta.source_time_convention
    assert meta.reader == "epw"
    meta.to_dict()
    assert "Phoenix" in meta.summary()


def test_hour_ending_local_becomes_period_beginning_utc(phoenix: Path) -> None:
    frame, meta = read_epw(phoenix, year=2022)
    # "2021,1,31,1,..." is 00:00-01:00 local standard time (UTC-7) on 31 January -> begins 07:00 UTC
    assert frame.index[0] == pd.Timestamp("2022-01-31 07:00", tz="UTC")
    # hour 24 of 1 February is 23:00-24:00 local -> begins 06:00 UTC on 2 February
    assert frame.index[-1] == pd.Timestamp("2022-02-02 06:00", tz="UTC")
    assert frame.index.is_monotonic_increasing
    assert meta.gaps == []
    first = frame.iloc[0]
    # 9.40,5.00,74,98033,0,0,267,0,0,0,...,1,0.00
    assert first["temp_air_c"] == 9.4 and first["temp_dew_c"] == 5.0
    assert first["rel_humidity_pct"] == 74 and first["pressure_pa"] == 98033
    assert first["wind_direction_deg"] == 1 and first["wind_speed_m_s"] == 0.0
    assert any("re-stamped into local year 2022" in c for c in meta.conversions)
    assert meta.attrs["restamped_year"] == 2022


def test_typical_year_without_year_keeps_source_years(phoenix: Path) -> None:
    frame, meta = read_epw(phoenix)  # January from 2021, February from 2020: must not crash
    assert meta.attrs["typical_year"] is True
    assert meta.attrs["source_years"] == {1: [2021], 2: [2020]}
    assert frame.index[0] == pd.Timestamp("2021-01-31 07:00", tz="UTC")
    assert frame.index[24] == pd.Timestamp("2020-02-01 07:00", tz="UTC")
    assert not frame.index.is_monotonic_increasing
    assert meta.gaps == []  # no invented gap between the two source years
    assert meta.start_utc == frame.index.min() and meta.end_utc == frame.index.max()
    assert any("NOT monotonic" in n for n in meta.notes)


def test_year_restamp_equals_pvlib_coerce_year(phoenix: Path) -> None:
    ours, _ = read_epw(phoenix, year=2022)
    theirs, _ = _pvlib_read(phoenix, coerce_year=2022)
    assert (ours.index == theirs.index.tz_convert("UTC")).all()
    for col, name in PVLIB.items():
        np.testing.assert_array_equal(ours[col].to_numpy(), theirs[name].to_numpy(dtype=float))


def test_positive_and_fractional_offsets(tmp_path: Path, phoenix: Path) -> None:
    lines = _lines(phoenix)
    lines[0] = "LOCATION,Somewhere,-,IND,test,000000,19.0,73.0,5.5,10.0"
    frame, meta = read_epw(_write(tmp_path, lines), year=2022)
    assert frame.index[0] == pd.Timestamp("2022-01-30 18:30", tz="UTC")
    assert "UTC+05:30" in meta.source_time_convention


def test_leap_year_restamp_shows_29_february_as_gap(tmp_path: Path, phoenix: Path) -> None:
    lines = _lines(phoenix)
    data = [_set(_set(ln, 1, "2"), 2, "28") for ln in lines[8:32]]
    data += [_set(_set(ln, 1, "3"), 2, "1") for ln in lines[32:]]
    frame, meta = read_epw(_write(tmp_path, lines[:8] + data), year=2024)
    assert len(frame) == 48
    assert meta.missing_periods == 24
    assert any("leap year" in n for n in meta.notes)


def test_missing_codes_become_nan_and_are_counted(tmp_path: Path, phoenix: Path) -> None:
    lines = _lines(phoenix)
    lines[8] = _set(lines[8], 6, "99.9")  # dry bulb
    lines[9] = _set(lines[9], 7, "99.9")  # dew point
    lines[10] = _set(lines[10], 8, "999")  # relative humidity
    lines[11] = _set(lines[11], 9, "999999")  # pressure
    lines[12] = _set(lines[12], 13, "9999")  # GHI
    lines[13] = _set(lines[13], 14, "9999")  # DNI
    lines[14] = _set(lines[14], 15, "9999")  # DHI
    lines[15] = _set(lines[15], 21, "999")  # wind speed
    lines[16] = _set(lines[16], 20, "999")  # wind direction
    lines[17] = _set(lines[17], 6, "99.9")  # a second missing dry bulb
    frame, meta = read_epw(_write(tmp_path, lines), year=2022)
    assert meta.missing_values == {
        "temp_air_c": 2,
        "temp_dew_c": 1,
        "rel_humidity_pct": 1,
        "pressure_pa": 1,
        "ghi_w_m2": 1,
        "dni_w_m2": 1,
        "dhi_w_m2": 1,
        "wind_speed_m_s": 1,
        "wind_direction_deg": 1,
    }
    assert np.isnan(frame["temp_air_c"].iloc[0]) and np.isnan(frame["wind_direction_deg"].iloc[8])
    assert "temp_air_c: 2 values at or above the EPW missing code 99.9 read as NaN" in meta.notes
    assert any(n.startswith("pressure_pa: 1 ") and "999999" in n for n in meta.notes)
    assert len(frame) == 48  # rows kept, nothing filled


def test_out_of_range_values_are_kept_and_noted(tmp_path: Path, phoenix: Path) -> None:
    lines = _lines(phoenix)
    lines[8] = _set(lines[8], 21, "55.0")  # wind speed above the EPW range 0..40, below the code 999
    frame, meta = read_epw(_write(tmp_path, lines), year=2022)
    assert frame["wind_speed_m_s"].iloc[0] == 55.0
    assert any("wind_speed_m_s: 1 values outside" in n for n in meta.notes)


def test_exact_duplicate_row_is_dropped(tmp_path: Path, phoenix: Path) -> None:
    lines = _lines(phoenix)
    lines.insert(12, lines[11])
    frame, meta = read_epw(_write(tmp_path, lines), year=2022)
    assert len(frame) == 48 and meta.duplicates_dropped == 1


def test_gzip_and_latin1_header(tmp_path: Path, phoenix: Path) -> None:
    lines = _lines(phoenix)
    lines[0] = lines[0].replace("Phoenix-Sky.Harbor.Intl.AP", "São Paulo")
    out = tmp_path / "w.epw.gz"
    out.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode("latin-1")))
    frame, meta = read_epw(out, year=2022)
    assert meta.attrs["city"] == "São Paulo" and len(frame) == 48


# ---------------------------------------------------------------- bad input


def test_row_with_a_missing_field(tmp_path: Path, phoenix: Path) -> None:
    lines = _lines(phoenix)
    lines[20] = lines[20].rsplit(",", 1)[0]
    with pytest.raises(DataFormatError, match="34 fields") as err:
        read_epw(_write(tmp_path, lines))
    assert err.value.row == 21


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.epw"
    empty.write_text("\n\n")
    with pytest.raises(DataFormatError, match="empty"):
        read_epw(empty)


def test_header_without_data(tmp_path: Path, phoenix: Path) -> None:
    with pytest.raises(DataFormatError, match="no data rows"):
        read_epw(_write(tmp_path, _lines(phoenix)[:8]))


def test_binary_garbage(tmp_path: Path) -> None:
    junk = tmp_path / "junk.epw"
    junk.write_bytes(bytes(np.random.default_rng(1).integers(0, 256, 3000, dtype=np.uint8)))
    with pytest.raises(DataFormatError):
        read_epw(junk)
    utf16 = tmp_path / "utf16.epw"  # with its byte-order mark it is decoded; then the header is incomplete
    utf16.write_bytes("LOCATION,a,b,c,d,1,1,1,1,1\n".encode("utf-16"))
    with pytest.raises(DataFormatError, match="DATA PERIODS"):
        read_epw(utf16)
    utf16.write_bytes("LOCATION,a,b,c,d,1,1,1,1,1\n".encode("utf-16-le"))  # no mark: binary as far as can be told
    with pytest.raises(DataFormatError, match="NUL") as err:
        read_epw(utf16)
    assert err.value.row == 1
    fake_gz = tmp_path / "fake.epw.gz"
    fake_gz.write_bytes(b"\x1f\x8b not really")
    with pytest.raises(DataFormatError, match="gzip"):
        read_epw(fake_gz)


def test_not_an_epw_file(tmp_path: Path, fixtures_dir: Path) -> None:
    csv_file = fixtures_dir / "electricitymaps" / "JP-TK" / "JP-TK_2022_hourly_head.csv"
    with pytest.raises(DataFormatError, match="LOCATION") as err:
        read_epw(csv_file)
    assert err.value.row == 1


def test_bad_location_values(tmp_path: Path, phoenix: Path) -> None:
    lines = _lines(phoenix)
    lines[0] = _set(lines[0], 6, "north")
    with pytest.raises(DataFormatError, match="'north'") as err:
        read_epw(_write(tmp_path, lines))
    assert err.value.row == 1 and err.value.field == "LOCATION latitude"
    lines = _lines(phoenix)
    lines[0] = "LOCATION,Phoenix,AZ,USA"
    with pytest.raises(DataFormatError, match="4 fields"):
        read_epw(_write(tmp_path, lines))


def test_no_data_periods_and_sub_hourly(tmp_path: Path, phoenix: Path) -> None:
    lines = _lines(phoenix)
    with pytest.raises(DataFormatError, match="DATA PERIODS"):
        read_epw(_write(tmp_path, lines[:7] + lines[8:]))
    lines[7] = "DATA PERIODS,1,4,Data,Sunday, 1/ 1,12/31"
    with pytest.raises(DataFormatError, match="'4' records per hour") as err:
        read_epw(_write(tmp_path, lines))
    assert err.value.row == 8


def test_time_going_backwards(tmp_path: Path, phoenix: Path) -> None:
    lines = _lines(phoenix)
    lines[15], lines[16] = lines[16], lines[15]
    for year in (None, 2022):  # typical-year order check and calendar order check
        with pytest.raises(DataFormatError, match="backwards") as err:
            read_epw(_write(tmp_path, lines), year=year)
        assert err.value.row == 17


def test_time_going_backwards_in_a_single_year_file(tmp_path: Path, phoenix: Path) -> None:
    lines = _lines(phoenix)
    lines = lines[:8] + [_set(ln, 0, "2021") for ln in lines[8:]]
    frame, meta = read_epw(_write(tmp_path, lines))
    assert meta.attrs["typical_year"] is False and frame.index.is_monotonic_increasing
    lines[30], lines[31] = lines[31], lines[30]
    with pytest.raises(DataFormatError, match="backwards") as err:
        read_epw(_write(tmp_path, lines))
    assert err.value.row == 32


def test_non_numeric_value(tmp_path: Path, phoenix: Path) -> None:
    lines = _lines(phoenix)
    lines[12] = _set(lines[12], 6, "warm")
    with pytest.raises(DataFormatError, match="'warm' is not a number") as err:
        read_epw(_write(tmp_path, lines))
    assert err.value.row == 13 and err.value.field == "Dry Bulb Temperature"


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [(3, "25", "whole number from 1 to 24"), (1, "13", "whole number from 1 to 12"), (3, "1.5", "whole number")],
)
def test_bad_date_fields(tmp_path: Path, phoenix: Path, field: int, value: str, match: str) -> None:
    lines = _lines(phoenix)
    lines[9] = _set(lines[9], field, value)
    with pytest.raises(DataFormatError, match=match) as err:
        read_epw(_write(tmp_path, lines))
    assert err.value.row == 10


def test_impossible_dates(tmp_path: Path, phoenix: Path) -> None:
    lines = _lines(phoenix)
    lines[8] = _set(_set(lines[8], 1, "2"), 2, "30")
    with pytest.raises(DataFormatError, match="2021-02-30 does not exist") as err:
        read_epw(_write(tmp_path, lines))
    assert err.value.row == 9
    leap = _lines(phoenix)
    leap = leap[:8] + [_set(_set(ln, 1, "2"), 2, "29") for ln in leap[8:32]]
    read_epw(_write(tmp_path, leap), year=2024)
    with pytest.raises(DataFormatError, match="leap year"):
        read_epw(_write(tmp_path, leap), year=2022)


# ---------------------------------------------------------------- registry hooks


def test_sniffer_and_readers(phoenix: Path, fixtures_dir: Path) -> None:
    assert SNIFFERS["epw"](phoenix.read_text(encoding="ascii")[:4000])
    em = (fixtures_dir / "electricitymaps" / "JP-TK" / "JP-TK_2022_hourly_head.csv").read_text(encoding="utf-8")
    assert not sniff_epw(em[:4000])
    assert not sniff_epw("LOCATION\n")
    frame, meta = READERS["epw"](phoenix)
    assert len(frame) == 48 and meta.attrs["typical_year"]


# ---------------------------------------------------------------- real data, checked against pvlib


def test_real_us_epw_matches_header_and_pvlib(shared_data: Path) -> None:
    path = shared_data / "world" / "weather-epw-us" / "USA_AZ_Phoenix-Sky.Harbor.epw.gz"
    frame, meta = read_epw(path, year=2022)
    theirs, head = _pvlib_read(path, coerce_year=2022)
    assert len(frame) == 8760 and meta.gaps == []
    assert meta.attrs["latitude"] == head["latitude"] == 33.428
    assert meta.attrs["longitude"] == head["longitude"] == -112.004
    assert meta.attrs["tz_offset_hours"] == head["TZ"] == -7.0
    assert meta.attrs["elevation_m"] == head["altitude"]
    assert frame.index[0] == pd.Timestamp("2022-01-01 07:00", tz="UTC")
    assert (frame.index == theirs.index.tz_convert("UTC")).all()
    mean_ours, mean_pvlib = frame["temp_air_c"].mean(), theirs["temp_air"].mean()
    print(f"Phoenix annual mean temperature: wattbit {mean_ours:.4f} degC, pvlib {mean_pvlib:.4f} degC")
    assert mean_ours == pytest.approx(mean_pvlib, abs=1e-12)
    assert 20 < mean_ours < 28
    for col, name in PVLIB.items():
        np.testing.assert_array_equal(frame[col].to_numpy(), theirs[name].to_numpy(dtype=float))
    # without year=: the file's own (typical-year) stamps, same values and the same hour of day
    own, own_meta = read_epw(path)
    assert own_meta.attrs["typical_year"] is True
    assert own_meta.attrs["source_years"][1] == [2021] and own_meta.attrs["source_years"][2] == [2020]
    np.testing.assert_array_equal(own["temp_air_c"].to_numpy(), frame["temp_air_c"].to_numpy())
    assert (own.index.hour == frame.index.hour).all()


@pytest.mark.parametrize(
    "relpath",
    [
        "world/weather-epw-us/USA_NY_New.York-Kennedy.epw.gz",
        "world/weather-epw-us/USA_WA_Seattle-Tacoma.epw.gz",
        "fixtures/pvlib-tmy/NLD_Amsterdam062400_IWEC.epw",
        "fixtures/pvlib-tmy/tmy_45.000_8.000_2005_2023.epw",
    ],
)
def test_other_real_files_match_pvlib(shared_data: Path, relpath: str) -> None:
    path = shared_data / relpath
    frame, meta = read_epw(path, year=2021)
    theirs, head = _pvlib_read(path, coerce_year=2021)
    assert len(frame) == 8760 and meta.gaps == [] and meta.duplicates_dropped == 0
    assert meta.attrs["tz_offset_hours"] == head["TZ"]
    assert (frame.index == theirs.index.tz_convert("UTC")).all()
    for col, name in PVLIB.items():
        np.testing.assert_array_equal(frame[col].to_numpy(), theirs[name].to_numpy(dtype=float))

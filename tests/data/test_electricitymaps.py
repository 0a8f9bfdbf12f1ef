"""Tests of the Electricity Maps hourly reader."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wattbit.data.electricitymaps import READERS, SNIFFERS, read_electricitymaps, sniff_electricitymaps
from wattbit.errors import DataFormatError

COLUMNS = ["carbon_direct_g_per_kwh", "carbon_lifecycle_g_per_kwh", "low_carbon_pct", "renewable_pct", "estimated"]


@pytest.fixture
def jp_dir(fixtures_dir: Path) -> Path:
    return fixtures_dir / "electricitymaps" / "JP-TK"


@pytest.fixture
def jp_2022(jp_dir: Path) -> Path:
    return jp_dir / "JP-TK_2022_hourly_head.csv"


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _write(tmp_path: Path, lines: list[str], name: str = "em.csv") -> Path:
    out = tmp_path / name
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def _replace_cell(line: str, col: int, value: str) -> str:
    cells = line.split(",")
    cells[col] = value
    return ",".join(cells)


# ---------------------------------------------------------------- fixtures: layout, values, time


def test_directory_of_two_years_makes_one_hourly_utc_series(jp_dir: Path) -> None:
    frame, meta = read_electricitymaps(jp_dir)
    assert list(frame.columns) == COLUMNS
    assert frame.index.name == "time_utc"
    assert str(frame.index.tz) == "UTC"
    assert len(frame) == 36 and meta.rows == 36
    assert frame.index[0] == pd.Timestamp("2021-12-31 12:00", tz="UTC")
    assert frame.index[-1] == pd.Timestamp("2022-01-01 23:00", tz="UTC")
    assert frame.index.is_monotonic_increasing
    assert meta.gaps == [] and meta.duplicates_dropped == 0
    assert meta.resolution == pd.Timedelta(hours=1)
    assert frame["estimated"].dtype == "boolean"
    assert all(frame[c].dtype == float for c in COLUMNS[:4])
    # the whole of 1 January 2022 in Japan time, from two UTC-year files
    jst = frame.tz_convert("Asia/Tokyo").loc["2022-01-01"]
    assert len(jst) == 24


def test_spot_values_equal_the_file(jp_2022: Path) -> None:
    frame, _ = read_electricitymaps(jp_2022)
    row = frame.loc[pd.Timestamp("2022-01-01 00:00", tz="UTC")]
    # 2022-01-01 00:00:00,Japan,Tōkyō,JP-TK,401.3,485.85,26.65,26.65,Electricity Maps Estimation,true,...
    assert row["carbon_direct_g_per_kwh"] == 401.3
    assert row["carbon_lifecycle_g_per_kwh"] == 485.85
    assert row["low_carbon_pct"] == 26.65 and row["renewable_pct"] == 26.65
    assert bool(row["estimated"]) is True


def test_order_of_paths_does_not_matter(jp_dir: Path) -> None:
    files = sorted(jp_dir.glob("*.csv"))
    a, _ = read_electricitymaps(files)
    b, _ = read_electricitymaps(list(reversed(files)))
    pd.testing.assert_frame_equal(a, b)


def test_meta_says_average_signal_basis_and_estimated_share(jp_dir: Path) -> None:
    _, meta = read_electricitymaps(jp_dir, zone="JP-TK")
    assert meta.reader == "electricitymaps_hourly"
    assert meta.attrs["zone"] == "JP-TK"
    assert meta.attrs["signal"] == "average"
    assert "direct" in meta.attrs["basis"]["carbon_direct_g_per_kwh"]
    assert "life-cycle" in meta.attrs["basis"]["carbon_lifecycle_g_per_kwh"]
    assert meta.attrs["estimated_share"] == 1.0
    assert meta.units["carbon_direct_g_per_kwh"] == "gCO2eq/kWh"
    assert meta.units["low_carbon_pct"] == "%"
    assert "UTC" in meta.source_time_convention and "beginning" in meta.source_time_convention
    assert any("marginal" in n for n in meta.notes)
    assert len(meta.paths) == 2
    meta.to_dict()  # serialisable
    assert "JP-TK" in meta.summary()


def test_newer_header_spelling(fixtures_dir: Path) -> None:
    frame, meta = read_electricitymaps(fixtures_dir / "electricitymaps" / "SG", zone="SG")
    assert list(frame.columns) == COLUMNS
    assert len(frame) == 12
    first = frame.iloc[0]
    assert first["carbon_direct_g_per_kwh"] == 375.31 and first["carbon_lifecycle_g_per_kwh"] == 495.44
    assert first["low_carbon_pct"] == 2.59
    assert frame["estimated"].sum() == 2
    assert meta.attrs["estimated_share"] == pytest.approx(2 / 12)
    assert "ESTIMATED_TIME_SLICER_AVERAGE" in meta.attrs["estimation_methods"]


def test_header_matching_ignores_case_and_subscript(tmp_path: Path, jp_2022: Path) -> None:
    lines = _lines(jp_2022)
    lines[0] = lines[0].upper().replace("₂", "2")
    frame, _ = read_electricitymaps(_write(tmp_path, lines))
    assert frame.iloc[0]["carbon_lifecycle_g_per_kwh"] == 485.85


def test_gzip_and_flag_spellings(tmp_path: Path, jp_2022: Path) -> None:
    lines = _lines(jp_2022)
    lines[1] = _replace_cell(lines[1], 9, "FALSE")
    lines[2] = _replace_cell(lines[2], 9, "True")
    out = tmp_path / "JP-TK_2022.csv.gz"
    out.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    frame, _ = read_electricitymaps(out)
    assert list(frame["estimated"][:3]) == [False, True, True]


def test_lower_case_zone_is_accepted(jp_2022: Path) -> None:
    _, meta = read_electricitymaps(jp_2022, zone="jp-tk")
    assert meta.attrs["zone"] == "JP-TK"


def test_gap_is_reported_not_filled(tmp_path: Path, jp_2022: Path) -> None:
    lines = _lines(jp_2022)
    del lines[5:8]  # 04:00, 05:00, 06:00
    frame, meta = read_electricitymaps(_write(tmp_path, lines))
    assert len(frame) == 21
    assert len(meta.gaps) == 1
    gap = meta.gaps[0]
    assert gap.first_missing_utc == pd.Timestamp("2022-01-01 04:00", tz="UTC")
    assert gap.missing_periods == 3


def test_empty_cells_are_nan_and_counted(tmp_path: Path, jp_2022: Path) -> None:
    lines = _lines(jp_2022)
    lines[3] = _replace_cell(lines[3], 4, "")
    lines[4] = _replace_cell(lines[4], 9, "")
    frame, meta = read_electricitymaps(_write(tmp_path, lines))
    assert np.isnan(frame["carbon_direct_g_per_kwh"].iloc[2])
    assert meta.missing_values["carbon_direct_g_per_kwh"] == 1
    assert pd.isna(frame["estimated"].iloc[3])
    assert meta.missing_values["estimated"] == 1
    assert any("<NA>" in n for n in meta.notes)


def test_exact_duplicate_rows_are_dropped_and_counted(tmp_path: Path, jp_2022: Path) -> None:
    lines = _lines(jp_2022)
    lines.insert(4, lines[3])
    frame, meta = read_electricitymaps(_write(tmp_path, lines))
    assert len(frame) == 24
    assert meta.duplicates_dropped == 1


def test_identical_overlap_between_files_is_dropped(tmp_path: Path, jp_2022: Path) -> None:
    lines = _lines(jp_2022)
    a = _write(tmp_path, lines[:13], "a.csv")
    b = _write(tmp_path, [lines[0], *lines[10:]], "b.csv")
    frame, meta = read_electricitymaps([b, a])
    assert len(frame) == 24
    assert meta.duplicates_dropped == 3


def test_conflicting_overlap_between_files_names_the_file(tmp_path: Path, jp_2022: Path) -> None:
    lines = _lines(jp_2022)
    a = _write(tmp_path, lines[:13], "a.csv")
    changed = _replace_cell(lines[12], 4, "1.0")
    b = _write(tmp_path, [lines[0], changed, *lines[13:]], "b.csv")
    with pytest.raises(DataFormatError, match="appears twice") as err:
        read_electricitymaps([a, b])
    assert err.value.path in (str(a), str(b))
    assert err.value.row is not None


# ---------------------------------------------------------------- zones


def test_zone_not_in_file_names_the_zones_it_has(jp_2022: Path) -> None:
    with pytest.raises(DataFormatError, match="JP-XX") as err:
        read_electricitymaps(jp_2022, zone="JP-XX")
    assert "JP-TK" in str(err.value)
    assert err.value.path == str(jp_2022)


@pytest.mark.parametrize("zone", ["Tokyo", "JP_TK", "", "J", "JP-"])
def test_zone_that_is_not_a_zone_id(jp_2022: Path, zone: str) -> None:
    with pytest.raises(DataFormatError, match="not an Electricity Maps zone id"):
        read_electricitymaps(jp_2022, zone=zone)


def test_bad_zone_id_in_file(tmp_path: Path, jp_2022: Path) -> None:
    lines = _lines(jp_2022)
    lines[6] = _replace_cell(lines[6], 3, "Tokyo area")
    with pytest.raises(DataFormatError, match="Tokyo area") as err:
        read_electricitymaps(_write(tmp_path, lines))
    assert err.value.row == 7 and err.value.field == "Zone Id"


def test_mixed_zones_need_zone_argument(tmp_path: Path, jp_2022: Path, fixtures_dir: Path) -> None:
    sg = _lines(fixtures_dir / "electricitymaps" / "SG" / "SG_2022_hourly_newer_header.csv")
    jp = _lines(jp_2022)
    mixed = _write(tmp_path, [jp[0], *jp[1:], *[ln for ln in sg[1:13]]])
    with pytest.raises(DataFormatError, match="pass zone="):
        read_electricitymaps(mixed)
    frame, meta = read_electricitymaps(mixed, zone="SG")
    assert len(frame) == 12 and meta.attrs["zone"] == "SG"
    with pytest.raises(DataFormatError, match="different zones"):
        read_electricitymaps([jp_2022, fixtures_dir / "electricitymaps" / "SG"])


# ---------------------------------------------------------------- bad input


def test_missing_column(tmp_path: Path, jp_2022: Path) -> None:
    lines = [",".join(c for i, c in enumerate(ln.split(",")) if i != 5) for ln in _lines(jp_2022)]
    with pytest.raises(DataFormatError, match=r"missing column.*LCA") as err:
        read_electricitymaps(_write(tmp_path, lines))
    assert err.value.path is not None and err.value.path.endswith("em.csv")


def test_row_with_wrong_number_of_fields(tmp_path: Path, jp_2022: Path) -> None:
    lines = _lines(jp_2022)
    lines[8] = lines[8] + ",extra"
    with pytest.raises(DataFormatError, match="12 fields but the header has 11") as err:
        read_electricitymaps(_write(tmp_path, lines))
    assert err.value.row == 9
    lines = _lines(jp_2022)
    lines[4] = lines[4].rsplit(",", 3)[0]
    with pytest.raises(DataFormatError, match="8 fields") as err:
        read_electricitymaps(_write(tmp_path, lines))
    assert err.value.row == 5


def test_descriptive_columns_are_optional(tmp_path: Path, jp_2022: Path) -> None:
    keep = (0, 3, 4, 5, 6, 7, 9)  # no Country, Zone Name, Data Source, Data Estimation Method
    lines = [",".join(c for i, c in enumerate(ln.split(",")) if i in keep) for ln in _lines(jp_2022)]
    frame, meta = read_electricitymaps(_write(tmp_path, lines))
    assert len(frame) == 24 and meta.attrs["zone"] == "JP-TK" and meta.attrs["data_sources"] == []


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(DataFormatError, match="empty"):
        read_electricitymaps(empty)


def test_header_only(tmp_path: Path, jp_2022: Path) -> None:
    with pytest.raises(DataFormatError, match="no data rows"):
        read_electricitymaps(_write(tmp_path, _lines(jp_2022)[:1]))


def test_missing_file_and_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="not found"):
        read_electricitymaps(tmp_path / "nope.csv")
    with pytest.raises(DataFormatError, match=r"folder holds no .csv or .csv.gz file"):
        read_electricitymaps(tmp_path)
    with pytest.raises(DataFormatError, match="no file given"):
        read_electricitymaps([])


def test_wrong_encoding_names_the_line(tmp_path: Path, jp_2022: Path) -> None:
    text = "\n".join(_lines(jp_2022)).replace("₂", "2") + "\n"
    out = tmp_path / "latin1.csv"
    out.write_bytes(text.replace("Tōkyō", "Tökyö").encode("latin-1"))
    with pytest.raises(DataFormatError, match=r"line 2: cannot decode the file as utf-8 \(byte b'\\xf6'") as err:
        read_electricitymaps(out)
    assert err.value.row == 2


def test_binary_garbage(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    junk = tmp_path / "junk.csv"
    junk.write_bytes(bytes(rng.integers(0, 256, 2000, dtype=np.uint8)))
    with pytest.raises(DataFormatError):
        read_electricitymaps(junk)
    nul = tmp_path / "nul.csv"
    nul.write_bytes(b"Datetime (UTC),Zone Id\n\x00\x00\x00\n")
    with pytest.raises(DataFormatError, match="NUL") as err:
        read_electricitymaps(nul)
    assert err.value.row == 2
    fake_gz = tmp_path / "fake.csv.gz"
    fake_gz.write_bytes(b"not gzip at all")
    with pytest.raises(DataFormatError, match="gzip"):
        read_electricitymaps(fake_gz)


def test_time_going_backwards(tmp_path: Path, jp_2022: Path) -> None:
    lines = _lines(jp_2022)
    lines[5], lines[6] = lines[6], lines[5]
    with pytest.raises(DataFormatError, match="backwards") as err:
        read_electricitymaps(_write(tmp_path, lines))
    assert err.value.row == 7


def test_non_numeric_value(tmp_path: Path, jp_2022: Path) -> None:
    lines = _lines(jp_2022)
    lines[10] = _replace_cell(lines[10], 5, "n/a")
    with pytest.raises(DataFormatError, match="'n/a' is not a number") as err:
        read_electricitymaps(_write(tmp_path, lines))
    assert err.value.row == 11
    assert err.value.field == "Carbon Intensity gCO₂eq/kWh (LCA)"
    assert "line 11" in str(err.value)


def test_bad_timestamp(tmp_path: Path, jp_2022: Path) -> None:
    lines = _lines(jp_2022)
    lines[3] = _replace_cell(lines[3], 0, "yesterday")
    with pytest.raises(DataFormatError, match="yesterday") as err:
        read_electricitymaps(_write(tmp_path, lines))
    assert err.value.row == 4 and err.value.field == "Datetime (UTC)"


def test_bad_flag(tmp_path: Path, jp_2022: Path) -> None:
    lines = _lines(jp_2022)
    lines[2] = _replace_cell(lines[2], 9, "maybe")
    with pytest.raises(DataFormatError, match="maybe") as err:
        read_electricitymaps(_write(tmp_path, lines))
    assert err.value.row == 3


def test_conflicting_duplicate_in_one_file(tmp_path: Path, jp_2022: Path) -> None:
    lines = _lines(jp_2022)
    lines.insert(4, _replace_cell(lines[3], 4, "999.0"))
    with pytest.raises(DataFormatError, match="appears twice"):
        read_electricitymaps(_write(tmp_path, lines))


def test_daily_export_is_refused(tmp_path: Path, jp_2022: Path) -> None:
    lines = _lines(jp_2022)[:4]
    for i, day in enumerate(("01", "02", "03"), start=1):
        lines[i] = _replace_cell(lines[i], 0, f"2022-01-{day} 00:00:00")
    with pytest.raises(DataFormatError, match="expected hourly"):
        read_electricitymaps(_write(tmp_path, lines))


# ---------------------------------------------------------------- registry hooks


def test_sniffer_and_readers(jp_2022: Path, fixtures_dir: Path) -> None:
    head = jp_2022.read_text(encoding="utf-8")[:4000]
    assert SNIFFERS["electricitymaps_hourly"](head)
    newer = (fixtures_dir / "electricitymaps" / "SG" / "SG_2022_hourly_newer_header.csv").read_text(encoding="utf-8")
    assert sniff_electricitymaps(newer[:4000])
    assert not sniff_electricitymaps("LOCATION,Phoenix,AZ,USA,SRC-TMYx,722780,33.4,-112.0,-7.0,337.4\n")
    assert not sniff_electricitymaps("time_utc,carbon\n")
    frame, meta = READERS["electricitymaps_hourly"](jp_2022)
    assert len(frame) == 24 and meta.reader == "electricitymaps_hourly"


# ---------------------------------------------------------------- real data


def _raw_rows(path: Path) -> list[list[str]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return list(csv.reader(io.StringIO(fh.read())))


def test_real_jp_tk_2021_2022(shared_data: Path) -> None:
    folder = shared_data / "world" / "electricitymaps-carbon" / "JP-TK"
    frame, meta = read_electricitymaps(folder, zone="JP-TK")
    assert len(frame) == 17_520
    assert meta.gaps == [] and meta.duplicates_dropped == 0
    assert str(frame.index.tz) == "UTC"
    assert frame.index[0] == pd.Timestamp("2021-01-01 00:00", tz="UTC")
    assert frame.index[-1] == pd.Timestamp("2022-12-31 23:00", tz="UTC")
    assert not frame[COLUMNS[:4]].isna().any().any()
    # spot values equal the file, taken straight from the raw CSV
    raw = _raw_rows(folder / "JP-TK_2022_hourly.csv.gz")
    for i in (1, 1000, 4321, 8760):
        t = pd.Timestamp(raw[i][0], tz="UTC")
        row = frame.loc[t]
        assert row["carbon_direct_g_per_kwh"] == float(raw[i][4])
        assert row["carbon_lifecycle_g_per_kwh"] == float(raw[i][5])
        assert row["low_carbon_pct"] == float(raw[i][6])
        assert row["renewable_pct"] == float(raw[i][7])
    y2022 = frame.loc["2022"]
    direct, lifecycle = y2022["carbon_direct_g_per_kwh"].mean(), y2022["carbon_lifecycle_g_per_kwh"].mean()
    print(f"JP-TK 2022 annual mean: direct {direct:.1f} g/kWh, life-cycle {lifecycle:.1f} g/kWh")
    assert 350 < direct < 600
    assert direct < lifecycle < direct * 1.4
    assert meta.attrs["estimated_share"] == 1.0  # Tokyo is fully estimated by Electricity Maps
    # a calendar year in Japan time needs the last 9 hours of the previous UTC year
    jst_2022 = frame.tz_convert("Asia/Tokyo").loc["2022"]
    assert len(jst_2022) == 8760


def test_real_folder_name_is_not_the_zone_id(shared_data: Path) -> None:
    with pytest.raises(DataFormatError, match="BR-CS"):
        read_electricitymaps(shared_data / "world" / "electricitymaps-carbon" / "BR-SP", zone="BR-SP")

"""Tests of the Japanese area supply-demand readers (エリア需給実績).

Fast tests use the byte-identical excerpts in tests/fixtures/area_supply_demand/ (and bad variants of them built in
tmp_path); the tests marked ``shared_data`` read the real files in ../shared/data/japan/area-supply-demand/.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wattbit.data._base import SourceMeta
from wattbit.data.area_supply_demand import (
    AREAS,
    COLUMNS,
    READERS,
    SNIFFERS,
    detect_area,
    read_area_supply_demand,
    read_tohoku_hourly,
)
from wattbit.errors import DataFormatError, WattbitInputError

JST = "Asia/Tokyo"
ORDER = {  # the column order of each utility's file, as canonical names
    "tohoku": "demand hydro thermal nuclear solar solar_curtailed wind wind_curtailed geothermal biomass",
    "other": "demand nuclear thermal hydro geothermal biomass solar solar_curtailed wind wind_curtailed",
}

# fixture, area, first hour (JST), its values as written in the file (in the file's column order), data rows
FIXTURES = [
    (
        "juyo_2021_tohoku_4Q_excerpt.txt",
        "tohoku",
        "2022-01-01 00:00",
        "10977,1055,10884,0,0,0,1154,0,142,407,0,-2665",
        72,
    ),
    ("juyo_2016_tohoku_3Q_excerpt.txt", "tohoku", "2016-10-01 00:00", "7239,1072,7845,0,0,0,69,0,86,204,0,-2037", 48),
    (
        "sup_dem_results_2022_3q_excerpt.csv",
        "hokkaido",
        "2022-10-01 00:00",
        "2608,0,1889,413,7,194,0,0,175,0,28,-99",
        72,
    ),
    ("sup_dem_results_2017_4q_excerpt.csv", "hokkaido", "2018-03-30 00:00", "3268,0,2311,754,17,5,0,0,46,0,50,85", 48),
    (
        "area_jyukyu_jisseki_2022_1Q_excerpt.csv",
        "kyushu",
        "2022-04-01 00:00",
        "7606,2068,6520,279,132,319,0,0,190,0,-18,-1884",
        72,
    ),
    (
        "area_jyukyu_jisseki_H30_4Q_excerpt.csv",
        "kyushu",
        "2019-03-30 00:00",
        "7494,4138,3726,311,114,330,0,0,3,0,0,-1128",
        48,
    ),
    ("area_jisseki_rikuden202212_excerpt.csv", "hokuriku", "2022-12-01 00:00", "2844,0,2031,712,,72,0,0,19,0,0,12", 48),
    (
        "2021_areabalance_current_term_excerpt.csv",
        "chubu",
        "2021-04-01 00:00",
        "12463,0,10087,1637,0,0,0,0,6,0,0,733",
        48,
    ),
    (
        "area_jyukyu_jisseki_2021_excerpt.csv",
        "kansai",
        "2021-04-01 00:00",
        "12166,2061,6639,1577,0,0,0,0,18,0,211,1662",
        48,
    ),
    (
        "area_jyukyu_jisseki_2016_excerpt.csv",
        "kansai",
        "2016-04-01 00:00",
        "12918,0,10405,758,0,0,0,0,41,0,89,1625",
        48,
    ),
    ("kako-2020_excerpt.csv", "chugoku", "2020-04-01 00:00", "5282,0,3977,459,0,201,0,,29,,0,616", 48),
    ("jukyu2021_excerpt.csv", "shikoku", "2021-04-01 00:00", "236,0,241,28,,10,0,0,1,0,0,-44", 48),
]


def expected_row(area: str, values: str) -> pd.Series:
    order = ORDER["tohoku" if area == "tohoku" else "other"].split() + ["pumped_storage", "interconnector"]
    names = [f"{n}_mwh" for n in order]
    numbers = [float(v) if v else np.nan for v in values.split(",")]
    return pd.Series(dict(zip(names, numbers, strict=True)))[list(COLUMNS)]


def fixture(fixtures_dir: Path, name: str) -> Path:
    return fixtures_dir / "area_supply_demand" / name


def rewrite(src: Path, dst: Path, edit: Callable[[list[str]], list[str]], encoding: str = "cp932") -> Path:
    """Write ``src`` to ``dst`` with its lines edited, keeping its encoding and line endings."""
    text = src.read_bytes().decode(encoding)
    newline = "\r\n" if "\r\n" in text else "\n"
    dst.write_bytes(newline.join(edit(text.split(newline))).encode(encoding))
    return dst


def edit_field(line: str, j: int, value: str) -> str:
    cells = line.split(",")
    cells[j] = value
    return ",".join(cells)


def check_frame(frame: pd.DataFrame, meta: SourceMeta) -> None:
    """What every reader promises: float columns, UTC period-beginning index, meta filled in."""
    assert frame.index.name == "time_utc"
    assert str(frame.index.tz) == "UTC"
    assert frame.index.is_monotonic_increasing and frame.index.is_unique
    assert all(frame[c].dtype == np.float64 for c in frame.columns)
    assert meta.resolution == pd.Timedelta("1h")
    assert meta.source_time_convention == "hour-beginning JST"
    assert meta.units == dict.fromkeys(frame.columns, "MWh")
    assert any("9 h" in c for c in meta.conversions)
    assert meta.rows == len(frame) and meta.start_utc == frame.index[0] and meta.end_utc == frame.index[-1]
    assert meta.missing_values == {c: int(frame[c].isna().sum()) for c in frame.columns}


# --- fixtures: every layout ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "area", "first", "values", "rows"), FIXTURES, ids=[f[0] for f in FIXTURES])
def test_fixture_is_detected_and_read(fixtures_dir, name, area, first, values, rows):
    path = fixture(fixtures_dir, name)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp932")
    assert detect_area(text[:4000]) == area
    assert SNIFFERS["area_supply_demand"](text[:4000])
    assert not SNIFFERS["tohoku_hourly"](text[:4000])

    frame, meta = READERS["area_supply_demand"](path)  # area detected from the file
    check_frame(frame, meta)
    assert meta.reader == "area_supply_demand"
    assert meta.attrs["area"] == area
    assert meta.attrs["encoding"] == ("utf-8" if area == "shikoku" else "cp932")
    assert list(frame.columns) == list(COLUMNS)
    assert len(frame) == rows and meta.gaps == []
    # hour-beginning JST -> UTC: 9 hours earlier, no daylight saving
    assert frame.index[0] == pd.Timestamp(first, tz=JST)
    assert frame.index[0] == (pd.Timestamp(first) - pd.Timedelta("9h")).tz_localize("UTC")
    scale = 10.0 if area == "shikoku" else 1.0  # Shikoku writes 万kW (10 MWh per hour)
    pd.testing.assert_series_equal(frame.iloc[0], expected_row(area, values) * scale, check_names=False)


def test_shikoku_values_are_converted_from_man_kw(fixtures_dir):
    frame, meta = read_area_supply_demand(fixture(fixtures_dir, "jukyu2021_excerpt.csv"), "shikoku")
    assert frame["demand_mwh"].iloc[0] == 2360.0  # written 236 (万kW)
    assert meta.attrs["source_unit"] == "万kW"
    assert any("multiplied by 10" in c for c in meta.conversions)
    assert meta.missing_values["geothermal_mwh"] == 48  # '－' placeholders stay missing
    assert any("total rows ('合計…') skipped: 1 rows" in n for n in meta.notes)
    assert any("'合計' ignored" in n for n in meta.notes)


def test_layout_quirks_are_reported(fixtures_dir):
    _, meta = read_area_supply_demand(fixture(fixtures_dir, "sup_dem_results_2017_4q_excerpt.csv"))
    assert any("padding) skipped: 26 rows" in n for n in meta.notes)  # 1 after the header + 25 at the end
    assert any("'供給力合計' ignored" in n for n in meta.notes)
    frame, meta = read_area_supply_demand(fixture(fixtures_dir, "area_jyukyu_jisseki_H30_4Q_excerpt.csv"))
    assert frame["interconnector_mwh"].iloc[0] == -1128.0  # written "-1,128"
    assert any("thousands separators" in n and "demand_mwh" in n for n in meta.notes)
    _, meta = read_area_supply_demand(fixture(fixtures_dir, "kako-2020_excerpt.csv"))
    assert meta.missing_values["solar_curtailed_mwh"] == 48 and meta.missing_values["demand_mwh"] == 0
    _, meta = read_area_supply_demand(fixture(fixtures_dir, "2021_areabalance_current_term_excerpt.csv"))
    assert any(n.startswith("publisher's note: ・エリア供給力は") for n in meta.notes)


def test_tohoku_raw_excerpt_equals_cleaned_excerpt(fixtures_dir):
    cleaned, meta = READERS["tohoku_hourly"](fixture(fixtures_dir, "tohoku_hourly_2022-01-01_excerpt.csv"))
    check_frame(cleaned, meta)
    assert meta.reader == "tohoku_hourly"
    assert meta.attrs["area"] == "tohoku" and meta.attrs["encoding"] == "utf-8"
    raw, _ = read_area_supply_demand(fixture(fixtures_dir, "juyo_2021_tohoku_4Q_excerpt.txt"), "tohoku")
    pd.testing.assert_frame_equal(raw, cleaned)
    text = fixture(fixtures_dir, "tohoku_hourly_2022-01-01_excerpt.csv").read_text()
    assert SNIFFERS["tohoku_hourly"](text[:4000]) and not SNIFFERS["area_supply_demand"](text[:4000])
    assert detect_area(text) is None


def test_area_names_and_readers():
    assert set(AREAS) == {"tohoku", "hokkaido", "kyushu", "hokuriku", "chubu", "kansai", "chugoku", "shikoku"}
    assert set(SNIFFERS) == set(READERS) == {"tohoku_hourly", "area_supply_demand"}


# --- several files ------------------------------------------------------------------------------------------------


def test_directory_reads_the_files_of_one_area_in_time_order(fixtures_dir):
    folder = fixtures_dir / "area_supply_demand"
    frame, meta = read_area_supply_demand(folder, area="tohoku")
    assert [Path(p).name for p in meta.paths] == ["juyo_2016_tohoku_3Q_excerpt.txt", "juyo_2021_tohoku_4Q_excerpt.txt"]
    assert len(frame) == 48 + 72
    assert len(meta.gaps) == 1  # 2016-10-03 .. 2021-12-31 JST is reported, not filled
    assert meta.gaps[0].first_missing_utc == pd.Timestamp("2016-10-03 00:00", tz=JST)
    assert any("skipped" in n and "README.md" in n for n in meta.notes)
    assert any("skipped" in n and "a hokkaido file" in n for n in meta.notes)
    with pytest.raises(DataFormatError, match="several areas"):
        read_area_supply_demand(folder)


def test_files_in_any_order_give_the_same_frame(fixtures_dir):
    names = ["area_jyukyu_jisseki_2022_1Q_excerpt.csv", "area_jyukyu_jisseki_H30_4Q_excerpt.csv"]
    paths = [fixture(fixtures_dir, n) for n in names]
    forward, meta = read_area_supply_demand(paths)
    backward, _ = read_area_supply_demand([str(p) for p in reversed(paths)], "KYUSHU")
    pd.testing.assert_frame_equal(forward, backward)
    assert Path(meta.paths[0]).name == names[1]  # H30 (2019) before 2022


def test_overlapping_files_identical_rows_kept_once(fixtures_dir):
    path = fixture(fixtures_dir, "juyo_2021_tohoku_4Q_excerpt.txt")
    frame, meta = read_area_supply_demand([path, path])
    assert len(frame) == 72 and meta.duplicates_dropped == 72 and meta.gaps == []


def test_overlapping_files_that_disagree_are_an_error(fixtures_dir, tmp_path):
    path = fixture(fixtures_dir, "juyo_2021_tohoku_4Q_excerpt.txt")
    other = rewrite(path, tmp_path / "revised.txt", lambda ls: [*ls[:5], edit_field(ls[5], 11, "12345"), *ls[6:]])
    with pytest.raises(DataFormatError, match="different values") as err:
        read_area_supply_demand([path, other])
    assert err.value.row == 6 and "juyo_2021_tohoku_4Q_excerpt.txt line 6" in str(err.value)


# --- bad input ----------------------------------------------------------------------------------------------------


def test_unknown_area(fixtures_dir):
    with pytest.raises(DataFormatError, match=r"unknown area 'tokyo' \(expected one of \['tohoku'"):
        read_area_supply_demand(fixture(fixtures_dir, "juyo_2021_tohoku_4Q_excerpt.txt"), "tokyo")


def test_file_of_another_area(fixtures_dir):
    path = fixture(fixtures_dir, "sup_dem_results_2022_3q_excerpt.csv")
    with pytest.raises(DataFormatError, match="not a tohoku area supply-demand file .*; it looks like a hokkaido file"):
        read_area_supply_demand(path, "tohoku")


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(DataFormatError, match="file not found"):
        read_area_supply_demand(tmp_path / "nope.csv", "tohoku")
    (tmp_path / "empty.csv").write_bytes(b"")
    for read in (lambda p: read_area_supply_demand(p, "tohoku"), read_tohoku_hourly):
        with pytest.raises(DataFormatError, match="empty.csv: file is empty"):
            read(tmp_path / "empty.csv")
    with pytest.raises(DataFormatError, match="no files given"):
        read_area_supply_demand([])
    (tmp_path / "notes.txt").write_text("nothing here\n")
    with pytest.raises(DataFormatError, match="no area supply-demand file"):
        read_area_supply_demand(tmp_path)


def test_header_only(fixtures_dir, tmp_path):
    path = rewrite(
        fixture(fixtures_dir, "area_jyukyu_jisseki_2022_1Q_excerpt.csv"), tmp_path / "k.csv", lambda ls: ls[:2]
    )
    with pytest.raises(DataFormatError, match="line 2: no data rows"):
        read_area_supply_demand(path, "kyushu")


def test_unrecognised_file(tmp_path):
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataFormatError, match="cannot tell which utility's layout"):
        read_area_supply_demand(tmp_path / "x.csv")
    with pytest.raises(
        DataFormatError, match=r"x.csv: not a tohoku area supply-demand file \(expected a header line like 'DATE_TIME"
    ):
        read_area_supply_demand(tmp_path / "x.csv", "tohoku")


def test_missing_column(fixtures_dir, tmp_path):
    def drop_wind_curtailed(lines: list[str]) -> list[str]:
        return [",".join(c for j, c in enumerate(line.split(",")) if j != 8) for line in lines]

    path = rewrite(fixture(fixtures_dir, "juyo_2021_tohoku_4Q_excerpt.txt"), tmp_path / "t.txt", drop_wind_curtailed)
    with pytest.raises(DataFormatError, match=r"t.txt, line 1: missing column\(s\) \['wind_curtailed_mwh'\]"):
        read_area_supply_demand(path, "tohoku")


def test_unrecognised_column_label(fixtures_dir, tmp_path):
    path = rewrite(
        fixture(fixtures_dir, "juyo_2021_tohoku_4Q_excerpt.txt"),
        tmp_path / "t.txt",
        lambda ls: [ls[0].replace("地熱〔MWh〕", "その他〔MWh〕"), *ls[1:]],
    )
    with pytest.raises(DataFormatError, match="line 1, field 'その他〔MWh〕': unrecognised column label"):
        read_area_supply_demand(path, "tohoku")


def test_unexpected_unit(fixtures_dir, tmp_path):
    path = rewrite(
        fixture(fixtures_dir, "sup_dem_results_2022_3q_excerpt.csv"),
        tmp_path / "h.csv",
        lambda ls: [ls[0].replace("MWh", "kWh"), *ls[1:]],
    )
    with pytest.raises(DataFormatError, match=r"h.csv: the header states the unit\(s\) \['kWh'\] \(expected MWh"):
        read_area_supply_demand(path, "hokkaido")


def test_file_re_encoded_as_utf8_is_read_the_same(fixtures_dir, tmp_path):
    for name in ("juyo_2021_tohoku_4Q_excerpt.txt", "sup_dem_results_2017_4q_excerpt.csv"):
        path = fixture(fixtures_dir, name)
        utf8 = tmp_path / name
        utf8.write_bytes(path.read_bytes().decode("cp932").encode("utf-8"))
        original, _ = read_area_supply_demand(path)
        again, meta = read_area_supply_demand(utf8)
        pd.testing.assert_frame_equal(original, again)
        assert meta.attrs["encoding"] == "utf-8"


def test_other_encodings_and_random_bytes_are_clear_errors(fixtures_dir, tmp_path):
    text = fixture(fixtures_dir, "juyo_2021_tohoku_4Q_excerpt.txt").read_bytes().decode("cp932")
    (tmp_path / "eucjp.txt").write_bytes(text.encode("euc_jp"))
    (tmp_path / "utf16.txt").write_bytes(text.encode("utf-16"))
    (tmp_path / "random.bin").write_bytes(np.random.default_rng(0).bytes(5000))
    # UTF-16 with its byte-order mark (a spreadsheet's "Unicode text") is decoded: the same frame as Shift-JIS
    pd.testing.assert_frame_equal(
        read_area_supply_demand(tmp_path / "utf16.txt", "tohoku")[0],
        read_area_supply_demand(fixture(fixtures_dir, "juyo_2021_tohoku_4Q_excerpt.txt"), "tohoku")[0],
    )
    for name in ("eucjp.txt", "random.bin"):
        for area in (None, "tohoku"):
            with pytest.raises(
                DataFormatError,
                match=rf"{name}(, line \d+)?: (cannot decode|NUL bytes|file contains NUL|cannot tell|not a tohoku)",
            ) as err:
                read_area_supply_demand(tmp_path / name, area)
            assert isinstance(err.value, WattbitInputError)
        with pytest.raises(
            DataFormatError,
            match=rf"{name}(, line \d+)?: (cannot decode|file contains NUL|missing column|cannot parse)",
        ):
            read_tohoku_hourly(tmp_path / name)


def test_value_without_a_column_label(fixtures_dir, tmp_path):
    path = rewrite(
        fixture(fixtures_dir, "juyo_2021_tohoku_4Q_excerpt.txt"),
        tmp_path / "t.txt",
        lambda ls: [*ls[:2], ls[2] + ",999", *ls[3:]],
    )
    with pytest.raises(DataFormatError, match="t.txt, line 3: value '999' in column 14, which has no header label"):
        read_area_supply_demand(path, "tohoku")


def test_truncated_row(fixtures_dir, tmp_path):
    path = rewrite(
        fixture(fixtures_dir, "juyo_2021_tohoku_4Q_excerpt.txt"),
        tmp_path / "t.txt",
        lambda ls: [*ls[:72], ",".join(ls[72].split(",")[:3])],
    )
    with pytest.raises(DataFormatError, match=r"t.txt, line 73: row has 3 fields \(expected at least 13"):
        read_area_supply_demand(path, "tohoku")


def test_time_going_backwards(fixtures_dir, tmp_path):
    path = rewrite(
        fixture(fixtures_dir, "juyo_2021_tohoku_4Q_excerpt.txt"),
        tmp_path / "t.txt",
        lambda ls: [ls[0], ls[1], ls[3], ls[2], *ls[4:]],
    )
    with pytest.raises(DataFormatError, match="t.txt, line 4: time goes backwards"):
        read_area_supply_demand(path, "tohoku")


def test_duplicate_rows_within_a_file(fixtures_dir, tmp_path):
    src = fixture(fixtures_dir, "juyo_2021_tohoku_4Q_excerpt.txt")
    same = rewrite(src, tmp_path / "same.txt", lambda ls: [*ls[:3], ls[2], *ls[3:]])
    frame, meta = read_area_supply_demand(same)
    assert len(frame) == 72 and meta.duplicates_dropped == 1
    differs = rewrite(src, tmp_path / "differs.txt", lambda ls: [*ls[:3], edit_field(ls[2], 2, "1"), *ls[3:]])
    with pytest.raises(DataFormatError, match="differs.txt, line 4: time .* appears twice with different values"):
        read_area_supply_demand(differs)


def test_value_that_is_not_a_number(fixtures_dir, tmp_path):
    path = rewrite(
        fixture(fixtures_dir, "juyo_2021_tohoku_4Q_excerpt.txt"),
        tmp_path / "t.txt",
        lambda ls: [*ls[:5], edit_field(ls[5], 2, "12O"), *ls[6:]],
    )
    with pytest.raises(DataFormatError, match="t.txt, line 6, field '水力〔MWh〕': value '12O' is not a number"):
        read_area_supply_demand(path, "tohoku")


@pytest.mark.parametrize(
    ("stamp", "why"),
    [
        ("2022/2/30 0:00", "is not a real date"),
        ("2022/1/1 0:30", "is not on an hour from 0:00 to 23:00"),
        ("2022/1/1 24:00", "is not on an hour from 0:00 to 23:00"),
        ("yesterday", "is not understood"),
    ],
)
def test_bad_time(fixtures_dir, tmp_path, stamp, why):
    path = rewrite(
        fixture(fixtures_dir, "juyo_2021_tohoku_4Q_excerpt.txt"),
        tmp_path / "t.txt",
        lambda ls: [ls[0], stamp + ls[1][ls[1].index(",") :], *ls[2:]],
    )
    with pytest.raises(DataFormatError, match=f"t.txt, line 2, field 'DATE_TIME': time '{stamp}' {why}"):
        read_area_supply_demand(path, "tohoku")


def test_hokkaido_first_row_without_date(fixtures_dir, tmp_path):
    path = rewrite(
        fixture(fixtures_dir, "sup_dem_results_2022_3q_excerpt.csv"),
        tmp_path / "h.csv",
        lambda ls: [*ls[:4], ls[4][ls[4].index(",") :], *ls[5:]],
    )
    with pytest.raises(DataFormatError, match="h.csv, line 5, field '月日': empty date"):
        read_area_supply_demand(path, "hokkaido")


def test_empty_cells_and_gaps_are_reported_not_filled(fixtures_dir, tmp_path):
    path = rewrite(
        fixture(fixtures_dir, "juyo_2021_tohoku_4Q_excerpt.txt"),
        tmp_path / "t.txt",
        lambda ls: [*ls[:3], edit_field(ls[3], 2, ""), *ls[4:10], *ls[12:]],  # an empty cell; 2 hours left out
    )
    frame, meta = read_area_supply_demand(path, "tohoku")
    assert len(frame) == 70 and np.isnan(frame["hydro_mwh"].iloc[2])
    assert meta.missing_values == {c: int(c == "hydro_mwh") for c in COLUMNS}
    assert [(g.first_missing_utc, g.missing_periods) for g in meta.gaps] == [
        (pd.Timestamp("2022-01-01 09:00", tz=JST), 2)
    ]


# --- the cleaned Tohoku file: bad input -----------------------------------------------------------------------------


def test_tohoku_hourly_bad_input(fixtures_dir, tmp_path):
    src = fixture(fixtures_dir, "tohoku_hourly_2022-01-01_excerpt.csv")
    no_col = rewrite(src, tmp_path / "a.csv", lambda ls: [line.rsplit(",", 1)[0] for line in ls], "utf-8")
    with pytest.raises(DataFormatError, match=r"a.csv: missing column\(s\) \['interconnector_mwh'\]"):
        read_tohoku_hourly(no_col)
    bad = rewrite(src, tmp_path / "b.csv", lambda ls: [*ls[:3], ls[3].replace(",0,", ",zero,", 1), *ls[4:]], "utf-8")
    with pytest.raises(DataFormatError, match="b.csv, line 4, field 'nuclear_mwh': value 'zero' is not a number"):
        read_tohoku_hourly(bad)
    back = rewrite(src, tmp_path / "c.csv", lambda ls: [ls[0], ls[2], ls[1], *ls[3:]], "utf-8")
    with pytest.raises(DataFormatError, match="c.csv, line 3: time goes backwards"):
        read_tohoku_hourly(back)
    when = rewrite(src, tmp_path / "d.csv", lambda ls: [ls[0], ls[1].replace("T00:00", " 0:00"), *ls[2:]], "utf-8")
    with pytest.raises(DataFormatError, match="d.csv, line 2, field 'datetime_jst_start': time .* is not understood"):
        read_tohoku_hourly(when)
    with pytest.raises(DataFormatError, match="missing column"):
        read_tohoku_hourly(fixture(fixtures_dir, "juyo_2021_tohoku_4Q_excerpt.txt"))  # a raw file
    header = rewrite(src, tmp_path / "e.csv", lambda ls: ls[:1], "utf-8")
    with pytest.raises(DataFormatError, match="no data rows"):
        read_tohoku_hourly(header)


# --- real data ----------------------------------------------------------------------------------------------------

RAW_2022 = {  # calendar 2022 = FY2021 Q4 + FY2022 Q1..Q3
    "tohoku": ["juyo_2021_tohoku_4Q.txt", *(f"juyo_2022_tohoku_{q}Q.txt" for q in (1, 2, 3))],
    "hokkaido": ["sup_dem_results_2021_4q.csv", *(f"sup_dem_results_2022_{q}q.csv" for q in (1, 2, 3))],
    "kyushu": ["area_jyukyu_jisseki_2021_4Q.csv", *(f"area_jyukyu_jisseki_2022_{q}Q.csv" for q in (1, 2, 3))],
}
FIRST_ROW_FY2022 = {  # 2022/4/1 0:00 JST as written in the FY2022 Q1 file
    "tohoku": "8385,2129,7239,0,0,0,617,0,128,518,0,-2246",
    "hokkaido": "3285,0,2752,408,12,91,0,0,198,0,31,-207",
    "kyushu": "7606,2068,6520,279,132,319,0,0,190,0,-18,-1884",
}
# curtailment in calendar 2022, MWh: (solar, wind); Tohoku's first curtailment ever was in April 2022
CURTAILED_2022 = {"tohoku": (45879.0, 3565.0), "hokkaido": (1737.0, 177.0), "kyushu": (207751.0, 6504.0)}


@cache
def _read_calendar_2022(root: Path, area: str) -> tuple[pd.DataFrame, SourceMeta]:
    return read_area_supply_demand([root / "raw" / area / name for name in RAW_2022[area]], area)


@pytest.mark.shared_data
@pytest.mark.parametrize("area", ["tohoku", "hokkaido", "kyushu"])
def test_raw_fy2022_quarters(shared_data, area):
    folder = shared_data / "japan" / "area-supply-demand" / "raw" / area
    frame, meta = read_area_supply_demand([folder / name for name in RAW_2022[area][1:]], area)
    check_frame(frame, meta)
    assert meta.start_utc == pd.Timestamp("2022-03-31 15:00", tz="UTC")  # 2022-04-01 00:00 JST
    assert meta.end_utc == pd.Timestamp("2022-12-31 14:00", tz="UTC")  # 2022-12-31 23:00 JST
    assert len(frame) == 275 * 24 and meta.gaps == [] and meta.duplicates_dropped == 0
    assert sum(meta.missing_values.values()) == 0
    pd.testing.assert_series_equal(frame.iloc[0], expected_row(area, FIRST_ROW_FY2022[area]), check_names=False)
    # the energy balance fixes the sign conventions: demand = generation + pumped storage + interconnector
    supply = frame.drop(columns=["demand_mwh", "solar_curtailed_mwh", "wind_curtailed_mwh"]).sum(axis=1)
    residual = (frame["demand_mwh"] - supply).abs()
    assert residual.median() == 0 and residual.quantile(0.99) <= 2  # rounding to whole MWh


@pytest.mark.shared_data
def test_tohoku_raw_2022_equals_cleaned_file(shared_data):
    root = shared_data / "japan" / "area-supply-demand"
    raw, meta = _read_calendar_2022(root, "tohoku")
    cleaned, cmeta = read_tohoku_hourly(root / "tohoku_hourly.csv")
    check_frame(cleaned, cmeta)
    assert cmeta.rows == 59184 and cmeta.gaps == []  # 2016-04-01 .. 2022-12-31 JST
    in_2022 = cleaned[cleaned.index.tz_convert(JST).year == 2022]
    assert len(raw) == len(in_2022) == 8760 and meta.gaps == []
    for column in COLUMNS:
        pd.testing.assert_series_equal(raw[column], in_2022[column])
    totals = [(f[c].sum()) for f in (raw, in_2022) for c in ("solar_curtailed_mwh", "wind_curtailed_mwh")]
    print(f"Tohoku 2022 curtailment, MWh: solar {totals[0]:.0f} wind {totals[1]:.0f} (cleaned: {totals[2:]})")
    assert totals == [*CURTAILED_2022["tohoku"], *CURTAILED_2022["tohoku"]]


@pytest.mark.shared_data
@pytest.mark.parametrize("area", ["tohoku", "hokkaido", "kyushu"])
def test_calendar_2022_curtailment_totals(shared_data, area):
    frame, meta = _read_calendar_2022(shared_data / "japan" / "area-supply-demand", area)
    assert len(frame) == 8760 and meta.gaps == []
    assert frame.index[0] == pd.Timestamp("2022-01-01 00:00", tz=JST)
    solar, wind = frame["solar_curtailed_mwh"].sum(), frame["wind_curtailed_mwh"].sum()
    print(f"{area} 2022 curtailment, MWh: solar {solar:.0f} wind {wind:.0f}")
    assert (solar, wind) == CURTAILED_2022[area]
    if area == "tohoku":
        first = frame.index[(frame["solar_curtailed_mwh"] > 0) | (frame["wind_curtailed_mwh"] > 0)][0]
        assert first == pd.Timestamp("2022-04-10 08:00", tz=JST)


@pytest.mark.shared_data
@pytest.mark.parametrize("area", ["tohoku", "hokkaido", "kyushu"])
def test_whole_directory_every_layout_year(shared_data, area):
    """All 27 quarterly files FY2016 Q1 .. FY2022 Q3 (layouts change between years) join without gaps."""
    frame, meta = read_area_supply_demand(shared_data / "japan" / "area-supply-demand" / "raw" / area)
    assert meta.attrs["area"] == area and meta.attrs["files"] == 27
    assert frame.index[0] == pd.Timestamp("2016-04-01 00:00", tz=JST)
    assert frame.index[-1] == pd.Timestamp("2022-12-31 23:00", tz=JST)
    assert len(frame) == 59184 and meta.gaps == [] and meta.duplicates_dropped == 0
    assert sum(meta.missing_values.values()) == 0
    if area == "kyushu":  # era-named files (H28 = FY2016) come first although their names sort last
        assert Path(meta.paths[0]).name == "area_jyukyu_jisseki_H28_1Q.csv"


OTHER_AREAS = [  # area, files of one year, first hour (JST), hours
    ("hokuriku", [f"area_jisseki_rikuden2022{m:02d}.csv" for m in range(1, 13)], "2022-01-01", 8760),
    ("chubu", ["2021_areabalance_current_term.csv"], "2021-04-01", 8760),
    ("kansai", ["area_jyukyu_jisseki_2021.csv"], "2021-04-01", 8760),
    ("chugoku", ["kako-2016.csv"], "2016-04-01", 8760),
    ("shikoku", ["jukyu2019.csv"], "2019-04-01", 8784),
]


@pytest.mark.shared_data
@pytest.mark.parametrize(("area", "names", "first", "hours"), OTHER_AREAS, ids=[a[0] for a in OTHER_AREAS])
def test_other_areas_one_year(shared_data, area, names, first, hours):
    folder = shared_data / "japan" / "area-supply-demand" / "raw" / area
    frame, meta = read_area_supply_demand([folder / name for name in names])  # area detected
    check_frame(frame, meta)
    assert meta.attrs["area"] == area
    assert frame.index[0] == pd.Timestamp(f"{first} 00:00", tz=JST)
    assert len(frame) == hours and meta.gaps == [] and meta.duplicates_dropped == 0
    supply = frame.drop(columns=["demand_mwh", "solar_curtailed_mwh", "wind_curtailed_mwh"]).sum(axis=1)
    residual = (frame["demand_mwh"] - supply).abs()
    assert residual.median() == 0 and residual.quantile(0.99) <= 2

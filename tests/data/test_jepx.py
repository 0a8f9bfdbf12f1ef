"""JEPX day-ahead spot files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from wattbit.data.jepx import read_jepx_spot
from wattbit.errors import DataFormatError


@pytest.fixture()
def excerpt(fixtures_dir: Path) -> Path:
    return fixtures_dir / "jepx" / "spot_2022-12-30_31.csv"


def test_slots_and_units(excerpt: Path) -> None:
    frame, meta = read_jepx_spot(excerpt, area="tohoku")
    assert len(frame) == 96 and meta.resolution == pd.Timedelta("30min") and meta.gaps == []
    # slot 1 of 2022-12-30 JST begins at 2022-12-29 15:00 UTC
    assert frame.index[0] == pd.Timestamp("2022-12-29T15:00", tz="UTC")
    last = frame.iloc[-1]  # 2022/12/31 slot 48: system 24.99, Tohoku 25.02 JPY/kWh
    assert last["price_system_jpy_per_mwh"] == pytest.approx(24_990.0)
    assert last["price_jpy_per_mwh"] == pytest.approx(25_020.0)
    assert last["volume_cleared_mwh"] == pytest.approx(18_228.1)


def test_real_calendar_2022_from_two_fiscal_years(shared_data: Path) -> None:
    folder = shared_data / "japan/jepx-spot"
    frame, meta = read_jepx_spot([folder / "spot_summary_2022.csv", folder / "spot_summary_2021.csv"], area="tokyo")
    year = frame.tz_convert("Asia/Tokyo").loc["2022"]
    assert len(year) == 365 * 48 and meta.gaps == []
    raw = pd.concat(pd.read_csv(folder / f"spot_summary_{y}.csv") for y in (2021, 2022))
    raw = raw[raw["受渡日"].str.startswith("2022/")]
    assert year["price_jpy_per_mwh"].mean() == pytest.approx(raw["エリアプライス東京(円/kWh)"].mean() * 1000)
    # 2022 was the year of the fuel-price crisis: Tokyo averaged above 20 JPY/kWh
    assert year["price_jpy_per_mwh"].mean() > 20_000


def test_unknown_area(excerpt: Path) -> None:
    with pytest.raises(DataFormatError, match="unknown JEPX area 'okinawa'"):
        read_jepx_spot(excerpt, area="okinawa")


def test_missing_price_column(tmp_path: Path, excerpt: Path) -> None:
    df = pd.read_csv(excerpt, dtype=str).drop(columns=["エリアプライス東北(円/kWh)"])
    bad = tmp_path / "spot.csv"
    df.to_csv(bad, index=False)
    with pytest.raises(DataFormatError, match=r"spot.csv: missing column\(s\) \['エリアプライス東北"):
        read_jepx_spot(bad, area="tohoku")


def test_bad_slot_and_unordered_rows(tmp_path: Path, excerpt: Path) -> None:
    lines = excerpt.read_text(encoding="utf-8").splitlines()
    bad = tmp_path / "slot.csv"
    bad.write_text("\n".join([lines[0], lines[1].replace("2022/12/30,1,", "2022/12/30,x,"), *lines[2:]]) + "\n")
    with pytest.raises(DataFormatError, match=r"line 2.*expected YYYY/MM/DD and slot 1..48"):
        read_jepx_spot(bad)
    swapped = tmp_path / "swapped.csv"
    swapped.write_text("\n".join([lines[0], lines[2], lines[1], *lines[3:]]) + "\n")
    with pytest.raises(DataFormatError, match=r"line 3: time goes backwards"):
        read_jepx_spot(swapped)


def test_exact_duplicate_dropped_conflicting_duplicate_rejected(tmp_path: Path, excerpt: Path) -> None:
    lines = excerpt.read_text(encoding="utf-8").splitlines()
    dup = tmp_path / "dup.csv"
    dup.write_text("\n".join([lines[0], lines[1], lines[1], *lines[2:]]) + "\n")
    frame, meta = read_jepx_spot(dup)
    assert len(frame) == 96 and meta.duplicates_dropped == 1
    conflict = tmp_path / "conflict.csv"
    cells = lines[1].split(",")
    cells[5] = "99.99"  # system price
    changed = ",".join(cells)
    conflict.write_text("\n".join([lines[0], lines[1], changed, *lines[2:]]) + "\n")
    with pytest.raises(DataFormatError, match="appears twice with different values"):
        read_jepx_spot(conflict)


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("\n")
    with pytest.raises(DataFormatError, match="empty.csv: file is empty"):
        read_jepx_spot(empty)

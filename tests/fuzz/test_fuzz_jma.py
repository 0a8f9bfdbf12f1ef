"""Fuzzing the JMA hourly reader with damaged copies of a real Sendai file."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import FIXTURES, fuzz_settings, load_seed, outcome, write_case
from tests.fuzz.mutations import mutated, random_bytes
from wattbit.data.jma import read_jma_hourly
from wattbit.errors import DataFormatError

SEED = FIXTURES / "jma" / "sendai_2022-06-20_22.csv"
RAW, HEADER, ENCODING = load_seed(SEED)


@fuzz_settings()
@given(mutated(RAW, HEADER, encoding=ENCODING))
def test_mutated_jma_file_is_read_or_refused_with_its_place(raw: bytes) -> None:
    path = write_case(raw, "sendai_hourly.csv")
    outcome("jma_hourly", lambda: read_jma_hourly(path), path)


@fuzz_settings(0.4)
@given(random_bytes())
def test_random_bytes_as_a_jma_file(raw: bytes) -> None:
    path = write_case(raw, "sendai_hourly.csv")
    outcome("jma_hourly", lambda: read_jma_hourly(path), path)


@fuzz_settings(0.6)
@given(st.integers(min_value=1, max_value=200))
def test_file_cut_inside_its_last_row_is_refused_at_that_line(cut: int) -> None:
    lines = RAW.decode(ENCODING).splitlines()
    last = lines[-1]
    cut = cut % (len(last) - 1) + 1  # strictly inside the row
    fields_kept = last[:cut].count(",") + 1
    path = write_case("\n".join([*lines[:-1], last[:cut]]).encode(ENCODING), "sendai_hourly.csv")
    full, _ = read_jma_hourly(SEED)
    if fields_kept < last.count(",") + 1:
        with pytest.raises(DataFormatError, match="truncated") as err:
            read_jma_hourly(path)
        assert err.value.row == len(lines)
    else:  # the cut fell inside the last field: every field is there, the earlier rows are intact
        frame = outcome("jma_hourly", lambda: read_jma_hourly(path), path)
        if frame is not None:
            pd.testing.assert_frame_equal(frame.iloc[:-1], full.iloc[:-1])


@fuzz_settings(0.4)
@given(st.integers(min_value=-3, max_value=3))
def test_hours_relabelled_by_whole_hours_shift_the_index_by_as_much(shift_h: int) -> None:
    """A file whose JST labels are off by ``shift_h`` hours reads as the same data ``shift_h`` hours later."""
    full, _ = read_jma_hourly(SEED)
    table = pd.read_csv(SEED, dtype=str, keep_default_na=False)
    end = pd.to_datetime(table["date"]) + pd.to_timedelta(table["hour_1_24"].astype(int), unit="h")
    end = end + pd.Timedelta(hours=shift_h)
    hour = end.dt.hour.where(end.dt.hour != 0, 24)
    day = (end - pd.to_timedelta(hour, unit="h")).dt.strftime("%Y-%m-%d")
    table["date"], table["hour_1_24"] = day, hour.astype(str)
    path = write_case(table.to_csv(index=False).encode(), "sendai_hourly.csv")
    frame = outcome("jma_hourly", lambda: read_jma_hourly(path), path)
    assert frame is not None
    assert (frame.index == full.index + pd.Timedelta(hours=shift_h)).all()
    cols = [c for c in full.columns if c != "ghi_w_m2"]  # night-time irradiance depends on the hour
    pd.testing.assert_frame_equal(frame[cols].reset_index(drop=True), full[cols].reset_index(drop=True))

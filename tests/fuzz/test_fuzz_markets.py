"""Fuzzing the JEPX spot and Electricity Maps readers with damaged copies of real files."""

from __future__ import annotations

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import FIXTURES, fuzz_settings, load_seed, outcome, write_case
from tests.fuzz.mutations import mutated, random_bytes
from wattbit.data.electricitymaps import read_electricitymaps
from wattbit.data.jepx import read_jepx_spot

JEPX = FIXTURES / "jepx" / "spot_2022-12-30_31.csv"
EM_SEEDS = [
    FIXTURES / "electricitymaps" / "JP-TK" / "JP-TK_2022_hourly_head.csv",
    FIXTURES / "electricitymaps" / "SG" / "SG_2022_hourly_newer_header.csv",
]


@fuzz_settings()
@given(mutated(*load_seed(JEPX)))
def test_mutated_jepx_file_is_read_or_refused_with_its_place(raw: bytes) -> None:
    path = write_case(raw, "spot_summary_2022.csv")
    outcome("jepx_spot", lambda: read_jepx_spot(path, area="tokyo"), path)


@fuzz_settings(0.4)
@given(random_bytes())
def test_random_bytes_as_a_jepx_file(raw: bytes) -> None:
    path = write_case(raw, "spot_summary_2022.csv")
    outcome("jepx_spot", lambda: read_jepx_spot(path), path)


@fuzz_settings()
@given(st.sampled_from(EM_SEEDS).flatmap(lambda seed: mutated(*load_seed(seed))))
def test_mutated_electricitymaps_file_is_read_or_refused_with_its_place(raw: bytes) -> None:
    path = write_case(raw, "JP-TK_2022_hourly.csv")
    outcome("electricitymaps_hourly", lambda: read_electricitymaps(path), path)


@fuzz_settings(0.4)
@given(random_bytes())
def test_random_bytes_as_an_electricitymaps_file(raw: bytes) -> None:
    path = write_case(raw, "JP-TK_2022_hourly.csv")
    outcome("electricitymaps_hourly", lambda: read_electricitymaps(path), path)


@fuzz_settings(0.4)
@given(st.integers(min_value=-12, max_value=14).filter(lambda h: h != 0))
def test_electricitymaps_times_with_an_offset_are_read_in_utc(offset_h: int) -> None:
    """A spreadsheet that writes the UTC column with a zone offset shifts nothing: the frame is the same."""
    seed = EM_SEEDS[0]
    full, _ = read_electricitymaps(seed)
    table = pd.read_csv(seed, dtype=str, keep_default_na=False)
    utc = pd.to_datetime(table["Datetime (UTC)"], utc=True)
    local = utc.dt.tz_convert(f"Etc/GMT{-offset_h:+d}")
    table["Datetime (UTC)"] = local.map(lambda t: t.isoformat())
    path = write_case(table.to_csv(index=False).encode(), "JP-TK_2022_hourly.csv")
    frame = outcome("electricitymaps_hourly", lambda: read_electricitymaps(path), path)
    assert frame is not None
    pd.testing.assert_frame_equal(frame, full, check_freq=False)

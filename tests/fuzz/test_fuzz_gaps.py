"""Missing hours are reported, never filled: rows dropped from a real file come back as gaps of exactly that size."""

from __future__ import annotations

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import TALLY, fuzz_settings, load_seed, write_case
from tests.fuzz.test_fuzz_benign import SEEDS

#: Readers of regular time series whose seed rows are one period each (the raw area layouts carry the date on the
#: first row of a day only, so a dropped row can change the next one's date: left to the mutation tests).
REGULAR = ["jma_hourly", "jepx_spot", "electricitymaps_hourly", "tohoku_hourly", "epw"]


@fuzz_settings(0.6)
@given(st.sampled_from(REGULAR), st.data())
def test_dropped_rows_are_gaps_of_the_same_size(reader: str, data: st.DataObject) -> None:
    read, seed, name = SEEDS[reader]
    raw, header, encoding = load_seed(seed)
    lines = raw.decode(encoding).splitlines()
    original, _ = read(write_case(raw, name))
    interior = list(range(header + 1, len(lines) - 1))  # keep the first and last row: the span stays the same
    drop = data.draw(st.sets(st.sampled_from(interior), min_size=1, max_size=5))
    kept = [line for i, line in enumerate(lines) if i not in drop]
    frame, meta = read(write_case(("\n".join(kept) + "\n").encode(encoding), name))
    assert meta.missing_periods == len(drop)
    assert len(frame) == len(original) - len(drop)
    pd.testing.assert_frame_equal(frame, original.loc[frame.index], check_freq=False)
    TALLY[(reader, "read")] += 1

"""Fuzzing the EPW reader, the wattbit signals CSV and the NAB files the operations evaluation reads.

EPW typical years are laid on 2021 (``year=``): without it their index is not monotonic, by design.
"""

from __future__ import annotations

import json

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import FIXTURES, REPO, TALLY, fuzz_settings, head_of, load_seed, outcome, write_case
from tests.fuzz.mutations import mutated, random_bytes
from wattbit.data.epw import read_epw
from wattbit.data.wattbit_signals import read_wattbit_signals
from wattbit.errors import WattbitInputError
from wattbit.ops.detect.nab import read_nab

EPW = FIXTURES / "epw" / "USA_AZ_Phoenix_jan31_feb1.epw"
SIGNALS = head_of(REPO / "src" / "wattbit" / "demo" / "japan-2022" / "signals" / "fukushima.csv.gz", 50)
NAB_SEED = b"timestamp,value\n" + b"".join(
    f"2014-07-01 {h:02d}:{m:02d}:00,{10000 + 37 * (2 * h + m // 30)}\n".encode() for h in range(24) for m in (0, 30)
)
NAB_WINDOWS = {"realKnownCause/nyc_taxi.csv": [["2014-07-01 05:00:00.000000", "2014-07-01 08:30:00.000000"]]}
NAB_PROFILES = {"standard": {"CostMatrix": {"tpWeight": 1.0, "fpWeight": 0.11, "fnWeight": 1.0}}}


@fuzz_settings()
@given(mutated(*load_seed(EPW)))
def test_mutated_epw_file_is_read_or_refused_with_its_place(raw: bytes) -> None:
    path = write_case(raw, "USA_AZ_Phoenix.epw")
    outcome("epw", lambda: read_epw(path, year=2021), path)


@fuzz_settings(0.4)
@given(random_bytes())
def test_random_bytes_as_an_epw_file(raw: bytes) -> None:
    path = write_case(raw, "USA_AZ_Phoenix.epw")
    outcome("epw", lambda: read_epw(path, year=2021), path)


@fuzz_settings()
@given(mutated(SIGNALS, 1))
def test_mutated_signals_file_is_read_or_refused_with_its_place(raw: bytes) -> None:
    path = write_case(raw, "fukushima.csv")
    outcome("wattbit_signals", lambda: read_wattbit_signals(path), path)


@fuzz_settings(0.4)
@given(random_bytes())
def test_random_bytes_as_a_signals_file(raw: bytes) -> None:
    path = write_case(raw, "fukushima.csv")
    outcome("wattbit_signals", lambda: read_wattbit_signals(path), path)


@fuzz_settings(0.4)
@given(st.integers(min_value=-12, max_value=14))
def test_signal_times_written_with_another_offset_are_the_same_instants(offset_h: int) -> None:
    """A time column re-written by a tool in local time with its offset names the same instants: the same frame."""
    full, _ = read_wattbit_signals(write_case(SIGNALS, "fukushima.csv"))
    table = pd.read_csv(write_case(SIGNALS, "s.csv"), dtype=str, keep_default_na=False)
    utc = pd.to_datetime(table["time_utc"], utc=True)
    table["time_utc"] = utc.dt.tz_convert(f"Etc/GMT{-offset_h:+d}").map(lambda t: t.isoformat())
    path = write_case(table.to_csv(index=False).encode(), "fukushima.csv")
    frame = outcome("wattbit_signals", lambda: read_wattbit_signals(path), path)
    assert frame is not None
    pd.testing.assert_frame_equal(frame, full, check_freq=False)


def _nab_case(csv: bytes, windows: bytes, profiles: bytes) -> None:
    folder = write_case(csv, "nyc_taxi.csv").parent
    (folder / "combined_windows.json").write_bytes(windows)
    (folder / "profiles.json").write_bytes(profiles)
    try:
        files, _ = read_nab(folder)
    except WattbitInputError as err:
        assert err.path is not None and "expect" in str(err).lower(), str(err)
        TALLY[("nab", "input_error")] += 1
        return
    (f,) = files
    assert len(f.timestamps) == len(f.values) and pd.notna(f.values).all()
    assert all(0 <= lo <= hi < len(f.values) for lo, hi in f.windows)
    TALLY[("nab", "read")] += 1


_JSON_DAMAGE = st.sampled_from(["keep", "cut", "list", "garbage", "bad-time", "no-costmatrix"])


def _damage_json(obj: dict, how: str) -> bytes:
    text = json.dumps(obj)
    if how == "cut":
        return text[: len(text) // 2].encode()
    if how == "list":
        return json.dumps(list(obj)).encode()
    if how == "garbage":
        return b"\xff\xfe{]"
    if how == "bad-time":
        return json.dumps({k: [["yesterday", 3]] for k in obj}).encode()
    if how == "no-costmatrix":
        return json.dumps({k: {"Cost": 1} for k in obj}).encode()
    return text.encode()


@fuzz_settings()
@given(mutated(NAB_SEED, 1), _JSON_DAMAGE, _JSON_DAMAGE)
def test_mutated_nab_folder_is_read_or_refused_with_its_place(raw: bytes, windows: str, profiles: str) -> None:
    _nab_case(raw, _damage_json(NAB_WINDOWS, windows), _damage_json(NAB_PROFILES, profiles))

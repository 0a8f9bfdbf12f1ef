"""Aligning signals on the scenario index: conservation, gaps and the canonical CSV."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wattbit.data.signals import align
from wattbit.data.wattbit_signals import read_wattbit_signals
from wattbit.errors import DataFormatError, WattbitInputError
from wattbit.scenario import Period

JST = timezone(timedelta(hours=9))


def _period(step: str, days: int = 1) -> Period:
    start = datetime(2022, 1, 1, tzinfo=JST)
    return Period(start=start, end=start + timedelta(days=days), step=step)


def _hourly(period: Period, hours: int | None = None) -> pd.DataFrame:
    idx = pd.date_range(pd.Timestamp(period.start).tz_convert("UTC"), periods=hours or 24, freq="1h")
    rng = np.random.default_rng(1)
    return pd.DataFrame({"temp_air_c": rng.normal(5, 3, len(idx)), "curtailed_mwh": rng.uniform(0, 50, len(idx))}, idx)


@pytest.mark.parametrize("step", ["15min", "30min", "1h", "2h", "6h"])
def test_energy_is_conserved_and_means_kept(step: str) -> None:
    period = _period(step)
    hourly = _hourly(period)
    out = align(hourly, pd.Timedelta("1h"), period, what="t")
    assert out.index.equals(period.index_utc())
    assert out["curtailed_mwh"].sum() == pytest.approx(hourly["curtailed_mwh"].sum(), rel=1e-12)
    assert out["temp_air_c"].mean() == pytest.approx(hourly["temp_air_c"].mean(), rel=1e-12)


def test_finer_step_holds_intensive_and_splits_energy() -> None:
    period = _period("15min")
    hourly = _hourly(period)
    out = align(hourly, pd.Timedelta("1h"), period, what="t")
    np.testing.assert_allclose(out["temp_air_c"].to_numpy()[:4], hourly["temp_air_c"].iloc[0])
    np.testing.assert_allclose(out["curtailed_mwh"].to_numpy()[:4], hourly["curtailed_mwh"].iloc[0] / 4)


def test_gap_is_an_error_by_default_naming_the_time() -> None:
    period = _period("1h")
    hourly = _hourly(period).drop(index=_hourly(period).index[5])
    with pytest.raises(
        WattbitInputError, match=r"site x, weather: 1 periods .* no data \(first missing, UTC: 2021-12-31 20:00\)"
    ):
        align(hourly, pd.Timedelta("1h"), period, what="site x, weather")


def test_gap_fill_is_recorded() -> None:
    period = _period("1h")
    full = _hourly(period)
    hourly = full.drop(index=full.index[5])
    fills: list[str] = []
    out = align(hourly, pd.Timedelta("1h"), period, what="w", gap_fill="linear", fills=fills)
    expected = (full["temp_air_c"].iloc[4] + full["temp_air_c"].iloc[6]) / 2
    assert out["temp_air_c"].iloc[5] == pytest.approx(expected)
    assert fills == ["w: 1 periods filled by linear (1 gaps; first: 2021-12-31 20:00)"]


def test_long_gap_refused_even_with_fill() -> None:
    period = _period("1h")
    full = _hourly(period)
    hourly = full.drop(index=full.index[3:10])
    with pytest.raises(WattbitInputError, match="exceeds max_gap_periods = 3"):
        align(hourly, pd.Timedelta("1h"), period, what="w", gap_fill="hold")


def test_data_not_covering_the_period() -> None:
    period = _period("1h", days=2)
    with pytest.raises(WattbitInputError, match="24 periods of the scenario period have no data"):
        align(_hourly(period), pd.Timedelta("1h"), period, what="w")


def test_signals_csv_roundtrip_and_errors(tmp_path: Path) -> None:
    period = _period("1h")
    frame = _hourly(period)
    f = tmp_path / "s.csv"
    frame.to_csv(f, index_label="time_utc", date_format="%Y-%m-%dT%H:%M:%SZ")
    back, meta = read_wattbit_signals(f)
    pd.testing.assert_frame_equal(back, frame, check_freq=False, check_names=False)
    assert meta.resolution == pd.Timedelta("1h")
    f.write_text(f.read_text().replace("temp_air_c", "temperature"))
    with pytest.raises(DataFormatError, match=r"unknown signal column\(s\) \['temperature'\]"):
        read_wattbit_signals(f)

"""Inference demand from the Azure and ServeGen traces, and the diurnal profile in Japan time."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from wattbit.data._base import SourceMeta
from wattbit.errors import WattbitInputError
from wattbit.workload import (
    InferenceDemand,
    ServedModel,
    diurnal_profile,
    inference_from_azure_llm,
    inference_from_servegen,
    replica_capacity,
    weekly_shape,
)

Trace = tuple[pd.DataFrame, SourceMeta]
YEAR_15MIN = pd.date_range("2022-01-01T00:00+09:00", "2023-01-01T00:00+09:00", freq="15min", inclusive="left")


@pytest.fixture(scope="module")
def conv(azure_conv: Trace) -> InferenceDemand:
    return inference_from_azure_llm(*azure_conv)


def test_azure_tokens_rate_and_bursts(conv: InferenceDemand, azure_code: Trace) -> None:
    assert conv.prompt_tokens_mean == pytest.approx(1154.70, abs=0.01)
    assert conv.output_tokens_mean == pytest.approx(211.13, abs=0.01)
    assert conv.index_utc.freq is not None or (np.diff(conv.index_utc.as_unit("ns").asi8) == 60 * 10**9).all()
    assert conv.rate_rps.shape == (1, 58)
    assert conv.rate_rps.mean() == pytest.approx(5.557, abs=0.01)
    assert conv.rate_rps.sum() * 60 + 28 == 19_366  # every request is in a whole minute or in the 28 edge ones
    assert conv.burst_factor == pytest.approx(1.406, abs=0.001)
    code = inference_from_azure_llm(*azure_code)
    assert (code.prompt_tokens_mean, code.output_tokens_mean) == pytest.approx((2047.85, 27.88), abs=0.01)
    assert code.burst_factor > conv.burst_factor  # the coding service is far burstier (q95 minute 3.1x the mean)


def test_servegen_total_rate(servegen_small: InferenceDemand) -> None:
    assert servegen_small.rate_rps.shape == (1, 2016)  # 14 days of 10-minute windows
    assert servegen_small.rate_rps.mean() == pytest.approx(1174.40, abs=0.01)
    assert servegen_small.rate_rps.max() == pytest.approx(3879.51, abs=0.01)
    assert servegen_small.prompt_tokens_mean == pytest.approx(1154.7)


def test_weekly_shape(servegen_small: InferenceDemand) -> None:
    shape, bin_s = weekly_shape(servegen_small)
    assert bin_s == 600 and shape.shape == (1008,) and shape.max() == 1.0
    by_hour = shape.reshape(7, 24, 6).mean(axis=(0, 2))
    assert 19 <= by_hour.argmax() <= 22 and 3 <= by_hour.argmin() <= 7  # China local time
    flat, _ = weekly_shape(servegen_small, weekly=False)
    np.testing.assert_allclose(flat[:144], flat[144:288])


def test_diurnal_profile_peak_and_trough_hours_in_jst(servegen_small: InferenceDemand, conv: InferenceDemand) -> None:
    demand = diurnal_profile(servegen_small, YEAR_15MIN.tz_convert("UTC"), 1000.0, tokens_from=conv)
    frame = demand.to_frame()
    assert frame.shape == (35_040, 1) and list(frame.columns) == ["total"]
    assert 950 < frame["total"].max() <= 1000.0
    jst_hour = pd.DatetimeIndex(frame.index).tz_convert("Asia/Tokyo").hour
    hourly = frame["total"].groupby(jst_hour.to_numpy()).mean()
    peak, trough = int(np.argmax(hourly.to_numpy())), int(np.argmin(hourly.to_numpy()))
    assert 19 <= peak <= 22, peak  # evening peak, as ServeGen's local 20:00
    assert 3 <= trough <= 7, trough  # small hours trough
    assert hourly.min() / hourly.max() < 0.6
    assert demand.prompt_tokens_mean == conv.prompt_tokens_mean and demand.burst_factor == conv.burst_factor


def test_profile_steps_average_the_shape_exactly(servegen_small: InferenceDemand) -> None:
    shape, _ = weekly_shape(servegen_small)
    week = pd.date_range("2022-01-03T00:00+09:00", periods=1008, freq="10min")  # Monday 00:00 JST
    ten = diurnal_profile(servegen_small, week, 500.0)
    np.testing.assert_allclose(ten.rate_rps[0], 500.0 * shape)
    hourly = diurnal_profile(servegen_small, week[::6], 500.0)
    np.testing.assert_allclose(hourly.rate_rps[0], 500.0 * shape.reshape(-1, 6).mean(axis=1))
    shifted = diurnal_profile(servegen_small, week + pd.Timedelta(weeks=52), 500.0)  # any later week: same
    np.testing.assert_allclose(shifted.rate_rps, ten.rate_rps)


def test_regions_and_gpus_needed(servegen_small: InferenceDemand, conv: InferenceDemand) -> None:
    index = YEAR_15MIN[: 96 * 7].tz_convert("UTC")
    demand = diurnal_profile(servegen_small, index, {"tokyo": 1000.0, "osaka": 400.0}, tokens_from=conv)
    assert demand.regions == ("tokyo", "osaka")
    np.testing.assert_allclose(demand.rate_rps[1], 0.4 * demand.rate_rps[0])
    gpus = demand.gpus_needed("H100-SXM")
    cap = replica_capacity(ServedModel(), "H100-SXM", demand.slo, conv.prompt_tokens_mean, conv.output_tokens_mean)
    np.testing.assert_array_equal(gpus, np.ceil(demand.rate_rps * conv.burst_factor / cap.requests_per_s - 1e-9) * 2)
    assert gpus.shape == (2, 672) and gpus[0].max() > 500


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        ({"rate_rps": np.array([[1.0, np.nan]])}, r"rate nan at .* in region 'r'"),
        ({"rate_rps": np.array([[1.0, 2.0, 3.0]])}, r"shape \(1, 3\), expected \(1 regions, 2 steps\)"),
        ({"index_utc": pd.DatetimeIndex(["2022-01-01", "2022-01-02"])}, "tz-aware UTC"),
        ({"burst_factor": 0.5}, "burst_factor >= 1"),
    ],
)
def test_demand_rejects_bad_fields(change: dict[str, Any], pattern: str) -> None:
    fields: dict[str, Any] = {
        "index_utc": pd.date_range("2022-01-01", periods=2, freq="h", tz="UTC"),
        "rate_rps": np.array([[1.0, 2.0]]),
        "regions": ("r",),
        "prompt_tokens_mean": 100.0,
        "output_tokens_mean": 10.0,
    }
    with pytest.raises(WattbitInputError, match=pattern):
        InferenceDemand(**(fields | change))


def test_profile_rejects_bad_input(servegen_small: InferenceDemand, conv: InferenceDemand) -> None:
    index = YEAR_15MIN[:10]
    with pytest.raises(WattbitInputError, match="at least one day of rates"):
        diurnal_profile(conv, index, 100.0)
    with pytest.raises(WattbitInputError, match="tz-aware"):
        diurnal_profile(servegen_small, index.tz_localize(None), 100.0)
    with pytest.raises(WattbitInputError, match="regular"):
        diurnal_profile(servegen_small, index.delete(3), 100.0)
    with pytest.raises(WattbitInputError, match="must be >= 0"):
        diurnal_profile(servegen_small, index, {"a": -1.0})


def test_loaders_reject_other_traces(azure_conv: Trace, pods: Trace) -> None:
    with pytest.raises(WattbitInputError, match="expected the output of read_azure_llm_2023"):
        inference_from_azure_llm(*pods)
    with pytest.raises(WattbitInputError, match="expected the output of read_servegen_client_rates"):
        inference_from_servegen(*azure_conv)

"""The Alibaba GPU trace v2023 as jobs: what is kept, GPU-hours conserved, times moved into the period."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from wattbit.data._base import SourceMeta
from wattbit.errors import WattbitInputError
from wattbit.workload import JobKind, KindRule, jobs_from_alibaba_pods, validate

START = "2022-01-01T00:00:00+09:00"
END = "2023-01-01T00:00:00+09:00"
Pods = tuple[pd.DataFrame, SourceMeta]


def _kept(frame: pd.DataFrame) -> pd.DataFrame:
    """The pods the conversion should keep, selected independently of the code under test."""
    usable = frame["status"].isin(["completed", "running_at_trace_end"]).to_numpy(dtype=bool)
    return frame[usable & (frame["gpu_fraction"].to_numpy(dtype=float) > 0)]


def test_counts_kept_and_dropped(pods: Pods) -> None:
    jobs, rep = jobs_from_alibaba_pods(*pods, period_start_utc=START)
    assert rep.pods == 8152
    assert rep.kept_pods == len(jobs) == len(_kept(pods[0])) == 6203
    assert rep.dropped == {
        "never_scheduled": 897,
        "bad_or_missing_times": 0,
        "no_gpu": 1052,
        "censored_excluded": 0,
        "qos_excluded": 0,
        "zero_duration": 0,
    }
    assert rep.kept_pods + sum(rep.dropped.values()) == rep.pods
    assert rep.censored_kept == 32 and rep.survivors == 24
    assert rep.tiles == 1 and rep.outside_period == 0


def test_gpu_hours_conserved_exactly_with_the_ceil_rule(pods: Pods) -> None:
    """Job GPU-hours = sum over kept pods of ceil(gpu_fraction) x (deletion - scheduled) / 3600, exactly."""
    frame, meta = pods
    jobs, rep = jobs_from_alibaba_pods(frame, meta, period_start_utc=START)
    kept = _kept(frame)
    gang = np.ceil(kept["gpu_fraction"].to_numpy(dtype=float))
    hours = kept["duration_s"].to_numpy(dtype=float) / 3600.0
    assert math.fsum(jobs.gpu_hours) == math.fsum(gang * hours) == rep.allocated_gpu_hours == rep.job_gpu_hours
    assert rep.trace_gpu_hours == pytest.approx(meta.attrs["total_gpu_hours"], rel=1e-12)
    assert rep.allocated_gpu_hours == pytest.approx(59_612.2, abs=0.1)  # vs the trace's fractional 51,470.7
    assert rep.trace_gpu_hours == pytest.approx(51_470.7, abs=0.1)
    # job by job, through pod_row
    frac = frame["gpu_fraction"].to_numpy(dtype=float)[rep.pod_row]
    np.testing.assert_array_equal(jobs.gpus, np.ceil(frac).astype(int))
    np.testing.assert_array_equal(jobs.duration_h, frame["duration_s"].to_numpy(dtype=float)[rep.pod_row] / 3600.0)


def test_pack_rule_keeps_the_traces_fractional_gpu_hours(pods: Pods) -> None:
    jobs, rep = jobs_from_alibaba_pods(*pods, period_start_utc=START, fractional="pack")
    assert math.fsum(jobs.gpu_hours) == pytest.approx(rep.trace_gpu_hours, rel=1e-12)
    frac = pods[0]["gpu_fraction"].to_numpy(dtype=float)[rep.pod_row]
    assert (jobs.gpus[frac < 1] == 1).all()


def test_kind_rule(pods: Pods) -> None:
    jobs, rep = jobs_from_alibaba_pods(*pods, period_start_utc=START)
    whole = pods[0]["gpu_milli"].to_numpy(dtype=float)[rep.pod_row] == 1000
    training = (jobs.gpus >= 2) & (jobs.duration_h >= 1.0)
    finetune = ~training & whole & (jobs.duration_h >= 0.5)
    np.testing.assert_array_equal(jobs.kind == JobKind.TRAINING, training)
    np.testing.assert_array_equal(jobs.kind == JobKind.FINETUNE, finetune)
    assert np.bincount(jobs.kind).tolist() == [22, 1130, 5051]
    strict, _ = jobs_from_alibaba_pods(*pods, period_start_utc=START, kind_rule=KindRule(training_min_gpus=8))
    assert (strict.kind == JobKind.TRAINING).sum() < 22


def test_local_time_of_day_and_weekday_are_kept(pods: Pods) -> None:
    frame, meta = pods
    jobs, rep = jobs_from_alibaba_pods(frame, meta, period_start_utc=START)
    start = pd.Timestamp(START)
    assert start <= pd.Timestamp(jobs.submit_utc[0], tz="UTC") < start + pd.Timedelta(days=7)
    created = frame["creation_time_s"].to_numpy(dtype=float)[rep.pod_row]
    normal = created >= rep.window_start_s  # survivors are submitted at the window start
    jst = pd.DatetimeIndex(jobs.submit_utc[normal]).tz_localize("UTC").tz_convert("Asia/Tokyo")
    cst = pd.DatetimeIndex(frame["creation_time_utc"].iloc[rep.pod_row[normal]]).tz_convert("Asia/Shanghai")
    np.testing.assert_array_equal(jst.day_of_week, cst.day_of_week)
    np.testing.assert_array_equal(
        jst.hour * 3600 + jst.minute * 60 + jst.second, cst.hour * 3600 + cst.minute * 60 + cst.second
    )
    assert rep.time_shift % pd.Timedelta(days=7) == pd.Timedelta(days=7) - pd.Timedelta(hours=1)
    validate(jobs)
    assert jobs.job_id.tolist() == list(range(len(jobs)))


def test_tiling_fills_a_year(pods: Pods) -> None:
    jobs, rep = jobs_from_alibaba_pods(*pods, period_start_utc=START, period_end_utc=END, tile=True)
    assert rep.tile_length == pd.Timedelta(days=35) and rep.tiles == 11
    submit = pd.DatetimeIndex(jobs.submit_utc).tz_localize("UTC")
    assert submit.min() >= pd.Timestamp(START) and submit.max() < pd.Timestamp(END)
    assert rep.jobs == 6203 + 10 * (6203 - 24) - rep.outside_period
    survivors = np.flatnonzero(pods[0]["creation_time_s"].to_numpy(dtype=float) < rep.window_start_s)
    assert np.isin(rep.pod_row, survivors).sum() == 24  # once, in the first tile
    per_pod = (
        np.ceil(pods[0]["gpu_fraction"].to_numpy(dtype=float)) * pods[0]["duration_s"].to_numpy(dtype=float) / 3600
    )
    assert math.fsum(jobs.gpu_hours) == math.fsum(per_pod[rep.pod_row])
    monthly = submit.tz_convert("Asia/Tokyo").month.value_counts()
    assert len(monthly) == 12 and monthly.min() > 2000
    validate(jobs)


def test_period_end_cuts_and_counts(pods: Pods) -> None:
    end = pd.Timestamp(START) + pd.Timedelta(days=10)
    jobs, rep = jobs_from_alibaba_pods(*pods, period_start_utc=START, period_end_utc=end)
    assert rep.outside_period > 0 and rep.jobs == 6203 - rep.outside_period
    assert pd.Timestamp(jobs.submit_utc.max(), tz="UTC") < end


def test_explicit_or_no_shift(pods: Pods) -> None:
    frame, meta = pods
    jobs, rep = jobs_from_alibaba_pods(frame, meta, period_start_utc=START, time_shift=None)
    normal = frame["creation_time_s"].to_numpy(dtype=float)[rep.pod_row] >= rep.window_start_s
    created = pd.DatetimeIndex(frame["creation_time_utc"].iloc[rep.pod_row[normal]]).tz_convert("UTC")
    np.testing.assert_array_equal(jobs.submit_utc[normal], created.tz_localize(None).as_unit("ns").to_numpy())
    moved, _ = jobs_from_alibaba_pods(frame, meta, period_start_utc=START, time_shift=pd.Timedelta(days=1))
    np.testing.assert_array_equal(moved.submit_utc - jobs.submit_utc, np.timedelta64(1, "D"))


def test_filters(pods: Pods) -> None:
    _, no_cut = jobs_from_alibaba_pods(*pods, period_start_utc=START, include_censored=False)
    assert no_cut.dropped["censored_excluded"] == 32 and no_cut.kept_pods == 6203 - 32
    _, be = jobs_from_alibaba_pods(*pods, period_start_utc=START, keep_qos=["BE"])
    assert be.kept_pods == 2510


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"period_start_utc": "2022-01-01T00:00:00"}, "needs a UTC offset"),
        ({"period_start_utc": START, "tile": True}, "tiling needs period_end_utc"),
        ({"period_start_utc": START, "fractional": "round"}, "expected 'ceil' or 'pack'"),
        ({"period_start_utc": START, "time_shift": "utc"}, "expected 'local', a Timedelta or None"),
        ({"period_start_utc": START, "keep_qos": ["nonexistent"]}, "no pod is left"),
    ],
)
def test_bad_arguments(pods: Pods, kwargs: dict[str, Any], pattern: str) -> None:
    with pytest.raises(WattbitInputError, match=pattern):
        jobs_from_alibaba_pods(*pods, **kwargs)


def test_rejects_other_frames(pods: Pods, azure_conv: Pods) -> None:
    with pytest.raises(WattbitInputError, match="expected the output of read_alibaba_gpu_pods"):
        jobs_from_alibaba_pods(*azure_conv, period_start_utc=START)

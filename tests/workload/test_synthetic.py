"""Synthetic jobs: reproducible, distributed like the Alibaba trace, scaled to a fleet, fast."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from wattbit.data._base import SourceMeta
from wattbit.errors import WattbitInputError
from wattbit.workload import (
    TraceCalibration,
    calibration_from_alibaba,
    default_calibration,
    jobs_for_utilisation,
    offered_utilisation,
    synthesize_training_jobs,
    validate,
)

START = "2022-01-01T00:00:00+09:00"
END = "2023-01-01T00:00:00+09:00"
YEAR_H = 8760.0


def test_calibration_facts(calibration: TraceCalibration, pods: tuple[pd.DataFrame, SourceMeta]) -> None:
    assert len(calibration.gpus) == 6203 - 24  # survivors left out
    assert sorted(set(calibration.gpus.tolist())) == [1, 2, 4, 8]
    assert calibration.mean_gpu_hours == pytest.approx(2.919, abs=1e-3)
    assert calibration.duration_h.max() < 35 * 24  # no job outlasts the arrival window
    with_survivors = calibration_from_alibaba(*pods, include_survivors=True)
    assert len(with_survivors.gpus) == 6203
    assert with_survivors.mean_gpu_hours == pytest.approx(59_612.21 / 6203, rel=1e-6)
    assert calibration.arrivals_per_day == pytest.approx(179.2, abs=0.1)
    assert calibration.hour_weight.mean() == pytest.approx(1) and calibration.weekday_weight.mean() == pytest.approx(1)
    assert calibration.hour_weight.min() > 0.3 and calibration.hour_weight.max() < 2.0


def test_default_calibration_is_the_shipped_trace(calibration: TraceCalibration) -> None:
    shipped = default_calibration()
    np.testing.assert_array_equal(shipped.duration_h, calibration.duration_h)
    np.testing.assert_array_equal(shipped.hour_weight, calibration.hour_weight)


def test_same_seed_same_jobs(calibration: TraceCalibration) -> None:
    a = synthesize_training_jobs(5000, START, END, seed=7, calibration=calibration)
    b = synthesize_training_jobs(5000, START, END, seed=7, calibration=calibration)
    c = synthesize_training_jobs(5000, START, END, seed=8, calibration=calibration)
    for name in a.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert not np.array_equal(a.duration_h, c.duration_h)
    assert not np.array_equal(a.submit_utc, c.submit_utc)


def test_distributions_match_the_trace(calibration: TraceCalibration) -> None:
    jobs = synthesize_training_jobs(200_000, START, END, seed=1, calibration=calibration)
    validate(jobs)
    for q in (0.5, 0.9):
        trace_q = np.quantile(calibration.duration_h, q)
        assert np.quantile(jobs.duration_h, q) == pytest.approx(trace_q, rel=0.05), q
    for q in (0.5, 0.9, 0.99):
        assert np.quantile(jobs.gpus, q) == np.quantile(calibration.gpus, q)
    trace_share = np.bincount(calibration.gpus, minlength=9) / len(calibration.gpus)
    np.testing.assert_allclose(np.bincount(jobs.gpus, minlength=9) / len(jobs), trace_share, atol=0.005)
    kind_share = np.bincount(calibration.kind, minlength=3) / len(calibration.kind)
    np.testing.assert_allclose(np.bincount(jobs.kind, minlength=3) / len(jobs), kind_share, atol=0.005)


def test_arrivals_follow_the_local_hour_and_weekday_pattern(calibration: TraceCalibration) -> None:
    jobs = synthesize_training_jobs(300_000, START, END, seed=2, calibration=calibration)
    t = pd.DatetimeIndex(jobs.submit_utc).tz_localize("UTC")
    assert t.min() >= pd.Timestamp(START) and t.max() < pd.Timestamp(END)
    assert t.is_monotonic_increasing
    jst = t.tz_convert("Asia/Tokyo")
    hourly = np.bincount(jst.hour, minlength=24) / len(jst)
    expected = calibration.hour_weight / calibration.hour_weight.sum()  # every hour has equal exposure in a year
    np.testing.assert_allclose(hourly, expected, rtol=0.05)
    days = pd.date_range(START, END, freq="D", inclusive="left").day_of_week
    exposure = np.bincount(days, minlength=7)
    weekday = np.bincount(jst.day_of_week, minlength=7) / len(jst)
    expected_w = calibration.weekday_weight * exposure / (calibration.weekday_weight * exposure).sum()
    np.testing.assert_allclose(weekday, expected_w, rtol=0.03)


def test_job_count_from_target_utilisation(calibration: TraceCalibration) -> None:
    n = jobs_for_utilisation(0.5, 200, YEAR_H, calibration)
    assert n == round(0.5 * 200 * YEAR_H / calibration.mean_gpu_hours)
    jobs = synthesize_training_jobs(
        None, START, END, seed=3, calibration=calibration, fleet_gpus=200, target_gpu_utilisation=0.5
    )
    assert len(jobs) == n
    assert offered_utilisation(jobs, 200, YEAR_H) == pytest.approx(0.5, rel=0.1)


def test_one_million_jobs_for_a_100k_gpu_fleet(calibration: TraceCalibration) -> None:
    jobs = synthesize_training_jobs(
        1_000_000,
        START,
        END,
        seed=2022,
        calibration=calibration,
        fleet_gpus=100_000,
        target_gpu_utilisation=0.7,
        max_gpus=10_000,
    )
    assert len(jobs) == 1_000_000
    # gang scale 0.7 x 1e5 x 8760 / (1e6 x 2.92) = 210 -> 208, a multiple of 8: whole nodes
    assert sorted(set(jobs.gpus.tolist())) == [208, 416, 832, 1664]
    assert offered_utilisation(jobs, 100_000, YEAR_H) == pytest.approx(0.7, rel=0.1)
    validate(jobs, max_site_gpus=10_000)


def test_gang_scale_and_clip(calibration: TraceCalibration) -> None:
    jobs = synthesize_training_jobs(2000, START, END, seed=4, calibration=calibration, gang_scale=16, max_gpus=64)
    assert set(jobs.gpus.tolist()) <= {16, 32, 64}
    plain = synthesize_training_jobs(2000, START, END, seed=4, calibration=calibration, duration_jitter=0)
    assert np.isin(plain.duration_h, calibration.duration_h).all()


@pytest.mark.parametrize(
    ("args", "kwargs", "pattern"),
    [
        ((None, START, END), {}, "give n_jobs, or fleet_gpus and target_gpu_utilisation"),
        ((10, START, END), {"fleet_gpus": 10, "target_gpu_utilisation": 0.5, "gang_scale": 2}, "over-determine"),
        ((10, END, START), {}, "is not after start"),
        ((-1, START, END), {}, "must be >= 0"),
        ((10, "2022-01-01", END), {}, "needs a UTC offset"),
        ((None, START, END), {"fleet_gpus": 10, "target_gpu_utilisation": 1.5}, "0 < utilisation <= 1"),
    ],
)
def test_bad_arguments(
    calibration: TraceCalibration, args: tuple[Any, ...], kwargs: dict[str, Any], pattern: str
) -> None:
    with pytest.raises(WattbitInputError, match=pattern):
        n_jobs, start, end = args
        synthesize_training_jobs(n_jobs, start, end, 0, calibration, **kwargs)

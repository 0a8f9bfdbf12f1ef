"""TrainingJobs: structure of arrays, round trips, Young-Daly, and every kind of bad job."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from wattbit.errors import WattbitInputError
from wattbit.workload import (
    FAILURES_PER_GPU_DAY,
    JobAssumptions,
    JobKind,
    TrainingJobs,
    build_jobs,
    concat,
    validate,
    young_daly_interval_h,
)

T0 = np.datetime64("2022-01-01T00:00:00", "ns")


def make_jobs(n: int = 4, **changes: Any) -> TrainingJobs:
    """``n`` valid jobs one hour apart (kinds cycling), with fields replaced by ``changes``."""
    jobs = build_jobs(
        np.arange(n) % 3,
        np.array([8, 1, 2, 4] * n)[:n],
        np.linspace(1.0, 4.0, n),
        T0 + np.arange(n) * np.timedelta64(1, "h"),
        job_id_start=100,
    )
    return replace(jobs, **changes) if changes else jobs


# --- structure ------------------------------------------------------------------------------------------------------


def test_dtypes_length_and_gpu_hours() -> None:
    jobs = make_jobs()
    assert len(jobs) == 4
    expected = {"job_id": np.int64, "kind": np.int8, "gpus": np.int32, "home_site": np.int16, "pausable": np.bool_}
    for name, dtype in expected.items():
        assert getattr(jobs, name).dtype == dtype, name
    assert jobs.submit_utc.dtype == np.dtype("datetime64[ns]")
    np.testing.assert_allclose(jobs.gpu_hours, jobs.gpus * jobs.duration_h)
    assert jobs.gpu_hours[0] == 8.0  # 8 GPUs x 1 h


def test_kind_codes_are_documented_values() -> None:
    assert (int(JobKind.TRAINING), int(JobKind.FINETUNE), int(JobKind.BATCH_INFERENCE)) == (0, 1, 2)


def test_select_concat_sort() -> None:
    jobs = make_jobs()
    picked = jobs.select(np.array([True, False, True, False]))
    assert picked.job_id.tolist() == [100, 102]
    assert jobs.select(np.array([3, 0])).job_id.tolist() == [103, 100]
    both = concat([jobs.select([2, 3]), jobs.select([0, 1])])
    assert both.job_id.tolist() == [102, 103, 100, 101]
    assert both.sort_by_submit().job_id.tolist() == [100, 101, 102, 103]
    assert len(TrainingJobs.concat([])) == 0
    with pytest.raises(WattbitInputError, match="mask has shape"):
        jobs.select(np.array([True, False]))


def test_mismatched_lengths_are_rejected() -> None:
    with pytest.raises(WattbitInputError, match="field 'gpus'.*has 3 entries, expected 4"):
        make_jobs(gpus=np.array([1, 2, 3]))


def test_frame_and_parquet_round_trip(tmp_path: Path) -> None:
    jobs = make_jobs(deadline_utc=np.array(["NaT"] * 4, dtype="datetime64[ns]"))
    frame = jobs.to_frame()
    assert str(frame["submit_utc"].dt.tz) == "UTC"
    assert frame["kind_name"].tolist() == ["training", "finetune", "batch_inference", "training"]
    path = tmp_path / "jobs.parquet"
    frame.to_parquet(path)
    back = TrainingJobs.from_frame(pd.read_parquet(path))
    for name in jobs.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(back, name), getattr(jobs, name), err_msg=name)
    with pytest.raises(WattbitInputError, match="lacks column"):
        TrainingJobs.from_frame(frame.drop(columns="gpus"))


def test_tz_aware_times_are_converted_to_utc() -> None:
    tokyo = pd.date_range("2022-01-01 09:00", periods=4, freq="h", tz="Asia/Tokyo")
    jobs = make_jobs(submit_utc=pd.Series(tokyo), earliest_start_utc=pd.Series(tokyo))
    assert jobs.submit_utc[0] == T0


# --- Young-Daly ------------------------------------------------------------------------------------------------------


def test_young_daly_by_hand() -> None:
    # 16,384 GPUs at 4.7e-4 failures/GPU-day: MTBF = 24 / (16384 * 4.7e-4) = 3.117 h (REFERENCE.md §7: ~3.1 h)
    mtbf = 24 / (16384 * 4.7e-4)
    assert mtbf == pytest.approx(3.1, abs=0.05)
    tau = young_daly_interval_h(1 / 60, 16384)
    assert float(tau) == pytest.approx(math.sqrt(2 * (1 / 60) * mtbf))
    assert float(tau) == pytest.approx(0.3223, abs=1e-3)
    # one GPU: MTBF 51,064 h
    assert float(young_daly_interval_h(0.01, 1, FAILURES_PER_GPU_DAY)) == pytest.approx(
        math.sqrt(2 * 0.01 * 24 / 4.7e-4)
    )
    np.testing.assert_allclose(young_daly_interval_h(0.01, [1, 4]), young_daly_interval_h(0.01, 1) / [1, 2])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"checkpoint_cost_h": 0.0, "gpus": 8}, "checkpoint_cost_h"),
        ({"checkpoint_cost_h": float("nan"), "gpus": 8}, "checkpoint_cost_h"),
        ({"checkpoint_cost_h": 0.01, "gpus": 0}, "gpus"),
        ({"checkpoint_cost_h": 0.01, "gpus": 8, "failures_per_gpu_day": 0.0}, "failures_per_gpu_day"),
    ],
)
def test_young_daly_rejects_bad_input(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(WattbitInputError, match=f"field '{field}'"):
        young_daly_interval_h(**kwargs)


def test_build_jobs_defaults() -> None:
    a = JobAssumptions()
    jobs = make_jobs()
    # H100: 80 GiB = 85.9 GB; half of it written at 2 GB/s: 21.5 s
    assert a.checkpoint_cost_h * 3600 == pytest.approx(80 * 2**30 / 1e9 * 0.5 / 2.0)
    np.testing.assert_allclose(jobs.data_size_gb, jobs.gpus * (80 * 2**30 / 1e9 * 0.5))
    train = jobs.kind != JobKind.BATCH_INFERENCE
    np.testing.assert_allclose(
        jobs.checkpoint_interval_h[train], young_daly_interval_h(a.checkpoint_cost_h, jobs.gpus[train])
    )
    assert (jobs.checkpoint_cost_h[~train] == 0).all() and (jobs.checkpoint_interval_h[~train] == 0.05).all()
    slack = (jobs.deadline_utc - jobs.submit_utc) / np.timedelta64(1, "h")
    np.testing.assert_allclose(slack, 2 * jobs.duration_h, rtol=1e-12)
    validate(jobs)


def test_assumptions_per_kind_and_no_deadline() -> None:
    a = JobAssumptions(
        deadline_slack={"training": 3.0, "finetune": 1.0, "batch_inference": 1.5},
        pausable={"training": True, "finetune": True, "batch_inference": False},
    )
    jobs = build_jobs([0, 1, 2], [1, 1, 1], [1.0, 1.0, 1.0], np.array([T0] * 3), a)
    assert ((jobs.deadline_utc - T0) / np.timedelta64(1, "h")).tolist() == [3.0, 1.0, 1.5]
    assert jobs.pausable.tolist() == [True, True, False]
    none = build_jobs([0], [1], [1.0], np.array([T0]), JobAssumptions(deadline_slack=None))
    assert np.isnat(none.deadline_utc).all()
    with pytest.raises(WattbitInputError, match="deadline_slack"):
        JobAssumptions(deadline_slack=0.5)
    with pytest.raises(WattbitInputError, match="needs exactly the kinds"):
        JobAssumptions(pausable={"training": True})
    with pytest.raises(WattbitInputError, match="unknown GPU model"):
        JobAssumptions(gpu_model="Z9000")


# --- validation: every bad input names the job, the field, the value and what was expected --------------------------


def _bad(name: str, i: int, value: object, dtype: str | None = None) -> TrainingJobs:
    jobs = make_jobs()
    arr = getattr(jobs, name).copy() if dtype is None else getattr(jobs, name).astype(dtype)
    arr[i] = value
    return replace(jobs, **{name: arr})


@pytest.mark.parametrize(
    ("jobs", "pattern"),
    [
        (
            _bad("duration_h", 2, -1.0),
            r"field 'duration_h': job 102 \(index 2\): duration_h = -1.0; expected a duration > 0 h",
        ),
        (_bad("duration_h", 1, 0.0), r"job 101 \(index 1\): duration_h = 0.0; expected a duration > 0 h"),
        (_bad("duration_h", 3, np.nan), r"job 103 \(index 3\): duration_h = nan; expected a finite number"),
        (_bad("checkpoint_interval_h", 0, np.nan), r"job 100 \(index 0\): checkpoint_interval_h = nan"),
        (_bad("gpus", 1, 0), r"field 'gpus': job 101 \(index 1\): gpus = 0; expected a gang size >= 1 GPU"),
        (_bad("gpus", 2, -8), r"job 102 \(index 2\): gpus = -8; expected a gang size >= 1 GPU"),
        (_bad("submit_utc", 1, np.datetime64("NaT")), r"job 101 \(index 1\): submit_utc = NaT; expected a time"),
        (_bad("kind", 0, 7), r"job 100 \(index 0\): kind = 7; expected a kind code"),
        (_bad("job_id", 3, 101), r"field 'job_id': job 101 \(index 3\): job_id = 101; expected a unique job id"),
        (
            _bad("checkpoint_interval_h", 1, 0.0),
            r"job 101 \(index 1\): checkpoint_interval_h = 0.0; expected an interval > 0 h",
        ),
        (_bad("restart_cost_h", 2, -0.1), r"job 102 \(index 2\): restart_cost_h = -0.1; expected a value >= 0"),
        (_bad("data_size_gb", 0, -1.0), r"job 100 \(index 0\): data_size_gb = -1.0; expected a value >= 0"),
        (_bad("home_site", 3, -2), r"job 103 \(index 3\): home_site = -2; expected a site index >= 0, or -1"),
        (
            _bad("earliest_start_utc", 2, T0),
            r"field 'earliest_start_utc': job 102 \(index 2\): earliest_start_utc = 2022-01-01T00:00:00.000000000; "
            r"expected a time at or after submit_utc",
        ),
    ],
)
def test_validate_names_the_bad_job(jobs: TrainingJobs, pattern: str) -> None:
    with pytest.raises(WattbitInputError, match=pattern):
        validate(jobs)


def test_validate_deadline_before_earliest_start_plus_duration() -> None:
    jobs = make_jobs()
    deadline = jobs.deadline_utc.copy()
    deadline[1] = jobs.earliest_start_utc[1] + np.timedelta64(30, "m")  # duration is 2 h
    with pytest.raises(
        WattbitInputError,
        match=r"job 101 \(index 1\): deadline_utc = 2022-01-01T01:30:00.000000000; expected NaT or a time >= "
        r"earliest_start_utc \+ duration_h",
    ):
        validate(replace(jobs, deadline_utc=deadline))
    deadline[1] = jobs.earliest_start_utc[1] + np.timedelta64(2, "h")  # exactly enough
    validate(replace(jobs, deadline_utc=deadline))


def test_validate_max_site_gpus() -> None:
    jobs = make_jobs()
    validate(jobs, max_site_gpus=8)
    with pytest.raises(
        WattbitInputError, match=r"job 100 \(index 0\): gpus = 8; expected <= 4, the GPUs of the largest"
    ):
        validate(jobs, max_site_gpus=4)


def test_validate_unsorted_submit_times() -> None:
    jobs = make_jobs().select([0, 2, 1, 3])
    with pytest.raises(WattbitInputError, match=r"job 101 \(index 2\): submit_utc = .*non-decreasing order"):
        validate(jobs)
    validate(jobs, require_sorted=False)
    validate(jobs.sort_by_submit())


def test_validate_counts_similar_jobs() -> None:
    jobs = replace(make_jobs(), gpus=np.array([0, 0, 0, 1]))
    with pytest.raises(WattbitInputError, match=r"\(2 more job\(s\) like it\)"):
        validate(jobs)


def test_fractional_ids_rejected_at_construction() -> None:
    with pytest.raises(WattbitInputError, match="field 'gpus'.*whole numbers"):
        make_jobs(gpus=np.array([1.5, 1, 1, 1]))
    with pytest.raises(WattbitInputError, match=r"field 'home_site'.*outside -32768..32767"):
        make_jobs(home_site=np.array([40_000, 0, 0, 0]))

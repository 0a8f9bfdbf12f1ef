"""Deferrable GPU jobs (training, fine-tuning, batch inference) as a structure of numpy arrays.

One :class:`TrainingJobs` holds every job of a workload as parallel arrays, one entry per job, so that the engine
never builds a Python object per job in its hot loop (``docs/workload.md``). Times are ``datetime64[ns]`` in UTC
(naive, UTC by convention); durations and costs are hours.

Kind codes (:class:`JobKind`, ``int8``): ``0`` training, ``1`` fine-tuning, ``2`` batch inference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from enum import IntEnum
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from wattbit.errors import WattbitInputError


class JobKind(IntEnum):
    """What a job is; stored as ``int8`` codes in :attr:`TrainingJobs.kind`."""

    TRAINING = 0
    FINETUNE = 1
    BATCH_INFERENCE = 2


#: Code -> name, as written by :meth:`TrainingJobs.to_frame` in ``kind_name``.
KIND_NAMES: dict[int, str] = {int(k): k.name.lower() for k in JobKind}

#: Unplanned interruptions per GPU-day: 419 unplanned in 54 days on 16,384 H100 (Llama 3 405B), REFERENCE.md §7 (S).
FAILURES_PER_GPU_DAY = 4.7e-4

_DTYPES: dict[str, Any] = {
    "job_id": np.int64,
    "kind": np.int8,
    "gpus": np.int32,
    "duration_h": np.float64,
    "submit_utc": "datetime64[ns]",
    "earliest_start_utc": "datetime64[ns]",
    "deadline_utc": "datetime64[ns]",
    "checkpoint_interval_h": np.float64,
    "checkpoint_cost_h": np.float64,
    "restart_cost_h": np.float64,
    "pausable": np.bool_,
    "migratable": np.bool_,
    "data_size_gb": np.float64,
    "home_site": np.int16,
}
_TIME_FIELDS = ("submit_utc", "earliest_start_utc", "deadline_utc")
_NS_PER_H = 3_600_000_000_000


def _as_utc_ns(values: Any, name: str) -> NDArray[np.datetime64]:
    """Times as naive UTC ``datetime64[ns]``; tz-aware input is converted to UTC."""
    if isinstance(values, (pd.Series, pd.Index)) or (
        isinstance(values, np.ndarray) and values.dtype == object and values.size
    ):
        try:
            idx = pd.DatetimeIndex(values)
        except (TypeError, ValueError) as exc:
            raise WattbitInputError(f"cannot read {name} as times ({exc})", field=name) from exc
        if idx.tz is not None:
            idx = idx.tz_convert("UTC").tz_localize(None)
        return np.asarray(idx.as_unit("ns").to_numpy(), dtype="datetime64[ns]")
    arr = np.asarray(values)
    if arr.dtype.kind != "M":
        raise WattbitInputError(f"expected datetime64 values, got dtype {arr.dtype}", field=name)
    return arr.astype("datetime64[ns]")


def utc_timestamp(value: Any, name: str) -> pd.Timestamp:
    """A tz-aware time as a UTC :class:`pandas.Timestamp`; a naive or unreadable one raises naming ``name``."""
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise WattbitInputError(f"cannot read {value!r} as a time", field=name) from exc
    if ts is pd.NaT or ts.tzinfo is None:
        raise WattbitInputError(f"{value!r} needs a UTC offset, e.g. '2022-01-01T00:00:00+09:00'", field=name)
    return ts.tz_convert("UTC")


@dataclass(frozen=True, eq=False)
class TrainingJobs:
    """Deferrable GPU jobs, one array entry per job (structure of arrays).

    Attributes
    ----------
    job_id
        Unique job number (``int64``).
    kind
        :class:`JobKind` code (``int8``): 0 training, 1 fine-tuning, 2 batch inference.
    gpus
        Gang size (``int32``): the job runs on exactly this many GPUs at one site, all or nothing.
    duration_h
        Wall-clock hours to finish on ``gpus`` GPUs at full power, without interruptions [h]. Work is
        ``gpus * duration_h`` GPU-hours.
    submit_utc
        When the job arrives (``datetime64[ns]``, UTC).
    earliest_start_utc
        Not before this time (UTC); usually the submit time.
    deadline_utc
        Finish by this time (UTC); ``NaT`` means no deadline.
    checkpoint_interval_h
        Run time between checkpoints [h] (Young-Daly by default, :func:`young_daly_interval_h`).
    checkpoint_cost_h
        Time to write one checkpoint [h].
    restart_cost_h
        Time lost on each resume (reload the checkpoint, restart the processes) [h].
    pausable
        Whether the job may be stopped and resumed from its last checkpoint.
    migratable
        Whether the job may resume at another site (moving ``data_size_gb``).
    data_size_gb
        State to move when migrating (checkpoint size) [GB, 1e9 bytes].
    home_site
        Site index the job must run at (``int16``); ``-1`` means any site.
    """

    job_id: NDArray[np.int64]
    kind: NDArray[np.int8]
    gpus: NDArray[np.int32]
    duration_h: NDArray[np.float64]
    submit_utc: NDArray[np.datetime64]
    earliest_start_utc: NDArray[np.datetime64]
    deadline_utc: NDArray[np.datetime64]
    checkpoint_interval_h: NDArray[np.float64]
    checkpoint_cost_h: NDArray[np.float64]
    restart_cost_h: NDArray[np.float64]
    pausable: NDArray[np.bool_]
    migratable: NDArray[np.bool_]
    data_size_gb: NDArray[np.float64]
    home_site: NDArray[np.int16]

    def __post_init__(self) -> None:
        n = None
        for name, dtype in _DTYPES.items():
            raw = getattr(self, name)
            arr: NDArray[Any]
            if name in _TIME_FIELDS:
                arr = _as_utc_ns(raw, name)
            else:
                arr = np.asarray(raw)
                if dtype in (np.int8, np.int16, np.int32, np.int64) and arr.size:
                    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr) & (arr == np.round(arr))):
                        raise WattbitInputError("expected whole numbers (no NaN)", field=name)
                    info = np.iinfo(dtype)
                    if arr.dtype.kind in "iuf" and not (arr.min() >= info.min and arr.max() <= info.max):
                        raise WattbitInputError(f"values outside {info.min}..{info.max} ({info.dtype})", field=name)
                arr = arr.astype(dtype)
            if arr.ndim != 1:
                raise WattbitInputError(f"expected a 1-D array, got shape {arr.shape}", field=name)
            if n is None:
                n = len(arr)
            elif len(arr) != n:
                raise WattbitInputError(f"has {len(arr)} entries, expected {n} like job_id", field=name)
            object.__setattr__(self, name, arr)

    def __len__(self) -> int:
        return len(self.job_id)

    @property
    def gpu_hours(self) -> NDArray[np.float64]:
        """Work of each job, ``gpus * duration_h`` [GPU h]."""
        return self.gpus * self.duration_h

    def select(self, which: ArrayLike) -> TrainingJobs:
        """The jobs picked by a boolean mask or an array of positions, in that order."""
        idx = np.asarray(which)
        if idx.dtype == bool and idx.shape != (len(self),):
            raise WattbitInputError(f"mask has shape {idx.shape}, expected ({len(self)},)", field="mask")
        return TrainingJobs(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    def sort_by_submit(self) -> TrainingJobs:
        """The jobs in submit order (stable: equal times keep their order)."""
        return self.select(np.argsort(self.submit_utc, kind="stable"))

    @classmethod
    def empty(cls) -> TrainingJobs:
        """No jobs."""
        return cls(**{name: np.empty(0, dtype=dtype) for name, dtype in _DTYPES.items()})

    @classmethod
    def concat(cls, parts: Sequence[TrainingJobs]) -> TrainingJobs:
        """Join several job sets, in order (job ids are kept; see :func:`validate` for uniqueness)."""
        if not parts:
            return cls.empty()
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)})

    def to_frame(self) -> pd.DataFrame:
        """One row per job; times as tz-aware UTC columns, plus ``kind_name``. Round-trips via :meth:`from_frame`."""
        data: dict[str, Any] = {}
        for f in fields(self):
            arr = getattr(self, f.name)
            data[f.name] = pd.DatetimeIndex(arr).tz_localize("UTC") if f.name in _TIME_FIELDS else arr
        frame = pd.DataFrame(data)
        names = pd.Categorical.from_codes(self.kind, categories=pd.Index(list(KIND_NAMES.values())))
        frame.insert(2, "kind_name", pd.Series(names))
        return frame

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> TrainingJobs:
        """Jobs from a frame with the columns of :meth:`to_frame` (``kind_name`` optional, ignored)."""
        missing = [name for name in _DTYPES if name not in frame.columns]
        if missing:
            raise WattbitInputError(f"frame lacks column(s) {missing} (expected those of TrainingJobs.to_frame)")
        columns: dict[str, Any] = {n: frame[n] if n in _TIME_FIELDS else frame[n].to_numpy() for n in _DTYPES}
        return cls(**columns)


def concat(parts: Sequence[TrainingJobs]) -> TrainingJobs:
    """Join several job sets in order; same as :meth:`TrainingJobs.concat`."""
    return TrainingJobs.concat(parts)


def young_daly_interval_h(
    checkpoint_cost_h: ArrayLike, gpus: ArrayLike, failures_per_gpu_day: float = FAILURES_PER_GPU_DAY
) -> NDArray[np.float64]:
    """Young-Daly checkpoint interval ``tau* = sqrt(2 * delta * MTBF)`` [h].

    The job fails when any of its GPUs does, so its MTBF is ``24 / (gpus * failures_per_gpu_day)`` hours
    (independent failures, constant rate). Young (1974), first order; valid while ``delta << MTBF``.

    Parameters
    ----------
    checkpoint_cost_h
        Time to write one checkpoint, ``delta`` [h], > 0.
    gpus
        Gang size, >= 1.
    failures_per_gpu_day
        Unplanned interruptions per GPU-day; default :data:`FAILURES_PER_GPU_DAY` (Llama 3, REFERENCE.md §7, S).

    Returns
    -------
    numpy.ndarray
        Interval between checkpoints [h]. Example: 16,384 GPUs and a 1-min checkpoint give MTBF 3.1 h and
        tau* 0.32 h.
    """
    delta = np.asarray(checkpoint_cost_h, dtype=float)
    g = np.asarray(gpus, dtype=float)
    if not failures_per_gpu_day > 0:
        raise WattbitInputError(f"failure rate {failures_per_gpu_day} must be > 0", field="failures_per_gpu_day")
    if delta.size and not np.all(delta > 0):
        raise WattbitInputError("checkpoint cost must be > 0 h (and not NaN)", field="checkpoint_cost_h")
    if g.size and not np.all(g >= 1):
        raise WattbitInputError("gang size must be >= 1 GPU (and not NaN)", field="gpus")
    mtbf_h = 24.0 / (g * failures_per_gpu_day)
    return np.sqrt(2.0 * delta * mtbf_h)


# --- validation ----------------------------------------------------------------------------------------------------


def _fail_at(jobs: TrainingJobs, bad: NDArray[np.bool_], name: str, values: NDArray[Any], expected: str) -> None:
    """Raise naming the first job where ``bad`` is true."""
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        more = int(bad.sum()) - 1
        tail = f" ({more} more job(s) like it)" if more else ""
        raise WattbitInputError(
            f"job {int(jobs.job_id[i])} (index {i}): {name} = {values[i]}; expected {expected}{tail}",
            field=name,
        )


def validate(jobs: TrainingJobs, max_site_gpus: int | None = None, *, require_sorted: bool = True) -> TrainingJobs:
    """Check a job set and return it unchanged, or raise naming the first bad job.

    Parameters
    ----------
    jobs
        The jobs.
    max_site_gpus
        GPUs of the largest site; a job asking for more can never run. ``None`` skips the check.
    require_sorted
        Require ``submit_utc`` in non-decreasing order (the engine's arrival queue needs it).

    Returns
    -------
    TrainingJobs
        ``jobs``.

    Raises
    ------
    WattbitInputError
        For NaN/NaT, ``duration_h <= 0``, ``gpus <= 0``, ``gpus > max_site_gpus``, an unknown kind, duplicate job
        ids, an earliest start before the submit time, a deadline before ``earliest_start + duration``,
        ``checkpoint_interval_h <= 0``, negative costs or data sizes, ``home_site < -1`` or unsorted submit times.
        The message names the job id, its index, the field, the value and what was expected.
    """
    for name in ("duration_h", "checkpoint_interval_h", "checkpoint_cost_h", "restart_cost_h", "data_size_gb"):
        values = getattr(jobs, name)
        _fail_at(jobs, ~np.isfinite(values), name, values, "a finite number, not NaN or infinity")
    for name in ("submit_utc", "earliest_start_utc"):
        values = getattr(jobs, name)
        _fail_at(jobs, np.isnat(values), name, values, "a time (NaT is only allowed for deadline_utc)")
    _fail_at(jobs, jobs.duration_h <= 0, "duration_h", jobs.duration_h, "a duration > 0 h")
    _fail_at(jobs, jobs.gpus <= 0, "gpus", jobs.gpus, "a gang size >= 1 GPU")
    if max_site_gpus is not None:
        _fail_at(
            jobs, jobs.gpus > max_site_gpus, "gpus", jobs.gpus, f"<= {max_site_gpus}, the GPUs of the largest site"
        )
    _fail_at(jobs, ~np.isin(jobs.kind, list(KIND_NAMES)), "kind", jobs.kind, f"a kind code in {KIND_NAMES}")
    order = np.argsort(jobs.job_id, kind="stable")
    dup = np.zeros(len(jobs), dtype=bool)
    dup[order[1:]] = jobs.job_id[order[1:]] == jobs.job_id[order[:-1]]
    _fail_at(jobs, dup, "job_id", jobs.job_id, "a unique job id (this one is repeated)")
    early = jobs.earliest_start_utc < jobs.submit_utc
    _fail_at(jobs, early, "earliest_start_utc", jobs.earliest_start_utc, "a time at or after submit_utc")
    finish = jobs.earliest_start_utc + np.round(jobs.duration_h * _NS_PER_H).astype("timedelta64[ns]")
    late = ~np.isnat(jobs.deadline_utc) & (jobs.deadline_utc < finish)
    _fail_at(jobs, late, "deadline_utc", jobs.deadline_utc, "NaT or a time >= earliest_start_utc + duration_h")
    interval = jobs.checkpoint_interval_h
    _fail_at(jobs, interval <= 0, "checkpoint_interval_h", interval, "an interval > 0 h")
    for name in ("checkpoint_cost_h", "restart_cost_h", "data_size_gb"):
        values = getattr(jobs, name)
        _fail_at(jobs, values < 0, name, values, "a value >= 0")
    _fail_at(jobs, jobs.home_site < -1, "home_site", jobs.home_site, "a site index >= 0, or -1 for any site")
    if require_sorted and len(jobs) > 1:
        back = np.zeros(len(jobs), dtype=bool)
        back[1:] = jobs.submit_utc[1:] < jobs.submit_utc[:-1]
        _fail_at(jobs, back, "submit_utc", jobs.submit_utc, "submit times in non-decreasing order (sort_by_submit)")
    return jobs

"""How a bare job (kind, gang size, duration, submit time) becomes a full :class:`~wattbit.workload.jobs.TrainingJobs`.

Traces give a job's GPUs, run time and arrival, nothing about deadlines, checkpoints or state size. Everything added
here is an **assumption**, collected in two records so that a scenario can change it and ``docs/workload.md`` can
list it with its basis:

* :class:`KindRule` — which kind a trace job is (the Alibaba trace does not label training vs inference);
* :class:`JobAssumptions` — deadline slack, checkpoint size and bandwidth, failure rate, restart overhead,
  pausability and migratability per kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from wattbit.errors import WattbitInputError
from wattbit.physics.gpu import get_gpu
from wattbit.workload.jobs import FAILURES_PER_GPU_DAY, JobKind, TrainingJobs, young_daly_interval_h

_NS_PER_H = 3_600_000_000_000
_KINDS = tuple(k.name.lower() for k in JobKind)


@dataclass(frozen=True)
class KindRule:
    """ASSUMPTION: the kind of a trace job from its gang size, duration and whether it holds whole GPUs.

    * training: ``gpus >= training_min_gpus`` and ``duration_h >= training_min_h`` (multi-GPU and long);
    * fine-tuning: otherwise, whole GPUs and ``duration_h >= finetune_min_h``;
    * batch inference: everything else — fractional-GPU (shared) pods and short runs.

    Basis: the Alibaba trace labels no job type; its README and the FGD paper (Weng et al., ATC'23) describe GPU
    sharing as the way light, mostly inference, tasks are packed. The thresholds are U.
    """

    training_min_gpus: int = 2
    training_min_h: float = 1.0
    finetune_min_h: float = 0.5

    def classify(self, gpus: ArrayLike, duration_h: ArrayLike, whole_gpu: ArrayLike) -> NDArray[np.int8]:
        """Kind codes (:class:`~wattbit.workload.jobs.JobKind`) for each job."""
        g, d, whole = np.asarray(gpus), np.asarray(duration_h), np.asarray(whole_gpu, dtype=bool)
        training = (g >= self.training_min_gpus) & (d >= self.training_min_h)
        finetune = ~training & whole & (d >= self.finetune_min_h)
        kind = np.full(g.shape, JobKind.BATCH_INFERENCE, dtype=np.int8)
        kind[finetune] = JobKind.FINETUNE
        kind[training] = JobKind.TRAINING
        return kind


def _per_kind(value: bool | float | Mapping[str, bool] | Mapping[str, float], name: str) -> NDArray[np.float64]:
    """A scalar or a ``{kind name: value}`` mapping as one value per kind code."""
    if isinstance(value, Mapping):
        unknown = set(value) - set(_KINDS)
        if unknown or set(value) != set(_KINDS):
            raise WattbitInputError(f"needs exactly the kinds {list(_KINDS)}, got {sorted(value)}", field=name)
        return np.array([float(value[k]) for k in _KINDS])
    return np.full(len(_KINDS), float(value))


@dataclass(frozen=True)
class JobAssumptions:
    """ASSUMPTIONS that complete a trace job; every default is U unless its docstring says otherwise.

    Attributes
    ----------
    deadline_slack
        Deadline = earliest start + ``max(slack * duration, duration + min_slack_h)``; a factor >= 1, or a
        ``{kind name: factor}`` mapping; ``None`` for no deadlines. Default 2.0: a job may wait as long as it runs
        (REFERENCE.md §8: training defers hours-days, batch minutes-hours; U).
    min_slack_h
        Least slack any deadline gives [h]. Default 0.
    failures_per_gpu_day
        Unplanned interruptions per GPU-day for the Young-Daly interval; default 4.7e-4 (Llama 3, REFERENCE.md
        §7, S).
    gpu_model
        Catalog GPU whose memory sizes a job's state (``wattbit.physics.gpu``); default ``"H100-SXM"`` (80 GiB).
    state_fraction
        Share of each GPU's memory that a checkpoint holds (weights, optimizer state, activations are not
        saved). Default 0.5.
    checkpoint_write_gb_per_s_per_gpu
        Write (and read) bandwidth to checkpoint storage per GPU [GB/s]. Default 2.0.
    restart_overhead_h
        Fixed time to relaunch processes and re-form the collective on resume, on top of reading the checkpoint
        [h]. Default 0.1 (6 min).
    batch_progress_interval_h
        Batch inference keeps every finished request, so it "checkpoints" continuously at no cost; a pause loses at
        most this much work [h]. Default 0.05 (3 min).
    pausable, migratable
        Per kind (scalar or mapping): default all True — training and fine-tuning resume from checkpoints, batch
        inference from its finished requests.
    """

    deadline_slack: float | Mapping[str, float] | None = 2.0
    min_slack_h: float = 0.0
    failures_per_gpu_day: float = FAILURES_PER_GPU_DAY
    gpu_model: str = "H100-SXM"
    state_fraction: float = 0.5
    checkpoint_write_gb_per_s_per_gpu: float = 2.0
    restart_overhead_h: float = 0.1
    batch_progress_interval_h: float = 0.05
    pausable: bool | Mapping[str, bool] = True
    migratable: bool | Mapping[str, bool] = True

    def __post_init__(self) -> None:
        if self.deadline_slack is not None and not np.all(_per_kind(self.deadline_slack, "deadline_slack") >= 1):
            raise WattbitInputError(f"slack {self.deadline_slack} must be >= 1 (or None)", field="deadline_slack")
        positive = ("failures_per_gpu_day", "state_fraction", "checkpoint_write_gb_per_s_per_gpu")
        for name in (*positive, "batch_progress_interval_h"):
            if not getattr(self, name) > 0:
                raise WattbitInputError(f"{name} = {getattr(self, name)} must be > 0", field=name)
        for name in ("min_slack_h", "restart_overhead_h"):
            if not getattr(self, name) >= 0:
                raise WattbitInputError(f"{name} = {getattr(self, name)} must be >= 0", field=name)
        if not self.state_fraction <= 1:
            raise WattbitInputError(f"state_fraction = {self.state_fraction} must be <= 1", field="state_fraction")
        get_gpu(self.gpu_model)
        _per_kind(self.pausable, "pausable")
        _per_kind(self.migratable, "migratable")

    @property
    def gpu_memory_gb(self) -> float:
        """Memory of one GPU of :attr:`gpu_model` [GB, 1e9 bytes]."""
        return get_gpu(self.gpu_model).memory_gib * 2**30 / 1e9

    @property
    def checkpoint_cost_h(self) -> float:
        """Time to write one checkpoint [h]: each GPU writes its share in parallel."""
        return self.gpu_memory_gb * self.state_fraction / self.checkpoint_write_gb_per_s_per_gpu / 3600.0


def build_jobs(
    kind: ArrayLike,
    gpus: ArrayLike,
    duration_h: ArrayLike,
    submit_utc: NDArray[np.datetime64],
    assumptions: JobAssumptions | None = None,
    *,
    job_id_start: int = 0,
    home_site: int = -1,
) -> TrainingJobs:
    """Complete bare jobs with deadlines, checkpoint parameters and state size from ``assumptions``.

    Parameters
    ----------
    kind, gpus, duration_h
        Kind codes, gang sizes and run times [h], one per job.
    submit_utc
        Arrival times (``datetime64``, UTC); the earliest start is the submit time.
    assumptions
        Defaults to :class:`JobAssumptions` ``()``.
    job_id_start
        Job ids are ``job_id_start + position``.
    home_site
        Site the jobs are pinned to, ``-1`` (default) for any site.

    Returns
    -------
    TrainingJobs
        In the order given (not sorted).
    """
    a = assumptions or JobAssumptions()
    k = np.asarray(kind, dtype=np.int8)
    g = np.asarray(gpus, dtype=np.int32)
    d = np.asarray(duration_h, dtype=np.float64)
    submit = np.asarray(submit_utc).astype("datetime64[ns]")
    n = len(k)
    delta_h = a.checkpoint_cost_h
    batch = k == JobKind.BATCH_INFERENCE
    interval = np.full(n, a.batch_progress_interval_h)
    if (~batch).any():
        interval[~batch] = young_daly_interval_h(delta_h, g[~batch], a.failures_per_gpu_day)
    if a.deadline_slack is None:
        deadline = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    else:
        slack = _per_kind(a.deadline_slack, "deadline_slack")[k]
        window_h = np.maximum(slack * d, d + a.min_slack_h)
        deadline = submit + np.ceil(window_h * _NS_PER_H).astype("timedelta64[ns]")
    return TrainingJobs(
        job_id=np.arange(job_id_start, job_id_start + n, dtype=np.int64),
        kind=k,
        gpus=g,
        duration_h=d,
        submit_utc=submit,
        earliest_start_utc=submit.copy(),
        deadline_utc=deadline,
        checkpoint_interval_h=interval,
        checkpoint_cost_h=np.where(batch, 0.0, delta_h),
        restart_cost_h=np.full(n, delta_h + a.restart_overhead_h),
        pausable=_per_kind(a.pausable, "pausable")[k].astype(bool),
        migratable=_per_kind(a.migratable, "migratable")[k].astype(bool),
        data_size_gb=np.asarray(g * a.gpu_memory_gb * a.state_fraction, dtype=np.float64),
        home_site=np.full(n, home_site, dtype=np.int16),
    )

"""Real GPU-cluster traces turned into deferrable jobs (:class:`~wattbit.workload.jobs.TrainingJobs`).

:func:`jobs_from_alibaba_pods` converts the pod list of the Alibaba PAI GPU-sharing trace v2023 (read by
:func:`wattbit.data.workload_traces.read_alibaba_gpu_pods`) and moves it into the simulated period. Each step that
is not a plain copy of the trace is an assumption; ``docs/workload.md`` lists them with the trace facts behind them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from wattbit.data._base import SourceMeta
from wattbit.errors import WattbitInputError
from wattbit.workload.assumptions import JobAssumptions, KindRule, build_jobs
from wattbit.workload.jobs import TrainingJobs, utc_timestamp

WEEK = pd.Timedelta(days=7)
#: Hour offset of the trace's local clock: ``DEFAULT_TRACE_START`` of the readers is a UTC+8 midnight (ASSUMPTION).
SOURCE_UTC_OFFSET_H = 8.0
_POD_COLUMNS = ["status", "gpu_fraction", "gpu_milli", "qos", "duration_s", "creation_time_s", "creation_time_utc"]

Fractional = Literal["ceil", "pack"]


@dataclass(frozen=True)
class PodJobs:
    """The usable GPU pods of a trace as bare jobs, in file order (the first stage of the conversion).

    Attributes
    ----------
    pod_row
        Row of each job in the reader's frame.
    kind, gpus, duration_h
        Kind code, gang size and run time [h] of each job.
    creation_s
        Creation time of each pod [s from the trace start].
    trace_gpu_hours
        The trace's own (fractional) GPU-hours of each pod, ``gpu_fraction * duration_s / 3600``.
    censored
        Pod was still running when the trace was cut (its duration is a lower bound).
    dropped
        Pods not converted, by reason (each pod counted once, first reason wins).
    trace_end_s
        Where the trace ends [s from the trace start].
    anchor_utc
        UTC time of trace second 0 (the reader's anchor).
    """

    pod_row: NDArray[np.int64]
    kind: NDArray[np.int8]
    gpus: NDArray[np.int32]
    duration_h: NDArray[np.float64]
    creation_s: NDArray[np.float64]
    trace_gpu_hours: NDArray[np.float64]
    censored: NDArray[np.bool_]
    dropped: dict[str, int]
    trace_end_s: float
    anchor_utc: pd.Timestamp


def alibaba_pod_jobs(
    frame: pd.DataFrame,
    meta: SourceMeta,
    *,
    fractional: Fractional = "ceil",
    include_censored: bool = True,
    keep_qos: Sequence[str] | None = None,
    kind_rule: KindRule | None = None,
) -> PodJobs:
    """Select the pods that used GPUs and turn each into a bare job (gang, duration, kind).

    Parameters
    ----------
    frame, meta
        Output of :func:`~wattbit.data.workload_traces.read_alibaba_gpu_pods`.
    fractional
        ``"ceil"`` (default): gang = ``ceil(gpu_fraction)`` GPUs for the pod's whole duration, so a pod sharing
        0.3 of a GPU takes 1 whole GPU (our fleet does not share GPUs; ASSUMPTION). ``"pack"``: shared pods get one
        GPU for ``gpu_fraction * duration`` (as if shares were packed back to back), which keeps the trace's
        GPU-hours.
    include_censored
        Keep pods cut at the trace end (status ``running_at_trace_end``), with the cut duration (default True:
        dropping them would remove the longest jobs).
    keep_qos
        Keep only these QoS classes (e.g. ``["BE", "Burstable"]``); ``None`` keeps all.
    kind_rule
        The kind assumption; default :class:`~wattbit.workload.assumptions.KindRule` ``()``.
    """
    missing = [c for c in _POD_COLUMNS if c not in frame.columns]
    if missing or meta.reader != "alibaba_gpu_pods":
        raise WattbitInputError(
            f"expected the output of read_alibaba_gpu_pods (reader {meta.reader!r}, missing columns {missing})",
            field="frame",
        )
    if fractional not in ("ceil", "pack"):
        raise WattbitInputError(f"fractional={fractional!r}; expected 'ceil' or 'pack'", field="fractional")
    status = frame["status"].astype(str).to_numpy()
    frac = frame["gpu_fraction"].to_numpy(dtype=float, na_value=np.nan)
    dur_s = frame["duration_s"].to_numpy(dtype=float, na_value=np.nan)
    qos = frame["qos"].astype(str).to_numpy()
    reasons = [
        ("never_scheduled", status == "never_scheduled"),
        ("bad_or_missing_times", np.isin(status, ["bad_times", "missing_time"])),
        ("no_gpu", ~(frac > 0)),
        ("censored_excluded", (status == "running_at_trace_end") & (not include_censored)),
        ("qos_excluded", ~np.isin(qos, list(keep_qos)) if keep_qos is not None else np.zeros(len(frame), bool)),
        ("zero_duration", ~(dur_s > 0)),
    ]
    dropped: dict[str, int] = {}
    drop = np.zeros(len(frame), dtype=bool)
    for reason, mask in reasons:
        new = mask & ~drop
        dropped[reason] = int(new.sum())
        drop |= new
    rows = np.flatnonzero(~drop)
    frac_k, dur_k = frac[rows], dur_s[rows]
    gpus = np.ceil(frac_k).astype(np.int32)
    wall_h = dur_k / 3600.0
    shared = frac_k < 1.0
    duration_h = np.where(shared, frac_k * dur_k / 3600.0, wall_h) if fractional == "pack" else wall_h
    whole = frame["gpu_milli"].to_numpy(dtype=float, na_value=np.nan)[rows] == 1000
    created = frame["creation_time_s"].to_numpy(dtype=float, na_value=np.nan)
    if not len(rows):
        raise WattbitInputError(f"no pod is left to convert (dropped: {dropped})", field="frame")
    anchor = frame["creation_time_utc"].iloc[int(rows[0])] - pd.to_timedelta(created[rows[0]], unit="s")
    trace_end = float(meta.attrs.get("trace_end_s", np.nanmax(frame["deletion_time_s"].to_numpy(dtype=float))))
    return PodJobs(
        pod_row=rows.astype(np.int64),
        kind=(kind_rule or KindRule()).classify(gpus, wall_h, whole),
        gpus=gpus,
        duration_h=duration_h,
        creation_s=created[rows],
        trace_gpu_hours=frac_k * dur_k / 3600.0,
        censored=status[rows] == "running_at_trace_end",
        dropped=dropped,
        trace_end_s=trace_end,
        anchor_utc=pd.Timestamp(anchor).tz_convert("UTC"),
    )


def arrival_window_start_s(creation_s: NDArray[np.float64], max_gap_h: float = 24.0) -> float:
    """Start of the trace's arrival window: the first creation after the last gap longer than ``max_gap_h``.

    The Alibaba v2023 pod list spans 149 days, but 99.6 % of its GPU pods were created in the last 35; the few
    earlier ones are long-lived pods still alive in that window (survivors). Tiling or re-anchoring the window,
    not the 149 days, keeps the arrival rate of the trace.
    """
    c = np.sort(creation_s[np.isfinite(creation_s)])
    if not len(c):
        raise WattbitInputError("no pod creation times to find an arrival window in", field="creation_time_s")
    big = np.flatnonzero(np.diff(c) > max_gap_h * 3600.0)
    return float(c[big[-1] + 1]) if big.size else float(c[0])


@dataclass
class ConversionReport:
    """What :func:`jobs_from_alibaba_pods` kept, dropped and assumed (the ``meta`` of the conversion).

    GPU-hours: ``trace_gpu_hours`` is the trace's own (fractional) figure for the kept pods; ``allocated_gpu_hours``
    what the jobs hold once (``gpus * duration_h`` per kept pod); ``job_gpu_hours`` the total over the emitted
    jobs, which equals ``allocated_gpu_hours`` exactly without tiling or a period end.
    """

    pods: int
    kept_pods: int
    dropped: dict[str, int]
    censored_kept: int
    survivors: int
    window_start_s: float
    window_end_s: float
    time_shift: pd.Timedelta
    tiles: int
    tile_length: pd.Timedelta
    jobs: int
    outside_period: int
    trace_gpu_hours: float
    allocated_gpu_hours: float
    job_gpu_hours: float
    pod_row: NDArray[np.int64] = field(repr=False)
    notes: list[str] = field(default_factory=list)


def _local_shift(window_utc: pd.Timestamp, period_start: pd.Timestamp, src_h: float, target_tz: str) -> pd.Timedelta:
    """Whole weeks plus the zone difference: same weekday and wall-clock time, first copy at/after period start."""
    tgt = period_start.tz_convert(target_tz).utcoffset()
    zone = pd.Timedelta(tgt) - pd.Timedelta(hours=src_h) if tgt is not None else pd.Timedelta(0)
    weeks = math.ceil((period_start - window_utc + zone) / WEEK)
    return weeks * WEEK - zone


def jobs_from_alibaba_pods(
    frame: pd.DataFrame,
    meta: SourceMeta,
    *,
    period_start_utc: Any,
    period_end_utc: Any = None,
    time_shift: Literal["local"] | pd.Timedelta | None = "local",
    tile: bool = False,
    source_utc_offset_h: float = SOURCE_UTC_OFFSET_H,
    target_tz: str = "Asia/Tokyo",
    fractional: Fractional = "ceil",
    include_censored: bool = True,
    keep_qos: Sequence[str] | None = None,
    kind_rule: KindRule | None = None,
    assumptions: JobAssumptions | None = None,
    max_gap_h: float = 24.0,
    job_id_start: int = 0,
) -> tuple[TrainingJobs, ConversionReport]:
    """Jobs from the Alibaba GPU trace v2023 pod list, moved into the simulated period.

    Parameters
    ----------
    frame, meta
        Output of :func:`~wattbit.data.workload_traces.read_alibaba_gpu_pods`.
    period_start_utc, period_end_utc
        The simulated period (tz-aware). Jobs submitted at or after the end are not emitted (counted in
        ``outside_period``); ``None`` keeps all. Tiling needs an end.
    time_shift
        ``"local"`` (default): move the arrival window by whole weeks plus the difference between the trace's
        local zone (``source_utc_offset_h``) and ``target_tz``, so that weekday and local time of day are kept,
        onto the first such instant at or after the period start. A ``Timedelta``: add exactly that. ``None``:
        keep the trace's (anchored) times.
    tile
        Repeat the arrival window every ``ceil(window / 1 week)`` weeks until the period end (a year needs ~11
        copies of the 35-day window). Survivors (pods created before the window) are added to the first copy only.
    source_utc_offset_h
        UTC offset of the trace's local clock; 8 by the readers' anchor (ASSUMPTION, see
        :data:`~wattbit.data.workload_traces.DEFAULT_TRACE_START`).
    target_tz
        Time zone whose wall clock the trace's is mapped to (the scenario's ``period.timezone``).
    fractional, include_censored, keep_qos, kind_rule
        See :func:`alibaba_pod_jobs`.
    assumptions
        Deadlines, checkpoints, state size (:class:`~wattbit.workload.assumptions.JobAssumptions`).
    max_gap_h
        Gap without arrivals that ends the pre-window part of the trace (:func:`arrival_window_start_s`).
    job_id_start
        First job id; ids follow submit order.

    Returns
    -------
    jobs
        Sorted by submit time.
    report
        Counts kept/dropped, the shift, tiles and GPU-hours (:class:`ConversionReport`).

    Notes
    -----
    Submit = earliest start = pod creation (moved); survivors are submitted at the window start with their full
    duration, so no GPU-hour is lost. Duration = ``deletion - scheduled`` (time holding GPUs); queueing time in
    the source cluster is not part of the job.
    """
    start = utc_timestamp(period_start_utc, "period_start_utc")
    end = None if period_end_utc is None else utc_timestamp(period_end_utc, "period_end_utc")
    if tile and end is None:
        raise WattbitInputError("tiling needs period_end_utc", field="period_end_utc")
    pods = alibaba_pod_jobs(
        frame, meta, fractional=fractional, include_censored=include_censored, keep_qos=keep_qos, kind_rule=kind_rule
    )
    ws = arrival_window_start_s(pods.creation_s, max_gap_h)
    window_utc = pods.anchor_utc + pd.to_timedelta(ws, unit="s")
    if time_shift == "local":
        shift = _local_shift(window_utc, start, source_utc_offset_h, target_tz)
    elif time_shift is None:
        shift = pd.Timedelta(0)
    elif isinstance(time_shift, pd.Timedelta):
        shift = time_shift
    else:
        raise WattbitInputError(f"time_shift={time_shift!r}; expected 'local', a Timedelta or None", field="time_shift")
    tile_len = math.ceil(max(pods.trace_end_s - ws, 1.0) / WEEK.total_seconds()) * WEEK
    survivor = pods.creation_s < ws
    offset_ns = np.round((np.maximum(pods.creation_s, ws) - ws) * 1e9).astype(np.int64)
    first_ns = (window_utc + shift).tz_convert("UTC").tz_localize(None).as_unit("ns").value
    n_tiles = max(1, math.ceil((end - (window_utc + shift)) / tile_len)) if tile and end is not None else 1
    idx = np.concatenate([np.arange(len(offset_ns))] + [np.flatnonzero(~survivor)] * (n_tiles - 1))
    tile_of = np.repeat(np.arange(n_tiles), [len(offset_ns)] + [int((~survivor).sum())] * (n_tiles - 1))
    submit_ns = first_ns + tile_of * tile_len.value + offset_ns[idx]
    inside = np.ones(len(idx), dtype=bool)
    if end is not None:
        inside = submit_ns < end.tz_localize(None).as_unit("ns").value
    idx, submit_ns = idx[inside], submit_ns[inside]
    order = np.argsort(submit_ns, kind="stable")
    idx, submit_ns = idx[order], submit_ns[order]
    jobs = build_jobs(
        pods.kind[idx],
        pods.gpus[idx],
        pods.duration_h[idx],
        submit_ns.astype("datetime64[ns]"),
        assumptions,
        job_id_start=job_id_start,
    )
    allocated = math.fsum(pods.gpus * pods.duration_h)
    report = ConversionReport(
        pods=len(frame),
        kept_pods=len(pods.pod_row),
        dropped=pods.dropped,
        censored_kept=int(pods.censored.sum()),
        survivors=int(survivor.sum()),
        window_start_s=ws,
        window_end_s=pods.trace_end_s,
        time_shift=shift,
        tiles=n_tiles,
        tile_length=tile_len,
        jobs=len(jobs),
        outside_period=int((~inside).sum()),
        trace_gpu_hours=math.fsum(pods.trace_gpu_hours),
        allocated_gpu_hours=allocated,
        job_gpu_hours=math.fsum(jobs.gpu_hours),
        pod_row=pods.pod_row[idx],
        notes=[
            f"gang size = ceil(gpu_fraction) ({fractional!r}); allocated GPU-hours {allocated:.1f} vs the trace's "
            f"fractional {math.fsum(pods.trace_gpu_hours):.1f}",
            f"arrival window {ws / 86400:.2f}..{pods.trace_end_s / 86400:.2f} d of the trace; "
            f"{int(survivor.sum())} survivor pods created earlier are submitted at its start",
            f"times moved by {shift} ({'local wall clock' if time_shift == 'local' else 'as given'}); "
            f"{n_tiles} tile(s) of {tile_len}",
        ],
    )
    return jobs, report

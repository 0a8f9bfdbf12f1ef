"""Seeded synthetic job sets calibrated on the Alibaba GPU trace, for any fleet size and period.

:func:`synthesize_training_jobs` draws

* **arrivals**: a Poisson process whose rate follows the trace's hour-of-day and weekday pattern (local time);
  given the number of jobs, the arrival times of such a process are independent draws from the normalised rate,
  which is how they are sampled;
* **(kind, gang size, duration)**: a smoothed bootstrap of the trace's converted jobs — a joint draw of all three
  (keeping, e.g., that 8-GPU jobs run longer), then the duration times ``exp(sigma Z - sigma^2/2)`` (mean kept);
* **deadlines and checkpoints** from :class:`~wattbit.workload.assumptions.JobAssumptions`.

Bootstrap rather than a fitted log-normal: the trace's durations span 4 s to 30 days with a heavy tail
(mean/median 13) and gang sizes are four discrete values; a bootstrap reproduces both without a parametric
assumption. Everything is vectorised; one million jobs take about half a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from wattbit.data._base import SourceMeta
from wattbit.errors import WattbitInputError
from wattbit.workload.assumptions import JobAssumptions, KindRule, build_jobs
from wattbit.workload.jobs import TrainingJobs, utc_timestamp
from wattbit.workload.traces import SOURCE_UTC_OFFSET_H, Fractional, alibaba_pod_jobs, arrival_window_start_s

_NS_PER_H = 3_600_000_000_000
DEFAULT_TRACE = "japan-2022:alibaba_gpu_pods.csv.gz"


@dataclass(frozen=True)
class TraceCalibration:
    """Empirical distributions a synthetic workload is drawn from.

    Attributes
    ----------
    kind, gpus, duration_h
        The converted trace jobs (joint sample, one entry per job).
    hour_weight
        Relative arrival rate by local hour of day (24 values, mean 1), exposure-corrected.
    weekday_weight
        Relative arrival rate by local weekday, Monday first (7 values, mean 1), exposure-corrected.
    arrivals_per_day
        Mean arrivals per day in the trace's arrival window.
    source
        Where the numbers come from.
    """

    kind: NDArray[np.int8]
    gpus: NDArray[np.int32]
    duration_h: NDArray[np.float64]
    hour_weight: NDArray[np.float64]
    weekday_weight: NDArray[np.float64]
    arrivals_per_day: float
    source: str

    @property
    def mean_gpu_hours(self) -> float:
        """Mean work per job [GPU h]."""
        return float(np.mean(self.gpus * self.duration_h))


def _rate_weights(local_s: NDArray[np.float64], start_s: float, end_s: float) -> tuple[NDArray[Any], NDArray[Any]]:
    """Arrivals per hour-of-day and weekday bin, divided by the hours the window spends in that bin, mean 1."""
    grid = np.arange(start_s, end_s, 3600.0)
    hours = (grid // 3600) % 24
    days = (grid // 86400 + 3) % 7  # 1970-01-01 was a Thursday (weekday 3)
    a_hours = (local_s // 3600) % 24
    a_days = (local_s // 86400 + 3) % 7
    out = []
    for arrivals, exposure, bins in ((a_hours, hours, 24), (a_days, days, 7)):
        counts = np.bincount(arrivals.astype(int), minlength=bins).astype(float)
        expo = np.bincount(exposure.astype(int), minlength=bins).astype(float)
        rate = np.divide(counts, expo, out=np.zeros(bins), where=expo > 0)
        out.append(rate / rate.mean() if rate.mean() > 0 else np.ones(bins))
    return out[0], out[1]


def calibration_from_alibaba(
    frame: pd.DataFrame,
    meta: SourceMeta,
    *,
    fractional: Fractional = "ceil",
    include_censored: bool = True,
    keep_qos: Sequence[str] | None = None,
    kind_rule: KindRule | None = None,
    max_gap_h: float = 24.0,
    source_utc_offset_h: float = SOURCE_UTC_OFFSET_H,
    include_survivors: bool = False,
) -> TraceCalibration:
    """Calibrate on an Alibaba v2023 pod list, with the selection rules of :func:`.jobs_from_alibaba_pods`.

    Only pods created in the arrival window (:func:`arrival_window_start_s`) calibrate by default: the 24
    survivors created earlier are there *because* they are long (still alive when the window opened: the inspection
    paradox) and hold 70 % of the trace's GPU-hours, so drawing them as often as window arrivals would bias the
    per-arrival distribution (``include_survivors=True`` keeps them). Arrival weights use the trace's local clock
    (UTC + ``source_utc_offset_h``, an assumption inherited from the reader's anchor).
    """
    pods = alibaba_pod_jobs(
        frame, meta, fractional=fractional, include_censored=include_censored, keep_qos=keep_qos, kind_rule=kind_rule
    )
    ws = arrival_window_start_s(pods.creation_s, max_gap_h)
    anchor_s = pods.anchor_utc.value / 1e9 + source_utc_offset_h * 3600.0
    in_window = pods.creation_s >= ws
    hour_w, weekday_w = _rate_weights(anchor_s + pods.creation_s[in_window], anchor_s + ws, anchor_s + pods.trace_end_s)
    days = (pods.trace_end_s - ws) / 86400.0
    use = np.ones(len(in_window), dtype=bool) if include_survivors else in_window
    return TraceCalibration(
        kind=pods.kind[use],
        gpus=pods.gpus[use],
        duration_h=pods.duration_h[use],
        hour_weight=hour_w,
        weekday_weight=weekday_w,
        arrivals_per_day=float(in_window.sum() / days) if days > 0 else float("nan"),
        source=f"{meta.description} ({', '.join(meta.paths)}); {int(use.sum())} jobs, window {days:.1f} d",
    )


def default_calibration() -> TraceCalibration:
    """Calibration on the Alibaba v2023 pod list shipped with the demo (the unmodified trace)."""
    from wattbit.data.registry import builtin_trace_path
    from wattbit.data.workload_traces import read_alibaba_gpu_pods

    return calibration_from_alibaba(*read_alibaba_gpu_pods(builtin_trace_path(DEFAULT_TRACE)))


def jobs_for_utilisation(
    target_gpu_utilisation: float,
    fleet_gpus: int,
    period_h: float,
    calibration: TraceCalibration,
    gang_scale: float = 1,
) -> int:
    """Jobs whose work fills ``target_gpu_utilisation`` of ``fleet_gpus`` over ``period_h`` hours (rounded)."""
    if not (0 < target_gpu_utilisation <= 1 and fleet_gpus > 0 and period_h > 0 and gang_scale > 0):
        raise WattbitInputError(
            f"need 0 < utilisation <= 1, fleet_gpus > 0, period_h > 0, gang_scale > 0 (got {target_gpu_utilisation}, "
            f"{fleet_gpus}, {period_h}, {gang_scale})",
            field="target_gpu_utilisation",
        )
    return round(target_gpu_utilisation * fleet_gpus * period_h / (calibration.mean_gpu_hours * gang_scale))


def offered_utilisation(jobs: TrainingJobs, fleet_gpus: int, period_h: float) -> float:
    """Work of ``jobs`` as a share of the fleet's GPU-hours over the period."""
    return float(np.sum(jobs.gpu_hours) / (fleet_gpus * period_h))


def _arrivals_ns(
    n: int, start: pd.Timestamp, end: pd.Timestamp, cal: TraceCalibration, target_tz: str, rng: np.random.Generator
) -> NDArray[np.int64]:
    """``n`` arrival times [ns since epoch, UTC], density following the calibration's local-time weights."""
    start_ns, end_ns = start.value, end.value
    edges = np.arange(start_ns - start_ns % _NS_PER_H, end_ns, _NS_PER_H, dtype=np.int64)
    lo, hi = np.maximum(edges, start_ns), np.minimum(edges + _NS_PER_H, end_ns)
    local = pd.DatetimeIndex(edges.astype("datetime64[ns]")).tz_localize("UTC").tz_convert(target_tz)
    weight = (
        cal.hour_weight[local.hour.to_numpy()]
        * cal.weekday_weight[local.day_of_week.to_numpy()]
        * (hi - lo)
        / _NS_PER_H
    )
    if not weight.sum() > 0:
        raise WattbitInputError("the arrival weights are zero over the whole period", field="calibration")
    b = rng.choice(len(edges), size=n, p=weight / weight.sum())
    return np.sort(lo[b] + (rng.random(n) * (hi[b] - lo[b])).astype(np.int64))


def synthesize_training_jobs(
    n_jobs: int | None,
    period_start_utc: Any,
    period_end_utc: Any,
    seed: int,
    calibration: TraceCalibration | None = None,
    *,
    fleet_gpus: int | None = None,
    target_gpu_utilisation: float | None = None,
    gang_scale: float | None = None,
    max_gpus: int | None = None,
    duration_jitter: float = 0.1,
    target_tz: str = "Asia/Tokyo",
    assumptions: JobAssumptions | None = None,
    job_id_start: int = 0,
) -> TrainingJobs:
    """A seeded synthetic job set with the trace's arrival pattern, gang sizes and durations.

    Parameters
    ----------
    n_jobs
        Number of jobs; ``None`` derives it from ``target_gpu_utilisation`` and ``fleet_gpus``
        (:func:`jobs_for_utilisation`).
    period_start_utc, period_end_utc
        The period arrivals fall in, ``[start, end)`` (tz-aware).
    seed
        Seed of :func:`numpy.random.default_rng`; the same seed and inputs give identical jobs.
    calibration
        Distributions to draw from; default :func:`default_calibration` (the Alibaba v2023 trace).
    fleet_gpus, target_gpu_utilisation
        With ``n_jobs`` given as well, the gang sizes are scaled (``gang_scale``) so that the jobs' work fills the
        target share of the fleet: a 100,000-GPU fleet runs larger jobs than the trace's cluster (ASSUMPTION).
        A derived scale above 8 is rounded to a multiple of 8 (gangs of whole 8-GPU nodes: 1, 2, 4, 8 GPUs ->
        208, 416, 832, 1,664 at scale 208), one above 1.5 to a whole number; check the result with
        :func:`offered_utilisation`.
    gang_scale
        Multiply gang sizes by this and round (at least 1 GPU); default 1, or derived as above.
    max_gpus
        Clip gang sizes to this (the largest site); clipped jobs keep their duration.
    duration_jitter
        ``sigma`` of the log-normal smoothing of bootstrapped durations (0 = plain bootstrap).
    target_tz
        Local zone whose wall clock the trace's hour/weekday pattern is applied in.
    assumptions
        Deadlines, checkpoints, state size.
    job_id_start
        First job id; ids follow submit order.

    Returns
    -------
    TrainingJobs
        Sorted by submit time.
    """
    cal = calibration or default_calibration()
    start = utc_timestamp(period_start_utc, "period_start_utc")
    end = utc_timestamp(period_end_utc, "period_end_utc")
    if not end > start:
        raise WattbitInputError(f"period end {end} is not after start {start}", field="period_end_utc")
    period_h = (end - start) / pd.Timedelta(hours=1)
    if n_jobs is None:
        if fleet_gpus is None or target_gpu_utilisation is None:
            raise WattbitInputError("give n_jobs, or fleet_gpus and target_gpu_utilisation", field="n_jobs")
        n_jobs = jobs_for_utilisation(target_gpu_utilisation, fleet_gpus, period_h, cal, gang_scale or 1.0)
    elif fleet_gpus is not None and target_gpu_utilisation is not None:
        if gang_scale is not None:
            raise WattbitInputError("n_jobs, utilisation and gang_scale together over-determine the workload")
        gang_scale = target_gpu_utilisation * fleet_gpus * period_h / (max(n_jobs, 1) * cal.mean_gpu_hours)
        if gang_scale > 8:  # whole 8-GPU nodes
            gang_scale = 8.0 * round(gang_scale / 8)
        elif gang_scale > 1.5:  # whole multiples of the trace's gangs
            gang_scale = float(round(gang_scale))
    if n_jobs < 0 or not duration_jitter >= 0:
        raise WattbitInputError(f"n_jobs {n_jobs} must be >= 0 and duration_jitter {duration_jitter} >= 0")
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(cal.gpus), size=n_jobs)
    gpus = np.maximum(1, np.rint(cal.gpus[pick] * (gang_scale or 1.0))).astype(np.int64)
    if max_gpus is not None:
        gpus = np.minimum(gpus, max_gpus)
    jitter = np.exp(duration_jitter * rng.standard_normal(n_jobs) - duration_jitter**2 / 2)
    submit = _arrivals_ns(n_jobs, start, end, cal, target_tz, rng)
    return build_jobs(
        cal.kind[pick],
        gpus,
        cal.duration_h[pick] * jitter,
        submit.astype("datetime64[ns]"),
        assumptions,
        job_id_start=job_id_start,
    )

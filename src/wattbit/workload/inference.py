"""Interactive LLM inference demand: request rates per region on a UTC index, with tokens, model and SLOs.

Two public traces each give half of what a year-long demand series needs:

* the **Azure LLM inference trace 2023** (one hour): token counts per request and sub-hour burstiness, but no
  daily shape (:func:`inference_from_azure_llm`);
* **ServeGen** (Alibaba Model Studio, 14 days of 10-minute rates): the daily and weekly shape, but no tokens in the
  copy we hold (:func:`inference_from_servegen`).

:func:`diurnal_profile` combines them: ServeGen's normalised time-of-day x weekday shape, scaled to a chosen peak
rate, laid on the scenario's UTC index in Japan's local time, with Azure's token means and burst factor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from wattbit.data._base import SourceMeta
from wattbit.data.workload_traces import servegen_total_rate
from wattbit.errors import WattbitInputError
from wattbit.physics.gpu import GpuModel
from wattbit.workload.serving import MLPERF_SERVER_SLO, ReplicaCapacity, ServedModel, Slo, replica_capacity
from wattbit.workload.traces import SOURCE_UTC_OFFSET_H

#: Mean prompt and output tokens of the Azure 2023 conversation trace (19,366 requests), the default when a
#: rate trace carries no tokens.
AZURE_CONV_PROMPT_TOKENS = 1154.7
AZURE_CONV_OUTPUT_TOKENS = 211.1
_DAY_S = 86_400
_WEEK_S = 7 * _DAY_S


@dataclass(frozen=True, eq=False)
class InferenceDemand:
    """Request rates of one LLM service per region, on a UTC index.

    Attributes
    ----------
    index_utc
        Period-beginning times, tz-aware UTC, strictly increasing.
    rate_rps
        Mean request rate over each period [requests/s], shape ``(len(regions), len(index_utc))``.
    regions
        Region (or site) names, one per row of ``rate_rps``.
    prompt_tokens_mean, output_tokens_mean
        Mean tokens per request (prompt/context and generated).
    model
        The model served.
    slo
        TTFT and TPOT objectives.
    burst_factor
        Provisioning factor on the period-mean rate for bursts within a period (>= 1).
    notes
        Provenance and assumptions.
    """

    index_utc: pd.DatetimeIndex
    rate_rps: NDArray[np.float64]
    regions: tuple[str, ...]
    prompt_tokens_mean: float
    output_tokens_mean: float
    model: ServedModel = field(default_factory=ServedModel)
    slo: Slo = MLPERF_SERVER_SLO
    burst_factor: float = 1.0
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        idx = pd.DatetimeIndex(self.index_utc)
        if idx.tz is None or str(idx.tz) != "UTC":
            raise WattbitInputError("index must be tz-aware UTC", field="index_utc")
        if len(idx) > 1 and not (idx[1:] > idx[:-1]).all():
            raise WattbitInputError("index must be strictly increasing", field="index_utc")
        rate = np.atleast_2d(np.asarray(self.rate_rps, dtype=float))
        if rate.shape != (len(self.regions), len(idx)):
            raise WattbitInputError(
                f"rate_rps has shape {rate.shape}, expected ({len(self.regions)} regions, {len(idx)} steps)",
                field="rate_rps",
            )
        bad = ~(rate >= 0)
        if bad.any():
            r, t = (int(v[0]) for v in np.nonzero(bad))
            raise WattbitInputError(
                f"rate {rate[r, t]} at {idx[t]} in region {self.regions[r]!r}; expected a rate >= 0 (no NaN)",
                field="rate_rps",
            )
        if not (self.prompt_tokens_mean >= 0 and self.output_tokens_mean > 0 and self.burst_factor >= 1):
            raise WattbitInputError(
                f"need prompt tokens >= 0 ({self.prompt_tokens_mean}), output tokens > 0 ({self.output_tokens_mean}) "
                f"and burst_factor >= 1 ({self.burst_factor})",
                field="burst_factor",
            )
        object.__setattr__(self, "index_utc", idx)
        object.__setattr__(self, "rate_rps", rate)
        object.__setattr__(self, "regions", tuple(self.regions))

    def capacity(self, gpu: GpuModel | str, **kwargs: float) -> ReplicaCapacity:
        """Capacity of one replica of :attr:`model` on ``gpu`` for this demand's tokens and SLOs."""
        return replica_capacity(self.model, gpu, self.slo, self.prompt_tokens_mean, self.output_tokens_mean, **kwargs)

    def replicas_needed(self, gpu: GpuModel | str) -> NDArray[np.int64]:
        """Replicas per region and step (burst factor applied), shape like :attr:`rate_rps`."""
        return self.capacity(gpu).replicas_needed(self.rate_rps, self.burst_factor)

    def gpus_needed(self, gpu: GpuModel | str) -> NDArray[np.int64]:
        """GPUs per region and step (burst factor applied), shape like :attr:`rate_rps`."""
        return self.capacity(gpu).gpus_needed(self.rate_rps, self.burst_factor)

    def to_frame(self) -> pd.DataFrame:
        """Rates [requests/s] indexed by ``time_utc``, one column per region."""
        return pd.DataFrame(self.rate_rps.T, index=self.index_utc.rename("time_utc"), columns=list(self.regions))


def _ns(idx: pd.DatetimeIndex) -> NDArray[np.int64]:
    """Nanoseconds since the epoch (pandas may hold microseconds)."""
    return np.asarray(idx.as_unit("ns").asi8, dtype=np.int64)


def _need(meta: SourceMeta, reader: str, frame: pd.DataFrame, columns: list[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if meta.reader != reader or missing:
        raise WattbitInputError(f"expected the output of read_{reader} (got {meta.reader!r}, missing {missing})")


def inference_from_azure_llm(
    frame: pd.DataFrame,
    meta: SourceMeta,
    *,
    step: str = "1min",
    region: str = "azure",
    burst_quantile: float = 0.95,
    model: ServedModel | None = None,
    slo: Slo = MLPERF_SERVER_SLO,
) -> InferenceDemand:
    """Demand over the hour of an Azure LLM trace: rate per ``step``, token means and the burst factor.

    The rate is requests per step over whole steps only (the partial first and last steps are left out, noted).
    ``burst_factor`` = the ``burst_quantile`` of the per-step rate over its mean: provisioning for the busy
    minutes of an hour (ASSUMPTION: the same relative burstiness at the scenario's scale; an aggregate of many
    independent users is smoother, so this errs high).
    """
    _need(meta, "azure_llm_2023", frame, ["arrival_time_utc", "context_tokens", "generated_tokens"])
    t = pd.DatetimeIndex(frame["arrival_time_utc"]).tz_convert("UTC")
    td = pd.Timedelta(step)
    first, last = t.min().ceil(td), t.max().floor(td)
    if last - first < 2 * td:
        raise WattbitInputError(f"the trace spans fewer than two whole steps of {step}", field="step")
    index = pd.date_range(first, last, freq=td, inclusive="left", name="time_utc")
    counts = pd.Series(1, index=t).resample(td).count().reindex(index, fill_value=0)
    rate = counts.to_numpy(dtype=float) / td.total_seconds()
    prompt = float(frame["context_tokens"].astype(float).mean())
    output = float(frame["generated_tokens"].astype(float).mean())
    burst = max(1.0, float(np.quantile(rate, burst_quantile) / rate.mean())) if rate.mean() > 0 else 1.0
    service = meta.attrs.get("service")
    return InferenceDemand(
        index_utc=index,
        rate_rps=rate[None, :],
        regions=(region,),
        prompt_tokens_mean=prompt,
        output_tokens_mean=output,
        model=model or ServedModel(),
        slo=slo,
        burst_factor=burst,
        notes=(
            f"Azure LLM trace 2023 ({service}): {len(frame)} requests, mean prompt {prompt:.1f} / output "
            f"{output:.1f} tokens; {int(((t < first) | (t >= last)).sum())} requests in partial edge steps left "
            "out of the rate",
            f"burst_factor {burst:.3f} = q{burst_quantile:g} of the {step} rate / its mean (ASSUMPTION)",
            "the trace states no time zone; its hour cannot give a daily shape",
        ),
    )


def inference_from_servegen(
    frame: pd.DataFrame,
    meta: SourceMeta,
    *,
    region: str = "servegen",
    prompt_tokens_mean: float = AZURE_CONV_PROMPT_TOKENS,
    output_tokens_mean: float = AZURE_CONV_OUTPUT_TOKENS,
    model: ServedModel | None = None,
    slo: Slo = MLPERF_SERVER_SLO,
) -> InferenceDemand:
    """Demand from ServeGen client rates: the model's total rate on its 10-minute windows.

    ServeGen's token distributions were not copied, so the token means default to the Azure conversation trace's
    (ASSUMPTION). Windows where a client's rate is missing raise rather than being summed partially.
    """
    _need(meta, "servegen_client_rates", frame, ["time_utc", "rate_rps"])
    total = servegen_total_rate(frame)
    if total.isna().any():
        raise WattbitInputError(f"total rate missing at {total.index[total.isna()][0]} (a client has no rate)")
    return InferenceDemand(
        index_utc=pd.DatetimeIndex(total.index).tz_convert("UTC"),
        rate_rps=total.to_numpy(dtype=float)[None, :],
        regions=(region,),
        prompt_tokens_mean=prompt_tokens_mean,
        output_tokens_mean=output_tokens_mean,
        model=model or ServedModel(),
        slo=slo,
        notes=(
            f"ServeGen {meta.attrs.get('category')}/{meta.attrs.get('model')}: {meta.attrs.get('clients')} clients, "
            f"{len(total)} windows; mean {total.mean():.1f}, peak {total.max():.1f} requests/s",
            f"token means {prompt_tokens_mean:.1f}/{output_tokens_mean:.1f} (default: Azure conversation trace)",
        ),
    )


def trace_days(demand: InferenceDemand) -> float:
    """Days a regular rate trace covers (its last window included); 0 for fewer than two windows."""
    idx = demand.index_utc
    if len(idx) < 2:
        return 0.0
    return float(((idx[-1] - idx[0]) + (idx[1] - idx[0])).total_seconds() / _DAY_S)


def choose_shape(demand: InferenceDemand, shape: str = "auto") -> tuple[bool, str]:
    """Whether a scenario's load shape is weekly, and what to tell the user about the choice.

    Parameters
    ----------
    demand
        The ServeGen rate trace the shape comes from.
    shape
        The scenario's ``[workload.inference] shape``: ``"weekly"``, ``"daily"`` or ``"auto"`` (weekly when the
        trace covers at least 7 days; otherwise daily, with a note: ServeGen's reasoning and multimodal categories
        publish one day).

    Returns
    -------
    weekly, note
        ``weekly`` for :func:`weekly_shape`; ``note`` says which shape was used and why.

    Raises
    ------
    WattbitInputError
        If ``shape`` is ``"weekly"`` and the trace is shorter than a week, or ``shape`` is unknown.
    """
    days = trace_days(demand)
    if shape == "daily":
        return False, "daily (workload.inference.shape = 'daily')"
    if shape == "weekly":
        if days < 7:
            raise WattbitInputError(
                f"shape = 'weekly' needs a ServeGen trace of at least 7 days; this one covers {days:.3g} (expected "
                "shape = 'daily' or 'auto', or a trace of a week or more)",
                field="workload.inference.shape",
            )
        return True, "weekly (workload.inference.shape = 'weekly')"
    if shape != "auto":
        raise WattbitInputError(
            f"shape {shape!r} (expected 'auto', 'weekly' or 'daily')", field="workload.inference.shape"
        )
    if days >= 7:
        return True, f"weekly (auto: the ServeGen trace covers {days:.3g} days)"
    return False, (
        f"daily (auto: the ServeGen trace covers {days:.3g} days, fewer than the 7 a weekly shape needs; every weekday "
        "gets the same time-of-day shape; set [workload.inference] shape to silence this note)"
    )


def weekly_shape(
    demand: InferenceDemand,
    *,
    source_utc_offset_h: float = SOURCE_UTC_OFFSET_H,
    weekly: bool = True,
    smooth_h: float = 1.0,
) -> tuple[NDArray[np.float64], int]:
    """Normalised rate shape over one local week (Monday 00:00 first), from a regular multi-day rate trace.

    ``shape[b] = tod[b mod n] * dow[b div n]``: the mean rate per time-of-day bin (circularly smoothed over
    ``smooth_h`` hours) times the mean per weekday over the overall mean (1 if not ``weekly``); scaled to max 1.

    Returns
    -------
    shape, bin_s
        The ``7 * 86400 / bin_s`` values and the bin length [s] (the trace's step).
    """
    idx = demand.index_utc
    bin_s = int((idx[1] - idx[0]).total_seconds()) if len(idx) > 1 else 0
    if bin_s <= 0 or _DAY_S % bin_s or not (np.diff(_ns(idx)) == bin_s * 10**9).all():
        raise WattbitInputError("the shape trace needs a regular step that divides a day", field="index_utc")
    if trace_days(demand) < 1:
        raise WattbitInputError(
            f"a load shape needs at least one day of rates; this trace covers {trace_days(demand):.3g} (expected a "
            "trace of a day or more: a shorter one leaves hours of the day with no rate)",
            field="workload.traces",
        )
    if trace_days(demand) < 7 and weekly:
        raise WattbitInputError(
            f"a weekly shape needs at least 7 days of rates; this trace covers {trace_days(demand):.3g} (expected "
            "a trace of a week or more, or a daily shape: [workload.inference] shape = 'daily' or 'auto')",
            field="workload.inference.shape",
        )
    total = demand.rate_rps.sum(axis=0)
    local_s = _ns(idx) // 10**9 + int(round(source_utc_offset_h * 3600))
    n = _DAY_S // bin_s
    tod_bin = (local_s % _DAY_S) // bin_s
    tod = np.bincount(tod_bin, weights=total, minlength=n) / np.maximum(np.bincount(tod_bin, minlength=n), 1)
    k = max(1, round(smooth_h * 3600 / bin_s))
    if k > 1:
        kernel = np.ones(k) / k
        tod = np.convolve(np.concatenate([tod[-(k // 2) :], tod, tod[: k - 1 - k // 2]]), kernel, mode="valid")
    dow = np.ones(7)
    if weekly:
        day = (local_s // _DAY_S + 3) % 7  # 1970-01-01 was a Thursday
        dow = np.bincount(day, weights=total, minlength=7) / np.bincount(day, minlength=7)
        dow = dow / dow.mean()
    shape = (dow[:, None] * tod[None, :]).ravel()
    if not shape.max() > 0:
        raise WattbitInputError("the shape trace has no traffic", field="rate_rps")
    return shape / shape.max(), bin_s


def _step_means(shape: NDArray[np.float64], bin_s: int, start_s: NDArray[np.int64], step_s: int) -> NDArray[Any]:
    """Mean of the periodic piecewise-constant ``shape`` over ``[x, x + step_s)`` for each week-second ``x``."""
    cum = np.concatenate([[0.0], np.cumsum(shape) * bin_s])

    def integral(x: NDArray[np.int64]) -> NDArray[np.float64]:
        weeks, rest = np.divmod(x, _WEEK_S)
        b = rest // bin_s
        return weeks * cum[-1] + cum[b] + (rest - b * bin_s) * shape[b % len(shape)]

    return (integral(start_s + step_s) - integral(start_s)) / step_s


def diurnal_profile(
    shape_from: InferenceDemand,
    index_utc: pd.DatetimeIndex,
    peak_rate_rps: float | Mapping[str, float],
    *,
    tokens_from: InferenceDemand | None = None,
    source_utc_offset_h: float = SOURCE_UTC_OFFSET_H,
    target_tz: str = "Asia/Tokyo",
    weekly: bool = True,
    smooth_h: float = 1.0,
    model: ServedModel | None = None,
    slo: Slo | None = None,
    step_s: float | None = None,
) -> InferenceDemand:
    """A demand series on ``index_utc`` with ServeGen's daily/weekly shape, scaled to a peak rate, in Japan time.

    Parameters
    ----------
    shape_from
        A multi-day regular rate trace, normally :func:`inference_from_servegen` (its regions are summed).
    index_utc
        The target index (the scenario period at its step), tz-aware UTC, regular.
    peak_rate_rps
        Rate at the busiest 10 minutes of the week [requests/s]; one number (one region ``"total"``) or
        ``{region: peak}``.
    tokens_from
        Token means and burst factor (normally :func:`inference_from_azure_llm`); default ``shape_from``'s.
    source_utc_offset_h
        UTC offset of the shape trace's local clock: 8 for ServeGen read with the default anchor (ASSUMPTION).
    target_tz
        The local time the shape is laid on: a 20:00 peak in China stays a 20:00 peak in Japan (ASSUMPTION: usage
        follows the local clock, not absolute time).
    weekly, smooth_h
        See :func:`weekly_shape`.
    model, slo
        Default ``tokens_from``'s (or ``shape_from``'s).
    step_s
        Length of a step of ``index_utc`` [s]; needed for a one-step index, otherwise inferred.

    Returns
    -------
    InferenceDemand
        Each step's rate is the mean of the shape over that step times the region's peak.
    """
    idx = pd.DatetimeIndex(index_utc)
    if idx.tz is None or len(idx) < (1 if step_s else 2):
        raise WattbitInputError(
            "target index must be tz-aware with at least 2 steps (expected a regular UTC index, or step_s)",
            field="index_utc",
        )
    step = pd.Timedelta(seconds=step_s) if step_s else idx[1] - idx[0]
    if not (np.diff(_ns(idx)) == step.value).all():
        raise WattbitInputError("target index must be regular", field="index_utc")
    peaks = peak_rate_rps if isinstance(peak_rate_rps, Mapping) else {"total": peak_rate_rps}
    if not peaks or not all(v >= 0 for v in peaks.values()):
        raise WattbitInputError(f"peak rates {dict(peaks)} must be >= 0", field="peak_rate_rps")
    shape, bin_s = weekly_shape(shape_from, source_utc_offset_h=source_utc_offset_h, weekly=weekly, smooth_h=smooth_h)
    local = idx.tz_convert(target_tz)
    local_s = _ns(local.tz_localize(None)) // 10**9  # wall-clock seconds (any daylight saving included)
    week_s = (local_s - 4 * _DAY_S) % _WEEK_S  # 1970-01-05 was a Monday
    mean = _step_means(shape, bin_s, week_s, int(step.total_seconds()))
    tok = tokens_from or shape_from
    return InferenceDemand(
        index_utc=idx.tz_convert("UTC"),
        rate_rps=np.array([p * mean for p in peaks.values()]),
        regions=tuple(peaks),
        prompt_tokens_mean=tok.prompt_tokens_mean,
        output_tokens_mean=tok.output_tokens_mean,
        model=model or tok.model,
        slo=slo or tok.slo,
        burst_factor=tok.burst_factor,
        notes=(
            f"shape: {shape_from.notes[0] if shape_from.notes else 'given trace'}; time of day x weekday, smoothed "
            f"{smooth_h} h, trace clock UTC{source_utc_offset_h:+g} laid on {target_tz} wall clock",
            f"tokens and burst factor: {tok.notes[0] if tok.notes else 'given'}",
            f"peak rate(s) {dict(peaks)} requests/s at the busiest {bin_s // 60} min of the week",
        ),
    )

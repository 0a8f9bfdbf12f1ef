"""Sampling failure events for a fleet over a period: a seeded, vectorised Poisson process.

Component failures arrive at each site as a Poisson process of rate ``unplanned_per_gpu_day x site_gpus`` per day;
site events (cooling, power chain, grid, disaster) at ``rate_per_site_year`` per site. Counts are drawn as
``Poisson(rate x exposure)`` and times uniformly over the period, which is the same process. Each component event
draws its cause from the cause mix, and with it a scope, the block of GPUs it hits and a log-normal repair time.
Component and site events use two independent random streams derived from ``seed``, so changing the site-event
parameters does not move the component events (and vice versa).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from wattbit.errors import WattbitInputError
from wattbit.sim.faults.rates import (
    CAUSE_NAMES,
    COMPONENT_SCOPES,
    LLAMA3_CAUSES,
    N_COMPONENT_CAUSES,
    SCOPE_NAMES,
    SCOPE_NETWORK,
    SCOPE_NODE,
    SCOPE_SITE,
    SITE_EVENT_KINDS,
    FailureRates,
)

_NS_PER_S = 1_000_000_000
_NS_PER_H = 3600 * _NS_PER_S
_NS_PER_DAY = 24 * _NS_PER_H
_INT32_MAX = np.iinfo(np.int32).max


@dataclass(frozen=True)
class FailureEvents:
    """Failure events of a fleet over a period, as a structure of arrays sorted by time (then site, cause).

    Attributes
    ----------
    time_utc
        Event time, ``datetime64[ns]`` UTC (naive).
    step
        Index of the step the event falls in: ``(time_utc - period_start_utc) // step_s``.
    site
        Site index (``int16``) into the ``site_gpus`` given to :func:`sample_failures`.
    scope
        ``int8`` code into :data:`SCOPE_NAMES`: 0 gpu, 1 node, 2 network, 3 software, 4 site.
    cause
        ``int8`` code into :data:`CAUSE_NAMES`: 0-17 the Llama 3 causes, 18-21 the site event kinds.
    gpus_affected
        GPUs whose jobs are interrupted (``int32``): 1 for gpu and software events, the node for node events, one
        node or a leaf-switch group for network events (cut at the site's last GPU), ``ceil(derate x site_gpus)``
        for site events.
    first_gpu
        First of the affected GPUs (``int32``); they are ``first_gpu .. first_gpu + gpus_affected - 1`` with a
        site's GPUs numbered node by node (node ``k`` holds GPUs ``k*gpus_per_node ..``). 0 for site events.
    repair_h
        Time until the affected GPUs (or the site capacity) are back [h]; 0 for software events.
    repair_steps
        Steps during which they are out: steps ``step .. step + repair_steps - 1`` overlap ``[time, time +
        repair_h)``. 0 when ``repair_h`` is 0. May run past the period's end.
    derate_fraction
        Share of the site's IT capacity lost while the event lasts: 0 for component events (their effect is the
        GPUs out), the kind's derate for site events, 1.0 for outages.
    period_start_utc, step_s, n_steps
        The time grid the steps refer to.
    """

    time_utc: NDArray[np.datetime64]
    step: NDArray[np.int64]
    site: NDArray[np.int16]
    scope: NDArray[np.int8]
    cause: NDArray[np.int8]
    gpus_affected: NDArray[np.int32]
    first_gpu: NDArray[np.int32]
    repair_h: NDArray[np.float64]
    repair_steps: NDArray[np.int32]
    derate_fraction: NDArray[np.float64]
    period_start_utc: np.datetime64
    step_s: float
    n_steps: int

    def __len__(self) -> int:
        return int(self.time_utc.shape[0])

    def in_steps(self, first_step: int, end_step: int) -> slice:
        """Slice of the events whose step is in ``[first_step, end_step)`` (events are sorted by step)."""
        lo, hi = np.searchsorted(self.step, [first_step, end_step], side="left")
        return slice(int(lo), int(hi))

    def to_frame(self) -> pd.DataFrame:
        """One row per event; ``time_utc`` tz-aware UTC, codes plus categorical ``scope_name`` and ``cause_name``."""
        return pd.DataFrame(
            {
                "time_utc": pd.DatetimeIndex(self.time_utc).tz_localize("UTC"),
                "step": self.step,
                "site": self.site,
                "scope": self.scope,
                "scope_name": pd.Categorical.from_codes(self.scope, categories=pd.Index(SCOPE_NAMES)),
                "cause": self.cause,
                "cause_name": pd.Categorical.from_codes(self.cause, categories=pd.Index(CAUSE_NAMES)),
                "gpus_affected": self.gpus_affected,
                "first_gpu": self.first_gpu,
                "repair_h": self.repair_h,
                "repair_steps": self.repair_steps,
                "derate_fraction": self.derate_fraction,
            }
        )


def sample_failures(
    rates: FailureRates,
    site_gpus: ArrayLike,
    gpus_per_node: int | ArrayLike,
    period_start_utc: Any,
    period_end_utc: Any,
    step_s: float,
    seed: int | np.random.SeedSequence,
    site_rate_scale: ArrayLike | None = None,
) -> FailureEvents:
    """Sample the failure events of a fleet over ``[period_start_utc, period_end_utc)``.

    Parameters
    ----------
    rates
        The fault model's parameters.
    site_gpus
        GPUs in service per site, shape ``(n_sites,)``, integers >= 0. A site without GPUs gets no component
        events (its site events still occur and affect 0 GPUs).
    gpus_per_node
        GPUs per node, one integer for all sites or one per site.
    period_start_utc, period_end_utc
        Anything :class:`pandas.Timestamp` accepts; tz-aware times are converted to UTC, naive ones are taken as
        UTC. The end must be after the start.
    step_s
        Engine step [s], > 0; the period has ``ceil(duration / step_s)`` steps.
    seed
        Integer seed or :class:`numpy.random.SeedSequence`; the same seed and inputs give identical events.
    site_rate_scale
        Optional multiplier (>= 0) of the site-event rates: a scalar, one per site ``(n_sites,)`` or one per site
        and kind ``(n_sites, 4)`` (columns in :data:`SITE_EVENT_KINDS` order), e.g. a site's seismic hazard
        relative to the default.

    Returns
    -------
    FailureEvents
        Sorted by time, then site, then cause.

    Raises
    ------
    WattbitInputError
        Bad ``rates``, ``site_gpus``, ``gpus_per_node``, period, ``step_s``, ``seed`` or ``site_rate_scale``,
        named.
    """
    if not isinstance(rates, FailureRates):
        raise WattbitInputError(f"expected FailureRates, got {type(rates).__name__}", field="rates")
    gpus = _site_gpus(site_gpus)
    gpn = _gpus_per_node(gpus_per_node, gpus.shape[0])
    start_ns, end_ns = _period(period_start_utc, period_end_utc)
    step_ns = _step_ns(step_s)
    scale = _site_rate_scale(site_rate_scale, gpus.shape[0])
    comp_seq, site_seq = _streams(seed)
    duration_ns = end_ns - start_ns
    comp = _component_events(rates, gpus, gpn, duration_ns, np.random.default_rng(comp_seq))
    site = _site_events(rates, gpus, scale, duration_ns, np.random.default_rng(site_seq))
    cols = [np.concatenate([a, b]) for a, b in zip(comp, site, strict=True)]
    offset, site_ix, scope, cause, affected, first, repair_h, derate = cols
    order = np.lexsort((cause, site_ix, offset))
    offset, repair_h = offset[order], repair_h[order]
    step = offset // step_ns
    within = (offset - step * step_ns).astype(np.float64)
    repair_steps = np.where(repair_h > 0, np.ceil((within + repair_h * _NS_PER_H) / step_ns), 0.0)
    return FailureEvents(
        time_utc=(np.int64(start_ns) + offset).astype("datetime64[ns]"),
        step=step.astype(np.int64),
        site=site_ix[order].astype(np.int16),
        scope=scope[order].astype(np.int8),
        cause=cause[order].astype(np.int8),
        gpus_affected=affected[order].astype(np.int32),
        first_gpu=first[order].astype(np.int32),
        repair_h=repair_h,
        repair_steps=np.minimum(repair_steps, _INT32_MAX).astype(np.int32),
        derate_fraction=derate[order].astype(np.float64),
        period_start_utc=np.datetime64(start_ns, "ns"),
        step_s=step_ns / _NS_PER_S,
        n_steps=int(-(-duration_ns // step_ns)),
    )


def interrupted_jobs(events: FailureEvents, index: int, gpu_job: ArrayLike) -> NDArray[np.int64]:
    """Jobs interrupted by event ``index``, given its site's GPU-to-job map.

    Parameters
    ----------
    events
        The sampled events.
    index
        Which event.
    gpu_job
        For each GPU of the event's site, the id of the job running on it, or -1 if idle.

    Returns
    -------
    numpy.ndarray
        Sorted unique job ids (>= 0) on GPUs ``first_gpu .. first_gpu + gpus_affected - 1``. For a site derate
        below 1 this is one valid choice (the first GPUs); an engine may pick other victims or meet the derate
        with power caps.
    """
    jobs = np.asarray(gpu_job)
    first = int(events.first_gpu[index])
    hit = jobs[first : first + int(events.gpus_affected[index])]
    return np.unique(hit[hit >= 0]).astype(np.int64)


_Columns = tuple[NDArray[Any], ...]


def _component_events(
    rates: FailureRates, gpus: NDArray[np.int64], gpn: NDArray[np.int64], duration_ns: int, rng: np.random.Generator
) -> _Columns:
    """Component events: offset_ns, site, scope, cause, gpus_affected, first_gpu, repair_h, derate."""
    counts = rng.poisson(rates.unplanned_per_gpu_day * gpus * (duration_ns / _NS_PER_DAY))
    site = np.repeat(np.arange(gpus.shape[0]), counts)
    n = site.shape[0]
    offset = rng.integers(0, duration_ns, size=n, dtype=np.int64)
    p = np.array([rates.cause_fractions.get(name, 0.0) for name in LLAMA3_CAUSES])
    cause = rng.choice(N_COMPONENT_CAUSES, size=n, p=p / p.sum())
    scope_of_cause = np.array([COMPONENT_SCOPES.index(rates.cause_scopes[name]) for name in LLAMA3_CAUSES])
    scope = scope_of_cause[cause]
    u_block, u_switch, z = rng.random(n), rng.random(n), rng.standard_normal(n)
    site_gpus, node_gpus = gpus[site], gpn[site]
    group_nodes = np.where(u_switch < rates.network_switch_share, rates.network_group_nodes, 1)
    unit = np.select([scope == SCOPE_NODE, scope == SCOPE_NETWORK], [node_gpus, group_nodes * node_gpus], 1)
    n_units = -(-site_gpus // unit)
    first = np.minimum((u_block * n_units).astype(np.int64), n_units - 1) * unit
    affected = np.minimum(unit, site_gpus - first)
    median = np.array([rates.repair[s].median_h for s in COMPONENT_SCOPES])
    sigma = np.array([rates.repair[s].sigma for s in COMPONENT_SCOPES])
    repair_h = median[scope] * np.exp(sigma[scope] * z)
    return offset, site, scope, cause, affected, first, repair_h, np.zeros(n)


def _site_events(
    rates: FailureRates, gpus: NDArray[np.int64], scale: NDArray[np.float64], duration_ns: int, rng: np.random.Generator
) -> _Columns:
    """Site events: offset_ns, site, scope, cause, gpus_affected, first_gpu, repair_h, derate."""
    kinds = [rates.site_events[k] for k in SITE_EVENT_KINDS]
    per_year = np.array([k.rate_per_site_year for k in kinds])
    years = duration_ns / (365.25 * _NS_PER_DAY)
    counts = rng.poisson(per_year * years * scale).ravel()  # (n_sites, n_kinds), C order
    cell = np.repeat(np.arange(counts.shape[0]), counts)
    site, kind = cell // len(kinds), cell % len(kinds)
    n = site.shape[0]
    offset = rng.integers(0, duration_ns, size=n, dtype=np.int64)
    z = rng.standard_normal(n)
    median, sigma, derate_k = (
        np.array([getattr(k, a) for k in kinds]) for a in ("median_h", "sigma", "derate_fraction")
    )
    derate = derate_k[kind]
    affected = np.ceil(np.round(derate * gpus[site], 9)).astype(np.int64)
    repair_h = median[kind] * np.exp(sigma[kind] * z)
    scope = np.full(n, SCOPE_SITE)
    return offset, site, scope, N_COMPONENT_CAUSES + kind, affected, np.zeros(n, np.int64), repair_h, derate


def _site_gpus(site_gpus: ArrayLike) -> NDArray[np.int64]:
    try:
        arr = np.asarray(site_gpus, dtype=np.float64)
    except (TypeError, ValueError):
        raise WattbitInputError("expected numbers (GPUs per site)", field="site_gpus") from None
    if arr.ndim != 1 or arr.shape[0] == 0:
        raise WattbitInputError(
            f"expected a 1-D array with one entry per site, got shape {arr.shape}", field="site_gpus"
        )
    if arr.shape[0] > np.iinfo(np.int16).max:
        raise WattbitInputError(f"{arr.shape[0]} sites; at most {np.iinfo(np.int16).max}", field="site_gpus")
    _check_counts(arr, "site_gpus", minimum=0)
    return arr.astype(np.int64)


def _gpus_per_node(gpus_per_node: int | ArrayLike, n_sites: int) -> NDArray[np.int64]:
    try:
        arr = np.broadcast_to(np.asarray(gpus_per_node, dtype=np.float64), (n_sites,))
    except (TypeError, ValueError):
        raise WattbitInputError(f"expected one integer or one per site ({n_sites})", field="gpus_per_node") from None
    _check_counts(arr, "gpus_per_node", minimum=1)
    return arr.astype(np.int64)


def _check_counts(arr: NDArray[np.float64], name: str, minimum: int) -> None:
    bad = ~np.isfinite(arr) | (arr < minimum) | (arr != np.round(arr)) | (arr > _INT32_MAX)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise WattbitInputError(f"{arr[i]!r} is not an integer >= {minimum}", field=f"{name}[{i}]")


def _period(start: Any, end: Any) -> tuple[int, int]:
    out = []
    for value, name in ((start, "period_start_utc"), (end, "period_end_utc")):
        try:
            ts = pd.Timestamp(value)
        except (TypeError, ValueError):
            raise WattbitInputError(f"{value!r} is not a time", field=name) from None
        if pd.isna(ts):
            raise WattbitInputError("missing time (NaT)", field=name)
        if ts.tzinfo is not None:
            ts = ts.tz_convert("UTC").tz_localize(None)
        out.append(int(ts.as_unit("ns").value))
    if out[1] <= out[0]:
        raise WattbitInputError(f"period ends ({end}) at or before it starts ({start})", field="period_end_utc")
    return out[0], out[1]


def _step_ns(step_s: float) -> int:
    try:
        value = float(step_s)
    except (TypeError, ValueError):
        raise WattbitInputError(f"{step_s!r} is not a number", field="step_s") from None
    if not np.isfinite(value) or round(value * _NS_PER_S) < 1:
        raise WattbitInputError(f"{step_s!r} is not a finite step > 0 s", field="step_s")
    return round(value * _NS_PER_S)


def _site_rate_scale(scale: ArrayLike | None, n_sites: int) -> NDArray[np.float64]:
    shape = (n_sites, len(SITE_EVENT_KINDS))
    if scale is None:
        return np.ones(shape)
    try:
        arr = np.asarray(scale, dtype=np.float64)
        arr = np.broadcast_to(arr[:, None] if arr.ndim == 1 else arr, shape)
    except (TypeError, ValueError, IndexError):
        raise WattbitInputError(f"expected an array broadcastable to {shape}", field="site_rate_scale") from None
    if not np.all(np.isfinite(arr) & (arr >= 0)):
        raise WattbitInputError("expected finite multipliers >= 0", field="site_rate_scale")
    return arr


def _streams(seed: int | np.random.SeedSequence) -> tuple[np.random.SeedSequence, np.random.SeedSequence]:
    """Two independent child sequences of ``seed``, derived without mutating a given SeedSequence."""
    if isinstance(seed, np.random.SeedSequence):
        base = seed
    elif isinstance(seed, int | np.integer) and not isinstance(seed, bool) and seed >= 0:
        base = np.random.SeedSequence(int(seed))
    else:
        raise WattbitInputError(f"{seed!r} is not an integer >= 0 or a SeedSequence", field="seed")
    key = tuple(base.spawn_key)
    return (
        np.random.SeedSequence(base.entropy, spawn_key=(*key, 0)),
        np.random.SeedSequence(base.entropy, spawn_key=(*key, 1)),
    )

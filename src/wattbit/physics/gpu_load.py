"""GPU power by job kind and phase: the load a GPU runs at while a job holds it, and the fleet's power distribution.

A GPU held by a job does not draw its TDP. Within a training step it alternates between compute-bound kernels and
phases where it mostly waits (exposed collective communication, pipeline bubbles, checkpoint writes, data loading;
Choukse et al., "Power Stabilization for AI Training Datacenters", arXiv 2508.14318: compute phases near TDP,
communication phases near idle power), and jobs differ in how hard their kernels drive the GPU (a large dense
model near TDP, evaluation or small-batch jobs far below it). An inference replica alternates between prefill
(compute-bound), decode (memory-bound, power rising with the batch) and waiting for requests.

Model (``docs/models/gpu.md``, status V/S/U as in ``REFERENCE.md``):

* a **power class** is a job's phase mix: the share ``s_low`` of its time in the low phase at load
  :data:`LOW_PHASE_LOAD` and the rest in its compute phase at load ``u_c``; its GPU power is
  ``s_low P(u_low) + (1 - s_low) P(u_c)`` with ``P`` the linear model of :func:`wattbit.physics.gpu.gpu_power_w`,
  each phase clipped at a power cap on its own. Every job draws one class from its kind's weights
  (:func:`draw_power_classes`);
* the weights and ``s_low`` per kind are fitted to the measured A100 GPU power distributions of the AcmeTrace LLM
  clusters (Hu et al., "Characterization of Large Language Model Development in the Datacenter", NSDI 2024; CC BY
  4.0): pre-training (Kalos) for ``training``, the mixed development cluster (Seren) for ``finetune`` and
  ``batch_inference`` (:data:`POWER_CLASSES`); the fit reproduces both CDFs within a Kolmogorov-Smirnov distance of
  0.05 (tested);
* online inference: prefill at :data:`PREFILL_LOAD`, decode at a load rising with the batch between the ML.ENERGY
  benchmark's H100 points (batch 1: 300 W, batch 128: 600 W), waiting at :data:`LOW_PHASE_LOAD`
  (:func:`online_inference_load`).

Instantaneous samples scatter around each phase's load (kernel-to-kernel variation at a DCGM sampling interval);
:func:`power_cdf` draws the fleet's distribution with that spread, for comparison with measured CDFs. The spread
changes no energy: every energy uses the phase means.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from wattbit.errors import WattbitInputError
from wattbit.physics.gpu import THROUGHPUT_PARAMS, GpuModel
from wattbit.units import FloatArray, check_range

#: Load of the low phase (communication, checkpoint, data stalls; an inference replica waiting) [-]: the AcmeTrace
#: mode at 98 W on 64-400 W A100s (fitted, S).
LOW_PHASE_LOAD = 0.10
#: Load of a compute-bound phase (dense training kernels, prefill) [-]: the AcmeTrace top mode at 383 W (fitted, S).
PREFILL_LOAD = 0.95
#: Compute-phase loads of the classes [-] (the fitting grid).
COMPUTE_LOADS = (0.2, 0.35, 0.5, 0.65, 0.8, 0.95)
#: Spread of instantaneous samples around a phase's load [share of the dynamic range]: compute and low phases,
#: and of an idle GPU [W] (fitted to AcmeTrace, S). Distribution shape only; no effect on energy.
COMPUTE_SPREAD = 0.09
LOW_SPREAD = 0.016
IDLE_SPREAD_W = 2.5
#: ML.ENERGY benchmark v3.0, H100 SXM decode: batch 1 about 300 W, batch 128 about 600 W (S, quoted by the vLLM
#: semantic-router power-model docs), as loads of an H100 (idle 75 W, TDP 700 W); log-linear in the batch between.
DECODE_LOAD_BATCH_1 = (300.0 - 75.0) / (700.0 - 75.0)
DECODE_LOAD_BATCH_128 = (600.0 - 75.0) / (700.0 - 75.0)


@dataclass(frozen=True)
class PowerClass:
    """One phase mix of a job kind.

    Attributes
    ----------
    kind
        Job kind name: ``"training"``, ``"finetune"`` or ``"batch_inference"``.
    compute_load
        Load of the compute phase [-].
    low_share
        Share of the time in the low phase [-].
    weight
        Probability of the class within its kind [-].
    """

    kind: str
    compute_load: float
    low_share: float
    weight: float

    @property
    def mean_load(self) -> float:
        """Time-mean load [-] (exact for the GPU power when uncapped, the model being linear in the load)."""
        return self.low_share * LOW_PHASE_LOAD + (1.0 - self.low_share) * self.compute_load


#: Fitted per kind: (low-phase share, {compute load: weight}). Training to AcmeTrace Kalos (pre-training),
#: fine-tuning and batch inference to Seren (mixed development; its jobs are mostly fine-tuning and evaluation,
#: U for the assignment). Weights rounded to 0.01.
KIND_FITS: dict[str, tuple[float, dict[float, float]]] = {
    "training": (0.33, {0.2: 0.16, 0.35: 0.07, 0.95: 0.77}),
    "finetune": (0.37, {0.2: 0.28, 0.35: 0.01, 0.5: 0.03, 0.65: 0.15, 0.95: 0.53}),
    "batch_inference": (0.37, {0.2: 0.28, 0.35: 0.01, 0.5: 0.03, 0.65: 0.15, 0.95: 0.53}),
}

#: Every power class, in a fixed order (the class index the engine records).
POWER_CLASSES: tuple[PowerClass, ...] = tuple(
    PowerClass(kind, load, low, weight)
    for kind, (low, weights) in KIND_FITS.items()
    for load, weight in weights.items()
)


def class_indices(kind: str) -> NDArray[np.int64]:
    """Indices in :data:`POWER_CLASSES` of a kind's classes."""
    idx = [i for i, c in enumerate(POWER_CLASSES) if c.kind == kind]
    if not idx:
        raise WattbitInputError(f"unknown job kind {kind!r}; expected one of {list(KIND_FITS)}", field="kind")
    return np.asarray(idx, dtype=np.int64)


def draw_power_classes(
    kind_codes: ArrayLike, kind_names: Mapping[int, str], rng: np.random.Generator
) -> NDArray[np.int16]:
    """One power class per job, drawn from its kind's weights.

    Parameters
    ----------
    kind_codes
        Job kind codes (e.g. :attr:`wattbit.workload.jobs.TrainingJobs.kind`).
    kind_names
        Code -> kind name (``"training"``, ``"finetune"``, ``"batch_inference"``).
    rng
        Random generator (the draw is reproducible from its seed).

    Returns
    -------
    numpy.ndarray
        Index into :data:`POWER_CLASSES` per job (``int16``).
    """
    codes = np.asarray(kind_codes)
    out = np.empty(codes.shape, dtype=np.int16)
    for code in np.unique(codes).tolist():
        if code not in kind_names:
            raise WattbitInputError(f"job kind code {code} has no name in {dict(kind_names)}", field="kind")
        idx = class_indices(kind_names[code])
        weights = np.array([POWER_CLASSES[i].weight for i in idx])
        sel = codes == code
        out[sel] = rng.choice(idx, size=int(sel.sum()), p=weights / weights.sum())
    return out


def _phase_power_w(model: GpuModel, load: ArrayLike, cap_w: ArrayLike | None) -> FloatArray:
    power = model.idle_w + (model.tdp_w - model.idle_w) * np.asarray(load, dtype=float)
    return power if cap_w is None else np.minimum(power, cap_w)


def class_gpu_power_w(model: GpuModel, cap_w: ArrayLike | None = None) -> FloatArray:
    """Mean GPU power of every class [W], each phase clipped at the cap on its own.

    Parameters
    ----------
    model
        The GPU model.
    cap_w
        Power limit [W], scalar or a series of shape ``(steps,)``; ``None`` for no cap.

    Returns
    -------
    numpy.ndarray
        ``(classes,)`` for a scalar or no cap, ``(steps, classes)`` for a series.
    """
    low = np.array([c.low_share for c in POWER_CLASSES])
    compute = np.array([c.compute_load for c in POWER_CLASSES])
    cap = None if cap_w is None else np.asarray(cap_w, dtype=float)[..., None]
    return low * _phase_power_w(model, LOW_PHASE_LOAD, cap) + (1.0 - low) * _phase_power_w(model, compute, cap)


def class_mean_loads() -> FloatArray:
    """Time-mean load of every class [-] (uncapped)."""
    return np.array([c.mean_load for c in POWER_CLASSES])


def kind_gpu_power_w(model: GpuModel, kind: str, cap_w: float | None = None) -> float:
    """Expected GPU power of a job of ``kind`` over its class weights [W] (what a planner or optimiser assumes)."""
    idx = class_indices(kind)
    weights = np.array([POWER_CLASSES[i].weight for i in idx])
    return float(np.dot(weights / weights.sum(), class_gpu_power_w(model, cap_w)[idx]))


def kind_throughput_factor(model: GpuModel, cap_w: float, kind: str) -> float:
    """Expected throughput under a cap of a job of ``kind`` over its class weights (:func:`class_throughput_factor`)."""
    idx = class_indices(kind)
    weights = np.array([POWER_CLASSES[i].weight for i in idx])
    return float(np.dot(weights / weights.sum(), class_throughput_factor(model, cap_w, idx)))


def class_throughput_factor(model: GpuModel, cap_w: ArrayLike, classes: ArrayLike) -> FloatArray:
    """Throughput of jobs of the given classes under a power cap, relative to uncapped.

    ``f = 1 - k max(0, d - p)^2`` as :func:`wattbit.physics.gpu.throughput_factor`, with ``p = cap / TDP`` and
    ``d`` the share of TDP the class's compute phase draws: a cap above it costs nothing. ``k`` is the training value
    for training and fine-tuning, the decode value for batch inference (both U).

    Parameters
    ----------
    model
        The GPU model.
    cap_w
        Power limit [W], broadcast against ``classes``.
    classes
        Indices into :data:`POWER_CLASSES`.

    Returns
    -------
    numpy.ndarray
        Throughput factor, 1 where the cap does not bind.
    """
    idx = np.asarray(classes, dtype=np.int64)
    compute = np.array([c.compute_load for c in POWER_CLASSES])[idx]
    k_of = np.array(
        [THROUGHPUT_PARAMS["inference_decode" if c.kind == "batch_inference" else "training"][0] for c in POWER_CLASSES]
    )[idx]
    demand = (model.idle_w + (model.tdp_w - model.idle_w) * compute) / model.tdp_w
    p = np.asarray(cap_w, dtype=float) / model.tdp_w
    return 1.0 - k_of * np.maximum(demand - p, 0.0) ** 2


def decode_load(batch: ArrayLike) -> FloatArray:
    """Load of a GPU decoding a batch of ``batch`` sequences [-].

    Log-linear between the ML.ENERGY benchmark's H100 points (batch 1: 300 W, batch 128: 600 W, S), as loads of
    the GPU's dynamic range, clipped outside; the same loads are assumed for other GPUs (U).
    """
    b = check_range("batch", batch, 1.0)
    frac = np.clip(np.log(b) / math.log(128.0), 0.0, 1.0)
    return DECODE_LOAD_BATCH_1 + (DECODE_LOAD_BATCH_128 - DECODE_LOAD_BATCH_1) * frac


def online_inference_phases(
    busy_share: ArrayLike, prefill_share: float, decode_batch: float
) -> tuple[tuple[FloatArray, float], ...]:
    """Phases of a GPU of an online-inference replica: ``((share, load), ...)`` for prefill, decode, waiting.

    Parameters
    ----------
    busy_share
        Share of the time the replica serves requests [-], 0..1 (scalar or a series).
    prefill_share
        Share of the busy time spent in prefill [-], 0..1.
    decode_batch
        Typical decode batch (sequences in flight), >= 1.
    """
    busy = check_range("busy_share", busy_share, 0.0, 1.0)
    pre = float(check_range("prefill_share", prefill_share, 0.0, 1.0))
    return (
        (busy * pre, PREFILL_LOAD),
        (busy * (1.0 - pre), float(decode_load(decode_batch))),
        (1.0 - busy, LOW_PHASE_LOAD),
    )


def online_inference_gpu_power_w(
    model: GpuModel,
    busy_share: ArrayLike,
    prefill_share: float,
    decode_batch: float,
    cap_w: ArrayLike | None = None,
) -> FloatArray:
    """Mean power of one online-inference GPU [W] (phases of :func:`online_inference_phases`, each capped)."""
    total: FloatArray = np.zeros(np.shape(busy_share))
    for share, load in online_inference_phases(busy_share, prefill_share, decode_batch):
        total = total + share * _phase_power_w(model, load, cap_w)
    return total


def online_inference_load(busy_share: ArrayLike, prefill_share: float, decode_batch: float) -> FloatArray:
    """Time-mean load of an online-inference GPU [-] (uncapped)."""
    phases = online_inference_phases(busy_share, prefill_share, decode_batch)
    return np.asarray(sum(share * load for share, load in phases), dtype=float)


# ------------------------------------------------------------------------------------------------ distribution
@dataclass(frozen=True)
class PowerMixture:
    """A fleet's GPU power as a mixture of normal components (one per phase and state).

    Attributes
    ----------
    mean_w, sd_w, weight
        Component means and spreads [W] and weights (summing to 1).
    """

    mean_w: FloatArray
    sd_w: FloatArray
    weight: FloatArray

    def cdf(self, power_w: ArrayLike) -> FloatArray:
        """Share of GPU samples at or below ``power_w``."""
        x = np.asarray(power_w, dtype=float)[..., None]
        z = (x - self.mean_w) / (self.sd_w * math.sqrt(2.0))
        return np.asarray(0.5 * (1.0 + _erf(z)) @ self.weight, dtype=float)

    @property
    def mean_power_w(self) -> float:
        """Mean GPU power [W]."""
        return float(self.mean_w @ self.weight)


def _erf(z: FloatArray) -> FloatArray:
    from scipy.special import erf  # scipy is a dependency of pvlib and windpowerlib

    return np.asarray(erf(z), dtype=float)


def power_mixture(
    model: GpuModel,
    idle_gpus: float,
    class_gpus: ArrayLike,
    inference_phases: Sequence[tuple[float, float]] = (),
    inference_gpus: float = 0.0,
) -> PowerMixture:
    """The distribution of instantaneous GPU power of a fleet (GPU-samples, uncapped).

    Parameters
    ----------
    model
        The GPU model.
    idle_gpus
        GPUs (or GPU-hours) idle.
    class_gpus
        GPUs (or GPU-hours) busy per class of :data:`POWER_CLASSES`.
    inference_phases
        ``((share, load), ...)`` of an online-inference GPU (:func:`online_inference_phases`, scalar shares).
    inference_gpus
        GPUs (or GPU-hours) held for online inference.

    Returns
    -------
    PowerMixture
    """
    counts = np.asarray(class_gpus, dtype=float)
    if counts.shape != (len(POWER_CLASSES),) or np.any(~(counts >= 0)) or not idle_gpus >= 0:
        raise WattbitInputError(
            f"expected {len(POWER_CLASSES)} class counts >= 0 and idle GPUs >= 0", field="class_gpus"
        )
    span = model.tdp_w - model.idle_w
    means, sds, weights = [model.idle_w], [IDLE_SPREAD_W], [float(idle_gpus)]
    for c, n in zip(POWER_CLASSES, counts.tolist(), strict=True):
        means += [model.idle_w + span * LOW_PHASE_LOAD, model.idle_w + span * c.compute_load]
        sds += [span * LOW_SPREAD, span * COMPUTE_SPREAD]
        weights += [n * c.low_share, n * (1.0 - c.low_share)]
    for share, load in inference_phases:
        means.append(model.idle_w + span * float(load))
        sds.append(span * (LOW_SPREAD if load <= LOW_PHASE_LOAD else COMPUTE_SPREAD))
        weights.append(inference_gpus * float(share))
    w = np.asarray(weights)
    if not w.sum() > 0:
        raise WattbitInputError("no GPUs in the mixture", field="class_gpus")
    return PowerMixture(np.asarray(means), np.asarray(sds), w / w.sum())


def ks_distance(cdf_model: ArrayLike, cdf_reference: ArrayLike) -> float:
    """Kolmogorov-Smirnov distance ``max |F_model - F_ref|`` between two CDFs evaluated at the same points."""
    a, b = np.asarray(cdf_model, dtype=float), np.asarray(cdf_reference, dtype=float)
    if a.shape != b.shape:
        raise WattbitInputError(f"CDFs differ in shape {a.shape} vs {b.shape}", field="cdf_model")
    return float(np.max(np.abs(a - b)))


#: Load separating idle GPUs from busy ones in a measured distribution: between the idle mode (spread
#: :data:`IDLE_SPREAD_W`) and the low phase at :data:`LOW_PHASE_LOAD` (spread :data:`LOW_SPREAD`) [-].
IDLE_CUT_LOAD = 0.06


def measured_busy_load_cdf(
    power_w: ArrayLike, cdf: ArrayLike, model: GpuModel, load: ArrayLike
) -> tuple[FloatArray, float]:
    """A measured per-GPU power CDF restricted to busy GPUs, at the given loads, and its idle share.

    ``F_busy(u) = (F(P(u)) - F(P(u_cut))) / (1 - F(P(u_cut)))`` for ``u >= u_cut`` (:data:`IDLE_CUT_LOAD`), with
    ``P(u) = P_idle + (P_TDP - P_idle) u`` of the GPU the measurement is of; 0 below the cut.

    Returns
    -------
    cdf_busy : numpy.ndarray
        At ``load``.
    idle_share : float
        ``F(P(u_cut))``: the share of samples from idle GPUs.
    """
    x, f = np.asarray(power_w, dtype=float), np.asarray(cdf, dtype=float)
    span = model.tdp_w - model.idle_w
    u = np.asarray(load, dtype=float)
    idle_share = float(np.interp(model.idle_w + span * IDLE_CUT_LOAD, x, f))
    busy = (np.interp(model.idle_w + span * u, x, f) - idle_share) / (1.0 - idle_share)
    return np.where(u >= IDLE_CUT_LOAD, np.clip(busy, 0.0, 1.0), 0.0), idle_share


def mixture_load_cdf(model: GpuModel, mixture: PowerMixture, load: ArrayLike) -> FloatArray:
    """A mixture's CDF at the given loads of ``model`` (``P = P_idle + (P_TDP - P_idle) u``)."""
    return mixture.cdf(model.idle_w + (model.tdp_w - model.idle_w) * np.asarray(load, dtype=float))

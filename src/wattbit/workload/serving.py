"""LLM serving capacity: GPUs per model replica and the request rate one replica sustains within its SLOs.

Model (equations and status in ``docs/workload.md``):

* **Memory**: a replica needs ``W (1 + h)`` bytes, ``W = params * bytes_per_param`` the weights and ``h`` the
  KV-cache/activation headroom (default 0.2, U); GPUs per replica = that over one GPU's memory, rounded up to a
  power of two (tensor-parallel degrees are powers of two; U).
* **Decode throughput** per GPU is the MLPerf Inference v4.1 Llama-2-70B *Server* result (TTFT 2 s, TPOT 200 ms)
  divided by the system's GPUs (V, read in ``mlcommons/inference_results_v4.1``), scaled by
  ``(70 / params_b) * (ref_bytes / bytes_per_param)``: decode reads every weight per step, so throughput goes as
  the inverse of the weight bytes (U).
* **TPOT**: a decode step takes ``t0 + c B`` for a batch ``B``; ``t0 = W / (gpus * HBM bandwidth * 0.8)`` (the
  batch-1 time per token). Holding TPOT at ``s`` allows ``B = (s - t0) / c``, so throughput scales by
  ``(1 - t0 / s) / (1 - t0 / 0.2 s)`` relative to the MLPerf point (U).
* **Prefill** runs ``prefill_to_decode`` (default 2.6) times faster per token than decode: H100 FP8 dense
  1,979 TFLOPS (S) x 50 % MFU (U) / 2 FLOP per parameter per token = 7,068 tokens/s per GPU for 70 B vs 2,701
  decode (U).
* **Requests/s** per replica: one request busies the replica for ``tau = prompt / P + output / D`` seconds; it
  is run at most at ``max_utilisation`` (default 0.8, U) and at most at the rate where the prefill queue keeps
  TTFT, ``p / (1 - rate * p) <= TTFT`` with ``p = prompt / P`` (an M/M/1 sojourn of the prefill stage, U).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from wattbit.errors import WattbitInputError
from wattbit.physics.gpu import GpuModel, get_gpu

#: Model size the MLPerf reference figures are for [billion parameters] (Llama-2-70B).
REFERENCE_PARAMS_B = 70.0
#: TPOT bound of the MLPerf Llama-2-70B Server scenario the throughput figures were measured under [ms].
REFERENCE_TPOT_MS = 200.0
#: Prefill tokens/s over decode tokens/s per GPU at the same model and precision (U, derivation in the module doc).
PREFILL_TO_DECODE = 2.6
#: Share of peak HBM bandwidth a batch-1 decode step reaches (U).
HBM_EFFICIENCY = 0.8


@dataclass(frozen=True)
class Slo:
    """Latency objectives of an LLM service (99th percentile in MLPerf).

    Attributes
    ----------
    ttft_ms
        Time to first token [ms]. Default 2,000 (MLPerf Llama-2-70B Server, S via REFERENCE.md §8; V in the
        v4.1 result logs, ``ttft_latency (ns): 2000000000``).
    tpot_ms
        Time per output token [ms]. Default 200 (same source).
    """

    ttft_ms: float = 2000.0
    tpot_ms: float = 200.0

    def __post_init__(self) -> None:
        for name in ("ttft_ms", "tpot_ms"):
            if not getattr(self, name) > 0:
                raise WattbitInputError(f"{name} = {getattr(self, name)} must be > 0", field=name)


#: MLPerf Llama-2-70B Server SLO (TTFT 2 s, TPOT 200 ms).
MLPERF_SERVER_SLO = Slo(2000.0, 200.0)
#: MLPerf Llama-2-70B Interactive SLO (TTFT 450 ms, TPOT 40 ms; REFERENCE.md §8, S).
MLPERF_INTERACTIVE_SLO = Slo(450.0, 40.0)


@dataclass(frozen=True)
class ServedModel:
    """An LLM as served.

    Attributes
    ----------
    name
        Label.
    params_b
        Parameters [billions].
    bytes_per_param
        Weight precision [bytes]: 2 for FP16/BF16 (default), 1 for FP8, 0.5 for FP4.
    kv_headroom
        Memory for KV cache and activations as a share of the weights (default 0.2, U).
    """

    name: str = "llama-70b"
    params_b: float = 70.0
    bytes_per_param: float = 2.0
    kv_headroom: float = 0.2

    def __post_init__(self) -> None:
        for name in ("params_b", "bytes_per_param"):
            if not getattr(self, name) > 0:
                raise WattbitInputError(f"{name} = {getattr(self, name)} must be > 0", field=name)
        if not self.kv_headroom >= 0:
            raise WattbitInputError(f"kv_headroom = {self.kv_headroom} must be >= 0", field="kv_headroom")

    @property
    def weights_gb(self) -> float:
        """Weight memory [GB, 1e9 bytes]."""
        return self.params_b * self.bytes_per_param


@dataclass(frozen=True)
class GpuServing:
    """Serving reference figures of one GPU model.

    Attributes
    ----------
    decode_tokens_per_s
        Output tokens/s per GPU, MLPerf Llama-2-70B Server, at ``ref_bytes_per_param``.
    ref_bytes_per_param
        Weight precision of that result [bytes].
    hbm_tb_per_s
        Peak HBM bandwidth [TB/s].
    source
        Where the figures come from, with status.
    """

    decode_tokens_per_s: float
    ref_bytes_per_param: float
    hbm_tb_per_s: float
    source: str


_V41 = "MLPerf Inference v4.1 closed, llama2-70b Server, mlcommons/inference_results_v4.1"
#: Serving figures per catalog GPU (keys of :data:`wattbit.physics.gpu.GPU_CATALOG`).
GPU_SERVING: dict[str, GpuServing] = {
    "H100-SXM": GpuServing(
        21_605.79 / 8,
        1.0,
        3.35,
        f"V {_V41} NVIDIA/DGX-H100_H100-SXM-80GBx8_TRT (99.9): 21,605.79 tok/s / 8 "
        "GPUs, FP8; HBM 3.35 TB/s S (datasheet)",
    ),
    "H200": GpuServing(
        29_228.22 / 8,
        1.0,
        4.8,
        f"V {_V41} NVIDIA/H200-SXM-141GBx8_TRT (99): 29,228.22 tok/s / 8 GPUs, FP8; HBM 4.8 TB/s S",
    ),
    "B200": GpuServing(
        10_755.59,
        0.5,
        8.0,
        f"V {_V41} NVIDIA/B200-SXM-180GBx1_TRT (99.9, preview): 10,755.59 tok/s on 1 GPU; "
        "FP4 S (NVIDIA blog); HBM 8 TB/s S",
    ),
    "GB200": GpuServing(10_755.59, 0.5, 8.0, "U: taken equal to B200 per GPU (no Server result read)"),
    "MI300X": GpuServing(
        21_028.23 / 8,
        1.0,
        5.3,
        f"V {_V41} AMD/8xMI300X_2xEPYC-9374F (99): 21,028.23 tok/s / 8 GPUs, FP8; HBM 5.3 TB/s S",
    ),
    "A100-SXM": GpuServing(
        21_605.79 / 8 * 2.039 / 3.35 / 2,
        2.0,
        2.039,
        "U: H100 figure x HBM ratio 2.039/3.35, at FP16 (A100 has no FP8); HBM 2.039 TB/s S",
    ),
}


def gpu_memory_gb(gpu: GpuModel) -> float:
    """Memory of one GPU [GB, 1e9 bytes] (the catalog holds GiB)."""
    return gpu.memory_gib * 2**30 / 1e9


def gpus_per_replica(model: ServedModel, gpu: GpuModel | str, *, power_of_two: bool = True) -> int:
    """GPUs one replica needs to hold the weights plus KV headroom: ``ceil(W (1 + h) / memory)``.

    With ``power_of_two`` (default) the count is rounded up to 1, 2, 4, 8, 16, ... Examples (FP16, ``h = 0.2``):
    8 B -> 1 H100 / 1 H200; 70 B (168 GB) -> 2 H100 / 2 H200 (1 H200 only in FP8); 405 B (972 GB) -> 16 H100 /
    8 H200.
    """
    g = get_gpu(gpu) if isinstance(gpu, str) else gpu
    need = math.ceil(model.weights_gb * (1.0 + model.kv_headroom) / gpu_memory_gb(g) - 1e-9)
    need = max(need, 1)
    return 1 << (need - 1).bit_length() if power_of_two else need


@dataclass(frozen=True)
class ReplicaCapacity:
    """What one replica of a model on a GPU type sustains within the SLOs.

    Attributes
    ----------
    gpus_per_replica
        GPUs per replica.
    decode_tokens_per_s, prefill_tokens_per_s
        Replica throughput at the TPOT SLO [tokens/s].
    min_tpot_ms
        Batch-1 time per output token, ``t0`` [ms].
    prefill_ms
        Prefill time of a mean prompt on an idle replica [ms].
    requests_per_s
        Sustained request rate of one replica within the SLOs [requests/s].
    """

    gpus_per_replica: int
    decode_tokens_per_s: float
    prefill_tokens_per_s: float
    min_tpot_ms: float
    prefill_ms: float
    requests_per_s: float

    def replicas_needed(self, rate_rps: ArrayLike, burst_factor: float = 1.0) -> NDArray[np.int64]:
        """Replicas to serve ``rate_rps`` (any shape, e.g. a time series) times ``burst_factor``; ceil."""
        rate = np.asarray(rate_rps, dtype=float)
        if rate.size and not np.all(rate >= 0):
            raise WattbitInputError("request rates must be >= 0 and not NaN", field="rate_rps")
        return np.ceil(rate * burst_factor / self.requests_per_s - 1e-9).astype(np.int64)

    def gpus_needed(self, rate_rps: ArrayLike, burst_factor: float = 1.0) -> NDArray[np.int64]:
        """GPUs to serve ``rate_rps``: replicas times GPUs per replica."""
        return self.replicas_needed(rate_rps, burst_factor) * self.gpus_per_replica


def replica_capacity(
    model: ServedModel,
    gpu: GpuModel | str,
    slo: Slo = MLPERF_SERVER_SLO,
    prompt_tokens: float = 1155.0,
    output_tokens: float = 211.0,
    *,
    max_utilisation: float = 0.8,
    prefill_to_decode: float = PREFILL_TO_DECODE,
) -> ReplicaCapacity:
    """The capacity of one replica (model in the module docstring).

    Parameters
    ----------
    model
        The served model.
    gpu
        A :class:`~wattbit.physics.gpu.GpuModel` or catalog name with an entry in :data:`GPU_SERVING`.
    slo
        TTFT and TPOT objectives.
    prompt_tokens, output_tokens
        Mean tokens per request; defaults are the Azure 2023 conversation trace means (1,155 and 211).
    max_utilisation
        Highest busy share of a replica (U, default 0.8).
    prefill_to_decode
        Prefill over decode tokens/s per GPU (U, default 2.6).

    Raises
    ------
    WattbitInputError
        If the GPU has no serving figures, the TPOT SLO is below the batch-1 time per token, or an idle replica
        cannot prefill a mean prompt within the TTFT SLO.
    """
    g = get_gpu(gpu) if isinstance(gpu, str) else gpu
    if g.name not in GPU_SERVING:
        raise WattbitInputError(f"no serving figures for GPU {g.name!r}; known: {list(GPU_SERVING)}", field="gpu")
    if not (0 < max_utilisation <= 1 and prefill_to_decode > 0 and prompt_tokens >= 0 and output_tokens > 0):
        raise WattbitInputError(
            "need 0 < max_utilisation <= 1, prefill_to_decode > 0, prompt_tokens >= 0, output_tokens > 0",
            field="max_utilisation",
        )
    ref = GPU_SERVING[g.name]
    n = gpus_per_replica(model, g)
    per_gpu = (
        ref.decode_tokens_per_s
        * (REFERENCE_PARAMS_B / model.params_b)
        * (ref.ref_bytes_per_param / model.bytes_per_param)
    )
    t0_s = model.weights_gb / (n * ref.hbm_tb_per_s * 1e3 * HBM_EFFICIENCY)
    tpot_s, ref_s = slo.tpot_ms / 1e3, REFERENCE_TPOT_MS / 1e3
    if not tpot_s > t0_s:
        raise WattbitInputError(
            f"TPOT SLO {slo.tpot_ms} ms is below the batch-1 time per token {t0_s * 1e3:.1f} ms of {model.name} on "
            f"{n} x {g.name}",
            field="tpot_ms",
        )
    decode = n * per_gpu * (1 - t0_s / tpot_s) / (1 - t0_s / ref_s)
    prefill = n * per_gpu * prefill_to_decode
    p_s = prompt_tokens / prefill
    ttft_s = slo.ttft_ms / 1e3
    if not p_s < ttft_s:
        raise WattbitInputError(
            f"a {prompt_tokens:.0f}-token prompt takes {p_s * 1e3:.0f} ms to prefill on {n} x {g.name}, over the "
            f"TTFT SLO of {slo.ttft_ms} ms",
            field="ttft_ms",
        )
    busy_s = p_s + output_tokens / decode
    rate = min(max_utilisation / busy_s, (1 - p_s / ttft_s) / p_s if p_s > 0 else math.inf)
    return ReplicaCapacity(n, decode, prefill, t0_s * 1e3, p_s * 1e3, rate)

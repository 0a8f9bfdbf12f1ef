"""Serving capacity against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wattbit.errors import WattbitInputError
from wattbit.physics.gpu import GPU_CATALOG, GpuModel
from wattbit.workload import (
    GPU_SERVING,
    MLPERF_INTERACTIVE_SLO,
    MLPERF_SERVER_SLO,
    ServedModel,
    Slo,
    gpus_per_replica,
    replica_capacity,
)

H100_GB = 80 * 2**30 / 1e9  # 85.90 GB
H200_GB = 141 * 2**30 / 1e9  # 151.40 GB


@pytest.mark.parametrize(
    ("params_b", "bytes_per_param", "h100", "h200"),
    [
        (8, 2.0, 1, 1),  # 19.2 GB
        (70, 2.0, 2, 2),  # 168 GB: 1.96 H100, 1.11 H200
        (405, 2.0, 16, 8),  # 972 GB: 11.3 -> 16 H100 (two nodes), 6.4 -> 8 H200
        (70, 1.0, 1, 1),  # FP8, 84 GB
        (405, 1.0, 8, 4),  # FP8, 486 GB: 5.7 -> 8 H100, 3.2 -> 4 H200
    ],
)
def test_gpus_per_replica(params_b: float, bytes_per_param: float, h100: int, h200: int) -> None:
    model = ServedModel(params_b=params_b, bytes_per_param=bytes_per_param)
    assert gpus_per_replica(model, "H100-SXM") == h100
    assert gpus_per_replica(model, "H200") == h200


def test_gpus_per_replica_by_hand_without_rounding() -> None:
    big = ServedModel(params_b=405)
    assert gpus_per_replica(big, "H100-SXM", power_of_two=False) == math.ceil(405 * 2 * 1.2 / H100_GB) == 12
    assert gpus_per_replica(big, "H200", power_of_two=False) == math.ceil(405 * 2 * 1.2 / H200_GB) == 7
    # 70 B FP16 fits one H200 only with no KV headroom (140 GB of 151.4 GB)
    assert gpus_per_replica(ServedModel(kv_headroom=0.0), "H200") == 1


def test_reference_figures_are_mlperf_per_gpu() -> None:
    assert GPU_SERVING["H100-SXM"].decode_tokens_per_s == pytest.approx(2700.72, abs=0.01)
    assert GPU_SERVING["H200"].decode_tokens_per_s == pytest.approx(3653.53, abs=0.01)
    assert set(GPU_SERVING) == set(GPU_CATALOG)


def test_capacity_70b_fp16_on_h100_by_hand() -> None:
    cap = replica_capacity(ServedModel(), "H100-SXM", MLPERF_SERVER_SLO, prompt_tokens=1155, output_tokens=211)
    decode = 2 * (21_605.79 / 8) * (70 / 70) * (1.0 / 2.0)  # 2 GPUs, FP8 reference, FP16 model
    prefill = 2.6 * decode
    busy = 1155 / prefill + 211 / decode
    assert cap.gpus_per_replica == 2
    assert cap.decode_tokens_per_s == pytest.approx(decode)  # TPOT at the reference 200 ms: factor 1
    assert cap.prefill_tokens_per_s == pytest.approx(prefill)
    assert cap.min_tpot_ms == pytest.approx(140 / (2 * 3350 * 0.8) * 1e3)  # 26.1 ms
    assert cap.prefill_ms == pytest.approx(1155 / prefill * 1e3)
    assert cap.requests_per_s == pytest.approx(0.8 / busy) == pytest.approx(3.297, abs=1e-3)


def test_tighter_tpot_costs_throughput() -> None:
    server = replica_capacity(ServedModel(), "H100-SXM", MLPERF_SERVER_SLO)
    inter = replica_capacity(ServedModel(), "H100-SXM", MLPERF_INTERACTIVE_SLO)
    t0 = 140 / (2 * 3350 * 0.8)
    assert inter.decode_tokens_per_s / server.decode_tokens_per_s == pytest.approx((1 - t0 / 0.040) / (1 - t0 / 0.2))
    assert inter.requests_per_s < server.requests_per_s


def test_ttft_bound_binds_for_long_prompts() -> None:
    slo = Slo(ttft_ms=450, tpot_ms=200)
    cap = replica_capacity(ServedModel(), "H100-SXM", slo, prompt_tokens=2000, output_tokens=10)
    p = 2000 / cap.prefill_tokens_per_s
    assert cap.requests_per_s == pytest.approx((1 - p / 0.45) / p)
    with pytest.raises(WattbitInputError, match=r"field 'ttft_ms'.*10000-token prompt takes 1424 ms"):
        replica_capacity(ServedModel(), "H100-SXM", slo, prompt_tokens=10_000)


def test_h200_sustains_more_than_h100() -> None:
    h100 = replica_capacity(ServedModel(), "H100-SXM")
    h200 = replica_capacity(ServedModel(), "H200")
    assert h200.requests_per_s / h100.requests_per_s == pytest.approx(29_228.22 / 21_605.79, rel=1e-9)


def test_replicas_and_gpus_vectorised() -> None:
    cap = replica_capacity(ServedModel(), "H200")
    rate = np.array([[0.0, cap.requests_per_s, cap.requests_per_s * 2.5], [10.0, 100.0, 1000.0]])
    replicas = cap.replicas_needed(rate)
    assert replicas.shape == (2, 3) and replicas.dtype == np.int64
    assert replicas[0].tolist() == [0, 1, 3]
    np.testing.assert_array_equal(replicas[1], np.ceil(rate[1] / cap.requests_per_s))
    np.testing.assert_array_equal(cap.gpus_needed(rate, burst_factor=1.5), np.ceil(rate * 1.5 / cap.requests_per_s) * 2)
    with pytest.raises(WattbitInputError, match="rate_rps"):
        cap.replicas_needed([1.0, float("nan")])


def test_bad_inputs() -> None:
    with pytest.raises(WattbitInputError, match=r"field 'tpot_ms'.*below the batch-1 time per token 18.9 ms"):
        replica_capacity(ServedModel(params_b=405), "H100-SXM", Slo(2000, 15))
    odd = GpuModel("X1", 500, 50, 64, 100, 8, 3000, 800, "air", 30, "test")
    with pytest.raises(WattbitInputError, match="no serving figures for GPU 'X1'"):
        replica_capacity(ServedModel(), odd)
    with pytest.raises(WattbitInputError, match="params_b"):
        ServedModel(params_b=0)
    with pytest.raises(WattbitInputError, match="tpot_ms"):
        Slo(2000, 0)
    with pytest.raises(WattbitInputError, match="max_utilisation"):
        replica_capacity(ServedModel(), "H100-SXM", max_utilisation=1.5)

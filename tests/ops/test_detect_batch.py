"""The detectors on a block of times give what they give time after time, and the block statistics are NumPy's."""

from __future__ import annotations

import copy

import numpy as np

from wattbit.ops.detect.batch import masked_median, masked_percentile, node_medians, slope_candidates
from wattbit.ops.detect.detectors import DetectorParams, Detectors, Sample, Topology


def test_masked_statistics_equal_numpys() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(500.0, 150.0, (40, 37))
    mask = rng.random(x.shape) > 0.3
    mask[3] = False  # a row without values
    mask[4, :] = False
    mask[4, 7] = True  # one value
    x[5, 2] = np.nan  # NaN is never a value
    med, p2, p98 = masked_median(x, mask), masked_percentile(x, mask, 2.0), masked_percentile(x, mask, 98.0)
    for r in range(x.shape[0]):
        v = x[r][mask[r] & np.isfinite(x[r])]
        if v.size == 0:
            assert np.isnan(med[r]) and np.isnan(p2[r])
            continue
        assert med[r] == np.median(v)
        assert (p2[r], p98[r]) == tuple(np.percentile(v, [2, 98]))
    slots = np.array([[0, 1, 2, -1], [3, 4, 5, 6]])
    got = node_medians(np.array([[1.0, np.nan, 3.0, 4.0, 5.0, 6.0, 7.0]]), slots)
    assert got.tolist() == [[2.0, 5.5]]


def test_slope_needs_enough_gpus_on_both_sides() -> None:
    power = np.tile(np.r_[np.full(10, 300.0), np.full(10, 700.0)], (2, 1))
    temp = 30.0 + 0.05 * power
    present = np.ones_like(power, dtype=bool)
    present[1, :5] = False  # 5 low-power GPUs left: too few
    k = slope_candidates(power, temp, present, np.zeros(20, dtype=np.int64), 1)
    assert abs(k[0, 0] - 0.05) < 1e-12 and np.isnan(k[1, 0])


def _samples(steps: int, g: int, seed: int) -> list[Sample]:
    rng = np.random.default_rng(seed)
    out, sbe = [], np.zeros(g)
    for j in range(steps):
        power = rng.choice([250.0, 690.0], g) + rng.normal(0, 10, g)
        temp = 25.0 + 0.06 * power + rng.normal(0, 0.5, g)
        if j > 30:
            temp[3] += 0.3 * (j - 30)  # a GPU warming against its peers
        sbe += rng.poisson(0.4, g) * (np.arange(g) == 9)
        present = rng.random(g) > 0.02
        out.append(
            Sample(
                time_s=900.0 * (j + 1), present=present, power_w=power, gpu_temp_c=temp,
                util_pct=np.where(power > 500, 99.0, 40.0), clock_events=np.where(rng.random(g) < 0.01, 0x80, 0.0),
                row_remap_failure=np.zeros(g), counters={"ecc_sbe": sbe.copy(), "ecc_dbe": np.zeros(g)},
                site_flow=np.array([1.0 - 0.002 * max(0, j - 40)]),
            )
        )  # fmt: skip
    out.insert(20, copy.deepcopy(out[19]))  # a sample that repeats a time is skipped
    return out


def test_step_block_equals_step_after_step() -> None:
    nodes, g = 4, 32
    topo = Topology.build(("s",), np.array([f"s-n{i + 1:04d}" for i in range(nodes)]), np.arange(g) // 8,
                          np.arange(g) % 8, np.zeros(nodes, dtype=np.int64))  # fmt: skip
    params = DetectorParams(warmup_s=4 * 900.0)
    one, block = Detectors(topo, params), Detectors(topo, params)
    a = [[(x.time_s, x.kind, x.node, x.gpu, x.evidence) for x in one.step(s)] for s in _samples(80, g, 1)]
    got = [c for k in range(0, 81, 16) for c in block.step_block(_samples(80, g, 1)[k : k + 16])]
    b = [[(x.time_s, x.kind, x.node, x.gpu, x.evidence) for x in c] for c in got]
    assert a == b
    assert sum(len(c) for c in a) > 0 and {x[1] for c in a for x in c} >= {"ecc_sbe_rate", "thermal"}
    assert one.data_events == block.data_events and any("not after" in e for e in one.data_events)
    assert np.array_equal(one.slope, block.slope) and np.array_equal(one.gpu_base.mean, block.gpu_base.mean, True)

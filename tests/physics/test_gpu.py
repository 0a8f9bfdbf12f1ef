"""GPU catalog, GPU power versus load and cap, throughput under caps, fleet IT power and racks."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wattbit.errors import WattbitInputError
from wattbit.physics.gpu import (
    GPU_CATALOG,
    NETWORK_W_PER_GPU,
    SERVER_FAN_SHARE,
    energy_per_work_factor,
    get_gpu,
    gpu_power_w,
    it_power_from_gpu_w,
    it_power_w,
    nodes_per_rack,
    rack_power_kw,
    racks_needed,
    throughput_factor,
)
from wattbit.physics.power_chain import power_chain_losses_w

H100 = get_gpu("H100-SXM")


def test_catalog_tdps_follow_reference_sheet() -> None:
    expected = {"H100-SXM": 700, "H200": 700, "B200": 1000, "GB200": 1200, "MI300X": 750}
    for name, tdp in expected.items():
        assert GPU_CATALOG[name].tdp_w == tdp
        assert 60 <= GPU_CATALOG[name].idle_w <= 120  # REFERENCE.md §1 idle range (U)
    assert GPU_CATALOG["GB200"].cooling == "liquid"
    assert GPU_CATALOG["GB200"].rack_gpus == 72


def test_get_gpu_ignores_case_and_lists_known_models() -> None:
    assert get_gpu(" h100-sxm ") is H100
    with pytest.raises(WattbitInputError, match="known models: H100-SXM, H200, B200") as err:
        get_gpu("TPUv5")
    assert err.value.field == "gpu_model"


def test_dgx_h100_at_full_load_draws_its_10_2_kw_nameplate() -> None:
    """8 H100 + node overhead at the DC bus, through the N+N Titanium PSUs, is the DGX H100's 10.2 kW maximum."""
    it = it_power_w(H100, 8, 1.0, network_w_per_gpu=0.0, nameplate=True)
    assert it == pytest.approx(8 * 700 + H100.node_overhead_w)
    assert it == pytest.approx(9_790.0)
    wall = power_chain_losses_w(it, it, "ac415").it_equipment_input_w
    assert wall == pytest.approx(10_200.0, rel=0.01)


def test_dgx_h100_measured_full_load_is_latif_8_48_kw() -> None:
    """Latif et al. (IEEE Access 2025): an 8-GPU H100 node peaked at about 8.4-8.5 kW of its 10.2 kW rating."""
    it = it_power_w(H100, 8, 1.0, network_w_per_gpu=0.0)
    rated = it_power_w(H100, 8, 1.0, network_w_per_gpu=0.0, nameplate=True)
    wall = power_chain_losses_w(it, rated, "ac415").it_equipment_input_w
    assert 8_300.0 <= wall <= 8_600.0
    assert wall / 10_200.0 == pytest.approx(0.83, abs=0.02)  # 18 % below the rating


def test_liquid_cooling_removes_the_server_fans() -> None:
    air = it_power_w(H100, 8, 1.0, network_w_per_gpu=0.0)
    liquid = it_power_w(H100, 8, 1.0, network_w_per_gpu=0.0, liquid_share=1.0)
    assert liquid == pytest.approx(air * (1 - SERVER_FAN_SHARE))
    # NVIDIA/Vertiv (ASME): 75 % of the heat on liquid cut IT power by about 7 %
    assert 1 - it_power_w(H100, 8, 1.0, liquid_share=0.75, network_w_per_gpu=0.0) / air == pytest.approx(
        0.071, abs=0.002
    )
    gb = get_gpu("GB200")  # rack-scale, liquid-only: its figures already exclude fans
    assert it_power_w(gb, 72, 1.0, liquid_share=1.0) == it_power_w(gb, 72, 1.0)


def test_it_power_from_gpu_power_matches_the_linear_model() -> None:
    for u in (0.0, 0.3, 1.0):
        for count in (0, 7, 64):
            total = count * float(gpu_power_w(H100, u))
            assert it_power_from_gpu_w(H100, count, total, liquid_share=0.4) == pytest.approx(
                it_power_w(H100, count, u, liquid_share=0.4)
            )


def test_thousand_h100_at_full_load_by_hand() -> None:
    nodes = 125
    expected = 1000 * (700 + NETWORK_W_PER_GPU) + nodes * H100.node_overhead_w
    assert it_power_w(H100, 1000, 1.0, nameplate=True) == pytest.approx(expected)
    assert 1.25e6 < expected < 1.35e6
    # network share of IT power lies in REFERENCE.md's 5-10 % once the NICs inside the nodes are counted
    nic_w = 1000 * 25.0
    assert 0.05 <= (1000 * NETWORK_W_PER_GPU + nic_w) / expected <= 0.10


def test_idle_fleet_power_by_hand() -> None:
    expected = 16 * (H100.idle_w + 70.0) + 2 * H100.node_idle_overhead_w
    assert it_power_w(H100, 16, 0.0, network_w_per_gpu=70.0) == pytest.approx(expected)


def test_partial_node_counts_a_whole_node() -> None:
    assert it_power_w(H100, 9, 0.5) - it_power_w(H100, 8, 0.5) > H100.node_idle_overhead_w


def test_gpu_power_is_linear_between_idle_and_tdp() -> None:
    u = np.linspace(0, 1, 11)
    p = gpu_power_w(H100, u)
    assert p[0] == H100.idle_w and p[-1] == H100.tdp_w
    np.testing.assert_allclose(np.diff(p, 2), 0.0, atol=1e-9)
    assert np.all(gpu_power_w(H100, u, exponent=2.0) <= p)


@settings(max_examples=60, deadline=None)
@given(
    u=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=20),
    cap_frac=st.floats(0.0, 1.0),
    name=st.sampled_from(sorted(GPU_CATALOG)),
)
def test_a_capped_gpu_never_exceeds_its_cap(u: list[float], cap_frac: float, name: str) -> None:
    model = GPU_CATALOG[name]
    cap = model.cap_min_w + cap_frac * (model.tdp_w - model.cap_min_w)
    p = gpu_power_w(model, u, cap)
    assert np.all(p <= cap + 1e-9)
    assert np.all(p >= model.idle_w - 1e-9)
    fleet = it_power_w(model, 64, u, cap_w=cap)
    assert np.all(fleet <= it_power_w(model, 64, u) + 1e-6)


def test_cap_at_tdp_equals_uncapped_and_general_path_matches_fast_path() -> None:
    u = np.random.default_rng(1).uniform(0, 1, 1000)
    np.testing.assert_allclose(it_power_w(H100, 4096, u, cap_w=700.0), it_power_w(H100, 4096, u), rtol=1e-12)


def test_it_power_is_vectorised_over_time_and_counts() -> None:
    u = np.full((3, 5), 0.5)
    assert it_power_w(H100, 8, u).shape == (3, 5)
    counts = np.array([0, 8, 16])
    p = it_power_w(H100, counts, 0.5)
    assert p[0] == 0.0 and p[2] == pytest.approx(2 * p[1])


@pytest.mark.parametrize("cap", [199.0, 701.0, math.nan])
def test_cap_outside_settable_range_is_an_error(cap: float) -> None:
    with pytest.raises(WattbitInputError, match=r"outside the expected range \[200, 700\]") as err:
        gpu_power_w(H100, 0.5, cap)
    assert err.value.field == "cap_w"


@pytest.mark.parametrize("u", [-0.1, 1.01, math.nan, [0.2, math.nan]])
def test_bad_utilization_names_the_field(u: object) -> None:
    with pytest.raises(WattbitInputError) as err:
        it_power_w(H100, 8, u)
    assert err.value.field == "utilization"


@pytest.mark.parametrize("count", [-1, 2.5, math.nan])
def test_bad_gpu_count_names_the_field(count: float) -> None:
    with pytest.raises(WattbitInputError) as err:
        it_power_w(H100, count, 0.5)
    assert err.value.field == "gpu_count"


def test_bad_model_parameters_are_rejected() -> None:
    with pytest.raises(WattbitInputError) as err:
        dataclasses.replace(H100, cap_min_w=50.0)  # below idle
    assert err.value.field == "cap_min_w"
    with pytest.raises(WattbitInputError):
        dataclasses.replace(H100, tdp_w=math.nan)
    with pytest.raises(WattbitInputError):
        dataclasses.replace(H100, cooling="immersion")
    with pytest.raises(WattbitInputError):
        gpu_power_w(H100, 0.5, exponent=0.0)
    with pytest.raises(WattbitInputError):
        it_power_w(H100, 8, 0.5, network_w_per_gpu=-1.0)


@pytest.mark.parametrize("kind", ["training", "inference_decode"])
def test_throughput_is_one_at_tdp_and_falls_with_the_cap(kind: str) -> None:
    for model in GPU_CATALOG.values():
        caps = np.linspace(model.cap_min_w, model.tdp_w, 50)
        f = throughput_factor(model, caps, kind)
        assert f[-1] == 1.0
        assert np.all(np.diff(f) >= 0)
        assert np.all(f > 0), f"{model.name}: throughput must stay positive down to the lowest cap"


def test_throughput_reference_values() -> None:
    # REFERENCE.md §1 default: f = 1 - 1.5 (1 - p)^2
    assert throughput_factor(H100, 350.0, "training") == pytest.approx(1 - 1.5 * 0.25)
    assert throughput_factor(H100, 560.0, "training") == pytest.approx(1 - 1.5 * 0.04)
    # decode is memory-bound: no loss above ~70 % of TDP, a few % at 50 % (MIT LLSC "minimal impact" range)
    assert throughput_factor(H100, 490.0, "inference_decode") == 1.0
    assert throughput_factor(H100, 350.0, "inference_decode") == pytest.approx(0.92)
    caps = np.linspace(200, 700, 11)
    assert np.all(throughput_factor(H100, caps, "inference_decode") >= throughput_factor(H100, caps, "training"))
    with pytest.raises(WattbitInputError) as err:
        throughput_factor(H100, 500.0, "prefill")
    assert err.value.field == "kind"


def test_energy_per_work_has_an_interior_optimum_for_training() -> None:
    caps = np.linspace(200, 700, 501)
    e = energy_per_work_factor(H100, caps, "training")
    assert e[-1] == pytest.approx(1.0)
    best = caps[np.argmin(e)] / 700
    assert best == pytest.approx(math.sqrt(1 - 1 / 1.5), abs=0.01)  # p* = sqrt(1 - 1/k): ~58 % of TDP
    assert 0.75 < e.min() < 0.85  # ~20 % GPU energy saving, within Zeus' 15-76 % range
    decode = energy_per_work_factor(H100, caps, "inference_decode")
    assert decode[caps >= 490].max() == pytest.approx(1.0)


def test_racks() -> None:
    assert nodes_per_rack(H100) == 4  # 4 x 9.79 kW in a 40 kW rack
    assert racks_needed(H100, 1000) == 32  # 125 nodes
    assert racks_needed(H100, 1000, rack_kw=20.0) == 63
    np.testing.assert_array_equal(racks_needed(H100, [0, 8, 33]), [0, 1, 2])  # 33 GPUs = 5 nodes
    gb = get_gpu("GB200")
    assert nodes_per_rack(gb) == 18
    assert rack_power_kw(gb) == pytest.approx(115.2)
    assert racks_needed(gb, 72) == 1 and racks_needed(gb, 73) == 2
    with pytest.raises(WattbitInputError, match="whole racks") as err:
        racks_needed(gb, 72, rack_kw=100.0)
    assert err.value.field == "rack_kw"
    with pytest.raises(WattbitInputError, match="holds none"):
        nodes_per_rack(H100, 5.0)


@pytest.mark.shared_data
def test_a100_against_acmetrace_measured_power_distributions(shared_data: Path) -> None:
    """A100 catalog entry versus the AcmeTrace (Shanghai AI Lab, NSDI'24) GPU and 8-GPU server power CDFs."""
    folder = shared_data / "workloads/acmetrace-gpu-power-cdfs"
    a100 = get_gpu("A100-SXM")
    for cluster in ("kalos", "seren"):
        gpu = pd.read_csv(folder / f"gpu_power_{cluster}.csv")["value"].to_numpy()
        p1, p10, p90, p995 = np.percentile(gpu, [1, 10, 90, 99.5])
        assert p1 - 5 <= a100.idle_w <= p10 + 5  # idle GPUs form the bottom of the distribution
        assert p90 - 20 <= a100.tdp_w <= p995  # the top sits at the TDP (brief excursions above)
    server = pd.read_csv(folder / "server_power.csv")["array0"].to_numpy()
    idle_server_w = np.percentile(server[server > 0], 10)  # ~1.51 kW: idle 8-GPU servers
    idle_it = it_power_w(a100, 8, 0.0, network_w_per_gpu=0.0)
    idle_wall = power_chain_losses_w(idle_it, a100.node_power_w, "ac415").it_equipment_input_w
    assert idle_wall == pytest.approx(idle_server_w, rel=0.15)
    full_it = it_power_w(a100, 8, 1.0, network_w_per_gpu=0.0)
    full_wall = power_chain_losses_w(full_it, full_it, "ac415").it_equipment_input_w
    assert full_wall == pytest.approx(server.max(), rel=0.05)

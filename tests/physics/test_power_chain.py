"""Power chain losses: 415 V AC versus 800 V DC, part-load curves, conservation and bad input."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wattbit.errors import WattbitInputError
from wattbit.physics.power_chain import (
    CHAINS,
    PowerStage,
    chain_efficiency,
    power_chain_losses_w,
    power_chain_stages,
)

CONFIGS = [("ac415", "double_conversion"), ("ac415", "eco"), ("dc800", "double_conversion")]


def _stage(architecture: str, name: str, ups_mode: str = "double_conversion") -> PowerStage:
    return next(s for s in CHAINS[(architecture, ups_mode)] if s.name == name)


@settings(max_examples=60, deadline=None)
@given(
    load=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30),
    rated=st.floats(1e3, 3e8),
    config=st.sampled_from(CONFIGS),
)
def test_energy_is_conserved_and_losses_are_positive(load: list[float], rated: float, config: tuple[str, str]) -> None:
    it = np.array(load) * rated
    r = power_chain_losses_w(it, rated, config[0], config[1], by_stage=True)
    np.testing.assert_allclose(r.input_w, it + r.losses_w, rtol=1e-12, atol=0)
    np.testing.assert_allclose(r.losses_w, r.losses_upstream_w + r.losses_downstream_w, rtol=1e-12)
    np.testing.assert_allclose(sum(r.losses_by_stage_w.values()), r.losses_w, rtol=1e-12)
    assert np.all(r.losses_w > 0)  # no-load losses flow even with no IT load
    assert np.all(r.losses_upstream_w > 0) and np.all(r.losses_downstream_w > 0)
    assert np.all(r.input_w > it)


def test_stage_order_and_heat_location() -> None:
    r = power_chain_losses_w(1e6, 1e6, "ac415", by_stage=True)
    assert list(r.losses_by_stage_w) == ["transformer", "ups", "pdu", "psu"]
    assert r.losses_upstream_w == pytest.approx(r.losses_by_stage_w["transformer"] + r.losses_by_stage_w["ups"])
    assert r.it_equipment_input_w == pytest.approx(1e6 + r.losses_by_stage_w["psu"])
    d = power_chain_losses_w(1e6, 1e6, "dc800", by_stage=True)
    assert list(d.losses_by_stage_w) == ["rectifier", "busway", "dc_dc"]
    assert d.losses_downstream_w == pytest.approx(d.losses_by_stage_w["busway"] + d.losses_by_stage_w["dc_dc"])
    assert power_chain_losses_w(1e6, 1e6, "ac415").losses_by_stage_w == {}


def test_dc800_beats_ac415_by_a_few_points_at_rated_load() -> None:
    """NVIDIA's 800 VDC white paper: up to 5 % end-to-end gain; REFERENCE.md tip: 3-5 points."""
    ac = float(chain_efficiency(1.0, "ac415", "double_conversion"))
    eco = float(chain_efficiency(1.0, "ac415", "eco"))
    dc = float(chain_efficiency(1.0, "dc800"))
    assert 0.88 <= ac <= 0.92  # REFERENCE.md §3 tip for 415 V AC
    assert 3.0 <= (dc - ac) * 100 <= 5.0
    assert 0.0 < (dc - eco) * 100 < dc * 100 - ac * 100
    loss_points = {k: 100 * (1 - float(chain_efficiency(1.0, *k))) for k in CONFIGS}
    assert loss_points[("dc800", "double_conversion")] < loss_points[("ac415", "eco")]


@pytest.mark.parametrize("config", CONFIGS)
def test_efficiency_falls_at_low_load(config: tuple[str, str]) -> None:
    x = np.array([0.05, 0.1, 0.2, 0.5])
    eff = chain_efficiency(x, *config)
    assert np.all(np.diff(eff) > 0)
    assert chain_efficiency(0.0, *config) == 0.0
    assert chain_efficiency(0.2, *config) < chain_efficiency(1.0, *config)


def test_psu_curve_meets_80_plus_titanium() -> None:
    """80 PLUS Titanium, 230 V internal redundant: 90/94/96/91 % at 10/20/50/100 % load."""
    psu = _stage("ac415", "psu")
    eff = psu.efficiency(np.array([0.1, 0.2, 0.5, 1.0]))
    assert np.all(eff >= np.array([0.90, 0.94, 0.96, 0.91]))
    assert eff.max() == pytest.approx(0.96, abs=0.005)  # ~96 % peak (REFERENCE.md §3)


def test_ups_and_distribution_within_reference_ranges() -> None:
    double = _stage("ac415", "ups").efficiency(np.array([0.5, 0.8]))
    eco = _stage("ac415", "ups", "eco").efficiency(np.array([0.5, 0.8]))
    assert np.all((double >= 0.94) & (double <= 0.97))
    assert np.all((eco >= 0.98) & (eco <= 0.99))
    r = power_chain_losses_w(1e6, 1e6, "ac415", by_stage=True)
    transformation = (r.losses_by_stage_w["transformer"] + r.losses_by_stage_w["pdu"]) / 1e6
    assert 0.0 < transformation <= 0.02  # Lei-Masanet: 0-2 % for large datacenters


def test_dc800_ignores_ups_mode_and_stages_can_be_replaced() -> None:
    a = power_chain_losses_w(5e5, 1e6, "dc800", "double_conversion").input_w
    b = power_chain_losses_w(5e5, 1e6, "dc800", "eco").input_w
    assert a == b
    lossless = tuple(
        dataclasses.replace(s, no_load_loss=0.0, proportional_loss=0.0, resistive_loss=0.0)
        for s in power_chain_stages("ac415")
    )
    assert power_chain_losses_w(5e5, 1e6, "ac415", stages=lossless).losses_w == 0.0


def test_vectorised_and_broadcast_over_rated_power() -> None:
    it = np.full((4, 3), 5e5)
    rated = np.array([1e6, 2e6, 5e6])
    r = power_chain_losses_w(it, rated, "ac415")
    assert r.input_w.shape == (4, 3)
    eff = it / r.input_w
    assert eff[0, 0] > eff[0, 1] > eff[0, 2]  # the same load on a bigger chain is a lower load fraction


@pytest.mark.parametrize(
    ("it", "rated", "field"),
    [
        (-1.0, 1e6, "it_power_w"),
        (math.nan, 1e6, "it_power_w"),
        ([1.0, math.nan], 1e6, "it_power_w"),
        (2e6, 1e6, "it_power_w"),
        (1.0, 0.0, "rated_it_power_w"),
        (1.0, -5.0, "rated_it_power_w"),
        (1.0, math.nan, "rated_it_power_w"),
        ([1.0, 2.0], [1e6, math.inf], "rated_it_power_w"),
        ([1.0, 2e6], [1e6, 1e6], "it_power_w"),
    ],
)
def test_bad_power_is_rejected(it: object, rated: object, field: str) -> None:
    with pytest.raises(WattbitInputError) as err:
        power_chain_losses_w(it, rated, "ac415")
    assert err.value.field == field


def test_unknown_architecture_or_mode_is_rejected() -> None:
    with pytest.raises(WattbitInputError, match="'ac415' or 'dc800'") as err:
        power_chain_losses_w(1.0, 1e6, "ac480")
    assert err.value.field == "architecture"
    with pytest.raises(WattbitInputError) as err:
        chain_efficiency(0.5, "ac415", "line_interactive")
    assert err.value.field == "ups_mode"
    with pytest.raises(WattbitInputError) as err:
        dataclasses.replace(power_chain_stages("dc800")[0], rating_ratio=0.0)
    assert err.value.field == "rating_ratio"
    with pytest.raises(WattbitInputError):
        dataclasses.replace(power_chain_stages("dc800")[0], no_load_loss=math.nan)

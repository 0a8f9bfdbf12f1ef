"""The watt-bit programme: both assemblies agree, limits hold in every solution, infeasibility is explained."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from wattbit.control.site_energy import site_energy_model
from wattbit.opt import DispatchInputs, DispatchWeights, InfeasibleError, WorkClasses, solve_dispatch
from wattbit.physics.battery import BatterySpec
from wattbit.physics.cooling import default_design
from wattbit.physics.gpu import get_gpu
from wattbit.physics.site import SitePlant, site_power

PLANTS = (
    SitePlant(get_gpu("H100-SXM"), 1024, "dc800", "double_conversion", default_design("liquid_dry_cooler")),
    SitePlant(get_gpu("H200"), 2048, "ac415", "double_conversion", default_design("air_chiller")),
)


def _inputs(seed: int, n_t: int = 12, routing: bool = False, battery: bool = True) -> DispatchInputs:
    rng = np.random.default_rng(seed)
    n_s = len(PLANTS)
    tdb = rng.uniform(-5, 32, (n_t, n_s))
    energy = site_energy_model(PLANTS, tdb, tdb - rng.uniform(0, 6, (n_t, n_s)))
    n_c = 5
    work = WorkClasses(
        work_gpu_h=rng.uniform(100, 4000, n_c),
        max_gpus=rng.uniform(200, 900, n_c),
        first_slot=np.zeros(n_c, dtype=np.int64),
        end_slot=rng.integers(3, n_t + 1, n_c),
        required=np.array([True, True, True, True, False]),
        value_per_gpu_h=np.array([0, 0, 0, 0, 0.0004]),
    )
    return DispatchInputs(
        slot_h=1.0,
        energy=energy,
        gpus_available=np.tile([1000.0, 2000.0], (n_t, 1)),
        inference_gpus=rng.uniform(0, 150, (n_t, n_s)),
        onsite_w=rng.uniform(0, 1.5e6, (n_t, n_s)),
        grid_limit_w=np.array([2.5e6, 5e6]),
        carbon_g_per_kwh=rng.uniform(200, 700, (n_t, n_s)),
        price_per_mwh=rng.uniform(8000, 40000, (n_t, n_s)),
        curtailed_mwh=np.where(rng.random((n_t, n_s)) < 0.3, rng.uniform(0, 5, (n_t, n_s)), 0.0),
        areas=("tohoku", "hokkaido"),
        batteries=(None, BatterySpec(energy_mwh=4.0, power_mw=1.0) if battery else None),
        soc_mwh=np.array([0.0, 2.0]),
        work=work,
        inference_full_gpus=rng.uniform(100, 200, (n_t, n_s)) if routing else None,
        routable=np.array([True, True]) if routing else None,
    )


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("routing", [False, True])
def test_fast_assembly_and_linopy_model_agree(seed: int, routing: bool) -> None:
    inputs = _inputs(seed, routing=routing)
    w = DispatchWeights(carbon_per_t=1.0, cost_per_million=0.2, curtailment_per_mwh=0.1)
    a, b = solve_dispatch(inputs, w, backend="linopy"), solve_dispatch(inputs, w, backend="highs")
    assert a.objective == pytest.approx(b.objective, rel=1e-7, abs=1e-6)


@pytest.mark.parametrize("seed", range(3))
def test_every_limit_holds_in_the_solution(seed: int) -> None:
    inputs = _inputs(seed, routing=True)
    plan = solve_dispatch(inputs, backend="highs")
    tol = 1e-6
    busy = plan.busy_gpus.sum(axis=2)
    # GPUs: training and inference within what is in service
    assert np.all(busy + plan.inference_gpus <= inputs.gpus_available + tol)
    assert np.allclose(plan.inference_share.sum(axis=1), 1.0)
    # grid connection
    assert np.all(plan.grid_mw <= inputs.grid_limit_w / 1e6 + tol) and np.all(plan.grid_mw >= -tol)
    # battery power and energy
    spec = inputs.batteries[1]
    assert spec is not None
    assert np.all(np.abs(plan.battery_mw[:, 1]) <= spec.power_mw + tol)
    soc = [2.0]
    for p in plan.battery_mw[:, 1]:
        change = (
            -p * inputs.slot_h / spec.discharge_efficiency if p > 0 else -p * inputs.slot_h * spec.charge_efficiency
        )
        soc.append(soc[-1] + change)
    assert min(soc) >= spec.soc_min_mwh - 1e-6 and max(soc) <= spec.soc_max_mwh + 1e-6
    # deadlines: every required class gets its work inside its window (or reports it late)
    work = inputs.work
    assert isinstance(work, WorkClasses) and plan.class_gpus is not None
    for c in np.flatnonzero(work.required):
        window = plan.class_gpus[c, work.first_slot[c] : work.end_slot[c]].sum() * inputs.slot_h
        assert plan.class_gpus[c, work.end_slot[c] :].sum() == pytest.approx(0.0, abs=tol)
        late = plan.late_gpu_h[list(np.flatnonzero(work.required)).index(c)]
        assert window + late >= work.work_gpu_h[c] - 1e-4
    # the plan's facility power is never above the physics at the IT power it implies (the lower bound)
    e = inputs.energy
    it = (
        e.idle_w_per_gpu * inputs.gpus_available
        + ((e.busy_w_per_gpu - e.idle_w_per_gpu[:, None])[None] * plan.busy_gpus).sum(axis=2)
        + (e.inference_w_per_gpu - e.idle_w_per_gpu) * plan.inference_gpus
    )
    assert np.all(plan.facility_mw * 1e6 >= e.facility_lower_w(it) - 1.0)


def test_deadline_work_is_met_when_capacity_allows() -> None:
    plan = solve_dispatch(_inputs(7, battery=False), backend="highs")
    assert np.all(plan.late_gpu_h <= 1e-6)


def test_facility_lower_bound_is_below_the_physics() -> None:
    rng = np.random.default_rng(3)
    tdb = rng.uniform(-10, 38, (200, 2))
    twb = tdb - rng.uniform(0, 8, (200, 2))
    e = site_energy_model(PLANTS, tdb, twb)
    for i, plant in enumerate(PLANTS):
        it = rng.uniform(0, 1, 200) * plant.rated_it_dc_w
        true = site_power(plant, it, tdb[:, i], twb[:, i], e.supply_temp_c[:, i]).facility_w
        it_all = np.zeros((200, 2))
        it_all[:, i] = it
        bound = e.facility_lower_w(it_all)[:, i]
        assert np.all(bound <= true)
        # and tight: within 1 % of the site's largest facility power anywhere
        assert np.max(true - bound) <= 0.01 * true.max()


def test_capacity_shortfall_names_the_binding_constraint() -> None:
    inputs = _inputs(0)
    inputs.inference_gpus[3, 1] = 2500.0  # more than the 2,000 GPUs in service at site 1
    with pytest.raises(InfeasibleError, match="binding constraint: GPU capacity at site 1, slot 3") as info:
        solve_dispatch(inputs, backend="highs")
    assert info.value.constraint == "GPU capacity"


def test_grid_shortfall_names_the_binding_constraint() -> None:
    inputs = _inputs(0, battery=False)
    inputs.grid_limit_w[0] = 1e5  # 0.1 MW cannot even keep 1,000 idle GPUs on
    inputs.onsite_w[:] = 0.0
    with pytest.raises(
        InfeasibleError, match=r"binding constraint: grid connection at site 0, slot \d+: .* MW"
    ) as info:
        solve_dispatch(inputs, backend="linopy")
    assert info.value.constraint == "grid connection"


def test_routing_shortfall_names_the_latency_limit() -> None:
    inputs = _inputs(0, routing=True)
    inputs.routable = np.array([False, False])
    with pytest.raises(InfeasibleError, match="latency limit"):
        solve_dispatch(inputs, backend="highs")


def test_bad_weights_are_refused() -> None:
    with pytest.raises(ValueError, match="carbon_per_t must be >= 0"):
        DispatchWeights(carbon_per_t=-1.0)


def test_forecast_wet_bulb_above_dry_bulb_is_clipped_not_an_error() -> None:
    tdb = np.full((3, 2), 10.0)
    twb = np.full((3, 2), 11.5)  # two forecasts made apart can cross
    e = site_energy_model(PLANTS, tdb, twb)
    assert np.all(np.isfinite(e.line_a_w))


def _churn(inputs: DispatchInputs, cost_per_gpu: float, running: float = 600.0) -> DispatchInputs:
    carbon = inputs.carbon_g_per_kwh.copy()
    carbon[0] = 900.0  # the first slot is the dirtiest: the plan would rather stop what runs now
    return replace(
        inputs,
        carbon_g_per_kwh=carbon,
        running_gpus=np.array([running, 0.0]),
        stop_cost_per_gpu=np.array([cost_per_gpu, cost_per_gpu]),
    )


@pytest.mark.parametrize("seed", range(2))
def test_both_assemblies_agree_with_churn_costs(seed: int) -> None:
    inputs = _churn(_inputs(seed), 0.01)
    a, b = solve_dispatch(inputs, backend="linopy"), solve_dispatch(inputs, backend="highs")
    assert a.objective == pytest.approx(b.objective, rel=1e-7, abs=1e-6)


def test_a_pause_is_planned_only_when_it_pays_for_itself() -> None:
    one = WorkClasses(  # 3,000 GPU-hours due by the end of 12 slots: room to wait
        work_gpu_h=np.array([3000.0]),
        max_gpus=np.array([1500.0]),
        first_slot=np.zeros(1, dtype=np.int64),
        end_slot=np.array([12]),
        required=np.array([True]),
        value_per_gpu_h=np.zeros(1),
    )
    base = replace(_inputs(3, battery=False), work=one, onsite_w=np.zeros((12, 2)))

    def stopped(cost: float) -> tuple[float, float]:
        plan = solve_dispatch(_churn(base, cost), backend="highs")
        return 600.0 - float(plan.busy_gpus[0, 0].sum()), plan.objective

    free, objective_free = stopped(0.0)
    kept, objective_kept = stopped(1e3)  # no pause at any price: what the pauses saved
    assert free > 10.0 and kept <= 1e-6
    saving = objective_kept - objective_free
    assert saving > 0
    # a GPU stopped must pay its cost: above the whole saving of every pause, none is worth it (bar a fraction of
    # one GPU, which the relaxation may still split); well below the average saving per GPU, most pauses stay
    assert stopped(1.01 * saving)[0] <= 1.0
    assert stopped(0.1 * saving / free)[0] >= 0.5 * free


def test_repeated_weather_rows_get_the_lines_each_row_gets_alone() -> None:
    rng = np.random.default_rng(5)
    distinct = rng.uniform(-5, 35, (4, 2))
    pick = rng.integers(0, 4, 30)  # a forecast that holds values: rows repeat, in any order
    tdb, twb = distinct[pick], distinct[pick] - 3.0
    together = site_energy_model(PLANTS, tdb, twb)
    for t in range(0, 30, 7):
        alone = site_energy_model(PLANTS, tdb[t : t + 1], twb[t : t + 1])
        assert np.array_equal(together.line_a_w[t], alone.line_a_w[0])
        assert np.array_equal(together.line_b[t], alone.line_b[0])
        assert np.array_equal(together.supply_temp_c[t], alone.supply_temp_c[0])

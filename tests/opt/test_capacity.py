"""The capacity programme on hand-checkable problems (2 sites, 48 hours), with both solution methods.

Every test builds its own :class:`CapacityProblem`: two sites with a flat facility factor of 1.1 MW per MW of IT, a
sine-shaped PV output, a flat grid price of 20,000 per MWh and 0.5 t CO2 per MWh. Each modelled hour stands for
8,760 / 48 = 182.5 hours of the year.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from wattbit.finance.costs import capital_recovery_factor, equivalent_annual_cost, lifecycle_present_value
from wattbit.opt import InfeasibleError
from wattbit.opt.capacity import CapacityProblem, CapacitySolution, TargetStage, site_gpus, solve_capacity
from wattbit.opt.capacity.benders import solve_benders
from wattbit.opt.capacity.site_dispatch import CapacityLayout, Penalties, SiteDispatchLP

T = 48
W = 8760.0 / T
FACILITY = 1.1
PRICE = 20_000.0
CARBON = 0.5
METHODS = ("monolithic", "decomposed")


def sun() -> np.ndarray:
    hours = np.arange(T) % 24
    return np.clip(np.sin((hours - 6) / 12 * np.pi), 0.0, None)


def tiny(**changes: object) -> CapacityProblem:
    """Two sites, one design option, 48 hours; site ``a`` is cheaper. Override any field with ``changes``."""
    s = 2
    base: dict[str, object] = {
        "sites": ("a", "b"),
        "options": ("liquid/ac",),
        "facility_mw_per_it_mw": np.full((s, 1, T), FACILITY),
        "allowed": np.ones((s, 1), bool),
        "gpus_per_it_mw": np.full((s, 1), 700.0),
        "pv_mw_per_mw": np.stack([sun(), sun()]),
        "wind_mw_per_mw": np.zeros((s, T)),
        "price_per_mwh": np.full((s, T), PRICE),
        "carbon_t_per_mwh": np.full((s, T), CARBON),
        "cfe_fraction": np.full((s, T), 0.3),
        "max_it_mw": np.full(s, 10.0),
        "max_pv_mw": np.full(s, 50.0),
        "max_wind_mw": np.zeros(s),
        "max_battery_mwh": np.zeros(s),
        "max_connection_mw": np.full(s, 20.0),
        "it_cost_per_mw": np.array([[1.0e9], [1.1e9]]),
        "pv_cost_per_mw": np.full(s, 2.0e8),  # ~72,000 per MWh of PV: dearer than the grid
        "wind_cost_per_mw": np.full(s, 1.0e8),
        "battery_cost_per_mwh": np.full(s, 1.0e6),
        "battery_cost_per_mw": np.full(s, 1.0e6),
        "connection_cost_per_mw": np.full(s, 1.0e6),
        "site_cost": np.full(s, 1.0e8),
        "stages": (TargetStage(8.0, np.ones(s, bool), "target"),),
    }
    return CapacityProblem(**(base | changes))  # type: ignore[arg-type]


def run(p: CapacityProblem, method: str) -> CapacitySolution:
    return solve_capacity(p, method, rel_gap=1e-7)  # type: ignore[arg-type]


@pytest.mark.parametrize("method", METHODS)
def test_cheaper_site_is_chosen_at_the_hand_computed_cost(method: str) -> None:
    sol = run(tiny(), method)
    assert sol.build.tolist() == [1.0, 0.0]
    assert sol.it_mw[:, 0] == pytest.approx([8.0, 0.0], abs=1e-6)
    assert sol.connection_mw[0] == pytest.approx(8.0 * FACILITY, rel=1e-6)
    assert sol.pv_mw == pytest.approx([0.0, 0.0], abs=1e-6)
    # 8 MW of IT, the site, an 8.8 MW connection and a year of grid energy for 8.8 MW
    expected = 8.0 * 1.0e9 + 1.0e8 + 8.8 * 1.0e6 + 8760.0 * 8.8 * PRICE
    assert sol.objective_per_year == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_carbon_cap_forces_the_least_pv_that_meets_it(method: str) -> None:
    uncapped = 8760.0 * 8.8 * CARBON  # 38,544 t a year from the grid alone
    cap = 30_000.0
    sol = run(tiny(carbon_cap_t_per_year=cap), method)
    carbon = float((sol.grid_mw * CARBON).sum()) * W
    assert carbon == pytest.approx(cap, rel=1e-5)
    # without a battery, PV below the load is all used: pv x mean CF x 8,760 h must replace the excess carbon
    pv_needed = (uncapped - cap) / CARBON / (sun().mean() * 8760.0)
    assert sol.pv_mw.sum() == pytest.approx(pv_needed, rel=1e-4)
    assert sol.spill_mw.sum() == pytest.approx(0.0, abs=1e-6)


def test_max_site_share_splits_the_compute() -> None:
    sol = run(tiny(max_site_share=0.6), "decomposed")
    p = tiny()
    gpus = site_gpus(p, sol)
    assert gpus == pytest.approx([0.6 * 5600.0, 0.4 * 5600.0], rel=1e-6)
    assert sol.build.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("method", METHODS)
def test_energy_balance_closes_every_hour_and_capacities_stay_within_limits(method: str) -> None:
    p = tiny(
        max_battery_mwh=np.array([40.0, 40.0]),
        pv_cost_per_mw=np.full(2, 1.2e7),  # cheap PV and batteries: both get built
        max_pv_mw=np.array([12.0, 12.0]),
        max_connection_mw=np.array([6.0, 20.0]),
        carbon_cap_t_per_year=20_000.0,
    )
    sol = run(p, method)
    supply = sol.pv_out_mw + sol.wind_out_mw + sol.discharge_mw + sol.grid_mw - sol.charge_mw
    assert np.all(supply - sol.facility_mw >= -1e-6)  # no hour short
    assert np.all(sol.spill_mw <= sol.pv_out_mw + sol.wind_out_mw + 1e-6)  # only own renewables are spilled
    b = p.battery
    soc_next = (
        np.roll(sol.soc_mwh, 1, axis=1)
        + b.charge_efficiency * sol.charge_mw
        - sol.discharge_mw / (b.discharge_efficiency)
    )
    assert sol.soc_mwh == pytest.approx(soc_next, abs=1e-5)
    tol = 1e-6
    assert np.all(sol.grid_mw <= sol.connection_mw[:, None] + tol)
    assert np.all(sol.connection_mw <= p.max_connection_mw + tol)
    assert np.all(sol.charge_mw <= sol.battery_mw[:, None] + tol)
    assert np.all(sol.discharge_mw <= sol.battery_mw[:, None] + tol)
    assert np.all(sol.soc_mwh <= sol.battery_mwh[:, None] + tol)
    assert np.all(sol.soc_mwh >= b.soc_min * sol.battery_mwh[:, None] - tol)
    assert np.all(sol.pv_mw <= p.max_pv_mw + tol)
    assert np.all(sol.it_mw.sum(axis=1) <= p.max_it_mw + tol)
    assert sol.battery_mwh.sum() > 1.0  # the cap is met with storage, not PV alone
    assert float((sol.grid_mw * CARBON).sum()) * W <= 20_000.0 * (1 + 1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_connection_too_small_names_the_binding_limit(method: str) -> None:
    # 8 MW of IT needs 8.8 MW; two 4 MW connections and no PV or battery cannot supply it
    p = tiny(max_connection_mw=np.full(2, 4.0), max_pv_mw=np.zeros(2))
    with pytest.raises(InfeasibleError, match="max_connection_mw") as info:
        run(p, method)
    assert "binds" not in str(info.value) or "cannot power" in str(info.value)


@pytest.mark.parametrize("method", METHODS)
def test_impossible_carbon_cap_says_by_how_much(method: str) -> None:
    p = tiny(max_pv_mw=np.zeros(2), carbon_cap_t_per_year=10_000.0)
    with pytest.raises(InfeasibleError) as info:
        run(p, method)
    message = str(info.value)
    assert "carbon_cap_t_per_year = 10,000 t/yr binds" in message
    assert "28,544 t/yr more" in message  # 38,544 t from the grid, no way to avoid any of it
    assert info.value.field == info.value.constraint == "plan.constraints.carbon_cap_t_per_year"


def test_clean_energy_share_needs_known_grid_cfe() -> None:
    from wattbit.opt.capacity.model import build_model

    cfe = np.full((2, T), 0.3)
    cfe[1, 5] = np.nan
    with pytest.raises(Exception, match=r"carbon-free share every hour, but it is unknown at \['b'\]"):
        build_model(tiny(cfe_fraction=cfe, min_clean_energy_share=0.5))


def random_instance() -> CapacityProblem:
    """Three sites, two options, batteries, PV and wind, a carbon cap and a site share."""
    rng = np.random.default_rng(7)
    s, o = 3, 2
    p = tiny(
        sites=("a", "b", "c"),
        options=("x", "y"),
        facility_mw_per_it_mw=rng.uniform(0.9, 1.2, (s, o, T)),
        allowed=np.array([[True, True], [True, False], [False, True]]),
        gpus_per_it_mw=rng.uniform(650, 750, (s, o)),
        pv_mw_per_mw=np.stack([sun() * rng.uniform(0.6, 1.0, T) for _ in range(s)]),
        wind_mw_per_mw=rng.uniform(0, 0.6, (s, T)),
        price_per_mwh=rng.uniform(10_000, 30_000, (s, T)),
        carbon_t_per_mwh=rng.uniform(0.3, 0.6, (s, T)),
        cfe_fraction=rng.uniform(0.1, 0.5, (s, T)),
        max_it_mw=np.full(s, 6.0),
        max_pv_mw=np.full(s, 20.0),
        max_wind_mw=np.full(s, 10.0),
        max_battery_mwh=np.array([np.inf, 30.0, 0.0]),
        max_connection_mw=np.full(s, 10.0),
        it_cost_per_mw=rng.uniform(1.0e9, 1.1e9, (s, o)),
        pv_cost_per_mw=np.full(s, 2.0e7),
        wind_cost_per_mw=np.full(s, 3.0e7),
        battery_cost_per_mwh=np.full(s, 3.0e6),
        battery_cost_per_mw=np.full(s, 5.0e6),
        connection_cost_per_mw=np.full(s, 2.0e6),
        site_cost=np.full(s, 2.0e8),
        stages=(TargetStage(10.0, np.ones(s, bool), "target"),),
        carbon_cap_t_per_year=25_000.0,
        max_site_share=0.5,
    )
    return p


def assert_benders_equals_monolithic(p: CapacityProblem) -> CapacitySolution:
    """Benders at a 1e-7 gap reaches the monolithic optimum (objective, IT per site) with a valid bound; returns
    the monolithic solution."""
    mono = run(p, "monolithic")
    bend = solve_benders(p, rel_gap=1e-7)
    assert bend.stats.upper_bound * 1e6 == pytest.approx(mono.objective_per_year, rel=1e-6)
    assert bend.stats.lower_bound <= bend.stats.upper_bound * (1 + 1e-9)
    assert bend.capacities[:, :2].sum(axis=1) == pytest.approx(mono.it_mw.sum(axis=1), rel=1e-6, abs=1e-6)
    return mono


def test_benders_matches_the_monolithic_model_on_a_random_instance() -> None:
    assert_benders_equals_monolithic(random_instance())


def test_benders_in_threads_gives_the_same_plan_as_in_one_thread() -> None:
    p = random_instance()
    one = solve_benders(p, rel_gap=1e-7, workers=1)
    two = solve_benders(p, rel_gap=1e-7, workers=3)
    assert two.stats.upper_bound == one.stats.upper_bound  # same cuts in the same order: the same loop, bit for bit
    assert two.stats.iterations == one.stats.iterations
    np.testing.assert_array_equal(two.capacities, one.capacities)


def test_staged_target_uses_only_sites_ready_in_time() -> None:
    # stage 2029 may only use site b (a is not connected yet); the final target may use both
    stages = (TargetStage(4.0, np.array([False, True]), "2029"), TargetStage(8.0, np.ones(2, bool), "2031"))
    sol = run(tiny(stages=stages, max_it_mw=np.array([10.0, 5.0])), "decomposed")
    assert sol.it_mw[1, 0] >= 4.0 - 1e-6
    assert sol.it_mw.sum() == pytest.approx(8.0, rel=1e-6)
    assert sol.it_mw[0, 0] == pytest.approx(4.0, rel=1e-6)  # the rest goes to the cheaper site


def test_dispatch_gradient_is_a_subgradient_of_the_dispatch_value() -> None:
    p = tiny(max_battery_mwh=np.full(2, 50.0), carbon_cap_t_per_year=1e9, min_clean_energy_share=0.1)
    lp = SiteDispatchLP(p, 0, Penalties(1e3, 1e3, 1e3))
    lay = CapacityLayout(1)
    k = np.zeros(lay.size)
    k[0], k[lay.pv], k[lay.energy], k[lay.power], k[lay.grid] = 8.0, 6.0, 12.0, 3.0, 8.5
    k[lay.carbon], k[lay.dirty] = 15_000.0, 40_000.0  # both budgets bind (the grid alone would emit ~31,000 t)
    base = lp.solve(k)
    assert base.excess_carbon_t > 0
    for j in range(lay.size):
        step = 1e-3 * max(abs(k[j]), 1.0)
        up, down = k.copy(), k.copy()
        up[j] += step
        down[j] -= step
        right = (lp.solve(up).value - base.value) / step
        left = (base.value - lp.solve(down).value) / step
        scale = max(abs(left), abs(right), 1e-6)
        assert left - 1e-6 * scale <= base.gradient[j] <= right + 1e-6 * scale, (j, left, base.gradient[j], right)


def test_equivalent_annual_cost_by_hand() -> None:
    r, n = 0.07, 15
    assert capital_recovery_factor(r, n) == pytest.approx(r / (1 - 1.07**-15), rel=1e-12)
    assert capital_recovery_factor(0.0, 4) == 0.25
    # bought at 0 and 10 (replacement 60), life 10, project 15: half of the replacement's life is left at year 15
    pv = lifecycle_present_value(100.0, 10, 15, r, 60.0)
    assert pv == pytest.approx(100.0 + 60.0 / 1.07**10 - 30.0 / 1.07**15, rel=1e-12)
    eac = equivalent_annual_cost(100.0, 10, 15, r, 60.0, opex_per_year=5.0)
    assert eac == pytest.approx(pv * capital_recovery_factor(r, n) + 5.0, rel=1e-12)


def test_equivalent_annual_cost_matches_the_finance_module_capital_flows() -> None:
    from wattbit.finance.capital import capital_flows
    from wattbit.finance.components import Component
    from wattbit.finance.incentives import Incentives
    from wattbit.finance.metrics import discount_factors

    r, n = 0.06, 20
    for life, again in ((5, None), (8, 700.0), (30, None)):
        c = Component("x", "other", capex=1000.0, life_years=life, replacement_capex=again)
        flows = capital_flows([c], Incentives(), n, residual="market_value")
        pv_finance = float((flows.capex - flows.residual) @ discount_factors(r, n + 1))
        assert lifecycle_present_value(1000.0, life, n, r, again) == pytest.approx(pv_finance, rel=1e-12)


def test_problem_refuses_misshapen_arrays() -> None:
    with pytest.raises(Exception, match="price_per_mwh has shape"):
        tiny(price_per_mwh=np.full((2, T + 1), PRICE))


def test_npv_objective_builds_beyond_the_target_when_gpus_pay() -> None:
    # a GPU earning more than its yearly cost: the npv objective fills site a (cheapest) and b up to their limits
    p = tiny(objective="npv", revenue_per_gpu=3.0e6)
    sol = run(p, "decomposed")
    assert sol.it_mw.sum() == pytest.approx(20.0, rel=1e-6)
    tco = run(replace(p, objective="tco"), "decomposed")
    assert tco.it_mw.sum() == pytest.approx(8.0, rel=1e-6)


def test_facility_factor_is_the_site_physics_per_mw_of_it_at_any_plant_size() -> None:
    import pandas as pd

    from wattbit.physics.cooling import default_design
    from wattbit.physics.gpu import get_gpu, it_power_w
    from wattbit.physics.site import SitePlant, site_power
    from wattbit.plan.site_factors import design_factors, gpus_per_it_mw
    from wattbit.scenario import load_scenario

    site = load_scenario("japan-2022").site("inzai")
    temp = np.linspace(-5.0, 35.0, 24)
    frame = pd.DataFrame({"temp_air_c": temp, "temp_wetbulb_c": temp - 4.0})
    f = design_factors(site, "air_chiller", "ac415", 0.8, frame)
    gpu = get_gpu(site.it.gpu_model)
    for n in (800, 16_384):
        plant = SitePlant(gpu, n, "ac415", site.design.ups_mode, default_design("air_chiller"), 0.01)
        rated_w = float(site_power(plant, np.array([plant.rated_it_dc_w]), 20.0, 15.0).it_w[0])
        power = site_power(plant, np.full(24, float(it_power_w(gpu, n, 0.8))), temp, temp - 4.0)
        assert power.facility_w / rated_w == pytest.approx(f.facility_mw_per_it_mw, rel=1e-9)
        assert n * 1e6 / rated_w == pytest.approx(f.gpus_per_it_mw, rel=1e-9)
    assert f.gpus_per_it_mw == pytest.approx(gpus_per_it_mw(site, "air_chiller", "ac415"), rel=1e-12)
    assert f.facility_mw_per_it_mw[-1] > f.facility_mw_per_it_mw[0]  # the chiller works harder at 35 degC
    assert np.all(f.facility_mw_per_it_mw > f.it_mw_per_it_mw)  # PUE > 1 every hour


def test_site_share_that_the_limits_cannot_allow_is_named() -> None:
    # site b takes at most 2 MW (1,400 GPUs), so a must hold 4,200 of the 5,600 GPUs: 1,400 above half
    p = tiny(max_site_share=0.5, max_it_mw=np.array([10.0, 2.0]))
    with pytest.raises(InfeasibleError, match="max_site_share = 50.0% binds: a must hold 1,400 GPUs more"):
        run(p, "decomposed")  # the targets and share live in the Benders master: its elastic form names them

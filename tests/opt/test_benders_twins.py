"""Twin sites (same prices, carbon, weather: only PV output differs) share their dispatch LPs' cuts in the Benders
loop; the shared cut must bound the twin's value everywhere, touch it where there is no PV, and leave the optimum
that of the monolithic model."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tests.opt.test_capacity import assert_benders_equals_monolithic, random_instance, run
from wattbit.opt.capacity import CapacityProblem
from wattbit.opt.capacity.benders import penalties, solve_benders
from wattbit.opt.capacity.site_dispatch import CapacityLayout, SiteDispatchLP, twin_cut
from wattbit.opt.capacity.site_pool import twins


def twin_instance() -> CapacityProblem:
    """The random three-site instance with site ``b`` made a twin of ``a`` (its own PV output kept)."""
    p = random_instance()
    same = ("facility_mw_per_it_mw", "price_per_mwh", "carbon_t_per_mwh", "cfe_fraction", "wind_mw_per_mw")
    changes = {}
    for name in same:
        a = getattr(p, name).copy()
        a[1] = a[0]
        changes[name] = a
    return replace(p, **changes)


def test_twins_are_the_sites_whose_lps_differ_only_in_pv() -> None:
    assert twins(twin_instance()) == [[1], [0], []]
    assert twins(random_instance()) == [[], [], []]


def test_a_twin_cut_bounds_the_twin_everywhere_and_touches_it_without_pv() -> None:
    p = twin_instance()
    lay = CapacityLayout(len(p.options))
    a, b = (SiteDispatchLP(p, s, penalties(p)) for s in (0, 1))
    at = np.zeros(lay.size)
    at[0], at[lay.pv], at[lay.wind], at[lay.energy], at[lay.power], at[lay.grid] = 5.0, 12.0, 4.0, 20.0, 5.0, 5.5
    at[lay.carbon] = 8_000.0
    value, grad = twin_cut(p, a.solve(at), 0, 1, at)
    rng = np.random.default_rng(3)
    for _ in range(8):
        k = at * rng.uniform(0.3, 1.7, lay.size)
        k[1] = 0.0  # option y is not allowed at b
        true = b.solve(k).value
        assert true >= value + grad @ (k - at) - 1e-7 * max(abs(true), 1.0)
    flat = at.copy()
    flat[lay.pv] = 0.0
    value, grad = twin_cut(p, a.solve(flat), 0, 1, flat)
    own = b.solve(flat)
    assert value == pytest.approx(own.value, rel=1e-9)
    step = 1e-3
    up = flat.copy()
    up[lay.pv] += step
    right = (b.solve(up).value - own.value) / step
    assert grad[lay.pv] <= right + 1e-6 * max(abs(right), 1.0)  # a subgradient in the PV direction at zero PV


def test_benders_with_twin_sites_matches_the_monolithic_model() -> None:
    assert_benders_equals_monolithic(twin_instance())


def test_the_useful_connection_rows_keep_a_battery_that_pays() -> None:
    # the master bounds the connection by the peak load plus the battery power: a battery that charges faster than
    # the peak load, and a connection sized for that charge, must survive those rows
    price = np.where(np.arange(random_instance().hours) % 24 < 12, 5_000.0, 60_000.0)
    p = replace(
        random_instance(),
        price_per_mwh=np.tile(price, (3, 1)),
        battery_cost_per_mwh=np.full(3, 1.0e5),
        battery_cost_per_mw=np.full(3, 1.0e5),
        pv_cost_per_mw=np.full(3, 1.0e9),
        wind_cost_per_mw=np.full(3, 1.0e9),
        carbon_cap_t_per_year=None,
        max_connection_mw=np.full(3, 30.0),
    )
    mono = run(p, "monolithic")
    bend = solve_benders(p, rel_gap=1e-7)
    peak_mw = (p.facility_mw_per_it_mw[0].max(axis=1) * mono.it_mw[0]).sum()
    assert mono.battery_mw[0] > peak_mw  # the battery pays, and charges faster than the site's peak load
    assert bend.stats.upper_bound * 1e6 == pytest.approx(mono.objective_per_year, rel=1e-6)

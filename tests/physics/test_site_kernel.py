"""The compiled site physics of an interval (wattbit.physics.site_kernel) against the numpy physics it reads:
facility power and grid import of every step and site within 1e-12, for every cooling type and power chain, on
random loads, caps, setpoints and battery commands, over short intervals and a whole year of japan-2022."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from wattbit.physics.battery import BatterySpec
from wattbit.physics.cooling import default_design, supply_range_c
from wattbit.physics.gpu import get_gpu
from wattbit.physics.gpu_load import POWER_CLASSES
from wattbit.physics.site import SitePlant
from wattbit.physics.site_kernel import interval_grid
from wattbit.rl.batch_reward import IntervalPhysics
from wattbit.rl.reward import interval_fleet, interval_record
from wattbit.scenario import load_scenario
from wattbit.sim.accounting import site_series
from wattbit.sim.fleet import Fleet, build_fleet
from wattbit.sim.records import StepRecord

RTOL = 1e-12


@pytest.fixture(scope="module")
def year() -> Fleet:
    return build_fleet(load_scenario("japan-2022"))


def _record(rng: np.random.Generator, fleet: Fleet, capped: float, setpoints: bool) -> StepRecord:
    """Random GPUs by power class, inference and idle GPUs, caps on a share ``capped`` of the steps (and none on
    some sites), cooling setpoints inside each design's range, battery commands and the self-consumption rule."""
    steps, sites, classes = fleet.steps, len(fleet.names), len(POWER_CLASSES)
    per_class = np.maximum(fleet.gpus_total // (2 * classes), 1)
    by_class = (rng.random((steps, sites, classes)) * per_class[None, :, None]).astype(np.int32)
    by_class[rng.random((steps, sites)) < 0.05] = 0  # some steps with no job at all
    busy = by_class.sum(axis=2).astype(np.int64)
    inference = (rng.random((steps, sites)) * fleet.gpus_total / 4).astype(np.int64)
    needed = inference * rng.uniform(0.8, 1.3, (steps, sites))
    available = busy + inference + (rng.random((steps, sites)) * fleet.gpus_total / 4).astype(np.int64)
    cap = np.where(rng.random((steps, sites)) < capped, rng.uniform(150.0, 750.0, (steps, sites)), np.nan)
    cap[:, 0] = np.nan
    supply = np.full((steps, sites), np.nan)
    if setpoints:
        for i, plant in enumerate(fleet.plants):
            lo, hi = supply_range_c(plant.cooling)
            supply[:, i] = np.where(rng.random(steps) < 0.5, rng.uniform(lo, hi, steps), np.nan)
    return StepRecord(
        busy_gpus=busy,
        inference_gpus=inference,
        inference_needed=needed,
        available_gpus=available,
        gpu_cap_w=cap,
        uncapped_gpus=np.zeros((steps, sites), dtype=np.int64),
        supply_temp_c=supply,
        battery_mw=rng.uniform(-4.0, 4.0, (steps, sites)),
        busy_by_class=by_class,
        uncapped_by_class=(rng.random((steps, sites, classes)) * per_class[None, :, None] / 2).astype(np.int32),
        battery_self_consumption=rng.random((steps, sites)) < 0.5,
    )


def _compare(fleet: Fleet, rec: StepRecord, start: int, end: int, soc_mwh: np.ndarray) -> None:
    ref = site_series(interval_fleet(fleet, start, end, soc_mwh), interval_record(rec, start, end))
    grid, facility = np.empty((end - start, len(fleet.names))), np.empty((end - start, len(fleet.names)))
    totals = np.empty(4)
    IntervalPhysics(fleet).measure(rec, start, end, soc_mwh, totals, grid, facility)
    np.testing.assert_allclose(facility, ref["facility"], rtol=RTOL, atol=0)
    np.testing.assert_allclose(grid, ref["grid"], rtol=RTOL, atol=RTOL * float(ref["facility"].max()))
    # the reward's totals, as IntervalAccountant.measure sums them
    grid_mwh = ref["grid"] * fleet.step_h / 1e6
    needed = np.ceil(rec.inference_needed[start:end] - 1e-9)
    unserved = np.maximum(needed - rec.inference_gpus[start:end], 0.0).sum() * fleet.step_h
    expected = [
        grid_mwh.sum(),
        (grid_mwh * fleet.carbon_g_per_kwh[start:end]).sum() / 1000.0,
        (grid_mwh * fleet.price_jpy_per_mwh[start:end]).sum(),
        unserved,
    ]
    np.testing.assert_allclose(totals, expected, rtol=RTOL, atol=RTOL * float(grid_mwh.max()))


def _plants() -> list[SitePlant]:
    """Every cooling type with its defaults and with the switches of the plant model flipped, on three chains."""
    designs = [
        default_design("air_chiller"),
        default_design("air_chiller", chiller_false_load=False, fan_min_speed=0.0, pump_min_flow=0.0),
        default_design("liquid_dry_cooler"),
        default_design("liquid_dry_cooler", adiabatic_effectiveness=0.0, chiller_min_part_load=0.0),
        default_design("liquid_tower", cw_pump_min_flow=0.4),
        default_design("immersion"),
        default_design("immersion", heat_rejection="tower"),
    ]
    chains = [("ac415", "double_conversion"), ("ac415", "eco"), ("dc800", "double_conversion")]
    gpus = ["H100-SXM", "GB200", "MI300X"]
    return [
        SitePlant(get_gpu(gpus[k % 3]), 1024 * (k % 4 + 1), *chains[k % 3], design, 0.01 * (k % 3))  # type: ignore[arg-type]
        for k, design in enumerate(designs)
    ]


def _fleet_of(fleet: Fleet, plants: list[SitePlant], rows: int, rng: np.random.Generator) -> Fleet:
    """``fleet``'s first ``rows`` steps at ``plants`` (site 0's weather each), with random weather from -15 to
    42 °C (wet bulb up to 15 K below), inference busy shares, on-site generation and a battery on every other site."""
    sites = len(plants)
    tdb = rng.uniform(-15.0, 42.0, (rows, sites))
    battery = BatterySpec(energy_mwh=8.0, power_mw=3.0, soc_min=0.1, soc_max=0.95, initial_soc=0.5)
    return dataclasses.replace(
        fleet,
        index=fleet.index[:rows],
        names=tuple(f"s{i}" for i in range(sites)),
        plants=tuple(plants),
        gpus_total=np.array([p.gpu_count for p in plants]),
        temp_db_c=tdb,
        temp_wb_c=tdb - rng.uniform(0.0, 15.0, (rows, sites)),
        carbon_g_per_kwh=np.repeat(fleet.carbon_g_per_kwh[:rows, :1], sites, axis=1),
        price_jpy_per_mwh=np.repeat(fleet.price_jpy_per_mwh[:rows, :1], sites, axis=1),
        curtailed_mwh=np.zeros((rows, sites)),
        pv_w=rng.uniform(0.0, 3e6, (rows, sites)) * (rng.random((rows, sites)) < 0.5),
        wind_w=rng.uniform(0.0, 3e6, (rows, sites)) * (rng.random((rows, sites)) < 0.3),
        grid_limit_w=np.full(sites, np.inf),
        max_busy_gpus=np.array([p.gpu_count for p in plants]),
        batteries=tuple(battery if i % 2 else None for i in range(sites)),
        cfe_fraction=np.zeros((rows, sites)),
        export_limit_w=None,
        export_price_jpy_per_mwh=None,
        installed_generation_w=None,
        inference_busy_share=rng.uniform(0.0, 1.0, (rows, sites)),
        inference_prefill_share=np.full(sites, 0.3),
        inference_decode_batch=np.full(sites, 32.0),
    )


def test_every_plant_on_random_intervals(year: Fleet) -> None:
    rng = np.random.default_rng(16)
    fleet = _fleet_of(year, _plants(), 400, rng)
    rec = _record(rng, fleet, capped=0.5, setpoints=True)
    energy = np.array([0.0 if b is None else b.energy_mwh for b in fleet.batteries])
    for start, rows in [(0, 1), (3, 2), (10, 3), (20, 4), (30, 5), (40, 7), (50, 9), (60, 340)]:
        _compare(fleet, rec, start, start + rows, rng.uniform(-0.1, 1.1, len(energy)) * energy)
    uncapped = dataclasses.replace(rec, gpu_cap_w=np.full_like(rec.gpu_cap_w, np.nan))
    _compare(fleet, uncapped, 100, 104, energy / 2)


def test_a_year_of_japan_2022(year: Fleet) -> None:
    """The real fleet (three plants, one battery) over the whole year's weather, as one interval (the battery's
    scan over 35,040 steps included) and as four-step intervals mid-year."""
    rec = _record(np.random.default_rng(2022), year, capped=0.2, setpoints=False)
    soc = np.array([0.0 if b is None else b.initial_soc_mwh for b in year.batteries])
    _compare(year, rec, 0, year.steps, soc)
    for start in (8, 17_000, year.steps - 4):
        _compare(year, rec, start, start + 4, soc)


def test_the_plain_python_kernel_is_the_compiled_one(year: Fleet) -> None:
    """``interval_grid.py_func`` (the plain function, as tests and debuggers call it) gives the compiled result."""
    rec = _record(np.random.default_rng(7), year, capped=0.5, setpoints=True)
    physics, soc = IntervalPhysics(year), np.array([0.0, 5.0, 0.0])
    plain, compiled = np.empty(4), np.empty(4)
    interval_grid.py_func(*physics.arguments(rec, 100, 104, soc, plain, np.empty((4, 3)), np.empty((4, 3))))
    interval_grid(*physics.arguments(rec, 100, 104, soc, compiled, np.empty((4, 3)), np.empty((4, 3))))
    assert plain.tolist() == compiled.tolist() and compiled[0] > 0

"""All site physics for one year at 15-minute steps for 100 sites (issue 3 target: <= 1 s on 2 cores).

Usage::

    .venv/bin/python benchmarks/bench_physics.py [--sites 100] [--repeat 3]

Weather: the three japan-2022 demo sites' 15-minute signals (35,040 steps), tiled to ``--sites`` columns with a
site-specific temperature offset (-3..+3 K) so that no two columns are equal. Every site has 1,024 H100 GPUs at a
utilisation that varies per step, a 415 V AC or 800 V DC chain (alternating), the four cooling types in turn, 5 MW
PV, 5 MW wind and a 4 MWh / 2 MW battery following a price-like request. Each stage is timed separately on
(35,040 x sites) arrays; "total" is one pass through all of them. Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from wattbit.data.signals import load_scenario_signals
from wattbit.physics.battery import BatterySpec, simulate_battery
from wattbit.physics.cooling import cooling_power, default_design
from wattbit.physics.gpu import get_gpu, it_power_w
from wattbit.physics.power_chain import power_chain_losses_w
from wattbit.physics.psychrometrics import wetbulb_psychrometric_c
from wattbit.physics.pv import pv_power_w
from wattbit.physics.wind import wind_power_w
from wattbit.scenario import load_scenario

COOLING = ("liquid_dry_cooler", "air_chiller", "liquid_tower", "immersion")


def weather(n_sites: int) -> tuple[pd.DatetimeIndex, dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """(index, {column: (T, S) array}, latitudes, longitudes) for ``n_sites`` sites."""
    scenario = load_scenario("japan-2022")
    signals, _ = load_scenario_signals(scenario)
    frames = list(signals.values())
    pick = [i % len(frames) for i in range(n_sites)]
    offset = np.linspace(-3.0, 3.0, n_sites)
    cols = {}
    for c in ("temp_air_c", "rel_humidity_pct", "pressure_pa", "ghi_w_m2", "wind_speed_m_s"):
        cols[c] = np.column_stack([frames[j][c].to_numpy() for j in pick])
    cols["temp_air_c"] = cols["temp_air_c"] + offset
    lat = np.array([scenario.sites[j].latitude_deg for j in pick])
    lon = np.array([scenario.sites[j].longitude_deg for j in pick])
    return pd.DatetimeIndex(frames[0].index), cols, lat, lon


def stages(n_sites: int) -> list[tuple[str, Callable[[dict[str, Any]], None]]]:
    """The physics stages; each reads and writes a shared state dictionary."""
    gpu = get_gpu("H100-SXM")
    gpus = 1024
    rated = float(it_power_w(gpu, gpus, 1.0))
    # sites alternate between the two chains and take the cooling types in turn: each group is every 2nd / 4th
    # column, selected as a view (a slice with a step), not copied
    arch = {"ac415": slice(0, None, 2), "dc800": slice(1, None, 2)}
    groups = {c: slice(k, None, len(COOLING)) for k, c in enumerate(COOLING)}
    battery = BatterySpec(energy_mwh=4.0, power_mw=2.0, charge_efficiency=0.95, discharge_efficiency=0.95)

    def wetbulb(state: dict[str, Any]) -> None:
        w = state["w"]
        state["twb"] = wetbulb_psychrometric_c(w["temp_air_c"], w["rel_humidity_pct"], w["pressure_pa"])

    def it(state: dict[str, Any]) -> None:
        state["it_dc"] = it_power_w(gpu, gpus, state["util"])

    def chain(state: dict[str, Any]) -> None:
        state["input"] = np.empty_like(state["it_dc"])
        for a, cols in arch.items():
            state["input"][:, cols] = power_chain_losses_w(state["it_dc"][:, cols], rated, a).input_w  # type: ignore[arg-type]

    def cooling(state: dict[str, Any]) -> None:
        state["cool"] = np.empty_like(state["input"])
        for name, cols in groups.items():
            heat = state["input"][:, cols]
            r = cooling_power(
                heat,
                state["w"]["temp_air_c"][:, cols],
                state["twb"][:, cols],
                default_design(name),
                capacity_w=rated * 1.1,
            )
            state["cool"][:, cols] = r.power_w

    def pv(state: dict[str, Any]) -> None:
        w = state["w"]
        state["pv"] = pv_power_w(
            state["index"], w["ghi_w_m2"], w["temp_air_c"], w["wind_speed_m_s"], state["lat"], state["lon"], 5e6
        )

    def wind(state: dict[str, Any]) -> None:
        w = state["w"]
        state["wind"] = wind_power_w(
            w["wind_speed_m_s"],
            5e6,
            measurement_height_m=50.0,
            temp_air_c=w["temp_air_c"],
            pressure_pa=w["pressure_pa"],
        )

    def batt(state: dict[str, Any]) -> None:
        request = 2.0 * np.sin(np.arange(state["util"].shape[0]) * 2 * np.pi / 96)[:, None] * np.ones(n_sites)
        state["battery"] = simulate_battery([battery] * n_sites, request, 0.25)

    return [
        ("wet-bulb (psychrometric, Newton)", wetbulb),
        ("GPU/IT power", it),
        ("power chain", chain),
        ("cooling", cooling),
        ("PV (pvlib)", pv),
        ("wind (windpowerlib curve, density-corrected)", wind),
        ("battery (sequential in time)", batt),
    ]


def make_state(
    index: pd.DatetimeIndex, weather: dict[str, np.ndarray], lat: np.ndarray, lon: np.ndarray
) -> dict[str, Any]:
    """The inputs of one block of sites."""
    rng = np.random.default_rng(0)
    return {"index": index, "w": weather, "lat": lat, "lon": lon, "util": rng.uniform(0.3, 1.0, (len(index), len(lat)))}


def run_threaded(
    index: pd.DatetimeIndex, weather: dict[str, np.ndarray], lat: np.ndarray, lon: np.ndarray, threads: int
) -> float:
    """Wall time of all per-step stages (wet-bulb excluded) with the sites split over ``threads`` threads."""
    blocks = np.array_split(np.arange(len(lat)), threads)
    states = [make_state(index, {k: v[:, b] for k, v in weather.items()}, lat[b], lon[b]) for b in blocks]
    for st, b in zip(states, blocks, strict=True):
        stages(len(b))[0][1](st)  # wet-bulb: data preparation, done once per weather series

    def run(i: int) -> None:
        for _, fn in stages(len(blocks[i]))[1:]:
            fn(states[i])

    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(run, range(threads)))
    return time.perf_counter() - t0


_BLOCKS: list[dict[str, Any]] = []


def _run_block(i: int) -> dict[str, float]:
    """All per-step stages on block ``i`` (inherited by the forked worker); return annual totals only."""
    state = _BLOCKS[i]
    for _, fn in stages(len(state["lat"]))[1:]:
        fn(state)
    return {
        "it_mwh": float(state["it_dc"].sum()) * 0.25 / 1e6,
        "facility_mwh": float((state["input"] + state["cool"]).sum()) * 0.25 / 1e6,
        "pv_mwh": float(state["pv"].sum()) * 0.25 / 1e6,
        "wind_mwh": float(state["wind"].sum()) * 0.25 / 1e6,
    }


def run_processes(
    index: pd.DatetimeIndex, weather: dict[str, np.ndarray], lat: np.ndarray, lon: np.ndarray, n: int
) -> float:
    """Wall time, pool start included, of all per-step stages with the sites split over ``n`` forked processes
    that return annual totals per block (what a site report or a screening study keeps)."""
    blocks = np.array_split(np.arange(len(lat)), n)
    _BLOCKS.clear()
    for b in blocks:
        st = make_state(index, {k: v[:, b] for k, v in weather.items()}, lat[b], lon[b])
        stages(len(b))[0][1](st)  # wet-bulb: data preparation, done once per weather series
        _BLOCKS.append(st)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("fork")) as pool:
        totals = list(pool.map(_run_block, range(n)))
    elapsed = time.perf_counter() - t0
    assert all(t["facility_mwh"] > t["it_mwh"] > 0 for t in totals)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    index, w, lat, lon = weather(args.sites)
    state = make_state(index, w, lat, lon)
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    print(f"machine: {machine}, Python {platform.python_version()}, numpy {np.__version__}")
    print(f"{len(index)} steps x {args.sites} sites = {len(index) * args.sites:,} site-steps; best of {args.repeat}")
    print("| stage | best [s] |")
    print("|---|---:|")
    total = first = 0.0
    for name, fn in stages(args.sites):
        best = float("inf")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            fn(state)
            best = min(best, time.perf_counter() - t0)
        total += best
        first = best if name.startswith("wet-bulb") else first
        print(f"| {name} | {best:.3f} |")
    print(f"| **total, one thread** | **{total:.3f}** |")
    per_step = total - first
    print(f"| total without wet-bulb (data preparation), one thread | {per_step:.3f} |")
    threaded = min(run_threaded(index, w, lat, lon, args.threads) for _ in range(args.repeat))
    print(f"| total without wet-bulb, sites split over {args.threads} threads | {threaded:.3f} |")
    forked = min(run_processes(index, w, lat, lon, args.threads) for _ in range(args.repeat))
    label = f"total without wet-bulb, sites split over {args.threads} forked processes (pool start included)"
    print(f"| {label} | {forked:.3f} |")


if __name__ == "__main__":
    main()

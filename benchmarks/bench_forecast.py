"""Accuracy, interval coverage and speed of wattbit.forecast on real Japanese signals.

Usage::

    .venv/bin/python benchmarks/bench_forecast.py [--shared ../shared/data] [--every-h 5] [--quick]

Two data sets:

* **japan-2022** (the methods were designed and tuned on it): the built-in scenario's per-site arrays at 15-minute
  steps, as the simulation hands them to a controller: carbon intensity, JEPX area price, area curtailment, on-site
  PV and wind output, GPUs needed for online inference. Horizon 48 h.
* **out of sample** (never tuned on): other areas and years read from ``../shared/data`` with wattbit's readers:
  Kyushu FY2021 carbon intensity (from the generation mix), curtailment and solar output; Tohoku 2019 carbon
  intensity, wind output and area demand (no year-long inference-demand trace exists in the shared data; area
  demand is the nearest real demand signal with daily and weekly cycles); JEPX FY2019 Kyushu and Kansai prices.
  Hourly (JEPX: 30-minute) steps, horizon 48 h.

For each signal it backtests every method from rolling origins every ``--every-h`` hours (so the origins go round
the clock) and prints Markdown tables: MAE at 1, 6 and 24 h lead and averaged over 0-48 h, that average divided by
seasonal naive's, and the coverage and mean width of the 80 % interval over 0-48 h; then the time of one forecast
call. Sites are averaged (same units). Not a test: timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from wattbit.data.area_supply_demand import read_area_supply_demand, read_tohoku_hourly
from wattbit.data.jepx import read_jepx_spot
from wattbit.forecast import evaluate, forecast, rolling_forecasts
from wattbit.physics.carbon import carbon_intensity_from_mix, default_emission_factors

REPO = Path(__file__).resolve().parents[1]
METHODS = ("persistence", "seasonal_naive", "seasonal_naive_weekly", "profile")
LEVEL = 0.8


class Case:
    """One signal of one data set: the array (steps, sites) and its step."""

    def __init__(self, dataset: str, signal: str, unit: str, values: np.ndarray, steps_per_day: int, sites: list[str]):
        self.dataset, self.signal, self.unit = dataset, signal, unit
        self.values, self.steps_per_day, self.sites = values, steps_per_day, sites


def japan_2022() -> list[Case]:
    """The built-in scenario's arrays; sites where a signal is identically zero (no PV, no curtailment) left out."""
    from wattbit.scenario import load_scenario
    from wattbit.sim.fleet import build_fleet
    from wattbit.sim.run import site_inference_gpus

    scenario = load_scenario("japan-2022")
    fleet = build_fleet(scenario)
    signals = {
        "carbon intensity": ("g/kWh", fleet.carbon_g_per_kwh),
        "price": ("JPY/MWh", fleet.price_jpy_per_mwh),
        "curtailment": ("MWh/step (area)", fleet.curtailed_mwh),
        "PV output": ("MW", fleet.pv_w / 1e6),
        "wind output": ("MW", fleet.wind_w / 1e6),
        "inference GPUs": ("GPUs", site_inference_gpus(scenario, fleet)),
    }
    cases = []
    for name, (unit, values) in signals.items():
        keep = [j for j in range(values.shape[1]) if np.any(values[:, j] != 0)]
        sites = [fleet.names[j] for j in keep]
        cases.append(Case("japan-2022 (15 min)", name, unit, values[:, keep], 96, sites))
    return cases


def _regular(frame: pd.DataFrame, column: str, freq: str, what: str) -> np.ndarray:
    """``frame[column]`` on a gap-free regular index; refuses gaps instead of filling them."""
    series = frame[column].asfreq(freq)
    missing = int(series.isna().sum())
    if missing:
        raise SystemExit(f"{what}: {missing} missing steps; this benchmark does not fill gaps")
    return series.to_numpy(dtype=float)[:, None]


def out_of_sample(shared: Path) -> list[Case]:
    """Other areas and years, read with wattbit's readers."""
    area = shared / "japan" / "area-supply-demand"
    kyushu, _ = read_area_supply_demand(sorted((area / "raw" / "kyushu").glob("area_jyukyu_jisseki_2021_*Q.csv")))
    tohoku, _ = read_tohoku_hourly(area / "tohoku_hourly.csv")
    tohoku = tohoku.loc["2018-12-31 15:00":"2019-12-31 14:00"]
    kyushu["carbon"] = carbon_intensity_from_mix(kyushu, default_emission_factors("kyushu", "lifecycle"))
    tohoku["carbon"] = carbon_intensity_from_mix(tohoku, default_emission_factors("tohoku", "lifecycle"))
    kyushu["curtailed"] = kyushu["solar_curtailed_mwh"] + kyushu["wind_curtailed_mwh"]
    prices, _ = read_jepx_spot([shared / "japan" / "jepx-spot" / "spot_summary_2019.csv"])
    hourly: list[tuple[str, str, str, pd.DataFrame, str]] = [
        ("Kyushu FY2021", "carbon intensity", "g/kWh", kyushu, "carbon"),
        ("Tohoku 2019", "carbon intensity", "g/kWh", tohoku, "carbon"),
        ("Kyushu FY2021", "curtailment", "MWh/h", kyushu, "curtailed"),
        ("Kyushu FY2021", "solar output", "MWh/h", kyushu, "solar_mwh"),
        ("Tohoku 2019", "wind output", "MWh/h", tohoku, "wind_mwh"),
        ("Tohoku 2019", "area demand", "MWh/h", tohoku, "demand_mwh"),
    ]
    cases = [
        Case(f"{where} (1 h)", signal, unit, _regular(frame, col, "1h", f"{where} {signal}"), 24, [where])
        for where, signal, unit, frame, col in hourly
    ]
    for area_name in ("kyushu", "kansai"):
        values = _regular(prices, f"price_{area_name}_jpy_per_mwh", "30min", f"JEPX {area_name}")
        cases.append(Case(f"JEPX {area_name} FY2019 (30 min)", "price", "JPY/MWh", values, 48, [area_name]))
    return cases


def score(case: Case, every_h: float) -> pd.DataFrame:
    """One row per method: MAE at 1/6/24 h and over 0-48 h, ratio to seasonal naive, coverage and width."""
    per_day = case.steps_per_day
    horizon = 2 * per_day
    every = max(1, round(every_h * per_day / 24))
    bt = evaluate(
        case.values, horizon, per_day, methods=METHODS, origin_every=every, level=LEVEL, site_names=case.sites
    )
    rows = []
    leads = {h: round(h * per_day / 24) - 1 for h in (1, 6, 24)}
    for i, method in enumerate(METHODS):
        mae = bt.mae[i].mean(axis=1)  # mean over sites, per lead
        rows.append(
            {
                "method": method,
                **{f"MAE {h} h": mae[k] for h, k in leads.items()},
                "MAE 0-48 h": mae.mean(),
                "coverage": bt.coverage[i].mean(),
                "width": bt.width[i].mean(),
            }
        )
    table = pd.DataFrame(rows).set_index("method")
    table.insert(4, "vs seasonal naive", table["MAE 0-48 h"] / table.loc["seasonal_naive", "MAE 0-48 h"])
    table.attrs["origins"] = len(bt.origins)
    return table


def during_events(case: Case, every_h: float) -> pd.DataFrame:
    """MAE and coverage over 0-48 h counted only where the truth is positive (curtailment is zero most hours)."""
    per_day = case.steps_per_day
    horizon = 2 * per_day
    every = max(1, round(every_h * per_day / 24))
    bt = evaluate(case.values, horizon, per_day, methods=("profile",), origin_every=every)  # for its origins
    sums = {m: np.zeros(3) for m in METHODS}  # |error|, inside, count
    for t, method, f in rolling_forecasts(case.values, bt.origins, horizon, per_day, METHODS, level=LEVEL):
        truth = case.values[t + 1 : t + 1 + horizon]
        event = truth > 0
        inside = (truth >= f.lower) & (truth <= f.upper)
        sums[method] += [np.abs(truth - f.mean)[event].sum(), inside[event].sum(), event.sum()]
    rows = [{"method": m, "MAE when > 0": v[0] / v[2], "coverage when > 0": v[1] / v[2]} for m, v in sums.items()]
    return pd.DataFrame(rows).set_index("method")


def markdown(table: pd.DataFrame) -> str:
    """A Markdown table with 4 significant digits."""

    def fmt(value: object) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    head = "| method | " + " | ".join(table.columns) + " |"
    rule = "|---|" + "---:|" * len(table.columns)
    body = ["| " + str(m) + " | " + " | ".join(fmt(v) for v in row) + " |" for m, row in table.iterrows()]
    return "\n".join([head, rule, *body])


def time_calls(cases: list[Case], repeat: int) -> str:
    """Time of one forecast call for 3 and 10 sites, 24 and 48 h horizons, at 15-minute steps."""
    ten = np.concatenate([c.values for c in cases if c.steps_per_day == 96], axis=1)[:, :10]
    rng = np.random.default_rng(0)
    ends = rng.integers(40 * 96, ten.shape[0], size=200)
    lines = ["| method | sites | horizon | ms per call (median of batches) |", "|---|---:|---:|---:|"]
    for method in METHODS:
        for sites in (3, 10):
            for horizon in (96, 192):
                x = np.ascontiguousarray(ten[:, :sites])
                batches = []
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    for end in ends:
                        forecast(x[:end], horizon, 96, method=method)
                    batches.append((time.perf_counter() - t0) / len(ends) * 1e3)
                lines.append(f"| {method} | {sites} | {horizon // 4} h | {np.median(batches):.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--every-h", type=float, default=5.0, help="hours between forecast origins")
    parser.add_argument("--repeat", type=int, default=5, help="timing batches of 200 calls")
    parser.add_argument("--quick", action="store_true", help="origins every 23 h (a fast smoke run)")
    args = parser.parse_args()
    every_h = 23.0 if args.quick else args.every_h
    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    print(f"python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    print(f"settings: level {LEVEL}, horizon 48 h, origins every {every_h:g} h, window 28 days, methods {METHODS}\n")
    loaders: list[tuple[str, Callable[[], list[Case]]]] = [
        ("japan-2022 (designed and tuned on)", japan_2022),
        ("out of sample (not tuned on)", lambda: out_of_sample(args.shared)),
    ]
    all_cases = []
    for title, load in loaders:
        print(f"## {title}\n")
        cases = load()
        all_cases.extend(cases)
        for case in cases:
            t0 = time.perf_counter()
            table = score(case, every_h)
            took = time.perf_counter() - t0
            print(
                f"### {case.signal}, {case.dataset}, [{case.unit}], sites {', '.join(case.sites)}: "
                f"{case.values.shape[0]} steps, {table.attrs['origins']} origins ({took:.1f} s)\n"
            )
            print(markdown(table) + "\n")
            if case.signal == "curtailment":
                print("During curtailment (true value > 0) only:\n")
                print(markdown(during_events(case, every_h)) + "\n")
    print("## time per forecast call (15-minute steps, japan-2022 arrays)\n")
    print(time_calls(all_cases, args.repeat))
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

"""Peer benchmark: wattbit's engine and Vessim side by side on the same japan-2022 year at 15-minute steps.

Usage::

    .venv/bin/python benchmarks/bench_peer.py [--repeat 3] [--peer-venv /tmp/peer-venv] [--vessim-version 0.16.0]
        [--scenario japan-2022 | benchmarks/scenarios/fleet-10.toml]

1. Makes a separate virtualenv for the peer (``--peer-venv``, created with ``pip install vessim==VERSION`` if it
   does not import Vessim yet); Vessim is never a dependency of wattbit.
2. Runs ``wattbit simulate SCENARIO --policy baseline --out DIR`` (default ``japan-2022``) and takes each site's
   facility power and PV + wind output from ``DIR/timeseries.parquet`` (35,040 steps x 3 sites for japan-2022) as
   the peer's input.
3. In each of ``--repeat`` rounds, times one wattbit ``simulate`` of the same scenario in a fresh process (as
   ``bench_engine.py`` does: build, engine loop, accounting) and each Vessim variant of ``peer_vessim.py`` in a fresh
   process of the peer's virtualenv: one microgrid per site (facility load, on-site generation, an 8 MWh / 2 MW battery
   at every site under Vessim's default dispatch: surplus charges, deficit discharges, the grid takes the rest),
   with and without a recorder, and without batteries as a check that both tools saw the same energy.

Reports best-of-``repeat`` wall times and simulated time steps (and site-steps) per second of both tools, the ratio,
and the cross-check. The tools do different work per step (see the table's last column); the ratio says how fast
each simulates a year, not that their models are alike. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
PEER_SCRIPT = HERE / "peer_vessim.py"
VARIANTS = ("battery-recorder", "battery", "nobattery-metrics")
BATTERY_WH, BATTERY_C_RATE = 8e6, 0.25  # 8 MWh, 2 MW: the japan-2022 Ishikari battery, given to every peer site


def bench_engine() -> ModuleType:
    """``bench_engine.py`` beside this file (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location("bench_engine", HERE / "bench_engine.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ensure_peer_venv(venv: Path, version: str) -> str:
    """A virtualenv at ``venv`` with ``vessim==version``; returns the installed version."""
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import importlib.metadata as m, vessim; print(m.version('vessim'))"]
    if python.exists():
        found = subprocess.run(check, capture_output=True, text=True)
        if found.returncode == 0 and found.stdout.strip() == version:
            return version
    else:
        print(f"creating {venv} for the peer", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    print(f"installing vessim=={version} into {venv}", flush=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", f"vessim=={version}"], check=True)
    return subprocess.run(check, capture_output=True, text=True, check=True).stdout.strip()


def wattbit_year(scenario: str, out_dir: Path) -> tuple[Path, dict[str, float], float]:
    """Run the wattbit CLI on ``scenario``; the peer's input file, wattbit's per-site grid and spill [Wh], wall [s]."""
    cli = Path(sys.executable).parent / "wattbit"
    t0 = time.perf_counter()
    subprocess.run(
        [str(cli), "simulate", scenario, "--policy", "baseline", "--out", str(out_dir)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - t0
    ts = pd.read_parquet(out_dir / "timeseries.parquet")
    names = list(dict.fromkeys(ts["site"].astype(str)))
    times = pd.DatetimeIndex(ts["time_utc"].drop_duplicates()).sort_values()
    step_s = int((times[1] - times[0]).total_seconds())

    def table(column: str) -> np.ndarray:
        return ts.pivot(index="time_utc", columns="site", values=column)[names].to_numpy(dtype=float)

    path = out_dir / "peer_input.npz"
    np.savez(
        path,
        load_w=table("facility_w"),
        gen_w=table("pv_w") + table("wind_w"),
        names=np.array(names),
        step_s=step_s,
        start=times[0].tz_convert("UTC").tz_localize(None).isoformat(),
        battery_wh=np.full(len(names), BATTERY_WH),
        battery_c_rate=np.full(len(names), BATTERY_C_RATE),
    )
    hours = step_s / 3600.0
    energy = {f"grid:{n}": float(v) for n, v in zip(names, table("grid_w").sum(axis=0) * hours, strict=True)}
    energy.update({f"spill:{n}": float(v) for n, v in zip(names, table("spill_w").sum(axis=0) * hours, strict=True)})
    return path, energy, wall


def run_peer(venv: Path, npz: Path, variant: str) -> dict[str, Any]:
    """One Vessim variant in a fresh process of the peer's virtualenv."""
    out = subprocess.run(
        [str(venv / "bin" / "python"), str(PEER_SCRIPT), str(npz), "--variant", variant],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


WHAT = {
    "wattbit simulate": "all of the below plus build (signals, PV/wind physics, synthetic jobs, failure events) "
    "and accounting (site physics roll-up, battery, carbon, cost, KPIs, result frames)",
    "wattbit engine loop": "per step: admit jobs, failures (victim choice, lost work), inference reservation, "
    "grid-limited capacity, the policy's FCFS/backfill placement of the queue, progress of running jobs "
    "(about 1M jobs a year in both built-in benchmark scenarios)",
    "battery-recorder": "per step and site: replay load and generation, dispatch battery then grid, integrate SoC, "
    "snapshot every state into memory",
    "battery": "per step and site: replay load and generation, dispatch battery then grid, integrate SoC",
    "nobattery-metrics": "per step and site: replay load and generation, grid balances, energy metrics",
}


def report(rounds: list[dict[str, Any]], energy: dict[str, float], setting: str, repeat: int) -> str:
    """Markdown: the side-by-side table, the ratio and the energy cross-check."""
    steps, sites = rounds[0]["wattbit"]["steps"], rounds[0]["wattbit"]["sites"]
    best_w = min(r["wattbit"]["total_s"] for r in rounds)
    best_loop = min(r["wattbit"]["loop_s"] for r in rounds)
    rows = [("wattbit simulate", best_w), ("wattbit engine loop", best_loop)]
    rows += [(f"Vessim {v}", min(r[v]["run_s"][0] for r in rounds)) for v in VARIANTS]
    lines = [f"{setting}. Best of {repeat} fresh processes per row, alternating tools.", ""]
    lines += [
        "| tool, variant | wall [s] | steps/s | site-steps/s | speed ÷ wattbit simulate | what one step does |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, wall in rows:
        key = name.removeprefix("Vessim ")
        lines.append(
            f"| {name} | {wall:.2f} | {steps / wall:,.0f} | {steps * sites / wall:,.0f} | {best_w / wall:.2f} | "
            f"{WHAT[key]} |"
        )
    check = next(r["nobattery-metrics"]["metrics_wh"] for r in rounds)
    worst = 0.0
    for site, m in check.items():
        for ours, theirs in ((f"grid:{site}", m["grid_import"]), (f"spill:{site}", m["grid_export"])):
            ref = energy[ours]
            worst = max(worst, abs(theirs - ref) / ref if ref else abs(theirs))
    with_battery = next(r["battery-recorder"]["metrics_wh"] for r in rounds)
    saved = sum(check[s]["grid_import"] - with_battery[s]["grid_import"] for s in check) / 1e6
    lines += [
        "",
        f"- {steps:,} time steps × {sites} sites = {steps * sites:,} site-steps for every row; Vessim's setup (traces "
        f"and microgrids) takes {min(r['battery']['setup_s'][0] for r in rounds):.3f} s and is not in its wall time.",
        f"- Cross-check: Vessim without batteries imports and exports what wattbit's run reports as grid import and "
        f"spilled on-site generation, per site; largest relative difference {worst:.1e}.",
        f"- Vessim's batteries (8 MWh / 2 MW at each site) cut grid import by {saved:,.1f} MWh over the period "
        "(wattbit's baseline leaves its batteries idle).",
    ]
    return "\n".join(lines)


def main() -> None:
    """Set up the peer, produce its input with wattbit, time both alternately, and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--peer-venv", type=Path, default=Path("/tmp/peer-venv"))
    parser.add_argument("--vessim-version", default="0.16.0")
    parser.add_argument("--scenario", default="japan-2022", help="built-in name or TOML path")
    parser.add_argument("--json", type=Path, default=None, help="write the raw results here")
    args = parser.parse_args()
    if Path(args.scenario).exists():  # a file: absolute, as the children run in the repository root
        args.scenario = str(Path(args.scenario).resolve())
    engine = bench_engine()
    machine = engine.machine_info()
    print(engine.describe_machine(machine), flush=True)
    version = ensure_peer_venv(args.peer_venv, args.vessim_version)
    peer_py = subprocess.run(
        [str(args.peer_venv / "bin" / "python"), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    versions = f"Vessim {version} (native backend, Python {peer_py}, separate virtualenv {args.peer_venv})"
    with tempfile.TemporaryDirectory() as tmp:
        npz, energy, cli_wall = wattbit_year(args.scenario, Path(tmp))
        print(f"wattbit simulate {args.scenario} (CLI, writing parquet): {cli_wall:.2f} s", flush=True)
        rounds = []
        for i in range(args.repeat):
            res, _, _ = engine.run_child(["--child", "run", "--scenario", args.scenario])
            rnd: dict[str, Any] = {"wattbit": res}
            for variant in VARIANTS:
                rnd[variant] = run_peer(args.peer_venv, npz, variant)
            rounds.append(rnd)
            print(
                f"  round {i + 1}/{args.repeat}: wattbit {res['total_s']:.2f} s (loop {res['loop_s']:.2f}); Vessim "
                + ", ".join(f"{v} {rnd[v]['run_s'][0]:.2f} s" for v in VARIANTS),
                flush=True,
            )
    machine["load_1min_after"] = round(os.getloadavg()[0], 2)
    print()
    setting = f"Machine: {engine.describe_machine(machine)}. {versions}. Scenario {args.scenario}"
    print(report(rounds, energy, setting, args.repeat))
    print(f"\n1-min load average before {machine['load_1min']}, after {machine['load_1min_after']}")
    if args.json is not None:
        args.json.write_text(json.dumps({"machine": machine, "vessim": version, "rounds": rounds}, indent=1) + "\n")


if __name__ == "__main__":
    main()

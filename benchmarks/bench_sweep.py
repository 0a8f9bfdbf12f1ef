"""Sweep scaling: the same sweep in this process, on 2 local processes and on a 2-worker Dask LocalCluster.

Usage::

    PYTHONPATH=src .venv/bin/python benchmarks/bench_sweep.py [--runs 8] [--hours 24] \
        [--out benchmarks/results/sweep.md]

The sweep: ``wattbit simulate`` of the built-in japan-2022 scenario (3 sites, 15-minute steps) over ``--hours``
from 2022-04-10, the grid of policy (baseline, greedy) x seed x cooling (air chiller, liquid dry cooler) cut to
``--runs`` runs. Each configuration writes its own Parquet dataset; the wall time is the whole
:func:`wattbit.sweep.execute.run_sweep` call: pool or cluster start, workers importing wattbit, every run, rows
and report written. Speed-up is against the in-process run; every configuration's KPIs are checked to be the same.
Not a test: the numbers depend on what else runs on the machine (the load average is recorded with each run).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

from wattbit.parallel import DaskExecutor, Executor, LocalExecutor  # noqa: E402
from wattbit.sweep.execute import run_sweep  # noqa: E402
from wattbit.sweep.runs import WALL_CLOCK_KEYS  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def sweep_text(runs: int, hours: int) -> str:
    """The benchmark's sweep file."""
    end = (pd.Timestamp("2022-04-10") + timedelta(hours=hours)).isoformat()
    seeds = list(range(1, max(runs // 4, 1) + 1))
    return f"""
[sweep]
name = "bench-sweep"
scenarios = ["japan-2022"]
start = "2022-04-10"
end = "{end}"
sample = "random"
runs = {runs}
seed = 0

[axes]
policy = ["baseline", "greedy"]
seed = {seeds}
"sites.cooling" = ["air_chiller", "liquid_dry_cooler"]
"""


def timed(name: str, make: object, sweep: Path, folder: Path) -> tuple[float, pd.DataFrame, tuple[float, ...]]:
    """Wall time of one whole sweep on the executor ``make()`` builds (started and closed inside the timing)."""
    load = os.getloadavg()
    t0 = time.perf_counter()
    ex: Executor = make()  # type: ignore[operator]
    try:
        outcome = run_sweep(sweep, folder / name, ex)
    finally:
        ex.close()
    return time.perf_counter() - t0, outcome.runs, load


def kpis(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs' results without the columns that measure the machine."""
    drop = ["run_seconds", *WALL_CLOCK_KEYS]
    return runs.drop(columns=[c for c in drop if c in runs]).sort_values("run_id").reset_index(drop=True)


def main() -> None:
    """Run the three configurations and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "sweep.md")
    args = parser.parse_args()
    configs = {
        "in process (serial)": lambda: LocalExecutor(workers=1),
        "local, 2 processes (spawn)": lambda: LocalExecutor(workers=2),
        "Dask LocalCluster, 2 workers": lambda: DaskExecutor(n_workers=2),
    }
    rows, reference = [], None
    with tempfile.TemporaryDirectory() as tmp:
        sweep = Path(tmp) / "sweep.toml"
        sweep.write_text(sweep_text(args.runs, args.hours), encoding="utf-8")
        for i, (name, make) in enumerate(configs.items()):
            wall_s, runs, load = timed(f"c{i}", make, sweep, Path(tmp))
            assert (runs["status"] == "ok").all(), runs["error"].tolist()
            if reference is None:
                reference = kpis(runs)
            pd.testing.assert_frame_equal(kpis(runs), reference, check_exact=True)
            cpu_s = float(runs["run_seconds"].sum())
            rows.append((name, wall_s, cpu_s, load[0]))
            print(f"{name}: {wall_s:.1f} s wall, runs {cpu_s:.1f} s summed, load {load[0]:.2f}", flush=True)
    base = rows[0][1]
    lines = [
        "# Sweep scaling",
        "",
        f"`benchmarks/bench_sweep.py --runs {args.runs} --hours {args.hours}`, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}. Sweep: japan-2022 "
        f"simulate, {args.hours} h from 2022-04-10, {args.runs} runs (policy x seed x cooling).",
        "",
        "| executor | wall [s] | sum of run times [s] | speed-up | load avg (1 min) before |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, wall_s, cpu_s, load1 in rows:
        lines.append(f"| {name} | {wall_s:.1f} | {cpu_s:.1f} | {base / wall_s:.2f}x | {load1:.2f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

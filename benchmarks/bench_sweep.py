"""Sweep scaling: the same sweep in this process, on 2 local processes and on a 2-worker Dask LocalCluster.

Usage::

    PYTHONPATH=src .venv/bin/python benchmarks/bench_sweep.py [--runs 8] [--hours 168] \
        [--out benchmarks/results/sweep.md]

The sweep: ``wattbit simulate`` of the built-in japan-2022 scenario (3 sites, 15-minute steps) over ``--hours``
from 2022-04-10, the grid of policy (baseline, greedy) x seed x cooling (air chiller, liquid dry cooler) cut to
``--runs`` runs. Each configuration writes its own Parquet dataset; the wall time is the whole
:func:`wattbit.sweep.execute.run_sweep` call: pool or cluster start, workers importing wattbit, every run, rows
and report written. Speed-up is against the in-process run; every configuration's KPIs are checked to be the same.
This process's parsed-data cache is emptied before each configuration, so each pays its own reads.

Where the time goes, per worker (from each row's ``worker`` and ``run_started_unix_s``): start-up (from the
executor's creation to the worker's first run: process start and imports), the first run (which parses the data
files) and the later ones, and the worker's idle tail (from its last run's end to the last run's end overall).
Not a test: the numbers depend on what else runs on the machine (the load average is recorded with each run).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

from wattbit.data import cache  # noqa: E402
from wattbit.parallel import Executor, LocalExecutor, make_executor  # noqa: E402
from wattbit.sweep import LOCAL_START_METHOD, WORKER_MODULES  # noqa: E402
from wattbit.sweep.execute import run_sweep  # noqa: E402
from wattbit.sweep.runs import MACHINE_COLUMNS  # noqa: E402

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


def configurations() -> dict[str, Callable[[], Executor]]:
    """The executors compared, each built as ``wattbit sweep`` builds it (preload and start method included)."""
    sweep_defaults = {"preload": WORKER_MODULES, "start_method": LOCAL_START_METHOD}
    return {
        "in process (serial)": lambda: LocalExecutor(workers=1),
        "local, 2 processes (spawn, no preload: before)": lambda: LocalExecutor(workers=2),
        f"local, 2 processes ({LOCAL_START_METHOD} + preload: `--executor local`)": lambda: make_executor(
            {"kind": "local", "workers": 2}, **sweep_defaults
        ),
        "Dask LocalCluster, 2 workers (preload: `--executor dask`)": lambda: make_executor(
            {"kind": "dask", "n_workers": 2}, **sweep_defaults
        ),
    }


def timed(make: Callable[[], Executor], sweep: Path, folder: Path) -> tuple[float, float, pd.DataFrame, float]:
    """Wall time of one whole sweep on the executor ``make()`` builds (started and closed inside the timing);
    returns it with the executor's creation time (Unix), the rows and the load average before."""
    cache.disable()
    load = os.getloadavg()[0]
    created = time.time()
    t0 = time.perf_counter()
    ex = make()
    try:
        outcome = run_sweep(sweep, folder, ex)
    finally:
        ex.close()
    return time.perf_counter() - t0, created, outcome.runs, load


def kpis(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs' results without the columns that measure the machine."""
    return runs.drop(columns=[c for c in MACHINE_COLUMNS if c in runs]).sort_values("run_id").reset_index(drop=True)


def per_worker(runs: pd.DataFrame, created: float) -> pd.DataFrame:
    """Start-up, first run, later runs and idle tail of each worker process [s]."""
    ends = runs["run_started_unix_s"] + runs["run_seconds"]
    last_end = float(ends.max())
    out = []
    for worker, rows in runs.assign(end=ends).sort_values("run_started_unix_s").groupby("worker", sort=False):
        out.append(
            {
                "worker": str(worker).rsplit(":", 1)[-1],
                "startup_s": float(rows["run_started_unix_s"].iloc[0]) - created,
                "runs": len(rows),
                "first_run_s": float(rows["run_seconds"].iloc[0]),
                "later_runs_mean_s": float(rows["run_seconds"].iloc[1:].mean()) if len(rows) > 1 else float("nan"),
                "idle_tail_s": last_end - float(rows["end"].max()),
            }
        )
    return pd.DataFrame(out)


def cli_wall_s(sweep: Path, folder: Path, executor: str) -> float:
    """Wall time of ``wattbit sweep SWEEP --executor EXECUTOR`` as a user runs it: a new process, its imports
    (and, for ``local``, its fork server's, started first so that they overlap) included."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    args = [sys.executable, "-m", "wattbit.cli", "sweep", str(sweep), "--out", str(folder), "--executor", executor]
    t0 = time.perf_counter()
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def import_cpu_s() -> float:
    """CPU seconds a fresh interpreter spends importing what a worker imports (what a spawned worker pays)."""
    code = (
        f"import resource, {WORKER_MODULES[0]}; r = resource.getrusage(resource.RUSAGE_SELF); "
        "print(r.ru_utime + r.ru_stime)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(done.stdout)


def main() -> None:
    """Run the configurations and write the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--hours", type=int, default=168)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "sweep.md")
    args = parser.parse_args()
    rows, workers, reference = [], [], None
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        sweep = Path(tmp) / "sweep.toml"
        sweep.write_text(sweep_text(args.runs, args.hours), encoding="utf-8")
        for i, (name, make) in enumerate(configurations().items()):
            wall_s, created, runs, load = timed(make, sweep, Path(tmp) / f"c{i}")
            assert (runs["status"] == "ok").all(), runs["error"].tolist()
            if reference is None:
                reference = kpis(runs)
            pd.testing.assert_frame_equal(kpis(runs), reference, check_exact=True)
            cpu_s = float(runs["run_seconds"].sum())
            rows.append((name, wall_s, cpu_s, load))
            workers.append((name, per_worker(runs, created)))
            print(f"{name}: {wall_s:.1f} s wall, runs {cpu_s:.1f} s summed, load {load:.2f}", flush=True)
        cli = []
        for executor in ("serial", "local", "dask"):
            load = os.getloadavg()[0]
            wall_s = cli_wall_s(sweep, Path(tmp) / f"cli-{executor}", executor)
            cli.append((executor, wall_s, load))
            print(f"wattbit sweep --executor {executor}: {wall_s:.1f} s wall, load {load:.2f}", flush=True)
    imports = import_cpu_s()
    load_end = os.getloadavg()
    base = rows[0][1]
    lines = [
        "# Sweep scaling",
        "",
        f"`benchmarks/bench_sweep.py --runs {args.runs} --hours {args.hours}`, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}. Sweep: japan-2022 "
        f"simulate, {args.hours} h from 2022-04-10, {args.runs} runs (policy x seed x cooling). Load average "
        f"(1, 5, 15 min) at the start {load_start[0]:.2f}, {load_start[1]:.2f}, {load_start[2]:.2f}; at the end "
        f"{load_end[0]:.2f}, {load_end[1]:.2f}, {load_end[2]:.2f}. A fresh interpreter spends {imports:.1f} CPU-s "
        f"importing `{WORKER_MODULES[0]}`.",
        "",
        "| executor | wall [s] | sum of run times [s] | speed-up | load avg (1 min) before |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, wall_s, cpu_s, load1 in rows:
        lines.append(f"| {name} | {wall_s:.1f} | {cpu_s:.1f} | {base / wall_s:.2f}x | {load1:.2f} |")
    lines += [
        "",
        "The same sweep as a user runs it, `wattbit sweep SWEEP --executor E` in a new process (its imports, and "
        "the workers' start, included; 2 CPUs give 2 local processes or 2 Dask workers):",
        "",
        "| `--executor` | wall [s] | speed-up | load avg (1 min) before |",
        "|---|---:|---:|---:|",
    ]
    for executor, wall_s, load1 in cli:
        lines.append(f"| {executor} | {wall_s:.1f} | {cli[0][1] / wall_s:.2f}x | {load1:.2f} |")
    lines += [
        "",
        "Where the time goes, per worker process [s]: start-up is from the executor's creation to the worker's "
        "first run; the first run parses the data files, later runs find them in the worker's cache; the idle tail "
        "is from the worker's last run to the end of the last run.",
        "",
        "| executor | worker (pid) | start-up | runs | first run | later runs (mean) | idle tail |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, table in workers:
        for w in table.itertuples():
            lines.append(
                f"| {name} | {w.worker} | {w.startup_s:.2f} | {w.runs} | {w.first_run_s:.2f} | "
                f"{w.later_runs_mean_s:.2f} | {w.idle_tail_s:.2f} |"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

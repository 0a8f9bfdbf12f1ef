"""Monte Carlo scaling: 200 draws of the example project through each executor, 1 and 2 workers.

Each draw (``montecarlo_project.ExampleProject``) rebuilds the site's hourly facility load for the drawn
demand, solves the battery dispatch for the year as a linear programme with HiGHS (``scipy.optimize.linprog``,
8,760 hours, 35,040 variables) under the drawn prices and carbon, and evaluates the 20-year project finance.

Usage::

    .venv/bin/python benchmarks/bench_montecarlo.py [--draws 200] [--workers 1,2] [--backends local,dask] \
        [--out benchmarks/results/montecarlo.md]

For every configuration it measures the start-up (pool or cluster start, workers importing wattbit and loading
the site's year, on a few warm-up draws) apart from the timed run of ``--draws`` draws on warm workers, and checks
that every configuration returns exactly the same table. Speed-up is against the in-process run
(``LocalExecutor(workers=1)``); parallel efficiency = speed-up / workers. BLAS and OpenMP are held to one thread
per process so that a worker is one core. Not a test: the numbers depend on the machine and on what else runs on it
(the load average is recorded before and after each run).
"""

from __future__ import annotations

import os
import sys

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from montecarlo_project import ExampleProject  # noqa: E402

from wattbit.montecarlo.engine import MonteCarloResult, UncertaintySpec, run_monte_carlo  # noqa: E402
from wattbit.parallel import DaskExecutor, Executor, LocalExecutor, available_cpus  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SEED = 2026
OUTPUTS = ("npv_jpy", "irr", "carbon_t_per_year", "cost_jpy_per_gpu_hour", "energy_cost_jpy_per_year")
SCALES = {"npv_jpy": (1e9, " (bn JPY)"), "energy_cost_jpy_per_year": (1e6, " (M JPY)")}


@dataclass(frozen=True)
class Timed:
    """The model, plus the CPU and wall seconds its call took inside the worker (outputs ``_cpu_s``, ``_wall_s``)."""

    model: ExampleProject

    def __call__(self, draw: dict[str, float]) -> dict[str, float]:
        cpu, wall = time.process_time(), time.perf_counter()
        out = self.model(draw)
        return {**out, "_cpu_s": time.process_time() - cpu, "_wall_s": time.perf_counter() - wall}


@dataclass
class Run:
    """One configuration's measurements."""

    backend: str
    workers: int
    startup_s: float
    run_s: float
    load_before: float
    load_after: float
    table: pd.DataFrame

    @property
    def busy_s(self) -> float:
        """Seconds the workers spent inside the model (wall), summed over draws."""
        return float(self.table["_wall_s"].sum())

    @property
    def cpu_s(self) -> float:
        """CPU seconds of the model calls, summed over draws."""
        return float(self.table["_cpu_s"].sum())


def _load() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def _make(backend: str, workers: int, start_method: str) -> Executor:
    if backend == "local":
        return LocalExecutor(workers=workers, start_method=start_method)
    return DaskExecutor(n_workers=workers)


def measure(backend: str, workers: int, draws: int, start_method: str) -> Run:
    """Start-up with ``2 x workers`` warm-up draws, then the timed run of ``draws`` draws."""
    model, spec = Timed(ExampleProject()), UncertaintySpec()
    t0 = time.perf_counter()
    executor = _make(backend, workers, start_method)
    try:
        run_monte_carlo(model, spec, 2 * workers, SEED + 1, executor)  # workers import, load the year, solve once
        startup = time.perf_counter() - t0
        before = _load()
        t1 = time.perf_counter()
        result = run_monte_carlo(model, spec, draws, SEED, executor)
        elapsed = time.perf_counter() - t1
        return Run(backend, workers, startup, elapsed, before, _load(), result.table)

    finally:
        executor.close()


def start_methods(workers: int) -> dict[str, float]:
    """Seconds from creating a local pool to its first results (2 draws per worker), per start method."""
    out = {}
    for method in ("spawn", "forkserver", "fork"):
        t0 = time.perf_counter()
        with LocalExecutor(workers=workers, start_method=method) as ex:
            run_monte_carlo(ExampleProject(), UncertaintySpec(), 2 * workers, SEED + 1, ex)
        out[method] = time.perf_counter() - t0
    return out


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import dask
    import distributed

    return {
        "cpu": cpu,
        "cpus": available_cpus(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "dask": dask.__version__,
        "distributed": distributed.__version__,
    }


def report(runs: list[Run], methods: dict[str, float], info: dict[str, Any], draws: int) -> str:
    """The results as Markdown."""
    base = runs[0]
    lines = [
        f"Monte Carlo of the example project, {draws} draws (seed {SEED}), "
        f"{info['cpus']} CPUs available ({info['cpu']}); Python {info['python']}, NumPy {info['numpy']}, "
        f"SciPy {info['scipy']} (HiGHS), dask/distributed {info['dask']}/{info['distributed']}. "
        f"One draw: {base.cpu_s / draws * 1000:.0f} ms of CPU.",
        "",
        "| executor | workers | start-up s | run s | draws/s | speed-up | efficiency | workers busy | "
        "model wall/CPU | load avg before / after |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        speedup = base.run_s / r.run_s
        name = "in-process" if r is base else r.backend
        lines.append(
            f"| {name} | {r.workers} | {r.startup_s:.1f} | {r.run_s:.1f} | {draws / r.run_s:.2f} | "
            f"{speedup:.2f} | {speedup / r.workers:.0%} | {r.busy_s / (r.workers * r.run_s):.0%} | "
            f"{r.busy_s / r.cpu_s:.2f} | {r.load_before:.1f} / {r.load_after:.1f} |"
        )
    lines += [
        "",
        "Speed-up = in-process run s / run s; efficiency = speed-up / workers. *Workers busy* = time inside the model "
        "summed over draws / (workers x run s): the share of the run the executor kept its workers computing. "
        "*Model wall/CPU* = wall / CPU time inside the model: 1.0 when each worker had a core to itself, higher when "
        "other processes took CPU from it.",
    ]
    summary = MonteCarloResult(base.table, (), OUTPUTS, SEED).summary()
    lines += ["", "What the draws give (default `UncertaintySpec`, the same on every executor):", ""]
    lines += ["| output | mean | P10 | P50 | P90 |", "|---|---|---|---|---|"]
    for name in OUTPUTS:
        row = summary.loc[name]
        scale, unit = SCALES.get(name, (1.0, ""))
        cells = " | ".join(f"{row[k] / scale:,.4g}" for k in ("mean", "p10", "p50", "p90"))
        lines.append(f"| {name}{unit} | {cells} |")
    if methods:
        shown = ", ".join(f"{k} {v:.1f} s" for k, v in methods.items())
        lines += ["", f"Local pool start-up to first results (2 workers, 4 draws), by start method: {shown}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run the configurations and print (and optionally write) the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--backends", default="local,dask", help="comma-separated: local, dask")
    parser.add_argument("--start-method", default="spawn", choices=["spawn", "fork", "forkserver"])
    parser.add_argument("--no-start-methods", action="store_true", help="skip the start-method comparison")
    parser.add_argument("--out", type=Path, default=None, help="write the Markdown table here")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    configs = [("local", 1)] + [(b, w) for b in args.backends.split(",") for w in counts if (b, w) != ("local", 1)]
    runs = []
    for backend, workers in configs:  # the in-process run first: the baseline of the speed-ups
        run = measure(backend, workers, args.draws, args.start_method)
        print(f"{backend:5s} workers={workers}: start-up {run.startup_s:.1f} s, run {run.run_s:.1f} s", flush=True)
        runs.append(run)
    timing = ["_cpu_s", "_wall_s"]
    for run in runs[1:]:  # the same seed gives the same table on every executor
        pd.testing.assert_frame_equal(
            runs[0].table.drop(columns=timing), run.table.drop(columns=timing), check_exact=True
        )
    methods = {} if args.no_start_methods else start_methods(2)
    text = report(runs, methods, machine(), args.draws)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()

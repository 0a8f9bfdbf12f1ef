"""Planner benchmark: an hourly plan over 5 candidate sites and 8,760 hours (target: solved in <= 60 s).

Usage::

    .venv/bin/python benchmarks/bench_plan.py [--scenario examples/japan-plan.toml] [--variants all]
                                              [--monolithic-hours 168] [--json OUT.json]

What it does:

1. Builds the planning problem of the scenario (default ``examples/japan-plan.toml``: Okuma, Ishikari, Tomakomai,
   Inzai and Kitakyushu over calendar 2022, hourly; 8 design options), timing the inputs (signals from the public
   files, site physics per site and option, PV and wind) apart from the optimisation.
2. Solves it with the decomposition (``wattbit.opt.capacity.solve``, Benders with one HiGHS LP per site) in several
   variants of the constraints — as in the file (site share, latency, 50 % hourly clean energy), none, a carbon cap,
   the ``npv`` objective — and reports wall time, iterations, final gap, and the chosen capacities.
3. Solves the first ``--monolithic-hours`` hours with both methods (the monolithic linopy model and the
   decomposition), to check they agree and to show how the monolithic model's time grows.

Times are wall-clock on whatever else the machine runs: the machine line gives the load average. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import highspy
import numpy as np

from wattbit.opt.capacity import CapacityProblem, TargetStage, solve_capacity
from wattbit.plan.evaluate import tco_per_year
from wattbit.plan.inputs import build_problem
from wattbit.scenario import load_scenario

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 60.0


def variants(problem: CapacityProblem) -> dict[str, CapacityProblem]:
    """The constraint variants timed."""
    bare = replace(problem, min_clean_energy_share=None, max_site_share=None)
    return {
        "as in the file (site share, 50 % hourly CFE)": problem,
        "site share only": replace(problem, min_clean_energy_share=None),
        "no optional constraints": bare,
        "carbon cap 250,000 t/yr": replace(bare, carbon_cap_t_per_year=250_000.0),
        "npv objective": replace(bare, objective="npv"),
    }


def first_hours(problem: CapacityProblem, hours: int) -> CapacityProblem:
    """``p`` over its first ``hours`` hours (each then stands for 8,760 / hours of a year)."""
    h = slice(0, hours)
    return replace(
        problem,
        facility_mw_per_it_mw=problem.facility_mw_per_it_mw[:, :, h],
        pv_mw_per_mw=problem.pv_mw_per_mw[:, h],
        wind_mw_per_mw=problem.wind_mw_per_mw[:, h],
        price_per_mwh=problem.price_per_mwh[:, h],
        carbon_t_per_mwh=problem.carbon_t_per_mwh[:, h],
        cfe_fraction=problem.cfe_fraction[:, h],
        stages=tuple(TargetStage(s.size, s.available, s.label) for s in problem.stages),
    )


def cpu_s() -> float:
    """CPU seconds of this process so far, all threads (the solver's site threads included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed_solve(problem: CapacityProblem, method: str) -> dict[str, Any]:
    t0, c0, load0 = time.perf_counter(), cpu_s(), os.getloadavg()[0]
    sol = solve_capacity(problem, method)  # type: ignore[arg-type]
    wall = time.perf_counter() - t0
    built = [
        f"{problem.sites[i]} {sol.it_mw[i].sum():.1f} MW IT / PV {sol.pv_mw[i]:.1f} / bat {sol.battery_mwh[i]:.1f} MWh"
        for i in np.flatnonzero(sol.it_mw.sum(axis=1) > 1e-6)
    ]
    return {
        "method": method,
        "wall_s": wall,
        "cpu_s": cpu_s() - c0,
        "load_before_after": (load0, os.getloadavg()[0]),
        "status": sol.status,
        "gap": sol.mip_gap,
        "tco_per_year": tco_per_year(problem, sol),
        "built": built,
    }


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "highs": highspy.Highs().version(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=str(REPO / "examples" / "japan-plan.toml"))
    parser.add_argument("--variants", default="all", help="'all' or the indices of the variants to run, e.g. 0,1")
    parser.add_argument("--monolithic-hours", type=int, default=168)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    out: dict[str, Any] = {"machine": machine(), "scenario": args.scenario}
    print(f"machine: {out['machine']}")
    t0, c0 = time.perf_counter(), cpu_s()
    problem, _ = build_problem(load_scenario(args.scenario))
    inputs_s = time.perf_counter() - t0
    out["inputs_s"], out["inputs_cpu_s"] = inputs_s, cpu_s() - c0
    out["size"] = {"sites": len(problem.sites), "options": len(problem.options), "hours": problem.hours}
    print(f"inputs: {inputs_s:.1f} s (CPU {out['inputs_cpu_s']:.1f} s) for {len(problem.sites)} sites x "
          f"{len(problem.options)} options x {problem.hours} h")  # fmt: skip
    runs = list(variants(problem).items())
    if args.variants != "all":
        runs = [runs[int(i)] for i in args.variants.split(",")]
    out["variants"] = {}
    for name, p in runs:
        r = timed_solve(p, "decomposed")
        out["variants"][name] = r
        flag = "ok" if r["wall_s"] <= TARGET_S else f"over {TARGET_S:.0f} s"
        print(
            f"{name}: {r['wall_s']:.1f} s ({flag}), CPU {r['cpu_s']:.1f} s, load {r['load_before_after']}, "
            f"{r['status']}, TCO {r['tco_per_year'] / 1e9:,.4f} bn/yr; with the inputs {inputs_s + r['wall_s']:.1f} s"
        )
        for line in r["built"]:
            print(f"    {line}")
    if args.monolithic_hours:
        short = first_hours(replace(problem, min_clean_energy_share=None), args.monolithic_hours)
        both = {m: timed_solve(short, m) for m in ("monolithic", "decomposed")}
        out["first_hours"] = {"hours": args.monolithic_hours, **both}
        rel = (
            abs(both["monolithic"]["tco_per_year"] - both["decomposed"]["tco_per_year"])
            / both["monolithic"]["tco_per_year"]
        )
        print(
            f"first {args.monolithic_hours} h, site share 0.5: monolithic {both['monolithic']['wall_s']:.1f} s, "
            f"decomposed {both['decomposed']['wall_s']:.1f} s, TCO differs by {rel:.1e}"
        )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

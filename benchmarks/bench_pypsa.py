"""Peer benchmark: the planner's capacity programme and PyPSA side by side on one site's co-sizing problem.

Usage::

    .venv/bin/python benchmarks/bench_pypsa.py [--site ishikari] [--it-mw 30] [--repeat 3] [--peer-venv DIR]

1. Builds the planning problem of ``examples/japan-plan.toml`` (real 2022 hourly weather, grid carbon and JEPX prices;
   facility power per MW of IT from the site physics; PV and wind output per MW from pvlib and windpowerlib; the
   documented cost defaults) and keeps one site with its cheapest design option and a fixed IT load (``--it-mw``):
   what is left to choose is PV, wind, battery energy and power, and the grid connection, with an hourly dispatch
   over the 8,760 hours of 2022.
2. Solves it with wattbit's capacity programme (``wattbit.opt.solve_capacity``), both methods: the monolithic linopy
   model and the Benders decomposition.
3. Writes the same numbers (load, output per MW, prices, equivalent annual costs, limits, battery efficiencies) to a
   file and solves the same problem in PyPSA (``peer_pypsa.py``) in a virtualenv of its own (``--peer-venv``,
   created with ``pip install pypsa highspy`` if missing; PyPSA is never a dependency of wattbit). Both use HiGHS.
4. Reports both optima (wattbit's objective less the fixed IT and site costs, which PyPSA does not see), their
   relative difference (target: within 0.1 %), the capacities, and the wall times and their ratio (best of
   ``--repeat``, each in this process for wattbit and in a fresh process for PyPSA, model building included).

Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from wattbit.opt.capacity import CapacityProblem, TargetStage, solve_capacity, unit_costs
from wattbit.plan.inputs import build_problem
from wattbit.scenario import load_scenario

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def ensure_peer_venv(venv: Path) -> str:
    """A virtualenv at ``venv`` with PyPSA and highspy; returns PyPSA's version."""
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import importlib.metadata as m, pypsa, highspy; print(m.version('pypsa'))"]
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    if subprocess.run(check, capture_output=True).returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "pypsa", "highspy"], check=True)
    return subprocess.run(check, capture_output=True, text=True, check=True).stdout.strip()


def single_site(problem: CapacityProblem, site: str, it_mw: float, battery_cost_scale: float) -> CapacityProblem:
    """``problem`` cut to ``site`` and its cheapest allowed option, with exactly ``it_mw`` of IT to host.

    The build decision is continuous: hosting ``it_mw`` at a site whose IT limit is ``it_mw`` forces it to 1, so the
    problem is the same LP that PyPSA solves (a binary would make HiGHS run its MILP machinery for nothing). Battery
    costs are multiplied by ``battery_cost_scale`` (1: the documented defaults).
    """
    s = problem.sites.index(site)
    options = np.flatnonzero(problem.allowed[s])
    o = int(options[np.argmin(problem.it_cost_per_mw[s, options])])
    one = (slice(s, s + 1),)
    return replace(
        problem,
        sites=(site,),
        options=(problem.options[o],),
        facility_mw_per_it_mw=problem.facility_mw_per_it_mw[s : s + 1, o : o + 1],
        allowed=np.ones((1, 1), bool),
        gpus_per_it_mw=problem.gpus_per_it_mw[s : s + 1, o : o + 1],
        it_cost_per_mw=problem.it_cost_per_mw[s : s + 1, o : o + 1],
        max_it_mw=np.array([it_mw]),
        stages=(TargetStage(it_mw, np.ones(1, bool), "fixed IT"),),
        target_unit="it_mw",
        objective="tco",
        carbon_cap_t_per_year=None,
        min_clean_energy_share=None,
        max_site_share=None,
        mip_rel_gap=1e-7,
        integer_build=False,
        **{
            name: getattr(problem, name)[one]
            for name in (
                "pv_mw_per_mw",
                "wind_mw_per_mw",
                "price_per_mwh",
                "carbon_t_per_mwh",
                "cfe_fraction",
                "max_pv_mw",
                "max_wind_mw",
                "max_battery_mwh",
                "max_connection_mw",
                "pv_cost_per_mw",
                "wind_cost_per_mw",
                "connection_cost_per_mw",
                "site_cost",
            )
        },
        battery_cost_per_mwh=problem.battery_cost_per_mwh[s : s + 1] * battery_cost_scale,
        battery_cost_per_mw=problem.battery_cost_per_mw[s : s + 1] * battery_cost_scale,
    )


def peer_inputs(problem: CapacityProblem, it_mw: float) -> dict[str, Any]:
    """The arrays ``peer_pypsa.py`` reads."""
    if problem.hours != 8760:
        raise SystemExit(f"the peer comparison assumes a full non-leap year of hours, got {problem.hours}")
    costs = unit_costs(problem, with_revenue=False)
    return {
        "load_mw": problem.facility_mw_per_it_mw[0, 0] * it_mw,
        "pv_cf": problem.pv_mw_per_mw[0],
        "wind_cf": problem.wind_mw_per_mw[0],
        "price": problem.price_per_mwh[0],
        "pv_cost": costs.pv_per_mw[0],
        "wind_cost": costs.wind_per_mw[0],
        "battery_cost_mwh": costs.battery_per_mwh[0],
        "battery_cost_mw": costs.battery_per_mw[0],
        "connection_cost": costs.connection_per_mw[0],
        "pv_max": problem.max_pv_mw[0],
        "wind_max": problem.max_wind_mw[0],
        "battery_max_mwh": min(problem.max_battery_mwh[0], 1e9),
        "connection_max": problem.max_connection_mw[0],
        "eta_charge": problem.battery.charge_efficiency,
        "eta_discharge": problem.battery.discharge_efficiency,
        "soc_min": problem.battery.soc_min,
    }


def run_wattbit(problem: CapacityProblem, method: str, repeat: int) -> dict[str, Any]:
    """Best-of-``repeat`` wall time and the optimum less the fixed IT and site costs."""
    best, solution = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        solution = solve_capacity(problem, method, rel_gap=1e-7)  # type: ignore[arg-type]
        best = min(best, time.perf_counter() - t0)
    assert solution is not None
    fixed = float(problem.it_cost_per_mw[0, 0] * solution.it_mw[0, 0] + problem.site_cost[0] * solution.build[0])
    return {
        "objective": solution.objective_per_year - fixed,
        "pv_mw": float(solution.pv_mw[0]),
        "wind_mw": float(solution.wind_mw[0]),
        "connection_mw": float(solution.connection_mw[0]),
        "battery_mwh": float(solution.battery_mwh[0]),
        "battery_mw": float(solution.battery_mw[0]),
        "grid_mwh": float(solution.grid_mw.sum()),
        "wall_s": best,
        "status": solution.status,
    }


def run_peer(python: Path, inputs: dict[str, Any], repeat: int) -> dict[str, Any]:
    """Best-of-``repeat`` PyPSA runs, each in a fresh process of the peer's virtualenv."""
    best: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="wattbit-pypsa-") as tmp:
        data, out = Path(tmp) / "problem.npz", Path(tmp) / "out.json"
        np.savez(data, **{k: np.asarray(v, dtype=float) for k, v in inputs.items()})
        for _ in range(repeat):
            subprocess.run([str(python), str(HERE / "peer_pypsa.py"), str(data), str(out)], check=True)
            result = json.loads(out.read_text(encoding="utf-8"))
            if best is None or result["wall_s"] < best["wall_s"]:
                best = result
    assert best is not None
    return best


def main() -> None:
    """Run the comparison and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default=str(REPO / "examples" / "japan-plan.toml"))
    parser.add_argument("--site", default="ishikari", help="candidate site to co-size (default ishikari)")
    parser.add_argument("--it-mw", type=float, default=30.0, help="fixed IT load [MW at full load]")
    parser.add_argument(
        "--battery-cost-scale", type=float, default=1.0, help="multiply battery costs (e.g. 0.2 to make one pay)"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--peer-venv", type=Path, default=Path("/tmp/peer-pypsa"))
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    args = parser.parse_args()
    version = ensure_peer_venv(args.peer_venv)
    full, _ = build_problem(load_scenario(args.scenario))
    problem = single_site(full, args.site, args.it_mw, args.battery_cost_scale)
    rows = {m: run_wattbit(problem, m, args.repeat) for m in ("monolithic", "decomposed")}
    rows[f"PyPSA {version}"] = run_peer(
        args.peer_venv / "bin" / "python", peer_inputs(problem, args.it_mw), args.repeat
    )
    reference = rows[f"PyPSA {version}"]["objective"]
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, Python {platform.python_version()}")
    print(
        f"problem: {args.site}, {problem.options[0]}, {args.it_mw:g} MW IT fixed, {problem.hours} h of 2022, "
        f"battery costs x{args.battery_cost_scale:g}"
    )
    print(
        f"{'solver':22s} {'objective/yr':>18s} {'vs PyPSA':>9s} {'PV MW':>8s} {'wind MW':>8s} {'bat MWh':>8s} "
        f"{'bat MW':>7s} {'grid MW':>8s} {'wall s':>7s}"
    )
    for name, r in rows.items():
        diff = (r["objective"] - reference) / abs(reference)
        print(
            f"{name:22s} {r['objective']:18,.0f} {diff:+9.2e} {r['pv_mw']:8.2f} {r['wind_mw']:8.2f} "
            f"{r['battery_mwh']:8.2f} {r['battery_mw']:7.2f} {r['connection_mw']:8.2f} {r['wall_s']:7.2f}"
        )
    for m in ("monolithic", "decomposed"):
        print(f"time ratio PyPSA / wattbit {m}: {rows[f'PyPSA {version}']['wall_s'] / rows[m]['wall_s']:.2f}")
    if args.json:
        setup = {"site": args.site, "it_mw": args.it_mw, "battery_cost_scale": args.battery_cost_scale}
        args.json.write_text(json.dumps({**setup, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()

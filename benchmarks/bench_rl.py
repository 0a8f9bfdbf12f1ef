"""Reinforcement-learning environment benchmarks (issue 16): environment steps per second on japan-2022.

Usage::

    .venv/bin/python benchmarks/bench_rl.py [--steps 8760] [--batch 8,32] [--check] [--json OUT] [--profile 1000]
        [--dc-rl /work/peer-sustaindc/dc-rl --peer-venv /work/peer-sustaindc/venv --peer-steps 5000]

Cases, each with the neutral action (admit everything, no cap, battery on the baseline's rule) at the default
one-hour control interval (4 engine steps of 15 minutes), from the start of the built-in ``japan-2022`` year:

* ``WattbitEnv``: the reference environment (an :class:`~wattbit.sim.policy.Observation` per engine step, the
  interval's physics per step);
* ``LeanWattbitEnv``: one run on the lean hot path (:mod:`wattbit.rl.lean`);
* ``WattbitVectorEnv`` with N runs (seeds 2022, 2023, ...): steps per second summed over the batch.

``--steps`` environment steps per case (default a whole year, 8,760; the reference environment is given at most
2,000 unless ``--steps`` is smaller, and its rate is per step either way). Times are wall and CPU time of the
stepping only (building the scenario's inputs, ``reset`` and one warm-up step, in which the engine's compiled
kernels load, excluded and reported apart as setup). ``--profile N`` also profiles N lean steps and prints the
shares of the engine's steps, the reward, the observation, the action decoding and the rest. ``--check`` also runs the
whole year on the lean environment and compares its final ``summary`` with ``wattbit simulate``'s baseline (they
must be equal, key for key). Targets (issue 16): >= 10,000 steps/s for one environment, >= 50,000 summed over a
batch, on this 2-core machine. Not a test: numbers depend on the machine and its load.

With ``--dc-rl`` (a checkout of https://github.com/HewlettPackard/dc-rl), HPE's SustainDC is stepped in the same
run, in its own virtualenv (``--peer-venv``; created with ``pip install`` of what its environment imports if
missing; never a wattbit dependency) by ``benchmarks/peer_sustaindc.py``, with dc-rl's "do nothing" actions;
its rate is compared per site-step (one SustainDC step: one data centre for 15 minutes; one wattbit environment
step at the default interval: 3 sites for 4 steps of 15 minutes, 12 site-steps).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engine import describe_machine, machine_info

REFERENCE_STEPS = 2000
PEER_SCRIPT = Path(__file__).resolve().parent / "peer_sustaindc.py"
#: What SustainDC's environment imports on its stepping path (PyTorch and Dash stubbed: peer_sustaindc.py).
PEER_PACKAGES = ("numpy", "pandas", "gymnasium", "psychrolib", "matplotlib")


def _timed(step: Any, steps: int) -> tuple[float, float, int]:
    """Call ``step()`` up to ``steps`` times (it returns True when the episode ended); (wall [s], CPU [s], steps)."""
    t0, c0 = time.perf_counter(), time.process_time()
    done = 0
    for _ in range(steps):
        done += 1
        if step():
            break
    return time.perf_counter() - t0, time.process_time() - c0, done


def bench_single(kind: str, steps: int) -> dict[str, Any]:
    """One environment stepped with the neutral action."""
    from wattbit.rl import WattbitEnv, neutral_action
    from wattbit.rl.vector import LeanWattbitEnv
    from wattbit.scenario import load_scenario

    scenario = load_scenario("japan-2022")
    t = time.perf_counter()
    env = WattbitEnv(scenario) if kind == "WattbitEnv" else LeanWattbitEnv(scenario)
    env.reset()
    action = neutral_action(len(scenario.sites)).astype("float32")
    env.step(action)  # warm-up: the engine's compiled kernels load on first use
    setup = time.perf_counter() - t
    last: dict[str, Any] = {}

    def step() -> bool:
        _, _, terminated, _, info = env.step(action)
        last.update(info)
        return bool(terminated)

    wall, cpu, done = _timed(step, steps)
    out = {"case": kind, "runs": 1, "env_steps": done, "wall_s": wall, "cpu_s": cpu, "setup_s": setup}
    if "summary" in last:
        out["summary"] = {k: v for k, v in last["summary"].items() if isinstance(v, int | float | str)}
    return out


def bench_batch(n: int, steps: int) -> dict[str, Any]:
    """``n`` runs stepped together with the neutral action."""
    import numpy as np

    from wattbit.rl import neutral_action
    from wattbit.rl.vector import WattbitVectorEnv
    from wattbit.scenario import load_scenario

    scenario = load_scenario("japan-2022")
    t = time.perf_counter()
    env = WattbitVectorEnv(scenario, n)
    env.reset()
    actions = np.tile(neutral_action(len(scenario.sites)), (n, 1))
    env.step(actions)  # warm-up, as in bench_single
    setup = time.perf_counter() - t

    def step() -> bool:
        return bool(env.step(actions)[2].all())

    wall, cpu, done = _timed(step, steps)
    return {
        "case": f"WattbitVectorEnv N={n}",
        "runs": n,
        "env_steps": done * n,
        "wall_s": wall,
        "cpu_s": cpu,
        "setup_s": setup,
    }


#: The parts of a lean environment step that ``--profile`` reports: (label, module file suffix, function name).
PROFILE_PARTS = (
    ("engine steps and the job rule (LeanRun.interval)", "rl/lean.py", "interval"),
    ("reward: compiled site physics, misses (measure_batch)", "rl/batch_reward.py", "measure_batch"),
    ("observation (BatchEncoder)", "rl/lean.py", "__call__"),
    ("action decoding (LeverDecoder)", "rl/dispatch.py", "__call__"),
)


def profile_lean(steps: int) -> dict[str, float]:
    """Shares of a lean environment step's time by part (cProfile, cumulative time), after ``steps`` steps."""
    import cProfile
    import pstats

    from wattbit.rl import neutral_action
    from wattbit.rl.vector import LeanWattbitEnv
    from wattbit.scenario import load_scenario

    env = LeanWattbitEnv(load_scenario("japan-2022"))
    env.reset()
    action = neutral_action(3).astype("float32")
    env.step(action)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        env.step(action)
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = sum(tt for (_, _, _), (_, _, tt, _, _) in stats.items())
    shares = {}
    for label, suffix, name in PROFILE_PARTS:
        cum = sum(ct for (f, _, fn), (_, _, _, ct, _) in stats.items() if f.endswith(suffix) and fn == name)
        shares[label] = cum / total
    shares["the rest (environment wrappers, info, rewards)"] = 1.0 - sum(shares.values())
    return shares


def ensure_peer_venv(venv: Path) -> None:
    """A virtualenv at ``venv`` with SustainDC's stepping imports (:data:`PEER_PACKAGES`)."""
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import " + ", ".join(PEER_PACKAGES)]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return
    print(f"creating {venv} for SustainDC", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PEER_PACKAGES], check=True)


def bench_sustaindc(dc_rl: Path, venv: Path, steps: int) -> dict[str, Any]:
    """SustainDC stepped ``steps`` times in its own virtualenv (``peer_sustaindc.py``)."""
    ensure_peer_venv(venv)
    out = subprocess.run(
        [str(venv / "bin" / "python"), str(PEER_SCRIPT), str(dc_rl), "--steps", str(steps)],
        capture_output=True,
        text=True,
        check=True,
    )
    peer = json.loads(out.stdout.strip().splitlines()[-1])
    return {
        "case": "SustainDC (HPE dc-rl), 1 site",
        "runs": 1,
        "env_steps": peer["steps"],
        "site_steps_per_env_step": 1,
        "wall_s": peer["wall_s"],
        "cpu_s": peer["cpu_s"],
        "setup_s": peer["setup_s"],
        "peer": peer,
    }


def check_baseline(lean: dict[str, Any]) -> dict[str, Any]:
    """Differences between the lean environment's year summary and ``simulate``'s baseline (should be none)."""
    from wattbit.control import make_policy
    from wattbit.scenario import load_scenario
    from wattbit.sim.run import simulate

    base = simulate(load_scenario("japan-2022"), make_policy("baseline")).summary
    skip = ("wall_seconds", "policy")
    ours = lean["summary"]
    diff = [k for k in ours if k not in skip and k in base and ours[k] != base[k]]
    return {"keys_compared": len([k for k in ours if k not in skip]), "different": diff}


def _site_steps_per_cpu_s(case: dict[str, Any]) -> float:
    return case["env_steps"] * case.get("site_steps_per_env_step", 4 * 3) / case["cpu_s"]


def report(cases: list[dict[str, Any]], machine: dict[str, Any]) -> str:
    """Markdown table of the cases (with SustainDC among them, each case's site-step rate as a multiple of its)."""
    peer = next((c for c in cases if c["case"].startswith("SustainDC")), None)
    lines = [f"Machine: {describe_machine(machine)}.", ""]
    lines += [
        "| environment | runs | env steps | wall [s] | CPU [s] | env steps/s (wall) | env steps/s (CPU) | "
        "site-steps/s (CPU) | per site-step ÷ SustainDC | setup [s] |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in cases:
        rate = _site_steps_per_cpu_s(c)
        ratio = f"{rate / _site_steps_per_cpu_s(peer):,.1f}" if peer is not None else "—"
        lines.append(
            f"| {c['case']} | {c['runs']} | {c['env_steps']:,} | {c['wall_s']:.2f} | {c['cpu_s']:.2f} | "
            f"{c['env_steps'] / c['wall_s']:,.0f} | {c['env_steps'] / c['cpu_s']:,.0f} | "
            f"{rate:,.0f} | {ratio} | {c['setup_s']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Run the cases and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8760, help="environment steps per case (a year: 8,760)")
    parser.add_argument("--batch", default="8,32", help="comma-separated batch sizes")
    parser.add_argument("--check", action="store_true", help="compare the lean year with simulate's baseline")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--dc-rl", type=Path, default=None, help="checkout of HewlettPackard/dc-rl (SustainDC)")
    parser.add_argument("--peer-venv", type=Path, default=Path("/work/peer-sustaindc/venv"))
    parser.add_argument("--peer-steps", type=int, default=5000, help="SustainDC steps")
    parser.add_argument("--profile", type=int, default=0, help="also profile this many lean steps (shares by part)")
    args = parser.parse_args()
    machine = machine_info()
    print(describe_machine(machine), flush=True)
    cases = [bench_single("WattbitEnv", min(args.steps, REFERENCE_STEPS)), bench_single("LeanWattbitEnv", args.steps)]
    for c in cases:
        print(f"  {c['case']}: {c['env_steps']} steps, {c['wall_s']:.2f} s wall, {c['cpu_s']:.2f} s CPU", flush=True)
    for n in (int(x) for x in args.batch.split(",") if x):
        cases.append(bench_batch(n, max(1, args.steps // n)))
        c = cases[-1]
        print(f"  {c['case']}: {c['env_steps']} steps, {c['wall_s']:.2f} s wall, {c['cpu_s']:.2f} s CPU", flush=True)
    if args.dc_rl is not None:
        cases.append(bench_sustaindc(args.dc_rl, args.peer_venv, args.peer_steps))
        c = cases[-1]
        print(f"  {c['case']}: {c['env_steps']} steps, {c['wall_s']:.2f} s wall, {c['cpu_s']:.2f} s CPU", flush=True)
    machine["load_1min_after"] = round(os.getloadavg()[0], 2)
    out: dict[str, Any] = {"machine": machine, "cases": cases}
    if args.profile:
        out["profile_lean"] = profile_lean(args.profile)
        print(f"\nwhere a lean step's time goes ({args.profile} steps, cProfile):")
        for label, share in out["profile_lean"].items():
            print(f"  {share:6.1%}  {label}")
    if args.check:
        out["check"] = check_baseline(cases[1]) if "summary" in cases[1] else {"error": "the lean run did not end"}
        print(f"\nlean year vs simulate baseline: {out['check']}")
    print()
    print(report(cases, machine))
    print(f"\n1-min load average before {machine['load_1min']}, after {machine['load_1min_after']}")
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()

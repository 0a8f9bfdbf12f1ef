"""The SustainDC side of ``bench_rl.py``: HPE's dc-rl environment stepped with its do-nothing actions, timed.

Runs in the peer's own virtualenv, never in wattbit's (it needs only what dc-rl's environment imports: numpy,
pandas, gymnasium, psychrolib, matplotlib)::

    /work/peer-sustaindc/venv/bin/python benchmarks/peer_sustaindc.py /work/peer-sustaindc/dc-rl --steps 5000

``DC_RL`` is a checkout of https://github.com/HewlettPackard/dc-rl. Its ``sustaindc_env.py`` imports ``torch``
(only to seed it in ``SustainDC.seed``, which is not called here) and a Dash dashboard (only built when
``is_render`` is set); neither is on the stepping path, so both are replaced by empty modules here instead of
installing PyTorch and Dash, and the module prints which. The environment has the settings of dc-rl's own training
configuration (``harl/configs/envs_cfgs/sustaindc.yaml``: location ``ca``, month 6, 30-day episodes, flexible load
0.6, a 1 MW battery cap; otherwise ``EnvConfig.DEFAULT_CONFIG``: a 1 MW data centre, the Alibaba CPU trace,
15-minute steps), the three agents load shifting, cooling and battery, each given the action dc-rl's own
``utils.base_agents`` calls "do nothing" (1, 1, 2). One SustainDC step is one 15-minute step of one data centre.
Episodes that end are reset and stepping continues; reset time is counted apart.

Prints one JSON line: steps, wall and CPU seconds of the stepping, reset seconds, resets, versions.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import io
import json
import os
import sys
import time
import types

#: dc-rl's training configuration (harl/configs/envs_cfgs/sustaindc.yaml), the keys the environment reads.
CONFIG = {
    "agents": ["agent_ls", "agent_dc", "agent_bat"],
    "location": "ca",
    "workload_file": "Alibaba_CPU_Data_Hourly_1.csv",
    "max_bat_cap_Mw": 1.0,
    "individual_reward_weight": 0.8,
    "flexible_load": 0.6,
    "dc_config_file": "dc_config.json",
    "month": 6,
    "days_per_episode": 30,
}


def _stub_modules() -> list[str]:
    """Empty stand-ins for the imports SustainDC does not use while stepping (module docstring)."""
    stubs = []
    if "torch" not in sys.modules:
        try:
            import torch  # noqa: F401
        except ImportError:
            sys.modules["torch"] = types.ModuleType("torch")
            stubs.append("torch")
    dash = types.ModuleType("harl.envs.sustaindc.dashboard_v2")
    dash.Dashboard = None  # type: ignore[attr-defined]
    for name in ("harl", "harl.envs", "harl.envs.sustaindc"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["harl.envs.sustaindc.dashboard_v2"] = dash
    stubs.append("harl.envs.sustaindc.dashboard_v2")
    return stubs


def main() -> None:
    """Step the environment and print the timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dc_rl", help="checkout of HewlettPackard/dc-rl")
    parser.add_argument("--steps", type=int, default=5000)
    args = parser.parse_args()
    stubs = _stub_modules()
    sys.path.insert(0, os.path.abspath(args.dc_rl))
    os.chdir(args.dc_rl)
    chatter = io.StringIO()  # dc-rl prints warnings about its base agents on construction
    with contextlib.redirect_stdout(chatter):
        from sustaindc_env import SustainDC

        t0 = time.perf_counter()
        env = SustainDC(CONFIG)
        env.reset()
        setup_s = time.perf_counter() - t0
    actions = {"agent_ls": 1, "agent_dc": 1, "agent_bat": 2}
    reset_s, resets, steps = 0.0, 0, 0
    with contextlib.redirect_stdout(chatter):
        w0, c0 = time.perf_counter(), time.process_time()
        while steps < args.steps:
            _, _, terminated, truncated, _ = env.step(actions)
            steps += 1
            if terminated.get("__all__") or truncated.get("__all__"):
                r0 = time.perf_counter()
                env.reset()
                reset_s += time.perf_counter() - r0
                resets += 1
        wall_s, cpu_s = time.perf_counter() - w0, time.process_time() - c0
    commit_file = os.path.join(os.path.abspath(args.dc_rl), "COMMIT")
    commit = open(commit_file).read().strip() if os.path.exists(commit_file) else "unknown"
    versions = {p: importlib.metadata.version(p) for p in ("numpy", "pandas", "gymnasium", "psychrolib")}
    out = {
        "config": CONFIG,
        "steps": steps,
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "reset_s": reset_s,
        "resets": resets,
        "setup_s": setup_s,
        "stubbed": stubs,
        "dc_rl_commit": commit,
        "python": sys.version.split()[0],
        "versions": versions,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()

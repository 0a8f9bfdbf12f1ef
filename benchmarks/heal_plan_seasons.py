"""The live watt-bit loop (mpc deciding, auto mode) beside ``wattbit bench`` over four weeks of japan-2022, one per
season: :func:`wattbit.ops.heal.live_loop.live_vs_bench` per week (the ``plan`` block of ``heal-evaluate``).

Usage: ``PYTHONPATH=src python benchmarks/heal_plan_seasons.py OUT [START ...]`` (default: the four weeks below);
writes ``OUT/START/plan.json`` per week and ``OUT/seasons.json``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from wattbit.ops.heal.live_loop import live_vs_bench
from wattbit.scenario import load_scenario, with_period

WEEKS = (("2022-01-10", "2022-01-17"), ("2022-04-11", "2022-04-18"), ("2022-07-11", "2022-07-18"),
         ("2022-10-01", "2022-10-08"))  # fmt: skip


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    weeks = [w for w in WEEKS if len(sys.argv) < 3 or w[0] in sys.argv[2:]]
    sc = load_scenario("japan-2022")
    res = {}
    for start, end in weeks:
        t0 = time.time()
        d = out / start
        d.mkdir(exist_ok=True)
        r = live_vs_bench(with_period(sc, start, end), d, modes=("auto",), log=lambda m: print(m, flush=True))
        res[start] = r
        (d / "plan.json").write_text(json.dumps(r, indent=2, default=str), encoding="utf-8")
        base, mpc, live = r["bench"]["baseline"], r["bench"]["mpc"], r["live_loop_auto"]
        print(f"{start}..{end}: carbon baseline {base['carbon_t']:.1f} t, bench mpc {mpc['carbon_t']:.1f} t, "
              f"live loop {live['carbon_t']:.1f} t ({time.time() - t0:.0f} s)", flush=True)  # fmt: skip
    (out / "seasons.json").write_text(json.dumps(res, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()

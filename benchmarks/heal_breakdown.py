"""Where the GPU-hours lost of a ``wattbit ops heal-evaluate`` year come from, fault by fault, in both policies.

Runs what ``heal-evaluate`` runs (:func:`wattbit.ops.heal.evaluate.simulate`, then
:func:`~wattbit.ops.heal.evaluate.run_policy` reactive and predictive, default rules) and attributes every kill the
twin's scheduler recorded to the fault behind it: a job ended by a failure under it (``failure on NODE``) to the
fault of that node at that time, a job that died starting on a node with a failed GPU (``black hole NODE``) to the
fault that broke it; the rest of the loss is wattbit's own requeues (work since the last checkpoint when no fresh
one was asked for). Per signature: faults, faults with a precursor, drained ahead (predictive), GPU-hours lost in
each policy; per fault with black-hole kills: kills, jobs and GPU-hours in each policy.

The simulation and replay take most of the time (4-6 CPU-minutes a year); ``--cache FILE`` keeps them in a pickle
(written when missing, read when present) so that the policies can be re-run alone.

Usage: ``PYTHONPATH=src python benchmarks/heal_breakdown.py SCENARIO [--nodes-per-site 16] [--cache FILE]
[--json OUT] [--no-black-hole]``.
"""

from __future__ import annotations

import argparse
import json
import pickle
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd

from wattbit.ops.heal.evaluate import run_policy, simulate
from wattbit.ops.heal.safety import Rules
from wattbit.ops.telemetry.signatures import SIGNATURES
from wattbit.scenario import load_scenario


def _fault_nodes(setup: Any) -> list[dict[str, Any]]:
    inv, labels = setup.inventory, setup.labels_frame()
    fail_s = pd.DatetimeIndex(labels["failure_utc"]).asi8 / 1e9
    out = []
    for i in range(len(labels)):
        f, n = int(labels["first_gpu"].iloc[i]), int(labels["n_gpus"].iloc[i])
        sig = str(labels["signature"].iloc[i])
        out.append({
            "fault": i, "signature": sig, "precursor": SIGNATURES[sig].has_precursor, "time_s": float(fail_s[i]),
            "end_s": float(fail_s[i]) + float(labels["repair_h"].iloc[i]) * 3600.0,
            "nodes": sorted({str(inv.hostnames[k]) for k in inv.node[f : f + n]}),
        })  # fmt: skip
    return out


def _owner(faults: list[dict[str, Any]], node: str, t: float, black_hole: bool) -> int:
    """The fault behind a kill on ``node`` at ``t`` (-1: none found)."""
    for f in faults:
        if node in f["nodes"] and (f["time_s"] <= t <= f["end_s"] if black_hole else abs(f["time_s"] - t) < 900.0):
            return int(f["fault"])
    return -1


def attribute(faults: list[dict[str, Any]], kills: list[tuple[float, str, int, int, float]]) -> dict[int, list[Any]]:
    """Fault -> its kills (time, kind, job, GPUs, GPU-h lost); fault -1 collects what no fault explains."""
    out: dict[int, list[Any]] = defaultdict(list)
    for k in kills:
        black = k[1].startswith("black hole")
        node = k[1].removeprefix("black hole ").removeprefix("failure on ")
        out[_owner(faults, node, k[0], black)].append(("black hole" if black else "failure", *k[2:], k[0]))
    return out


def breakdown(
    scenario: str, nodes_per_site: int, cache: Path | None, log: Any = print, rules: Rules | None = None
) -> dict[str, Any]:
    """The breakdown (see the module docstring); ``rules`` default to :class:`Rules` (black-hole rule on)."""
    rules = rules or Rules()
    if cache is not None and cache.exists():
        setup, alerts = pickle.loads(cache.read_bytes())
    else:
        setup, alerts = simulate(load_scenario(scenario), None, nodes_per_site, log)
        if cache is not None:
            cache.write_bytes(pickle.dumps((setup, alerts)))
    faults = _fault_nodes(setup)
    result: dict[str, Any] = {"scenario": scenario, "faults": len(faults), "rules": rules.__dict__, "policies": {}}
    per_fault: dict[str, dict[int, list[Any]]] = {}
    drained: dict[str, list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        for policy in ("reactive", "predictive"):
            seen: dict[str, Any] = {}

            def keep(tw: Any, store: Any, seen: dict[str, Any] = seen) -> None:
                seen["kills"] = list(tw.kills)
                seen["lost"] = tw.totals()["gpu_hours_lost"]
                seen["drains"] = [(r.target, r.data_time_s) for r in store.actions("applied", limit=1_000_000)
                                  if r.kind == "drain" and r.params.get("cause") == "predicted"]  # fmt: skip

            block = run_policy(setup, alerts, policy, Path(tmp) / f"{policy}.sqlite", rules, inspect=keep)
            per_fault[policy] = attribute(faults, seen["kills"])
            if policy == "predictive":
                for node, t in seen["drains"]:
                    drained[node].append(float(t))
            keys = ("gpu_hours_lost", "jobs_interrupted", "jobs_lost", "drains", "black_hole_drains",
                    "false_black_hole_drains", "false_drains", "false_drains_per_1000_node_days", "black_hole_kills",
                    "loss", "actions_applied")  # fmt: skip
            result["policies"][policy] = {k: block[k] for k in keys}
            log(f"{policy}: {result['policies'][policy]}")
    hold = rules.hold_predicted_s
    sigs: dict[str, dict[str, Any]] = {}
    for f in faults:
        s = sigs.setdefault(f["signature"], {"faults": 0, "precursor": f["precursor"], "drained_ahead": 0,
                                             "reactive_gpu_h": 0.0, "predictive_gpu_h": 0.0})  # fmt: skip
        s["faults"] += 1
        s["drained_ahead"] += any(f["time_s"] - hold <= d < f["time_s"] for n in f["nodes"] for d in drained[n])
        for policy in ("reactive", "predictive"):
            s[f"{policy}_gpu_h"] += sum(k[3] for k in per_fault[policy].get(f["fault"], []))
    for s in sigs.values():
        s["reactive_gpu_h"], s["predictive_gpu_h"] = round(s["reactive_gpu_h"], 1), round(s["predictive_gpu_h"], 1)
    result["by_signature"] = dict(sorted(sigs.items(), key=lambda kv: -kv[1]["reactive_gpu_h"]))
    holes = []
    for f in faults:
        row: dict[str, Any] = {"fault": f["fault"], "signature": f["signature"], "node": ",".join(f["nodes"][:2]),
                               "failure_utc": str(pd.Timestamp(f["time_s"], unit="s"))[:16],
                               "repair_h": round((f["end_s"] - f["time_s"]) / 3600.0, 1)}  # fmt: skip
        for policy in ("reactive", "predictive"):
            ks = [k for k in per_fault[policy].get(f["fault"], []) if k[0] == "black hole"]
            first = [k for k in per_fault[policy].get(f["fault"], []) if k[0] == "failure"]
            last_h = round((max(k[4] for k in ks) - f["time_s"]) / 3600.0, 2) if ks else None
            row[policy] = {"black_hole_kills": len(ks), "jobs": len({k[1] for k in ks}),
                           "gpu_h": round(sum(k[3] for k in ks), 1), "job_on_it_at_failure": bool(first),
                           "last_kill_after_h": last_h}  # fmt: skip
        if row["reactive"]["black_hole_kills"] or row["predictive"]["black_hole_kills"]:
            holes.append(row)
    result["black_holes"] = holes
    result["unexplained_kills"] = {p: len(per_fault[p].get(-1, [])) for p in per_fault}
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scenario")
    ap.add_argument("--nodes-per-site", type=int, default=16)
    ap.add_argument("--cache", type=Path)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--no-black-hole", action="store_true", help="turn the black-hole rule off (as before it)")
    a = ap.parse_args()
    rules = Rules(black_hole_failures=0) if a.no_black_hole else Rules()
    r = breakdown(a.scenario, a.nodes_per_site, a.cache, rules=rules)
    text = json.dumps(r, indent=2)
    if a.json:
        a.json.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()

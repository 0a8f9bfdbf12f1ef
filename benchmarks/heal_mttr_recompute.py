"""MTTR of a finished ``wattbit ops heal-evaluate`` run, recomputed from its audit stores with the fixed pairing.

The year runs of 2026-12-07 were started before :func:`wattbit.ops.heal.evaluate.repair_times_s` paired each fault
with the drain that covers it; this rebuilds the run's fault list (same scenario, seed and scale) and reads the
applied drains and resumes from ``DIR/reactive.sqlite`` and ``DIR/predictive.sqlite``.

With ``--ahead``, also how many faults of each signature the predictive run drained ahead of their failure (a drain
on a prediction within 48 h before it).

Usage: ``PYTHONPATH=src python benchmarks/heal_mttr_recompute.py SCENARIO DIR [--nodes-per-site 16] [--ahead]``;
prints JSON.
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wattbit.ops.heal.audit import AuditStore
from wattbit.ops.heal.evaluate import repair_times_s
from wattbit.ops.heal.safety import Rules
from wattbit.ops.telemetry.build import build_telemetry
from wattbit.scenario import load_scenario


def faults_of(scenario: str, nodes_per_site: int) -> list[tuple[float, list[str], float, bool]]:
    """(failure time, nodes, repair [h], node down) of every fault of the run, in time order."""
    setup = build_telemetry(load_scenario(scenario), seed=None, nodes_per_site=nodes_per_site)
    inv, labels = setup.inventory, setup.labels_frame()
    fail_s = pd.DatetimeIndex(labels["failure_utc"]).asi8 / 1e9
    rows = zip(labels["first_gpu"].to_numpy(int), labels["n_gpus"].to_numpy(int), fail_s,
               labels["repair_h"].to_numpy(float), strict=True)  # fmt: skip
    out = [(float(t), sorted({str(inv.hostnames[k]) for k in inv.node[f : f + n]}), float(r), bool(n > 1))
           for f, n, t, r in rows]  # fmt: skip
    return sorted(out, key=lambda x: x[0])


def drained_ahead(scenario: str, nodes_per_site: int, store_path: Path) -> dict[str, int]:
    """Faults per ``signature|ahead=True/False``: whether a drain on a prediction covered the node before it failed."""
    setup = build_telemetry(load_scenario(scenario), seed=None, nodes_per_site=nodes_per_site)
    inv, labels = setup.inventory, setup.labels_frame()
    with AuditStore(store_path) as store:
        applied = store.actions("applied", limit=1_000_000)
    drains: dict[str, list[float]] = {}
    for r in applied:
        if r.kind in ("drain", "quarantine") and r.data_time_s is not None and r.params.get("cause") == "predicted":
            drains.setdefault(r.target, []).append(r.data_time_s)
    fail_s = pd.DatetimeIndex(labels["failure_utc"]).asi8 / 1e9
    count: collections.Counter[str] = collections.Counter()
    for i in range(len(labels)):
        f, n, t = int(labels["first_gpu"].iloc[i]), int(labels["n_gpus"].iloc[i]), float(fail_s[i])
        nodes = {str(inv.hostnames[k]) for k in inv.node[f : f + n]}
        ahead = any(t - Rules().hold_predicted_s <= d < t for node in nodes for d in drains.get(node, []))
        count[f"{labels['signature'].iloc[i]}|ahead={ahead}"] += 1
    return dict(sorted(count.items()))


def mttr(store_path: Path, faults: list[Any]) -> dict[str, float]:
    """Mean, median and largest repair time [h] from one audit store."""
    with AuditStore(store_path) as store:
        applied = store.actions("applied", limit=1_000_000)
    drains: dict[str, list[float]] = {}
    resumes: dict[str, list[float]] = {}
    for r in applied:
        if r.data_time_s is not None and r.kind in ("resume", "drain", "quarantine"):
            (resumes if r.kind == "resume" else drains).setdefault(r.target, []).append(r.data_time_s)
    ends = np.asarray(repair_times_s(faults, drains, resumes, Rules())) / 3600.0
    return {"mttr_h": round(float(ends.mean()), 2), "mttr_median_h": round(float(np.median(ends)), 2),
            "max_h": round(float(ends.max()), 1), "n": int(ends.size)}  # fmt: skip


def main() -> None:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("scenario")
    ap.add_argument("dir", type=Path)
    ap.add_argument("--nodes-per-site", type=int, default=16)
    ap.add_argument("--ahead", action="store_true", help="Also the faults drained ahead, per signature.")
    args = ap.parse_args()
    faults = faults_of(args.scenario, args.nodes_per_site)
    out: dict[str, Any] = {p: mttr(args.dir / f"{p}.sqlite", faults) for p in ("reactive", "predictive")}
    if args.ahead:
        out["drained_ahead"] = drained_ahead(args.scenario, args.nodes_per_site, args.dir / "predictive.sqlite")
    print(json.dumps(out))


if __name__ == "__main__":
    main()

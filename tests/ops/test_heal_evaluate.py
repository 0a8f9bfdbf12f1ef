"""heal-evaluate on the fast path, a short run: both blocks written, every fault accounted, no job lost."""

from __future__ import annotations

import json
from pathlib import Path

from wattbit.ops.heal.evaluate import heal_evaluate
from wattbit.scenario import load_scenario, with_period


def test_heal_evaluate_week(tmp_path: Path) -> None:
    sc = with_period(load_scenario("japan-2022"), "2022-03-01", "2022-03-08")
    sc = sc.model_copy(update={"ops": sc.ops.model_copy(update={"fault_rate_scale": 60.0})})
    r = heal_evaluate(sc, tmp_path, nodes_per_site=4, log=lambda m: None)
    saved = json.loads((tmp_path / "healing.json").read_text())
    assert saved["faults"] == r["faults"] > 0
    keys = {"gpu_hours_lost", "jobs_interrupted", "jobs_lost", "mttr_h", "false_drains_per_1000_node_days"}
    for policy in ("reactive", "predictive"):
        b = saved[policy]
        assert keys <= set(b) and b["jobs_lost"] == 0 and b["gpu_hours_lost"] >= 0
        assert b["actions_applied"].get("drain", 0) > 0  # failures seen are drained in both
        assert b["node_days"] == 12 * 7
    assert saved["predictive"]["drains"] >= saved["reactive"]["drains"]  # predictions add drains
    assert set(saved["targets"]) == {
        "gpu_hours_lost_cut", "cut_at_least_30pct", "false_drains_at_most_1_per_1000_node_days", "no_job_lost",
    }  # fmt: skip

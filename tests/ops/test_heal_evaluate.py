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
        loss = b["loss"]  # where the lost hours come from: failures, black holes, wattbit's requeues
        split = loss["failure_gpu_hours"] + loss["black_hole_gpu_hours"] + loss["requeue_gpu_hours"]
        assert abs(split - b["gpu_hours_lost"]) <= 0.2 and min(loss.values()) >= 0
        assert (loss["failure_kills"] > 0) == (loss["hang_gpu_hours_at_nccl_timeout"] > 0)
    assert saved["predictive"]["drains"] >= saved["reactive"]["drains"]  # predictions add drains
    assert set(saved["targets"]) == {
        "gpu_hours_lost_cut", "cut_at_least_30pct", "false_drains_at_most_1_per_1000_node_days", "no_job_lost",
    }  # fmt: skip


def test_repair_time_pairs_a_fault_with_the_drain_that_covers_it() -> None:
    from wattbit.ops.heal.evaluate import repair_times_s
    from wattbit.ops.heal.safety import Rules

    h = 3600.0
    faults = [(100 * h, ["n1"], 2.0, True), (200 * h, ["n2"], 3.0, True), (300 * h, ["n3"], 1.0, True)]
    drains = {"n1": [90 * h], "n2": [200.2 * h], "n3": [100 * h]}  # n1 predicted, n2 seen, n3's drain is stale
    resumes = {"n1": [105 * h, 4000 * h], "n2": [201 * h, 5000 * h], "n3": [100.5 * h, 6000 * h]}
    got = [x / h for x in repair_times_s(faults, drains, resumes, Rules())]
    # n1: back at its first resume after the failure; n2: not before its repair ends; n3: no drain covers the
    # fault, so a resume months later is not its repair: its repair time counts
    assert got == [5.0, 3.0, 1.0]

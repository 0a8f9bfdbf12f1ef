"""``wattbit ops evaluate`` on a small case: the files it writes and the separation of tuning and scoring."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.ops.conftest import short_scenario
from wattbit.cli import app
from wattbit.ops.detect.campaign import Campaign, evaluate_campaign


def test_campaign_writes_evaluation_json_and_report(tmp_path: Path) -> None:
    sc = short_scenario(days=4, fault_rate_scale=40.0)
    c = Campaign(tune_seeds=(1,), test_seeds=(2,), tune_days=2, test_days=3, nodes_per_site=8, factors=(1.0, 2.0))
    r = evaluate_campaign(sc, tmp_path, c, log=lambda m: None)
    saved = json.loads((tmp_path / "evaluation.json").read_text())
    assert set(saved) >= {"overall", "by_cause", "by_signature", "by_kind", "threshold_floor", "tuning", "runs"}
    o = saved["overall"]
    for key in ("precision", "recall", "f1", "lead_time_median_min", "lead_time_p10_min",
                "false_alarms_per_1000_gpu_days"):  # fmt: skip
        assert key in o
    assert saved["tuning"]["factor"] in (1.0, 2.0) and saved["tuning"]["seeds"] == [1]
    assert [x["seed"] for x in saved["runs"]] == [2]  # scored on a seed it was not tuned on
    assert saved["threshold_floor"]["overall"]["with_precursor"]["predicted"] == 0
    assert r["by_cause"] and all("recall" in v for v in r["by_cause"].values())
    assert (tmp_path / "evaluation.html").read_text().count("<table>") >= 4
    assert "| wattbit, held-out seeds |" in (tmp_path / "evaluation.md").read_text()
    labels = (tmp_path / "labels-test-2.csv").read_text().splitlines()
    assert labels[0].startswith("fault_id,site,node,gpu,first_gpu,n_gpus,cause,signature,precursor_start_utc")
    assert (tmp_path / "alerts-test-2-wattbit.jsonl").exists()


def test_cli_rejects_bad_seeds(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["ops", "evaluate", "japan-2022", "--out", str(tmp_path), "--tune-seeds", "a,b"])
    assert result.exit_code == 2 and "tune-seeds" in result.output

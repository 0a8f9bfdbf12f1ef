"""A ``plan`` run with Monte Carlo draws started through the API: it finishes in its worker, its files and report
download, and its numbers are those of ``wattbit plan`` run on the same TOML with the same draws and seed."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
from typer.testing import CliRunner

from tests.api.conftest import service
from tests.plan.test_plan_cli import BASIC, scenario_text
from wattbit.cli import app

DRAWS, SEED = 4, 7


#: Keys that measure the run rather than the plan (the solver's wall times).
TIMINGS = {"timings_s", "wall_seconds", "wall_s"}


def _close(a: Any, b: Any, path: str = "") -> None:
    """``a`` equals ``b`` key by key (but for :data:`TIMINGS`), floats to 1e-9 relative (JSON's round trip)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), (path, sorted(set(a) ^ set(b)))
        for k in set(a) - TIMINGS:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float) and not (math.isnan(a) and math.isnan(b)):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (path, a, b)
    else:
        assert a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b)), (path, a, b)


def test_a_plan_run_through_the_api_matches_wattbit_plan(tmp_path: Path) -> None:
    text = scenario_text(BASIC)  # three built-in japan-2022 sites, two days of hourly signals, one plan stage
    direct = tmp_path / "direct"
    (tmp_path / "plan.toml").write_text(text, encoding="utf-8")
    cli = CliRunner().invoke(
        app,
        ["plan", str(tmp_path / "plan.toml"), "--out", str(direct), "--draws", str(DRAWS), "--seed", str(SEED),
         "--executor", "serial"],  # as the service runs a few draws; the draws do not depend on where they run
    )  # fmt: skip
    assert cli.exit_code == 0, cli.output
    with service(tmp_path / "svc") as api:
        up = api.client.post(
            "/api/v1/scenarios",
            files={"file": ("plan-test.toml", text.encode(), "application/toml")},
            headers=api.auth("operator"),
        )
        assert up.status_code == 201, up.text
        body = {"kind": "plan", "scenario_id": up.json()["id"], "draws": DRAWS, "seed": SEED}
        started = api.client.post("/api/v1/runs", json=body, headers=api.auth("operator"))
        assert started.status_code == 202, started.text
        run = api.wait_run(started.json()["id"], timeout_s=120)
        assert run["state"] == "succeeded" and run["progress"] == 1.0, run
        rid, viewer = run["id"], api.auth("viewer")
        files = {f["name"] for f in api.client.get(f"/api/v1/runs/{rid}/files", headers=viewer).json()}
        assert {"plan.json", "cash_flows.csv", "montecarlo.csv", "report.html"} <= files
        served = api.client.get(f"/api/v1/runs/{rid}/files/plan.json", headers=viewer).json()
        flows = api.client.get(f"/api/v1/runs/{rid}/files/cash_flows.csv", headers=viewer).text
        draws = api.client.get(f"/api/v1/runs/{rid}/files/montecarlo.csv", headers=viewer).text
        report = api.client.get(f"/api/v1/runs/{rid}/report", headers=viewer)
    assert report.status_code == 200 and "text/html" in report.headers["content-type"]
    assert "plan-test" in report.text and "P90" in report.text
    expected = json.loads((direct / "plan.json").read_text(encoding="utf-8"))
    assert expected["uncertainty"]["draws"] == DRAWS
    _close(served, expected)
    # the run's headline is the plan's own summary
    _close(run["result"]["objective"], expected["objective"])
    _close(run["result"]["uncertainty"], expected["uncertainty"])
    pd.testing.assert_frame_equal(pd.read_csv(io.StringIO(flows)), pd.read_csv(direct / "cash_flows.csv"))
    pd.testing.assert_frame_equal(pd.read_csv(io.StringIO(draws)), pd.read_csv(direct / "montecarlo.csv"))

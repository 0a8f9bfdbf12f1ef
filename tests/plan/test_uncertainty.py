"""Monte Carlo of a chosen plan through ``wattbit plan --draws``: P10/P50/P90 and the levers' effect."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.plan.test_plan_cli import BASIC, runner, scenario_text, write
from wattbit.cli import app
from wattbit.plan.planner import plan
from wattbit.plan.uncertainty import PlanDraw
from wattbit.scenario import parse_scenario


def test_draws_add_quantiles_to_plan_json(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["plan", str(write(tmp_path, scenario_text(BASIC))), "--out", str(out), "--draws", "12"]
    result = runner.invoke(app, [*args, "--executor", "serial", "--seed", "3"])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    q = doc["uncertainty"]
    assert q["draws"] == 12 and q["seed"] == 3
    for name in ("npv", "carbon_t_per_year"):
        assert q[name]["p10"] <= q[name]["p50"] <= q[name]["p90"]
    assert q["npv"]["p10"] < q["npv"]["p90"]  # the draws do spread the outcome
    assert (out / "montecarlo.csv").read_text().count("\n") == 13
    assert "P10" in result.output


def test_levers_move_npv_and_carbon_the_right_way(tmp_path: Path) -> None:
    result = plan(parse_scenario(scenario_text(BASIC), tmp_path / "plan.toml"))
    model = PlanDraw(result.context, result.problem, result.solution, result.figures["carbon_t_per_year"])
    base = model({})
    assert base["npv"] == pytest.approx(result.finance.npv, rel=1e-12)
    assert base["carbon_t_per_year"] == pytest.approx(result.figures["carbon_t_per_year"])
    assert model({"capex_it_multiplier": 1.2, "capex_facility_multiplier": 1.2})["npv"] < base["npv"]
    assert model({"energy_price_multiplier": 1.5})["npv"] < base["npv"]
    assert model({"grid_carbon_multiplier": 2.0})["carbon_t_per_year"] == pytest.approx(2 * base["carbon_t_per_year"])
    # more failures: fewer GPU-hours sold and less energy drawn
    assert model({"failure_rate_multiplier": 3.0})["carbon_t_per_year"] < base["carbon_t_per_year"]

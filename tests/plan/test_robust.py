"""Monte Carlo that re-optimises the capacities per draw (``wattbit plan --draws N --reoptimise``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.plan.test_plan_cli import BASIC, runner, scenario_text, write
from wattbit.cli import app
from wattbit.plan.planner import plan
from wattbit.plan.robust import ReoptimisedDraw, perturbed_problem
from wattbit.scenario import parse_scenario


def test_a_draw_changes_what_the_optimiser_sees(tmp_path: Path) -> None:
    result = plan(parse_scenario(scenario_text(BASIC), tmp_path / "plan.toml"))
    p = result.problem
    draw = {"energy_price_multiplier": 2.0, "grid_carbon_multiplier": 0.5, "capex_energy_multiplier": 1.2,
            "capex_it_multiplier": 1.1, "capex_facility_multiplier": 0.9}  # fmt: skip
    q = perturbed_problem(p, draw)
    assert np.allclose(q.price_per_mwh, 2 * p.price_per_mwh) and np.allclose(
        q.carbon_t_per_mwh, 0.5 * p.carbon_t_per_mwh
    )
    assert np.allclose(q.pv_cost_per_mw, 1.2 * p.pv_cost_per_mw)
    assert np.allclose(q.connection_cost_per_mw, 1.2 * p.connection_cost_per_mw)
    assert np.allclose(q.it_cost_per_mw, 1.0 * p.it_cost_per_mw) and np.allclose(q.site_cost, 0.9 * p.site_cost)
    assert perturbed_problem(p, {}).price_per_mwh is not p.price_per_mwh  # a copy, the plan's problem is untouched
    # no change: the deterministic plan again; dear energy: a plan at least as good as the deterministic one there,
    # with more on-site generation
    model = ReoptimisedDraw(result.context, p, result.solution, result.figures["carbon_t_per_year"])
    same = model({})
    assert same["regret"] == pytest.approx(0.0, abs=1e-4 * abs(same["npv"]))
    dear = model({"energy_price_multiplier": 4.0})
    assert dear["regret"] >= -1e-4 * abs(dear["npv"])
    onsite = [sum(dear[f"{k}_{s}"] for s in p.sites) for k in ("pv_mw", "wind_mw")]
    assert sum(onsite) > float(result.solution.pv_mw.sum() + result.solution.wind_mw.sum())


def test_cli_reoptimises_per_draw_and_names_the_robust_plan(tmp_path: Path) -> None:
    out = tmp_path / "out"
    path = str(write(tmp_path, scenario_text(BASIC)))
    args = ["plan", path, "--out", str(out), "--draws", "2", "--reoptimise", "--executor", "serial", "--seed", "5"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    table = pd.read_csv(out / "montecarlo_reoptimised.csv", index_col=0)
    fixed = pd.read_csv(out / "montecarlo.csv", index_col=0)
    assert len(table) == 2
    # the same draws as the fixed-plan Monte Carlo, and the deterministic plan's NPV in them is that run's
    assert np.allclose(table["energy_price_multiplier"], fixed["energy_price_multiplier"])
    assert np.allclose(table["npv_fixed"], fixed["npv"], rtol=1e-9)
    # a plan made for the draw is never worse there than the deterministic plan (up to the solver's gap)
    assert (table["regret"] >= -1e-4 * table["npv"].abs()).all()
    robust = doc["robust"]
    assert robust["npv_mean_across_draws"] == pytest.approx(table["npv_mean_across_draws"].max())
    assert set(robust["sites"]) == {"fukushima", "ishikari", "inzai"}
    assert "robust plan" in result.output
    bad = runner.invoke(app, ["plan", path, "--out", str(out), "--reoptimise"])
    assert bad.exit_code == 2 and "give --draws N" in bad.output

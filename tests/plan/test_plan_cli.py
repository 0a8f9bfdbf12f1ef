"""``wattbit plan`` end to end on the built-in japan-2022 data (two days, three candidates), and its input errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from wattbit.cli import app
from wattbit.errors import ScenarioError
from wattbit.plan.planner import REQUIRED_KEYS, plan
from wattbit.scenario import load_scenario, parse_scenario

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]

SITES = """
[scenario]
name = "plan-test"
description = "Three built-in sites, two days of May 2022."

[period]
start = 2022-05-01T00:00:00+09:00
end = 2022-05-03T00:00:00+09:00
step = "1h"

[finance]
discount_rate = 0.07
project_years = 10
jpy_per_usd = 150.0
"""
SITE = """
[[sites]]
name = "{name}"
latitude_deg = {lat}
longitude_deg = {lon}
grid_area = "{area}"
it = {{ gpu_model = "{gpu}", gpu_count = 8 }}
grid_connection_mw = 1
design = {{ anemometer_height_m = {anemometer} }}
[sites.data]
weather = {{ builtin = "japan-2022:{name}" }}
carbon = {{ builtin = "japan-2022:{name}" }}
price = {{ builtin = "japan-2022:{name}" }}
curtailment = {{ builtin = "japan-2022:{name}" }}
"""
CANDIDATES = """
[[plan.candidates]]
site = "fukushima"
max_it_mw = 8
max_pv_mw = 10
max_connection_mw = 12
connection_lead_time_years = 2
latency_ms = { tokyo = 4.0 }

[[plan.candidates]]
site = "ishikari"
max_it_mw = 8
max_pv_mw = 10
max_wind_mw = 5
max_connection_mw = 12
connection_lead_time_years = 3
latency_ms = { tokyo = 16.0 }

[[plan.candidates]]
site = "inzai"
max_it_mw = 8
max_connection_mw = 12
connection_lead_time_years = 4
capex_factor = 1.05
latency_ms = { tokyo = 1.0 }
"""


def scenario_text(plan_section: str, gpu: str = "H100-SXM", candidates: str = CANDIDATES) -> str:
    sites = [
        ("fukushima", 37.404, 141.001, "tohoku", 52.6),
        ("ishikari", 43.17, 141.32, "hokkaido", 59.5),
        ("inzai", 35.83, 140.15, "tokyo", 35.0),
    ]
    text = SITES + "".join(
        SITE.format(name=n, lat=la, lon=lo, area=a, gpu=gpu, anemometer=h) for n, la, lo, a, h in sites
    )
    return text + plan_section + candidates


BASIC = """
[plan]
start_year = 2026
[plan.target]
gpus = 6000
[plan.constraints]
max_site_share = 0.6
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plan.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_cli_writes_plan_json_with_the_required_keys_and_the_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["plan", str(write(tmp_path, scenario_text(BASIC))), "--out", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert set(REQUIRED_KEYS) <= set(doc)
    built = [s for s in doc["sites"] if s["build"]]
    gpus = sum(s["gpus"] for s in doc["sites"])
    assert gpus == pytest.approx(6000.0, rel=1e-6)
    assert len(built) >= 2  # at most 60 % of the GPUs at one site
    assert max(s["gpus"] for s in doc["sites"]) <= 0.6 * 6000.0 * (1 + 1e-6)
    assert all(s["connection_mw"] <= 12.0 + 1e-6 and s["it_mw"] <= 8.0 + 1e-6 for s in doc["sites"])
    assert 0.0 <= doc["clean_energy_share"] <= 1.0 and doc["carbon_t_per_year"] > 0
    assert doc["cost_per_gpu_hour"] > 0 and doc["lcoe_per_mwh"] > 0
    assert doc["solver"]["method"] == "monolithic"
    assert "the period has 48 hours" in doc["notes"][0]
    html = (out / "report.html").read_text(encoding="utf-8")
    for heading in ("Sites and capacities", "A sample week of hourly dispatch", "Cash flows", "Sensitivity (tornado)"):
        assert heading in html
    flows = pd.read_csv(out / "cash_flows.csv", index_col="year")
    assert len(flows) == 11 and flows["capex_jpy"].iloc[0] > 0
    dispatch = pd.read_parquet(out / "dispatch.parquet")
    assert len(dispatch) == 3 * 48
    assert "npv (after tax):" in result.output and "results:" in result.output


def test_both_methods_give_the_same_plan_on_real_signals(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, scenario_text(BASIC)))
    mono = plan(scenario, method="monolithic")
    dec = plan(scenario, method="decomposed")
    assert dec.solution.objective_per_year == pytest.approx(mono.solution.objective_per_year, rel=2e-4)
    assert dec.finance.npv == pytest.approx(mono.finance.npv, rel=1e-3)
    # the facility power comes from the site physics: PUE between 1 and 1.5, higher for the air-cooled options
    assert 1.0 < mono.figures["pue"] < 1.5
    supply = mono.solution.pv_out_mw + mono.solution.wind_out_mw + mono.solution.grid_mw
    supply = supply + mono.solution.discharge_mw - mono.solution.charge_mw
    assert np.all(supply - mono.solution.facility_mw >= -1e-6)


def test_a_growing_target_is_built_in_stages(tmp_path: Path) -> None:
    staged = BASIC.replace("gpus = 6000", "schedule = [{ year = 2028, gpus = 3000 }, { year = 2030, gpus = 6000 }]")
    result = plan(load_scenario(write(tmp_path, scenario_text(staged))))
    offsets = [offset for offset, _ in result.finance.stages]
    assert offsets == [1, 3]  # built in 2027 for 2028 and in 2029 for 2030
    # only fukushima (lead time 2 years: ready 2028) may host the first 3,000 GPUs
    first = dict(zip(result.problem.sites, result.finance.stages[0][1], strict=True))
    assert first["fukushima"] > 0 and first["ishikari"] == 0 and first["inzai"] == 0
    capex = result.finance.table["capex_jpy"]
    assert capex.loc[0] == 0 and capex.loc[1] > 0 and capex.loc[3] > 0


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            "[plan.costs]\npv_capex_jpy_per_mw = -5.0\n",
            "plan.costs.pv_capex_jpy_per_mw = -5.0: Input should be greater",
        ),
        (
            "[plan.costs]\npv_capex_per_mw = 5.0\n",
            "`pv_capex_per_mw` is now `pv_capex_jpy_per_mw` or `pv_capex_usd_per_mw`",
        ),
        (
            "[plan.target]\nschedule = [{ year = 2030, gpus = 10 }, { year = 2029, gpus = 20 }]\n",
            "must be strictly increasing",
        ),
        ("[plan.target]\ngpus = 100000\n", "the target of 100,000 GPUs exceeds what the candidates can host"),
        ("[plan.target]\nyear = 2026\ngpus = 100\n", "target year 2026 is outside the project: operations run 2027"),
        ("[plan.target]\nyear = 2027\ngpus = 100\n", "not ready by 2027: fukushima ready 2028"),
        ("[plan.constraints]\nmax_latency_ms = 0.5\n", "the latency and hazard limits exclude every candidate"),
        ("[plan.constraints]\nmax_site_share = 0.2\n", "max_site_share = 0.2 needs at least 5 sites"),
    ],
)
def test_bad_plan_inputs_exit_2_naming_the_problem(tmp_path: Path, change: str, expected: str) -> None:
    target = "" if "[plan.target]" in change else "[plan.target]\ngpus = 100\n"
    section = "\n[plan]\nstart_year = 2026\n" + target + change
    result = runner.invoke(app, ["plan", str(write(tmp_path, scenario_text(section))), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ")
    assert expected in result.output
    assert "Traceback" not in result.output
    assert str(tmp_path / "plan.toml") in result.output  # the file is named


def test_unknown_candidate_site_and_gpu_without_price(tmp_path: Path) -> None:
    text = scenario_text(BASIC, candidates=CANDIDATES.replace('site = "inzai"', 'site = "osaka"'))
    with pytest.raises(
        ScenarioError, match=r"candidate site 'osaka' is not one of the scenario's \[\[sites\]\]"
    ) as info:
        plan(parse_scenario(text, tmp_path / "x.toml"))
    assert info.value.field == "plan.candidates[2].site"
    with pytest.raises(ScenarioError, match="no price for GPU model 'B200'") as info:
        plan(parse_scenario(scenario_text(BASIC, gpu="B200"), tmp_path / "x.toml"))
    assert info.value.field == "plan.costs.gpu_capex_usd"


def test_infeasible_plan_names_the_binding_constraint(tmp_path: Path) -> None:
    section = BASIC + "min_clean_energy_share = 0.99\n"
    result = runner.invoke(app, ["plan", str(write(tmp_path, scenario_text(section))), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert "field 'plan.constraints.min_clean_energy_share'" in result.output
    assert "min_clean_energy_share = 99.0% binds" in result.output
    assert "Traceback" not in result.output


def test_plan_needs_a_plan_section(tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", "japan-2022", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "has no [plan] section" in result.output


@pytest.mark.shared_data
def test_the_japan_example_is_valid(shared_data: Path) -> None:
    from wattbit.plan.checks import check_years, eligible_candidates

    scenario = load_scenario(REPO / "examples" / "japan-plan.toml")
    assert scenario.plan is not None
    eligible = eligible_candidates(scenario, scenario.plan)
    check_years(scenario, scenario.plan)
    assert {s.grid_area for s in eligible.sites} == {"tohoku", "hokkaido", "tokyo", "kyushu"}
    assert len(eligible.sites) == 5
    for site in scenario.sites:
        for source in (site.data.weather, site.data.carbon, site.data.price):
            assert source.path is not None and all(p.is_file() for p in source.path)


def test_the_japan_examples_incentive_block_is_valid_when_uncommented() -> None:
    from wattbit.plan.checks import check_years

    text = (REPO / "examples" / "japan-plan.toml").read_text(encoding="utf-8")
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# Japanese instruments"))
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("#"))
    block = [
        re.sub(r"^# ", "", line) for line in lines[start:end] if re.match(r"^# (\[plan\.finance\.|[a-z_]+ = )", line)
    ]
    assert len(block) >= 12
    at = text.index("\n[plan.constraints]")
    scenario = parse_scenario(text[:at] + "\n" + "\n".join(block) + "\n" + text[at:], REPO / "examples" / "x.toml")
    assert scenario.plan is not None
    fin = scenario.plan.finance
    assert fin.loan is not None and fin.grant is not None and fin.itc is not None
    assert fin.grant.given("cap") == (30e9, "JPY", "cap_jpy")
    assert fin.itc.use == "against_tax"
    check_years(scenario, scenario.plan)  # the loan fits in the last stage

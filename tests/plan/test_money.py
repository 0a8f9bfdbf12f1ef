"""Money in a plan: every amount names its currency, a bare amount is refused, mixing needs a stated rate."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.plan.test_plan_cli import BASIC, scenario_text
from wattbit.errors import ScenarioError
from wattbit.finance.costs import Money
from wattbit.plan.inputs import build_problem, unit_costs
from wattbit.plan.money import candidate_amount, converted
from wattbit.plan.planner import plan
from wattbit.scenario import parse_scenario
from wattbit.scenario.plan import COST_DEFAULTS, Candidate, PlanCosts
from wattbit.scenario.plan_finance import GrantSpec, LoanSpec, ProductionIncentiveSpec

NO_RATE = scenario_text(BASIC).replace("jpy_per_usd = 150.0\n", "")


def test_amounts_carry_their_currency_and_defaults_theirs() -> None:
    costs = PlanCosts(pv_capex_usd_per_mw=1.1e6, facility_capex_jpy_per_mw={"air_chiller": 1.9e9})
    money = Money("JPY", 150.0)
    pv = costs.amount("pv_capex_per_mw")
    assert (pv.value, pv.currency, pv.origin, pv.field) == (1.1e6, "USD", "scenario", "plan.costs.pv_capex_usd_per_mw")
    assert converted(pv, money) == pytest.approx(1.1e6 * 150.0)
    wind = costs.amount("wind_capex_per_mw")  # the Japanese default, in JPY
    assert (wind.value, wind.currency, wind.origin) == (354e6, "JPY", "default")
    assert wind.source.startswith("S: 調達価格等算定委員会")
    air = costs.table_entry("facility_capex_per_mw", "air_chiller")
    assert air is not None and (air.value, air.currency) == (1.9e9, "JPY")
    liquid = costs.table_entry("facility_capex_per_mw", "liquid_tower")  # not given: the default table
    assert liquid is not None and liquid.origin == "default"
    assert liquid.value == pytest.approx(COST_DEFAULTS["facility_capex_per_mw"].value["liquid_tower"])  # type: ignore[index]
    gpu = costs.table_entry("gpu_capex", "H100-SXM")
    assert gpu is not None and (gpu.value, gpu.currency) == (30e3, "USD")
    assert costs.table_entry("gpu_capex", "B200") is None
    assert Money("USD", 150.0).factor("JPY") == pytest.approx(1 / 150.0)


@pytest.mark.parametrize(
    ("model", "data", "expected"),
    [
        (GrantSpec, {"share": 0.5, "cap": 30e9}, "`cap` is now `cap_jpy` or `cap_usd`"),
        (
            PlanCosts,
            {"pv_capex_per_mw": 1.0},
            "`pv_capex_per_mw` is now `pv_capex_jpy_per_mw` or `pv_capex_usd_per_mw`",
        ),
        (PlanCosts, {"price_per_gpu_hour": 2.0}, "`price_per_gpu_hour` is now `price_jpy_per_gpu_hour` or"),
        (PlanCosts, {"currency": "JPY"}, "`costs.currency` is gone"),
        (PlanCosts, {"facility_life_years": 30}, "`facility_life_years` is now `building_life_years`"),
        (LoanSpec, {"rate": 0.01, "tenor_years": 5, "principal": 1e9}, "`principal` is now `principal_jpy` or"),
        (ProductionIncentiveSpec, {"rate_per_mwh": 400.0, "term_years": 5}, "`rate_per_mwh` is now `rate_jpy_per_mwh`"),
        (Candidate, {"site": "a", "max_it_mw": 1, "max_connection_mw": 1, "site_capex": 1e9}, "`site_capex` is now"),
    ],
)
def test_a_money_amount_without_a_currency_is_refused(model: type, data: dict[str, object], expected: str) -> None:
    with pytest.raises(ValidationError, match=expected.replace("(", r"\(")):
        model(**data)


def test_both_currencies_for_one_amount_are_refused() -> None:
    with pytest.raises(ValidationError, match="give `cap_jpy` or `cap_usd`, not both"):
        GrantSpec(share=0.5, cap_jpy=30e9, cap_usd=2e8)
    with pytest.raises(ValidationError, match="give exactly one of debt_share or principal_jpy"):
        LoanSpec(rate=0.01, tenor_years=5)


def test_the_bare_grant_cap_is_refused_from_the_file_naming_the_field(tmp_path: Path) -> None:
    text = scenario_text(BASIC + "[plan.finance.grant]\nshare = 0.5\ncap = 30e9\n")
    with pytest.raises(ScenarioError, match="plan.finance.grant: `cap` is now `cap_jpy` or `cap_usd`") as info:
        parse_scenario(text, tmp_path / "s.toml")
    assert str(tmp_path / "s.toml") in str(info.value)


def test_mixing_currencies_needs_a_stated_exchange_rate(tmp_path: Path) -> None:
    scenario = parse_scenario(NO_RATE, tmp_path / "s.toml")  # GPU prices and the GPU-hour price default to USD
    with pytest.raises(ScenarioError, match=r"are in USD but \[finance\].currency is JPY") as info:
        build_problem(scenario)
    assert info.value.field == "finance.jpy_per_usd"
    assert "plan.costs.gpu_capex_usd[H100-SXM] (default: 30,000 USD)" in str(info.value)
    assert "plan.costs.price_usd_per_gpu_hour (default: 2 USD)" in str(info.value)


def test_a_plan_all_in_yen_needs_no_exchange_rate(tmp_path: Path) -> None:
    costs = '[plan.costs]\ngpu_capex_jpy = { "H100-SXM" = 4.5e6 }\nit_other_capex_jpy_per_gpu = 1.5e6\n'
    costs += "price_jpy_per_gpu_hour = 300.0\n"
    scenario = parse_scenario(NO_RATE.replace("[plan.target]", costs + "[plan.target]"), tmp_path / "s.toml")
    problem, ctx = build_problem(scenario)
    assert {a.currency for a in ctx.amounts} == {"JPY"}
    assert ctx.units.gpu_capex[0] == pytest.approx(6.0e6)
    assert ctx.units.price_per_gpu_hour == 300.0
    assert problem.revenue_per_gpu == pytest.approx(300.0 * 0.8 * 8760)


def test_candidate_costs_override_the_plan_wide_ones(tmp_path: Path) -> None:
    text = scenario_text(BASIC).replace('site = "inzai"\n', 'site = "inzai"\nsite_capex_usd = 1e7\n')
    scenario = parse_scenario(text, tmp_path / "s.toml")
    spec = scenario.plan
    assert spec is not None
    own = candidate_amount(spec, 2, spec.candidates[2], "site_capex")
    assert (own.value, own.currency, own.origin, own.field) == (
        1e7,
        "USD",
        "override",
        "plan.candidates[2].site_capex_usd",
    )
    plain = candidate_amount(spec, 0, spec.candidates[0], "site_capex")
    assert (plain.value, plain.currency, plain.origin) == (3e9, "JPY", "default")
    _, ctx = build_problem(scenario)
    assert ctx.units.site_capex.tolist() == pytest.approx([3e9, 3e9, 1.5e9])


def test_regional_building_factor_scales_only_the_shell(tmp_path: Path) -> None:
    _, ctx = build_problem(parse_scenario(scenario_text(BASIC), tmp_path / "s.toml"))
    c = ctx.spec.costs
    money = ctx.money
    assert money is not None
    base = converted(c.table_entry("facility_capex_per_mw", "air_chiller"), money)  # type: ignore[arg-type]
    j = ctx.designs.index(("air_chiller", "ac415"))
    tokyo_area = [s.grid_area for s in ctx.sites].index("tokyo")
    hokkaido = [s.grid_area for s in ctx.sites].index("hokkaido")
    inzai_factor = 1.05  # the test candidate's capex_factor
    assert ctx.units.building_capex_per_mw[tokyo_area, j] == pytest.approx(base * 0.27 * inzai_factor)
    assert ctx.units.building_capex_per_mw[hokkaido, j] == pytest.approx(base * 0.27 * 21.70 / 32.42)
    assert ctx.units.mep_capex_per_mw[hokkaido, j] == pytest.approx(base * 0.73)
    again = unit_costs(ctx.spec, _eligible(ctx), ctx.designs, money)
    assert again.facility_capex_per_mw == pytest.approx(ctx.units.facility_capex_per_mw)


def _eligible(ctx: object) -> object:
    from wattbit.plan.checks import Eligible

    return Eligible(ctx.candidates, ctx.sites, ctx.excluded)  # type: ignore[attr-defined]


def test_plan_records_every_finance_input_with_its_source(tmp_path: Path) -> None:
    result = plan(parse_scenario(scenario_text(BASIC), tmp_path / "s.toml"))
    from wattbit.plan.record import finance_inputs

    rows = {r["name"]: r for r in finance_inputs(result.context)}
    assert rows["finance.jpy_per_usd"]["value"] == 150.0 and rows["finance.jpy_per_usd"]["source"] == "scenario"
    assert rows["finance.discount_rate"]["source"] == "scenario"
    assert rows["plan.finance.tax_rate"]["source"] == "default"
    assert rows["plan.finance.tax_rate"]["reference"].startswith("S: MOF")
    price = rows["plan.costs.price_usd_per_gpu_hour"]
    assert (price["value"], price["unit"], price["source"]) == (2.0, "USD", "default")
    assert price["value_in_finance_currency"] == pytest.approx(300.0)
    assert rows["plan.finance.residual_method"]["value"] == "market_value"
    assert rows["plan.finance.tax_life_years.building"]["value"] == 38
    assert rows["plan.candidates[inzai].building_cost_factor"]["source"] == "default"
    assert all(r["source"] in ("scenario", "default", "override") for r in rows.values())


def test_every_finance_instrument_reaches_the_evaluation(tmp_path: Path) -> None:
    finance = """
[plan.finance]
cost_of_equity = 0.09
project_discount_rate = "wacc"
special_depreciation = { fraction = 0.5, kinds = ["pv"] }
tax_life_years = { building = 50 }
fixed_asset_tax_rate = 0.0
[plan.finance.loan]
rate = 0.015
tenor_years = 8
debt_share = 0.5
[plan.finance.grant]
share = 0.5
cap_jpy = 1e9
eligible = ["building", "mep"]
[plan.finance.itc]
fraction = 0.05
carryforward_years = 3
[plan.finance.production_incentive]
rate_jpy_per_mwh = 400.0
term_years = 5
"""
    from wattbit.plan.evaluate import staged_project

    result = plan(parse_scenario(scenario_text(BASIC + finance), tmp_path / "s.toml"))
    staged = staged_project(result.context, result.problem, result.solution)
    (_, project), *_ = staged.stages
    assert project.financing.discount_rate is None and project.financing.cost_of_equity == 0.09
    assert project.financing.loan is not None and project.financing.loan.debt_share == 0.5
    assert project.fixed_asset_tax is None
    inc = project.incentives
    assert inc.itc_use == "against_tax" and inc.itc_carryforward_years == 3 and inc.itc_basis_reduction == 0.0
    assert inc.production is not None and inc.production.rate_per_mwh == 400.0
    cols = result.finance.result.columns
    assert cols["capacity_grant"].sum() == pytest.approx(1e9)  # the cap binds, over the whole plan
    assert cols["interest"].sum() > 0
    renewable = result.figures["onsite_renewable_used_mwh_per_year"]
    assert cols["production_incentive"][1:6].sum() == pytest.approx(5 * 400.0 * renewable, rel=1e-9, abs=1e-6)
    pv = [c for c in project.components if c.kind == "pv"]
    assert all(c.bonus_depreciation_fraction == 0.5 for c in pv)
    assert [c.tax_life_years for c in project.components if c.kind == "building"] == [50] * 2
    assert all(c.grant_eligible == (c.name.endswith(("-building", "-mep"))) for c in project.components)
    assert result.finance.discount_rate < 0.09  # the WACC with a cheap loan

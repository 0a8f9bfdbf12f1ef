"""One tax computation for a staged project, fixed-asset tax, tax credits against tax, residual methods and payback
without the residual — by hand, and against numpy-financial."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import numpy_financial as npf
import pytest

from tests.finance.test_finance import datacenter, one_year, three_year_project
from wattbit.errors import WattbitInputError
from wattbit.finance.components import Component
from wattbit.finance.depreciation import depreciation_fractions
from wattbit.finance.financing import Financing
from wattbit.finance.incentives import Incentives
from wattbit.finance.project import (
    Project,
    StagedProject,
    breakeven_price_per_gpu_hour,
    breakeven_revenue_scale,
    evaluate,
    with_price_per_gpu_hour,
)
from wattbit.finance.result import FinanceResult
from wattbit.finance.tax import FixedAssetTax, TaxSpec, assessed_value_shares, assessment_rate, use_tax_credits


def assert_tax_agrees_with_taxable_income(r: FinanceResult, spec: TaxSpec) -> None:
    """Per year: tax before credits = rate x (taxable income - losses used) when positive, else 0; tax = that less
    the credits used; losses used only in profitable years, never more than the limit."""
    c = r.columns
    taxable, used = c["taxable_income"], c["loss_used"]
    expected = np.where(taxable > 0, spec.rate * (taxable - used), 0.0)
    np.testing.assert_allclose(c["corporate_tax_before_credits"], expected, rtol=1e-12, atol=1e-6)
    np.testing.assert_allclose(c["tax"], c["corporate_tax_before_credits"] - c["tax_credit_used"], atol=1e-6)
    assert np.all(used[taxable <= 0] == 0.0)
    assert np.all(used <= np.maximum(taxable, 0) * 1.0 + 1e-6)
    assert np.all(c["tax"] >= -1e-9)  # carried forward, never negative


def two_stages(**kwargs: object) -> StagedProject:
    """Stage A built in year 0 with a large year-1 tax loss (100 % bonus depreciation) and little income; stage B
    built in year 1, profitable."""
    a = three_year_project(
        components=(Component("a", "other", capex=1000.0, life_years=3, bonus_depreciation_fraction=1.0),),
        operations=one_year(200.0, price_per_gpu_hour=50.0),
        **kwargs,
    )
    b_component = Component("b", "other", capex=1000.0, life_years=2, fixed_opex_per_year=100.0)
    b = three_year_project(components=(b_component,), project_years=2, **kwargs)
    return StagedProject(((0, a), (1, b)), project_years=3)


def test_a_staged_project_is_taxed_once_with_losses_across_stages() -> None:
    # stage A: EBITDA 500 - 200 = 300 a year, all 1000 depreciated in year 1 -> taxable -700, 300, 300
    # stage B (built in year 1): EBITDA 1000 - 200 - 100 = 700 in years 2..3, depreciation 500 -> taxable 200, 200
    # consolidated: 0, -700, 500, 500; the loss offsets at most 50 % of each year's income: 250 and 250 used,
    # tax 0.3 x 250 = 75 in years 2 and 3 (150). Each stage on its own: A uses 150 a year and pays 45 + 45, B pays
    # 60 + 60: 210.
    staged = two_stages()
    r = evaluate(staged)
    np.testing.assert_allclose(r.columns["taxable_income"], [0, -700, 500, 500])
    np.testing.assert_allclose(r.columns["loss_used"], [0, 0, 250, 250])
    np.testing.assert_allclose(r.columns["loss_carried_forward"], [0, 700, 450, 200])
    np.testing.assert_allclose(r.columns["tax"], [0, 0, 75, 75])
    alone = sum(evaluate(p).columns["tax"].sum() for _, p in staged.stages)
    assert alone == pytest.approx(210.0) and r.columns["tax"].sum() == pytest.approx(150.0)
    assert_tax_agrees_with_taxable_income(r, TaxSpec(rate=0.3))
    # the pre-tax flows are the stages' flows shifted to their build year and added
    for name in ("revenue", "capex", "depreciation", "ebitda"):
        shifted = np.zeros(4)
        for offset, p in staged.stages:
            shifted[offset:] += evaluate(p).columns[name]
        np.testing.assert_allclose(r.columns[name], shifted)


def test_one_stage_built_in_year_zero_is_the_project_itself() -> None:
    project = datacenter(fixed_asset_tax=FixedAssetTax())
    a, b = evaluate(project), evaluate(StagedProject(((0, project),), 20))
    assert a.npv == b.npv and a.irr == b.irr
    np.testing.assert_allclose(a.table.to_numpy(), b.table.to_numpy())


def test_staged_cash_flows_reconcile_with_numpy_financial() -> None:
    base = datacenter(fixed_asset_tax=FixedAssetTax())
    later = replace(base, project_years=17)
    r = evaluate(StagedProject(((0, base), (3, later)), 20))
    cf = r.table["project_cash_flow_jpy"].to_numpy()
    assert r.npv == pytest.approx(npf.npv(0.07, cf), rel=1e-9)
    assert r.irr == pytest.approx(npf.irr(cf), rel=1e-7)
    items = r.columns
    total = (
        items["revenue"] + items["export_revenue"] + items["production_incentive"] - items["energy_cost"]
        - items["fixed_opex"] - items["variable_opex"] - items["fixed_asset_tax"] - items["capex"]
        + items["residual_value"] + items["capacity_grant"] + items["itc"] - items["tax"]
    )  # fmt: skip
    np.testing.assert_allclose(total, cf, rtol=1e-12, atol=1e-3)
    assert_tax_agrees_with_taxable_income(r, base.tax)


def test_stages_must_share_tax_and_span_the_project() -> None:
    a = three_year_project()
    with pytest.raises(WattbitInputError, match="stage 1 is built in year 1 of a 3-year project, so it runs 2 years"):
        StagedProject(((0, a), (1, a)), 3)
    b = three_year_project(project_years=2, tax=TaxSpec(rate=0.2))
    with pytest.raises(WattbitInputError, match="stage 1: tax = .* differs from stage 0's") as info:
        StagedProject(((0, a), (1, b)), 3)
    assert info.value.field == "stages[1].tax"


def test_fixed_asset_tax_by_hand() -> None:
    # the municipal table: life 5 -> r = 0.369, first year 1 - r/2 = 0.815 (rounded to 3 decimals), then x 0.631
    assert assessment_rate(5) == 0.369 and assessment_rate(15) == 0.142 and assessment_rate(38) == 0.059
    np.testing.assert_allclose(assessed_value_shares(5, 3), [0.815, 0.815 * 0.631, 0.815 * 0.631**2])
    assert assessed_value_shares(5, 9)[-1] == 0.05  # never below 5 % of the cost
    server = Component("servers", "it", capex=1000.0, life_years=3, tax_life_years=5)
    link = Component("link", "grid_connection", capex=500.0, life_years=10)
    r = evaluate(three_year_project(components=(server, link), project_years=5, fixed_asset_tax=FixedAssetTax()))
    # bought in years 0 and 3: the first is taxed in years 1..3 (held on 1 January), the second in 4..5
    expected = [0.0, *(14.0 * assessed_value_shares(5, 3)), *(14.0 * assessed_value_shares(5, 2))]
    np.testing.assert_allclose(r.columns["fixed_asset_tax"], expected)  # the connection contribution is exempt
    # it is an operating cost: in EBITDA, deducted from taxable income
    plain = evaluate(three_year_project(components=(server, link), project_years=5))
    np.testing.assert_allclose(plain.columns["ebitda"] - r.columns["ebitda"], expected)


def test_tax_credits_against_tax_with_a_limit_and_expiry() -> None:
    used, left = use_tax_credits(np.array([0.0, 100.0, 100.0, 100.0]), np.array([0.0, 50.0, 0.0, 0.0]), 0.2, 1)
    np.testing.assert_allclose(used, [0, 20, 20, 0])  # 20 % of each year's tax; gone after one year carried
    np.testing.assert_allclose(left, [0, 30, 0, 0])
    cash = Incentives(itc_fraction=0.1, itc_basis_reduction=0.0)
    dc = Component("dc", "pv", capex=1000.0, life_years=3, fixed_opex_per_year=100.0)
    paid = evaluate(three_year_project(components=(dc,), incentives=cash))
    credit = evaluate(
        three_year_project(components=(dc,), incentives=replace(cash, itc_use="against_tax", itc_tax_limit_share=0.5))
    )
    assert paid.columns["itc"][1] == pytest.approx(100.0)
    assert credit.columns["itc"].sum() == 0.0  # not paid out
    # year-1 tax 110 (as in the hand case): up to half of it, 55, is offset; the other 45 is lost (no carry-forward)
    np.testing.assert_allclose(credit.columns["tax_credit_used"], [0, 55, 0, 0])
    np.testing.assert_allclose(credit.columns["tax"], [0, 55, 110, 110])
    assert_tax_agrees_with_taxable_income(credit, TaxSpec(rate=0.3))


def test_residual_methods_by_hand() -> None:
    gpus = Component(
        "gpus", "it", capex=1000.0, life_years=5, depreciation="declining_balance",
        resale_fraction_by_age=(0.6, 0.4, 0.3),
    )  # fmt: skip
    shell = Component("shell", "building", capex=2000.0, life_years=40, tax_life_years=38)
    project = three_year_project(components=(gpus, shell), project_years=7)
    market = evaluate(project)
    # GPUs bought again in year 5, two years old at year 7: 40 % of 1000; the shell 33 of 40 years left, linear
    assert market.columns["residual_value"][7] == pytest.approx(0.4 * 1000 + 2000 * 33 / 40)
    book = evaluate(replace(project, residual="book_value"))
    db5 = depreciation_fractions("declining_balance", 5)
    expected_book = 1000 * (1 - db5[0] - db5[1]) + 2000 * (1 - 7 / 38)
    assert book.columns["residual_value"][7] == pytest.approx(expected_book)
    none = evaluate(replace(project, residual="none"))
    assert none.columns["residual_value"].sum() == 0.0
    assert none.npv == pytest.approx(market.npv_without_residual, rel=1e-12)
    assert none.payback_years_without_residual == none.payback_years or np.isnan(none.payback_years)
    # the residual's present value, before tax
    assert market.residual_present_value == pytest.approx(market.columns["residual_value"][7] / 1.1**7)


def test_payback_with_and_without_the_residual() -> None:
    # pays back only through the residual: -1000, then 150 a year for 3 years, residual 700 in year 3
    dc = Component("dc", "other", capex=1000.0, life_years=10)
    project = three_year_project(components=(dc,), operations=one_year(0.0, price_per_gpu_hour=15.0),
                                 tax=TaxSpec(rate=0.0))  # fmt: skip
    r = evaluate(project)
    np.testing.assert_allclose(r.table["project_cash_flow_jpy"], [-1000, 150, 150, 850])
    assert r.payback_years == pytest.approx(2 + 700 / 850)
    assert np.isnan(r.payback_years_without_residual)
    assert r.npv_without_residual == pytest.approx(-1000 + 150 * (1 / 1.1 + 1 / 1.21 + 1 / 1.331))


def test_breakeven_scale_gives_zero_npv_for_a_staged_project() -> None:
    staged = two_stages()
    m = breakeven_revenue_scale(staged)
    scaled = StagedProject(
        tuple((o, with_price_per_gpu_hour(p, p.operations.price_per_gpu_hour * m)) for o, p in staged.stages), 3
    )
    assert abs(evaluate(scaled).npv) < 1e-6
    project = datacenter()
    price = breakeven_price_per_gpu_hour(project)
    assert abs(evaluate(with_price_per_gpu_hour(project, price)).npv) < 1e-3
    assert breakeven_revenue_scale(project) * 900.0 == pytest.approx(price, rel=1e-9)


def test_a_credit_against_tax_is_worth_less_than_cash_when_there_is_no_tax() -> None:
    loss = Financing(discount_rate=0.1)
    dc = Component("dc", "pv", capex=1000.0, life_years=3)
    args = {"components": (dc,), "financing": loss, "operations": one_year(0.0, price_per_gpu_hour=0.0)}
    cash = evaluate(three_year_project(incentives=Incentives(itc_fraction=0.1), **args))
    credit = evaluate(three_year_project(incentives=Incentives(itc_fraction=0.1, itc_use="against_tax"), **args))
    assert cash.npv - credit.npv == pytest.approx(100.0 / 1.1)  # no tax to offset: the credit is worth nothing
    assert isinstance(evaluate(three_year_project(**args)), FinanceResult)
    assert Project  # the public names stay importable

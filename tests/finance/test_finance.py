"""Project evaluation: hand-computed cases, incentives' effect on NPV, invariants and numpy-financial agreement."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import numpy_financial as npf
import pytest

from wattbit.finance.components import Component, Operations
from wattbit.finance.financing import DevelopmentBankLoan, Financing, wacc
from wattbit.finance.incentives import CapacityGrant, Incentives, ProductionIncentive
from wattbit.finance.project import Project, breakeven_price_per_gpu_hour, evaluate, with_price_per_gpu_hour
from wattbit.finance.tax import TaxSpec

HOURS = 8760


def one_year(energy_cost: float, **kwargs: float) -> Operations:
    """Operations whose grid bill is ``energy_cost`` a year: 1 MWh bought in the first hour at that price."""
    imports = np.zeros(HOURS)
    imports[0] = 1.0
    defaults = {"gpu_hours_per_year": 10.0, "facility_energy_mwh_per_year": 100.0}
    return Operations(
        grid_import_mwh=imports,
        price_per_mwh=np.full(HOURS, energy_cost),
        **(defaults | kwargs),  # type: ignore[arg-type]
    )


def annuity_factor(rate: float, first: int, last: int) -> float:
    return sum((1 + rate) ** -t for t in range(first, last + 1))


def three_year_project(**kwargs: object) -> Project:
    dc = Component("dc", "other", capex=1000.0, life_years=3, fixed_opex_per_year=100.0)
    ops = one_year(200.0, price_per_gpu_hour=100.0)
    base: dict[str, object] = {
        "components": (dc,),
        "operations": ops,
        "project_years": 3,
        "tax": TaxSpec(rate=0.3),
        "financing": Financing(discount_rate=0.1),
    }
    return Project(**(base | kwargs))  # type: ignore[arg-type]


def test_three_year_project_by_hand() -> None:
    # revenue 10 GPU-h x 100 = 1000; opex 100; grid 200  -> EBITDA 700 in years 1..3
    # straight-line depreciation 1000/3 = 333.33 -> taxable 366.67 -> tax 30 % = 110
    # project cash flow: -1000, 590, 590, 590
    # NPV at 10 %: -1000 + 590 x (1/1.1 + 1/1.21 + 1/1.331) = -1000 + 590 x 2.4868520 = 467.2427
    # IRR: 590 x annuity(r, 3) = 1000 -> r = 35.0426 % (bisection)
    # payback: cumulative -1000, -410, +180 -> 1 + 410/590 = 1.6949 years
    # discounted: -1000, 536.364, 487.603 -> 1 + 463.636/487.603 = 1.9508 years
    # LCOE: the only power-supply cost is the grid bill, 200 / 100 MWh = 2.0 per MWh in every year
    # cost per GPU-hour: (1000 + 300 x 2.4868520) / (10 x 2.4868520) = 1746.0556 / 24.868520 = 70.2115
    r = evaluate(three_year_project())
    af = annuity_factor(0.1, 1, 3)
    assert af == pytest.approx(2.4868520, abs=1e-7)
    t = r.table
    np.testing.assert_allclose(t["ebitda_jpy"], [0, 700, 700, 700])
    np.testing.assert_allclose(t["depreciation_jpy"], [0, 1000 / 3, 1000 / 3, 1000 / 3])
    np.testing.assert_allclose(t["tax_jpy"], [0, 110, 110, 110])
    np.testing.assert_allclose(t["project_cash_flow_jpy"], [-1000, 590, 590, 590])
    assert r.npv == pytest.approx(-1000 + 590 * af, rel=1e-12)
    assert r.npv == pytest.approx(467.2427, abs=1e-4)
    assert r.irr == pytest.approx(0.35042605, abs=1e-8)
    assert r.payback_years == pytest.approx(1 + 410 / 590)
    assert r.discounted_payback_years == pytest.approx(1 + (1000 - 590 / 1.1) / (590 / 1.21))
    assert r.lcoe_per_mwh == pytest.approx(2.0, rel=1e-12)
    assert r.cost_per_gpu_hour == pytest.approx((1000 + 300 * af) / (10 * af), rel=1e-12)
    assert r.cost_per_gpu_hour == pytest.approx(70.2115, abs=1e-4)
    assert r.equity_npv == pytest.approx(-1000 + 590 * annuity_factor(0.08, 1, 3), rel=1e-12)  # all equity, ke 8 %


def test_three_year_project_with_a_first_year_tax_loss() -> None:
    # 100 % bonus depreciation: year-1 taxable 700 - 1000 = -300 (loss carried). Year 2: offset at most 50 % of
    # 700 = 350, so all 300 is used -> tax 0.3 x 400 = 120; year 3: 0.3 x 700 = 210.
    # With the loss used at once elsewhere instead: -90, 210, 210.
    dc = Component("dc", "other", capex=1000.0, life_years=3, fixed_opex_per_year=100.0, bonus_depreciation_fraction=1)
    carried = evaluate(three_year_project(components=(dc,)))
    np.testing.assert_allclose(carried.table["tax_jpy"], [0, 0, 120, 210])
    np.testing.assert_allclose(carried.table["loss_carried_forward_jpy"], [0, 300, 0, 0])
    elsewhere = evaluate(three_year_project(components=(dc,), tax=TaxSpec(rate=0.3, loss_treatment="offset_elsewhere")))
    np.testing.assert_allclose(elsewhere.table["tax_jpy"], [0, -90, 210, 210])


# --- a 20-year datacenter for the incentive and financing checks -------------------------------------------------

RATE = 0.07
TAX = 0.2974


def datacenter(**kwargs: object) -> Project:
    components = (
        Component("gpus", "it", capex=10e9, life_years=5, fixed_opex_per_year=3e8, depreciation="declining_balance"),
        Component("pv", "pv", capex=3e9, life_years=25, tax_life_years=17, fixed_opex_per_year=4e7),
        Component("battery", "battery", capex=1e9, life_years=10, tax_life_years=6),
        Component("building", "building", capex=5e9, life_years=40, fixed_opex_per_year=1e8),
    )
    ops = one_year(
        2.5e9, gpu_hours_per_year=2000 * 8760 * 0.8, price_per_gpu_hour=900.0, facility_energy_mwh_per_year=3e4
    )
    base: dict[str, object] = {
        "components": components,
        "operations": ops,
        "project_years": 20,
        "financing": Financing(discount_rate=RATE),
    }
    return Project(**(base | kwargs))  # type: ignore[arg-type]


def df(t: int) -> float:
    return (1 + RATE) ** -t


def depreciation_pv_per_unit_basis() -> dict[str, float]:
    """Present value at 7 % of depreciating 1 unit of each component's initial purchase, by hand."""
    return {
        "gpus": sum(f * df(k) for k, f in enumerate([0.4, 0.24, 0.144, 0.108, 0.108], start=1)),
        "pv": annuity_factor(RATE, 1, 17) / 17,
        "battery": annuity_factor(RATE, 1, 6) / 6,
        "building": annuity_factor(RATE, 1, 20) / 40 + 20 / 40 * df(20),  # written off at the end of year 20
    }


def test_base_datacenter_pays_tax_every_year() -> None:
    r = evaluate(datacenter())
    assert (r.table["taxable_income_jpy"][1:] > 0).all()  # so the incentive deltas below are linear in tax
    assert r.npv > 0 and 0 < r.irr < 1


def test_capacity_grant_reducing_the_tax_basis_changes_npv_by_hand() -> None:
    # share 0.5 of 19e9 eligible = 9.5e9, capped at 2e9; allocated pro rata to the initial capex, and each
    # component's depreciation falls by its share: dNPV = G - t x sum_c G_c x PV(depreciation of 1 unit)_c
    grant = CapacityGrant(share=0.5, cap=2e9)
    base = evaluate(datacenter()).npv
    with_grant = evaluate(datacenter(incentives=Incentives(grant=grant))).npv
    capex = {"gpus": 10e9, "pv": 3e9, "battery": 1e9, "building": 5e9}
    pv = depreciation_pv_per_unit_basis()
    lost_shield = TAX * sum(2e9 * capex[c] / 19e9 * pv[c] for c in capex)
    assert with_grant - base == pytest.approx(2e9 - lost_shield, rel=1e-9)


def test_taxable_capacity_grant_changes_npv_by_hand() -> None:
    grant = CapacityGrant(share=0.1, cap=None, reduces_tax_basis=False)  # 0.1 x 19e9 = 1.9e9, taxed in year 0
    base = evaluate(datacenter()).npv
    with_grant = evaluate(datacenter(incentives=Incentives(grant=grant))).npv
    assert with_grant - base == pytest.approx(1.9e9 * (1 - TAX), rel=1e-9)
    paid_later = replace(grant, payment_year=2)
    later = evaluate(datacenter(incentives=Incentives(grant=paid_later))).npv
    assert later - base == pytest.approx(1.9e9 * (1 - TAX) * df(2), rel=1e-9)


def test_grant_only_on_eligible_components() -> None:
    project = datacenter()
    comps = tuple(replace(c, grant_eligible=c.kind in ("pv", "battery")) for c in project.components)
    r = evaluate(replace(project, components=comps, incentives=Incentives(grant=CapacityGrant(share=0.5))))
    assert r.table["capacity_grant_jpy"][0] == pytest.approx(0.5 * 4e9)


def test_investment_tax_credit_changes_npv_by_hand() -> None:
    # ITC 30 % of PV (3e9) and battery (1e9) capex = 1.2e9 received in year 1; their bases fall by half the credit
    incentives = Incentives(itc_fraction=0.3, itc_basis_reduction=0.5)
    base = evaluate(datacenter()).npv
    with_itc = evaluate(datacenter(incentives=incentives)).npv
    pv = depreciation_pv_per_unit_basis()
    lost_shield = TAX * 0.5 * (0.3 * 3e9 * pv["pv"] + 0.3 * 1e9 * pv["battery"])
    assert with_itc - base == pytest.approx(1.2e9 * df(1) - lost_shield, rel=1e-9)


def test_production_incentive_changes_npv_by_hand() -> None:
    # 2,000 per MWh x 40,000 MWh = 8e7 a year, capped at 5e7, for 10 years, taxable
    pbi = ProductionIncentive(rate_per_mwh=2000.0, term_years=10, annual_cap=5e7)
    project = datacenter()
    ops = replace(project.operations, renewable_generation_mwh_per_year=4e4)
    base = evaluate(replace(project, operations=ops)).npv
    with_pbi = evaluate(replace(project, operations=ops, incentives=Incentives(production=pbi))).npv
    assert with_pbi - base == pytest.approx((1 - TAX) * 5e7 * annuity_factor(RATE, 1, 10), rel=1e-9)
    untaxed = evaluate(replace(project, operations=ops, incentives=Incentives(production=replace(pbi, taxable=False))))
    assert untaxed.npv - base == pytest.approx(5e7 * annuity_factor(RATE, 1, 10), rel=1e-9)


def test_loan_leaves_project_npv_and_adds_the_interest_tax_shield_to_equity() -> None:
    # Equity = project + loan flows + interest tax shield. Discounting equity at the loan rate makes the loan's own
    # flows worth zero, so equity NPV - project NPV (both at 2 %) = PV(t x interest) at 2 %.
    loan = DevelopmentBankLoan(rate=0.02, tenor_years=15, grace_years=2, debt_share=0.6)
    unlevered = datacenter(financing=Financing(cost_of_equity=0.02, discount_rate=0.02))
    levered = datacenter(financing=Financing(cost_of_equity=0.02, discount_rate=0.02, loan=loan))
    a, b = evaluate(unlevered), evaluate(levered)
    assert b.npv == pytest.approx(a.npv, rel=1e-12)
    interest = b.table["interest_jpy"].to_numpy()
    shield = TAX * npf.npv(0.02, interest)
    assert b.equity_npv - a.equity_npv == pytest.approx(shield, rel=1e-9)
    assert b.table["debt_drawdown_jpy"][0] == pytest.approx(0.6 * 19e9)
    assert b.table["principal_repayment_jpy"].sum() == pytest.approx(0.6 * 19e9, rel=1e-12)


def test_wacc_is_the_default_project_rate() -> None:
    loan = DevelopmentBankLoan(rate=0.015, tenor_years=15, debt_share=0.7)
    r = evaluate(datacenter(financing=Financing(cost_of_equity=0.09, loan=loan)))
    assert r.discount_rate == pytest.approx(wacc(0.09, 0.7, 0.015, TAX))
    assert r.discount_rate == pytest.approx(0.3 * 0.09 + 0.7 * 0.015 * (1 - TAX))
    assert evaluate(datacenter(financing=Financing(cost_of_equity=0.09))).discount_rate == 0.09


def test_replacements_escalation_and_residual_value() -> None:
    battery = Component(
        "battery",
        "battery",
        capex=1000.0,
        life_years=10,
        capex_escalation=0.02,
        replacement_capex=600.0,
        fixed_opex_per_year=10.0,
        opex_escalation=0.03,
    )
    r = evaluate(three_year_project(components=(battery,), project_years=15))
    capex = r.table["capex_jpy"].to_numpy()
    assert capex[0] == 1000.0 and capex[10] == pytest.approx(600 * 1.02**10)
    assert capex.sum() == pytest.approx(1000 + 600 * 1.02**10)
    # the replacement has 5 of its 10 years left at the end of year 15
    assert r.table["residual_value_jpy"][15] == pytest.approx(600 * 1.02**10 * 5 / 10)
    np.testing.assert_allclose(r.table["fixed_opex_jpy"][1:], 10 * 1.03 ** np.arange(15))
    explicit = evaluate(three_year_project(components=(replace(battery, replacement_years=(7,)),), project_years=15))
    assert explicit.table["capex_jpy"][7] == pytest.approx(600 * 1.02**7)
    assert explicit.table["residual_value_jpy"][15] == pytest.approx(600 * 1.02**7 * 2 / 10)
    no_residual = evaluate(three_year_project(components=(battery,), project_years=15, residual="none"))
    assert no_residual.table["residual_value_jpy"].sum() == 0.0


def test_cash_flow_identities_and_depreciation_sums_to_basis() -> None:
    rng = np.random.default_rng(11)
    for _ in range(25):
        project = _random_project(rng)
        r = evaluate(project)
        t = r.table
        cf = t["ebitda_jpy"] - t["capex_jpy"] + t["residual_value_jpy"] + t["capacity_grant_jpy"] + t["itc_jpy"]
        np.testing.assert_allclose(t["project_cash_flow_jpy"], cf - t["tax_jpy"], rtol=1e-12, atol=1e-3)
        # every purchase is fully depreciated by the end (written off in the last year), less the basis cuts
        grant = project.incentives.grant
        cut = (t["capacity_grant_jpy"].sum() if grant is not None and grant.reduces_tax_basis else 0.0) + (
            project.incentives.itc_basis_reduction * t["itc_jpy"].sum()
        )
        assert t["depreciation_jpy"].sum() == pytest.approx(t["capex_jpy"].sum() - cut, rel=1e-9)
        # numpy-financial agrees on the headline metrics
        assert r.npv == pytest.approx(npf.npv(r.discount_rate, t["project_cash_flow_jpy"]), rel=1e-9)
        assert r.equity_npv == pytest.approx(npf.npv(r.cost_of_equity, t["equity_cash_flow_jpy"]), rel=1e-9, abs=1)
        if r.irr_note == "":
            assert r.irr == pytest.approx(npf.irr(t["project_cash_flow_jpy"].to_numpy()), rel=1e-9)
        else:
            assert math.isnan(r.irr)


def _random_project(rng: np.random.Generator) -> Project:
    kinds = ["it", "building", "cooling", "power_chain", "pv", "wind", "battery", "grid_connection"]
    methods = ["straight_line", "declining_balance", "macrs"]
    comps = []
    for i, kind in enumerate(kinds):
        method = methods[int(rng.integers(3))]
        tax_life = int(rng.choice([3, 5, 7, 10, 15, 20])) if method == "macrs" else int(rng.integers(1, 40))
        comps.append(
            Component(
                f"c{i}",
                kind,
                capex=float(rng.uniform(0, 1e10)),
                life_years=int(rng.integers(1, 40)),
                capex_escalation=float(rng.uniform(-0.02, 0.05)),
                fixed_opex_per_year=float(rng.uniform(0, 1e8)),
                variable_opex_per_mwh=float(rng.uniform(0, 500)),
                throughput_mwh_per_year=float(rng.uniform(0, 1e5)),
                depreciation=method,
                tax_life_years=tax_life,  # type: ignore[arg-type]
                bonus_depreciation_fraction=float(rng.choice([0.0, 0.3])),
            )
        )
    n = int(rng.integers(5, 31))
    ops = Operations(
        gpu_hours_per_year=float(rng.uniform(1e6, 5e7)),
        facility_energy_mwh_per_year=float(rng.uniform(1e4, 1e6)),
        grid_import_mwh=rng.uniform(0, 50, HOURS),
        price_per_mwh=rng.uniform(0, 3e4, HOURS),
        price_per_gpu_hour=float(rng.uniform(100, 1500)),
        revenue_escalation=float(rng.uniform(-0.03, 0.03)),
        renewable_generation_mwh_per_year=float(rng.uniform(0, 1e5)),
    )
    incentives = Incentives(
        itc_fraction=float(rng.uniform(0, 0.4)),
        grant=CapacityGrant(
            share=float(rng.uniform(0, 0.5)), cap=float(rng.uniform(0, 1e10)), reduces_tax_basis=bool(rng.integers(2))
        ),
        production=ProductionIncentive(
            rate_per_mwh=float(rng.uniform(0, 3000)), term_years=int(rng.integers(1, n + 1))
        ),
    )
    loan = DevelopmentBankLoan(
        rate=float(rng.uniform(0, 0.05)), tenor_years=int(rng.integers(1, n + 1)), debt_share=float(rng.uniform(0, 0.8))
    )
    return Project(tuple(comps), ops, n, incentives=incentives, financing=Financing(cost_of_equity=0.1, loan=loan))


def test_energy_cost_is_hourly_price_times_import() -> None:
    rng = np.random.default_rng(5)
    imports, prices = rng.uniform(0, 80, HOURS), rng.uniform(-500, 40_000, HOURS)
    exports = rng.uniform(0, 10, HOURS)
    ops = Operations(
        gpu_hours_per_year=1.0,
        facility_energy_mwh_per_year=1.0,
        grid_import_mwh=imports,
        price_per_mwh=prices,
        grid_export_mwh=exports,
        export_price_per_mwh=prices * 0.5,
        energy_price_escalation=0.01,
    )
    r = evaluate(three_year_project(operations=ops))
    expected = float(np.sum(imports * prices))
    np.testing.assert_allclose(r.table["energy_cost_jpy"], [0, expected, expected * 1.01, expected * 1.01**2])
    assert r.table["export_revenue_jpy"][1] == pytest.approx(float(np.sum(exports * prices * 0.5)))


def test_lcoe_counts_only_the_power_supply() -> None:
    # PV 1000 (3-year life) + O&M 10 + grid 200 a year, 100 MWh delivered:
    # LCOE = (1000 + 210 x 2.4868520) / (100 x 2.4868520) = 6.1211; the building changes cost per GPU-hour only
    pv = Component("pv", "pv", capex=1000.0, life_years=3, fixed_opex_per_year=10.0)
    hall = Component("hall", "building", capex=5000.0, life_years=3)
    af = annuity_factor(0.1, 1, 3)
    a = evaluate(three_year_project(components=(pv,)))
    b = evaluate(three_year_project(components=(pv, hall)))
    assert a.lcoe_per_mwh == pytest.approx((1000 + 210 * af) / (100 * af), rel=1e-12)
    assert b.lcoe_per_mwh == pytest.approx(a.lcoe_per_mwh, rel=1e-12)
    assert b.cost_per_gpu_hour - a.cost_per_gpu_hour == pytest.approx(5000 / (10 * af), rel=1e-12)


def test_breakeven_price_makes_npv_zero_even_with_carried_losses() -> None:
    project = datacenter(tax=TaxSpec(loss_offset_limit=0.5))
    price = breakeven_price_per_gpu_hour(project)
    at_price = evaluate(with_price_per_gpu_hour(project, price))
    assert abs(at_price.npv) < 1e-9 * 19e9
    assert (at_price.table["loss_used_jpy"] > 0).any()  # the nonlinear part of the tax was exercised
    assert evaluate(with_price_per_gpu_hour(project, price * 1.01)).npv > 0


def test_table_has_one_row_per_year_and_currency_in_column_names() -> None:
    r = evaluate(three_year_project(currency="USD", start_year=2027))
    t = r.table
    assert list(t.index) == [0, 1, 2, 3]
    assert list(t["calendar_year"]) == [2027, 2028, 2029, 2030]
    assert "revenue_usd" in t.columns and "gpu_hours" in t.columns and "facility_energy_mwh" in t.columns
    assert not any(c.endswith("_jpy") for c in t.columns)


def test_evaluation_is_deterministic() -> None:
    # its speed is measured in benchmarks (docs/finance.md), not asserted here: a timed test fails on a busy machine
    project = datacenter(incentives=Incentives(grant=CapacityGrant(0.5, 2e9)))
    first = evaluate(project)
    for _ in range(5):
        again = evaluate(project)
        assert again.npv == first.npv and again.irr == first.irr
        assert again.table.equals(first.table)

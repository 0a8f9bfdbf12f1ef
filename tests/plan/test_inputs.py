"""Bad finance inputs raise WattbitInputError naming the field and the expected range."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from wattbit.errors import WattbitInputError
from wattbit.finance.components import Component, Operations
from wattbit.finance.financing import DevelopmentBankLoan, Financing
from wattbit.finance.incentives import CapacityGrant, Incentives, ProductionIncentive
from wattbit.finance.project import Project, evaluate

HOURS = 8760


def ops(**kwargs: Any) -> Operations:
    base: dict[str, Any] = {
        "gpu_hours_per_year": 1e6,
        "facility_energy_mwh_per_year": 1e4,
        "grid_import_mwh": np.ones(HOURS),
        "price_per_mwh": np.full(HOURS, 1e4),
    }
    return Operations(**(base | kwargs))


def component(**kwargs: Any) -> Component:
    base: dict[str, Any] = {"name": "pv", "kind": "pv", "capex": 1e9, "life_years": 20}
    return Component(**(base | kwargs))


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"capex": -1.0}, "capex", r"component 'pv': capex=-1.0 must be a finite number >= 0"),
        ({"capex": float("nan")}, "capex", r"capex=nan must be a finite number >= 0"),
        ({"capex": "1e9"}, "capex", r"capex='1e9' must be a number"),
        ({"fixed_opex_per_year": -5.0}, "fixed_opex_per_year", r">= 0"),
        ({"life_years": 0}, "life_years", r"life_years=0 must be a whole number in \[1, 100\]"),
        ({"life_years": 2.5}, "life_years", r"life_years=2.5 must be a whole number"),
        ({"tax_life_years": 0}, "tax_life_years", r"tax_life_years=0 must be a whole number of years >= 1"),
        ({"depreciation": "macrs", "tax_life_years": 6}, "tax_life_years", r"must be one of \[3, 5, 7, 10, 15, 20\]"),
        ({"depreciation": "double"}, "depreciation", r"depreciation='double' must be one of"),
        ({"capex_escalation": 0.8}, "capex_escalation", r"capex_escalation=0.8 must be in \(-0.5, 0.5\]"),
        ({"kind": "nuclear"}, "kind", r"kind='nuclear' must be one of \['it', 'building'"),
        ({"replacement_years": (10, 5)}, "replacement_years", r"must be strictly increasing"),
        ({"replacement_years": (0,)}, "replacement_years[0]", r"replacement_years\[0\]=0 must be a whole number"),
        ({"bonus_depreciation_fraction": 2.0}, "bonus_depreciation_fraction", r"in \[0, 1\]"),
        ({"name": " "}, "name", r"component name ' ' must be a non-empty string"),
    ],
)
def test_bad_component(kwargs: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(WattbitInputError, match=message) as info:
        component(**kwargs)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        (
            {"grid_import_mwh": np.ones(100), "price_per_mwh": np.ones(100)},
            "grid_import_mwh",
            r"must cover one year \(8,760 or 8,784 h\); got 100 steps x 1 h = 100 h",
        ),
        ({"step_h": 0.5}, "grid_import_mwh", r"got 8760 steps x 0.5 h = 4380 h"),
        ({"price_per_mwh": np.ones(HOURS - 1)}, "price_per_mwh", r"has 8759 steps but grid_import_mwh has 8760"),
        ({"price_per_mwh": np.r_[np.ones(HOURS - 1), np.nan]}, "price_per_mwh", r"price_per_mwh\[8759\]=nan must be"),
        ({"grid_import_mwh": -np.ones(HOURS)}, "grid_import_mwh", r"grid_import_mwh\[0\]=-1.0 must be finite and >= 0"),
        ({"grid_import_mwh": np.ones((2, HOURS))}, "grid_import_mwh", r"non-empty 1-D array"),
        ({"export_price_per_mwh": np.ones(HOURS)}, "grid_export_mwh", r"export_price_per_mwh is given but"),
        ({"gpu_hours_per_year": -1.0}, "gpu_hours_per_year", r"gpu_hours_per_year=-1.0 must be a finite number >= 0"),
        ({"revenue_escalation": -0.5}, "revenue_escalation", r"revenue_escalation=-0.5 must be in \(-0.5, 0.5\]"),
    ],
)
def test_bad_operations(kwargs: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(WattbitInputError, match=message) as info:
        ops(**kwargs)
    assert info.value.field == field


def test_leap_year_and_half_hour_steps_are_accepted() -> None:
    assert ops(grid_import_mwh=np.ones(8784), price_per_mwh=np.ones(8784)).energy_cost_per_year == 8784.0
    half = ops(grid_import_mwh=np.ones(17520), price_per_mwh=np.full(17520, 2.0), step_h=0.5)
    assert half.energy_cost_per_year == 35040.0


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"project_years": 0}, "project_years", r"project_years=0 must be a whole number in \[1, 60\]"),
        ({"components": ()}, "components", r"at least one component"),
        ({"components": (component(), component())}, "components", r"unique; repeated: \['pv'\]"),
        (
            {"components": (component(replacement_years=(20,)),)},
            "components[0].replacement_years",
            r"replacement_years \[20\] must be before the last project year \(project_years=20, so 1..19\)",
        ),
        (
            {"financing": Financing(loan=DevelopmentBankLoan(rate=0.02, tenor_years=25, debt_share=0.5))},
            "financing.loan.tenor_years",
            r"tenor_years=25 is longer than the project \(project_years=20\)",
        ),
        (
            {"incentives": Incentives(production=ProductionIncentive(1000.0, term_years=21))},
            "incentives.production.term_years",
            r"term_years=21 is longer than the project",
        ),
        (
            {"incentives": Incentives(grant=CapacityGrant(0.5, payment_year=21))},
            "incentives.grant.payment_year",
            r"payment_year=21 is after the project's last year 20",
        ),
        ({"currency": "yen"}, "currency", r"currency='yen' must be a three-letter ISO 4217 code"),
        ({"start_year": 1066}, "start_year", r"start_year=1066 must be a whole number in \[1900, 2200\]"),
    ],
)
def test_bad_project(kwargs: dict[str, Any], field: str, message: str) -> None:
    base: dict[str, Any] = {"components": (component(),), "operations": ops(), "project_years": 20}
    with pytest.raises(WattbitInputError, match=message) as info:
        Project(**(base | kwargs))
    assert info.value.field == field


@pytest.mark.parametrize(
    ("make", "field", "message"),
    [
        (lambda: Incentives(itc_fraction=1.3), "incentives.itc_fraction", r"itc_fraction=1.3 must be in \[0, 1\]"),
        (lambda: CapacityGrant(share=-0.1), "incentives.grant.share", r"share=-0.1 must be in \[0, 1\]"),
        (lambda: CapacityGrant(share=0.5, cap=-1.0), "incentives.grant.cap", r"cap=-1.0 must be a finite number"),
        (lambda: ProductionIncentive(-1.0, 10), "incentives.production.rate_per_mwh", r"must be a finite number >= 0"),
        (lambda: ProductionIncentive(1.0, 0), "incentives.production.term_years", r"whole number in \[1, 100\]"),
    ],
)
def test_bad_incentives(make: Any, field: str, message: str) -> None:
    with pytest.raises(WattbitInputError, match=message) as info:
        make()
    assert info.value.field == field


def test_loan_larger_than_the_net_investment_is_refused() -> None:
    loan = DevelopmentBankLoan(rate=0.02, tenor_years=10, principal=0.9e9)
    grant = CapacityGrant(share=0.5)  # net initial investment 1e9 - 0.5e9 = 0.5e9 < 0.9e9
    project = Project((component(),), ops(), 20, financing=Financing(loan=loan), incentives=Incentives(grant=grant))
    with pytest.raises(WattbitInputError, match=r"loan principal 900,000,000 exceeds the net initial investment") as e:
        evaluate(project)
    assert e.value.field == "financing.loan.principal"


def test_numpy_scalars_are_accepted_and_reported_plainly() -> None:
    c = component(capex=np.float64(1e9), life_years=np.int64(20), tax_life_years=np.int64(17))
    assert c.life_years == 20 and isinstance(c.life_years, int) and c.tax_life == 17
    Project((c,), ops(), np.int64(20))
    with pytest.raises(WattbitInputError, match=r"capex=-2.0 must") as info:
        component(capex=np.float32(-2.0))
    assert "np." not in str(info.value)

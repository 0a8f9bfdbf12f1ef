"""Development-bank loan schedule and WACC, by hand and against numpy-financial."""

from __future__ import annotations

import numpy as np
import numpy_financial as npf
import pytest

from wattbit.errors import WattbitInputError
from wattbit.finance.financing import DevelopmentBankLoan, Financing, loan_schedule, wacc


def test_loan_with_grace_period_by_hand_and_numpy_financial() -> None:
    # 1000 at 5 %, 5-year tenor, 2 interest-only years: years 1-2 pay 50 interest; years 3-5 pay the annuity
    # A = 1000 x 0.05 / (1 - 1.05^-3) = 367.2085..., of which year 3 interest 50 and principal 317.2085...
    loan = DevelopmentBankLoan(rate=0.05, tenor_years=5, grace_years=2, principal=1000.0)
    s = loan_schedule(loan, 1000.0, n_years=7)
    annuity = -npf.pmt(0.05, 3, 1000.0)
    assert annuity == pytest.approx(367.20856, rel=1e-7)
    np.testing.assert_allclose(s.drawdown, [1000, 0, 0, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(s.interest[1:3], [50.0, 50.0])
    np.testing.assert_allclose(s.interest[3:6] + s.principal[3:6], annuity, rtol=1e-12)
    np.testing.assert_allclose(s.interest[3:6], -npf.ipmt(0.05, [1, 2, 3], 3, 1000.0), rtol=1e-12)
    np.testing.assert_allclose(s.principal[3:6], -npf.ppmt(0.05, [1, 2, 3], 3, 1000.0), rtol=1e-12)
    assert s.principal.sum() == pytest.approx(1000.0, rel=1e-14)
    assert s.balance[5] == 0.0 and s.balance[-1] == 0.0
    assert np.all(s.interest[6:] == 0.0)


def test_loan_cash_flows_have_zero_npv_at_the_loan_rate() -> None:
    loan = DevelopmentBankLoan(rate=0.017, tenor_years=18, grace_years=3, debt_share=0.7)
    s = loan_schedule(loan, 5e9, n_years=20)
    lender = -s.drawdown + s.interest + s.principal
    assert npf.npv(0.017, lender) == pytest.approx(0.0, abs=1e-3)


def test_debt_share_sizes_the_loan() -> None:
    assert DevelopmentBankLoan(rate=0.02, tenor_years=10, debt_share=0.6).amount(1000.0) == 600.0
    assert DevelopmentBankLoan(rate=0.02, tenor_years=10, principal=250.0).amount(1000.0) == 250.0


def test_wacc_by_hand() -> None:
    # 40 % equity at 10 %, 60 % debt at 2 % with 30 % tax: 0.4 x 0.10 + 0.6 x 0.02 x 0.7 = 0.0484
    assert wacc(0.10, 0.6, 0.02, 0.3) == pytest.approx(0.0484, rel=1e-14)


@pytest.mark.parametrize(
    ("kwargs", "message", "field"),
    [
        ({"rate": 5.0, "tenor_years": 10, "debt_share": 0.5}, r"rate=5.0 must be in \[0, 0.5\]", "financing.loan.rate"),
        ({"rate": 0.02, "tenor_years": 0, "debt_share": 0.5}, r"tenor_years=0 must be a whole number", None),
        ({"rate": 0.02, "tenor_years": 5, "grace_years": 5, "debt_share": 0.5}, r"grace_years=5 .* \[0, 4\]", None),
        ({"rate": 0.02, "tenor_years": 5}, r"exactly one of debt_share .* or principal", None),
        ({"rate": 0.02, "tenor_years": 5, "debt_share": 0.5, "principal": 1.0}, r"exactly one of", None),
        ({"rate": 0.02, "tenor_years": 5, "debt_share": 1.0}, r"debt_share=1.0 must be in \[0, 1\)", None),
        ({"rate": 0.02, "tenor_years": 5, "principal": -1.0}, r"principal=-1.0 must be a finite number >= 0", None),
    ],
)
def test_bad_loan_inputs(kwargs: dict[str, object], message: str, field: str | None) -> None:
    with pytest.raises(WattbitInputError, match=message) as info:
        DevelopmentBankLoan(**kwargs)  # type: ignore[arg-type]
    assert info.value.field is not None and info.value.field.startswith("financing.loan.")
    if field is not None:
        assert info.value.field == field


def test_bad_financing_inputs() -> None:
    with pytest.raises(WattbitInputError, match=r"cost_of_equity=8.0 must be in \[0, 0.5\]"):
        Financing(cost_of_equity=8)
    with pytest.raises(WattbitInputError, match=r"discount_rate=-0.01 must be in \[0, 0.5\]"):
        Financing(discount_rate=-0.01)

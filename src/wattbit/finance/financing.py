"""How the project is funded: a development-bank loan (annuity with an optional grace period) and the WACC.

Loan (assumption: the usual project-finance annuity, e.g. Development Bank of Japan (DBJ) long-term loans; DBJ
publishes no standard terms): the principal is drawn at time zero; in each grace year only interest is paid; then
``A = P r / (1 - (1 + r)^-(T - G))`` is paid every year until year ``T`` (tenor), split into interest
``r × balance`` and principal ``A - interest``.

WACC (textbook after-tax form, e.g. Brealey, Myers & Allen, *Principles of Corporate Finance*, ch. 19):
``WACC = E/V × k_e + D/V × k_d × (1 - t)``, with ``D/V`` the loan's share of the net initial investment, ``k_d`` its
rate and ``t`` the corporate tax rate. A given ``discount_rate`` overrides it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from wattbit.errors import WattbitInputError
from wattbit.finance.metrics import annuity_payment
from wattbit.units import check_int, check_number

#: Highest interest or discount rate accepted (50 % a year): above it an input is almost surely a percent typed as a
#: fraction's hundredfold or a monthly/annual mix-up.
MAX_RATE = 0.5


@dataclass(frozen=True)
class DevelopmentBankLoan:
    """A senior loan drawn at time zero and repaid as an annuity after an interest-only grace period.

    Attributes
    ----------
    rate
        Interest rate per year, in [0, 0.5].
    tenor_years
        Years from drawdown to the last payment, >= 1 and not longer than the project.
    grace_years
        Interest-only years at the start, in [0, tenor_years - 1].
    debt_share
        Loan as a share of the net initial investment (initial capex less capacity grant), in [0, 1); give this or
        ``principal``.
    principal
        Loan amount [currency], >= 0; give this or ``debt_share``.
    """

    rate: float
    tenor_years: int
    grace_years: int = 0
    debt_share: float | None = None
    principal: float | None = None

    def __post_init__(self) -> None:
        what = "loan"
        check_number(self.rate, "financing.loan.rate", 0.0, MAX_RATE, what=what)
        check_int(self.tenor_years, "financing.loan.tenor_years", 1, 100, what=what)
        check_int(self.grace_years, "financing.loan.grace_years", 0, self.tenor_years - 1, what=what)
        if (self.debt_share is None) == (self.principal is None):
            raise WattbitInputError(
                "loan: give exactly one of debt_share (share of net initial investment) or principal (amount)",
                field="financing.loan.debt_share",
            )
        if self.debt_share is not None:
            check_number(self.debt_share, "financing.loan.debt_share", 0.0, 1.0, hi_open=True, what=what)
        if self.principal is not None:
            check_number(self.principal, "financing.loan.principal", 0.0, what=what)

    def amount(self, net_initial_investment: float) -> float:
        """The principal [currency] for a project whose initial capex less grant is ``net_initial_investment``."""
        if self.principal is not None:
            return self.principal
        assert self.debt_share is not None
        return self.debt_share * net_initial_investment


class LoanSchedule(NamedTuple):
    """Yearly loan flows [currency], index = project year (0 = drawdown)."""

    drawdown: NDArray[np.float64]
    interest: NDArray[np.float64]
    principal: NDArray[np.float64]
    balance: NDArray[np.float64]


def loan_schedule(loan: DevelopmentBankLoan, principal: float, n_years: int) -> LoanSchedule:
    """Drawdown, interest, principal repayment and closing balance per year ``0 .. n_years``.

    Parameters
    ----------
    loan
        The loan terms.
    principal
        The amount drawn at year 0 [currency].
    n_years
        Project years (operations), >= ``loan.tenor_years``.

    Returns
    -------
    LoanSchedule
        Arrays of length ``n_years + 1``; principal repayments sum to ``principal`` and the balance ends at zero.
    """
    size = n_years + 1
    drawdown = np.zeros(size)
    interest = np.zeros(size)
    repaid = np.zeros(size)
    balance = np.zeros(size)
    drawdown[0] = principal
    balance[0] = principal
    owed = principal
    payment = annuity_payment(loan.rate, loan.tenor_years - loan.grace_years, principal)
    for year in range(1, loan.tenor_years + 1):
        interest[year] = loan.rate * owed
        if year > loan.grace_years:
            repaid[year] = owed if year == loan.tenor_years else payment - interest[year]
        owed -= repaid[year]
        balance[year] = owed
    return LoanSchedule(drawdown, interest, repaid, balance)


@dataclass(frozen=True)
class Financing:
    """Capital structure and discount rates.

    Attributes
    ----------
    cost_of_equity
        Return equity investors require per year, in [0, 0.5]; discounts the equity cash flows. Default 0.08 is an
        assumption (U): REFERENCE.md gives a datacenter WACC of 7–10 % (U).
    loan
        A development-bank loan, or None for an all-equity project.
    discount_rate
        Discount rate for the project (unlevered) cash flows, in [0, 0.5]; None means the WACC.
    """

    cost_of_equity: float = 0.08
    loan: DevelopmentBankLoan | None = None
    discount_rate: float | None = None

    def __post_init__(self) -> None:
        check_number(self.cost_of_equity, "financing.cost_of_equity", 0.0, MAX_RATE)
        if self.discount_rate is not None:
            check_number(self.discount_rate, "financing.discount_rate", 0.0, MAX_RATE)


def wacc(cost_of_equity: float, debt_fraction: float, cost_of_debt: float, tax_rate: float) -> float:
    """After-tax weighted average cost of capital ``(1 - D/V) k_e + D/V k_d (1 - t)``.

    Parameters
    ----------
    cost_of_equity
        ``k_e`` per year.
    debt_fraction
        ``D/V``, in [0, 1].
    cost_of_debt
        ``k_d`` per year.
    tax_rate
        ``t``, the corporate tax rate.

    Returns
    -------
    float
        The WACC per year.
    """
    if not 0.0 <= debt_fraction <= 1.0 or math.isnan(debt_fraction):
        raise WattbitInputError(f"debt fraction {debt_fraction} must be in [0, 1]", field="financing.loan")
    return (1.0 - debt_fraction) * cost_of_equity + debt_fraction * cost_of_debt * (1.0 - tax_rate)

"""Incentives: investment tax credit, production incentive per MWh, capacity-based capital grant.

- **Investment tax credit (ITC)**: ``itc_fraction × initial capex`` of ITC-eligible components (PV, wind and battery
  by default), received in year 1 as cash — assumption: the owner has the tax capacity to use it, or can transfer it
  (US IRC §6418). The depreciable basis of each eligible component falls by ``itc_basis_reduction ×`` its credit
  (US IRC §50(c)(3): half the credit; REopt's ``macrs_itc_reduction`` default 0.5, V). With
  ``itc_use="against_tax"`` the credit is not cash: it offsets corporate tax from year 1, at most
  ``itc_tax_limit_share`` of each year's tax, carried forward ``itc_carryforward_years`` — the form of Japan's
  investment tax credits, e.g. the carbon-neutral investment promotion tax credit (カーボンニュートラルに向けた投資促進
  税制: 5 %, or 10 % for a large carbon-productivity gain, of certified equipment, or 50 % special depreciation
  instead; S, METI and j-net21.smrj.go.jp), whose basis is not reduced (``itc_basis_reduction=0``). Default 0.
- **Production incentive**: ``min(rate_per_mwh × eligible MWh, annual_cap)`` in each of years ``1 .. term_years``
  (PySAM ``pbi_fed_amount``/``pbi_fed_term``, REopt ``production_incentive_per_kwh``/``_max_benefit``/``_years``, V).
  Taxable by default, as in PySAM.
- **Capacity grant**: ``min(share × eligible initial capex, cap)``, paid in ``payment_year`` — the form of Japanese
  datacenter-siting subsidies: METI's FY2021 supplementary "data-center regional hub" programme (¥7.1 bn in total)
  and METI's support of up to ¥30 bn for the Tomakomai AI datacenter (S: nhk.or.jp, gov-base.info, via REFERENCE.md
  §6); shares and caps differ per programme and call, so none is assumed by default. By default the grant is not
  taxed and reduces the depreciable basis of the eligible components pro rata, which is the effect of Japan's
  compression entry for national subsidies (国庫補助金等で取得した固定資産等の圧縮額の損金算入, Corporation Tax Act
  Art. 42; S). With ``reduces_tax_basis=False`` it is taxable income in the year it is paid and the basis is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from wattbit.errors import WattbitInputError
from wattbit.units import check_int, check_number

ItcUse = Literal["cash", "against_tax"]


@dataclass(frozen=True)
class ProductionIncentive:
    """A payment per MWh of eligible (renewable) generation for a number of years, with an annual cap.

    Attributes
    ----------
    rate_per_mwh
        Payment per MWh [currency/MWh], >= 0.
    term_years
        Years it is paid, starting with year 1, >= 1 (and not longer than the project).
    annual_cap
        Most paid in one year [currency], >= 0, or None for no cap.
    taxable
        Whether it is taxable income (default True).
    """

    rate_per_mwh: float
    term_years: int
    annual_cap: float | None = None
    taxable: bool = True

    def __post_init__(self) -> None:
        check_number(self.rate_per_mwh, "incentives.production.rate_per_mwh", 0.0)
        check_int(self.term_years, "incentives.production.term_years", 1, 100)
        if self.annual_cap is not None:
            check_number(self.annual_cap, "incentives.production.annual_cap", 0.0)

    def payments(self, eligible_mwh_per_year: float, n_years: int) -> NDArray[np.float64]:
        """Payment per project year ``0 .. n_years`` [currency]."""
        yearly = self.rate_per_mwh * eligible_mwh_per_year
        if self.annual_cap is not None:
            yearly = min(yearly, self.annual_cap)
        out = np.zeros(n_years + 1)
        out[1 : min(self.term_years, n_years) + 1] = yearly
        return out


@dataclass(frozen=True)
class CapacityGrant:
    """A capital grant of a share of eligible capex, up to a cap.

    Attributes
    ----------
    share
        Share of the eligible initial capex, in [0, 1].
    cap
        Largest grant [currency], >= 0, or None for no cap.
    payment_year
        Project year it is paid, 0 (with construction) .. project years.
    reduces_tax_basis
        True (default): not taxed, reduces the depreciable basis (Japan's compression entry); False: taxable
        income in ``payment_year``.
    """

    share: float
    cap: float | None = None
    payment_year: int = 0
    reduces_tax_basis: bool = True

    def __post_init__(self) -> None:
        check_number(self.share, "incentives.grant.share", 0.0, 1.0)
        if self.cap is not None:
            check_number(self.cap, "incentives.grant.cap", 0.0)
        check_int(self.payment_year, "incentives.grant.payment_year", 0, 100)

    def amount(self, eligible_capex: float) -> float:
        """``min(share × eligible_capex, cap)`` [currency]."""
        grant = self.share * eligible_capex
        return grant if self.cap is None else min(grant, self.cap)


@dataclass(frozen=True)
class Incentives:
    """All incentives of a project (none by default).

    Attributes
    ----------
    itc_fraction
        Investment tax credit as a share of eligible initial capex, in [0, 1].
    itc_basis_reduction
        Share of the credit deducted from the depreciable basis, in [0, 1] (default 0.5, US rule).
    production
        A production incentive, or None.
    grant
        A capacity grant, or None.
    itc_use
        ``"cash"`` (default: received in year 1, as a transferable US credit) or ``"against_tax"`` (offsets corporate
        tax from year 1, Japanese style).
    itc_tax_limit_share
        With ``against_tax``: the largest share of a year's corporate tax the credit may offset, in [0, 1].
    itc_carryforward_years
        With ``against_tax``: years an unused credit is kept, 0..100 (0: usable only in year 1).
    """

    itc_fraction: float = 0.0
    itc_basis_reduction: float = 0.5
    production: ProductionIncentive | None = None
    grant: CapacityGrant | None = None
    itc_use: ItcUse = "cash"
    itc_tax_limit_share: float = 1.0
    itc_carryforward_years: int = 0

    def __post_init__(self) -> None:
        check_number(self.itc_fraction, "incentives.itc_fraction", 0.0, 1.0)
        check_number(self.itc_basis_reduction, "incentives.itc_basis_reduction", 0.0, 1.0)
        if self.itc_use not in ("cash", "against_tax"):
            raise WattbitInputError(
                f"incentives.itc_use={self.itc_use!r} must be 'cash' or 'against_tax'", field="incentives.itc_use"
            )
        check_number(self.itc_tax_limit_share, "incentives.itc_tax_limit_share", 0.0, 1.0)
        check_int(self.itc_carryforward_years, "incentives.itc_carryforward_years", 0, 100)

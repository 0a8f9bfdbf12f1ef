"""Corporate income tax with loss carry-forward, Japanese rules by default.

Defaults (all S: secondary sources read this session, re-check against the law before relying on them):

- ``rate = 0.2974``: Japan's effective statutory corporate tax rate (法人実効税率) for large corporations from FY2018
  — national corporation tax 23.2 % plus local corporate, inhabitant and enterprise taxes, with enterprise tax
  deductible — Ministry of Finance, "法人課税に関する基本的な資料" (mof.go.jp/tax_policy/summary/corporation/c01.htm).
  Secondary sources give 30.62 % for an office in Tokyo (DLA Piper, Going Global: Japan, tax rates).
- ``loss_carryforward_years = 10``: losses of fiscal years beginning on or after 2018-04-01 may be carried forward
  ten years (blue-form filers) — ACCJ Journal; accountingintelligence.jp (2017-02, 2023-01).
- ``loss_offset_limit = 0.5``: a large corporation (paid-in capital above ¥100 million, or wholly owned by one with
  ¥500 million or more) may offset carried-forward losses against at most 50 % of the year's income; SMEs 100 %
  (same sources). ``loss_full_offset_years`` models the exception for newly established corporations (100 % in the
  first seven years, not for subsidiaries wholly owned by large corporations; japantaxdojo.blogspot.com, 2022-01);
  it is 0 by default (assumption: the project company is such a subsidiary).
- Loss carry-back (Japan: SMEs only, one year) is not modelled.

``loss_treatment = "offset_elsewhere"`` instead lets a loss reduce the sponsor's tax in the same year (negative tax),
as when the project sits in a profitable group; the tax is then exactly ``rate × taxable income``.

Tax credits (:func:`use_tax_credits`): a credit that offsets corporate tax rather than being paid out (Japan's
investment tax credits, e.g. the carbon-neutral investment promotion tax credit) is used up to a share of each year's
tax, oldest first, and carried forward a number of years.

Fixed-asset tax (固定資産税 on depreciable assets, 償却資産, :class:`FixedAssetTax`): ``rate`` (1.4 %, the standard
rate of the Local Tax Act) of the assessed value. The assessed value of an asset acquired in the previous calendar
year is ``cost × (1 - r/2)``, and each later year the previous value ``× (1 - r)``, where ``r`` is the old
declining-balance rate of its statutory life (固定資産評価基準 別表第15, equal to the 旧定率法 rate
``1 - 0.1^(1/L)`` rounded to three decimals); it never falls below 5 % of the cost, and no compression entry
(圧縮記帳) for subsidies reduces it (municipal guides, e.g. Anjo and Kitakami cities; S). Buildings (家屋) are
assessed in law from a re-building cost with ageing factors; the same schedule on the building's statutory life is
used for them here (U).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import NDArray

from wattbit.errors import WattbitInputError
from wattbit.units import check_int, check_number

LossTreatment = Literal["carry_forward", "offset_elsewhere"]


@dataclass(frozen=True)
class TaxSpec:
    """Corporate income tax rules.

    Attributes
    ----------
    rate
        Effective corporate tax rate on taxable income, in [0, 0.7] (default 0.2974, Japan, S).
    loss_treatment
        ``"carry_forward"`` (losses wait for future profits) or ``"offset_elsewhere"`` (used at once by the group).
    loss_carryforward_years
        Years a loss can be carried forward, 1..100, or None for no limit (default 10, Japan, S).
    loss_offset_limit
        Largest share of a year's taxable income that carried-forward losses may offset, in (0, 1] (default 0.5,
        Japan large corporations, S; 1 for SMEs; 0.8 in the US after 2017).
    loss_full_offset_years
        Project years (from year 0) in which losses may offset 100 % of income, 0..100 (default 0).
    """

    rate: float = 0.2974
    loss_treatment: LossTreatment = "carry_forward"
    loss_carryforward_years: int | None = 10
    loss_offset_limit: float = 0.5
    loss_full_offset_years: int = 0

    def __post_init__(self) -> None:
        check_number(self.rate, "tax.rate", 0.0, 0.7)
        if self.loss_treatment not in ("carry_forward", "offset_elsewhere"):
            raise WattbitInputError(
                f"tax.loss_treatment={self.loss_treatment!r} must be 'carry_forward' or 'offset_elsewhere'",
                field="tax.loss_treatment",
            )
        if self.loss_carryforward_years is not None:
            check_int(self.loss_carryforward_years, "tax.loss_carryforward_years", 1, 100)
        check_number(self.loss_offset_limit, "tax.loss_offset_limit", 0.0, 1.0, lo_open=True)
        check_int(self.loss_full_offset_years, "tax.loss_full_offset_years", 0, 100)


@dataclass(frozen=True)
class FixedAssetTax:
    """Japan's fixed-asset tax on depreciable assets (固定資産税, 償却資産).

    Attributes
    ----------
    rate
        Tax rate on the assessed value, in [0, 0.1] (default 0.014, the standard rate, Local Tax Act Art. 350; S).
    floor_share
        Lowest assessed value as a share of the acquisition cost, in [0, 1] (default 0.05; S).
    """

    rate: float = 0.014
    floor_share: float = 0.05

    def __post_init__(self) -> None:
        check_number(self.rate, "fixed_asset_tax.rate", 0.0, 0.1)
        check_number(self.floor_share, "fixed_asset_tax.floor_share", 0.0, 1.0)


def assessment_rate(tax_life_years: int) -> float:
    """The declining rate ``r`` of a statutory life ``L``: ``round(1 - 0.1^(1/L), 3)`` (0.369 for 5 years, 0.142
    for 15, 0.059 for 38)."""
    check_int(tax_life_years, "tax_life_years", 1, 100)
    return round(1.0 - 0.1 ** (1.0 / tax_life_years), 3)


def assessed_value_shares(tax_life_years: int, years_held: int, floor_share: float = 0.05) -> NDArray[np.float64]:
    """Assessed value as a share of the cost in each year an asset is held (on 1 January), first year first.

    ``1 - r/2`` (``r/2`` rounded half up to three decimals, as the municipal tables do: 0.815 for 5 years) in the
    first year (acquired in the previous year), then times ``1 - r`` a year, never below ``floor_share``.

    Parameters
    ----------
    tax_life_years
        Statutory useful life ``L`` [years].
    years_held
        Number of assessment years, >= 0.
    floor_share
        Lowest share of the cost.

    Returns
    -------
    numpy.ndarray
        ``years_held`` shares.
    """
    r = assessment_rate(tax_life_years)
    first = 1.0 - math.floor(r / 2.0 * 1000.0 + 0.5 + 1e-9) / 1000.0  # r/2 rounded half up at the 4th decimal
    shares = first * (1.0 - r) ** np.arange(max(years_held, 0), dtype=np.float64)
    return np.maximum(shares, floor_share)


class CreditUse(NamedTuple):
    """Tax credits used per year and the credit carried forward at the end of each year [currency]."""

    used: NDArray[np.float64]
    balance: NDArray[np.float64]


def use_tax_credits(
    tax: NDArray[np.float64], credits: NDArray[np.float64], limit_share: float, carryforward_years: int
) -> CreditUse:
    """Offset each year's tax with tax credits, oldest first.

    A credit arising in year ``s`` may be used in years ``s .. s + carryforward_years``; in each year at most
    ``limit_share × tax`` (none when the tax is zero or negative).

    Parameters
    ----------
    tax
        Corporate tax before credits per year [currency].
    credits
        Credits arising per year [currency], >= 0.
    limit_share
        Largest share of a year's tax that credits may offset, in [0, 1].
    carryforward_years
        Years an unused credit is kept, >= 0.

    Returns
    -------
    CreditUse
        Arrays of the same length as ``tax``.
    """
    used = np.zeros(tax.size)
    balance = np.zeros(tax.size)
    pool: list[list[float]] = []  # [year it arose, amount left]
    for year in range(tax.size):
        if credits[year] > 0.0:
            pool.append([float(year), float(credits[year])])
        pool = [entry for entry in pool if year - entry[0] <= carryforward_years]
        room = max(limit_share * float(tax[year]), 0.0)
        for entry in pool:
            take = min(entry[1], room - used[year])
            entry[1] -= take
            used[year] += take
        pool = [entry for entry in pool if entry[1] > 0.0]
        balance[year] = sum(entry[1] for entry in pool if year + 1 - entry[0] <= carryforward_years)
    return CreditUse(used, balance)


class TaxResult(NamedTuple):
    """Tax per year [currency] and carried-forward losses used and left at the end of each year."""

    tax: NDArray[np.float64]
    loss_used: NDArray[np.float64]
    loss_balance: NDArray[np.float64]


def corporate_tax(taxable_income: NDArray[np.float64], spec: TaxSpec) -> TaxResult:
    """Tax on each year's taxable income, using and expiring carried-forward losses oldest first.

    In a year with income ``y > 0``, losses of the last ``loss_carryforward_years`` years offset up to
    ``limit × y`` (``limit = 1`` in the first ``loss_full_offset_years`` years, else ``loss_offset_limit``), and
    ``tax = rate × (y - used)``. A year with ``y < 0`` pays nothing and adds ``-y`` to the losses carried forward.

    Parameters
    ----------
    taxable_income
        Taxable income before loss offsets, per project year starting at year 0 [currency].
    spec
        The tax rules.

    Returns
    -------
    TaxResult
        Arrays of the same length as ``taxable_income``.
    """
    n = taxable_income.size
    if spec.loss_treatment == "offset_elsewhere":
        zeros = np.zeros(n)
        return TaxResult(spec.rate * taxable_income, zeros, zeros.copy())
    if not (taxable_income < 0.0).any():
        zeros = np.zeros(n)
        return TaxResult(spec.rate * taxable_income, zeros, zeros.copy())
    tax = np.zeros(n)
    used_out = np.zeros(n)
    balance_out = np.zeros(n)
    pool: list[list[float]] = []  # [year the loss arose, amount left], oldest first
    keep = spec.loss_carryforward_years
    for year, income in enumerate(taxable_income.tolist()):
        if keep is not None:
            pool = [entry for entry in pool if year - entry[0] <= keep]
        if income <= 0.0:
            if income < 0.0:
                pool.append([year, -income])
        else:
            limit = 1.0 if year < spec.loss_full_offset_years else spec.loss_offset_limit
            room = limit * income
            used = 0.0
            for entry in pool:
                take = min(entry[1], room - used)
                entry[1] -= take
                used += take
                if used >= room:
                    break
            pool = [entry for entry in pool if entry[1] > 0.0]
            used_out[year] = used
            tax[year] = spec.rate * (income - used)
        balance_out[year] = sum(entry[1] for entry in pool)
    return TaxResult(tax, used_out, balance_out)

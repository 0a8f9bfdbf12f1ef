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
"""

from __future__ import annotations

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

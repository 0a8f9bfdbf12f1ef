"""What a component is worth when the project ends: its residual value, by one of three methods.

- ``"none"``: nothing; the project's value rests on its operating years alone (the conservative reading).
- ``"book_value"``: the remaining *tax* book value of the last purchase (its depreciable basis, after any grant
  compression, ITC basis reduction and bonus depreciation, less the depreciation taken by year ``N``). A sale at book
  value gives no taxable gain.
- ``"market_value"`` (default): the last purchase's cost times a resale share at its age — linear in the economic
  life (``1 - age / life``) unless the component has a resale curve (GPUs: ``resale_fraction_by_age``). The gain over
  the remaining book value is taxed.

Formulas and sources: ``docs/finance.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from wattbit.units import FloatArray

ResidualMethod = Literal["none", "book_value", "market_value"]
RESIDUAL_METHODS: tuple[str, ...] = ("none", "book_value", "market_value")


def market_share(age_years: int, life_years: int, resale_fraction_by_age: Sequence[float] | None = None) -> float:
    """Share of its purchase cost a component fetches at ``age_years`` in service.

    Parameters
    ----------
    age_years
        Whole years in service (years since the purchase at the end of year ``p``: ``N - p``).
    life_years
        Economic life [years], >= 1.
    resale_fraction_by_age
        Resale share at ages 1, 2, ... (the last value holds for older ages); None means linear in the life.

    Returns
    -------
    float
        Share in [0, 1]: 1 at age 0.
    """
    if age_years <= 0:
        return 1.0
    if resale_fraction_by_age:
        return float(resale_fraction_by_age[min(age_years, len(resale_fraction_by_age)) - 1])
    return max(1.0 - age_years / life_years, 0.0)


def book_share(
    age_years: int, depreciation_fractions: Sequence[float] | FloatArray, bonus_fraction: float = 0.0
) -> float:
    """Share of its depreciable basis still on the tax books after ``age_years`` years of depreciation.

    Parameters
    ----------
    age_years
        Tax years of depreciation taken (the first in the year after the purchase).
    depreciation_fractions
        The schedule's fractions (:func:`wattbit.finance.depreciation.depreciation_fractions`).
    bonus_fraction
        First-year bonus (special) depreciation as a share of the basis.

    Returns
    -------
    float
        Share in [0, 1].
    """
    if age_years <= 0:
        return 1.0
    taken = bonus_fraction + (1.0 - bonus_fraction) * float(sum(depreciation_fractions[:age_years]))
    return max(1.0 - taken, 0.0)

"""Tax depreciation schedules: straight-line, Japanese 200 % declining balance, and US MACRS (GDS, half-year).

Each schedule is a tuple of fractions of the depreciable basis, one per tax year starting with the first year of
service, and sums to 1 (to rounding):

- ``"straight_line"`` (定額法): ``1/L`` for ``L`` years. Japan's statutory method for buildings (acquired from
  1998-04-01) and for building fixtures and structures (from 2016-04-01) — National Tax Agency (NTA), 減価償却のあらまし
  (S, not re-read this session).
- ``"declining_balance"`` (定率法, the "200 % declining-balance method" for assets acquired from 2012-04-01): rate
  ``round(2/L, 3)`` applied to the remaining book value, switching to straight-line over the remaining years when that
  gives more (the NTA's 改定償却率 / 償却保証額 rule), fully depreciated by year ``L``. Simplifications (assumption):
  the switch test uses the straight-line amount over the remaining years instead of the NTA's tabulated guarantee
  rate, and the 1-yen memorandum value (備忘価額) is not kept. For ``L = 5`` this gives the NTA table's 0.400 rate,
  0.500 revised rate and 0.108 guarantee amount exactly.
- ``"macrs"``: US Modified Accelerated Cost Recovery System, General Depreciation System, half-year convention —
  200 % declining balance for 3-, 5-, 7- and 10-year property and 150 % for 15- and 20-year property, switching to
  straight-line; ``L + 1`` tax years. Reproduces IRS Publication 946, Appendix A, Table A-1 (tested against it).

A first-year *bonus* fraction (US bonus depreciation, or Japan's 特別償却 special depreciation) is taken on top:
``bonus × basis`` in the first year, the rest of the basis on the schedule.
"""

from __future__ import annotations

import numbers
from functools import lru_cache
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from wattbit.errors import WattbitInputError

DepreciationMethod = Literal["straight_line", "declining_balance", "macrs"]

#: MACRS GDS recovery periods of IRS Pub 946 Table A-1 and their declining-balance factors.
MACRS_FACTORS: dict[int, float] = {3: 2.0, 5: 2.0, 7: 2.0, 10: 2.0, 15: 1.5, 20: 1.5}

DEPRECIATION_METHODS: tuple[str, ...] = ("straight_line", "declining_balance", "macrs")


@lru_cache(maxsize=256)
def depreciation_fractions(method: DepreciationMethod, life_years: int) -> tuple[float, ...]:
    """Fractions of the basis deducted in each tax year, first year of service first.

    Parameters
    ----------
    method
        ``"straight_line"``, ``"declining_balance"`` (Japan 200 %) or ``"macrs"`` (US GDS, half-year).
    life_years
        Statutory useful life or recovery period [years], >= 1; for MACRS one of 3, 5, 7, 10, 15, 20.

    Returns
    -------
    tuple of float
        ``life_years`` fractions (``life_years + 1`` for MACRS) summing to 1.

    Raises
    ------
    WattbitInputError
        For an unknown method or a life the method does not allow.
    """
    if isinstance(life_years, bool) or not isinstance(life_years, numbers.Integral) or life_years < 1:
        raise WattbitInputError(
            f"depreciation life_years={life_years!r} must be a whole number >= 1", field="tax_life_years"
        )
    if method == "straight_line":
        return (1.0 / life_years,) * int(life_years)
    if method == "declining_balance":
        return _declining_balance(int(life_years), 2.0)
    if method == "macrs":
        if life_years not in MACRS_FACTORS:
            raise WattbitInputError(
                f"MACRS recovery period {life_years} years is not one of {sorted(MACRS_FACTORS)} "
                "(IRS Pub 946 Table A-1)",
                field="tax_life_years",
            )
        return _macrs_half_year(int(life_years), MACRS_FACTORS[int(life_years)])
    raise WattbitInputError(
        f"depreciation method {method!r} is not one of {list(DEPRECIATION_METHODS)}", field="depreciation"
    )


def _declining_balance(life_years: int, factor: float) -> tuple[float, ...]:
    rate = min(round(factor / life_years, 3), 1.0)
    book = 1.0
    out = []
    for year in range(life_years):
        remaining = life_years - year
        amount = book if remaining == 1 else min(book, max(book * rate, book / remaining))
        out.append(amount)
        book -= amount
    return tuple(out)


def _macrs_half_year(recovery_years: int, factor: float) -> tuple[float, ...]:
    rate = factor / recovery_years
    first = 0.5 * rate
    out = [first]
    book = 1.0 - first
    remaining = recovery_years - 0.5
    for _ in range(recovery_years):
        amount = book if remaining <= 1.0 else max(book * rate, book / remaining)
        amount = min(amount, book)
        out.append(amount)
        book -= amount
        remaining -= 1.0
    return tuple(out)


def depreciation_schedule(
    basis: float, method: DepreciationMethod, life_years: int, bonus_fraction: float = 0.0
) -> NDArray[np.float64]:
    """Depreciation of ``basis`` per tax year [currency], first year of service first.

    Parameters
    ----------
    basis
        Depreciable basis [currency], >= 0.
    method
        See :func:`depreciation_fractions`.
    life_years
        Statutory life or MACRS recovery period [years].
    bonus_fraction
        Share of the basis deducted in the first year on top of the schedule, in [0, 1].

    Returns
    -------
    numpy.ndarray
        Amounts per tax year; they sum to ``basis``.
    """
    if not 0.0 <= bonus_fraction <= 1.0:
        raise WattbitInputError(f"bonus_fraction={bonus_fraction} must be in [0, 1]", field="bonus_fraction")
    if not basis >= 0.0:
        raise WattbitInputError(f"depreciable basis={basis} must be >= 0", field="basis")
    amounts = np.asarray(depreciation_fractions(method, life_years)) * (basis * (1.0 - bonus_fraction))
    amounts[0] += basis * bonus_fraction
    return amounts

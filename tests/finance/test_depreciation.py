"""Depreciation schedules: published tables, hand-computed Japanese 200 % declining balance, sums, errors."""

from __future__ import annotations

import numpy as np
import pytest

from wattbit.errors import WattbitInputError
from wattbit.finance.depreciation import depreciation_fractions, depreciation_schedule

# IRS Publication 946, Appendix A, Table A-1 (GDS, half-year convention), percent of basis per recovery year.
PUB946_TABLE_A1 = {
    3: [33.33, 44.45, 14.81, 7.41],
    5: [20.00, 32.00, 19.20, 11.52, 11.52, 5.76],
    7: [14.29, 24.49, 17.49, 12.49, 8.93, 8.92, 8.93, 4.46],
    10: [10.00, 18.00, 14.40, 11.52, 9.22, 7.37, 6.55, 6.55, 6.56, 6.55, 3.28],
    15: [5.00, 9.50, 8.55, 7.70, 6.93, 6.23, 5.90, 5.90, 5.91, 5.90, 5.91, 5.90, 5.91, 5.90, 5.91, 2.95],
    20: [3.750, 7.219, 6.677, 6.177, 5.713, 5.285, 4.888, 4.522, 4.462, 4.461, 4.462]
    + [4.461, 4.462, 4.461, 4.462, 4.461, 4.462, 4.461, 4.462, 4.461, 2.231],
}


@pytest.mark.parametrize("recovery_years", sorted(PUB946_TABLE_A1))
def test_macrs_reproduces_irs_pub_946_table_a1(recovery_years: int) -> None:
    table = np.array(PUB946_TABLE_A1[recovery_years])
    ours = 100.0 * np.array(depreciation_fractions("macrs", recovery_years))
    assert ours.size == recovery_years + 1
    # the table is printed to 2 decimals (3 for 20-year property) and nudges the last digit so that each column sums
    # to 100 (10-year property reads 6.55, 6.55, 6.56, 6.55 for 6.5536 each): agree to within one printed unit
    unit = 0.001 if recovery_years == 20 else 0.01
    np.testing.assert_allclose(ours, table, atol=unit)
    assert table.sum() == pytest.approx(100.0, abs=unit)
    assert ours.sum() == pytest.approx(100.0, abs=1e-12)


def test_japan_200pct_declining_balance_five_years_by_hand() -> None:
    # NTA table, 5-year life: rate 0.400, revised rate 0.500, guarantee rate 0.10800.
    # Book value 1 -> DB 0.4, 0.24, 0.144; year 4: DB 0.216 x 0.4 = 0.0864 < 0.108 (guarantee amount), so switch:
    # revised rate 0.5 x 0.216 = 0.108 in years 4 and 5.
    np.testing.assert_allclose(depreciation_fractions("declining_balance", 5), [0.4, 0.24, 0.144, 0.108, 0.108])


def test_japan_200pct_declining_balance_ten_years_by_hand() -> None:
    # rate 0.2: 0.2, 0.16, 0.128, 0.1024, 0.08192, then 0.065536 (DB on 0.32768 equals the guarantee level), then
    # straight-line over the last 4 years on 0.262144 = 0.065536 each (NTA: revised rate 0.250, guarantee 0.06552).
    expected = [0.2, 0.16, 0.128, 0.1024, 0.08192] + [0.065536] * 5
    np.testing.assert_allclose(depreciation_fractions("declining_balance", 10), expected)


@pytest.mark.parametrize("method", ["straight_line", "declining_balance"])
@pytest.mark.parametrize("life", [1, 2, 3, 6, 7, 15, 17, 38, 50])
def test_schedules_sum_to_the_basis_and_never_go_negative(method: str, life: int) -> None:
    amounts = depreciation_schedule(123_456.0, method, life)  # type: ignore[arg-type]
    assert amounts.size == life
    assert amounts.min() >= 0.0
    assert amounts.sum() == pytest.approx(123_456.0, rel=1e-12)


@pytest.mark.parametrize("life", [3, 5, 7, 10, 15, 20])
def test_macrs_with_bonus_sums_to_basis(life: int) -> None:
    amounts = depreciation_schedule(1000.0, "macrs", life, bonus_fraction=0.6)
    assert amounts.sum() == pytest.approx(1000.0, rel=1e-12)
    # 60 % bonus plus the first-year MACRS share of the remaining 40 %
    assert amounts[0] == pytest.approx(600.0 + 400.0 * depreciation_fractions("macrs", life)[0])


def test_declining_balance_front_loads_relative_to_straight_line() -> None:
    db = np.cumsum(depreciation_fractions("declining_balance", 8))
    sl = np.cumsum(depreciation_fractions("straight_line", 8))
    assert np.all(db[:-1] > sl[:-1])


def test_bad_depreciation_inputs_name_what_is_expected() -> None:
    with pytest.raises(WattbitInputError, match=r"life_years=0 must be a whole number >= 1"):
        depreciation_fractions("straight_line", 0)
    with pytest.raises(WattbitInputError, match=r"MACRS recovery period 6 years is not one of \[3, 5, 7, 10, 15, 20\]"):
        depreciation_fractions("macrs", 6)
    with pytest.raises(WattbitInputError, match=r"method 'sum_of_digits' is not one of"):
        depreciation_fractions("sum_of_digits", 5)  # type: ignore[arg-type]
    with pytest.raises(WattbitInputError, match=r"bonus_fraction=1.5 must be in \[0, 1\]"):
        depreciation_schedule(1.0, "straight_line", 5, bonus_fraction=1.5)

"""Corporate tax with Japanese loss carry-forward rules, by hand."""

from __future__ import annotations

import numpy as np
import pytest

from wattbit.errors import WattbitInputError
from wattbit.finance.tax import TaxSpec, corporate_tax


def test_default_is_japan_large_corporation() -> None:
    spec = TaxSpec()
    assert (spec.rate, spec.loss_carryforward_years, spec.loss_offset_limit) == (0.2974, 10, 0.5)


def test_carry_forward_with_50pct_limit_by_hand() -> None:
    # year 0: loss 100 carried. year 1: income 30, offset at most 50 % = 15 -> tax 0.3 x 15 = 4.5, 85 left.
    # year 2: income 200, offset min(85, 100) = 85 -> tax 0.3 x 115 = 34.5. year 3: 50 -> tax 15.
    result = corporate_tax(np.array([-100.0, 30.0, 200.0, 50.0]), TaxSpec(rate=0.3))
    np.testing.assert_allclose(result.tax, [0.0, 4.5, 34.5, 15.0])
    np.testing.assert_allclose(result.loss_used, [0.0, 15.0, 85.0, 0.0])
    np.testing.assert_allclose(result.loss_balance, [100.0, 85.0, 0.0, 0.0])


def test_losses_expire_and_are_used_oldest_first() -> None:
    # 2-year carry-forward, 100 % offset: loss 50 (year 0) and 40 (year 1); year 2 income 60 uses 50 (oldest)
    # then 10 of year 1's -> tax 0; year 3 income 100: year 1's loss (30 left) is still usable (3 - 1 = 2 years)
    # -> taxed on 70; year 4: nothing left.
    spec = TaxSpec(rate=0.5, loss_carryforward_years=2, loss_offset_limit=1.0)
    result = corporate_tax(np.array([-50.0, -40.0, 60.0, 100.0, 10.0]), spec)
    np.testing.assert_allclose(result.tax, [0.0, 0.0, 0.0, 35.0, 5.0])
    # a loss of year 0 is gone by year 3 (3 - 0 > 2)
    expired = corporate_tax(np.array([-50.0, 0.0, 0.0, 100.0]), spec)
    np.testing.assert_allclose(expired.tax, [0.0, 0.0, 0.0, 50.0])
    np.testing.assert_allclose(expired.loss_balance, [50.0, 50.0, 50.0, 0.0])


def test_full_offset_years_for_a_new_company() -> None:
    spec = TaxSpec(rate=0.3, loss_full_offset_years=2)
    # year 1 is inside the 100 % window, year 2 is not
    result = corporate_tax(np.array([-100.0, 40.0, 100.0]), spec)
    np.testing.assert_allclose(result.tax, [0.0, 0.0, 0.3 * 50.0])
    assert corporate_tax(np.array([-100.0, 40.0]), TaxSpec(rate=0.3, loss_carryforward_years=None)).tax[1] == 6.0


def test_offset_elsewhere_is_linear() -> None:
    income = np.array([-100.0, 30.0, 200.0])
    result = corporate_tax(income, TaxSpec(rate=0.25, loss_treatment="offset_elsewhere"))
    np.testing.assert_allclose(result.tax, 0.25 * income)


def test_carry_forward_never_pays_more_than_no_losses_rule_and_conserves_losses() -> None:
    rng = np.random.default_rng(3)
    for _ in range(50):
        income = rng.normal(0.0, 100.0, 20)
        spec = TaxSpec(rate=0.3, loss_carryforward_years=None)
        result = corporate_tax(income, spec)
        assert np.all(result.tax >= 0.0)
        assert np.all(result.tax <= 0.3 * np.maximum(income, 0.0) + 1e-9)
        # with no expiry, every loss is either used or still carried at the end
        assert result.loss_used.sum() + result.loss_balance[-1] == pytest.approx(-income[income < 0].sum())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rate": 30.0}, r"tax.rate=30.0 must be in \[0, 0.7\]"),
        ({"rate": -0.1}, r"tax.rate=-0.1 must be in \[0, 0.7\]"),
        ({"loss_carryforward_years": 0}, r"loss_carryforward_years=0 must be a whole number in \[1, 100\]"),
        ({"loss_offset_limit": 0.0}, r"loss_offset_limit=0.0 must be in \(0, 1\]"),
        ({"loss_treatment": "carry_back"}, r"must be 'carry_forward' or 'offset_elsewhere'"),
    ],
)
def test_bad_tax_inputs(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(WattbitInputError, match=message) as info:
        TaxSpec(**kwargs)  # type: ignore[arg-type]
    assert info.value.field is not None and info.value.field.startswith("tax.")

"""NPV, IRR, MIRR, payback and annuity against hand-computed cases and numpy-financial."""

from __future__ import annotations

import math

import numpy as np
import numpy_financial as npf
import pytest

from wattbit.finance.metrics import annuity_payment, irr, mirr, npv, payback_years


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


def test_npv_by_hand() -> None:
    # -1000 + 500/1.1 + 700/1.21 = -1000 + 454.5454... + 578.5124... = 33.0578...
    assert npv(0.1, [-1000.0, 500.0, 700.0]) == pytest.approx(-1000 + 500 / 1.1 + 700 / 1.21, rel=1e-15)


def test_npv_irr_pmt_mirr_agree_with_numpy_financial_on_random_cases() -> None:
    rng = np.random.default_rng(20240611)
    unique = 0
    for _ in range(300):
        n = int(rng.integers(2, 41))
        rate = float(rng.uniform(0.0, 0.3))
        flows = rng.uniform(-0.2, 1.0, n) * 10 ** rng.uniform(0, 10)
        flows[0] = -abs(flows[0]) * rng.uniform(2, 20)  # an investment first; later flows may be negative too
        assert _rel(npv(rate, flows), npf.npv(rate, flows)) < 1e-9
        result = irr(flows)
        reference = npf.irr(flows)
        if math.isnan(reference):  # no positive root of the NPV polynomial
            assert math.isnan(result.value) and result.candidates == () and result.reason
        elif len(result.candidates) == 1:
            assert _rel(1.0 + result.value, 1.0 + reference) < 1e-9
            assert result.reason == ""
            unique += 1
        else:  # several roots: numpy-financial returns the one closest to zero, which must be among ours
            assert math.isnan(result.value) and "no unique IRR" in result.reason
            assert min(abs(c - reference) for c in result.candidates) < 1e-9
        ours, theirs = mirr(flows, rate, rate / 2), npf.mirr(flows, rate, rate / 2)
        assert (math.isnan(ours) and math.isnan(theirs)) or _rel(ours, theirs) < 1e-9
        principal = float(rng.uniform(1e3, 1e12))
        assert _rel(annuity_payment(rate, n, principal), -npf.pmt(rate, n, principal)) < 1e-9
    assert unique > 100  # most cases have one IRR and were compared to 1e-9


def test_irr_agrees_with_numpy_financial_on_conventional_projects() -> None:
    rng = np.random.default_rng(7)
    for _ in range(300):
        n = int(rng.integers(2, 31))
        flows = np.concatenate([[-rng.uniform(1e6, 1e11)], rng.uniform(0.0, 1.0, n) * 10 ** rng.uniform(4, 10)])
        result = irr(flows)
        assert result.reason == ""
        assert _rel(1.0 + result.value, 1.0 + npf.irr(flows)) < 1e-9
        assert abs(npv(result.value, flows)) < 1e-6 * np.abs(flows).sum()


def test_irr_single_sign_change_by_hand() -> None:
    # -1000 then 1100 a year later: 10 % exactly; -100, 0, 0, 74 (numpy-financial's example): -9.55 %
    assert irr([-1000.0, 1100.0]).value == pytest.approx(0.1, abs=1e-15)
    assert irr([-100.0, 0.0, 0.0, 74.0]).value == pytest.approx(74 ** (1 / 3) / 100 ** (1 / 3) - 1, rel=1e-12)


def test_irr_with_extreme_rates() -> None:
    assert irr([-1.0, 1000.0]).value == pytest.approx(999.0, rel=1e-12)
    assert irr([-1.0, 0.001]).value == pytest.approx(-0.999, rel=1e-12)


def test_irr_is_nan_with_a_reason_when_flows_never_change_sign() -> None:
    result = irr([-100.0, -5.0, 0.0])
    assert math.isnan(result.value)
    assert "never change sign" in result.reason
    assert math.isnan(irr([10.0, 20.0]).value)
    assert irr([-1.0, float("nan")]).reason == "cash flows contain NaN or infinite values"
    assert irr([-1.0, 0.0, 1.0]).value == 0.0  # NPV is zero at r = 0 exactly


def test_irr_reports_multiple_roots() -> None:
    # -1 + 5x - 6x^2 = 0 with x = 1/(1+r): x = 1/2 or 1/3, so r = 100 % or 200 %
    result = irr([-1.0, 5.0, -6.0])
    assert math.isnan(result.value)
    assert "2 rates" in result.reason and "MIRR" in result.reason
    np.testing.assert_allclose(result.candidates, [1.0, 2.0], rtol=1e-12)


def test_irr_unique_despite_three_sign_changes() -> None:
    # -100 + 80x - 10x^2 + 50x^3 changes sign 3 times but has one positive root x = 0.898 (the others are
    # complex), so the IRR is unique: 1/0.898 - 1 = 11.35 %
    flows = [-100.0, 80.0, -10.0, 50.0]
    result = irr(flows)
    assert result.reason == ""
    assert npv(result.value, flows) == pytest.approx(0.0, abs=1e-9)
    assert result.value == pytest.approx(npf.irr(flows), rel=1e-9)
    assert result.value == pytest.approx(0.11347, abs=1e-5)


def test_irr_none_although_signs_change() -> None:
    # 1 - 3x + 3x^2 > 0 for all x (discriminant 9 - 12 < 0): sign changes twice but the NPV is never zero
    result = irr([1.0, -3.0, 3.0])
    assert math.isnan(result.value)
    assert "never zero" in result.reason


def test_payback_by_hand() -> None:
    # cumulative: -1000, -600, -200, +200 -> 2 + 200/400 = 2.5 years
    assert payback_years([-1000.0, 400.0, 400.0, 400.0]) == pytest.approx(2.5)
    # a replacement pushes the cumulative sum below zero again in year 3: counted from the last crossing,
    # cumulative -1000, -400, +200, -100, +500 -> 3 + 100/600
    assert payback_years([-1000.0, 600.0, 600.0, -300.0, 600.0]) == pytest.approx(3 + 100 / 600)
    assert math.isnan(payback_years([-1000.0, 100.0, 100.0]))
    assert payback_years([0.0, 10.0]) == 0.0


def test_mirr_by_hand() -> None:
    # -100, +60, +60 at 10 %: FV of inflows = 60*1.1 + 60 = 126; (126/100)^(1/2) - 1
    assert mirr([-100.0, 60.0, 60.0], 0.1, 0.1) == pytest.approx(math.sqrt(1.26) - 1, rel=1e-14)
    assert math.isnan(mirr([100.0, 60.0], 0.1, 0.1))


def test_annuity_zero_rate() -> None:
    assert annuity_payment(0.0, 4, 1000.0) == 250.0

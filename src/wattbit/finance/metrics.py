"""Investment metrics on yearly cash flows: discounting, NPV, IRR (with a reason when there is none), MIRR, payback.

Convention (the same as numpy-financial): ``values[t]`` falls at the end of year ``t``; ``values[0]`` is at time
zero and is not discounted, so ``NPV(r) = sum_t values[t] / (1 + r)^t``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray


class Irr(NamedTuple):
    """An internal rate of return and, when it is NaN or ambiguous, why.

    Attributes
    ----------
    value
        The rate per period, or NaN when there is no unique IRR.
    reason
        Empty when ``value`` is the unique IRR; otherwise why it is NaN.
    candidates
        Every rate above -100 % at which the NPV is zero (several only if the cash flows change sign more than once).
    """

    value: float
    reason: str
    candidates: tuple[float, ...]


def discount_factors(rate: float, n_periods: int) -> NDArray[np.float64]:
    """``1 / (1 + rate)^t`` for ``t = 0 .. n_periods - 1``."""
    return np.power(1.0 + rate, -np.arange(n_periods, dtype=np.float64))


def npv(rate: float, values: ArrayLike) -> float:
    """Net present value ``sum_t values[t] / (1 + rate)^t`` with ``values[0]`` undiscounted.

    Parameters
    ----------
    rate
        Discount rate per period, > -1.
    values
        Cash flows per period [currency].

    Returns
    -------
    float
        The NPV [currency].
    """
    v = np.asarray(values, dtype=np.float64)
    return float(v @ discount_factors(rate, v.size))


def _horner(coeffs: Sequence[float], x: float) -> tuple[float, float]:
    """Value and derivative at ``x`` of ``sum_t coeffs[t] x^t``."""
    value = 0.0
    slope = 0.0
    for c in reversed(coeffs):
        slope = slope * x + value
        value = value * x + c
    return value, slope


def irr(values: ArrayLike) -> Irr:
    """Internal rate of return: the rate ``r > -1`` at which :func:`npv` is zero.

    With ``x = 1/(1 + r)`` the NPV is the polynomial ``sum_t values[t] x^t``, and each IRR is one of its positive
    roots. Descartes' rule of signs bounds their number by the sign changes of the cash flows: with exactly one
    change there is exactly one IRR, found by safeguarded Newton iteration. With several changes, the roots with
    ``r > 0`` and with ``-1 < r < 0`` are first bounded separately by Descartes' rule after Vincent's transformations
    (one root in all: found as above; none: NaN); otherwise every positive root is found (``numpy.roots``, then
    polished) and the IRR is reported only if it is unique.

    Parameters
    ----------
    values
        Cash flows per period [currency], time zero first.

    Returns
    -------
    Irr
        ``value`` (NaN with a ``reason`` when the cash flows never change sign, the NPV has no zero, or several rates
        give a zero NPV; then ``candidates`` lists them) and the candidates.
    """
    arr = np.asarray(values, dtype=np.float64).ravel()
    if not np.isfinite(arr).all():
        return Irr(math.nan, "cash flows contain NaN or infinite values", ())
    coeffs: list[float] = arr.tolist()
    signs = [c > 0.0 for c in coeffs if c != 0.0]
    changes = sum(a != b for a, b in zip(signs, signs[1:], strict=False))
    if changes == 0:
        return Irr(math.nan, "cash flows never change sign, so no rate makes the NPV zero", ())
    f_one = _horner(coeffs, 1.0)[0]
    if f_one == 0.0 and changes == 1:
        return Irr(0.0, "", (0.0,))
    if changes == 1:
        rate = _single_root_rate(coeffs, f_one)
        return Irr(rate, "", (rate,))
    if f_one != 0.0:
        below, above = _root_bounds(tuple(coeffs))
        if below + above == 1:
            rate = _single_root_rate(coeffs, f_one)
            return Irr(rate, "", (rate,))
        if below + above == 0:
            return Irr(math.nan, f"cash flows change sign {changes} times but the NPV is never zero", ())
    rates = _all_root_rates(coeffs)
    if not rates:
        return Irr(math.nan, f"cash flows change sign {changes} times but the NPV is never zero", ())
    if len(rates) == 1:
        return Irr(rates[0], "", rates)
    listed = ", ".join(f"{r:.6g}" for r in rates)
    return Irr(
        math.nan,
        f"cash flows change sign {changes} times and the NPV is zero at {len(rates)} rates ({listed})"
        "; no unique IRR (use MIRR)",
        rates,
    )


@lru_cache(maxsize=64)
def _pascal(n: int) -> NDArray[np.float64]:
    """``B[t, k] = C(t, k)`` for ``t, k < n``: ``sum_t c_t (1 + y)^t = sum_k (c @ B)_k y^k``."""
    b = np.zeros((n, n))
    for t in range(n):
        for k in range(t + 1):
            b[t, k] = math.comb(t, k)
    return b


def _sign_changes(values: NDArray[np.float64]) -> int:
    signs = [v > 0.0 for v in values.tolist() if v != 0.0]
    return sum(a != b for a, b in zip(signs, signs[1:], strict=False))


def _root_bounds(coeffs: tuple[float, ...]) -> tuple[int, int]:
    """Descartes bounds on the roots of ``sum_t c_t x^t`` in ``0 < x < 1`` and in ``x > 1``.

    Roots ``x > 1`` are roots ``y > 0`` of ``f(1 + y)``; roots ``0 < x < 1`` are roots ``y > 0`` of
    ``(1 + y)^n f(1 / (1 + y))`` (Vincent's transformations); each count is the sign changes of the transformed
    coefficients. Rounding can only add spurious sign changes, so the bounds stay bounds.
    """
    c = np.asarray(coeffs)
    pascal = _pascal(c.size)
    return _sign_changes(c[::-1] @ pascal), _sign_changes(c @ pascal)


def _single_root_rate(coeffs: list[float], f_one: float) -> float:
    """The IRR when the polynomial has exactly one positive root ``x*`` (a simple one, so ``f`` changes sign there).

    ``f(0+)`` has the sign of the first non-zero flow and ``f(+inf)`` the opposite. The root is bracketed within a
    factor of two by doubling or halving from ``x = 1`` (``r = 0``), then found by Newton steps that fall back to
    bisection when a step would leave the bracket or does not halve the error fast enough (Press et al., Numerical
    Recipes, ``rtsafe``).
    """
    first_positive = next(c for c in coeffs if c != 0.0) > 0.0

    def on_first_side(x: float) -> bool:
        return (_horner(coeffs, x)[0] > 0.0) == first_positive

    if (f_one > 0.0) == first_positive:
        lo, hi = 1.0, 2.0
        while on_first_side(hi) and hi < 1e300:
            lo, hi = hi, 2.0 * hi
    else:
        lo, hi = 0.5, 1.0
        while not on_first_side(lo) and lo > 1e-300:
            lo, hi = 0.5 * lo, lo
    x = 0.5 * (lo + hi)
    step_old = step = hi - lo
    for _ in range(200):
        f, slope = _horner(coeffs, x)
        if f == 0.0:
            break
        if (f > 0.0) == first_positive:
            lo = x
        else:
            hi = x
        newton = x - f / slope if slope != 0.0 else math.nan
        if not lo < newton < hi or abs(2.0 * f) > abs(step_old * slope):
            step_old, step = step, 0.5 * (hi - lo)
            x = lo + step
        else:
            step_old, step = step, x - newton
            x = newton
        if abs(step) <= 1e-12 * x:  # the error after a Newton step is of the order of step^2
            break
    return 1.0 / x - 1.0


def _all_root_rates(coeffs: list[float]) -> tuple[float, ...]:
    roots = np.roots(coeffs[::-1])
    xs = sorted(float(z.real) for z in roots if abs(z.imag) <= 1e-9 * max(1.0, abs(z)) and z.real > 0.0)
    polished: list[float] = []
    for x in xs:
        for _ in range(4):
            f, df = _horner(coeffs, x)
            if df == 0.0 or f == 0.0:
                break
            x -= f / df
        if x > 0.0 and not any(abs(x - p) <= 1e-9 * p for p in polished):
            polished.append(x)
    return tuple(sorted(1.0 / x - 1.0 for x in polished))


def mirr(values: ArrayLike, finance_rate: float, reinvest_rate: float) -> float:
    """Modified IRR: negative flows discounted at ``finance_rate``, positive ones compounded at ``reinvest_rate``.

    ``MIRR = (FV(positive, reinvest) / -PV(negative, finance))^(1/n) - 1`` with ``n = len(values) - 1``; NaN when the
    flows are not of both signs. Same definition as ``numpy_financial.mirr``.
    """
    v = np.asarray(values, dtype=np.float64)
    n = v.size - 1
    pos = np.where(v > 0.0, v, 0.0)
    neg = np.where(v < 0.0, v, 0.0)
    if n < 1 or not pos.any() or not neg.any():
        return math.nan
    fv_pos = float(pos @ np.power(1.0 + reinvest_rate, n - np.arange(v.size)))
    pv_neg = float(neg @ discount_factors(finance_rate, v.size))
    return float((fv_pos / -pv_neg) ** (1.0 / n) - 1.0)


def payback_years(values: ArrayLike) -> float:
    """Years from time zero until the cumulative cash flow turns non-negative for good.

    The crossing year is interpolated linearly, as if that year's flow came evenly through the year. If the
    cumulative sum dips below zero again later (a replacement), payback is counted from the last crossing.

    Parameters
    ----------
    values
        Cash flows (or discounted cash flows, for discounted payback) per year, time zero first.

    Returns
    -------
    float
        Payback time [years]; 0 if the cumulative sum is never negative; NaN if it ends negative.
    """
    cumulative = np.cumsum(np.asarray(values, dtype=np.float64))
    negative = np.flatnonzero(cumulative < 0.0)
    if negative.size == 0:
        return 0.0
    last = int(negative[-1])
    if last == cumulative.size - 1:
        return math.nan
    flow = cumulative[last + 1] - cumulative[last]
    return float(last + (-cumulative[last]) / flow)


def annuity_payment(rate: float, n_periods: int, principal: float) -> float:
    """Level payment that repays ``principal`` with interest at ``rate`` over ``n_periods`` (end of period).

    ``A = P r / (1 - (1 + r)^-n)``, or ``P / n`` at ``r = 0``; equals ``-numpy_financial.pmt(rate, n, principal)``.
    """
    if rate == 0.0:
        return principal / n_periods
    return principal * rate / (1.0 - (1.0 + rate) ** -n_periods)

"""Shared array types and range checks.

Every check raises a :class:`~wattbit.errors.WattbitInputError` that names the field, the bad value and what was
expected: :func:`check_number` and :func:`check_int` for one input value (a finance, fault-model or forecasting
parameter, a design constant), :func:`check_range`, :func:`check_scalar` and :func:`check_finite` for arrays of
physical quantities (the first bad element and its position are named).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from wattbit.errors import WattbitInputError

#: Arrays of floats, integers and booleans: the one definition every module uses.
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
#: Single-precision floats, as Gymnasium observations and actions are.
Float32Array = NDArray[np.float32]

#: Whether :func:`check_range` checks (False only inside :func:`trusted_arrays`).
_CHECKING: ContextVar[bool] = ContextVar("wattbit_range_checks", default=True)


@contextmanager
def trusted_arrays() -> Iterator[None]:
    """Inside this block :func:`check_range` converts without checking (and the checks built on it skip too).

    For hot paths that feed the physics arrays the engine produced itself, already within range by construction
    (the reinforcement-learning environment's per-interval reward); a user's input is never passed through here.
    The run's own accounting (its KPIs) is computed outside such a block, checked as always.
    """
    token = _CHECKING.set(False)
    try:
        yield
    finally:
        _CHECKING.reset(token)


def checking() -> bool:
    """Whether range checks are on (they are, except inside :func:`trusted_arrays`)."""
    return _CHECKING.get()


def check_number(
    value: object,
    field: str,
    lo: float = -math.inf,
    hi: float = math.inf,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    what: str = "",
) -> float:
    """Return ``value`` as a float if it is a finite number within ``[lo, hi]`` (ends open if asked), else raise.

    Parameters
    ----------
    value
        The value to check.
    field
        Field path reported in the error (``components[2].capex``).
    lo, hi
        Allowed range.
    lo_open, hi_open
        Exclude the end of the range.
    what
        Short context put before the message (``component 'pv'``).

    Returns
    -------
    float
        The value.

    Raises
    ------
    WattbitInputError
        If the value is not a finite real number in range; the message gives the range.
    """
    kind = type(value)
    if kind is not float and kind is not int and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
        prefix = f"{what}: " if what else ""
        expected = _describe(lo, hi, lo_open, hi_open)
        raise WattbitInputError(f"{prefix}{field}={value!r} must be a number {expected}", field=field)
    x = float(value)  # type: ignore[arg-type]
    ok = math.isfinite(x) and (lo < x if lo_open else lo <= x) and (x < hi if hi_open else x <= hi)
    if not ok:
        prefix = f"{what}: " if what else ""
        raise WattbitInputError(f"{prefix}{field}={x!r} must be {_describe(lo, hi, lo_open, hi_open)}", field=field)
    return x


def check_int(value: object, field: str, lo: int, hi: int | None = None, *, what: str = "") -> int:
    """Return ``value`` as an int if it is an integer (Python or NumPy, not a bool) in ``[lo, hi]``, else raise.

    ``hi=None`` puts no upper bound.
    """
    top = math.inf if hi is None else hi
    if type(value) is int and lo <= value <= top:
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not lo <= int(value) <= top:
        prefix = f"{what}: " if what else ""
        shown = value if isinstance(value, bool) or not isinstance(value, numbers.Integral) else int(value)
        expected = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise WattbitInputError(f"{prefix}{field}={shown!r} must be a whole number {expected}", field=field)
    return int(value)


def _describe(lo: float, hi: float, lo_open: bool, hi_open: bool) -> str:
    if math.isinf(lo) and math.isinf(hi):
        return "a finite number"
    if math.isinf(hi):
        return f"a finite number {'>' if lo_open else '>='} {lo:g}"
    if math.isinf(lo):
        return f"a finite number {'<' if hi_open else '<='} {hi:g}"
    return f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"


def check_range(
    name: str, values: ArrayLike, lo: float = -math.inf, hi: float = math.inf, *, lo_open: bool = False
) -> FloatArray:
    """Return ``values`` as a float array, or raise naming the first value that is NaN or outside ``[lo, hi]``.

    Parameters
    ----------
    name
        Field reported in the error.
    values
        Scalar or array of any shape.
    lo, hi
        Allowed range (infinite ends allow infinities).
    lo_open
        Exclude ``lo`` itself.

    Returns
    -------
    numpy.ndarray
        ``values`` as float64 (no copy when already so).

    Raises
    ------
    WattbitInputError
        Naming the field, the first bad value, its position (an index tuple for arrays of two or more dimensions)
        and the range.
    """
    arr = np.asarray(values, dtype=float)
    if not _CHECKING.get():
        return arr
    if arr.size and not ((np.min(arr) > lo if lo_open else np.min(arr) >= lo) and np.max(arr) <= hi):
        flat = arr.ravel()  # two reductions above; NaN fails both, and only a bad array pays for the element search
        ok = ((flat > lo) if lo_open else (flat >= lo)) & (flat <= hi)
        i = int(np.flatnonzero(~ok)[0])
        expected = f"{'(' if lo_open else '['}{lo:g}, {hi:g}]"
        raise WattbitInputError(
            f"value {flat[i]} at position {_position(i, arr.shape)} is NaN or outside the expected range {expected}",
            field=name,
        )
    return arr


def check_scalar(name: str, value: float, lo: float, hi: float) -> float:
    """:func:`check_range` for one number."""
    return float(check_range(name, value, lo, hi))


def check_finite(name: str, values: ArrayLike) -> FloatArray:
    """Return ``values`` as a float array, or raise naming the first value that is NaN or infinite, and where."""
    arr = np.asarray(values, dtype=float)
    if arr.size and not (np.isfinite(np.min(arr)) and np.isfinite(np.max(arr))):
        flat = arr.ravel()
        i = int(np.flatnonzero(~np.isfinite(flat))[0])
        raise WattbitInputError(f"value {flat[i]} at position {_position(i, arr.shape)} is not finite", field=name)
    return arr


def _position(flat_index: int, shape: tuple[int, ...]) -> int | tuple[int, ...]:
    """Position of an element of an array of ``shape`` from its index in the flattened array."""
    if len(shape) <= 1:
        return flat_index
    return tuple(int(k) for k in np.unravel_index(flat_index, shape))

"""Range checks shared by the renewable models: a clear error naming the field, the first bad value and the range."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from wattbit.errors import WattbitInputError


def check_range(name: str, values: ArrayLike, lo: float, hi: float) -> NDArray[np.float64]:
    """Return ``values`` as a float array, or raise naming the first value that is NaN or outside ``lo..hi``."""
    arr = np.asarray(values, dtype=float)
    if arr.size and not (np.min(arr) >= lo and np.max(arr) <= hi):  # two reductions; NaN fails both
        i = int(np.flatnonzero(~((arr >= lo) & (arr <= hi)))[0])
        raise WattbitInputError(
            f"value {arr.ravel()[i]} at position {i} is NaN or outside the expected range {lo:g}..{hi:g}", field=name
        )
    return arr


def check_scalar(name: str, value: float, lo: float, hi: float) -> float:
    """:func:`check_range` for one number."""
    return float(check_range(name, value, lo, hi))

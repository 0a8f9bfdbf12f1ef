"""Validation of the arguments of the forecasting functions, with messages that say what was expected."""

from __future__ import annotations

from typing import Any

import numpy as np

from wattbit.errors import WattbitInputError
from wattbit.units import FloatArray, check_number


def as_history(history: Any, name: str = "history") -> tuple[FloatArray, bool]:
    """The history as a float array (steps, sites) and whether it was one-dimensional."""
    try:
        x = np.asarray(history, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise WattbitInputError(
            f"{name} must be an array of numbers, shape (steps,) or (steps, sites)", field=name
        ) from exc
    if x.ndim not in (1, 2):
        raise WattbitInputError(f"{name} must have shape (steps,) or (steps, sites); got shape {x.shape}", field=name)
    one_dim = x.ndim == 1
    x2 = x[:, None] if one_dim else x
    if x2.shape[0] == 0 or x2.shape[1] == 0:
        raise WattbitInputError(
            f"{name} is empty (shape {x.shape}); expected at least one step and one site", field=name
        )
    return x2, one_dim


def check_finite(x: FloatArray, offset: int, name: str = "history") -> None:
    """Raise naming the first NaN or infinite value of ``x``, whose row 0 is row ``offset`` of the caller's array."""
    bad = ~np.isfinite(x)
    if bad.any():
        step, site = (int(v) for v in np.argwhere(bad)[0])
        raise WattbitInputError(
            f"{name} has {int(bad.sum())} missing or infinite value(s) in the rows used; the first is at step "
            f"{step + offset}, site {site} ({x[step, site]}); forecasts need a gap-free past, fill gaps first",
            field=name,
        )


def check_level(level: Any) -> float:
    """``level`` as a float strictly between 0 and 1 (a coverage probability, e.g. 0.8)."""
    return check_number(level, "level", 0.0, 1.0, lo_open=True, hi_open=True, what="coverage probability")


def check_method(method: Any, known: list[str]) -> str:
    """``method`` if it is one of ``known``."""
    if method not in known:
        raise WattbitInputError(
            f"unknown forecasting method {method!r}; expected one of {', '.join(known)}", field="method"
        )
    return str(method)

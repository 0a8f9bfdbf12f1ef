"""Probability distributions of uncertain planning inputs: :class:`Normal`, :class:`LogNormal`, :class:`Triangular`,
:class:`Uniform`.

Each is a frozen dataclass validated on construction (a bad parameter raises
:class:`~wattbit.errors.WattbitInputError` naming it and the range expected) with three operations: ``mean``, the
quantile function ``ppf(q)`` and ``from_normal(z)``, which maps standard normal scores to the distribution
(``ppf(Phi(z))``, closed form for the normal and log-normal). Sampling through normal scores lets
:mod:`wattbit.montecarlo.engine` correlate parameters with a Gaussian copula. Formulas: ``docs/uncertainty.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtr, ndtri

from wattbit.errors import WattbitInputError
from wattbit.units import FloatArray, check_number


@runtime_checkable
class Distribution(Protocol):
    """A one-dimensional distribution, sampled by transforming standard normal scores (so it can be correlated)."""

    @property
    def mean(self) -> float:
        """Expected value."""
        ...

    def ppf(self, q: ArrayLike) -> FloatArray:
        """Quantile function (inverse CDF) at probabilities ``q`` in [0, 1]."""
        ...

    def from_normal(self, z: ArrayLike) -> FloatArray:
        """Values with this distribution from standard normal scores ``z``: ``ppf(Phi(z))``."""
        ...


def _probabilities(q: ArrayLike) -> FloatArray:
    p = np.asarray(q, dtype=float)
    if not np.all((p >= 0.0) & (p <= 1.0)):
        raise WattbitInputError(f"probabilities q={q!r} must be in [0, 1]", field="q")
    return p


def _finite(value: object, name: str, what: str, lo: float = -math.inf) -> float:
    return check_number(value, name, lo, math.inf, lo_open=lo > -math.inf, what=what)


@dataclass(frozen=True)
class Normal:
    """Normal distribution with ``mean`` and standard deviation ``sd > 0``."""

    mean: float
    sd: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", _finite(self.mean, "mean", "Normal"))
        object.__setattr__(self, "sd", _finite(self.sd, "sd", "Normal", lo=0.0))

    def ppf(self, q: ArrayLike) -> FloatArray:
        """``mean + sd Phi^-1(q)``."""
        return self.mean + self.sd * ndtri(_probabilities(q))

    def from_normal(self, z: ArrayLike) -> FloatArray:
        """``mean + sd z``."""
        return self.mean + self.sd * np.asarray(z, dtype=float)


@dataclass(frozen=True)
class LogNormal:
    """Log-normal distribution: ``median exp(sigma Z)``, ``Z`` standard normal; ``median > 0``, ``sigma > 0``."""

    median: float
    sigma: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "median", _finite(self.median, "median", "LogNormal", lo=0.0))
        object.__setattr__(self, "sigma", _finite(self.sigma, "sigma", "LogNormal", lo=0.0))

    @property
    def mean(self) -> float:
        """Expected value ``median exp(sigma^2 / 2)``."""
        return self.median * math.exp(0.5 * self.sigma**2)

    def ppf(self, q: ArrayLike) -> FloatArray:
        """``median exp(sigma Phi^-1(q))``."""
        return self.from_normal(ndtri(_probabilities(q)))

    def from_normal(self, z: ArrayLike) -> FloatArray:
        """``median exp(sigma z)``."""
        return self.median * np.exp(self.sigma * np.asarray(z, dtype=float))


@dataclass(frozen=True)
class Triangular:
    """Triangular distribution on ``[low, high]`` with its peak at ``mode``; ``low <= mode <= high``, ``low < high``."""

    low: float
    mode: float
    high: float

    def __post_init__(self) -> None:
        for name in ("low", "mode", "high"):
            object.__setattr__(self, name, _finite(getattr(self, name), name, "Triangular"))
        if not self.low < self.high:
            raise WattbitInputError(f"Triangular: low={self.low:g} must be below high={self.high:g}", field="low")
        if not self.low <= self.mode <= self.high:
            raise WattbitInputError(
                f"Triangular: mode={self.mode:g} must be in [low, high] = [{self.low:g}, {self.high:g}]", field="mode"
            )

    @property
    def mean(self) -> float:
        """Expected value ``(low + mode + high) / 3``."""
        return (self.low + self.mode + self.high) / 3.0

    def ppf(self, q: ArrayLike) -> FloatArray:
        """Inverse CDF, ``w = high - low``: ``low + sqrt(q w (mode - low))`` up to ``q = (mode - low) / w``, then
        ``high - sqrt((1 - q) w (high - mode))``."""
        p = _probabilities(q)
        width = self.high - self.low
        split = (self.mode - self.low) / width
        below = self.low + np.sqrt(np.clip(p, 0.0, split) * width * (self.mode - self.low))
        above = self.high - np.sqrt(np.clip(1.0 - p, 0.0, 1.0 - split) * width * (self.high - self.mode))
        return np.where(p <= split, below, above)

    def from_normal(self, z: ArrayLike) -> FloatArray:
        """``ppf(Phi(z))``."""
        return self.ppf(ndtr(np.asarray(z, dtype=float)))


@dataclass(frozen=True)
class Uniform:
    """Uniform distribution on ``[low, high]``, ``low < high``."""

    low: float
    high: float

    def __post_init__(self) -> None:
        for name in ("low", "high"):
            object.__setattr__(self, name, _finite(getattr(self, name), name, "Uniform"))
        if not self.low < self.high:
            raise WattbitInputError(f"Uniform: low={self.low:g} must be below high={self.high:g}", field="low")

    @property
    def mean(self) -> float:
        """Expected value ``(low + high) / 2``."""
        return 0.5 * (self.low + self.high)

    def ppf(self, q: ArrayLike) -> FloatArray:
        """``low + q (high - low)``."""
        return self.low + _probabilities(q) * (self.high - self.low)

    def from_normal(self, z: ArrayLike) -> FloatArray:
        """``ppf(Phi(z))``."""
        return self.ppf(ndtr(np.asarray(z, dtype=float)))


_DISTRIBUTIONS: dict[str, type[Normal | LogNormal | Triangular | Uniform]] = {
    "normal": Normal,
    "lognormal": LogNormal,
    "triangular": Triangular,
    "uniform": Uniform,
}


def distribution_from_mapping(data: object, field: str) -> Distribution:
    """A distribution from configuration data: ``{"dist": "triangular", "low": 0.8, "mode": 1.0, "high": 1.3}``.

    Errors name the full field path (``field`` + ``.high``) and what was expected.
    """
    if not isinstance(data, Mapping) or data.get("dist") not in _DISTRIBUTIONS:
        raise WattbitInputError(
            f"{field}={data!r} must be a table with dist = one of {sorted(_DISTRIBUTIONS)} and its parameters",
            field=f"{field}.dist" if isinstance(data, Mapping) else field,
        )
    cls = _DISTRIBUTIONS[data["dist"]]
    params = {k: v for k, v in data.items() if k != "dist"}
    expected = [f.name for f in fields(cls)]
    if sorted(params) != sorted(expected):
        raise WattbitInputError(
            f"{field}: a {data['dist']} distribution takes {expected}; got {sorted(params)}", field=field
        )
    try:
        return cls(**params)
    except WattbitInputError as exc:
        raise WattbitInputError(f"{field}: {exc.message}", field=f"{field}.{exc.field}") from exc
